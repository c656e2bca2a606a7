"""The programme's remaining pages without a browser: two-point discrimination,
graphaesthesia, graded loading and movement-precision drills.

Same set-up as ``test_programme_pages.py`` (:func:`add_programme`: one participant
per arm, treated by the demo clinician; the active one has a programme link).
The participants are randomised today, so they are in week 1; tests that need a
later week move the programme's clock (:func:`in_week`).

Covered: each page per allowed role, blinded roles and the unblinded
statistician refused (403/404); CSRF on every staff form; validation errors that
name the field and the value; the records stored (a two-point staircase replayed
against the rule, a tolerance test and its quotas, a loading session with the
plan's decision, drills, a graphaesthesia block); links only where the week's
plan holds the component; the patient's pages name no arm.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from resolve import ops
from resolve.program.template import load_template
from resolve.program.twopoint import TpdTrial, staircase_threshold
from tests.web.conftest import WebTrial
from tests.web.test_programme_pages import BLINDED, Programme, add_programme

STAFF_GET = ("twopoint", "tasks/graphaesthesia", "loading", "drills")
STAFF_POST = ("twopoint", "loading", "drills")
LINK_PAGES = ("graphaesthesia", "loading", "drills")


@pytest.fixture(scope="module")
def prog(web: WebTrial) -> Programme:
    return add_programme(web.store, web.key_file, prefix="PMO")


@pytest.fixture
def in_week(web: WebTrial, prog: Programme, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move the programme's clock so that the participants are in ``week``."""
    from resolve.ops import programme, programme_store, programme_views

    start = date.fromisoformat(
        web.ops("clinician").run(ops.programme, prog.active).randomised_on[:10]
    )

    def move(week: int) -> None:
        day = start + timedelta(weeks=week - 1, days=1)
        monkeypatch.setattr(programme_store, "today", lambda: day)
        monkeypatch.setattr(programme_views, "today_date", lambda: day)
        monkeypatch.setattr(programme, "today", lambda: day, raising=False)

    return move


def _token(prog: Programme) -> str:
    return prog.link.rsplit("/", 1)[1]


# ----------------------------------------------------------------------------- access
def test_new_routes_have_rules(web: WebTrial) -> None:
    from tests.web.test_role_matrix import endpoints

    found, _ = endpoints(web.app)
    rules = {(e.method, e.path): e.rule for e in found}
    for page in STAFF_GET:
        r = rules[("GET", f"/programme/{{participant}}/{page}")]
        assert r is not None and r.operation == ops.Operation.deliver_programme, page
    for page in STAFF_POST:
        r = rules[("POST", f"/programme/{{participant}}/{page}")]
        assert r is not None and r.operation == ops.Operation.deliver_programme, page
    for page in LINK_PAGES:
        r = rules[("GET", f"/prog/{{token}}/{page}")]
        assert r is not None and r.access == "link", page


@pytest.mark.parametrize("role", [*BLINDED, "unblinded_statistician"])
def test_roles_that_do_not_deliver_are_refused(web: WebTrial, prog: Programme, role: str) -> None:
    c = web.page(role)
    for page in STAFF_GET:
        r = c.get(f"/programme/{prog.active}/{page}")
        assert r.status_code in (403, 404), (page, r.status_code)
        assert "sham" not in r.text.lower()
    for page in STAFF_POST:
        data = {"csrf_token": web.csrf(role), "action": "save", "site": "lumbar_left"}
        r = c.post(f"/programme/{prog.active}/{page}", data=data, follow_redirects=False)
        assert r.status_code in (403, 404), (page, r.status_code)
    # a staff session is no programme link
    for page in LINK_PAGES:
        assert c.get(f"/prog/{'x' * 43}/{page}").status_code == 404


