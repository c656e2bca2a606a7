"""Benchmark: design-simulation replicates per second, per core and per engine (issue 13).

One replicate = one RESOLVE-sized trial (``TrialDesign(276)``, parallel, 1:1) drawn
from the default scenario and analysed with the bundled plan, either the primary
model only (``primary``) or the primary model plus the 32 modifier tests, their
Holm/BH adjustments and the global tests (``full``). For each kind the script
times :func:`resolve.design.simulate_designs` with

- ``SerialEngine`` (in this process: the per-core rate),
- ``LocalEngine(workers=1)`` and ``LocalEngine(workers=2)`` (spawned processes),
- ``DaskEngine(local_workers=1)`` and ``DaskEngine(local_workers=2)`` (a LocalCluster
  started and closed by each run),
- ``DaskEngine(address=tcp://127.0.0.1:PORT)``: a ``dask scheduler`` and a
  ``dask worker --nworkers 2 --nthreads 1`` started by this script as subprocesses
  (started and warmed up before each of its runs, outside the timing, as a standing
  cluster would be; stopped after it, so it never idles beside the other runs).

Two rates per run: **wall** (replicates / wall time of ``simulate_designs``,
including the chunk-size probe and the pool or cluster start-up) and **steady**
(replicates completed after the first chunk / time from the first to the last
completed chunk, from the progress callback). Goals (issue 13): >= 50 primary
replicates/s per core; speed-up 2 workers / 1 worker >= 1.8 locally and on Dask.
A profile of single replicates (simulate vs analyse, and inside the analysis)
follows. Every engine's rows are checked to equal the serial run's (same seed).

    .venv/bin/python benchmarks/bench_design.py [--reps-primary 1000] [--reps-full 200]
        [--repeats 3] [--engines serial,local1,local2,dask1,dask2,dasktcp] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import resolve
from resolve.analysis import load_plan
from resolve.analysis.effect_modifiers import analyse_modifiers
from resolve.analysis.plan import Plan
from resolve.analysis.primary import between_arm_differences
from resolve.design import DaskEngine, LocalEngine, SerialEngine
from resolve.design.engine_backends import Engine
from resolve.design.power import simulate_designs
from resolve.design.trials import (
    TrialDesign,
    analyse_design_trial,
    design_scenario,
    simulate_design_trial,
)
from resolve.simulate import Scenario, default_scenario
from resolve.stats._blas import limit_blas_threads

ENGINES = ("serial", "local1", "local2", "dask1", "dask2", "dasktcp")
LABELS = {
    "serial": "SerialEngine (in-process)",
    "local1": "LocalEngine(workers=1)",
    "local2": "LocalEngine(workers=2)",
    "dask1": "DaskEngine(local_workers=1)",
    "dask2": "DaskEngine(local_workers=2)",
    "dasktcp": "DaskEngine(tcp, 1 node: 2 workers x 1 thread)",
}
WORKERS = {"serial": 1, "local1": 1, "local2": 2, "dask1": 1, "dask2": 2, "dasktcp": 2}
GOAL_PRIMARY_PER_CORE = 50.0
GOAL_SPEEDUP = 1.8


@dataclass
class Timing:
    """One timed ``simulate_designs`` call."""

    analyses: str
    engine: str
    repeat: int
    reps: int
    wall: float
    first_chunk: float
    steady_reps: int
    steady_seconds: float
    chunks: int
    load_before: float
    stall: float | None = None
    accepted: bool = True
    same_as_serial: bool | None = None

    @property
    def wall_rate(self) -> float:
        return self.reps / self.wall

    @property
    def steady_rate(self) -> float:
        if self.steady_seconds <= 0 or self.steady_reps <= 0:
            return float("nan")
        return self.steady_reps / self.steady_seconds

    @property
    def startup(self) -> float:
        """Wall time not explained by the steady rate (pool start-up, probe, tail)."""
        return self.wall - self.reps / self.steady_rate


@dataclass
class Summary:
    """Median (min, max) over repeats of one engine and kind of analysis."""

    analyses: str
    engine: str
    workers: int
    reps: int
    runs: int
    wall: list[float] = field(default_factory=list)
    wall_rate: list[float] = field(default_factory=list)
    steady_rate: list[float] = field(default_factory=list)
    startup: list[float] = field(default_factory=list)
    first_chunk: list[float] = field(default_factory=list)
    identical: bool = True


# ----------------------------------------------------------------------------- machine
def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, versions, date and load."""
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    ram = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 1024**2
    except OSError:
        pass
    versions = {"python": platform.python_version(), "resolve": resolve.__version__}
    for name in ("numpy", "scipy", "pandas", "dask", "distributed", "pyarrow"):
        try:
            versions[name] = str(importlib.import_module(name).__version__)
        except ImportError:
            versions[name] = "-"
    return {
        "date": dt.datetime.now().isoformat(timespec="minutes"),
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(ram, 1),
        "os": platform.platform(),
        "versions": versions,
    }


