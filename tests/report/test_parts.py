"""Formatting helpers, the CONSORT diagram and figure helpers, one at a time."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from resolve.analysis.plan import load_plan
from resolve.analysis.result import TrialAnalysis
from resolve.report.consort import consort_svg
from resolve.report.figures import (
    _binary_ticks,
    _quantile_label,
    forest_figure,
    select_findings,
    visit_axis,
)
from resolve.report.html import credible_findings
from resolve.report.tables import fmt_ci, fmt_num, fmt_p


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.0004, "<.001"), (0.0042, ".004"), (0.0312, ".03"), (0.2, ".20"), (0.996, ">.99")],
)
def test_fmt_p_follows_jama(p: float, text: str) -> None:
    assert fmt_p(p) == text


def test_fmt_p_passes_text_and_marks_missing() -> None:
    assert fmt_p(".13") == ".13"
    assert fmt_p(np.nan) == fmt_p(None) == "\u2014"


def test_numbers_use_true_minus_and_no_negative_zero() -> None:
    assert fmt_num(-1.234, 2) == "\u22121.23"
    assert fmt_num(-0.04, 1) == "0.0"
    assert fmt_ci(-1.0, -1.5, -0.4) == "\u22121.0 (\u22121.5 to \u22120.4)"
    assert fmt_ci(np.nan, 0, 1) == "\u2014"


def test_visit_axis_uses_plan_times_else_names() -> None:
    from dataclasses import replace

    plan = load_plan()
    pos, ticks, label = visit_axis(plan, ["week 52", "baseline"])
    assert pos == {"baseline": 0.0, "week 52": 52.0} and ticks == ["0", "52"]
    assert label == plan.trial.time_label
    trial = replace(plan.trial, visits=("T0", "T1", "T2"), baseline_visit="T0",
                    primary_visit="T1", visit_times=None)  # fmt: skip
    pos, ticks, label = visit_axis(replace(plan, trial=trial), ["T2", "T0", "T1"])
    assert ticks == ["T0", "T1", "T2"] and list(pos.values()) == [0.0, 1.0, 2.0]
    assert label == "Visit"


def test_label_helpers() -> None:
    assert _binary_ticks("user vs non-user") == ["non-user", "user"]
    assert _binary_ticks("yes") == ["0", "1"]
    assert _quantile_label("p25") == "25th centile"
    assert _quantile_label("Q1") == "Q1"


def test_credible_findings_reads_text_and_numbers() -> None:
    frame = pd.DataFrame(
        {
            "modifier": ["a", "b", "c", "d"],
            "outcome": ["pain"] * 4,
            "visit": ["week 18"] * 4,
            "credibility": ["moderate", "very low", "high", "low"],
        }
    )
    assert credible_findings(frame) == {("a", "pain", "week 18"), ("c", "pain", "week 18")}
    frame["credibility"] = [0.7, 0.2, 80.0, 10.0]
    assert credible_findings(frame) == {("a", "pain", "week 18"), ("c", "pain", "week 18")}
    assert credible_findings(None) == set()


def test_select_findings_ranks_credible_then_p(analysis: TrialAnalysis) -> None:
    assert analysis.modifiers is not None
    table = analysis.modifiers.table
    worst = table.sort_values("p_value").iloc[-1]
    key = (str(worst["modifier"]), str(worst["outcome"]), str(worst["visit"]))
    chosen = select_findings(table, exploratory_p=0.2, credible={key}, limit=4)
    assert chosen[0][:3] == key and len(chosen) == 4
    assert {len(k) for k in chosen} == {4}  # (modifier, outcome, visit, contrast)
    ps = [
        float(
            table[(table.modifier == m) & (table.outcome == o) & (table.visit == v)].p_value.iloc[0]
        )
        for m, o, v, _ in chosen[1:]
    ]
    assert ps == sorted(ps) and all(p < 0.2 for p in ps)
    none = select_findings(table.assign(p_value=0.9), exploratory_p=0.2, limit=3)
    assert len(none) == 3


def test_consort_overall_then_arms() -> None:
    flow = pd.DataFrame(
        {
            "stage": [
                "randomised",
                "allocated",
                "allocated",
                "follow-up week 18",
                "follow-up week 18",
                "missing",
                "analysed",
                "analysed",
            ],
            "arm": ["all", "sham", "resolve", "sham", "resolve", "resolve", "sham", "resolve"],
            "n": [276, 138, 138, 134, 129, 9, 138, 138],
            "detail": ["", "", "", "with pain", "with pain", "no pain <week 18>", "", ""],
            "visit": [None, None, None, "week 18", "week 18", "week 18", None, None],
        }
    )
    svg = consort_svg(flow, ["sham", "resolve"])
    assert svg.count("<rect") == 7  # 1 overall + 3 stages x 2 arms; "missing" is a side line
    assert "n = 276" in svg and ">Missing (n\u00a0=\u00a09): no pain " in svg
    assert "resolve: n = 129 (Missing (n = 9): no pain &lt;week 18&gt;)" in svg  # <desc>
    assert "&lt;week 18&gt;" in svg  # escaped
    assert svg.index(">sham<") < svg.index(">resolve<")  # arm names exactly as written
    assert len(re.findall(r"marker-end", svg)) == 6


def _boxes(svg: str) -> list[tuple[float, float, float, float, list[str]]]:
    """Each box of a diagram as (x, y, width, height, its text lines), nbsp as spaces."""
    rects = [
        tuple(float(v) for v in m.groups())
        for m in re.finditer(
            r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg
        )
    ]
    texts = [
        (float(m.group(1)), float(m.group(2)), m.group(3).replace("\u00a0", " "))
        for m in re.finditer(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg)
    ]
    return [
        (x, y, w, h, [t for tx, ty, t in texts if x <= tx <= x + w and y < ty < y + h])
        for x, y, w, h in rects
    ]


def test_consort_lines_beneath_a_box_and_rows_of_equal_height() -> None:
    """A stage "<box>: <what>" is a line of that box (same arm and visit), not a new box."""
    flow = pd.DataFrame(
        {
            "stage": [
                "randomised",
                "allocated",
                "allocated",
                "allocated: randomised in error",
                "follow-up week 26",
                "follow-up week 26",
                "follow-up week 26: withdrawn",
                "follow-up week 26: lost to follow-up",
                "analysed",
                "analysed",
            ],
            "arm": ["all", "A", "B", "B", "A", "B", "A", "A", "A", "B"],
            "n": [20, 10, 10, 1, 8, 10, 1, 1, 9, 10],
            "detail": ["", "", "", "kept in the arm (ITT)", "", "", "", "", "", ""],
            "visit": [
                None,
                None,
                None,
                None,
                "week 26",
                "week 26",
                "week 26",
                "week 26",
                None,
                None,
            ],
        }
    )
    svg = consort_svg(flow, ["A", "B"])
    boxes = _boxes(svg)
    assert len(boxes) == 7  # randomised + 3 stages x 2 arms
    by_title = {(b[4][1] if b[4][0] in "AB" else b[4][0], b[0]): b for b in boxes}
    left, right = sorted({b[0] for b in boxes if b[2] < 250})
    fu_a, fu_b = by_title[("Follow-up week 26", left)], by_title[("Follow-up week 26", right)]
    assert fu_a[4][-2:] == ["Withdrawn (n = 1)", "Lost to follow-up (n = 1)"]
    assert not any("(n = " in t for t in fu_b[4])
    alloc_b = by_title[("Allocated", right)]
    assert "Randomised in error (n = 1): kept in the arm (ITT)" in " ".join(alloc_b[4])
    assert not any("error" in t for t in by_title[("Allocated", left)][4])
    for stage in ("Allocated", "Follow-up week 26", "Analysed"):  # one row, one height
        assert by_title[(stage, left)][3] == by_title[(stage, right)][3]
    assert "Follow-up week 26, A: n = 8 (Withdrawn (n = 1); Lost to follow-up (n = 1))" in svg


def test_consort_synthesises_randomised_total_for_per_arm_rows() -> None:
    flow = pd.DataFrame(
        {
            "stage": ["randomised", "randomised", "included", "included"],
            "arm": ["sham", "resolve", "sham", "resolve"],
            "n": [10, 12, 9, 12],
            "detail": ["", "", "", ""],
            "outcome": [np.nan, np.nan, "pain", "pain"],
        }
    )
    svg = consort_svg(flow, outcome="pain")
    assert "n = 22" in svg and ">Allocated<" in svg


def test_forest_handles_one_outcome(analysis: TrialAnalysis) -> None:
    assert analysis.modifiers is not None
    one = analysis.modifiers.table.query("outcome == 'pain' and visit == 'week 18'")
    svg = forest_figure(one, load_plan())
    assert len(re.findall(r'id="fig-forest-forest-row-', svg)) == len(one)
