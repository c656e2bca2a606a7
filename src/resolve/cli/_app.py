"""Typer application, error handling and registration of command modules."""

from __future__ import annotations

import functools
import importlib
from typing import Any

import typer
from typer.exceptions import TyperException

from resolve.errors import ResolveError

app = typer.Typer(
    name="resolve",
    help="Analyse, run and deliver graded sensorimotor retraining trials (RESOLVE).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules that register commands on ``app`` when imported.
_COMMAND_MODULES = (
    "resolve.cli.instruments",
    "resolve.cli.demo",
    "resolve.cli.mmrm",
    "resolve.cli.simulate",
    "resolve.cli.analyze",
    "resolve.cli.plan",
    "resolve.cli.trial",
    "resolve.cli.serve",
    "resolve.cli.program",
    "resolve.cli.design",
    "resolve.cli.mediate",
)


@functools.cache
def _command() -> Any:
    """The click command tree, built once per process (every module registered)."""
    for name in _COMMAND_MODULES:
        importlib.import_module(name)
    return typer.main.get_command(app)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv`` and return the exit status (never raises)."""
    command = _command()
    try:
        result = command.main(args=argv, prog_name="resolve", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("resolve: aborted", err=True)
        return 130
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare command: show its help
            typer.echo(exc.format_message())
            return 0
        typer.echo(f"resolve: error: {_one_line(exc.format_message())}", err=True)
        return 2
    except ResolveError as exc:
        typer.echo(f"resolve: error: {_one_line(str(exc))}", err=True)
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        typer.echo(f"resolve: error: cannot open{where}: {exc.strerror or exc}", err=True)
        return 2
    return int(result) if isinstance(result, int) else 0
