"""Batched weighted regressions: many resamples of one design solved at once.

A bootstrap resample, a jackknife deletion and the original sample are all the
same design matrix ``X`` (n x p) with a different row of frequency weights ``w``
(``w_i`` = how often participant ``i`` is in the sample). Stacking ``B`` weight
rows in ``W`` (B x n), every Gram matrix ``X'diag(w_b)X`` is one matrix product
``W @ [x_i x_i']`` (B x p²), and the ``B`` small normal equations are solved by
one batched :func:`numpy.linalg.solve` — no Python loop over resamples.

Normal equations square the condition number, so they are solved after Jacobi
scaling (unit diagonal) and only where the scaled Gram matrix is well conditioned
(smallest eigenvalue > :data:`RCOND` times the largest); the other rows are
returned as NaN with ``ok = False`` (a resample in which, say, a rare covariate
level is absent) for the caller to count and report.

Logistic models are fitted by Newton-Raphson (= IRLS for the canonical link) on
all rows at once, from ``β = (logit ȳ_w, 0, ..., 0)``, until every row's step is
below ``tol · (1 + max|β|)`` or ``max_iter`` iterations; rows that do not
converge (e.g. separation in a resample) are flagged, never silently kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = ["RCOND", "Fits", "fit_models", "gram", "logistic", "solve_spd", "wls"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Smallest accepted ratio of extreme eigenvalues of a Jacobi-scaled Gram matrix.
RCOND = 1e-10


def gram(X: FloatArray, W: FloatArray) -> FloatArray:
    """``X' diag(w_b) X`` for every row ``w_b`` of ``W``: shape (B, p, p)."""
    n, p = X.shape
    outer = (X[:, :, None] * X[:, None, :]).reshape(n, p * p)
    return (W @ outer).reshape(W.shape[0], p, p)


