"""Closed-form (RE)ML criterion for the random-intercept structure ``ri``.

For a subject with ``n`` observed visits the covariance is
``V = s2 (I + lam**2 J)`` (``J`` the all-ones matrix), so every matrix the
likelihood needs per subject - ``V``, its inverse (Sherman-Morrison)
``W = (I - lam**2 / (1 + n lam**2) J) / s2``, the derivatives of ``V`` and any
product of these - lies in the commutative algebra ``{a I + b J}`` of ``n x n``
matrices: ``(a I + b J)(c I + d J) = ac I + (ad + bc + n bd) J`` and
``tr(a I + b J) = n (a + b)``.  Quadratic forms in the design reduce to the
sufficient statistics ``sum X'X``, ``sum X'1 1'X``, ``sum X'y``, ``sum X'1 1'y``,
``sum y'y`` and ``sum (1'y)**2`` per class of subjects with the same number of
visits (and group).  One evaluation, with the exact gradient and Hessian of
the same formulas as :mod:`resolve.stats.mmrm.likelihood`, costs
``O(classes * p**2)`` instead of ``O(subjects * m**2 * p**2)``.

Used automatically by :func:`resolve.stats.mmrm.fit.make_likelihood` for
``cov="ri"`` without weights.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_factor, cho_solve

from resolve.stats.mmrm.design import ModelData
from resolve.stats.mmrm.likelihood import Evaluation, Likelihood

__all__ = ["RandomInterceptLikelihood"]

Array = NDArray[np.float64]
Pair = tuple[Array, Array]


class RandomInterceptLikelihood(Likelihood):
    """:class:`Likelihood` for ``ri`` (no weights) from per-class sufficient statistics."""

    def __init__(self, data: ModelData, reml: bool) -> None:
        super().__init__(data, reml)
        m = self.m
        sizes = np.array([s.size for s in data.pattern_slots], dtype=np.intp)
        n_i = sizes[data.pattern_of_subject]
        keys = data.group_of_subject * (m + 1) + n_i
        uniq, inv = np.unique(keys, return_inverse=True)
        inv = np.asarray(inv, dtype=np.intp).reshape(-1)
        self.cls_group = np.asarray(uniq // (m + 1), dtype=np.intp)
        self.cls_n = np.asarray(uniq % (m + 1), dtype=np.float64)
        n_cls = uniq.size
        self.onehot = np.zeros((n_cls, data.n_subjects))
        self.onehot[inv, np.arange(data.n_subjects)] = 1.0
        self.cnt = self.onehot.sum(axis=1)
        xf = data.xf
        p = self.p
        self.ssum = xf.sum(axis=1)  # (N, p): X_i' 1
        xx = np.einsum("iap,iaq->ipq", xf, xf).reshape(-1, p * p)
        self.xx = (self.onehot @ xx).reshape(n_cls, p, p)
        ss = (self.ssum[:, :, None] * self.ssum[:, None, :]).reshape(-1, p * p)
        self.ss = (self.onehot @ ss).reshape(n_cls, p, p)
        k = data.cov_model.n_params
        self.k = k
        # mask[k, c]: parameter k belongs to the group of class c
        self.param_group = np.arange(k) // 2
        self.mask = (self.param_group[:, None] == self.cls_group[None, :]).astype(float)
        self.is_lam = np.arange(k) % 2 == 1
        self.set_outcome(data.yf)

    def set_outcome(self, yf: Array) -> None:
        """Recompute the outcome statistics for padded outcomes ``yf`` ``(N, m)``."""
        tot = yf.sum(axis=1)
        self.xy = self.onehot @ np.einsum("iap,ia->ip", self.data.xf, yf)
        self.sy = self.onehot @ (self.ssum * tot[:, None])
        self.yy = self.onehot @ (yf * yf).sum(axis=1)
        self.y1 = self.onehot @ (tot * tot)

    # -- the {aI + bJ} algebra, vectorised over classes ------------------------
    def _mul(self, x: Pair, y: Pair) -> Pair:
        n = self.cls_n
        return x[0] * y[0], x[0] * y[1] + x[1] * y[0] + n * x[1] * y[1]

    def _tr(self, x: Pair) -> Array:
        return np.asarray(self.cls_n * (x[0] + x[1]), dtype=np.float64)

    def _qx(self, x: Pair) -> Array:
        """``sum_c X'(a I + b J) X`` for pairs with leading axes ``(..., C)``."""
        out = np.tensordot(x[0], self.xx, axes=([-1], [0]))
        out += np.tensordot(x[1], self.ss, axes=([-1], [0]))
        return np.asarray(out, dtype=np.float64)

    def evaluate(self, theta: Array, order: int = 0) -> Evaluation:
        """Evaluate ``-2 log L`` (``order`` 0), plus gradient (1) and Hessian (2)."""
        theta = np.asarray(theta, dtype=np.float64)
        if not np.all(np.isfinite(theta)):
            return Evaluation(value=np.inf)
        g = self.cls_group
        with np.errstate(over="ignore", invalid="ignore"):
            s2 = np.exp(2.0 * theta[0::2])[g]
        lam = theta[1::2][g]
        n = self.cls_n
        den = 1.0 + n * lam * lam
        if not (np.all(np.isfinite(s2)) and np.all(s2 > 0)):
            return Evaluation(value=np.inf)
        w: Pair = (1.0 / s2, -lam * lam / (s2 * den))
        logdet_v = float((self.cnt * (n * np.log(s2) + np.log(den))).sum())
        a = self._qx(w)
        c = w[0] @ self.xy + w[1] @ self.sy
        try:
            fac = cho_factor(a, lower=True, check_finite=True)
        except (np.linalg.LinAlgError, ValueError):
            return Evaluation(value=np.inf)
        beta = cho_solve(fac, c)
        xxb = self.xx @ beta  # (C, p)
        ssb = self.ss @ beta
        rr = self.yy - 2.0 * self.xy @ beta + xxb @ beta
        r1 = self.y1 - 2.0 * self.sy @ beta + ssb @ beta
        value = self.const + logdet_v + float((w[0] * rr + w[1] * r1).sum())
        if self.reml:
            value += float(2.0 * np.log(np.diag(fac[0])).sum())
        if not np.isfinite(value):
            return Evaluation(value=np.inf)
        if order == 0:
            return Evaluation(value=value, beta=beta)
        p = self.p
        a_inv = cho_solve(fac, np.eye(p))
        mask, is_lam = self.mask, self.is_lam[:, None]
        # dV/dtheta_k per class: log-sd -> 2V, lambda -> 2 s2 lam J
        dv: Pair = (
            np.where(is_lam, 0.0, 2.0 * s2) * mask,
            np.where(is_lam, 2.0 * s2 * lam, 2.0 * s2 * lam * lam) * mask,
        )
        wdw = self._mul(w, self._mul(dv, w))  # (K, C)
        xr = self.xy - xxb  # sum X'r per class
        sr = self.sy - ssb  # sum X'1 1'r per class
        cmat = self._qx(wdw)  # (K, p, p)
        grad = (self.cnt * self._tr(self._mul(w, dv))).sum(axis=1)
        grad -= (wdw[0] * rr + wdw[1] * r1).sum(axis=1)
        if self.reml:
            grad -= np.einsum("pq,kqp->k", a_inv, cmat)
        if order == 1:
            return Evaluation(value=value, beta=beta, a_inv=a_inv, gradient=grad)
        k = self.k
        same = self.param_group[:, None] == self.param_group[None, :]
        lam_k = self.is_lam[:, None] & same
        lam_kl = lam_k & self.is_lam[None, :]
        one_lam = (self.is_lam[:, None] ^ self.is_lam[None, :]) & same
        none_lam = same & ~self.is_lam[:, None] & ~self.is_lam[None, :]
        del lam_k
        mask2 = mask[:, None, :] * mask[None, :, :]
        d2: Pair = (
            np.where(none_lam[..., None], 4.0 * s2, 0.0) * mask2,
            (
                np.where(none_lam[..., None], 4.0 * s2 * lam * lam, 0.0)
                + np.where(one_lam[..., None], 4.0 * s2 * lam, 0.0)
                + np.where(lam_kl[..., None], 2.0 * s2, 0.0)
            )
            * mask2,
        )
        w_kl = (w[0][None, None], w[1][None, None])
        wd2w = self._mul(w_kl, self._mul(d2, w_kl))  # (K, K, C)
        dk: Pair = (dv[0][:, None], dv[1][:, None])
        dl: Pair = (dv[0][None, :], dv[1][None, :])
        wk: Pair = (w[0][None, None], w[1][None, None])
        wdk = self._mul(wk, dk)
        wdl = self._mul(wk, dl)
        wdwdw = self._mul(self._mul(wdk, wdl), wk)  # W V_k W V_l W
        hess = (self.cnt * self._tr(self._mul(wk, d2))).sum(axis=-1)
        hess -= (self.cnt * self._tr(self._mul(wdk, wdl))).sum(axis=-1)
        hess -= (wd2w[0] * rr + wd2w[1] * r1).sum(axis=-1)
        hess += 2.0 * (wdwdw[0] * rr + wdwdw[1] * r1).sum(axis=-1)
        evec = wdw[0] @ xr + wdw[1] @ sr  # (K, p)
        hess -= 2.0 * evec @ a_inv @ evec.T
        ac = a_inv @ cmat  # (K, p, p)
        if self.reml:
            hess -= np.einsum("pq,klqp->kl", a_inv, self._qx(wd2w))
            hess += 2.0 * np.einsum("pq,klqp->kl", a_inv, self._qx(wdwdw))
            hess -= np.einsum("kpq,lqp->kl", ac, ac)
        jac = ac @ a_inv
        hess = 0.5 * (hess + hess.T)
        assert hess.shape == (k, k)
        return Evaluation(
            value=value, beta=beta, a_inv=a_inv, gradient=grad, hessian=hess, jacobian=jac
        )
