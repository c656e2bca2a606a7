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

import functools

import numpy as np
import pandas as pd

from resolve.analysis.plan import Plan
from resolve.analysis.primary import arm_levels, contrast_pairs
from resolve.errors import DataValidationError
from resolve.stats import mmrm

__all__ = ["MODELS", "plan_supported", "primary_differences", "supported"]

#: Plan model name -> covariance structure of the models with a nested form here.
MODELS = {"lmm_random_intercept": "ri", "mmrm_unstructured_all_visits": "us"}

_COLUMNS = ("outcome", "visit", "estimate", "std_error", "df", "conf_low", "conf_high", "p_value")


def plan_supported(plan: Plan) -> bool:
    """True when ``plan``'s primary model has the nested form here (whatever the data).

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> plan_supported(load_plan())
    True
    """
    if plan.analysis.primary not in MODELS or plan.analysis.covariates:
        return False
    return len(plan.trial.arms) == 2 and len(contrast_pairs(plan)) == 1


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
    if not plan_supported(plan):
        return False
    needed = [t.subject, t.arm, t.visit, *(o.column for o in plan.outcomes)]
    if any(c not in data.columns for c in needed):
        return False
    for column, allowed in ((t.arm, t.arms), (t.visit, t.visits)):
        values = data[column]
        if values.isna().any() or not {str(v) for v in values.unique()} <= set(allowed):
            return False
    return not data[t.subject].isna().any()


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
    # Factor codes once for all outcomes (categoricals from codes: no per-row strings).
    subj_code = pd.factorize(data[t.subject])[0]
    arm_all, arm_seen = _codes(data[t.arm], arm_levels(plan))
    visit_all, visit_seen = _codes(data[t.visit], list(t.visits))
    rows: list[tuple[object, ...]] = []
    for o in plan.outcomes:
        y = pd.to_numeric(data[o.column], errors="raise").to_numpy(dtype=float)
        keep = ~np.isnan(y)
        arm_code = arm_all[keep]
        visit_code = visit_all[keep]
        present_arms = set(np.unique(arm_code).tolist())
        arms = [a for i, a in enumerate(arm_seen) if i in present_arms]
        ref = t.reference_arm
        if ref not in arms or len(arms) < 2:
            raise DataValidationError(
                f"{o.name}: the primary model needs outcome data in both arms; "
                f"arms with data: {', '.join(arms) or 'none'}"
            )
        present = set(np.unique(visit_code).tolist())
        visits = [v for i, v in enumerate(visit_seen) if i in present]
        if len(visits) < 2:
            raise DataValidationError(f"{o.name}: data at fewer than two visits")
        frame = pd.DataFrame(
            {
                "id": subj_code[keep],  # integer codes: the fit never shows subject labels
                "arm": _recode(arm_code, arm_seen, arms),
                "visit": _recode(visit_code, visit_seen, visits),
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
        follow = [v for v in visits if v in t.followup_visits]
        terms = [f"visit{v}:arm{arms[1]}" for v in follow]
        names = fit.coef_names
        missing = [term for term in terms if term not in names]
        if missing:  # pragma: no cover - formulaic naming changed
            raise DataValidationError(f"{o.name}: coefficient {missing[0]!r} not in the fit")
        lmat = np.zeros((len(terms), len(names)))
        lmat[np.arange(len(terms)), [names.index(term) for term in terms]] = 1.0
        tested = fit.contrast(lmat)
        values = tested[list(_COLUMNS[2:])].to_numpy(dtype=float)
        rows += [(o.name, v, *map(float, r)) for v, r in zip(follow, values, strict=True)]
    return pd.DataFrame(rows, columns=list(_COLUMNS))


def _codes(values: pd.Series, order: list[str]) -> tuple[np.ndarray, list[str]]:
    """Codes of ``values`` into the levels of ``order`` that occur (in that order)."""
    raw, uniques = pd.factorize(values)
    seen = {str(u) for u in uniques}
    levels = [lv for lv in order if lv in seen]
    pos = {lv: i for i, lv in enumerate(levels)}
    mapping = np.array([pos[str(u)] for u in uniques], dtype=np.intp)
    return mapping[raw], levels


def _recode(codes: np.ndarray, levels: list[str], keep: list[str]) -> pd.Categorical:
    """Categorical over ``keep`` (a sub-list of ``levels``) from codes into ``levels``."""
    pos = {lv: i for i, lv in enumerate(keep)}
    mapping = np.array([pos.get(lv, -1) for lv in levels], dtype=np.intp)
    return pd.Categorical.from_codes(mapping[codes], dtype=_dtype(tuple(keep)))


@functools.lru_cache(maxsize=64)
def _dtype(levels: tuple[str, ...]) -> pd.CategoricalDtype:
    """Categorical dtype over ``levels`` (object categories: no string-array conversion)."""
    return pd.CategoricalDtype(pd.Index(list(levels), dtype=object))
