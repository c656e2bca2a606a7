"""``resolve trial ...``: run a trial from the command line.

A thin layer over :mod:`resolve.trial.service`: each command parses its
options, calls one service function and prints the result. The interface is
fixed (other tools and scripts depend on it); see issue 5.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from resolve.cli._app import app
from resolve.errors import DataValidationError

trial_app = typer.Typer(
    help="Run a trial: set-up, screening, consent, randomisation, data capture, export, audit.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="Check the hash-chained audit trail.", no_args_is_help=True)
trial_app.add_typer(audit_app, name="audit")
app.add_typer(trial_app, name="trial")

Db = Annotated[
    str,
    typer.Option(
        "--db",
        help="Trial database: a SQLite file path, sqlite:///FILE or postgresql+psycopg://...",
    ),
]
Id = Annotated[str, typer.Option("--id", help="Participant id.")]


def _default_user() -> str:
    try:
        return os.environ.get("RESOLVE_USER") or getpass.getuser()
    except (KeyError, OSError):  # no login name (e.g. some containers)
        return "unknown"


UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Who acts, for the audit trail (default: $RESOLVE_USER or the login name).",
        show_default=False,
    ),
]


def _who(user: str | None) -> str:
    return _default_user() if user is None else user


def _parse_factors(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, level = value.partition("=")
        if not sep or not name.strip() or not level.strip():
            raise DataValidationError(f"--factor: expected NAME=LEVEL; got {value!r}")
        out[name.strip()] = level.strip()
    return out


def _read_items(value: str) -> Any:
    text = value.strip()
    source = "--items"
    if not text.startswith(("{", "[")):
        path = Path(value)
        if not path.is_file():
            raise DataValidationError(
                f"--items: {value!r} is neither a JSON object nor a readable file"
            )
        text = path.read_text(encoding="utf-8")
        source = f"--items file {path}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataValidationError(f"{source}: not valid JSON ({exc})") from None


@trial_app.command("init")
def init_command(
    db: Db,
    protocol: Annotated[
        Path | None,
        typer.Option("--protocol", help="Protocol TOML file (default: the bundled RESOLVE one)."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of the sealed allocation sequence (default: random)."),
    ] = None,
    user: UserOpt = None,
) -> None:
    """Create the trial database (schema by migration), the trial and its sealed sequence."""
    from resolve.trial.service import init_trial

    proto = init_trial(db, protocol, seed=seed, user=_who(user))
    typer.echo(
        f"initialised trial {proto.name} (protocol {proto.version}, "
        f"{proto.randomisation.method}, arms {', '.join(proto.arm_names)})"
    )


@trial_app.command("screen")
def screen_command(
    db: Db,
    participant: Id,
    age: Annotated[int, typer.Option("--age", help="Age in years.")],
    duration_weeks: Annotated[
        float, typer.Option("--duration-weeks", help="Duration of low back pain in weeks.")
    ],
    pain: Annotated[int, typer.Option("--pain", help="Past-week pain NRS (0-10).")],
    exclusion: Annotated[
        list[str] | None,
        typer.Option("--exclusion", help="An exclusion criterion that applies (repeatable)."),
    ] = None,
    factor: Annotated[
        list[str] | None,
        typer.Option("--factor", help="Prognostic factor level NAME=LEVEL (repeatable)."),
    ] = None,
    user: UserOpt = None,
) -> None:
    """Screen a participant; print "eligible" or "ineligible: <reasons>"."""
    from resolve.trial.service import screen

    result = screen(
        db,
        participant,
        age=age,
        duration_weeks=duration_weeks,
        pain=pain,
        exclusions=exclusion or [],
        factors=_parse_factors(factor),
        user=_who(user),
    )
    if result.eligible:
        typer.echo(f"{participant}: eligible")
    else:
        typer.echo(f"{participant}: ineligible: {'; '.join(result.reasons)}")


@trial_app.command("consent")
def consent_command(
    db: Db,
    participant: Id,
    version: Annotated[str, typer.Option("--version", help="Consent form version signed.")],
    user: UserOpt = None,
) -> None:
    """Record an eligible participant's consent (form version)."""
    from resolve.trial.service import consent

    consent(db, participant, version=version, user=_who(user))
    typer.echo(f"{participant}: consented (version {version})")


@trial_app.command("randomise")
def randomise_command(db: Db, participant: Id, user: UserOpt = None) -> None:
    """Randomise an eligible, consented participant; print the allocated arm's name."""
    from resolve.trial.service import randomise

    typer.echo(randomise(db, participant, user=_who(user)))


@trial_app.command("record")
def record_command(
    db: Db,
    participant: Id,
    visit: Annotated[str, typer.Option("--visit", help="Protocol visit name (e.g. 'week 18').")],
    instrument: Annotated[str, typer.Option("--instrument", help="Instrument id (e.g. nrs).")],
    items: Annotated[
        str,
        typer.Option("--items", help='Item codes: a JSON object ({"nrs_1": 5}) or a JSON file.'),
    ],
    user: UserOpt = None,
) -> None:
    """Record item-level responses to one instrument at one visit (scored on save)."""
    from resolve.trial.service import record

    scores = record(
        db,
        participant,
        visit=visit,
        instrument=instrument,
        items=_read_items(items),
        user=_who(user),
    )
    shown = ", ".join(
        f"{k} {'missing' if v is None else format(v, 'g')}" for k, v in scores["scores"].items()
    )
    typer.echo(f"{participant} {visit} {instrument}: {shown}")


@trial_app.command("export")
def export_command(
    db: Db,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    user: UserOpt = None,
) -> None:
    """Write the analysis-ready table, item-level data, REDCap files and CONSORT counts."""
    from resolve.trial.service import export

    for path in export(db, out):
        typer.echo(str(path))


@trial_app.command("consort")
def consort_command(db: Db, user: UserOpt = None) -> None:
    """Print CONSORT flow counts from live data (CSV)."""
    from resolve.trial.service import consort

    typer.echo(consort(db).to_csv(index=False), nl=False)


@trial_app.command("schedule")
def schedule_command(
    db: Db,
    participant: Annotated[
        str | None, typer.Option("--id", help="A randomised participant: their visit calendar.")
    ] = None,
    user: UserOpt = None,
) -> None:
    """Print the schedule of assessments, or one participant's calendar and overdue visits (CSV)."""
    from resolve.trial.service import participant_schedule, trial_schedule

    table = trial_schedule(db) if participant is None else participant_schedule(db, participant)
    typer.echo(table.to_csv(index=False), nl=False)


@audit_app.command("verify")
def audit_verify_command(db: Db, user: UserOpt = None) -> None:
    """Check the audit chain: exit 0 when intact, 1 naming the first broken event."""
    from resolve.trial.service import verify_audit

    broken = verify_audit(db)
    if broken is None:
        typer.echo("audit trail intact")
        return
    typer.echo(f"audit trail broken: {broken}", err=True)
    raise typer.Exit(1)
