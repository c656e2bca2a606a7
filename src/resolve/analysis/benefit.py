"""Who benefits, following the PATH statement's recommendations (exploratory).

Predictive heterogeneity of the treatment effect, following the recommendations
of the PATH statement (Kent et al., Ann Intern Med 2020) that apply to a
continuous outcome of a two- or multi-arm trial: (1) a **risk-modelling** view —
the treatment effect across quarters of predicted prognosis, with one test of
the treatment x prognosis interaction; (2) an **effect-modelling** view whose
arm x modifier interactions are **penalised** (ridge, penalty tuned by
cross-validation); (3) **calibration for benefit** and **discrimination for
benefit** of the effect model by cross-validation. Every output is exploratory.

For each ``[benefit]`` outcome *y* and visit *t*, among complete cases (outcome,
baseline outcome, every modifier and covariate observed):

**Risk model** (blinded to treatment, on every arm pooled, no arm term)::

    y_t = a + Σ_j b_j·m_j [+ g·y_0] [+ covariates] + e     (OLS)

Its fitted value is the participant's *predicted prognosis* (the outcome
expected whatever the arm). Per contrast (arm *a* against the reference), the
participants of the two arms are split into ``groups`` equal-sized groups by
rank of predicted prognosis (ties by data order); in each group the treatment
effect is the difference in mean outcome (arm minus reference) with a Welch
t-interval. The one-df test of heterogeneity on the risk scale is the t test of
κ in ``y_t = α + β·p + δ·A + κ·A·(p − p̄) + ε`` (p = predicted prognosis).

**Effect model** (penalised)::

    y_t = α + Σ_a δ_a·A_a + Σ_j λ_j·z_j [+ γ·y_0] [+ covariates]
          + Σ_a Σ_j κ_aj·A_a·z_j + ε

with z_j the modifiers standardised (mean 0, SD 1 over the fitting sample). The
coefficients minimise ``RSS + λ·Σ κ_aj²``: ridge regression with the penalty on
the interactions only (closed form, by projecting out the unpenalised columns).
λ is chosen from a grid (``n·10^(−3 … 3)``, 31 values, and λ = ∞, the model with
no interaction, i.e. the average effect for everyone) by ``folds``-fold
cross-validation of the squared prediction error, folds stratified by arm and
seeded with ``seed``. Rule ``"one_se"`` (default) takes the largest λ whose mean
CV error exceeds the minimum by at most one standard error of the fold-wise
difference from the minimum (a paired version of Breiman's one-standard-error
rule); ``"min"`` takes the minimum. A participant's predicted effect is
``δ_a + Σ_j κ_aj·z_j`` at their z.

**Calibration and discrimination for benefit**, by nested cross-validation (λ
re-chosen inside every training fold). Out-of-fold predicted effects, centred
within their fold (b̂; the folds' differing estimates of the *average* effect
say nothing about who benefits more), are grouped by rank into ``groups``
groups; per group the observed effect is the difference in means between the
arms (Welch CI). The *calibration slope for benefit* is s in
``y_t = α + θ·μ̂_0 + δ·A + s·A·(b̂ − mean b̂) + ε`` (μ̂_0 the out-of-fold
predicted outcome under the reference arm; OLS, t-interval; 1 = the spread of
predicted effects is right, < 1 too wide, > 1 too narrow; NaN when no fold
predicts any heterogeneity). The **c-for-benefit** is a
continuous-outcome analogue of van Klaveren et al. (J Clin Epidemiol 2018):
the larger arm is randomly subsampled to the size of the smaller, each arm is
sorted by b̂ and matched 1:1 by rank; a pair's predicted benefit
is the mean of its two predicted effects, its observed benefit the difference
of the two outcomes (treated minus control); the statistic is Harrell's
concordance between the two over all pairs of pairs with unequal observed
benefit (ties in predicted benefit count 1/2), averaged over ``C_REPEATS``
subsamples. The original is defined for a binary outcome; this analogue only
replaces the pair's observed benefit by the difference of continuous outcomes.

No per-participant P value is computed; every individual output carries
``exploratory = True`` and the model's calibration. Details, validation against
R (glmnet) and simulation results: ``docs/effect-modification.md``, "Who benefits".

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis.plan import load_plan
>>> res = benefit_analysis(datasets.load("resolve"), load_plan())
>>> sorted(res.models.columns[:3]), bool(res.individual["exploratory"].all())
(['contrast', 'outcome', 'visit'], True)
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import linalg, stats

from resolve._results import Result, jsonable
from resolve.analysis._ols import contrast, ols
from resolve.analysis._wide import WideData, wide_data
from resolve.analysis.plan import Plan, load_plan

if TYPE_CHECKING:
    from resolve.analysis.effect_modifiers import _Cell
from resolve.errors import DataValidationError
from resolve.stats._blas import limit_blas_threads

__all__ = [
    "C_REPEATS",
    "BenefitAnalysis",
    "CellFit",
    "Metrics",
    "benefit_analysis",
    "benefit_metrics",
    "c_for_benefit",
    "calibration_slope",
    "cell_rng",
    "fit_cell",
    "lambda_grid",
    "rank_groups",
    "ridge_path",
    "risk_interaction",
    "risk_model",
    "select_lambda",
    "welch",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Rule = Literal["one_se", "min", "none"]

#: Random 1:1 subsamples over which the c-for-benefit is averaged (unequal arms).
C_REPEATS = 100
#: Relative size below which two predictions (or outcomes) count as tied.
_TIE = 1e-10
#: Penalty grid, as multiples of the number of participants: 10^-3 ... 10^3 (31 values).
GRID_EXPONENTS = np.linspace(-3.0, 3.0, 31)

RISK_GROUP_COLUMNS = [
    "outcome", "visit", "contrast", "group", "n_reference", "n_treatment", "prognosis_low",
    "prognosis_high", "prognosis_mean", "mean_reference", "mean_treatment", "estimate",
    "std_error", "df", "conf_low", "conf_high",
]  # fmt: skip
RISK_TEST_COLUMNS = [
    "outcome", "visit", "contrast", "n", "r_squared", "sd_prognosis", "estimate", "std_error",
    "df", "conf_low", "conf_high", "p_value", "model",
]  # fmt: skip
MODEL_COLUMNS = [
    "outcome", "visit", "contrast", "n", "folds", "seed", "rule", "penalty", "penalty_min",
    "df_interactions", "average_effect", "sd_predicted_effect", "cv_mse_homogeneous",
    "cv_mse_selected", "mean_predicted_cv", "calibration_slope", "calibration_slope_low",
    "calibration_slope_high", "c_for_benefit", "n_pairs", "heterogeneity", "exploratory",
]  # fmt: skip
CALIBRATION_COLUMNS = [
    "outcome", "visit", "contrast", "group", "n_reference", "n_treatment", "predicted",
    "predicted_low", "predicted_high", "observed", "conf_low", "conf_high",
]  # fmt: skip
COEFFICIENT_COLUMNS = [
    "outcome", "visit", "contrast", "modifier", "sd", "estimate_per_sd", "estimate",
    "unpenalised_per_sd",
]  # fmt: skip
INDIVIDUAL_COLUMNS = [
    "id", "outcome", "visit", "contrast", "arm", "prognosis", "risk_group", "predicted_effect",
    "predicted_effect_cv", "exploratory", "calibration_slope", "calibration_slope_low",
    "calibration_slope_high", "c_for_benefit",
]  # fmt: skip


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class BenefitAnalysis(Result):
    """Who-benefits results (exploratory); see the module docstring for the methods.

    Tables (one row per outcome x visit x contrast, unless stated):

    ``risk_groups`` — per group of predicted prognosis: ``group`` (1 = lowest
    predicted outcome), ``n_reference, n_treatment``, the group's prognosis range
    and mean, the arms' mean outcomes, ``estimate`` (difference in means, arm minus
    reference), Welch ``std_error, df, conf_low, conf_high``.
    ``risk_tests`` — the risk model's apparent ``r_squared``, the SD of predicted
    prognosis, and the treatment x prognosis interaction (change in effect per unit
    of predicted outcome) with its t test.
    ``models`` — the penalised effect model: ``penalty`` (selected λ; inf = no
    interaction), ``penalty_min`` (λ at the CV minimum), ``df_interactions``
    (effective degrees of freedom of the interactions, Σ s²/(s² + λ)),
    ``average_effect`` and ``sd_predicted_effect`` over participants, CV mean
    squared errors, ``mean_predicted_cv``, ``calibration_slope`` with CI,
    ``c_for_benefit``, ``n_pairs`` (matched pairs), ``heterogeneity`` ("none
    predicted" when λ = ∞, else "predicted") and ``exploratory`` (always True).
    ``calibration`` — per group of out-of-fold predicted effect: mean, min and max
    predicted, observed difference in means with Welch CI.
    ``coefficients`` — the shrunken interactions per SD and per unit of each
    modifier, and the unpenalised (λ = 0) ones per SD.
    ``individual`` — per participant of the contrast's two arms: predicted
    prognosis, its group, ``predicted_effect`` (full-data model),
    ``predicted_effect_cv`` (out-of-fold), ``exploratory`` and the model's
    calibration slope and c-for-benefit. No P values.
    """

    risk_groups: pd.DataFrame
    risk_tests: pd.DataFrame
    models: pd.DataFrame
    calibration: pd.DataFrame
    coefficients: pd.DataFrame
    individual: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table, keyed ``benefit_<name>`` (the CSV file names)."""
        return {
            "benefit_risk_groups": self.risk_groups,
            "benefit_risk_tests": self.risk_tests,
            "benefit_models": self.models,
            "benefit_calibration": self.calibration,
            "benefit_coefficients": self.coefficients,
            "benefit_individual": self.individual,
        }

    def to_frame(self) -> pd.DataFrame:
        return self.models.copy()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {
                "exploratory": True,
                "risk_groups": self.risk_groups,
                "risk_tests": self.risk_tests,
                "models": self.models,
                "calibration": self.calibration,
                "coefficients": self.coefficients,
            }
        )
        return out

    def summary(self) -> str:
        cols = ["outcome", "visit", "contrast", "penalty", "calibration_slope", "c_for_benefit"]
        return "Who benefits (exploratory)\n" + self.models[cols].to_string(index=False)


