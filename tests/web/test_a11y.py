"""Accessibility: axe-core in a real browser on every main page, every role, phone and desktop.

axe-core is vendored from npm (``tests/web/vendor/axe-core``, MPL-2.0) and
injected with Playwright's ``add_init_script``, which the browser runs through
the DevTools protocol before the page's own scripts: the page's
Content-Security-Policy (no inline script) stays exactly as in production, no
``bypass_csp``. (``page.add_script_tag`` would add an inline ``<script>`` and
is, rightly, refused by the CSP.)

"Main pages" are the pages reachable from the dashboard, one per route: links
are followed breadth-first and pages of the same route
(``/participants/D001`` and ``/participants/D002``) count once, except that
each questionnaire's entry page counts (their items differ). Every one must
have no serious or critical violation of WCAG 2.1 A/AA.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
#: Pages per role and size, at most.
MAX_PAGES = 40
#: Path parameters whose every value makes a page of its own (questionnaires differ).
DISTINCT_PARAMS = ("instrument",)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = b.require_browser()
    with b.chromium(exe) as (_, chromium):
        yield chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[tuple[str, Any, Any]]:
    folder = tmp_path_factory.mktemp("a11y")
    db, key_file, passwords = b.demo_trial(folder)
    from resolve import ops

    token = ops.Client(db, user="enroller", key_file=key_file).run(
        ops.create_link, "D001", visit="baseline"
    )
    passwords = {**passwords, "link": f"/p/{token}"}
    with b.serve(db, key_file) as server:
        yield server.url, passwords, server.app


def _templates(app: Any) -> list[str]:
    """The path templates of every route, included routers' too."""
    from fastapi import routing

    walker = getattr(routing, "iter_route_contexts", None)  # FastAPI >= 0.16x keeps branches
    routes = walker(app.routes) if walker is not None else app.routes
    return [str(r.path) for r in routes if getattr(r, "path", None)]


def route_of(app: Any, path: str) -> str:
    """The route a path reaches (its template, :data:`DISTINCT_PARAMS` filled in)."""
    from urllib.parse import unquote

    plain = unquote(path.split("?", 1)[0])
    for template in _templates(app):
        pattern = re.sub(r"\\\{(\w+)(?::path)?\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        found = re.fullmatch(pattern, plain)
        if found:
            for name, value in found.groupdict().items():
                if name in DISTINCT_PARAMS:
                    template = template.replace("{" + name + "}", value)
            return template
    return b.kind(path)


def audit_pages(page: Any, base_url: str, app: Any) -> dict[str, list[str]]:
    """axe on one page of each route reachable from the dashboard (breadth-first).

    Returns {path: serious or critical violations} for every page checked.
    """
    kinds: set[str] = set()
    queue: list[str] = ["/"]
    out: dict[str, list[str]] = {}
    while queue and len(out) < MAX_PAGES:
        path = queue.pop(0)
        if path.startswith(("/static/", "/api/", "/logout")) or route_of(app, path) in kinds:
            continue
        kinds.add(route_of(app, path))
        response = page.goto(path)
        if response is None or "text/html" not in response.headers.get("content-type", ""):
            continue
        out[path] = serious(b.run_axe(page))
        for link in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            p = b.path_of(link, base_url)
            if p is not None and "#" not in p:
                queue.append(p)
    return out


def serious(violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def axe_context(browser: Any, size: str, base_url: str) -> Any:
    context = b.new_context(browser, size, base_url)
    context.add_init_script(path=str(b.AXE_JS))
    return context


@pytest.mark.parametrize("size", sorted(b.SIZES))
def test_sign_in_and_error_pages_are_accessible(
    browser: Any, site: tuple[str, Any, Any], size: str
) -> None:
    url, _, _ = site
    context = axe_context(browser, size, url)
    try:
        page = context.new_page()
        found = {}
        for path in ("/login", "/no-such-page", "/participants/NO-SUCH-ID"):
            response = page.goto(path)
            assert response is not None
            if path == "/login" or "text/html" in response.headers.get("content-type", ""):
                found[path] = serious(b.run_axe(page))
        assert found.pop("/login") == []
        assert not [problems for problems in found.values() if problems], found
    finally:
        context.close()


@pytest.mark.parametrize("size", sorted(b.SIZES))
def test_participant_link_pages_are_accessible(
    browser: Any, site: tuple[str, Any, Any], size: str
) -> None:
    """The participant's own pages (no account: the link is the credential)."""
    url, passwords, _ = site
    link = passwords["link"]
    context = axe_context(browser, size, url)
    try:
        page = context.new_page()
        found = {}
        for path in (
            link,
            f"{link}?one=1",
            f"{link}/q/rmdq24",
            f"{link}/q/rmdq24?one=1&n=2",
            f"{link}/q/psychoactive_medication",
            f"{link}/review",
            "/p/" + "x" * 43,  # unknown link: the neutral page
        ):
            page.goto(path)
            found[path] = serious(b.run_axe(page))
        problems = {path: found[path] for path in found if found[path]}
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.parametrize("size", sorted(b.SIZES))
def test_pages_after_each_enrolment_step_are_accessible(
    browser: Any, site: tuple[str, Any, Any], size: str
) -> None:
    """The answers to forms (not reachable by links): errors, results, confirmations."""
    url, passwords, _ = site
    pid = f"AX-{size}"
    context = axe_context(browser, size, url)
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        b.login(page, "enroller", passwords["enroller"])
        found = {}

        def submit(form: str, name: str) -> None:
            with page.expect_navigation():
                page.locator(f"{form} button[type=submit]").click()
            found[name] = serious(b.run_axe(page))

        page.goto("/screen")
        submit("form[action='/screen']", "screening with errors")
        page.fill("#f-participant", pid)
        page.fill("#f-age", "50")
        page.fill("#f-duration_weeks", "20")
        page.fill("#f-pain", "7")
        page.fill("#f-identity", f"a11y {size}")
        submit("form[action='/screen']", "screening result")
        page.goto(f"/participants/{pid}/consent")
        page.fill("#f-typed_name", "Sam Example")
        page.check("#f-agreed")
        submit(f"form[action='/participants/{pid}/consent']", "consent record")
        page.goto(f"/participants/{pid}/randomise")
        found["randomise confirmation"] = serious(b.run_axe(page))
        submit(f"form[action='/participants/{pid}/randomise']", "randomised")
        page.goto(f"/participants/{pid}/record/baseline/nrs")
        page.locator("form.entry input[type=number]").first.fill("11")  # out of range
        submit("form.entry", "entry with errors")
        page.locator("form.entry input[type=number]").first.fill("7")
        submit("form.entry", "score after save")
        page.goto(f"/participants/{pid}/links")
        submit(f"form[action='/participants/{pid}/links']", "link created")
        assert len(found) == 8, found
        problems = {step: found[step] for step in found if found[step]}
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.parametrize("size", sorted(b.SIZES))
@pytest.mark.parametrize("role", ROLES)
def test_every_main_page_is_accessible(
    browser: Any, site: tuple[str, Any, Any], role: str, size: str
) -> None:
    url, passwords, app = site
    context = axe_context(browser, size, url)
    try:
        page = context.new_page()
        b.login(page, role, passwords[role])
        found = audit_pages(page, url, app)
        assert "/" in found and len(found) >= 3, found
        problems = {path: found[path] for path in found if found[path]}
        assert not problems, problems
    finally:
        context.close()
