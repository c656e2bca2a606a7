"""Power, sample size and operating characteristics of a design, by simulation.

:func:`simulate_designs` runs ``reps`` seeded trials of every design of a grid
through :func:`~resolve.design.run_replicates` (any engine) and keeps one row
per replicate, target and adjustment; :func:`power_table` turns them into
power with its Monte-Carlo SE and a Wilson interval; :func:`oc_table` into
bias, empirical and model SE, RMSE, coverage and rejection rate;
:func:`sample_size` searches a grid of sizes and then bisects to the smallest
``n`` whose simulated power reaches the target.

Every design point uses the same seed, so neighbouring sizes share their random
numbers (common random numbers): power curves are smooth and the bisection
compares like with like.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import resolve
from resolve.analysis.plan import Plan
from resolve.design.engine import ProgressFn, run_replicates
from resolve.design.engine_backends import Engine
from resolve.design.trials import (
    ANALYSES,
    TrialDesign,
    analyse_design_trial,
    check_targets,
    design_scenario,
    needs_modifiers,
    simulate_design_trial,
    true_values,
)
from resolve.errors import DataValidationError
from resolve.simulate import Scenario
from resolve.stats._blas import limit_blas_threads

__all__ = [
    "DesignRun",
    "SampleSize",
    "oc_table",
    "power_table",
    "sample_size",
    "simulate_designs",
]

#: Columns identifying a design point in every table.
DESIGN_COLUMNS = ("design", "n", "ratio", "dropout", "effect_scale", "modification", "modifier_sd")
_Z = 1.959963984540054


def design_replicate(
    rng: np.random.Generator,
    index: int,
    *,
    scenario: Scenario,
    plan: Plan,
    design: TrialDesign,
    analyses: str,
    eligible: float,
) -> list[dict[str, Any]]:
    """One replicate: simulate a trial of ``design`` and run the plan's tests on it."""
    with limit_blas_threads(1):
        data, screened = simulate_design_trial(
            scenario,
            design,
            rng,
            eligible=eligible,
            modifiers=needs_modifiers(plan, design, analyses),
        )
        rows = analyse_design_trial(data, plan, design, analyses=analyses)
    for row in rows:
        row["n_screened"] = screened
    return rows


@dataclass
class DesignRun:
    """Per-replicate results of a design grid and what produced them.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per design point, replicate, target and adjustment: the
        design columns, ``replicate``, ``target``, ``estimand``,
        ``adjustment``, ``truth``, ``estimate``, ``std_error``, ``conf_low``,
        ``conf_high``, ``p_value``, ``reject``, ``failed``, ``n_screened``.
    reps, seed, analyses, alpha
        As given to :func:`simulate_designs`.
    scenario : str
        Name of the scenario.
    eligible : dict
        Design label -> share of the population meeting its condition.
    """

    rows: pd.DataFrame
    reps: int
    seed: int
    analyses: str
    alpha: float
    scenario: str
    eligible: dict[str, float] = field(default_factory=dict)
    version: str = resolve.__version__


def _run_identity(design: TrialDesign, analyses: str, scenario: Scenario, plan: Plan) -> str:
    """What a stored run must match to be resumed: version, design and the inputs' contents.

    The scenario and plan enter by a digest of their values, not their names, so an
    edited file under the same name starts a new run instead of mixing results.
    """
    inputs = f"{scenario!r}|{json.dumps(plan.raw, sort_keys=True, default=str)}"
    digest = hashlib.sha256(inputs.encode()).hexdigest()[:16]
    return f"resolve {resolve.__version__}; {design!r}; {analyses}; inputs {digest}"


def _point_dir(out: Path | None, design: TrialDesign, analyses: str) -> Path | None:
    """One sub-directory per design point, named after the point (stable across runs)."""
    if out is None:
        return None
    digest = hashlib.sha256(f"{design!r}|{analyses}".encode()).hexdigest()[:10]
    kind = design.kind if design.condition is None else f"{design.kind}-{design.condition.modifier}"
    return out / f"{kind}-n{int(design.n)}-{digest}"


