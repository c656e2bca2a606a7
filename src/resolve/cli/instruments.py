"""``resolve instruments``, ``resolve score`` and ``resolve fhir`` commands."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from resolve.cli._app import app
from resolve.errors import DataValidationError

fhir_app = typer.Typer(
    help="FHIR R4 Questionnaire export and QuestionnaireResponse scoring.", no_args_is_help=True
)
app.add_typer(fhir_app, name="fhir")


class OutputFormat(StrEnum):
    csv = "csv"
    json = "json"


def _range_text(lo: float, hi: float) -> str:
    return f"{lo:g} to {hi:g}"


@app.command("instruments")
def list_instruments() -> None:
    """List instrument ids, versions, item counts and score ranges."""
    from resolve.instruments import Instrument, available

    table = Table(show_edge=False, header_style="bold")
    for col in ("id", "version", "items", "total range", "subscales", "higher is"):
        table.add_column(col)
    for inst in available():
        if isinstance(inst, Instrument):
            subs = ", ".join(
                f"{s.name} {_range_text(*inst.scale_range(s))}" for s in inst.subscales
            )
            items = str(inst.n_items)
        else:
            subs = "one 0/1 flag per drug class"
            items = f"up to {inst.n_items}"
        table.add_row(
            inst.id,
            inst.version,
            items,
            _range_text(*inst.scale_range("total")),
            subs or "-",
            inst.higher_is,
        )
    Console(width=160).print(table)


def _refuse_duplicate_ids(data: pd.DataFrame, id_column: str, file: Path) -> None:
    """Refuse a respondent id given on two rows (blank ids are not compared).

    Line numbers are those of the file (line 1 is the header), as in scoring errors.
    """
    ids = data[id_column].astype("string").str.strip().fillna("")
    seen: dict[str, int] = {}
    for row, value in enumerate(ids):
        if value == "":
            continue
        if value in seen:
            raise DataValidationError(
                f"{file.name}: respondent id {value!r} (column {id_column!r}) appears twice, "
                f"on lines {seen[value] + 2} and {row + 2}; ids must be unique"
            )
        seen[value] = row


@app.command("score")
def score_command(
    instrument: Annotated[str, typer.Argument(help="Instrument id (see `resolve instruments`).")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: one row per respondent, item columns "
            "<instrument>_<n>; an empty cell is a missing item."
        ),
    ],
    id_column: Annotated[str, typer.Option("--id-column", help="Respondent id column.")] = "id",
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.csv,
) -> None:
    """Score every respondent in FILE; one output row per respondent on stdout."""
    from resolve.instruments import get, read_responses

    inst = get(instrument)
    data = read_responses(file, inst, id_column=id_column)
    _refuse_duplicate_ids(data, id_column, file)
    table = inst.score_frame(data, id_column=id_column, source=file.name)
    if fmt is OutputFormat.json:
        from resolve._results import jsonable

        typer.echo(json.dumps(jsonable(table), indent=None))
    else:
        out = table.assign(prorated=table["prorated"].map({True: "true", False: "false"}))
        out.to_csv(sys.stdout, index=False, float_format="%.10g", lineterminator="\n")


@fhir_app.command("questionnaire")
def fhir_questionnaire(
    instrument: Annotated[str, typer.Argument(help="Instrument id.")],
) -> None:
    """Print the FHIR R4 Questionnaire (JSON) of INSTRUMENT."""
    from resolve.instruments import to_fhir

    typer.echo(json.dumps(to_fhir(instrument), indent=2))


@fhir_app.command("score")
def fhir_score(
    file: Annotated[Path, typer.Argument(help="QuestionnaireResponse JSON file.")],
) -> None:
    """Score a FHIR R4 QuestionnaireResponse and print the result as JSON."""
    from resolve.instruments import score_response

    try:
        resource = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataValidationError(
            f"{file.name}: not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    if not isinstance(resource, dict):
        raise DataValidationError(f"{file.name}: expected a JSON object")
    typer.echo(json.dumps(score_response(resource).to_dict(), indent=2))
