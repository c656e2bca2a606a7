"""``resolve analyze``: run an analysis plan on a trial CSV and write its tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from resolve._validation import check_output_dir
from resolve.analysis.io import read_trial_csv
from resolve.cli._app import app
from resolve.errors import DataValidationError

__all__ = ["analyze_command", "read_trial_csv"]


def _print_primary(analysis: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from resolve.analysis.descriptive import format_difference, format_p

    plan = analysis.plan
    level = round(plan.analysis.conf_level * 100)
    table = Table(
        title=f"{plan.trial.name}: between-arm differences ({plan.analysis.primary})",
        title_justify="left",
    )
    for name in ("Outcome", "Visit", "Contrast", f"Difference ({level}% CI)", "SE", "df", "P"):
        table.add_column(
            name, justify="left" if name in ("Outcome", "Visit", "Contrast") else "right"
        )
    for r in analysis.primary.itertuples(index=False):
        table.add_row(
            str(r.outcome),
            str(r.visit),
            str(r.contrast),
            format_difference(r.estimate, r.conf_low, r.conf_high, decimals=2),
            f"{r.std_error:.3f}",
            f"{r.df:.1f}",
            format_p(r.p_value),
        )
    Console(width=120).print(table)


@app.command("analyze")
def analyze_command(
    data: Annotated[Path, typer.Argument(help="Long-format trial CSV, one row per visit.")],
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Analysis plan TOML (default: the bundled RESOLVE plan)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory for the tables (CSV + JSON) and report.html."),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Also write report.html.")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress messages.")] = False,
    screening: Annotated[
        Path | None,
        typer.Option(
            "--screening",
            help="Screening counts CSV (the trial export's consort.csv, or columns "
            "measure, reason, n): the participant flow then starts at eligibility.",
        ),
    ] = None,
) -> None:
    """Run the analysis plan (primary, sensitivity, effect modifiers) on DATA.

    Prints the primary table; with --out writes every table there, all or nothing.
    """
    if out is not None:
        check_output_dir(out)  # before any work: a bad --out fails fast
    from resolve.analysis.plan import load_plan
    from resolve.analysis.run import analyze, write_tables

    if plan is not None and not plan.is_file():
        raise DataValidationError(f"cannot read plan {plan}: no such file")
    the_plan = load_plan(plan)
    t = the_plan.trial
    frame = read_trial_csv(data, text_columns=(t.subject, t.arm, t.visit))

    def progress(message: str) -> None:
        # validation is silent: a data error then prints exactly one line
        if not quiet and not message.startswith("validating"):
            typer.echo(f"... {message}", err=True)

    log = None if screening is None else read_trial_csv(screening, text_columns=("reason",))
    analysis = analyze(
        frame,
        the_plan,
        progress=progress,
        source=data.name,
        screening=log,
        screening_source="screening" if screening is None else screening.name,
    )
    _print_primary(analysis)
    from resolve.cli.demo import _reference_levels

    typer.echo(_reference_levels(analysis))
    for note in analysis.notes:
        typer.echo(f"note: {note}")
    if out is None:
        return
    if report:
        from resolve.report import write_report

        write_report(analysis, out, data_label=f"{data.name}")
        typer.echo(f"wrote report.html and the tables to {out}")
    else:
        files = write_tables(analysis, out)
        typer.echo(f"wrote {len(files)} files to {out}")
