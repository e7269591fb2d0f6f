"""``clm serve``: run the API (and the web app) with uvicorn on the embedded defaults.

Loopback (127.0.0.1:8000) unless told otherwise: the embedded SQLite store is for one machine,
and exposing it is a decision the user makes with ``--host``. The first start creates the
``admin`` user and says, once, how to sign in.

``--workers N`` runs N server processes (uvicorn's supervisor restarts one that dies): Python
runs one request's code at a time per process, so a machine with N cores answers about N times
as many requests with N workers. Each worker builds its own app from the same ``CLM_*``
settings (``clm.app.app_from_environment``); a development secret key is generated once here
and handed to all of them, so a web session signed by one worker is valid in the others.
uvicorn uses httptools and uvloop (the ``server`` extra installs them), several times cheaper
per request than its pure-Python HTTP parser and asyncio's loop.
"""

from __future__ import annotations

import os
import secrets
from typing import Annotated

import typer
from rich.console import Console

from clm.config import get_settings
from clm.domain.i18n import normalize_locale

_CURL_BODY = (
    '-H \'Content-Type: application/json\' -d \'{{"login": "{login}", "password": "..."}}\''
)
TEXT = {
    "en": {
        "created": "First start: created the administrator account.",
        "login": "  login:    {login}",
        "password": "  password: {password}   (shown once; change it after signing in)",
        "password_env": "  password: the value of CLM_ADMIN_PASSWORD",
        "url": "Sign in at {url}/ ; API reference at {url}/docs",
        "token": "API token:  curl -X POST {url}/api/v1/auth/token " + _CURL_BODY,
        "listening": "clm is serving {url} (store: {store})",
    },
    "zh-CN": {
        "created": "首次启动：已创建管理员账户。",
        "login": "  登录名：{login}",
        "password": "  密码：  {password}（仅显示这一次，登录后请修改）",
        "password_env": "  密码：  环境变量 CLM_ADMIN_PASSWORD 的值",
        "url": "登录地址 {url}/ ；API 文档 {url}/docs",
        "token": "获取 API 令牌：curl -X POST {url}/api/v1/auth/token " + _CURL_BODY,
        "listening": "clm 正在 {url} 提供服务（存储：{store}）",
    },
}


def base_url(host: str, port: int) -> str:
    """The URL a browser on this machine uses (IPv6 literals in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: CLM_HOST)")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port to listen on (default: CLM_PORT)"),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Server processes (about one per core)")
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log one line per request")
    ] = True,
) -> None:
    """Start the API and web app (127.0.0.1:8000 by default); the first start creates admin."""
    import uvicorn

    from clm.app import create_app, ensure_first_admin

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    text = TEXT[normalize_locale(settings.locale)]
    app = create_app(settings)
    url = base_url(host, port)
    console = Console(soft_wrap=True)
    first = ensure_first_admin(app)
    if first is not None:
        console.print(text["created"], highlight=False, markup=False)
        console.print(text["login"].format(login=first.login), highlight=False, markup=False)
        line = (
            text["password"].format(password=first.password)
            if first.password
            else text["password_env"]
        )
        console.print(line, highlight=False, markup=False)
        console.print(text["url"].format(url=url), highlight=False, markup=False)
        console.print(
            text["token"].format(url=url, login=first.login), highlight=False, markup=False
        )
    store = app.state.store.engine.url.render_as_string(hide_password=True)
    console.print(text["listening"].format(url=url, store=store), highlight=False, markup=False)
    options = {"host": host, "port": port, "log_level": "info", "access_log": access_log}
    if workers == 1:
        uvicorn.run(app, **options)
        return
    app.state.store.dispose()  # each worker opens its own
    if not settings.secret_key:
        os.environ["CLM_SECRET_KEY"] = secrets.token_urlsafe(32)  # one key for all workers
    uvicorn.run("clm.app:app_from_environment", factory=True, workers=workers, **options)


def register(app: typer.Typer) -> None:
    """Attach ``clm serve`` to the root app."""
    app.command("serve")(serve)
