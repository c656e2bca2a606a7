"""Responder analysis: who improved by a pre-specified amount, by arm, with risk differences.

A responder definition of the plan (:class:`~resolve.analysis.plan.ResponderSpec`)
says how much a participant must improve from baseline to count as a responder:
at least ``percent`` % of the baseline value, or at least ``points`` points, or
either when both are given. *Improvement* is the change from baseline in the
direction of benefit: ``baseline - value`` when the outcome's ``higher_is`` is
``"worse"``, ``value - baseline`` otherwise.

Observed-case (complete-case) analysis: at each visit a participant is analysed
when both the baseline value and the value at that visit are observed; nobody is
imputed and nobody missing is counted as a non-responder.  The output says so in
its ``analysis`` column.

Percent thresholds are relative to the baseline value and are defined only when
the baseline value is above zero.  A participant whose baseline value is zero or
below cannot meet a percent threshold (there is no percentage of zero); they can
still be a responder through a ``points`` threshold when the definition has one.
On a 0-10 pain scale with ``higher_is = "worse"`` a baseline of 0 leaves no room
to improve anyway.  Comparisons allow a relative tolerance of 1e-9 so that, for
example, 10 to 7 counts as a 30 % reduction despite binary floating point.

Between arms the risk difference (arm minus comparator, in proportion of
participants) gets **Newcombe's hybrid score interval** (Newcombe 1998, *Stat
Med* 17:873-890, method 10: Wilson score intervals of the two proportions
without continuity correction, combined by the square-and-add rule); the number
needed to treat is ``1 / RD`` with its interval obtained by inverting the limits
of the RD interval (Altman 1998, *BMJ* 317:1309-1312), reported only when the RD
interval excludes 0: NNTB (number needed to treat to benefit: one more responder)
when RD > 0, NNTH (to harm: one fewer responder) when RD < 0.  When the interval
includes 0 the NNT's interval would run through infinity and is reported as not
meaningful.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis import load_plan
>>> res = responder_analysis(datasets.load("resolve"), load_plan())
>>> row = res[(res.responder == "pain_30") & (res.visit == "week 18")].iloc[0]
>>> row.contrast, int(row.n_arm), int(row.responders_arm), row.analysis
('resolve - sham', 132, 94, 'observed cases')
>>> [round(v, 4) for v in wilson_interval(7, 20)]
[0.1812, 0.5671]
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from resolve.analysis.plan import Plan, ResponderSpec
from resolve.analysis.primary import contrast_pairs
from resolve.errors import DataValidationError

__all__ = [
    "CI_METHOD",
    "RATE_COLUMNS",
    "RESPONDER_COLUMNS",
    "newcombe_interval",
    "nnt",
    "responder_analysis",
    "responder_rates",
    "responders_at",
    "wilson_interval",
]

#: How the risk-difference interval is computed, as written in the output.
CI_METHOD = "Newcombe hybrid score (method 10)"

#: What the analysis population is, as written in the output.
ANALYSIS = "observed cases"

#: Columns of :func:`responder_rates`.
RATE_COLUMNS = (
    "responder",
    "label",
    "outcome",
    "visit",
    "arm",
    "n",
    "responders",
    "proportion",
)

#: Columns of :func:`responder_analysis` (``TrialAnalysis.responders``).
RESPONDER_COLUMNS = (
    "responder",
    "label",
    "outcome",
    "visit",
    "contrast",
    "arm",
    "comparator",
    "n_arm",
    "responders_arm",
    "proportion_arm",
    "n_comparator",
    "responders_comparator",
    "proportion_comparator",
    "risk_difference",
    "conf_low",
    "conf_high",
    "ci_method",
    "nnt_type",
    "nnt",
    "nnt_low",
    "nnt_high",
    "nnt_text",
    "analysis",
)

_TOL = 1e-9


def wilson_interval(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``x / n`` (no continuity correction).

    Parameters
    ----------
    x, n : int
        Events and trials, ``0 <= x <= n``.
    conf_level : float
        Confidence level.

    Returns
    -------
    (float, float)
        Lower and upper limits; ``(nan, nan)`` when ``n == 0``.

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(0, 10)]
    [0.0, 0.2775]
    """
    if not 0 <= x <= n:
        raise DataValidationError(f"need 0 <= x <= n; got x={x}, n={n}")
    if n == 0:
        return (math.nan, math.nan)
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if x == 0 else max(0.0, centre - half)
    high = 1.0 if x == n else min(1.0, centre + half)
    return (low, high)


