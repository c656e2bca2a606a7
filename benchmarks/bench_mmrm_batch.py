"""Time :func:`resolve.stats.mmrm_batch` on simulated RESOLVE-sized trials.

Run from the repository root: ``.venv/bin/python benchmarks/bench_mmrm_batch.py``.
Each trial has 276 subjects (2 arms) with a baseline covariate and 5 visits
(RESOLVE: weeks 12, 18, 26, 52 and the end-of-treatment wave; a 5 x 5
unstructured covariance, 15 parameters) and monotone dropout (about 15% of
subjects lose the last visit(s)); the model is ``y ~ base + arm * visit`` with
``cov="us"``.  Targets: 1000 trials of 276 subjects x 5 visits in <= 20 s (issue 3);
<= 5 s with 2 worker processes (issue 15: ``--jobs 2``; the workers are kept warm between
calls, so runs after the first do not pay their start-up).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from resolve.stats import mmrm_batch

FORMULA = "y ~ base + arm * visit"


def simulate(n_trials: int, n_subjects: int = 276, seed: int = 1) -> pd.DataFrame:
    """Long frame ``rep, id, arm, visit, base, y`` with monotone dropout."""
    rng = np.random.default_rng(seed)
    visits = np.array(["V1", "V2", "V3", "V4", "V5"])
    m = visits.size
    sd = np.array([6.0, 7.0, 8.0, 9.0, 10.0])
    corr = 0.6 ** np.abs(np.subtract.outer(np.arange(m), np.arange(m)))
    chol = np.linalg.cholesky(corr * np.outer(sd, sd))
    effect = np.array([1.0, 2.0, 3.0, 4.0, 4.0])
    arm = np.repeat(np.array(["PBO", "TRT"]), n_subjects // 2)
    frames = []
    for r in range(n_trials):
        base = rng.normal(50.0, 10.0, n_subjects)
        err = rng.standard_normal((n_subjects, m)) @ chol.T
        y = 10.0 + 0.5 * base[:, None] + (arm == "TRT")[:, None] * effect[None, :] + err
        last = np.where(rng.random(n_subjects) < 0.15, rng.integers(1, m, n_subjects), m)
        keep = np.arange(m)[None, :] < last[:, None]
        ii, vv = np.nonzero(keep)
        frames.append(
            pd.DataFrame(
                {
                    "rep": r,
                    "id": ii,
                    "arm": arm[ii],
                    "visit": visits[vv],
                    "base": base[ii],
                    "y": y[ii, vv],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (n_jobs)")
    args = parser.parse_args()
    sims = simulate(args.trials)
    terms = ["armTRT", "armTRT:visitV5"]
    mmrm_batch(FORMULA, sims[sims.rep < 5], subject="id", visit="visit", terms=terms)  # warm-up
    times = []
    out = None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        out = mmrm_batch(
            FORMULA,
            sims,
            subject="id",
            visit="visit",
            replicate="rep",
            terms=terms,
            n_jobs=args.jobs,
        )
        times.append(time.perf_counter() - t0)
    assert out is not None
    med = float(np.median(times))
    tab = out.to_frame()
    last = tab[tab.term == "armTRT:visitV5"]
    print(f"{'target':60s} {'median s':>10s} {'per trial ms':>13s}")
    print(
        f"{f'mmrm_batch us, {args.trials} x 276 x 5 visits, n_jobs={args.jobs} (<= 20 s)':60s} "
        f"{med:10.3f} {1e3 * med / args.trials:13.2f}"
    )
    print("runs (s): " + ", ".join(f"{t:.2f}" for t in times)
          + ("  (the first includes starting the worker processes, kept for later calls)"
             if args.jobs > 1 else ""))  # fmt: skip
    print(
        f"converged {int(out.fits.converged.sum())}/{len(out.fits)}; "
        f"mean logLik {out.fits.loglik.mean():.4f}; "
        f"power(armTRT:visitV5) {(last.p_value < 0.05).mean():.3f}"
    )


if __name__ == "__main__":
    main()
