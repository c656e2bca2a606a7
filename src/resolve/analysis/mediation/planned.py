"""The plan's ``[mediation]`` section run on trial data (``resolve analyze``, the report).

:func:`mediation_analysis` reads, per participant, each outcome at the plan's
mediation visit (and at baseline, a confounder when ``adjust_for_baseline``),
each mediator (and its baseline value, a confounder of that mediator's models)
and the confounders, then runs :func:`~resolve.analysis.mediation.mediate` once
per outcome (the bootstrap resamples are the same for every outcome: one seed,
one participant table).

* Text confounders (e.g. ``sex``) enter as 0/1 indicators of their non-first
  levels (levels from ``[analysis] covariate_levels`` when given, else sorted).
* With ``interaction = true`` the Imai-Keele-Yamamoto curve, which assumes no
  treatment-mediator interaction, is computed from the same models without the
  interaction (``settings["sensitivity_model"]`` says so).
* ``missing = "complete_cases"``: each model uses its complete cases; the
  number dropped is in the warnings. ``missing = "multiple_imputation"``:
  ``imputations`` completed participant tables by chained equations with
  predictive mean matching, by arm (:mod:`resolve.analysis.mi`), the whole
  analysis on each, and every estimate pooled by Rubin's rules with the
  within-imputation variance from the bootstrap (the SD of its draws, squared)
  or the delta method: ``ci_method`` ``mi-percentile``/``mi-bca`` (bootstrap
  variance; the interval is then Rubin's t interval, not a bootstrap interval)
  and ``mi-delta``. Large-sample Rubin degrees of freedom (complete-data df
  taken as infinite).

Examples
--------
>>> from resolve.analysis import load_plan
>>> from resolve.simulate import simulate_trial
>>> from resolve.simulate.mediators import mediation_scenario
>>> data = simulate_trial(mediation_scenario(), seed=3)
>>> out = mediation_analysis(data, load_plan(), boot=0)
>>> nie = out.result.effects.query("effect == 'nie' and mediator == 'bbq'")
>>> nie.outcome.tolist(), out.n_participants
(['pain', 'rmdq'], 276)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from resolve._results import Result, jsonable
from resolve._validation import require_columns, show_values
from resolve.analysis.mediation.api import mediate
from resolve.analysis.mediation.regression import fit_single
from resolve.analysis.mediation.result import (
    EFFECT_COLUMNS,
    PATH_COLUMNS,
    SENSITIVITY_COLUMNS,
    MediationResult,
    empty_frame,
)
from resolve.analysis.mediation.sensitivity import rho_curve, rho_thresholds
from resolve.analysis.plan import MediationSettings, Plan
from resolve.errors import DataValidationError

__all__ = [
    "PlannedMediation",
    "mediation_analysis",
    "mediation_columns",
    "participant_table",
]

FloatArray = npt.NDArray[np.float64]

#: Suffix of the baseline columns in the participant table.
BASELINE = " (baseline)"
#: The treatment column of the participant table.
ARM = "arm"


@dataclass(frozen=True, eq=False)
class PlannedMediation(Result):
    """The plan's mediation analysis and how it was run.

    Attributes
    ----------
    result : MediationResult
        Effects, paths, sensitivity curves, settings and warnings.
    n_participants : int
        Participants in the two arms compared.
    missing : str
        ``complete_cases`` or ``multiple_imputation``.
    imputations : int or None
        Number of imputations pooled (None for complete cases).
    labels : mapping
        Mediator name -> display label.
    placeholders : tuple of str
        Settings and mediators that are reconstructions, not from the protocol.
    data_label : str or None
        Where the data came from when not the analysed trial (the demo); None otherwise.
    """

    result: MediationResult
    n_participants: int
    missing: str
    imputations: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    placeholders: tuple[str, ...] = ()
    data_label: str | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.result.to_frame()

    def tables(self) -> dict[str, pd.DataFrame]:
        """The CSV/JSON tables ``resolve analyze`` writes."""
        return {
            "mediation_effects": self.result.effects,
            "mediation_paths": self.result.paths,
            "mediation_sensitivity": self.result.sensitivity,
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {
                "effects": self.result.effects,
                "paths": self.result.paths,
                "sensitivity": self.result.sensitivity,
                "settings": dict(self.result.settings),
                "warnings": list(self.result.warnings),
                "n_participants": self.n_participants,
                "missing": self.missing,
                "imputations": self.imputations,
                "labels": dict(self.labels),
                "placeholders": list(self.placeholders),
                "data_label": self.data_label,
            }
        )
        return out

    def summary(self) -> str:
        rows = self.result.effects
        nie = rows[(rows["effect"] == "nie") & (rows["ci_method"] != "delta")]
        if nie.empty:
            nie = rows[rows["effect"] == "nie"]
        cols = ["outcome", "mediator", "estimate", "conf_low", "conf_high", "ci_method"]
        return str(nie[cols].to_string(index=False))


# ----------------------------------------------------------------------------- data
def mediation_columns(plan: Plan) -> tuple[str, ...]:
    """The mediator value columns the plan names (what a trial must have measured).

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> mediation_columns(load_plan())[:2]
    ('pseq_12', 'bbq_12')
    """
    return tuple(dict.fromkeys(m.column for m in plan.mediation.mediators))


def _numeric(data: pd.DataFrame, columns: Sequence[str], source: str) -> pd.DataFrame:
    """``data`` with ``columns`` as floats; a non-number is refused with its row and column."""
    out = data.copy()
    for c in dict.fromkeys(columns):
        values = data[c]
        numbers = pd.to_numeric(values, errors="coerce")
        bad = (numbers.isna() & values.notna()).to_numpy()
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"{source}: row {k + 1}, column {c!r}: not a number: {values.iloc[k]!r}"
            )
        out[c] = numbers.astype(float)
    return out


def _per_participant(
    data: pd.DataFrame,
    plan: Plan,
    column: str,
    visit: str | None,
    source: str,
    subjects: pd.Index,
) -> pd.Series:
    """One value of ``column`` per participant: at ``visit``'s row, or the participant's value."""
    t = plan.trial
    if visit is not None:
        rows = data[data[t.visit].astype(str) == visit]
        dup = rows[t.subject].duplicated()
        if dup.any():
            k = rows.index[int(np.flatnonzero(dup.to_numpy())[0])]
            raise DataValidationError(
                f"{source}: row {int(k) + 1}: participant {rows.loc[k, t.subject]!r} has "
                f"two rows at visit {visit!r}"
            )
        return pd.Series(rows[column].to_numpy(), index=rows[t.subject].to_numpy()).reindex(
            subjects
        )
    present = data[data[column].notna()]
    firsts = present.groupby(t.subject, sort=False)[column]
    counts = firsts.nunique()
    if (counts > 1).any():
        who = counts.index[counts > 1][0]
        values = present.loc[present[t.subject] == who, column].unique().tolist()
        raise DataValidationError(
            f"{source}: column {column!r} must hold one value per participant (it has no "
            f"visit in the plan's [mediation]); participant {who!r} has "
            f"{show_values(values)}"
        )
    return firsts.first().reindex(subjects)


def _coded_confounders(
    data: pd.DataFrame, plan: Plan, table: pd.DataFrame, source: str
) -> tuple[pd.DataFrame, list[str]]:
    """Add the confounders (text ones as indicators) to ``table``; return it and their names."""
    names: list[str] = []
    levels_given = plan.analysis.covariate_levels
    for c in plan.mediation.confounders:
        values = _per_participant(data, plan, c, None, source, table.index)
        numeric = pd.to_numeric(values, errors="coerce")
        if not (numeric.isna() & values.notna()).any():
            table[c] = numeric.astype(float)
            names.append(c)
            continue
        seen = sorted({str(v) for v in values.dropna()})
        levels = list(levels_given.get(c, seen))
        unknown = [v for v in seen if v not in levels]
        if unknown:
            raise DataValidationError(
                f"{source}: column {c!r} has value(s) {show_values(unknown)} not among its "
                f"levels {show_values(levels)} ([analysis] covariate_levels)"
            )
        text = values.astype(object)
        for lv in levels[1:]:
            name = f"{c}[{lv}]"
            col = (text.astype(str) == lv).astype(float)
            col[values.isna()] = np.nan
            table[name] = col
            names.append(name)
    return table, names


def participant_table(
    data: pd.DataFrame, plan: Plan, *, source: str = "data"
) -> tuple[pd.DataFrame, list[str]]:
    """One row per participant of the two compared arms: the columns the mediation uses.

    Returns the table (index: participant id; columns ``arm``, each outcome at the
    mediation visit, ``"<outcome> (baseline)"``, each mediator by name,
    ``"<mediator> (baseline)"``, the coded confounders) and the confounder names.

    Raises
    ------
    DataValidationError
        A column the plan names is missing; a value that is not a number (file, row,
        column and value named); a mediator without visit that differs between rows of
        one participant; more than two arms with participants.
    """
    t = plan.trial
    s = plan.mediation
    needed = [t.subject, t.arm, t.visit, *(plan.outcome(o).column for o in s.outcomes)]
    for m in s.mediators:
        needed += [m.column] + ([m.baseline] if m.baseline else [])
    needed += list(s.confounders)
    require_columns(data, list(dict.fromkeys(needed)))
    arms = data.groupby(t.subject, sort=False)[t.arm].first().astype(str)
    present = [a for a in t.arms if a in set(arms)]
    if t.reference_arm not in present or len(present) != 2:
        raise DataValidationError(
            f"{source}: mediation compares the reference arm {t.reference_arm!r} with one "
            f"other arm; arms with participants: {show_values(present)}"
        )
    numeric = [plan.outcome(o).column for o in s.outcomes]
    numeric += [c for m in s.mediators for c in (m.column, m.baseline) if c]
    data = _numeric(data, numeric, source)
    table = pd.DataFrame({ARM: arms})
    table.index.name = t.subject
    subjects = table.index
    for name in s.outcomes:
        o = plan.outcome(name)
        table[name] = _per_participant(data, plan, o.column, s.visit, source, subjects)
        if s.adjust_for_baseline:
            table[name + BASELINE] = _per_participant(
                data, plan, o.column, t.baseline_visit, source, subjects
            )
    for m in s.mediators:
        table[m.name] = _per_participant(data, plan, m.column, m.visit, source, subjects)
        if m.baseline:
            table[m.name + BASELINE] = _per_participant(
                data, plan, m.baseline, m.baseline_visit, source, subjects
            )
    return _coded_confounders(data, plan, table, source)


# ----------------------------------------------------------------------------- analysis
def _options(s: MediationSettings, conf_level: float, boot: int | None) -> dict[str, Any]:
    return {
        "interaction": s.interaction,
        "boot": s.boot if boot is None else boot,
        "seed": s.seed,
        "ci": s.ci,
        "conf_level": conf_level,
        "joint": s.joint,
    }


def _one_table(
    table: pd.DataFrame,
    plan: Plan,
    confounders: list[str],
    *,
    boot: int | None,
    conf_level: float,
) -> MediationResult:
    """Every outcome of the plan on one participant table (complete or imputed)."""
    s = plan.mediation
    names = [m.name for m in s.mediators]
    types = {m.name: m.type for m in s.mediators}
    own = {m.name: [m.name + BASELINE] for m in s.mediators if m.baseline}
    opts = _options(s, conf_level, boot)
    interventional = s.interventional and opts["boot"] > 0
    parts: list[MediationResult] = []
    curves: list[pd.DataFrame] = []
    thresholds: list[dict[str, Any]] = []
    notes: list[str] = []
    for outcome in s.outcomes:
        covs = [*confounders, *([outcome + BASELINE] if s.adjust_for_baseline else [])]
        res = mediate(
            table,
            treatment=ARM,
            reference=plan.trial.reference_arm,
            outcomes=outcome,
            mediators=names,
            covariates=covs,
            mediator_covariates=own,
            mediator_types=types,
            interventional=interventional,
            sensitivity=s.sensitivity and not s.interaction,
            **opts,
        )
        parts.append(res)
        thresholds += list(res.settings.get("rho_thresholds", []))
        if s.sensitivity and s.interaction:
            for m in s.mediators:
                if m.type != "continuous":
                    continue
                fit = fit_single(
                    table,
                    treatment=ARM,
                    reference=plan.trial.reference_arm,
                    outcome=outcome,
                    mediator=m.name,
                    covariates=[*covs, *own.get(m.name, [])],
                    interaction=False,
                    conf_level=conf_level,
                )
                curves.append(rho_curve(fit, conf_level=conf_level))
                th = rho_thresholds(fit, conf_level=conf_level)
                thresholds.append(
                    {
                        "outcome": outcome,
                        "mediator": m.name,
                        "nie_zero": th.nie_zero,
                        "ci_zero": th.ci_zero,
                    }
                )
            binary = [m.name for m in s.mediators if m.type != "continuous"]
            if binary:
                notes.append(f"no rho sensitivity curve for binary mediator(s) {', '.join(binary)}")
    settings = dict(parts[0].settings)
    settings["outcomes"] = list(s.outcomes)
    settings["covariates"] = confounders
    settings["outcome_baseline_adjusted"] = s.adjust_for_baseline
    settings["interventional"] = interventional
    settings["rho_thresholds"] = thresholds
    settings["sensitivity_model"] = (
        "from the same models without the treatment-mediator interaction"
        if s.interaction
        else "from the analysis models"
    )
    sens = [p.sensitivity for p in parts if not p.sensitivity.empty] + curves
    return MediationResult(
        effects=pd.concat([p.effects for p in parts], ignore_index=True),
        paths=pd.concat([p.paths for p in parts], ignore_index=True),
        sensitivity=pd.concat(sens, ignore_index=True)
        if sens
        else empty_frame(SENSITIVITY_COLUMNS),
        settings=settings,
        warnings=tuple(dict.fromkeys([w for p in parts for w in p.warnings] + notes)),
    )


def _pool(
    frames: Sequence[pd.DataFrame], keys: list[str], level: float, by_method: bool
) -> pd.DataFrame:
    """Rubin's rules per row key over the imputations' tables (rows matched by key).

    With ``by_method``, delta-method and bootstrap rows are pooled apart (a BCa row that
    fell back to percentile in one imputation is still the bootstrap row).
    """
    from resolve.analysis.mi import rubin_pool

    tagged = []
    for f in frames:
        g = f.copy()
        if by_method:
            g["_family"] = np.where(g["ci_method"] == "delta", "delta", "bootstrap")
        tagged.append(g)
    every = pd.concat(tagged, ignore_index=True)
    group = [*keys, "_family"] if by_method else keys
    rows: list[dict[str, Any]] = []
    for key, g in every.groupby(group, sort=False):
        row: dict[str, Any] = dict(zip(group, key, strict=True))
        q = g["estimate"].to_numpy(dtype=float)
        u = g["std_error"].to_numpy(dtype=float) ** 2
        ok = np.isfinite(q) & np.isfinite(u)
        est = se = low = high = p = float("nan")
        if ok.sum() >= 2 and np.any(u[ok] > 0):
            r = rubin_pool(q[ok], u[ok], np.inf)
            tq = float(stats.t.ppf(0.5 + level / 2.0, r.df))
            est, se = r.estimate, r.std_error
            low, high = est - tq * se, est + tq * se
            p = float(2 * stats.t.sf(abs(est / se), r.df))
        row.update(estimate=est, std_error=se, conf_low=low, conf_high=high, p_value=p)
        if by_method:
            label = "delta" if row.pop("_family") == "delta" else g["ci_method"].mode().iloc[0]
            row["ci_method"] = f"mi-{label}"
        rows.append(row)
    return pd.DataFrame(rows)


def _pooled_curves(frames: Sequence[pd.DataFrame], level: float) -> pd.DataFrame:
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    with_se = [
        f.assign(estimate=f["nie"], std_error=(f["conf_high"] - f["conf_low"]) / (2 * z))
        for f in frames
    ]
    pooled = _pool(with_se, ["outcome", "mediator", "rho"], level, False)
    return pooled.rename(columns={"estimate": "nie"}).loc[:, list(SENSITIVITY_COLUMNS)]


def _curve_thresholds(curves: pd.DataFrame) -> list[dict[str, Any]]:
    """Where a (pooled) curve's NIE and its interval reach zero, from the grid."""
    out = []
    for (outcome, mediator), c in curves.groupby(["outcome", "mediator"], sort=False):
        c = c.sort_values("rho")
        rho = c["rho"].to_numpy()
        nie = c["nie"].to_numpy()
        at0 = int(np.argmin(np.abs(rho)))
        sign = np.sign(nie[at0])
        crossing = np.flatnonzero(np.sign(nie) != sign)
        if crossing.size:
            k = crossing[np.argmin(np.abs(rho[crossing] - rho[at0]))]
            nie_zero = float(rho[k])
        else:
            nie_zero = float("nan")
        covers = (c["conf_low"].to_numpy() <= 0) & (c["conf_high"].to_numpy() >= 0)
        if covers[at0]:
            ci_zero = 0.0
        else:
            hits = np.flatnonzero(covers)
            ci_zero = float(rho[hits[np.argmin(np.abs(rho[hits]))]]) if hits.size else np.nan
        out.append(
            {"outcome": outcome, "mediator": mediator, "nie_zero": nie_zero, "ci_zero": ci_zero}
        )
    return out


