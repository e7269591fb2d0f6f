"""The web app: server-rendered pages (FastAPI + Jinja2, htmx, ECharts), same services as the API.

``mount_web(app, settings=..., store=...)`` attaches the pages to an app; ``create_app`` calls
it. See ``docs/web.md`` for the pages and who lands where.
"""

from clm.web.mount import mount_web

__all__ = ["mount_web"]
