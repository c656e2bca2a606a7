"""Causal mediation analysis of a randomised treatment (issue 14).

Natural direct and indirect effects by the regression-based approach
(VanderWeele 2015) with treatment-mediator interaction and baseline covariates,
for continuous or binary mediators and a continuous outcome; delta-method,
percentile and BCa bootstrap intervals (participants resampled, the same
resamples for every mediator and outcome); several mediators one at a time,
jointly and as interventional effects; the Imai-Keele-Yamamoto sensitivity
curve for unmeasured mediator-outcome confounding.

* :func:`mediate` — the whole analysis, returning a :class:`MediationResult`;
* :func:`fit_single` — one mediator and one outcome with delta-method inference;
* :func:`rho_curve` — the sensitivity curve of one such fit.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"arm": np.repeat([0, 1], 100)})
>>> df["m"] = 0.5 * df.arm + rng.normal(size=200)
>>> df["y"] = 0.3 * df.arm + 0.4 * df.m + rng.normal(size=200)
>>> fit = fit_single(df, treatment="arm", outcome="y", mediator="m")
>>> round(fit.nie, 3) == round(fit.path("a") * fit.path("b"), 3)
True
"""

from __future__ import annotations

from resolve.analysis.mediation.api import mediate
from resolve.analysis.mediation.regression import SingleMediation, fit_single
from resolve.analysis.mediation.result import MediationResult
from resolve.analysis.mediation.sensitivity import rho_curve

__all__ = ["MediationResult", "SingleMediation", "fit_single", "mediate", "rho_curve"]
