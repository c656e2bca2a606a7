"""The plan's primary between-arm model, fitted without the report machinery.

A design simulation fits the primary model to thousands of trials and needs
only the difference between the arms at each follow-up visit. For the
all-visits models (``lmm_random_intercept``, ``mmrm_unstructured_all_visits``)
with two arms and no extra covariates, :func:`primary_differences` fits the
same model in its *nested* parametrisation, ``y ~ visit + visit:arm``: the
same column space as ``y ~ arm * visit`` (so the same likelihood, estimates,
covariance parameters and Satterthwaite or Kenward-Roger degrees of freedom),
in which the difference at visit ``v`` is one coefficient, so no LS-means grid
is built. :func:`supported` says when it applies; otherwise the caller uses
:func:`resolve.analysis.primary.between_arm_differences`. The two are checked
against each other in ``tests/design/test_fast.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from resolve.analysis.plan import Plan
from resolve.analysis.primary import arm_levels, contrast_pairs
from resolve.errors import DataValidationError
from resolve.stats import mmrm

__all__ = ["MODELS", "primary_differences", "supported"]

#: Plan model name -> covariance structure of the models with a nested form here.
MODELS = {"lmm_random_intercept": "ri", "mmrm_unstructured_all_visits": "us"}

_COLUMNS = ("outcome", "visit", "estimate", "std_error", "df", "conf_low", "conf_high", "p_value")


def supported(plan: Plan, data: pd.DataFrame) -> bool:
    """True when :func:`primary_differences` reproduces the plan's primary model on ``data``.

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> from resolve.simulate import simulate_trial
    >>> supported(load_plan(), simulate_trial(seed=1))
    True
    """
    t = plan.trial
    if plan.analysis.primary not in MODELS or plan.analysis.covariates or len(t.arms) != 2:
        return False
    if len(contrast_pairs(plan)) != 1:
        return False
    needed = [t.subject, t.arm, t.visit, *(o.column for o in plan.outcomes)]
    if any(c not in data.columns for c in needed):
        return False
    arms = set(data[t.arm].dropna().astype(str))
    visits = set(data[t.visit].dropna().astype(str))
    return arms <= set(t.arms) and visits <= set(t.visits)


def primary_differences(data: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Arm difference at each follow-up visit, for every outcome of the plan.

    Columns ``outcome, visit, estimate, std_error, df, conf_low, conf_high,
    p_value`` (the estimate is the non-reference arm minus the reference arm).
    Only call when :func:`supported` is True.

    Raises
    ------
    DataValidationError
        When an outcome has no data in one arm or at fewer than two visits, or
        the model cannot be fitted (:class:`~resolve.errors.ResolveError`).

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> from resolve.simulate import simulate_trial
    >>> out = primary_differences(simulate_trial(seed=1), load_plan())
    >>> out.shape, sorted(set(out["outcome"]))
    ((8, 8), ['pain', 'rmdq'])
    """
    t = plan.trial
    cov = MODELS[plan.analysis.primary]
    rows: list[pd.DataFrame] = []
    for o in plan.outcomes:
        y = pd.to_numeric(data[o.column], errors="raise").to_numpy(dtype=float)
        keep = ~np.isnan(y)
        arm = data[t.arm].to_numpy(dtype=object)[keep]
        visit = data[t.visit].to_numpy(dtype=object)[keep]
        present_arms = set(arm)
        arms = [a for a in arm_levels(plan) if a in present_arms]
        ref = t.reference_arm
        if ref not in arms or len(arms) < 2:
            raise DataValidationError(
                f"{o.name}: the primary model needs outcome data in both arms; "
                f"arms with data: {', '.join(arms) or 'none'}"
            )
        present = set(visit)
        visits = [v for v in t.visits if v in present]
        if len(visits) < 2:
            raise DataValidationError(f"{o.name}: data at fewer than two visits")
        frame = pd.DataFrame(
            {
                "id": pd.Series(data[t.subject].to_numpy(dtype=object)[keep], dtype=object),
                "arm": pd.Categorical(arm, categories=arms),
                "visit": pd.Categorical(visit, categories=visits),
                "y": y[keep],
            }
        )
        fit = mmrm(
            "y ~ visit + visit:arm",
            frame,
            subject="id",
            visit="visit",
            cov=cov,
            df=plan.analysis.df,
            conf_level=plan.analysis.conf_level,
        )
        table = fit.to_frame().set_index("term")
        follow = [v for v in visits if v in t.followup_visits]
        terms = [f"visit{v}:arm{arms[1]}" for v in follow]
        missing = [term for term in terms if term not in table.index]
        if missing:  # pragma: no cover - formulaic naming changed
            raise DataValidationError(f"{o.name}: coefficient {missing[0]!r} not in the fit")
        part = table.loc[terms, ["estimate", "std_error", "df", "conf_low", "conf_high", "p_value"]]
        part = part.reset_index(drop=True)
        part.insert(0, "visit", follow)
        part.insert(0, "outcome", o.name)
        rows.append(part)
    return pd.concat(rows, ignore_index=True).loc[:, list(_COLUMNS)]
