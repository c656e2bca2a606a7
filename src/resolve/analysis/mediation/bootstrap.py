"""Nonparametric bootstrap of participants: resamples, percentile and BCa intervals.

One index matrix (``bootstrap_indices``) resamples *participants*; every
mediator, outcome and effect of an analysis is re-estimated on the same rows of
it, so joint statements (differences between mediators, the joint effect) are
coherent. A resample is handed to the estimators as a row of frequency weights
(:func:`resample_weights`: how many times each participant was drawn), and the
jackknife as the rows of :func:`jackknife_weights` (each participant left out
once), so the vectorised estimators of
:func:`resolve.analysis.mediation.regression.point_estimates` serve both.

Intervals (Efron & Tibshirani 1993, ch. 13-14; DiCiccio & Efron 1996), with
``α = 1 − conf_level`` and ``θ̂*_1..θ̂*_B`` the bootstrap draws:

* percentile: the ``α/2`` and ``1 − α/2`` sample quantiles of the draws (linear
  interpolation between order statistics, R's ``quantile(type = 7)``);
* BCa: the quantiles at ``α_j = Φ(z0 + (z0 + z_j) / (1 − â (z0 + z_j)))`` for
  ``z_j = Φ⁻¹(α/2), Φ⁻¹(1 − α/2)``, with bias correction
  ``z0 = Φ⁻¹((#{θ̂* < θ̂} + ½ #{θ̂* = θ̂}) / B)`` (draws equal to the estimate
  count one half, so a discrete statistic is not biased one way) and acceleration
  ``â = Σ (θ̄₍.₎ − θ̂₍ᵢ₎)³ / (6 [Σ (θ̄₍.₎ − θ̂₍ᵢ₎)²]^{3/2})`` from the jackknife values
  ``θ̂₍ᵢ₎`` (``â = 0`` when they are all equal).

Examples
--------
>>> import numpy as np
>>> idx = bootstrap_indices(5, boot=3, seed=1)
>>> idx.shape, bool(np.all((idx >= 0) & (idx < 5)))
((3, 5), True)
>>> resample_weights(idx, 5).sum(axis=1).tolist()
[5.0, 5.0, 5.0]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

from resolve._validation import Interval
from resolve.errors import DataValidationError

__all__ = [
    "MIN_BCA_DRAWS",
    "bca_ci",
    "bootstrap_indices",
    "jackknife_weights",
    "percentile_ci",
    "percentile_p_value",
    "resample_weights",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: BCa intervals need enough draws for their tail quantiles; fewer is refused.
MIN_BCA_DRAWS = 100

_CONF = Interval("conf_level", 0.0, 1.0, low_inclusive=False, high_inclusive=False)


def _positive_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataValidationError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def bootstrap_indices(n: int, boot: int, seed: int) -> IntArray:
    """Draw ``boot`` resamples of ``n`` participants with replacement.

    Parameters
    ----------
    n : int >= 2
        Number of participants (rows of the wide data).
    boot : int >= 1
        Number of resamples.
    seed : int >= 0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same matrix.

    Returns
    -------
    ndarray of int, shape (boot, n)
        Row ``b`` lists the participants (0-based positions) drawn in resample ``b``.

    Examples
    --------
    >>> bool((bootstrap_indices(10, 4, seed=7) == bootstrap_indices(10, 4, seed=7)).all())
    True
    """
    n = _positive_int("n", n, 2)
    boot = _positive_int("boot", boot, 1)
    seed = _positive_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(boot, n), dtype=np.int64)


def resample_weights(indices: npt.ArrayLike, n: int) -> FloatArray:
    """Frequency weights of resamples: how often each participant was drawn.

    Parameters
    ----------
    indices : array of int, shape (boot, m)
        Rows of participant positions, e.g. from :func:`bootstrap_indices`.
    n : int
        Number of participants.

    Returns
    -------
    ndarray, shape (boot, n)
        ``w[b, i]`` = number of times participant ``i`` is in resample ``b``. To
        restrict an analysis to its complete cases keep the columns of those
        participants (``w[:, rows]``): the other participants then simply do not
        contribute to that model.

    Examples
    --------
    >>> resample_weights(np.array([[0, 0, 2]]), 3).tolist()
    [[2.0, 0.0, 1.0]]
    """
    idx = np.asarray(indices)
    n = _positive_int("n", n, 1)
    if idx.ndim != 2 or not np.issubdtype(idx.dtype, np.integer):
        raise DataValidationError(f"indices must be a 2-D integer array; got shape {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise DataValidationError(f"indices must lie in [0, {n - 1}]")
    boot = idx.shape[0]
    flat = (idx + n * np.arange(boot)[:, None]).ravel()
    return np.bincount(flat, minlength=boot * n).reshape(boot, n).astype(np.float64)


def jackknife_weights(n: int) -> FloatArray:
    """Leave-one-out weights: row ``i`` gives every participant weight 1 except ``i`` (0).

    Examples
    --------
    >>> jackknife_weights(3).tolist()
    [[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    """
    n = _positive_int("n", n, 2)
    return np.ones((n, n)) - np.eye(n)


def _finite_draws(draws: npt.ArrayLike, name: str = "draws") -> FloatArray:
    d = np.asarray(draws, dtype=np.float64).ravel()
    if d.size < 2:
        raise DataValidationError(f"{name} must hold at least 2 values; got {d.size}")
    bad = ~np.isfinite(d)
    if bad.any():
        raise DataValidationError(
            f"{name} has {int(bad.sum())} non-finite value(s) (first at position "
            f"{int(np.flatnonzero(bad)[0])}); drop failed resamples first and report them"
        )
    return d


def percentile_ci(draws: npt.ArrayLike, conf_level: float) -> tuple[float, float]:
    """Percentile bootstrap interval: the ``α/2`` and ``1 − α/2`` quantiles of the draws.

    Parameters
    ----------
    draws : array of float
        Bootstrap estimates (finite; drop failed resamples first).
    conf_level : float in (0, 1)
        Confidence level, e.g. 0.95.

    Returns
    -------
    (float, float)
        Lower and upper limits.

    Examples
    --------
    >>> low, high = percentile_ci(np.arange(101.0), 0.9)
    >>> round(low, 9), round(high, 9)
    (5.0, 95.0)
    """
    level = _CONF(conf_level)
    d = _finite_draws(draws)
    alpha = 1.0 - level
    low, high = np.quantile(d, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def percentile_p_value(draws: npt.ArrayLike, null: float = 0.0) -> float:
    """Two-sided bootstrap p-value: twice the smaller share of draws on either side of ``null``.

    ``p = min(1, 2 min(#{θ̂* ≤ null}, #{θ̂* ≥ null}) / B)`` — the smallest ``α`` at
    which the percentile interval excludes ``null`` (up to interpolation).

    Examples
    --------
    >>> percentile_p_value(np.arange(1.0, 101.0))
    0.0
    >>> percentile_p_value(np.arange(-49.0, 51.0))
    1.0
    """
    d = _finite_draws(draws)
    below = float(np.mean(d <= null))
    above = float(np.mean(d >= null))
    return min(1.0, 2.0 * min(below, above))


def _bias_correction(d: FloatArray, estimate: float) -> float:
    """``z0 = Φ⁻¹(share of draws below the estimate, ties counted one half)``."""
    share = (np.sum(d < estimate) + 0.5 * np.sum(d == estimate)) / d.size
    if share <= 0.0 or share >= 1.0:
        raise DataValidationError(
            f"BCa interval undefined: the estimate {estimate:g} lies outside the range of the "
            f"{d.size} bootstrap draws ({d.min():g} to {d.max():g}); use the percentile interval"
        )
    return float(stats.norm.ppf(share))


def _acceleration(jackknife: FloatArray) -> float:
    """Jackknife acceleration ``Σu³ / (6 (Σu²)^{3/2})`` with ``u = mean − θ̂₍ᵢ₎``."""
    u = jackknife.mean() - jackknife
    ss = float(np.sum(u**2))
    if ss == 0.0:
        return 0.0
    return float(np.sum(u**3) / (6.0 * ss**1.5))


def bca_ci(
    draws: npt.ArrayLike, estimate: float, jackknife: npt.ArrayLike, conf_level: float
) -> tuple[float, float]:
    """Bias-corrected and accelerated (BCa) bootstrap interval (Efron 1987).

    Parameters
    ----------
    draws : array of float, at least :data:`MIN_BCA_DRAWS` values
        Bootstrap estimates (finite; drop failed resamples first).
    estimate : float
        The estimate on the original data.
    jackknife : array of float
        Leave-one-out estimates (one per participant), for the acceleration.
    conf_level : float in (0, 1)
        Confidence level.

    Returns
    -------
    (float, float)
        Lower and upper limits: the draws' quantiles at the adjusted levels
        ``Φ(z0 + (z0 + z) / (1 − â (z0 + z)))`` (see the module notes).

    Raises
    ------
    DataValidationError
        Fewer than :data:`MIN_BCA_DRAWS` draws, non-finite values, an estimate
        outside the range of the draws (``z0`` infinite), or an acceleration so
        large that an adjusted level is undefined.

    Examples
    --------
    With symmetric draws centred on the estimate and no skewness in the
    jackknife (``z0 = 0``, ``â = 0``) BCa is the percentile interval:

    >>> d = np.linspace(-2.0, 2.0, 201)
    >>> bca_ci(d, 0.0, np.array([-1.0, 0.0, 1.0]), 0.9) == percentile_ci(d, 0.9)
    True
    """
    level = _CONF(conf_level)
    d = _finite_draws(draws)
    if d.size < MIN_BCA_DRAWS:
        raise DataValidationError(
            f"boot must be at least {MIN_BCA_DRAWS} for BCa intervals; got {d.size} draws"
        )
    est = float(estimate)
    if not np.isfinite(est):
        raise DataValidationError(f"estimate must be finite for a BCa interval; got {estimate!r}")
    jack = _finite_draws(jackknife, "jackknife")
    z0 = _bias_correction(d, est)
    acc = _acceleration(jack)
    alpha = 1.0 - level
    levels = []
    for tail in (alpha / 2.0, 1.0 - alpha / 2.0):
        z = float(stats.norm.ppf(tail))
        denom = 1.0 - acc * (z0 + z)
        if denom <= 0.0:
            raise DataValidationError(
                f"BCa interval undefined: acceleration {acc:.3g} too large for conf_level "
                f"{level:g}; use the percentile interval"
            )
        levels.append(float(stats.norm.cdf(z0 + (z0 + z) / denom)))
    limits = np.quantile(d, np.asarray(levels))
    return float(limits[0]), float(limits[1])
