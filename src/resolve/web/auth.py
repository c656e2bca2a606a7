"""Authentication: server-side sessions, bearer tokens, rate-limited login.

Session ids, API tokens and participant-link tokens are 256-bit random values
(:func:`secrets.token_urlsafe`) of which only the SHA-256 is stored. A session
expires after :data:`SESSION_IDLE` of inactivity (activity is written at most once
per :data:`SESSION_TOUCH`, so most requests only read) or :data:`SESSION_MAX` in all;
logging out revokes it (a copied cookie stops working). Each session has its own
CSRF token, checked on every state-changing form.

A password set by an admin is a one-time password
(``User.must_change_password``): its sessions carry the flag, so the app lets
the user do nothing but change it, and :func:`issue_token` refuses to issue a
bearer token for it (:class:`PasswordChangeRequired`).

Login attempts are recorded; :data:`MAX_FAILURES` failures for one user name
within :data:`LOCKOUT` lock that name until the window has passed, and
:data:`MAX_IP_FAILURES` failures from one address lock the address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from resolve.errors import ResolveError
from resolve.ops.setup import check_password
from resolve.store.models import User
from resolve.store.models_web import ApiToken, LoginAttempt, WebSession
from resolve.store.uow import Store

__all__ = [
    "LOCKOUT",
    "MAX_FAILURES",
    "MAX_IP_FAILURES",
    "SESSION_IDLE",
    "SESSION_MAX",
    "SESSION_TOUCH",
    "TOKEN_TTL",
    "Authenticated",
    "LockedOut",
    "LoginFailed",
    "PasswordChangeRequired",
    "issue_token",
    "login",
    "logout",
    "revoke_token",
    "session_actor",
    "token_actor",
]

T = TypeVar("T")

SESSION_IDLE = timedelta(minutes=30)
SESSION_MAX = timedelta(hours=8)
#: Activity is written to a session at most this often (requests in between only read it).
SESSION_TOUCH = timedelta(seconds=60)
TOKEN_TTL = timedelta(hours=1)
LOCKOUT = timedelta(minutes=15)
MAX_FAILURES = 5
MAX_IP_FAILURES = 30


class LoginFailed(ResolveError, PermissionError):  # noqa: N818 - a verdict, as PermissionDenied
    """Wrong user name or password (deliberately not saying which)."""


class LockedOut(ResolveError, PermissionError):  # noqa: N818
    """Too many failed attempts for this user name or address."""

    def __init__(self, minutes: int) -> None:
        super().__init__(f"too many failed attempts; try again in {minutes} minutes")
        self.minutes = minutes


class PasswordChangeRequired(ResolveError, PermissionError):  # noqa: N818
    """The account's password is a one-time password: change it in the web app first."""

    def __init__(self, username: str) -> None:
        super().__init__(
            f"the password of {username!r} was set by an administrator and must be changed "
            "before anything else: sign in to the web app and choose a new password at "
            "/password"
        )


@dataclass(frozen=True)
class Authenticated:
    """Who is acting: the user's name and role, and the session's CSRF token (None for tokens).

    ``must_change_password``: the account still has a one-time password.
    """

    name: str
    role: str
    csrf: str | None = None
    session_hash: str | None = None
    must_change_password: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds")