def newcombe_interval(
    x1: int, n1: int, x2: int, n2: int, conf_level: float = 0.95
) -> tuple[float, float, float]:
    """Risk difference ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval.

    Newcombe (1998), method 10: with Wilson intervals ``(l1, u1)`` and ``(l2, u2)``
    of the two proportions, ``L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)`` and
    ``U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)``.

    Returns
    -------
    (float, float, float)
        Difference, lower and upper limit (all NaN when either ``n`` is 0).

    Examples
    --------
    Newcombe's (1998) Table II example (a): 56/70 vs 48/80 gives 0.2000
    (0.0524 to 0.3339):

    >>> [round(v, 4) for v in newcombe_interval(56, 70, 48, 80)]
    [0.2, 0.0524, 0.3339]
    """
    if n1 == 0 or n2 == 0:
        return (math.nan, math.nan, math.nan)
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, conf_level)
    l2, u2 = wilson_interval(x2, n2, conf_level)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (d, low, high)


def nnt(rd: float, low: float, high: float) -> tuple[str, float, float, float, str]:
    """Number needed to treat from a risk difference and its interval (Altman 1998).

    Parameters
    ----------
    rd, low, high : float
        Risk difference (arm minus comparator, more responders = benefit) and its
        confidence limits.

    Returns
    -------
    (str, float, float, float, str)
        ``(type, nnt, low, high, text)``: type ``"NNTB"`` when the interval lies
        above 0, ``"NNTH"`` when below 0, else ``""`` with NaN numbers and the
        text ``"not meaningful (CI includes 0)"``.  Numbers are unrounded; the
        text gives one decimal.

    Examples
    --------
    >>> nnt(0.2, 0.05, 0.35)[:4]
    ('NNTB', 5.0, 2.857142857142857, 20.0)
    >>> nnt(-0.25, -0.4, -0.1)[4]
    'NNTH 4.0 (2.5 to 10.0)'
    >>> nnt(0.1, -0.02, 0.22)[4]
    'not meaningful (CI includes 0)'
    """
    if not all(math.isfinite(v) for v in (rd, low, high)):
        return ("", math.nan, math.nan, math.nan, "")
    if low > 0:
        kind, value, lo, hi = "NNTB", 1 / rd, 1 / high, 1 / low
    elif high < 0:
        kind, value, lo, hi = "NNTH", -1 / rd, -1 / low, -1 / high
    else:
        return ("", math.nan, math.nan, math.nan, "not meaningful (CI includes 0)")
    return (kind, value, lo, hi, f"{kind} {value:.1f} ({lo:.1f} to {hi:.1f})")


def responders_at(
    baseline: np.ndarray, value: np.ndarray, spec: ResponderSpec, higher_is: str
) -> np.ndarray:
    """Whether each participant is a responder (``baseline`` and ``value`` observed).

    Parameters
    ----------
    baseline, value : numpy.ndarray
        Baseline and follow-up values (finite).
    spec : ResponderSpec
    higher_is : {"worse", "better"}
        The outcome's direction.

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> from resolve.analysis.plan import ResponderSpec
    >>> spec = ResponderSpec("r", "pain", "r", percent=30)
    >>> responders_at(np.array([10., 0., 5.]), np.array([7., 0., 4.]), spec, "worse").tolist()
    [True, False, False]
    """
    improvement = baseline - value if higher_is == "worse" else value - baseline
    hit = np.zeros(len(baseline), dtype=bool)
    if spec.points is not None:
        hit |= improvement >= spec.points - _TOL * max(1.0, abs(spec.points))
    if spec.percent is not None:
        need = spec.percent / 100 * baseline
        hit |= (baseline > 0) & (improvement >= need - _TOL * np.maximum(1.0, np.abs(need)))
    return hit


def _arms(plan: Plan) -> list[str]:
    t = plan.trial
    return [t.reference_arm, *(a for a in t.arms if a != t.reference_arm)]


def responder_rates(data: pd.DataFrame, plan: Plan, *, validated: bool = False) -> pd.DataFrame:
    """Responders per definition, visit and arm (observed cases).

    Parameters
    ----------
    data : pandas.DataFrame
        Long trial data with the plan's columns.
    plan : Plan
        Supplies ``plan.responders`` and the outcomes' directions.
    validated : bool
        True when ``data`` already passed :meth:`Plan.validate_data`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RATE_COLUMNS`: ``n`` participants with the baseline value
        and the value at the visit, ``responders`` among them and ``proportion``
        (NaN when ``n`` is 0).  One row per definition (plan order), visit
        (the definition's ``visits``, default every follow-up visit present in the
        data) and arm (reference first).
    """
    if not validated:
        data = plan.validate_data(data)
    t = plan.trial
    seen = set(data[t.visit].astype(str))
    arm_of = data.drop_duplicates(t.subject).set_index(t.subject)[t.arm].astype(str)
    rows = []
    for spec in plan.responders:
        outcome = plan.outcome(spec.outcome)
        wide = data.pivot(index=t.subject, columns=t.visit, values=outcome.column)
        wide.columns = wide.columns.astype(str)
        visits = spec.visits or tuple(v for v in t.followup_visits if v in seen)
        if t.baseline_visit not in wide.columns:
            base = pd.Series(np.nan, index=wide.index)
        else:
            base = pd.to_numeric(wide[t.baseline_visit]).astype(float)
        for visit in visits:
            if visit in wide.columns:
                value = pd.to_numeric(wide[visit]).astype(float)
            else:
                value = pd.Series(np.nan, index=wide.index)
            ok = base.notna() & value.notna()
            hit = pd.Series(False, index=wide.index)
            hit[ok] = responders_at(
                base[ok].to_numpy(), value[ok].to_numpy(), spec, outcome.higher_is
            )
            arms = arm_of.reindex(wide.index)
            for arm in _arms(plan):
                mine = ok & (arms == arm)
                n = int(mine.sum())
                x = int((hit & mine).sum())
                share = x / n if n else math.nan
                rows.append((spec.name, spec.label, spec.outcome, visit, arm, n, x, share))
    out = pd.DataFrame(rows, columns=list(RATE_COLUMNS))
    out["n"] = out["n"].astype(np.int64)
    out["responders"] = out["responders"].astype(np.int64)
    out["proportion"] = out["proportion"].astype(np.float64)
    return out


