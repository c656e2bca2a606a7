"""End-to-end tests in a real browser (Debian's Chromium through Playwright).

Each role signs in through the real pages; the enroller screens, consents,
randomises and records baseline; the participant answers a questionnaire
through their personal link on a phone-sized screen; the statistician exports.
The blinded assessor's crawl visits every page and API answer reachable for the
role and checks that nothing reveals an arm: no arm label anywhere (HTML, JSON,
headers, file names), and — on a twin trial whose allocations are swapped
between the arms — byte-for-byte the same answers once times and tokens are
masked, so no arm-specific count or arm-dependent difference can be present.

Screenshots go to ``tests/web/screenshots/`` (not committed).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.web import _browser as b

pytestmark = pytest.mark.slow

ROLES = (
    "admin",
    "enroller",
    "clinician",
    "assessor",
    "statistician",
    "unblinded_statistician",
    "monitor",
)
#: Arm names of the crawl trial: words that cannot occur on a page by accident.
CRAWL_ARMS = {"sham": "zircon", "resolve": "quartz"}


@dataclass
class Site:
    """A served trial: its URL, database, key file and the demo accounts' passwords."""

    url: str
    db: Path
    key_file: Path
    passwords: dict[str, str]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = b.require_browser()
    with b.chromium(exe) as (_, chromium):
        yield chromium


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("browser-demo")
    db, key_file, passwords = b.demo_trial(folder)
    with b.serve(db, key_file) as server:
        yield Site(server.url, db, key_file, passwords)


def signed_in(browser: Any, site: Site, role: str, size: str = "desktop") -> Any:
    context = b.new_context(browser, size, site.url)
    page = context.new_page()
    b.login(page, role, site.passwords[role])
    return page


# ----------------------------------------------------------------------------- sign in
@pytest.mark.parametrize("role", ROLES)
def test_each_role_signs_in_and_sees_the_dashboard(browser: Any, demo: Site, role: str) -> None:
    page = signed_in(browser, demo, role)
    try:
        assert page.url.rstrip("/") == demo.url
        assert page.locator("h1").first.is_visible()
        assert role in page.locator("header").inner_text()
        assert page.locator("nav[aria-label]").count() == 1
        b.screenshot(page, f"dashboard-{role}-desktop")
    finally:
        page.context.close()


def test_secure_session_cookie_works_over_loopback_http(browser: Any, demo: Site) -> None:
    """Chromium keeps and sends the Secure cookie to http://127.0.0.1 (a secure context)."""
    page = signed_in(browser, demo, "monitor")
    try:
        (cookie,) = page.context.cookies()
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        page.goto("/participants")
        assert page.url.endswith("/participants")
        page.locator("form.signout button").click()
        page.wait_for_url("**/login")
        page.goto("/")
        assert page.url.endswith("/login"), "a signed-out session still opened the dashboard"
    finally:
        page.context.close()


# ----------------------------------------------------------------------------- the trial's work
E2E = "E2E01"


@dataclass
class Enrolled:
    """What the enroller's run through the pages left: the participant and their link."""

    participant: str
    arm: str
    link: str


def _submit(page: Any, form: str) -> None:
    with page.expect_navigation():
        page.locator(f"{form} button[type=submit]").click()


