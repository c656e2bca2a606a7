"""The design report in a real browser: phone and desktop layout, axe-core, screenshots.

Debian's Chromium through Playwright (:mod:`tests.web._browser`; skipped without
``RESOLVE_TEST_CHROMIUM`` or ``chromium`` on PATH, a failure under CI). The
report is opened from disk (``file://``), as a user opens it. Screenshots go to
``/tmp/design_report_390.png`` and ``/tmp/design_report_1280.png`` for a look.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.report.test_design_report import META, answer, power_rows
from tests.web import _browser as b

pytestmark = pytest.mark.slow


#: [texts outside their SVG's box, pairs of texts whose boxes overlap] over every figure.
_TEXT_CHECK = """() => {
  const clipped = [], overlaps = [];
  for (const svg of document.querySelectorAll('figure svg')) {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')]
      .map(t => [t.textContent, t.getBoundingClientRect()]);
    for (const [text, r] of texts) {
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
          || r.bottom > box.bottom + 1) clipped.push(text);
    }
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
      const [a, p] = texts[i], [b, q] = texts[j];
      const dx = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const dy = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (dx > 1 && dy > 1) overlaps.push([a, b]);
    }
  }
  return [clipped, overlaps];
}"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample-size report: all-comers, two enrichment designs, a second test, OC."""
    from resolve.report.design import write_design_report

    rows = power_rows("parallel", [100, 200, 400, 800, 1600], n50=2400)
    rows += power_rows("enrichment frebaq<=12", [100, 150, 176, 188, 194, 196, 200, 400],
                       n50=145, eligible=0.56)  # fmt: skip
    rows += power_rows("enrichment frebaq<=14", [100, 200, 300, 350, 362, 364, 400],
                       n50=270, eligible=0.68)  # fmt: skip
    power = pd.DataFrame(rows)
    sizes = [answer(power, d) for d in dict.fromkeys(power["design"])]
    sizes[2]["eligible"] = 0.68
    oc = pd.DataFrame(
        [
            {"design": d, "n": 400, "target": "treatment:pain:week 52", "adjustment": "none",
             "truth": -0.3, "metric": m, "value": v, "mc_se": 0.01}
            for d in dict.fromkeys(power["design"])
            for m, v in [("bias", 0.01), ("coverage", 0.95), ("rejection", 0.7)]
        ]
    )  # fmt: skip
    out = tmp_path_factory.mktemp("design-report")
    return write_design_report(
        out, power, sample_sizes=sizes, meta=META, title="Sample size by simulation", oc=oc
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = b.require_browser()
    with b.chromium(exe) as (_, chromium):
        yield chromium


@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_layout_and_accessibility(report: Path, browser: Any, width: int, height: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    context.set_default_timeout(b.TIMEOUT_MS)
    context.add_init_script(path=str(b.AXE_JS))
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(report.as_uri())
        # nothing fetched but the file itself: no external CSS, fonts, scripts or images
        assert requests == [report.as_uri()]
        # the page never scrolls sideways; wide tables and figures scroll in their own box
        overflow = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.body.scrollWidth,"
            " document.documentElement.clientWidth]"
        )
        assert max(overflow[:2]) <= overflow[2], overflow
        # every figure is visible and drawn at a readable width
        boxes = page.eval_on_selector_all(
            "figure svg", "els => els.map(e => e.getBoundingClientRect().width)"
        )
        assert len(boxes) == 2 and min(boxes) >= min(width - 40, 500), boxes
        # no text of a figure cut off at its edge or drawn over another text
        clipped, overlaps = page.evaluate(_TEXT_CHECK)
        assert not clipped, clipped
        assert not overlaps, overlaps
        problems = b.serious_violations(page)
        assert not problems, problems
        page.screenshot(path=f"/tmp/design_report_{width}.png", full_page=True)
    finally:
        context.close()
