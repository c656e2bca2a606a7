"""ICEMAN core items for each suggested effect modification, with the evidence for each answer.

ICEMAN, the Instrument to assess the Credibility of Effect Modification Analyses
(Schandelmaier et al., CMAJ 2020;192(32):E901-E906; manual at iceman.help), rates
one suggested effect modification at a time: one outcome at one time point, one
effect measure, one modifier. For randomised trials it asks five core questions,
each answered "definitely yes", "probably yes", "probably no" or "definitely no",
has one optional item for additional considerations, and ends with an overall
credibility rating from very low to high that is the assessor's judgement.

This module answers the five core items from the plan and the results and writes
the evidence behind every answer. The overall rating is **not** part of ICEMAN: it
is this project's documented rule (:func:`overall_rating`), called "ICEMAN-based
overall rating (resolve rule)" wherever it is shown. Consistency across related
outcomes and visits is reported beside the core items as an additional
consideration, and does not enter the rule. See ``docs/effect-modification.md``
section 4 for the sources of each answer rule and what is uncertain.

Scope
-----
ICEMAN assesses a suggested effect modification (interaction P < 0.1, the note of
the instrument's online form); it does not apply when there is none. Assessed are
the rows of the modifier table with P < ``credibility_scope_p`` (plan, default
0.1), smallest P first; with none, the table is empty.

Core items (RCT version) and how they are answered
--------------------------------------------------
1. *Was the direction of effect modification correctly hypothesised a priori?*
   From the plan's ``direction`` and its record (``hypothesis_source``,
   ``hypothesis_date``, ``hypothesis_timing``) and ``outcome_data_date``:
   observed sign opposite to the hypothesised one: definitely no; no direction
   stated: probably no (direction unclear); no ``hypothesis_source``: probably no
   (when and where the direction was written is not recorded); dated before the
   outcome data: definitely yes; dated on or after them: definitely no (post hoc);
   otherwise ``hypothesis_timing`` "a priori": probably yes (stated, not
   time-stamped), "post hoc": definitely no; neither: probably no.
2. *Is the effect modification supported by prior evidence?* The reviewer's
   ``prior_evidence_answer`` with ``prior_evidence`` as its evidence; without an
   answer "not answered" (a program cannot judge the literature).
3. *Does a test for interaction suggest that chance is an unlikely explanation
   of the apparent effect modification?* From the interaction P:
   P < .005 definitely yes; .005 <= P < .01 probably yes; .01 <= P < .05
   probably no; P >= .05 definitely no.
4. *Did the analysis test only a small number of effect modifiers, or take the
   number into account?* In the plan's pre-specified family and Holm-adjusted
   P < alpha: definitely yes; BH-adjusted P < alpha: probably yes; in the family
   but neither: probably no; outside the family (a visit the adjustment does not
   cover): definitely no. With no adjustment in the plan: one test in the family:
   definitely yes; one modifier: probably yes; otherwise probably no.
   alpha = 1 - ``conf_level``.
5. *If the effect modifier is a continuous variable, were arbitrary cut points
   avoided?* Continuous modifiers are analysed as continuous (per unit), never
   dichotomised: definitely yes, with the spline check of non-linearity as
   evidence; binary modifiers: not applicable.

Overall rating (resolve rule)
-----------------------------
See :func:`overall_rating`: each core item answered "definitely no" counts 2,
"probably no" or "not answered" counts 1; total 0 high, 1 moderate, 2-3 low,
4 or more very low.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis.effect_modifiers import analyse_modifiers
>>> res = analyse_modifiers(datasets.load("resolve"))
>>> top = res.credibility.iloc[0]
>>> top.modifier, top.outcome, top.visit, top.item1_a_priori, top.item3_chance
('frebaq', 'pain', 'week 52', 'definitely no', 'definitely yes')
>>> top.credibility
'very low'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resolve._validation import require_columns
from resolve.analysis.plan import ModifierSpec, Plan

__all__ = [
    "ANSWERS",
    "COLUMNS",
    "ITEMS",
    "LEVELS",
    "RULE_NAME",
    "assess_credibility",
    "chance_item",
    "overall_rating",
]

#: Credibility levels, lowest first (ICEMAN's scale runs from very low to high).
LEVELS = ("very low", "low", "moderate", "high")

#: ICEMAN's four answer options, most credible first.
ANSWERS = ("definitely yes", "probably yes", "probably no", "definitely no")

#: Name of the overall rating wherever it is shown.
RULE_NAME = "ICEMAN-based overall rating (resolve rule)"

#: The five ICEMAN core items for RCTs: (column, question), in the instrument's order.
ITEMS: tuple[tuple[str, str], ...] = (
    ("item1_a_priori", "Was the direction of effect modification correctly hypothesised a priori?"),
    ("item2_prior_evidence", "Is the effect modification supported by prior evidence?"),
    (
        "item3_chance",
        "Does a test for interaction suggest that chance is an unlikely explanation of the "
        "apparent effect modification?",
    ),
    (
        "item4_multiplicity",
        "Were only a small number of effect modifiers tested, or was their number taken "
        "into account?",
    ),
    (
        "item5_cut_points",
        "If the effect modifier is continuous, were arbitrary cut points avoided?",
    ),
)

#: Columns of the credibility table (``ModifierAnalysis.credibility``).
COLUMNS = [
    "modifier", "outcome", "visit", "contrast", "estimate", "p_value", "p_holm", "p_bh",
    "n_modifiers", "n_family_tests", "preliminary",
    *(c for item, _ in ITEMS for c in (item, f"{item}_evidence")),
    "extra_consistency", "extra_consistency_evidence", "credibility", "rationale",
]  # fmt: skip

_NEEDED = (
    "modifier", "type", "outcome", "visit", "estimate", "p_value", "p_holm", "p_bh",
    "in_family", "direction_hypothesised", "direction_observed",
)  # fmt: skip

_POINTS = {"definitely no": 2, "probably no": 1, "not answered": 1}


# ----------------------------------------------------------------------------- helpers
def _p(p: Any) -> str:
    """A P value with two significant digits, truncated (so it never crosses a threshold).

    >>> _p(0.000422), _p(0.0049), _p(0.0474), _p(0.5), _p(float("nan"))
    ('.00042', '.0049', '.047', '.50', 'NA')
    """
    try:
        x = float(p)
    except (TypeError, ValueError):
        return "NA"
    if not math.isfinite(x):
        return "NA"
    if x <= 0:
        return "0"
    if x < 1e-6:
        return "< .000001"
    digits = max(2, 1 - math.floor(math.log10(x)))
    scale = 10**digits
    return f"{math.floor(x * scale) / scale:.{digits}f}".removeprefix("0")


def _stated_directions(plan: Plan) -> set[str]:
    """Modifiers whose direction the plan file states explicitly."""
    raw = plan.raw.get("modifiers") if plan.raw else None
    if not isinstance(raw, list):  # a Plan built in code: its directions are the statement
        return {m.name for m in plan.modifiers}
    return {str(m.get("name")) for m in raw if isinstance(m, dict) and "direction" in m}


def _spec(plan: Plan, name: str) -> ModifierSpec | None:
    return next((m for m in plan.modifiers if m.name == name), None)


# ----------------------------------------------------------------------------- items
def chance_item(p: float) -> tuple[str, str]:
    """ICEMAN item 3 from the interaction P: the answer and its evidence.

    Examples
    --------
    >>> chance_item(0.004)
    ('definitely yes', 'interaction P = .0040 (< .005)')
    >>> [chance_item(p)[0] for p in (0.005, 0.01, 0.05)]
    ['probably yes', 'probably no', 'definitely no']
    """
    if not math.isfinite(p):
        return "definitely no", "no interaction P (test not available)"
    for bound, answer in ((".005", ANSWERS[0]), (".01", ANSWERS[1]), (".05", ANSWERS[2])):
        if p < float(bound):
            return answer, f"interaction P = {_p(p)} (< {bound})"
    return ANSWERS[3], f"interaction P = {_p(p)} (>= .05)"


def _a_priori_item(
    row: pd.Series, spec: ModifierSpec | None, stated: bool, data_date: str | None, source: str
) -> tuple[str, str]:
    hyp, obs = str(row["direction_hypothesised"]), str(row["direction_observed"])
    if not stated or spec is None:
        return "probably no", f"no hypothesised direction in the plan ({source}): direction unclear"
    head = f"hypothesised sign {hyp}, observed {obs}"
    if hyp != obs:
        return "definitely no", f"{head}: results inconsistent with the hypothesised direction"
    if spec.hypothesis_source is None:
        return "probably no", (
            f"{head}; direction in plan file {source} with no hypothesis_source: when and where "
            "it was hypothesised is not recorded"
        )
    rec = f"{head}; hypothesis recorded in plan file {source}, source: {spec.hypothesis_source}"
    if spec.hypothesis_date is not None:
        rec += f", dated {spec.hypothesis_date}"
        if data_date is not None:
            if spec.hypothesis_date < data_date:  # ISO dates sort as text
                return "definitely yes", (
                    f"{rec}, before the outcome data date ({data_date}): time-stamped a priori"
                )
            return "definitely no", (
                f"{rec}, on or after the outcome data date ({data_date}): post hoc"
            )
        rec += " (no outcome_data_date in the plan to compare with)"
    if spec.hypothesis_timing == "a priori":
        return "probably yes", f"{rec}; stated a priori but not time-stamped before the data"
    if spec.hypothesis_timing == "post hoc":
        return "definitely no", f"{rec}; the source says post hoc"
    return "probably no", f"{rec}; timing relative to the outcome data not established"


def _prior_item(spec: ModifierSpec | None) -> tuple[str, str]:
    if spec is None or spec.prior_evidence is None:
        return "not answered", "no prior_evidence recorded in the plan (needs a reviewer)"
    if spec.prior_evidence_answer is None:
        return "not answered", f"{spec.prior_evidence} (no reviewer answer recorded)"
    return spec.prior_evidence_answer, f"reviewer's answer from the plan: {spec.prior_evidence}"


def _multiplicity_item(
    row: pd.Series, plan: Plan, alpha: float, n_modifiers: int, n_family: int
) -> tuple[str, str]:
    em = plan.effect_modification
    count = (
        f"{n_modifiers} modifier{'s' if n_modifiers != 1 else ''} tested; "
        f"{n_family} test{'s' if n_family != 1 else ''} in the pre-specified family "
        f"({', '.join(em.family_visits) or 'none'})"
    )
    if not bool(row["in_family"]):
        return "definitely no", (
            f"{count}; visit {row['visit']} is outside the family, so the adjustment does "
            "not cover it"
        )
    methods = em.multiplicity
    if not methods:
        if n_family == 1:
            return "definitely yes", f"{count}; a single test"
        if n_modifiers == 1:
            return "probably yes", f"{count}; one modifier, no adjustment in the plan"
        return "probably no", f"{count}; no adjustment in the plan"
    holm, bh = float(row["p_holm"]), float(row["p_bh"])
    a = f"{alpha:g}".removeprefix("0")
    adj = "; ".join(
        f"{name}-adjusted P = {_p(v)}"
        for name, m, v in (("Holm", "holm", holm), ("BH", "bh", bh))
        if m in methods
    )
    if "holm" in methods and holm < alpha:
        return "definitely yes", f"{count}; {adj} (Holm < {a})"
    if "bh" in methods and bh < alpha:
        return "probably yes", f"{count}; {adj} (BH < {a}, Holm not)"
    return "probably no", f"{count}; {adj} (not < {a} after adjustment)"


def _cut_points_item(row: pd.Series) -> tuple[str, str]:
    unit = str(row["unit"]) if "unit" in row.index and isinstance(row["unit"], str) else "unit"
    if str(row["type"]) != "continuous":
        return "not applicable", (
            f"binary modifier ({unit}); a binary modifier that is a dichotomised continuous "
            "measure would need a 'no' here, which the plan cannot show"
        )
    text = f"modifier analysed as continuous (per {unit}), no cut points"
    nl = row["nonlinearity_p"] if "nonlinearity_p" in row.index else float("nan")
    if nl is not None and np.isfinite(float(nl)):
        text += f"; restricted cubic spline check of non-linearity P = {_p(nl)}"
    return "definitely yes", text


def _orient(plan: Plan, outcome: str, sign: str) -> int:
    s = {"+": 1, "-": -1}.get(sign, 0)
    return -s if plan.outcome(outcome).higher_is == "better" else s


def _consistency(
    row: pd.Series, table: pd.DataFrame, plan: Plan, threshold: float
) -> tuple[str, str]:
    """Additional consideration (not an ICEMAN core item): same sign in related results."""
    related = table[
        (table["modifier"] == row["modifier"])
        & (table["contrast"] == row["contrast"])
        & table["in_family"].astype(bool)
        & ~((table["outcome"] == row["outcome"]) & (table["visit"] == row["visit"]))
    ]
    if related.empty:
        return "not applicable", "no related outcome or visit in the family"
    own = _orient(plan, row["outcome"], row["direction_observed"])
    signs = np.array(
        [
            _orient(plan, o, d)
            for o, d in zip(related["outcome"], related["direction_observed"], strict=True)
        ]
    )
    supported = related["p_value"].to_numpy(dtype=float) < threshold
    same = signs == own
    n_same, n_same_supp = int(same.sum()), int((same & supported).sum())
    n_opp_supp = int((~same & supported).sum())
    text = (
        f"{n_same} of {len(related)} related family results (other outcomes and visits) have "
        f"the same sign on a higher = worse scale ({n_same_supp} with P < {threshold:g}); "
        f"{n_opp_supp} the opposite sign with P < {threshold:g}"
    )
    if n_opp_supp == 0 and n_same == len(related) and n_same_supp >= 1:
        return "definitely yes", text
    if n_opp_supp == 0 and (n_same_supp >= 1 or n_same == len(related)):
        return "probably yes", text
    if n_opp_supp >= 1 and n_same_supp == 0:
        return "definitely no", text
    return "probably no", text


def overall_rating(answers: Mapping[str, str] | Sequence[str]) -> tuple[str, str]:
    """ICEMAN-based overall rating (resolve rule) from the five core-item answers.

    ICEMAN leaves the overall rating to the assessor; this rule makes it
    reproducible and is this project's, not the instrument's. Each core item
    answered "definitely no" counts 2 and each "probably no" or "not answered"
    counts 1 ("definitely yes", "probably yes" and "not applicable" count 0). A
    total of 0 is high, 1 moderate, 2 or 3 low, 4 or more very low. So one
    "definitely no" alone caps the rating at low; high needs every item answered
    yes (or not applicable), moderate allows one "probably no" or "not answered".

    Parameters
    ----------
    answers : mapping or sequence of str
        The answers (mapping: item name to answer).

    Returns
    -------
    tuple of str
        The rating (one of :data:`LEVELS`) and how it was reached.

    Examples
    --------
    >>> overall_rating(["definitely yes", "not answered", "definitely yes",
    ...                 "definitely yes", "definitely yes"])
    ('moderate', 'reductions: item 2 not answered (1); total 1 -> moderate (resolve rule)')
    >>> overall_rating(["definitely no", "not answered", "definitely yes",
    ...                 "definitely yes", "not applicable"])[0]
    'low'
    """
    values = list(answers.values()) if isinstance(answers, Mapping) else list(answers)
    parts, total = [], 0
    for k, a in enumerate(values, start=1):
        pts = _POINTS.get(a, 0)
        if pts:
            total += pts
            parts.append(f"item {k} {a} ({pts})")
    # LEVELS is lowest first: total 0 -> high, 1 -> moderate, 2-3 -> low, >= 4 -> very low
    rating = LEVELS[3 if total == 0 else 2 if total == 1 else 1 if total <= 3 else 0]
    head = "reductions: " + ", ".join(parts) if parts else "no reductions"
    return rating, f"{head}; total {total} -> {rating} (resolve rule)"


def _preliminary(row: pd.Series, plan: Plan) -> str:
    outcome = plan.outcome(str(row["outcome"]))
    unit = str(row["unit"]) if "unit" in row.index and isinstance(row["unit"], str) else "unit"
    contrast = str(row["contrast"]) or "treatment - reference"
    has_label = "label" in row.index and isinstance(row["label"], str)
    label = str(row["label"]) if has_label else str(row["modifier"])
    return (
        f"outcome {outcome.label} at {row['visit']}; effect measure: difference in means "
        f"({contrast}), its change per {unit} of the modifier; modifier {label}, measured "
        "before randomisation"
    )


# ----------------------------------------------------------------------------- main
def assess_credibility(table: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Answer ICEMAN's five core items for each suggested effect modification.

    Parameters
    ----------
    table : pandas.DataFrame
        ``ModifierAnalysis.table`` (columns ``modifier, type, outcome, visit,
        estimate, p_value, p_holm, p_bh, in_family, direction_hypothesised,
        direction_observed`` and optionally ``contrast, unit, label,
        nonlinearity_p``).
    plan : Plan
        The plan the table came from: directions and their records, prior
        evidence, family, adjustments, ``credibility_scope_p``.

    Returns
    -------
    pandas.DataFrame
        One row per finding with P < ``credibility_scope_p``, smallest P first
        (:data:`COLUMNS`): the finding (``modifier, outcome, visit, contrast,
        estimate, p_value, p_holm, p_bh``), ``n_modifiers`` and
        ``n_family_tests``, ``preliminary`` (ICEMAN's preliminary
        considerations: outcome and time point, effect measure, modifier), for
        each core item its answer (one of :data:`ANSWERS`, "not applicable" or
        "not answered") and ``<item>_evidence``; the additional consideration
        ``extra_consistency`` (not an ICEMAN core item) with its evidence;
        ``credibility``, the :data:`RULE_NAME` (:func:`overall_rating`), and
        ``rationale``, how the rule reached it. The answer rules are in the
        module docstring.

    Raises
    ------
    DataValidationError
        If ``table`` lacks a needed column.
    """
    require_columns(table, _NEEDED, what="modifier table")
    t = table.copy()
    if "contrast" not in t.columns:
        t["contrast"] = ""
    em = plan.effect_modification
    alpha = 1.0 - plan.analysis.conf_level
    scope = em.credibility_scope_p
    stated = _stated_directions(plan)
    n_modifiers = int(t["modifier"].nunique())
    n_family = int(t["in_family"].astype(bool).sum())
    chosen = t[t["p_value"].astype(float) < scope].sort_values("p_value", kind="mergesort")
    rows: list[dict[str, Any]] = []
    for _, row in chosen.iterrows():
        spec = _spec(plan, str(row["modifier"]))
        answers = {
            "item1_a_priori": _a_priori_item(
                row, spec, row["modifier"] in stated, em.outcome_data_date, plan.source
            ),
            "item2_prior_evidence": _prior_item(spec),
            "item3_chance": chance_item(float(row["p_value"])),
            "item4_multiplicity": _multiplicity_item(row, plan, alpha, n_modifiers, n_family),
            "item5_cut_points": _cut_points_item(row),
        }
        rating, rationale = overall_rating({k: a for k, (a, _) in answers.items()})
        consistency, c_text = _consistency(row, t, plan, scope)
        out: dict[str, Any] = {
            "modifier": row["modifier"], "outcome": row["outcome"], "visit": row["visit"],
            "contrast": row["contrast"], "estimate": row["estimate"],
            "p_value": float(row["p_value"]), "p_holm": row["p_holm"], "p_bh": row["p_bh"],
            "n_modifiers": n_modifiers, "n_family_tests": n_family,
            "preliminary": _preliminary(row, plan),
        }  # fmt: skip
        for item, (answer, evidence) in answers.items():
            out[item] = answer
            out[f"{item}_evidence"] = evidence
        out["extra_consistency"] = consistency
        out["extra_consistency_evidence"] = c_text
        out["credibility"] = rating
        out["rationale"] = rationale
        rows.append(out)
    return pd.DataFrame(rows, columns=COLUMNS)
