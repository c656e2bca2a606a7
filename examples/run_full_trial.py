"""Enter a full RESOLVE-sized trial through the ``resolve`` CLI, export it and analyse the export.

Every step goes through the command line, acting as the trial's accounts: ``trial init``
creates the trial and its ``admin``; ``users add`` makes an ``enroller``, a blinded outcome
``assessor`` and a blinded ``statistician``; the enroller screens (with a synthetic
identifier per participant for the re-enrolment guard), consents, randomises and records
the baseline questionnaires; the assessor records the follow-ups; the statistician exports
(masked arm codes ``group A``/``group B`` while the trial is blind); the admin writes an
audit checkpoint, locks the database and unblinds the statistician, whose final export
(real arms) is analysed with ``resolve analyze``; ``trial audit verify --checkpoint``
checks the audit trail. By default each command runs in-process through
:func:`resolve.cli._app.run` (the same parser and code as the ``resolve`` console command,
without starting a Python interpreter per call); ``--subprocess`` runs the real
``resolve`` executable for every call instead (slow: about 7,000 interpreter start-ups for
276 participants, about 2 s each, i.e. hours).

**Concealment mode.** Without ``--seed`` the trial is created the secure way: a new random
trial key is written to a key file (mode 0600) in a new temporary folder outside the
database's folder (or at ``--key-file``), and every command is given ``--key-file``.
Allocations are then unpredictable and differ from run to run. With ``--seed N`` the trial
is created in the **insecure demo mode** (``trial init --demo-seed N``): the key is derived
from the seed, which is kept in the database, so the allocations are reproducible and
predictable by anyone who can read the database. Use it for tests and demonstrations
only, never for a real trial. The simulated data are seeded with ``--seed`` (default
20221004) in both modes.

The data respect the allocation: a pool of RESOLVE-like participants is simulated per arm
with :mod:`resolve.simulate`; when ``randomise`` prints an arm, the next pool participant
of that arm supplies the baseline items and follow-up outcomes. See ``examples/README.md``.

Usage::

    python examples/run_full_trial.py [--n 276] [--db PATH_OR_URL] [--out DIR]
                                      [--seed N | --key-file PATH] [--no-analysis]
                                      [--subprocess]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resolve.simulate import simulate_trial
from resolve.trial.protocol import Protocol, load_protocol

#: The accounts of the run: name -> role (``trial init`` makes the admin).
ADMIN = "trial_admin"
ENROLLER = "enroller"
ASSESSOR = "assessor"
STATISTICIAN = "statistician"
USERS = {ENROLLER: "enroller", ASSESSOR: "assessor", STATISTICIAN: "statistician"}
#: Seed of the simulated data when ``--seed`` is not given.
DEFAULT_DATA_SEED = 20221004
#: Follow-up instrument -> column of the simulated long trial holding its total score.
SIMULATED_OUTCOMES = {"nrs": "pain", "rmdq24": "rmdq"}


class CliCommandError(RuntimeError):
    """A CLI call returned a non-zero exit status."""


# ----------------------------------------------------------------------------- the CLI
@dataclass
class Cli:
    """Runs ``resolve`` commands in-process or as subprocesses; counts and times them."""

    use_subprocess: bool = False
    calls: int = 0
    exit_codes: Counter[int] = field(default_factory=Counter)
    phase_calls: Counter[str] = field(default_factory=Counter)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    _phase: str = "setup"
    _executable: str | None = None

    def __post_init__(self) -> None:
        if self.use_subprocess:
            beside = Path(sys.executable).with_name("resolve")
            found = str(beside) if beside.exists() else shutil.which("resolve")
            if found is None:
                raise SystemExit("--subprocess: no `resolve` executable found (pip install -e .)")
            self._executable = found

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Attribute the calls and wall time of the block to phase ``name``."""
        previous, self._phase = self._phase, name
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phase_seconds[name] = self.phase_seconds.get(name, 0.0) + (
                time.perf_counter() - start
            )
            self._phase = previous

    def __call__(self, *args: str) -> str:
        """Run ``resolve ARGS``; return its standard output, raise on a non-zero exit."""
        argv = list(args)
        if self.use_subprocess:
            assert self._executable is not None
            proc = subprocess.run(
                [self._executable, *argv], capture_output=True, text=True, check=False
            )
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        else:
            from resolve.cli._app import run

            out_buf, err_buf = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out_buf), contextlib.redirect_stderr(err_buf):
                code = run(argv)
            out, err = out_buf.getvalue(), err_buf.getvalue()
        self.calls += 1
        self.phase_calls[self._phase] += 1
        self.exit_codes[code] += 1
        if code != 0:
            raise CliCommandError(
                f"exit {code}: resolve {shlex.join(argv)}\n{(out + err).rstrip()}".rstrip()
            )
        return out