def _imputed(table: pd.DataFrame, columns: list[str], m: int, seed: int) -> list[pd.DataFrame]:
    """``m`` completed copies of ``table`` (MICE with PMM, by arm, as resolve.analysis.mi)."""
    from resolve.analysis.mi import _mice_chain

    Z = table[columns].to_numpy(dtype=float)
    out = []
    for stream in np.random.SeedSequence([seed, 14]).spawn(m):
        rng = np.random.default_rng(stream)
        full = Z.copy()
        for arm in pd.unique(table[ARM]):
            rows = (table[ARM] == arm).to_numpy()
            full[rows] = _mice_chain(Z[rows], 10, rng, "pmm")
        done = table.copy()
        done[columns] = full
        out.append(done)
    return out


def mediation_analysis(
    data: pd.DataFrame,
    plan: Plan,
    *,
    source: str = "data",
    boot: int | None = None,
    data_label: str | None = None,
) -> PlannedMediation:
    """Run the plan's ``[mediation]`` section on long-format trial ``data``.

    Parameters
    ----------
    data : DataFrame
        Long format (one row per participant and visit), with the columns the
        plan's ``[mediation]`` names.
    plan : Plan
    source : str
        How error messages name the data.
    boot : int, optional
        Override the plan's number of resamples (0: delta-method rows only; tests).
    data_label : str, optional
        Recorded in the result when the data are not the analysed trial (the demo).

    Returns
    -------
    PlannedMediation

    Raises
    ------
    DataValidationError
        The section is not enabled, a column is missing or holds a non-number, or
        the options are inconsistent (see :func:`participant_table` and
        :func:`~resolve.analysis.mediation.mediate`).
    """
    s = plan.mediation
    if not s.enabled or not s.mediators:
        raise DataValidationError(
            f"plan {plan.source}: [mediation] is not enabled or lists no mediators"
        )
    table, confounders = participant_table(data, plan, source=source)
    level = plan.analysis.conf_level
    labels = {m.name: m.label for m in s.mediators}
    marked = tuple(
        [f"[mediation] {k}" for k in s.placeholders]
        + [f"mediator {m.name}" for m in s.mediators if m.placeholder]
    )
    common: dict[str, Any] = {
        "n_participants": len(table),
        "labels": labels,
        "placeholders": marked,
        "data_label": data_label,
    }
    incomplete = [c for c in table.columns if c != ARM and table[c].isna().any()]
    if s.missing == "complete_cases" or not incomplete:
        result = _one_table(table, plan, confounders, boot=boot, conf_level=level)
        warnings = list(result.warnings)
        if s.missing == "multiple_imputation":
            warnings.append("multiple imputation not needed: no missing values")
        elif incomplete:
            dropped = int(table[incomplete].isna().any(axis=1).sum())
            warnings.insert(
                0,
                f"complete cases: {dropped} of {len(table)} participants miss a value used by "
                "at least one model (outcome, mediator or confounder); each model uses its "
                "complete cases, which assumes the missing values are missing completely at "
                "random given the model's covariates",
            )
        return PlannedMediation(
            result=replace(result, warnings=tuple(warnings)),
            missing="complete_cases",
            **common,
        )
    columns = [c for c in table.columns if c != ARM]
    runs = [
        _one_table(done, plan, confounders, boot=boot, conf_level=level)
        for done in _imputed(table, columns, s.imputations, s.seed)
    ]
    effects = _pool([r.effects for r in runs], ["outcome", "mediator", "effect"], level, True)
    effects["n"] = len(table)
    paths = _pool([r.paths for r in runs], ["outcome", "mediator", "path"], level, False)
    curves = [r.sensitivity for r in runs if not r.sensitivity.empty]
    sens = _pooled_curves(curves, level) if curves else empty_frame(SENSITIVITY_COLUMNS)
    settings = dict(runs[0].settings)
    settings["rho_thresholds"] = _curve_thresholds(sens) if not sens.empty else []
    settings["missing"] = "multiple_imputation"
    settings["imputations"] = s.imputations
    n_missing = int(table[incomplete].isna().any(axis=1).sum())
    warnings = [
        f"multiple imputation: {n_missing} of {len(table)} participants had a missing value; "
        f"{s.imputations} imputations (chained equations, predictive mean matching, by arm), "
        "estimates pooled by Rubin's rules (t intervals with Rubin's large-sample df; the "
        "within-imputation variance is the bootstrap variance or the delta-method one)",
        *dict.fromkeys(w for r in runs for w in r.warnings),
    ]
    result = MediationResult(
        effects=effects.loc[:, list(EFFECT_COLUMNS)],
        paths=paths.loc[:, list(PATH_COLUMNS)],
        sensitivity=sens,
        settings=settings,
        warnings=tuple(warnings),
    )
    return PlannedMediation(
        result=result, missing="multiple_imputation", imputations=s.imputations, **common
    )