def simulate_designs(
    designs: Sequence[TrialDesign],
    *,
    scenario: Scenario,
    plan: Plan,
    reps: int,
    seed: int,
    analyses: str = "primary",
    engine: Engine | None = None,
    out: str | Path | None = None,
    progress: ProgressFn | None = None,
    chunk_size: int | None = None,
) -> DesignRun:
    """Simulate ``reps`` trials of each design and run the plan's tests on each.

    Parameters
    ----------
    designs : sequence of TrialDesign
        The grid (e.g. one design per sample size).
    scenario, plan
        The data-generating scenario and the analysis plan.
    reps, seed
        Replicates per design and the root seed (the same for every design).
    analyses : {"primary", "full"}
        The primary model only, or also every modifier test and global test.
    engine : Engine, optional
        :class:`~resolve.design.LocalEngine` (default), serial or Dask.
    out : path, optional
        Directory for the resumable Parquet results (one sub-directory per design).
    progress : callable, optional
        ``progress(done, total, seconds)`` over all designs' replicates.
    chunk_size : int, optional
        Replicates per task (default: about one second of work).

    Returns
    -------
    DesignRun
    """
    if analyses not in ANALYSES:
        raise DataValidationError(
            f"analyses must be one of {', '.join(ANALYSES)}, got {analyses!r}"
        )
    if not designs:
        raise DataValidationError("no design to simulate")
    root = Path(out) if out is not None else None
    frames: list[pd.DataFrame] = []
    eligible: dict[str, float] = {}
    total = reps * len(designs)
    for k, design in enumerate(designs):
        sc = design_scenario(scenario, design)
        truth, share = true_values(sc, design, plan, seed=seed)
        eligible[design.label] = share
        fn = functools.partial(
            design_replicate,
            scenario=sc,
            plan=plan,
            design=design,
            analyses=analyses,
            eligible=share,
        )
        offset = k * reps

        def step(done: int, _total: int, seconds: float, offset: int = offset) -> None:
            if progress is not None:
                progress(offset + done, total, seconds)

        rows = run_replicates(
            fn,
            reps=reps,
            seed=seed,
            engine=engine,
            out=_point_dir(root, design, analyses),
            progress=step,
            fn_version=_run_identity(design, analyses, sc, plan),
            chunk_size=chunk_size,
        )
        for col, value in reversed(design.as_row().items()):
            rows.insert(0, col, value)
        rows.insert(list(rows.columns).index("estimand") + 1, "truth", rows["target"].map(truth))
        frames.append(rows)
    return DesignRun(
        rows=pd.concat(frames, ignore_index=True),
        reps=reps,
        seed=seed,
        analyses=analyses,
        alpha=1 - plan.analysis.conf_level,
        scenario=scenario.name,
        eligible=eligible,
    )


def _keys(rows: pd.DataFrame) -> list[str]:
    return [*DESIGN_COLUMNS, "target", "estimand", "adjustment"]


def _wilson(k: float, n: int) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    p = k / n
    denom = 1 + _Z**2 / n
    centre = (p + _Z**2 / (2 * n)) / denom
    half = _Z * math.sqrt(p * (1 - p) / n + _Z**2 / (4 * n * n)) / denom
    # exact at the ends (the formula gives 1 - 1e-16 for k = n in floating point)
    low = 0.0 if k == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if k == n else min(1.0, max(p, centre + half))
    return low, high


