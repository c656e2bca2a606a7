"""``resolve simulate``: write a simulated RESOLVE-like trial to a CSV file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from resolve.cli._app import app

__all__ = ["simulate_command"]


@app.command("simulate")
def simulate_command(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write (long format).")],
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="Scenario TOML file (default: the RESOLVE scenario)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 20221004,
) -> None:
    """Simulate one trial and write it as CSV (one row per participant x visit)."""
    from resolve.simulate import default_scenario, load_scenario, simulate_trial

    spec = default_scenario() if scenario is None else load_scenario(scenario)
    trial = simulate_trial(spec, seed=seed)
    # write beside the target, then rename: an error never leaves a partial file
    target = out.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            trial.to_csv(fh, index=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    typer.echo(
        f"wrote {out}: {trial['id'].nunique()} participants x {trial['week'].nunique()} visits "
        f"(scenario {spec.name!r}, seed {seed})"
    )
