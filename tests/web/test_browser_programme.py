"""The programme in a real browser (Debian's Chromium through Playwright).

On the demo trial with two more participants, one in each arm, treated by the
demo clinician (:func:`tests.web.test_programme_pages.add_programme`):

- the patient completes a left/right judgement block through their programme
  link, by keyboard on a desktop and by touch on a phone (390 x 844); the
  block's accuracy and reaction times are stored, and, with one earlier block
  seeded at the same level, the advance rule fires (level 1 -> 2);
- a partner-mode tactile block is recorded with its error distances;
- the clinician logs a session with its fidelity checklist, and runs an LRJ block in
  clinic (the page's JSON goes with the session's CSRF token);
- axe-core finds no serious or critical violation on any programme page, staff
  or patient, at phone and desktop sizes, and in the tasks' running states.

The reaction times are measured by the page (``performance.now()``); their
speed is not asserted here (see ``benchmarks/bench_lrj_latency.py``).
Screenshots go to ``tests/web/screenshots/`` (not committed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from resolve import ops
from tests.web import _browser as b
from tests.web.test_programme_pages import Programme, add_programme, seed_lrj_block, side_of

pytestmark = pytest.mark.slow

SERIOUS = ("serious", "critical")


@dataclass
class Site:
    """A served demo trial with programme participants."""

    url: str
    db: Path
    key_file: Path
    passwords: dict[str, str]
    prog: Programme

    def ops(self, user: str) -> ops.Client:
        return ops.Client(self.db, user=user, key_file=self.key_file)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = b.require_browser()
    with b.chromium(exe) as (_, chromium):
        yield chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("browser-programme")
    db, key_file, passwords = b.demo_trial(folder)
    prog = add_programme(db, key_file)
    seed_lrj_block(db, key_file, prog.active)  # 1 of the 2 blocks the advance rule needs
    with b.serve(db, key_file) as server:
        yield Site(server.url, db, key_file, passwords, prog)


def _context(browser: Any, site: Site, size: str) -> Any:
    return b.new_context(browser, size, site.url)


def _signed_in(browser: Any, site: Site, role: str, size: str = "desktop") -> Any:
    page = _context(browser, site, size).new_page()
    b.login(page, role, site.passwords[role])
    return page


def _lrj_blocks(site: Site) -> list[Any]:
    view = site.ops("clinician").run(ops.programme, site.prog.active)
    return [x for x in view.blocks if x.task == "lrj"]


def _run_lrj(page: Any, answer: Any) -> int:
    """Answer every image of the block with ``answer(k, file)``; the number of images."""
    from playwright.sync_api import expect

    page.locator(".lrj-task .task-begin").first.click()
    run = page.locator(".lrj-task [data-phase=run]")
    expect(run).to_be_visible()
    total = int(page.locator(".lrj-count").inner_text().split()[-1])
    for k in range(total):
        expect(page.locator(".lrj-count")).to_have_text(f"{k + 1} of {total}")
        src = page.locator(".lrj-stage img").get_attribute("src") or ""
        answer(k, src.rsplit("/", 1)[-1])
    expect(page.locator(".lrj-task [data-phase=result]")).to_be_visible()
    return total


# ----------------------------------------------------------------------------- left/right judgement
def test_patient_lrj_block_by_keyboard_advances_the_level(browser: Any, site: Site) -> None:
    before = _lrj_blocks(site)
    page = _context(browser, site, "desktop").new_page()
    try:
        page.goto(site.prog.link)
        b.screenshot(page, "prog-today-desktop")
        page.goto(site.prog.link + "/lrj")
        b.screenshot(page, "prog-lrj-intro-desktop")

        def press(k: int, file: str) -> None:
            if k == 3:
                b.screenshot(page, "prog-lrj-run-desktop", full_page=False)
            keys = {"left": ("ArrowLeft", "l"), "right": ("ArrowRight", "R")}[side_of(file)]
            page.keyboard.press(keys[k % 2])  # arrows and letter keys, in turn

        n = _run_lrj(page, press)
        result = page.locator(".lrj-task [data-phase=result]").inner_text()
        b.screenshot(page, "prog-lrj-result-desktop")
        assert f"{n} of {n} right (100%)" in result
        assert "level 2" in result
    finally:
        page.context.close()
    blocks = _lrj_blocks(site)
    assert len(blocks) == len(before) + 1
    block = blocks[-1]
    assert block.setting == "home" and block.level == 1
    assert block.measures["accuracy"] == 1.0 and block.measures["n_trials"] == n
    rts = [t["rt_ms"] for t in block.trials]
    assert all(rt is not None and 0 < rt < 5000 for rt in rts)
    assert block.measures["median_rt_s"] is not None and 0 < block.measures["median_rt_s"] < 5
    view = site.ops("clinician").run(ops.programme, site.prog.active)
    decision = view.decisions[-1]
    assert decision.task == "lrj" and decision.rule_id == "lrj-advance"
    assert (decision.from_level, decision.to_level) == (1, 2)
    assert view.levels["lrj"] == 2


def test_patient_lrj_block_by_touch_on_a_phone(browser: Any, site: Site) -> None:
    before = _lrj_blocks(site)
    page = _context(browser, site, "phone").new_page()
    wrong = {0, 5}
    try:
        page.goto(site.prog.link + "/lrj")
        b.screenshot(page, "prog-lrj-intro-phone")

        def tap(k: int, file: str) -> None:
            side = side_of(file)
            if k in wrong:
                side = "right" if side == "left" else "left"
            if k == 0:
                b.screenshot(page, "docs-programme-lrj-phone", full_page=False)
            page.locator(f".lrj-answers button[data-answer={side}]").tap()

        n = _run_lrj(page, tap)
        result = page.locator(".lrj-task [data-phase=result]").inner_text()
        b.screenshot(page, "prog-lrj-result-phone")
        assert f"{n - len(wrong)} of {n} right" in result
    finally:
        page.context.close()
    blocks = _lrj_blocks(site)
    assert len(blocks) == len(before) + 1
    block = blocks[-1]
    assert block.measures["accuracy"] == pytest.approx((n - len(wrong)) / n)
    answers = [t["response"] for t in block.trials]
    truth = [t["stimulus"]["side"] for t in block.trials]
    assert [k for k in range(n) if answers[k] != truth[k]] == sorted(wrong)
    assert all(t["rt_ms"] is not None and t["rt_ms"] > 0 for t in block.trials)
    view = site.ops("clinician").run(ops.programme, site.prog.active)
    assert view.decisions[-1].task == "lrj"  # the engine ran and recorded its decision


# ----------------------------------------------------------------------------- tactile (partner)
def test_partner_tactile_block_is_recorded_with_error_distances(browser: Any, site: Site) -> None:
    from playwright.sync_api import expect

    page = _context(browser, site, "phone").new_page()
    answered: list[tuple[str, str, str]] = []
    try:
        page.goto(site.prog.link + "/tactile")
        b.screenshot(page, "prog-tactile-intro-phone")
        page.locator(".tactile-task .task-begin").first.click()
        touch = page.locator(".tactile-task [data-phase=touch]")
        expect(touch).to_be_visible()
        total = int(touch.locator(".tac-count").inner_text().split()[-1])
        zones: list[str] = []
        for k in range(total):
            expect(touch.locator(".tac-count")).to_have_text(f"{k + 1} of {total}")
            zone = touch.locator(".tac-where").inner_text().strip()
            kind = touch.locator(".tac-what").inner_text().strip().lower()
            if k == 0:
                b.screenshot(page, "prog-tactile-touch-phone", full_page=False)
            touch.locator(".tac-touched").tap()
            answer = page.locator(".tactile-task [data-phase=answer]")
            expect(answer).to_be_visible()
            if not zones:
                zones = answer.locator(".tac-grid button").evaluate_all(
                    "els => els.map(e => e.dataset.zone)"
                )
            given = zone if k % 3 else next(z for z in zones if z != zone)  # every 3rd wrong
            answer.locator(f".tac-grid button[data-zone={given}]").tap()
            answer.locator(f".tac-kind button[data-kind={kind}]").tap()
            if k == 0:
                b.screenshot(page, "docs-programme-tactile-phone", full_page=False)
            answer.locator(".tac-next").tap()
            answered.append((zone, given, kind))
        expect(page.locator(".tactile-task [data-phase=result]")).to_be_visible()
        b.screenshot(page, "prog-tactile-result-phone")
    finally:
        page.context.close()
    from resolve.program.tactile import grid_for

    view = site.ops("clinician").run(ops.programme, site.prog.active)
    block = [x for x in view.blocks if x.task == "tactile"][-1]
    assert block.setting == "home"
    assert [(t["zone"], t["response_zone"]) for t in block.trials] == [
        (z, g) for z, g, _ in answered
    ]
    tpl = view.template
    assert tpl is not None
    grid = grid_for(tpl.tactile.levels[block.level - 1])
    expected = sum(grid.distance(z, g) for z, g, _ in answered) / len(answered)
    assert expected > 0
    assert block.measures["mean_error_cm"] == pytest.approx(expected)
    assert block.measures["location_accuracy"] == pytest.approx(
        sum(z == g for z, g, _ in answered) / len(answered)
    )
    assert block.measures["type_accuracy"] == 1.0


# ----------------------------------------------------------------------------- clinician
def test_clinician_logs_a_session_with_its_fidelity_checklist(browser: Any, site: Site) -> None:
    from playwright.sync_api import expect

    page = _signed_in(browser, site, "clinician")
    participant = site.prog.active
    try:
        page.goto(f"/participants/{participant}")
        page.get_by_role("link", name=f"Programme of {participant}").click()
        page.wait_for_url(f"**/programme/{participant}")
        page.get_by_role("link", name="Log this week's session").click()
        page.wait_for_url(f"**/programme/{participant}/session")
        page.check("#f-attended-yes")
        page.fill("#f-minutes", "58")
        planned = page.locator("input[name=component]:checked").evaluate_all(
            "els => els.map(e => e.value)"
        )
        assert "education" in planned
        for component in planned:
            for box in page.locator(f"input[name^='fid:{component}:']").all():
                box.check()
        page.locator("input[name='fid:education:2']").uncheck()  # one item not done
        page.select_option("#f-pain", "4")
        page.fill("#f-notes", "Explained the protector idea with the smoke alarm example.")
        b.screenshot(page, "prog-session-desktop")
        with page.expect_navigation():
            page.locator("form.fidelity button[type=submit]").click()
        expect(page.locator("p.ok[role=status]")).to_have_text("The session was logged.")
        assert "smoke alarm" in page.locator("section[aria-labelledby=h-sessions]").inner_text()
    finally:
        page.context.close()
    view = site.ops("clinician").run(ops.programme, participant)
    s = [x for x in view.sessions if x.week == 1][-1]
    assert s.attended and s.minutes == 58 and s.pain == 4
    assert sorted(s.components) == sorted(planned)
    assert view.template is not None
    items = view.template.component("education").fidelity
    assert s.fidelity["education"] == {item: k != 2 for k, item in enumerate(items, 1)}
    assert all(all(v.values()) for c, v in s.fidelity.items() if c != "education")


def test_clinician_runs_an_lrj_block_in_clinic(browser: Any, site: Site) -> None:
    before = _lrj_blocks(site)
    page = _signed_in(browser, site, "clinician")
    try:
        page.goto(f"/programme/{site.prog.active}/tasks/lrj")

        def click(k: int, file: str) -> None:
            page.locator(f".lrj-answers button[data-answer={side_of(file)}]").click()

        n = _run_lrj(page, click)
        assert f"{n} of {n} right" in page.locator(".lrj-task [data-phase=result]").inner_text()
    finally:
        page.context.close()
    blocks = _lrj_blocks(site)
    assert len(blocks) == len(before) + 1
    assert blocks[-1].setting == "clinic" and blocks[-1].measures["accuracy"] == 1.0


def _demo_participant(site: Site) -> str:
    """The demo's active-arm participant with 12 weeks of programme data."""
    frame = site.ops("clinician").run(ops.participants)
    rows = frame[(frame["arm"] == "resolve") & (frame["participant_id"] != site.prog.active)]
    return str(rows.sort_values("randomised_at")["participant_id"].iloc[0])