def power_table(run: DesignRun) -> pd.DataFrame:
    """Power per design point, target and adjustment.

    Columns: the design columns, ``target``, ``estimand``, ``adjustment``,
    ``truth`` (the true effect; empty for global tests), ``power`` (share of
    replicates rejecting at the plan's level; failed fits count as not
    rejecting), ``mc_se`` (``sqrt(p (1 - p) / reps)``),
    ``conf_low``/``conf_high`` (95% Wilson interval of the Monte-Carlo
    estimate), ``reps``, ``n_failed``, ``n_randomised``, ``n_screened`` (mean
    over replicates).
    """
    out: list[dict[str, Any]] = []
    keys = [*_keys(run.rows), "truth"]
    for key, g in run.rows.groupby(keys, sort=False, dropna=False):
        reps = len(g)
        k = int(g["reject"].astype(bool).sum())
        p = k / reps
        low, high = _wilson(k, reps)
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row.update(
            power=p,
            mc_se=math.sqrt(p * (1 - p) / reps),
            conf_low=low,
            conf_high=high,
            reps=reps,
            n_failed=int(g["failed"].astype(bool).sum()),
            n_randomised=int(row["n"]),
            n_screened=float(g["n_screened"].mean()),
        )
        out.append(row)
    return pd.DataFrame(out)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def oc_table(run: DesignRun) -> pd.DataFrame:
    """Operating characteristics per design point, target and adjustment.

    Long format: the design columns, ``target``, ``estimand``, ``adjustment``,
    ``truth``, ``reps``, ``n_failed``, ``metric`` and ``value`` with its
    ``mc_se``. Metrics (over replicates whose fit succeeded): ``bias``,
    ``empirical_se``, ``mean_se``, ``rmse``, ``coverage`` (of the truth by the
    plan's confidence interval) for estimates with a truth; ``rejection``
    (type-I error where the truth is 0, power otherwise) for every test.
    """
    out: list[dict[str, Any]] = []
    keys = [*_keys(run.rows), "truth"]
    for key, g in run.rows.groupby(keys, sort=False, dropna=False):
        base: dict[str, Any] = dict(zip(keys, key, strict=True))
        ok = ~g["failed"].astype(bool).to_numpy()
        base.update(reps=len(g), n_failed=int((~ok).sum()))
        metrics: list[tuple[str, float, float]] = []
        truth = base["truth"]
        est = g["estimate"].to_numpy(float)[ok]
        se = g["std_error"].to_numpy(float)[ok]
        if (
            truth is not None
            and not pd.isna(truth)
            and est.size >= 2
            and base["adjustment"] == "none"
        ):
            t = float(truth)
            bias, bias_se = _mean_se(est - t)
            sd = float(est.std(ddof=1))
            mse, mse_se = _mean_se((est - t) ** 2)
            rmse = math.sqrt(mse)
            low = g["conf_low"].to_numpy(float)[ok]
            high = g["conf_high"].to_numpy(float)[ok]
            cover = ((low <= t) & (t <= high)).astype(float)
            c, _ = _mean_se(cover)
            metrics += [
                ("bias", bias, bias_se),
                ("empirical_se", sd, sd / math.sqrt(2 * (est.size - 1))),
                ("mean_se", *_mean_se(se)),
                ("rmse", rmse, mse_se / (2 * rmse) if rmse > 0 else math.nan),
                ("coverage", c, math.sqrt(c * (1 - c) / est.size)),
            ]
        r = float(g["reject"].astype(bool).mean())
        metrics.append(("rejection", r, math.sqrt(r * (1 - r) / len(g))))
        for metric, value, mc_se in metrics:
            out.append({**base, "metric": metric, "value": value, "mc_se": mc_se})
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------- sample size
@dataclass
class SampleSize:
    """Result of :func:`sample_size`.

    Attributes
    ----------
    n : int or None
        Smallest evaluated ``n`` whose power reached the target (None if the
        largest allowed ``n`` did not).
    power, mc_se : float
        Simulated power at ``n`` and its Monte-Carlo SE.
    curve : pandas.DataFrame
        Every evaluated point (:func:`power_table` rows of the target), by ``n``.
    run : DesignRun
        All per-replicate rows.
    """

    n: int | None
    power: float
    mc_se: float
    curve: pd.DataFrame
    run: DesignRun


