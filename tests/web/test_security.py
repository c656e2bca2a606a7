"""Security negatives: CSRF, session fixation, expiry, logout, token revocation, rate limit,
headers, cookie flags.

Each test that changes credentials or the trial uses its own copy of the demo
trial (``fresh_web``); the CSRF sweep covers every state-changing page form of
the route table, so a new form without the check fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
from sqlalchemy import func, select, update

from resolve.ops.permissions import MATRIX
from resolve.store.models import AuditEvent, Role
from resolve.store.models_web import ApiToken, LoginAttempt, WebSession
from resolve.web import auth
from resolve.web.app import SESSION_COOKIE
from tests.web.conftest import STAFF_ROLES, WebTrial
from tests.web.test_role_matrix import Endpoint, Values, endpoints, form_fields

PAGE_WRITE = ("POST", "PUT", "PATCH", "DELETE")


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds")


def _ago(**delta: float) -> str:
    return _iso(datetime.now(UTC) - timedelta(**delta))


def _staff_role_for(e: Endpoint) -> str:
    """A staff role the route's rule admits."""
    assert e.rule is not None
    if e.rule.operation is None:
        return "enroller"
    for role in STAFF_ROLES:
        if Role(role) in MATRIX[e.rule.operation]:
            return role
    raise AssertionError(f"no staff role may {e.rule.operation.value}")


def _page_forms(web: WebTrial) -> list[Endpoint]:
    found, _ = endpoints(web.app)
    return [
        e
        for e in found
        if e.method in PAGE_WRITE
        and not e.api
        and e.rule is not None
        and e.rule.access in ("user", "operation")
    ]


def _signed_in(web: WebTrial, cookie: str) -> bool:
    c = web.client()
    c.cookies.set(SESSION_COOKIE, cookie)
    return bool(c.get("/", follow_redirects=False).status_code == 200)


# ----------------------------------------------------------------------------- CSRF
@pytest.mark.parametrize("token", [None, "", "forged-token-0123456789", "other session's token"])
def test_every_page_form_refuses_a_missing_or_wrong_csrf_token(
    fresh_web: WebTrial, token: str | None
) -> None:
    web = fresh_web
    forms = _page_forms(web)
    assert len(forms) >= 10
    values = Values(participant="D001", token=web.link("D002", "week 12"))
    other = web.csrf("monitor")  # a real token, of another session
    before = web.sql(lambda s: s.execute(select(func.count()).select_from(AuditEvent)).scalar_one())
    refused = []
    for e in forms:
        role = _staff_role_for(e)
        data = form_fields(e.route)
        if token is not None:
            data["csrf_token"] = other if token == "other session's token" else token
        r = web.page(role).request(e.method, values.fill(e.path), data=data, follow_redirects=False)
        if r.status_code != 403:
            refused.append(f"{e.method} {e.path} as {role}: {r.status_code}")
    assert not refused, "forms that accepted a bad CSRF token:\n" + "\n".join(refused)
    # nothing was changed (no audit event: every write is audited); the session still works
    after = web.sql(lambda s: s.execute(select(func.count()).select_from(AuditEvent)).scalar_one())
    assert after == before
    assert web.page("enroller").get("/", follow_redirects=False).status_code == 200


def test_api_writes_need_a_bearer_token_not_the_cookie(fresh_web: WebTrial) -> None:
    c = fresh_web.page("enroller")  # signed in with a cookie
    assert c.get("/api/v1/participants").status_code == 200  # reads with the cookie are fine
    r = c.post("/api/v1/participants/D007/consent", json={"version": "1.0"})
    assert r.status_code == 401
    r = c.post("/api/v1/participants/D007/randomise")
    assert r.status_code == 401


