"""Operating characteristics of the default analysis plan, measured by simulation.

For each named scenario of :func:`resolve.simulate.named_scenario` (``null``: no
treatment effect anywhere; ``no_modification``: the published average effects, no
effect modification; ``frebaq_modification``: the same plus FreBAQ x treatment on
52-week pain, +0.18 per point), simulates ``--reps`` RESOLVE-sized trials and runs on
each the analyses of the bundled plan (``src/resolve/analysis/plans/resolve.toml``)
exactly as ``resolve analyze`` runs them:

* every between-arm model of the plan (primary, then the sensitivity models, one of
  them the recommended model): per outcome and follow-up visit, bias, empirical SE,
  mean model SE, RMSE, coverage of the true effect by the confidence interval and the
  rejection rate at the plan's level (type-I error where the true effect is 0, power
  otherwise);
* every treatment-by-modifier test (per test: rejection rate, bias, empirical and mean
  model SE of the interaction), the Holm and Benjamini-Hochberg adjustments over the
  pre-specified family (family-wise error among the true nulls; power for a true
  modification) and the global interaction F tests.

Every rate has its Monte-Carlo standard error. The true effects come from the scenario
(``Outcome.effect``: the difference in expected means of all randomised participants,
the estimand of the likelihood-based analyses under MAR); the true interactions from
``Scenario.effect_modification`` (0 for every other modifier).

Replicates are simulated in blocks of :data:`BLOCK` trials, block *b* of scenario *s*
from ``numpy.random.SeedSequence([seed, s, b])``, so results do not depend on ``--jobs``.
Run from the repository root::

    .venv/bin/python benchmarks/operating_characteristics.py --reps 1000 --jobs 2
    .venv/bin/python benchmarks/operating_characteristics.py --reps 200 --scenario null

It writes one CSV (``--out``; one row per scenario, section, analysis, outcome, visit,
term and metric with ``value`` and ``mc_se``) and prints markdown tables (the ones in
``docs/operating-characteristics.md``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import resolve
from resolve.analysis import load_plan
from resolve.analysis.effect_modifiers import analyse_modifiers
from resolve.analysis.plan import Plan
from resolve.analysis.primary import arm_levels, between_arm_differences
from resolve.errors import ResolveError
from resolve.simulate import Scenario, named_scenario, resize, simulate_trial, simulate_trials
from resolve.simulate.latent import calibrate
from resolve.stats import mmrm
from resolve.stats._blas import limit_blas_threads

#: The named scenarios of the study, in report order.
SCENARIOS = ("null", "no_modification", "frebaq_modification")
#: Replicates simulated together (fixed, so results do not depend on ``--jobs``).
BLOCK = 20
SEED = 20260901
#: Columns of the results table (the CSV).
RESULT_COLUMNS = (
    "scenario",
    "section",
    "analysis",
    "outcome",
    "visit",
    "term",
    "truth",
    "n",
    "n_failed",
    "metric",
    "value",
    "mc_se",
)


# ----------------------------------------------------------------------------- truth
def true_effects(scenario: Scenario) -> dict[tuple[str, str], float]:
    """True average treatment effect per (outcome, follow-up visit label)."""
    d = scenario.design
    visits = [v for v in d.visits if v != "baseline"]
    out: dict[tuple[str, str], float] = {}
    for outcome in ("pain", "rmdq"):
        effect = scenario.outcome(outcome).effect
        for visit, value in zip(visits, effect, strict=True):
            out[(outcome, visit)] = float(value)
    return out


def true_interactions(scenario: Scenario) -> dict[tuple[str, str, str], float]:
    """Configured effect modification per (modifier, outcome, visit); absent = 0."""
    return {
        (e.modifier, e.outcome, f"week {e.week}"): float(e.per_point)
        for e in scenario.effect_modification
    }


#: Participants per arm of the large trial that gives population values of the
#: one-modifier-at-a-time interactions (:func:`population_interactions`).
POPULATION_N = 100_000


def population_interactions(
    scenario: Scenario, plan: Plan, *, n_per_arm: int = POPULATION_N, seed: int = SEED
) -> pd.DataFrame:
    """Interactions of the plan's one-modifier models in one very large trial.

    With a configured modification, a modifier correlated with the configured one has a
    non-zero interaction in its own model (``y_t ~ arm * m + y_0``): its marginal
    association, not a type-I error. This fits the plan's modifier models to one trial of
    ``n_per_arm`` participants per arm without dropout; the estimates are the population
    values up to their (small) standard errors.  Columns ``modifier, outcome, visit,
    estimate, std_error``.
    """
    big = simulate_trial(resize(scenario, n_per_arm, dropout=False), seed=seed)
    table = analyse_modifiers(big, plan, credibility=False).table
    return table.loc[:, ["modifier", "outcome", "visit", "estimate", "std_error"]]


# ----------------------------------------------------------------------------- one trial
@dataclass
class _Raw:
    effects: list[pd.DataFrame]
    modifiers: list[pd.DataFrame]
    global_tests: list[pd.DataFrame]
    failures: list[dict[str, Any]]


#: Robust candidates considered for the recommended model but not chosen (``--candidates``):
#: name -> (covariance, df method) of ``y ~ arm * visit`` on every visit, as the primary.
CANDIDATES = {
    "candidate: csh_all_visits": ("csh", "satterthwaite"),
    "candidate: lmm_random_intercept_sandwich": ("ri", "empirical"),
}


_STATS = ("estimate", "std_error", "conf_low", "conf_high", "p_value")


def _candidates(valid: pd.DataFrame, plan: Plan, rep: int, raw: _Raw) -> None:
    """The candidate models (:data:`CANDIDATES`), fitted with the engine directly."""
    t = plan.trial
    for o in plan.outcomes:
        frame = valid.loc[valid[o.column].notna(), [t.subject, t.arm, t.visit, o.column]].copy()
        frame.columns = pd.Index(["id", "arm", "visit", "y"])
        frame["arm"] = pd.Categorical(frame["arm"].astype(str), arm_levels(plan))
        frame["visit"] = pd.Categorical(frame["visit"].astype(str), list(t.visits))
        for name, (cov, df) in CANDIDATES.items():
            try:
                fit = mmrm(
                    "y ~ arm * visit",
                    frame,
                    subject="id",
                    visit="visit",
                    cov=cov,
                    df=df,
                    conf_level=plan.analysis.conf_level,
                )
                d = fit.lsmeans("arm", by="visit").differences
            except ResolveError as exc:
                raw.failures.append({"rep": rep, "analysis": name, "message": str(exc)[:200]})
                continue
            d = d[d["visit"].astype(str) != t.baseline_visit]
            raw.effects.append(
                pd.DataFrame(
                    {
                        "outcome": o.name,
                        "visit": d["visit"].astype(str).to_numpy(),
                        "model": name,
                        **{c: d[c].to_numpy() for c in _STATS},
                        "rep": rep,
                    }
                )
            )


def analyse_trial(
    data: pd.DataFrame, plan: Plan, rep: int, raw: _Raw, *, candidates: bool = False
) -> None:
    """Run the plan's between-arm models and modifier analysis on one trial.

    With ``candidates``, also the robust candidates that were not chosen.
    """
    valid = plan.validate_data(data, source=f"replicate {rep}")
    if candidates:
        _candidates(valid, plan, rep, raw)
    models = list(dict.fromkeys([plan.analysis.primary, *plan.analysis.sensitivity]))
    for model in models:
        try:
            table = between_arm_differences(valid, plan, model=model, validated=True)
        except ResolveError as exc:
            raw.failures.append({"rep": rep, "analysis": model, "message": str(exc)[:200]})
            continue
        keep = ["outcome", "visit", "model", "estimate", "std_error", "conf_low", "conf_high"]
        raw.effects.append(table.loc[:, [*keep, "p_value"]].assign(rep=rep))
    if plan.modifiers:
        try:
            mods = analyse_modifiers(valid, plan, credibility=False)
        except ResolveError as exc:
            raw.failures.append({"rep": rep, "analysis": "modifiers", "message": str(exc)[:200]})
            return
        keep = ["modifier", "outcome", "visit", "estimate", "std_error", "p_value"]
        raw.modifiers.append(
            mods.table.loc[:, [*keep, "p_holm", "p_bh", "in_family"]].assign(rep=rep)
        )
        raw.global_tests.append(
            mods.global_tests.loc[:, ["outcome", "visit", "p_value"]].assign(rep=rep)
        )


def _run_block(
    block: tuple[int, int, int],
    *,
    scenario: Scenario,
    plan: Plan,
    seed: int,
    index: int,
    candidates: bool,
) -> _Raw:
    """Simulate and analyse replicates ``start .. start + size - 1`` (block ``b``)."""
    b, start, size = block
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, b]))
    raw = _Raw([], [], [], [])
    with limit_blas_threads(1):
        sims = simulate_trials(scenario, seed=rng, n_trials=size)
        for k, (_, trial) in enumerate(sims.groupby("trial", sort=True)):
            data = trial.drop(columns="trial").reset_index(drop=True)
            analyse_trial(data, plan, start + k, raw, candidates=candidates)
    return raw


def simulate_study(
    scenario: Scenario,
    *,
    reps: int,
    seed: int = SEED,
    index: int = 0,
    plan: Plan | None = None,
    jobs: int = 1,
    candidates: bool = False,
) -> dict[str, pd.DataFrame]:
    """Per-replicate results of the plan's analyses on ``reps`` simulated trials.

    ``index`` separates the random streams of scenarios run with one ``seed``;
    ``candidates`` adds the models of :data:`CANDIDATES`.  Returns ``effects``,
    ``modifiers``, ``global_tests`` and ``failures`` tables.
    """
    plan = load_plan() if plan is None else plan
    blocks = [(b, start, min(BLOCK, reps - start)) for b, start in enumerate(range(0, reps, BLOCK))]
    work = partial(
        _run_block, scenario=scenario, plan=plan, seed=seed, index=index, candidates=candidates
    )
    if jobs > 1 and len(blocks) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            parts = list(pool.map(work, blocks))
    else:
        parts = [work(b) for b in blocks]

    def stack(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    return {
        "effects": stack([f for p in parts for f in p.effects]),
        "modifiers": stack([f for p in parts for f in p.modifiers]),
        "global_tests": stack([f for p in parts for f in p.global_tests]),
        "failures": pd.DataFrame(
            [f for p in parts for f in p.failures], columns=["rep", "analysis", "message"]
        ),
    }


# ----------------------------------------------------------------------------- summaries
def _rate(x: np.ndarray) -> tuple[float, float]:
    x = x[~np.isnan(x)]
    if x.size == 0:
        return np.nan, np.nan
    r = float(x.mean())
    return r, float(np.sqrt(r * (1 - r) / x.size))


def _mean(x: np.ndarray) -> tuple[float, float]:
    x = x[~np.isnan(x)]
    if x.size < 2:
        return (float(x.mean()) if x.size else np.nan), np.nan
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


def _estimate_metrics(
    est: np.ndarray,
    se: np.ndarray,
    truth: float,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> list[tuple[str, float, float]]:
    """bias, empirical SE, mean model SE, RMSE and (with limits) coverage, with MC SEs."""
    ok = ~np.isnan(est)
    est, se = est[ok], se[ok]
    n = est.size
    out: list[tuple[str, float, float]] = []
    if n < 2:
        return out
    bias, bias_se = _mean(est - truth)
    sd = float(est.std(ddof=1))
    sq = (est - truth) ** 2
    mse, mse_se = _mean(sq)
    rmse = float(np.sqrt(mse))
    out += [
        ("bias", bias, bias_se),
        ("empirical_se", sd, sd / np.sqrt(2 * (n - 1))),
        ("mean_se", *_mean(se)),
        ("rmse", rmse, mse_se / (2 * rmse) if rmse > 0 else np.nan),
    ]
    if low is not None and high is not None:
        cover = ((low[ok] <= truth) & (truth <= high[ok])).astype(float)
        out.append(("coverage", *_rate(cover)))
    return out


def summarise(
    raw: dict[str, pd.DataFrame],
    scenario: Scenario,
    *,
    name: str,
    plan: Plan | None = None,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Operating characteristics with Monte-Carlo SEs, one row per metric (RESULT_COLUMNS).

    Sections: ``effect`` (each between-arm model, outcome and visit), ``modifier_family``
    and ``modifier_other`` (each treatment-by-modifier test, in or outside the family;
    ``truth`` is the configured interaction, and with ``population``
    (:func:`population_interactions`) the metric ``population_value`` is the test's
    population value), ``modifier_family_wise`` (unadjusted, Holm and BH over the family:
    ``*_fwer`` = share of trials rejecting any true-null test, i.e. one at an outcome and
    visit without configured modification; ``*_power`` = share rejecting a configured
    modification; ``*_fdr`` = mean share of true-null tests among the rejected; tests of
    other modifiers at a modified outcome and visit are neither) and ``global_test``
    (``truth`` 1 where a modification is configured at that outcome and visit).
    """
    plan = load_plan() if plan is None else plan
    alpha = 1 - plan.analysis.conf_level
    effects = true_effects(scenario)
    inter = true_interactions(scenario)
    failures = raw["failures"]
    rows: list[dict[str, Any]] = []

    def add(
        section: str,
        analysis: str,
        where: tuple[str, str, str],
        truth: float,
        n: int,
        n_failed: int,
        metrics: list[tuple[str, float, float]],
    ) -> None:
        outcome, visit, term = where
        for metric, value, mc_se in metrics:
            rows.append(
                {
                    "scenario": name, "section": section, "analysis": analysis,
                    "outcome": outcome, "visit": visit, "term": term, "truth": truth, "n": n,
                    "n_failed": n_failed, "metric": metric, "value": value, "mc_se": mc_se,
                }
            )  # fmt: skip

    def n_failed(analysis: str) -> int:
        return int((failures["analysis"] == analysis).sum()) if len(failures) else 0

    def rejected(p: pd.Series) -> np.ndarray:
        return (p.to_numpy(float) < alpha).astype(float)

    eff = raw["effects"]
    for model in dict.fromkeys(eff["model"]) if len(eff) else []:
        part = eff[eff["model"] == model]
        for (outcome, visit), g in part.groupby(["outcome", "visit"], sort=False):
            truth = effects[(str(outcome), str(visit))]
            metrics = _estimate_metrics(
                g["estimate"].to_numpy(float),
                g["std_error"].to_numpy(float),
                truth,
                g["conf_low"].to_numpy(float),
                g["conf_high"].to_numpy(float),
            )
            metrics.append(("rejection", *_rate(rejected(g["p_value"]))))
            where = (str(outcome), str(visit), "arm")
            add("effect", str(model), where, truth, len(g), n_failed(str(model)), metrics)
    mods = raw["modifiers"]
    if len(mods):
        failed = n_failed("modifiers")
        thr = plan.effect_modification.exploratory_p
        for (mod, outcome, visit), g in mods.groupby(["modifier", "outcome", "visit"], sort=False):
            truth = inter.get((str(mod), str(outcome), str(visit)), 0.0)
            p = g["p_value"].to_numpy(float)
            metrics = _estimate_metrics(
                g["estimate"].to_numpy(float), g["std_error"].to_numpy(float), truth
            )
            metrics.append(("rejection", *_rate((p < alpha).astype(float))))
            metrics.append(("exploratory", *_rate((p < thr).astype(float))))
            if population is not None:
                hit = population[
                    (population["modifier"] == mod)
                    & (population["outcome"] == outcome)
                    & (population["visit"] == visit)
                ]
                if len(hit):
                    est, se = float(hit["estimate"].iloc[0]), float(hit["std_error"].iloc[0])
                    metrics.append(("population_value", est, se))
            section = "modifier_family" if bool(g["in_family"].iloc[0]) else "modifier_other"
            where = (str(outcome), str(visit), str(mod))
            add(section, "arm x modifier", where, truth, len(g), failed, metrics)
        fam = mods[mods["in_family"].astype(bool)]
        cells = {(o, v) for (_, o, v), value in inter.items() if value != 0.0}
        keys = list(zip(fam["modifier"], fam["outcome"], fam["visit"], strict=True))
        null = pd.Series([(o, v) not in cells for _, o, v in keys], index=fam.index)
        configured = pd.Series([inter.get(k, 0.0) != 0.0 for k in keys], index=fam.index)
        rep = fam["rep"]
        metrics = []
        for method, col in (("unadjusted", "p_value"), ("holm", "p_holm"), ("bh", "p_bh")):
            if fam[col].isna().all():
                continue
            rej = fam[col].to_numpy(float) < alpha
            false = pd.Series(rej & null.to_numpy(), index=fam.index).groupby(rep)
            metrics.append((f"{method}_fwer", *_rate(false.any().to_numpy(float))))
            if configured.any():
                true = pd.Series(rej & configured.to_numpy(), index=fam.index).groupby(rep)
                metrics.append((f"{method}_power", *_rate(true.any().to_numpy(float))))
            found = pd.Series(rej, index=fam.index).groupby(rep).sum().clip(lower=1)
            metrics.append((f"{method}_fdr", *_mean((false.sum() / found).to_numpy(float))))
        n_tests, n_null = int(rep.value_counts().max()), int(null.groupby(rep).sum().max())
        n_conf = int(configured.groupby(rep).sum().max())
        term = f"{n_tests} tests, {n_null} null"
        if n_conf or n_tests > n_null:
            term += f", {n_conf} modified, {n_tests - n_null - n_conf} associated"
        where = ("all", "family", term)
        add("modifier_family_wise", "family", where, 0.0, rep.nunique(), failed, metrics)
    glob = raw["global_tests"]
    for (outcome, visit), g in glob.groupby(["outcome", "visit"], sort=False) if len(glob) else []:
        truth = float(any(o == outcome and v == visit for (_, o, v) in inter))
        metrics = [("rejection", *_rate(rejected(g["p_value"])))]
        where = (str(outcome), str(visit), "all interactions")
        add("global_test", "global F", where, truth, len(g), 0, metrics)
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def operating_characteristics(
    name: str,
    *,
    reps: int,
    seed: int = SEED,
    jobs: int = 1,
    scenario: Scenario | None = None,
    plan: Plan | None = None,
    candidates: bool = False,
    raw_dir: Path | None = None,
    population_n: int | None = None,
) -> pd.DataFrame:
    """Simulate and summarise one named scenario (or ``scenario`` under that name).

    ``raw_dir`` also keeps the per-replicate tables (``<name>_<table>.csv.gz``);
    ``population_n`` sets the participants per arm of the population values
    (default :data:`POPULATION_N`; computed only when a modification is configured).
    """
    plan = load_plan() if plan is None else plan
    scen = named_scenario(name) if scenario is None else scenario
    index = SCENARIOS.index(name) if name in SCENARIOS else len(SCENARIOS)
    raw = simulate_study(
        scen, reps=reps, seed=seed, index=index, plan=plan, jobs=jobs, candidates=candidates
    )
    if raw_dir is not None:
        raw_dir.mkdir(parents=True, exist_ok=True)
        for table, frame in raw.items():
            frame.to_csv(raw_dir / f"{name}_{table}.csv.gz", index=False)
    population = None
    if any(e.per_point != 0 for e in scen.effect_modification):
        n = POPULATION_N if population_n is None else population_n
        population = population_interactions(scen, plan, n_per_arm=n, seed=seed)
    return summarise(raw, scen, name=name, plan=plan, population=population)


