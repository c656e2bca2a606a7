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
        One row per outcome, visit (plan order, baseline included) and contrast
        (:func:`resolve.analysis.primary.contrast_pairs`: each non-reference arm
        minus the reference arm, then the plan's ``extra_contrasts``; a two-arm
        trial has one row per outcome and visit).  Columns ``outcome, visit,
        contrast`` (``"<arm> - <comparator>"``), then per arm ``<arm>_mean,
        <arm>_sd, <arm>_n`` (numbers; arm names exactly as in the plan) and
        ``<arm>_mean_sd`` (text ``"3.6 (4.6)"``) — the observed values, the same on
        every contrast's row of a visit — then the contrast's model-based
        ``estimate, conf_low, conf_high`` (numbers), ``difference`` (text
        ``"−2.6 (−3.9 to −1.3)"``, one decimal, real minus sign), ``p_value``
        (number) and ``p_text`` (JAMA style, :func:`format_p`).  At baseline and
        where the model gave no estimate the numbers are NaN and the texts empty.

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> from resolve.analysis.primary import primary_analysis
    >>> plan = load_plan()
    >>> data = plan.validate_data(datasets.load("resolve"))
    >>> t2 = table2(trajectories(data, plan), primary_analysis(data, plan), plan)
    >>> t2.loc[2, ["visit", "contrast", "difference", "p_text"]].tolist()
    ['week 18', 'resolve - sham', '−0.9 (−1.5 to −0.4)', '<.001']
    """
    from resolve.analysis.primary import contrast_label, contrast_pairs

    arms = _arms(plan)
    labels = [contrast_label(p) for p in contrast_pairs(plan)]
    if len(differences):
        found = set(differences["contrast"].astype(str))
        labels = [c for c in labels if c in found] or labels
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
        arm_cells: dict[str, object] = {}
        for arm in arms:
            mean, sd, n = observed.get((outcome, arm, visit), (math.nan, math.nan, 0))
            arm_cells[f"{arm}_mean"], arm_cells[f"{arm}_sd"], arm_cells[f"{arm}_n"] = mean, sd, n
            arm_cells[f"{arm}_mean_sd"] = (
                f"{format_number(mean)} ({format_number(sd)})" if n > 1 else format_number(mean)
            )
        for label in labels:
            est, low, high, p = diffs.get((outcome, label, visit), (math.nan,) * 4)
            rows.append(
                {
                    "outcome": outcome,
                    "visit": visit,
                    "contrast": label,
                    **arm_cells,
                    "estimate": est,
                    "conf_low": low,
                    "conf_high": high,
                    "difference": format_difference(est, low, high),
                    "p_value": p,
                    "p_text": format_p(p),
                }
            )
    columns = ["outcome", "visit", "contrast"]
    for arm in arms:
        columns += [f"{arm}_mean", f"{arm}_sd", f"{arm}_n", f"{arm}_mean_sd"]
    columns += ["estimate", "conf_low", "conf_high", "difference", "p_value", "p_text"]
    out = pd.DataFrame(rows, columns=columns)
    for arm in arms:
        out[f"{arm}_n"] = out[f"{arm}_n"].astype(np.int64)
    for c in ("estimate", "conf_low", "conf_high", "p_value"):
        out[c] = out[c].astype(np.float64)
    return out


def _primary_outcome(plan: Plan) -> str:
    for o in plan.outcomes:
        if o.role == "primary":
            return o.name
    return plan.outcomes[0].name


def consort(
    data: pd.DataFrame, plan: Plan, *, screening: pd.DataFrame | None = None
) -> pd.DataFrame:
    """CONSORT-style participant flow derived from the data (and a screening log).

    Every participant in the data counts as randomised (intention to treat); the
    flow follows the primary outcome (the plan's first outcome with role
    ``primary``, else its first outcome) and the ``detail`` text gives the other
    outcomes' counts.

    Parameters
    ----------
    data : pandas.DataFrame
        Validated long data (:meth:`Plan.validate_data`).
    plan : Plan
    screening : pandas.DataFrame, optional
        Enrolment counts (:func:`resolve.analysis.baseline.screening_counts`
        reads the trial export's ``consort.csv``); with them the flow starts at
        "assessed for eligibility", otherwise at randomisation.

    Returns
    -------
    pandas.DataFrame
        Columns ``stage, arm, n, detail, outcome, visit, n_missing``, rows in flow
        order:

        - with ``screening`` only (arm ``"all"``): ``assessed for eligibility``;
          ``excluded`` (assessed minus randomised, as the log gives them); one
          ``excluded: <category>`` row per exclusion category of the log (e.g.
          ``excluded: not meeting inclusion criteria``), its reasons in
          ``detail`` as ``"<reason> (n = k); ..."``;
        - ``randomised`` (arm ``"all"``): participants in the data (``detail``
          notes when the screening log records a different number);
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
    detail = "participants in the data"
    if screening is not None:
        from resolve.analysis.baseline import screening_counts

        log = screening_counts(screening)
        for measure, reason, n in log.itertuples(index=False):
            if measure == "randomised":
                if int(n) != int(subj.nunique()):
                    detail += f"; the screening log records {int(n)} randomised"
                continue
            if reason:
                continue
            reasons = log[(log["measure"] == measure) & (log["reason"] != "")]
            text = "; ".join(
                f"{r} (n = {k})" for r, k in zip(reasons.reason, reasons.n, strict=True)
            )
            flow = ("assessed for eligibility", "excluded")
            stage = measure if measure in flow else f"excluded: {measure}"
            rows.append((stage, "all", int(n), text, None, None, 0))
    rows.append(("randomised", "all", int(subj.nunique()), detail, None, None, 0))
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
