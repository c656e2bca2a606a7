"""``resolve design``: power, sample size and operating characteristics by simulation."""

from __future__ import annotations

import itertools
import json
import math
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from resolve.cli._app import app
from resolve.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from resolve.design import Engine
    from resolve.design.power import DesignRun
    from resolve.design.trials import TrialDesign

__all__ = ["design_app"]

design_app = typer.Typer(
    help="Design the next trial: power, sample size and operating characteristics by simulation.",
    no_args_is_help=True,
)
app.add_typer(design_app, name="design")

ScenarioOpt = Annotated[
    Path | None, typer.Option("--scenario", help="Scenario TOML (default: the RESOLVE scenario).")
]
PlanOpt = Annotated[
    Path | None, typer.Option("--plan", help="Analysis plan TOML (default: the RESOLVE plan).")
]
RepsOpt = Annotated[int, typer.Option("--reps", min=1, help="Simulated trials per design point.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Root seed (same for every point).")]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786."),
]
DaskLocalOpt = Annotated[
    int | None,
    typer.Option("--dask-local", min=1, help="Start a Dask LocalCluster with W workers."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Local worker processes (default: all cores)."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Directory: resumable replicate results (Parquet), tables (CSV/JSON) and report.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the results as JSON.")]
DesignOpt = Annotated[
    str,
    typer.Option(
        "--design",
        help="Designs, comma-separated: parallel, enrichment:frebaq<=12, "
        "stratified:frebaq>=14, biomarker:frebaq>=14.",
    ),
]
RatioOpt = Annotated[
    str, typer.Option("--ratio", help="Allocation ratios treated:reference, e.g. 1,2.")
]
DropoutOpt = Annotated[
    str, typer.Option("--dropout", help="Multipliers of the scenario's missed visits (0 = none).")
]
EffectOpt = Annotated[
    str, typer.Option("--effect-scale", help="Multipliers of the scenario's average effects.")
]
ModOpt = Annotated[
    str | None,
    typer.Option("--modification", help="Per-point effect modification(s), e.g. 0,0.09,0.18."),
]
ModSdOpt = Annotated[
    str | None, typer.Option("--modifier-sd", help="SD(s) of the modifier with modification.")
]
AnalysesOpt = Annotated[
    str,
    typer.Option(
        "--analyses",
        help="primary (the plan's primary model) or full (also every modifier and global test).",
    ),
]
TargetOpt = Annotated[
    list[str] | None,
    typer.Option("--target", help="Only these targets, e.g. 'treatment:pain:week 18'."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


# ----------------------------------------------------------------------------- parsing
def _require_design() -> None:
    """A clear error (exit 2) when the ``design`` extra is not installed."""
    try:
        import resolve.design  # noqa: F401
    except ImportError as exc:
        raise DataValidationError(f"resolve design: {exc}") from None


def _numbers(text: str, option: str, convert: Callable[[str], Any]) -> list[Any]:
    values = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = convert(part)
        except ValueError:
            raise DataValidationError(f"{option}: {part!r} is not a number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise DataValidationError(f"{option}: {part!r} is not a finite number")
        values.append(value)
    if not values:
        raise DataValidationError(f"{option}: give at least one value")
    return values


def _ints(text: str, option: str) -> list[int]:
    return [int(v) for v in _numbers(text, option, int)]


def _floats(text: str | None, option: str) -> list[float | None]:
    return [None] if text is None else _numbers(text, option, float)


def _designs(
    n: Sequence[int],
    design: str,
    ratio: str,
    dropout: str,
    effect_scale: str,
    modification: str | None,
    modifier_sd: str | None,
) -> list[TrialDesign]:
    from resolve.design.trials import TrialDesign, parse_design

    kinds = [parse_design(part) for part in design.split(",")]
    grid = itertools.product(
        kinds,
        _floats(ratio, "--ratio"),
        _floats(dropout, "--dropout"),
        _floats(effect_scale, "--effect-scale"),
        _floats(modification, "--modification"),
        _floats(modifier_sd, "--modifier-sd"),
        n,
    )
    return [
        TrialDesign(
            size, kind, cond, ratio=1.0 if r is None else r, dropout=1.0 if d is None else d,
            effect_scale=1.0 if e is None else e, modification=m, modifier_sd=s,
        )
        for (kind, cond), r, d, e, m, s, size in grid
    ]  # fmt: skip


def _engine(scheduler: str | None, dask_local: int | None, workers: int | None) -> Engine:
    from resolve.design import DaskEngine, LocalEngine

    given = [x is not None for x in (scheduler, dask_local, workers)]
    if sum(given) > 1:
        raise DataValidationError("give only one of --scheduler, --dask-local and --workers")
    if scheduler is not None or dask_local is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise DataValidationError(
                "--scheduler/--dask-local need Dask: pip install 'resolve[design]'"
            ) from None
        return DaskEngine(address=scheduler, local_workers=dask_local)
    return LocalEngine(workers=workers)


def _engine_name(scheduler: str | None, dask_local: int | None, workers: int | None) -> str:
    if scheduler is not None:
        return f"Dask scheduler {scheduler}"
    if dask_local is not None:
        return f"Dask LocalCluster, {dask_local} workers"
    return f"local processes ({workers or 'all cores'})"


def _inputs(scenario: Path | None, plan: Path | None) -> tuple[Any, Any]:
    from resolve.analysis import load_plan
    from resolve.simulate import default_scenario, load_scenario

    return (
        default_scenario() if scenario is None else load_scenario(scenario),
        load_plan(plan),
    )


def _check_targets(
    plan: Any, grid: Sequence[TrialDesign], analyses: str, targets: list[str] | None
) -> None:
    """Refuse a --target no design of the grid tests, before anything runs."""
    from resolve.design.trials import check_targets, design_targets

    _check_analyses(analyses)
    for t in targets or []:
        if not any(t in {name for name, _ in design_targets(plan, d, analyses)} for d in grid):
            check_targets(plan, grid[0], analyses, [t], None)


def _check_analyses(analyses: str) -> str:
    from resolve.design.trials import ANALYSES

    if analyses not in ANALYSES:
        raise DataValidationError(
            f"--analyses must be one of {', '.join(ANALYSES)}, got {analyses!r}"
        )
    return analyses


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[int, int, float], None] | None]:
    """A Rich progress bar on stderr (replicates, replicates/s, ETA); nothing when quiet."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("design", total=None, rate="")

        def update(done: int, total: int, seconds: float) -> None:
            rate = f"{done / seconds:.1f} trials/s" if seconds > 0 and done else ""
            bar.update(task, completed=done, total=total, rate=rate)

        yield update


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records: NaN/None -> null, numpy scalars -> Python."""
    out = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if hasattr(value, "item"):
                value = value.item()
            if isinstance(value, float) and math.isnan(value):
                value = None
            clean[str(key)] = value
        out.append(clean)
    return out


def _emit(records: list[dict[str, Any]], as_json: bool, text: Callable[[], str]) -> None:
    if as_json:
        typer.echo(json.dumps(records, indent=2, allow_nan=False))
    else:
        typer.echo(text())


def _filter(table: pd.DataFrame, targets: list[str] | None) -> pd.DataFrame:
    if not targets:
        return table
    known = set(table["target"])
    missing = [t for t in targets if t not in known]
    if missing:
        raise DataValidationError(
            f"--target {missing[0]!r} is not tested by this plan and design; "
            f"targets include {', '.join(sorted(known)[:8])}"
        )
    return table[table["target"].isin(targets)].reset_index(drop=True)


def _meta(run: DesignRun, scenario: Any, plan: Any, engine: str) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "scenario_description": scenario.description,
        "plan": plan.source,
        "reps": run.reps,
        "seed": run.seed,
        "analyses": run.analyses,
        "alpha": run.alpha,
        "engine": engine,
        "resolve_version": run.version,
        "command": "resolve " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "eligible": run.eligible,
    }


