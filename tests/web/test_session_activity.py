"""Session activity: written at most once per SESSION_TOUCH, so most requests only read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from resolve.store.models_web import WebSession
from resolve.web import auth
from resolve.web.app import SESSION_COOKIE
from tests.web.conftest import WebTrial


def _last_seen(web: WebTrial, h: str) -> str:
    return web.sql(
        lambda s: s.execute(
            select(WebSession.last_seen_at).where(WebSession.token_hash == h)
        ).scalar_one()
    )


def _set_last_seen(web: WebTrial, h: str, when: datetime) -> str:
    iso = when.isoformat(timespec="microseconds")
    web.sql(
        lambda s: s.execute(
            update(WebSession).where(WebSession.token_hash == h).values(last_seen_at=iso)
        )
    )
    return iso


def test_recent_activity_is_not_rewritten(fresh_web: WebTrial) -> None:
    c = fresh_web.page("monitor")
    h = auth.digest(c.cookies.get(SESSION_COOKIE) or "")
    recent = _set_last_seen(fresh_web, h, datetime.now(UTC) - timedelta(seconds=5))
    for _ in range(3):
        assert c.get("/", follow_redirects=False).status_code == 200
    assert _last_seen(fresh_web, h) == recent


def test_older_activity_is_moved_forward(fresh_web: WebTrial) -> None:
    c = fresh_web.page("monitor")
    h = auth.digest(c.cookies.get(SESSION_COOKIE) or "")
    old = _set_last_seen(
        fresh_web, h, datetime.now(UTC) - auth.SESSION_TOUCH - timedelta(seconds=1)
    )
    assert c.get("/", follow_redirects=False).status_code == 200
    assert _last_seen(fresh_web, h) > old
    # and a session kept busy does not expire at the idle limit
    _set_last_seen(fresh_web, h, datetime.now(UTC) - auth.SESSION_IDLE + timedelta(seconds=30))
    assert c.get("/", follow_redirects=False).status_code == 200
    assert _last_seen(fresh_web, h) > (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
