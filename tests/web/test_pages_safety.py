"""Safety pages: adverse events (list, report, follow-up), emergency unblinding, the treating
clinician; and one-time passwords (the forced change in pages and the API)."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from resolve import ops
from resolve.ops.permissions import MATRIX, Operation, ae_view
from resolve.web.app import create_app
from tests.web._support_pages import (
    ARMS,
    PASSWORD,
    ROLES,
    app_client,
    arm_labels_in,
    build_trial,
    copy_trial,
    post,
    sign_in,
    signed_in,
)

NARRATIVE = "Burning feeling along the lower back after the second session"
TODAY = date.today().isoformat()
FORM = {
    "onset_date": TODAY,
    "description": NARRATIVE,
    "serious": "no",
    "severity": "mild",
    "relatedness": "probable",
    "expectedness": "unexpected",
    "outcome": "ongoing",
    "action_taken": "none",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The staff-page trial (P001 randomised, clinician assigned) with adverse event 1 of P001,
    serious (hospitalisation), reported by the enroller."""
    db = build_trial(tmp_path_factory.mktemp("pages_safety"))
    ops.Client(db, user="enroller").run(
        ops.report_adverse_event,
        "P001",
        onset_date=TODAY,
        description=NARRATIVE,
        serious=True,
        serious_criteria=["hospitalisation"],
        severity="severe",
        relatedness="possible",
        expectedness="unexpected",
        outcome="ongoing",
        action_taken="intervention interrupted",
    )
    return db


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    return copy_trial(template, tmp_path)


def _rows(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute(sql, args).fetchall())
    finally:
        con.close()


def _allowed(op: Operation) -> set[str]:
    return {r.value for r in MATRIX[op]}


PAGES = [
    ("/participants/P001/adverse-events", Operation.view_adverse_events),
    ("/participants/P001/adverse-events/new", Operation.report_adverse_events),
    ("/participants/P001/adverse-events/1/follow-up", Operation.report_adverse_events),
    ("/participants/P001/unblind", Operation.emergency_unblind),
    ("/participants/P001/clinician", Operation.assign_clinician),
]


# ----------------------------------------------------------------------------- who may open what
def test_pages_render_for_allowed_roles_and_refuse_the_others(db: Path) -> None:
    clients = signed_in(db)
    for url, op in PAGES:
        anonymous = app_client(db).get(url)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
        for role, (web, _) in clients.items():
            r = web.get(url)
            expected = 200 if role in _allowed(op) else 403
            assert r.status_code == expected, (role, url, r.text[:200])
            if expected == 403:
                assert NARRATIVE not in r.text and "dverse" not in r.text


def test_blinded_roles_see_no_adverse_event_anywhere(db: Path) -> None:
    """Assessor, statistician, admin: no narrative, no flag, no link, no section, and every
    adverse event page refused, while the participant page still works."""
    blind = [r for r in ROLES if ae_view(r) == "none"]
    assert set(blind) == {"assessor", "statistician", "admin"}
    for role, (web, _) in signed_in(db, blind).items():
        seen = [web.get(url).text for url in ("/", "/participants", "/participants/P001")]
        seen.append(web.get("/api/v1/participants/P001").text)
        for text in seen:
            assert NARRATIVE not in text, role
            assert "adverse" not in text.lower() and "serious-flag" not in text, role
        for url, _ in PAGES[:3]:
            assert web.get(url).status_code == 403, (role, url)


def test_the_participant_page_flags_serious_events_for_roles_that_see_them(db: Path) -> None:
    for role, (web, _) in signed_in(db).items():
        page = web.get("/participants/P001").text
        if ae_view(role) == "none":
            assert "Serious adverse event" not in page, role
            continue
        assert "Serious adverse event reported (1)." in page, role
        assert 'href="/participants/P001/adverse-events"' in page, role
        assert NARRATIVE not in page  # the narrative is on the events page only
        reports = 'href="/participants/P001/adverse-events/new"' in page
        assert reports == (role in _allowed(Operation.report_adverse_events)), role
    # a participant without events has no flag
    web, _ = signed_in(db, ["monitor"])["monitor"]
    page = web.get("/participants/P002").text
    assert "No adverse event has been reported." in page and "Serious adverse" not in page


