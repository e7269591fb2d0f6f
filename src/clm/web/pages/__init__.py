"""The pages, one module per area; ``ROUTERS`` is what ``mount_web`` includes."""

from clm.web.pages import auth, customers, dashboard, imports, models, segments, tasks

ROUTERS = (
    auth.router,
    dashboard.router,
    customers.router,
    tasks.router,
    models.router,
    imports.router,
    segments.router,
)
