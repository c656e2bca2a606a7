"""The JSON API: screen, consent, record, schedule, logout, and the fixed interface around them."""

from __future__ import annotations

from typing import Any

import pytest

from resolve import ops
from tests.web.conftest import WebTrial

SCREEN = {"age": 40, "duration_weeks": 30, "pain": 6}


def screen(web: WebTrial, pid: str, role: str = "enroller", **over: Any) -> Any:
    body = {"participant_id": pid, **SCREEN, "identity": f"1980-01-01 {pid}", **over}
    return web.api(role).post("/api/v1/participants", json=body)


def test_the_whole_path_screen_consent_record_randomise_schedule(web: WebTrial) -> None:
    e = web.api("enroller")
    r = screen(web, "A1")
    assert r.status_code == 200
    assert r.json() == {
        "participant_id": "A1",
        "status": "eligible",
        "eligible": True,
        "reasons": [],
    }
    r = e.post("/api/v1/participants/A1/consent", json={"version": "1.0"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "consented" and body["consent_version"] == "1.0"
    assert "arm" not in body
    r = e.post(
        "/api/v1/participants/A1/responses",
        json={"visit": "baseline", "instrument": "nrs", "items": {"1": 7}},
    )
    assert r.status_code == 201
    rec = r.json()
    assert rec["scores"] == {"total": 7.0} and rec["n_missing"] == 0 and rec["prorated"] is False
    assert rec["categories"]["severity"]
    r = e.get("/api/v1/participants/A1/schedule")
    assert r.status_code == 409  # no calendar before randomisation
    r = e.post("/api/v1/participants/A1/randomise")
    assert r.status_code == 200 and r.json()["arm"] in ("sham", "resolve")  # the enroller's own
    r = web.api("clinician").get("/api/v1/participants/A1/schedule")
    assert r.status_code == 200
    rows = r.json()
    assert [x["visit"] for x in rows[:2]] == ["screening", "baseline"]
    assert rows[1]["status"] == "recorded"
    assert set(rows[0]) == {"visit", "target_date", "window_start", "window_end", "status"}
    # the stored response is the one the service layer reads back
    frame = web.ops("assessor").run(ops.responses)
    got = frame[(frame["participant_id"] == "A1") & (frame["instrument"] == "nrs")]
    assert got.iloc[0]["user"] == "enroller"


def test_screening_verdicts_and_refusals(web: WebTrial) -> None:
    r = screen(web, "A2", age=75)
    assert r.status_code == 200
    assert r.json()["eligible"] is False and r.json()["status"] == "ineligible"
    assert r.json()["reasons"]
    assert screen(web, "A3", identity="1980-01-01 A2").status_code == 409  # same person twice
    assert screen(web, "A4", pain=11).status_code == 422
    assert screen(web, "A4", colour="blue").status_code == 422  # unknown field
    assert screen(web, "bad id!").status_code == 422
    r = screen(web, "A4", exclusions=["no such exclusion"])
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    assert screen(web, "A4", role="assessor").status_code == 403
    r = web.anon().post("/api/v1/participants", json={"participant_id": "A4", **SCREEN})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_consent_refusals(web: WebTrial) -> None:
    e = web.api("enroller")
    assert e.post("/api/v1/participants/NOPE/consent", json={"version": "1.0"}).status_code == 404
    assert e.post("/api/v1/participants/D008/consent", json={"version": "9.9"}).status_code == 422
    assert e.post("/api/v1/participants/D008/consent", json={}).status_code == 422
    screen(web, "A5", age=75)
    assert e.post("/api/v1/participants/A5/consent", json={"version": "1.0"}).status_code == 409
    r = web.api("monitor").post("/api/v1/participants/D008/consent", json={"version": "1.0"})
    assert r.status_code == 403


def test_record_refusals(web: WebTrial) -> None:
    a = web.api("assessor")
    url = "/api/v1/participants/D002/responses"
    ok = {"visit": "week 12", "instrument": "nrs", "items": {"1": 2}}
    assert a.post(url, json=ok).status_code == 201
    assert a.post(url, json=ok).status_code == 409  # a change is a correction
    bad_code = {"visit": "week 12", "instrument": "gpe", "items": {"1": 9}}
    assert a.post(url, json=bad_code).status_code == 422
    not_here = {"visit": "week 18", "instrument": "tsk17", "items": {"1": 2}}
    assert a.post(url, json=not_here).status_code == 422
    assert a.post(url, json={"visit": "nope", "instrument": "nrs", "items": {}}).status_code == 422
    assert a.post("/api/v1/participants/NOPE/responses", json=ok).status_code == 404
    assert web.api("statistician").post(url, json=ok).status_code == 403


def test_schedule_refusals(web: WebTrial) -> None:
    assert web.api("monitor").get("/api/v1/participants/NOPE/schedule").status_code == 404
    assert web.api("monitor").get("/api/v1/participants/D007/schedule").status_code == 409
    assert web.anon().get("/api/v1/participants/D001/schedule").status_code == 401


@pytest.mark.parametrize("role", ["assessor", "monitor", "admin", "participant"])
def test_blinded_roles_get_no_arm_field(web: WebTrial, role: str) -> None:
    api = web.api(role)
    listing = api.get("/api/v1/participants")
    if role == "participant":  # the link account may see nothing at all
        assert listing.status_code == 403
        return
    assert listing.status_code == 200
    assert all("arm" not in row for row in listing.json())
    one = api.get("/api/v1/participants/D001").json()
    assert "arm" not in one
    text = listing.text.lower() + api.get("/api/v1/participants/D001/schedule").text.lower()
    assert "sham" not in text and "group a" not in text


def test_the_blinded_statistician_sees_masked_codes(web: WebTrial) -> None:
    rows = web.api("statistician").get("/api/v1/participants").json()
    shown = {row.get("arm") for row in rows if row["status"] == "randomised"}
    assert shown and shown <= {"group A", "group B"}


def test_logout_revokes_only_the_token_used(web: WebTrial) -> None:
    first = web.api("unblinded_statistician")
    second = web.client()
    second.headers["Authorization"] = (
        "Bearer "
        + web.anon()
        .post(
            "/api/v1/auth/token",
            data={
                "username": "unblinded_statistician",
                "password": web.passwords["unblinded_statistician"],
            },
        )
        .json()["access_token"]
    )
    assert first.post("/api/v1/auth/logout").status_code == 204
    assert first.get("/api/v1/participants").status_code == 401
    assert second.get("/api/v1/participants").status_code == 200
    assert web.anon().post("/api/v1/auth/logout").status_code == 401
    web.forget("unblinded_statistician")


def test_openapi_declares_models_and_errors_of_every_new_operation(web: WebTrial) -> None:
    spec = web.anon().get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    expected = {
        ("post", "/api/v1/participants"): {"200", "401", "403", "409", "422"},
        ("post", "/api/v1/participants/{participant_id}/consent"): {
            "200",
            "401",
            "403",
            "404",
            "409",
            "422",
        },
        ("post", "/api/v1/participants/{participant_id}/responses"): {
            "201",
            "401",
            "403",
            "404",
            "409",
            "422",
        },
        ("get", "/api/v1/participants/{participant_id}/schedule"): {
            "200",
            "401",
            "403",
            "404",
            "409",
            "422",
        },
        ("post", "/api/v1/auth/logout"): {"204", "401"},
    }
    for (method, path), codes in expected.items():
        op = paths[path][method]
        assert set(op["responses"]) == codes, (method, path)
        for code in codes - {"204"}:
            assert "application/json" in op["responses"][code].get("content", {}), (path, code)
    for path, ops_ in paths.items():
        assert path.startswith("/api/v1/"), path
        for method, op in ops_.items():
            assert op.get("summary") and op.get("tags"), (method, path)
    body = spec["components"]["schemas"]["ScreenIn"]
    assert body["additionalProperties"] is False
