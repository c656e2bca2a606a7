"""Time every covariance structure and df method on bcva, beside R mmrm (issue 15).

bcva (``tests/reference/sas/bcva_data.csv``: 1000 subjects x 10 visits, the R mmrm
example) with ``BCVA_CHG ~ BCVA_BL + RACE + ARMCD * AVISIT``: a fit plus its coefficient
table (``mmrm(...)`` then ``to_frame()``), per structure with Satterthwaite df (the
spatial ones with ``VISITN`` as the coordinate), and for ``us`` with Kenward-Roger and
KR-linear. Also the small-data case (``ar1``, 1000 subjects x 4 visits: bcva's first
four visits) and, for how cost grows with visits, ``us`` on simulated trials of 1000
subjects x 8, 12, 16, 20 and 24 visits (same formula and column names; AR(1)-like
correlation 0.7 with standard deviations rising over visits; 20% drop out after a
uniformly chosen visit; seed 1). Each case: one warm-up, then ``--runs`` timed runs;
the median. Speed relative to ``us`` (Satterthwaite) is the goal's measure (every
structure <= 2x ``us``).

With ``--r`` and R's ``mmrm`` installed, the same fits (``mmrm::mmrm`` then
``summary()``, which computes the coefficient table) are timed by ``Rscript`` in the
same session, interleaved case by case with ours, so both see the same machine.

    .venv/bin/python benchmarks/bench_mmrm_structures.py [--runs 7] [--r]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from resolve.stats import mmrm

DATA = Path(__file__).resolve().parents[1] / "tests" / "reference" / "sas" / "bcva_data.csv"
FORMULA = "BCVA_CHG ~ BCVA_BL + RACE + ARMCD*AVISIT"
STRUCTURES = ("us", "cs", "csh", "ar1", "ar1h", "toep", "toeph", "ad", "adh", "ri",
              "sp_exp", "sp_pow", "sp_gau")  # fmt: skip
#: our structure -> R mmrm's covariance term (None: R mmrm has no such structure;
#: ``sp_pow`` is ``sp_exp`` reported on SAS's SP(POW) scale, the same fit)
R_COV = {"us": "us(AVISIT | USUBJID)", "cs": "cs(AVISIT | USUBJID)",
         "csh": "csh(AVISIT | USUBJID)", "ar1": "ar1(AVISIT | USUBJID)",
         "ar1h": "ar1h(AVISIT | USUBJID)", "toep": "toep(AVISIT | USUBJID)",
         "toeph": "toeph(AVISIT | USUBJID)", "ad": "ad(AVISIT | USUBJID)",
         "adh": "adh(AVISIT | USUBJID)", "ri": None, "sp_exp": "sp_exp(VISITN | USUBJID)",
         "sp_pow": "sp_exp(VISITN | USUBJID)", "sp_gau": None}  # fmt: skip
MANY_VISITS = (8, 12, 16, 20, 24)
#: our df -> R mmrm's (method, vcov); KR-linear is R mmrm's KR with its linear vcov
R_DF = {"satterthwaite": ("Satterthwaite", "Asymptotic"),
        "kenward-roger": ("Kenward-Roger", "Kenward-Roger"),
        "kenward-roger-linear": ("Kenward-Roger", "Kenward-Roger-Linear")}  # fmt: skip

R_SCRIPT = r"""
suppressMessages(library(mmrm))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$AVISIT <- factor(d$AVISIT, levels = unique(d$AVISIT[order(d$VISITN)]))
d$USUBJID <- factor(d$USUBJID); d$ARMCD <- factor(d$ARMCD); d$RACE <- factor(d$RACE)
cov <- args[2]; method <- args[3]; vcov <- args[4]; runs <- as.integer(args[5])
f <- as.formula(paste("BCVA_CHG ~ BCVA_BL + RACE + ARMCD * AVISIT +", cov))
one <- function() {
  fit <- mmrm(f, data = d, method = method, vcov = vcov)
  invisible(summary(fit))
}
one()
times <- sapply(seq_len(runs), function(i) system.time(one())[["elapsed"]])
cat(median(times), "\n")
"""


def _median(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def many_visits(m: int, n: int = 1000, seed: int = 1) -> pd.DataFrame:
    """A simulated trial with bcva's column names: ``n`` subjects x ``m`` visits."""
    rng = np.random.default_rng(seed)
    t = np.arange(m)
    sd = 1.0 + 0.05 * t
    cov = 0.7 ** np.abs(t[:, None] - t[None, :]) * np.outer(sd, sd)
    arm = rng.integers(0, 2, n)
    base = rng.normal(60.0, 10.0, n)
    race = rng.choice(["Asian", "Black", "White"], n)
    y = rng.standard_normal((n, m)) @ np.linalg.cholesky(cov).T
    y += 0.02 * (base[:, None] - 60.0) + 0.1 * arm[:, None] * t / m
    last = np.where(rng.random(n) < 0.2, rng.integers(1, m, n), m)
    frame = pd.DataFrame(
        {
            "USUBJID": np.repeat(np.arange(1, n + 1), m),
            "VISITN": np.tile(t + 1, n),
            "AVISIT": np.tile([f"VIS{k + 1:02d}" for k in t], n),
            "ARMCD": np.repeat(np.where(arm == 1, "TRT", "PBO"), m),
            "RACE": np.repeat(race, m),
            "BCVA_BL": np.repeat(base, m),
            "BCVA_CHG": y.ravel(),
        }
    )
    return frame[np.tile(t, n) < np.repeat(last, m)].reset_index(drop=True)