def uptime() -> str:
    """The ``uptime`` line (load averages over 1, 5, 15 minutes)."""
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_stall_us() -> float | None:
    """Total µs during which some runnable task waited for a CPU (Linux PSI), if available."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return float(first.rsplit("total=", 1)[1])


def wait_for_quiet(max_stall: float, max_wait: float) -> float:
    """Wait (up to ``max_wait`` s) until CPU pressure over 10 s is below ``max_stall``."""
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait:
        a = cpu_stall_us()
        if a is None:
            break
        time.sleep(10)
        b = cpu_stall_us()
        if b is None or (b - a) / 10e6 < max_stall:
            break
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- dask over tcp
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _dask_command() -> list[str]:
    cli = Path(sys.executable).with_name("dask")
    if cli.exists():
        return [str(cli)]
    return [sys.executable, "-m", "dask"]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def dask_tcp_cluster(workers: int) -> Iterator[str]:
    """A ``dask scheduler`` and ``dask worker --nworkers W --nthreads 1`` on loopback."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    blas = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env = {**os.environ, **blas}
    quiet: dict[str, Any] = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    dask = _dask_command()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                **quiet,
            )
        )
        worker = [*dask, "worker", address, "--nworkers", str(workers), "--nthreads", "1"]
        procs.append(subprocess.Popen([*worker, "--host", "127.0.0.1", "--no-dashboard"], **quiet))
        distributed: Any = importlib.import_module("distributed")
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


# ----------------------------------------------------------------------------- timing
def make_engine(name: str, address: str | None) -> Engine:
    if name == "serial":
        return SerialEngine()
    if name in ("local1", "local2"):
        return LocalEngine(workers=WORKERS[name])
    if name in ("dask1", "dask2"):
        return DaskEngine(local_workers=WORKERS[name])
    assert address is not None
    return DaskEngine(address=address)


def time_run(
    analyses: str,
    engine: str,
    repeat: int,
    reps: int,
    *,
    scenario: Scenario,
    plan: Plan,
    seed: int,
    address: str | None,
) -> tuple[Timing, pd.DataFrame]:
    """One ``simulate_designs`` call: wall time and the progress callback's chunk times."""
    marks: list[tuple[float, int]] = []

    def progress(done: int, _total: int, _seconds: float) -> None:
        if done > 0:
            marks.append((time.perf_counter(), done))

    load = os.getloadavg()[0]
    eng = make_engine(engine, address)
    stall0 = cpu_stall_us()
    start = time.perf_counter()
    run = simulate_designs(
        [TrialDesign(276)],
        scenario=scenario,
        plan=plan,
        reps=reps,
        seed=seed,
        analyses=analyses,
        engine=eng,
        progress=progress,
    )
    wall = time.perf_counter() - start
    stall1 = cpu_stall_us()
    (t_first, n_first), (t_last, n_last) = marks[0], marks[-1]
    timing = Timing(
        analyses=analyses,
        engine=engine,
        repeat=repeat,
        reps=reps,
        wall=wall,
        first_chunk=t_first - start,
        steady_reps=n_last - n_first,
        steady_seconds=t_last - t_first,
        chunks=len(marks),
        load_before=load,
        stall=None if stall0 is None or stall1 is None else (stall1 - stall0) / 1e6 / wall,
    )
    return timing, run.rows


def summarise(timings: list[Timing]) -> list[Summary]:
    out: dict[tuple[str, str], Summary] = {}
    kept = [t for t in timings if t.accepted]
    for t in kept or timings:
        key = (t.analyses, t.engine)
        s = out.setdefault(key, Summary(t.analyses, t.engine, WORKERS[t.engine], t.reps, 0))
        s.runs += 1
        s.wall.append(t.wall)
        s.wall_rate.append(t.wall_rate)
        s.steady_rate.append(t.steady_rate)
        s.startup.append(t.startup)
        s.first_chunk.append(t.first_chunk)
        s.identical = s.identical and t.same_as_serial is not False
    return list(out.values())


