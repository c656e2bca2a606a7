"""Mediation on RESOLVE-like trials: does the plan's analysis recover the simulator's truths?

``--reps`` trials from the simulator's mediation scenario (``mediation.toml``: the RESOLVE
design, published total effects, seven end-of-treatment mediators with placeholder paths,
correlated through a shared change factor; MAR dropout; integer scores clipped to their
ranges), each analysed by the bundled plan's ``[mediation]`` section
(:func:`resolve.analysis.mediation.planned.mediation_analysis`: confounders age and sex,
each outcome's and each mediator's baseline, complete cases) with ``--boot`` resamples,
interventional effects and sensitivity curves off (they do not change the natural effects).

Truths (:mod:`resolve.simulate.mediators`): the joint indirect effect through all seven
mediators ``sum_j a_j b_j``, the direct effect ``total - joint`` and the total effect, at
18 weeks; each mediator analysed alone estimates
:func:`~resolve.simulate.mediators.single_mediator_indirect` (its own path plus those of
the mediators correlated with it), not ``a_j b_j``. With ``--zero`` every mediator ->
outcome path is 0 (``mediation.zero = true``): every indirect effect is 0 and the
rejection rate of each is the type-I error.

Per outcome, target and interval method: bias with its Monte-Carlo SE, coverage of the
truth and rejection of 0 (each with its MC SE). Trial ``r`` uses
``numpy.random.SeedSequence([seed, r])``.

    .venv/bin/python benchmarks/mediation_resolve_recovery.py --reps 500 --boot 500
    .venv/bin/python benchmarks/mediation_resolve_recovery.py --reps 500 --boot 500 --zero
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from resolve.analysis import load_plan
from resolve.analysis.mediation.planned import mediation_analysis
from resolve.simulate import simulate_trial
from resolve.simulate.mediators import (
    mediation_scenario,
    single_mediator_indirect,
    true_mediation,
)
from resolve.stats._blas import limit_blas_threads

WEEK = 18


def _plan(interaction: bool) -> Any:
    plan = load_plan()
    med = dataclasses.replace(
        plan.mediation, interventional=False, sensitivity=False, interaction=interaction
    )
    return dataclasses.replace(plan, mediation=med)


def truths(zero: bool) -> pd.DataFrame:
    """One row per outcome and target: the value the analysis should recover."""
    sc = mediation_scenario(zero=zero)
    rows = []
    for outcome in ("pain", "rmdq"):
        joint = true_mediation(sc, outcome, WEEK)
        alone = single_mediator_indirect(sc, outcome, WEEK)
        rows += [
            {"outcome": outcome, "mediator": "joint", "effect": "nie", "truth": joint["joint"]},
            {"outcome": outcome, "mediator": "joint", "effect": "nde", "truth": joint["direct"]},
            {"outcome": outcome, "mediator": "joint", "effect": "te", "truth": joint["total"]},
        ]
        rows += [
            {"outcome": outcome, "mediator": m, "effect": "nie", "truth": v}
            for m, v in alone.items()
        ]
    return pd.DataFrame(rows)


def one(args: tuple[int, int, int, bool, bool]) -> pd.DataFrame:
    seed, r, boot, zero, interaction = args
    with limit_blas_threads(1):
        rng = np.random.default_rng(np.random.SeedSequence([seed, r]))
        data = simulate_trial(mediation_scenario(zero=zero), seed=rng)
        out = mediation_analysis(data, _plan(interaction), boot=boot)
    e = out.result.effects
    e = e[e["effect"].isin(["nie", "nde", "te"])].copy()
    e["replicate"] = r
    return e


def summarise(raw: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    df = raw.merge(truth, on=["outcome", "mediator", "effect"])
    rows = []
    for (o, m, e, method), g in df.groupby(["outcome", "mediator", "effect", "ci_method"]):
        t = float(g["truth"].iloc[0])
        est = g["estimate"].to_numpy()
        n = len(g)
        cover = ((g["conf_low"] <= t) & (t <= g["conf_high"])).to_numpy()
        reject = ((g["conf_low"] > 0) | (g["conf_high"] < 0)).to_numpy()
        rows.append(
            {
                "outcome": o,
                "target": m,
                "effect": e,
                "method": method,
                "truth": t,
                "bias": est.mean() - t,
                "bias_mc_se": est.std(ddof=1) / np.sqrt(n),
                "coverage": cover.mean(),
                "coverage_mc_se": np.sqrt(cover.mean() * (1 - cover.mean()) / n),
                "rejection": reject.mean(),
                "reps": n,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--boot", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--zero", action="store_true", help="zero-mediation scenario")
    parser.add_argument("--no-interaction", action="store_true", help="models without A x M")
    parser.add_argument("--out", help="write the summary as CSV")
    args = parser.parse_args()
    start = time.perf_counter()
    tasks = [
        (args.seed, r, args.boot, args.zero, not args.no_interaction) for r in range(args.reps)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        raw = pd.concat(pool.map(one, tasks, chunksize=4), ignore_index=True)
    summary = summarise(raw, truths(args.zero))
    took = time.perf_counter() - start
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or 'cpu'}, "
        f"{args.reps} trials, {args.boot} resamples, zero={args.zero}, "
        f"interaction={not args.no_interaction}, {took:.0f} s on {args.workers} workers"
    )
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(summary.round(4).to_string(index=False))
    if args.out:
        summary.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
