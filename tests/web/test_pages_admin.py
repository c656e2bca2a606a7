"""Administration pages (users, lock, unblinding) and the role-dependent navigation."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from resolve.ops.permissions import MATRIX, Operation
from tests.web._support_pages import (
    PASSWORD,
    app_client,
    build_trial,
    copy_trial,
    post,
    sign_in,
    signed_in,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_trial(tmp_path_factory.mktemp("pages_admin"))


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    return copy_trial(template, tmp_path)


def _rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute(sql, args).fetchall())
    finally:
        con.close()


def _status(db: Path) -> str:
    return str(_rows(db, "SELECT status FROM trial")[0][0])


def test_pages_render_for_allowed_roles_and_refuse_the_others(db: Path) -> None:
    clients = signed_in(db)
    for url, op in (("/users", Operation.list_users), ("/lock", Operation.lock_database)):
        anonymous = app_client(db).get(url)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
        allowed = {r.value for r in MATRIX[op]}
        for role, (web, _) in clients.items():
            expected = 200 if role in allowed else 403
            assert web.get(url).status_code == expected, (role, url)
    for role, (web, csrf) in clients.items():
        manage = role in {r.value for r in MATRIX[Operation.manage_users]}
        r = post(web, "/users", csrf, name="newbie", role="assessor")
        assert (r.status_code == 303) == manage, role
        if not manage:
            assert r.status_code == 403
        unblind = post(web, "/lock/unblind", csrf, reason="x", confirmed="yes")
        assert unblind.status_code in ((409,) if role == "admin" else (403,)), role


def test_the_menu_lists_only_pages_the_role_may_open(db: Path) -> None:
    expected = {
        "admin": ["/audit", "/users", "/lock"],
        "enroller": ["/screen"],
        "clinician": [],
        "assessor": [],
        "statistician": ["/export", "/report"],
        "unblinded_statistician": ["/export", "/report"],
        "monitor": ["/audit", "/users"],
    }
    for role, (web, _) in signed_in(db).items():
        page = web.get("/").text
        nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.DOTALL)
        assert nav is not None
        links = re.findall(r'href="([^"]+)"', nav.group(1))
        assert [x for x in links if x not in ("/", "/participants", "/password")] == expected[role]
        for link in links:
            assert web.get(link).status_code == 200, (role, link)


def test_admin_adds_and_deactivates_accounts(db: Path) -> None:
    clients = signed_in(db, ["admin", "monitor"])
    web, csrf = clients["admin"]
    page = web.get("/users").text
    assert 'action="/users"' in page
    assert 'action="/users/admin/deactivate"' not in page  # not one's own account
    r = post(web, "/users", csrf, name="", role="wizard", password="short")
    assert r.status_code == 422
    assert {"name", "role", "password"} <= set(re.findall(r'id="err-([a-z_]+)"', r.text))
    r = post(web, "/users", csrf, name="nurse1", role="assessor", site="sydney", password=PASSWORD)
    assert r.status_code == 303
    listed = web.get(r.headers["location"]).text
    assert "The account is added." in listed and '<th scope="row">nurse1</th>' in listed
    assert _rows(db, "SELECT role, site, active FROM app_user WHERE name = 'nurse1'") == [
        ("assessor", "sydney", 1)
    ]
    again = post(web, "/users", csrf, name="nurse1", role="assessor")
    assert again.status_code == 409 and "exists already" in again.text
    r = post(web, "/users/nurse1/deactivate", csrf, reason="")
    assert r.status_code == 422 and 'id="err-reason_nurse1"' in r.text
    r = post(web, "/users/nurse1/deactivate", csrf, reason="left the trial team")
    assert r.status_code == 303
    assert _rows(db, "SELECT active FROM app_user WHERE name = 'nurse1'") == [(0,)]
    assert _rows(
        db,
        "SELECT reason FROM audit_event WHERE entity = 'app_user' AND action = 'deactivate'",
    ) == [("left the trial team",)]
    # the new account could have signed in; a deactivated one cannot
    fresh = app_client(db)
    assert (
        fresh.post("/login", data={"username": "nurse1", "password": PASSWORD}).status_code != 303
    )
    # the monitor lists accounts but manages none
    monitor_page = clients["monitor"][0].get("/users").text
    assert "nurse1" in monitor_page and 'action="/users"' not in monitor_page
    assert "/deactivate" not in monitor_page


def test_lock_and_unblinding_take_a_reason_and_a_confirmation(db: Path) -> None:
    web, csrf = signed_in(db, ["admin"])["admin"]
    page = web.get("/lock").text
    assert "The database is open" in page and 'action="/lock"' in page
    r = post(web, "/lock", csrf, reason="")
    assert r.status_code == 422 and 'id="err-lock"' in r.text
    r = post(web, "/lock", csrf, reason="last participant completed week 52")
    assert r.status_code == 200 and 'name="confirmed" value="yes"' in r.text
    assert "last participant completed week 52" in r.text
    assert _status(db) == "open"  # not yet: only asked
    r = post(web, "/lock", csrf, reason="last participant completed week 52", confirmed="yes")
    assert r.status_code == 303 and _status(db) == "locked"
    page = web.get(r.headers["location"]).text
    assert "The database is locked." in page and 'action="/lock/unblind"' in page
    r = post(web, "/lock/unblind", csrf, reason="analysis plan signed off")
    assert r.status_code == 200 and _status(db) == "locked"
    r = post(web, "/lock/unblind", csrf, reason="analysis plan signed off", confirmed="yes")
    assert r.status_code == 303 and _status(db) == "unblinded"
    reasons = _rows(
        db, "SELECT action, reason FROM audit_event WHERE entity = 'trial' ORDER BY id"
    )[1:]
    assert reasons == [
        ("lock", "last participant completed week 52"),
        ("unblind statistician", "analysis plan signed off"),
    ]
    # the blinded statistician's export page now says the arms are real
    stat = app_client(db)
    sign_in(stat, "statistician")
    assert "real arm names" in stat.get("/export").text
