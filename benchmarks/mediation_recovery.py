"""Mediation analysis: recovery of known paths by simulation, and speed.

**Recovery** (default). ``--reps`` RESOLVE-sized trials (``--n`` = 276, 1:1 allocation,
one baseline covariate ``C ~ N(0, 1)``) per scenario, from linear structural models with
known paths; in each, the regression-based natural effects
(:func:`resolve.analysis.mediation.regression.fit_single`, delta-method Wald interval)
and ``--boot`` bootstrap resamples of participants (percentile and BCa intervals, the
estimator of :func:`~resolve.analysis.mediation.regression.point_estimates`):

============  ==========================================================================
scenario      model (errors N(0, 1))
============  ==========================================================================
linear        M = 0.5 A + 0.4 C + e;  Y = 0.3 A + 0.4 M + 0.3 C + e      (NIE 0.2, NDE 0.3)
interaction   M = 1 + 0.5 A + 0.4 C + e;  Y = 0.3 A + 0.4 M + 0.2 A M + 0.3 C + e
              (NIE = 0.5 (0.4 + 0.2) = 0.3, NDE = 0.3 + 0.2 · 1 = 0.5)
binary        P(M = 1) = expit(−0.5 + A + 0.5 C);  Y = 0.3 A + 0.6 M + 0.2 A M + 0.3 C + e
              (effects at C = 0, the population mean: NIE = 0.8 (expit(0.5) − expit(−0.5)))
null_a        as linear with a = 0 (no mediation; b = 0.4)
null_b        as linear with b = 0 (no mediation; a = 0.5)
null_ab       a = b = 0
============  ==========================================================================

Per scenario and effect (nde, nie, te): bias with its Monte-Carlo SE (SD / √reps),
empirical SE, mean delta-method SE, coverage of the true value by the delta, percentile
and BCa 95% intervals and the rejection rate (interval excludes 0), each with its MC SE.
Replicate ``r`` of scenario ``s`` uses ``numpy.random.SeedSequence([seed, s, r])``.

**Speed** (``--speed``): 7 mediators x 2 outcomes, ``--boot`` resamples (default 1000),
n = 276, 4 covariates. Times (median of ``--runs`` after a warm-up) (1) the core: for
each outcome and mediator the delta fit, the bootstrap on the shared resample matrix, the
jackknife and percentile + BCa intervals of nde/nie/te/pm, plus the joint effect of the
7 mediators per outcome; (2) :func:`resolve.analysis.mediation.mediate` end to end when
it is importable.

Run from the repository root::

    .venv/bin/python benchmarks/mediation_recovery.py --reps 2000 --boot 1000
    .venv/bin/python benchmarks/mediation_recovery.py --speed
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from resolve.analysis.mediation.bootstrap import (
    bca_ci,
    bootstrap_indices,
    jackknife_weights,
    percentile_ci,
    resample_weights,
)
from resolve.analysis.mediation.regression import (
    MediatorType,
    fit_single,
    point_estimates,
)

EFFECTS = ("nde", "nie", "te")
Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Scenario:
    name: str
    a: float
    b: float
    c_prime: float = 0.3
    theta3: float = 0.0
    m_intercept: float = 0.0
    mediator_type: MediatorType = "continuous"

    @property
    def interaction(self) -> bool:
        return self.theta3 != 0.0

    def truth(self) -> dict[str, float]:
        if self.mediator_type == "binary":
            p0 = float(special.expit(self.m_intercept))
            p1 = float(special.expit(self.m_intercept + self.a))
        else:
            p0, p1 = self.m_intercept, self.m_intercept + self.a
        nde = self.c_prime + self.theta3 * p0
        nie = (self.b + self.theta3) * (p1 - p0)
        return {"nde": nde, "nie": nie, "te": nde + nie}

    def simulate(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        arm = rng.permutation(np.repeat([0, 1], [n // 2, n - n // 2]))
        c = rng.normal(size=n)
        eta = self.m_intercept + self.a * arm + 0.4 * c
        if self.mediator_type == "binary":
            m = rng.binomial(1, special.expit(eta + 0.1 * c)).astype(float)
        else:
            m = eta + rng.normal(size=n)
        y = self.c_prime * arm + self.b * m + self.theta3 * arm * m + 0.3 * c + rng.normal(size=n)
        return pd.DataFrame({"arm": arm, "c": c, "m": m, "y": y})


SCENARIOS = (
    Scenario("linear", a=0.5, b=0.4),
    Scenario("interaction", a=0.5, b=0.4, theta3=0.2, m_intercept=1.0),
    Scenario("binary", a=1.0, b=0.6, theta3=0.2, m_intercept=-0.5, mediator_type="binary"),
    Scenario("null_a", a=0.0, b=0.4),
    Scenario("null_b", a=0.5, b=0.0),
    Scenario("null_ab", a=0.0, b=0.0),
)


def one_replicate(
    sc: Scenario, n: int, boot: int, seed: int, s: int, r: int
) -> list[dict[str, object]]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, s, r]))
    df = sc.simulate(n, rng)
    fit = fit_single(
        df,
        treatment="arm",
        outcome="y",
        mediator="m",
        covariates=["c"],
        interaction=sc.interaction,
        mediator_type=sc.mediator_type,
    )
    args = (df.arm, df.m, df.y, df[["c"]])
    kw = {"interaction": sc.interaction, "mediator_types": sc.mediator_type}
    idx = bootstrap_indices(n, boot, seed=int(rng.integers(2**31)))
    draws = point_estimates(*args, resample_weights(idx, n), **kw)  # type: ignore[arg-type]
    jack = point_estimates(*args, jackknife_weights(n), **kw)  # type: ignore[arg-type]
    truth = sc.truth()
    rows: list[dict[str, object]] = []
    for eff in EFFECTS:
        d = getattr(draws, eff)
        d = d[np.isfinite(d)]
        est, se = float(getattr(fit, eff)), float(getattr(fit, f"{eff}_se"))
        intervals = {
            "delta": (est - Z95 * se, est + Z95 * se),
            "percentile": percentile_ci(d, 0.95),
        }
        try:
            intervals["bca"] = bca_ci(d, est, getattr(jack, eff), 0.95)
        except ValueError:
            intervals["bca"] = (np.nan, np.nan)
        row: dict[str, object] = {
            "scenario": sc.name,
            "effect": eff,
            "truth": truth[eff],
            "estimate": est,
            "delta_se": se,
            "boot_sd": float(np.std(d, ddof=1)),
            "failed": int(boot - d.size),
        }
        for method, (low, high) in intervals.items():
            row[f"cover_{method}"] = float(low <= truth[eff] <= high)
            row[f"reject_{method}"] = float(not low <= 0.0 <= high)
        rows.append(row)
    return rows


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (scenario, effect), g in raw.groupby(["scenario", "effect"], sort=False):
        reps = len(g)
        err = g.estimate - g.truth
        rec: dict[str, object] = {
            "scenario": scenario,
            "effect": effect,
            "reps": reps,
            "truth": g.truth.iloc[0],
            "bias": err.mean(),
            "bias_mc_se": err.std(ddof=1) / np.sqrt(reps),
            "emp_se": g.estimate.std(ddof=1),
            "delta_se": g.delta_se.mean(),
            "boot_sd": g.boot_sd.mean(),
            "failed_resamples": int(g.failed.sum()),
        }
        for kind in ("cover", "reject"):
            for method in ("delta", "percentile", "bca"):
                v = g[f"{kind}_{method}"].dropna()
                rec[f"{kind}_{method}"] = v.mean()
                rec[f"{kind}_{method}_mc_se"] = np.sqrt(v.mean() * (1 - v.mean()) / len(v))
        out.append(rec)
    return pd.DataFrame(out)


def recovery(args: argparse.Namespace) -> None:
    chosen = [sc for sc in SCENARIOS if not args.scenario or sc.name in args.scenario]
    rows: list[dict[str, object]] = []
    start = time.perf_counter()
    for sc in chosen:
        s = SCENARIOS.index(sc)
        t0 = time.perf_counter()
        for r in range(args.reps):
            rows.extend(one_replicate(sc, args.n, args.boot, args.seed, s, r))
        print(f"# {sc.name}: {args.reps} reps in {time.perf_counter() - t0:.0f} s", flush=True)
    summary = summarise(pd.DataFrame(rows))
    if args.out:
        summary.to_csv(args.out, index=False)
    print(
        f"\nn = {args.n}, reps = {args.reps}, boot = {args.boot}, seed = {args.seed}, "
        f"{time.perf_counter() - start:.0f} s; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores\n"
    )
    print(
        "| scenario | effect | truth | bias (MC SE) | emp. SE | delta SE | boot SD | "
        "cover delta | cover pct | cover BCa | reject delta | reject pct | reject BCa |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for _, x in summary.iterrows():

        def pct(col: str, x: pd.Series = x) -> str:
            return f"{100 * x[col]:.1f} ({100 * x[col + '_mc_se']:.1f})"

        print(
            f"| {x.scenario} | {x.effect} | {x.truth:.3f} | {x.bias:+.4f} ({x.bias_mc_se:.4f}) | "
            f"{x.emp_se:.4f} | {x.delta_se:.4f} | {x.boot_sd:.4f} | {pct('cover_delta')} | "
            f"{pct('cover_percentile')} | {pct('cover_bca')} | {pct('reject_delta')} | "
            f"{pct('reject_percentile')} | {pct('reject_bca')} |"
        )


def _speed_data(n: int, seed: int) -> tuple[pd.DataFrame, list[str], list[str], list[str]]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"arm": rng.permutation(np.repeat([0, 1], [n // 2, n - n // 2]))})
    covs = [f"c{k}" for k in range(4)]
    for c in covs:
        df[c] = rng.normal(size=n)
    meds = ["pseq", "bbq", "pcs", "tsk", "frebaq", "tpd", "coordination"]
    for j, m in enumerate(meds):
        df[m] = 0.1 * j * df.arm + 0.3 * df.c0 + rng.normal(size=n)
    outs = ["pain_18", "rmdq_18"]
    for k, y in enumerate(outs):
        df[y] = (
            -0.5 * df.arm
            - 0.2 * (k + 1) * df[meds].sum(axis=1) / 7
            + 0.4 * df.c1
            + rng.normal(size=n)
        )
    return df, covs, meds, outs


def core_pipeline(
    df: pd.DataFrame, covs: list[str], meds: list[str], outs: list[str], boot: int, seed: int
) -> int:
    n = len(df)
    W = resample_weights(bootstrap_indices(n, boot, seed), n)
    J = jackknife_weights(n)
    C = df[covs].to_numpy()
    intervals = 0
    for y in outs:
        for m in meds:
            fit = fit_single(df, treatment="arm", outcome=y, mediator=m, covariates=covs)
            draws = point_estimates(df.arm, df[m], df[y], C, W)
            jack = point_estimates(df.arm, df[m], df[y], C, J)
            for eff in ("nde", "nie", "te", "pm"):
                d = getattr(draws, eff)
                percentile_ci(d, 0.95)
                bca_ci(d, getattr(fit, eff), getattr(jack, eff), 0.95)
                intervals += 2
        joint = point_estimates(df.arm, df[meds], df[y], C, W)
        percentile_ci(joint.nie, 0.95)
        intervals += 1
    return intervals


def median_seconds(func: Callable[[], object], runs: int) -> float:
    func()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def speed(args: argparse.Namespace) -> None:
    df, covs, meds, outs = _speed_data(276, args.seed)
    boot = args.boot
    print(
        f"7 mediators x 2 outcomes, n = 276, 4 covariates, boot = {boot}; median of "
        f"{args.runs} runs; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores"
    )
    t = median_seconds(lambda: core_pipeline(df, covs, meds, outs, boot, args.seed), args.runs)
    print(f"core (delta + bootstrap + jackknife + percentile & BCa, + joint): {t:.2f} s")
    try:
        from resolve.analysis.mediation import mediate
    except ImportError:  # pragma: no cover - api not there yet
        return
    runs: list[tuple[str, dict[str, Any]]] = [
        ("mediate(ci='percentile')", {"ci": "percentile"}),
        ("mediate(ci='bca')", {"ci": "bca"}),
        ("mediate(ci='bca', interaction=True)", {"ci": "bca", "interaction": True}),
        ("mediate(ci='bca', interventional=True)", {"ci": "bca", "interventional": True}),
    ]
    for label, kw in runs:

        def run(kw: dict[str, Any] = kw) -> object:
            return mediate(
                df,
                treatment="arm",
                outcomes=outs,
                mediators=meds,
                covariates=covs,
                boot=boot,
                seed=args.seed,
                **kw,
            )

        try:
            print(f"{label}: {median_seconds(run, args.runs):.2f} s")
        except Exception as exc:  # report, do not hide: the API is being written concurrently
            print(f"{label}: failed ({type(exc).__name__}: {exc})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--n", type=int, default=276)
    parser.add_argument("--scenario", action="append", choices=[s.name for s in SCENARIOS])
    parser.add_argument("--out", help="write the summary table as CSV")
    parser.add_argument("--speed", action="store_true", help="time instead of simulate")
    parser.add_argument("--runs", type=int, default=3, help="timed runs with --speed")
    args = parser.parse_args()
    if args.speed:
        speed(args)
    else:
        recovery(args)


if __name__ == "__main__":
    main()
