"""Staff pages about data: questionnaire entry and corrections, audit viewer, export, report."""

from __future__ import annotations

import io
import re
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from resolve import ops
from resolve.instruments import Instrument, MedicationInstrument, get
from resolve.ops.permissions import MATRIX, Operation
from resolve.trial import load_protocol
from tests.web._support_pages import (
    ARMS,
    MASKED,
    add_complete_participants,
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
    return build_trial(tmp_path_factory.mktemp("pages_data"))


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


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="field-error" id="err-([^"]+)">([^<]*)</p>', html))


PAGES = [
    ("/participants/P002/record/baseline/rmdq24", Operation.record),
    ("/participants/P002/record/baseline/nrs", Operation.record),
    ("/participants/P002/record/baseline/nrs/correct", Operation.correct),
    ("/audit", Operation.read_audit),
    ("/export", Operation.export),
    ("/report", Operation.export),
]


def test_pages_render_for_allowed_roles_and_refuse_the_others(db: Path) -> None:
    clients = signed_in(db)
    for url, op in PAGES:
        anonymous = app_client(db).get(url)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
        allowed = {r.value for r in MATRIX[op]}
        for role, (web, _) in clients.items():
            r = web.get(url)
            expected = 200 if role in allowed else 403
            assert r.status_code == expected, (role, url, r.text[:300])


# ----------------------------------------------------------------------------- questionnaires
def _visits_of_every_instrument() -> list[tuple[str, str]]:
    protocol = load_protocol()
    seen: dict[str, str] = {}
    for v in protocol.visits:
        for inst in v.instruments:
            seen.setdefault(inst, v.name)
    return [(visit, inst) for inst, visit in seen.items()]


def test_every_protocol_instrument_has_an_item_level_form(db: Path) -> None:
    ops.Client(db, user="enroller").run(ops.randomise, "P002")
    web, _ = signed_in(db, ["assessor"])["assessor"]
    pairs = _visits_of_every_instrument()
    assert {i for _, i in pairs} == set(load_protocol().instruments)
    for visit, name in pairs:
        r = web.get(f"/participants/P001/record/{visit}/{name}")
        if name == "nrs" and visit == "baseline":
            assert "<form" not in r.text.split("<main")[1]  # already recorded: the score
            r = web.get(f"/participants/P002/record/{visit}/{name}/correct")
        assert r.status_code == 200, (visit, name)
        inst = get(name)
        inputs = re.findall(r'<input id="f-item_(\d+)"[^>]*>', r.text)
        assert len(inputs) == inst.n_items, name
        for number in inputs:
            assert f'<label for="f-item_{number}">' in r.text
        if isinstance(inst, Instrument):
            for it in inst.items:
                tag = re.search(rf'<input id="f-item_{it.number}"[^>]*>', r.text)
                assert tag is not None
                assert f'min="{it.low}"' in tag.group(0) and f'max="{it.high}"' in tag.group(0)
                assert f'<span class="item-label">{it.label}</span>' in r.text.replace("&#39;", "'")
        else:
            assert isinstance(inst, MedicationInstrument)
            assert 'type="text"' in r.text


def test_item_level_errors_are_shown_next_to_each_item(web: TestClient, db: Path) -> None:
    csrf = sign_in(web, "assessor")
    r = post(
        web, "/participants/P002/record/baseline/rmdq24", csrf, item_1="2", item_5="x", item_7="1"
    )
    assert r.status_code == 422
    errors = _errors(r.text)
    assert set(errors) == {"item_1", "item_5"}
    assert "out of range 0 to 1" in errors["item_1"]
    assert "not an integer code" in errors["item_5"]
    for name in ("item_1", "item_5"):
        tag = re.search(rf'<input id="f-{name}"[^>]*>', r.text)
        assert tag is not None and f"err-{name}" in tag.group(0)
        assert 'aria-invalid="true"' in tag.group(0)
    assert 'value="x"' in r.text  # what was typed stays in the form
    n = _rows(db, "SELECT COUNT(*) FROM response WHERE instrument = 'rmdq24'")[0][0]
    assert n == 0
    # medication slots: an unknown name is refused next to its slot
    r = post(
        web,
        "/participants/P002/record/baseline/psychoactive_medication",
        csrf,
        item_1="pregabalin",
        item_2="no-such-drug",
    )
    assert r.status_code == 422 and set(_errors(r.text)) == {"item_2"}
    r = post(
        web, "/participants/P002/record/baseline/psychoactive_medication", csrf, item_1="pregabalin"
    )
    assert r.status_code == 303
    shown = web.get(r.headers["location"]).text
    assert re.search(r"<dt>psychoactive</dt><dd>yes</dd>", shown)


