"""``resolve serve``: the web application of a trial (uvicorn).

``resolve serve --demo`` makes a temporary demo trial with one account per role,
prints their one-time passwords, and serves it, so a newcomer sees every screen
in one command. The demo trial's key sits in its own temporary folder (never
beside the database) and everything is deleted when the server stops.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

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


def make_demo_trial(folder: Path, *, participants: int = 8) -> tuple[Path, Path, dict[str, str]]:
    """Create a demo trial in ``folder``: (database, key file, {user: one-time password}).

    The accounts are named after their role; a few participants are screened,
    consented, randomised (enroller) and have baseline questionnaires (enroller).
    """
    from resolve import ops

    data, keys = folder / "data", folder / "keys"
    data.mkdir(mode=0o700)
    keys.mkdir(mode=0o700)
    db, key_file = data / "demo.db", keys / "demo.key"
    passwords = {role: secrets.token_urlsafe(12) for role in DEMO_ROLES}
    ops.init_trial(db, admin="admin", admin_password=passwords["admin"], key_file=key_file)
    admin = ops.Client(db, user="admin", key_file=key_file)
    for role in DEMO_ROLES[1:]:
        site = "sydney" if role == "enroller" else None
        admin.run(ops.add_user, role, role=role, password=passwords[role], site=site)
    enroller = ops.Client(db, user="enroller", key_file=key_file)
    for i in range(1, participants + 1):
        pid = f"D{i:03d}"
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
        enroller.run(ops.record, pid, visit="baseline", instrument="nrs", items={"1": 4 + i % 5})
        enroller.run(ops.randomise, pid)
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
            typer.echo("demo trial (deleted when the server stops); one-time passwords:")
            for user, password in passwords.items():
                typer.echo(f"  {user:24s} {password}")
        assert db is not None
        web = create_app(db, key_file=key_file, secure_cookies=not insecure_cookies)
        typer.echo(f"serving on http://{host}:{port}/ (Ctrl+C to stop)")
        uvicorn.run(web, host=host, port=port, log_level="warning")
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
