"""``resolve serve``: the web application of a trial (uvicorn).

``resolve serve --demo`` makes a temporary demo trial with one account per role,
prints their one-time passwords (each must be changed at the first sign-in), and
serves it, so a newcomer sees every screen
in one command. The demo trial's key sits in its own temporary folder (never
beside the database) and everything is deleted when the server stops.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from unittest import mock

import typer

from resolve.cli._app import app
from resolve.errors import DataValidationError

#: Roles of the demo trial's accounts, in the order they are printed.
DEMO_ROLES = (
    "admin",
    "enroller",
    "clinician",
    "assessor",
    "statistician",
    "unblinded_statistician",
    "monitor",
)
#: Days before today on which demo participant k (the last value repeats) was screened,
#: consented and randomised: the dashboard then shows visits overdue (D001, D002),
#: due (D003) and upcoming (D001, D004), and recruitment over several months.
DEMO_DAYS_AGO = (110, 100, 80, 70, 40, 10, 5, 2)


@contextlib.contextmanager
def _days_ago(days: int) -> Iterator[date]:
    """Record what happens inside as if it happened ``days`` days ago (demo data only)."""
    from resolve.store import audit

    start, tick = datetime.now(UTC) - timedelta(days=days), itertools.count()

    def then() -> str:
        return (start + timedelta(seconds=next(tick))).isoformat(timespec="microseconds")

    with mock.patch.object(audit, "now", then):
        yield start.date()


#: Builds of the demo trial tried before keeping one whose programme is not complete.
DEMO_ATTEMPTS = 20


def make_demo_trial(folder: Path, *, participants: int = 8) -> tuple[Path, Path, dict[str, str]]:
    """Create a demo trial in ``folder``: (database, key file, {user: one-time password}).

    :func:`_build_demo_trial`, then 12 weeks of programme data for the
    earliest-randomised participant of each arm, treated by the clinician
    (:func:`resolve.ops.programme_demo.load_demo_programme`). When three or more
    participants have finished the programme but they are all in one arm (about
    1 build in 30 with permuted blocks), the trial is built again with a new key,
    so that both arms have a participant with 12 weeks.
    """
    from resolve.ops.programme_demo import load_demo_programme

    for attempt in range(DEMO_ATTEMPTS):
        if attempt:
            for sub in ("data", "keys"):
                shutil.rmtree(folder / sub)
        db, key_file, passwords = _build_demo_trial(folder, participants=participants)
        loaded = load_demo_programme(db, clinician="clinician", admin="admin", key_file=key_file)
        if loaded is None or loaded.finished < 3 or loaded.complete:
            break
    return db, key_file, passwords


def _build_demo_trial(folder: Path, *, participants: int) -> tuple[Path, Path, dict[str, str]]:
    """Create the demo trial's accounts and participants: (database, key file, passwords).

    The accounts are named after their role and their passwords are one-time
    passwords (changed at the first sign-in); a few participants are screened,
    consented, randomised (enroller) and have baseline questionnaires (enroller),
    dated over the past months (:data:`DEMO_DAYS_AGO`).
    """
    from resolve import ops

    data, keys = folder / "data", folder / "keys"
    data.mkdir(mode=0o700)
    keys.mkdir(mode=0o700)
    db, key_file = data / "demo.db", keys / "demo.key"
    passwords = {role: secrets.token_urlsafe(12) for role in DEMO_ROLES}
    # The trial and its accounts date from before the first participant, so the demo's
    # audit trail reads in time order (set-up, then enrolment over the past months).
    with _days_ago(max(DEMO_DAYS_AGO) + 7):
        ops.init_trial(
            db,
            admin="admin",
            admin_password=passwords["admin"],
            key_file=key_file,
            admin_must_change_password=True,
        )
        admin = ops.Client(db, user="admin", key_file=key_file)
        for role in DEMO_ROLES[1:]:
            site = "sydney" if role == "enroller" else None
            admin.run(ops.add_user, role, role=role, password=passwords[role], site=site)
    enroller = ops.Client(db, user="enroller", key_file=key_file)
    for i in range(1, participants + 1):
        pid = f"D{i:03d}"
        with _days_ago(DEMO_DAYS_AGO[min(i, len(DEMO_DAYS_AGO)) - 1]) as day:
            result = enroller.run(
                ops.screen,
                pid,
                age=30 + 3 * i,
                duration_weeks=20 + i,
                pain=4 + i % 5,
                identity=f"demo person {i}",
            )
            if not result.eligible or i > participants - 2:
                continue  # leave some screened but not randomised
            enroller.run(ops.consent, pid, version="1.0")
            enroller.run(
                ops.record,
                pid,
                visit="baseline",
                instrument="nrs",
                items={"1": 4 + i % 5},
                recorded_on=day,
            )
            enroller.run(ops.randomise, pid)
    if participants > 2:  # D001 is randomised: one adverse event for the safety pages
        enroller.run(
            ops.report_adverse_event,
            "D001",
            onset_date=(datetime.now(UTC).date() - timedelta(days=3)).isoformat(),
            description="Lower back felt stiff and sore for a day after a session.",
            serious=False,
            severity="mild",
            relatedness="possible",
            expectedness="expected",
            outcome="recovered",
            action_taken="none",
        )
    return db, key_file, passwords


@app.command("serve")
def serve_command(
    db: Annotated[
        str | None,
        typer.Option("--db", help="Trial database: a SQLite file path or postgresql+psycopg://..."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="Trial key file (default: $RESOLVE_TRIAL_KEY_FILE ...)."),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Serve a temporary demo trial with one account per role."),
    ] = False,
    insecure_cookies: Annotated[
        bool,
        typer.Option(
            "--insecure-cookies",
            help="Session cookies without the Secure flag (plain HTTP to a host other than "
            "localhost; never in production).",
        ),
    ] = False,
) -> None:
    """Serve the trial's web application (pages and the /api/v1 JSON API)."""
    import uvicorn

    from resolve.web.app import create_app

    if demo == (db is not None):
        raise DataValidationError("give either --db or --demo")
    folder: Path | None = None
    try:
        if demo:
            folder = Path(tempfile.mkdtemp(prefix="resolve-demo-"))
            db_path, key_file, passwords = make_demo_trial(folder)
            db = str(db_path)
            typer.echo(
                "demo trial (deleted when the server stops); one-time passwords "
                "(each account chooses its own at the first sign-in):"
            )
            for user, password in passwords.items():
                typer.echo(f"  {user:24s} {password}")
        assert db is not None
        web = create_app(db, key_file=key_file, secure_cookies=not insecure_cookies)
        typer.echo(f"serving on http://{host}:{port}/ (Ctrl+C to stop)")
        uvicorn.run(web, host=host, port=port, log_level="warning")
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
