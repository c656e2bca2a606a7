"""Multiple imputation: Rubin's rules by hand, recovery under MAR, determinism, no zero-filling.

``tests/reference/r/resolve_mi_pool.csv`` (written by ``resolve_mi.R``: R mice, PMM by arm,
m = 20, then ``pool``) is compared only loosely: MI is stochastic and R's random streams
are not numpy's, so pooled estimates must agree within 2 pooled standard errors.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from resolve import datasets
from resolve.analysis.mi import impute, multiple_imputation, rubin_pool
from resolve.analysis.plan import Plan
from resolve.errors import DataValidationError

R_DIR = Path(__file__).resolve().parents[1] / "reference" / "r"
MODS = ["pseq", "pcs", "pain_baseline", "psychoactive", "frebaq", "tsk", "rmdq_baseline", "bbq"]
VISITS = ["baseline", "week 12", "week 18", "week 26", "week 52"]


# ----------------------------------------------------------------------------- Rubin
def test_rubin_pool_hand_example() -> None:
    # Q = 1.0, 1.2, 0.8; U = .04, .05, .06; m = 3; complete-data df 100
    r = rubin_pool([1.0, 1.2, 0.8], [0.04, 0.05, 0.06], df_complete=100)
    W, B = 0.05, 0.04
    T = W + (1 + 1 / 3) * B
    lam = (1 + 1 / 3) * B / T
    df_old = 2 / lam**2
    df_obs = 101 / 103 * 100 * (1 - lam)
    df = df_old * df_obs / (df_old + df_obs)
    riv = (1 + 1 / 3) * B / W
    assert (r.estimate, r.within, r.between) == (
        pytest.approx(1.0),
        pytest.approx(W),
        pytest.approx(B),
    )
    assert r.total == pytest.approx(T) and r.std_error == pytest.approx(np.sqrt(T))
    assert r.df == pytest.approx(df) and r.df == pytest.approx(6.48212083512222)
    assert r.riv == pytest.approx(riv) and r.lambda_ == pytest.approx(lam)
    assert r.fmi == pytest.approx((riv + 2 / (df + 3)) / (riv + 1))


def test_rubin_pool_no_between_variance_and_large_samples() -> None:
    r = rubin_pool([2.0, 2.0, 2.0, 2.0], [0.1] * 4, df_complete=50)
    # lambda floored at 1e-4 as in mice::pool: df just below the complete-data df_obs
    assert r.between == 0 and r.std_error == pytest.approx(np.sqrt(0.1))
    df_obs = 51 / 53 * 50 * (1 - 1e-4)
    df_old = 3 / 1e-4**2
    assert r.df == pytest.approx(df_old * df_obs / (df_old + df_obs), rel=1e-12)
    big = rubin_pool([1.0, 1.1], [0.01, 0.01], df_complete=np.inf)
    lam = 1.5 * 0.005 / (0.01 + 1.5 * 0.005)
    assert big.df == pytest.approx(1 / lam**2)
    with pytest.raises(DataValidationError, match="at least 2"):
        rubin_pool([1.0], [0.1], df_complete=10)


# ----------------------------------------------------------------------------- MICE
def test_bundled_trial_result_shape_and_r_sanity(data: pd.DataFrame, plan: Plan) -> None:
    out = multiple_imputation(data, plan)
    assert list(out.columns[:10]) == [
        "outcome", "visit", "model", "estimate", "std_error", "df", "conf_low", "conf_high",
        "p_value", "fmi",
    ]  # fmt: skip
    assert len(out) == 8 and (out.m == plan.analysis.mi_m).all() and (out.n == 276).all()
    assert ((out.fmi > 0) & (out.fmi < 0.5)).all()
    r = pd.read_csv(R_DIR / "resolve_mi_pool.csv")
    both = out.merge(r, on=["outcome", "visit"], suffixes=("", "_r"))
    assert len(both) == 8
    assert (np.abs(both.estimate - both.estimate_r) < 2 * both.std_error_r).all()
    np.testing.assert_allclose(both.std_error, both.std_error_r, rtol=0.25)


def test_same_seed_same_result_other_seed_differs(data: pd.DataFrame, plan: Plan) -> None:
    a = multiple_imputation(data, plan, m=4, maxit=3)
    b = multiple_imputation(data, plan, m=4, maxit=3)
    c = multiple_imputation(data, plan, m=4, maxit=3, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.estimate, c.estimate)


def test_imputations_keep_observed_values_and_never_zero_fill(
    data: pd.DataFrame, plan: Plan
) -> None:
    # shift pain so that 0 is impossible: any zero would be a fill, not a PMM donor value
    shifted = data.assign(pain=data["pain"] + 20)
    imps = impute(shifted, _without_ranges(plan), m=3, maxit=2)
    key = ["id", "visit"]
    orig = shifted.set_index(key).sort_index()
    for imp in imps:
        done = imp.set_index(key).sort_index().loc[orig.index]
        assert done[["pain", "rmdq"]].notna().all().all()
        obs = orig.pain.notna()
        np.testing.assert_array_equal(done.pain[obs], orig.pain[obs])
        assert (done.pain >= 20).all()  # observed range 20..30; nothing became 0
        # PMM imputes values observed in the same variable
        for v in VISITS[1:]:
            seen = set(orig.pain.xs(v, level="visit").dropna())
            filled = done.pain.xs(v, level="visit")[orig.pain.xs(v, level="visit").isna()]
            assert set(filled) <= seen
    assert not imps[0].equals(imps[1])


def test_bad_settings_are_refused(data: pd.DataFrame, plan: Plan) -> None:
    with pytest.raises(DataValidationError, match="m"):
        multiple_imputation(data, plan, m=1)
    with pytest.raises(DataValidationError, match="maxit"):
        multiple_imputation(data, plan, m=2, maxit=0)


def _without_ranges(plan: Plan) -> Plan:
    """The plan without outcome ranges: these tests use values outside the NRS/RMDQ scales
    (shifted or simulated on a continuous scale), which the plan's ranges would refuse; nor
    Table 1's descriptive columns (age, sex), which the simulated trials here do not carry."""
    return replace(
        plan,
        outcomes=tuple(replace(o, range=None) for o in plan.outcomes),
        analysis=replace(plan.analysis, describe=(), describe_labels={}),
    )


