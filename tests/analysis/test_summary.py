"""The plain-language summary: wording follows the numbers, MCID boundaries, modifiers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from resolve.analysis.plan import Plan
from resolve.analysis.result import ModifierAnalysis
from resolve.analysis.summary import (
    compare_to_mcid,
    credible_keys,
    is_credible,
    plain_summary,
    summary_sections,
)


def _primary(rows: list[tuple[str, str, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["outcome", "visit", "estimate", "conf_low", "conf_high", "p_value"]
    ).assign(contrast="resolve - sham")


def test_significant_and_not_significant_rows(plan: Plan) -> None:
    primary = _primary(
        [
            ("pain", "week 18", -0.95, -1.49, -0.41, 0.0006),
            ("pain", "week 52", -0.32, -0.86, 0.23, 0.25),
        ]
    )
    first, second = plain_summary(plan, primary)
    assert first.startswith("At week 18 (the primary visit), the difference in pain intensity")
    assert "resolve minus sham, \u22120.9 (95% CI \u22121.5 to \u22120.4)" in first
    assert "was statistically significant at the 5% level (P < .001), favouring resolve" in first
    assert "includes the minimal clinically important difference (MCID) of 1" in first
    assert "neither shown nor excluded" in first
    assert second.startswith("At week 52, ")
    assert "was not statistically significant at the 5% level (P = .25)" in second
    assert "favouring" not in second.split(";")[0]
    assert "excludes the minimal clinically important difference (MCID) of 1 in both" in second


def test_wording_changes_with_the_numbers(plan: Plan) -> None:
    """Same row, other numbers: other words (nothing is fixed text about RESOLVE)."""
    harm = _primary([("rmdq", "week 26", 2.1, 0.6, 3.6, 0.01)])
    (text,) = plain_summary(plan, harm)
    assert "disability (RMDQ 0-24)" in text and "favouring sham" in text
    assert "MCID" not in text  # the plan gives RMDQ no MCID
    level90 = replace(plan, analysis=replace(plan.analysis, conf_level=0.9))
    (text90,) = plain_summary(level90, _primary([("pain", "week 12", -0.5, -0.9, -0.1, 0.07)]))
    assert "(90% CI" in text90 and "significant at the 10% level (P = .07)" in text90
    assert "not statistically" not in text90


@pytest.mark.parametrize(
    ("low", "high", "higher_is", "reading"),
    [
        (-2.5, -1.2, "worse", "important_benefit"),
        (-2.0, -1.0, "worse", "includes_benefit"),  # a limit on the MCID is included
        (-1.0, -0.2, "worse", "includes_benefit"),
        (-0.99, 0.99, "worse", "excludes"),
        (-1.0, 1.0, "worse", "includes_both"),
        (0.2, 1.4, "worse", "includes_harm"),
        (1.01, 3.0, "worse", "important_harm"),
        (1.2, 2.5, "better", "important_benefit"),
        (-1.4, -0.2, "better", "includes_harm"),
    ],
)
def test_mcid_boundaries(low: float, high: float, higher_is: str, reading: str) -> None:
    assert compare_to_mcid(low, high, 1.0, higher_is) == reading


def test_mcid_sentences(plan: Plan) -> None:
    texts = plain_summary(
        plan,
        _primary(
            [
                ("pain", "week 12", -2.0, -2.6, -1.4, 0.0001),
                ("pain", "week 26", 1.8, 1.2, 2.4, 0.0001),
            ]
        ),
    )
    assert "whole CI lies beyond the minimal clinically important difference (MCID)" in texts[0]
    assert "in favour of resolve, so the average benefit is clinically important" in texts[0]
    assert "in favour of sham" in texts[1] and "favouring sham is clinically important" in texts[1]


def test_several_contrasts_each_named(plan: Plan) -> None:
    trial = replace(
        plan.trial, arms=("usual care", "GSR", "GSR+education"), reference_arm="usual care"
    )
    p3 = replace(plan, trial=trial)
    primary = pd.DataFrame(
        {
            "outcome": ["pain", "pain"],
            "visit": ["week 18", "week 18"],
            "contrast": ["GSR - usual care", "GSR+education - usual care"],
            "estimate": [-0.09, -1.2],
            "conf_low": [-0.6, -1.7],
            "conf_high": [0.4, -0.7],
            "p_value": [0.7, 0.0001],
        }
    )
    a, b = plain_summary(p3, primary)
    assert "GSR minus usual care, \u22120.1" in a and "not statistically significant" in a
    assert "GSR+education minus usual care, \u22121.2" in b and "favouring GSR+education" in b
    topics = [t for t, _ in summary_sections(p3, primary)]
    assert topics[0].startswith("Pain intensity (NRS 0-10), GSR minus usual care")
    assert topics[1].startswith("Pain intensity (NRS 0-10), GSR+education minus usual care")


def _responders(lo: float, hi: float, kind: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "responder": "pain_30",
                "label": "Pain reduced by at least 30%",
                "outcome": "pain",
                "visit": "week 18",
                "contrast": "resolve - sham",
                "arm": "resolve",
                "comparator": "sham",
                "n_arm": 127,
                "responders_arm": 83,
                "proportion_arm": 83 / 127,
                "n_comparator": 134,
                "responders_comparator": 65,
                "proportion_comparator": 65 / 134,
                "risk_difference": 0.1685,
                "conf_low": lo,
                "conf_high": hi,
                "ci_method": "Newcombe hybrid score (method 10)",
                "nnt_type": kind,
                "nnt": 1 / 0.1685 if kind else float("nan"),
                "nnt_low": 1 / hi if kind else float("nan"),
                "nnt_high": 1 / lo if kind else float("nan"),
            }
        ]
    )


def test_responder_headline(plan: Plan) -> None:
    (text,) = plain_summary(plan, pd.DataFrame(), responders=_responders(0.048, 0.282, "NNTB"))
    assert text.startswith("Responders (Pain reduced by at least 30%) at week 18, observed cases")
    assert "65.4% of resolve (83/127) and 48.5% of sham (65/134)" in text
    assert "risk difference 16.9 percentage points (95% CI 4.8 to 28.2" in text
    assert "number needed to treat to benefit (NNTB) 5.9 (95% CI 3.5 to 20.8)" in text
    (wide,) = plain_summary(plan, pd.DataFrame(), responders=_responders(-0.01, 0.3, ""))
    assert "the CI includes 0, so a number needed to treat is not meaningful" in wide


def _modifiers(ratings: list[str], p: list[float]) -> ModifierAnalysis:
    n = len(ratings)
    table = pd.DataFrame(
        {
            "modifier": [f"m{k}" for k in range(n)],
            "label": [f"Modifier {k}" for k in range(n)],
            "outcome": ["pain"] * n,
            "visit": ["week 52"] * n,
            "p_value": p,
        }
    )
    cred = table[["modifier", "outcome", "visit"]].assign(credibility=ratings)
    empty = pd.DataFrame()
    return ModifierAnalysis(table, empty, empty, empty, cred)


def test_modifier_sentence_says_exploratory_and_names_credible(plan: Plan) -> None:
    none = plain_summary(
        plan, pd.DataFrame(), modifiers=_modifiers(["low", "very low"], [0.1, 0.5])
    )
    assert none == [
        "The effect-modification analyses are exploratory: of 2 treatment-by-modifier "
        "interactions (2 candidate modifiers), 1 had P < 0.2, the plan's threshold for "
        "exploratory evidence; none met the credibility rule (moderate or high credibility: "
        "ICEMAN (Schandelmaier et al., CMAJ 2020) core items; overall rating by this "
        "project's documented rule)."
    ]
    (one,) = plain_summary(
        plan, pd.DataFrame(), modifiers=_modifiers(["high", "very low"], [0.0001, 0.5])
    )
    assert "1 met the credibility rule (moderate or high credibility: ICEMAN" in one
    assert "judged with ICEMAN" not in one and "by ICEMAN)" not in one
    assert "Modifier 0 on pain intensity (NRS 0-10) at week 52, interaction P < .001" in one
    assert "need confirmation in an independent trial" in one
    assert "Modifier 1 on" not in one


def test_credibility_rule() -> None:
    assert is_credible("moderate") and is_credible("High") and not is_credible("very low")
    assert is_credible(0.5) and not is_credible(0.49) and is_credible(60) and not is_credible(None)
    frame = pd.DataFrame(
        {
            "modifier": ["a", "a"],
            "outcome": ["pain"] * 2,
            "visit": ["week 18"] * 2,
            "contrast": ["x - y", "z - y"],
            "credibility": ["moderate", "low"],
        }
    )
    assert credible_keys(frame) == {("a", "pain", "week 18", "x - y")}


def test_summary_is_written_with_the_tables(tmp_path: Path, data: pd.DataFrame) -> None:
    from resolve.analysis.run import analyze, write_tables

    result = analyze(data)
    assert result.plain_summary and result.plain_summary[0].startswith("At week 18 (the primary")
    files = {p.name for p in write_tables(result, tmp_path / "out")}
    assert {"summary.txt", "table1.csv", "responders.csv", "responders.json"} <= files
    text = (tmp_path / "out" / "summary.txt").read_text(encoding="utf-8")
    assert text.split("\n\n")[0] == result.plain_summary[0]
    assert len(text.strip().split("\n\n")) == len(result.plain_summary)
