"""``resolve mmrm``: fit a mixed model for repeated measures to a CSV file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from resolve.cli._app import app

__all__ = ["mmrm_command"]


@app.command("mmrm")
def mmrm_command(
    file: Annotated[Path, typer.Argument(help="Long-format CSV, one row per subject and visit.")],
    formula: Annotated[str, typer.Option("--formula", help='e.g. "FEV1 ~ RACE + ARMCD*AVISIT"')],
    subject: Annotated[str, typer.Option("--subject", help="Subject id column.")],
    visit: Annotated[str, typer.Option("--visit", help="Visit column.")],
    cov: Annotated[
        str, typer.Option("--cov", help="Covariance structure (us, cs, ar1, ...).")
    ] = "us",
    group: Annotated[
        str | None, typer.Option("--group", help="Separate covariance per level.")
    ] = None,
    method: Annotated[str, typer.Option("--method", help="reml or ml.")] = "reml",
    df: Annotated[
        str,
        typer.Option(
            "--df",
            help="satterthwaite, kenward-roger, kenward-roger-linear, residual, "
            "between-within or empirical.",
        ),
    ] = "satterthwaite",
    weights: Annotated[str | None, typer.Option("--weights", help="Weight column.")] = None,
    coordinates: Annotated[
        list[str] | None, typer.Option("--coordinates", help="Coordinate column(s) for sp_exp.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fit an MMRM (SAS PROC MIXED REPEATED / R mmrm) and print the result."""
    from resolve.stats import mmrm

    data = pd.read_csv(file)
    result = mmrm(
        formula,
        data,
        subject=subject,
        visit=visit,
        cov=cov,
        group=group,
        method=method,
        df=df,
        weights=weights,
        coordinates=coordinates or None,
    )
    if as_json:
        full = result.to_dict()
        keys = ("converged", "loglik", "aic", "n_subjects", "n_obs", "coefficients", "covariance")
        typer.echo(json.dumps({k: full[k] for k in keys}))
    else:
        typer.echo(result.summary())
