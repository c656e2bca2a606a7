"""The programme's remaining pages in a real browser (Debian's Chromium through Playwright).

On the demo trial with two more participants, one per arm, treated by the demo
clinician (:func:`tests.web.test_programme_pages.add_programme`):

- a partner runs a graphaesthesia block on a phone (390 x 844): the screen shows
  the symbol to draw and which way up, the patient types what they felt; the
  block is stored and scored (one wrong answer on purpose);
- the clinician enters a two-point staircase answer by answer, the page setting
  each next separation, then saves it; the stored threshold is the staircase's;
- axe-core finds no serious or critical violation on the new pages, staff and
  patient, at phone and desktop sizes, also while the graphaesthesia task runs
  (the server runs in this process, so moving the programme's clock to week 9
  shows the patient's loading and drill pages).

Screenshots go to ``tests/web/screenshots/`` (not committed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from resolve import ops
from resolve.program.template import load_template
from resolve.program.twopoint import TpdTrial, staircase_threshold
from tests.web import _browser as b
from tests.web.test_programme_pages import Programme, add_programme

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
    folder = tmp_path_factory.mktemp("browser-programme-more")
    db, key_file, passwords = b.demo_trial(folder)
    prog = add_programme(db, key_file, prefix="PBM")
    with b.serve(db, key_file) as server:
        yield Site(server.url, db, key_file, passwords, prog)


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


# ----------------------------------------------------------------------------- graphaesthesia
def test_partner_graphaesthesia_block_on_a_phone(browser: Any, site: Site) -> None:
    from playwright.sync_api import expect

    context = _axe_context(browser, site, "phone")
    page = context.new_page()
    problems: list[str] = []
    try:
        page.goto(site.prog.link + "/graphaesthesia")
        problems += _serious(page, "graphaesthesia intro")
        b.screenshot(page, "prog-graph-intro-phone")
        page.locator(".graph-task .task-begin").first.tap()
        draw = page.locator(".graph-task [data-phase=draw]")
        expect(draw).to_be_visible()
        total = int(page.locator(".graph-count").first.inner_text().split()[-1])
        shown = []
        for k in range(total):
            expect(page.locator(".graph-count").first).to_have_text(f"{k + 1} of {total}")
            symbol = page.locator(".graph-symbol").inner_text()
            orientation = page.locator(".graph-orient").inner_text()
            assert symbol and orientation
            shown.append(symbol)
            if k == 0:
                b.screenshot(page, "prog-graph-draw-phone", full_page=False)
                problems += _serious(page, "graphaesthesia draw")
            page.locator(".graph-drawn").tap()
            answer = page.locator(".graph-answer")
            expect(answer).to_be_focused()
            if k == 0:
                problems += _serious(page, "graphaesthesia answer")
            answer.fill("?" if k == 0 else symbol.lower())  # the first answer is wrong
            if k == 1:
                b.screenshot(page, "prog-graph-answer-phone", full_page=False)
            page.locator(".graph-next").tap()
        result = page.locator(".graph-task [data-phase=result]")
        expect(result).to_be_visible()
        expect(page.locator(".graph-task .result-score")).to_have_text(
            f"{total - 1} of {total} right ({round((total - 1) / total * 100)}%)."
        )
        problems += _serious(page, "graphaesthesia result")
        b.screenshot(page, "prog-graph-result-phone")
    finally:
        context.close()
    view = site.ops("clinician").run(ops.programme, site.prog.active)
    block = [x for x in view.blocks if x.task == "graphaesthesia"][-1]
    assert block.setting == "home" and block.measure("accuracy") == pytest.approx(
        (total - 1) / total
    )
    assert [t["symbol"] for t in block.trials] == shown
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- two-point
def test_clinician_enters_a_two_point_staircase(browser: Any, site: Site) -> None:
    from playwright.sync_api import expect

    context = _axe_context(browser, site, "desktop")
    page = context.new_page()
    problems: list[str] = []
    answers: list[tuple[float, str]] = []
    try:
        b.login(page, "clinician", site.passwords["clinician"])
        page.goto(f"/programme/{site.prog.active}")
        page.get_by_role("link", name="Measure two-point discrimination").click()
        page.get_by_label("Body site").select_option("lumbar_left")
        page.get_by_role("button", name="Start a run at this site").click()
        problems += _serious(page, "two-point start")
        for _ in range(200):
            if page.locator(".tp-mm").count() == 0:
                break
            mm = float(page.locator(".tp-mm").inner_text().split()[0])
            answer = "two" if mm >= 52 else "one"
            answers.append((mm, answer))
            name = "Felt two points" if answer == "two" else "Felt one point"
            with page.expect_navigation():
                page.get_by_role("button", name=name).click()
            if len(answers) == 6:
                problems += _serious(page, "two-point running")
                b.screenshot(page, "prog-twopoint-running-desktop")
        expect(page.get_by_text("The staircase has stopped at reversal 8")).to_be_visible()
        problems += _serious(page, "two-point stopped")
        with page.expect_navigation():
            page.get_by_role("button", name="Save the run").click()
        expect(page.get_by_text("The two-point run was saved.")).to_be_visible()
        b.screenshot(page, "prog-twopoint-saved-desktop")
    finally:
        context.close()
    expected = staircase_threshold(
        [TpdTrial(separation_mm=s, response=a) for s, a in answers],  # type: ignore[arg-type]
        settings=load_template().twopoint,
        site="lumbar_left",
    )
    run = site.ops("clinician").run(ops.programme, site.prog.active).twopoint[-1]
    assert run.site == "lumbar_left" and [(t.separation_mm, t.response) for t in run.trials] == (
        answers
    )
    assert run.result.complete and run.result.threshold_mm == pytest.approx(expected.threshold_mm)
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- accessibility
@pytest.fixture
def week9(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The programme's clock in week 9 (loading and drills), for the in-process server."""
    from resolve.ops import programme, programme_store, programme_views

    start = date.fromisoformat(
        site.ops("clinician").run(ops.programme, site.prog.active).randomised_on[:10]
    )
    day = start + timedelta(weeks=8, days=1)
    monkeypatch.setattr(programme_store, "today", lambda: day)
    monkeypatch.setattr(programme_views, "today_date", lambda: day)
    monkeypatch.setattr(programme, "today", lambda: day, raising=False)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_axe_on_the_new_programme_pages(browser: Any, site: Site, size: str, week9: None) -> None:
    p = site.prog
    clinician = site.ops("clinician")
    if not clinician.run(ops.programme, p.active).tolerance_tests:
        clinician.run(ops.record_tolerance_test, p.active, "sit-to-stand", [10, 12, 11])
    problems: list[str] = []
    context = _axe_context(browser, site, size)
    page = context.new_page()
    try:
        b.login(page, "clinician", site.passwords["clinician"])
        for path in ("twopoint", "tasks/graphaesthesia", "loading", "drills"):
            page.goto(f"/programme/{p.active}/{path}")
            problems += _serious(page, path)
            b.screenshot(page, f"prog-{path.replace('/', '-')}-{size}")
        page.goto(f"/programme/{p.sham}/loading")
        problems += _serious(page, "sham loading")
        page.goto(f"/programme/{p.active}/drills")
        page.locator("#f-reps").fill("1.5")
        with page.expect_navigation():
            page.get_by_role("button", name="Save the drill").click()
        problems += _serious(page, "drills with errors")
        page.goto(f"/programme/{p.active}/loading")
        page.locator("#f-achieved").fill("9")
        with page.expect_navigation():
            page.get_by_role("button", name="Save the session").click()
        problems += _serious(page, "loading decision")
        b.screenshot(page, f"prog-loading-decision-{size}")
    finally:
        context.close()
    context = _axe_context(browser, site, size)
    page = context.new_page()
    try:
        for path in ("", "/loading", "/drills", "/graphaesthesia"):
            page.goto(p.link + path)
            problems += _serious(page, p.link + path)
            b.screenshot(page, f"prog-link{path.replace('/', '-') or '-today'}-{size}")
        page.goto(p.link + "/loading")
        page.locator("#f-achieved-sit-to-stand").fill("10")
        with page.expect_navigation():
            page.locator("form").filter(has=page.locator("#f-achieved-sit-to-stand")).get_by_role(
                "button"
            ).click()
        problems += _serious(page, "patient loading saved")
        b.screenshot(page, f"prog-link-loading-saved-{size}")
    finally:
        context.close()
    assert not problems, "\n".join(problems)
