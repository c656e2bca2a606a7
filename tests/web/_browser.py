"""Support for the real-browser tests: a live server, Debian's Chromium, log-in helpers.

The application runs under uvicorn in a background thread on a free loopback
port (plain HTTP, ``secure_cookies=True``: Chromium treats ``http://127.0.0.1``
as a secure context, so it keeps and sends ``Secure`` cookies there; the
browser tests check that). Playwright (sync API) drives Debian's ``chromium``
through ``executable_path``; it never downloads a browser build.

Set ``RESOLVE_TEST_CHROMIUM`` to the browser (``.ci/run`` sets it to
``/usr/bin/chromium``); without it ``chromium`` on ``PATH`` is used. With no
browser the tests are skipped with one reason (:data:`SKIP_REASON`), except
under CI (``CI=true``), where that is a failure: CI must not pass with the
browser tests silently skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

CHROMIUM_ENV = "RESOLVE_TEST_CHROMIUM"
SKIP_REASON = (
    f"browser tests need Debian's chromium ({CHROMIUM_ENV} or `chromium` on PATH; "
    "`.ci/run` installs it) and the Python package playwright"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SIZES = {"phone": PHONE, "desktop": DESKTOP}
HERE = Path(__file__).parent
SCREENSHOTS = HERE / "screenshots"
AXE_JS = HERE / "vendor" / "axe-core" / "axe.min.js"
#: Navigation/expectation timeout for the browser (ms); generous for a busy 2-core CI machine.
TIMEOUT_MS = 20_000


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None when there is none."""
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        return given if Path(given).exists() else None
    return shutil.which("chromium")


def require_browser() -> str:
    """The Chromium path; skip (or, under CI, fail) when the browser tests cannot run."""
    path = chromium_path()
    problem = ""
    if path is None:
        problem = SKIP_REASON
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = SKIP_REASON
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{problem} (CI=true: the browser tests must run)", pytrace=False)
        pytest.skip(problem)
    assert path is not None
    return path


# ----------------------------------------------------------------------------- trials
def demo_trial(
    folder: Path,
    *,
    participants: int = 8,
    protocol: Path | None = None,
) -> tuple[Path, Path, dict[str, str]]:
    """``resolve serve --demo``'s trial (:func:`resolve.cli.serve.make_demo_trial`), after
    each account replaced its one-time password (:func:`tests.web.conftest.first_password_change`):
    (database, key file, {user: password}).

    ``protocol`` replaces the bundled protocol (e.g. arms renamed to labels that
    cannot occur anywhere else, for the blinding crawl).
    """
    from resolve import ops
    from resolve.cli.serve import make_demo_trial
    from tests.web.conftest import first_password_change

    if protocol is None:
        db, key_file, one_time = make_demo_trial(folder, participants=participants)
    else:
        original = ops.init_trial

        def init_with_protocol(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("protocol", protocol)
            return original(*args, **kwargs)

        with mock.patch.object(ops, "init_trial", init_with_protocol):
            db, key_file, one_time = make_demo_trial(folder, participants=participants)
    return db, key_file, first_password_change(db, key_file, one_time)


def renamed_arms_protocol(folder: Path, names: dict[str, str]) -> Path:
    """The bundled protocol with its arms renamed (``{"sham": "zircon", ...}``)."""
    from importlib import resources

    text = resources.files("resolve.trial").joinpath("protocols", "resolve.toml").read_text("utf-8")
    for old, new in names.items():
        text, n = re.subn(rf'(?m)^name = "{re.escape(old)}"', f'name = "{new}"', text)
        assert n == 1, f"arm {old!r} not found exactly once in the bundled protocol"
    path = folder / "protocol.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """An app served by uvicorn in a background thread on 127.0.0.1."""

    app: Any
    port: int = 0
    _server: Any = None
    _thread: threading.Thread | None = None
    _socket: socket.socket | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> LiveServer:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = int(sock.getsockname()[1])
        self._socket = sock
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn"
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()


@contextmanager
def serve(db: Path | str, key_file: Path | None) -> Iterator[LiveServer]:
    """Serve the trial at ``db`` (HTTP on loopback, Secure cookies) for the block."""
    from resolve.web.app import create_app

    server = LiveServer(create_app(db, key_file=key_file, secure_cookies=True)).start()
    try:
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------- browser
@contextmanager
def chromium(executable: str) -> Iterator[tuple[Playwright, Browser]]:
    """Playwright and a headless Debian Chromium for the block."""
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield p, browser
        finally:
            browser.close()


def new_context(browser: Browser, size: str, base_url: str, **options: Any) -> BrowserContext:
    """A fresh browser context (own cookies) at phone or desktop size."""
    viewport: Any = SIZES[size]
    extra: dict[str, Any] = {}
    if size == "phone":
        extra = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    context = browser.new_context(
        viewport=viewport, base_url=base_url, locale="en-GB", **extra, **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


def login(page: Page, user: str, password: str) -> None:
    """Sign in through the login page and land on the dashboard."""
    page.goto("/login")
    page.get_by_label(re.compile("user name", re.I)).fill(user)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.locator("form[action='/login'] button[type=submit]").click()
    path = page.url.split("//", 1)[-1].split("/", 1)[-1]
    assert not path.startswith("login"), f"{user} could not sign in: {page.content()[:500]}"


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under ``tests/web/screenshots/`` (not committed)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the current page (axe injected by the context's init script)."""
    page.wait_for_function("() => typeof window.axe !== 'undefined'")
    result: dict[str, Any] = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                'best-practice']},
                resultTypes: ['violations'],
            });
            return {violations: r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html,
                                          summary: n.failureSummary}))}))};
        }"""
    )
    return list(result["violations"])


def serious_violations(page: Page) -> list[str]:
    """axe's serious and critical violations on the page, one readable line each."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in run_axe(page)
        if v["impact"] in ("serious", "critical")
    ]