def test_the_monitor_sees_coded_fields_and_never_the_narrative(db: Path) -> None:
    clients = signed_in(db, ["monitor", "unblinded_statistician"])
    monitor = clients["monitor"][0].get("/participants/P001/adverse-events").text
    assert "hospitalisation (new or prolonged)" in monitor and "severe" in monitor
    assert "not their descriptions" in monitor
    assert NARRATIVE not in monitor and "Burning" not in monitor
    full = clients["unblinded_statistician"][0].get("/participants/P001/adverse-events").text
    assert NARRATIVE in full and "not their descriptions" not in full
    assert "/follow-up" not in full  # reads, but does not report


def test_reading_events_on_a_page_is_audited(db: Path) -> None:
    web, _ = signed_in(db, ["clinician"])["clinician"]
    reads = "SELECT new_value FROM audit_event WHERE entity = 'read' AND entity_id = ?"
    before = len(_rows(db, reads, "adverse events"))
    assert web.get("/participants/P001/adverse-events").status_code == 200
    after = _rows(db, reads, "adverse events")
    assert len(after) == before + 1
    assert json.loads(after[-1][0]) == {"ae_view": "full", "participant": "P001", "rows": 1}


# ----------------------------------------------------------------------------- report, follow up
def test_report_and_follow_up_through_the_forms(db: Path) -> None:
    web = app_client(db)
    csrf = sign_in(web, "clinician")
    form = web.get("/participants/P001/adverse-events/new").text
    assert 'type="date"' in form and f'value="{TODAY}"' in form
    assert form.count('name="serious_criteria"') == 6
    r = post(web, "/participants/P001/adverse-events", csrf, **FORM)
    assert r.status_code == 303
    assert r.headers["location"] == "/participants/P001/adverse-events?done=reported"
    page = web.get(r.headers["location"]).text
    assert "The adverse event is reported." in page and page.count(NARRATIVE) == 2
    ((event, reporter),) = _rows(
        db,
        "SELECT a.id, u.name FROM adverse_event a JOIN app_user u ON u.id = a.user_id "
        "WHERE a.relatedness = 'probable'",
    )
    assert reporter == "clinician"
    follow = web.get(f"/participants/P001/adverse-events/{event}/follow-up").text
    assert NARRATIVE in follow  # the first report, for reference
    assert re.search(r'<option value="probable" selected>', follow)  # the current assessment
    r = post(
        web,
        f"/participants/P001/adverse-events/{event}/follow-up",
        csrf,
        **{
            **FORM,
            "description": "Settled with rest",
            "outcome": "recovered",
            "serious": "yes",
            "serious_criteria": ["other important medical event"],
        },
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=followed_up")
    rows = _rows(
        db,
        "SELECT follow_up, outcome, serious, description FROM adverse_event "
        "WHERE id = ? OR follows_id = ? ORDER BY id",
        event,
        event,
    )
    assert rows == [(0, "ongoing", 0, NARRATIVE), (1, "recovered", 1, "Settled with rest")]
    page = web.get(r.headers["location"]).text
    assert "Follow-up 1" in page and "Settled with rest" in page


def test_form_errors_sit_next_to_their_fields_and_store_nothing(db: Path) -> None:
    web = app_client(db)
    csrf = sign_in(web, "enroller")
    count = "SELECT COUNT(*) FROM adverse_event"
    before = _rows(db, count)[0][0]
    bad = {
        "onset_date": "yesterday",
        "description": "",
        "serious": "yes",
        "severity": "extreme",
        "relatedness": "",
        "expectedness": "expected",
        "outcome": "ongoing",
        "action_taken": "none",
    }
    r = post(web, "/participants/P001/adverse-events", csrf, **bad)
    assert r.status_code == 422
    for field in ("onset_date", "description", "serious_criteria", "severity", "relatedness"):
        assert f'id="err-{field}"' in r.text, field
    assert 'role="alert"' in r.text
    # what only the service layer knows comes back next to its field too
    r = post(web, "/participants/P001/adverse-events", csrf, **{**FORM, "onset_date": "2001-02-03"})
    assert r.status_code == 422
    found = re.search(r'<p class="field-error" id="err-onset_date">([^<]+)</p>', r.text)
    assert found is not None and "2001-02-03 is before participant" in found.group(1)
    # a participant who has not consented
    r = post(web, "/participants/P004/adverse-events", csrf, **FORM)
    assert r.status_code == 409 and "has not consented" in r.text
    # a follow-up of an event of another participant is not found
    assert post(web, "/participants/P002/adverse-events/1/follow-up", csrf, **FORM).status_code == (
        404
    )
    assert _rows(db, count)[0][0] == before


def test_safety_forms_need_the_csrf_token(db: Path) -> None:
    web = app_client(db)
    sign_in(web, "enroller")
    assert web.post("/participants/P001/adverse-events", data=FORM).status_code == 403
    follow = web.post("/participants/P001/adverse-events/1/follow-up", data=FORM)
    assert follow.status_code == 403
    assert web.post("/participants/P001/clinician", data={"clinician": "x"}).status_code == 403
    doc = app_client(db)
    sign_in(doc, "clinician")
    r = doc.post("/participants/P001/unblind", data={"reason": "x", "confirmed": "yes"})
    assert r.status_code == 403
    assert _rows(db, "SELECT COUNT(*) FROM unblinding")[0][0] == 0
    assert _rows(db, "SELECT COUNT(*) FROM adverse_event")[0][0] == 1


# ----------------------------------------------------------------------------- emergency unblinding
def test_emergency_unblinding_needs_a_reason_and_a_confirmation(db: Path) -> None:
    clients = signed_in(db)
    for role, (web, _) in clients.items():
        page = web.get("/participants/P001").text
        linked = 'href="/participants/P001/unblind"' in page
        assert linked == (role in _allowed(Operation.emergency_unblind)), role
    web, csrf = clients["clinician"]
    form = web.get("/participants/P001/unblind").text
    assert "data-confirm" in form and 'name="confirmed"' in form
    assert not arm_labels_in([form])
    r = post(web, "/participants/P001/unblind", csrf, reason="  ")
    assert r.status_code == 422
    assert 'id="err-unblind"' in r.text and 'id="err-confirmed"' in r.text
    assert not arm_labels_in([r.text])
    r = post(web, "/participants/P001/unblind", csrf, reason="anaphylaxis in clinic")
    assert r.status_code == 422 and _rows(db, "SELECT COUNT(*) FROM unblinding")[0][0] == 0
    r = post(
        web, "/participants/P001/unblind", csrf, reason="anaphylaxis in clinic", confirmed="yes"
    )
    assert r.status_code == 200
    shown = re.search(r'class="allocation">[^<]*<strong>([^<]+)</strong>', r.text)
    assert shown is not None and shown.group(1) in ARMS
    ((reason, user),) = _rows(
        db,
        "SELECT u.reason, a.name FROM unblinding u JOIN app_user a ON a.id = u.user_id",
    )
    assert (reason, user) == ("anaphylaxis in clinic", "clinician")
    ((new, why),) = _rows(
        db, "SELECT new_value, reason FROM audit_event WHERE action = 'emergency unblind'"
    )
    assert json.loads(new)["arm"] == shown.group(1) and why == "anaphylaxis in clinic"
    # a participant who was never randomised cannot be unblinded
    r = post(web, "/participants/P002/unblind", csrf, reason="emergency", confirmed="yes")
    assert r.status_code == 409 and not arm_labels_in([r.text])


# ----------------------------------------------------------------------------- clinician
def test_assigning_the_treating_clinician(db: Path) -> None:
    ops.Client(db, user="admin").run(ops.add_user, "doc2", role="clinician", password=None)
    clients = signed_in(db)
    for role, (web, _) in clients.items():
        page = web.get("/participants/P002").text
        linked = 'href="/participants/P002/clinician"' in page
        assert linked == (role in _allowed(Operation.assign_clinician)), role
    web, csrf = clients["enroller"]
    page = web.get("/participants/P002/clinician").text
    assert "none assigned" in page
    assert re.findall(r'<option value="([^"]*)"', page) == ["", "clinician", "doc2"]
    r = post(web, "/participants/P002/clinician", csrf, clinician="assessor")
    assert r.status_code == 422 and "is not a clinician" in r.text
    r = post(web, "/participants/P002/clinician", csrf, clinician="doc2")
    assert r.status_code == 303 and r.headers["location"] == "/participants/P002?done=clinician"
    assert "The treating clinician is recorded." in web.get(r.headers["location"]).text
    assert _rows(
        db,
        "SELECT u.name FROM participant p JOIN app_user u ON u.id = p.clinician_id "
        "WHERE p.code = 'P002'",
    ) == [("doc2",)]
    assert "doc2</dd>" in web.get("/participants/P002/clinician").text


# ----------------------------------------------------------------------------- one-time passwords
def test_a_one_time_password_must_be_changed_before_anything_else(db: Path) -> None:
    ops.Client(db, user="admin").run(
        ops.add_user, "nurse", role="assessor", password="set by the admin 1"
    )
    app = create_app(db)
    web = TestClient(app, base_url="https://testserver", follow_redirects=False)
    r = web.post("/login", data={"username": "nurse", "password": "set by the admin 1"})
    assert r.status_code == 303
    for url in ("/", "/participants", "/participants/P001", "/screen"):
        r = web.get(url)
        assert (r.status_code, r.headers.get("location")) == (303, "/password"), url
    assert web.get("/static/app.css").status_code == 200
    api = web.get("/api/v1/participants")
    assert api.status_code == 403 and "must be changed first" in api.json()["detail"]
    token = web.post(
        "/api/v1/auth/token", data={"username": "nurse", "password": "set by the admin 1"}
    )
    assert token.status_code == 403
    assert "set by an administrator and must be changed" in token.json()["detail"]
    page = web.get("/password")
    assert page.status_code == 200 and "Choose your own password" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    same = {"old": "set by the admin 1", "new": "set by the admin 1", "again": "set by the admin 1"}
    r = web.post("/password", data={**same, "csrf_token": csrf.group(1)})
    assert r.status_code == 200 and "must differ" in r.text
    assert web.get("/").status_code == 303
    new = {
        "old": "set by the admin 1",
        "new": "the nurse's own pass",
        "again": "the nurse's own pass",
    }
    r = web.post("/password", data={**new, "csrf_token": csrf.group(1)})
    assert (r.status_code, r.headers["location"]) == (303, "/")
    assert web.get("/").status_code == 200
    assert web.get("/participants/P001").status_code == 200
    token = web.post(
        "/api/v1/auth/token", data={"username": "nurse", "password": "the nurse's own pass"}
    )
    assert token.status_code == 200
    # an admin reset makes it one-time again, for the live session and tokens too
    ops.Client(db, user="admin").run(ops.set_password, "nurse", "reset by the admin")
    assert web.get("/").headers.get("location") == "/password"
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert web.get("/api/v1/participants", headers=bearer).status_code == 403


def test_signing_out_works_with_a_one_time_password(db: Path) -> None:
    ops.Client(db, user="admin").run(ops.add_user, "temp", role="monitor", password=PASSWORD)
    web = app_client(db)
    assert web.post("/login", data={"username": "temp", "password": PASSWORD}).status_code == 303
    page = web.get("/password").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    r = web.post("/logout", data={"csrf_token": csrf.group(1)})
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    assert web.get("/password").headers.get("location") == "/login"


def test_the_demo_accounts_have_one_time_passwords(tmp_path: Path) -> None:
    from resolve.cli.serve import DEMO_ROLES, make_demo_trial

    db, key_file, passwords = make_demo_trial(tmp_path, participants=2)
    assert set(passwords) == set(DEMO_ROLES)
    flags = dict(_rows(db, "SELECT name, must_change_password FROM app_user"))
    assert flags == dict.fromkeys(DEMO_ROLES, 1)
    web = TestClient(create_app(db, key_file=key_file), base_url="https://testserver")
    r = web.post(
        "/login", data={"username": "enroller", "password": passwords["enroller"]}
    )  # follows the redirects: sign-in lands on the password page
    assert r.status_code == 200 and r.url.path == "/password"
