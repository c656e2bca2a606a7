"""Who benefits: the predicted treatment effect for one patient's baseline profile (exploratory).

Per effect-modification outcome and follow-up visit, among complete cases, the
effect model has every plan modifier and its arm interaction::

    y_t = α + Σ_a δ_a·A_a + Σ_j λ_j·m_j + Σ_a Σ_j κ_aj·(A_a × m_j) [+ γ·y_0] [+ covariates] + ε

``method="ridge"`` (default) fits it as :mod:`resolve.analysis.benefit` does,
following the PATH statement's recommendation to penalise effect models: the
interactions (of standardised modifiers) shrunk by a ridge penalty chosen by
cross-validation (``[benefit] folds``, ``seed``, ``rule``), λ = ∞ (the average
effect for everyone) included. The patient's effect of arm *a* is
``δ_a + Σ_j κ_aj·z*_j``; a ridge estimate has no valid confidence interval, so
none is given. ``method="unpenalised"`` is the ordinary least-squares fit (the
global-test model of :mod:`resolve.analysis.effect_modifiers`) with the t-based
CI of the contrast ``δ_a + Σ_j κ_aj·m*_j``; with 8 modifiers it overfits (in a
simulated trial with a homogeneous effect its individual predictions were 2.8
times as far from the truth as the average effect).

Either way the output is exploratory (``exploratory`` is True on every row),
carries the model's cross-validated calibration slope for benefit and
c-for-benefit (nested cross-validation, :func:`resolve.analysis.benefit.benefit_metrics`),
and has no P value: a per-patient P value answers no useful question.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis.plan import load_plan
>>> profile = {"pseq": 36, "pcs": 17, "pain_baseline": 6, "psychoactive": 0, "frebaq": 14,
...            "tsk": 40, "rmdq_baseline": 10, "bbq": 25}
>>> out = predict_individual(datasets.load("resolve"), load_plan(), profile)
>>> list(out.columns[:4]), len(out), bool(out["exploratory"].all())
(['outcome', 'visit', 'contrast', 'estimate'], 8, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from resolve._validation import show_values
from resolve.analysis._ols import contrast
from resolve.analysis._wide import WideData, wide_data
from resolve.analysis.benefit import Rule, _cell_arrays, benefit_metrics, cell_rng, fit_cell
from resolve.analysis.effect_modifiers import joint_fit
from resolve.analysis.plan import Plan, load_plan
from resolve.errors import DataValidationError
from resolve.stats._blas import limit_blas_threads

__all__ = ["predict_individual", "profile_keys"]

COLUMNS = [
    "outcome", "visit", "contrast", "estimate", "std_error", "df", "conf_low", "conf_high",
    "mean_reference", "mean_treatment", "n", "extrapolated", "exploratory", "method",
    "penalty", "calibration_slope", "calibration_slope_low", "calibration_slope_high",
    "c_for_benefit",
]  # fmt: skip
Method = Literal["ridge", "unpenalised"]


def profile_keys(plan: Plan, data: pd.DataFrame | None = None) -> tuple[str, ...]:
    """Keys a profile must have: each modifier's name, ``<outcome>_baseline`` for each
    effect-modification outcome (when the plan adjusts for baseline), and each covariate.

    With ``data``, ``<outcome>_baseline`` is left out when a modifier holds the same
    values as the outcome at the baseline visit for every participant (the model then
    enters it once, as the modifier). In the RESOLVE plan the baseline outcomes are
    modifiers of the same names (``pain_baseline``, ``rmdq_baseline``), so the keys are
    the 8 modifier names either way.

    Examples
    --------
    >>> from resolve.analysis.plan import load_plan
    >>> profile_keys(load_plan())[:3]
    ('pseq', 'pcs', 'pain_baseline')
    """
    adjust = plan.effect_modification.adjust_for_baseline
    same = _baseline_modifiers(wide_data(data, plan)) if adjust and data is not None else {}
    return _keys(plan, same)


def _keys(plan: Plan, same: Mapping[str, str]) -> tuple[str, ...]:
    keys = [m.name for m in plan.modifiers]
    if plan.effect_modification.adjust_for_baseline:
        keys += [f"{o}_baseline" for o in plan.effect_modification.outcomes if o not in same]
    keys += list(plan.analysis.covariates)
    return tuple(dict.fromkeys(keys))


def _baseline_modifiers(w: WideData) -> dict[str, str]:
    """Outcome -> name of a modifier equal to its baseline value for every participant."""
    out: dict[str, str] = {}
    base = w.plan.trial.baseline_visit
    for o in w.plan.effect_modification.outcomes:
        y0 = w.outcome(o, base).to_numpy(dtype=float)
        for m in w.plan.modifiers:
            if np.array_equal(y0, w.baseline[m.column].to_numpy(dtype=float), equal_nan=True):
                out[o] = m.name
                break
    return out


def _validate(
    profile: Mapping[str, float | str],
    plan: Plan,
    factors: Mapping[str, tuple[str, ...]],
    keys: tuple[str, ...],
) -> dict[str, float | str]:
    if not isinstance(profile, Mapping):
        raise DataValidationError(
            f"profile must be a mapping of name -> value; got {type(profile).__name__}"
        )
    unknown = sorted(set(profile) - set(keys))
    missing = [k for k in keys if k not in profile]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing {show_values(missing, limit=10)}")
        if unknown:
            parts.append(f"unknown {show_values(unknown, limit=10)}")
        raise DataValidationError(f"profile: {'; '.join(parts)}; expected keys: {', '.join(keys)}")
    out: dict[str, float | str] = {}
    for k in keys:
        v = profile[k]
        if k in factors:
            if not isinstance(v, str) or v not in factors[k]:
                raise DataValidationError(
                    f"profile[{k!r}] is a categorical covariate and must be one of its levels "
                    f"({show_values(factors[k], limit=12)}); got {v!r}"
                )
            out[k] = v
            continue
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise DataValidationError(f"profile[{k!r}] must be a number; got {v!r}")
        f = float(v)
        if not math.isfinite(f):
            raise DataValidationError(f"profile[{k!r}] must be finite; got {v!r}")
        out[k] = f
    for m in plan.modifiers:
        if m.type == "binary" and out[m.name] not in (0.0, 1.0):
            raise DataValidationError(
                f"profile[{m.name!r}] is a binary modifier and must be 0 or 1; got {out[m.name]!r}"
            )
    return out


def _levels_in_cell(
    w: WideData, mask: npt.NDArray[np.bool_], values: Mapping[str, float | str]
) -> bool:
    """Whether every categorical covariate level of the profile occurs among the cell's rows."""
    for col in w.factors:
        if values[col] not in set(w.baseline[col].astype(object).to_numpy()[mask]):
            return False
    return True


