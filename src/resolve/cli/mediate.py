"""``resolve mediate``: causal mediation analysis of a wide trial CSV."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from resolve.cli._app import app
from resolve.errors import DataValidationError

__all__ = ["mediate_command", "read_mediation_csv"]

_ROWS = "rows are data rows counted from 1; data row r is line r + 1 of the file"


class CiChoice(StrEnum):
    percentile = "percentile"
    bca = "bca"


def _first_bad(values: pd.Series) -> int | None:
    """Position of the first present value that is not a finite number, or None."""
    for pos, v in enumerate(values.tolist()):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            return pos
        text = str(v).strip().lower().lstrip("+-")
        if not math.isfinite(f) or text in ("nan", "inf", "infinity"):
            return pos
    return None


def read_mediation_csv(path: Path, *, treatment: str, numeric: list[str]) -> pd.DataFrame:
    """Read a wide CSV (one row per participant); only an empty cell is missing.

    The treatment column is kept as text (its labels as written); every column in
    ``numeric`` must hold numbers, and the first that does not is named with its data row
    (counted from 1), column and value.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("arm,m,y\\n0,1.5,2\\n1,,3\\n")
    >>> read_mediation_csv(path, treatment="arm", numeric=["m", "y"])["m"].tolist()
    [1.5, nan]
    >>> _ = path.write_text("arm,m,y\\n0,1.5,2\\n1,n/a,3\\n")
    >>> read_mediation_csv(path, treatment="arm", numeric=["m", "y"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: t.csv: row 2, column 'm' must be numeric; found 'n/a' ...
    """
    from resolve._validation import require_columns
    from resolve.analysis.io import read_trial_csv

    frame = read_trial_csv(path, text_columns=(treatment,))
    require_columns(frame, [treatment, *numeric], what=path.name)
    out = frame.copy()
    for col in dict.fromkeys(numeric):
        pos = _first_bad(frame[col])
        if pos is not None:
            raise DataValidationError(
                f"{path.name}: row {pos + 1}, column {col!r} must be numeric; found "
                f"{frame[col].iloc[pos]!r} (only an empty cell is a missing value; {_ROWS})"
            )
        out[col] = pd.to_numeric(frame[col]).astype(float)
    return out


def _reference(values: pd.Series, given: str | None, column: str, source: str) -> str:
    """The reference label as written in the file; 0 when the arms are 0/1 and none is given."""
    labels = [str(v).strip() for v in pd.unique(values.dropna())]
    if len(labels) != 2:
        shown = ", ".join(map(repr, labels[:5])) + (" ..." if len(labels) > 5 else "")
        raise DataValidationError(
            f"{source}: treatment column {column!r} must have exactly 2 distinct values "
            f"(treated and control); got {len(labels)}: {shown}"
        )
    if given is not None:
        hits = [lv for lv in labels if lv == given.strip()]
        if not hits:  # numeric spellings: --reference 0 for a column of 0.0 / 1.0
            try:
                hits = [lv for lv in labels if float(lv) == float(given)]
            except ValueError:
                hits = []
        if len(hits) != 1:
            raise DataValidationError(
                f"{source}: --reference {given!r} is not a value of treatment column "
                f"{column!r} (values: {', '.join(map(repr, labels))})"
            )
        return hits[0]
    try:
        zero = [lv for lv in labels if float(lv) == 0.0]
        numbers = {float(lv) for lv in labels}
    except ValueError:
        zero, numbers = [], set()
    if numbers == {0.0, 1.0}:
        return zero[0]
    raise DataValidationError(
        f"{source}: treatment column {column!r} holds {', '.join(map(repr, labels[:5]))}; "
        "name the control value with --reference"
    )


def _print_table(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    s = result.settings
    level = round(100 * s["conf_level"])
    boot = (
        f"{s['boot']} {s['ci']} bootstrap resamples (seed {s['seed']})"
        if s["boot"]
        else "no bootstrap"
    )
    table = Table(
        title=f"Mediation: treatment {s['treatment']!r} vs reference {s['reference']!r}; {boot}",
        title_justify="left",
    )
    for name in (
        "Outcome",
        "Mediator",
        "Effect",
        "Estimate",
        f"{level}% CI",
        "SE",
        "P",
        "Interval",
        "n",
    ):
        table.add_column(
            name,
            justify="left" if name in ("Outcome", "Mediator", "Effect", "Interval") else "right",
        )

    def num(x: float, digits: int = 3) -> str:
        return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"

    for r in result.effects.itertuples(index=False):
        p = (
            "-"
            if not math.isfinite(r.p_value)
            else ("<.001" if r.p_value < 0.001 else f"{r.p_value:.3f}")
        )
        table.add_row(
            str(r.outcome),
            str(r.mediator),
            str(r.effect),
            num(r.estimate),
            f"{num(r.conf_low)} to {num(r.conf_high)}",
            num(r.std_error),
            p,
            str(r.ci_method),
            str(r.n),
        )
    Console(width=140).print(table)
    typer.echo(
        "Effects: treated minus reference on the outcome's scale, covariates at their means; "
        "nde/nie natural direct/indirect, te total, pm = nie / te."
    )
    for th in s.get("rho_thresholds", []):
        typer.echo(
            f"sensitivity: {th['outcome']} via {th['mediator']}: NIE = 0 at rho = "
            f"{th['nie_zero']:.2f}; its CI includes 0 from rho = {th['ci_zero']:.2f}"
        )


@app.command("mediate")
def mediate_command(
    data: Annotated[
        Path, typer.Argument(help="Wide CSV, one row per participant; an empty cell is missing.")
    ],
    treatment: Annotated[str, typer.Option("--treatment", help="Two-valued treatment column.")],
    outcome: Annotated[
        list[str], typer.Option("--outcome", help="Outcome column (repeat for several).")
    ],
    mediator: Annotated[
        list[str], typer.Option("--mediator", help="Mediator column (repeat for several).")
    ],
    covariate: Annotated[
        list[str] | None,
        typer.Option("--covariate", help="Baseline confounder column (repeat for several)."),
    ] = None,
    interaction: Annotated[
        bool, typer.Option("--interaction", help="Treatment x mediator term(s).")
    ] = False,
    boot: Annotated[int, typer.Option("--boot", help="Bootstrap resamples (0: none).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the resamples.")] = 2021,
    ci: Annotated[CiChoice, typer.Option("--ci", help="Bootstrap interval.")] = CiChoice.percentile,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Control value of the treatment (default 0 for 0/1)."),
    ] = None,
    interventional: Annotated[
        bool,
        typer.Option("--interventional", help="Add interventional effects (correlated mediators)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of effects.")] = False,
) -> None:
    """Natural direct and indirect effects of the treatment through each mediator.

    Each mediator alone and all together, with delta-method and bootstrap intervals
    (one set of resamples for every mediator and outcome), and the rho sensitivity curve.
    """
    from resolve._results import jsonable
    from resolve.analysis.mediation import mediate
    from resolve.analysis.mediation.api import check_options

    check_options(boot, seed, ci.value)
    covariates = list(covariate or [])
    for option, names in (
        ("--outcome", outcome),
        ("--mediator", mediator),
        ("--covariate", covariates),
    ):
        dup = [n for n in dict.fromkeys(names) if names.count(n) > 1]
        if dup:
            raise DataValidationError(f"{option} {dup[0]!r} is given twice")
    frame = read_mediation_csv(
        data, treatment=treatment, numeric=[*outcome, *mediator, *covariates]
    )
    ref = _reference(frame[treatment], reference, treatment, data.name)
    try:
        result = mediate(
            frame,
            treatment=treatment,
            outcomes=outcome,
            mediators=mediator,
            covariates=covariates,
            interaction=interaction,
            reference=ref,
            boot=boot,
            seed=seed,
            ci=ci.value,
            interventional=interventional,
        )
    except DataValidationError as exc:
        raise DataValidationError(f"{data.name}: {exc}") from None
    if as_json:
        typer.echo(json.dumps(jsonable(result.effects)))
        for note in result.warnings:
            typer.echo(f"note: {note}", err=True)
        return
    _print_table(result)
    for note in result.warnings:
        typer.echo(f"note: {note}")
