"""Attach the web pages to an app: ``mount_web(app, settings=..., store=...)``.

Called once by ``clm.app.create_app``; a test may call it on an app of its own. The pages, the
vendored static files (htmx, ECharts: no request leaves the machine) and the two handlers that
turn "not signed in" and user errors into pages are registered here and nowhere else.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from clm.config import Settings
from clm.errors import ClmError
from clm.store.engine import Store
from clm.web.context import WEB_DIR, LoginRequired, WebState, render
from clm.web.session import SessionSigner, development_secret

WEB_PREFIXES = (
    "/login",
    "/logout",
    "/lang",
    "/dashboard",
    "/customers",
    "/tasks",
    "/models",
    "/playbook",
    "/import",
    "/segments",
)


def _is_web(request: Request) -> bool:
    path = request.url.path
    return path == "/" or any(path == p or path.startswith(p + "/") for p in WEB_PREFIXES)


def mount_web(app: FastAPI, *, settings: Settings, store: Store | None = None) -> None:
    """Register the web pages on ``app``.

    Parameters
    ----------
    settings
        ``secret_key`` signs the session cookie; in development an unset key is replaced by a
        random per-process one (sessions then end on restart); elsewhere it is required.
    store
        The operational store; default ``app.state.store`` if the app factory set one, else
        the store at ``settings.resolved_store_url()``.
    """
    from clm.web.pages import ROUTERS

    settings.check_safe()
    secret = settings.secret_key or development_secret()
    store = store or getattr(app.state, "store", None) or Store.open(
        settings.resolved_store_url()
    )
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.globals["static_version"] = "1"
    app.state.web = WebState(
        settings=settings,
        store=store,
        signer=SessionSigner(secret),
        templates=templates,
        secure_cookies=settings.environment == "production",
    )
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)

    previous = app.exception_handlers.get(ClmError)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        if request.headers.get("hx-request"):
            return HTMLResponse("", status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)

    @app.exception_handler(ClmError)
    async def _clm_error(request: Request, exc: ClmError):
        if not _is_web(request) and previous is not None:
            return await previous(request, exc)
        if not _is_web(request):
            from fastapi.responses import JSONResponse

            return JSONResponse(exc.to_dict(), status_code=exc.http_status)
        return render(request, "error.html", error=exc, status_code=exc.http_status)
