"""Validate the closed-form power of :mod:`resolve.design.analytic` by simulation.

For each case, simulates ``--reps`` trials exactly as the formula assumes
(:func:`~resolve.design.analytic.ancova_replicate`,
:func:`~resolve.design.analytic.interaction_replicate`), tests each by OLS with
classical standard errors and compares the rejection rate with the analytic
power: ``z = (simulated - exact) / MC SE``, MC SE = sqrt(p (1 - p) / reps) at
the exact power ``p``. The ``fixed`` column is the textbook formula with the
covariate's sample moments set to their population values. Replicate ``r`` of
case ``c`` uses ``SeedSequence([seed, c]).spawn(reps)[r]``.

Run from the repository root (prints the markdown table of ``docs/design.md``)::

    .venv/bin/python benchmarks/design_validation.py --reps 20000
    .venv/bin/python benchmarks/design_validation.py --reps 100000 --seed 7 --case 2
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import time
from collections.abc import Callable

import numpy as np

from resolve.design.analytic import (
    ancova_power,
    ancova_replicate,
    interaction_power,
    interaction_replicate,
)

ALPHA = 0.05

#: (design, n_per_arm, effect, scale 1, scale 2, ratio): ANCOVA (delta, sd, rho),
#: interaction (gamma, sd_x, sd_e).
CASES: list[tuple[str, int, float, float, float, float]] = [
    ("ancova", 10, 2.0, 2.0, 0.5, 1.0),
    ("ancova", 30, 1.0, 2.0, 0.5, 1.0),
    ("ancova", 100, 0.8, 2.4, 0.4, 1.0),
    ("ancova", 40, 1.0, 2.0, 0.6, 2.0),
    ("ancova", 30, 0.0, 2.0, 0.5, 1.0),
    ("interaction", 8, 1.0, 1.0, 1.0, 1.0),
    ("interaction", 20, 0.5, 1.0, 1.0, 1.0),
    ("interaction", 138, 0.18, 4.05, 2.3, 1.0),
    ("interaction", 40, 0.4, 1.0, 1.2, 2.0),
    ("interaction", 20, 0.0, 1.0, 1.0, 1.0),
]

Power = Callable[..., float]
Replicate = Callable[..., dict[str, float]]
DESIGNS: dict[str, tuple[Power, Replicate, str]] = {
    "ancova": (ancova_power, ancova_replicate, "delta={:g}, sd={:g}, rho={:g}"),
    "interaction": (interaction_power, interaction_replicate, "gamma={:g}, sd_x={:g}, sd_e={:g}"),
}


def run(reps: int, seed: int, only: list[int] | None = None) -> list[str]:
    """Simulate every case (or the indices in ``only``); return the markdown table rows."""
    rows = [
        "| design | n per arm (ratio) | parameters | exact | fixed | simulated | MC SE | z "
        "| mean estimate (truth) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c, (design, n0, effect, s1, s2, ratio) in enumerate(CASES):
        if only and c not in only:
            continue
        power, replicate, label = DESIGNS[design]
        args = (n0, effect, s1, s2, ALPHA, ratio)
        exact = power(*args)
        fixed = power(*args, method="fixed")
        children = np.random.SeedSequence([seed, c]).spawn(reps)
        out = [replicate(ss, *args) for ss in children]
        reject = np.array([o["reject"] for o in out], dtype=float)
        estimate = np.array([o["estimate"] for o in out])
        sim = reject.mean()
        mc_se = math.sqrt(exact * (1 - exact) / reps)
        z = (sim - exact) / mc_se
        arms = f"{n0}" if ratio == 1 else f"{n0} ({ratio:g}:1)"
        rows.append(
            f"| {design} | {arms} | {label.format(effect, s1, s2)} | {exact:.4f} | {fixed:.4f} "
            f"| {sim:.4f} | {mc_se:.4f} | {z:+.2f} | {estimate.mean():.4f} ({effect:g}) |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument(
        "--case", type=int, action="append", help="run only this case (0-based index of CASES)"
    )
    ns = parser.parse_args()
    start = time.perf_counter()
    rows = run(ns.reps, ns.seed, ns.case)
    seconds = time.perf_counter() - start
    print("\n".join(rows))
    print()
    print(
        f"{ns.reps:,} replicates per case, seed {ns.seed}, alpha {ALPHA}; "
        f"{datetime.date.today().isoformat()}, {platform.machine()} Linux, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}; "
        f"{seconds:.0f} s in one process"
    )


if __name__ == "__main__":
    main()