@pytest.fixture(scope="module")
def enrolled(browser: Any, demo: Site) -> Iterator[Enrolled]:
    """The enroller screens, consents, randomises and records baseline, all through the pages."""
    from playwright.sync_api import expect

    page = signed_in(browser, demo, "enroller")
    page.on("dialog", lambda dialog: dialog.accept())  # the randomise confirmation
    try:
        page.get_by_role("navigation").get_by_role("link", name="Screen").click()
        page.wait_for_url("**/screen")
        page.fill("#f-participant", E2E)
        page.fill("#f-age", "46")
        page.fill("#f-duration_weeks", "30")
        page.fill("#f-pain", "6")
        page.fill("#f-identity", "1980-02-03 E2E")
        _submit(page, "form[action='/screen']")
        expect(page.locator("p.ok[role=status]")).to_be_visible()
        assert page.locator("ul.criteria li.pass").count() >= 3
        assert page.locator("ul.criteria li.fail").count() == 0
        b.screenshot(page, "screen-result-desktop")
        b.screenshot(page, "docs-screening-desktop", full_page=False)

        page.click(f"a[href='/participants/{E2E}/consent']")
        page.wait_for_url(f"**/participants/{E2E}/consent")
        page.fill("#f-typed_name", "Alex Example")
        page.check("#f-agreed")
        _submit(page, f"form[action='/participants/{E2E}/consent']")
        assert f"/participants/{E2E}/consent/" in page.url and "done=1" in page.url
        assert "Alex Example" in page.locator("main").inner_text()

        page.goto(f"/participants/{E2E}")
        page.click(f"a[href='/participants/{E2E}/randomise']")
        _submit(page, f"form[action='/participants/{E2E}/randomise']")
        arm = page.locator(".allocation strong").inner_text().strip()
        assert arm in ("sham", "resolve"), arm  # the enroller sees the arm they allocated
        b.screenshot(page, "randomised-desktop")

        page.goto(f"/participants/{E2E}/record/baseline/nrs")
        page.locator("form.entry input[type=number]").first.fill("6")
        _submit(page, "form.entry")
        assert "done=saved" in page.url
        expect(page.locator("#h-score")).to_be_visible()
        assert "6" in page.locator("section[aria-labelledby=h-score]").inner_text()
        b.screenshot(page, "record-score-desktop")

        page.goto(f"/participants/{E2E}")
        b.screenshot(page, "participant-desktop")
        b.screenshot(page, "docs-participant-desktop", full_page=False)
        page.goto(f"/participants/{E2E}/links")
        page.select_option("#visit", "baseline")
        _submit(page, f"form[action='/participants/{E2E}/links']")
        link = page.locator("#link-url").input_value()
        assert "/p/" in link
        yield Enrolled(E2E, arm, link)
    finally:
        page.context.close()


def test_enroller_screens_consents_randomises_and_records_baseline(
    enrolled: Enrolled, demo: Site
) -> None:
    from resolve import ops

    runner = ops.Client(demo.db, user="unblinded_statistician", key_file=demo.key_file)
    frame = runner.run(ops.participants)
    row = frame[frame["participant_id"] == enrolled.participant].iloc[0]
    assert row["status"] == "randomised" and row["arm"] == enrolled.arm
    answers = runner.run(ops.responses)
    mine = answers[answers["participant_id"] == enrolled.participant]
    assert set(zip(mine["visit"], mine["instrument"], strict=True)) == {("baseline", "nrs")}


