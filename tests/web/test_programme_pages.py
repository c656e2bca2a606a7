"""The programme's staff pages, patient link pages and JSON API, without a browser.

A copy of the demo trial (:func:`tests.web.conftest.web`) gets two more
participants, randomised until one is in each arm, both treated by the demo
``clinician`` (:func:`add_programme`); the active one has a programme link.
The real-browser tests (``test_browser_programme.py``) use the same set-up.

Covered here: blinded roles are refused every programme page and API route
(403, or 404 for a link they do not hold); the clinician's overview shows the
plan, levels, adherence, figures and session log; the session form stores the
fidelity checklist, refuses bad input with messages next to the fields and
needs a reason to correct a week; overrides; the programme link (shown once,
revocable); the task JSON (CSRF, validation, a submission that does not match
the block); the patient's pages (quiz, imagery, home practice, progress) say
"your programme" and never name an arm; every programme template is free of
inline script and style (the CSP forbids them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from resolve import ops
from tests.web.conftest import WebTrial

#: Roles that must never reach programme data (it reveals the arm).
BLINDED = ("assessor", "statistician", "monitor", "admin", "enroller")
TEMPLATES = Path(__file__).parents[2] / "src" / "resolve" / "web" / "templates"


@dataclass(frozen=True)
class Programme:
    """Participants of each arm treated by the demo clinician; the active one's link."""

    active: str
    sham: str
    link: str  # "/prog/<token>"


def add_programme(db: Path | Any, key_file: Path, *, prefix: str = "PRG") -> Programme:
    """Randomise new participants until both arms have one; the clinician treats both."""
    enroller = ops.Client(db, user="enroller", key_file=key_file)
    admin = ops.Client(db, user="admin", key_file=key_file)
    arms: dict[str, str] = {}
    for i in range(1, 30):
        pid = f"{prefix}{i:02d}"
        enroller.run(
            ops.screen, pid, age=45, duration_weeks=30, pain=6, identity=f"{prefix} person {i}"
        )
        enroller.run(ops.consent, pid, version="1.0")
        arms[pid] = enroller.run(ops.randomise, pid)
        if len(set(arms.values())) == 2:
            break
    active = next(p for p, a in arms.items() if a == "resolve")
    sham = next(p for p, a in arms.items() if a == "sham")
    for pid in (active, sham):
        admin.run(ops.assign_clinician, pid, clinician="clinician")
    clinician = ops.Client(db, user="clinician", key_file=key_file)
    path, _ = clinician.run(ops.create_programme_link, active)
    return Programme(active, sham, path)


def side_of(file: str) -> str:
    """The labelled side of a bank image (what a correct answer says)."""
    from resolve.ops.programme_images import image_spec

    return str(image_spec(file).side)


def seed_lrj_block(
    db: Path | Any, key_file: Path, participant: str, *, rt_ms: float = 1200.0
) -> ops.BlockOutcome:
    """A clinic LRJ block answered all correctly at ``rt_ms``: history for the progression rule."""
    clinician = ops.Client(db, user="clinician", key_file=key_file)
    started = clinician.run(ops.start_block, participant, "lrj", mode="clinic")
    trials = [
        {"file": s["file"], "response": side_of(s["file"]), "rt_ms": rt_ms}
        for s in started["stimuli"]
    ]
    outcome: ops.BlockOutcome = clinician.run(
        ops.submit_block, participant, started["block_id"], trials
    )
    return outcome


@pytest.fixture(scope="module")
def prog(web: WebTrial) -> Programme:
    return add_programme(web.store, web.key_file)


def _routes(web: WebTrial) -> list[tuple[str, str, Any]]:
    from tests.web.test_role_matrix import endpoints

    found, _ = endpoints(web.app)
    return [
        (e.method, e.path, e.rule)
        for e in found
        if e.path.startswith(("/programme", "/prog/", "/api/v1/programme"))
    ]


