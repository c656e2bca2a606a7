"""The report's "Who benefits (exploratory)" section, on the bundled trial."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from resolve import datasets
from resolve.analysis.result import TrialAnalysis
from resolve.analysis.run import analyze
from resolve.report.html import render_html
from resolve.report.tables import fmt_ci


@pytest.fixture(scope="module")
def analysis() -> TrialAnalysis:
    return analyze(datasets.load("resolve"))


@pytest.fixture(scope="module")
def report_html(analysis: TrialAnalysis) -> str:
    return render_html(analysis)


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', html, flags=re.DOTALL)
    assert m is not None, sid
    return m.group(1)


def test_section_placed_and_labelled_exploratory(report_html: str) -> None:
    ids = re.findall(r'<section id="([^"]+)">', report_html)
    assert ids.index("modifiers") < ids.index("benefit") < ids.index("methods")
    body = _section(report_html, "benefit")
    assert "<h2>Who benefits (exploratory)</h2>" in body
    assert "following the PATH statement's recommendations" in body
    assert "No P value is given for any individual" in body
    assert "not a validated prediction rule" in body
    assert "continuous-outcome analogue of van Klaveren" in body
    assert 'aria-labelledby="fig-benefit-risk-title' in body
    assert 'aria-labelledby="fig-benefit-calibration-title' in body


def test_tables_show_the_analysis_numbers(analysis: TrialAnalysis, report_html: str) -> None:
    assert analysis.benefit is not None
    body = _section(report_html, "benefit")
    assert "risk-based view: treatment effect by group of predicted prognosis" in body
    assert "calibration and discrimination for benefit (cross-validated, exploratory)" in body
    rg = analysis.benefit.risk_groups
    for _, r in rg.iterrows():
        assert fmt_ci(r["estimate"], r["conf_low"], r["conf_high"], 2) in body
    m = analysis.benefit.models
    pain52 = m[(m.outcome == "pain") & (m.visit == "week 52")].iloc[0]
    cal = fmt_ci(
        pain52["calibration_slope"],
        pain52["calibration_slope_low"],
        pain52["calibration_slope_high"],
        2,
    )
    assert cal in body and f"{pain52['c_for_benefit']:.2f} ({pain52['n_pairs']})" in body
    assert body.count("\u221e (none)") == int((m["heterogeneity"] == "none predicted").sum())
    # P values only for the one-df interaction tests, none per participant or per group
    assert body.count("<i>P</i> =") == len(analysis.benefit.risk_tests)


def test_no_section_without_the_analysis(analysis: TrialAnalysis) -> None:
    html = render_html(replace(analysis, benefit=None))
    assert 'id="benefit"' not in html and "Who benefits" not in html
