"""Discrete marginal distributions and their latent-normal thresholds.

Every generated score is an integer drawn by thresholding a standard-normal
latent variable (a Gaussian copula): ``value = support[k]`` where ``k`` counts
the thresholds below the latent draw. Two families are used, each solved so
that its mean and SD equal the scenario's targets exactly:

* beta-binomial on ``low..high`` (RMDQ, questionnaire totals): moment matching
  gives ``p = (mean - low) / n`` and ``theta = a + b`` in closed form;
* rounded normal on ``low..high`` (pain NRS, age): ``round(m + s Z)``,
  clipped (pain: values pile at 0 and 10) or truncated (age: 18-70), and for
  baseline pain conditional on the eligibility floor; ``m`` and ``s`` are
  found numerically.

Examples
--------
>>> from resolve.simulate.marginals import beta_binomial, rounded_normal
>>> d = beta_binomial(0, 24, mean=3.6, sd=4.6, key="rmdq")
>>> round(d.mean, 6), round(d.sd, 6), d.support[:3].tolist()
(3.6, 4.6, [0, 1, 2])
>>> p = rounded_normal(0, 10, mean=5.6, sd=1.9, floor=3, key="pain")
>>> round(p.mean, 6), round(p.sd, 6), float(p.pmf[:3].sum())
(5.6, 1.9, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special, stats

from resolve.errors import DataValidationError

__all__ = ["Marginal", "beta_binomial", "binary", "rounded_normal"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Marginal:
    """A distribution on integer ``support`` with its latent-normal thresholds."""

    support: IntArray
    pmf: FloatArray

    @property
    def mean(self) -> float:
        return float(self.support @ self.pmf)

    @property
    def sd(self) -> float:
        return float(np.sqrt(((self.support - self.mean) ** 2) @ self.pmf))

    @property
    def thresholds(self) -> FloatArray:
        """Latent cut points ``Phi^-1(P(X <= support[k]))`` (length ``len(support) - 1``)."""
        cdf = np.clip(np.cumsum(self.pmf)[:-1], 0.0, 1.0)
        return np.asarray(special.ndtri(cdf), dtype=np.float64)

    def transform(self, z: FloatArray) -> IntArray:
        """Map standard-normal draws to values with this distribution."""
        return self.support[np.searchsorted(self.thresholds, z, side="left")]


def beta_binomial(low: int, high: int, *, mean: float, sd: float, key: str) -> Marginal:
    """Beta-binomial on ``low..high`` with the given mean and SD.

    With ``n = high - low`` and ``p = (mean - low) / n`` the variance is
    ``n p (1 - p) (theta + n) / (theta + 1)``, so ``theta`` is solved in closed
    form. Requires ``n p (1 - p) < sd^2 < n^2 p (1 - p)`` (between the binomial
    and the two-point extremes); otherwise ``DataValidationError`` names ``key``.
    """
    n = high - low
    p = (mean - low) / n
    binom_var, max_var = n * p * (1 - p), n * n * p * (1 - p)
    var = sd * sd
    if not 0 < p < 1 or not binom_var < var < max_var:
        raise DataValidationError(
            f"{key}: mean {mean:g} with SD {sd:g} is not attainable by a beta-binomial on "
            f"{low}-{high}; the SD must lie in ({np.sqrt(max(binom_var, 0)):.3g}, "
            f"{np.sqrt(max(max_var, 0)):.3g})"
        )
    theta = (max_var - var) / (var - binom_var)
    k = np.arange(n + 1)
    pmf = stats.betabinom.pmf(k, n, p * theta, (1 - p) * theta)
    return Marginal(k + low, np.asarray(pmf / pmf.sum(), dtype=np.float64))


def _rounded_pmf(
    m: float, s: float, low: int, high: int, clip: bool, floor: float | None
) -> FloatArray:
    k = np.arange(low, high + 1, dtype=np.float64)
    upper = stats.norm.cdf((k + 0.5 - m) / s)
    lower = stats.norm.cdf((k - 0.5 - m) / s)
    if clip:
        upper[-1], lower[0] = 1.0, 0.0
    pmf = np.asarray(upper - lower, dtype=np.float64)
    if floor is not None:
        pmf[k < floor] = 0.0
    total = pmf.sum()
    return pmf / total if total > 0 else pmf


def rounded_normal(
    low: int,
    high: int,
    *,
    mean: float,
    sd: float,
    key: str,
    clip: bool = True,
    floor: float | None = None,
) -> Marginal:
    """``round(m + s Z)`` on ``low..high`` with ``m``, ``s`` solved for the target mean and SD.

    ``clip=True`` piles the tails on ``low`` and ``high``; ``clip=False``
    truncates (renormalises) instead. ``floor`` conditions on values at or
    above it (an eligibility criterion). Raises ``DataValidationError`` naming
    ``key`` when no ``(m, s)`` reproduces the targets.
    """
    support = np.arange(low, high + 1, dtype=np.int64)

    def moments(theta: FloatArray) -> FloatArray:
        pmf = _rounded_pmf(float(theta[0]), float(np.exp(theta[1])), low, high, clip, floor)
        mu = support @ pmf
        return np.array([mu - mean, np.sqrt(((support - mu) ** 2) @ pmf) - sd])

    best = None
    for start_sd in (sd, 1.5 * sd, 0.7 * sd, 3 * sd):
        fit = optimize.least_squares(
            moments, x0=np.array([mean, np.log(start_sd)]), xtol=1e-14, ftol=1e-14, gtol=1e-14
        )
        if best is None or fit.cost < best.cost:
            best = fit
        if fit.cost < 1e-20:
            break
    assert best is not None
    if np.max(np.abs(best.fun)) > 1e-7:
        raise DataValidationError(
            f"{key}: mean {mean:g} with SD {sd:g} is not attainable by a rounded normal on "
            f"{low}-{high}" + (f" restricted to values >= {floor:g}" if floor is not None else "")
        )
    m, s = float(best.x[0]), float(np.exp(best.x[1]))
    return Marginal(support, _rounded_pmf(m, s, low, high, clip, floor))


def binary(prevalence: float) -> Marginal:
    """0/1 with ``P(1) = prevalence``."""
    return Marginal(np.array([0, 1], dtype=np.int64), np.array([1 - prevalence, prevalence]))