def _write_report(out: Path | None, power: pd.DataFrame, **kwargs: Any) -> None:
    if out is None:
        return
    from resolve.report.design import write_design_report

    write_design_report(out, power, **kwargs)


def _replicates_dir(out: Path | None) -> Path | None:
    return None if out is None else out / "replicates"


def _simulate_grid(
    n: str,
    reps: int,
    seed: int,
    scenario: Path | None,
    plan: Path | None,
    design: str,
    ratio: str,
    dropout: str,
    effect_scale: str,
    modification: str | None,
    modifier_sd: str | None,
    analyses: str,
    target: list[str] | None,
    scheduler: str | None,
    dask_local: int | None,
    workers: int | None,
    out: Path | None,
    quiet: bool,
) -> tuple[DesignRun, dict[str, Any]]:
    """The grid of ``power`` and ``oc``: checked, simulated; (run, report metadata)."""
    from resolve.design.power import simulate_designs

    _require_design()
    sc, pl = _inputs(scenario, plan)
    grid = _designs(
        _ints(n, "--n"), design, ratio, dropout, effect_scale, modification, modifier_sd
    )
    engine = _engine(scheduler, dask_local, workers)
    _check_targets(pl, grid, analyses, target)
    with engine, _progress(quiet) as progress:
        run = simulate_designs(
            grid, scenario=sc, plan=pl, reps=reps, seed=seed, analyses=_check_analyses(analyses),
            engine=engine, out=_replicates_dir(out), progress=progress,
        )  # fmt: skip
    return run, _meta(run, sc, pl, _engine_name(scheduler, dask_local, workers))