# ----------------------------------------------------------------------------- the pool
@dataclass(frozen=True)
class PoolParticipant:
    """One simulated RESOLVE-like participant whose data are entered after allocation."""

    source: str  # e.g. "seed 2 R017"
    arm: str
    baseline_items: dict[str, dict[str, Any]]  # instrument -> item -> code
    outcomes: dict[str, dict[str, float]]  # follow-up visit -> {"pain": x, "rmdq": y}


def _items_of(row: pd.Series, instrument: str) -> dict[str, Any]:
    """Item columns ``<instrument>_<k>`` of one item-table row, missing cells left out."""
    pattern = re.compile(rf"^{re.escape(instrument)}_(\d+)$")
    out: dict[str, Any] = {}
    for col, value in row.items():
        if not pattern.match(str(col)) or pd.isna(value):
            continue
        out[str(col)] = value if isinstance(value, str) else int(value)
    return out


def simulate_pool(
    protocol: Protocol, n: int, seed: int
) -> tuple[dict[str, list[PoolParticipant]], list[str]]:
    """Simulate trials (seeds ``seed``, ``seed + 1``, ...) until every arm has ``n`` people.

    Returns the pool per arm (in simulation order) and the seeds' labels used.
    """
    baseline = next(v for v in protocol.visits if v.kind == "baseline")
    follow_ups = [v.name for v in protocol.visits if v.kind == "follow-up"]
    pool: dict[str, list[PoolParticipant]] = {arm: [] for arm in protocol.arm_names}
    seeds: list[str] = []
    k = 0
    while min(len(p) for p in pool.values()) < n:
        s = seed + k
        k += 1
        seeds.append(str(s))
        long, items = simulate_trial(seed=s, items=True)
        by_id = items.set_index("id")
        for pid, rows in long.groupby("id", sort=True):
            arm = str(rows["arm"].iloc[0])
            if arm not in pool:
                raise SystemExit(f"simulated arm {arm!r} is not an arm of the protocol")
            item_row = by_id.loc[pid]
            base = {
                inst: got for inst in baseline.instruments if (got := _items_of(item_row, inst))
            }
            outcomes = {
                str(r.visit): {"pain": float(r.pain), "rmdq": float(r.rmdq)}
                for r in rows.itertuples(index=False)
                if str(r.visit) in follow_ups
            }
            pool[arm].append(PoolParticipant(f"seed {s} {pid}", arm, base, outcomes))
    return pool, seeds


# ----------------------------------------------------------------------------- screening
@dataclass(frozen=True)
class Screenee:
    code: str
    age: int
    duration_weeks: int
    pain: int
    exclusions: tuple[str, ...] = ()
    expect_eligible: bool = True


