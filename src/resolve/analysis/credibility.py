"""ICEMAN-style credibility of apparent effect modification in a randomised trial.

ICEMAN (Schandelmaier et al., CMAJ 2020;192:E901-6) asks five core questions of
a claimed effect modification in an RCT and leaves the overall rating (very low
to high) to the assessor's judgement. This module answers the questions that
the plan and the results can answer, and combines them by a fixed, documented
rule so the rating is reproducible. It is an aid to, not a substitute for, a
human ICEMAN assessment: prior evidence (ICEMAN's item on support from other
studies) cannot be judged from the trial alone and is reported "not assessed".

Which findings are assessed
---------------------------
Every row of the modifier table with P < ``exploratory_p`` (the plan's
exploratory threshold); an outcome with no such row contributes its smallest-P
row, so each outcome has at least one assessment.

Items (responses "definitely yes", "probably yes", "probably no",
"definitely no", "not applicable", "not assessed")
-------------------------------------------------------------------------------
``direction_prespecified``
    The plan states a direction for the modifier (the file has a ``direction``
    key) and the observed sign matches: definitely yes; stated but opposite:
    definitely no; not stated: probably no.
``baseline_modifier``
    Measured before randomisation: definitely yes by construction (the plan's
    modifiers are baseline characteristics and the data are checked to be
    constant within participant).
``interaction_test``
    Does the test of interaction make chance an unlikely explanation?
    P < 0.001 definitely yes; P < 0.01 probably yes; P < 0.05 probably no;
    otherwise definitely no (thresholds chosen by this project).
``multiplicity``
    Few modifiers, or the number tested taken into account: in the
    pre-specified family and Holm-adjusted P < α (α = 1 − conf_level):
    definitely yes; BH-adjusted P < α: probably yes; in the family but
    neither: probably no; outside the pre-specified family (post hoc time
    point): definitely no. With no adjustment method in the plan, a family of
    one test is definitely yes and larger families probably no.
``continuous_modifier``
    Continuous modifiers are analysed as continuous (definitely yes); binary
    modifiers: not applicable. (A binary modifier that is a dichotomised
    continuous measure cannot be detected from the plan.)
``consistency``
    Same modifier and contrast, the other outcome/visit cells of the
    pre-specified family, with signs put on a common "higher = worse" scale.
    None opposite with P < exploratory_p, every one the same sign and at
    least one with P < exploratory_p: definitely yes; none opposite with
    P < exploratory_p and (one same-sign with P < exploratory_p or all same
    sign): probably yes; definitely no when at least one is opposite with
    P < exploratory_p and none the same sign with P < exploratory_p;
    otherwise probably no.
``prior_evidence``
    Not assessed (needs the literature).

Overall rating (deterministic)
------------------------------
1. Start from the interaction P: < 0.001 high, < 0.01 moderate, < 0.05 low,
   otherwise very low.
2. Very low outright when the observed direction is opposite to the
   pre-specified one.
3. Move down one level for each of: direction not pre-specified;
   multiplicity "probably no"; consistency "definitely no". Move down two
   levels for multiplicity "definitely no" (outside the pre-specified family).
4. Never below very low; nothing moves a rating up.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis.effect_modifiers import analyse_modifiers
>>> res = analyse_modifiers(datasets.load("resolve"))
>>> top = res.credibility.iloc[0]
>>> top.modifier, top.outcome, top.visit, top.credibility
('frebaq', 'pain', 'week 52', 'high')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from resolve._validation import require_columns
from resolve.analysis.plan import Plan

__all__ = ["LEVELS", "assess_credibility"]

#: Credibility levels, lowest first.
LEVELS = ("very low", "low", "moderate", "high")

COLUMNS = [
    "modifier", "outcome", "visit", "contrast", "estimate", "p_value", "p_holm", "p_bh",
    "direction_prespecified", "baseline_modifier", "interaction_test", "multiplicity",
    "continuous_modifier", "consistency", "prior_evidence", "n_modifiers", "n_family_tests",
    "credibility", "rationale",
]  # fmt: skip

_NEEDED = (
    "modifier", "type", "outcome", "visit", "estimate", "p_value", "p_holm", "p_bh",
    "in_family", "direction_hypothesised", "direction_observed",
)  # fmt: skip


def _fmt_p(p: float) -> str:
    if np.isnan(p):
        return "NA"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _stated_directions(plan: Plan) -> set[str]:
    """Modifiers whose direction the plan file states explicitly."""
    raw = plan.raw.get("modifiers") if plan.raw else None
    if not isinstance(raw, list):  # a Plan built in code: its directions are the statement
        return {m.name for m in plan.modifiers}
    return {str(m.get("name")) for m in raw if isinstance(m, dict) and "direction" in m}


def _interaction_item(p: float) -> tuple[str, int]:
    if p < 0.001:
        return "definitely yes", 3
    if p < 0.01:
        return "probably yes", 2
    if p < 0.05:
        return "probably no", 1
    return "definitely no", 0


def _multiplicity_item(row: pd.Series, plan: Plan, alpha: float, n_family: int) -> str:
    if not bool(row["in_family"]):
        return "definitely no"
    methods = plan.effect_modification.multiplicity
    if not methods:
        return "definitely yes" if n_family == 1 else "probably no"
    if "holm" in methods and row["p_holm"] < alpha:
        return "definitely yes"
    if "bh" in methods and row["p_bh"] < alpha:
        return "probably yes"
    return "probably no"


def _orient(plan: Plan, outcome: str, sign: str) -> int:
    s = {"+": 1, "-": -1}.get(sign, 0)
    return -s if plan.outcome(outcome).higher_is == "better" else s


def _consistency_item(
    row: pd.Series, table: pd.DataFrame, plan: Plan, threshold: float
) -> tuple[str, str]:
    related = table[
        (table["modifier"] == row["modifier"])
        & (table["contrast"] == row["contrast"])
        & table["in_family"].astype(bool)
        & ~((table["outcome"] == row["outcome"]) & (table["visit"] == row["visit"]))
    ]
    if related.empty:
        return "not applicable", "no related outcome/visit in the family"
    own = _orient(plan, row["outcome"], row["direction_observed"])
    signs = np.array(
        [_orient(plan, o, d) for o, d in zip(related["outcome"], related["direction_observed"],
                                            strict=True)]
    )  # fmt: skip
    supported = related["p_value"].to_numpy(dtype=float) < threshold
    same = signs == own
    n_same, n_same_supp = int(same.sum()), int((same & supported).sum())
    n_opp_supp = int((~same & supported).sum())
    text = (
        f"{n_same} of {len(related)} related family results have the same sign "
        f"({n_same_supp} with P < {threshold:g}), {n_opp_supp} the opposite sign with "
        f"P < {threshold:g}"
    )
    if n_opp_supp == 0 and n_same == len(related) and n_same_supp >= 1:
        return "definitely yes", text
    if n_opp_supp == 0 and (n_same_supp >= 1 or n_same == len(related)):
        return "probably yes", text
    if n_opp_supp >= 1 and n_same_supp == 0:
        return "definitely no", text
    return "probably no", text


def _select(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    chosen = table[table["p_value"] < threshold]
    extra = [
        grp.nsmallest(1, "p_value")
        for outcome, grp in table.groupby("outcome", sort=False)
        if outcome not in set(chosen["outcome"]) and grp["p_value"].notna().any()
    ]
    out = pd.concat([chosen, *extra]) if extra else chosen
    return out.sort_values("p_value", kind="mergesort")


def assess_credibility(table: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Rate the credibility of each apparent effect modification (ICEMAN-style).

    Parameters
    ----------
    table : pandas.DataFrame
        ``ModifierAnalysis.table`` (columns ``modifier, type, outcome, visit,
        estimate, p_value, p_holm, p_bh, in_family, direction_hypothesised,
        direction_observed`` and optionally ``contrast``).
    plan : Plan
        The plan the table came from (directions stated, family, thresholds).

    Returns
    -------
    pandas.DataFrame
        One row per assessed finding, smallest P first: ``modifier, outcome,
        visit, contrast, estimate, p_value, p_holm, p_bh``, the items
        ``direction_prespecified, baseline_modifier, interaction_test,
        multiplicity, continuous_modifier, consistency, prior_evidence``,
        ``n_modifiers`` (modifiers tested), ``n_family_tests`` (tests in the
        pre-specified family), ``credibility`` (one of :data:`LEVELS`) and
        ``rationale`` (text: each item's evidence and its effect on the rating).
        The rule is in the module docstring.
    """
    require_columns(table, _NEEDED, what="modifier table")
    t = table.copy()
    if "contrast" not in t.columns:
        t["contrast"] = ""
    em = plan.effect_modification
    alpha = 1.0 - plan.analysis.conf_level
    threshold = em.exploratory_p
    stated = _stated_directions(plan)
    n_modifiers = int(t["modifier"].nunique())
    n_family = int(t["in_family"].astype(bool).sum())
    rows: list[dict[str, Any]] = []
    for _, row in _select(t, threshold).iterrows():
        notes: list[str] = []
        p = float(row["p_value"])
        inter, level = _interaction_item(p)
        notes.append(f"interaction P = {_fmt_p(p)} (start: {LEVELS[level]})")

        hyp, obs = row["direction_hypothesised"], row["direction_observed"]
        if row["modifier"] not in stated:
            direction = "probably no"
            level -= 1
            notes.append("direction not stated in the plan (-1)")
        elif hyp == obs:
            direction = "definitely yes"
            notes.append(f"direction pre-specified ({hyp}) and observed ({obs})")
        else:
            direction = "definitely no"
            notes.append(
                f"observed direction ({obs}) opposite to the pre-specified one ({hyp}): very low"
            )

        mult = _multiplicity_item(row, plan, alpha, n_family)
        fam = f"{n_family} family tests of {n_modifiers} modifiers"
        if mult == "definitely no":
            level -= 2
            notes.append(f"visit {row['visit']!r} outside the pre-specified family (-2)")
        elif mult == "probably no":
            level -= 1
            notes.append(
                f"not significant after adjustment (Holm P = {_fmt_p(row['p_holm'])}, "
                f"BH P = {_fmt_p(row['p_bh'])}; {fam}) (-1)"
            )
        else:
            notes.append(
                f"survives adjustment (Holm P = {_fmt_p(row['p_holm'])}, "
                f"BH P = {_fmt_p(row['p_bh'])}; {fam})"
            )

        continuous = "definitely yes" if row["type"] == "continuous" else "not applicable"
        notes.append(
            "analysed as continuous, not dichotomised"
            if continuous == "definitely yes"
            else "binary modifier"
        )

        consistency, ctext = _consistency_item(row, t, plan, threshold)
        if consistency == "definitely no":
            level -= 1
            notes.append(ctext + " (-1)")
        else:
            notes.append(ctext)

        if direction == "definitely no":
            level = 0
        rating = LEVELS[max(level, 0)]
        rows.append(
            {
                "modifier": row["modifier"], "outcome": row["outcome"], "visit": row["visit"],
                "contrast": row["contrast"], "estimate": row["estimate"], "p_value": p,
                "p_holm": row["p_holm"], "p_bh": row["p_bh"],
                "direction_prespecified": direction, "baseline_modifier": "definitely yes",
                "interaction_test": inter, "multiplicity": mult,
                "continuous_modifier": continuous, "consistency": consistency,
                "prior_evidence": "not assessed", "n_modifiers": n_modifiers,
                "n_family_tests": n_family, "credibility": rating,
                "rationale": "; ".join(notes) + f" => {rating}",
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
