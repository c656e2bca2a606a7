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
import pandas as pd

from resolve._validation import show_values
from resolve.analysis._ols import contrast
from resolve.analysis._wide import wide_data
from resolve.analysis.effect_modifiers import joint_fit
from resolve.analysis.plan import Plan, load_plan
from resolve.errors import DataValidationError
from resolve.stats._blas import limit_blas_threads

__all__ = ["predict_individual", "profile_keys"]

COLUMNS = [
    "outcome", "visit", "contrast", "estimate", "std_error", "df", "conf_low", "conf_high",
    "p_value", "mean_reference", "mean_treatment", "n", "extrapolated",
]  # fmt: skip


def profile_keys(plan: Plan) -> tuple[str, ...]:
    """Keys a profile must have: each modifier's name, ``<outcome>_baseline`` for each
    effect-modification outcome (when the plan adjusts for baseline), and each covariate.

    In the RESOLVE plan the baseline outcomes are themselves modifiers
    (``pain_baseline``, ``rmdq_baseline``), so the keys are the 8 modifier names.
    """
    keys = [m.name for m in plan.modifiers]
    if plan.effect_modification.adjust_for_baseline:
        keys += [f"{o}_baseline" for o in plan.effect_modification.outcomes]
    keys += list(plan.analysis.covariates)
    return tuple(dict.fromkeys(keys))


def _validate(profile: Mapping[str, float], plan: Plan) -> dict[str, float]:
    if not isinstance(profile, Mapping):
        raise DataValidationError(
            f"profile must be a mapping of name -> value; got {type(profile).__name__}"
        )
    keys = profile_keys(plan)
    unknown = sorted(set(profile) - set(keys))
    missing = [k for k in keys if k not in profile]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing {show_values(missing, limit=10)}")
        if unknown:
            parts.append(f"unknown {show_values(unknown, limit=10)}")
        raise DataValidationError(f"profile: {'; '.join(parts)}; expected keys: {', '.join(keys)}")
    out: dict[str, float] = {}
    for k in keys:
        v = profile[k]
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


def predict_individual(
    data: pd.DataFrame, plan: Plan | None, profile: Mapping[str, float]
) -> pd.DataFrame:
    """Predicted treatment effect, with CI, for one patient's baseline profile.

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format trial data matching ``plan``.
    plan : Plan or None
        Analysis plan (None: the bundled RESOLVE plan).
    profile : mapping of str to float
        The patient's baseline values, keyed as :func:`profile_keys` lists
        (modifier names; binary modifiers 0/1).

    Returns
    -------
    pandas.DataFrame
        One row per outcome x follow-up visit x contrast: ``outcome, visit,
        contrast`` ("resolve - sham"), ``estimate, std_error, df, conf_low,
        conf_high, p_value`` (the patient's treatment effect), ``mean_reference,
        mean_treatment`` (predicted outcome under each arm), ``n`` (complete
        cases in the model), ``extrapolated`` (True when any modifier value lies
        outside the range observed among participants).

    Raises
    ------
    DataValidationError
        If the profile lacks or has unknown keys (both are named), has a
        non-numeric or non-finite value, or a binary modifier is not 0/1.

    Notes
    -----
    The model assumes each modifier acts linearly and additively on the
    treatment effect; with 8 modifiers and about 125 participants per arm the
    individual CIs are wide, and predictions far from the bulk of the data
    (``extrapolated``) deserve extra caution. Complete cases per outcome x visit.
    """
    plan = load_plan() if plan is None else plan
    values = _validate(profile, plan)
    with limit_blas_threads(1):
        w = wide_data(data, plan)
        cols = [m.column for m in plan.modifiers]
        mvec = np.array([values[m.name] for m in plan.modifiers])
        lo = w.baseline[cols].min().to_numpy()
        hi = w.baseline[cols].max().to_numpy()
        extrapolated = bool(((mvec < lo) | (mvec > hi)).any())
        labels = w.contrast_labels
        a = len(labels)
        k = len(cols)
        rows: list[dict[str, Any]] = []
        visits = [v for v in plan.effect_modification.visits if v in w.visits]
        for outcome in plan.effect_modification.outcomes:
            for visit in visits:
                fit, cell = joint_fit(w, outcome, visit)
                n = cell.y.size
                adj_keys = [
                    f"{outcome}_baseline" if nm.endswith("_baseline_visit") else nm
                    for nm in cell.adjust_names
                ]
                x_adj = np.array([values[key] for key in adj_keys])
                # predicted mean under the reference arm: intercept, modifiers, adjusters
                x_ref = np.concatenate([[1.0], np.zeros(a), mvec, np.zeros(a * k), x_adj])
                mean_ref = float(x_ref @ fit.coef)
                for i, lab in enumerate(labels):
                    c = np.zeros(fit.coef.size)
                    c[1 + i] = 1.0
                    c[1 + a + k + i * k : 1 + a + k + (i + 1) * k] = mvec
                    r = contrast(fit, c, conf_level=plan.analysis.conf_level)
                    rows.append(
                        {
                            "outcome": outcome, "visit": visit, "contrast": lab,
                            "estimate": r.estimate, "std_error": r.std_error, "df": r.df,
                            "conf_low": r.conf_low, "conf_high": r.conf_high,
                            "p_value": r.p_value, "mean_reference": mean_ref,
                            "mean_treatment": mean_ref + r.estimate, "n": n,
                            "extrapolated": extrapolated,
                        }
                    )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