def test_screenshots_of_the_clinician_and_patient_pages(browser: Any, site: Site) -> None:
    demo = _demo_participant(site)
    for size in ("desktop", "phone"):
        page = _signed_in(browser, site, "clinician", size)
        try:
            page.goto(f"/programme/{demo}")
            assert page.locator("svg.trend circle.dot").count() >= 12  # 12 weeks of blocks
            assert page.locator("svg.errmap rect.zone").count() >= 4
            b.screenshot(page, f"prog-demo-overview-{size}")
            b.screenshot(page, f"docs-programme-overview-{size}", full_page=False)
            page.locator("#h-figures").evaluate("e => e.scrollIntoView()")
            b.screenshot(page, f"docs-programme-figures-{size}", full_page=False)
            page.goto(f"/programme/{site.prog.active}/session")
            b.screenshot(page, f"prog-session-form-{size}")
        finally:
            page.context.close()
        page = _context(browser, site, size).new_page()
        try:
            for name, path in (
                ("today", ""),
                ("learn", "/learn/pain-protects"),
                ("imagery", "/imagery/rotation-seated"),
                ("practice", "/practice"),
                ("progress", "/progress"),
            ):
                page.goto(site.prog.link + path)
                b.screenshot(page, f"prog-patient-{name}-{size}")
                if name == "today":
                    b.screenshot(page, f"docs-programme-today-{size}", full_page=False)
        finally:
            page.context.close()