# ----------------------------------------------------------------------------- crawling
@dataclass
class Fetched:
    """One response seen by a crawl: what a user of the role could read from it."""

    path: str
    status: int
    content_type: str
    headers: dict[str, str]
    body: str


def path_of(url: str, base_url: str) -> str | None:
    """``url``'s path and query when it is on ``base_url``'s origin, else None."""
    from urllib.parse import urljoin, urlsplit

    full = urlsplit(urljoin(base_url + "/", url))
    origin = urlsplit(base_url)
    if (full.scheme, full.netloc) != (origin.scheme, origin.netloc):
        return None
    return full.path + (f"?{full.query}" if full.query else "")


_ID_SEGMENT = re.compile(r"[^/]*\d[^/]*")


def kind(path: str) -> str:
    """A page's kind: its path with id-like segments (anything with a digit) masked.

    >>> kind("/participants/D001/record/week%2012/nrs")
    '/participants/*/record/*/nrs'
    """
    return _ID_SEGMENT.sub("*", path.split("?", 1)[0])


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag == "form" and (found.get("method") or "get").lower() == "get":
            self.links.append(str(found.get("action") or ""))


def links_in(html: str) -> list[str]:
    """The targets of the links and GET forms of an HTML page."""
    parser = _Links()
    parser.feed(html)
    return parser.links


