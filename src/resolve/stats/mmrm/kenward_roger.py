"""Kenward-Roger adjusted covariance and degrees of freedom (SAS ``DDFM=KR``).

Kenward & Roger (1997, Biometrics 53:983) replace the model-based covariance
``Phi = (X' V^-1 X)^-1`` of the fixed effects by

``Phi_A = Phi + 2 Phi [ sum_kl W_kl (Q_kl - P_k Phi P_l - R_kl / 4) ] Phi``

with ``W`` the asymptotic covariance of the variance parameters (inverse observed
information of the (RE)ML criterion), ``P_k = -X' V^-1 V_k V^-1 X``,
``Q_kl = X' V^-1 V_k V^-1 V_l V^-1 X`` and ``R_kl = X' V^-1 V_kl V^-1 X``
(``V_k``, ``V_kl`` first and second derivatives of the covariance).  A Wald test
of ``L b = 0`` with ``l = rank(L)`` rows uses ``F* = lambda (Lb)' (L Phi_A L')^-1
(Lb) / l`` on ``(l, m)`` df, ``m`` and ``lambda`` from the moment matching of
their section 4 (as SAS and R mmrm: ``A1``, ``A2`` from ``Theta = L'(L Phi
L')^-1 L`` and the unadjusted ``Phi``).  For one row ``lambda = 1`` and the t test
uses ``sqrt(c' Phi_A c)`` on ``m`` df.

Two variants are registered:

``kenward-roger``
    As SAS ``DDFM=KR`` (``FIXED EFFECTS SE METHOD: Kenward-Roger``): the
    second-derivative term ``R`` is included.  That term depends on how the
    covariance is parametrised, so it is evaluated in SAS's parametrisation
    (variances, covariances, correlations and ranges as SAS reports them, e.g.
    ``UN(i,j)``; ``Var(i)`` and ``Rho``; ``SP(EXP)`` and ``Residual``) through the
    chain rule from our unconstrained ``theta``.  Structures that SAS parametrises
    linearly (UN, CS, TOEP) therefore get ``R = 0`` exactly.
``kenward-roger-linear``
    As SAS ``DDFM=KR(LINEAR)`` (``Prasad-Rao-Jeske-Kackar-Harville``) and R mmrm's
    ``"Kenward-Roger-Linear"``: ``R = 0``.  This variant does not depend on the
    parametrisation (at the optimum ``W`` transforms as a tensor).

With ``convention="mmrm"`` the ``R`` term of ``kenward-roger`` is evaluated in
the unconstrained parameters ``theta`` themselves, which this package shares
with R mmrm (e.g. ``us``: log standard deviations and the below-diagonal entries
of a unit lower-triangular factor): R mmrm's ``"Kenward-Roger"``, which for
``us`` differs from SAS's (R mmrm's documentation recommends KR-linear to match
SAS).

Degrees of freedom are the same for both variants.  SAS also allows KR with ML;
so does this module (R mmrm refuses).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from resolve.stats.mmrm._blocks import embedded_inverses, pattern_grams
from resolve.stats.mmrm.covariance import Structure, _cor_link
from resolve.stats.mmrm.design import ModelData
from resolve.stats.mmrm.df import FitInfo, register_df

__all__ = ["KenwardRoger", "kr_adjustment", "kr_df"]

Array = NDArray[np.float64]

#: Structures whose SAS parametrisation is linear in the covariance entries (their
#: second derivatives in it are zero, so the ``R`` term of full KR is zero).
SAS_LINEAR = frozenset({"us", "cs", "toep"})


def kr_adjustment(
    data: ModelData, theta: Array, w: Array, *, second: bool = True
) -> tuple[Array, Array, Array]:
    """``P``, ``sum_kl W_kl Q_kl`` and ``sum_kl W_kl R_kl``, pattern by pattern.

    Every weighted sum is one ``m x m`` matrix per visit pattern: with ``A`` the
    pattern's embedded inverse,
    ``sum_kl W_kl X'A V_k A V_l A X = X' A (sum_k V_k A U_k) A X``,
    ``U_k = sum_l W_kl V_l``, and ``sum_kl W_kl R_kl = X' A (sum_kl W_kl V_kl) A X``;
    each then costs one product with the pattern's Gram matrix: ``K m^3 + K m^2
    p^2`` per pattern (the ``P`` matrices) instead of the ``K^2 m^2 p^2`` of
    forming every ``Q_kl`` (tests/stats/test_mmrm_kr.py keeps that form as the
    reference the sums are checked against).

    Returns
    -------
    tuple of ndarray
        ``P`` ``(K, p, p)``, ``sum W Q`` ``(p, p)``, ``sum W R`` ``(p, p)`` (zero
        unless ``second``).
    """
    cov = data.cov_model
    s, ds = cov.evaluate(theta)
    qpat = embedded_inverses(data, s)
    grams = pattern_grams(data)
    k = ds.shape[1]
    p = data.xf.shape[2]
    m = cov.m
    weighted = np.einsum("kl,ulab->ukab", w, ds)  # U_k per covariance unit
    wr = cov.hessian_weighted(theta, w) if second else None
    pk = np.zeros((k, p * p))
    wq = np.zeros(p * p)
    wrs = np.zeros(p * p)
    for j, gram in enumerate(grams):
        u = int(data.unit_of_pattern[j])
        a = qpat[j]
        b = a @ ds[u] @ a  # (K, m, m): V^-1 V_k V^-1
        pk -= b.reshape(k, m * m) @ gram
        inner = np.einsum("kab,kbc->ac", b, weighted[u])  # sum_k A V_k A U_k
        wq += (inner @ a).ravel() @ gram
        if wr is not None:
            wrs += (a @ wr[u] @ a).ravel() @ gram
    return pk.reshape(k, p, p), wq.reshape(p, p), wrs.reshape(p, p)


def _sas_scale(structure: Structure, theta: Array, m: int) -> Array:
    """One group's variance parameters in SAS PROC MIXED's parametrisation."""
    if structure.name == "toep":
        # SAS TYPE=TOEP: the covariances sigma(lag) (linear), not correlations.
        var = float(np.exp(2.0 * theta[0]))
        rho = _cor_link(theta[1:])[0]
        return np.concatenate([[var], var * rho])
    return np.array([v for _, v in structure.sas_params(theta, m)], dtype=np.float64)


def _reparam_derivatives(data: ModelData, theta: Array) -> tuple[Array, Array]:
    """Jacobian ``G[c, k] = d psi_c / d theta_k`` and Hessians ``H[c, k, l]`` of SAS's ``psi``.

    Central differences of a cheap closed-form map; step ``1e-4`` gives about
    1e-8 relative accuracy, far below what the ``R`` term (itself of order
    ``1/n`` relative to ``Phi``) needs.
    """
    cov = data.cov_model
    kg = cov.k_group
    k = theta.size
    gmat = np.zeros((k, k))
    hess = np.zeros((k, k, k))
    for g in range(cov.n_groups):
        sl = slice(g * kg, (g + 1) * kg)
        th = theta[sl]

        def fun(t: Array) -> Array:
            return _sas_scale(cov.structure, t, cov.m)

        f0 = fun(th)
        h = 1e-4 * np.maximum(1.0, np.abs(th))
        jac = np.zeros((kg, kg))
        hs = np.zeros((kg, kg, kg))
        for a in range(kg):
            ea = np.zeros(kg)
            ea[a] = h[a]
            fp, fm = fun(th + ea), fun(th - ea)
            jac[:, a] = (fp - fm) / (2.0 * h[a])
            hs[:, a, a] = (fp - 2.0 * f0 + fm) / (h[a] * h[a])
            for b in range(a):
                eb = np.zeros(kg)
                eb[b] = h[b]
                v = (
                    fun(th + ea + eb) - fun(th + ea - eb) - fun(th - ea + eb) + fun(th - ea - eb)
                ) / (4.0 * h[a] * h[b])
                hs[:, a, b] = hs[:, b, a] = v
        gmat[sl, sl] = jac
        hess[sl, sl, sl] = hs
    return gmat, hess


def kr_df(phi: Array, lmat: Array, w: Array, pk: Array) -> tuple[float, float]:
    """Kenward-Roger denominator df ``m`` and F scale ``lambda`` for rows ``lmat``.

    Parameters
    ----------
    phi : ndarray, shape (p, p)
        Unadjusted covariance of the fixed effects.
    lmat : ndarray, shape (l, p)
        Contrast rows of full row rank.
    w : ndarray, shape (K, K)
        Covariance of the variance parameters.
    pk : ndarray, shape (K, p, p)
        ``P`` matrices in the same parametrisation as ``w``.
    """
    nl = lmat.shape[0]
    theta_mat = lmat.T @ np.linalg.solve(lmat @ phi @ lmat.T, lmat)
    a = theta_mat @ phi @ pk @ phi  # (K, p, p)
    tr = np.trace(a, axis1=1, axis2=2)
    a1 = float(tr @ w @ tr)
    a2 = float(np.einsum("kl,kpq,lqp->", w, a, a))
    if not np.isfinite(a2) or a2 <= 1e-14:
        return float(np.inf), 1.0
    b = (a1 + 6.0 * a2) / (2.0 * nl)
    e_star = 1.0 / (1.0 - a2 / nl)
    g = ((nl + 1.0) * a1 - (nl + 4.0) * a2) / ((nl + 2.0) * a2)
    denom = 3.0 * nl + 2.0 - 2.0 * g
    c1, c2, c3 = g / denom, (nl - g) / denom, (nl + 2.0 - g) / denom
    v_star = 2.0 / nl * (1.0 + c1 * b) / ((1.0 - c2 * b) ** 2 * (1.0 - c3 * b))
    rho = v_star / (2.0 * e_star * e_star)
    m = 4.0 + (nl + 2.0) / (nl * rho - 1.0)
    lam = m / (e_star * (m - 2.0))
    return float(m), float(lam)


class KenwardRoger:
    """Kenward-Roger df method (see module docstring); ``linear`` drops ``R``."""

    def __init__(self, info: FitInfo, *, linear: bool = False) -> None:
        if info.model is None or info.theta is None or info.theta_vcov is None:
            raise ValueError("Kenward-Roger needs the model, theta and theta_vcov")
        self.name = "kenward-roger-linear" if linear else "kenward-roger"
        self.info = info
        data: ModelData = info.model
        theta = np.asarray(info.theta, dtype=np.float64)
        phi = info.vcov
        w = info.theta_vcov
        # R vanishes in SAS's parametrisation when it is linear (UN, CS, TOEP): then
        # DDFM=KR is DDFM=KR(LINEAR) exactly (SAS's listings agree), so skip the work
        mmrm_r = info.convention == "mmrm"  # R mmrm: R in the unconstrained theta
        second = not linear and (mmrm_r or data.cov_model.structure.name not in SAS_LINEAR)
        pk, wq, wr = kr_adjustment(data, theta, w, second=second)
        # sum_kl W_kl P_k Phi P_l = sum_k (P_k Phi) (sum_l W_kl P_l)
        wp = np.einsum("kl,lpq->kpq", w, pk)
        adj = wq - np.einsum("kpr,krq->pq", pk @ phi, wp)
        if second and mmrm_r:
            adj -= 0.25 * wr
        elif second:
            gmat, hess = _reparam_derivatives(data, theta)
            # d Sigma / d psi_c = sum_k d Sigma / d theta_k (G^-1)[k, c];
            # R1_c = X' V^-1 (d Sigma / d psi_c) V^-1 X; in psi, R_kl gains
            # - sum_c H[c, k, l] R1_c, so sum_kl W_kl R_kl(psi) is
            r1_psi = np.einsum("kc,kpq->cpq", np.linalg.inv(gmat), -pk)
            h = np.einsum("kl,ckl->c", w, hess)
            adj -= 0.25 * (wr - np.einsum("c,cpq->pq", h, r1_psi))
        vcov = phi + 2.0 * phi @ adj @ phi
        self.vcov: Array = np.asarray(0.5 * (vcov + vcov.T), dtype=np.float64)
        self.vcov_unadjusted = phi
        self.theta_vcov = w
        self.p_matrices = pk

    def df_1d(self, c: Array) -> float:
        """Kenward-Roger df for one contrast row ``c``."""
        return kr_df(self.vcov_unadjusted, c[None, :], self.theta_vcov, self.p_matrices)[0]

    def df_md(self, lmat: Array) -> tuple[int, float, float]:
        """Numerator df, KR denominator df and scaled F (``lambda * F``)."""
        lv = lmat @ self.vcov @ lmat.T
        ev, evec = np.linalg.eigh(lv)
        keep = ev > max(np.sqrt(np.finfo(float).eps) * float(ev.max()), 0.0)
        lred = evec[:, keep].T @ lmat
        rank = int(keep.sum())
        est = lred @ self.info.beta
        f = float(est @ (est / ev[keep])) / rank
        m, lam = kr_df(self.vcov_unadjusted, lred, self.theta_vcov, self.p_matrices)
        return rank, m, lam * f


def _factory(linear: bool) -> Callable[[FitInfo], KenwardRoger]:
    def make(info: FitInfo) -> KenwardRoger:
        return KenwardRoger(info, linear=linear)

    return make


register_df("kenward-roger", _factory(False))
register_df("kenward-roger-linear", _factory(True))
