"""Spatial structures lay subjects out by visit when coordinates are the visit's.

When every row of a visit has the same coordinates (``VISITN``), the design uses
the visit slots and one distance matrix per group, like every other structure;
otherwise (coordinates that differ between subjects at a visit, ``VISITN2`` in
fev) slots are positions within subject with one distance matrix per distinct
set of coordinates. Both layouts describe the same covariance for every subject,
so forcing the second on data that allow the first must give the same fit; the
SAS goldens (tests/stats/test_mmrm_sas.py, test_mmrm_spatial_gau.py) cover both
layouts against SAS.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from resolve.stats import mmrm
from resolve.stats.mmrm.design import _coordinates_of_visits

DESIGN = sys.modules["resolve.stats.mmrm.design"]


def _fit(fev: pd.DataFrame, cov: str, coords: tuple[str, ...], group: str | None = None):  # type: ignore[no-untyped-def]
    return mmrm(
        "FEV1 ~ ARMCD * AVISIT + FEV1_BL",
        fev,
        subject="USUBJID",
        visit="AVISIT",
        cov=cov,
        coordinates=coords,
        group=group,
    )


@pytest.mark.parametrize(
    ("cov", "group"), [("sp_exp", None), ("sp_gau", None), ("sp_pow", "ARMCD")]
)
def test_visit_layout_equals_position_layout(
    fev: pd.DataFrame, cov: str, group: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_visit = _fit(fev, cov, ("VISITN",), group)
    n_groups = 1 if group is None else 2
    assert by_visit.data.slots_are_visits
    assert by_visit.data.cov_model.unit_group.size == n_groups
    monkeypatch.setattr(DESIGN, "_coordinates_of_visits", lambda *a: None)
    by_position = _fit(fev, cov, ("VISITN",), group)
    assert not by_position.data.slots_are_visits
    assert by_position.data.cov_model.unit_group.size > 10 * n_groups
    assert by_visit.loglik == pytest.approx(by_position.loglik, rel=1e-10)
    np.testing.assert_allclose(by_visit.theta, by_position.theta, rtol=1e-5, atol=1e-7)
    a, b = by_visit.to_frame(), by_position.to_frame()
    for col in ("estimate", "std_error", "df", "p_value"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-6, err_msg=col)
    # the visit layout's covariance is labelled by visit
    (vc,) = by_visit.varcor.values() if group is None else list(by_visit.varcor.values())[:1]
    assert list(vc.index) == list(by_visit.data.visits)


def test_coordinates_that_differ_within_a_visit_keep_the_position_layout(
    fev: pd.DataFrame,
) -> None:
    fit = _fit(fev, "sp_exp", ("VISITN", "VISITN2"))
    assert not fit.data.slots_are_visits
    (vc,) = fit.varcor.values()
    assert list(vc.index) == [str(i + 1) for i in range(fit.data.cov_model.m)]
    # the matrix shown is of a subject with every position: distances all positive
    assert np.all(np.diag(vc.to_numpy(), -1) < vc.to_numpy()[0, 0])


def test_coordinates_of_visits() -> None:
    visit = np.array([0, 1, 2, 0, 1, 2])
    same = np.array([[1.0], [2.0], [4.0], [1.0], [2.0], [4.0]])
    np.testing.assert_array_equal(_coordinates_of_visits(same, visit, 3), [[1.0], [2.0], [4.0]])
    differ = same.copy()
    differ[4, 0] = 2.5
    assert _coordinates_of_visits(differ, visit, 3) is None
    assert _coordinates_of_visits(same, visit, 4) is None  # a visit without rows


def _days(fev: pd.DataFrame) -> pd.DataFrame:
    """fev with visits about 28 days apart, each subject on its own days (+-3)."""
    data = fev.copy()
    rng = np.random.default_rng(1)
    data["DAY"] = data["VISITN"] * 28 + rng.integers(-3, 4, len(data))
    return data


def test_many_coordinate_sets_batched_hessian_equals_the_loop(
    fev: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MANY_UNITS units the Hessian is batched over patterns; same numbers as the loop."""
    from resolve.stats.mmrm.fit import start_values
    from resolve.stats.mmrm.likelihood import Likelihood

    lik_module = sys.modules["resolve.stats.mmrm.likelihood"]
    fit = _fit(_days(fev), "sp_exp", ("DAY",))
    data = fit.data
    assert data.cov_model.unit_group.size > lik_module.MANY_UNITS
    for theta in (fit.theta, start_values(data)):
        batched = Likelihood(data, True).evaluate(theta, 2)
        monkeypatch.setattr(lik_module, "MANY_UNITS", 10**9)
        looped = Likelihood(data, True).evaluate(theta, 2)
        monkeypatch.undo()
        assert batched.value == looped.value
        np.testing.assert_allclose(batched.gradient, looped.gradient, rtol=1e-10)
        np.testing.assert_allclose(batched.hessian, looped.hessian, rtol=1e-9)
        np.testing.assert_allclose(batched.jacobian, looped.jacobian, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("cov", ["sp_exp", "sp_gau"])
def test_start_is_per_unit_of_distance(fev: pd.DataFrame, cov: str) -> None:
    """Coordinates in days (28 per visit) fit as in visits: same fit, as few Newton steps.

    The start reads the neighbouring visits' correlation; it is converted to one per
    unit of distance (the median distance between neighbours), without which a
    start of rho = 0.5 per day made the correlation at 28 days ~4e-9 and Newton
    crawled across a flat likelihood.
    """
    data = fev.copy()
    data["DAY"] = data["VISITN"] * 28.0
    visits = _fit(data, cov, ("VISITN",))
    days = _fit(data, cov, ("DAY",))
    assert days.loglik == pytest.approx(visits.loglik, rel=1e-10)
    np.testing.assert_allclose(
        days.to_frame()["std_error"], visits.to_frame()["std_error"], rtol=1e-6
    )
    # the same start (the logit of rho is not scale-invariant, so Newton's path may differ
    # by a step); without the conversion the days fit crawled for hundreds of iterations
    assert len(days.convergence.attempts) == 1
    assert days.convergence.attempts[0].iterations <= visits.convergence.attempts[0].iterations + 1
    # per-subject days: converges in a few Newton steps with the first optimiser
    own = _fit(_days(fev), cov, ("DAY",))
    assert len(own.convergence.attempts) == 1
    assert own.convergence.attempts[0].iterations <= 8