def test_saved_answers_show_the_score_and_cannot_be_saved_twice(web: TestClient) -> None:
    csrf = sign_in(web, "enroller")
    answers = {f"item_{k}": "1" if k <= 6 else "0" for k in range(1, 25)}
    r = post(web, "/participants/P002/record/baseline/rmdq24", csrf, **answers)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=saved")
    page = web.get(r.headers["location"]).text
    assert re.search(r"<dt>total</dt><dd>6.0</dd>", page)
    assert "Correct these answers" in page
    again = post(web, "/participants/P002/record/baseline/rmdq24", csrf, **answers)
    assert again.status_code == 409 and "already recorded" in again.text


def test_corrections_need_something_recorded_and_an_open_database(db: Path) -> None:
    web, csrf = signed_in(db, ["assessor"])["assessor"]
    assert web.get("/participants/P002/record/baseline/pcs/correct").status_code == 409
    assert web.get("/participants/P002/record/week 18/pcs").status_code == 404
    assert web.get("/participants/P002/record/nowhere/nrs").status_code == 404
    ops.Client(db, user="admin").run(ops.lock_database, reason="final analysis")
    page = web.get("/participants/P002/record/baseline/pcs")
    assert page.status_code == 200 and "The database is locked" in page.text
    r = post(web, "/participants/P002/record/baseline/pcs", csrf, item_1="1")
    assert r.status_code == 409
    stored = web.get("/participants/P002/record/baseline/nrs").text
    assert "Correct these answers" not in stored


