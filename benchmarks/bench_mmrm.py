"""Time resolve.stats.mmrm on the mmrm example trials (median of several runs).

Run from the repository root: ``.venv/bin/python benchmarks/bench_mmrm.py``.
Reference data: ``tests/reference/sas/{fev,bcva}_data.csv`` in the repository
(the mmrm example trials).  Each model is fitted once to warm up,
then ``--runs`` times; the median wall time (``time.perf_counter``) of the
fit plus the coefficient table (Satterthwaite df) is reported, with the
log-likelihood as a correctness check.  If statsmodels is importable, its
``MixedLM`` random-intercept fit of the same bcva model is timed for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from resolve.stats import mmrm

DATA = Path(__file__).resolve().parents[1] / "tests" / "reference" / "sas"


def _time(fn: Callable[[], float], runs: int, warmup: int = 5) -> tuple[float, float]:
    value = float("nan")
    for _ in range(warmup):  # warm-up (imports, caches, CPU frequency)
        value = fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    fev = pd.read_csv(DATA / "fev_data.csv")
    bcva = pd.read_csv(DATA / "bcva_data.csv")
    bcva_formula = "BCVA_CHG ~ BCVA_BL + RACE + ARMCD*AVISIT"

    def fit(formula: str, data: pd.DataFrame, cov: str, table: bool = True) -> Callable[[], float]:
        def run() -> float:
            res = mmrm(formula, data, subject="USUBJID", visit="AVISIT", cov=cov)
            if table:
                res.to_frame()
            return res.loglik

        return run

    fev_formula = "FEV1 ~ RACE + SEX + ARMCD*AVISIT"
    rows = [
        ("fev us REML, mmrm() only (target <= 0.010 s)", fit(fev_formula, fev, "us", False)),
        ("fev us REML, mmrm() + to_frame()", fit(fev_formula, fev, "us")),
        ("bcva us REML, mmrm() + to_frame() (target <= 0.35 s)", fit(bcva_formula, bcva, "us")),
        ("bcva ri REML, mmrm() only (target <= 0.1 s)", fit(bcva_formula, bcva, "ri", False)),
        ("bcva ri REML, mmrm() + to_frame()", fit(bcva_formula, bcva, "ri")),
    ]
    print(f"{'model':60s} {'median s':>10s} {'logLik':>14s}")
    for name, fn in rows:
        med, ll = _time(fn, args.runs)
        print(f"{name:60s} {med:10.4f} {ll:14.4f}")
    print("(R mmrm bcva us logLik -16035.5149; lme4 bcva ri REML logLik -16776.20)")
    try:
        import statsmodels.formula.api as smf
    except ImportError:  # pragma: no cover
        return

    def sm_fit() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = smf.mixedlm(bcva_formula, bcva, groups=bcva["USUBJID"])
            return float(model.fit(reml=True).llf)

    med, ll = _time(sm_fit, 1, warmup=0)  # ~30 s per fit: one timed run
    print(f"{'statsmodels MixedLM ri REML (same model)':60s} {med:10.4f} {ll:14.4f}")


if __name__ == "__main__":
    main()
