"""Multiple imputation by chained equations (MICE) with Rubin's rules.

Imputation model
----------------
The wide data (one row per participant): every outcome at every visit present
(baseline included), the plan's modifiers and covariates. Arms are imputed
**separately** (as ``mice`` on each arm's subset), so every arm x variable
interaction — including the arm x modifier interactions this project studies —
is preserved in the imputations; with arm as a mere predictor they would be
shrunk to zero.

Each incomplete variable is imputed by **predictive mean matching** (PMM, type-1
matching as ``mice.impute.pmm``): a Bayesian linear-regression draw
β* of the variable on all others (ridge 1e-5, σ*² = RSS/χ²(n_obs − p),
β* = β̂ + σ* chol((X'X)⁻¹) z), predicted means ŷ_obs = X_obs β̂ and
ŷ_mis = X_mis β*, and for each missing value a random one of the 5 observed
cases whose ŷ_obs is nearest. PMM imputes only values that were observed
(NRS 0-10 stays an integer in range); missing values never become zero. PMM
cannot extrapolate: when dropout is strongly related to the outcome, the
participants most likely to drop out have few donors and PMM's estimates lean
towards the complete-case ones. ``method="norm"`` (Bayesian linear regression
draws, ŷ_mis + σ* z, ``mice``'s "norm") extrapolates instead, at the price of
values outside the scale's range; it is offered as a sensitivity option.
Missing values start as random draws from the observed values of the same
variable and arm; each of the ``m`` imputations is its own chain of ``maxit``
sweeps (default 10). Columns that duplicate another complete column (baseline
pain is both an outcome at baseline and the modifier ``pain_baseline``) are
not used twice as predictors. Seeds: ``numpy.random.SeedSequence(seed)`` spawns
one independent stream per imputation.

Analysis and pooling
--------------------
In each completed data set, per outcome and follow-up visit, ANCOVA
``y_t ~ arm + y_0 [+ covariates]`` by OLS gives the arm difference Q_j with
variance U_j on ν_com = n − p df. Rubin's rules: Q̄ = mean Q_j, W = mean U_j,
B = var(Q_j), T = W + (1 + 1/m) B; Barnard-Rubin df
ν = ν_old ν_obs / (ν_old + ν_obs), ν_old = (m − 1)/λ², ν_obs =
(ν_com + 1)/(ν_com + 3) ν_com (1 − λ), λ = (1 + 1/m) B / T (floored at 1e-4
as in ``mice::pool``); fraction of missing information
fmi = (r + 2/(ν + 3)) / (r + 1), r = (1 + 1/m) B / W (``mice::pool``'s ``fmi``).

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis.plan import load_plan
>>> out = multiple_imputation(datasets.load("resolve"), load_plan(), m=5)
>>> list(out.columns[:4]), out.model.unique().tolist()
(['outcome', 'visit', 'model', 'estimate'], ['mice_rubin'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from resolve._validation import Interval, OneOf
from resolve.analysis._ols import contrast, ols
from resolve.analysis._wide import WideData, wide_data
from resolve.analysis.plan import Plan, load_plan
from resolve.errors import DataValidationError
from resolve.stats._blas import limit_blas_threads

__all__ = ["RubinPooled", "impute", "multiple_imputation", "rubin_pool"]

FloatArray = npt.NDArray[np.float64]

#: Donors per missing value in predictive mean matching (``mice`` default).
DONORS = 5
#: Ridge penalty (times diag(X'X)) of the Bayesian regression draw (``mice`` default).
RIDGE = 1e-5

_METHOD = OneOf("method", ("pmm", "norm"))

COLUMNS = [
    "outcome", "visit", "model", "estimate", "std_error", "df", "conf_low", "conf_high",
    "p_value", "fmi", "contrast", "m", "n",
]  # fmt: skip


# ----------------------------------------------------------------------------- Rubin
@dataclass(frozen=True)
class RubinPooled:
    """One parameter pooled over ``m`` imputations by Rubin's rules."""

    estimate: float
    std_error: float
    df: float
    within: float
    between: float
    total: float
    riv: float
    """Relative increase in variance due to nonresponse, (1 + 1/m) B / W."""
    lambda_: float
    """Proportion of the total variance due to missingness, (1 + 1/m) B / T."""
    fmi: float
    m: int


