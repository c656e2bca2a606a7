"""Closed-form power (resolve.design.analytic) against independent calculations and simulation."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate, stats

from resolve.design.analytic import (
    ancova_n,
    ancova_power,
    ancova_replicate,
    interaction_n,
    interaction_power,
    interaction_replicate,
)
from resolve.errors import DataValidationError

ALPHA = 0.05
REPS = 2000


def _nct_two_sided(ncp: np.ndarray | float, df: float) -> np.ndarray:
    crit = stats.t.ppf(1 - ALPHA / 2, df)
    return np.asarray(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))


# -- ANCOVA: independent calculations --------------------------------------------------


@pytest.mark.parametrize(
    ("n0", "delta", "sd", "rho", "ratio"),
    [
        (5, 1.5, 2.0, 0.5, 1.0),
        (30, 1.0, 2.0, 0.5, 1.0),
        (40, 1.0, 2.0, 0.6, 2.0),
    ],
)
def test_ancova_exact_equals_quadrature_over_beta(
    n0: int, delta: float, sd: float, rho: float, ratio: float
) -> None:
    # Independent route: B = u/(1+u) ~ Beta(1/2, (n-2)/2), ncp = ncp0 sqrt(1 - B);
    # substitute B = s^2 to remove the B^(-1/2) singularity and integrate with quad.
    n1 = ratio * n0
    n = n0 + n1
    ncp0 = delta / (sd * math.sqrt(1 - rho**2) * math.sqrt(1 / n0 + 1 / n1))
    b = (n - 2) / 2

    def integrand(s: float) -> float:
        dens = 2 * s * stats.beta.pdf(s * s, 0.5, b)
        return float(_nct_two_sided(ncp0 * math.sqrt(1 - s * s), n - 3)) * dens

    expected, err = integrate.quad(integrand, 0, 1, epsabs=1e-11, limit=400)
    assert err < 1e-8
    got = ancova_power(n0, delta, sd, rho, ALPHA, ratio)
    assert got == pytest.approx(expected, abs=1e-6)


def test_ancova_fixed_is_borm_formula_with_noncentral_t() -> None:
    n0, delta, sd, rho = 60, 0.9, 2.3, 0.4
    se = sd * math.sqrt(1 - rho**2) * math.sqrt(2 / n0)
    expected = _nct_two_sided(delta / se, 2 * n0 - 3)
    assert ancova_power(n0, delta, sd, rho, method="fixed") == pytest.approx(float(expected))


def test_ancova_large_n_matches_normal_approximation() -> None:
    n0, sd, rho = 20_000, 2.0, 0.5
    se = sd * math.sqrt(1 - rho**2) * math.sqrt(2 / n0)
    delta = 2.8 * se  # about 80% power
    z = stats.norm.ppf(1 - ALPHA / 2)
    normal = stats.norm.cdf(delta / se - z) + stats.norm.cdf(-delta / se - z)
    assert ancova_power(n0, delta, sd, rho) == pytest.approx(normal, abs=1e-3)
    assert ancova_power(n0, delta, sd, rho) == pytest.approx(0.7995, abs=1e-3)


def test_ancova_fixed_overstates_power_and_the_gap_closes_with_n() -> None:
    gaps = [
        ancova_power(n, 2.0 / math.sqrt(n), 1.0, 0.5, method="fixed")
        - ancova_power(n, 2.0 / math.sqrt(n), 1.0, 0.5)
        for n in (10, 40, 160)
    ]
    assert all(g > 0 for g in gaps)
    assert gaps[0] > gaps[1] > gaps[2]


def test_ancova_null_power_is_alpha_and_sign_does_not_matter() -> None:
    assert ancova_power(25, 0.0, 2.0, 0.3) == pytest.approx(ALPHA, abs=1e-12)
    assert ancova_power(25, -1.0, 2.0, 0.3) == pytest.approx(ancova_power(25, 1.0, 2.0, 0.3))


def test_ancova_correlation_raises_power() -> None:
    powers = [ancova_power(50, 0.8, 2.0, r) for r in (0.0, 0.3, 0.6)]
    assert powers[0] < powers[1] < powers[2]


@pytest.mark.parametrize("ratio", [1.0, 2.0])
def test_ancova_n_is_the_smallest_size_reaching_the_target(ratio: float) -> None:
    n = ancova_n(0.8, 0.8, 2.4, 0.4, ratio=ratio)
    assert ancova_power(n, 0.8, 2.4, 0.4, ratio=ratio) >= 0.8
    assert ancova_power(n - 1, 0.8, 2.4, 0.4, ratio=ratio) < 0.8


# -- interaction: independent calculations ------------------------------------------------


@pytest.mark.parametrize(
    ("n0", "gamma", "sd_x", "sd_e", "ratio"),
    [
        (8, 1.0, 1.0, 1.0, 1.0),
        (40, 0.5, 1.0, 1.2, 2.0),
    ],
)
def test_interaction_exact_equals_monte_carlo_over_the_modifier(
    n0: int, gamma: float, sd_x: float, sd_e: float, ratio: float
) -> None:
    # Independent route: draw the modifier data themselves, compute the conditional
    # OLS variance 1/S0 + 1/S1 from them and average scipy's noncentral-t power.
    n1 = round(ratio * n0)
    rng = np.random.default_rng(13)
    draws = 20_000
    x0 = rng.normal(0.0, sd_x, (draws, n0))
    x1 = rng.normal(0.0, sd_x, (draws, n1))
    s0 = ((x0 - x0.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    s1 = ((x1 - x1.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    cond = _nct_two_sided(gamma / (sd_e * np.sqrt(1 / s0 + 1 / s1)), n0 + n1 - 4)
    mc_se = cond.std(ddof=1) / math.sqrt(draws)
    got = interaction_power(n0, gamma, sd_x, sd_e, ALPHA, ratio)
    assert abs(got - cond.mean()) < 3 * mc_se


def test_interaction_fixed_is_the_textbook_variance() -> None:
    n0, gamma, sd_x, sd_e = 138, 0.18, 4.05, 2.3
    n, p = 2 * n0, 0.5
    se = math.sqrt(sd_e**2 / (n * p * (1 - p) * sd_x**2))
    expected = _nct_two_sided(gamma / se, n - 4)
    got = interaction_power(n0, gamma, sd_x, sd_e, method="fixed")
    assert got == pytest.approx(float(expected))


def test_interaction_large_n_matches_normal_approximation() -> None:
    n0, sd_x, sd_e = 50_000, 1.0, 1.0
    se = sd_e / sd_x * math.sqrt(2 / n0)
    gamma = 2.0 * se
    z = stats.norm.ppf(1 - ALPHA / 2)
    normal = stats.norm.cdf(gamma / se - z) + stats.norm.cdf(-gamma / se - z)
    assert interaction_power(n0, gamma, sd_x, sd_e) == pytest.approx(normal, abs=1e-3)


def test_interaction_needs_about_four_times_the_main_effect_sample() -> None:
    # An effect modification whose effect differs by d between participants 1 SD
    # above and 1 SD below the modifier's mean (gamma = d / (2 sd_x)) needs about
    # four times the sample of a main effect d (Brookes et al. 2004).
    d = 0.3
    n_main = ancova_n(0.8, d, 1.0, 0.0)
    n_int = interaction_n(0.8, d / 2, 1.0, 1.0)
    assert 3.8 < n_int / n_main < 4.2


def test_interaction_n_is_the_smallest_size_reaching_the_target() -> None:
    n = interaction_n(0.9, 0.18, 4.05, 2.3)
    assert interaction_power(n, 0.18, 4.05, 2.3) >= 0.9 > interaction_power(n - 1, 0.18, 4.05, 2.3)


# -- simulation against the formulas --------------------------------------------------


def _rejection(replicate: Callable[..., dict[str, float]], seed: int, *args: float) -> np.ndarray:
    children = np.random.SeedSequence(seed).spawn(REPS)
    return np.array([[*replicate(ss, *args).values()] for ss in children])


@pytest.mark.parametrize(
    ("seed", "args"),
    [
        (101, (30, 1.0, 2.0, 0.5, ALPHA, 1.0)),
        (102, (100, 0.8, 2.4, 0.4, ALPHA, 1.0)),
        (103, (40, 1.0, 2.0, 0.6, ALPHA, 2.0)),
        (104, (30, 0.0, 2.0, 0.5, ALPHA, 1.0)),  # null: type-I error
    ],
)
def test_simulated_ancova_power_within_two_mc_se(seed: int, args: tuple[float, ...]) -> None:
    out = _rejection(ancova_replicate, seed, *args)
    power = ancova_power(*args)
    mc_se = math.sqrt(power * (1 - power) / REPS)
    assert abs(out[:, 0].mean() - power) < 2 * mc_se
    delta = args[1]
    assert abs(out[:, 1].mean() - delta) < 3 * out[:, 1].std(ddof=1) / math.sqrt(REPS)


@pytest.mark.parametrize(
    ("seed", "args"),
    [
        (201, (20, 0.5, 1.0, 1.0, ALPHA, 1.0)),
        (202, (138, 0.18, 4.05, 2.3, ALPHA, 1.0)),
        (203, (40, 0.4, 1.0, 1.2, ALPHA, 2.0)),
        (204, (20, 0.0, 1.0, 1.0, ALPHA, 1.0)),  # null: type-I error
    ],
)
def test_simulated_interaction_power_within_two_mc_se(seed: int, args: tuple[float, ...]) -> None:
    out = _rejection(interaction_replicate, seed, *args)
    power = interaction_power(*args)
    mc_se = math.sqrt(power * (1 - power) / REPS)
    assert abs(out[:, 0].mean() - power) < 2 * mc_se
    gamma = args[1]
    assert abs(out[:, 1].mean() - gamma) < 3 * out[:, 1].std(ddof=1) / math.sqrt(REPS)


def test_replicates_are_reproducible_and_picklable() -> None:
    a = ancova_replicate(np.random.SeedSequence(7), 20, 1.0, 2.0, 0.5)
    b = ancova_replicate(np.random.SeedSequence(7), 20, 1.0, 2.0, 0.5)
    c = ancova_replicate(np.random.default_rng(np.random.SeedSequence(7)), 20, 1.0, 2.0, 0.5)
    assert a == b == c
    assert ancova_replicate(np.random.SeedSequence(8), 20, 1.0, 2.0, 0.5) != a
    for f in (ancova_replicate, interaction_replicate):
        assert pickle.loads(pickle.dumps(f)) is f


def test_replicate_se_is_the_classical_ols_se() -> None:
    rng = np.random.default_rng(5)
    out = interaction_replicate(np.random.default_rng(5), 10, 0.3, 1.0, 1.0)
    t = np.repeat([0.0, 1.0], 10)
    x = rng.normal(0.0, 1.0, 20)
    y = 0.5 * t + 0.3 * x + 0.3 * t * x + rng.normal(0.0, 1.0, 20)
    X = np.column_stack([np.ones(20), t, x, t * x])
    coef = np.linalg.solve(X.T @ X, X.T @ y)
    resid = y - X @ coef
    cov = resid @ resid / 16 * np.linalg.inv(X.T @ X)
    assert out["estimate"] == pytest.approx(coef[3])
    assert out["se"] == pytest.approx(math.sqrt(cov[3, 3]))


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ancova_power(1, 1.0, 2.0, 0.5), "at least 2"),
        (lambda: ancova_power(20, 1.0, 2.0, 1.0), "rho"),
        (lambda: ancova_power(20, 1.0, -2.0, 0.5), "sd"),
        (lambda: ancova_power(20, 1.0, 2.0, 0.5, alpha=1.5), "alpha"),
        (lambda: ancova_power(20, float("nan"), 2.0, 0.5), "delta"),
        (lambda: ancova_power(20, 1.0, 2.0, 0.5, ratio=0.0), "ratio"),
        (lambda: ancova_power(20, 1.0, 2.0, 0.5, method="bogus"), "method"),  # type: ignore[arg-type]
        (lambda: ancova_n(0.01, 1.0, 2.0, 0.5), "power"),
        (lambda: ancova_n(0.8, 0.0, 2.0, 0.5), "delta"),
        (lambda: interaction_power(2, 1.0, 1.0, 1.0), "at least 3"),
        (lambda: interaction_power(20, 1.0, 0.0, 1.0), "sd_x"),
        (lambda: interaction_n(1.0, 1.0, 1.0, 1.0), "power"),
        (lambda: interaction_n(0.8, 0.0, 1.0, 1.0), "gamma"),
        (
            lambda: ancova_replicate(np.random.SeedSequence(1), 15, 1.0, 2.0, 0.5, ratio=1.5),
            "whole",
        ),
        (lambda: ancova_replicate(7, 15, 1.0, 2.0, 0.5), "Generator"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_names_the_argument(call: Callable[[], object], match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        call()
