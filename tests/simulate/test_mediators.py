"""End-of-treatment mediators: existing scenarios unchanged, known paths recovered, bad files named.

Recovery uses one trial of 20,000 participants per arm without dropout (fixed seeds): the
treatment->mediator paths ``a`` (difference in mean observed mediator, ANCOVA on the
baselines), the mediator->outcome paths ``b`` (all mediators jointly, with the treatment and the
baselines) and the total effect, each within 4 standard errors of the truth.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

from resolve import datasets
from resolve.datasets.make_resolve import SEED
from resolve.errors import DataValidationError
from resolve.simulate import (
    COLUMNS,
    default_scenario,
    named_scenario,
    resize,
    scenario_from_dict,
    simulate_trial,
    simulate_trials,
)
from resolve.simulate.mediators import (
    MEDIATION_PATH,
    mediation_scenario,
    mediator_columns,
    observed_mediator_effects,
    simulate_mediators,
    single_mediator_indirect,
    true_mediation,
    with_zero_mediation,
)
from resolve.simulate.outcomes import draw_latent, observe
from resolve.simulate.scenario import MEDIATORS, provenance_markdown

N_PER_ARM = 20_000
BASELINES = ["bbq", "pcs", "pseq", "tsk", "frebaq", "tpd_0", "coordination_0"]
COVARIATES = [*BASELINES, "pain_baseline", "rmdq_baseline", "age", "psychoactive"]


def mediation_dict() -> dict[str, Any]:
    with open(MEDIATION_PATH, "rb") as fh:
        return tomllib.load(fh)


def wide(trial: pd.DataFrame) -> pd.DataFrame:
    """One row per participant: baseline row plus outcomes at 18 weeks."""
    one = trial[trial["week"] == 0].set_index("id")
    at18 = trial[trial["week"] == 18].set_index("id")
    out = one.assign(pain_18=at18["pain"], rmdq_18=at18["rmdq"])
    out["treated"] = (out["arm"] == "resolve").astype(float)
    return out


def ols(y: NDArray[np.float64], X: NDArray[np.float64]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Coefficients and model-based SEs (intercept dropped)."""
    X = np.column_stack([np.ones(len(y)), X])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ beta
    cov = (r @ r / (len(y) - X.shape[1])) * np.linalg.inv(X.T @ X)
    return beta[1:], np.sqrt(np.diag(cov))[1:]


@pytest.fixture(scope="module")
def big() -> tuple[Any, pd.DataFrame]:
    s = resize(mediation_scenario(), N_PER_ARM, dropout=False)
    return s, wide(simulate_trial(s, seed=11))


@pytest.fixture(scope="module")
def big_zero() -> tuple[Any, pd.DataFrame]:
    s = resize(mediation_scenario(zero=True), N_PER_ARM, dropout=False)
    return s, wide(simulate_trial(s, seed=12))


# --------------------------------------------------------------------------- unchanged data
def test_existing_scenarios_are_unchanged() -> None:
    # the bundled trial was written before mediators existed: every column regenerates
    bundled = datasets.load("resolve")
    again = simulate_trial(seed=SEED)
    assert tuple(again.columns) == COLUMNS
    for col in COLUMNS:
        if pd.api.types.is_numeric_dtype(again[col]):
            assert np.allclose(again[col], bundled[col], equal_nan=True), col
        else:
            assert (again[col].astype(str) == bundled[col].astype(str)).all(), col
    assert mediator_columns(default_scenario()) == ()
    assert default_scenario().mediation is None
    many = simulate_trials(named_scenario("null"), seed=3, n_trials=2)
    assert tuple(many.columns) == ("trial", *COLUMNS)


def test_mediators_draw_from_their_own_stream() -> None:
    base = simulate_trial(seed=20221004)
    s = mediation_scenario()
    med = simulate_trial(s, seed=20221004)
    zero = simulate_trial(mediation_scenario(zero=True), seed=20221004)
    cols = list(COLUMNS)
    extra = list(mediator_columns(s))
    assert list(med.columns) == cols + extra
    # zero mediation: the scenario's trial, plus mediators identical to the mediated ones
    pd.testing.assert_frame_equal(zero[cols], base)
    pd.testing.assert_frame_equal(zero[extra], med[extra])
    # with paths, only the outcomes of the visits they act on (18 weeks) change
    changed = (med[cols] != base) & ~(med[cols].isna() & base.isna())
    assert set(med.loc[changed.any(axis=1), "week"]) == {18}
    assert changed.any().loc[lambda c: c].index.tolist() == ["pain", "rmdq"]
    # Generator seeds and one-trial batches agree
    a = simulate_trial(s, seed=np.random.default_rng(5))
    b = simulate_trials(s, seed=5, n_trials=1).drop(columns="trial")
    pd.testing.assert_frame_equal(a, b)


