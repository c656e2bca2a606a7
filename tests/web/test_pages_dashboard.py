"""The dashboard page (``GET /``) and its JSON twin (``GET /api/v1/dashboard``), per role.

On the demo trial of ``resolve serve --demo`` (:func:`resolve.cli.serve.make_demo_trial`):
D001-D006 randomised over the past months (:data:`~resolve.cli.serve.DEMO_DAYS_AGO`),
so that week 12 is overdue for D001 and D002, due for D003 and upcoming for D004,
and week 18 upcoming for D001; D007 and D008 screened, not consented.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from resolve.ops.permissions import arm_view
from tests.web._support_pages import arm_labels_in
from tests.web.conftest import STAFF_ROLES, WebTrial

ARMS = ("sham", "resolve")
SEES_ARMS = tuple(r for r in STAFF_ROLES if arm_view(r, trial_status="open") == "all")
BLINDED = tuple(r for r in STAFF_ROLES if r not in SEES_ARMS)
#: Roles without permission to view questionnaire responses: no follow-up counts.
NO_RESPONSES = ("admin", "clinician")


def test_the_split_of_roles() -> None:
    assert SEES_ARMS == ("unblinded_statistician",)
    assert set(BLINDED) == {
        "admin",
        "enroller",
        "clinician",
        "assessor",
        "statistician",
        "monitor",
    }


def _section(html: str, heading_id: str) -> str:
    """The HTML of the ``<section>`` labelled by ``heading_id``."""
    found = re.search(
        rf'<section class="card" aria-labelledby="{heading_id}">(.*?)</section>', html, re.S
    )
    assert found is not None, heading_id
    return found.group(1)


def _links(html: str) -> list[str]:
    return re.findall(r'<a href="/participants/([^"]+)">', html)


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_the_page_for_every_staff_role(web: WebTrial, role: str) -> None:
    r = web.page(role).get("/")
    assert r.status_code == 200, r.text[:300]
    html = r.text
    assert "<h1>Dashboard</h1>" in html
    recruitment = _section(html, "h-recruitment")
    assert "6 of 276 randomised (2.2%)" in recruitment
    assert re.search(r'<progress class="recruitment" max="276" value="6"', recruitment)
    assert '<svg viewBox="' in recruitment and '<title id="chart-title">' in recruitment
    consort = _section(html, "h-consort")
    assert re.search(r"Assessed for eligibility</th><td>8</td>", consort)
    assert re.search(
        r"Eligible, not consented \(declined or not yet asked\)</th><td>2</td>", consort
    )
    assert _links(_section(html, "h-overdue")) == ["D001", "D002"]
    assert _links(_section(html, "h-upcoming")) == ["D003", "D004", "D001"]
    # CSP: no inline style or script
    assert " style=" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)


@pytest.mark.parametrize("role", BLINDED)
def test_no_arm_on_the_page_of_a_role_that_does_not_see_every_arm(web: WebTrial, role: str) -> None:
    html = web.page(role).get("/").text
    assert arm_labels_in([html]) == set()
    assert not re.search(r"<th[^>]*>\s*(sham|resolve)\s*</th>", html)
    assert "no count by arm is shown to your role" in html


def test_arm_counts_on_the_unblinded_statisticians_page(web: WebTrial) -> None:
    html = web.page("unblinded_statistician").get("/").text
    consort = _section(html, "h-consort")
    for arm in ARMS:
        assert f'<th scope="row">{arm}</th>' in consort  # allocation table
        assert f'<th scope="row" class="label">{arm}</th>' in consort  # follow-up table
    table = re.search(r"<caption>Allocation</caption>(.*?)</table>", consort, re.S)
    assert table is not None
    rows = re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td>', table.group(1))
    allocated = {group: int(n) for group, n in rows}
    assert set(allocated) == {"All randomised", *ARMS}
    assert allocated["sham"] + allocated["resolve"] == allocated["All randomised"] == 6


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_follow_up_counts_only_for_roles_that_may_view_responses(web: WebTrial, role: str) -> None:
    consort = _section(web.page(role).get("/").text, "h-consort")
    hidden = "which your role does not see" in consort
    assert hidden == (role in NO_RESPONSES)
    assert ("Follow-up: primary outcome by visit" in consort) == (role not in NO_RESPONSES)


# ----------------------------------------------------------------------------- JSON
def _json(web: WebTrial, role: str) -> dict[str, Any]:
    r = web.api(role).get("/api/v1/dashboard")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_the_json_twin(web: WebTrial, role: str) -> None:
    data = _json(web, role)
    rec = data["recruitment"]
    assert (rec["screened"], rec["eligible"], rec["consented"], rec["randomised"]) == (8, 8, 6, 6)
    assert rec["target"] == 276 and rec["percent"] == 2.2
    assert sum(m["randomised"] for m in rec["months"]) == 6
    overdue = [(v["participant"], v["visit"]) for v in data["overdue"]]
    assert overdue == [("D001", "week 12"), ("D002", "week 12")]
    # days since randomisation (110 and 100 in the demo) minus 98 (end of the week 12 window)
    randomised = {
        p["participant_id"]: date.fromisoformat(p["randomised_at"][:10])
        for p in web.api(role).get("/api/v1/participants").json()
        if p.get("randomised_at")
    }
    today = date.fromisoformat(data["today"])
    since = {pid: (today - day).days for pid, day in randomised.items()}
    assert [v["days_overdue"] for v in data["overdue"]] == [since["D001"] - 98, since["D002"] - 98]
    upcoming = [(v["participant"], v["visit"], v["status"]) for v in data["upcoming"]]
    assert upcoming == [
        ("D003", "week 12", "due"),
        ("D004", "week 12", "upcoming"),
        ("D001", "week 18", "upcoming"),
    ]
    assert [v.get("days_to_close", v.get("days_to_open")) for v in data["upcoming"]] == [
        98 - since["D003"],  # the week 12 window closes on day 98
        77 - since["D004"],  # ... and opens on day 77
        119 - since["D001"],  # the week 18 window opens on day 119
    ]
    # the page lists the same visits
    html = web.page(role).get("/").text
    assert _links(_section(html, "h-overdue")) == [p for p, _ in overdue]
    enrolment = {(f["measure"], f["reason"]): f["n"] for f in data["consort"]["enrolment"]}
    assert enrolment[("assessed for eligibility", "")] == 8
    assert enrolment[("randomised", "")] == 6
    assert data["consort"]["follow_up"] == (role not in NO_RESPONSES)


@pytest.mark.parametrize("role", BLINDED)
def test_no_arm_in_the_json_of_a_blinded_role(web: WebTrial, role: str) -> None:
    data = _json(web, role)
    assert "by_arm" not in data["consort"]
    text = repr(data)
    assert not any(arm in text for arm in ARMS)
    assert "'arm'" not in text


def test_arm_counts_in_the_json_of_the_unblinded_statistician(web: WebTrial) -> None:
    consort = _json(web, "unblinded_statistician")["consort"]
    by_arm = consort["by_arm"]
    assert [a["arm"] for a in by_arm] == list(ARMS)
    pooled = {(f["stage"], f["visit"], f["measure"]): f["n"] for f in consort["pooled"]}
    for key, n in pooled.items():
        per_arm = [
            next(f["n"] for f in a["counts"] if (f["stage"], f["visit"], f["measure"]) == key)
            for a in by_arm
        ]
        assert sum(per_arm) == n, key


def test_refusals(web: WebTrial) -> None:
    assert web.anon().get("/api/v1/dashboard").status_code == 401
    page = web.anon().get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    # the system account of participant links is not staff
    assert web.api("participant").get("/api/v1/dashboard").status_code == 403
    assert web.page("participant").get("/").status_code == 403


def test_openapi_describes_the_dashboard(web: WebTrial) -> None:
    spec = web.anon().get("/api/v1/openapi.json").json()
    get = spec["paths"]["/api/v1/dashboard"]["get"]
    ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(schema["required"]) == {"today", "recruitment", "consort", "overdue", "upcoming"}
    consort = spec["components"]["schemas"]["ConsortOut"]
    assert "by_arm" not in consort.get("required", [])
