"""mmrm_batch: per-replicate results equal independent fits; failures are flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resolve.stats import FitControl, mmrm, mmrm_batch

FORMULA = "y ~ base + arm * visit"
KW = {"subject": "id", "visit": "visit"}


def _simulate(n_trials: int, seed: int = 3, n_subjects: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    visits = np.array(["V1", "V2", "V3", "V4"])
    cov = 0.5 ** np.abs(np.subtract.outer(np.arange(4), np.arange(4))) * 25.0
    chol = np.linalg.cholesky(cov)
    arm = np.repeat(np.array(["PBO", "TRT"]), n_subjects // 2)
    frames = []
    for r in range(n_trials):
        base = rng.normal(50.0, 10.0, n_subjects)
        y = 0.5 * base[:, None] + (arm == "TRT")[:, None] * 2.0
        y = y + rng.standard_normal((n_subjects, 4)) @ chol.T
        last = np.where(rng.random(n_subjects) < 0.2, rng.integers(1, 4, n_subjects), 4)
        ii, vv = np.nonzero(np.arange(4)[None, :] < last[:, None])
        frames.append(
            pd.DataFrame(
                {
                    "rep": f"r{r}",
                    "id": ii,
                    "arm": arm[ii],
                    "visit": visits[vv],
                    "base": base[ii],
                    "y": y[ii, vv],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def sims() -> pd.DataFrame:
    return _simulate(4)


@pytest.mark.parametrize("cov", ["us", "ri"])
def test_batch_equals_individual_fits(sims: pd.DataFrame, cov: str) -> None:
    out = mmrm_batch(FORMULA, sims, replicate="rep", cov=cov, keep_results=True, **KW)
    assert out.fits.converged.all() and len(out.fits) == 4
    tab = out.to_frame()
    for rep, frame in sims.groupby("rep"):
        single = mmrm(FORMULA, frame.drop(columns="rep"), cov=cov, **KW)
        want = single.to_frame()
        got = tab[tab.replicate == rep].reset_index(drop=True)
        for col in ("std_error", "df"):
            np.testing.assert_allclose(got[col], want[col], rtol=1e-8)
        # estimates near zero: 1e-8 relative to max(|estimate|, its standard error)
        scale = np.maximum(np.abs(want.estimate), want.std_error)
        assert np.all(np.abs(got.estimate - want.estimate) <= 1e-8 * scale)
        # p-values amplify the ~1e-9 relative optimiser noise in df/SE by about |t|
        np.testing.assert_allclose(got.p_value, want.p_value, rtol=1e-7, atol=1e-14)
        assert list(got.term) == list(want.term)
        ll = float(out.fits.set_index("replicate").loc[rep, "loglik"])
        assert ll == pytest.approx(single.loglik, rel=1e-10)
        assert out.results[rep] is not None


def test_shuffled_order_and_list_input(sims: pd.DataFrame) -> None:
    terms = ["armTRT", "armTRT:visitV4"]
    a = mmrm_batch(FORMULA, sims, replicate="rep", terms=terms, **KW).to_frame()
    shuffled = sims.sample(frac=1.0, random_state=7)
    b = mmrm_batch(FORMULA, shuffled, replicate="rep", terms=terms, **KW).to_frame()
    reps = sorted(sims.rep.unique(), reverse=True)
    c = mmrm_batch(FORMULA, [sims[sims.rep == r] for r in reps], terms=terms, **KW).to_frame()
    c["replicate"] = [reps[i] for i in c.replicate]
    key = ["replicate", "term"]
    a, b, c = (t.sort_values(key).reset_index(drop=True) for t in (a, b, c))
    for other in (b, c):
        for col in ("estimate", "std_error", "df", "p_value"):
            np.testing.assert_allclose(a[col], other[col], rtol=1e-8)
    assert set(a.term) == set(terms)


def test_parallel_workers_match_serial(sims: pd.DataFrame) -> None:
    terms = ["armTRT", "armTRT:visitV4"]
    serial = mmrm_batch(FORMULA, sims, replicate="rep", terms=terms, **KW)
    parallel = mmrm_batch(FORMULA, sims, replicate="rep", terms=terms, n_jobs=2, **KW)
    a, b = serial.to_frame(), parallel.to_frame()
    assert list(a.replicate) == list(b.replicate) and list(a.term) == list(b.term)
    for col in ("std_error", "df"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-8)
    scale = np.maximum(np.abs(a.estimate), a.std_error)
    assert np.all(np.abs(a.estimate - b.estimate) <= 1e-8 * scale)
    np.testing.assert_allclose(serial.fits.loglik, parallel.fits.loglik, rtol=1e-10)
    with pytest.raises(ValueError, match="n_jobs"):
        mmrm_batch(FORMULA, sims, replicate="rep", n_jobs=0, **KW)


def test_non_converging_replicate_is_flagged(sims: pd.DataFrame) -> None:
    bad = sims[sims.rep == "r1"].copy()
    bad["rep"] = "bad"
    bad = bad[bad.visit.isin(["V1", "V2"])]  # only two visits: 'us' on V3/V4 is impossible
    bad.loc[bad.visit == "V2", "y"] = np.nan
    data = pd.concat([sims, bad], ignore_index=True)
    control = FitControl(optimizers=("newton",), max_iter=3)
    out = mmrm_batch(FORMULA, data, replicate="rep", control=control, **KW)
    fits = out.fits.set_index("replicate")
    assert not bool(fits.loc["bad", "converged"])
    assert fits.loc["bad", "message"]
    rows = out.to_frame()
    bad_rows = rows[rows.replicate == "bad"]
    assert len(bad_rows) > 0 and bad_rows.estimate.isna().all() and not bad_rows.converged.any()
    assert out.n_failed >= 1
    assert "not converged" in out.summary()


def test_unknown_term_and_missing_replicate_column(sims: pd.DataFrame) -> None:
    from resolve.errors import DataValidationError

    with pytest.raises(DataValidationError, match="replicate column"):
        mmrm_batch(FORMULA, sims, replicate="nope", **KW)
    with pytest.raises(DataValidationError, match="not coefficients"):
        mmrm_batch(FORMULA, sims, replicate="rep", terms=["zzz"], **KW)


@pytest.mark.parametrize("cov", ["sp_exp", "sp_pow", "sp_gau"])
def test_spatial_structures_are_refused(sims: pd.DataFrame, cov: str) -> None:
    with pytest.raises(ValueError, match="does not support spatial"):
        mmrm_batch(FORMULA, sims, replicate="rep", cov=cov, **KW)


def test_coordinates_need_a_spatial_structure(sims: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="only used with the spatial structures"):
        mmrm(FORMULA, sims[sims.rep == 0], cov="us", coordinates="rep", **KW)


def test_workers_are_kept_warm_and_progress_is_reported(sims: pd.DataFrame) -> None:
    from resolve.stats.mmrm import batch

    batch.shutdown_workers()
    terms = ["armTRT"]
    seen: list[tuple[int, int]] = []
    first = mmrm_batch(FORMULA, sims, replicate="rep", terms=terms, n_jobs=2,
                       progress=lambda d, t: seen.append((d, t)), **KW)  # fmt: skip
    n = sims.rep.nunique()
    assert seen and seen[-1] == (n, n) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    pool = batch._POOLS[2]
    pids = {p.pid for p in pool._processes.values()}  # the kept workers
    again = mmrm_batch(FORMULA, sims, replicate="rep", terms=terms, n_jobs=2, **KW)
    assert batch._POOLS[2] is pool and {p.pid for p in pool._processes.values()} == pids
    pd.testing.assert_frame_equal(first.to_frame(), again.to_frame())
    # a killed worker is replaced: the next call starts a fresh pool and still succeeds
    for proc in list(pool._processes.values()):
        proc.kill()
        proc.join()
    third = mmrm_batch(FORMULA, sims, replicate="rep", terms=terms, n_jobs=2, **KW)
    pd.testing.assert_frame_equal(first.to_frame(), third.to_frame())
    batch.shutdown_workers()
    assert not batch._POOLS
    # serial runs report progress too, task by task
    seen.clear()
    mmrm_batch(FORMULA, sims, replicate="rep", terms=terms,
               progress=lambda d, t: seen.append((d, t)), **KW)  # fmt: skip
    assert seen[-1] == (n, n)
