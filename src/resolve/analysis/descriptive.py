"""Observed-data summaries: trajectories, JAMA-style Table 2 and CONSORT counts.

Everything here is computed from the observed values only (no model), except the
difference column of Table 2, which is taken from the primary model's table.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis import load_plan
>>> plan = load_plan()
>>> data = plan.validate_data(datasets.load("resolve"))
>>> traj = trajectories(data, plan)
>>> first = traj.iloc[0]
>>> first.outcome, first.arm, first.visit, int(first.n)
('pain', 'sham', 'baseline', 138)
>>> format_p(0.0004), format_p(0.0078), format_p(0.0468), format_p(0.21)
('<.001', '.008', '.047', '.21')
>>> format_difference(-0.96, -1.51, -0.36)
'−1.0 (−1.5 to −0.4)'
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from resolve.analysis.plan import Plan

__all__ = [
    "MINUS",
    "consort",
    "format_difference",
    "format_number",
    "format_p",
    "table2",
    "trajectories",
]

#: The typographic minus sign (U+2212) used in formatted tables, as JAMA prints it.
MINUS = "\u2212"


def format_number(value: float, decimals: int = 1) -> str:
    """Round to ``decimals`` places with a real minus sign; ``-0.0`` prints as ``0.0``.

    Examples
    --------
    >>> format_number(-1.04), format_number(-0.04), format_number(float("nan"))
    ('−1.0', '0.0', '')
    """
    if value is None or not math.isfinite(value):
        return ""
    text = f"{value:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def format_difference(estimate: float, low: float, high: float, decimals: int = 1) -> str:
    """``"−1.0 (−1.5 to −0.4)"``: an estimate and its interval, one decimal by default."""
    if not all(math.isfinite(v) for v in (estimate, low, high)):
        return ""
    e, lo, hi = (format_number(v, decimals) for v in (estimate, low, high))
    return f"{e} ({lo} to {hi})"


def format_p(p: float) -> str:
    """Format a p-value as JAMA does: no leading zero, ``"<.001"``, ``".008"``, ``".21"``.

    Two decimals, or three when ``p < .01``; ``"<.001"`` below .001 and ``">.99"``
    above .99.  A value that two decimals would round up to .05 keeps three
    decimals, rounded down if need be (``.047``, ``.049``), so that a p-value below
    .05 never prints as ``.05``.
    """
    if p is None or not math.isfinite(p):
        return ""
    if p < 0.001:
        return "<.001"
    if p > 0.99:
        return ">.99"
    text = f"{p:.3f}" if p < 0.01 else f"{p:.2f}"
    if p < 0.05 <= float(text):
        text = f"{p:.3f}" if float(f"{p:.3f}") < 0.05 else f"{math.floor(p * 1000) / 1000:.3f}"
    return text.lstrip("0")


def _visits_present(data: pd.DataFrame, plan: Plan) -> list[str]:
    seen = set(data[plan.trial.visit].dropna().astype(str))
    return [v for v in plan.trial.visits if v in seen]


def _arms(plan: Plan) -> list[str]:
    t = plan.trial
    return [t.reference_arm, *(a for a in t.arms if a != t.reference_arm)]


def trajectories(data: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Observed mean of each outcome per arm and visit, with a t-based CI of the mean.

    Parameters
    ----------
    data : pandas.DataFrame
        Validated long data (:meth:`Plan.validate_data`).
    plan : Plan

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome, arm, visit, n, mean, sd, conf_low, conf_high``: one row
        per outcome, arm (reference first) and visit present in the data (plan
        order).  ``n`` counts non-missing values; ``sd`` uses ``n - 1``; the
        interval is ``mean ± t(n - 1) sd / sqrt(n)`` at ``plan.analysis.conf_level``.
        ``sd`` and the interval are NaN when ``n < 2`` (``mean`` when ``n = 0``).
    """
    t = plan.trial
    q = 0.5 + plan.analysis.conf_level / 2
    visits = _visits_present(data, plan)
    arm_col = data[t.arm].astype(str)
    visit_col = data[t.visit].astype(str)
    rows = []
    for o in plan.outcomes:
        y = pd.to_numeric(data[o.column]).astype(float)
        for arm in _arms(plan):
            for visit in visits:
                v = y[(arm_col == arm) & (visit_col == visit)].dropna().to_numpy()
                n = len(v)
                mean = float(v.mean()) if n else math.nan
                sd = float(v.std(ddof=1)) if n > 1 else math.nan
                half = float(stats.t.ppf(q, n - 1)) * sd / math.sqrt(n) if n > 1 else math.nan
                rows.append((o.name, arm, visit, n, mean, sd, mean - half, mean + half))
    out = pd.DataFrame(
        rows, columns=["outcome", "arm", "visit", "n", "mean", "sd", "conf_low", "conf_high"]
    )
    out["n"] = out["n"].astype(np.int64)
    return out