def _mmm(values: list[float], fmt: str = "{:.2f}") -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def speedups(summaries: list[Summary]) -> list[dict[str, Any]]:
    """Rate ratios (wall and steady): 2 workers / 1 worker, and 2 workers / 1 serial core."""
    by = {(s.analyses, s.engine): s for s in summaries}
    pairs = [
        ("local", "local2", "local1"),
        ("dask", "dask2", "dask1"),
        ("dask tcp", "dasktcp", "dask1"),
        ("local vs serial", "local2", "serial"),
        ("dask vs serial", "dask2", "serial"),
        ("dask tcp vs serial", "dasktcp", "serial"),
    ]
    rows = []
    for analyses in sorted({s.analyses for s in summaries}, key=("primary", "full").index):
        for name, two, one in pairs:
            if (analyses, two) in by and (analyses, one) in by:
                a, b = by[(analyses, two)], by[(analyses, one)]
                rows.append(
                    {
                        "analyses": analyses,
                        "pair": f"{name}: {two} / {one}",
                        "wall": statistics.median(a.wall_rate) / statistics.median(b.wall_rate),
                        "steady": statistics.median(a.steady_rate)
                        / statistics.median(b.steady_rate),
                    }
                )
    return rows


def markdown(summaries: list[Summary]) -> str:
    head = (
        "| analyses | engine | reps | wall s | reps/s (wall) | reps/s (steady) "
        "| steady per core | start-up s | same rows as serial |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for s in summaries:
        per_core = statistics.median(s.steady_rate) / s.workers
        lines.append(
            f"| {s.analyses} | {LABELS[s.engine]} | {s.reps} | {_mmm(s.wall, '{:.1f}')} "
            f"| {_mmm(s.wall_rate)} | {_mmm(s.steady_rate)} | {per_core:.2f} "
            f"| {_mmm(s.startup, '{:.1f}')} | {'yes' if s.identical else 'NO'} |"
        )
    return head + "\n".join(lines)


# ----------------------------------------------------------------------------- profile
def profile(scenario: Scenario, plan: Plan, n: int, seed: int) -> dict[str, float]:
    """Median ms per replicate of each step, over ``n`` different simulated trials."""
    design = TrialDesign(276)
    sc = design_scenario(scenario, design)
    trials = [
        simulate_design_trial(sc, design, np.random.default_rng(s))[0]
        for s in np.random.SeedSequence(seed + 1).spawn(n)
    ]
    steps: dict[str, list[float]] = {}
    try:  # the design path's own fit of the primary model, where it applies
        fast: Any = importlib.import_module("resolve.design.fast")
    except ImportError:
        fast = None

    def timed(name: str, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        fn(*args, **kwargs)
        steps.setdefault(name, []).append(1e3 * (time.perf_counter() - start))

    with limit_blas_threads(1):
        for data, child in zip(trials, np.random.SeedSequence(seed).spawn(n), strict=True):
            rng = np.random.default_rng(child)
            timed("simulate_design_trial (with modifiers)", simulate_design_trial, sc, design, rng)
            rng = np.random.default_rng(child)
            timed(
                "simulate_design_trial (without: primary only)",
                simulate_design_trial,
                sc,
                design,
                rng,
                modifiers=False,
            )
            for kind in ("primary", "full"):
                name = f"analyse_design_trial ({kind})"
                timed(name, analyse_design_trial, data, plan, design, analyses=kind)
            valid = plan.validate_data(data, source="simulated trial")
            timed("  plan.validate_data", plan.validate_data, data, source="simulated trial")
            model = plan.analysis.primary
            name = f"  primary model ({model}, between_arm_differences, as in analyze)"
            timed(name, between_arm_differences, valid, plan, model=model, validated=True)
            if fast is not None and fast.supported(plan, data):
                name = f"  primary model ({model}, design.fast.primary_differences)"
                timed(name, fast.primary_differences, valid, plan)
            name = "  modifier tests (analyse_modifiers, credibility=False)"
            timed(name, analyse_modifiers, valid, plan, credibility=False)
    return {name: statistics.median(v) for name, v in steps.items()}


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps-primary", type=int, default=1000)
    parser.add_argument("--reps-full", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--analyses", default="primary,full", help="primary,full")
    parser.add_argument("--engines", default=",".join(ENGINES), help=",".join(ENGINES))
    parser.add_argument("--profile-reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--json", type=Path, default=None, help="write all timings as JSON")
    parser.add_argument(
        "--max-stall",
        type=float,
        default=0.2,
        help="redo a run when CPU pressure (share of time some task waited for a CPU, "
        "Linux PSI) exceeded this: other work was competing for the cores",
    )
    parser.add_argument("--retries", type=int, default=2, help="redos per run at most")
    parser.add_argument("--max-wait", type=float, default=900, help="s to wait for quiet")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the Dask subprocesses
    kinds = [a for a in args.analyses.split(",") if a]
    engines = [e for e in args.engines.split(",") if e]
    unknown = [e for e in engines if e not in ENGINES] + [
        a for a in kinds if a not in ("primary", "full")
    ]
    if unknown:
        parser.error(f"unknown engine or analyses: {', '.join(unknown)}")
    reps = {"primary": args.reps_primary, "full": args.reps_full}

    info = machine()
    info["uptime_before"] = uptime()
    print(f"{info['date']}  {info['cpu']}, {info['cores']} CPUs, {info['ram_gib']} GiB RAM")
    print("  ".join(f"{k} {v}" for k, v in info["versions"].items()))
    print(f"before: {info['uptime_before']}", flush=True)

    scenario, plan = default_scenario(), load_plan()
    prof = profile(scenario, plan, args.profile_reps, args.seed)  # also warms this process up
    print(f"\nper replicate, median of {args.profile_reps} (ms):")
    for name, ms in prof.items():
        print(f"  {name:55s} {ms:8.1f}")
    for kind in ("primary", "full"):
        sim = prof[
            "simulate_design_trial (without: primary only)"
            if kind == "primary"
            else "simulate_design_trial (with modifiers)"
        ]
        total = sim + prof[f"analyse_design_trial ({kind})"]
        print(f"  => {kind}: {total:.1f} ms = {1e3 / total:.1f} replicates/s per core (profile)")

    timings: list[Timing] = []
    serial_rows: dict[str, pd.DataFrame] = {}
    for kind in kinds:
        for repeat in range(args.repeats):
            for engine in engines:
                for attempt in range(args.retries + 1):
                    waited = wait_for_quiet(args.max_stall, args.max_wait)
                    with _maybe_cluster(engine == "dasktcp", scenario, plan) as address:
                        t, rows = time_run(
                            kind,
                            engine,
                            repeat,
                            reps[kind],
                            scenario=scenario,
                            plan=plan,
                            seed=args.seed,
                            address=address,
                        )
                    if engine == "serial" and kind not in serial_rows:
                        serial_rows[kind] = rows
                    if kind in serial_rows:
                        t.same_as_serial = bool(rows.equals(serial_rows[kind]))
                    busy = t.stall is not None and t.stall > args.max_stall
                    t.accepted = not busy or attempt == args.retries
                    timings.append(t)
                    stall = "-" if t.stall is None else f"{100 * t.stall:.0f}%"
                    print(
                        f"  {kind:7s} {engine:8s} run {repeat + 1}: {t.wall:6.1f} s, "
                        f"{t.wall_rate:6.2f}/s wall, {t.steady_rate:6.2f}/s steady, "
                        f"{t.chunks} chunks, load {t.load_before:.2f}, CPU stall {stall}, "
                        f"waited {waited:.0f} s{' (busy: redo)' if not t.accepted else ''}",
                        flush=True,
                    )
                    if t.accepted:
                        break
    info["uptime_after"] = uptime()
    summaries = summarise(timings)
    print(f"\nafter: {info['uptime_after']}\n")
    print(markdown(summaries))
    print("\n| analyses | speed-up | wall | steady |\n|---|---|---:|---:|")
    ups = speedups(summaries)
    for u in ups:
        ok = "met" if u["steady"] >= GOAL_SPEEDUP else "not met"
        print(f"| {u['analyses']} | {u['pair']} | {u['wall']:.2f} | {u['steady']:.2f} ({ok}) |")
    for s in summaries:
        if s.analyses == "primary" and s.engine == "serial":
            rate = statistics.median(s.steady_rate)
            goal = GOAL_PRIMARY_PER_CORE
            verdict = "met" if rate >= goal else f"not met, {goal / rate:.1f}x short"
            print(f"\nprimary per core: {rate:.1f} replicates/s; goal {goal:.0f} ({verdict})")
    if args.json is not None:
        payload = {
            "machine": info,
            "profile_ms": prof,
            "timings": [
                {
                    **asdict(t),
                    "wall_rate": t.wall_rate,
                    "steady_rate": t.steady_rate,
                    "startup": t.startup,
                }
                for t in timings
            ],
            "summaries": [asdict(s) for s in summaries],
            "speedups": ups,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


@contextmanager
def _maybe_cluster(wanted: bool, scenario: Scenario, plan: Plan) -> Iterator[str | None]:
    """A loopback Dask cluster, started (and warmed up) only for the runs that use it.

    It is not left idling during the other engines' runs. Its start-up and a
    4-replicate warm-up (the workers import resolve and fill their caches) are
    outside the timing: it stands for a cluster that is already running.
    """
    if not wanted:
        yield None
        return
    with dask_tcp_cluster(2) as address:
        simulate_designs(
            [TrialDesign(276)],
            scenario=scenario,
            plan=plan,
            reps=4,
            seed=1,
            engine=DaskEngine(address=address),
            chunk_size=1,
        )
        yield address


if __name__ == "__main__":
    main()