def test_mediation_file_is_the_resolve_scenario_plus_mediation() -> None:
    s = mediation_scenario()
    d = default_scenario()
    plain = dataclasses.replace(s, name=d.name, description=d.description, mediation=None)
    assert plain == d
    assert s.mediation is not None and not s.mediation.zero
    assert [m.name for m in s.mediation.mediators] == list(MEDIATORS)
    zero = mediation_scenario(zero=True)
    assert zero.mediation is not None and zero.mediation.zero
    assert zero.mediation.mediators == s.mediation.mediators


# --------------------------------------------------------------------------- columns
def test_mediator_columns() -> None:
    s = mediation_scenario()
    trial = simulate_trial(s, seed=4)
    assert mediator_columns(s) == (
        "bbq_12",
        "pcs_12",
        "pseq_12",
        "tsk_12",
        "frebaq_12",
        "tpd_0",
        "tpd_12",
        "coordination_0",
        "coordination_12",
    )
    # repeated on every row, like the baseline modifiers
    per_id = trial.groupby("id")[list(mediator_columns(s))].nunique(dropna=False)
    assert (per_id == 1).all().all()
    one = trial[trial["week"] == 0]
    at12 = trial[trial["week"] == 12]
    assert one[["tpd_0", "coordination_0"]].notna().all().all()
    # end-of-treatment mediators are missing exactly when the week-12 visit is
    assert (at12["bbq_12"].isna().to_numpy() == at12["pain"].isna().to_numpy()).all()
    assert at12["pain"].isna().any()
    assert s.mediation is not None
    for m in s.mediation.mediators:
        values = one[f"{m.name}_12"].dropna()
        assert values.between(m.low, m.high).all() and (values == values.round()).all()
    assert one["tpd_0"].between(0, 200).all() and one["coordination_0"].between(0, 100).all()


# --------------------------------------------------------------------------- truths
def test_true_mediation() -> None:
    s = mediation_scenario()
    assert s.mediation is not None
    for outcome in ("pain", "rmdq"):
        for t, week in enumerate(s.design.followup_weeks):
            truth = true_mediation(s, outcome, week)
            ab = {m.name: m.effect * m.per_point(outcome)[t] for m in s.mediation.mediators}
            assert {k: truth[k] for k in ab} == pytest.approx(ab)
            assert truth["joint"] == pytest.approx(sum(ab.values()))
            assert truth["direct"] + truth["joint"] == pytest.approx(truth["total"])
            assert truth["total"] == s.outcome(outcome).effect[t]
    pain = true_mediation(s, "pain", 18)
    assert pain["joint"] == pytest.approx(-0.55)
    assert pain["proportion_mediated"] == pytest.approx(0.55)
    alone = single_mediator_indirect(s, "pain", 18)
    assert alone["bbq"] < pain["bbq"] < 0  # overlap: more than its own path
    assert single_mediator_indirect(mediation_scenario(zero=True), "pain", 18) == dict.fromkeys(
        MEDIATORS, 0.0
    )
    zero = true_mediation(mediation_scenario(zero=True), "pain", 18)
    assert all(zero[m] == 0.0 for m in MEDIATORS) and zero["direct"] == zero["total"] == -1.0
    with pytest.raises(DataValidationError, match="no \\[mediation\\]"):
        true_mediation(default_scenario(), "pain", 18)
    with pytest.raises(DataValidationError, match="week 19"):
        true_mediation(s, "pain", 19)
    with pytest.raises(DataValidationError, match="no \\[mediation\\]"):
        with_zero_mediation(default_scenario())


