"""Benchmark: ``resolve demo`` end to end, timed as a user would run it.

Target: at most 10 s on the 2-core reference machine. Each run is a fresh
``resolve demo --out DIR`` subprocess (interpreter start-up, imports, the
analysis of the bundled trial, the HTML report and every table); one untimed
warm-up run fills the OS file cache. Reports the median of several runs.

    .venv/bin/python benchmarks/bench_demo.py [--repeat 5] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 10.0


def _command() -> list[str]:
    exe = Path(sys.executable).with_name("resolve")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from resolve.cli import main; main()"]


def run_once(out: Path, seed: int | None) -> float:
    """Time one ``resolve demo`` subprocess writing into ``out``."""
    args = [*_command(), "demo", "--out", str(out)]
    if seed is not None:
        args += ["--seed", str(seed)]
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    for name in ("report.html", "primary.csv", "modifiers.csv"):
        if not (out / name).is_file():
            raise SystemExit(f"resolve demo did not write {name}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    try:
        run_once(root / "warm-up", args.seed)
        times = [run_once(root / f"run{k}", args.seed) for k in range(args.repeat)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    median = statistics.median(times)
    print(
        f"resolve demo{'' if args.seed is None else f' --seed {args.seed}'}: "
        f"median {median:.2f} s over {len(times)} runs "
        f"(min {min(times):.2f}, max {max(times):.2f}); target <= {TARGET_S:.0f} s "
        f"-> {'OK' if median <= TARGET_S else 'TOO SLOW'}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