def solve_spd(G: FloatArray, R: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Solve ``G_b z_b = R_b`` for symmetric positive (semi)definite ``G_b``.

    Parameters
    ----------
    G : (B, p, p)
    R : (B, p, r)

    Returns
    -------
    z : (B, p, r), NaN where ``ok`` is False
    ok : (B,), the scaled ``G_b`` is well conditioned
    """
    diag = np.einsum("bii->bi", G)
    ok = np.all(np.isfinite(G), axis=(1, 2)) & np.all(diag > 0.0, axis=1)
    s = np.where(diag > 0.0, 1.0 / np.sqrt(np.where(diag > 0.0, diag, 1.0)), 1.0)
    Gs = G * s[:, :, None] * s[:, None, :]
    Gs[~ok] = np.eye(G.shape[1])
    ev = np.linalg.eigvalsh(Gs)
    ok &= ev[:, 0] > RCOND * ev[:, -1]
    z = np.full(R.shape, np.nan)
    if ok.any():
        z[ok] = np.linalg.solve(Gs[ok], R[ok] * s[ok][:, :, None]) * s[ok][:, :, None]
    return z, ok


def wls(X: FloatArray, Y: FloatArray, W: FloatArray) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Weighted least squares of every column of ``Y`` on ``X``, for every weight row.

    Parameters
    ----------
    X : (n, p) design
    Y : (n, r) responses (one fit per column, sharing ``X``)
    W : (B, n) frequency weights

    Returns
    -------
    coef : (B, p, r)
    G : (B, p, p), the weighted Gram matrices ``X'WX``
    ok : (B,)
    """
    n, p = X.shape
    r = Y.shape[1]
    G = gram(X, W)
    cross = (X[:, :, None] * Y[:, None, :]).reshape(n, p * r)
    R = (W @ cross).reshape(W.shape[0], p, r)
    coef, ok = solve_spd(G, R)
    return coef, G, ok


def logistic(
    X: FloatArray, y: FloatArray, W: FloatArray, *, max_iter: int = 50, tol: float = 1e-10
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Weighted logistic regression of 0/1 ``y`` on ``X`` for every weight row (batched Newton).

    Returns
    -------
    coef : (B, p), NaN where ``ok`` is False
    H : (B, p, p), the information ``X' diag(w μ(1 − μ)) X`` at ``coef``
    ok : (B,), converged with a well-conditioned information matrix
    """
    B, p = W.shape[0], X.shape[1]
    n = X.shape[0]
    outer = (X[:, :, None] * X[:, None, :]).reshape(n, p * p)
    total = W.sum(axis=1)
    mean = np.divide(W @ y, total, out=np.full(B, np.nan), where=total > 0)
    beta = np.zeros((B, p))
    with np.errstate(divide="ignore", invalid="ignore"):
        beta[:, 0] = special.logit(mean)
    ok = np.isfinite(beta[:, 0])
    beta[~ok] = np.nan
    converged = np.zeros(B, dtype=bool)
    for _ in range(max_iter):
        active = ok & ~converged
        if not active.any():
            break
        b = beta[active]
        mu = special.expit(b @ X.T)
        Wa = W[active]
        H = ((Wa * mu * (1.0 - mu)) @ outer).reshape(-1, p, p)
        score = (Wa * (y - mu)) @ X
        step, good = solve_spd(H, score[:, :, None])
        step = step[:, :, 0]
        b = b + step
        small = np.max(np.abs(step), axis=1) <= tol * (1.0 + np.max(np.abs(b), axis=1))
        idx = np.flatnonzero(active)
        beta[idx] = b
        ok[idx[~good]] = False
        converged[idx[good & small]] = True
    ok &= converged & np.all(np.isfinite(beta), axis=1)
    beta[~ok] = np.nan
    mu = special.expit(np.where(ok[:, None], beta, 0.0) @ X.T)
    H = ((W * mu * (1.0 - mu)) @ outer).reshape(B, p, p)
    return beta, H, ok


@dataclass(frozen=True)
class Fits:
    beta: FloatArray  # (B, J, 2 + q) mediator models, covariates centred at `center`
    gram_m: list[FloatArray]  # per mediator (B, p_m, p_m): X'WX (linear) or information (logistic)
    theta: FloatArray  # (B, p_y) outcome model
    gram_y: FloatArray  # (B, p_y, p_y)
    mu0: FloatArray  # (B, J) mediator means at a0 = 0 and c̄_b
    mu1: FloatArray  # (B, J) ... at a1 = 1
    shift: FloatArray  # (B, q) c̄_b − center
    ok: BoolArray  # (B,)
    X_m: FloatArray
    X_y: FloatArray


def fit_models(
    A: FloatArray,
    M: FloatArray,
    Y: FloatArray,
    C: FloatArray,
    W: FloatArray,
    types: Sequence[str],
    interaction: bool,
    max_iter: int,
    tol: float,
) -> Fits:
    n, J = M.shape
    Cc = C - C.mean(axis=0)
    X_m = np.column_stack([np.ones(n), A, Cc])
    B, p_m = W.shape[0], X_m.shape[1]
    AM = A[:, None] * M if interaction else np.empty((n, 0))
    # one Gram matrix of every column serves both models (and the weighted means)
    Z = np.column_stack([X_m, M, AM, Y])
    G = gram(Z, W)
    i_M = p_m + np.arange(J)
    i_AM = p_m + J + np.arange(AM.shape[1])
    total = G[:, 0, 0]
    shift = G[:, 0, 2:p_m] / np.where(total > 0, total, np.nan)[:, None]
    beta = np.full((B, J, p_m), np.nan)
    gram_m: list[FloatArray] = [np.empty((0, p_m, p_m))] * J
    ok = np.ones(B, dtype=bool)
    linear = [j for j, t in enumerate(types) if t == "continuous"]
    if linear:
        G_m = G[:, :p_m, :p_m]
        coef, ok_lin = solve_spd(G_m, G[:, :p_m, i_M[linear]])
        beta[:, linear, :] = np.swapaxes(coef, 1, 2)
        ok &= ok_lin
        for j in linear:
            gram_m[j] = G_m
    for j, t in enumerate(types):
        if t == "binary":
            beta[:, j, :], gram_m[j], ok_j = logistic(X_m, M[:, j], W, max_iter=max_iter, tol=tol)
            ok &= ok_j
    # outcome design [1, A, M, A·M, C]
    idx_y = np.r_[0, 1, i_M, i_AM, np.arange(2, p_m)]
    X_y = Z[:, idx_y]
    gram_y = G[:, idx_y][:, :, idx_y]
    theta, ok_y = solve_spd(gram_y, G[:, idx_y, -1][:, :, None])
    ok &= ok_y & np.isfinite(shift).all(axis=1)
    eta0 = beta[:, :, 0] + np.einsum("bjq,bq->bj", beta[:, :, 2:], shift)
    eta1 = eta0 + beta[:, :, 1]
    binary = np.array([t == "binary" for t in types])
    mu0 = np.where(binary, special.expit(eta0), eta0)
    mu1 = np.where(binary, special.expit(eta1), eta1)
    return Fits(beta, gram_m, theta[:, :, 0], gram_y, mu0, mu1, shift, ok, X_m, X_y)
