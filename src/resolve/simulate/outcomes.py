"""Latent draws and their mapping to integer outcomes and questionnaire totals.

See :mod:`resolve.simulate.latent` for the model. All functions are vectorised
over participants (of one or many trials).

Examples
--------
>>> import numpy as np
>>> from resolve.simulate import default_scenario
>>> from resolve.simulate.outcomes import draw_latent, observe
>>> s = default_scenario()
>>> z = draw_latent(s, 4, np.random.default_rng(0))
>>> sorted(z)[:3]
['bbq', 'frebaq', 'pain_w0']
>>> scores = observe(s, z, np.array([0, 1, 0, 1]))
>>> scores["pain"].shape, int(scores["pain"][:, 0].min()) >= 3
((4, 5), True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import special

from resolve.simulate.latent import (
    baseline_values,
    bb_quantile,
    calibrate,
    control_mean,
    draw_latent,
    modifier_values,
    treated_mean,
    treatment_effect,
)
from resolve.simulate.scenario import OUTCOMES, Scenario

__all__ = ["draw_latent", "observe"]  # draw_latent re-exported from latent

FloatArray = NDArray[np.float64]


def observe(
    scenario: Scenario, latent: dict[str, FloatArray], arm: NDArray[np.int64]
) -> dict[str, NDArray[np.int64]]:
    """Integer scores from latents; ``arm`` is 0 (reference) or 1 per participant.

    Returns ``pain`` and ``rmdq`` as ``(n, visits)`` arrays (complete data; see
    :mod:`resolve.simulate.missingness`), the questionnaire totals and the 0/1
    ``psychoactive`` flag. Baseline values do not depend on ``arm``; at
    follow-up, arm-1 rows show the treated potential outcome, whose expected
    value is the control one plus the configured effect ``tau(x)``.
    """
    cal = calibrate(scenario)
    weeks = scenario.design.weeks
    treated = np.asarray(arm) == 1
    base = baseline_values(scenario, cal.marginals, latent)
    mods = modifier_values(base)
    out: dict[str, NDArray[np.int64]] = {}
    for k in OUTCOMES:
        o = scenario.outcome(k)
        values = np.empty((treated.size, len(weeks)), dtype=np.int64)
        values[:, 0] = base[k]
        for t, week in enumerate(weeks[1:], start=1):
            A = control_mean(scenario, cal, k, week, latent[f"prognosis_{k}"])
            tau = treatment_effect(scenario, k, week, mods, centres=cal.centres)
            mu1, _ = treated_mean(o.low, o.high, A, tau)
            mu = np.where(treated, mu1, A)
            rho0, rho1 = cal.followup[(k, week)].rho
            rho = np.where(treated, rho1, rho0)
            u = special.ndtr(latent[f"{k}_w{week}"])
            values[:, t] = o.low + bb_quantile(u, mu - o.low, rho, o.high - o.low)
        out[k] = values
    for s in scenario.scales:
        out[s.name] = base[s.name]
    out["psychoactive"] = base["psychoactive"]
    return out
