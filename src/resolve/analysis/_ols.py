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

``ols(..., vcov="hc2")`` uses the HC2 sandwich (``e_i² / (1 − h_ii)``, unbiased
under homoscedasticity) and gives every single contrast the Bell & McCaffrey
(2002) degrees of freedom: under the working model ε ~ N(0, σ²I) the variance
estimate ``V̂ = Σ a_i² e_i²`` (``a_i = c'(X'X)⁻¹x_i / √(1 − h_ii)``) is a
weighted sum of χ²₁ variables, and ``ν = (tr B)² / tr(B²)`` with
``B = D^½ (I − H) D^½``, ``D = diag(a_i²)`` (Satterthwaite's two-moment
approximation). This is R ``clubSandwich::coef_test(fit, vcov = "CR2",
cluster = seq_len(n), test = "Satterthwaite")`` (each observation its own
cluster, where CR2 equals HC2). Joint Wald tests use the HC2 covariance with
the residual df, as for HC3.

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

__all__ = [
    "VCOV_TYPES",
    "Contrast",
    "OLSFit",
    "VcovType",
    "bell_mccaffrey_df",
    "contrast",
    "contrasts",
    "ols",
    "wald_f",
]

#: Covariance of the coefficients: model-based (``"ols"``), HC3 sandwich (``"hc3"``) or
#: HC2 sandwich with Bell-McCaffrey degrees of freedom (``"hc2"``).
VcovType = Literal["ols", "hc3", "hc2"]
VCOV_TYPES: tuple[VcovType, ...] = ("ols", "hc3", "hc2")

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
    q: FloatArray | None = None
    """With ``vcov == "hc2"``: the Q factor of X (for the Bell-McCaffrey df)."""
    r_inv: FloatArray | None = None
    """With ``vcov == "hc2"``: R⁻¹ of X = QR."""

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
    df: float
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
    if vcov in ("hc3", "hc2"):
        h = np.einsum("ij,ij->i", Q, Q)
        with np.errstate(divide="ignore", invalid="ignore"):
            u2 = resid * resid * ((1.0 - h) ** -2.0 if vcov == "hc3" else _inv_m(h))
        meat = Q.T @ (Q * u2[:, None])
        cov = Rinv @ meat @ Rinv.T
        cov = (cov + cov.T) / 2
    elif vcov == "ols":
        cov = (Rinv @ Rinv.T) * (rss / df)
    else:
        raise ValueError(f"vcov must be one of {VCOV_TYPES}; got {vcov!r}")
    if vcov == "hc2":
        return OLSFit(tuple(names), coef, cov, df, rss, n, vcov, np.asarray(Q, float), Rinv)
    return OLSFit(tuple(names), coef, cov, df, rss, n, vcov)


def _inv_m(h: FloatArray) -> FloatArray:
    """``1 / (1 − h_ii)``, and 0 for an observation with leverage 1.

    HC2's adjustment is the (pseudo-)inverse of ``1 − h_ii``: an observation
    fitted exactly (leverage 1, residual 0) carries no information about the
    variance and contributes nothing, as the Moore-Penrose inverse square root
    used by R ``clubSandwich`` gives.
    """
    m = 1.0 - h
    out: FloatArray = np.where(m > 1e-10, 1.0 / np.where(m > 1e-10, m, 1.0), 0.0)
    return out


def bell_mccaffrey_df(fit: OLSFit, c: FloatArray) -> float:
    """Bell-McCaffrey degrees of freedom of ``c'β`` under an HC2 fit.

    ``ν = (Σ_i d_i (1 − h_ii))² / Σ_ij d_i d_j M_ij²`` with ``M = I − H`` and
    ``d_i = (c'R⁻¹q_i)² / (1 − h_ii)`` (``q_i`` the i-th row of Q).
    """
    return float(_bell_mccaffrey(fit, np.atleast_2d(c))[0])


def _bell_mccaffrey(fit: OLSFit, C: FloatArray) -> FloatArray:
    # O(n p^2) memory and time, never an n x n matrix: with M = I - H,
    # M_ij^2 = delta_ij (1 - 2 h_i) + H_ij^2, so
    # sum_ij d_i d_j M_ij^2 = sum_i d_i^2 (1 - 2 h_i) + ||Q' diag(d) Q||_F^2.
    if fit.q is None or fit.r_inv is None:
        raise ValueError("Bell-McCaffrey df need a fit with vcov='hc2'")
    Q = fit.q
    G = Q @ (fit.r_inv.T @ C.T)  # column k: c_k'(X'X)^-1 x_i for every i
    h = np.einsum("ij,ij->i", Q, Q)
    D = G * G * _inv_m(h)[:, None]
    num = ((1.0 - h) @ D) ** 2
    QdQ = np.einsum("ik,ia,ib->kab", D, Q, Q)
    den = ((1.0 - 2.0 * h) @ (D * D)) + np.einsum("kab,kab->k", QdQ, QdQ)
    out: FloatArray = num / den
    return out


