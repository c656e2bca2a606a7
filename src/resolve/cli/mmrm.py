"""``resolve mmrm``: fit a mixed model for repeated measures to a CSV file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from resolve._validation import show_values
from resolve.cli._app import app
from resolve.errors import DataValidationError

__all__ = ["mmrm_command"]


def _visit_order(text: str | None, data: pd.DataFrame, visit: str, file: Path) -> list[str] | None:
    """Parse ``--visit-order`` and check it lists exactly the visit labels of ``file``."""
    if text is None:
        return None
    order = [v.strip() for v in text.split(",")]
    if any(not v for v in order):
        raise DataValidationError(f"--visit-order has an empty label: {text!r}")
    if visit not in data.columns:
        return order  # mmrm() reports the missing column
    dups = sorted({v for v in order if order.count(v) > 1})
    if dups:
        raise DataValidationError(f"--visit-order repeats {show_values(dups)}")
    present = list(dict.fromkeys(str(v) for v in data[visit].dropna()))
    known = set(present)
    unknown = [v for v in order if v not in known]
    if unknown:
        raise DataValidationError(
            f"--visit-order label {show_values(unknown)} is not a value of column {visit!r} "
            f"in {file}; its values: {show_values(present, limit=12)}"
        )
    listed = set(order)
    lacking = [v for v in present if v not in listed]
    if lacking:
        raise DataValidationError(
            f"--visit-order lacks {show_values(lacking)}, a value of column {visit!r} in {file}"
        )
    return order


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
    visit_order: Annotated[
        str | None,
        typer.Option(
            "--visit-order",
            help="Visit labels in time order, comma-separated, e.g. "
            "'week 6,week 10,week 26'; must list every visit of the file. "
            "Default: natural order of the labels (numbers by value), stated in the output.",
        ),
    ] = None,
    convention: Annotated[
        str,
        typer.Option(
            "--convention",
            help="Where SAS and R mmrm differ (Kenward-Roger's second-order term, the "
            "intercept's between-within df): sas (default) or mmrm.",
        ),
    ] = "sas",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fit an MMRM (SAS PROC MIXED REPEATED / R mmrm) and print the result.

    Text columns in the formula are factors with levels sorted as R's factor()
    sorts them (case-insensitive first: alpha < Beta); the first level is the
    reference. The visit order (the time order of ar1, toep, ad, ...) is
    --visit-order, else the natural order of the labels (week 6 < week 10).
    The output states the visit order and the reference level of each factor.
    """
    from resolve.stats import mmrm

    data = pd.read_csv(file)
    order = _visit_order(visit_order, data, visit, file)
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
        visit_order=order,
        convention=convention,
    )
    if as_json:
        full = result.to_dict()
        keys = (
            "converged",
            "loglik",
            "aic",
            "n_subjects",
            "n_obs",
            "visit_order",
            "reference_levels",
            "coefficients",
            "covariance",
        )
        out = {k: full[k] for k in keys}
        out["notes"] = result.level_notes("--visit-order")
        typer.echo(json.dumps(out))
    else:
        typer.echo(result.summary(visit_order_option="--visit-order"))