def test_site_wording_is_shown_when_configured(
    web: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wording = tmp_path / "wording.csv"
    wording.write_text("instrument,item,text\nnrs,1,Site wording of the pain item\n")
    monkeypatch.setenv("RESOLVE_WORDING_FILE", str(wording))
    sign_in(web, "assessor")
    page = web.get("/participants/P002/record/week 12/nrs").text
    assert "Site wording of the pain item" in page
    monkeypatch.delenv("RESOLVE_WORDING_FILE")
    page = web.get("/participants/P002/record/week 12/nrs").text
    assert "Site wording of the pain item" not in page and "average pain intensity" in page


# ----------------------------------------------------------------------------- audit trail
def test_audit_viewer_newest_first_filtered_paginated_arms_hidden(db: Path) -> None:
    rc = ops.Client(db, user="enroller")
    for k in range(45):  # rescreening is allowed until consent: many events
        rc.run(
            ops.screen,
            "P004",
            age=34,
            duration_weeks=20 + k,
            pain=5,
            identity="1980-01-04 T4",
            factors={"site": "sydney"},
        )
    clients = signed_in(db, ["admin", "monitor"])
    web, _ = clients["admin"]
    first = web.get("/audit").text
    ids = [int(x) for x in re.findall(r'<tr><th scope="row">(\d+)</th>', first)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = web.get("/audit?page=2").text
    more = [int(x) for x in re.findall(r'<tr><th scope="row">(\d+)</th>', second)]
    assert more and max(more) < min(ids) and 'rel="prev"' in second
    only = web.get("/audit?participant=P001").text
    records = re.findall(r"<td>([a-z_]+) ([^<]*)</td><td>", only)
    assert records and all(eid == "P001" or eid.startswith("P001/") for _, eid in records)
    users = web.get("/audit?entity=app_user").text
    assert {e for e, _ in re.findall(r"<td>([a-z_]+) ([^<]*)</td><td>", users)} == {"app_user"}
    for role, (client, _) in clients.items():
        page = client.get("/audit?participant=P001").text
        assert "(hidden)" in page, role
        assert not arm_labels_in([page]), role
        assert not re.search(r"&#34;arm&#34;: &#34;(sham|resolve)&#34;", page), role


# ----------------------------------------------------------------------------- export
def _zip(response: object) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(response.content))  # type: ignore[attr-defined]


def test_export_downloads_a_zip_with_masked_arms_for_the_statistician(db: Path) -> None:
    clients = signed_in(db, ["statistician", "unblinded_statistician", "enroller", "assessor"])
    web, csrf = clients["statistician"]
    page = web.get("/export").text
    assert "Arms are masked" in page
    r = post(web, "/export", csrf)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    disposition = r.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="trial-export-\d{8}-\d{6}\.zip"', disposition)
    assert not any(a in disposition.lower() for a in (*ARMS, "group"))
    archive = _zip(r)
    names = sorted(n.split("/", 1)[1] for n in archive.namelist())
    assert "analysis.csv" in names and "consort.csv" in names and len(names) == 8
    for name in names:
        if not name.endswith(".csv"):
            continue
        frame = pd.read_csv(archive.open(f"trial-export/{name}"), dtype=str, keep_default_na=False)
        assert not set(ARMS) & set(frame.to_numpy().ravel()), name
        if "arm" in frame.columns and name == "analysis.csv":
            assert set(frame["arm"]) <= set(MASKED) and len(frame)
    exports = _rows(
        db,
        "SELECT user_name FROM audit_event WHERE entity = 'read' AND entity_id = 'export'",
    )
    assert exports == [("statistician",)]
    # the unblinded statistician's export carries the real arm names
    web, csrf = clients["unblinded_statistician"]
    assert "real arm names" in web.get("/export").text
    analysis = pd.read_csv(_zip(post(web, "/export", csrf)).open("trial-export/analysis.csv"))
    assert set(analysis["arm"]) <= set(ARMS)
    # other roles: refused, and nothing exported
    for role in ("enroller", "assessor"):
        client, token = clients[role]
        assert client.get("/export").status_code == 403
        assert post(client, "/export", token).status_code == 403
    assert post(clients["statistician"][0], "/export", "forged").status_code == 403
    assert len(_rows(db, "SELECT id FROM audit_event WHERE entity_id = 'export'")) == 2


# ----------------------------------------------------------------------------- report
def test_report_says_honestly_when_the_analysis_cannot_run(web: TestClient) -> None:
    sign_in(web, "statistician")
    page = web.get("/report").text
    assert "Arms are MASKED" in page
    assert "The analysis cannot run on the data so far" in page
    assert web.get("/report/html").status_code == 409


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pages_report")
    db = build_trial(folder)
    add_complete_participants(db, 20)
    return db


def test_report_masked_until_unblinding(analysed: Path, tmp_path: Path) -> None:
    db = copy_trial(analysed, tmp_path)
    clients = signed_in(db, ["statistician", "unblinded_statistician"])
    web, _ = clients["statistician"]
    page = web.get("/report").text
    assert "Arms are MASKED" in page and "cannot run" not in page
    assert "group A: mean (SD)" in page and "group B: mean (SD)" in page
    rows = re.findall(r'<tr><th scope="row">(pain|rmdq)</th><td>([^<]+)</td>', page)
    assert ("pain", "week 18") in rows
    assert not set(ARMS) & arm_labels_in([page])
    assert not re.search(r"\b(sham|resolve)\b", page.split("<main", 1)[1])
    html = web.get("/report/html")
    assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
    assert "group A" in html.text and "sham" not in html.text.lower()
    # the unblinded statistician sees real names now; the blinded one after lock + unblinding
    other = clients["unblinded_statistician"][0].get("/report").text
    assert "real names" in other and "sham: mean (SD)" in other
    admin = ops.Client(db, user="admin")
    admin.run(ops.lock_database, reason="all data in")
    assert "Arms are MASKED" in web.get("/report").text
    admin.run(ops.unblind_statistician, reason="analysis plan signed off")
    page = web.get("/report").text
    assert "real names" in page and "sham: mean (SD)" in page and "group A" not in page