def _adjust_value(values: Mapping[str, float | str], key: tuple[str, str | None]) -> float:
    name, level = key
    if level is None:
        return float(values[name])
    return 1.0 if values[name] == level else 0.0


def predict_individual(
    data: pd.DataFrame,
    plan: Plan | None,
    profile: Mapping[str, float | str],
    *,
    method: Method = "ridge",
) -> pd.DataFrame:
    """Predicted treatment effect for one patient's baseline profile (exploratory).

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format trial data matching ``plan``.
    plan : Plan or None
        Analysis plan (None: the bundled RESOLVE plan).
    profile : mapping of str to float or str
        The patient's baseline values, keyed as ``profile_keys(plan, data)`` lists
        (modifier names; binary modifiers 0/1; a categorical covariate's value is
        one of its levels, e.g. ``"female"``).
    method : {"ridge", "unpenalised"}
        ``"ridge"``: interactions shrunk by a cross-validated ridge penalty (as
        :mod:`resolve.analysis.benefit`; no CI). ``"unpenalised"``: the OLS joint
        model with its t-based CI.

    Returns
    -------
    pandas.DataFrame
        One row per outcome x follow-up visit x contrast (each non-reference arm
        minus the reference arm, then the plan's ``extra_contrasts``):
        ``outcome, visit, contrast`` ("resolve - sham"), ``estimate`` (the
        patient's predicted treatment effect), ``std_error, df, conf_low,
        conf_high`` (unpenalised only; NaN for ridge), ``mean_reference,
        mean_treatment`` (predicted outcome under the contrast's comparator arm and
        under its arm; NaN when a categorical covariate level of the profile has no
        participant in the model), ``n`` (complete cases), ``extrapolated`` (a
        modifier value outside the observed range), ``exploratory`` (always True),
        ``method``, ``penalty`` (the ridge λ; inf = no interaction, so everyone gets
        the average effect; 0 for unpenalised), and the model's cross-validated
        ``calibration_slope`` (with ``calibration_slope_low/high``) and
        ``c_for_benefit`` (NaN for ``extra_contrasts``). No P value.

    Raises
    ------
    DataValidationError
        If the profile lacks or has unknown keys (both are named), has a
        non-numeric or non-finite value, a binary modifier is not 0/1, a
        categorical covariate's value is not one of its levels, or ``method`` is
        unknown.

    Notes
    -----
    The model assumes each modifier acts linearly and additively on the
    treatment effect. The calibration columns say how far to trust the spread of
    the predictions: a calibration slope well below 1 means predicted
    differences between patients are too large, and a c-for-benefit near 0.5
    means the model cannot tell who benefits more. Complete cases per outcome x
    visit. Takes about 0.1 s per outcome x visit (nested cross-validation).
    """
    if method not in ("ridge", "unpenalised"):
        raise DataValidationError(f"method must be 'ridge' or 'unpenalised'; got {method!r}")
    plan = load_plan() if plan is None else plan
    with limit_blas_threads(1):
        w = wide_data(data, plan)
        same = _baseline_modifiers(w) if plan.effect_modification.adjust_for_baseline else {}
        values = _validate(profile, plan, w.factors, _keys(plan, same))
        for o, name in same.items():  # the baseline outcome is this modifier's value
            values.setdefault(f"{o}_baseline", values[name])
        cols = [m.column for m in plan.modifiers]
        mvec = np.array([float(values[m.name]) for m in plan.modifiers])
        lo = w.baseline[cols].min().to_numpy()
        hi = w.baseline[cols].max().to_numpy()
        extrapolated = bool(((mvec < lo) | (mvec > hi)).any())
        a = len(w.arms) - 1
        k = len(cols)
        level = plan.analysis.conf_level
        bset = plan.benefit
        rows: list[dict[str, Any]] = []
        visits = [v for v in plan.effect_modification.visits if v in w.visits]
        for outcome in plan.effect_modification.outcomes:
            for visit in visits:
                M, cell = _cell_arrays(w, outcome, visit)
                n = cell.y.size
                x_adj = np.array([_adjust_value(values, key) for key in cell.adjust_keys])
                known = _levels_in_cell(w, cell.mask, values)
                rng = cell_rng(bset.seed, outcome, visit)
                rule: Rule = "none" if method == "unpenalised" else bset.rule
                cf = fit_cell(
                    M, cell.arm, cell.adjust, cell.y, folds=bset.folds, rule=rule, rng=rng
                )
                metrics = [
                    benefit_metrics(cf, cell.y, cell.arm, i, rng=rng, conf_level=level)[1]
                    for i in range(a)
                ]
                if method == "ridge":
                    arm_eff = cf.path.effects(mvec[None, :])[0, :, 0]
                    mean_ref = float(cf.path.reference_mean(mvec[None, :], x_adj[None, :])[0, 0])
                    fit = None
                    effect = np.zeros((a, 0))
                else:
                    fit, _ = joint_fit(w, outcome, visit)
                    # reference arm: intercept, modifiers, adjusters
                    x_ref = np.concatenate([[1.0], np.zeros(a), mvec, np.zeros(a * k), x_adj])
                    mean_ref = float(x_ref @ fit.coef)
                    # effect of each non-reference arm i against the reference: δ_i + Σ_j κ_ij m*_j
                    effect = np.zeros((a, fit.coef.size))
                    for i in range(a):
                        effect[i, 1 + i] = 1.0
                        effect[i, 1 + a + k + i * k : 1 + a + k + (i + 1) * k] = mvec
                    arm_eff = effect @ fit.coef
                if not known:
                    mean_ref = math.nan  # a covariate level nobody in this model has
                for lab, weights in w.contrasts():
                    est = float(weights @ arm_eff)
                    se = df = c_lo = c_hi = math.nan
                    if fit is not None:
                        r = contrast(fit, weights @ effect, conf_level=level)
                        se, df, c_lo, c_hi = r.std_error, float(r.df), r.conf_low, r.conf_high
                    # the comparator's predicted mean: reference arm plus its effect, if any
                    comparator = mean_ref + float(np.clip(-weights, 0, None) @ arm_eff)
                    single = np.flatnonzero(weights)
                    met = (
                        metrics[int(single[0])]
                        if single.size == 1 and weights[single[0]] == 1.0
                        else None
                    )
                    rows.append(
                        {
                            "outcome": outcome, "visit": visit, "contrast": lab,
                            "estimate": est, "std_error": se, "df": df,
                            "conf_low": c_lo, "conf_high": c_hi,
                            "mean_reference": comparator, "mean_treatment": comparator + est,
                            "n": n, "extrapolated": extrapolated, "exploratory": True,
                            "method": method, "penalty": cf.penalty,
                            "calibration_slope": met.slope if met else math.nan,
                            "calibration_slope_low": met.slope_low if met else math.nan,
                            "calibration_slope_high": met.slope_high if met else math.nan,
                            "c_for_benefit": met.c_for_benefit if met else math.nan,
                        }
                    )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
