"""ICEMAN-style credibility rule: behaviour on constructed tables and on the bundled trial."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis.credibility import COLUMNS, LEVELS, assess_credibility
from resolve.analysis.effect_modifiers import analyse_modifiers
from resolve.analysis.plan import Plan, load_plan
from resolve.errors import DataValidationError


def _row(
    modifier: str, outcome: str, visit: str, estimate: float, p: float, **kw: Any
) -> dict[str, Any]:
    row = {
        "modifier": modifier, "type": "continuous", "outcome": outcome, "visit": visit,
        "estimate": estimate, "p_value": p, "in_family": visit in ("week 18", "week 52"),
        "direction_hypothesised": "+", "direction_observed": "+" if estimate > 0 else "-",
        "contrast": "resolve - sham",
    }  # fmt: skip
    row.update(kw)
    return row


def _table(rows: list[dict[str, Any]], family_size: int | None = None) -> pd.DataFrame:
    """Rows plus filler null results (p = 0.9) for pcs so the family is 32 tests."""
    t = pd.DataFrame(rows)
    fam = t[t.in_family]
    n_fill = (family_size or 32) - len(fam)
    filler = [_row("pcs", "pain", "week 18", 0.01, 0.9) for _ in range(max(n_fill, 0))]
    t = pd.concat([t, pd.DataFrame(filler)], ignore_index=True)
    from resolve.analysis.multiplicity import adjust_p

    for method, col in (("holm", "p_holm"), ("bh", "p_bh")):
        t[col] = np.nan
        f = t.in_family.to_numpy(bool)
        t.loc[f, col] = adjust_p(t.loc[f, "p_value"].to_numpy(float), method)
    return t


def _rating(cred: pd.DataFrame, modifier: str, outcome: str, visit: str) -> pd.Series:
    return cred.query("modifier == @modifier and outcome == @outcome and visit == @visit").iloc[0]


def _frebaq(p: float = 0.0002, **kw: Any) -> list[dict[str, Any]]:
    """A strong finding at pain week 52 with consistent related family results."""
    return [
        _row("frebaq", "pain", "week 52", 0.2, p, **kw),
        _row("frebaq", "pain", "week 18", 0.1, 0.15),
        _row("frebaq", "rmdq", "week 18", 0.1, 0.5),
        _row("frebaq", "rmdq", "week 52", 0.1, 0.4),
    ]


def test_strong_prespecified_consistent_finding_is_high(plan: Plan) -> None:
    cred = assess_credibility(_table(_frebaq()), plan)
    r = _rating(cred, "frebaq", "pain", "week 52")
    assert r.credibility == "high"
    assert (r.interaction_test, r.multiplicity, r.consistency) == (
        "definitely yes",
        "definitely yes",
        "definitely yes",
    )
    assert r.direction_prespecified == "definitely yes" and r.baseline_modifier == "definitely yes"
    assert r.prior_evidence == "not assessed" and r.continuous_modifier == "definitely yes"
    assert r.n_modifiers == 2 and r.n_family_tests == 32
    assert "=> high" in r.rationale
    assert list(cred.columns) == COLUMNS


def test_opposite_direction_is_very_low(plan: Plan) -> None:
    rows = _frebaq()
    rows[0] = _row("frebaq", "pain", "week 52", -0.2, 0.0002)
    r = _rating(assess_credibility(_table(rows), plan), "frebaq", "pain", "week 52")
    assert r.direction_prespecified == "definitely no" and r.credibility == "very low"


def test_interaction_p_sets_the_starting_level(plan: Plan) -> None:
    # p = 0.004 survives neither Holm nor BH over 32 tests: moderate - 1 = low
    r = _rating(assess_credibility(_table(_frebaq(p=0.004)), plan), "frebaq", "pain", "week 52")
    assert r.interaction_test == "probably yes" and r.multiplicity == "probably no"
    assert r.credibility == "low"
    # in a family of 4 tests Holm keeps it: moderate
    r = _rating(assess_credibility(_table(_frebaq(p=0.004), family_size=4), plan),
                "frebaq", "pain", "week 52")  # fmt: skip
    assert r.multiplicity == "definitely yes" and r.credibility == "moderate"
    # p = 0.03: low, and minus one for multiplicity
    r = _rating(assess_credibility(_table(_frebaq(p=0.03)), plan), "frebaq", "pain", "week 52")
    assert r.interaction_test == "probably no" and r.credibility == "very low"


def test_outside_the_family_drops_two_levels(plan: Plan) -> None:
    rows = [*_frebaq(p=0.5), _row("frebaq", "pain", "week 26", 0.2, 0.0005)]
    r = _rating(assess_credibility(_table(rows), plan), "frebaq", "pain", "week 26")
    assert r.multiplicity == "definitely no" and r.credibility == "low"


def test_inconsistent_related_results_drop_one_level(plan: Plan) -> None:
    rows = _frebaq()
    rows[1] = _row("frebaq", "pain", "week 18", -0.1, 0.1)  # opposite sign, p < 0.2
    rows[2] = _row("frebaq", "rmdq", "week 18", -0.1, 0.5)
    rows[3] = _row("frebaq", "rmdq", "week 52", -0.1, 0.5)
    r = _rating(assess_credibility(_table(rows), plan), "frebaq", "pain", "week 52")
    assert r.consistency == "definitely no" and r.credibility == "moderate"


def test_consistency_uses_a_common_outcome_orientation(plan: Plan) -> None:
    better = tuple(replace(o, higher_is="better") if o.name == "rmdq" else o for o in plan.outcomes)
    p2 = replace(plan, outcomes=better)
    rows = _frebaq()
    # on a higher = better outcome the same modification has the opposite sign
    rows[2] = _row("frebaq", "rmdq", "week 18", -0.1, 0.1)
    rows[3] = _row("frebaq", "rmdq", "week 52", -0.1, 0.1)
    r = _rating(assess_credibility(_table(rows), p2), "frebaq", "pain", "week 52")
    assert r.consistency == "definitely yes"


def test_direction_not_stated_in_the_plan_file(plan: Plan, tmp_path: Path) -> None:
    text = (Path(load_plan.__code__.co_filename).parent / "plans" / "resolve.toml").read_text()
    block = 'name = "frebaq"'
    head, tail = text.split(block)
    tail = tail.replace('direction = "+"\n', "", 1)
    path = tmp_path / "plan.toml"
    path.write_text(head + block + tail)
    p2 = load_plan(path)
    r = _rating(assess_credibility(_table(_frebaq()), p2), "frebaq", "pain", "week 52")
    assert r.direction_prespecified == "probably no" and r.credibility == "moderate"


def test_selection_and_binary_modifier(plan: Plan) -> None:
    rows = [
        _row("psychoactive", "pain", "week 18", 0.5, 0.3, type="binary"),
        _row("bbq", "rmdq", "week 18", 0.1, 0.6),
        _row("bbq", "rmdq", "week 52", 0.1, 0.7),
    ]
    cred = assess_credibility(_table(rows), plan)
    # nothing below the exploratory threshold: the smallest P per outcome is assessed
    assert set(zip(cred.modifier, cred.outcome, strict=True)) == {
        ("psychoactive", "pain"),
        ("bbq", "rmdq"),
    }
    r = _rating(cred, "psychoactive", "pain", "week 18")
    assert r.continuous_modifier == "not applicable" and r.credibility == "very low"
    assert set(cred.credibility) <= set(LEVELS)


def test_missing_columns_are_named(plan: Plan) -> None:
    with pytest.raises(DataValidationError, match="p_holm"):
        assess_credibility(pd.DataFrame(_frebaq()), plan)


def test_bundled_trial_frebaq_is_the_one_credible_modifier(plan: Plan) -> None:
    res = analyse_modifiers(datasets.load("resolve"), plan)
    cred = res.credibility
    good = cred[cred.credibility.isin(["moderate", "high"])]
    assert list(zip(good.modifier, good.outcome, good.visit, strict=True)) == [
        ("frebaq", "pain", "week 52")
    ]
    # every exploratory finding was assessed, and the chance findings rate very low or low
    assert len(cred) == int(res.table.exploratory.sum())
    assert set(cred.credibility) - {"moderate", "high"} <= {"very low", "low"}
    assert cred.rationale.str.len().min() > 50
