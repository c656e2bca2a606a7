"""Staff pages about participants: screening, e-consent, randomisation, participant page."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from resolve import ops
from resolve.errors import DataValidationError
from resolve.ops import econsent
from resolve.ops.permissions import MATRIX, Operation
from tests.web._support_pages import (
    ARMS,
    MASKED,
    app_client,
    arm_labels_in,
    build_trial,
    copy_trial,
    post,
    sign_in,
    signed_in,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_trial(tmp_path_factory.mktemp("pages_participants"))


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    return copy_trial(template, tmp_path)


@pytest.fixture
def web(db: Path) -> TestClient:
    return app_client(db)


def _rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute(sql, args).fetchall())
    finally:
        con.close()


def _allowed(op: Operation) -> set[str]:
    return {r.value for r in MATRIX[op]}


# ----------------------------------------------------------------------------- who may open what
PAGES = [
    ("/screen", Operation.screen),
    ("/participants/P004/consent", Operation.consent),
    ("/participants/P002/randomise", Operation.randomise),
    ("/participants/P001", None),
    ("/participants/P001/consent/1", Operation.view_participants),
]


def test_pages_render_for_allowed_roles_and_refuse_the_others(db: Path) -> None:
    ops.Client(db, user="enroller").run(
        econsent.consent_with_record,
        "P001",
        version="1.0",
        typed_name="Sam Person",
        document_html="<article><p>agreed</p></article>",
    )
    clients = signed_in(db)
    for url, op in PAGES:
        anonymous = app_client(db).get(url)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
        for role, (web, _) in clients.items():
            r = web.get(url)
            if op is None or role in _allowed(op):
                assert r.status_code == 200, (role, url, r.text[:300])
            else:
                assert r.status_code == 403, (role, url)


def test_state_changing_forms_need_the_csrf_token(web: TestClient) -> None:
    sign_in(web, "enroller")
    form = {"participant": "P050", "age": "40", "duration_weeks": "20", "pain": "5"}
    r = web.post("/screen", data={**form, "identity": "1990-01-01 AB"})
    assert r.status_code == 403
    r = web.post("/screen", data={**form, "identity": "1990-01-01 AB", "csrf_token": "forged"})
    assert r.status_code == 403
    r = web.post("/participants/P004/consent", data={"version": "1.0", "typed_name": "X"})
    assert r.status_code == 403
    assert web.post("/participants/P002/randomise", data={}).status_code == 403
    assert web.post("/participants/P002/withdraw", data={"reason": "moved"}).status_code == 403


# ----------------------------------------------------------------------------- screening
def test_screening_shows_each_criterion_with_its_verdict(web: TestClient) -> None:
    csrf = sign_in(web, "enroller")
    r = post(
        web,
        "/screen",
        csrf,
        participant="P010",
        age="75",
        duration_weeks="20",
        pain="2",
        identity="1950-05-05 OP",
        exclusions="pregnancy",
    )
    assert r.status_code == 200
    page = r.text
    assert "Not eligible" in page
    verdicts = re.findall(r'<li class="(pass|fail)">', page)
    # age, duration, pain and the six exclusions of the protocol, one verdict each
    assert len(verdicts) == 9
    assert verdicts.count("fail") == 3  # age 75 > 70, pain 2 < 3, pregnancy applies
    assert "75 years; allowed 18 to 70." in page
    assert "2 of 10; at least 3 needed." in page
    assert "Exclusion: Pregnancy</strong>: This exclusion applies." in page
    # eligible: every criterion met, and a way on to consent
    r = post(
        web,
        "/screen",
        csrf,
        participant="P011",
        age="40",
        duration_weeks="13.5",
        pain="5",
        identity="1985-05-05 QR",
    )
    assert r.status_code == 200
    assert "Eligible: every criterion is met." in r.text
    assert re.findall(r'<li class="(pass|fail)">', r.text) == ["pass"] * 9
    assert 'href="/participants/P011/consent"' in r.text


def test_screening_errors_sit_next_to_their_fields(web: TestClient, db: Path) -> None:
    csrf = sign_in(web, "enroller")
    r = post(
        web,
        "/screen",
        csrf,
        participant="P 12",
        age="forty",
        duration_weeks="-1",
        pain="11",
        identity="ab",
    )
    assert r.status_code == 422
    page = r.text
    for field in ("participant", "age", "duration_weeks", "pain", "identity"):
        assert f'id="err-{field}"' in page, field
        tag = re.search(rf'<input id="f-{field}"[^>]*>', page)
        assert tag is not None
        assert f"err-{field}" in tag.group(0) and 'aria-invalid="true"' in tag.group(0)
    assert 'role="alert"' in page
    assert _rows(db, "SELECT COUNT(*) FROM participant")[0][0] == 4  # nothing screened
    # an identity already used by another participant is refused, not silently re-used
    r = post(
        web,
        "/screen",
        csrf,
        participant="P013",
        age="40",
        duration_weeks="20",
        pain="5",
        identity="1980-01-01 T1",
    )
    assert r.status_code == 409 and "P001" in r.text


def test_a_site_bound_enroller_screens_at_their_own_site(web: TestClient, db: Path) -> None:
    csrf = sign_in(web, "enroller_sydney")
    page = web.get("/screen").text
    select = re.search(r'<select id="f-factor_site"[^>]*>.*?</select>', page, re.DOTALL)
    assert select is not None and "disabled" in select.group(0) and "sydney" in select.group(0)
    r = post(
        web,
        "/screen",
        csrf,
        participant="P020",
        age="40",
        duration_weeks="20",
        pain="5",
        identity="1977-07-07 ST",
    )
    assert r.status_code == 200
    strata = _rows(db, "SELECT strata FROM participant WHERE code = 'P020'")[0][0]
    assert json.loads(str(strata)) == {"site": "sydney"}


# ----------------------------------------------------------------------------- the whole flow
def test_screen_consent_randomise_record_correct(web: TestClient, db: Path) -> None:
    csrf = sign_in(web, "enroller")
    r = post(
        web,
        "/screen",
        csrf,
        participant="P030",
        age="52",
        duration_weeks="30",
        pain="6",
        identity="1973-03-03 UV",
    )
    assert r.status_code == 200 and "Eligible" in r.text
    # consent: the form shows the document, then stores consent + e-consent together
    form = web.get("/participants/P030/consent")
    assert form.status_code == 200 and "consent form version 1.0" in form.text
    r = post(
        web,
        "/participants/P030/consent",
        csrf,
        version="1.0",
        typed_name="  Uma   Vance ",
        agreed="yes",
    )
    assert r.status_code == 303
    record_url = r.headers["location"].split("?")[0]
    rid = int(record_url.rsplit("/", 1)[1])
    ((name, version, html, digest, status),) = _rows(
        db,
        "SELECT c.typed_name, c.version, c.document_html, c.document_sha256, p.status "
        "FROM consent_record c JOIN participant p ON p.id = c.participant_id "
        "WHERE p.code = 'P030'",
    )
    assert (name, version, status) == ("Uma Vance", "1.0", "consented")
    assert hashlib.sha256(str(html).encode("utf-8")).hexdigest() == digest
    assert "P030" in str(html) and "1.0" in str(html) and "Uma Vance" in str(html)
    events = _rows(
        db,
        "SELECT new_value FROM audit_event WHERE entity = 'consent_record' AND entity_id = ?",
        f"P030/{rid}",
    )
    assert len(events) == 1 and json.loads(str(events[0][0]))["document_sha256"] == digest
    shown = web.get(record_url)
    assert shown.status_code == 200
    assert str(digest) in shown.text and "matches its recorded hash" in shown.text
    download = web.get(f"{record_url}/document")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == digest
    assert "attachment" in download.headers["content-disposition"]
    # randomise: a confirmation step first, then the arm for the enroller who allocated
    confirm = web.get("/participants/P030/randomise")
    assert confirm.status_code == 200 and "data-confirm" in confirm.text
    r = post(web, "/participants/P030/randomise", csrf)
    assert r.status_code == 200
    allocated = re.search(r'class="allocation">[^<]*<strong>([^<]+)</strong>', r.text)
    assert allocated is not None and allocated.group(1) in ARMS
    # baseline pain, scored on save
    r = post(web, "/participants/P030/record/baseline/nrs", csrf, item_1="7")
    assert r.status_code == 303
    saved = web.get(r.headers["location"])
    assert "Saved. The score is below." in saved.text
    assert re.search(r"<dt>total</dt><dd>7.0</dd>", saved.text)
    # a correction needs a reason and shows the stored value
    page = web.get("/participants/P030/record/baseline/nrs/correct")
    assert "Stored now: 7" in page.text
    r = post(web, "/participants/P030/record/baseline/nrs/correct", csrf, item_1="5", reason="")
    assert r.status_code == 422 and 'id="err-reason"' in r.text
    r = post(
        web,
        "/participants/P030/record/baseline/nrs/correct",
        csrf,
        item_1="5",
        reason="transcription error on the paper form",
    )
    assert r.status_code == 303
    assert re.search(r"<dt>total</dt><dd>5.0</dd>", web.get(r.headers["location"]).text)
    ((old, new, reason),) = _rows(
        db,
        "SELECT old_value, new_value, reason FROM audit_event "
        "WHERE entity = 'response' AND action = 'correct' AND entity_id = ?",
        "P030/baseline/nrs",
    )
    assert json.loads(str(old))["items"] == {"nrs_1": 7}
    assert json.loads(str(new))["items"] == {"nrs_1": 5}
    assert reason == "transcription error on the paper form"
    # the participant page lists it all
    page = web.get("/participants/P030").text
    assert "E-consent record, version 1.0" in page
    assert "Visit calendar" in page and "<caption>" in page
    assert re.search(r"Completed</span>\s*<a [^>]*>nrs</a>:\s*score 5.0", page)


def test_consent_form_errors_store_nothing(web: TestClient, db: Path) -> None:
    csrf = sign_in(web, "enroller")
    r = post(web, "/participants/P004/consent", csrf, version="9.9", typed_name="", agreed="")
    assert r.status_code == 422
    for field in ("version", "typed_name", "agreed"):
        assert f'id="err-{field}"' in r.text
    assert _rows(db, "SELECT COUNT(*) FROM consent_record")[0][0] == 0
    assert _rows(db, "SELECT status FROM participant WHERE code = 'P004'")[0][0] == "eligible"
    # an ineligible participant cannot consent: refused, nothing stored
    r = post(web, "/participants/P003/consent", csrf, version="1.0", typed_name="A B", agreed="yes")
    assert r.status_code == 409
    assert _rows(db, "SELECT COUNT(*) FROM consent_record")[0][0] == 0


def test_consent_and_its_record_are_one_transaction(db: Path) -> None:
    rc = ops.Client(db, user="enroller")
    with pytest.raises(DataValidationError):
        rc.run(
            econsent.consent_with_record,
            "P004",
            version="1.0",
            typed_name="Quinn Example",
            document_html="   ",
        )
    assert _rows(db, "SELECT status FROM participant WHERE code = 'P004'")[0][0] == "eligible"
    assert _rows(db, "SELECT COUNT(*) FROM consent_record")[0][0] == 0
    # a record without the matching consent is refused
    with pytest.raises(ops.TrialStateError):
        rc.run(
            econsent.record_econsent,
            "P004",
            version="1.0",
            typed_name="Quinn Example",
            document_html="<p>x</p>",
        )
    # the record is append-only
    rid = rc.run(
        econsent.consent_with_record,
        "P004",
        version="1.0",
        typed_name="Quinn Example",
        document_html="<p>x</p>",
    )
    con = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE consent_record SET typed_name = 'Y' WHERE id = ?", (rid,))
    finally:
        con.close()
    assert rc.run(econsent.consent_record, "P004", rid)["hash_ok"] is True


# ----------------------------------------------------------------------------- randomise
def test_randomise_refuses_a_participant_who_has_not_consented(web: TestClient, db: Path) -> None:
    csrf = sign_in(web, "enroller")
    page = web.get("/participants/P004/randomise")
    assert page.status_code == 200
    assert "cannot be randomised" in page.text and "<form" not in page.text.split("<main")[1]
    assert post(web, "/participants/P004/randomise", csrf).status_code == 409
    assert _rows(db, "SELECT COUNT(*) FROM allocation")[0][0] == 1


def test_the_arm_is_never_rendered_for_an_arm_view_of_none(
    web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resolve.web import pages_enrol

    monkeypatch.setattr(pages_enrol, "arm_view_of", lambda runner: "none")
    csrf = sign_in(web, "enroller")
    r = post(web, "/participants/P002/randomise", csrf)
    assert r.status_code == 200
    assert "Your role does not see allocations." in r.text
    assert not arm_labels_in([r.text])


# ----------------------------------------------------------------------------- participant page
def test_participant_page_shows_arms_only_where_the_role_may_see_them(db: Path) -> None:
    seen: dict[str, set[str]] = {}
    for role, (web, _) in signed_in(db).items():
        pages = [web.get(f"/participants/P00{i}").text for i in range(1, 5)]
        seen[role] = arm_labels_in(pages)
    for blind in ("assessor", "monitor", "admin"):
        assert seen[blind] == set(), blind
    assert len(seen["enroller"] & set(ARMS)) == 1  # the arm they allocated
    assert len(seen["clinician"] & set(ARMS)) == 1  # assigned to P001
    assert seen["statistician"] <= set(MASKED) and seen["statistician"]
    assert len(seen["unblinded_statistician"] & set(ARMS)) == 1


def test_unknown_participant_is_404(web: TestClient) -> None:
    sign_in(web, "assessor")
    assert web.get("/participants/P999").status_code == 404


def test_actions_follow_the_role_and_need_a_reason(db: Path) -> None:
    expected = {
        "enroller": {"withdraw", "lost", "randomised-in-error"},
        "clinician": {"withdraw"},
        "assessor": {"lost"},
        "unblinded_statistician": {"randomised-in-error"},
        "monitor": set(),
        "admin": set(),
        "statistician": set(),
    }
    clients = signed_in(db, expected)
    for role, actions in expected.items():
        page = clients[role][0].get("/participants/P001").text
        found = set(re.findall(r'action="/participants/P001/([a-z-]+)"', page))
        assert found == actions, role
    web, csrf = clients["assessor"]
    r = post(web, "/participants/P001/lost", csrf, reason="  ")
    assert r.status_code == 422 and 'id="err-lost"' in r.text
    assert post(web, "/participants/P001/withdraw", csrf, reason="x").status_code == 403
    r = post(web, "/participants/P001/lost", csrf, reason="moved abroad, no contact")
    assert r.status_code == 303
    page = web.get(r.headers["location"]).text
    assert "marked lost to follow-up" in page and "moved abroad, no contact" in page
    assert _rows(db, "SELECT status FROM participant WHERE code = 'P001'")[0][0] == "lost"


def test_questionnaires_per_visit_completed_and_due(web: TestClient, db: Path) -> None:
    sign_in(web, "assessor")
    page = web.get("/participants/P002").text
    baseline = page.split("<h3>baseline</h3>", 1)[1].split("</ul>", 1)[0]
    assert re.search(r"Completed</span>\s*<a [^>]*>nrs</a>:\s*score 6.0", baseline)
    assert 'href="/participants/P002/record/baseline/rmdq24"' in baseline
    assert baseline.count("Not completed") == 7
    assert "<h3>week 18</h3>" in page
    # a role that may not see answers is told so, not shown scores
    web2 = app_client(db)
    sign_in(web2, "clinician")
    page = web2.get("/participants/P002").text
    assert "does not see questionnaire answers" in page and "score 6.0" not in page


def test_blinded_roles_see_no_arm_on_any_staff_page(db: Path) -> None:
    """Assessor, monitor and admin: every participant, consent, questionnaire page and the
    participants JSON carry no arm name, no masked code and no arm field."""
    from resolve.trial import load_protocol

    rid = ops.Client(db, user="enroller").run(
        econsent.consent_with_record,
        "P001",
        version="1.0",
        typed_name="Sam Person",
        document_html="<article><p>agreed</p></article>",
    )
    urls = [f"/participants/P00{i}" for i in range(1, 5)]
    urls += [f"/participants/P001/consent/{rid}"]
    for visit in load_protocol().visits:
        urls += [f"/participants/P001/record/{visit.name}/{name}" for name in visit.instruments]
    for role, (web, _) in signed_in(db, ["assessor", "monitor", "admin"]).items():
        pages = []
        for url in urls:
            r = web.get(url)
            if r.status_code == 200:
                pages.append(r.text)
            else:
                assert r.status_code == 403 and role != "assessor", (role, url)
        assert len(pages) >= 5, role
        assert arm_labels_in(pages) == set(), role
        assert not any(re.search(r"<dt>Arm</dt>", page) for page in pages), role
        listing = web.get("/api/v1/participants")
        assert listing.status_code == 200
        assert all("arm" not in row for row in listing.json()), role


def test_the_archived_document_escapes_what_was_typed(web: TestClient, db: Path) -> None:
    csrf = sign_in(web, "enroller")
    r = post(
        web,
        "/participants/P004/consent",
        csrf,
        version="1.0",
        typed_name='Ann <script>alert("x")</script>',
        agreed="yes",
    )
    assert r.status_code == 303
    ((html,),) = _rows(db, "SELECT document_html FROM consent_record")
    assert "<script>" not in str(html) and "&lt;script&gt;" in str(html)
    assert "<script>alert" not in web.get(r.headers["location"]).text