def rubin_pool(
    estimates: Sequence[float] | FloatArray,
    variances: Sequence[float] | FloatArray,
    df_complete: float,
) -> RubinPooled:
    """Pool one parameter by Rubin's rules with the Barnard-Rubin small-sample df.

    Parameters
    ----------
    estimates, variances : sequence of float
        The estimate and its squared standard error from each completed data set.
    df_complete : float
        Residual df of the complete-data analysis (``np.inf`` for large samples).

    Returns
    -------
    RubinPooled
        Same numbers as ``mice::pool`` (``qbar, ubar, b, t, df, riv, lambda, fmi``).

    Examples
    --------
    >>> r = rubin_pool([1.0, 1.2, 0.8], [0.04, 0.05, 0.06], df_complete=100)
    >>> round(r.total, 6), round(r.df, 3)
    (0.103333, 6.482)
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = q.size
    if m < 2 or u.size != m:
        raise DataValidationError(
            f"Rubin's rules need at least 2 estimates with one variance each; got {m} and {u.size}"
        )
    qbar = float(q.mean())
    w = float(u.mean())
    b = float(q.var(ddof=1))
    t = w + (1 + 1 / m) * b
    riv = (1 + 1 / m) * b / w
    lam = max((1 + 1 / m) * b / t, 1e-4)
    df_old = (m - 1) / lam**2
    if np.isinf(df_complete):
        df = df_old
    else:
        df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
        df = df_old * df_obs / (df_old + df_obs)
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    return RubinPooled(qbar, float(np.sqrt(t)), float(df), w, b, t, riv, lam, float(fmi), m)


# ----------------------------------------------------------------------------- MICE
def _draw(
    y_obs: FloatArray,
    X_obs: FloatArray,
    X_mis: FloatArray,
    rng: np.random.Generator,
    method: str,
) -> FloatArray:
    """One imputation of the missing values: PMM (type-1 matching) or a normal draw."""
    n_obs, p = X_obs.shape
    xtx = X_obs.T @ X_obs
    v = np.linalg.inv(xtx + np.diag(RIDGE * np.diag(xtx)))
    v = (v + v.T) / 2
    coef = v @ (X_obs.T @ y_obs)
    resid = y_obs - X_obs @ coef
    df = max(n_obs - p, 1)
    sigma_star = np.sqrt(float(resid @ resid) / rng.chisquare(df))
    beta_star = coef + np.linalg.cholesky(v) @ rng.standard_normal(p) * sigma_star
    yhat_mis = X_mis @ beta_star
    if method == "norm":
        out: FloatArray = yhat_mis + rng.standard_normal(yhat_mis.size) * sigma_star
        return out
    yhat_obs = X_obs @ coef
    k = min(DONORS, n_obs)
    dist = np.abs(yhat_mis[:, None] - yhat_obs[None, :])
    # argpartition gives the k nearest donors; ties broken by position (mice adds tiny noise)
    nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
    pick = nearest[np.arange(nearest.shape[0]), rng.integers(0, k, size=nearest.shape[0])]
    donors: FloatArray = y_obs[pick]
    return donors


def _mice_chain(Z: FloatArray, maxit: int, rng: np.random.Generator, method: str) -> FloatArray:
    """Impute the NaNs of ``Z`` (rows = participants of one arm) by one MICE chain."""
    miss = np.isnan(Z)
    out = Z.copy()
    targets = [j for j in range(Z.shape[1]) if miss[:, j].any()]
    for j in targets:
        obs = Z[~miss[:, j], j]
        if obs.size < 2:
            raise DataValidationError(
                f"multiple imputation: column {j} has fewer than 2 observed values in an arm"
            )
        out[miss[:, j], j] = rng.choice(obs, size=int(miss[:, j].sum()))
    # predictors: drop a complete column identical to an earlier complete column
    complete = [not bool(miss[:, j].any()) for j in range(Z.shape[1])]
    usable: list[int] = []
    for j in range(Z.shape[1]):
        dup = complete[j] and any(complete[i] and np.array_equal(Z[:, i], Z[:, j]) for i in usable)
        if not dup:
            usable.append(j)
    ones = np.ones((Z.shape[0], 1))
    for _ in range(maxit):
        for j in targets:
            preds = [i for i in usable if i != j]
            X = np.hstack([ones, out[:, preds]])
            r = miss[:, j]
            out[r, j] = _draw(Z[~r, j], X[~r], X[r], rng, method)
    return out


#: A column of the imputation matrix: (kind, name, level) with kind "outcome" (name =
#: outcome, level = visit), "baseline" (a numeric modifier or covariate column) or
#: "level" (the 0/1 indicator of ``level`` of the categorical covariate ``name``).
_Column = tuple[str, str, str]


def _layout(w: WideData) -> tuple[list[_Column], FloatArray]:
    """Columns and the n x p matrix to impute.

    A categorical covariate enters as 0/1 indicators of its non-reference levels.
    With two levels its one indicator is imputed by PMM like any variable (PMM
    imputes observed values, 0 or 1); with more levels separate indicators
    could be imputed inconsistently, so missing values are refused.
    """
    plan = w.plan
    visits = [plan.trial.baseline_visit, *w.visits]
    cols: list[_Column] = []
    mats: list[FloatArray] = []
    for o in plan.outcomes:
        for v in visits:
            cols.append(("outcome", o.name, v))
            mats.append(w.outcome(o.name, v).to_numpy(dtype=float))
    for c in w.baseline.columns:
        name = str(c)
        if name not in w.factors:
            cols.append(("baseline", name, ""))
            mats.append(w.baseline[c].to_numpy(dtype=float))
            continue
        levels = w.factors[name]
        codes = w.baseline[c].astype(object).to_numpy()
        missing = w.baseline[c].isna().to_numpy()
        if missing.any() and len(levels) > 2:
            raise DataValidationError(
                f"multiple imputation: the categorical covariate {name!r} has "
                f"{len(levels)} levels and {int(missing.sum())} participant(s) without a "
                "value; only a two-level covariate can be imputed here"
            )
        for lv in levels[1:]:
            col = (codes == lv).astype(float)
            col[missing] = np.nan
            cols.append(("level", name, lv))
            mats.append(col)
    return cols, np.column_stack(mats)


def _impute_wide(
    w: WideData, m: int, seed: int, maxit: int, method: str
) -> tuple[list[_Column], list[FloatArray]]:
    cols, Z = _layout(w)
    streams = np.random.SeedSequence(seed).spawn(m)
    completed: list[FloatArray] = []
    for ss in streams:
        rng = np.random.default_rng(ss)
        full = Z.copy()
        for arm in w.arms:
            rows = w.arm == arm
            full[rows] = _mice_chain(Z[rows], maxit, rng, method)
        completed.append(full)
    return cols, completed


def _settings(
    plan: Plan, m: int | None, seed: int | None, maxit: int, method: str
) -> tuple[int, int]:
    _METHOD(method)
    m_ = plan.analysis.mi_m if m is None else m
    seed_ = plan.analysis.mi_seed if seed is None else seed
    if isinstance(m_, bool) or not isinstance(m_, int) or m_ < 2:
        raise DataValidationError(f"m (number of imputations) must be an integer >= 2; got {m_!r}")
    if isinstance(maxit, bool) or not isinstance(maxit, int) or maxit < 1:
        raise DataValidationError(f"maxit must be an integer >= 1; got {maxit!r}")
    Interval("seed", 0)(seed_)
    return m_, int(seed_)


def impute(
    data: pd.DataFrame,
    plan: Plan | None = None,
    *,
    m: int | None = None,
    seed: int | None = None,
    maxit: int = 10,
    method: str = "pmm",
) -> list[pd.DataFrame]:
    """Return ``m`` completed copies of the long-format data (MICE with PMM, by arm).

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format trial data matching ``plan``.
    plan : Plan, optional
        Analysis plan (default: bundled RESOLVE plan).
    m, seed : int, optional
        Number of imputations and seed (default: ``plan.analysis.mi_m`` /
        ``mi_seed``).
    maxit : int, default 10
        Sweeps of the chained equations per imputation.
    method : {"pmm", "norm"}, default "pmm"
        Predictive mean matching, or Bayesian linear regression draws
        (``mice``'s "norm": ŷ_mis + σ* z; extrapolates beyond the observed
        values, which PMM cannot, at the price of out-of-range values).

    Returns
    -------
    list of pandas.DataFrame
        Each with one row per participant x visit (plan visits with data), the
        subject, arm and visit columns, every outcome column (observed values
        unchanged, missing ones imputed) and the modifier and covariate columns.
    """
    plan = load_plan() if plan is None else plan
    m_, seed_ = _settings(plan, m, seed, maxit, method)
    with limit_blas_threads(1):
        w = wide_data(data, plan)
        cols, completed = _impute_wide(w, m_, seed_, maxit, method)
    t = plan.trial
    visits = [t.baseline_visit, *w.visits]
    out: list[pd.DataFrame] = []
    for full in completed:
        frames = []
        for v in visits:
            f = pd.DataFrame({t.subject: w.subjects.to_numpy(), t.arm: w.arm, t.visit: v})
            for j, (kind, name, level) in enumerate(cols):
                if kind == "baseline":
                    f[name] = full[:, j]
                elif kind == "outcome" and level == v:
                    f[plan.outcome(name).column] = full[:, j]
            for name, levels in w.factors.items():
                code = np.zeros(w.n, dtype=np.intp)
                for j, (kind, col, level) in enumerate(cols):
                    if kind == "level" and col == name:
                        code[full[:, j] > 0.5] = levels.index(level)
                f[name] = pd.Categorical([levels[c] for c in code], categories=list(levels))
            frames.append(f)
        long = pd.concat(frames, ignore_index=True)
        order = {v: i for i, v in enumerate(visits)}
        long = long.sort_values(
            [t.subject, t.visit],
            key=lambda s: s.map(order) if s.name == t.visit else s,
            kind="mergesort",
        ).reset_index(drop=True)
        out.append(long)
    return out


def multiple_imputation(
    data: pd.DataFrame,
    plan: Plan | None = None,
    *,
    m: int | None = None,
    seed: int | None = None,
    maxit: int = 10,
    method: str = "pmm",
) -> pd.DataFrame:
    """Per-visit arm differences after MICE, pooled by Rubin's rules.

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format trial data matching ``plan``.
    plan : Plan, optional
        Analysis plan (default: bundled RESOLVE plan); ``analysis.mi_m`` and
        ``analysis.mi_seed`` give the defaults of ``m`` and ``seed``.
    m, seed : int, optional
        Override the plan's number of imputations (>= 2) and seed.
    maxit : int, default 10
        Sweeps of the chained equations per imputation.
    method : {"pmm", "norm"}, default "pmm"
        Predictive mean matching, or Bayesian linear regression draws
        (``mice``'s "norm": ŷ_mis + σ* z; extrapolates beyond the observed
        values, which PMM cannot, at the price of out-of-range values).

    Returns
    -------
    pandas.DataFrame
        One row per outcome x follow-up visit x contrast (each non-reference
        arm minus the reference arm, then the plan's ``extra_contrasts``):
        ``outcome, visit, model`` ("mice_rubin"), ``estimate, std_error, df``
        (Barnard-Rubin), ``conf_low, conf_high, p_value, fmi``, then
        ``contrast`` ("resolve - sham"), ``m``, ``n`` (participants analysed =
        all randomised in the data).

    Notes
    -----
    The complete-data analysis is ANCOVA ``y_t ~ arm + y_0 [+ covariates]``
    per visit (not the primary repeated-measures model); a categorical
    covariate enters as a factor (see :func:`_layout` for how it is imputed). Estimates are
    stochastic: another seed moves them by Monte-Carlo error of order
    SE·sqrt(fmi/m). The model is described in the module docstring.
    """
    plan = load_plan() if plan is None else plan
    m_, seed_ = _settings(plan, m, seed, maxit, method)
    with limit_blas_threads(1):
        w = wide_data(data, plan)
        cols, completed = _impute_wide(w, m_, seed_, maxit, method)
        index = {c: j for j, c in enumerate(cols)}
        covs = [
            j
            for c in dict.fromkeys(plan.analysis.covariates)
            for j, (kind, name, _) in enumerate(cols)
            if kind in ("baseline", "level") and name == c
        ]
        A = w.arm_indicators()
        contrasts = w.contrasts()
        rows: list[dict[str, Any]] = []
        level = plan.analysis.conf_level
        for o in plan.outcomes:
            for v in w.visits:
                est = np.empty((m_, len(contrasts)))
                var = np.empty((m_, len(contrasts)))
                df_com = 0
                for i, full in enumerate(completed):
                    X = np.column_stack(
                        [
                            np.ones(w.n),
                            A,
                            full[:, index[("outcome", o.name, plan.trial.baseline_visit)]],
                            full[:, covs],
                        ]
                    )
                    y = full[:, index[("outcome", o.name, v)]]
                    fit = ols(X, y, [f"b{j}" for j in range(X.shape[1])])
                    df_com = fit.df_resid
                    for a, (_, weights) in enumerate(contrasts):
                        c = np.zeros(X.shape[1])
                        c[1 : 1 + A.shape[1]] = weights
                        r = contrast(fit, c)
                        est[i, a], var[i, a] = r.estimate, r.std_error**2
                for a, (lab, _) in enumerate(contrasts):
                    pooled = rubin_pool(est[:, a], var[:, a], df_com)
                    q = float(stats.t.ppf(0.5 + level / 2, pooled.df))
                    tval = pooled.estimate / pooled.std_error
                    rows.append(
                        {
                            "outcome": o.name, "visit": v, "model": "mice_rubin",
                            "estimate": pooled.estimate, "std_error": pooled.std_error,
                            "df": pooled.df,
                            "conf_low": pooled.estimate - q * pooled.std_error,
                            "conf_high": pooled.estimate + q * pooled.std_error,
                            "p_value": float(2 * stats.t.sf(abs(tval), pooled.df)),
                            "fmi": pooled.fmi, "contrast": lab, "m": m_, "n": w.n,
                        }
                    )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
