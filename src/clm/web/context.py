"""What every page needs: the app's state, the signed-in user, the language, CSRF, rendering.

The web layer keeps one ``WebState`` on ``app.state.web`` (settings, the store, the session
signer, the templates); pages receive it through FastAPI dependencies rather than importing a
global, so tests can build as many apps as they like. Pages stay thin: parse the request, call
one service, render a template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from clm.config import Settings
from clm.domain.i18n import LOCALES, normalize_locale, t
from clm.errors import PermissionDeniedError
from clm.services.actors import ROLE_LABELS, Actor
from clm.store.engine import Store
from clm.store.tables import User
from clm.web.session import COOKIE, LOCALE_COOKIE, SessionSigner, new_csrf_token

WEB_DIR = Path(str(resources.files("clm.web")))


@dataclass
class WebState:
    """Everything the pages share for the life of one app."""

    settings: Settings
    store: Store
    signer: SessionSigner
    templates: Jinja2Templates
    secure_cookies: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


class LoginRequired(Exception):
    """Raised by a page dependency when nobody is signed in; answered with a redirect."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def get_state(request: Request) -> WebState:
    return request.app.state.web


StateDep = Annotated[WebState, Depends(get_state)]


def session_data(request: Request) -> dict[str, Any]:
    """The request's verified session (cached on the request)."""
    if "clm_session" not in request.scope:
        state = get_state(request)
        request.scope["clm_session"] = state.signer.loads(request.cookies.get(COOKIE))
    return request.scope["clm_session"]


def request_locale(request: Request) -> str:
    """The language: ``?lang=``, then the session, then the cookie, then the browser, then
    the installation's default."""
    asked = request.query_params.get("lang")
    if asked:
        return normalize_locale(asked)
    data = session_data(request)
    if data.get("locale") in LOCALES:
        return data["locale"]
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in LOCALES:
        return cookie
    accept = request.headers.get("accept-language", "")
    if accept:
        return normalize_locale(accept.split(",")[0].split(";")[0].strip())
    return normalize_locale(get_state(request).settings.locale)


def db(request: Request) -> Iterator[Session]:
    """A store session for one request; services own their transactions inside it."""
    with get_state(request).store.session() as session:
        yield session


DbDep = Annotated[Session, Depends(db)]


@dataclass(frozen=True)
class WebUser:
    """The signed-in user as pages see it."""

    id: int
    login: str
    name: str
    role: str

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.id, login=self.login, role=self.role)

    def can(self, permission: str) -> bool:
        return self.actor.can(permission)


def current_user(request: Request, session: DbDep) -> WebUser:
    """The signed-in, active user; otherwise a redirect to the sign-in page."""
    uid = session_data(request).get("uid")
    user = session.get(User, uid) if isinstance(uid, int) else None
    if user is None or not user.active:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return WebUser(id=user.id, login=user.login, name=user.name, role=user.role)


UserDep = Annotated[WebUser, Depends(current_user)]


def landing_url(role: str) -> str:
    """Where a role lands after sign-in: managers and admins on the dashboard, others on
    their tasks (spec section 7: each team starts from its own work)."""
    return "/dashboard" if role in {"admin", "manager"} else "/tasks"


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token does not match the session's."""
    expected = session_data(request).get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        sent = form.get("csrf_token")
    if not expected or not isinstance(sent, str) or sent != expected:
        raise PermissionDeniedError("the form expired or did not come from this site; reload it")


CsrfDep = Depends(check_csrf)


def ensure_session(request: Request, response: Response, **updates: Any) -> dict[str, Any]:
    """Write the session cookie, adding a CSRF token if the session had none."""
    state = get_state(request)
    data = {**session_data(request), **updates}
    data = {k: v for k, v in data.items() if v is not None}
    data.setdefault("csrf", new_csrf_token())
    request.scope["clm_session"] = data
    response.set_cookie(
        COOKIE,
        state.signer.dumps(data),
        max_age=state.signer.max_age,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
        path="/",
    )
    return data


def clear_session(request: Request, response: Response) -> None:
    request.scope["clm_session"] = {}
    response.delete_cookie(COOKIE, path="/")


def render(
    request: Request,
    template: str,
    /,
    *,
    user: WebUser | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the language, labels, user and CSRF token every page needs."""
    state = get_state(request)
    locale = request_locale(request)
    data = session_data(request)
    fresh = "csrf" not in data
    csrf = data.get("csrf") or new_csrf_token()
    if fresh:
        request.scope["clm_session"] = {**data, "csrf": csrf}

    def label(key: str, /, **values: object) -> str:
        return t(key, locale, **values)

    response = state.templates.TemplateResponse(
        request,
        template,
        {
            "_": label,
            "locale": locale,
            "locales": LOCALES,
            "user": user,
            "role_label": (ROLE_LABELS.get(user.role, {}).get(locale, user.role) if user else ""),
            "csrf_token": csrf,
            "path": request.url.path,
            "query": request.url.query,
            "quote": quote,
            **context,
        },
        status_code=status_code,
    )
    if fresh:
        ensure_session(request, response)
    return response


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other: after a POST the browser follows with a GET."""
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return None


def parse_date(value: str | None, *, field: str) -> dt.date | None:
    from clm.errors import InputError

    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{field}: {value!r} is not a date (YYYY-MM-DD)", field=field) from None


__all__ = [
    "CsrfDep",
    "DbDep",
    "LoginRequired",
    "StateDep",
    "UserDep",
    "WebState",
    "WebUser",
    "current_user",
    "ensure_session",
    "landing_url",
    "redirect",
    "render",
]
