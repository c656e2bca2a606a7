"""The simulator contains exactly the effects it is told (issue 9).

Outcomes are potential outcomes: the treated outcome's expected value is the
control outcome's plus ``tau(x)``, which depends on baseline variables only
through configured ``[[effect_modification]]`` entries. Checked three ways:

* by construction (exact): the expected treated minus control outcome of
  every participant equals the configured ``tau(x)``; baseline values do not
  depend on the arm;
* on individual potential outcomes: both outcomes of the same 20,000
  participants (``observe`` with every arm), regressed on every baseline
  variable;
* as an analyst would see it: one trial of 20,000 randomised participants
  without dropout, the arm x baseline-variable interaction of every outcome,
  follow-up visit and baseline variable (8 modifiers, age, sex: 80 tests per
  model), as the per-arm difference of least-squares slopes with its SE.

Multiplicity rule for the 80 correlated tests: with no modification each z is
N(0, 1); the largest |z| of 80 exceeds 4 with probability below 0.5%, and the
mean of z^2 (expectation 1) stayed within 0.8-1.6 over seeds 1-5 (correlated
modifiers widen it). A generator that builds modification into the data
fails both by far: the pre-issue-9 generator gave RMDQ x baseline-RMDQ
interactions of about z = 17 at this size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resolve.simulate import MODIFIERS, named_scenario, resize, simulate_trial
from resolve.simulate.latent import (
    baseline_values,
    calibrate,
    control_mean,
    draw_latent,
    modifier_values,
    treated_mean,
    treatment_effect,
)
from resolve.simulate.outcomes import observe
from resolve.simulate.scenario import Scenario

N_PER_ARM = 10_000
BASELINE = (*MODIFIERS, "age", "female")
FOLLOWUP = (12, 18, 26, 52)


def big(name: str) -> Scenario:
    return resize(named_scenario(name), N_PER_ARM, dropout=False)


def slope_differences(data: pd.DataFrame, *, joint: str | None = None) -> pd.DataFrame:
    """Treated minus control slope of each outcome x visit on each baseline variable.

    One least-squares fit per arm (so each arm has its own residual variance);
    ``joint`` adds that variable to every model (its own row is dropped).
    """
    base = data[data["week"] == 0].set_index("id")
    X = base[[*MODIFIERS, "age"]].astype(float)
    X["female"] = (base["sex"] == "female").astype(float)
    treated = (base["arm"] == "resolve").to_numpy()
    rows = []
    for outcome in ("pain", "rmdq"):
        wide = data.pivot(index="id", columns="week", values=outcome).loc[base.index]
        for week in FOLLOWUP:
            y = wide[week].to_numpy(dtype=float)
            for var in BASELINE:
                if var == joint:
                    continue
                cols = [X[var].to_numpy()] + ([X[joint].to_numpy()] if joint else [])
                fits = []
                for arm in (False, True):
                    r = treated == arm
                    design = np.column_stack([np.ones(r.sum()), *(c[r] for c in cols)])
                    beta, *_ = np.linalg.lstsq(design, y[r], rcond=None)
                    resid = y[r] - design @ beta
                    s2 = resid @ resid / (r.sum() - design.shape[1])
                    fits.append((beta[1], np.sqrt(np.linalg.inv(design.T @ design)[1, 1] * s2)))
                (b0, se0), (b1, se1) = fits
                rows.append((outcome, week, var, b1 - b0, float(np.hypot(se0, se1))))
    out = pd.DataFrame(rows, columns=["outcome", "week", "variable", "difference", "se"])
    out["z"] = out["difference"] / out["se"]
    return out


def assert_no_modification(z: pd.Series) -> None:
    worst = z.abs().idxmax()
    assert z.abs().max() < 4, f"largest |z| {z.abs().max():.2f} at {worst}"
    assert (z**2).mean() < 2.0, f"mean z^2 {(z**2).mean():.2f} (expectation 1)"


# ------------------------------------------------------------------ by construction (exact)
@pytest.mark.parametrize("name", ["null", "no_modification", "frebaq_modification"])
def test_expected_effect_is_the_configured_tau(name: str) -> None:
    s = named_scenario(name)
    cal = calibrate(s)
    latent = draw_latent(s, 5000, np.random.default_rng(3))
    mods = modifier_values(baseline_values(s, cal.marginals, latent))
    for outcome in ("pain", "rmdq"):
        o = s.outcome(outcome)
        for t, week in enumerate(FOLLOWUP):
            A = control_mean(s, cal, outcome, week, latent[f"prognosis_{outcome}"])
            assert A.min() > o.low + o.headroom - 1e-12
            assert A.max() < o.high - o.headroom + 1e-12
            tau = treatment_effect(s, outcome, week, mods)
            mu1, share = treated_mean(o.low, o.high, A, tau)
            kept = (A + tau >= o.low) & (A + tau <= o.high)
            np.testing.assert_allclose((mu1 - A)[kept], tau[kept], atol=1e-12)
            configured = [
                e for e in s.effect_modification if e.outcome == outcome and e.week == week
            ]
            if not configured:
                assert share == 0.0 and np.all(tau == o.effect[t])
            else:
                assert share < 0.01  # truncated at the scale: rare, and reported


def test_baseline_does_not_depend_on_the_arm() -> None:
    s = named_scenario("frebaq_modification")
    latent = draw_latent(s, 2000, np.random.default_rng(4))
    control = observe(s, latent, np.zeros(2000, dtype=np.int64))
    treated = observe(s, latent, np.ones(2000, dtype=np.int64))
    for key in ("pseq", "pcs", "tsk", "frebaq", "bbq", "psychoactive"):
        np.testing.assert_array_equal(control[key], treated[key])
    for outcome in ("pain", "rmdq"):
        np.testing.assert_array_equal(control[outcome][:, 0], treated[outcome][:, 0])
        assert not np.array_equal(control[outcome][:, 2], treated[outcome][:, 2])


# ------------------------------------------------------------- individual potential outcomes
def test_individual_effects_do_not_depend_on_baseline_without_modification() -> None:
    s = named_scenario("no_modification")
    n = 2 * N_PER_ARM
    latent = draw_latent(s, n, np.random.default_rng(5))
    y0 = observe(s, latent, np.zeros(n, dtype=np.int64))
    y1 = observe(s, latent, np.ones(n, dtype=np.int64))
    x = modifier_values(baseline_values(s, calibrate(s).marginals, latent))
    zs = []
    for outcome in ("pain", "rmdq"):
        for t, week in enumerate(FOLLOWUP, start=1):
            effect = (y1[outcome][:, t] - y0[outcome][:, t]).astype(float)
            tau = s.outcome(outcome).effect[t - 1]
            assert abs(effect.mean() - tau) < 4 * effect.std() / np.sqrt(n), (outcome, week)
            for var in MODIFIERS:
                design = np.column_stack([np.ones(n), x[var]])
                beta, *_ = np.linalg.lstsq(design, effect, rcond=None)
                resid = effect - design @ beta
                se = np.sqrt(np.linalg.inv(design.T @ design)[1, 1] * resid @ resid / (n - 2))
                zs.append(beta[1] / se)
    assert_no_modification(pd.Series(zs))


# --------------------------------------------------------------- one large randomised trial
@pytest.fixture(scope="module")
def no_modification() -> pd.DataFrame:
    return simulate_trial(big("no_modification"), seed=1)


@pytest.fixture(scope="module")
def frebaq_modification() -> pd.DataFrame:
    return simulate_trial(big("frebaq_modification"), seed=1)


def test_no_interaction_without_modification(no_modification: pd.DataFrame) -> None:
    marginal = slope_differences(no_modification)
    assert len(marginal) == 80
    assert_no_modification(marginal["z"])
    # the same with the plan's adjustment for baseline pain (another projection of one truth)
    adjusted = slope_differences(no_modification, joint="pain_baseline")
    assert_no_modification(adjusted["z"])


def test_average_effects_and_sds_without_modification(no_modification: pd.DataFrame) -> None:
    s = named_scenario("no_modification")
    for outcome in ("pain", "rmdq"):
        o = s.outcome(outcome)
        for t, week in enumerate(FOLLOWUP):
            visit = no_modification[no_modification["week"] == week]
            g = visit.groupby("arm")[outcome]
            diff = g.mean()["resolve"] - g.mean()["sham"]
            se = np.sqrt((g.var() / g.count()).sum())
            assert abs(diff - o.effect[t]) < 4 * se, (outcome, week, diff)
            assert g.std()["sham"] == pytest.approx(o.control_sd[t], rel=0.03)
            assert g.std()["resolve"] == pytest.approx(o.treated_sd[t], rel=0.03)


def test_only_frebaq_modifies_and_by_the_configured_amount(
    frebaq_modification: pd.DataFrame,
) -> None:
    marginal = slope_differences(frebaq_modification)
    cell = (marginal["outcome"] == "pain") & (marginal["week"] == 52)
    # every other outcome and visit: no modification
    assert_no_modification(marginal.loc[~cell, "z"])
    frebaq = marginal[cell & (marginal["variable"] == "frebaq")].iloc[0]
    assert abs(frebaq["difference"] - 0.18) < 3 * frebaq["se"], frebaq.to_dict()
    # given FreBAQ, no other baseline variable modifies the 52-week pain effect
    joint = slope_differences(frebaq_modification, joint="frebaq")
    joint = joint[(joint["outcome"] == "pain") & (joint["week"] == 52)]
    assert len(joint) == 9
    assert joint["z"].abs().max() < 3, joint.to_string()


def test_other_modifiers_show_only_their_marginal_association(
    frebaq_modification: pd.DataFrame,
) -> None:
    # fitted alone, a modifier correlated with FreBAQ carries 0.18 x (slope of FreBAQ on it)
    marginal = slope_differences(frebaq_modification)
    base = frebaq_modification[frebaq_modification["week"] == 0]
    rows = marginal[(marginal["outcome"] == "pain") & (marginal["week"] == 52)]
    for _, r in rows.iterrows():
        if r["variable"] in ("frebaq", "female"):
            continue
        x = base[r["variable"]].to_numpy(dtype=float)
        implied = 0.18 * np.polyfit(x, base["frebaq"].to_numpy(dtype=float), 1)[0]
        assert abs(r["difference"] - implied) < 3 * r["se"], (r["variable"], implied)
