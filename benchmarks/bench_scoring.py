"""Benchmark: score 100,000 respondents on every registered instrument.

Target (issue 2): under 2 s on the 2-core reference machine. Data are generated
once (not timed): random valid codes with 2% unanswered items, and three
medication slots per respondent. Reports the median of several runs.

    .venv/bin/python benchmarks/bench_scoring.py [--n 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import pandas as pd

from resolve.instruments import PSYCHOACTIVE_MEDICATION, Instrument, available

MEDICATIONS = ("pregabalin", "paracetamol", "oxycodone", "N06AX21", "ibuprofen", "diazepam")


def make_data(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {"id": np.arange(n)}
    for inst in available():
        if isinstance(inst, Instrument):
            for item in inst.items:
                codes = rng.integers(item.low, item.high + 1, size=n).astype(float)
                codes[rng.uniform(size=n) < 0.02] = np.nan
                cols[inst.column(item.number)] = codes
    for slot in range(3):
        meds = rng.choice(np.array(MEDICATIONS, dtype=object), size=n)
        if slot:
            meds[rng.uniform(size=n) < 0.5] = None
        cols[PSYCHOACTIVE_MEDICATION.columns[slot]] = meds
    return pd.DataFrame(cols)


def score_all(data: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {inst.id: inst.score_frame(data, id_column="id") for inst in available()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    data = make_data(args.n)
    score_all(data.head(100))  # warm-up
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        score_all(data)
        times.append(time.perf_counter() - start)
    per = {}
    for inst in available():
        t0 = time.perf_counter()
        inst.score_frame(data, id_column="id")
        per[inst.id] = time.perf_counter() - t0
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"{args.n} respondents x {len(per)} instruments, {args.repeat} runs")
    print(f"median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})")
    for key, value in sorted(per.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<24} {value * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
