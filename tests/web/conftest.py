"""Shared fixtures of the web tests: a demo trial with one account per role, clients per role.

The demo trial (:func:`resolve.cli.serve.make_demo_trial`: accounts named after
their roles; participants D001-D006 randomised by the enroller with a baseline
NRS, D007-D008 screened and eligible) is built once per test session, and each
account then replaces its one-time demo password with its own, as every user
must at the first sign-in (:func:`first_password_change`; the forced change
itself is tested in ``test_pages_safety.py``); each test module gets its own copy of the SQLite file
(:func:`web`, module-scoped), and :func:`fresh_web` gives a test its own copy
(for tests that lock accounts, revoke sessions or change the trial's state).

:class:`WebTrial` hands out, lazily and cached per copy:

- ``page(role)``: a :class:`~fastapi.testclient.TestClient` signed in through
  ``POST /login`` (the session cookie; ``https://testserver`` so that the
  ``Secure`` cookie is sent), and ``csrf(role)``, that session's CSRF token;
- ``api(role)``: a client sending ``Authorization: Bearer`` with a token from
  ``POST /api/v1/auth/token``;
- ``anon()``: a client with no credentials;
- ``ops(role)``: an :class:`resolve.ops.Client` acting as the role's account.

The ``participant`` role (the system account of self-report links) has no
password; ``page("participant")``/``api("participant")`` mint a session or token
for it directly in the database (:func:`mint_session`, :func:`mint_token`), as
a stolen credential would be, so the role matrix covers every role.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from resolve import ops
from resolve.cli.serve import DEMO_ROLES, make_demo_trial
from resolve.ops import links
from resolve.store.models import Role, User
from resolve.store.models_web import ApiToken, WebSession
from resolve.store.uow import Store
from resolve.web import auth
from resolve.web.app import SESSION_COOKIE, create_app
from tests.db_fixtures import db_url  # noqa: F401 - the SQLite/PostgreSQL fixture

T = TypeVar("T")

BASE_URL = "https://testserver"
#: Staff roles (accounts with a password), in the demo's order.
STAFF_ROLES: tuple[str, ...] = DEMO_ROLES
#: Every role of the permission matrix.
ALL_ROLES: tuple[str, ...] = tuple(r.value for r in Role)
#: Demo participants: randomised by the enroller (with a baseline NRS) and merely screened.
RANDOMISED = tuple(f"D{i:03d}" for i in range(1, 7))
SCREENED = ("D007", "D008")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _dispose(db: Path) -> None:
    """Close the cached engines of a SQLite file (checkpoints its write-ahead log)."""
    from resolve.store import uow

    for key in [k for k in uow._ENGINES if str(db) in k[0]]:
        uow._ENGINES.pop(key).dispose()


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds")


def mint_session(store: Store, user: str) -> tuple[str, str]:
    """A live session of ``user`` written directly to the database: (cookie value, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)

    def work(s: Session) -> None:
        uid = s.execute(select(User.id).where(User.name == user)).scalar_one()
        now = datetime.now(UTC)
        s.add(
            WebSession(
                token_hash=auth.digest(token),
                user_id=uid,
                csrf=csrf,
                created_at=_iso(now),
                expires_at=_iso(now + auth.SESSION_MAX),
                last_seen_at=_iso(now),
                revoked=False,
            )
        )

    store.run(work)
    return token, csrf


def mint_token(store: Store, user: str) -> str:
    """A live bearer token of ``user`` written directly to the database (no password check)."""
    token = secrets.token_urlsafe(32)

    def work(s: Session) -> None:
        uid = s.execute(select(User.id).where(User.name == user)).scalar_one()
        now = datetime.now(UTC)
        s.add(
            ApiToken(
                token_hash=auth.digest(token),
                user_id=uid,
                created_at=_iso(now),
                expires_at=_iso(now + auth.TOKEN_TTL),
                revoked=False,
            )
        )

    store.run(work)
    return token


def first_password_change(db: Path, key_file: Path, passwords: dict[str, str]) -> dict[str, str]:
    """Each account replaces its one-time password with a new one: {user: new password}.

    Through :func:`resolve.ops.set_password` as the user themselves (with the old
    password), which is what ``POST /password`` runs.
    """
    changed = {}
    for user, old in passwords.items():
        new = f"{old}-own-choice"
        ops.Client(db, user=user, key_file=key_file).run(
            ops.set_password, user, new, old_password=old
        )
        changed[user] = new
    return changed


def csrf_of(html: str) -> str:
    """The CSRF token of a page's forms."""
    found = _CSRF.search(html)
    assert found is not None, "no csrf_token field on the page"
    return found.group(1)


