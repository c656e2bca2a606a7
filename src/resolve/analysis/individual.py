"""Who benefits: the predicted treatment effect for one patient's baseline profile.

For each effect-modification outcome and follow-up visit, among complete cases,
one multivariable modifier model is fitted by OLS::

    y_t = α + Σ_a δ_a·A_a + Σ_j λ_j·m_j + Σ_a Σ_j κ_aj·(A_a × m_j) [+ γ·y_0] [+ covariates] + ε

(every plan modifier at once; the same model as the global heterogeneity test of
:mod:`resolve.analysis.effect_modifiers`). The treatment effect of arm *a* for a
patient with modifier values m* is the contrast ``δ_a + Σ_j κ_aj·m*_j`` with
variance ``c'Vc`` and a t-based CI on the residual df. The baseline outcome and
covariates do not modify the effect in this model; they (with the modifiers)
give the predicted outcome under each arm.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis.plan import load_plan
>>> profile = {"pseq": 36, "pcs": 17, "pain_baseline": 6, "psychoactive": 0, "frebaq": 14,
...            "tsk": 40, "rmdq_baseline": 10, "bbq": 25}
>>> out = predict_individual(datasets.load("resolve"), load_plan(), profile)
>>> list(out.columns[:4]), len(out)
(['outcome', 'visit', 'contrast', 'estimate'], 8)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from resolve._validation import show_values
from resolve.analysis._ols import contrast
from resolve.analysis._wide import WideData, wide_data
from resolve.analysis.effect_modifiers import joint_fit
from resolve.analysis.plan import Plan, load_plan
from resolve.errors import DataValidationError
from resolve.stats._blas import limit_blas_threads

__all__ = ["predict_individual", "profile_keys"]

COLUMNS = [
    "outcome", "visit", "contrast", "estimate", "std_error", "df", "conf_low", "conf_high",
    "p_value", "mean_reference", "mean_treatment", "n", "extrapolated",
]  # fmt: skip


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
    data: pd.DataFrame, plan: Plan | None, profile: Mapping[str, float | str]
) -> pd.DataFrame:
    """Predicted treatment effect, with CI, for one patient's baseline profile.

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

    Returns
    -------
    pandas.DataFrame
        One row per outcome x follow-up visit x contrast (each non-reference arm
        minus the reference arm, then the plan's ``extra_contrasts``):
        ``outcome, visit, contrast`` ("resolve - sham"), ``estimate, std_error,
        df, conf_low, conf_high, p_value`` (the patient's treatment effect),
        ``mean_reference, mean_treatment`` (predicted outcome under the contrast's
        comparator arm and under its arm; NaN when a categorical
        covariate level of the profile has no participant in the model), ``n`` (complete
        cases in the model), ``extrapolated`` (True when any modifier value lies
        outside the range observed among participants).

    Raises
    ------
    DataValidationError
        If the profile lacks or has unknown keys (both are named), has a
        non-numeric or non-finite value, a binary modifier is not 0/1, or a
        categorical covariate's value is not one of its levels.

    Notes
    -----
    The model assumes each modifier acts linearly and additively on the
    treatment effect; with 8 modifiers and about 125 participants per arm the
    individual CIs are wide, and predictions far from the bulk of the data
    (``extrapolated``) deserve extra caution. Complete cases per outcome x visit.
    """
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
        rows: list[dict[str, Any]] = []
        visits = [v for v in plan.effect_modification.visits if v in w.visits]
        for outcome in plan.effect_modification.outcomes:
            for visit in visits:
                fit, cell = joint_fit(w, outcome, visit)
                n = cell.y.size
                x_adj = np.array([_adjust_value(values, key) for key in cell.adjust_keys])
                # predicted mean under the reference arm: intercept, modifiers, adjusters
                x_ref = np.concatenate([[1.0], np.zeros(a), mvec, np.zeros(a * k), x_adj])
                mean_ref = float(x_ref @ fit.coef)
                if not _levels_in_cell(w, cell.mask, values):
                    mean_ref = math.nan  # a covariate level nobody in this model has
                # effect of each non-reference arm i against the reference: δ_i + Σ_j κ_ij m*_j
                effect = np.zeros((a, fit.coef.size))
                for i in range(a):
                    effect[i, 1 + i] = 1.0
                    effect[i, 1 + a + k + i * k : 1 + a + k + (i + 1) * k] = mvec
                for lab, weights in w.contrasts():
                    c = weights @ effect
                    r = contrast(fit, c, conf_level=plan.analysis.conf_level)
                    # the comparator's predicted mean: reference arm plus its effect, if any
                    comparator = mean_ref + float(np.clip(-weights, 0, None) @ (effect @ fit.coef))
                    rows.append(
                        {
                            "outcome": outcome, "visit": visit, "contrast": lab,
                            "estimate": r.estimate, "std_error": r.std_error, "df": r.df,
                            "conf_low": r.conf_low, "conf_high": r.conf_high,
                            "p_value": r.p_value, "mean_reference": comparator,
                            "mean_treatment": comparator + r.estimate, "n": n,
                            "extrapolated": extrapolated,
                        }
                    )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