def _simulated_trial(rng: np.random.Generator, n: int = 600) -> tuple[pd.DataFrame, float]:
    """Full data with a known treatment effect (-1.0 on pain at every visit)."""
    base = datasets.load("resolve").query("visit == 'baseline'")
    pick = base.sample(n=n, replace=True, random_state=int(rng.integers(1 << 30)))
    ids = [f"S{i:04d}" for i in range(n)]
    trt = rng.permutation(np.repeat([0.0, 1.0], n // 2))
    u = rng.normal(0, 1.2, n)
    rows = []
    for k, v in enumerate(VISITS):
        pain = (
            pick.pain_baseline.to_numpy(float)
            if k == 0
            else 1.5 + 0.5 * pick.pain_baseline.to_numpy() + u - 1.0 * trt + rng.normal(0, 1, n)
        )
        rmdq = (
            pick.rmdq_baseline.to_numpy(float)
            if k == 0
            else 1.0 + 0.6 * pick.rmdq_baseline.to_numpy() + 2 * u - 2.0 * trt + rng.normal(0, 2, n)
        )
        f = (
            pick[MODS]
            .reset_index(drop=True)
            .assign(
                id=ids, arm=np.where(trt == 1, "resolve", "sham"), visit=v, pain=pain, rmdq=rmdq
            )
        )
        rows.append(f)
    return pd.concat(rows, ignore_index=True), -1.0


def _ancova_w52(d: pd.DataFrame) -> tuple[float, float]:
    """Complete-case ANCOVA of week-52 pain: (estimate, SE) of resolve - sham."""
    y = d[d.visit == "week 52"].set_index("id").pain
    y0 = d[d.visit == "baseline"].set_index("id").pain.reindex(y.index)
    t = (d[d.visit == "week 52"].set_index("id").arm == "resolve").astype(float)
    ok = y.notna()
    X = np.column_stack([np.ones(ok.sum()), t[ok], y0[ok]])
    beta, rss, *_ = np.linalg.lstsq(X, y[ok].to_numpy(), rcond=None)
    cov = np.linalg.inv(X.T @ X) * rss[0] / (ok.sum() - 3)
    return float(beta[1]), float(np.sqrt(cov[1, 1]))


@pytest.mark.parametrize(("method", "slope"), [("norm", 1.2), ("pmm", 0.6)])
def test_recovers_the_effect_under_mar_dropout(
    rng: np.random.Generator, plan: Plan, method: str, slope: float
) -> None:
    """4 simulated trials (600 participants, true effect -1.0) with MAR dropout at week 52
    driven by the observed week-26 pain (log-odds ``slope`` per point). Complete cases are
    biased; MI recovers the full-data estimate. PMM cannot extrapolate into the sparse
    tail of the donors, so it is tested under milder dropout (see the mi module notes)."""
    mi_dev, cc_dev = [], []
    for _ in range(4):
        full, truth = _simulated_trial(rng)
        w26 = full[full.visit == "week 26"].set_index("id").pain
        p_miss = 1 / (1 + np.exp(-(-1.0 + slope * (w26 - w26.mean()))))
        drop = w26.index[rng.uniform(size=len(w26)) < p_miss.to_numpy()]
        sel = full.id.isin(drop) & (full.visit == "week 52")
        miss = full.copy()
        miss.loc[sel, ["pain", "rmdq"]] = np.nan
        full_est, full_se = _ancova_w52(full)
        cc_est, _ = _ancova_w52(miss)
        mi = multiple_imputation(miss, _without_ranges(plan), m=10, method=method)
        row = mi.query("outcome == 'pain' and visit == 'week 52'").iloc[0]
        assert abs(row.estimate - truth) < 3 * row.std_error
        assert row.std_error > full_se  # missing information costs precision
        assert 0.02 < row.fmi < 0.8
        q = stats.t.ppf(0.975, row.df)
        assert row.conf_high == pytest.approx(row.estimate + q * row.std_error)
        mi_dev.append((row.estimate - full_est) / full_se)
        cc_dev.append((cc_est - full_est) / full_se)
    # dropout of high-pain participants flatters complete cases: by about 1.1 full-data SEs
    # under the stronger dropout (slope 1.2; a 4-trial mean exceeds 0.3 in 98% of draws), by
    # about 0.4 under the milder one (slope 0.6; only 2 draws in 3), measured on 60 trials
    if slope > 1:
        assert np.mean(cc_dev) > 0.3
    # the mean of 4 deviations has a Monte-Carlo SD of roughly 0.3-0.4 full-data SEs
    assert abs(np.mean(mi_dev)) < 0.75
    # MI removes the complete-case bias: compared within each trial (paired), which cancels
    # the trial-to-trial noise that an unpaired comparison of two 4-trial means carries
    # (12 trials: mean MI deviation 0.17, complete cases 1.02, paired difference 0.85).
    assert np.mean(np.subtract(cc_dev, mi_dev)) > 0.3
