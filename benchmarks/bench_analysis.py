"""Time the RESOLVE trial analysis on the bundled data set.

Measures, with ``time.perf_counter`` and the median of several runs after one warm-up:
the primary model (random-intercept LMM, pain and RMDQ), the baseline-adjusted
unstructured sensitivity MMRM, the effect-modifier analysis (when installed) and the
whole :func:`resolve.analysis.run.analyze` call. Target: ``analyze`` <= 2 s.

Run:  .venv/bin/python benchmarks/bench_analysis.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

from resolve import datasets
from resolve.analysis.plan import load_plan
from resolve.analysis.primary import primary_analysis, sensitivity_analysis
from resolve.analysis.run import analyze


def median_seconds(func: Callable[[], object], runs: int) -> tuple[float, float]:
    func()  # warm-up: imports, formula caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    data = datasets.load("resolve")
    plan = load_plan()
    valid = plan.validate_data(data)
    steps: dict[str, Callable[[], object]] = {
        "validate": lambda: plan.validate_data(data),
        "primary (2 outcomes)": lambda: primary_analysis(valid, plan, validated=True),
        "sensitivity (2 outcomes)": lambda: sensitivity_analysis(valid, plan, validated=True),
    }
    try:
        from resolve.analysis.effect_modifiers import analyse_modifiers
    except ModuleNotFoundError:
        pass
    else:
        steps["effect modifiers"] = lambda: analyse_modifiers(valid, plan)
    steps["analyze (everything)"] = lambda: analyze(data, plan)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    print(f"bundled RESOLVE trial: {data['id'].nunique()} participants, {len(data)} rows")
    for name, func in steps.items():
        med, best = median_seconds(func, args.runs)
        print(f"{name:26s} median {med * 1000:8.1f} ms   min {best * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
