"""Simulation from a fitted MMRM: moments, reproducibility, conditioning, recovery.

Monte-Carlo checks use fixed seeds and bounds of several Monte-Carlo standard
errors, so they are deterministic and not flaky.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resolve.errors import UnknownNameError
from resolve.stats import MMRMResult, mmrm


@pytest.fixture(scope="module")
def fit_us(fev: pd.DataFrame) -> MMRMResult:
    return mmrm("FEV1 ~ ARMCD * AVISIT", fev, subject="USUBJID", visit="AVISIT", cov="us")


def test_marginal_moments_match_model(fit_us: MMRMResult, fev: pd.DataFrame) -> None:
    """Mean X b and covariance Sigma over 4000 draws, within Monte-Carlo error."""
    nsim = 4000
    new = fev.assign(FEV1=np.nan)
    sims = fit_us.simulate(nsim, seed=11, newdata=new)
    assert sims.shape == (len(fev), nsim)
    mean = fit_us.predict(new)["fit"].to_numpy()
    sigma = fit_us.varcor["all"]
    sd = np.sqrt(np.diag(sigma.loc[fev["AVISIT"], fev["AVISIT"]]))
    z = (sims.mean(axis=1) - mean) / (sd / np.sqrt(nsim))
    assert np.abs(z).max() < 4.5  # 800 rows: max |z| of 800 normals
    # per-visit covariance of one subject with all four visits
    rows = np.flatnonzero(fev["USUBJID"] == "PT2")
    emp = np.cov(sims[rows])
    np.testing.assert_allclose(
        emp, sigma.to_numpy(), atol=5 * np.sqrt(2.0 / nsim) * sigma.to_numpy().diagonal().max()
    )
    # different subjects are independent
    other = np.flatnonzero(fev["USUBJID"] == "PT3")
    assert abs(np.corrcoef(sims[rows[0]], sims[other[0]])[0, 1]) < 5 / np.sqrt(nsim)


def test_seed_reproduces_and_generator_accepted(fit_us: MMRMResult) -> None:
    a = fit_us.simulate(3, seed=5)
    b = fit_us.simulate(3, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fit_us.simulate(3, seed=6))
    assert a.shape == (fit_us.n_obs, 3)


def test_conditional_keeps_observed_and_draws_missing(
    fit_us: MMRMResult, fev: pd.DataFrame
) -> None:
    nsim = 4000
    sims = fit_us.simulate(nsim, seed=3, newdata=fev, method="conditional")
    obs = fev["FEV1"].notna().to_numpy()
    np.testing.assert_array_equal(
        sims[obs], np.repeat(fev["FEV1"].to_numpy()[obs, None], nsim, axis=1)
    )
    pred = fit_us.predict(fev, conditional=True, interval="prediction")
    conf = fit_us.predict(fev, conditional=True, interval="confidence")
    cond_sd = np.sqrt(pred["std_error"] ** 2 - conf["std_error"] ** 2).to_numpy()[~obs]
    z = (sims[~obs].mean(axis=1) - pred["fit"].to_numpy()[~obs]) / (cond_sd / np.sqrt(nsim))
    assert np.abs(z).max() < 4.5
    ratio = sims[~obs].std(axis=1) / cond_sd
    assert np.abs(ratio - 1).max() < 5 / np.sqrt(2 * nsim)


def test_refits_recover_parameters(fev: pd.DataFrame) -> None:
    """Refitting 40 simulated trials recovers b and Sigma on average."""
    fit = mmrm("FEV1 ~ ARMCD * AVISIT", fev, subject="USUBJID", visit="AVISIT", cov="us")
    frame = fit.data.frame
    sims = fit.simulate(40, seed=2024)
    betas, sigmas = [], []
    for k in range(sims.shape[1]):
        refit = mmrm(
            "FEV1 ~ ARMCD * AVISIT",
            frame.assign(FEV1=sims[:, k]),
            subject="USUBJID",
            visit="AVISIT",
            cov="us",
        )
        betas.append(refit.coefficients.to_numpy())
        sigmas.append(refit.varcor["all"].to_numpy())
    b = np.array(betas)
    se = fit.to_frame()["std_error"].to_numpy()
    z = (b.mean(axis=0) - fit.coefficients.to_numpy()) / (se / np.sqrt(len(b)))
    assert np.abs(z).max() < 4.0
    # REML variance estimates are unbiased to first order
    s_mean = np.mean(sigmas, axis=0)
    np.testing.assert_allclose(
        s_mean, fit.varcor["all"].to_numpy(), atol=0.1 * float(np.diag(s_mean).max())
    )


def test_weights_and_groups_scale_the_draws(fev: pd.DataFrame) -> None:
    fit = mmrm(
        "FEV1 ~ ARMCD",
        fev,
        subject="USUBJID",
        visit="AVISIT",
        cov="cs",
        group="ARMCD",
        weights="WEIGHT",
    )
    new = fev.assign(FEV1=np.nan)
    sims = fit.simulate(3000, seed=8, newdata=new)
    pred = fit.predict(new, interval="prediction")
    conf = fit.predict(new, interval="confidence")
    sd = np.sqrt(pred["std_error"] ** 2 - conf["std_error"] ** 2).to_numpy()
    ratio = sims.std(axis=1) / sd
    assert np.abs(ratio - 1).max() < 5 / np.sqrt(2 * 3000)


def test_options_are_checked(fit_us: MMRMResult) -> None:
    with pytest.raises(UnknownNameError, match="method"):
        fit_us.simulate(method="bootstrap")
    with pytest.raises(TypeError, match="nsim"):
        fit_us.simulate(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nsim"):
        fit_us.simulate(0)
