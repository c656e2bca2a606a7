"""Simulate outcomes from a fitted MMRM at its estimated parameters.

``marginal``
    Every valid row is drawn afresh: ``y_i ~ N(X_i b, V_i)`` with ``V_i`` the
    subject's covariance at its visits (weights applied if the weights column
    is present).
``conditional``
    Observed outcomes are kept; the missing visits of each subject are drawn
    from their Gaussian distribution given the subject's observed visits
    (mean and covariance as in :mod:`resolve.stats.mmrm.predict`), i.e. one
    imputation under missing at random with ``b`` and ``theta`` fixed at their
    estimates.

Draws are ``mean + L z`` with ``L`` the lower Cholesky factor of the subject's
(conditional) covariance and ``z`` standard normal from a
:class:`numpy.random.Generator`; subjects are processed in sorted order, so a
seed reproduces the draws exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from resolve._validation import Interval, OneOf
from resolve.stats.mmrm.predict import new_rows

if TYPE_CHECKING:
    from resolve.stats.mmrm.result import MMRMResult

__all__ = ["SIMULATION_METHODS", "simulate"]

Array = NDArray[np.float64]
SIMULATION_METHODS: tuple[str, ...] = ("marginal", "conditional")


def simulate(
    result: MMRMResult,
    nsim: int = 1,
    *,
    seed: int | np.random.Generator | None = None,
    newdata: pd.DataFrame | None = None,
    method: str = "marginal",
) -> Array:
    """Draw ``nsim`` outcome vectors (see :meth:`MMRMResult.simulate`)."""
    OneOf("method", SIMULATION_METHODS)(method)
    if isinstance(nsim, bool) or not isinstance(nsim, int | np.integer):
        raise TypeError(f"nsim must be a positive integer; got {nsim!r}")
    Interval("nsim", 1, None)(nsim)
    rng = np.random.default_rng(seed)
    frame = result.data.frame if newdata is None else newdata
    rows = new_rows(result, frame, with_covariance=True)
    mean = rows.x @ result._info.beta
    out = np.full((mean.size, int(nsim)), np.nan)
    for idx, s in zip(rows.subjects, rows.blocks, strict=True):
        mu = mean[idx]
        cov = s
        target = idx
        if method == "conditional":
            obs = np.isfinite(rows.y[idx])
            out[idx[obs]] = rows.y[idx[obs], None]
            if obs.all():
                continue
            if obs.any():
                s_oo = s[np.ix_(obs, obs)]
                s_mo = s[np.ix_(~obs, obs)]
                k = np.linalg.solve(s_oo, s_mo.T).T
                mu = mu[~obs] + k @ (rows.y[idx[obs]] - mean[idx[obs]])
                cov = s[np.ix_(~obs, ~obs)] - k @ s_mo.T
                target = idx[~obs]
        chol = np.linalg.cholesky(cov)
        z = rng.standard_normal((target.size, int(nsim)))
        out[target] = mu[:, None] + chol @ z
    return out
