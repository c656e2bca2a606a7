"""Every registered covariance structure obeys the same contract (scikit-learn style).

For each structure in ``resolve.stats.mmrm.covariance.STRUCTURES``, at random
parameters, several visit counts and (for spatial structures) random coordinates:

* ``blocks`` gives symmetric positive-definite ``S`` of the right shape;
* its first derivatives ``dS`` equal central finite differences of ``S``;
* ``hessian_blocks`` equals central finite differences of ``dS`` and is symmetric;
* the contractions the likelihood and Kenward-Roger use instead of the full second
  derivatives (``hessian_dot``, ``hessian_weighted``; closed forms for ``us``) equal
  the same contractions of ``hessian_blocks``;
* ``start`` on a covariance matrix of the structure's own form gives finite
  parameters whose ``S`` is positive definite, and, for the structures whose start
  is a moment estimator of their own parameters, gives that matrix back; for the
  others (``refine_start``) the fit's refinement of the start gives it back;
* ``sas_params`` names each parameter once, with positive variances.

A structure added to the registry is checked by adding nothing here.
"""

from __future__ import annotations

import numpy as np
import pytest

from resolve.stats.mmrm.covariance import STRUCTURES, Structure, get_structure
from resolve.stats.mmrm.fit import _moment_fit

NAMES = sorted(STRUCTURES)
#: Structures whose ``start`` recovers a matrix of their own form exactly.
EXACT_START = {"us", "cs", "csh", "ar1", "ar1h", "ri"}
#: Toeplitz correlations are one free correlation per lag (as R mmrm and SAS TOEP), so
#: not every parameter vector gives a positive-definite matrix; the likelihood treats
#: those as infeasible (tested below). Every other parametrisation is PD everywhere.
NOT_PD_EVERYWHERE = {"toep", "toeph"}


def _geometry(structure: Structure, m: int, rng: np.random.Generator) -> np.ndarray | None:
    if not structure.spatial:
        return None
    coords = np.cumsum(rng.uniform(0.5, 2.0, size=(2, m, 2)), axis=1)  # 2 units
    return np.linalg.norm(coords[:, :, None, :] - coords[:, None, :, :], axis=-1)


def _case(name: str, m: int, seed: int) -> tuple[Structure, np.ndarray, np.ndarray | None]:
    structure = get_structure(name)
    rng = np.random.default_rng(seed)
    theta = rng.normal(scale=0.3, size=structure.n_params(m))
    return structure, theta, _geometry(structure, m, rng)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("m", [2, 4, 6])
def test_blocks_are_symmetric_positive_definite(name: str, m: int) -> None:
    for seed in range(5):
        structure, theta, geo = _case(name, m, seed)
        s, ds = structure.blocks(theta, m, geo)
        assert s.ndim == 3 and s.shape[1:] == (m, m)
        assert ds.shape == (s.shape[0], theta.size, m, m)
        np.testing.assert_allclose(s, s.transpose(0, 2, 1), atol=1e-12)
        np.testing.assert_allclose(ds, ds.transpose(0, 1, 3, 2), atol=1e-12)
        if name not in NOT_PD_EVERYWHERE:
            assert np.linalg.eigvalsh(s).min() > 0, (name, m, seed)


@pytest.mark.parametrize("name", sorted(NOT_PD_EVERYWHERE))
def test_toeplitz_outside_the_positive_definite_region_is_infeasible(name: str) -> None:
    import pandas as pd

    from resolve.stats.mmrm.api import make_spec
    from resolve.stats.mmrm.design import build_design
    from resolve.stats.mmrm.fit import make_likelihood

    m = 6
    structure, theta, geo = _case(name, m, 3)  # the non-PD case found above
    s, _ = structure.blocks(theta, m, geo)
    assert np.linalg.eigvalsh(s).min() < 0
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"id": np.repeat(np.arange(40), m), "visit": np.tile(
        [f"v{i}" for i in range(m)], 40), "y": rng.normal(size=40 * m)})  # fmt: skip
    spec = make_spec("y ~ 1", subject="id", visit="visit", cov=name)
    lik = make_likelihood(build_design(spec, data), reml=True)
    assert lik.evaluate(theta, 2).value == np.inf
    # and near zero correlation (where the fits start) the matrix is positive definite
    small = theta * 0.1
    assert np.linalg.eigvalsh(structure.blocks(small, m, geo)[0]).min() > 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("m", [2, 5])