def test_observed_effects_match_an_exact_sum() -> None:
    # the exact expectation of the rounded, clipped score agrees with a large sample
    s = mediation_scenario()
    rng = np.random.default_rng(8)
    n = 100_000
    latent = draw_latent(s, n, rng)
    arm = (np.arange(n) % 2).astype(np.int64)
    draws = simulate_mediators(s, latent, observe(s, latent, arm), arm, rng.spawn(1)[0])
    tab = observed_mediator_effects(s).set_index("mediator")
    for name, end in draws.end.items():
        for a, label in enumerate(s.design.arms):
            x = end[arm == a]
            se = x.std() / np.sqrt(x.size)
            assert abs(x.mean() - tab.loc[name, f"mean_{label}"]) < 4 * se, (name, label)
        # the continuous mediator moves by exactly `effect`
        m = draws.latent[name]
        diff = m[arm == 1].mean() - m[arm == 0].mean()
        assert abs(diff - tab.loc[name, "effect"]) < 4 * m.std() * np.sqrt(4 / n), name
    assert tab["clipped_resolve"].max() < 0.08
    assert max(draws.truncated.values()) < 0.02


# --------------------------------------------------------------------------- recovery
def test_recovers_a_b_direct_and_total(big: tuple[Any, pd.DataFrame]) -> None:
    s, w = big
    meds = [f"{m}_12" for m in MEDIATORS]
    A = w["treated"].to_numpy()
    B = w[COVARIATES].to_numpy(dtype=float)
    observed = observed_mediator_effects(s).set_index("mediator")
    for name, col in zip(MEDIATORS, meds, strict=True):
        est, se = ols(w[col].to_numpy(dtype=float), np.column_stack([A, B]))
        assert abs(est[0] - observed.loc[name, "observed_effect"]) < 4 * se[0], name
    for outcome in ("pain", "rmdq"):
        y = w[f"{outcome}_18"].to_numpy(dtype=float)
        truth = true_mediation(s, outcome, 18)
        est, se = ols(y, np.column_stack([A, w[meds].to_numpy(dtype=float), B]))
        assert s.mediation is not None
        for j, m in enumerate(s.mediation.mediators):
            b = m.per_point(outcome)[1]
            assert abs(est[1 + j] - b) < 4 * se[1 + j], (outcome, m.name, est[1 + j], b)
        assert abs(est[0] - truth["direct"]) < 4 * se[0], (outcome, est[0])
        total, total_se = ols(y, np.column_stack([A, B]))
        assert abs(total[0] - truth["total"]) < 4 * total_se[0], (outcome, total[0])
    # single-mediator analyses (adjusted for the mediator's own baseline) pick up the paths of
    # the mediators whose change correlates with theirs, as single_mediator_indirect says
    y = w["pain_18"].to_numpy(dtype=float)
    alone = single_mediator_indirect(s, "pain", 18)
    assert s.mediation is not None
    for m, col, base in zip(s.mediation.mediators, meds, BASELINES, strict=True):
        est, se = ols(y, np.column_stack([A, w[col].to_numpy(dtype=float), w[base]]))
        assert abs(est[1] - alone[m.name] / m.effect) < 4 * se[1], (m.name, est[1])
    assert alone["tsk"] < -0.05 and true_mediation(s, "pain", 18)["tsk"] == 0.0
    # the paths are real: BBQ's b on pain is many SEs from 0
    est, se = ols(
        w["pain_18"].to_numpy(dtype=float),
        np.column_stack([A, w[meds].to_numpy(dtype=float), B]),
    )
    assert est[1] / se[1] < -20


def test_calibrated_targets_are_kept(big: tuple[Any, pd.DataFrame]) -> None:
    # the mediators' share of the outcome variance is taken out of the dispersion
    s, w = big
    for outcome in ("pain", "rmdq"):
        o = s.outcome(outcome)
        for a, label in enumerate(s.design.arms):
            y = w.loc[w["arm"] == label, f"{outcome}_18"]
            target_sd = o.control_sd[1] if a == 0 else o.treated_sd[1]
            assert abs(y.std() - target_sd) < 4 * target_sd / np.sqrt(2 * len(y)), (outcome, a)
        sham = w.loc[w["arm"] == s.design.arms[0], f"{outcome}_18"]
        assert abs(sham.mean() - o.control_mean[1]) < 4 * sham.std() / np.sqrt(len(sham))


