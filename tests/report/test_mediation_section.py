"""The report's "Mechanisms: causal mediation" section: contents, numbers, figures, browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from resolve.analysis import load_plan
from resolve.analysis.mediation.planned import PlannedMediation, mediation_analysis
from resolve.analysis.result import TrialAnalysis
from resolve.report import write_report
from resolve.report.html import render_html
from resolve.report.mediation_figures import best_rows, sensitivity_pairs
from resolve.report.tables import fmt_ci
from resolve.simulate import simulate_trial
from resolve.simulate.mediators import mediation_scenario
from tests.report.fake_analysis import make_analysis
from tests.web import _browser as b

LABEL = "a simulated trial with mediators (test)"


@pytest.fixture(scope="module")
def mediation() -> PlannedMediation:
    data = simulate_trial(mediation_scenario(), seed=5)
    return mediation_analysis(data, load_plan(), boot=200, data_label=LABEL)


@pytest.fixture(scope="module")
def analysis(mediation: PlannedMediation) -> TrialAnalysis:
    return replace(make_analysis(), mediation=mediation)


@pytest.fixture(scope="module")
def section(analysis: TrialAnalysis) -> str:
    html = render_html(analysis)
    ids = re.findall(r'<section id="([^"]+)">', html)
    assert ids.index("mediation") == ids.index("methods") - 1
    m = re.search(r'<section id="mediation">(.*?)</section>', html, flags=re.DOTALL)
    assert m is not None
    return m.group(1)


def test_key_box_states_question_assumptions_data_and_placeholders(section: str) -> None:
    assert "<h2>Mechanisms: causal mediation</h2>" in section
    assert LABEL in section and "natural indirect effect" in section
    assert "no unmeasured factor affects both" in section
    assert "interventional</b> effects (Vansteelandt &amp; Daniel 2017)" in section
    assert "Placeholders." in section and "[mediation] confounders" in section
    assert "mediator coordination" in section
    assert "percentile bootstrap (200 resamples of participants)" in section


def test_table_shows_the_bootstrap_numbers(section: str, mediation: PlannedMediation) -> None:
    rows = best_rows(mediation.result.effects)
    nie = rows.query("outcome == 'pain' and mediator == 'bbq' and effect == 'nie'").iloc[0]
    assert nie["ci_method"] == "percentile"
    assert fmt_ci(nie["estimate"], nie["conf_low"], nie["conf_high"], 2) in section
    te = rows.query("outcome == 'rmdq' and mediator == 'joint' and effect == 'te'").iloc[0]
    assert f"total effect {fmt_ci(te['estimate'], te['conf_low'], te['conf_high'], 2)}" in section
    th = next(
        t
        for t in mediation.result.settings["rho_thresholds"]
        if (t["outcome"], t["mediator"]) == ("pain", "bbq")
    )
    assert f"{th['ci_zero']:.2f}".replace("-", "\u2212") in section
    assert "All mediators jointly" in section and "Back beliefs (BBQ)" in section


def test_figures_path_diagrams_forest_and_sensitivity(
    section: str, mediation: PlannedMediation
) -> None:
    for key in ("fig-mediation-forest", "fig-mediation-paths-pain", "fig-mediation-paths-rmdq"):
        assert f'aria-labelledby="{key}-title' in section, key
    # the forest plot's dotted total is the joint model's total effect, as in the table
    te = best_rows(mediation.result.effects).query(
        "outcome == 'pain' and mediator == 'joint' and effect == 'te'"
    )
    assert f"total {float(te['estimate'].iloc[0]):.2f}".replace("-", "\u2212") in section
    pairs = sensitivity_pairs(mediation.result.sensitivity)
    assert pairs and 'aria-labelledby="fig-mediation-sensitivity-title' in section
    # every mediator has its panel: its label is in the path figure's description
    paths = re.search(r'<desc id="fig-mediation-paths-pain-desc">(.*?)</desc>', section)
    assert paths is not None
    for name in ("Pain self-efficacy (PSEQ)", "Tactile acuity", "Movement coordination"):
        assert name in paths.group(1)
    a = mediation.result.paths.query("outcome == 'pain' and mediator == 'bbq' and path == 'a'")
    est = f"{float(a['estimate'].iloc[0]):.2f}".replace("-", "\u2212")
    assert f"a {est} (" in paths.group(1)


def test_notes_list_the_warnings(section: str, mediation: PlannedMediation) -> None:
    assert f"Notes on the mediation models ({len(mediation.result.warnings)})" in section
    assert "complete cases:" in section


# ----------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def report(analysis: TrialAnalysis, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mediation-report")
    return write_report(analysis, out, data_label="bundled example trial")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = b.require_browser()
    with b.chromium(exe) as (_, chromium):
        yield chromium


@pytest.mark.slow
@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_section_in_a_browser(report: Path, browser: Any, width: int, height: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    context.set_default_timeout(b.TIMEOUT_MS)
    context.add_init_script(path=str(b.AXE_JS))
    page = context.new_page()
    try:
        page.goto(report.as_uri())
        overflow = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert overflow[0] <= overflow[1], overflow
        # the section's figures are drawn (visible, non-zero size) at this width
        boxes = page.eval_on_selector_all(
            "#mediation figure svg",
            "els => els.map(e => [e.getBoundingClientRect().width,"
            " e.getBoundingClientRect().height])",
        )
        assert len(boxes) == 4 and all(w > 300 and h > 100 for w, h in boxes), boxes
        # no text of a mediation figure drawn over another text of the same figure
        overlaps = page.evaluate(
            """() => {
  const out = [];
  for (const svg of document.querySelectorAll('#mediation figure svg')) {
    const t = [...svg.querySelectorAll('text')]
      .map(x => [x.textContent, x.getBoundingClientRect()]);
    for (let i = 0; i < t.length; i++) for (let j = i + 1; j < t.length; j++) {
      const [a, p] = t[i], [c, q] = t[j];
      const dx = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const dy = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (dx > 1 && dy > 1) out.push([a, c]);
    }
  }
  return out;
}"""
        )
        assert not overlaps, overlaps
        problems = b.serious_violations(page)
        assert not problems, problems
        page.locator("#mediation").screenshot(path=f"/tmp/mediation_report_{width}.png")
    finally:
        context.close()


def test_sensitivity_panels_are_the_curves_excluding_zero_at_rho_zero() -> None:
    import pandas as pd

    def curve(m: str, nie0: float, low0: float, high0: float) -> pd.DataFrame:
        return pd.DataFrame({"outcome": "pain", "mediator": m, "rho": [-0.1, 0.0, 0.1],
                             "nie": [nie0 + 0.1, nie0, nie0 - 0.1],
                             "conf_low": [-9.0, low0, -9.0],
                             "conf_high": [9.0, high0, 9.0]})  # fmt: skip

    sens = pd.concat(
        [curve("a", -0.2, -0.3, -0.1), curve("b", 0.3, -0.1, 0.7), curve("c", -0.4, -0.6, -0.2)]
    )
    # a and c exclude 0 at rho = 0 (largest |NIE| first); b's interval covers 0 there
    assert sensitivity_pairs(sens) == [("pain", "c"), ("pain", "a")]
    covering = sens.assign(conf_low=-9.0, conf_high=9.0)
    assert sensitivity_pairs(covering, limit=2) == [("pain", "c"), ("pain", "b")]