# ----------------------------------------------------------------------------- sessions
def test_session_fixation_a_preset_cookie_is_replaced_and_never_accepted(
    fresh_web: WebTrial,
) -> None:
    web = fresh_web
    planted = "attacker-chosen-session-id-0123456789abcdef"
    c = web.client()
    c.cookies.set(SESSION_COOKIE, planted)
    assert c.get("/", follow_redirects=False).status_code == 303
    r = c.post(
        "/login",
        data={"username": "assessor", "password": web.passwords["assessor"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    issued = r.cookies.get(SESSION_COOKIE)
    assert issued and issued != planted and len(issued) >= 43
    assert not _signed_in(web, planted)
    assert _signed_in(web, issued)
    # a second login in the same browser gets yet another id (never re-uses the presented one)
    r = c.post(
        "/login",
        data={"username": "assessor", "password": web.passwords["assessor"]},
        follow_redirects=False,
    )
    assert r.cookies.get(SESSION_COOKIE) not in (None, issued, planted)
    # the database holds only hashes
    stored = web.sql(lambda s: set(s.execute(select(WebSession.token_hash)).scalars()))
    assert issued not in stored and auth.digest(issued) in stored


@pytest.mark.parametrize("how", ["expired", "idle"])
def test_an_expired_or_idle_session_is_refused(fresh_web: WebTrial, how: str) -> None:
    web = fresh_web
    c = web.page("monitor")
    assert c.get("/", follow_redirects=False).status_code == 200
    cookie = c.cookies.get(SESSION_COOKIE)
    assert cookie
    h = auth.digest(cookie)
    values = (
        {"expires_at": _ago(seconds=1)}
        if how == "expired"
        else {"last_seen_at": _iso(datetime.now(UTC) - auth.SESSION_IDLE - timedelta(seconds=1))}
    )
    web.sql(
        lambda s: s.execute(update(WebSession).where(WebSession.token_hash == h).values(**values))
    )
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/login")
    assert c.get("/api/v1/participants").status_code == 401


def test_a_session_is_dead_after_logout(fresh_web: WebTrial) -> None:
    web = fresh_web
    c = web.page("clinician")
    cookie = c.cookies.get(SESSION_COOKIE)
    assert cookie and _signed_in(web, cookie)
    r = c.post("/logout", data={"csrf_token": web.csrf("clinician")}, follow_redirects=False)
    assert r.status_code == 303
    assert 'resolve_session=""' in r.headers.get("set-cookie", "") or "Max-Age=0" in r.headers.get(
        "set-cookie", ""
    )
    assert not _signed_in(web, cookie)  # a copied cookie no longer works
    replay = web.client()
    replay.cookies.set(SESSION_COOKIE, cookie)
    assert replay.get("/api/v1/participants").status_code == 401
    revoked = web.sql(
        lambda s: s.execute(
            select(WebSession.revoked).where(WebSession.token_hash == auth.digest(cookie))
        ).scalar_one()
    )
    assert revoked


def test_a_bearer_token_is_dead_after_api_logout(fresh_web: WebTrial) -> None:
    web = fresh_web
    api = web.api("statistician")
    token = web.token("statistician")
    assert api.get("/api/v1/participants").status_code == 200
    assert api.post("/api/v1/auth/logout").status_code == 204
    assert api.get("/api/v1/participants").status_code == 401
    assert api.post("/api/v1/auth/logout").status_code == 401
    other = web.client()
    other.headers["Authorization"] = f"Bearer {token}"
    assert other.get("/api/v1/participants/D001").status_code == 401
    # an expired token is refused too
    api2 = web.client()
    fresh = (
        web.anon()
        .post(
            "/api/v1/auth/token",
            data={"username": "monitor", "password": web.passwords["monitor"]},
        )
        .json()["access_token"]
    )
    api2.headers["Authorization"] = f"Bearer {fresh}"
    assert api2.get("/api/v1/participants").status_code == 200
    h = auth.digest(fresh)
    web.sql(
        lambda s: s.execute(
            update(ApiToken).where(ApiToken.token_hash == h).values(expires_at=_ago(seconds=1))
        )
    )
    assert api2.get("/api/v1/participants").status_code == 401


# ----------------------------------------------------------------------------- rate limit
def _login(web: WebTrial, user: str, password: str) -> int:
    r = web.anon().post(
        "/login", data={"username": user, "password": password}, follow_redirects=False
    )
    return int(r.status_code)


def test_five_failures_lock_the_user_name_until_the_window_passes(fresh_web: WebTrial) -> None:
    web = fresh_web
    right = web.passwords["enroller"]
    for _ in range(auth.MAX_FAILURES):
        assert _login(web, "enroller", "wrong password 123") == 401
    assert _login(web, "enroller", right) == 429  # locked even with the right password
    r = web.anon().post("/api/v1/auth/token", data={"username": "enroller", "password": right})
    assert r.status_code == 429
    assert _login(web, "monitor", web.passwords["monitor"]) == 303  # other names unaffected
    # the window passes: move every attempt back beyond it
    web.sql(lambda s: s.execute(update(LoginAttempt).values(at=_ago(minutes=16))))
    assert _login(web, "enroller", right) == 303


def test_failures_from_one_address_lock_the_address(fresh_web: WebTrial) -> None:
    web = fresh_web
    for i in range(auth.MAX_IP_FAILURES):
        assert _login(web, f"nobody{i % 20}", "wrong password 123") in (401, 429)
    assert _login(web, "assessor", web.passwords["assessor"]) == 429
    web.sql(lambda s: s.execute(update(LoginAttempt).values(at=_ago(minutes=16))))
    assert _login(web, "assessor", web.passwords["assessor"]) == 303


def test_a_wrong_user_and_a_wrong_password_read_the_same(fresh_web: WebTrial) -> None:
    a = fresh_web.anon().post("/login", data={"username": "nobody", "password": "x" * 12})
    b = fresh_web.anon().post("/login", data={"username": "admin", "password": "x" * 12})
    assert a.status_code == b.status_code == 401
    assert a.text == b.text


# ----------------------------------------------------------------------------- headers, cookies
def test_security_headers_on_every_kind_of_answer(web: WebTrial) -> None:
    token = web.link("D003", "week 52")
    answers = [
        web.anon().get("/login"),
        web.anon().get("/", follow_redirects=False),
        web.anon().get("/static/app.css"),
        web.anon().get("/api/v1/openapi.json"),
        web.anon().get("/api/v1/participants"),
        web.page("monitor").get("/participants"),
        web.api("monitor").get("/api/v1/participants"),
        web.anon().get(f"/p/{token}"),
        web.anon().get("/p/" + "x" * 43),
        web.anon().get("/no-such-page"),
    ]
    for r in answers:
        csp = r.headers.get("content-security-policy", "")
        assert csp, r.url
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers.get("x-content-type-options") == "nosniff"
        assert r.headers.get("x-frame-options") == "DENY"
        assert r.headers.get("referrer-policy") == "no-referrer"  # link tokens never leak


def test_templates_have_no_inline_script_or_style() -> None:
    """The CSP forbids them, so they would silently not work."""
    folder = resources.files("resolve.web").joinpath("templates")
    bad = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".html"):
            continue
        text = entry.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\sstyle=", text):
            bad.append(entry.name)
        if re.search(r"\son[a-z]+\s*=", text):  # onclick=... handlers are inline script
            bad.append(entry.name)
    assert not bad, bad


def test_session_cookie_flags(fresh_web: WebTrial) -> None:
    r = fresh_web.anon().post(
        "/login",
        data={"username": "admin", "password": fresh_web.passwords["admin"]},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"]
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in flags and "secure" in flags
    assert flags["samesite"].split("=")[1].strip().lower() == "strict"
    assert flags["path"].split("=")[1].strip() == "/"
