"""``resolve trial ...`` and ``resolve users ...``: run a trial from the command line.

A thin layer over :mod:`resolve.ops`: each command parses its options, runs one
operation as ``--user`` (whose role decides what it may do) and prints the
result. The CLI's security boundary is access to the database file or its
credentials and to the trial key file; the web app adds authentication.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from resolve.cli._app import app
from resolve.errors import DataValidationError

trial_app = typer.Typer(
    help="Run a trial: set-up, screening, consent, randomisation, data capture, export, audit.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="Verify, checkpoint and read the audit trail.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts and roles of a trial.", no_args_is_help=True)
trial_app.add_typer(audit_app, name="audit")
app.add_typer(trial_app, name="trial")
app.add_typer(users_app, name="users")

Db = Annotated[
    str,
    typer.Option(
        "--db",
        help="Trial database: a SQLite file path, sqlite:///FILE or postgresql+psycopg://...",
    ),
]
Id = Annotated[str, typer.Option("--id", help="Participant id.")]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")]
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="Trial key file (default: $RESOLVE_TRIAL_KEY_FILE, else the path given at init).",
        show_default=False,
    ),
]
UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Who acts (an account of the trial; default: $RESOLVE_USER or the login name).",
        show_default=False,
    ),
]


def _who(user: str | None) -> str:
    if user is not None:
        return user
    try:
        return os.environ.get("RESOLVE_USER") or getpass.getuser()
    except (KeyError, OSError):  # no login name (e.g. some containers)
        raise DataValidationError("--user: no user name given") from None


def _client(db: str, user: str | None, key_file: Path | None, *, read_only: bool = False) -> Any:
    from resolve.ops import Client

    return Client(db, user=_who(user), key_file=key_file, read_only=read_only)


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
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataValidationError(f"--items file {path}: not UTF-8 text") from None
        source = f"--items file {path}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataValidationError(f"{source}: not valid JSON ({exc})") from None


def _csv(frame: Any) -> str:
    """CSV text for the terminal, with spreadsheet formulas neutralised (as in exports)."""
    from resolve.trial.exports import csv_text

    return str(csv_text(frame))


def _password(stdin: bool, none: bool) -> str | None:
    if none:
        return None
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise DataValidationError("the two passwords differ")
    return first


# ----------------------------------------------------------------------------- set-up
@trial_app.command("init")
def init_command(
    db: Db,
    protocol: Annotated[
        Path | None,
        typer.Option("--protocol", help="Protocol TOML file (default: the bundled RESOLVE one)."),
    ] = None,
    user: UserOpt = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="Where to write the new trial key (mode 0600; not in the database's folder). "
            "Default: $RESOLVE_KEY_DIR/<trial uid>.key (~/.config/resolve/keys).",
            show_default=False,
        ),
    ] = None,
    demo_seed: Annotated[
        int | None,
        typer.Option(
            "--demo-seed",
            help="INSECURE demo mode: derive the key from this seed, kept in the database "
            "(allocations reproducible and predictable). Tests and demonstrations only.",
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the admin's password from stdin.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Create the admin without a web password.")
    ] = False,
) -> None:
    """Create the trial database, its key and its first admin account (--user)."""
    from resolve.ops import init_trial

    result = init_trial(
        db,
        protocol,
        admin=_who(user),
        admin_password=_password(password_stdin, no_password),
        key_file=key_file,
        demo_seed=demo_seed,
    )
    proto = result.protocol
    typer.echo(
        f"initialised trial {proto.name} (protocol {proto.version}, "
        f"{proto.randomisation.method}, arms {', '.join(proto.arm_names)}), uid {result.uid}"
    )
    if result.key_file is None:
        typer.echo("INSECURE DEMO MODE: allocations are predictable from the database", err=True)
    else:
        typer.echo(f"trial key written to {result.key_file} (back it up; keep it secret)")


@users_app.command("add")
def users_add_command(
    db: Db,
    username: Annotated[str, typer.Option("--username", help="The new account's name.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="admin, enroller, clinician, assessor, statistician, "
            "unblinded_statistician or monitor.",
        ),
    ],
    site: Annotated[
        str | None, typer.Option("--site", help="Site the user works at (enrollers).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No web password (CLI use only).")
    ] = False,
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Add a user account (an admin acts)."""
    from resolve.ops import add_user

    password = _password(password_stdin, no_password)
    client = _client(db, user, key_file)
    u = client.run(add_user, username, role=role, password=password, site=site)
    typer.echo(f"added {u.name} ({u.role})")


@users_app.command("list")
def users_list_command(db: Db, user: UserOpt = None, key_file: KeyFile = None) -> None:
    """List user accounts (CSV): name, role, site, active, password."""
    import pandas as pd

    from resolve.ops import list_users

    rows = _client(db, user, key_file).run(list_users)
    typer.echo(_csv(pd.DataFrame(rows)), nl=False)