# ----------------------------------------------------------------------------- accessibility
def _axe_context(browser: Any, site: Site, size: str) -> Any:
    context = b.new_context(browser, size, site.url)
    context.add_init_script(path=str(b.AXE_JS))
    return context


def _serious(page: Any, where: str) -> list[str]:
    return [
        f"{where}: {v['id']} ({v['impact']}): {v['help']} {[n['target'] for n in v['nodes']]}"
        for v in b.run_axe(page)
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_axe_on_every_programme_page(browser: Any, site: Site, size: str) -> None:
    from playwright.sync_api import expect

    p = site.prog
    problems: list[str] = []
    # the clinician's pages
    context = _axe_context(browser, site, size)
    page = context.new_page()
    try:
        b.login(page, "clinician", site.passwords["clinician"])
        for path in (
            f"/programme/{p.active}",
            f"/programme/{p.sham}",
            f"/programme/{p.active}/session",
            f"/programme/{p.active}/override",
            f"/programme/{p.active}/link",
            f"/programme/{p.active}/tasks/lrj",
            f"/programme/{p.active}/tasks/tactile",
        ):
            page.goto(path)
            problems += _serious(page, path)
        page.goto(f"/programme/{p.active}/session")
        page.locator("form.fidelity button[type=submit]").click()  # nothing filled: errors
        page.wait_for_load_state()
        problems += _serious(page, "session form with errors")
    finally:
        context.close()
    # the patient's pages, and the tasks while they run
    context = _axe_context(browser, site, size)
    page = context.new_page()
    try:
        for path in (
            "",
            "/practice",
            "/progress",
            "/learn/pain-protects",
            "/imagery/rotation-seated",
            "/lrj",
            "/tactile",
        ):
            page.goto(p.link + path)
            problems += _serious(page, p.link + path)
        page.locator(".tactile-task .task-begin").first.click()
        expect(page.locator(".tactile-task [data-phase=touch]")).to_be_visible()
        problems += _serious(page, "tactile: touch")
        page.locator(".tac-touched").click()
        problems += _serious(page, "tactile: answer")
        page.goto(p.link + "/lrj")
        page.locator(".lrj-task .task-begin").first.click()
        expect(page.locator(".lrj-task [data-phase=run]")).to_be_visible()
        problems += _serious(page, "lrj: running")
        page.goto(p.link + "/learn/pain-protects")
        page.locator("form button[type=submit]").click()
        page.wait_for_load_state()
        problems += _serious(page, "quiz result")
        page.goto("/prog/" + "x" * 43)
        problems += _serious(page, "unknown link")
    finally:
        context.close()
    assert not problems, "\n".join(problems)