# ----------------------------------------------------------------------------- helpers
def welch(
    y1: FloatArray, y0: FloatArray, *, conf_level: float = 0.95
) -> tuple[float, float, float, float, float]:
    """Difference in means ``mean(y1) − mean(y0)`` with a Welch t-interval.

    Returns
    -------
    tuple of float
        Estimate, standard error, Welch-Satterthwaite df, lower and upper limit
        (NaN but the estimate when an arm has fewer than 2 values or both
        variances are 0), as R ``t.test(y1, y0)``.

    Examples
    --------
    >>> est, se, df, lo, hi = welch(np.array([3.0, 4, 5, 6]), np.array([1.0, 2, 2, 3]))
    >>> round(est, 3), round(df, 3), round(lo, 3)
    (2.5, 5.069, 0.545)
    """
    n1, n0 = y1.size, y0.size
    est = _mean(y1) - _mean(y0)
    if n1 < 2 or n0 < 2:
        return est, math.nan, math.nan, math.nan, math.nan
    v1, v0 = float(y1.var(ddof=1)) / n1, float(y0.var(ddof=1)) / n0
    se = math.sqrt(v1 + v0)
    if se == 0:
        return est, 0.0, math.nan, math.nan, math.nan
    df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
    q = float(stats.t.ppf(0.5 + conf_level / 2, df))
    return est, se, df, est - q * se, est + q * se