def test_participant_answers_through_their_link_on_a_phone(
    browser: Any, demo: Site, enrolled: Enrolled
) -> None:
    from playwright.sync_api import expect

    from resolve import ops

    context = b.new_context(browser, "phone", demo.url)  # no account, no cookie: the link only
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "send your answers now?"
    try:
        page.goto(enrolled.link)
        b.screenshot(page, "self-start-phone")
        b.screenshot(page, "docs-start-phone", full_page=False)
        due = page.locator("ol.self-list li").count()
        assert due >= 1
        # one question per screen for the first questionnaire, then all questions per page
        page.click("text=Show one question per screen")
        page.locator("a.self-button").click()
        b.screenshot(page, "self-question-phone")
        b.screenshot(page, "docs-question-phone", full_page=False)
        for _ in range(3):
            page.locator("fieldset.self-q").first.locator("input[type=radio]").nth(1).check()
            _submit(page, "form[data-autosave]")
        page.goto(enrolled.link)  # back to the overview: the answers so far were kept
        assert "self.continue" not in page.content()
        page.locator("a.self-button").click()
        for _ in range(20):
            if "/review" in page.url:
                break
            if "/q/" not in page.url:
                page.goto(enrolled.link + "/review")
                break
            for fieldset in page.locator("fieldset.self-q").all():
                radios = fieldset.locator("input[type=radio]")
                if radios.count() and not fieldset.locator("input:checked").count():
                    radios.nth(1).check()
            first_medicine = page.locator("input[name=slot_1]")
            if first_medicine.count() and not first_medicine.input_value():
                first_medicine.fill("none")  # "if you take no medicine, write 'none'"
            _submit(page, "form[data-autosave]")
        if "/review" not in page.url:
            page.goto(enrolled.link + "/review")
        b.screenshot(page, "self-review-phone")
        _submit(page, "form[action$='/submit']")
        expect(page.locator("p.ok[role=status]")).to_be_visible()
        b.screenshot(page, "self-done-phone")
        text = page.locator("body").inner_text().lower()
        assert "sham" not in text and enrolled.participant.lower() not in text
        page.goto(enrolled.link)  # used up: the neutral page
        assert page.locator("a.self-button").count() == 0
    finally:
        context.close()
    runner = ops.Client(demo.db, user="enroller", key_file=demo.key_file)
    answers = runner.run(ops.responses)
    mine = answers[answers["participant_id"] == enrolled.participant]
    assert len(mine) == due + 1  # the enroller's nrs and every questionnaire that was due


def test_statistician_exports_masked_data(browser: Any, demo: Site, enrolled: Enrolled) -> None:
    import io
    import zipfile

    page = signed_in(browser, demo, "statistician")
    try:
        page.get_by_role("navigation").get_by_role("link", name="Export").click()
        page.wait_for_url("**/export")
        b.screenshot(page, "export-desktop")
        with page.expect_download() as info:
            page.locator("form[action='/export'] button[type=submit]").click()
        download = info.value
        assert re.fullmatch(r"trial-export-[0-9-]+\.zip", download.suggested_filename)
        data = Path(download.path()).read_bytes()
    finally:
        page.context.close()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = {Path(n).name for n in archive.namelist()}
        assert {"analysis.csv", "consort.csv", "README.txt"} <= names
        analysis = archive.read(next(n for n in archive.namelist() if n.endswith("analysis.csv")))
    text = analysis.decode("utf-8")
    assert enrolled.participant in text
    assert "group A" in text or "group B" in text
    assert not re.search(r"\b(sham|resolve)\b", text), "the blinded statistician saw an arm"


# ----------------------------------------------------------------------------- blinding
@dataclass
class Twins:
    """The crawl trial and its twin with every allocation swapped between the arms."""

    original: Site
    swapped: Site
    participants: list[str]
    link: str


def _swap_arms(db: Path, arms: tuple[str, str]) -> None:
    """Swap the two arms in every allocation and audit event of a copied SQLite trial."""
    one, two = arms
    con = sqlite3.connect(db)
    try:
        triggers = con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name IN ('allocation', 'audit_event')"
        ).fetchall()
        for (name,) in triggers:
            con.execute(f'DROP TRIGGER "{name}"')
        con.execute(
            "UPDATE allocation SET arm = CASE arm WHEN ? THEN ? WHEN ? THEN ? ELSE arm END",
            (one, two, two, one),
        )
        for column in ("old_value", "new_value"):
            con.execute(
                f"UPDATE audit_event SET {column} = "
                f"replace(replace(replace({column}, ?, '@swap@'), ?, ?), '@swap@', ?)",
                (f'"{one}"', f'"{two}"', f'"{one}"', f'"{two}"'),
            )
        con.commit()
    finally:
        con.close()