def test_zero_mediation(big_zero: tuple[Any, pd.DataFrame]) -> None:
    s, w = big_zero
    meds = [f"{m}_12" for m in MEDIATORS]
    A = w["treated"].to_numpy()
    B = w[COVARIATES].to_numpy(dtype=float)
    for outcome in ("pain", "rmdq"):
        truth = true_mediation(s, outcome, 18)
        assert truth["joint"] == 0.0 and truth["direct"] == truth["total"]
        y = w[f"{outcome}_18"].to_numpy(dtype=float)
        est, se = ols(y, np.column_stack([A, w[meds].to_numpy(dtype=float), B]))
        for j, name in enumerate(MEDIATORS):
            a_hat, a_se = ols(w[meds[j]].to_numpy(dtype=float), np.column_stack([A, B]))
            assert abs(est[1 + j]) < 4 * se[1 + j], (outcome, name)
            # the treatment still moves the mediator: indirect effect a * b near 0
            assert abs(a_hat[0]) > 10 * a_se[0]
            assert abs(a_hat[0] * est[1 + j]) < 4 * abs(a_hat[0]) * se[1 + j]
        assert abs(est[0] - truth["total"]) < 4 * se[0]


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["mediation"]["bbq"].update(sd=-1.0), r"'mediation.bbq.sd' must be .*-1.0"),
        (
            lambda d: d["mediation"].update(bqq=d["mediation"].pop("bbq")),
            r"unknown key 'mediation.bqq'",
        ),
        (
            lambda d: d["mediation"]["tpd"].update(efect=1.0),
            r"unknown key 'mediation.tpd.efect' \(value 1.0; did you mean 'mediation.tpd.effect'",
        ),
        (
            lambda d: d["mediation"]["bbq"].update(baseline_mean=20.0),
            r"unknown key 'mediation.bbq.baseline_mean'",
        ),
        (
            lambda d: d["mediation"]["pcs"].update(pain_per_point=[0.1, 0.0, 0.0, 0.0]),
            r"'mediation.pcs.pain_per_point\[0\]' must be 0: week 12 .*got 0.1",
        ),
        (lambda d: d["mediation"].update(week=13), r"'mediation.week' must be a follow-up.*13"),
        (
            lambda d: d["mediation"]["tpd"].update(stability=1.0),
            r"'mediation.tpd.stability' must be a number in \[-0.99, 0.99\]; got 1.0",
        ),
        (
            lambda d: d["mediation"]["pcs"].update(mean=60.0),
            r"'mediation.pcs.mean' must be a number in \(0, 52\); got 60.0",
        ),
        (
            lambda d: d["mediation"]["coordination"].update(baseline_sd=80.0),
            r"'mediation.coordination.baseline_sd' must be .*got 80.0",
        ),
        (
            lambda d: d["mediation"]["bbq"].update(rmdq_per_point=[0.0, 1.0]),
            r"'mediation.bbq.rmdq_per_point' must have 4 values",
        ),
        (lambda d: d["mediation"].update(zero="no"), r"'mediation.zero' must be true or false"),
        (
            lambda d: [d["mediation"].pop(m) for m in MEDIATORS],
            r"'mediation' must configure at least one mediator",
        ),
    ],
)
def test_bad_mediation_names_file_key_and_value(edit: Any, message: str) -> None:
    data = copy.deepcopy(mediation_dict())
    edit(data)
    with pytest.raises(DataValidationError, match=r"^my\.toml: .*" + message):
        scenario_from_dict(data, source="my.toml")


def test_paths_beyond_the_outcome_sd_are_refused() -> None:
    data = mediation_dict()
    data["mediation"]["bbq"]["pain_per_point"] = [0.0, -0.3, 0.0, 0.0]
    s = scenario_from_dict(data, source="big.toml")
    with pytest.raises(
        DataValidationError, match=r"^big.toml: mediation: .* pain at week 18.*pain.sham.sd\[1\]"
    ):
        simulate_trial(s, seed=1)


def test_docs_list_the_mediation_parameters() -> None:
    page = (Path(__file__).parents[2] / "docs" / "simulation.md").read_text(encoding="utf-8")
    lines = provenance_markdown(mediation_scenario()).splitlines()
    table = "\n".join(lines[:2] + [r for r in lines if r.startswith("| `mediation.")])
    assert table in page, (
        "docs/simulation.md is stale: paste the mediation rows of "
        "provenance_markdown(mediation_scenario())"
    )
    s = mediation_scenario()
    for p in s.provenance:
        if p.key.startswith("mediation."):
            assert p.classes and p.source.strip(), p.key
    for col in mediator_columns(s):
        assert f"`{col}`" in page, col
