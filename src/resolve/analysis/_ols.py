"""Ordinary least squares with exact t and F inference (numpy/scipy only).

A tiny engine for the per-visit regressions of the effect-modifier, individual
benefit and multiple-imputation analyses: one design matrix, one QR
factorisation, then linear contrasts ``c'β`` (t test) and joint Wald tests
``Lβ = 0`` (F test). For OLS the Wald F equals the nested-model F
``((RSS_0 − RSS_1)/q) / (RSS_1/(n − p))`` exactly, which the tests check.

``ols(..., vcov="hc3")`` replaces the model-based covariance by the HC3
sandwich of MacKinnon & White (1985),
``(X'X)⁻¹ X' diag(e_i² / (1 − h_ii)²) X (X'X)⁻¹``, robust to
heteroscedasticity; contrasts and Wald tests then use it with the same t and F
reference distributions on the residual df, as R
``lmtest::coeftest(fit, vcov = sandwich::vcovHC(fit, type = "HC3"))`` and
``lmtest::waldtest(..., vcov = ..., test = "F")``.

Examples
--------
>>> import numpy as np
>>> x = np.arange(6.0)
>>> fit = ols(np.column_stack([np.ones(6), x]), 1.0 + 2.0 * x + np.array([0, 1, -1, 0, 1, -1]) / 10,
...           ("(Intercept)", "x"))
>>> round(float(fit.coef[1]), 4), fit.df_resid
(1.9886, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import linalg, stats

from resolve.errors import DataValidationError

__all__ = ["Contrast", "OLSFit", "VcovType", "contrast", "contrasts", "ols", "wald_f"]

#: Covariance of the coefficients: model-based (``"ols"``) or HC3 sandwich (``"hc3"``).
VcovType = Literal["ols", "hc3"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OLSFit:
    """A fitted linear model ``y = Xβ + ε``, ε ~ N(0, σ²I)."""

    names: tuple[str, ...]
    coef: FloatArray
    cov: FloatArray
    """Estimated covariance of ``coef``: σ̂² (X'X)⁻¹, or the HC3 sandwich when ``vcov == "hc3"``."""
    df_resid: int
    rss: float
    n: int
    vcov: VcovType = "ols"

    @property
    def sigma2(self) -> float:
        return self.rss / self.df_resid

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass(frozen=True)
class Contrast:
    """A linear contrast ``c'β`` with its t-based inference."""

    estimate: float
    std_error: float
    df: int
    statistic: float
    p_value: float
    conf_low: float
    conf_high: float


def ols(X: FloatArray, y: FloatArray, names: Sequence[str], *, vcov: VcovType = "ols") -> OLSFit:
    """Fit OLS by a QR factorisation; refuse a rank-deficient design.

    ``vcov="hc3"`` stores the HC3 sandwich covariance (MacKinnon & White 1985,
    R ``sandwich::vcovHC(fit, type = "HC3")``) instead of σ̂² (X'X)⁻¹. With
    ``X = QR``: ``(X'X)⁻¹X' = R⁻¹Q'`` and ``h_ii = Σ_j Q_ij²``, so the
    sandwich is ``R⁻¹ Q' diag(e_i²/(1 − h_ii)²) Q R⁻ᵀ``. An observation with
    leverage 1 gives a non-finite covariance (as in R).

    Raises
    ------
    DataValidationError
        If ``X`` has fewer rows than columns plus one, or is rank deficient
        (the message names the aliased columns).
    """
    n, p = X.shape
    if n <= p:
        raise DataValidationError(
            f"only {n} complete observations for a model with {p} coefficients"
        )
    Q, R = linalg.qr(X, mode="economic")
    diag = np.abs(np.diag(R))
    tol = diag.max() * max(n, p) * np.finfo(float).eps * 1e3
    if (diag <= tol).any():
        bad = [names[int(j)] for j in np.flatnonzero(diag <= tol)]
        raise DataValidationError(f"the model is rank deficient; aliased term(s): {', '.join(bad)}")
    coef = linalg.solve_triangular(R, Q.T @ y)
    resid = y - X @ coef
    rss = float(resid @ resid)
    df = n - p
    Rinv = linalg.solve_triangular(R, np.eye(p))
    if vcov == "hc3":
        h = np.einsum("ij,ij->i", Q, Q)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = resid / (1.0 - h)
        meat = Q.T @ (Q * (u * u)[:, None])
        cov = Rinv @ meat @ Rinv.T
        cov = (cov + cov.T) / 2
    elif vcov == "ols":
        cov = (Rinv @ Rinv.T) * (rss / df)
    else:
        raise ValueError(f"vcov must be 'ols' or 'hc3'; got {vcov!r}")
    return OLSFit(tuple(names), coef, cov, df, rss, n, vcov)


def contrast(fit: OLSFit, c: FloatArray, *, conf_level: float = 0.95) -> Contrast:
    """t test and confidence interval of ``c'β`` on the residual df."""
    est = float(c @ fit.coef)
    se = float(np.sqrt(c @ fit.cov @ c))
    t = est / se if se > 0 else np.nan
    p = float(2 * stats.t.sf(abs(t), fit.df_resid))
    q = float(stats.t.ppf(0.5 + conf_level / 2, fit.df_resid))
    return Contrast(est, se, fit.df_resid, float(t), p, est - q * se, est + q * se)


def contrasts(
    fit: OLSFit, C: FloatArray, *, conf_level: float = 0.95
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Vectorised ``c'β`` for each row of ``C``: estimate, SE, lower and upper limits."""
    est = C @ fit.coef
    se = np.sqrt(np.einsum("ij,jk,ik->i", C, fit.cov, C))
    q = float(stats.t.ppf(0.5 + conf_level / 2, fit.df_resid))
    return est, se, est - q * se, est + q * se


def wald_f(fit: OLSFit, L: FloatArray) -> tuple[float, int, int, float]:
    """Joint F test of ``Lβ = 0``: statistic, numerator df, denominator df, P."""
    Lb = L @ fit.coef
    M = L @ fit.cov @ L.T
    q = L.shape[0]
    f = float(Lb @ np.linalg.solve(M, Lb)) / q
    return f, q, fit.df_resid, float(stats.f.sf(f, q, fit.df_resid))