def _arm_counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT arm, COUNT(*) FROM allocation GROUP BY arm").fetchall())
    finally:
        con.close()


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Twins]:
    folder = tmp_path_factory.mktemp("crawl")
    protocol = b.renamed_arms_protocol(folder, CRAWL_ARMS)
    # 5 participants: 3 randomised, so the arms' counts differ (an odd total)
    db, key_file, passwords = b.demo_trial(folder, participants=5, protocol=protocol)
    from resolve import ops

    # a participant link, so the crawl covers the participant's own pages too
    assessor = ops.Client(db, user="assessor", key_file=key_file)
    token = assessor.run(ops.create_link, "D001", visit="baseline")
    twin_dir = tmp_path_factory.mktemp("crawl-twin")
    twin_db = twin_dir / "twin.db"
    src = sqlite3.connect(db)
    dst = sqlite3.connect(twin_db)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    _swap_arms(twin_db, tuple(CRAWL_ARMS.values()))  # type: ignore[arg-type]
    counts, twin_counts = _arm_counts(db), _arm_counts(twin_db)
    assert len(counts) == 2 and sorted(counts.values()) == sorted(twin_counts.values())
    assert counts != twin_counts, "the twin's allocations must differ from the original's"
    con = sqlite3.connect(db)
    try:
        codes = [c for (c,) in con.execute("SELECT code FROM participant ORDER BY code")]
    finally:
        con.close()
    with b.serve(db, key_file) as one, b.serve(twin_db, key_file) as two:
        yield Twins(
            Site(one.url, db, key_file, passwords),
            Site(two.url, twin_db, key_file, passwords),
            codes,
            f"/p/{token}",
        )


ARM_WORDS = re.compile(
    "|".join([*(re.escape(a) for a in CRAWL_ARMS.values()), r"\bgroup [A-Z]\b"]), re.IGNORECASE
)


def _assessor_answers(
    browser: Any, site: Site, participants: list[str], link: str
) -> list[b.Fetched]:
    page = signed_in(browser, site, "assessor")
    try:
        found = b.crawl_pages(page, site.url, start=("/", link), limit=300)
        openapi = page.context.request.get(site.url + "/api/v1/openapi.json").json()
        values = {
            "participant": [*participants, "D999"],
            "visit": ["baseline", "week 18", "nope"],
            "instrument": ["nrs", "rmdq24"],
            "token": ["x" * 43],
        }
        seen = {f.path for f in found}
        for path in b.api_get_paths(openapi, values):
            if path not in seen:
                seen.add(path)
                found.append(b.fetch(page.context, site.url, path))
        return found
    finally:
        page.context.close()


def _leaks(f: b.Fetched) -> list[str]:
    texts = {"path": f.path, "body": f.body}
    texts.update({f"header {k}": v for k, v in f.headers.items()})
    out = [
        f"{f.path}: {where}: {m.group(0)!r}"
        for where, text in texts.items()
        for m in ARM_WORDS.finditer(text)
    ]
    if "json" in f.content_type:
        out += [
            f"{f.path}: JSON key {k!r}"
            for k in _json_keys(json.loads(f.body or "null"))
            if k == "arm" or k.startswith("arm_")
        ]
    return out


def _json_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _json_keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_keys(v)


def test_assessor_crawl_reveals_no_arm(browser: Any, twins: Twins) -> None:
    answers = _assessor_answers(browser, twins.original, twins.participants, twins.link)
    twin_answers = _assessor_answers(browser, twins.swapped, twins.participants, twins.link)
    pages = [f for f in answers if "text/html" in f.content_type]
    assert len(pages) >= 3, [f.path for f in answers]
    assert any(f.path.startswith("/api/v1/participants") for f in answers)
    assert any(f.path.startswith(twins.link + "/q/") for f in answers)
    assert not [f for f in answers if f.status >= 500], [
        (f.path, f.status) for f in answers if f.status >= 500
    ]
    leaks = [leak for f in answers for leak in _leaks(f)]
    assert not leaks, "\n".join(leaks)
    # The same answers whatever the allocation: no arm-specific count, no arm-dependent page.
    assert [f.path for f in answers] == [f.path for f in twin_answers]
    for one, two in zip(answers, twin_answers, strict=True):
        assert b.normalised(one) == b.normalised(two), f"{one.path} depends on the allocation"
