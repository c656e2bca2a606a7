"""Bootstrap resampling and intervals; delta-method SEs against the bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from resolve.analysis.mediation.bootstrap import (
    MIN_BCA_DRAWS,
    bca_ci,
    bootstrap_indices,
    jackknife_weights,
    percentile_ci,
    percentile_p_value,
    resample_weights,
)
from resolve.analysis.mediation.regression import MediatorType, fit_single, point_estimates
from resolve.errors import DataValidationError


def test_indices_reproducible_by_seed_and_seeds_differ() -> None:
    a = bootstrap_indices(50, boot=20, seed=3)
    assert a.shape == (20, 50) and a.min() >= 0 and a.max() <= 49
    assert np.array_equal(a, bootstrap_indices(50, boot=20, seed=3))
    assert not np.array_equal(a, bootstrap_indices(50, boot=20, seed=4))
    # resamples are not all alike and draw with replacement
    assert len({tuple(r) for r in a}) == 20
    assert all(len(set(r)) < 50 for r in a)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 1, "boot": 10, "seed": 1}, "n must be an integer >= 2"),
        ({"n": 10, "boot": 0, "seed": 1}, "boot must be an integer >= 1"),
        ({"n": 10, "boot": 10, "seed": -1}, "seed must be an integer >= 0"),
        ({"n": 10, "boot": True, "seed": 1}, "boot must be an integer"),
        ({"n": 10, "boot": 10, "seed": 1.5}, "seed must be an integer"),
    ],
)
def test_indices_refuse_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        bootstrap_indices(**kwargs)  # type: ignore[arg-type]


def test_resample_and_jackknife_weights() -> None:
    idx = np.array([[0, 0, 3, 1], [2, 2, 2, 2]])
    assert resample_weights(idx, 4).tolist() == [[2, 1, 0, 1], [0, 0, 4, 0]]
    w = resample_weights(bootstrap_indices(30, 50, seed=1), 30)
    assert np.all(w.sum(axis=1) == 30)
    jk = jackknife_weights(4)
    assert np.all(np.diag(jk) == 0) and jk.sum() == 12
    with pytest.raises(DataValidationError, match=r"indices must lie in \[0, 3\]"):
        resample_weights(np.array([[0, 4]]), 4)


def test_percentile_interval_and_p_value() -> None:
    d = np.arange(1001.0)
    assert percentile_ci(d, 0.95) == pytest.approx((25.0, 975.0), abs=1e-9)
    # order of draws is irrelevant; linear interpolation between order statistics (R type 7)
    rng = np.random.default_rng(0)
    assert percentile_ci(rng.permutation(d), 0.95) == pytest.approx((25.0, 975.0), abs=1e-9)
    assert percentile_ci([0.0, 10.0], 0.5) == pytest.approx((2.5, 7.5), abs=1e-12)
    assert percentile_p_value(d - 100.0) == pytest.approx(2 * 101 / 1001)
    with pytest.raises(DataValidationError, match="1 non-finite value"):
        percentile_ci(np.r_[d, np.nan], 0.95)
    with pytest.raises(DataValidationError, match="conf_level"):
        percentile_ci(d, 95)


def test_bca_equals_scipy_on_the_same_draws() -> None:
    """scipy.stats.bootstrap (BSD) with method="BCa" on its own bootstrap distribution."""
    x = np.random.default_rng(3).exponential(size=25)
    res = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=2000,
        method="BCa",
        rng=np.random.default_rng(42),
        vectorized=True,
    )
    jack = (x.sum() - x) / (x.size - 1)
    ours = bca_ci(res.bootstrap_distribution, x.mean(), jack, 0.95)
    assert ours == pytest.approx(tuple(res.confidence_interval), abs=1e-12)


def test_bca_handles_ties_like_scipy() -> None:
    """A discrete statistic (median of 30 values, 15 low and 15 high): many draws tie it."""
    rng = np.random.default_rng(8)
    x = np.r_[rng.integers(0, 3, size=15), rng.integers(3, 6, size=15)].astype(float)
    res = stats.bootstrap(
        (x,),
        np.median,
        n_resamples=1000,
        method="BCa",
        rng=np.random.default_rng(1),
    )
    draws = res.bootstrap_distribution
    assert np.sum(draws == np.median(x)) > 100
    jack = np.array([np.median(np.delete(x, i)) for i in range(x.size)])
    ours = bca_ci(draws, float(np.median(x)), jack, 0.95)
    assert ours == pytest.approx(tuple(res.confidence_interval), abs=1e-12)


def test_bca_is_closer_than_percentile_to_the_exact_interval_for_a_skewed_statistic() -> None:
    """Mean of exponential data: exact interval 2n·x̄ / χ²_{2n}; BCa is second-order accurate."""
    n, boot = 25, 4000
    err_bca, err_pct = [], []
    for s in range(30):
        x = np.random.default_rng(s).exponential(size=n)
        draws = resample_weights(bootstrap_indices(n, boot, seed=100 + s), n) @ x / n
        jack = (x.sum() - x) / (n - 1)
        exact = 2 * n * x.mean() / stats.chi2.ppf([0.975, 0.025], 2 * n)
        err_bca.append(np.abs(np.log(np.array(bca_ci(draws, x.mean(), jack, 0.95)) / exact)))
        err_pct.append(np.abs(np.log(np.array(percentile_ci(draws, 0.95)) / exact)))
    mean_bca, mean_pct = np.mean(err_bca, axis=0), np.mean(err_pct, axis=0)
    assert np.all(mean_bca < mean_pct)
    assert np.all(mean_bca < 0.1)


def test_bca_refuses_what_it_cannot_do() -> None:
    d = np.linspace(0.0, 1.0, 500)
    with pytest.raises(DataValidationError, match=f"boot must be at least {MIN_BCA_DRAWS}"):
        bca_ci(d[:50], 0.5, np.array([0.4, 0.5, 0.6]), 0.95)
    with pytest.raises(DataValidationError, match="outside the range"):
        bca_ci(d, 2.0, np.array([0.4, 0.5, 0.6]), 0.95)
    with pytest.raises(DataValidationError, match="non-finite"):
        bca_ci(d, 0.5, np.array([0.4, np.nan]), 0.95)
    # all draws equal to the estimate: z0 = 0, a degenerate but defined interval
    assert bca_ci(np.full(200, 3.0), 3.0, np.array([3.0, 3.0]), 0.95) == (3.0, 3.0)


def _data(n: int, seed: int, *, binary: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"arm": rng.integers(0, 2, n), "c": rng.normal(size=n)})
    if binary:
        df["m"] = rng.binomial(1, special.expit(-0.3 + 0.8 * df.arm + 0.6 * df.c))
    else:
        df["m"] = 0.5 * df.arm + 0.6 * df.c + rng.normal(size=n)
    df["y"] = 0.3 * df.arm + 0.4 * df.m + 0.25 * df.arm * df.m + 0.8 * df.c + rng.normal(size=n)
    return df


@pytest.mark.parametrize("binary", [False, True])
def test_delta_method_se_matches_bootstrap_sd_on_large_n(binary: bool) -> None:
    df = _data(3000, seed=7 if binary else 6, binary=binary)
    kind: MediatorType = "binary" if binary else "continuous"
    fit = fit_single(
        df,
        treatment="arm",
        outcome="y",
        mediator="m",
        covariates=["c"],
        interaction=True,
        mediator_type=kind,
    )
    W = resample_weights(bootstrap_indices(len(df), boot=1000, seed=11), len(df))
    draws = point_estimates(df.arm, df.m, df.y, df[["c"]], W, interaction=True, mediator_types=kind)
    assert draws.ok.all()
    # the SD of 1000 draws has a relative Monte-Carlo error of about 1/sqrt(2000) = 2.2%
    for effect in ("nde", "nie", "te"):
        sd = float(np.std(getattr(draws, effect), ddof=1))
        assert getattr(fit, f"{effect}_se") == pytest.approx(sd, rel=0.10), effect