def screenees(protocol: Protocol, n: int, rng: np.random.Generator) -> list[Screenee]:
    """``n`` eligible screening profiles and ~10% ineligible ones, interleaved.

    Eligible profiles are independent draws inside the protocol's inclusion range
    (screening is a separate measurement from the baseline questionnaires, and the
    arm that picks the baseline data is not known before randomisation). Each
    ineligible screenee fails one criterion: age 72, pain 2, duration 8 weeks, or a
    named exclusion (cycling through the protocol's exclusions).
    """
    el = protocol.eligibility
    m = max(1, round(n / 10))
    dmin = math.ceil(el.duration_weeks_min)

    def eligible_profile() -> tuple[int, int, int]:
        age = int(rng.integers(el.age_min, el.age_max + 1))
        duration = int(rng.integers(dmin, dmin + 10 * 52))
        pain = int(rng.integers(el.pain_min, 11))
        return age, duration, pain

    people: list[Screenee] = []
    for _ in range(n):
        age, duration, pain = eligible_profile()
        people.append(Screenee("", age, duration, pain))
    exclusions = [e.name for e in el.exclusions]
    bad: list[Screenee] = []
    for k in range(m):
        age, duration, pain = eligible_profile()
        kind, code = k % 4, ""
        if kind == 0:
            bad.append(Screenee(code, el.age_max + 2, duration, pain))
        elif kind == 1:
            bad.append(Screenee(code, age, duration, el.pain_min - 1))
        elif kind == 2:
            bad.append(Screenee(code, age, max(0, dmin - 4), pain))
        else:
            name = exclusions[(k // 4) % len(exclusions)] if exclusions else None
            if name is None:  # a protocol without exclusions: fail on age instead
                bad.append(Screenee(code, el.age_max + 2, duration, pain))
            else:
                bad.append(Screenee(code, age, duration, pain, (name,)))
    # interleave: the ineligible screenees at random positions of the screening log
    slots = set(rng.choice(n + m, size=m, replace=False).tolist())
    good, worse = iter(people), iter(bad)
    return [
        replace(next(worse), code=f"P{i + 1:04d}", expect_eligible=False)
        if i in slots
        else replace(next(good), code=f"P{i + 1:04d}")
        for i in range(n + m)
    ]


def rmdq_items(total: float, names: Sequence[str], rng: np.random.Generator) -> dict[str, int]:
    """RMDQ-24 items with a random subset of ``total`` statements ticked."""
    k = round(total)
    ticked = set(rng.choice(len(names), size=k, replace=False).tolist())
    return {name: int(i in ticked) for i, name in enumerate(names)}


def synthetic_identity(person: Screenee, index: int) -> str:
    """A made-up identifier for the re-enrolment guard: a fake date of birth and the index.

    ``trial screen --identity`` keeps only a keyed hash of it; a real site would give the
    date of birth and initials (or a hospital number). Unique per screenee, so nobody is
    refused as a second enrolment of someone else.
    """
    year = 2025 - person.age
    return f"{year}-{1 + index % 12:02d}-{1 + index % 28:02d} synthetic {index:05d}"


# ----------------------------------------------------------------------------- the run
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Enter a full RESOLVE-sized trial through the `resolve` CLI and analyse it."
    )
    parser.add_argument("--n", type=int, default=276, help="participants randomised (276)")
    parser.add_argument(
        "--db", help="trial database: SQLite path or URL (default: OUT/trial.sqlite, new)"
    )
    parser.add_argument("--out", type=Path, help="output folder (default: a new temp folder)")
    parser.add_argument(
        "--seed",
        type=int,
        help="INSECURE demo mode: `trial init --demo-seed N` (reproducible, predictable "
        f"allocations); also seeds the simulated data (default {DEFAULT_DATA_SEED})",
    )
    parser.add_argument(
        "--key-file",
        type=Path,
        help="where `trial init` writes the trial key (default: a new temporary folder; "
        "never the database's folder); not with --seed",
    )
    parser.add_argument(
        "--no-analysis",
        action="store_true",
        help="stop before `resolve analyze` (quick runs with few participants)",
    )
    parser.add_argument(
        "--subprocess",
        action="store_true",
        help="run the real `resolve` executable for every call (slow)",
    )
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error("--n must be at least 2")
    if args.seed is not None and args.key_file is not None:
        parser.error("--key-file: a demo-mode trial (--seed) has no key file")
    return args


def _say(message: str) -> None:
    print(message, flush=True)


def _arm_of(export_dir: Path) -> dict[str, str]:
    """Participant id -> arm in an export's analysis table."""
    table = pd.read_csv(export_dir / "analysis.csv", dtype=str, keep_default_na=False)
    return dict(zip(table["id"], table["arm"], strict=False))


def run_trial(args: argparse.Namespace) -> dict[str, Any]:
    """Do the whole run; return the summary (also written to OUT/summary.json)."""
    out: Path = (
        args.out if args.out is not None else Path(tempfile.mkdtemp(prefix="resolve-trial-"))
    )
    out.mkdir(parents=True, exist_ok=True)
    db = args.db or str(out / "trial.sqlite")
    cli = Cli(use_subprocess=args.subprocess)
    protocol = load_protocol()  # the bundled RESOLVE protocol, which `trial init` uses
    data_seed = DEFAULT_DATA_SEED if args.seed is None else args.seed
    rng = np.random.default_rng(data_seed)
    started = time.perf_counter()
    _say(f"output folder {out}; database {db}; {'subprocess' if args.subprocess else 'in-process'}")

    with cli.phase("simulate pool"):
        pool, seeds = simulate_pool(protocol, args.n, data_seed)
    _say(f"pool: {', '.join(f'{a} {len(p)}' for a, p in pool.items())} (seeds {', '.join(seeds)})")

    # The trial, its key and its accounts. Demo mode keeps the seed in the database;
    # otherwise the key file lives outside the database's folder and every command gets it.
    key_file: Path | None = None
    if args.seed is None:
        key_file = args.key_file or (
            Path(tempfile.mkdtemp(prefix="resolve-trial-key-")) / "trial.key"
        )
        concealment = ["--key-file", str(key_file)]
        key = ["--key-file", str(key_file)]
    else:
        concealment = ["--demo-seed", str(args.seed)]
        key = []
    with cli.phase("init"):
        init = ["trial", "init", "--db", db, "--user", ADMIN, "--no-password", *concealment]
        _say(cli(*init).strip())
    if key_file is None:
        _say("INSECURE DEMO MODE (--seed): allocations are predictable from the database")
    with cli.phase("users"):
        for name, role in USERS.items():
            cli(
                "users", "add", "--db", db, "--user", ADMIN, "--username", name,
                "--role", role, "--no-password", *key,
            )  # fmt: skip
        _say(cli("users", "list", "--db", db, "--user", ADMIN, *key).strip())

    def as_(user: str, command: str, *rest: str) -> str:
        """``resolve trial COMMAND --db DB --user USER [--key-file KEY] REST...``."""
        return cli("trial", *command.split(), "--db", db, "--user", user, *key, *rest)

    people = screenees(protocol, args.n, rng)
    eligible: list[str] = []
    with cli.phase("screen"):
        for k, p in enumerate(people, start=1):
            extra = [a for name in p.exclusions for a in ("--exclusion", name)]
            line = as_(
                ENROLLER, "screen", "--id", p.code, "--age", str(p.age),
                "--duration-weeks", str(p.duration_weeks), "--pain", str(p.pain),
                "--identity", synthetic_identity(p, k), *extra,
            ).strip()  # fmt: skip
            is_eligible = line.endswith(": eligible")
            if is_eligible != p.expect_eligible:
                raise CliCommandError(f"unexpected screening result for {p.code}: {line}")
            if is_eligible:
                eligible.append(p.code)
    n_ineligible = len(people) - len(eligible)
    _say(f"screened {len(people)}: {len(eligible)} eligible, {n_ineligible} ineligible")

    version = protocol.consent_versions[-1]
    with cli.phase("consent"):
        for code in eligible:
            as_(ENROLLER, "consent", "--id", code, "--version", version)
    _say(f"consented {len(eligible)} (form version {version})")

    assigned: dict[str, PoolParticipant] = {}
    next_of: Counter[str] = Counter()
    with cli.phase("randomise"):
        for code in eligible:
            arm = as_(ENROLLER, "randomise", "--id", code).strip()
            if arm not in pool:
                raise CliCommandError(f"randomise {code} printed an unknown arm {arm!r}")
            assigned[code] = pool[arm][next_of[arm]]
            next_of[arm] += 1
    _say(f"randomised {len(assigned)}: {', '.join(f'{a} {k}' for a, k in next_of.items())}")

    skipped: set[tuple[str, str]] = set()
    baseline = next(v for v in protocol.visits if v.kind == "baseline")
    rmdq_names = [f"rmdq24_{k}" for k in range(1, 25)]
    with cli.phase("record baseline"):  # the enroller, at the baseline appointment
        for code, who in assigned.items():
            for inst in baseline.instruments:
                items = who.baseline_items.get(inst)
                if items is None:
                    skipped.add((baseline.name, inst))
                    continue
                as_(
                    ENROLLER, "record", "--id", code, "--visit", baseline.name,
                    "--instrument", inst, "--items", json.dumps(items),
                )  # fmt: skip
    recorded: Counter[str] = Counter()
    with cli.phase("record follow-up"):  # the blinded outcome assessor
        for visit in (v for v in protocol.visits if v.kind == "follow-up"):
            for code, who in assigned.items():
                values = who.outcomes.get(visit.name)
                attended = values is not None and not math.isnan(values["pain"])
                for inst in visit.instruments:
                    column = SIMULATED_OUTCOMES.get(inst)
                    if values is None:
                        skipped.add((visit.name, inst))
                        continue
                    if column is not None:
                        value = values[column]
                        if math.isnan(value):  # missed visit (dropout): nothing is recorded
                            continue
                        items = (
                            {"nrs_1": int(value)}
                            if inst == "nrs"
                            else rmdq_items(value, rmdq_names, rng)
                        )
                    elif not attended:
                        continue
                    elif inst == "gpe":
                        # example assumption: global change follows the change in pain
                        change = int(who.baseline_items["nrs"]["nrs_1"]) - values["pain"]
                        items = {"gpe_1": int(np.clip(round(change), -5, 5))}
                    elif inst in who.baseline_items:
                        # example assumption: the simulator has no model of change in these
                        # questionnaires, so the participant re-answers as at baseline
                        items = who.baseline_items[inst]
                    else:
                        skipped.add((visit.name, inst))
                        continue
                    as_(
                        ASSESSOR, "record", "--id", code, "--visit", visit.name,
                        "--instrument", inst, "--items", json.dumps(items),
                    )  # fmt: skip
                    recorded[f"{visit.name} {inst}"] += 1
    _say(
        "follow-up recorded: "
        + ", ".join(f"{k} {v}" for k, v in recorded.items())
        + f"; not recorded (no simulated data): {', '.join(sorted({i for _, i in skipped}))}"
    )

    # While the trial is blind the statistician sees masked arm codes (group A, group B).
    masked_dir = out / "export-masked"
    with cli.phase("masked export"):
        as_(STATISTICIAN, "export", "--out", str(masked_dir))
    masked = _arm_of(masked_dir)
    _say(f"blinded export {masked_dir}: arms {', '.join(sorted(set(masked.values())))}")

    # The record so far, on write-once storage in a real trial; then lock and unblind.
    checkpoint = out / "audit-checkpoint.json"
    with cli.phase("lock and unblind"):
        _say(as_(ADMIN, "audit checkpoint", "--out", str(checkpoint)).strip())
        _say(as_(ADMIN, "lock", "--reason", "last follow-up recorded").strip())
        _say(as_(ADMIN, "unblind-statistician", "--reason", "final analysis").strip())

    export_dir = out / "export"
    with cli.phase("export"):
        as_(STATISTICIAN, "export", "--out", str(export_dir))
    with cli.phase("consort"):
        consort_text = as_(STATISTICIAN, "consort")
    (out / "consort.csv").write_text(consort_text, encoding="utf-8")
    with cli.phase("audit verify"):
        verified = as_(ADMIN, "audit verify", "--checkpoint", str(checkpoint)).strip()
    _say(verified)
    analysis_dir = out / "analysis"
    if not args.no_analysis:
        with cli.phase("analyze"):
            cli("analyze", str(export_dir / "analysis.csv"), "--out", str(analysis_dir), "--quiet")
    total = time.perf_counter() - started

    consort = pd.read_csv(io.StringIO(consort_text), keep_default_na=False)
    enrol = consort[(consort["stage"] == "enrolment") & (consort["reason"] == "")]
    counts = {str(r.measure): int(r.n) for r in enrol.itertuples(index=False)}
    real = _arm_of(export_dir)
    summary: dict[str, Any] = {
        "n_randomised": len(assigned),
        "n_screened": len(people),
        "n_ineligible": n_ineligible,
        "allocated": dict(next_of),
        "database": db,
        "concealment": "trial key file" if key_file is not None else "INSECURE demo seed",
        "key_file": None if key_file is None else str(key_file),
        "users": {ADMIN: "admin", **USERS},
        "mode": "subprocess" if args.subprocess else "in-process",
        "cli_calls": cli.calls,
        "exit_codes": {str(k): v for k, v in cli.exit_codes.items()},
        "phases": {
            name: {"seconds": round(sec, 3), "calls": cli.phase_calls[name]}
            for name, sec in cli.phase_seconds.items()
        },
        "total_seconds": round(total, 3),
        "consort_enrolment": counts,
        "not_recorded": sorted(f"{v} {i}" for v, i in skipped),
        "masked_export": str(masked_dir),
        "masked_codes": {
            code: sorted({real[pid] for pid, m in masked.items() if m == code})
            for code in sorted(set(masked.values()))
        },
        "checkpoint": str(checkpoint),
        "audit": verified,
    }
    if not args.no_analysis:
        primary = pd.read_csv(analysis_dir / "primary.csv")
        summary["primary"] = primary[
            ["outcome", "visit", "contrast", "estimate", "conf_low", "conf_high", "p_value"]
        ].to_dict("records")
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")

    _say("\nphase                 calls   seconds")
    for name, row in summary["phases"].items():
        _say(f"{name:<20} {row['calls']:>6} {row['seconds']:>9.1f}")
    _say(f"{'total':<20} {cli.calls:>6} {total:>9.1f}")
    _say(
        f"\nCONSORT: assessed {counts.get('assessed for eligibility')}, "
        f"not meeting inclusion criteria {counts.get('not meeting inclusion criteria')}, "
        f"randomised {counts.get('randomised')}"
    )
    if key_file is not None:
        _say(f"\ntrial key: {key_file} (secret; every later command needs it)")
    if not args.no_analysis:
        _say(f"\nprimary analysis ({analysis_dir / 'primary.csv'}):")
        for r in primary.itertuples(index=False):
            _say(
                f"  {r.outcome:<5} {r.visit:<8} {r.contrast}: {r.estimate:+.2f} "
                f"({r.conf_low:+.2f} to {r.conf_high:+.2f}), p = {r.p_value:.2g}"
            )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 0 on success, 1 when a CLI call failed (naming it)."""
    args = parse_args(argv)
    try:
        run_trial(args)
    except CliCommandError as exc:
        print(f"run_full_trial: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
