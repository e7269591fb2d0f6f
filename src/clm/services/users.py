"""Users, sign-in, API tokens, who sees which customer, and contact masking.

Passwords are hashed with Argon2id (``argon2-cffi``; RFC 9106), the winner of the Password
Hashing Competition. API tokens are 256-bit random strings: only their SHA-256 is stored, which
is enough for a secret of that entropy and keeps token checks cheap. Five failed sign-ins in a
row lock the account for 15 minutes; the clock is an argument (``now``) so that tests and the
API decide what time it is.

Contact data is shown masked (``138****8888``, ``z***@example.com``) unless the user holds
``contacts:unmask``; every unmasked read writes an audit row.

The API checks a token on every request, and a database round trip (plus a session, plus a
commit) for each would cost more than the request itself. ``TokenCache`` keeps the answer
(token -> ``Actor``) in the process for ``TOKEN_CACHE_TTL``: a revoked token or a changed role
is forgotten at once in the process that revoked or changed it (after the commit), and within
the TTL in the other server processes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, event, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from clm.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from clm.services.actors import ROLES, Actor
from clm.services.audit import record, transaction
from clm.store.bulk import as_utc, utcnow
from clm.store.tables import ApiToken, Customer, CustomerStage, User

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_TOUCH = timedelta(minutes=1)  # last_used_at is kept to this precision
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "clm_"
TOKEN_CACHE_TTL = 10.0  # seconds another server process may still accept a revoked token
_LOGIN = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def actor_for(user: User) -> Actor:
    return Actor(user_id=user.id, login=user.login, role=user.role)


def user_snapshot(user: User) -> dict[str, Any]:
    return {
        "login": user.login,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "active": user.active,
    }


# -- accounts -------------------------------------------------------------------------------


def create_user(
    session: Session,
    *,
    actor: Actor,
    login: str,
    name: str,
    role: str,
    password: str | None = None,
    email: str | None = None,
    now: datetime | None = None,
) -> User:
    """Create a user; ``password`` may be left out for token-only (service) accounts."""
    actor.require("users:manage")
    now = now or utcnow()
    if not _LOGIN.match(login or ""):
        raise InputError(f"login {login!r}: 2-64 letters, digits or . _ @ -", field="login")
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}", field="role")
    if not name or not name.strip():
        raise InputError("a user needs a name", field="name")
    if email is not None and not _EMAIL.match(email):
        raise InputError(f"email {email!r} is not an e-mail address", field="email")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    with transaction(session):
        if session.scalar(select(User.id).where(User.login == login)) is not None:
            raise ConflictError(f"login {login!r} is taken", field="login")
        user = User(
            login=login,
            name=name.strip(),
            email=email,
            role=role,
            password_hash=hash_password(password) if password else None,
            active=True,
            failed_logins=0,
            created_at=now,
        )
        session.add(user)
        session.flush()
        record(
            session,
            actor=actor,
            action="create",
            entity="user",
            entity_id=user.id,
            after=user_snapshot(user),
            at=now,
        )
    return user


def set_role(
    session: Session, *, actor: Actor, user_id: int, role: str, now: datetime | None = None
) -> User:
    actor.require("users:manage")
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}", field="role")
    with transaction(session):
        user = _get(session, user_id)
        before = user_snapshot(user)
        user.role = role
        session.flush()
        _forget_after_commit(session, user_id=user.id)
        record(
            session,
            actor=actor,
            action="update",
            entity="user",
            entity_id=user.id,
            before=before,
            after=user_snapshot(user),
            at=now,
        )
    return user


def set_password(
    session: Session, *, actor: Actor, user_id: int, password: str, now: datetime | None = None
) -> None:
    """Change a password (your own, or anyone's with ``users:manage``); unlocks the account."""
    if actor.user_id != user_id:
        actor.require("users:manage")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    with transaction(session):
        user = _get(session, user_id)
        user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
        session.flush()
        record(
            session, actor=actor, action="set_password", entity="user", entity_id=user.id, at=now
        )


def list_users(session: Session, *, actor: Actor) -> list[User]:
    """Every user, by id (needs ``users:manage``)."""
    actor.require("users:manage")
    with transaction(session):
        return list(session.scalars(select(User).order_by(User.id)))


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} does not exist", field="user_id")
    return user


