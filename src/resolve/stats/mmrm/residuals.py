"""Residuals of a fitted MMRM, as SAS PROC MIXED and R ``mmrm`` define them.

For subject ``i`` with observed outcomes ``y_i``, design ``X_i``, weights
``W_i`` (identity without ``weights``) and visit covariance ``Sigma`` the
marginal covariance is ``V_i = W_i^-1/2 Sigma_i W_i^-1/2``.  With ``r_i = y_i -
X_i b``:

``response``
    ``r_i`` (SAS ``OUTP=`` column ``Resid``; R ``type = "response"``).
``pearson``
    ``r_ij / sqrt(V_i[j, j])`` (SAS ``RESIDUAL`` option, ``PearsonResid``;
    R ``type = "pearson"``).
``normalized``
    ``L_i^-1 r_i`` with ``L_i`` the lower Cholesky factor of ``V_i``, visits in
    visit-level order (SAS ``VCIRY``, ``ScaledResid``; R ``type =
    "normalized"``).  Within a subject these are uncorrelated with unit
    variance if the model holds (ignoring estimation of ``b``).
``studentized``
    ``r_ij / sqrt(V_i[j, j] - x_ij' cov(b) x_ij)``, internally studentized by
    the variance of the marginal residual (SAS ``RESIDUAL``, ``StudentResid``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

from resolve._validation import OneOf
from resolve.stats.mmrm.design import ModelData

__all__ = ["RESIDUAL_TYPES", "residuals"]

Array = NDArray[np.float64]
RESIDUAL_TYPES: tuple[str, ...] = ("response", "pearson", "normalized", "studentized")


def residuals(
    data: ModelData, theta: Array, beta: Array, beta_vcov: Array, type: str = "response"
) -> Array:
    """Residuals of every observation used in the fit, in ``data.frame`` row order.

    Parameters
    ----------
    data : ModelData
        The fitted design.
    theta : ndarray
        Variance parameters (unconstrained scale).
    beta, beta_vcov : ndarray
        Estimable fixed effects and their covariance.
    type : {"response", "pearson", "normalized", "studentized"}
        See the module docstring.

    Returns
    -------
    ndarray of shape ``(n_obs,)``
    """
    OneOf("type", RESIDUAL_TYPES)(type)
    if type == "response":
        out: Array = data.y - data.x @ beta
        return out
    # Work on the sqrt(weight)-scaled grid, where cov(rf_i) = Sigma_i restricted.
    sigma = data.cov_model.evaluate(theta)[0]
    rf = data.yf - data.xf @ beta  # (N, m); zero at unobserved slots
    grid = np.zeros_like(rf)
    unit_of_subject = data.unit_of_pattern[data.pattern_of_subject]
    for j, slots in enumerate(data.pattern_slots):
        subj = np.flatnonzero(data.pattern_of_subject == j)
        if subj.size == 0:
            continue
        # Subjects of one pattern share a covariance unit (patterns key on it).
        block = sigma[unit_of_subject[subj[0]]][np.ix_(slots, slots)]
        r = rf[np.ix_(subj, slots)]
        if type == "pearson":
            val = r / np.sqrt(np.diag(block))
        elif type == "normalized":
            chol = np.linalg.cholesky(block)
            val = solve_triangular(chol, r.T, lower=True).T
        else:  # studentized
            xs = data.xf[np.ix_(subj, slots)]  # (n_j, k, p)
            lev = np.einsum("ikp,pq,ikq->ik", xs, beta_vcov, xs)
            val = r / np.sqrt(np.diag(block)[None, :] - lev)
        grid[np.ix_(subj, slots)] = val
    res: Array = grid[data.subject_of_obs, data.slot_of_obs]
    return res