def sample_size(
    make: Callable[[int], TrialDesign],
    *,
    target: str,
    power: float,
    grid: Sequence[int],
    adjustment: str = "none",
    step: int = 2,
    max_n: int | None = None,
    **simulate: Any,
) -> SampleSize:
    """Smallest ``n`` with simulated power >= ``power`` for ``target``.

    Evaluates ``grid`` first; if no grid point reaches the target, doubles the
    largest up to ``max_n`` (default 16 x the largest grid point). Then bisects
    between the last size below and the first size at or above the target until
    the bracket is ``step`` wide (sizes rounded to multiples of ``step``).

    Parameters
    ----------
    make : callable
        ``make(n)`` gives the design with ``n`` randomised.
    target, adjustment
        The test (``treatment:pain:week 52``) and its adjustment (``none``,
        ``holm``, ``bh``).
    power : float
        Required power, in (0, 1).
    grid : sequence of int
        Sizes to evaluate first.
    step : int
        Resolution of the answer (2 keeps 1:1 arms equal).
    simulate
        Keyword arguments of :func:`simulate_designs` (scenario, plan, reps, seed, ...).
    """
    if not 0 < power < 1:
        raise DataValidationError(f"power must be between 0 and 1, got {power!r}")
    if not grid:
        raise DataValidationError("sample_size needs at least one n in the grid")
    if step < 1:
        raise DataValidationError(f"step must be >= 1, got {step!r}")

    check_targets(
        simulate["plan"], make(max(grid)), simulate.get("analyses", "primary"), [target], adjustment
    )

    def rounded(n: float) -> int:
        return max(step, math.ceil(n / step) * step)

    limit = max_n if max_n is not None else 16 * max(grid)
    evaluated: dict[int, float] = {}
    runs: list[DesignRun] = []

    def evaluate(ns: Sequence[int]) -> None:
        todo = sorted({n for n in ns if n not in evaluated})
        if not todo:
            return
        run = simulate_designs([make(n) for n in todo], **simulate)
        runs.append(run)
        table = power_table(run)
        hit = table[(table["target"] == target) & (table["adjustment"] == adjustment)]
        if hit.empty:
            known = sorted(set(table["target"]))
            raise DataValidationError(
                f"target {target!r} (adjustment {adjustment!r}) is not tested by this plan; "
                f"targets: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''}"
            )
        for size, value in zip(hit["n"].tolist(), hit["power"].tolist(), strict=True):
            evaluated[int(size)] = float(value)

    evaluate([rounded(n) for n in grid])
    while max(evaluated.values()) < power and max(evaluated) < limit:
        evaluate([min(limit, rounded(2 * max(evaluated)))])
    above = sorted(n for n, p in evaluated.items() if p >= power)
    if above:
        hi = above[0]
        below = [n for n in evaluated if n < hi]
        lo = max(below) if below else 0
        while hi - lo > step:
            mid = rounded((lo + hi) / 2)
            if mid >= hi or mid <= lo:
                break
            evaluate([mid])
            if evaluated[mid] >= power:
                hi = mid
            else:
                lo = mid
        n: int | None = hi
    else:
        n = None
    merged = DesignRun(
        rows=pd.concat([r.rows for r in runs], ignore_index=True),
        reps=runs[0].reps,
        seed=runs[0].seed,
        analyses=runs[0].analyses,
        alpha=runs[0].alpha,
        scenario=runs[0].scenario,
        eligible={k: v for r in runs for k, v in r.eligible.items()},
    )
    table = power_table(merged)
    curve = (
        table[(table["target"] == target) & (table["adjustment"] == adjustment)]
        .sort_values("n", kind="stable")
        .reset_index(drop=True)
    )
    at = curve[curve["n"] == n] if n is not None else curve.iloc[-1:]
    p_at = float(at["power"].iloc[0])
    return SampleSize(
        n=n,
        power=p_at,
        mc_se=float(at["mc_se"].iloc[0]),
        curve=curve,
        run=merged,
    )