def test_gradient_equals_finite_differences(name: str, m: int) -> None:
    structure, theta, geo = _case(name, m, 11)
    _, ds = structure.blocks(theta, m, geo)
    for k in range(theta.size):
        h = 1e-6 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        fd = (structure.blocks(up, m, geo)[0] - structure.blocks(down, m, geo)[0]) / (2 * h)
        np.testing.assert_allclose(ds[:, k], fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max() + 1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_hessian_equals_finite_differences_of_the_gradient(name: str) -> None:
    m = 4
    structure, theta, geo = _case(name, m, 5)
    hess = structure.hessian_blocks(theta, m, geo)
    k = theta.size
    assert hess.shape[1:] == (k, k, m, m)
    np.testing.assert_allclose(hess, hess.transpose(0, 2, 1, 3, 4), atol=1e-9)
    for j in range(k):
        h = 1e-5 * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        fd = (structure.blocks(up, m, geo)[1] - structure.blocks(down, m, geo)[1]) / (2 * h)
        scale = np.abs(fd).max() + 1e-12
        np.testing.assert_allclose(hess[:, :, j], fd, atol=2e-6 * scale)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("m", [1, 2, 5, 7])
def test_second_derivative_contractions_equal_the_dense_forms(name: str, m: int) -> None:
    for seed in range(3):
        structure, theta, geo = _case(name, m, seed)
        dense = structure.hessian_blocks(theta, m, geo)
        rng = np.random.default_rng(100 + seed)
        b = rng.normal(size=(dense.shape[0], m, m))  # not symmetric: the general case
        w = rng.normal(size=(theta.size, theta.size))
        np.testing.assert_allclose(
            structure.hessian_dot(theta, m, geo, b),
            np.einsum("uklab,uab->kl", dense, b),
            rtol=1e-10,
            atol=1e-10 * np.abs(dense).max(),
        )
        np.testing.assert_allclose(
            structure.hessian_weighted(theta, m, geo, w),
            np.einsum("kl,uklab->uab", w, dense),
            rtol=1e-10,
            atol=1e-10 * np.abs(dense).max(),
        )


@pytest.mark.parametrize("name", NAMES)
def test_start_values(name: str) -> None:
    m = 5
    structure, theta, geo = _case(name, m, 3)
    s, _ = structure.blocks(theta, m, geo)
    target = s[0]
    start = structure.start(target)
    assert start.shape == (structure.n_params(m),) and np.all(np.isfinite(start))
    again, _ = structure.blocks(start, m, geo)
    assert np.linalg.eigvalsh(again).min() > 0
    if name in EXACT_START:
        np.testing.assert_allclose(again[0], target, rtol=1e-8, atol=1e-10)


def _kl(structure: Structure, theta: np.ndarray, c: np.ndarray) -> float:
    s = structure.blocks(theta, c.shape[0], None)[0][0]
    return float(np.linalg.slogdet(s)[1] + np.trace(np.linalg.solve(s, c)))


@pytest.mark.parametrize("name", [n for n in NAMES if get_structure(n).refine_start])
def test_refined_start_is_the_closest_member(name: str) -> None:
    """``refine_start`` structures: the fit's start minimises ``log|S| + tr(S^-1 C)``."""
    m = 6
    structure = get_structure(name)
    lag = np.abs(np.subtract.outer(np.arange(m), np.arange(m)))
    sd = np.linspace(1.0, 2.0, m)
    # a matrix of the structure's own form (AR(1) correlations are in every such family)
    own = 0.6**lag * (np.outer(sd, sd) if structure.heterogeneous else 1.5)
    refined = _moment_fit(structure, own, structure.start(own), tol=1e-14)
    again = structure.blocks(refined, m, None)[0][0]
    np.testing.assert_allclose(again, own, rtol=1e-4, atol=1e-6)
    # a matrix outside it (unequal variances, or an unstructured one): the closest member
    rng = np.random.default_rng(8)
    a = rng.normal(size=(m, 3 * m))
    other = a @ a.T / (3 * m) + 0.6**lag * np.outer(sd, sd)
    closed = structure.start(other)
    assert _kl(structure, _moment_fit(structure, other, closed), other) < _kl(
        structure, closed, other
    )  # the fit's default precision already improves on the closed form
    refined = _moment_fit(structure, other, closed, tol=1e-14)
    assert _kl(structure, refined, other) < _kl(structure, closed, other) - 1e-3
    s, ds = structure.blocks(refined, m, None)
    s_inv = np.linalg.inv(s[0])
    grad = np.einsum("kab,ab->k", ds[0], s_inv - s_inv @ other @ s_inv)
    assert np.abs(grad).max() < 1e-6  # a stationary point of the discrepancy


def _is_variance(label: str) -> bool:
    if label.startswith("UN("):
        i, j = label[3:-1].split(",")
        return i.strip() == j.strip()
    return label.startswith(("Var", "Residual", "Variance"))


@pytest.mark.parametrize("name", NAMES)
def test_sas_parameters(name: str) -> None:
    m = 4
    structure, theta, _ = _case(name, m, 9)
    params = structure.sas_params(theta, m)
    names = [n for n, _ in params]
    assert names and len(names) == len(set(names))
    assert all(np.isfinite(v) for _, v in params)
    variances = [v for n, v in params if _is_variance(n)]
    assert variances and all(v > 0 for v in variances), params
