"""The (RE)ML criterion, its gradient and Hessian, batched by visit pattern.

The criterion is ``f(theta) = -2 log L`` with the fixed effects profiled out by
generalised least squares:

* ML:   ``f = n log(2 pi) + sum_i log|V_i| + r' V^-1 r``
* REML: ``f = (n - p) log(2 pi) + sum_i log|V_i| + log|X' V^-1 X| + r' V^-1 r``

(SAS PROC MIXED's ``-2 Log Likelihood`` / ``-2 Res Log Likelihood``.)  Every
subject lives on a padded grid of ``m`` slots; the inverse of its observed
covariance block is embedded as an ``m x m`` matrix ``Q_i`` with zeros at
unobserved slots, so that all per-subject algebra is one batched matrix
product.  Cholesky factorisations are done once per distinct pattern.

With ``P = V^-1 - V^-1 X A^-1 X' V^-1`` and ``V_k = dV / dtheta_k`` the
gradient is ``tr(P V_k) - y' P V_k P y`` (REML) and the Hessian
``tr(P V_kl) - tr(P V_k P V_l) - y' P V_kl P y + 2 y' P V_k P V_l P y``; all
terms reduce to contractions of ``dSigma`` with small per-pattern matrices.
The Jacobian of ``A^-1 = cov(b)`` is ``A^-1 C_k A^-1`` with ``C_k = X' W V_k W X``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_factor, cho_solve

from resolve.stats.mmrm.design import ModelData

__all__ = ["Evaluation", "Likelihood"]

Array = NDArray[np.float64]
LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class Evaluation:
    """Criterion value and, on request, derivatives at one ``theta``."""

    value: float
    beta: Array | None = None
    a_inv: Array | None = None
    gradient: Array | None = None
    hessian: Array | None = None
    jacobian: Array | None = None  # (K, p, p): d cov(b) / d theta_k


class Likelihood:
    """Pattern-batched evaluator of ``-2 log L`` for one :class:`ModelData`."""

    def __init__(self, data: ModelData, reml: bool) -> None:
        self.data = data
        self.reml = reml
        self.m = data.cov_model.m
        self.p = data.x.shape[1]
        n_pat = len(data.pattern_slots)
        self.n_pat = n_pat
        self.n_per_pattern = np.bincount(data.pattern_of_subject, minlength=n_pat).astype(float)
        by_size: dict[int, list[int]] = {}
        for j, s in enumerate(data.pattern_slots):
            by_size.setdefault(s.size, []).append(j)
        self.classes = [
            (
                np.asarray(ids, dtype=np.intp),
                np.stack([data.pattern_slots[j] for j in ids]),
                data.unit_of_pattern[np.asarray(ids, dtype=np.intp)],
            )
            for _, ids in sorted(by_size.items())
        ]
        self.unit_of_subject = data.unit_of_pattern[data.pattern_of_subject]
        self.n_units = int(data.cov_model.unit_group.size)
        n_subj = data.n_subjects
        self.pattern_onehot = np.zeros((n_pat, n_subj))
        self.pattern_onehot[data.pattern_of_subject, np.arange(n_subj)] = 1.0
        self.patterns_of_unit = [
            np.flatnonzero(data.unit_of_pattern == u) for u in range(self.n_units)
        ]
        self.unit_onehot = np.zeros((self.n_units, n_subj))
        self.unit_onehot[self.unit_of_subject, np.arange(n_subj)] = 1.0
        n = data.n_obs
        self.const = ((n - self.p) if reml else n) * LOG_2PI - data.log_weight_sum
        self.xf2 = data.xf.reshape(-1, self.p)
        self.yf1 = data.yf.reshape(-1)

    # -- helpers -------------------------------------------------------------
    def _unit_sum(self, per_subject: Array) -> Array:
        """Sum ``(N, m, m)`` per-subject matrices within covariance units."""
        if self.n_units == 1:
            return np.asarray(per_subject.sum(axis=0)[None], dtype=np.float64)
        flat = per_subject.reshape(per_subject.shape[0], -1)
        return (self.unit_onehot @ flat).reshape(self.n_units, *per_subject.shape[1:])

    def _pattern_sum(self, per_subject: Array) -> Array:
        flat = per_subject.reshape(per_subject.shape[0], -1)
        return (self.pattern_onehot @ flat).reshape(self.n_pat, *per_subject.shape[1:])

    def _inverses(self, s: Array) -> tuple[Array, float] | None:
        """Embedded inverses per pattern and ``sum_i log|V_i|``; None if not PD."""
        m = self.m
        q = np.zeros((self.n_pat, m, m))
        logdet = 0.0
        for ids, idx, units in self.classes:
            blocks = s[units[:, None, None], idx[:, :, None], idx[:, None, :]]
            try:
                chol = np.linalg.cholesky(blocks)
            except np.linalg.LinAlgError:
                return None
            diag = np.diagonal(chol, axis1=1, axis2=2)
            if not np.all(np.isfinite(diag)) or np.any(diag <= 0):
                return None
            logdet += float(2.0 * (np.log(diag).sum(axis=1) * self.n_per_pattern[ids]).sum())
            linv = np.linalg.inv(chol)
            inv = np.swapaxes(linv, 1, 2) @ linv
            q[ids[:, None, None], idx[:, :, None], idx[:, None, :]] = inv
        return q, logdet

    # -- main entry ----------------------------------------------------------
    def evaluate(self, theta: Array, order: int = 0) -> Evaluation:
        """Evaluate ``-2 log L`` (``order`` 0), plus gradient (1) and Hessian (2)."""
        cov = self.data.cov_model
        try:
            s, ds, d2s = cov.evaluate(theta, order=order)
        except (FloatingPointError, np.linalg.LinAlgError, ValueError):
            return Evaluation(value=np.inf)
        if not np.all(np.isfinite(s)):
            return Evaluation(value=np.inf)
        inv = self._inverses(s)
        if inv is None:
            return Evaluation(value=np.inf)
        qpat, logdet_v = inv
        q = qpat[self.data.pattern_of_subject]
        xf = self.data.xf
        z = q @ xf  # (N, m, p)
        z2 = z.reshape(-1, self.p)
        a = self.xf2.T @ z2
        c = z2.T @ self.yf1
        try:
            fac = cho_factor(a, lower=True, check_finite=True)
        except (np.linalg.LinAlgError, ValueError):
            return Evaluation(value=np.inf)
        beta = cho_solve(fac, c)
        r = self.data.yf - xf @ beta
        u = np.einsum("iab,ib->ia", q, r)
        quad = float((r * u).sum())
        value = self.const + logdet_v + quad
        if self.reml:
            value += float(2.0 * np.log(np.diag(fac[0])).sum())
        if not np.isfinite(value):
            return Evaluation(value=np.inf)
        if order == 0:
            return Evaluation(value=value, beta=beta)
        a_inv = cho_solve(fac, np.eye(self.p))
        uu = u[:, :, None] * u[:, None, :]
        if self.reml:
            za = z @ a_inv
            g_sub = za @ np.swapaxes(z, 1, 2)
            b_sub = q - uu - g_sub
        else:
            g_sub = None
            b_sub = q - uu
        b_unit = self._unit_sum(b_sub)
        grad = np.einsum("ukab,uab->k", ds, b_unit)
        if order == 1:
            return Evaluation(value=value, beta=beta, a_inv=a_inv, gradient=grad)
        assert d2s is not None
        hess, jac = self._hessian(ds, d2s, qpat, q, z, u, uu, g_sub, b_unit, a_inv)
        return Evaluation(
            value=value, beta=beta, a_inv=a_inv, gradient=grad, hessian=hess, jacobian=jac
        )

    def _hessian(
        self,
        ds: Array,
        d2s: Array,
        qpat: Array,
        q: Array,
        z: Array,
        u: Array,
        uu: Array,
        g_sub: Array | None,
        b_unit: Array,
        a_inv: Array,
    ) -> tuple[Array, Array]:
        k = ds.shape[1]
        p, m = self.p, self.m
        hess = np.einsum("uklab,uab->kl", d2s, b_unit)
        mp = 2.0 * self._pattern_sum(uu) - self.n_per_pattern[:, None, None] * qpat
        if g_sub is not None:
            mp += 2.0 * self._pattern_sum(g_sub)
        # sum_p tr(V_k Q_p V_l M_p) = sum V_k[a,b] V_l[c,d] T[b,c,d,a] with
        # T = sum_p Q_p (x) M_p, one m^2 x m^2 product per covariance unit.
        m2 = m * m
        # C_k = sum_i Z_i' V_k Z_i and e_k = sum_i Z_i' V_k u_i, per covariance unit.
        cmat = np.zeros((k, p, p))
        evec = np.zeros((k, p))
        for unit in range(self.n_units):
            pats = self.patterns_of_unit[unit]
            t = qpat[pats].reshape(-1, m2).T @ mp[pats].reshape(-1, m2)  # [(b,c),(d,a)]
            t4 = t.reshape(m, m, m, m).transpose(3, 0, 1, 2).reshape(m2, m2)  # [(a,b),(c,d)]
            vflat = ds[unit].reshape(k, m2)
            hess += vflat @ t4 @ vflat.T
            sel = self.unit_of_subject == unit
            zu = z[sel].reshape(-1, m * p)
            mz = (zu.T @ zu).reshape(m, p, m, p)
            cmat += np.tensordot(ds[unit], mz, axes=([1, 2], [0, 2]))
            nz = np.einsum("iap,ib->abp", z[sel], u[sel])
            evec += np.tensordot(ds[unit], nz, axes=([1, 2], [0, 1]))
        hess -= 2.0 * evec @ a_inv @ evec.T
        ac = a_inv @ cmat  # (K, p, p)
        if self.reml:
            hess -= np.einsum("kpq,lqp->kl", ac, ac)
        jac = ac @ a_inv
        return 0.5 * (hess + hess.T), jac