def authenticate(session: Session, *, login: str, password: str, now: datetime) -> User:
    """Check a login and password; the 5th failure in a row locks the account for 15 minutes.

    The same message answers an unknown login and a wrong password, so sign-in cannot be used
    to find out which logins exist.
    """
    refused = AuthenticationError("wrong login or password")
    with transaction(session):
        user = session.scalar(select(User).where(User.login == login))
        if user is None or not user.active:
            raise refused
        locked = as_utc(user.locked_until)
        if locked is not None and locked > now:
            raise AuthenticationError(
                f"too many failed sign-ins; try again after {locked:%Y-%m-%d %H:%M} UTC",
                locked_until=locked.isoformat(),
            )
        who = Actor(user_id=user.id, login=user.login, role=user.role)
        if not verify_password(user.password_hash, password):
            failures = (0 if locked is not None else user.failed_logins) + 1
            user.failed_logins = failures
            user.locked_until = now + LOCKOUT if failures >= MAX_FAILED_LOGINS else None
            if user.locked_until is not None:
                user.failed_logins = 0
            session.flush()
            record(
                session,
                actor=who,
                action="login_failed",
                entity="user",
                entity_id=user.id,
                after={"failed_logins": failures, "locked_until": user.locked_until},
                at=now,
            )
        elif user.failed_logins or user.locked_until is not None:
            user.failed_logins, user.locked_until = 0, None
            session.flush()
            record(
                session,
                actor=who,
                action="login",
                entity="user",
                entity_id=user.id,
                after={"failed_logins": 0},
                at=now,
            )
            return user
        else:
            return user
    raise refused


# -- API tokens -----------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # shown once; only its hash is stored


def issue_token(
    session: Session, *, actor: Actor, user_id: int, name: str, now: datetime | None = None
) -> IssuedToken:
    """A new API token for ``user_id`` (yourself, or anyone with ``users:manage``)."""
    if actor.user_id != user_id:
        actor.require("users:manage")
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(session):
        _get(session, user_id)
        row = ApiToken(user_id=user_id, name=name, token_hash=_token_hash(token), created_at=now)
        session.add(row)
        session.flush()
        record(
            session,
            actor=actor,
            action="issue_token",
            entity="api_token",
            entity_id=row.id,
            after={"user_id": user_id, "name": name},
            at=now,
        )
    return IssuedToken(id=row.id, token=token)


def authenticate_token(session: Session, *, token: str, now: datetime) -> User:
    """The active user a token belongs to; revoked or unknown tokens are refused.

    Always asks the store; ``token_actor`` is the cached check the API uses per request.
    """
    with transaction(session):
        return _authenticated(session, token, now)[1]


def _authenticated(session: Session, token: str, now: datetime) -> tuple[ApiToken, User]:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("invalid API token")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise AuthenticationError("invalid API token")
    last = as_utc(row.last_used_at)
    if last is None or now - last >= TOKEN_TOUCH:  # not a write (and fsync) per request
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return row, user