# ----------------------------------------------------------------------------- markdown
def _pct(value: float, se: float) -> str:
    return "—" if np.isnan(value) else f"{100 * value:.1f} ({100 * se:.1f})"


def _num(value: float, se: float, digits: int = 3) -> str:
    return "—" if np.isnan(value) else f"{value:.{digits}f} ({se:.{digits}f})"


def markdown(results: pd.DataFrame) -> str:
    """Markdown tables of the results (one block per scenario)."""
    lines: list[str] = []
    for name in dict.fromkeys(results["scenario"]):
        res = results[results["scenario"] == name]
        lines += [f"### Scenario `{name}`", ""]
        eff = res[res["section"] == "effect"]
        if len(eff):
            lines += [
                "Between-arm differences (MC SE in brackets; rejection = type-I error where the "
                "true effect is 0, power otherwise).",
                "",
                "| analysis | outcome | visit | true effect | bias | empirical SE | mean SE | "
                "RMSE | coverage % | rejection % |",
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for (analysis, outcome, visit, truth), g in eff.groupby(
                ["analysis", "outcome", "visit", "truth"], sort=False
            ):
                m = {r.metric: (r.value, r.mc_se) for r in g.itertuples()}
                lines.append(
                    f"| {analysis} | {outcome} | {visit} | {truth:.2f} | {_num(*m['bias'])} | "
                    f"{_num(*m['empirical_se'])} | {_num(*m['mean_se'])} | {_num(*m['rmse'])} | "
                    f"{_pct(*m['coverage'])} | {_pct(*m['rejection'])} |"
                )
            lines.append("")
        fam = res[res["section"] == "modifier_family"]
        if len(fam):
            pop = "population_value" in set(fam["metric"])
            lines += [
                "Treatment-by-modifier tests in the pre-specified family (interaction per "
                "modifier unit; bias against the configured interaction; rejection at the "
                "plan's level, unadjusted"
                + ("; population value: the test's interaction in one trial of "
                   f"{POPULATION_N:,} participants per arm" if pop else "")
                + ").",
                "",
                "| modifier | outcome | visit | configured interaction | "
                + ("population value | " if pop else "")
                + "bias | empirical SE | mean SE | rejection % | P < exploratory % |",
                "|---|---|---|---:|" + ("---:|" if pop else "") + "---:|---:|---:|---:|---:|",
            ]  # fmt: skip
            for (_, outcome, visit, term, truth), g in fam.groupby(
                ["analysis", "outcome", "visit", "term", "truth"], sort=False
            ):
                m = {r.metric: (r.value, r.mc_se) for r in g.itertuples()}
                value = ""
                if pop:
                    value = (
                        f"{_num(*m['population_value'], 4)} | "
                        if "population_value" in m
                        else "— | "
                    )
                lines.append(
                    f"| {term} | {outcome} | {visit} | {truth:g} | {value}{_num(*m['bias'], 4)} | "
                    f"{_num(*m['empirical_se'], 4)} | {_num(*m['mean_se'], 4)} | "
                    f"{_pct(*m['rejection'])} | {_pct(*m['exploratory'])} |"
                )
            rej = fam[fam["metric"] == "rejection"]
            modified = {
                (o, v)
                for o, v, t in zip(rej["outcome"], rej["visit"], rej["truth"], strict=True)
                if t != 0
            }
            null = rej[
                [(o, v) not in modified for o, v in zip(rej["outcome"], rej["visit"], strict=True)]
            ]
            if len(null):
                lines += [
                    "",
                    f"Per-test type-I error over the {len(null)} true-null family tests (at an "
                    "outcome and visit without configured modification): mean "
                    f"{100 * null['value'].mean():.1f}%, range {100 * null['value'].min():.1f}% "
                    f"to {100 * null['value'].max():.1f}% (each with MC SE about "
                    f"{100 * null['mc_se'].mean():.1f} pp).",
                ]
            lines.append("")
        fw = res[res["section"] == "modifier_family_wise"]
        if len(fw):
            lines += [
                f"Family ({fw['term'].iloc[0]}), per trial, % (MC SE):",
                "",
                "| method | family-wise error (any true null rejected) | power (the true "
                "modification rejected) | false discovery rate |",
                "|---|---:|---:|---:|",
            ]
            m = {r.metric: (r.value, r.mc_se) for r in fw.itertuples()}
            for method in ("unadjusted", "holm", "bh"):
                if f"{method}_fwer" not in m:
                    continue
                power = _pct(*m[f"{method}_power"]) if f"{method}_power" in m else "—"
                lines.append(
                    f"| {method} | {_pct(*m[f'{method}_fwer'])} | {power} | "
                    f"{_pct(*m[f'{method}_fdr'])} |"
                )
            lines.append("")
        gl = res[(res["section"] == "global_test") & (res["metric"] == "rejection")]
        if len(gl):
            lines += [
                "Global interaction F tests (all 8 modifiers at once), rejection % (MC SE):",
                "",
                "| outcome | " + " | ".join(dict.fromkeys(gl["visit"])) + " |",
                "|---|" + "---:|" * gl["visit"].nunique(),
            ]
            for outcome, g in gl.groupby("outcome", sort=False):
                lines.append(
                    f"| {outcome} | "
                    + " | ".join(_pct(r.value, r.mc_se) for r in g.itertuples())
                    + " |"
                )
            lines.append("")
        n_fail = res.groupby("analysis")["n_failed"].max()
        if (n_fail > 0).any():
            lines += ["Failed fits: " + ", ".join(f"{k} {v}" for k, v in n_fail.items() if v), ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=1000, help="trials per scenario")
    parser.add_argument(
        "--scenario", action="append", choices=SCENARIOS,
        help="named scenario (repeat for several; default: all three)",
    )  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--raw", type=Path, default=None,
        help="directory for the per-replicate tables (<scenario>_<table>.csv.gz)",
    )  # fmt: skip
    parser.add_argument(
        "--candidates", action="store_true",
        help="also fit the robust candidates not chosen (csh; random intercept + sandwich)",
    )  # fmt: skip
    parser.add_argument(
        "--modifier-se", choices=("ols", "hc3", "hc2"), default=None,
        help="override the plan's [effect_modification] standard_errors for the modifier tests",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=Path("operating_characteristics.csv"),
        help="results CSV (default: ./operating_characteristics.csv)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    names = args.scenario or list(SCENARIOS)
    plan = load_plan()
    if args.modifier_se is not None:
        plan = dataclasses.replace(
            plan,
            effect_modification=dataclasses.replace(
                plan.effect_modification, standard_errors=args.modifier_se
            ),
        )
    frames = []
    started = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        frames.append(
            operating_characteristics(
                name,
                reps=args.reps,
                seed=args.seed,
                jobs=args.jobs,
                candidates=args.candidates,
                raw_dir=args.raw,
                plan=plan,
            )
        )
        print(f"[{name}] {args.reps} trials in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    results = pd.concat(frames, ignore_index=True)
    results.to_csv(args.out, index=False)
    truncated = {
        name: {k: v for k, v in calibrate(named_scenario(name)).truncated.items() if v > 0}
        for name in names
    }
    print(
        f"Measured by `python benchmarks/operating_characteristics.py --reps {args.reps} "
        f"--jobs {args.jobs} --seed {args.seed}{' --candidates' if args.candidates else ''}"
        f"{f' --modifier-se {args.modifier_se}' if args.modifier_se else ''}` "
        f"on {datetime.date.today().isoformat()}: "
        f"resolve {getattr(resolve, '__version__', '?')}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}, {platform.machine()} "
        f"({os.cpu_count()} CPUs), {time.perf_counter() - started:.0f} s in all. Share of "
        "participants whose configured effect was truncated at the scale (the true effect "
        "is then slightly smaller than the scenario's): "
        + (
            "; ".join(
                f"{n} {o} week {w} {100 * v:.2f}%"
                for n, t in truncated.items()
                for (o, w), v in t.items()
            )
            or "none"
        )
        + ".\n"
    )
    print(markdown(results))


if __name__ == "__main__":
    main()
