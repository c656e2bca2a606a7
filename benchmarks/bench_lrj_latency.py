"""Key-to-next-image latency of the left/right judgement task, measured in the browser.

A demo trial (:func:`resolve.cli.serve.make_demo_trial`) gets a participant in
the active arm with a programme link; the app is served by uvicorn on a free
loopback port, and Debian's Chromium (headless, through Playwright) opens the
patient's LRJ page and does ``--blocks`` blocks by keyboard, answering each
image once it is shown. The page's own script (``static/programme.js``)
measures, per answer, with ``performance.now()``:

- **latency**: from the key's input event (``event.timeStamp``) to the first
  animation frame that shows the next image (``requestAnimationFrame`` after the
  images were decoded; the image is inserted in the key handler);
- **painted**: to the animation frame after that one, by which the next image
  has been painted (an upper bound, one frame later).

Also reported: the time from pressing Start to the first image (the block's
images fetched and decoded; the first block renders them on the server, later
blocks are served from the server's image cache or rendered anew for images not
seen yet). Goal: median latency < 50 ms.

    RESOLVE_TEST_CHROMIUM=/usr/bin/chromium .venv/bin/python benchmarks/bench_lrj_latency.py
    .venv/bin/python benchmarks/bench_lrj_latency.py --blocks 8 --json latency.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

GOAL_MEDIAN_MS = 50.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _trial(folder: Path) -> tuple[Path, Path, str]:
    """The demo trial plus an active-arm participant with a programme link: (db, key, path)."""
    from resolve import ops
    from resolve.cli.serve import make_demo_trial

    db, key_file, _ = make_demo_trial(folder)
    enroller = ops.Client(db, user="enroller", key_file=key_file)
    admin = ops.Client(db, user="admin", key_file=key_file)
    for i in range(1, 40):
        pid = f"LAT{i:02d}"
        enroller.run(ops.screen, pid, age=50, duration_weeks=40, pain=6, identity=f"lat {i}")
        enroller.run(ops.consent, pid, version="1.0")
        if enroller.run(ops.randomise, pid) == "resolve":
            break
    else:  # pragma: no cover - 39 coin flips all sham
        raise SystemExit("no participant was allocated to the active arm")
    admin.run(ops.assign_clinician, pid, clinician="clinician")
    path, _ = ops.Client(db, user="clinician", key_file=key_file).run(
        ops.create_programme_link, pid
    )
    return db, key_file, path


class _Server:
    """The app under uvicorn in a background thread on 127.0.0.1."""

    def __init__(self, db: Path, key_file: Path) -> None:
        import uvicorn

        from resolve.web.app import create_app

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            create_app(db, key_file=key_file), log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def _block(page: Any, side_of: Any) -> dict[str, Any]:
    """One block by keyboard: per-answer latencies (ms) and the time to the first image."""
    from playwright.sync_api import expect

    page.evaluate("() => { resolveProgramme.latencies = []; resolveProgramme.painted = []; }")
    start = time.perf_counter()
    page.locator(".lrj-task .task-begin:visible").click()
    counter = page.locator(".lrj-count")
    page.wait_for_function(
        "() => /^1 of /.test(document.querySelector('.lrj-count').textContent)", timeout=120_000
    )
    first_image_s = time.perf_counter() - start
    total = int(counter.inner_text().split()[-1])
    for k in range(total):
        page.wait_for_function(
            f"() => document.querySelector('.lrj-count').textContent.startsWith('{k + 1} of ')"
        )
        src = page.locator(".lrj-stage img").get_attribute("src") or ""
        key = "ArrowLeft" if side_of(src.rsplit("/", 1)[-1]) == "left" else "ArrowRight"
        page.keyboard.press(key)
    expect(page.locator(".lrj-task [data-phase=result]")).to_be_visible(timeout=60_000)
    got = page.evaluate("() => resolveProgramme")
    return {
        "trials": total,
        "first_image_s": first_image_s,
        "latency_ms": list(got["latencies"]),
        "painted_ms": list(got["painted"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5, help="LRJ blocks to do (default 5)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args(argv)
    if not 1 <= args.blocks <= 50:
        print("--blocks must be 1 to 50", file=sys.stderr)
        return 2
    chromium = os.environ.get("RESOLVE_TEST_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        print("needs chromium (RESOLVE_TEST_CHROMIUM or chromium on PATH)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    from resolve.ops.programme_images import image_spec

    def side_of(file: str) -> str:
        return str(image_spec(file).side)

    folder = Path(tempfile.mkdtemp(prefix="bench-lrj-"))
    blocks: list[dict[str, Any]] = []
    try:
        db, key_file, path = _trial(folder)
        with _Server(db, key_file) as server, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(server.url + path + "/lrj")
                for _ in range(args.blocks):
                    blocks.append(_block(page, side_of))
            finally:
                browser.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    latency = [x for b in blocks for x in b["latency_ms"]]
    painted = [x for b in blocks for x in b["painted_ms"]]
    print(
        f"LRJ key-to-next-image latency in headless Chromium ({platform.machine()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})"
    )
    print(
        f"{args.blocks} blocks, {sum(b['trials'] for b in blocks)} images, "
        f"{len(latency)} answers followed by an image"
    )
    for name, values in (
        ("latency (to the frame showing it)", latency),
        ("painted (to the next frame)", painted),
    ):
        print(
            f"  {name:36s} median {statistics.median(values):6.1f} ms  p95 "
            f"{_percentile(values, 0.95):6.1f} ms  max {max(values):6.1f} ms"
        )
    firsts = ", ".join(f"{b['first_image_s']:.2f}" for b in blocks)
    print(f"  Start to first image (s), per block: {firsts}")
    median = statistics.median(latency)
    verdict = "met" if median < GOAL_MEDIAN_MS else "NOT met"
    print(f"goal: median latency < {GOAL_MEDIAN_MS:.0f} ms: {verdict} ({median:.1f} ms)")
    if args.json:
        args.json.write_text(json.dumps(blocks, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