def crawl_pages(
    page: Page,
    base_url: str,
    *,
    start: tuple[str, ...] = ("/",),
    limit: int = 250,
    skip: tuple[str, ...] = ("/static/", "/logout"),
) -> list[Fetched]:
    """Breadth-first visit of every same-origin link reachable from ``start`` (bounded).

    The first page of each :func:`kind` is loaded in the browser (its text is the
    DOM after the page's scripts ran, and requests the scripts make are fetched
    too); further pages of a kind already seen, downloads and JSON are fetched
    with the browser context's cookies (much faster, same server answer).
    """
    seen: set[str] = set()
    rendered: set[str] = set()
    queue: list[str] = list(start)
    out: list[Fetched] = []
    side: list[str] = []

    def on_request(request: Any) -> None:
        p = path_of(request.url, base_url)
        if p is not None and request.resource_type in ("fetch", "xhr"):
            side.append(p)

    page.on("request", on_request)
    try:
        while queue and len(seen) < limit:
            path = queue.pop(0)
            if path in seen or any(path.startswith(s) for s in skip):
                continue
            seen.add(path)
            if kind(path) in rendered or path.startswith("/api/"):
                fetched = fetch(page.context, base_url, path)
                links = links_in(fetched.body) if "text/html" in fetched.content_type else []
            else:
                rendered.add(kind(path))
                fetched, links = _visit(page, base_url, path)
            out.append(fetched)
            for link in links:
                p = path_of(link, base_url)
                if p is not None and "#" not in p and p not in seen:
                    queue.append(p)
            while side:
                p = side.pop(0)
                if p not in seen:
                    seen.add(p)
                    out.append(fetch(page.context, base_url, p))
    finally:
        page.remove_listener("request", on_request)
    return out


def _visit(page: Page, base_url: str, path: str) -> tuple[Fetched, list[str]]:
    try:
        response = page.goto(path)
    except Exception as exc:  # a download ("Download is starting") or a non-page answer
        if "download" not in str(exc).lower():
            raise
        return fetch(page.context, base_url, path), []
    assert response is not None, path
    headers = response.all_headers()
    ctype = headers.get("content-type", "")
    if "text/html" not in ctype:
        return fetch(page.context, base_url, path), []
    body = response.text() + "\n" + page.content()
    links: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    forms: list[str] = page.eval_on_selector_all(
        "form[method=get], form:not([method])", "els => els.map(e => e.action)"
    )
    return Fetched(path, response.status, ctype, headers, body), links + forms


def fetch(context: BrowserContext, base_url: str, path: str) -> Fetched:
    """GET ``path`` with the context's cookies (no redirects followed)."""
    response = context.request.get(base_url + path, max_redirects=0)
    headers = dict(response.headers)
    return Fetched(
        path,
        response.status,
        headers.get("content-type", ""),
        headers,
        response.body().decode("utf-8", errors="replace"),
    )


#: Values that differ between two servers of the same data: ports, tokens, times.
_VOLATILE = [
    (re.compile(r"127\.0\.0\.1:\d+"), "HOST"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "TIME"),
    (re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?\b"), "CLOCK"),
    (re.compile(r"[A-Za-z0-9_-]{32,}"), "TOKEN"),
]
_VOLATILE_HEADERS = {"date", "set-cookie", "content-length", "etag", "last-modified", "server"}


def normalised(f: Fetched) -> tuple[str, int, str, str]:
    """A response with its volatile parts (times, tokens, ports) replaced."""
    text = (
        f.body
        + "\n"
        + "\n".join(
            f"{k}: {v}" for k, v in sorted(f.headers.items()) if k.lower() not in _VOLATILE_HEADERS
        )
    )
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return f.path, f.status, f.content_type, text


def api_get_paths(
    openapi: dict[str, Any], values: dict[str, list[str]], *, per_route: int = 40
) -> list[str]:
    """Every GET route of the OpenAPI document with its path parameters filled.

    ``values`` maps a parameter name (or a part of it: ``"participant"``) to
    candidate values; a parameter with no match gets ``"1"``. At most
    ``per_route`` combinations per route.
    """
    from itertools import islice, product
    from urllib.parse import quote

    out: list[str] = []
    for template, item in sorted(openapi.get("paths", {}).items()):
        if "get" not in item:
            continue
        names = re.findall(r"\{([^}]+)\}", template)
        choices = []
        for name in names:
            match = next((v for k, v in values.items() if k in name.lower()), ["1"])
            choices.append(match)
        for combo in islice(product(*choices), per_route):
            path = template
            for name, value in zip(names, combo, strict=True):
                path = path.replace("{" + name + "}", quote(value, safe=""))
            out.append(path)
    return out
