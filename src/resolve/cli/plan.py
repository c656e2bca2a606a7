"""``resolve plan show`` and ``resolve plan check``: the analysis plan file, without analysing."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from resolve.cli._app import app
from resolve.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from resolve.analysis.plan import Plan

__all__ = ["plan_check", "plan_show", "plan_summary"]

plan_app = typer.Typer(
    help="The analysis plan file: print the bundled one, check one (and its fit to data).",
    no_args_is_help=True,
)
app.add_typer(plan_app, name="plan")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def plan_summary(plan: Plan, data: pd.DataFrame | None = None, data_name: str = "data") -> str:
    """One paragraph describing ``plan`` (and ``data``, already validated against it).

    Examples
    --------
    >>> from resolve.analysis.plan import load_plan
    >>> print(plan_summary(load_plan()))  # doctest: +NORMALIZE_WHITESPACE
    Plan resolve.toml (bundled) is valid. Trial RESOLVE: 2 arms (sham = reference,
    resolve); 5 visits (baseline, week 12, week 18 = primary, week 26, week 52); 2
    outcomes (pain [0, 10] primary, rmdq [0, 24]); 8 candidate modifiers; 3 responder
    definitions (pain_30, pain_50, rmdq_5_or_30).
    """
    t = plan.trial
    arms = ", ".join(f"{a} = reference" if a == t.reference_arm else a for a in t.arms)
    marks = {t.primary_visit: " = primary"}
    if t.baseline_visit.lower() != "baseline":
        marks[t.baseline_visit] = " = baseline"
    visits = ", ".join(f"{v}{marks.get(v, '')}" for v in t.visits)
    outcomes = []
    for o in plan.outcomes:
        text = o.name
        if o.range is not None:
            text += f" [{o.range[0]:g}, {o.range[1]:g}]"
        outcomes.append(text + (" primary" if o.role == "primary" else ""))
    responders = ", ".join(r.name for r in plan.responders)
    parts = [
        f"{_count(len(t.arms), 'arm')} ({arms})",
        f"{_count(len(t.visits), 'visit')} ({visits})",
        f"{_count(len(plan.outcomes), 'outcome')} ({', '.join(outcomes)})",
        _count(len(plan.modifiers), "candidate modifier"),
        _count(len(plan.responders), "responder definition")
        + (f" ({responders})" if responders else ""),
    ]
    text = f"Plan {plan.source} is valid. Trial {t.name}: " + "; ".join(parts) + "."
    if data is not None:
        per_arm = data.groupby(t.arm, observed=True)[t.subject].nunique()
        counts = ", ".join(f"{a} {int(per_arm.get(a, 0))}" for a in t.arms)
        text += (
            f" Data {data_name} fit the plan: {_count(len(data), 'row')}, "
            f"{_count(int(data[t.subject].nunique()), 'participant')} ({counts})."
        )
    return textwrap.fill(text, width=88, break_on_hyphens=False)


@plan_app.command("show")
def plan_show() -> None:
    """Print the bundled RESOLVE analysis plan (TOML, with its comments).

    Save it as the start of your own plan: resolve plan show > my-plan.toml
    """
    from resolve.analysis.plan import bundled_plan_text

    typer.echo(bundled_plan_text(), nl=False)


@plan_app.command("check")
def plan_check(
    plan: Annotated[Path, typer.Argument(help="Analysis plan TOML to check.")],
    data: Annotated[
        Path | None,
        typer.Argument(help="Optional long-format trial CSV to check against the plan."),
    ] = None,
) -> None:
    """Check PLAN (and, with DATA, that the data fit it) without running any analysis.

    Prints a summary of the plan and exits 0, or prints the first problem and exits 2.
    """
    from resolve.analysis.plan import load_plan
    from resolve.cli.analyze import read_trial_csv

    if not plan.is_file():
        raise DataValidationError(f"cannot read plan {plan}: no such file")
    the_plan = load_plan(plan)
    frame = None
    if data is not None:
        t = the_plan.trial
        raw = read_trial_csv(data, text_columns=(t.subject, t.arm, t.visit))
        frame = the_plan.validate_data(raw, source=data.name)
    typer.echo(plan_summary(the_plan, frame, data.name if data is not None else "data"))