@users_app.command("deactivate")
def users_deactivate_command(
    db: Db,
    username: Annotated[str, typer.Option("--username", help="The account to deactivate.")],
    reason: Reason,
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Deactivate an account (it stays in the audit trail)."""
    from resolve.ops import deactivate_user

    _client(db, user, key_file).run(deactivate_user, username, reason=reason)
    typer.echo(f"deactivated {username}")


# ----------------------------------------------------------------------------- enrolment
@trial_app.command("screen")
def screen_command(
    db: Db,
    participant: Id,
    age: Annotated[int, typer.Option("--age", help="Age in years.")],
    duration_weeks: Annotated[
        float, typer.Option("--duration-weeks", help="Duration of low back pain in weeks.")
    ],
    pain: Annotated[int, typer.Option("--pain", help="Past-week pain NRS (0-10).")],
    identity: Annotated[
        str,
        typer.Option(
            "--identity",
            help="Identifying details (e.g. date of birth and initials), stored only as a "
            "keyed hash to refuse enrolling one person twice.",
        ),
    ],
    exclusion: Annotated[
        list[str] | None,
        typer.Option("--exclusion", help="An exclusion criterion that applies (repeatable)."),
    ] = None,
    factor: Annotated[
        list[str] | None,
        typer.Option("--factor", help="Prognostic factor level NAME=LEVEL (repeatable)."),
    ] = None,
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Screen a participant; print "eligible" or "ineligible: <reasons>"."""
    from resolve.ops import screen

    result = _client(db, user, key_file).run(
        screen,
        participant,
        age=age,
        duration_weeks=duration_weeks,
        pain=pain,
        identity=identity,
        exclusions=exclusion or [],
        factors=_parse_factors(factor),
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
    key_file: KeyFile = None,
) -> None:
    """Record an eligible participant's consent (form version)."""
    from resolve.ops import consent

    _client(db, user, key_file).run(consent, participant, version=version)
    typer.echo(f"{participant}: consented (version {version})")


@trial_app.command("randomise")
def randomise_command(
    db: Db, participant: Id, user: UserOpt = None, key_file: KeyFile = None
) -> None:
    """Randomise an eligible, consented participant; print the allocated arm's name."""
    from resolve.ops import randomise

    typer.echo(_client(db, user, key_file).run(randomise, participant))


@trial_app.command("assign-clinician")
def assign_clinician_command(
    db: Db,
    participant: Id,
    clinician: Annotated[
        str, typer.Option("--clinician", help="The treating clinician's account.")
    ],
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Assign a participant's treating clinician (who then sees their arm)."""
    from resolve.ops import assign_clinician

    _client(db, user, key_file).run(assign_clinician, participant, clinician=clinician)
    typer.echo(f"{participant}: clinician {clinician}")


def _status_command(name: str, op_name: str, done: str, doc: str) -> None:
    def command(
        db: Db, participant: Id, reason: Reason, user: UserOpt = None, key_file: KeyFile = None
    ) -> None:
        from resolve import ops

        _client(db, user, key_file).run(getattr(ops, op_name), participant, reason=reason)
        typer.echo(f"{participant}: {done}")

    command.__doc__ = doc
    trial_app.command(name)(command)


_status_command("withdraw", "withdraw", "withdrawn", "Record a participant's withdrawal.")
_status_command("lost", "mark_lost", "lost to follow-up", "Record a participant as lost.")
_status_command(
    "randomised-in-error",
    "mark_randomised_in_error",
    "randomised in error",
    "Mark a randomised participant randomised in error (the allocation stays).",
)


@trial_app.command("unblind")
def unblind_command(
    db: Db, participant: Id, reason: Reason, user: UserOpt = None, key_file: KeyFile = None
) -> None:
    """Emergency unblinding of one participant (allowed roles; audited with the reason)."""
    from resolve.ops import emergency_unblind

    typer.echo(_client(db, user, key_file).run(emergency_unblind, participant, reason=reason))


# ----------------------------------------------------------------------------- data
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
    key_file: KeyFile = None,
) -> None:
    """Record item-level responses to one instrument at one visit (scored on save)."""
    from resolve.ops import record

    scores = _client(db, user, key_file).run(
        record, participant, visit=visit, instrument=instrument, items=_read_items(items)
    )
    shown = ", ".join(
        f"{k} {'missing' if v is None else format(v, 'g')}" for k, v in scores["scores"].items()
    )
    typer.echo(f"{participant} {visit} {instrument}: {shown}")


@trial_app.command("correct")
def correct_command(
    db: Db,
    participant: Id,
    visit: Annotated[str, typer.Option("--visit", help="Protocol visit name.")],
    instrument: Annotated[str, typer.Option("--instrument", help="Instrument id.")],
    items: Annotated[str, typer.Option("--items", help="Corrected item codes (JSON or file).")],
    reason: Reason,
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Correct a stored response (the old value stays in the audit trail)."""
    from resolve.ops import correct

    _client(db, user, key_file).run(
        correct,
        participant,
        visit=visit,
        instrument=instrument,
        items=_read_items(items),
        reason=reason,
    )
    typer.echo(f"{participant} {visit} {instrument}: corrected")


@trial_app.command("participants")
def participants_command(db: Db, user: UserOpt = None, key_file: KeyFile = None) -> None:
    """List participants (CSV); the arm only where your role may see it."""
    from resolve.ops import participants

    table = _client(db, user, key_file).run(participants)
    cols = ["participant_id", "site", "status", "screened_at", "consented_at", "randomised_at"]
    if table["arm"].notna().any():
        cols.append("arm")
    typer.echo(_csv(table[cols]), nl=False)


@trial_app.command("export")
def export_command(
    db: Db,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Write the analysis-ready table, item-level data, REDCap files and CONSORT counts."""
    from resolve.ops import export

    for path in _client(db, user, key_file).run(export, out):
        typer.echo(str(path))


@trial_app.command("consort")
def consort_command(db: Db, user: UserOpt = None, key_file: KeyFile = None) -> None:
    """Print CONSORT flow counts from live data (CSV)."""
    from resolve.ops import consort

    typer.echo(_csv(_client(db, user, key_file).run(consort)), nl=False)


@trial_app.command("schedule")
def schedule_command(
    db: Db,
    participant: Annotated[
        str | None, typer.Option("--id", help="A randomised participant: their visit calendar.")
    ] = None,
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Print the schedule of assessments, or one participant's calendar and overdue visits (CSV)."""
    from resolve.ops import participant_schedule, trial_schedule

    client = _client(db, user, key_file, read_only=True)
    table = (
        client.run(trial_schedule)
        if participant is None
        else client.run(participant_schedule, participant)
    )
    typer.echo(_csv(table), nl=False)


@trial_app.command("lock")
def lock_command(db: Db, reason: Reason, user: UserOpt = None, key_file: KeyFile = None) -> None:
    """Lock the database: no more data capture or corrections (audited)."""
    from resolve.ops import lock_database

    _client(db, user, key_file).run(lock_database, reason=reason)
    typer.echo("database locked")


@trial_app.command("unblind-statistician")
def unblind_statistician_command(
    db: Db, reason: Reason, user: UserOpt = None, key_file: KeyFile = None
) -> None:
    """After lock: the blinded statistician sees real arms from now on (audited)."""
    from resolve.ops import unblind_statistician

    _client(db, user, key_file).run(unblind_statistician, reason=reason)
    typer.echo("statistician unblinded")


# ----------------------------------------------------------------------------- audit
@audit_app.command("verify")
def audit_verify_command(
    db: Db,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", help="A checkpoint file written earlier (repeatable)."),
    ] = None,
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Check chain, checkpoints and data tables: exit 0 if intact, 1 naming the first problem."""
    from resolve.ops import verify_trial

    cps = []
    for path in checkpoint or []:
        try:
            cp = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataValidationError(f"{path}: not a checkpoint file ({exc})") from None
        if not isinstance(cp, dict) or type(cp.get("last_id")) is not int:
            raise DataValidationError(f"{path}: not a checkpoint file (no integer last_id)")
        cps.append(cp)
    problem = _client(db, user, key_file, read_only=True).run(verify_trial, checkpoints=cps)
    if problem is None:
        typer.echo("audit trail intact; data tables match their events")
        return
    typer.echo(f"audit trail broken: {problem}", err=True)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint_command(
    db: Db,
    out: Annotated[Path, typer.Option("--out", help="New file (copy it to write-once storage).")],
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Write the chain's head (MACed) to a new file for write-once storage."""
    from resolve.ops import checkpoint

    if out.exists():
        raise DataValidationError(f"--out: {out} exists; a checkpoint is never overwritten")
    cp = _client(db, user, key_file).run(checkpoint)
    out.write_text(json.dumps(cp, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"checkpoint of event {cp['last_id']} written to {out}")


@audit_app.command("log")
def audit_log_command(
    db: Db,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the newest N events.")] = None,
    user: UserOpt = None,
    key_file: KeyFile = None,
) -> None:
    """Print the audit trail (JSON lines); arm values hidden unless your role may see them."""
    from resolve.ops import events

    for ev in _client(db, user, key_file, read_only=True).run(events, limit=limit):
        typer.echo(json.dumps(ev, ensure_ascii=False))