def responder_analysis(data: pd.DataFrame, plan: Plan, *, validated: bool = False) -> pd.DataFrame:
    """Responder proportions and risk differences for every contrast of the plan.

    Parameters
    ----------
    data : pandas.DataFrame
        Long trial data with the plan's columns.
    plan : Plan
    validated : bool
        True when ``data`` already passed :meth:`Plan.validate_data`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESPONDER_COLUMNS`, one row per responder definition,
        visit and contrast (:func:`resolve.analysis.primary.contrast_pairs`: each
        non-reference arm against the reference, then the plan's
        ``extra_contrasts``): ``contrast`` ("arm - comparator"),
        per side ``n_*``, ``responders_*``, ``proportion_*``; ``risk_difference``
        (arm minus comparator, a proportion) with ``conf_low``/``conf_high`` at
        ``plan.analysis.conf_level`` by ``ci_method`` (:data:`CI_METHOD`); the NNT
        (:func:`nnt`: ``nnt_type`` "NNTB"/"NNTH" or missing, ``nnt``,
        ``nnt_low``, ``nnt_high``, ``nnt_text``); ``analysis`` = ``"observed
        cases"``.  Empty (same columns) when the plan has no responder
        definitions.

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> res = responder_analysis(datasets.load("resolve"), load_plan())
    >>> sorted(set(res.responder)), res.ci_method.iloc[0]
    (['pain_30', 'pain_50', 'rmdq_5_or_30'], 'Newcombe hybrid score (method 10)')
    """
    rates = responder_rates(data, plan, validated=validated)
    key = {
        (str(name), str(visit), str(arm)): (int(n), int(x))
        for name, visit, arm, n, x in zip(
            rates["responder"],
            rates["visit"],
            rates["arm"],
            rates["n"].to_numpy(dtype=np.int64),
            rates["responders"].to_numpy(dtype=np.int64),
            strict=True,
        )
    }
    level = plan.analysis.conf_level
    rows = []
    for spec in plan.responders:
        visits = list(dict.fromkeys(rates.loc[rates["responder"] == spec.name, "visit"]))
        for visit in visits:
            for arm, comp in contrast_pairs(plan):
                n1, x1 = key[(spec.name, visit, arm)]
                n2, x2 = key[(spec.name, visit, comp)]
                rd, lo, hi = newcombe_interval(x1, n1, x2, n2, level)
                kind, value, nlo, nhi, text = nnt(rd, lo, hi)
                # missing (not an empty string) when there is no NNT, so CSV/JSON round-trip
                kind_cell, text_cell = (kind or None), (text or None)
                rows.append(
                    (
                        spec.name,
                        spec.label,
                        spec.outcome,
                        visit,
                        f"{arm} - {comp}",
                        arm,
                        comp,
                        n1,
                        x1,
                        x1 / n1 if n1 else math.nan,
                        n2,
                        x2,
                        x2 / n2 if n2 else math.nan,
                        rd,
                        lo,
                        hi,
                        CI_METHOD,
                        kind_cell,
                        value,
                        nlo,
                        nhi,
                        text_cell,
                        ANALYSIS,
                    )
                )
    out = pd.DataFrame(rows, columns=list(RESPONDER_COLUMNS))
    for col in ("n_arm", "responders_arm", "n_comparator", "responders_comparator"):
        out[col] = out[col].astype(np.int64)
    for col in (
        "proportion_arm",
        "proportion_comparator",
        "risk_difference",
        "conf_low",
        "conf_high",
        "nnt",
        "nnt_low",
        "nnt_high",
    ):
        out[col] = out[col].astype(np.float64)
    return out
