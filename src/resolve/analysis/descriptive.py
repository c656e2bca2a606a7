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
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from resolve.analysis.plan import Plan

__all__ = [
    "CONSORT_COLUMNS",
    "FROM_BOTH",
    "FROM_DATA",
    "FROM_LOG",
    "MINUS",
    "consort",
    "consort_notes",
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
    ['week 18', 'resolve - sham', '−1.0 (−1.6 to −0.5)', '<.001']
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


#: Columns of :func:`consort`.
CONSORT_COLUMNS = ("stage", "arm", "n", "detail", "outcome", "visit", "n_missing", "source")

#: Values of the ``source`` column of :func:`consort`.
FROM_DATA, FROM_LOG, FROM_BOTH = "data", "screening log", "data and screening log"

#: Follow-up measures of a screening log drawn beneath the follow-up boxes, in order.
_MISSING_REASONS = ("withdrawn", "lost to follow-up", "missed visit")

_Row = tuple[str, str, int, str, str | None, str | None, int, str]
_Key = tuple[str, str, str, str]  # stage, arm, visit (follow-up only), measure


def _join(items: Iterable[str]) -> str:
    return ", ".join(items)


def _reasons_text(reasons: Sequence[tuple[str, int]]) -> str:
    return "; ".join(f"{r} (n = {k})" for r, k in reasons)


class _Log:
    """A screening log's rows after enrolment, matched to the plan and the data."""

    def __init__(
        self,
        post: pd.DataFrame,
        plan: Plan,
        followups: Sequence[str],
        source: str,
    ) -> None:
        t = plan.trial
        arms = _arms(plan)
        self.notes: list[str] = []
        self.any = len(post) > 0
        unknown_arms = [a for a in dict.fromkeys(post["arm"]) if a not in arms]
        if unknown_arms:
            self.notes.append(
                f"{source}: arm(s) {_join(map(repr, unknown_arms))} of its allocation, "
                f"follow-up or analysis rows are not arms of the plan ({_join(arms)}); "
                "those rows are not used in the participant flow"
            )
        fu = post[(post["stage"] == "follow-up") & post["arm"].isin(arms)]
        seen = list(dict.fromkeys(fu["visit"]))
        kinds = (
            ("not visits of the plan", [v for v in seen if v not in t.visits]),
            ("the baseline visit", [v for v in seen if v == t.baseline_visit]),
            (
                "not in the data",
                [v for v in seen if v in t.visits and v != t.baseline_visit and v not in followups],
            ),
        )
        for what, visits in kinds:
            if visits:
                self.notes.append(
                    f"{source}: follow-up visit(s) {_join(map(repr, visits))} are {what}; "
                    "those rows are not used in the participant flow"
                )
        keep = post["arm"].isin(arms) & (
            (post["stage"] != "follow-up") | post["visit"].isin(followups)
        )
        self.counts: dict[_Key, tuple[int | None, list[tuple[str, int]]]] = {}
        for stage, arm, visit, measure, reason, n in post[keep].itertuples(index=False):
            key = (str(stage), str(arm), str(visit) if stage == "follow-up" else "", str(measure))
            head, reasons = self.counts.get(key, (None, []))
            if reason:
                reasons.append((str(reason), int(n)))
            else:
                head = int(n) + (head or 0)
            self.counts[key] = (head, reasons)

    def total(self, stage: str, arm: str, measure: str, visit: str = "") -> int | None:
        """The logged count (a total row, else the sum of its reasons), None if not logged."""
        head, reasons = self.counts.get((stage, arm, visit, measure), (None, []))
        if head is not None:
            return head
        return sum(k for _, k in reasons) if reasons else None

    def reasons(self, stage: str, arm: str, measure: str, visit: str = "") -> list[tuple[str, int]]:
        return list(self.counts.get((stage, arm, visit, measure), (None, []))[1])


def _flow(
    data: pd.DataFrame, plan: Plan, screening: pd.DataFrame | None, source: str
) -> tuple[pd.DataFrame, list[str]]:
    """The rows of :func:`consort` and the notes of :func:`consort_notes`."""
    from resolve.analysis.baseline import FLOW_COLUMNS, flow_counts, screening_counts

    t = plan.trial
    arms = _arms(plan)
    arm_col = data[t.arm].astype(str)
    visit_col = data[t.visit].astype(str)
    subj = data[t.subject]
    main = _primary_outcome(plan)
    has = {o.name: pd.to_numeric(data[o.column]).notna() for o in plan.outcomes}
    followups = [v for v in _visits_present(data, plan) if v != t.baseline_visit]
    rows: list[_Row] = []
    notes: list[str] = []
    enrol = None
    post = pd.DataFrame({c: [] for c in FLOW_COLUMNS})
    if screening is not None:
        enrol = screening_counts(screening, source=source)
        post = flow_counts(screening, source=source)
        for measure, reason, n in enrol.itertuples(index=False):
            if measure == "randomised" or reason:
                continue
            reasons = enrol[(enrol["measure"] == measure) & (enrol["reason"] != "")]
            text = _reasons_text(list(zip(reasons.reason, reasons.n, strict=True)))
            flow = ("assessed for eligibility", "excluded")
            stage = measure if measure in flow else f"excluded: {measure}"
            rows.append((stage, "all", int(n), text, None, None, 0, FROM_LOG))
    log = _Log(post, plan, followups, source)
    notes += log.notes

    n_arm = {a: int(subj[arm_col == a].nunique()) for a in arms}
    # participants the log excludes from analysis as randomised in error and the data leave out
    removed: dict[str, int] = {}
    alloc_diff: list[str] = []
    not_drawn: list[str] = []
    for arm in arms:
        excluded = log.reasons("analysis", arm, "excluded from analysis")
        in_error = sum(k for r, k in excluded if r.lower() == "randomised in error")
        logged = log.total("allocation", arm, "allocated")
        if in_error and logged is not None and n_arm[arm] + in_error == logged:
            removed[arm] = in_error
        elif in_error:
            not_drawn.append(f"{arm}: randomised in error (n = {in_error})")
        if logged is not None and logged != n_arm[arm] + removed.get(arm, 0):
            alloc_diff.append(f"{logged} allocated to {arm} in the log, {n_arm[arm]} in the data")
        not_drawn += [
            f"{arm}: {r} (n = {k})"
            for r, k in excluded
            if k and r.lower() != "randomised in error" and not r.lower().startswith("no primary")
        ]
    if alloc_diff:
        notes.append(
            f"{source}: allocations differ from the data ({'; '.join(alloc_diff)}); the flow "
            "shows the data's counts (the log may be from a later export)"
        )
    if not_drawn:
        notes.append(
            f"{source}: exclusions from analysis the data do not reflect, so not drawn in the "
            f"flow ({'; '.join(not_drawn)}); the primary model analyses everyone in the data "
            f"with {main} at one or more visits"
        )

    n_data = int(subj.nunique())
    total = n_data + sum(removed.values())
    detail = "participants in the data"
    if removed:
        k = sum(removed.values())
        detail = f"{n_data} in the data + {k} randomised in error (screening log)"
    if enrol is not None:
        logged_rand = int(enrol.loc[enrol["measure"] == "randomised", "n"].iloc[0])
        if logged_rand != total:
            detail += f"; the screening log records {logged_rand} randomised"
        notes.insert(
            0,
            f"participant flow from screening: {source}"
            + (
                f" (it records {logged_rand} randomised; the data have {n_data})"
                if logged_rand != total
                else ""
            ),
        )
    rows.append(
        ("randomised", "all", total, detail, None, None, 0, FROM_BOTH if removed else FROM_DATA)
    )
    for arm in arms:
        rows.append(
            (
                "allocated",
                arm,
                n_arm[arm] + removed.get(arm, 0),
                f"allocated to {arm}",
                None,
                None,
                0,
                FROM_BOTH if arm in removed else FROM_DATA,
            )
        )
    for arm in arms:
        k = log.total("allocation", arm, "randomised in error") or 0
        if k:
            what = "not in the analysed data" if arm in removed else "kept in the arm (ITT)"
            rows.append(("allocated: randomised in error", arm, k, what, None, None, 0, FROM_LOG))

    differ: list[str] = []
    in_error_counted: dict[str, list[str]] = {}  # arm -> visits where that explains the log
    for visit in followups:
        at = visit_col == visit
        for arm in arms:
            counts = {
                name: int(subj[(arm_col == arm) & at & ok].nunique()) for name, ok in has.items()
            }
            parts = [f"{name} {n} ({n_arm[arm] - n} missing)" for name, n in counts.items()]
            text = "with data: " + "; ".join(parts)
            logged = log.total("follow-up", arm, "assessed", visit)
            if logged is not None and 0 < logged - counts[main] <= removed.get(arm, 0):
                in_error_counted.setdefault(arm, []).append(visit)
            elif logged is not None and logged != counts[main]:
                text += f"; screening log: {logged} assessed"
                differ.append(
                    f"{arm} at {visit}: {logged} assessed in the log, {counts[main]} with "
                    f"{main} in the data"
                )
            rows.append(
                (
                    f"follow-up {visit}",
                    arm,
                    counts[main],
                    text,
                    main,
                    visit,
                    n_arm[arm] - counts[main],
                    FROM_DATA,
                )
            )
        for arm in arms:
            for measure in _MISSING_REASONS:
                k = log.total("follow-up", arm, measure, visit) or 0
                if k:
                    text = _reasons_text(log.reasons("follow-up", arm, measure, visit))
                    stage = f"follow-up {visit}: {measure}"
                    rows.append((stage, arm, k, text, main, visit, 0, FROM_LOG))
    pv = t.primary_visit
    analysed: dict[str, int] = {}
    for arm in arms:
        n = int(subj[(arm_col == arm) & has[main]].nunique())
        analysed[arm] = n
        rows.append(
            (
                "analysed",
                arm,
                n,
                f"in the primary model ({main} at one or more visits)",
                main,
                None,
                n_arm[arm] - n,
                FROM_DATA,
            )
        )
        logged = log.total("analysis", arm, "analysed")
        observed = int(subj[(arm_col == arm) & (visit_col == pv) & has[main]].nunique())
        if (
            logged is not None
            and logged != observed
            and log.total("follow-up", arm, "assessed", pv) is None
        ):
            differ.append(
                f"{arm}: {logged} analysed at {pv} in the log, {observed} with {main} at {pv} "
                "in the data"
            )
    if log.any:
        for arm in arms:
            if n_arm[arm] - analysed[arm]:
                rows.append(
                    (
                        "analysed: excluded from analysis",
                        arm,
                        n_arm[arm] - analysed[arm],
                        f"no {main} at any visit",
                        main,
                        None,
                        0,
                        FROM_DATA,
                    )
                )
            if removed.get(arm):
                rows.append(
                    (
                        "analysed: excluded from analysis",
                        arm,
                        removed[arm],
                        "randomised in error",
                        main,
                        None,
                        0,
                        FROM_LOG,
                    )
                )
    if in_error_counted:
        where = "; ".join(f"{a} at {_join(v)}" for a, v in in_error_counted.items())
        notes.append(
            f"{source}: its follow-up counts include participants randomised in error whom "
            f"the data leave out ({where}); the flow shows the data's counts"
        )
    if differ:
        notes.append(
            f"{source}: follow-up counts differ from the data ({'; '.join(differ)}); the flow "
            "shows the data's counts, with the log's reasons for missing data as recorded"
        )
    out = pd.DataFrame(rows, columns=list(CONSORT_COLUMNS))
    for col in ("n", "n_missing"):
        out[col] = out[col].astype(np.int64)
    return out, notes


def consort(
    data: pd.DataFrame,
    plan: Plan,
    *,
    screening: pd.DataFrame | None = None,
    source: str = "screening",
) -> pd.DataFrame:
    """CONSORT participant flow from the data, with a screening log's counts and reasons.

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
        A screening log: the trial export's ``consort.csv``
        (:func:`resolve.trial.exports.consort_counts`; enrolment rows read by
        :func:`resolve.analysis.baseline.screening_counts`, allocation,
        follow-up and analysis rows by
        :func:`resolve.analysis.baseline.flow_counts`) or a hand-written
        ``measure, reason, n`` table of enrolment counts.  With it the flow
        starts at "assessed for eligibility", otherwise at randomisation.
    source : str
        How error messages name the screening log.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CONSORT_COLUMNS` (``stage, arm, n, detail, outcome,
        visit, n_missing, source``), rows in flow order; ``source`` says where
        ``n`` comes from (:data:`FROM_DATA`, :data:`FROM_LOG` or, when they add
        up, :data:`FROM_BOTH`).  A stage ``"<box>: <what>"`` is a line beneath
        the box of stage ``<box>`` (same arm and visit):

        - with ``screening`` only (arm ``"all"``): ``assessed for eligibility``;
          ``excluded`` (assessed minus randomised, as the log gives them); one
          ``excluded: <category>`` row per exclusion category of the log (e.g.
          ``excluded: not meeting inclusion criteria``), its reasons in
          ``detail`` as ``"<reason> (n = k); ..."``;
        - ``randomised`` (arm ``"all"``): participants in the data (``detail``
          notes when the screening log records a different number);
        - ``allocated`` (per arm): participants allocated to the arm; beneath
          it, ``allocated: randomised in error`` when the log counts any
          (``detail`` "kept in the arm (ITT)" or "not in the analysed data");
        - ``follow-up <visit>`` (per arm, per follow-up visit present): ``n``
          participants with the primary outcome at that visit, ``n_missing`` =
          the arm's participants in the data minus ``n``, ``visit`` set;
          beneath it the log's
          ``follow-up <visit>: withdrawn``, ``...: lost to follow-up`` and
          ``...: missed visit`` counts, those above zero;
        - ``analysed`` (per arm): participants with at least one value of the
          primary outcome, i.e. those the likelihood-based primary model uses
          (``n_missing``: the arm's participants in the data without one);
          when the log has rows after enrolment, beneath it ``analysed:
          excluded from analysis`` rows (``detail`` the reason): those in the
          data with no value of the primary outcome, and those the log excludes
          as randomised in error and the data leave out.

        ``outcome`` is the primary outcome on the follow-up and analysed rows.
        Arms in plan order with the reference first; visits in plan order.

    Notes
    -----
    The data are authoritative for the counts in the boxes (allocated,
    assessed at each visit, analysed); the log supplies what the data cannot
    know: enrolment, participants randomised in error, and why follow-up data
    are missing (withdrawn, lost to follow-up, missed visit).  Participants the
    log excludes from analysis as randomised in error are added to their arm's
    allocated count when the data leave them out (the export's
    ``randomised_in_error="exclude"``).  The log's ``excluded from analysis:
    no primary outcome at <visit>`` counts describe a complete-case analysis at
    one visit; the primary model keeps those participants through their other
    visits, so they appear as missing at that visit instead.  Where the log
    and the data disagree, or the log names arms or visits the plan or the
    data do not have, :func:`consort_notes` says so; those rows are not drawn.

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> plan = load_plan()
    >>> data = plan.validate_data(datasets.load("resolve"))
    >>> log = pd.DataFrame({
    ...     "stage": ["enrolment", "enrolment", "follow-up", "follow-up"],
    ...     "arm": ["all", "all", "sham", "sham"],
    ...     "visit": ["", "", "week 52", "week 52"],
    ...     "measure": ["assessed for eligibility", "randomised", "assessed", "withdrawn"],
    ...     "reason": "", "n": [300, 276, 130, 8]})
    >>> flow = consort(data, plan, screening=log)
    >>> flow.loc[flow.visit == "week 52", ["stage", "arm", "n", "source"]].to_numpy().tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['follow-up week 52', 'sham', 124, 'data'],
     ['follow-up week 52', 'resolve', 124, 'data'],
     ['follow-up week 52: withdrawn', 'sham', 8, 'screening log']]
    """
    return _flow(data, plan, screening, source)[0]


def consort_notes(
    data: pd.DataFrame,
    plan: Plan,
    screening: pd.DataFrame | None,
    *,
    source: str = "screening",
) -> list[str]:
    """Notes on the participant flow of :func:`consort`: where the log and the data differ.

    Parameters
    ----------
    data, plan, screening, source
        As :func:`consort`.

    Returns
    -------
    list of str
        Empty without a screening log.  Otherwise first ``"participant flow
        from screening: <source>"`` (with the log's randomised count when it is
        not the data's), then one note each for: log arms not in the plan;
        follow-up visits not in the plan, at baseline, or not in the data;
        allocated counts that differ from the data's participants per arm;
        exclusions from analysis the flow cannot draw; follow-up ``assessed``
        (or ``analysed``) counts that differ from the participants with the
        primary outcome in the data.  None of these is an error: the log may
        be from a later export than the data.

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> plan = load_plan()
    >>> data = plan.validate_data(datasets.load("resolve"))
    >>> log = pd.DataFrame({
    ...     "stage": ["enrolment", "enrolment", "allocation"],
    ...     "arm": ["all", "all", "placebo"], "visit": "",
    ...     "measure": ["assessed for eligibility", "randomised", "allocated"],
    ...     "reason": "", "n": [300, 276, 138]})
    >>> for note in consort_notes(data, plan, log, source="log.csv"):
    ...     print(note)
    participant flow from screening: log.csv
    log.csv: arm(s) 'placebo' of its allocation, follow-up or analysis rows are not arms of \
the plan (sham, resolve); those rows are not used in the participant flow
    """
    if screening is None:
        return []
    return _flow(data, plan, screening, source)[1]