class TokenCache:
    """Which ``Actor`` a token stood for, remembered for ``ttl`` seconds (thread-safe).

    Keyed by the store (its URL) and the token's hash, so two stores in one process never
    share an answer. ``forget`` drops a token, or every token of a user, at once; an answer
    read from the store before a ``forget`` is not remembered after it (``generation``).
    """

    def __init__(
        self,
        *,
        ttl: float = TOKEN_CACHE_TTL,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._entries: dict[tuple[str, str], tuple[float, Actor, int]] = {}
        self._lock = threading.Lock()
        self.generation = 0  # bumped by every forget

    def get(self, store: str, token: str) -> Actor | None:
        """The actor of a token checked less than ``ttl`` seconds ago, else None."""
        entry = self._entries.get((store, _token_hash(token)))
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def put(
        self, store: str, token: str, actor: Actor, *, token_id: int, generation: int
    ) -> None:
        """Remember an answer read from the store when ``generation`` was current."""
        with self._lock:
            if generation != self.generation:  # a revocation may have raced the read
                return
            if len(self._entries) >= self.size:
                now = self.clock()
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.size:
                    self._entries.clear()
            self._entries[(store, _token_hash(token))] = (self.clock() + self.ttl, actor, token_id)

    def forget(self, *, token_id: int | None = None, user_id: int | None = None) -> None:
        """Drop the token ``token_id``, or every token of ``user_id`` (in every store: ids
        of different stores may collide, and forgetting too much only costs a lookup)."""
        with self._lock:
            self.generation += 1
            self._entries = {
                key: entry
                for key, entry in self._entries.items()
                if entry[2] != token_id and entry[1].user_id != user_id
            }


TOKENS = TokenCache()  # the process's cache: revoking in any session must reach it


def _forget_after_commit(
    session: Session, *, token_id: int | None = None, user_id: int | None = None
) -> None:
    def forget(_session: Session) -> None:
        TOKENS.forget(token_id=token_id, user_id=user_id)

    forget(session)  # and once more when the change is visible to other sessions:
    event.listen(session, "after_commit", forget, once=True)


_STORE_KEYS: weakref.WeakKeyDictionary[sessionmaker[Session], str] = (
    weakref.WeakKeyDictionary()
)


def store_key(sessions: sessionmaker[Session]) -> str:
    """What ``TokenCache`` keys a store by: its engine's URL (rendered once per store, not on
    every request: the bearer gate asks for it each time)."""
    key = _STORE_KEYS.get(sessions)
    if key is None:
        key = _STORE_KEYS[sessions] = str(sessions.kw["bind"].url)
    return key


def token_actor(
    sessions: sessionmaker[Session], *, token: str, now: datetime, cache: TokenCache = TOKENS
) -> Actor:
    """The ``Actor`` of a valid token, from ``cache`` or else checked in the store (and then
    remembered); ``AuthenticationError`` for an unknown or revoked token."""
    key = store_key(sessions)
    actor = cache.get(key, token)
    if actor is not None:
        return actor
    generation = cache.generation
    session = sessions()
    try:
        with transaction(session):
            row, user = _authenticated(session, token, now)
            actor = actor_for(user)
    finally:
        session.close()
    cache.put(key, token, actor, token_id=row.id, generation=generation)
    return actor


def revoke_token(
    session: Session, *, actor: Actor, token_id: int, now: datetime | None = None
) -> None:
    now = now or utcnow()
    with transaction(session):
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFoundError(f"API token {token_id} does not exist", field="token_id")
        if actor.user_id != row.user_id:
            actor.require("users:manage")
        row.revoked_at = now
        session.flush()
        _forget_after_commit(session, token_id=row.id)
        record(
            session,
            actor=actor,
            action="revoke_token",
            entity="api_token",
            entity_id=row.id,
            at=now,
        )


# -- visibility and masking -----------------------------------------------------------------


def mask_phone(phone: str | None) -> str | None:
    """``13812348888`` -> ``138****8888``: keep the first 3 and last 4 characters."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * (len(phone) - 2) + phone[-2:] if len(phone) > 2 else "*" * len(phone)
    return phone[:3] + "****" + phone[-4:]


def mask_email(email: str | None) -> str | None:
    """``zhang@example.com`` -> ``z***@example.com``: the first character and the domain."""
    if not email:
        return email
    local, at, domain = email.partition("@")
    if not at:
        return local[:1] + "***"
    return f"{local[:1]}***@{domain}"


def visible_customers(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause restricting customers to those the actor may see."""
    if actor.can("customers:all"):
        return true()
    return Customer.owner_user_id == actor.user_id


def visible_customer(session: Session, actor: Actor, customer_id: str) -> Customer:
    """The customer, if the actor may see them; otherwise ``NotFoundError``."""
    customer = session.scalar(
        select(Customer).where(Customer.id == customer_id, visible_customers(actor))
    )
    if customer is None:  # not found and not yours look the same: no probing for ids
        raise NotFoundError(f"customer {customer_id!r} does not exist", field="customer_id")
    return customer


def customer_card(
    session: Session,
    *,
    actor: Actor,
    customer_id: str,
    unmask: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A customer's basic record and stage, contacts masked unless asked for and allowed.

    An unmasked read needs ``contacts:unmask`` and writes an audit row (who read whose
    contacts, when).
    """
    if unmask:
        actor.require("contacts:unmask")
    with transaction(session):
        customer = visible_customer(session, actor, customer_id)
        stage = session.get(CustomerStage, customer_id)
        card = {
            "customer_id": customer.id,
            "name": customer.name,
            "industry": customer.industry,
            "owner": customer.owner,
            "owner_user_id": customer.owner_user_id,
            "acquisition_channel": customer.acquisition_channel,
            "signup_date": customer.signup_date,
            "erased": customer.erased,
            "phone": customer.phone if unmask else mask_phone(customer.phone),
            "email": customer.email if unmask else mask_email(customer.email),
            "contacts_masked": not unmask,
            "stage": stage.stage if stage else None,
            "stage_since": stage.stage_since if stage else None,
        }
        if unmask:
            record(
                session,
                actor=actor,
                action="read_unmasked",
                entity="customer",
                entity_id=customer.id,
                customer_id=customer.id,
                after={"fields": ["phone", "email"]},
                at=now,
            )
    return card


def list_customers(
    session: Session,
    *,
    actor: Actor,
    stage: str | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Customers the actor may see, contacts always masked (use ``customer_card`` to unmask)."""
    stmt = (
        select(Customer, CustomerStage.stage)
        .outerjoin(CustomerStage, CustomerStage.customer_id == Customer.id)
        .where(visible_customers(actor))
        .order_by(Customer.id)
        .limit(limit)
        .offset(offset)
    )
    if stage is not None:
        stmt = stmt.where(CustomerStage.stage == stage)
    if search:
        like = f"%{search}%"
        stmt = stmt.where(Customer.name.ilike(like) | Customer.id.ilike(like))
    return [
        {
            "customer_id": c.id,
            "name": c.name,
            "industry": c.industry,
            "owner": c.owner,
            "phone": mask_phone(c.phone),
            "email": mask_email(c.email),
            "stage": s,
        }
        for c, s in session.execute(stmt)
    ]
