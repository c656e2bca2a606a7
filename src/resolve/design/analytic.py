"""Closed-form power for the two designs that validate simulation-based power.

Two analyses have an exact power formula under a normal linear model, and the
simulation engine of :mod:`resolve.design` must reproduce both:

* **ANCOVA**: a two-arm comparison of a follow-up mean adjusted for its
  baseline, ``y = b0 + delta T + beta x + e`` (:func:`ancova_power`,
  :func:`ancova_n`);
* **interaction**: a continuous modifier ``x`` by binary treatment ``T``
  interaction, ``y = b0 + b1 T + b2 x + gamma T x + e``
  (:func:`interaction_power`, :func:`interaction_n`).

In both, given the covariate values, the OLS t statistic of the tested
coefficient has an exact noncentral t distribution, with ``n - 3`` and
``n - 4`` degrees of freedom and noncentrality ``effect / SE(x)``. The
covariate is itself random in a trial (it is measured, not set), so the power
of a trial not yet run is the average of this conditional power over the
covariate's sampling distribution. With a normal covariate that distribution
is known and ``method="exact"`` (the default) integrates over it by
Gauss-Hermite quadrature on the normal-score scale; ``method="fixed"`` is the
textbook formula that sets the covariate's sample moments to their population
values (Borm et al. 2007 for ANCOVA; the usual interaction variance
``sd_e^2 / (n p (1 - p) sd_x^2)``) and is slightly optimistic in small trials.
The formulas and their derivation are in ``docs/design.md``.

:func:`ancova_replicate` and :func:`interaction_replicate` simulate one trial
exactly as the formulas assume and test it by OLS with classical standard
errors; they are module-level (picklable) so that any engine can run them.

References
----------
Borm GF, Fransen J, Lemmens WAJG. A simple sample size formula for analysis of
covariance in randomized clinical trials. J Clin Epidemiol 2007;60:1234-1238.

Shieh G. Power analysis and sample size planning in ANCOVA designs.
Psychometrika 2020;85:101-120 (exact power with random normal covariates).

Brookes ST, Whitely E, Egger M, Smith GD, Mulheran PA, Peters TJ. Subgroup
analyses in randomized trials: risks of subgroup-specific analyses; power and
sample size for the interaction test. J Clin Epidemiol 2004;57:229-236
(an interaction needs about four times the sample of a main effect of the
same size).

Examples
--------
>>> round(ancova_power(100, delta=0.8, sd=2.4, rho=0.4), 4)
0.7233
>>> ancova_n(0.8, delta=0.8, sd=2.4, rho=0.4)
121
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import NDArray
from scipy import stats

from resolve.errors import DataValidationError, ResolveError

__all__ = [
    "ancova_n",
    "ancova_power",
    "ancova_replicate",
    "interaction_n",
    "interaction_power",
    "interaction_replicate",
]

Method = Literal["exact", "fixed"]
FloatArray = NDArray[np.float64]

#: Gauss-Hermite nodes per covariate dimension; 32 give power to better than 1e-6.
_NODES = 32
#: Largest sample size per arm :func:`ancova_n` and :func:`interaction_n` search.
_MAX_N = 10_000_000


# -- argument checks -----------------------------------------------------------------


def _finite(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise DataValidationError(f"{name} must be a finite number, got {value!r}")
    return v


def _positive(name: str, value: float) -> float:
    v = _finite(name, value)
    if v <= 0:
        raise DataValidationError(f"{name} must be > 0, got {value!r}")
    return v


def _alpha(alpha: float) -> float:
    a = _finite("alpha", alpha)
    if not 0 < a < 1:
        raise DataValidationError(f"alpha must be in (0, 1), got {alpha!r}")
    return a


def _method(method: str) -> Method:
    if method == "exact":
        return "exact"
    if method == "fixed":
        return "fixed"
    raise DataValidationError(f"method must be 'exact' or 'fixed', got {method!r}")


def _target(power: float, alpha: float) -> float:
    p = _finite("power", power)
    if not alpha < p < 1:
        raise DataValidationError(f"power must be in (alpha={alpha:g}, 1), got {power!r}")
    return p


# -- numerical core --------------------------------------------------------------------


def _two_sided(ncp: FloatArray | float, df: float, alpha: float) -> FloatArray:
    """P(|T| > t_{1-alpha/2, df}) for T noncentral t with ``ncp``."""
    crit = stats.t.isf(alpha / 2, df)
    a = np.abs(np.asarray(ncp, dtype=float))
    near = np.asarray(stats.nct.sf(crit, df, a), dtype=float)
    # P(T < -crit) <= P(Z + a < 0) = Phi(-a): where scipy's series fails (NaN for
    # large a and few df) the far tail is below that bound and is set to 0.
    far = np.asarray(stats.nct.sf(crit, df, -a), dtype=float)
    far = np.where(np.isnan(far) & (stats.norm.sf(a) < 1e-12), 0.0, far)
    near = np.where(np.isnan(near) & (stats.norm.sf(a - crit) < 1e-12), 1.0, near)
    out = np.asarray(near + far, dtype=float)
    if not np.all(np.isfinite(out)):
        raise ResolveError(f"noncentral t power not computable (df={df:g})")
    return out


def _normal_scores() -> tuple[FloatArray, FloatArray]:
    z, w = hermegauss(_NODES)
    return z, w / math.sqrt(2 * math.pi)


def _quantiles(dist: stats.rv_continuous, z: FloatArray, *shape: float) -> FloatArray:
    """Quantiles of ``dist`` at the normal scores ``z``, accurate in both tails."""
    lower = dist.ppf(stats.norm.cdf(np.minimum(z, 0.0)), *shape)
    upper = dist.isf(stats.norm.sf(np.maximum(z, 0.0)), *shape)
    return np.asarray(np.where(z <= 0, lower, upper), dtype=float)


def _arms(n_per_arm: float, ratio: float, minimum: float) -> tuple[float, float]:
    n0 = _finite("n_per_arm", n_per_arm)
    r = _positive("ratio", ratio)
    n1 = r * n0
    if min(n0, n1) < minimum:
        raise DataValidationError(
            f"each arm needs at least {minimum:g} participants; got n_per_arm={n_per_arm!r}, "
            f"ratio={ratio!r} (arms {n0:g} and {n1:g})"
        )
    return n0, n1


def _smallest_n(power_at: Callable[[int], float], target: float, start: int) -> int:
    """Smallest integer n >= ``start`` with ``power_at(n) >= target`` (power rises with n)."""
    lo, hi = start - 1, start
    while power_at(hi) < target:
        lo, hi = hi, 2 * hi
        if hi > _MAX_N:
            raise DataValidationError(
                f"power {target:g} is not reached with {_MAX_N:,} participants per arm"
            )
    while hi - lo > 1:  # invariant: power(lo) < target <= power(hi), or lo = start - 1
        mid = (lo + hi) // 2
        if power_at(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


# -- ANCOVA ----------------------------------------------------------------------------


def ancova_power(
    n_per_arm: float,
    delta: float,
    sd: float,
    rho: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
    *,
    method: Method = "exact",
) -> float:
    """Power of the baseline-adjusted (ANCOVA) comparison of two means.

    The model is ``y = b0 + delta T + beta x + e`` with ``x`` the baseline
    value, ``(x, y)`` bivariate normal with common SD ``sd`` and correlation
    ``rho`` in each arm, so the residual variance is ``sigma_e^2 = sd^2 (1 -
    rho^2)`` (Borm et al. 2007). The test is the two-sided OLS t test of
    ``delta`` at level ``alpha`` on ``n - 3`` df, ``n = n0 + n1``.

    Given the baseline values the t statistic is noncentral t with
    noncentrality ``delta / (sigma_e sqrt(c (1 + u)))``, ``c = 1/n0 + 1/n1``
    and ``u = Z^2 / W``, where ``Z = (xbar1 - xbar0) / (sd sqrt(c))`` is the
    standardised chance imbalance of the baseline means and ``W = S_xx /
    sd^2`` the pooled within-arm sum of squares of ``x`` in units of its
    variance. With a normal baseline ``Z ~ N(0, 1)`` and ``W ~ chi2(n - 2)``
    independently, and ``method="exact"`` averages the conditional power over
    both; ``method="fixed"`` sets ``u = 0`` (baseline means balanced: the Borm
    formula with the noncentral t in place of the normal), which overstates
    power slightly because the chance imbalance inflates the variance by
    ``E[1 + u] = (n - 3)/(n - 4)`` on average.

    Parameters
    ----------
    n_per_arm
        Size of the reference arm ``n0``; the other arm has ``n1 = ratio *
        n_per_arm``. Non-integers are allowed (power curves).
    delta
        True adjusted difference in means (treated minus reference).
    sd
        SD of the outcome (and of the baseline) within an arm.
    rho
        Correlation between baseline and outcome, in (-1, 1).
    alpha
        Two-sided significance level.
    ratio
        Allocation ratio ``n1 / n0``.
    method
        ``"exact"`` (baseline random, the default) or ``"fixed"``.

    Returns
    -------
    float
        The probability of rejecting ``delta = 0``; ``alpha`` when ``delta`` is 0.

    Raises
    ------
    DataValidationError
        An argument is out of range (each arm needs at least 2 participants).

    Examples
    --------
    >>> round(ancova_power(50, delta=1.0, sd=2.0, rho=0.5), 4)
    0.8115
    >>> round(ancova_power(50, delta=1.0, sd=2.0, rho=0.5, method="fixed"), 4)
    0.8154
    >>> round(ancova_power(50, delta=0.0, sd=2.0, rho=0.5), 4)
    0.05
    """
    n0, n1 = _arms(n_per_arm, ratio, 2)
    d = _finite("delta", delta)
    sigma_e = _positive("sd", sd) * math.sqrt(1 - _correlation(rho) ** 2)
    a = _alpha(alpha)
    m = _method(method)
    n = n0 + n1
    ncp0 = d / (sigma_e * math.sqrt(1 / n0 + 1 / n1))
    if m == "fixed":
        return float(_two_sided(ncp0, n - 3, a))
    z, w = _normal_scores()  # z: the standardised baseline imbalance Z
    chi2 = _quantiles(stats.chi2, z, n - 2)  # W = S_xx / sd^2
    ncp = ncp0 / np.sqrt(1 + z[:, None] ** 2 / chi2[None, :])
    return float(w @ _two_sided(ncp, n - 3, a) @ w)


def _correlation(rho: float) -> float:
    r = _finite("rho", rho)
    if not -1 < r < 1:
        raise DataValidationError(f"rho must be in (-1, 1), got {rho!r}")
    return r


def ancova_n(
    power: float,
    delta: float,
    sd: float,
    rho: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
    *,
    method: Method = "exact",
) -> int:
    """Smallest reference-arm size giving at least ``power`` for the ANCOVA test.

    The inverse of :func:`ancova_power` over integer ``n_per_arm`` (the other
    arm has ``ratio * n_per_arm``; round it up when ``ratio`` is not 1).

    Parameters
    ----------
    power
        Target power, in (alpha, 1).
    delta, sd, rho, alpha, ratio, method
        As in :func:`ancova_power`; ``delta`` must not be 0.

    Returns
    -------
    int
        ``n_per_arm``.

    Examples
    --------
    >>> ancova_n(0.9, delta=1.0, sd=2.0, rho=0.5)
    65
    >>> ancova_power(65, 1.0, 2.0, 0.5) >= 0.9 > ancova_power(64, 1.0, 2.0, 0.5)
    True
    """
    a = _alpha(alpha)
    target = _target(power, a)
    if _finite("delta", delta) == 0:
        raise DataValidationError("delta must not be 0: power stays at alpha")
    start = max(2, math.ceil(2 / _positive("ratio", ratio)))
    return _smallest_n(
        lambda k: ancova_power(k, delta, sd, rho, a, ratio, method=method), target, start
    )


# -- treatment x continuous modifier -----------------------------------------------------


def interaction_power(
    n_per_arm: float,
    gamma: float,
    sd_x: float,
    sd_e: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
    *,
    method: Method = "exact",
) -> float:
    """Power of the test of a continuous-modifier by treatment interaction.

    The model is ``y = b0 + b1 T + b2 x + gamma T x + e`` with ``x`` normal
    with SD ``sd_x`` in each arm and ``e`` normal with SD ``sd_e``; the test is
    the two-sided OLS t test of ``gamma`` on ``n - 4`` df. The model fits one
    line per arm, so ``gamma`` is the difference of the two slopes and, given
    ``x``, ``Var(gamma_hat) = sd_e^2 (1/S_0 + 1/S_1)`` with ``S_j`` the sum of
    squares of ``x`` about its mean in arm ``j``, distributed as ``sd_x^2``
    times chi-squared on ``n_j - 1`` df. ``method="exact"`` averages the
    noncentral-t power over both; ``method="fixed"`` sets ``S_j = n_j
    sd_x^2``, the usual ``sd_e^2 / (n p (1 - p) sd_x^2)`` with ``p = n1/n``,
    which overstates power a little for small arms
    (``E[1/S_j] = 1/((n_j - 3) sd_x^2)``, not ``1/(n_j sd_x^2)``).

    Parameters
    ----------
    n_per_arm
        Size of the reference arm ``n0``; the other arm has ``ratio * n_per_arm``.
    gamma
        True interaction: difference between arms in the outcome's slope on ``x``.
    sd_x
        SD of the modifier within an arm.
    sd_e
        Residual SD of the outcome given arm and modifier.
    alpha
        Two-sided significance level.
    ratio
        Allocation ratio ``n1 / n0``.
    method
        ``"exact"`` (modifier random, the default) or ``"fixed"``.

    Returns
    -------
    float
        The probability of rejecting ``gamma = 0``.

    Raises
    ------
    DataValidationError
        An argument is out of range (each arm needs at least 3 participants).

    Examples
    --------
    A FreBAQ-like modifier (SD 4.05 points), residual SD 2.3, +0.18 per
    point, 138 per arm (a RESOLVE-sized trial):

    >>> round(interaction_power(138, gamma=0.18, sd_x=4.05, sd_e=2.3), 4)
    0.7383
    >>> round(interaction_power(138, 0.18, 4.05, 2.3, method="fixed"), 4)
    0.7465
    """
    n0, n1 = _arms(n_per_arm, ratio, 3)
    g = _finite("gamma", gamma)
    sx = _positive("sd_x", sd_x)
    se = _positive("sd_e", sd_e)
    a = _alpha(alpha)
    m = _method(method)
    df = n0 + n1 - 4
    scale = g * sx / se
    if m == "fixed":
        return float(_two_sided(scale / math.sqrt(1 / n0 + 1 / n1), df, a))
    z, w = _normal_scores()
    c0 = _quantiles(stats.chi2, z, n0 - 1)
    c1 = _quantiles(stats.chi2, z, n1 - 1)
    ncp = scale / np.sqrt(1 / c0[:, None] + 1 / c1[None, :])
    return float(w @ _two_sided(ncp, df, a) @ w)


def interaction_n(
    power: float,
    gamma: float,
    sd_x: float,
    sd_e: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
    *,
    method: Method = "exact",
) -> int:
    """Smallest reference-arm size giving at least ``power`` for the interaction test.

    The inverse of :func:`interaction_power` over integer ``n_per_arm``.

    Parameters
    ----------
    power
        Target power, in (alpha, 1).
    gamma, sd_x, sd_e, alpha, ratio, method
        As in :func:`interaction_power`; ``gamma`` must not be 0.

    Returns
    -------
    int
        ``n_per_arm``.

    Examples
    --------
    >>> interaction_n(0.8, gamma=0.18, sd_x=4.05, sd_e=2.3)
    161
    """
    a = _alpha(alpha)
    target = _target(power, a)
    if _finite("gamma", gamma) == 0:
        raise DataValidationError("gamma must not be 0: power stays at alpha")
    start = max(3, math.ceil(3 / _positive("ratio", ratio)))
    return _smallest_n(
        lambda k: interaction_power(k, gamma, sd_x, sd_e, a, ratio, method=method),
        target,
        start,
    )


# -- simulation replicates ---------------------------------------------------------------


def _generator(seed: np.random.Generator | np.random.SeedSequence) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    raise DataValidationError(
        f"seed must be a numpy Generator or SeedSequence, got {type(seed).__name__}"
    )


def _integer_arms(n_per_arm: int, ratio: float, minimum: int) -> tuple[int, int]:
    n0, n1 = _arms(n_per_arm, ratio, minimum)
    if n0 != int(n0) or abs(n1 - round(n1)) > 1e-9:
        raise DataValidationError(
            f"a simulated trial needs whole arms; got n_per_arm={n_per_arm!r}, "
            f"ratio={ratio!r} (arms {n0:g} and {n1:g})"
        )
    return int(n0), round(n1)


def _ols_t(X: FloatArray, y: FloatArray, column: int, alpha: float) -> dict[str, float]:
    coef, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    n, p = X.shape
    if rank < p:  # not reached with continuous covariates; kept for safety
        raise DataValidationError(f"design matrix of rank {rank} < {p} columns")
    resid = y - X @ coef
    sigma2 = float(resid @ resid) / (n - p)
    xtx_inv = np.linalg.inv(X.T @ X)
    se = math.sqrt(sigma2 * float(xtx_inv[column, column]))
    estimate = float(coef[column])
    crit = float(stats.t.isf(alpha / 2, n - p))
    return {"reject": int(abs(estimate / se) > crit), "estimate": estimate, "se": se}


def ancova_replicate(
    seed: np.random.Generator | np.random.SeedSequence,
    n_per_arm: int,
    delta: float,
    sd: float,
    rho: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
) -> dict[str, float]:
    """Simulate one trial of the ANCOVA model and test ``delta`` by OLS.

    Baseline ``x ~ N(0, sd^2)``, outcome ``y = rho x + delta T + e`` with
    ``e ~ N(0, sd^2 (1 - rho^2))`` (so ``y`` has SD ``sd`` and correlation
    ``rho`` with ``x`` in each arm); ``n_per_arm`` reference and ``ratio *
    n_per_arm`` treated participants. Fits ``y ~ 1 + T + x`` by least squares
    with the classical standard error and a t test on ``n - 3`` df.

    Parameters
    ----------
    seed
        A :class:`numpy.random.Generator`, or a :class:`numpy.random.SeedSequence`
        (one per replicate, e.g. from ``SeedSequence(seed).spawn(reps)``).
    n_per_arm, delta, sd, rho, alpha, ratio
        As in :func:`ancova_power`; both arm sizes must be whole numbers.

    Returns
    -------
    dict
        ``reject`` (1 if two-sided P < alpha, else 0), ``estimate`` and ``se`` of ``delta``.

    Examples
    --------
    >>> out = ancova_replicate(np.random.SeedSequence(1), 50, 1.0, 2.0, 0.5)
    >>> sorted(out), out["reject"] in (0, 1), out["se"] > 0
    (['estimate', 'reject', 'se'], True, True)
    """
    n0, n1 = _integer_arms(n_per_arm, ratio, 2)
    s = _positive("sd", sd)
    r = _correlation(rho)
    d = _finite("delta", delta)
    a = _alpha(alpha)
    rng = _generator(seed)
    treated = np.repeat([0.0, 1.0], [n0, n1])
    x = rng.normal(0.0, s, n0 + n1)
    y = r * x + d * treated + rng.normal(0.0, s * math.sqrt(1 - r * r), n0 + n1)
    X = np.column_stack([np.ones(n0 + n1), treated, x])
    return _ols_t(X, y, 1, a)


def interaction_replicate(
    seed: np.random.Generator | np.random.SeedSequence,
    n_per_arm: int,
    gamma: float,
    sd_x: float,
    sd_e: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
) -> dict[str, float]:
    """Simulate one trial of the interaction model and test ``gamma`` by OLS.

    Modifier ``x ~ N(0, sd_x^2)``, outcome ``y = 0.5 T + 0.3 x + gamma T x + e``
    with ``e ~ N(0, sd_e^2)`` (the main effects do not affect the test of
    ``gamma``); fits ``y ~ 1 + T + x + T:x`` by least squares with the
    classical standard error and a t test on ``n - 4`` df.

    Parameters
    ----------
    seed
        A :class:`numpy.random.Generator` or :class:`numpy.random.SeedSequence`.
    n_per_arm, gamma, sd_x, sd_e, alpha, ratio
        As in :func:`interaction_power`; both arm sizes must be whole numbers.

    Returns
    -------
    dict
        ``reject`` (0/1), ``estimate`` and ``se`` of ``gamma``.

    Examples
    --------
    >>> out = interaction_replicate(np.random.default_rng(2), 138, 0.18, 4.05, 2.3)
    >>> abs(out["estimate"] - 0.18) < 5 * out["se"]
    True
    """
    n0, n1 = _integer_arms(n_per_arm, ratio, 3)
    g = _finite("gamma", gamma)
    sx = _positive("sd_x", sd_x)
    se = _positive("sd_e", sd_e)
    a = _alpha(alpha)
    rng = _generator(seed)
    n = n0 + n1
    treated = np.repeat([0.0, 1.0], [n0, n1])
    x = rng.normal(0.0, sx, n)
    y = 0.5 * treated + 0.3 * x + g * treated * x + rng.normal(0.0, se, n)
    X = np.column_stack([np.ones(n), treated, x, treated * x])
    return _ols_t(X, y, 3, a)
