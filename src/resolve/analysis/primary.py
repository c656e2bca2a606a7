"""Between-arm differences at each follow-up visit: the primary and sensitivity models.

Three models are available, named as in the plan (``[analysis] primary``,
``sensitivity`` and ``recommended``):

``"lmm_random_intercept"`` (the RESOLVE SAP; spec ``resolve-trial.md`` section 6.3, variant A)
    ``outcome ~ covariates + arm * visit`` with a random intercept per participant
    (lme4 ``(1 | id)``, i.e. compound symmetry with a non-negative correlation), fitted
    by REML on **every** visit: the baseline value is part of the outcome vector and
    the arm main effect is free (unconstrained baseline).  The difference at visit
    *t* is the arm main effect plus the arm-by-visit interaction at *t*.
``"mmrm_unstructured_all_visits"`` (recommended; robust alternative to the SAP model)
    The same mean model and data as ``"lmm_random_intercept"`` (every visit, baseline in
    the outcome vector, free arm main effect, so the same estimand) with an
    **unstructured** visit covariance (a variance per visit and a correlation per pair of
    visits; SAS ``REPEATED / TYPE=UN``, nlme ``gls`` with ``corSymm`` + ``varIdent``),
    REML.  It does not assume equal variances across visits or equal correlations
    between them, which the random-intercept model does; in simulated RESOLVE-like
    trials it holds the nominal type-I error and coverage at every visit where the
    random-intercept model does not at 52 weeks (``docs/operating-characteristics.md``).
``"mmrm_baseline_adjusted"`` (sensitivity)
    ``outcome ~ outcome_baseline + covariates + arm * visit`` on the follow-up visits
    only, with the plan's ``sensitivity_cov`` residual covariance (``"us"``,
    unstructured, by default): an MMRM in the sense of SAS PROC MIXED ``REPEATED`` /
    R ``mmrm``.

Each gives, per outcome, per follow-up visit and per contrast, the difference with its
standard error, degrees of freedom (``plan.analysis.df``, Satterthwaite by default),
confidence interval and two-sided p-value, from the LS-means differences of the fitted
model.  The contrasts (:func:`contrast_pairs`) are every non-reference arm minus the
reference arm, then the plan's ``trial.extra_contrasts`` (arm minus comparator, from the
same fit), each labelled ``"<arm> - <comparator>"`` in the ``contrast`` column — also in
a two-arm trial (``"resolve - sham"``).

Covariates (``plan.analysis.covariates``) enter every model: numeric ones as numbers,
categorical ones (text values or declared ``covariate_levels``) as factors with the
reference level of :func:`resolve.analysis.validate.covariate_factors`.  Column names
come from the plan; inside the model they are replaced by fixed formula-safe names, so a
column may be called anything (``"Pain NRS (0-10)"``).

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis import load_plan
>>> from resolve.analysis.primary import primary_analysis
>>> plan = load_plan()
>>> table = primary_analysis(datasets.load("resolve"), plan)
>>> row = table[(table.outcome == "pain") & (table.visit == "week 18")].iloc[0]
>>> row.contrast, round(float(row.estimate), 2), bool(row.p_value < 0.01)
('resolve - sham', -1.04, True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from resolve.analysis.plan import Plan
from resolve.analysis.validate import covariate_factors
from resolve.errors import DataValidationError
from resolve.stats.mmrm import mmrm

__all__ = [
    "COLUMNS",
    "COMPARISON_COLUMNS",
    "DISAGREEMENT_ESTIMATE_SE",
    "DISAGREEMENT_SE_RATIO",
    "MODELS",
    "arm_levels",
    "between_arm_differences",
    "compare_models",
    "contrast_label",
    "contrast_pairs",
    "primary_analysis",
    "recommended_rows",
    "sensitivity_analysis",
]

#: Columns of every table returned here, in order.
COLUMNS = (
    "outcome",
    "visit",
    "contrast",
    "model",
    "estimate",
    "std_error",
    "df",
    "statistic",
    "conf_low",
    "conf_high",
    "p_value",
    "n_subjects",
    "n_obs",
)

# Column names inside the model frame: fixed, formula-safe names whatever the plan calls
# the columns, so plan columns with spaces or odd characters never reach the formula.
_ID, _ARM, _VISIT, _Y, _Y0 = "subject_", "arm_", "visit_", "y_", "y_baseline_"


def arm_levels(
    plan: Plan, data: pd.DataFrame | None = None, *, column: str | None = None
) -> list[str]:
    """Arms in model order: the reference arm first, then the plan's order.

    With ``data``, only arms that have at least one participant in it are kept;
    ``column`` is the arm column of ``data`` (default: the plan's arm column).

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> arm_levels(load_plan())
    ['sham', 'resolve']
    """
    t = plan.trial
    arms = [t.reference_arm, *(a for a in t.arms if a != t.reference_arm)]
    if data is not None:
        seen = set(data[t.arm if column is None else column].dropna().astype(str))
        arms = [a for a in arms if a in seen]
    return arms


def contrast_pairs(plan: Plan, arms: list[str] | None = None) -> list[tuple[str, str]]:
    """Every between-arm contrast of the plan as ``(arm, comparator)`` pairs, in report order.

    Each non-reference arm against the reference arm (plan order), then the plan's
    ``trial.extra_contrasts`` not already listed.  With ``arms``, only pairs of
    those arms are kept.  The label of a pair is ``"<arm> - <comparator>"``
    (:func:`contrast_label`); its estimate is arm minus comparator.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from resolve.analysis import load_plan
    >>> plan = load_plan()
    >>> trial = replace(plan.trial, arms=("usual care", "GSR", "GSR+education"),
    ...                 reference_arm="usual care", extra_contrasts=(("GSR+education", "GSR"),))
    >>> [contrast_label(p) for p in contrast_pairs(replace(plan, trial=trial))]
    ['GSR - usual care', 'GSR+education - usual care', 'GSR+education - GSR']
    """
    t = plan.trial
    ordered = arm_levels(plan)
    pairs = [(a, t.reference_arm) for a in ordered[1:]]
    for a, b in t.extra_contrasts:
        if (a, b) not in pairs:
            pairs.append((a, b))
    if arms is not None:
        keep = set(arms)
        pairs = [(a, b) for a, b in pairs if a in keep and b in keep]
    return pairs


def contrast_label(pair: tuple[str, str]) -> str:
    """``"<arm> - <comparator>"``, the label of a contrast in every table.

    Examples
    --------
    >>> contrast_label(("GSR", "usual care"))
    'GSR - usual care'
    """
    return f"{pair[0]} - {pair[1]}"


def _model_frame(data: pd.DataFrame, plan: Plan, column: str) -> tuple[pd.DataFrame, list[str]]:
    """Rename to formula-safe columns; return the frame and the covariate names.

    Categorical covariates (see :func:`resolve.analysis.validate.covariate_factors`)
    become Categoricals with their levels in model order (reference first); the
    others are numbers.
    """
    t = plan.trial
    covs = list(dict.fromkeys(plan.analysis.covariates))
    names = [f"x{k + 1}_" for k in range(len(covs))]
    factors = covariate_factors(data, plan)
    frame = pd.DataFrame(
        {
            _ID: data[t.subject].astype(str).to_numpy(),
            _ARM: data[t.arm].astype(str).to_numpy(),
            _VISIT: data[t.visit].astype(str).to_numpy(),
            _Y: pd.to_numeric(data[column]).astype(float).to_numpy(),
        }
    )
    for name, col in zip(names, covs, strict=True):
        if col in factors:
            values = data[col]
            if isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype(object)
            text = [None if pd.isna(v) else str(v) for v in values]
            frame[name] = pd.Categorical(text, categories=list(factors[col].levels))
        else:
            frame[name] = pd.to_numeric(data[col]).astype(float).to_numpy()
    return frame, names


def _categorical(frame: pd.DataFrame, column: str, order: list[str]) -> None:
    present = set(frame[column].dropna().astype(str))
    values = frame[column].astype(object).where(frame[column].notna(), None)
    frame[column] = pd.Categorical(
        [None if v is None else str(v) for v in values],
        categories=[v for v in order if v in present],
    )


def _fit_differences(
    frame: pd.DataFrame,
    plan: Plan,
    *,
    outcome: str,
    model: str,
    formula_terms: list[str],
    cov: str,
    visits: list[str],
) -> pd.DataFrame:
    """Fit one model on ``frame`` and return the tidy per-visit differences."""
    frame = frame.dropna(subset=[_Y, *formula_terms]).reset_index(drop=True)
    arms = arm_levels(plan, frame, column=_ARM)
    ref = plan.trial.reference_arm
    if ref not in arms or len(arms) < 2:
        raise DataValidationError(
            f"{outcome}: model {model!r} needs outcome data in the reference arm {ref!r} "
            f"and at least one other arm; arms with data: {', '.join(arms) or 'none'}"
        )
    for term in formula_terms:
        if isinstance(frame[term].dtype, pd.CategoricalDtype):
            # levels without data in this fit are dropped; the first present is the reference
            _categorical(frame, term, [str(c) for c in frame[term].cat.categories])
    _categorical(frame, _ARM, arms)
    _categorical(frame, _VISIT, visits)
    n_visits = len(frame[_VISIT].cat.categories)
    design = " * ".join([_ARM, _VISIT]) if n_visits > 1 else _ARM
    formula = f"{_Y} ~ " + " + ".join([*formula_terms, design])
    fit = mmrm(
        formula,
        frame,
        subject=_ID,
        visit=_VISIT,
        cov=cov,
        df=plan.analysis.df,
        conf_level=plan.analysis.conf_level,
    )
    if n_visits > 1:
        diffs = fit.lsmeans(_ARM, by=_VISIT).differences
    else:
        diffs = fit.lsmeans(_ARM).differences
        diffs.insert(0, _VISIT, str(frame[_VISIT].cat.categories[0]))
    diffs[_VISIT] = diffs[_VISIT].astype(str)
    # lsmeans gives every pair as "later - earlier" in arm order; a contrast of the plan
    # in the other direction (an extra contrast) is that difference with its sign flipped.
    pairs = contrast_pairs(plan, arms)
    position = {a: k for k, a in enumerate(arms)}
    parts = []
    for k, (a, b) in enumerate(pairs):
        forward = position[a] > position[b]
        have = contrast_label((a, b) if forward else (b, a))
        part = diffs[diffs["contrast"] == have].copy()
        if not forward:
            low, high = part["conf_low"].to_numpy(), part["conf_high"].to_numpy()
            part["estimate"] = -part["estimate"]
            part["statistic"] = -part["statistic"]
            part["conf_low"], part["conf_high"] = -high, -low
        part["contrast"] = contrast_label((a, b))
        part["_c"] = k
        parts.append(part)
    diffs = pd.concat(parts, ignore_index=True)
    diffs = diffs[diffs[_VISIT].isin(plan.trial.followup_visits)]
    rows = diffs.rename(columns={_VISIT: "visit"})
    rows["outcome"] = outcome
    rows["model"] = model
    rows["n_subjects"] = fit.n_subjects
    rows["n_obs"] = fit.n_obs
    order = {v: k for k, v in enumerate(plan.trial.visits)}
    rows["_v"] = rows["visit"].map(order)
    rows = rows.sort_values(["_c", "_v"], kind="stable")
    return rows.loc[:, list(COLUMNS)].reset_index(drop=True)


def _all_visits(
    data: pd.DataFrame, plan: Plan, outcome: str, *, model: str, cov: str
) -> pd.DataFrame:
    """``outcome ~ covariates + arm * visit`` on every visit, baseline in the outcome vector."""
    t = plan.trial
    frame, covs = _model_frame(data, plan, plan.outcome(outcome).column)
    if not frame.loc[frame[_VISIT] == t.baseline_visit, _Y].notna().any():
        raise DataValidationError(
            f"{outcome}: no {outcome!r} values at the baseline visit {t.baseline_visit!r}; "
            f"the model {model!r} needs the baseline in the outcome vector"
        )
    return _fit_differences(
        frame,
        plan,
        outcome=outcome,
        model=model,
        formula_terms=covs,
        cov=cov,
        visits=list(t.visits),
    )


def _lmm_random_intercept(data: pd.DataFrame, plan: Plan, outcome: str) -> pd.DataFrame:
    return _all_visits(data, plan, outcome, model="lmm_random_intercept", cov="ri")


def _mmrm_unstructured_all_visits(data: pd.DataFrame, plan: Plan, outcome: str) -> pd.DataFrame:
    return _all_visits(data, plan, outcome, model="mmrm_unstructured_all_visits", cov="us")


def _mmrm_baseline_adjusted(data: pd.DataFrame, plan: Plan, outcome: str) -> pd.DataFrame:
    t = plan.trial
    frame, covs = _model_frame(data, plan, plan.outcome(outcome).column)
    base = frame.loc[frame[_VISIT] == t.baseline_visit].set_index(_ID)[_Y]
    frame = frame.loc[frame[_VISIT] != t.baseline_visit].copy()
    frame[_Y0] = frame[_ID].map(base)
    return _fit_differences(
        frame,
        plan,
        outcome=outcome,
        model="mmrm_baseline_adjusted",
        formula_terms=[_Y0, *covs],
        cov=plan.analysis.sensitivity_cov,
        visits=list(t.followup_visits),
    )


_Fitter = Callable[[pd.DataFrame, Plan, str], pd.DataFrame]

#: The models this module fits, by the name a plan uses.
MODELS: dict[str, _Fitter] = {
    "lmm_random_intercept": _lmm_random_intercept,
    "mmrm_unstructured_all_visits": _mmrm_unstructured_all_visits,
    "mmrm_baseline_adjusted": _mmrm_baseline_adjusted,
}


def _empty() -> pd.DataFrame:
    dtypes = {c: object if c in COLUMNS[:4] else float for c in COLUMNS}
    dtypes.update(n_subjects=np.int64, n_obs=np.int64)
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in dtypes.items()})


def between_arm_differences(
    data: pd.DataFrame, plan: Plan, *, model: str, validated: bool = False
) -> pd.DataFrame:
    """Fit ``model`` to every outcome of ``plan``; differences at each follow-up visit.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format, one row per participant and visit, with the columns the plan
        names.  Empty outcome cells are missing values.
    plan : Plan
        The analysis plan (arms, reference arm, visits, outcomes, covariates, df
        method, confidence level, sensitivity covariance).
    model : {"lmm_random_intercept", "mmrm_unstructured_all_visits", "mmrm_baseline_adjusted"}
        See the module docstring.
    validated : bool
        True when ``data`` has already passed :meth:`Plan.validate_data` (skips it).

    Returns
    -------
    pandas.DataFrame
        One row per outcome, contrast and follow-up visit with data (contrasts in
        :func:`contrast_pairs` order, visits in plan order within a contrast), with
        columns ``outcome`` (plan name), ``visit`` (plan label), ``contrast``
        (``"<arm> - <comparator>"``), ``model``, ``estimate`` (arm minus
        comparator), ``std_error``, ``df``, ``statistic`` (t), ``conf_low``,
        ``conf_high`` (``plan.analysis.conf_level``), ``p_value`` (two-sided),
        ``n_subjects`` and ``n_obs`` (participants and observations in the fit).

    Raises
    ------
    DataValidationError
        Invalid data for the plan, an unknown model, or an outcome without data
        in the reference arm and another arm (or, for the primary model, at baseline).
    ConvergenceError
        The model could not be fitted.

    Notes
    -----
    Missing data: rows with a missing outcome (or covariate) are dropped and every
    participant contributes the visits they have; the likelihood-based fit is valid
    under missing at random.  In the baseline-adjusted model a participant without a
    baseline value is left out.  Visits of the plan without any outcome data are
    left out of the model.  The random-intercept model equals R
    ``lmerTest::lmer(y ~ arm * visit + (1 | id))`` with
    ``pairs(emmeans(fit, ~ arm | visit), reverse = TRUE)``; the unstructured
    all-visits model equals ``nlme::gls(y ~ arm * visit, correlation = corSymm(),
    weights = varIdent(~ 1 | visit))`` (REML) with Satterthwaite df computed from
    their definition (both checked against R to 1e-4 in
    ``tests/analysis/test_primary.py``).

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> res = between_arm_differences(datasets.load("resolve"), load_plan(),
    ...                               model="mmrm_baseline_adjusted")
    >>> sorted(set(res.visit)), res.model.iloc[0]
    (['week 12', 'week 18', 'week 26', 'week 52'], 'mmrm_baseline_adjusted')
    """
    if model not in MODELS:
        raise DataValidationError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    if not validated:
        data = plan.validate_data(data)
    tables = [MODELS[model](data, plan, o.name) for o in plan.outcomes]
    tables = [t for t in tables if len(t)]
    if not tables:
        return _empty()
    out = pd.concat(tables, ignore_index=True)
    for col in COLUMNS[4:-2]:
        out[col] = out[col].astype(np.float64)
    for col in COLUMNS[-2:]:
        out[col] = out[col].astype(np.int64)
    return out


def primary_analysis(data: pd.DataFrame, plan: Plan, *, validated: bool = False) -> pd.DataFrame:
    """The plan's primary model (``plan.analysis.primary``) for every outcome.

    Same columns as :func:`between_arm_differences`.

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> res = primary_analysis(datasets.load("resolve"), load_plan())
    >>> res.model.unique().tolist(), len(res)
    (['lmm_random_intercept'], 8)
    """
    return between_arm_differences(data, plan, model=plan.analysis.primary, validated=validated)


def sensitivity_analysis(
    data: pd.DataFrame, plan: Plan, *, validated: bool = False
) -> pd.DataFrame:
    """Every sensitivity model of the plan (``plan.analysis.sensitivity``), stacked.

    Same columns as :func:`between_arm_differences`; an empty table (same columns)
    when the plan lists none.

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> res = sensitivity_analysis(datasets.load("resolve"), load_plan())
    >>> res.model.unique().tolist()
    ['mmrm_unstructured_all_visits', 'mmrm_baseline_adjusted']
    """
    unknown = [m for m in plan.analysis.sensitivity if m not in MODELS]
    if unknown:
        raise DataValidationError(
            f"plan {plan.source} [analysis]: unknown sensitivity model(s) "
            f"{', '.join(map(repr, unknown))}; available: {', '.join(MODELS)}"
        )
    if not validated:
        data = plan.validate_data(data)
    tables = [
        between_arm_differences(data, plan, model=m, validated=True)
        for m in plan.analysis.sensitivity
    ]
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else _empty()


# ----------------------------------------------------------------------------- comparison
#: Estimates of two models disagree when they differ by more than this many standard
#: errors of the second (recommended) model.  In simulated RESOLVE-like trials the SAP and
#: the unstructured model differ by less than 0.12 SE in 99% of trials (the same estimand,
#: so only missing-data patterns separate them); 0.25 SE is beyond that and moves a t
#: statistic by a quarter.
DISAGREEMENT_ESTIMATE_SE = 0.25
#: Standard errors of two models disagree when the larger exceeds the smaller by more
#: than this fraction: if one is right, the other's nominal 5% test has a type-I error
#: outside about 4-6% (a standard error 5% too small gives 6.3%, 5% too large 4.0%).
DISAGREEMENT_SE_RATIO = 0.05

#: Columns of :func:`compare_models`.
COMPARISON_COLUMNS = (
    "outcome",
    "visit",
    "contrast",
    "model",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "other_model",
    "other_estimate",
    "other_std_error",
    "other_conf_low",
    "other_conf_high",
    "other_p_value",
    "significance_differs",
    "estimate_differs",
    "std_error_differs",
    "disagree",
)


def compare_models(
    first: pd.DataFrame,
    other: pd.DataFrame,
    *,
    conf_level: float,
    estimate_se: float = DISAGREEMENT_ESTIMATE_SE,
    se_ratio: float = DISAGREEMENT_SE_RATIO,
) -> pd.DataFrame:
    """Two models' differences side by side, and whether they disagree.

    Parameters
    ----------
    first, other : pandas.DataFrame
        Tables of :func:`between_arm_differences` for one model each (e.g. the
        SAP primary model and the plan's recommended model).
    conf_level : float
        The plan's confidence level; significance is ``p_value < 1 - conf_level``.
    estimate_se : float
        Estimates disagree when ``|estimate - other_estimate| > estimate_se *
        other_std_error`` (default :data:`DISAGREEMENT_ESTIMATE_SE`).
    se_ratio : float
        Standard errors disagree when the larger exceeds the smaller by more than
        this fraction (default :data:`DISAGREEMENT_SE_RATIO`).

    Returns
    -------
    pandas.DataFrame
        One row per outcome, visit and contrast present in both tables (in the
        order of ``first``), columns :data:`COMPARISON_COLUMNS`: the first model's
        ``estimate, std_error, conf_low, conf_high, p_value``, the other's with an
        ``other_`` prefix, and the flags ``significance_differs`` (one P value below
        ``1 - conf_level`` and the other not), ``estimate_differs``,
        ``std_error_differs`` and ``disagree`` (any of the three).

    Examples
    --------
    >>> a = pd.DataFrame({"outcome": ["pain"] * 2, "visit": ["week 18", "week 52"],
    ...     "contrast": ["b - a"] * 2, "model": ["m1"] * 2, "estimate": [-1.0, -0.5],
    ...     "std_error": [0.27, 0.25], "conf_low": [-1.5, -0.99], "conf_high": [-0.5, -0.01],
    ...     "p_value": [0.0003, 0.046]})
    >>> b = a.assign(model="m2", std_error=[0.27, 0.29], conf_low=[-1.5, -1.07],
    ...              conf_high=[-0.5, 0.07], p_value=[0.0003, 0.085])
    >>> out = compare_models(a, b, conf_level=0.95)
    >>> out[["visit", "significance_differs", "std_error_differs", "disagree"]].to_numpy().tolist()
    [['week 18', False, False, False], ['week 52', True, True, True]]
    """
    keys = ["outcome", "visit", "contrast"]
    stats_ = ["model", "estimate", "std_error", "conf_low", "conf_high", "p_value"]
    right = other.loc[:, keys + stats_].rename(columns={c: f"other_{c}" for c in stats_})
    out = first.loc[:, keys + stats_].merge(right, on=keys, how="inner", sort=False)
    alpha = 1.0 - conf_level
    p1 = out["p_value"].to_numpy(dtype=float)
    p2 = out["other_p_value"].to_numpy(dtype=float)
    se1 = out["std_error"].to_numpy(dtype=float)
    se2 = out["other_std_error"].to_numpy(dtype=float)
    diff = np.abs(out["estimate"].to_numpy(dtype=float) - out["other_estimate"].to_numpy(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["significance_differs"] = (p1 < alpha) != (p2 < alpha)
        out["estimate_differs"] = diff > estimate_se * se2
        out["std_error_differs"] = np.maximum(se1, se2) / np.minimum(se1, se2) - 1.0 > se_ratio
    out["disagree"] = out[["significance_differs", "estimate_differs", "std_error_differs"]].any(
        axis=1
    )
    return out.loc[:, list(COMPARISON_COLUMNS)].reset_index(drop=True)


def recommended_rows(plan: Plan, sensitivity: pd.DataFrame) -> pd.DataFrame | None:
    """The recommended model's rows (``plan.analysis.recommended``), or None.

    None when the plan names no recommended model, names the primary model
    itself, or its rows are not in ``sensitivity``.

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> plan = load_plan()
    >>> rows = recommended_rows(plan, sensitivity_analysis(datasets.load("resolve"), plan))
    >>> rows.model.unique().tolist()
    ['mmrm_unstructured_all_visits']
    """
    name = plan.analysis.recommended
    if name is None or name == plan.analysis.primary or "model" not in sensitivity.columns:
        return None
    rows = sensitivity[sensitivity["model"] == name]
    return rows.reset_index(drop=True) if len(rows) else None