def test_clinician_pages_render(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    html = {page: c.get(f"/programme/{prog.active}/{page}") for page in STAFF_GET}
    assert all(r.status_code == 200 for r in html.values()), {
        p: r.status_code for p, r in html.items()
    }
    assert "Set the calliper to" in html["twopoint"].text and "80 mm" in html["twopoint"].text
    assert 'class="task graph-task"' in html["tasks/graphaesthesia"].text
    assert 'data-mode="clinic"' in html["tasks/graphaesthesia"].text
    assert "No tolerance test yet." in html["loading"].text
    assert 'name="drill_id"' in html["drills"].text
    sham = {page: c.get(f"/programme/{prog.sham}/{page}") for page in STAFF_GET}
    for page, r in sham.items():
        assert r.status_code == 200, page
        assert "does not include this component" in r.text, page


def test_staff_forms_need_the_csrf_token(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    for page in STAFF_POST:
        r = c.post(
            f"/programme/{prog.active}/{page}",
            data={"action": "one", "site": "lumbar_left", "separation": "80"},
            follow_redirects=False,
        )
        assert r.status_code == 403, (page, r.status_code)
    view = web.ops("clinician").run(ops.programme, prog.active)
    assert not view.twopoint and not view.drills and not view.tolerance_tests


# ----------------------------------------------------------------------------- two-point
def _next_mm(html: str) -> str | None:
    found = re.search(r'name="separation" value="([^"]+)"', html)
    return found.group(1) if found else None


def _trials_field(html: str) -> str:
    found = re.search(r'name="trials" value="([^"]*)"', html)
    assert found
    return found.group(1)


def test_two_point_staircase_is_entered_step_by_step_and_stored(
    web: WebTrial, prog: Programme
) -> None:
    c = web.page("clinician")
    url = f"/programme/{prog.active}/twopoint"
    csrf = web.csrf("clinician")
    html = c.get(url + "?site=lumbar_right").text
    answers: list[tuple[float, str]] = []
    for _ in range(200):
        mm = _next_mm(html)
        if mm is None:
            break
        answer = "two" if float(mm) >= 42 else "one"  # a person whose threshold is ~42 mm
        data = {
            "csrf_token": csrf,
            "site": "lumbar_right",
            "trials": _trials_field(html),
            "separation": mm,
            "action": answer,
        }
        r = c.post(url, data=data)
        assert r.status_code == 200, r.text[:500]
        html = r.text
        answers.append((float(mm), answer))
    assert "The staircase has stopped at reversal 8" in html
    settings = load_template().twopoint
    expected = staircase_threshold(
        [TpdTrial(separation_mm=s, response=a) for s, a in answers],  # type: ignore[arg-type]
        settings=settings,
        site="lumbar_right",
    )
    assert expected.complete and expected.threshold_mm is not None
    assert f"Threshold: {expected.threshold_mm:.1f} mm." in html
    save = {"csrf_token": csrf, "site": "lumbar_right", "trials": _trials_field(html)}
    r = c.post(url, data={**save, "action": "save"}, follow_redirects=False)
    assert r.status_code == 303 and "done=twopoint" in r.headers["location"]
    view = web.ops("clinician").run(ops.programme, prog.active)
    run = view.twopoint[-1]
    assert run.site == "lumbar_right" and len(run.trials) == len(answers)
    assert run.result.threshold_mm == pytest.approx(expected.threshold_mm)
    assert run.result.norm is not None
    page = c.get(r.headers["location"]).text
    assert "The two-point run was saved." in page
    assert f"{expected.threshold_mm:.1f}" in page and "healthy reference of" in page


def test_two_point_refuses_bad_input_naming_field_and_value(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    url = f"/programme/{prog.active}/twopoint"
    base = {"csrf_token": web.csrf("clinician"), "site": "lumbar_left"}
    r = c.post(url, data={**base, "trials": "", "separation": "70", "action": "two"})
    assert r.status_code == 422
    assert "separation: the form showed 70 mm, but the staircase calls for 80 mm" in r.text
    r = c.post(url, data={**base, "trials": "80:maybe", "separation": "80", "action": "two"})
    assert r.status_code == 422 and "trials: trial 1 is &#39;80:maybe&#39;" in r.text
    r = c.post(url, data={**base, "trials": "75:two", "separation": "80", "action": "two"})
    assert r.status_code == 422 and "the staircase calls for 80 mm" in r.text
    r = c.post(url, data={**base, "site": "neck", "trials": "", "action": "two"})
    assert r.status_code == 422 and "site: &#39;neck&#39; is not a two-point site" in r.text
    # an answer moves the staircase; undo takes it back
    r = c.post(url, data={**base, "trials": "80:one", "separation": "85", "action": "two"})
    assert r.status_code == 200 and _trials_field(r.text) == "80:one,85:two"
    r = c.post(url, data={**base, "trials": "80:one,85:two", "action": "undo"})
    assert _trials_field(r.text) == "80:one" and _next_mm(r.text) == "85"
    before = len(web.ops("clinician").run(ops.programme, prog.active).twopoint)
    sham = c.post(
        f"/programme/{prog.sham}/twopoint", data={**base, "trials": "80:two", "action": "save"}
    )
    assert sham.status_code == 422 and "has no two-point" in sham.text
    assert len(web.ops("clinician").run(ops.programme, prog.active).twopoint) == before


# ----------------------------------------------------------------------------- graphaesthesia
def test_clinic_graphaesthesia_block_is_scored_and_stored(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    headers = {"X-CSRF-Token": web.csrf("clinician")}
    r = c.post(f"/programme/{prog.active}/blocks", json={"task": "graphaesthesia"}, headers=headers)
    assert r.status_code == 201, r.text
    block = r.json()
    assert block["mode"] == "clinic" and all(s["symbol"] for s in block["stimuli"])
    trials = [
        {
            "symbol": s["symbol"],
            "orientation": s["orientation"],
            "response": s["symbol"] if k else "?",
        }
        for k, s in enumerate(block["stimuli"])
    ]
    r = c.post(
        f"/programme/{prog.active}/blocks/submit",
        json={"block_id": block["block_id"], "trials": trials},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    n = len(trials)
    assert r.json()["score"]["n_correct"] == n - 1
    assert r.json()["score"]["accuracy"] == pytest.approx((n - 1) / n)
    view = web.ops("clinician").run(ops.programme, prog.active)
    stored = [b for b in view.blocks if b.block_id == block["block_id"]]
    assert stored and stored[0].task == "graphaesthesia" and stored[0].setting == "clinic"


def test_patient_graphaesthesia_page_runs_in_partner_mode(web: WebTrial, prog: Programme) -> None:
    anon = web.anon()
    r = anon.get(prog.link + "/graphaesthesia")
    assert r.status_code == 200
    assert 'data-mode="partner"' in r.text and "/api/v1/programme/links/" in r.text
    text = r.text.lower()
    assert "sham" not in text and "resolve" not in text and prog.active.lower() not in text
    assert anon.get(f"/prog/{'x' * 43}/graphaesthesia").status_code == 404


# ----------------------------------------------------------------------------- loading, drills
def test_tolerance_test_plans_quotas_and_sessions_follow_them(
    web: WebTrial, prog: Programme
) -> None:
    c = web.page("clinician")
    url = f"/programme/{prog.active}/loading"
    csrf = web.csrf("clinician")
    tol = {"csrf_token": csrf, "action": "tolerance", "exercise": "sit-to-stand"}
    r = c.post(url, data={**tol, "trial1": "10", "trial2": "-1", "trial3": "11"})
    assert r.status_code == 422 and "trial2: &#39;-1&#39; is not a number from 0" in r.text
    r = c.post(
        url, data={**tol, "exercise": "juggling", "trial1": "1", "trial2": "1", "trial3": "1"}
    )
    assert r.status_code == 422 and "unknown loading exercise &#39;juggling&#39;" in r.text
    r = c.post(
        url, data={**tol, "trial1": "10", "trial2": "12", "trial3": "11"}, follow_redirects=False
    )
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert "The tolerance test was saved" in page and "9 reps" in page  # 80% of 11
    assert "<td>10, 11, 12, 13, 14</td>" in page  # + 10% of 11 per session, rounded
    log = {"csrf_token": csrf, "action": "log", "exercise": "sit-to-stand"}
    r = c.post(url, data={**log, "achieved": "lots"})
    assert r.status_code == 422 and "achieved: &#39;lots&#39; is not a number" in r.text
    r = c.post(url, data={**log, "achieved": "9", "sets": "1", "pain": "6"}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert "Quota done: next session takes the next planned quota." in page
    assert "Next quota: 10 reps." in page
    view = web.ops("clinician").run(ops.programme, prog.active)
    assert view.tolerance_tests[-1].tolerance == 11
    assert view.loading_plans[-1].quotas[:3] == [9, 10, 11]
    assert (view.loading[-1].quota, view.loading[-1].achieved, view.loading[-1].pain) == (9, 9, 6)
    assert view.loading[-1].setting == "clinic"


def test_clinic_drill_is_logged(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    url = f"/programme/{prog.active}/drills"
    base = {"csrf_token": web.csrf("clinician"), "drill_id": "hip-hinge", "feedback": "mirror"}
    r = c.post(url, data={**base, "sets": "2", "reps": "1.5"})
    assert r.status_code == 422 and "reps: &#39;1.5&#39; is not a whole number" in r.text
    r = c.post(url, data={**base, "sets": "2", "reps": "8", "feedback": "telepathy"})
    assert r.status_code == 422 and "feedback: &#39;telepathy&#39;" in r.text
    r = c.post(url, data={**base, "drill_id": "cartwheel", "sets": "2", "reps": "8"})
    assert r.status_code == 422 and "unknown drill &#39;cartwheel&#39;" in r.text
    r = c.post(url, data={**base, "sets": "2", "reps": "8", "quality": "6"}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert "The drill was saved." in page and "<td>16</td>" in page
    drill = web.ops("clinician").run(ops.programme, prog.active).drills[-1]
    assert (drill.drill_id, drill.sets, drill.reps, drill.quality) == ("hip-hinge", 2, 8, 6)
    assert (drill.feedback, drill.setting) == ("mirror", "clinic")


# ----------------------------------------------------------------------------- links by week
def test_links_appear_only_in_weeks_whose_plan_has_the_component(
    web: WebTrial, prog: Programme, in_week: Any
) -> None:
    c, anon = web.page("clinician"), web.anon()
    overview = c.get(f"/programme/{prog.active}").text
    today = anon.get(prog.link).text
    assert f"/programme/{prog.active}/twopoint" in overview  # week 1: two-point baseline
    assert f"/programme/{prog.active}/loading" not in overview
    assert "/loading" not in today and "/drills" not in today and "/graphaesthesia" not in today
    assert anon.get(prog.link + "/loading").status_code == 404
    assert anon.get(prog.link + "/drills").status_code == 404
    in_week(2)
    assert f"{prog.link}/graphaesthesia" in anon.get(prog.link).text
    assert (
        f"/programme/{prog.active}/tasks/graphaesthesia" in c.get(f"/programme/{prog.active}").text
    )
    in_week(9)
    overview = c.get(f"/programme/{prog.active}").text
    today = anon.get(prog.link).text
    assert f"/programme/{prog.active}/loading" in overview
    assert f"/programme/{prog.active}/twopoint" not in overview
    assert f"{prog.link}/loading" in today and f"{prog.link}/drills" in today
    assert "/graphaesthesia" not in today
    drills = c.get(f"/programme/{prog.active}/drills").text  # week 9: week 8's drills
    labels = {d.id: d.label for d in load_template().drills}
    assert f"This week&#39;s drills: {labels['hip-hinge']}, " in drills
    sham = c.get(f"/programme/{prog.sham}").text
    assert f"/programme/{prog.sham}/loading" not in sham


@pytest.fixture
def week9(in_week: Any) -> Iterator[None]:
    in_week(9)
    yield


def test_patient_logs_loading_against_the_quota_and_drills(
    web: WebTrial, prog: Programme, week9: None
) -> None:
    clinician = web.ops("clinician")
    clinician.run(ops.record_tolerance_test, prog.active, "floor-lift", [10, 10, 10])
    anon = web.anon()
    page = anon.get(prog.link + "/loading")
    assert page.status_code == 200
    text = page.text
    assert "Today&#39;s amount:" in text and "8 kg" in text  # 80% of 10 kg
    assert "Your physiotherapist sets this up with you first." in text  # walk: no test yet
    low = text.lower()
    assert "sham" not in low and "resolve" not in low and prog.active.lower() not in low
    r = anon.post(prog.link + "/loading", data={"exercise": "floor-lift", "achieved": "x"})
    assert r.status_code == 422 and "achieved: &#39;x&#39; is not a number" in r.text
    r = anon.post(
        prog.link + "/loading",
        data={"exercise": "floor-lift", "achieved": "6", "pain": "3"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    after = anon.get(r.headers["location"]).text
    assert "Quota not done: the next session repeats it" in after and "8 kg" in after
    log = clinician.run(ops.programme, prog.active).loading[-1]
    assert (log.exercise, log.quota, log.achieved, log.setting) == ("floor-lift", 8, 6, "home")
    drills = anon.get(prog.link + "/drills")
    labels = {d.id: d.label for d in load_template().drills}
    assert drills.status_code == 200
    assert labels["hip-hinge"] in drills.text and labels["pelvic-tilt"] not in drills.text
    r = anon.post(
        prog.link + "/drills",
        data={"drill_id": "hip-hinge", "sets": "3", "reps": "abc", "feedback": "none"},
    )
    assert r.status_code == 422 and "reps: &#39;abc&#39;" in r.text
    r = anon.post(
        prog.link + "/drills",
        data={"drill_id": "hip-hinge", "sets": "3", "reps": "10", "feedback": "touch"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    drill = clinician.run(ops.programme, prog.active).drills[-1]
    assert (drill.sets, drill.reps, drill.feedback, drill.setting) == (3, 10, "touch", "home")
    assert drill.quality is None
