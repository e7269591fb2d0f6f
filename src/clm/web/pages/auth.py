"""Sign-in, sign-out, the language switch and the landing page of each role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from clm.domain.i18n import normalize_locale
from clm.errors import AuthenticationError
from clm.services.users import authenticate
from clm.store.bulk import utcnow
from clm.web.context import (
    CsrfDep,
    DbDep,
    UserDep,
    clear_session,
    ensure_session,
    landing_url,
    redirect,
    render,
    safe_next,
    session_data,
)
from clm.web.session import LOCALE_COOKIE

router = APIRouter()
YEAR = 365 * 24 * 3600


@router.get("/")
def home(user: UserDep) -> Response:
    """Send the user to the page their role starts from."""
    return redirect(landing_url(user.role))


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """Show the sign-in form."""
    return render(request, "login.html", next=safe_next(next))


@router.post("/login", dependencies=[CsrfDep])
def login(
    request: Request,
    session: DbDep,
    login: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the login and password; land the user on their role's page."""
    try:
        user = authenticate(session, login=login.strip(), password=password, now=utcnow())
    except AuthenticationError as exc:
        return render(
            request, "login.html", error=exc.message, login=login, next=safe_next(next),
            status_code=401,
        )
    response = redirect(safe_next(next) or landing_url(user.role))
    # a new session on sign-in: a fresh CSRF token, so one planted before sign-in is useless
    request.scope["clm_session"] = {"locale": session_data(request).get("locale")}
    ensure_session(request, response, uid=user.id)
    return response


@router.post("/logout", dependencies=[CsrfDep])
def logout(request: Request) -> Response:
    """Sign out and return to the sign-in page."""
    response = redirect("/login")
    clear_session(request, response)
    return response


@router.get("/lang")
def switch_language(request: Request, to: str, next: str | None = None) -> Response:
    """Switch the language of every page; remembered in a cookie and in the session."""
    locale = normalize_locale(to)
    response = redirect(safe_next(next) or "/")
    response.set_cookie(LOCALE_COOKIE, locale, max_age=YEAR, samesite="lax", path="/")
    if session_data(request):
        ensure_session(request, response, locale=locale)
    return response