def _fill(path: str, prog: Programme) -> str:
    token = prog.link.rsplit("/", 1)[1]
    return (
        path.replace("{participant}", prog.active)
        .replace("{token}", token)
        .replace("{file}", "training-00001.png")
        .replace("{module}", "pain-protects")
        .replace("{script}", "rotation-seated")
    )


# ----------------------------------------------------------------------------- access
def test_programme_routes_exist_and_each_has_a_rule(web: WebTrial) -> None:
    routes = _routes(web)
    paths = {p for _, p, _ in routes}
    assert {"/programme/{participant}", "/prog/{token}", "/prog/{token}/lrj"} <= paths
    assert "/api/v1/programme/links/{token}/blocks/submit" in paths
    assert len(routes) >= 25
    assert all(r is not None for _, _, r in routes)
    # staff routes need a programme operation; patient routes are link routes
    for method, path, r in routes:
        if path.startswith(("/prog/", "/api/v1/programme/links/")):
            assert r.access == "link", (method, path)
        else:
            assert r.access == "operation", (method, path)
            assert r.operation in (ops.Operation.view_programme, ops.Operation.deliver_programme)


@pytest.mark.parametrize("role", BLINDED)
def test_blinded_roles_are_refused_every_programme_route(
    web: WebTrial, prog: Programme, role: str
) -> None:
    problems = []
    for method, path, r in _routes(web):
        url = _fill(path, prog)
        if r.access == "link":
            # a staff account gets nothing from a link route without the token
            url = url.replace(prog.link.rsplit("/", 1)[1], "x" * 43)
        api = path.startswith("/api/")
        c = web.api(role) if api else web.page(role)
        kwargs: dict[str, Any] = {"follow_redirects": False}
        if method == "POST":
            if api:
                submit = path.endswith("/submit")
                kwargs["json"] = {"block_id": "x", "trials": []} if submit else {"task": "lrj"}
            else:
                kwargs["data"] = {"csrf_token": web.csrf(role)}
        resp = c.request(method, url, **kwargs)
        if resp.status_code not in (403, 404):
            problems.append(f"{method} {url} as {role}: {resp.status_code}")
        elif "sham" in resp.text.lower():
            problems.append(f"{method} {url} as {role}: the refusal names an arm")
    assert not problems, "\n".join(problems)


def test_participant_page_links_to_the_programme_only_for_roles_that_may_see_it(
    web: WebTrial, prog: Programme
) -> None:
    target = f'href="/programme/{prog.active}"'
    assert target in web.page("clinician").get(f"/participants/{prog.active}").text
    assert target in web.page("unblinded_statistician").get(f"/participants/{prog.active}").text
    for role in BLINDED:
        assert target not in web.page(role).get(f"/participants/{prog.active}").text, role


# ----------------------------------------------------------------------------- clinician pages
def test_overview_shows_plan_levels_adherence_and_figures(web: WebTrial, prog: Programme) -> None:
    seed_lrj_block(web.store, web.key_file, prog.active)
    html = web.page("clinician").get(f"/programme/{prog.active}").text
    assert "Week 1 of 12" in html
    assert "Level 1 of 4" in html
    assert 'id="fig-acc-t"' in html and 'id="fig-rt-t"' in html and 'id="fig-pain-t"' in html
    assert '<circle class="dot clinic"' in html  # the seeded clinic block is drawn
    assert "100%" in html  # ... and in the table beside the figures
    sham = web.page("clinician").get(f"/programme/{prog.sham}").text
    assert "fig-acc" not in sham and "Left/right judgement block" not in sham
    stat = web.page("unblinded_statistician").get(f"/programme/{prog.active}")
    assert stat.status_code == 200 and "Log this week" not in stat.text