def digest(token: str) -> str:
    """SHA-256 (hex) of a token: what the database stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_password(session: Session, username: str, password: str, ip: str) -> User:
    since = _iso(_now() - LOCKOUT)
    failures = session.execute(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.at >= since, ~LoginAttempt.ok)
    ).scalar_one()
    ip_failures = session.execute(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.ip == ip, LoginAttempt.at >= since, ~LoginAttempt.ok)
    ).scalar_one()
    if failures >= MAX_FAILURES or ip_failures >= MAX_IP_FAILURES:
        raise LockedOut(int(LOCKOUT.total_seconds() // 60))
    user = session.execute(select(User).where(User.name == username)).scalar_one_or_none()
    if user is None or not user.active or not check_password(user, password):
        raise LoginFailed("the user name or password is wrong")  # recorded by _authenticated
    session.add(LoginAttempt(username=username[:128], ip=ip[:64], at=_iso(_now()), ok=True))
    return user


def _authenticated(
    store: Store, username: str, password: str, ip: str, grant: Callable[[Session, User], T]
) -> T:
    """Check the password and run ``grant`` in one unit of work.

    A failed attempt rolls that unit back, so it is recorded in a unit of its
    own before :class:`LoginFailed` propagates.
    """
    try:
        return store.run(lambda s: grant(s, _check_password(s, username, password, ip)))
    except LoginFailed:
        store.run(lambda s: _record_failure(s, username, ip))
        raise


def login(store: Store, username: str, password: str, *, ip: str) -> tuple[str, Authenticated]:
    """Check the password and open a session: (cookie value, who).

    Raises
    ------
    LockedOut
        Too many recent failures (the attempt is not even checked).
    LoginFailed
        Wrong user name or password, or a deactivated account.
    """
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)

    def grant(session: Session, user: User) -> Authenticated:
        now = _now()
        session.add(
            WebSession(
                token_hash=digest(token),
                user_id=user.id,
                csrf=csrf,
                created_at=_iso(now),
                expires_at=_iso(now + SESSION_MAX),
                last_seen_at=_iso(now),
                revoked=False,
            )
        )
        return Authenticated(
            user.name, user.role, csrf, digest(token), bool(user.must_change_password)
        )

    return token, _authenticated(store, username, password, ip, grant)


def _record_failure(session: Session, username: str, ip: str) -> None:
    session.add(LoginAttempt(username=username[:128], ip=ip[:64], at=_iso(_now()), ok=False))


def session_actor(store: Store, token: str | None) -> Authenticated | None:
    """The user of a live session cookie, or None (expired, idle, revoked, unknown)."""
    if not token:
        return None
    h = digest(token)

    def work(session: Session) -> tuple[Authenticated, bool] | None:
        row = session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == h)
        ).one_or_none()
        if row is None:
            return None
        ws, user = row
        now = _now()
        if (
            ws.revoked
            or not user.active
            or _iso(now) >= ws.expires_at
            or _iso(now - SESSION_IDLE) >= ws.last_seen_at
        ):
            return None
        who = Authenticated(user.name, user.role, ws.csrf, h, bool(user.must_change_password))
        return who, ws.last_seen_at <= _iso(now - SESSION_TOUCH)

    found = store.run(work, read_only=True)
    if found is None:
        return None
    who, stale = found
    if stale:
        _touch(store, h)
    return who


def _touch(store: Store, h: str) -> None:
    """Record activity on a session (at most once per :data:`SESSION_TOUCH`).

    Most requests only read the session (a read transaction takes no write lock),
    so concurrent requests do not queue behind each other's bookkeeping; the idle
    timeout is therefore exact to within :data:`SESSION_TOUCH`.
    """
    now = _now()

    def work(session: Session) -> None:
        session.execute(
            update(WebSession)
            .where(WebSession.token_hash == h, WebSession.last_seen_at <= _iso(now - SESSION_TOUCH))
            .values(last_seen_at=_iso(now))
        )

    store.run(work)


def logout(store: Store, token: str | None) -> None:
    """Revoke a session (its cookie no longer works anywhere)."""
    if not token:
        return
    h = digest(token)

    def work(session: Session) -> None:
        ws = session.execute(
            select(WebSession).where(WebSession.token_hash == h)
        ).scalar_one_or_none()
        if ws is not None:
            ws.revoked = True

    store.run(work)


def issue_token(store: Store, username: str, password: str, *, ip: str) -> str:
    """OAuth2 password flow: a bearer token valid for :data:`TOKEN_TTL`.

    Raises
    ------
    PasswordChangeRequired
        The password is right but is a one-time password (no token is issued).
    LockedOut, LoginFailed
        As :func:`login`.
    """
    token = secrets.token_urlsafe(32)

    def grant(session: Session, user: User) -> None:
        if user.must_change_password:
            raise PasswordChangeRequired(user.name)
        now = _now()
        session.add(
            ApiToken(
                token_hash=digest(token),
                user_id=user.id,
                created_at=_iso(now),
                expires_at=_iso(now + TOKEN_TTL),
                revoked=False,
            )
        )

    _authenticated(store, username, password, ip, grant)
    return token


def token_actor(store: Store, token: str | None) -> Authenticated | None:
    """The user of a live bearer token, or None."""
    if not token:
        return None
    h = digest(token)

    def work(session: Session) -> Authenticated | None:
        row = session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == h)
        ).one_or_none()
        if row is None:
            return None
        tok, user = row
        if tok.revoked or not user.active or _iso(_now()) >= tok.expires_at:
            return None
        return Authenticated(
            user.name, user.role, must_change_password=bool(user.must_change_password)
        )

    return store.run(work, read_only=True)


def revoke_token(store: Store, token: str) -> None:
    """Revoke a bearer token."""
    h = digest(token)

    def work(session: Session) -> None:
        tok = session.execute(select(ApiToken).where(ApiToken.token_hash == h)).scalar_one_or_none()
        if tok is not None:
            tok.revoked = True

    store.run(work)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the form's."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
