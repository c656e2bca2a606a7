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

from resolve.simulate.latent import calibrate, draw_latent, modified
from resolve.simulate.scenario import Scenario

__all__ = ["draw_latent", "observe"]  # draw_latent re-exported from latent

FloatArray = NDArray[np.float64]


def observe(
    scenario: Scenario, latent: dict[str, FloatArray], arm: NDArray[np.int64]
) -> dict[str, NDArray[np.int64]]:
    """Integer scores from latents; ``arm`` is 0 (reference) or 1 per participant.

    Returns ``pain`` and ``rmdq`` as ``(n, visits)`` arrays (complete data; see
    :mod:`resolve.simulate.missingness`), the questionnaire totals and the 0/1
    ``psychoactive`` flag. Effect modification is applied to arm-1 rows.
    """
    cal = calibrate(scenario)
    weeks = scenario.design.weeks
    arm = np.asarray(arm)
    treated = arm == 1
    out: dict[str, NDArray[np.int64]] = {}
    for k in ("pain", "rmdq"):
        values = np.empty((arm.size, len(weeks)), dtype=np.int64)
        for t, w in enumerate(weeks):
            z = latent[f"{k}_w{w}"]
            if (k, t) in cal.kappa:
                modifier, kappa, c = cal.kappa[(k, t)]
                z = z.copy()
                z[treated] = modified(z[treated], latent[modifier][treated], kappa, c)
            for a in (0, 1):
                rows = arm == a
                values[rows, t] = cal.marginals[(k, a, t)].transform(z[rows])
        out[k] = values
    for s in scenario.scales:
        out[s.name] = cal.marginals[s.name].transform(latent[s.name])
    out["psychoactive"] = cal.marginals["psychoactive"].transform(latent["psychoactive"])
    return out