def contrast(fit: OLSFit, c: FloatArray, *, conf_level: float = 0.95) -> Contrast:
    """t test and confidence interval of ``c'β`` (residual df; Bell-McCaffrey df for HC2)."""
    est = float(c @ fit.coef)
    se = float(np.sqrt(c @ fit.cov @ c))
    df = bell_mccaffrey_df(fit, c) if fit.vcov == "hc2" else float(fit.df_resid)
    t = est / se if se > 0 else np.nan
    p = float(2 * stats.t.sf(abs(t), df))
    q = float(stats.t.ppf(0.5 + conf_level / 2, df))
    return Contrast(est, se, df, float(t), p, est - q * se, est + q * se)


def contrasts(
    fit: OLSFit, C: FloatArray, *, conf_level: float = 0.95
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Vectorised ``c'β`` for each row of ``C``: estimate, SE, lower and upper limits.

    With an HC2 fit each row gets its own Bell-McCaffrey df.
    """
    est = C @ fit.coef
    se = np.sqrt(np.einsum("ij,jk,ik->i", C, fit.cov, C))
    df = _bell_mccaffrey(fit, C) if fit.vcov == "hc2" else float(fit.df_resid)
    q = stats.t.ppf(0.5 + conf_level / 2, df)
    return est, se, est - q * se, est + q * se


def wald_f(fit: OLSFit, L: FloatArray) -> tuple[float, int, float, float]:
    """Joint F test of ``Lβ = 0``: statistic, numerator df, denominator df, P.

    Model-based and HC3 fits: ``W/q`` on ``F(q, n − p)``. HC2 fits: the
    approximate Hotelling T² test ("HTZ") of Pustejovsky & Tipton (2018):
    ``L V̂ L'`` is approximated by a Wishart distribution with η degrees of
    freedom matched to the first two moments of ``V̂`` under the working model
    ε ~ N(0, σ²I), and ``(η − q + 1)/(η q) · W ~ F(q, η − q + 1)``. With rows
    ``g_s`` of ``Ω^{-½} L`` (``Ω = E[L V̂ L']/σ²``) and
    ``p_si = g_s'(X'X)⁻¹x_i / √(1 − h_ii)``,
    ``η = q(q + 1) / (2 Σ_ij M_ij² ((P'P)_ij)²)``, ``M = I − H``. For q = 1 this
    is the Bell-McCaffrey df.
    """
    Lb = L @ fit.coef
    V = L @ fit.cov @ L.T
    q = L.shape[0]
    w = float(Lb @ np.linalg.solve(V, Lb))
    if fit.vcov != "hc2":
        f = w / q
        return f, q, float(fit.df_resid), float(stats.f.sf(f, q, fit.df_resid))
    assert fit.q is not None and fit.r_inv is not None
    Q = fit.q
    h = np.einsum("ij,ij->i", Q, Q)
    P = (L @ fit.r_inv @ Q.T) * np.sqrt(_inv_m(h))  # q x n
    omega = (P * (1.0 - h)) @ P.T  # E[L V L'] / sigma^2 = sum_i p_i p_i' M_ii
    vals, vecs = np.linalg.eigh(omega)
    G = (vecs / np.sqrt(vals)) @ vecs.T @ P  # Omega^-1/2 P, column i = g_i
    # sum_ij M_ij^2 (g_i'g_j)^2 without n x n matrices: M_ij^2 = delta_ij (1 - 2 h_i) + H_ij^2
    # and H_ij (g_i'g_j) = z_i'z_j with z_i = q_i (x) g_i, so the second part is ||Z'Z||_F^2.
    k_diag = np.einsum("si,si->i", G, G)
    Z = (Q[:, :, None] * G.T[:, None, :]).reshape(Q.shape[0], -1)
    ZtZ = Z.T @ Z
    total = float((1.0 - 2.0 * h) @ (k_diag * k_diag)) + float(np.sum(ZtZ * ZtZ))
    eta = q * (q + 1) / (2.0 * total)
    df2 = eta - q + 1
    f = (eta - q + 1) / (eta * q) * w
    return f, q, df2, float(stats.f.sf(f, q, df2))