def _mean(x: FloatArray) -> float:
    return float(x.mean()) if x.size else math.nan


def rank_groups(x: FloatArray, groups: int) -> IntArray:
    """Equal-sized groups 1..``groups`` by rank of ``x`` (ties by data order).

    Group of the element of rank r (1-based, ``ties.method = "first"``) is
    ``ceil(groups·r/n)``, as R ``ceiling(groups * rank(x, ties.method = "first") / n)``.

    Examples
    --------
    >>> rank_groups(np.array([5.0, 1, 3, 3, 9, 0, 2, 7]), 4).tolist()
    [3, 1, 2, 3, 4, 1, 2, 4]
    """
    n = x.size
    order = np.argsort(x, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    return np.asarray(np.ceil(groups * rank / n), dtype=np.int64)


def lambda_grid(n: int) -> FloatArray:
    """The penalty grid: ``n·10^k`` for k = −3, −2.8, …, 3, then ∞ (no interaction).

    Examples
    --------
    >>> g = lambda_grid(100)
    >>> g.size, float(g[0]), float(g[-2]), bool(np.isinf(g[-1]))
    (32, 0.1, 100000.0, True)
    """
    return np.concatenate([n * 10.0**GRID_EXPONENTS, [np.inf]])


def _folds(codes: IntArray, k: int, rng: np.random.Generator | None) -> IntArray:
    """Fold 0..k−1 per participant, stratified by arm.

    Within each arm (in code order) participants are taken in data order, or in a
    random order drawn from ``rng``, and dealt to folds round-robin, the count
    continuing from one arm to the next.
    """
    out = np.empty(codes.size, dtype=np.int64)
    offset = 0
    for c in np.unique(codes):
        idx = np.flatnonzero(codes == c)
        if rng is not None:
            idx = rng.permutation(idx)
        out[idx] = (offset + np.arange(idx.size)) % k
        offset += idx.size
    return out


@dataclass(frozen=True)
class _Path:
    """Ridge solutions for a grid of penalties on one fitting sample."""

    mean: FloatArray  # modifier means
    sd: FloatArray  # modifier SDs
    beta: FloatArray  # p x L unpenalised coefficients: 1, arms, z, adjust
    gamma: FloatArray  # (a·k) x L interactions, arm-major
    s: FloatArray  # singular values of the projected interaction block
    n_arms: int  # non-reference arms

    def predict(self, M: FloatArray, A: FloatArray, adj: FloatArray) -> FloatArray:
        """n x L predicted outcomes."""
        Z, W = _design(M, A, adj, self.mean, self.sd)
        out: FloatArray = Z @ self.beta + W @ self.gamma
        return out

    def effects(self, M: FloatArray) -> FloatArray:
        """n x a x L predicted effect of each non-reference arm (against the reference)."""
        z = _standardise(M, self.mean, self.sd)
        k = z.shape[1]
        L = self.beta.shape[1]
        out = np.empty((z.shape[0], self.n_arms, L))
        for i in range(self.n_arms):
            out[:, i, :] = self.beta[1 + i][None, :] + z @ self.gamma[i * k : (i + 1) * k]
        return out

    def reference_mean(self, M: FloatArray, adj: FloatArray) -> FloatArray:
        """n x L predicted outcome under the reference arm."""
        return self.predict(M, np.zeros((M.shape[0], self.n_arms)), adj)


def _standardise(M: FloatArray, mean: FloatArray, sd: FloatArray) -> FloatArray:
    out: FloatArray = (M - mean) / sd
    return out


def _design(
    M: FloatArray, A: FloatArray, adj: FloatArray, mean: FloatArray, sd: FloatArray
) -> tuple[FloatArray, FloatArray]:
    z = _standardise(M, mean, sd)
    Z = np.column_stack([np.ones(M.shape[0]), A, z, adj])
    W = np.column_stack([A[:, [i]] * z for i in range(A.shape[1])])
    return Z, W


def ridge_path(
    M: FloatArray, A: FloatArray, adj: FloatArray, y: FloatArray, penalties: FloatArray
) -> _Path:
    """Ridge fits of the effect model with the penalty on the interactions only.

    Minimises ``‖y − Zβ − Wγ‖² + λ‖γ‖²`` for each λ in ``penalties`` (``0`` =
    unpenalised OLS, ``inf`` = γ = 0), where ``Z = [1, A, z, adj]`` and ``W`` holds
    ``A_a·z_j`` (arm-major), ``z`` the columns of ``M`` standardised with this
    sample's means and SDs (``ddof = 1``). Closed form: with ``P`` the projection
    off the columns of ``Z`` and ``PW = U S V'``,
    ``γ(λ) = V diag(s/(s² + λ)) U'Py`` and ``β = (Z'Z)⁻¹Z'(y − Wγ)``.

    A modifier constant in the sample (possible in a small cross-validation fold)
    is left unscaled (SD taken as 1) and, like any column of ``Z`` that the others
    determine, gets the minimum-norm solution (coefficient 0 in the aliased
    direction); its interactions are then 0.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> M = rng.normal(size=(40, 2)); A = (np.arange(40) % 2).astype(float)[:, None]
    >>> y = M[:, 0] + A[:, 0] * (1 + M[:, 1]) + rng.normal(size=40)
    >>> p = ridge_path(M, A, np.empty((40, 0)), y, np.array([0.0, 10.0, np.inf]))
    >>> np.round(p.gamma[1], 2).tolist()   # the interaction with z_2: OLS, shrunk, zero
    [0.85, 0.38, 0.0]
    """
    mean = M.mean(axis=0)
    sd = M.std(axis=0, ddof=1) if M.shape[0] > 1 else np.ones(M.shape[1])
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    Z, W = _design(M, A, adj, mean, sd)
    Q, R = linalg.qr(Z, mode="economic")
    diag = np.abs(np.diag(R))
    full_rank = bool((diag > diag.max() * max(Z.shape) * np.finfo(float).eps * 1e3).all())
    if not full_rank:  # an orthonormal basis of the column space instead
        U_z, s_z, _ = linalg.svd(Z, full_matrices=False)
        Q = U_z[:, s_z > s_z.max() * max(Z.shape) * np.finfo(float).eps * 1e3]
    yt = y - Q @ (Q.T @ y)
    Wt = W - Q @ (Q.T @ W)
    U, s, Vt = linalg.svd(Wt, full_matrices=False)
    uy = U.T @ yt
    lam = np.asarray(penalties, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(
            np.isinf(lam)[None, :],
            0.0,
            s[:, None] / (s[:, None] ** 2 + np.where(np.isinf(lam), 0.0, lam)[None, :]),
        )
    f[s <= s.max(initial=0.0) * max(W.shape) * np.finfo(float).eps * 1e3] = 0.0
    gamma = Vt.T @ (f * uy[:, None])
    rhs = y[:, None] - W @ gamma
    if full_rank:
        beta = linalg.solve_triangular(R, Q.T @ rhs)
    else:
        beta = linalg.lstsq(Z, rhs, cond=None)[0]
    return _Path(mean, sd, beta, gamma, s, A.shape[1])


def _cv_errors(
    M: FloatArray, A: FloatArray, adj: FloatArray, y: FloatArray, folds: IntArray,
    penalties: FloatArray,
) -> FloatArray:  # fmt: skip
    """K x L mean squared prediction error in each held-out fold."""
    K = int(folds.max()) + 1
    err = np.empty((K, penalties.size))
    for k in range(K):
        test = folds == k
        tr = ~test
        p = ridge_path(M[tr], A[tr], adj[tr], y[tr], penalties)
        pred = p.predict(M[test], A[test], adj[test])
        err[k] = ((y[test][:, None] - pred) ** 2).mean(axis=0)
    return err


def select_lambda(
    errors: FloatArray, penalties: FloatArray, rule: Rule = "one_se"
) -> tuple[float, float]:
    """Penalty chosen from K x L fold-wise CV errors; returns (chosen, CV minimum).

    The CV error of λ is the mean over folds. ``"min"``: the λ of least CV error
    (the largest on ties). ``"one_se"``: the largest λ whose CV error exceeds the
    minimum's by at most the standard error (SD/√K) of the fold-wise differences
    from the minimum. ``"none"``: 0 (unpenalised).

    Examples
    --------
    >>> err = np.array([[1.0, 1.1, 1.3], [1.2, 1.1, 1.2], [0.9, 1.0, 1.1]])
    >>> select_lambda(err, np.array([0.0, 1.0, np.inf]))
    (1.0, 0.0)
    >>> select_lambda(err, np.array([0.0, 1.0, np.inf]), "min")
    (0.0, 0.0)
    """
    cv = errors.mean(axis=0)
    j = int(np.flatnonzero(cv <= cv.min() * (1 + 1e-12)).max())
    lam_min = float(penalties[j])
    if rule == "none":
        return 0.0, lam_min
    if rule == "min":
        return lam_min, lam_min
    K = errors.shape[0]
    d = errors - errors[:, [j]]
    se = d.std(axis=0, ddof=1) / math.sqrt(K)
    ok = np.flatnonzero(d.mean(axis=0) <= se + 1e-12 * cv.min())
    return float(penalties[ok.max()]), lam_min


def _signs(x: FloatArray) -> FloatArray:
    """Sign of ``x_i − x_j`` for every i, j; differences within rounding (``_TIE``) are 0."""
    d = x[:, None] - x[None, :]
    tol = _TIE * max(1.0, float(np.abs(x).max()))
    out: FloatArray = np.where(np.abs(d) <= tol, 0.0, np.sign(d))
    return out


def c_for_benefit(
    predicted: FloatArray,
    y: FloatArray,
    treated: npt.NDArray[np.bool_],
    *,
    rng: np.random.Generator | None = None,
    repeats: int = C_REPEATS,
) -> tuple[float, int]:
    """Continuous-outcome analogue of van Klaveren's c-for-benefit; returns (C, pairs).

    The larger arm is subsampled at random (from ``rng``) to the size of the
    smaller (``repeats`` times; once, without subsampling, when the arms are equal);
    each arm is sorted by predicted effect (ties by data order) and matched 1:1 by
    rank. Pair benefit: predicted = mean of the two predicted effects, observed =
    treated outcome − control outcome. C = Harrell's concordance over pairs of
    pairs with unequal observed benefit, ties in predicted benefit counted 1/2;
    averaged over the subsamples. NaN when no two pairs differ.

    Examples
    --------
    >>> pred = np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0])
    >>> y = np.array([1.0, 2.0, 4.0, 1.0, 1.0, 1.0])
    >>> c_for_benefit(pred, y, np.array([True, True, True, False, False, False]))
    (1.0, 3)
    """
    t = np.flatnonzero(treated)
    c = np.flatnonzero(~treated)
    m = min(t.size, c.size)
    if m < 2:
        return math.nan, m
    equal = t.size == c.size
    if not equal and rng is None:
        rng = np.random.default_rng(0)
    values = []
    for _ in range(1 if equal else repeats):
        tt, cc = t, c
        if t.size > m:
            assert rng is not None
            tt = np.sort(rng.choice(t, m, replace=False))
        if c.size > m:
            assert rng is not None
            cc = np.sort(rng.choice(c, m, replace=False))
        tt = tt[np.argsort(predicted[tt], kind="stable")]
        cc = cc[np.argsort(predicted[cc], kind="stable")]
        pp = (predicted[tt] + predicted[cc]) / 2
        ob = y[tt] - y[cc]
        dp = _signs(pp)
        do = _signs(ob)
        iu = np.triu_indices(m, 1)
        dp, do = dp[iu], do[iu]
        usable = do != 0
        if not usable.any():
            continue
        score = np.where(dp[usable] == 0, 0.5, (dp[usable] == do[usable]).astype(float))
        values.append(float(score.mean()))
    return (float(np.mean(values)) if values else math.nan), m


# ----------------------------------------------------------------------------- one cell
@dataclass(frozen=True)
class CellFit:
    """The penalised effect model of one outcome x visit, with its cross-validation."""

    path: _Path
    penalty: float
    penalty_min: float
    cv_errors: FloatArray  # K x L on the full data
    penalties: FloatArray
    folds: IntArray
    effect: FloatArray  # n x a, full-data model
    effect_cv: FloatArray  # n x a, out-of-fold
    reference_cv: FloatArray  # n, out-of-fold predicted outcome under the reference
    fold_penalties: FloatArray  # K, λ chosen inside each outer training fold
    unpenalised: _Path

    @property
    def df_interactions(self) -> float:
        s2 = self.path.s**2
        if np.isinf(self.penalty):
            return 0.0
        return float((s2 / (s2 + self.penalty)).sum())


def fit_cell(
    M: FloatArray,
    A: FloatArray,
    adj: FloatArray,
    y: FloatArray,
    *,
    folds: int = 10,
    rule: Rule = "one_se",
    rng: np.random.Generator | None = None,
    nested: bool = True,
) -> CellFit:
    """Tune, fit and cross-validate the penalised effect model on one cell.

    Parameters
    ----------
    M, A, adj, y : numpy.ndarray
        Modifiers (n x k, raw values), non-reference arm indicators (n x a),
        unpenalised adjustment columns (n x q: baseline outcome, covariates) and
        the outcome.
    folds : int
        K of the K-fold cross-validation (outer and inner).
    rule : {"one_se", "min", "none"}
        Penalty selection (:func:`select_lambda`); ``"none"`` fits the unpenalised
        model everywhere.
    rng : numpy.random.Generator, optional
        Source of the random fold assignment; ``None`` deals participants to folds
        in data order (reproducible in any language; used by the reference tests).
    nested : bool
        Also compute the out-of-fold predictions (nested cross-validation); without
        it ``effect_cv``, ``reference_cv`` and ``fold_penalties`` are NaN.

    Returns
    -------
    CellFit
        Full-data fit at the selected λ, its CV errors, and nested out-of-fold
        predictions (λ re-selected inside each outer training fold).
    """
    with limit_blas_threads(1):  # many tiny solves: threading only adds overhead
        return _fit_cell(M, A, adj, y, folds=folds, rule=rule, rng=rng, nested=nested)


def _fit_cell(
    M: FloatArray, A: FloatArray, adj: FloatArray, y: FloatArray, *, folds: int, rule: Rule,
    rng: np.random.Generator | None, nested: bool,
) -> CellFit:  # fmt: skip
    n = y.size
    codes = np.asarray(A @ np.arange(1, A.shape[1] + 1), dtype=np.int64)
    penalties = lambda_grid(n)
    outer = _folds(codes, folds, rng)
    err = _cv_errors(M, A, adj, y, outer, penalties)
    lam, lam_min = select_lambda(err, penalties, rule)
    path = ridge_path(M, A, adj, y, np.array([lam]))
    effect = path.effects(M)[:, :, 0]
    effect_cv = np.full_like(effect, np.nan)
    reference_cv = np.full(n, np.nan)
    fold_lams = np.full(folds, np.nan)
    for k in range(folds if nested else 0):
        test = outer == k
        tr = ~test
        inner = _folds(codes[tr], folds, rng)
        e_in = _cv_errors(M[tr], A[tr], adj[tr], y[tr], inner, penalties)
        lam_k, _ = select_lambda(e_in, penalties, rule)
        fold_lams[k] = lam_k
        p = ridge_path(M[tr], A[tr], adj[tr], y[tr], np.array([lam_k]))
        effect_cv[test] = p.effects(M[test])[:, :, 0]
        reference_cv[test] = p.reference_mean(M[test], adj[test])[:, 0]
    unpen = ridge_path(M, A, adj, y, np.array([0.0]))
    return CellFit(
        path, lam, lam_min, err, penalties, outer, effect, effect_cv, reference_cv,
        fold_lams, unpen,
    )  # fmt: skip


def calibration_slope(
    y: FloatArray,
    treated: FloatArray,
    reference_pred: FloatArray,
    effect_pred: FloatArray,
    *,
    conf_level: float = 0.95,
) -> tuple[float, float, float]:
    """Calibration slope for benefit with its t-interval (NaN without predicted spread).

    OLS of ``y = α + θ·μ̂_0 + δ·A + s·A·(b̂ − mean b̂)``; returns s and its limits.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> b = rng.normal(size=400); a = (np.arange(400) % 2).astype(float)
    >>> x = rng.normal(size=400)
    >>> y = x + a * b + rng.normal(size=400)
    >>> s, lo, hi = calibration_slope(y, a, x, b)
    >>> lo < 1 < hi
    True
    """
    b = effect_pred - effect_pred.mean()
    if not np.ptp(b) > 1e-10 * max(1.0, float(np.abs(effect_pred).max())):
        return math.nan, math.nan, math.nan
    X = np.column_stack([np.ones(y.size), reference_pred, treated, treated * b])
    try:
        fit = ols(X, y, ("(Intercept)", "mu0", "arm", "arm:benefit"))
    except DataValidationError:
        return math.nan, math.nan, math.nan
    c = np.zeros(4)
    c[3] = 1.0
    r = contrast(fit, c, conf_level=conf_level)
    return r.estimate, r.conf_low, r.conf_high


# ----------------------------------------------------------------------------- main
def benefit_analysis(data: pd.DataFrame, plan: Plan | None = None) -> BenefitAnalysis:
    """Who benefits: risk-based and penalised effect-based views, cross-validated.

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format trial data matching ``plan``.
    plan : Plan, optional
        Analysis plan (default: the bundled RESOLVE plan). Used: ``[benefit]``
        (outcomes, visits, folds, seed, groups, rule), ``modifiers``,
        ``effect_modification.adjust_for_baseline``, ``analysis.covariates`` and
        ``conf_level``.

    Returns
    -------
    BenefitAnalysis
        See the class docstring for the tables; every individual row is
        ``exploratory``.

    Raises
    ------
    DataValidationError
        If the data do not match the plan, the plan has no modifiers, or a model
        is rank deficient.

    Notes
    -----
    Complete cases per outcome x visit. The risk model is developed on the same
    trial (internal, apparent predictions), blinded to treatment, as PATH
    recommends; its R² is apparent. Calibration and discrimination for benefit
    are out-of-fold (nested cross-validation), so they include the selection of
    λ. The c-for-benefit subsamples and the folds come from one generator seeded
    with ``[benefit] seed``, so the same data and plan give the same numbers.
    """
    plan = load_plan() if plan is None else plan
    if not plan.modifiers:
        raise DataValidationError(
            f"plan {plan.source}: the who-benefits analysis needs [[modifiers]]"
        )
    with limit_blas_threads(1):
        return _analyse(wide_data(data, plan))


def _centre_within(x: FloatArray, folds: IntArray) -> FloatArray:
    """``x`` minus its mean within each fold; exactly 0 in a fold where ``x`` is constant.

    Between-fold differences in the estimated average effect say nothing about who
    benefits more, and a training fold's high estimate goes with a low one in its
    held-out fold (a cross-validation artefact), so calibration slope and
    c-for-benefit use the predictions centred within their fold.
    """
    out = x.copy()
    for k in np.unique(folds):
        at = folds == k
        if np.ptp(x[at]) <= _TIE * max(1.0, float(np.abs(x[at]).max())):
            out[at] = 0.0
        else:
            out[at] -= x[at].mean()
    return out


def _cell_arrays(w: WideData, outcome: str, visit: str) -> tuple[FloatArray, _Cell]:
    """Raw modifiers and the design pieces of one outcome x visit (complete cases)."""
    from resolve.analysis.effect_modifiers import _cell

    cols = [m.column for m in w.plan.modifiers]
    cell = _cell(w, outcome, visit, cols)
    M = w.baseline[cols].to_numpy(dtype=float)[cell.mask]
    return M, cell


def cell_rng(seed: int, outcome: str, visit: str) -> np.random.Generator:
    """The random stream of one outcome x visit: seeded by the plan seed and the names,
    so a cell's numbers do not depend on which other cells are analysed."""
    return np.random.default_rng([seed, zlib.crc32(f"{outcome}\x00{visit}".encode())])


@dataclass(frozen=True)
class Metrics:
    """Calibration and discrimination for benefit of one contrast (out of fold)."""

    within: FloatArray  # out-of-fold predicted effects centred within fold
    slope: float
    slope_low: float
    slope_high: float
    c_for_benefit: float
    n_pairs: int


def benefit_metrics(
    fit: CellFit,
    y: FloatArray,
    A: FloatArray,
    arm: int,
    *,
    rng: np.random.Generator | None,
    conf_level: float = 0.95,
) -> tuple[npt.NDArray[np.bool_], Metrics]:
    """Calibration slope and c-for-benefit of non-reference arm ``arm`` (0-based) of a fit.

    Returns the mask of the contrast's participants (the arm and the reference arm)
    and the metrics computed on them.
    """
    sel = (A[:, arm] == 1) | (A.sum(axis=1) == 0)
    tr = A[sel, arm] == 1
    ys = y[sel]
    within = _centre_within(fit.effect_cv[sel, arm], fit.folds[sel])
    slope, lo, hi = calibration_slope(
        ys, tr.astype(float), fit.reference_cv[sel], within, conf_level=conf_level
    )
    c, pairs = c_for_benefit(within, ys, tr, rng=rng)
    return sel, Metrics(within, slope, lo, hi, c, pairs)


def risk_model(M: FloatArray, adj: FloatArray, y: FloatArray) -> tuple[FloatArray, float]:
    """Predicted prognosis (OLS fitted values of ``y ~ M + adj``, every arm pooled) and R².

    Examples
    --------
    >>> M = np.arange(10.0)[:, None]
    >>> p, r2 = risk_model(M, np.empty((10, 0)), 2 * M[:, 0] + np.tile([0.0, 1.0], 5))
    >>> round(r2, 4), round(float(p[0]), 4)
    (0.9929, 0.3636)
    """
    X = np.column_stack([np.ones(y.size), M, adj])
    fit = ols(X, y, [f"x{j}" for j in range(X.shape[1])])
    r2 = 1.0 - fit.rss / float(((y - y.mean()) ** 2).sum())
    fitted: FloatArray = X @ fit.coef
    return fitted, r2


def _group_rows(
    y: FloatArray, treated: npt.NDArray[np.bool_], x: FloatArray, groups: int, level: float
) -> list[dict[str, Any]]:
    """Per rank group of ``x``: sizes, x range and mean, arm means, Welch difference."""
    g = rank_groups(x, groups)
    rows = []
    for grp in range(1, groups + 1):
        inn = g == grp
        est, se, df, lo, hi = welch(y[inn & treated], y[inn & ~treated], conf_level=level)
        rows.append(
            {
                "group": grp, "n_reference": int((inn & ~treated).sum()),
                "n_treatment": int((inn & treated).sum()), "x_low": float(x[inn].min()),
                "x_high": float(x[inn].max()), "x_mean": float(x[inn].mean()),
                "mean_reference": _mean(y[inn & ~treated]),
                "mean_treatment": _mean(y[inn & treated]), "estimate": est, "std_error": se,
                "df": df, "conf_low": lo, "conf_high": hi,
            }
        )  # fmt: skip
    return rows


def risk_interaction(
    y: FloatArray, treated: npt.NDArray[np.bool_], prognosis: FloatArray, level: float = 0.95
) -> dict[str, float]:
    """One-df test of treatment x predicted prognosis: κ in ``y ~ p + A + A·(p − p̄)``.

    Examples
    --------
    >>> p = np.linspace(0, 9, 40); a = np.arange(40) % 2 == 1
    >>> y = p + a * (1 + 0.5 * (p - p.mean())) + np.sin(np.arange(40))
    >>> round(risk_interaction(y, a, p)["estimate"], 3)
    0.509
    """
    a = treated.astype(float)
    X = np.column_stack([np.ones(y.size), prognosis, a, a * (prognosis - prognosis.mean())])
    fit = ols(X, y, ("(Intercept)", "prognosis", "arm", "arm:prognosis"))
    k = contrast(fit, np.array([0.0, 0.0, 0.0, 1.0]), conf_level=level)
    return {
        "estimate": k.estimate, "std_error": k.std_error, "df": float(k.df),
        "conf_low": k.conf_low, "conf_high": k.conf_high, "p_value": k.p_value,
    }  # fmt: skip


def _analyse(w: WideData) -> BenefitAnalysis:
    plan = w.plan
    b = plan.benefit
    level = plan.analysis.conf_level
    visits = [v for v in b.visits if v in w.visits]
    labels = w.contrast_labels
    specs = plan.modifiers
    out: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("risk_groups", "risk_tests", "models", "calibration", "coefficients")
    }
    model_text = (
        "y_t ~ arm * prognosis; prognosis = fitted y_t ~ modifiers"
        + (" + y_0" if plan.effect_modification.adjust_for_baseline else "")
        + (" + covariates" if plan.analysis.covariates else "")
        + " (every arm pooled, no arm term)"
    )
    individual: list[pd.DataFrame] = []
    names = {o.name for o in plan.outcomes}
    for outcome in (o for o in b.outcomes if o in names):
        for visit in visits:
            M, cell = _cell_arrays(w, outcome, visit)
            A, adj, y = cell.arm, cell.adjust, cell.y
            rng = cell_rng(b.seed, outcome, visit)
            ids = w.subjects.to_numpy()[cell.mask]
            arm_names = w.arm[cell.mask]
            prog, r2 = risk_model(M, adj, y)
            cf = fit_cell(M, A, adj, y, folds=b.folds, rule=b.rule, rng=rng)
            cv = cf.cv_errors.mean(axis=0)
            j_sel = int(np.flatnonzero(cf.penalties == cf.penalty)[0])
            key = {"outcome": outcome, "visit": visit}
            for i, lab in enumerate(labels):
                sel, met = benefit_metrics(cf, y, A, i, rng=rng, conf_level=level)
                tr = A[sel, i] == 1
                ys, ps = y[sel], prog[sel]
                at = {**key, "contrast": lab}
                # risk-modelling view
                for r in _group_rows(ys, tr, ps, b.groups, level):
                    out["risk_groups"].append(
                        {
                            **at, "group": r["group"], "n_reference": r["n_reference"],
                            "n_treatment": r["n_treatment"], "prognosis_low": r["x_low"],
                            "prognosis_high": r["x_high"], "prognosis_mean": r["x_mean"],
                            "mean_reference": r["mean_reference"],
                            "mean_treatment": r["mean_treatment"], "estimate": r["estimate"],
                            "std_error": r["std_error"], "df": r["df"],
                            "conf_low": r["conf_low"], "conf_high": r["conf_high"],
                        }
                    )  # fmt: skip
                out["risk_tests"].append(
                    {
                        **at, "n": int(ys.size), "r_squared": r2,
                        "sd_prognosis": float(np.std(ps, ddof=1)),
                        **risk_interaction(ys, tr, ps, level), "model": model_text,
                    }
                )  # fmt: skip
                # effect-modelling view: calibration and discrimination out of fold
                ecv = cf.effect_cv[sel, i]
                within = met.within
                slope, slo, shi = met.slope, met.slope_low, met.slope_high
                cb, pairs = met.c_for_benefit, met.n_pairs
                g_cal = rank_groups(within, b.groups)
                for r in _group_rows(ys, tr, within, b.groups, level):
                    inn = g_cal == r["group"]
                    out["calibration"].append(
                        {
                            **at, "group": r["group"], "n_reference": r["n_reference"],
                            "n_treatment": r["n_treatment"],
                            "predicted": float(ecv[inn].mean()),
                            "predicted_low": float(ecv[inn].min()),
                            "predicted_high": float(ecv[inn].max()),
                            "observed": r["estimate"], "conf_low": r["conf_low"],
                            "conf_high": r["conf_high"],
                        }
                    )  # fmt: skip
                eff = cf.effect[sel, i]
                out["models"].append(
                    {
                        **at, "n": int(ys.size), "folds": b.folds, "seed": b.seed,
                        "rule": b.rule, "penalty": cf.penalty, "penalty_min": cf.penalty_min,
                        "df_interactions": cf.df_interactions,
                        "average_effect": float(eff.mean()),
                        "sd_predicted_effect": float(np.std(eff, ddof=1)),
                        "cv_mse_homogeneous": float(cv[-1]),
                        "cv_mse_selected": float(cv[j_sel]),
                        "mean_predicted_cv": float(ecv.mean()),
                        "calibration_slope": slope, "calibration_slope_low": slo,
                        "calibration_slope_high": shi, "c_for_benefit": cb, "n_pairs": pairs,
                        "heterogeneity": "none predicted" if np.isinf(cf.penalty) else "predicted",
                        "exploratory": True,
                    }
                )  # fmt: skip
                kk = len(specs)
                for j, spec in enumerate(specs):
                    gam = float(cf.path.gamma[i * kk + j, 0])
                    sd = float(cf.path.sd[j])
                    out["coefficients"].append(
                        {
                            **at, "modifier": spec.name, "sd": sd, "estimate_per_sd": gam,
                            "estimate": gam / sd,
                            "unpenalised_per_sd": float(cf.unpenalised.gamma[i * kk + j, 0]),
                        }
                    )  # fmt: skip
                individual.append(
                    pd.DataFrame(
                        {
                            "id": ids[sel], **at, "arm": arm_names[sel], "prognosis": ps,
                            "risk_group": rank_groups(ps, b.groups), "predicted_effect": eff,
                            "predicted_effect_cv": ecv, "exploratory": True,
                            "calibration_slope": slope, "calibration_slope_low": slo,
                            "calibration_slope_high": shi, "c_for_benefit": cb,
                        }
                    )
                )  # fmt: skip
    ind = (
        pd.concat(individual, ignore_index=True).reindex(columns=INDIVIDUAL_COLUMNS)
        if individual
        else pd.DataFrame(columns=INDIVIDUAL_COLUMNS)
    )
    return BenefitAnalysis(
        risk_groups=pd.DataFrame(out["risk_groups"], columns=RISK_GROUP_COLUMNS),
        risk_tests=pd.DataFrame(out["risk_tests"], columns=RISK_TEST_COLUMNS),
        models=pd.DataFrame(out["models"], columns=MODEL_COLUMNS),
        calibration=pd.DataFrame(out["calibration"], columns=CALIBRATION_COLUMNS),
        coefficients=pd.DataFrame(out["coefficients"], columns=COEFFICIENT_COLUMNS),
        individual=ind,
    )