def table2(traj: pd.DataFrame, differences: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """JAMA Table 2 layout: observed mean (SD) and n per arm, model difference and P.

    Parameters
    ----------
    traj : pandas.DataFrame
        Output of :func:`trajectories`.
    differences : pandas.DataFrame
        The primary model's table (:func:`resolve.analysis.primary.primary_analysis`).
    plan : Plan

    Returns
    -------
    pandas.DataFrame
        One row per outcome and visit (plan order, baseline included), columns
        ``outcome, visit``, then per arm ``<arm>_mean, <arm>_sd, <arm>_n`` (numbers)
        and ``<arm>_mean_sd`` (text ``"3.6 (4.6)"``), then ``difference`` (text
        ``"−2.6 (−3.9 to −1.3)"``, one decimal, real minus sign), ``p_value`` (number)
        and ``p_text`` (JAMA style, :func:`format_p`) for the first non-reference
        arm; at baseline and where the model gave no estimate ``difference`` and
        ``p_text`` are empty strings and ``p_value`` is NaN.  With more than two
        arms, ``difference_<arm>``, ``p_value_<arm>`` and ``p_text_<arm>`` are added
        for every non-reference arm.
    """
    arms = _arms(plan)
    treated = arms[1:]
    rows = []
    keys = traj[["outcome", "visit"]].drop_duplicates()
    order = {v: k for k, v in enumerate(plan.trial.visits)}
    out_order = {o.name: k for k, o in enumerate(plan.outcomes)}
    keys = keys.assign(_o=keys.outcome.map(out_order), _v=keys.visit.map(order))
    keys = keys.sort_values(["_o", "_v"])

    def col(frame: pd.DataFrame, name: str) -> list[str]:
        return [str(v) for v in frame[name]]

    def num(frame: pd.DataFrame, name: str) -> list[float]:
        return [float(v) for v in frame[name].to_numpy(dtype=np.float64)]

    observed = {
        (o, a, v): (m, s, int(n))
        for o, a, v, m, s, n in zip(
            col(traj, "outcome"),
            col(traj, "arm"),
            col(traj, "visit"),
            num(traj, "mean"),
            num(traj, "sd"),
            num(traj, "n"),
            strict=True,
        )
    }
    d = differences
    diffs = {
        (o, c, v): (e, lo, hi, p)
        for o, c, v, e, lo, hi, p in zip(
            col(d, "outcome"),
            col(d, "contrast"),
            col(d, "visit"),
            num(d, "estimate"),
            num(d, "conf_low"),
            num(d, "conf_high"),
            num(d, "p_value"),
            strict=True,
        )
    }
    for outcome, visit in zip(keys["outcome"].astype(str), keys["visit"].astype(str), strict=True):
        row: dict[str, object] = {"outcome": outcome, "visit": visit}
        for arm in arms:
            mean, sd, n = observed.get((outcome, arm, visit), (math.nan, math.nan, 0))
            row[f"{arm}_mean"], row[f"{arm}_sd"], row[f"{arm}_n"] = mean, sd, n
            row[f"{arm}_mean_sd"] = (
                f"{format_number(mean)} ({format_number(sd)})" if n > 1 else format_number(mean)
            )
        for k, arm in enumerate(treated):
            key = (outcome, f"{arm} - {plan.trial.reference_arm}", visit)
            diff, p = "", math.nan
            if key in diffs:
                est, low, high, p = diffs[key]
                diff = format_difference(est, low, high)
            if k == 0:
                row["difference"], row["p_value"], row["p_text"] = diff, p, format_p(p)
            if len(treated) > 1:
                row[f"difference_{arm}"], row[f"p_value_{arm}"] = diff, p
                row[f"p_text_{arm}"] = format_p(p)
        rows.append(row)
    out = pd.DataFrame(rows)
    for arm in arms:
        out[f"{arm}_n"] = out[f"{arm}_n"].astype(np.int64)
    return out


def _primary_outcome(plan: Plan) -> str:
    for o in plan.outcomes:
        if o.role == "primary":
            return o.name
    return plan.outcomes[0].name


def consort(data: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """CONSORT-style participant flow derived from the data.

    Every participant in the data counts as randomised (intention to treat); the
    flow follows the primary outcome (the plan's first outcome with role
    ``primary``, else its first outcome) and the ``detail`` text gives the other
    outcomes' counts.

    Returns
    -------
    pandas.DataFrame
        Columns ``stage, arm, n, detail, outcome, visit, n_missing``, rows in flow
        order:

        - ``randomised`` (arm ``"all"``): participants in the data;
        - ``allocated`` (per arm): participants allocated to the arm;
        - ``follow-up <visit>`` (per arm, per follow-up visit present): ``n``
          participants with the primary outcome at that visit, ``n_missing`` =
          allocated minus ``n`` (lost or missing), ``visit`` set;
        - ``analysed`` (per arm): participants with at least one value of the
          primary outcome, i.e. those the likelihood-based primary model uses.

        ``outcome`` is the primary outcome on the follow-up and analysed rows.
        Arms in plan order with the reference first; visits in plan order.
    """
    t = plan.trial
    arm_col = data[t.arm].astype(str)
    visit_col = data[t.visit].astype(str)
    subj = data[t.subject]
    main = _primary_outcome(plan)
    has = {o.name: pd.to_numeric(data[o.column]).notna() for o in plan.outcomes}
    rows: list[tuple[str, str, int, str, str | None, str | None, int]] = []
    rows.append(
        ("randomised", "all", int(subj.nunique()), "participants in the data", None, None, 0)
    )
    n_arm = {a: int(subj[arm_col == a].nunique()) for a in _arms(plan)}
    for arm in _arms(plan):
        rows.append(("allocated", arm, n_arm[arm], f"allocated to {arm}", None, None, 0))
    followups = [v for v in _visits_present(data, plan) if v != t.baseline_visit]
    for visit in followups:
        at = visit_col == visit
        for arm in _arms(plan):
            counts = {
                name: int(subj[(arm_col == arm) & at & ok].nunique()) for name, ok in has.items()
            }
            parts = [f"{name} {n} ({n_arm[arm] - n} missing)" for name, n in counts.items()]
            rows.append(
                (
                    f"follow-up {visit}",
                    arm,
                    counts[main],
                    "with data: " + "; ".join(parts),
                    main,
                    visit,
                    n_arm[arm] - counts[main],
                )
            )
    for arm in _arms(plan):
        n = int(subj[(arm_col == arm) & has[main]].nunique())
        rows.append(
            (
                "analysed",
                arm,
                n,
                f"in the primary model ({main} at one or more visits)",
                main,
                None,
                n_arm[arm] - n,
            )
        )
    out = pd.DataFrame(
        rows, columns=["stage", "arm", "n", "detail", "outcome", "visit", "n_missing"]
    )
    for col in ("n", "n_missing"):
        out[col] = out[col].astype(np.int64)
    return out