@dataclass
class WebTrial:
    """One copy of the demo trial and its app, with clients per role (built on demand)."""

    db: Path
    key_file: Path
    passwords: dict[str, str]
    app: FastAPI
    _pages: dict[str, tuple[TestClient, str]] = field(default_factory=dict)
    _apis: dict[str, tuple[TestClient, str]] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        """The app's store (one engine per database)."""
        store: Store = self.app.state.store
        return store

    def user(self, role: str) -> str:
        """The account acting in ``role``."""
        if role == Role.participant.value:
            return self.ops("admin").run(links.ensure_system_account).name
        return role

    def client(self, **kwargs: Any) -> TestClient:
        """A new client of this app (no credentials)."""
        return TestClient(self.app, base_url=BASE_URL, **kwargs)

    def anon(self) -> TestClient:
        """A client with no credentials (server errors are answers, not exceptions)."""
        return self.client(raise_server_exceptions=False)

    def login(self, role: str, client: TestClient | None = None) -> TestClient:
        """``client`` (or a new one) signed in as ``role`` through ``POST /login``."""
        c = client or self.client(raise_server_exceptions=False)
        r = c.post(
            "/login",
            data={"username": role, "password": self.passwords[role]},
            follow_redirects=False,
        )
        assert r.status_code == 303, (role, r.status_code, r.text[:300])
        return c

    def page(self, role: str) -> TestClient:
        """A client with a live session of ``role`` (cached; see :meth:`relogin`)."""
        if role not in self._pages:
            if role in self.passwords:
                c = self.login(role)
                cookie = c.cookies.get(SESSION_COOKIE)
                assert cookie
                csrf = self._csrf_from_db(cookie)
            else:
                cookie, csrf = mint_session(self.store, self.user(role))
                c = self.client(raise_server_exceptions=False)
                c.cookies.set(SESSION_COOKIE, cookie)
            self._pages[role] = (c, csrf)
        return self._pages[role][0]

    def csrf(self, role: str) -> str:
        """The CSRF token of ``role``'s session."""
        self.page(role)
        return self._pages[role][1]

    def relogin(self, role: str) -> TestClient:
        """Forget ``role``'s cached session and sign in again."""
        self._pages.pop(role, None)
        return self.page(role)

    def _csrf_from_db(self, cookie: str) -> str:
        h = auth.digest(cookie)
        return self.sql(
            lambda s: s.execute(
                select(WebSession.csrf).where(WebSession.token_hash == h)
            ).scalar_one()
        )

    def token(self, role: str) -> str:
        """A bearer token of ``role`` (cached with :meth:`api`)."""
        self.api(role)
        return self._apis[role][1]

    def api(self, role: str) -> TestClient:
        """A client sending ``role``'s bearer token (from ``POST /api/v1/auth/token``)."""
        if role not in self._apis:
            if role in self.passwords:
                r = self.anon().post(
                    "/api/v1/auth/token",
                    data={"username": role, "password": self.passwords[role]},
                )
                assert r.status_code == 200, r.text
                token = r.json()["access_token"]
            else:
                token = mint_token(self.store, self.user(role))
            c = self.client(raise_server_exceptions=False)
            c.headers["Authorization"] = f"Bearer {token}"
            self._apis[role] = (c, token)
        return self._apis[role][0]

    def forget(self, role: str) -> None:
        """Drop ``role``'s cached clients (after a test revoked them)."""
        self._pages.pop(role, None)
        self._apis.pop(role, None)

    def ops(self, role: str) -> ops.Client:
        """A service-layer client acting as ``role``'s account."""
        name = role if role != Role.participant.value else links.SYSTEM_USER
        return ops.Client(self.store, user=name, key_file=self.key_file)

    def sql(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` on a plain session (no actor): inspect or tamper as a database user."""
        return self.store.run(work)

    def link(self, participant: str = "D001", visit: str = "week 18", **kw: Any) -> str:
        """A new self-report link (created by the assessor): the token."""
        return self.ops("assessor").run(ops.create_link, participant, visit=visit, **kw)


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """The demo trial, built once: (database file, key file, {role: password})."""
    folder = tmp_path_factory.mktemp("web-template")
    db, key_file, one_time = make_demo_trial(folder)
    passwords = first_password_change(db, key_file, one_time)
    _dispose(db)  # checkpoint the write-ahead log: a plain copy is complete
    assert not Path(f"{db}-wal").exists()
    return db, key_file, passwords


def _copy(template: tuple[Path, Path, dict[str, str]], folder: Path) -> WebTrial:
    db, key_file, passwords = template
    copy = folder / "trial.db"
    shutil.copy2(db, copy)
    return WebTrial(copy, key_file, dict(passwords), create_app(copy, key_file=key_file))


@pytest.fixture(scope="module")
def web(
    web_template: tuple[Path, Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebTrial]:
    """This module's copy of the demo trial (shared by its tests: mind the state)."""
    trial = _copy(web_template, tmp_path_factory.mktemp("web"))
    yield trial
    _dispose(trial.db)


@pytest.fixture
def fresh_web(
    web_template: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> Iterator[WebTrial]:
    """A copy of the demo trial for this test alone."""
    trial = _copy(web_template, tmp_path)
    yield trial
    _dispose(trial.db)
