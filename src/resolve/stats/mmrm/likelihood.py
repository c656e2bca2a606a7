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

#: Above this many covariance units (spatial coordinates that differ between
#: subjects), the Hessian is batched over patterns and subjects, not looped per unit
#: (spatial structures only: 2 parameters per group keep the per-subject arrays small;
#: many ``group=`` levels of a structure with many parameters keep the loop).
MANY_UNITS = 8

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
        self.n_units = int(data.cov_model.unit_group.size)
        self.patterns_of_unit = [
            np.flatnonzero(data.unit_of_pattern == u) for u in range(self.n_units)
        ]
        # Subjects sorted by (covariance unit, pattern): every pattern's and every
        # unit's subjects are one contiguous run, so their sums are segment sums
        # (np.add.reduceat) and a unit's rows are a view. The criterion and its
        # derivatives do not depend on the order of subjects.
        pos = data.pattern_of_subject
        order = np.lexsort((pos, data.unit_of_pattern[pos]))
        self.pattern_sorted = pos[order]
        first = np.flatnonzero(np.diff(self.pattern_sorted, prepend=-1) != 0)
        self.segment_starts = first
        self.segment_pattern = self.pattern_sorted[first]
        self.segments_in_order = bool(np.array_equal(self.segment_pattern, np.arange(n_pat)))
        unit_sorted = data.unit_of_pattern[self.pattern_sorted]
        self.unit_sorted = unit_sorted
        # covariance units as segments of the patterns sorted by unit (_unit_sum)
        self.pattern_by_unit = np.argsort(data.unit_of_pattern, kind="stable")
        units_sorted = data.unit_of_pattern[self.pattern_by_unit]
        self.unit_starts = np.flatnonzero(np.diff(units_sorted, prepend=-1) != 0)
        self.unit_present = units_sorted[self.unit_starts]  # units with a pattern
        self.unit_bounds = [
            (
                int(np.searchsorted(unit_sorted, u, "left")),
                int(np.searchsorted(unit_sorted, u, "right")),
            )
            for u in range(self.n_units)
        ]
        self.xf = np.ascontiguousarray(data.xf[order])
        self.yf = np.ascontiguousarray(data.yf[order])
        n = data.n_obs
        self.const = ((n - self.p) if reml else n) * LOG_2PI - data.log_weight_sum
        self.xf2 = self.xf.reshape(-1, self.p)
        self.yf1 = self.yf.reshape(-1)

    # -- helpers -------------------------------------------------------------
    def _pattern_sum(self, per_subject: Array) -> Array:
        """Sum ``(N, ...)`` per-subject arrays (in sorted order) within visit patterns."""
        sums = np.add.reduceat(per_subject, self.segment_starts, axis=0)
        if self.segments_in_order:
            return np.asarray(sums, dtype=np.float64)
        out = np.zeros((self.n_pat, *per_subject.shape[1:]))
        out[self.segment_pattern] = sums
        return out

    def _unit_sum(self, per_pattern: Array) -> Array:
        """Sum ``(n_pat, m, m)`` per-pattern matrices within covariance units."""
        if self.n_units == 1:
            return np.asarray(per_pattern.sum(axis=0)[None], dtype=np.float64)
        sums = np.add.reduceat(per_pattern[self.pattern_by_unit], self.unit_starts, axis=0)
        out = np.zeros((self.n_units, *per_pattern.shape[1:]))
        out[self.unit_present] = sums
        return out

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
            s, ds = cov.evaluate(theta)
        except (FloatingPointError, np.linalg.LinAlgError, ValueError):
            return Evaluation(value=np.inf)
        if not np.all(np.isfinite(s)):
            return Evaluation(value=np.inf)
        inv = self._inverses(s)
        if inv is None:
            return Evaluation(value=np.inf)
        qpat, logdet_v = inv
        q = qpat[self.pattern_sorted]
        xf = self.xf
        p = self.p
        z = q @ xf  # (N, m, p)
        z2 = z.reshape(-1, p)
        a = self.xf2.T @ z2
        c = z2.T @ self.yf1
        try:
            fac = cho_factor(a, lower=True, check_finite=True)
        except (np.linalg.LinAlgError, ValueError):
            return Evaluation(value=np.inf)
        beta = cho_solve(fac, c)
        r = self.yf - xf @ beta
        u = (q @ r[:, :, None])[:, :, 0]
        quad = float((r * u).sum())
        value = self.const + logdet_v + quad
        if self.reml:
            value += float(2.0 * np.log(np.diag(fac[0])).sum())
        if not np.isfinite(value):
            return Evaluation(value=np.inf)
        if order == 0:
            return Evaluation(value=value, beta=beta)
        a_inv = cho_solve(fac, np.eye(p))
        # Per pattern j: sum_i (Q_j - u_i u_i' - Z_i A^-1 Z_i') over its subjects.
        uu_pat = self._pattern_sum(u[:, :, None] * u[:, None, :])
        g_pat = None
        b_pat = self.n_per_pattern[:, None, None] * qpat - uu_pat
        if self.reml:
            za = (z2 @ a_inv).reshape(z.shape)
            g_pat = self._pattern_sum(za @ np.swapaxes(z, 1, 2))
            b_pat -= g_pat
        b_unit = self._unit_sum(b_pat)
        grad = np.einsum("ukab,uab->k", ds, b_unit)
        if order == 1:
            return Evaluation(value=value, beta=beta, a_inv=a_inv, gradient=grad)
        hess, jac = self._hessian(theta, ds, qpat, z, u, uu_pat, g_pat, b_unit, a_inv)
        return Evaluation(
            value=value, beta=beta, a_inv=a_inv, gradient=grad, hessian=hess, jacobian=jac
        )

    def _hessian(
        self,
        theta: Array,
        ds: Array,
        qpat: Array,
        z: Array,
        u: Array,
        uu_pat: Array,
        g_pat: Array | None,
        b_unit: Array,
        a_inv: Array,
    ) -> tuple[Array, Array]:
        k = ds.shape[1]
        p, m = self.p, self.m
        hess = self.data.cov_model.hessian_dot(theta, b_unit)
        mp = 2.0 * uu_pat - self.n_per_pattern[:, None, None] * qpat
        if g_pat is not None:
            mp += 2.0 * g_pat
        # sum_p tr(V_k Q_p V_l M_p) = sum V_k[a,b] V_l[c,d] T[b,c,d,a] with
        # T = sum_p Q_p (x) M_p, one m^2 x m^2 product per covariance unit.
        m2 = m * m
        # C_k = sum_i Z_i' V_k Z_i and e_k = sum_i Z_i' V_k u_i, per covariance unit.
        cmat = np.zeros((k, p, p))
        evec = np.zeros((k, p))
        if self.n_units > MANY_UNITS and self.data.cov_model.structure.spatial:
            # Spatial coordinates that differ between subjects: one unit per distinct
            # set of coordinates, so batch over patterns and subjects instead.
            dsp = ds[self.data.unit_of_pattern]  # (n_pat, K, m, m)
            vq = dsp @ qpat[:, None]  # V_k Q_p
            vm = dsp @ mp[:, None]  # V_l M_p
            hess += np.einsum("jkab,jlba->kl", vq, vm)
            dsi = ds[self.unit_sorted]  # (N, K, m, m), subjects in sorted order
            cmat += np.einsum("iap,ikaq->kpq", z, dsi @ z[:, None])
            evec += np.einsum("iap,ika->kp", z, (dsi @ u[:, None, :, None])[..., 0])
            return self._finish(hess, cmat, evec, a_inv)
        for unit in range(self.n_units):
            pats = self.patterns_of_unit[unit]
            t = qpat[pats].reshape(-1, m2).T @ mp[pats].reshape(-1, m2)  # [(b,c),(d,a)]
            t4 = t.reshape(m, m, m, m).transpose(3, 0, 1, 2).reshape(m2, m2)  # [(a,b),(c,d)]
            vflat = ds[unit].reshape(k, m2)
            hess += vflat @ t4 @ vflat.T
            lo, hi = self.unit_bounds[unit]
            zu = z[lo:hi].reshape(-1, m * p)
            mz = (zu.T @ zu).reshape(m, p, m, p)
            cmat += np.tensordot(ds[unit], mz, axes=([1, 2], [0, 2]))
            nz = (u[lo:hi].T @ zu).reshape(m, m, p).transpose(1, 0, 2)
            evec += np.tensordot(ds[unit], nz, axes=([1, 2], [0, 1]))
        return self._finish(hess, cmat, evec, a_inv)

    def _finish(self, hess: Array, cmat: Array, evec: Array, a_inv: Array) -> tuple[Array, Array]:
        """The fixed-effects terms of the Hessian and the Jacobian of ``cov(b)``."""
        k, p = cmat.shape[0], self.p
        hess -= 2.0 * evec @ a_inv @ evec.T
        ac = a_inv @ cmat  # (K, p, p)
        if self.reml:
            # tr(A^-1 C_k A^-1 C_l) as one matrix product
            hess -= ac.reshape(k, p * p) @ np.swapaxes(ac, 1, 2).reshape(k, p * p).T
        jac = ac @ a_inv
        return 0.5 * (hess + hess.T), jac
