"""Missing follow-up visits: missing at random given observed baseline values.

For participant ``i`` in arm ``a`` the probability of missing outcome ``k`` at
visit ``t`` is::

    q[i, k, t] = expit(alpha[a, k, t] + eta_i),
    eta_i = b_pain z(pain_0) + b_rmdq z(rmdq_0) + b_age z(age)

where ``z(.)`` standardises by the scenario's target mean and SD and the ``b``
are ``[missingness]`` (log-odds per SD). ``alpha`` is solved, in every trial
and arm separately, so that ``sum_i q[i, k, t]`` equals the scenario's number
of missing visits: the expected follow-up count is the published one in every
replicate. One uniform ``U_i`` per participant is compared with every ``q``
(``missing = U_i < q``), so a participant missing pain at a visit also misses
RMDQ there (``followup.pain >= followup.rmdq``) and dropout is mostly
monotone (once missing, missing at later visits with higher ``alpha``).
Missingness depends only on always-observed baseline data: MAR.

Examples
--------
>>> import numpy as np
>>> from resolve.simulate.missingness import solve_intercepts
>>> eta = np.random.default_rng(0).normal(size=(2, 100))
>>> alpha = solve_intercepts(eta, np.array([7.0, 7.0]))
>>> q = 1 / (1 + np.exp(-(alpha[:, None] + eta)))
>>> np.round(q.sum(axis=1), 6).tolist()
[7.0, 7.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import special

from resolve.simulate.scenario import Scenario

__all__ = ["dropout_score", "missing_masks", "solve_intercepts"]

FloatArray = NDArray[np.float64]


def solve_intercepts(eta: FloatArray, n_missing: FloatArray, *, iterations: int = 60) -> FloatArray:
    """Per-row ``alpha`` with ``sum_j expit(alpha + eta[row, j]) = n_missing[row]``.

    ``eta`` is ``(rows, n)``; rows with ``n_missing`` 0 get ``-inf`` (none
    missing) and rows with ``n_missing == n`` get ``+inf``. Newton steps are
    clipped to 2 on the logit scale; the sum is monotone in ``alpha``. Each row
    is solved on its own (a row stops one step after its residual is below
    1e-10), so stacking rows into one call gives the same values as one call
    per row.
    """
    n = eta.shape[1]
    target = np.asarray(n_missing, dtype=np.float64)
    inner = (target > 0) & (target < n)
    frac = np.clip(target / n, 1e-9, 1 - 1e-9)
    alpha = np.log(frac / (1 - frac)) - eta.mean(axis=1)
    active = np.flatnonzero(inner)
    for _ in range(iterations):
        if active.size == 0:
            break
        q = special.expit(alpha[active, None] + eta[active])
        f = q.sum(axis=1) - target[active]
        d = (q * (1 - q)).sum(axis=1)
        alpha[active] -= np.clip(f / np.maximum(d, 1e-300), -2.0, 2.0)
        active = active[np.abs(f) >= 1e-10]
    alpha = np.where(target <= 0, -np.inf, alpha)
    return np.asarray(np.where(target >= n, np.inf, alpha), dtype=np.float64)


def dropout_score(
    scenario: Scenario, *, pain0: FloatArray, rmdq0: FloatArray, age: FloatArray
) -> FloatArray:
    """``eta``: the participant part of the log-odds of a missing visit.

    Baseline pain, RMDQ and age are standardised by the scenario's baseline
    means and SDs and weighted by ``[missingness]``.
    """
    m = scenario.missingness
    d = scenario.demographics

    def z(x: FloatArray, outcome: str) -> FloatArray:
        o = scenario.outcome(outcome)
        return np.asarray((x - o.baseline_mean) / o.baseline_sd, dtype=np.float64)

    return np.asarray(
        m.pain_baseline * z(pain0, "pain")
        + m.rmdq_baseline * z(rmdq0, "rmdq")
        + m.age * (age - d.age_mean) / d.age_sd,
        dtype=np.float64,
    )


def missing_masks(
    scenario: Scenario,
    *,
    arm: NDArray[np.int64],
    pain0: FloatArray,
    rmdq0: FloatArray,
    age: FloatArray,
    rng: np.random.Generator,
) -> dict[str, NDArray[np.bool_]]:
    """Boolean ``(trials, n, visits)`` masks (True = missing) for ``pain`` and ``rmdq``.

    Inputs are ``(trials, n)`` arrays; ``arm`` holds 0 (reference) or 1.
    """
    eta = dropout_score(scenario, pain0=pain0, rmdq0=rmdq0, age=age)
    u = rng.random(arm.shape)
    R, n = arm.shape
    T = len(scenario.design.weeks)
    outcomes = ("pain", "rmdq")
    masks = {o: np.zeros((R, n, T), dtype=bool) for o in outcomes}
    for a in (0, 1):
        # participants of arm a, trial by trial (equal arm sizes in every trial);
        # one stacked solve for every outcome and follow-up visit
        rows = arm == a
        size = int(rows[0].sum())
        eta_a = eta[rows].reshape(R, size)
        u_a = u[rows].reshape(R, size)
        cells = [(o, t) for o in outcomes for t in range(1, T)]
        n_miss = np.repeat(
            [
                float(scenario.design.n_per_arm[a] - scenario.followup.counts(o)[a][t - 1])
                for o, t in cells
            ],
            R,
        )
        stacked = np.tile(eta_a, (len(cells), 1))
        alpha = solve_intercepts(stacked, n_miss)
        missing = np.tile(u_a, (len(cells), 1)) < special.expit(alpha[:, None] + stacked)
        for k, (o, t) in enumerate(cells):
            sub = masks[o][:, :, t]
            sub[rows] = missing[k * R : (k + 1) * R].ravel()
            masks[o][:, :, t] = sub
    return masks
