"""The dropout intercept solver: stacked rows equal rows solved one by one."""

from __future__ import annotations

import numpy as np
from scipy import special

from resolve.simulate.missingness import solve_intercepts


def test_stacked_solve_equals_row_by_row() -> None:
    rng = np.random.default_rng(4)
    eta = rng.normal(scale=[[0.2], [1.0], [2.5], [0.7], [1.5]], size=(5, 140))
    target = np.array([0.0, 13.0, 70.0, 140.0, 1.0])
    stacked = solve_intercepts(eta, target)
    one_by_one = np.array([solve_intercepts(eta[[k]], target[[k]])[0] for k in range(5)])
    np.testing.assert_array_equal(stacked, one_by_one)
    assert stacked[0] == -np.inf and stacked[3] == np.inf
    inner = [1, 2, 4]
    sums = special.expit(stacked[inner, None] + eta[inner]).sum(axis=1)
    np.testing.assert_allclose(sums, target[inner], atol=1e-9)
