"""Empirical (sandwich) covariance of the fixed effects (SAS ``EMPIRICAL``).

The Liang-Zeger / Huber-White estimator

``Phi_E = Phi [ sum_i X_i' V_i^-1 r_i r_i' V_i^-1 X_i ] Phi``,  ``Phi = (X' V^-1 X)^-1``,

with ``r_i = y_i - X_i b`` the subject's residuals, without small-sample
correction (SAS PROC MIXED ``EMPIRICAL``, R mmrm ``vcov = "Empirical"``).  With
weights, ``V_i = W_i^-1/2 Sigma W_i^-1/2`` as in the fit.

Degrees of freedom follow what SAS reports for ``EMPIRICAL`` without a
``DDFM=`` option, i.e. ``DDFM=BETWITHIN``: a coefficient whose column is constant
within every subject (including the intercept) gets the between-subject df
``n_subjects - n_between_columns``; any other coefficient the within-subject df
``n_obs - n_subjects - n_within_columns``; a contrast gets the smallest df of
the coefficients it involves.  With ``convention="mmrm"`` the intercept gets the
within-subject df, as R mmrm's ``method = "Between-Within", vcov = "Empirical"``
(the same rule as ``between-within``).  SAS's further split of the
within-subject df among several within-subject effects is not replicated.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from resolve.stats.mmrm._blocks import embedded_inverses
from resolve.stats.mmrm.design import ModelData
from resolve.stats.mmrm.df import FitInfo, register_df

__all__ = ["Empirical", "sandwich_vcov"]

Array = NDArray[np.float64]


def sandwich_vcov(data: ModelData, theta: Array, beta: Array, phi: Array) -> Array:
    """The sandwich covariance ``Phi_E`` (see module docstring).

    Parameters
    ----------
    data : ModelData
        The design (weights already applied to ``xf`` and ``yf``).
    theta : ndarray
        Variance parameters.
    beta : ndarray, shape (p,)
        GLS estimate of the estimable coefficients.
    phi : ndarray, shape (p, p)
        Model-based covariance ``(X' V^-1 X)^-1``.

    Returns
    -------
    ndarray, shape (p, p)
    """
    s, _ = data.cov_model.evaluate(theta)
    q = embedded_inverses(data, s)[data.pattern_of_subject]
    r = data.yf - data.xf @ beta  # zero at empty slots
    u = np.einsum("iab,ib->ia", q, r)
    score = np.einsum("iap,ia->ip", data.xf, u)  # X_i' V_i^-1 r_i
    out = phi @ (score.T @ score) @ phi
    return np.asarray(0.5 * (out + out.T), dtype=np.float64)


class Empirical:
    """Sandwich covariance with SAS's between-within df (see module docstring)."""

    name = "empirical"

    def __init__(self, info: FitInfo) -> None:
        if info.model is None or info.theta is None:
            raise ValueError("the empirical covariance needs the model and theta")
        self.info = info
        self.vcov: Array = sandwich_vcov(
            info.model, np.asarray(info.theta, dtype=np.float64), info.beta, info.vcov
        )
        x, subj = info.x, info.subject_of_obs
        within = np.zeros(x.shape[1], dtype=bool)
        for j in range(x.shape[1]):
            if info.has_intercept[j]:
                continue
            pairs = np.unique(np.column_stack([x[:, j], subj]), axis=0).shape[0]
            within[j] = pairs > info.n_subjects
        self.within = within
        self.ddf_between = float(info.n_subjects - int((~within).sum()))
        self.ddf_within = float(info.n_obs - info.n_subjects - int(within.sum()))
        # R mmrm (method "Between-Within", vcov "Empirical") gives the intercept the
        # within-subject df; SAS the between-subject df
        self.intercept = np.asarray(info.has_intercept, dtype=bool)
        self.mmrm = info.convention == "mmrm"

    def _df(self, involved: NDArray[np.bool_]) -> float:
        if not involved.any():
            return self.ddf_within
        within = self.within | (self.intercept & self.mmrm)
        dfs = np.where(within[involved], self.ddf_within, self.ddf_between)
        return float(dfs.min())

    def df_1d(self, c: Array) -> float:
        """Between-within df of the coefficients ``c`` involves."""
        return self._df(c != 0)

    def df_md(self, lmat: Array) -> tuple[int, float, float]:
        """Numerator df, between-within df and Wald F with the sandwich covariance."""
        lv = lmat @ self.vcov @ lmat.T
        ev, evec = np.linalg.eigh(lv)
        keep = ev > max(np.sqrt(np.finfo(float).eps) * float(ev.max()), 0.0)
        est = evec[:, keep].T @ (lmat @ self.info.beta)
        rank = int(keep.sum())
        f = float(est @ (est / ev[keep])) / rank
        return rank, self._df(np.any(lmat != 0, axis=0)), f


register_df("empirical", Empirical)