_CURVE = ("n", "power", "mc_se", "n_screened")
_POWER_TEXT = ["design", "n", "target", "adjustment", "power", "mc_se", "n_screened"]


# ----------------------------------------------------------------------------- commands
@design_app.command("power")
def power_command(
    n: Annotated[str, typer.Option("--n", help="Sample sizes randomised, e.g. 200,276,400.")],
    reps: RepsOpt,
    seed: SeedOpt = 20261205,
    scenario: ScenarioOpt = None,
    plan: PlanOpt = None,
    design: DesignOpt = "parallel",
    ratio: RatioOpt = "1",
    dropout: DropoutOpt = "1",
    effect_scale: EffectOpt = "1",
    modification: ModOpt = None,
    modifier_sd: ModSdOpt = None,
    analyses: AnalysesOpt = "full",
    target: TargetOpt = None,
    scheduler: SchedulerOpt = None,
    dask_local: DaskLocalOpt = None,
    workers: WorkersOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Power of every tested effect at each sample size, with Monte-Carlo SE."""
    from resolve.design.power import power_table

    run, meta = _simulate_grid(
        n, reps, seed, scenario, plan, design, ratio, dropout, effect_scale, modification,
        modifier_sd, analyses, target, scheduler, dask_local, workers, out, quiet,
    )  # fmt: skip
    table = _filter(power_table(run), target)
    _write_report(out, table, meta=meta, title="Power by simulation")
    _emit(_records(table), as_json, lambda: table.loc[:, _POWER_TEXT].to_string(index=False))


@design_app.command("sample-size")
def sample_size_command(
    target: Annotated[
        str, typer.Option("--target", help="The effect to power, e.g. 'treatment:pain:week 18'.")
    ],
    reps: RepsOpt,
    power: Annotated[float, typer.Option("--power", min=0.01, max=0.99)] = 0.8,
    adjustment: Annotated[
        str, typer.Option("--adjustment", help="none, holm or bh (modifier tests).")
    ] = "none",
    n: Annotated[
        str, typer.Option("--n", help="Sizes to evaluate first (then bisection).")
    ] = "100,200,400,800",
    step: Annotated[int, typer.Option("--step", min=1, help="Resolution of the answer.")] = 2,
    max_n: Annotated[int | None, typer.Option("--max-n", min=8)] = None,
    seed: SeedOpt = 20261205,
    scenario: ScenarioOpt = None,
    plan: PlanOpt = None,
    design: DesignOpt = "parallel",
    ratio: RatioOpt = "1",
    dropout: DropoutOpt = "1",
    effect_scale: EffectOpt = "1",
    modification: ModOpt = None,
    modifier_sd: ModSdOpt = None,
    analyses: Annotated[
        str | None,
        typer.Option("--analyses", help="primary or full (default: what the target needs)."),
    ] = None,
    scheduler: SchedulerOpt = None,
    dask_local: DaskLocalOpt = None,
    workers: WorkersOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Smallest n randomised whose simulated power for --target reaches --power."""
    import pandas as pd

    from resolve.design.power import sample_size

    if adjustment not in ("none", "holm", "bh"):
        raise DataValidationError(f"--adjustment must be none, holm or bh, got {adjustment!r}")
    needed = "primary" if target.startswith("treatment:") else "full"
    chosen = _check_analyses(analyses or needed)
    if chosen == "primary" and needed == "full":
        raise DataValidationError(f"--target {target!r} needs --analyses full")
    _require_design()
    sc, pl = _inputs(scenario, plan)
    if chosen == "primary":
        # each outcome's model is fitted on its own: analyse only the target's outcome
        import dataclasses

        name = target.split(":")[1] if target.count(":") >= 2 else ""
        keep = tuple(o for o in pl.outcomes if o.name == name)
        if keep:
            pl = dataclasses.replace(pl, outcomes=keep)
    grid = _ints(n, "--n")
    base = _designs(grid[:1], design, ratio, dropout, effect_scale, modification, modifier_sd)
    engine = _engine(scheduler, dask_local, workers)
    results: list[dict[str, Any]] = []
    curves: list[pd.DataFrame] = []
    eligible: dict[str, float] = {}
    with engine, _progress(quiet) as progress:
        for k, proto in enumerate(base):

            def make(size: int, proto: TrialDesign = proto) -> TrialDesign:
                import dataclasses

                return dataclasses.replace(proto, n=size)

            sub = None if out is None else out / "replicates" / f"design-{k:02d}"
            found = sample_size(
                make, target=target, power=power, grid=grid, adjustment=adjustment, step=step,
                max_n=max_n, scenario=sc, plan=pl, reps=reps, seed=seed, analyses=chosen,
                engine=engine, out=sub, progress=progress,
            )  # fmt: skip
            at = (
                found.curve[found.curve["n"] == found.n] if found.n is not None else found.curve[:0]
            )
            results.append(
                {
                    "design": proto.label, "target": target, "adjustment": adjustment,
                    "power_target": power, "n": found.n, "power": found.power,
                    "mc_se": found.mc_se,
                    "n_screened": float(at["n_screened"].iloc[0]) if len(at) else None,
                    "eligible": found.run.eligible.get(proto.label),
                    "reps": reps, "seed": seed,
                    "evaluated": _records(found.curve.loc[:, list(_CURVE)]),
                }
            )  # fmt: skip
            curves.append(found.curve)
            meta = _meta(found.run, sc, pl, _engine_name(scheduler, dask_local, workers))
            eligible.update(found.run.eligible)
    meta["eligible"] = eligible
    table = pd.concat(curves, ignore_index=True)
    _write_report(
        out, table, meta=meta, title="Sample size by simulation",
        sample_sizes=[{k: v for k, v in r.items() if k != "evaluated"} for r in results],
        focus=[target],
    )  # fmt: skip

    def text() -> str:
        lines = []
        for r in results:
            answer = (
                f"n = {r['n']}"
                if r["n"] is not None
                else f"not reached by n = {max(e['n'] for e in r['evaluated'])}"
            )
            screened = (
                f", about {r['n_screened']:.0f} screened"
                if r["n_screened"] is not None and r["n_screened"] != r["n"]
                else ""
            )
            lines.append(
                f"{r['design']}: {answer} randomised{screened} for {r['power_target']:.0%} power "
                f"on {target} ({adjustment}); simulated power {r['power']:.3f} "
                f"(MC SE {r['mc_se']:.3f}, {reps} trials per size)"
            )
        return "\n".join(lines)

    _emit(results, as_json, text)


@design_app.command("oc")
def oc_command(
    n: Annotated[str, typer.Option("--n", help="Sample sizes randomised.")] = "276",
    reps: RepsOpt = 1000,
    seed: SeedOpt = 20261205,
    scenario: ScenarioOpt = None,
    plan: PlanOpt = None,
    design: DesignOpt = "parallel",
    ratio: RatioOpt = "1",
    dropout: DropoutOpt = "1",
    effect_scale: EffectOpt = "1",
    modification: ModOpt = None,
    modifier_sd: ModSdOpt = None,
    analyses: AnalysesOpt = "full",
    target: TargetOpt = None,
    scheduler: SchedulerOpt = None,
    dask_local: DaskLocalOpt = None,
    workers: WorkersOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Bias, SEs, RMSE, coverage and rejection rate of every estimate under a scenario."""
    from resolve.design.power import oc_table, power_table

    run, meta = _simulate_grid(
        n, reps, seed, scenario, plan, design, ratio, dropout, effect_scale, modification,
        modifier_sd, analyses, target, scheduler, dask_local, workers, out, quiet,
    )  # fmt: skip
    table = _filter(oc_table(run), target)
    _write_report(
        out, _filter(power_table(run), target), meta=meta,
        title="Operating characteristics by simulation", oc=table,
    )  # fmt: skip
    cols = ["design", "n", "target", "adjustment", "truth", "metric", "value", "mc_se"]
    _emit(_records(table), as_json, lambda: table.loc[:, cols].to_string(index=False))