def test_a_clinician_who_does_not_treat_the_participant_is_refused(web: WebTrial) -> None:
    ops.Client(web.store, user="admin", key_file=web.key_file).run(
        ops.add_user, "otherdoc", role="clinician", password=None
    )
    from tests.web.conftest import mint_session

    cookie, _ = mint_session(web.store, "otherdoc")
    c = web.client(raise_server_exceptions=False)
    c.cookies.set("resolve_session", cookie)
    r = c.get("/programme/D001")
    assert r.status_code in (403, 409), r.status_code


def _session_form(web: WebTrial, participant: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"csrf_token": web.csrf("clinician"), "week": "1"}
    data.update(fields)
    return data


def test_session_log_stores_the_fidelity_checklist(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    form = c.get(f"/programme/{prog.active}/session").text
    assert 'name="fid:education:1"' in form and 'name="fid:tactile:1"' in form
    assert 'value="education" checked' in form  # planned this week: ticked in advance
    r = c.post(
        f"/programme/{prog.sham}/session",
        data=_session_form(
            web,
            prog.sham,
            attended="yes",
            minutes="50",
            component=["framing", "sham_laser"],
            **{"fid:framing:1": "on", "fid:framing:2": "on", "fid:sham_laser:1": "on"},
            pain="5",
            notes="sham week 1",
        ),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:2000]
    view = web.ops("clinician").run(ops.programme, prog.sham)
    (s,) = view.sessions
    assert s.attended and s.minutes == 50 and s.pain == 5 and s.notes == "sham week 1"
    assert s.components == ["framing", "sham_laser"]
    assert list(s.fidelity["framing"].values())[:2] == [True, True]
    assert not all(s.fidelity["sham_laser"].values())  # unticked items are stored as not done
    page = c.get(f"/programme/{prog.sham}?done=session").text
    assert "The session was logged." in page and "sham week 1" in page


def test_session_form_errors_are_shown_and_nothing_is_stored(
    web: WebTrial, prog: Programme
) -> None:
    c = web.page("clinician")
    before = len(web.ops("clinician").run(ops.programme, prog.active).sessions)
    r = c.post(
        f"/programme/{prog.active}/session",
        data=_session_form(web, prog.active, attended="yes", minutes="0"),
    )
    assert r.status_code == 422
    assert 'id="err-minutes"' in r.text and 'aria-invalid="true"' in r.text
    assert "Tick at least one component" in r.text
    # a sham component in the active arm: refused by the form
    r = c.post(
        f"/programme/{prog.active}/session",
        data=_session_form(web, prog.active, attended="yes", minutes="30", component="sham_laser"),
    )
    assert r.status_code == 422 and "sham_laser" in r.text
    assert len(web.ops("clinician").run(ops.programme, prog.active).sessions) == before
    # without the CSRF token: refused
    r = c.post(f"/programme/{prog.active}/session", data={"week": "1", "attended": "no"})
    assert r.status_code == 403


def test_correcting_a_logged_week_needs_a_reason(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    url = f"/programme/{prog.active}/session"
    first = c.post(url, data=_session_form(web, prog.active, attended="no"), follow_redirects=False)
    assert first.status_code == 303
    again = c.post(url, data=_session_form(web, prog.active, attended="no"))
    assert again.status_code == 422 and "give a reason" in again.text
    fixed = c.post(
        url,
        data=_session_form(web, prog.active, attended="no", reason="entered for the wrong day"),
        follow_redirects=False,
    )
    assert fixed.status_code == 303
    (s,) = web.ops("clinician").run(ops.programme, prog.active).sessions
    assert not s.attended


def test_override_changes_the_level_with_a_reason(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    url = f"/programme/{prog.active}/override"
    r = c.post(url, data={"csrf_token": web.csrf("clinician"), "task": "tactile", "to_level": "2"})
    assert r.status_code == 422 and "Give the reason" in r.text
    r = c.post(
        url,
        data={
            "csrf_token": web.csrf("clinician"),
            "task": "tactile",
            "to_level": "2",
            "reason": "two-point threshold already small",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    view = web.ops("clinician").run(ops.programme, prog.active)
    assert view.levels["tactile"] == 2
    assert view.decisions[-1].reason == "two-point threshold already small"
    back = c.post(
        url,
        data={
            "csrf_token": web.csrf("clinician"),
            "task": "tactile",
            "to_level": "1",
            "reason": "too hard today",
        },
        follow_redirects=False,
    )
    assert back.status_code == 303


def test_programme_link_is_shown_once_and_can_be_revoked(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    url = f"/programme/{prog.sham}/link"
    r = c.post(url, data={"csrf_token": web.csrf("clinician"), "action": "create"})
    assert r.status_code == 201
    found = re.search(r'value="https://testserver(/prog/[^"]+)"', r.text)
    assert found is not None
    link = found.group(1)
    assert web.anon().get(link).status_code == 200
    listing = c.get(url).text
    assert link not in listing and "open" in listing
    r = c.post(
        url, data={"csrf_token": web.csrf("clinician"), "action": "revoke"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "The programme link was revoked." in c.get(r.headers["location"]).text
    gone = web.anon().get(link)
    assert gone.status_code == 404 and "This link does not work" in gone.text


# ----------------------------------------------------------------------------- task JSON
def test_clinic_block_json_needs_csrf_and_matching_answers(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    url = f"/programme/{prog.active}/blocks"
    assert c.post(url, json={"task": "lrj"}).status_code == 403  # no X-CSRF-Token
    headers = {"X-CSRF-Token": web.csrf("clinician")}
    bad = c.post(url, json={"task": "juggling"}, headers=headers)
    assert bad.status_code == 422 and "task" in bad.json()["detail"]
    r = c.post(url, json={"task": "lrj"}, headers=headers)
    assert r.status_code == 201, r.text
    block = r.json()
    assert "side" not in r.text and "movement" not in r.text  # labels stay on the server
    first = block["stimuli"][0]
    assert first["url"] == f"/programme/{prog.active}/img/{first['file']}"
    img = c.get(first["url"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    trials = [{"file": s["file"], "response": "left", "rt_ms": 800} for s in block["stimuli"]]
    trials[2]["file"] = trials[3]["file"] if trials[3]["file"] != trials[2]["file"] else "x.png"
    submit = f"/programme/{prog.active}/blocks/submit"
    r = c.post(submit, json={"block_id": block["block_id"], "trials": trials}, headers=headers)
    assert r.status_code == 422 and "trial 3" in r.json()["detail"]
    trials = [
        {"file": s["file"], "response": side_of(s["file"]), "rt_ms": 900} for s in block["stimuli"]
    ]
    r = c.post(submit, json={"block_id": block["block_id"], "trials": trials}, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["score"]["accuracy"] == 1.0 and out["score"]["median_rt_ms"] == 900
    assert out["decision"]["rule_id"] is not None or out["decision"]["action"] == "hold"
    again = c.post(submit, json={"block_id": block["block_id"], "trials": trials}, headers=headers)
    assert again.status_code == 409


def test_images_are_bank_images_only(web: WebTrial, prog: Programme) -> None:
    c = web.page("clinician")
    assert c.get(f"/programme/{prog.active}/img/../../etc/passwd").status_code == 404
    assert c.get(f"/programme/{prog.active}/img/training-99999.png").status_code == 404
    token = prog.link.rsplit("/", 1)[1]
    a = web.anon().get(f"/prog/{token}/img/test-00002.png")
    b = c.get(f"/programme/{prog.active}/img/test-00002.png")
    assert a.status_code == 200 and a.content == b.content  # deterministic
    assert web.anon().get(f"/prog/{'x' * 43}/img/test-00002.png").status_code == 404


# ----------------------------------------------------------------------------- patient pages
def test_patient_pages_never_name_an_arm(web: WebTrial, prog: Programme) -> None:
    anon = web.anon()
    for path in (
        "",
        "/lrj",
        "/tactile",
        "/practice",
        "/progress",
        "/learn/pain-protects",
        "/imagery/rotation-seated",
    ):
        r = anon.get(prog.link + path)
        assert r.status_code == 200, (path, r.status_code)
        text = r.text.lower()
        assert "sham" not in text and "resolve" not in text, path
        assert prog.active.lower() not in text, path
        assert "Your programme" in r.text


def test_patient_quiz_imagery_and_home_practice_are_stored(web: WebTrial, prog: Programme) -> None:
    from resolve.program.education import load_module

    anon = web.anon()
    module = load_module("pain-protects")
    form: dict[str, str] = {}
    for q in module.questions:
        if q.kind == "true_false":
            form[f"q_{q.id}"] = "true" if q.answer else "false"
        else:
            form[f"q_{q.id}"] = str(q.options.index(str(q.answer)))
    r = anon.post(prog.link + "/learn/pain-protects", data=form)
    assert r.status_code == 200
    assert f"{len(module.questions)} of {len(module.questions)} answers right" in r.text
    r = anon.post(prog.link + "/imagery/rotation-seated", data={"vividness": "11", "pain": "2"})
    assert r.status_code == 422 and "0 to 10" in r.text
    r = anon.post(
        prog.link + "/imagery/rotation-seated",
        data={"vividness": "7", "pain": "2"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = anon.post(
        prog.link + "/practice", data={"task": "lrj", "minutes": "12"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text[:1000]
    view = web.ops("clinician").run(ops.programme, prog.active)
    assert view.quizzes[-1].result.n_correct == len(module.questions)
    assert (view.imagery[-1].vividness, view.imagery[-1].pain) == (7, 2)
    assert view.home[-1].task == "lrj" and view.home[-1].minutes == 12
    today = anon.get(prog.link + "?done=practice").text
    assert "Your practice was saved." in today and "this week: 12 min" in today


def test_unknown_links_get_the_neutral_page(web: WebTrial) -> None:
    anon = web.anon()
    self_report = web.link("D002", "week 12")  # a self-report token is no programme link
    for token in ("x" * 43, self_report):
        r = anon.get(f"/prog/{token}")
        assert r.status_code == 404 and "This link does not work" in r.text
        api = anon.get(f"/api/v1/programme/links/{token}/today")
        assert api.status_code == 404


def test_link_api_starts_and_scores_a_partner_block(web: WebTrial, prog: Programme) -> None:
    anon = web.anon()
    base = f"/api/v1/programme/links/{prog.link.rsplit('/', 1)[1]}"
    clinic = anon.post(base + "/blocks", json={"task": "tactile", "mode": "clinic"})
    assert clinic.status_code == 422
    r = anon.post(base + "/blocks", json={"task": "tactile", "mode": "partner"})
    assert r.status_code == 201, r.text
    block = r.json()
    assert block["grid"]["zones"][0] == "A1" and block["stimulus_types"] == ["sharp", "blunt"]
    trials = [
        {
            "zone": s["zone"],
            "stimulus": s["stimulus"],
            "response_zone": s["zone"],
            "response_stimulus": s["stimulus"],
        }
        for s in block["stimuli"]
    ]
    r = anon.post(base + "/blocks/submit", json={"block_id": block["block_id"], "trials": trials})
    assert r.status_code == 200, r.text
    assert r.json()["score"]["accuracy"] == 1.0 and r.json()["score"]["mean_error_cm"] == 0.0
    today = anon.get(base + "/today").json()
    assert today["week"] == 1 and {t["task"] for t in today["tasks"]} >= {"lrj"}
    assert "arm" not in today


# ----------------------------------------------------------------------------- templates
def test_programme_templates_have_no_inline_script_or_style() -> None:
    names = sorted(TEMPLATES.glob("prog_*.html")) + sorted(TEMPLATES.glob("s_prog_*.html"))
    assert len(names) >= 12
    for path in names:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\sstyle\s*=", text), path.name
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path.name
        assert "<style" not in text, path.name