def _r_time(csv: Path, cov: str, df: str, runs: int, script: Path) -> float | None:
    try:
        out = subprocess.run(
            ["Rscript", str(script), str(csv), cov, *R_DF[df], str(runs)],
            capture_output=True,
            text=True,
            timeout=3600,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--r", action="store_true", help="also time R mmrm (Rscript)")
    parser.add_argument("--r-runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", help="run only the cases whose label contains this text")
    args = parser.parse_args()
    bcva = pd.read_csv(DATA)
    small = bcva[bcva["AVISIT"].isin(sorted(bcva["AVISIT"].unique(), key=lambda v: int(
        str(v).replace("VIS", "") or 0))[:4])]  # fmt: skip
    cases: list[tuple[str, pd.DataFrame, str, str]] = [
        (f"bcva {c}, Satterthwaite", bcva, c, "satterthwaite") for c in STRUCTURES
    ]
    cases += [
        ("bcva us, Kenward-Roger", bcva, "us", "kenward-roger"),
        ("bcva us, KR-linear", bcva, "us", "kenward-roger-linear"),
        ("bcva ar1, Kenward-Roger", bcva, "ar1", "kenward-roger"),
        ("bcva 1000 x 4, ar1, Satterthwaite", small, "ar1", "satterthwaite"),
    ]
    cases += [
        (f"simulated 1000 x {m}, us, Satterthwaite", many_visits(m), "us", "satterthwaite")
        for m in MANY_VISITS
    ]
    if args.only:
        cases = [c for c in cases if args.only in c[0] or c[0] == "bcva us, Satterthwaite"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "time.R"
        script.write_text(R_SCRIPT)
        for label, data, cov, df in cases:
            csv = Path(tmp) / f"{label.split(',')[0].split()[0]}-{len(data)}.csv"
            if not csv.exists():
                data.to_csv(csv, index=False)

            def fit(data: pd.DataFrame = data, cov: str = cov, df: str = df) -> object:
                coords = ("VISITN",) if cov.startswith("sp_") else ()
                res = mmrm(FORMULA, data, subject="USUBJID", visit="AVISIT", cov=cov, df=df,
                           coordinates=coords)  # fmt: skip
                return res.to_frame()

            ours = _median(fit, args.runs)
            r_cov = R_COV[cov]
            theirs = _r_time(csv, r_cov, df, args.r_runs, script) if args.r and r_cov else None
            rows.append(
                {"case": label, "cov": cov, "df": df, "resolve_s": ours, "r_mmrm_s": theirs}
            )
            print(f"{label:40s} {ours:8.3f} s" + (f"   R mmrm {theirs:8.3f} s" if theirs else ""),
                  flush=True)  # fmt: skip
    us = next(r["resolve_s"] for r in rows if r["case"] == "bcva us, Satterthwaite")
    print(f"\n{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d %H:%M')}")
    print("| case | resolve (s) | x `us` | R mmrm (s) | R / resolve |\n|---|---:|---:|---:|---:|")
    for r in rows:
        ratio = f"{r['r_mmrm_s'] / r['resolve_s']:.1f}" if r["r_mmrm_s"] else ""
        r_s = f"{r['r_mmrm_s']:.3f}" if r["r_mmrm_s"] else "n/a"
        print(
            f"| {r['case']} | {r['resolve_s']:.3f} | {r['resolve_s'] / us:.2f} | {r_s} | {ratio} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
