"""``resolve demo``: the main job.

Until the trial analysis lands, the demo scores the bundled example responses
on every registered instrument and shows the totals and cut-off categories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from resolve.cli._app import app


@app.command("demo")
def demo(
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the scores to this CSV.")
    ] = None,
) -> None:
    """Score the bundled example responses on every instrument and show the results."""
    from resolve import datasets
    from resolve.instruments import available

    source = Path(datasets.path("example_responses"))
    from resolve.instruments import read_responses

    console = Console(width=160)
    frames = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("scoring", total=len(available()))
        for inst in available():
            data = read_responses(source, inst, id_column="id")
            scored = inst.score_frame(data, id_column="id", source=source.name).set_index("id")
            frames.append(scored.add_prefix(f"{inst.id}."))
            progress.advance(task)
    scores = pd.concat(frames, axis=1)
    show = [
        "nrs.total",
        "rmdq24.total",
        "frebaq.total",
        "tsk17.total",
        "tsk17.kinesiophobia",
        "pcs.total",
        "pseq.total",
        "dass21.depression_severity",
        "startback.risk_group",
        "psychoactive_medication.psychoactive",
    ]
    table = Table(
        title=f"Scores of the first 12 of {len(scores)} example respondents ({source.name})",
        show_edge=False,
        header_style="bold",
    )
    table.add_column("id")
    for col in show:
        table.add_column(col.replace(".total", "").replace(".", "\n"), justify="right")
    for rid, row in scores.head(12).iterrows():
        table.add_row(
            str(rid),
            *(
                "-"
                if pd.isna(row[c])
                else (f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]))
                for c in show
            ),
        )
    console.print(table)
    prorated = {i.id: int(scores[f"{i.id}.prorated"].sum()) for i in available()}
    console.print(
        "Prorated scores (items missing within the instrument's rule): "
        + ", ".join(f"{k} {v}" for k, v in prorated.items() if v)
    )
    if out is not None:
        scores.to_csv(out, float_format="%.10g")
        console.print(f"Wrote {out}")
