"""``resolve demo``: analyse the example trial end to end and write the HTML report.

``resolve demo`` loads the bundled RESOLVE-like trial (or simulates one with
``--seed``), runs the default analysis plan, prints the primary and the
effect-modifier tables, and writes ``report.html`` with every table as CSV and
JSON into ``--out``. ``resolve demo-scoring`` keeps the earlier demonstration:
scoring the bundled example questionnaire responses on every instrument.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from resolve.cli._app import app

if TYPE_CHECKING:
    from rich.console import Console

    from resolve.analysis.result import ModifierAnalysis, TrialAnalysis

__all__ = ["demo", "demo_scoring"]

_STEPS = 7  # loading data, 5 analysis steps, writing the report (grows if needed)


def _p(value: Any) -> str:
    from resolve.report.tables import fmt_p

    return fmt_p(value)


def _contrast_title(analysis: TrialAnalysis, contrasts: list[str]) -> str:
    """What the differences are, truthfully: one contrast named, or each arm minus the reference."""
    t = analysis.plan.trial
    if len(contrasts) == 1:
        arm, _, ref = contrasts[0].rpartition(" - ")
        return f"{arm} minus {ref}" if arm else contrasts[0]
    vs_ref = [c for c in contrasts if c.endswith(f" - {t.reference_arm}")]
    text = f"each arm minus {t.reference_arm}"
    if len(vs_ref) < len(contrasts):
        others = [c.replace(" - ", " minus ") for c in contrasts if c not in vs_ref]
        text += ", and " + ", ".join(others)
    return text


def _primary_table(analysis: TrialAnalysis) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from resolve.report.tables import fmt_ci, fmt_num

    plan = analysis.plan
    t = plan.trial
    pct = round(100 * plan.analysis.conf_level)
    frame = analysis.primary
    contrasts = list(dict.fromkeys(str(c) for c in frame["contrast"])) if len(frame) else []
    several = len(contrasts) > 1
    table = Table(
        title=escape(
            f"Primary analysis ({plan.analysis.primary}): "
            f"{_contrast_title(analysis, contrasts) if contrasts else 'no estimable contrast'}"
        ),
        title_justify="left",
        header_style="bold",
        show_edge=False,
    )
    table.add_column("Outcome")
    table.add_column("Visit")
    if several:
        table.add_column("Contrast")
    for name in (f"Difference ({pct}% CI)", "SE", "df", "P"):
        table.add_column(name, justify="right")
    labels = {o.name: o.label for o in plan.outcomes}
    order = {v: k for k, v in enumerate(t.visits)}
    rank = {c: k for k, c in enumerate(contrasts)}
    rows = frame.assign(
        _o=frame["outcome"].map({o.name: k for k, o in enumerate(plan.outcomes)}),
        _v=frame["visit"].map(order),
        _c=frame["contrast"].map(rank),
    ).sort_values(["_o", "_v", "_c"], kind="stable")
    for _, r in rows.iterrows():
        primary_row = r["visit"] == t.primary_visit
        cells = [labels.get(str(r["outcome"]), str(r["outcome"])), str(r["visit"])]
        if several:
            cells.append(str(r["contrast"]))
        cells = [escape(c) for c in cells]
        table.add_row(
            *cells,
            fmt_ci(r["estimate"], r["conf_low"], r["conf_high"], 2),
            fmt_num(r["std_error"], 2),
            fmt_num(r["df"], 1),
            _p(r["p_value"]),
            style="bold" if primary_row else None,
        )
    return table


def _credible(mod: ModifierAnalysis) -> set[tuple[str, str, str, str]]:
    """(modifier, outcome, visit, contrast) rated moderate or high (ICEMAN-based, resolve rule)."""
    from resolve.report.html import credible_findings

    cred = mod.credibility
    if cred is None or cred.empty:
        return set()
    if "contrast" not in cred.columns:
        return {(*k, "") for k in credible_findings(cred)}
    out: set[tuple[str, str, str, str]] = set()
    for c in dict.fromkeys(str(x) for x in cred["contrast"]):
        part = cred[cred["contrast"].astype(str) == c]
        out |= {(*k, c) for k in credible_findings(part)}
    return out


def _modifier_table(analysis: TrialAnalysis, mod: ModifierAnalysis) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from resolve.report.tables import fmt_ci

    plan = analysis.plan
    em = plan.effect_modification
    pct = round(100 * plan.analysis.conf_level)
    credible = _credible(mod)
    rows = mod.table[mod.table["in_family"].astype(bool)] if "in_family" in mod.table else mod.table
    if rows.empty:
        rows = mod.table
    has_contrast = "contrast" in rows.columns
    contrasts = list(dict.fromkeys(str(c) for c in rows["contrast"])) if has_contrast else []
    several = len(contrasts) > 1
    what = f" ({_contrast_title(analysis, contrasts)})" if contrasts else ""
    table = Table(
        title=escape(
            f"Effect modification{what}, pre-specified family ({', '.join(em.family_visits)}): "
            f"{len(rows)} of {len(mod.table)} interactions (all in modifiers.csv)"
        ),
        title_justify="left",
        header_style="bold",
        show_edge=False,
        caption=escape(
            f"exploratory: P < {em.exploratory_p:g}; credible: rated moderate or high by the "
            "ICEMAN-based overall rating (resolve rule) - ICEMAN (Schandelmaier et al., CMAJ "
            "2020) core items, overall rating by this project's documented rule; every answer "
            f"with its evidence for P < {em.credibility_scope_p:g} in modifier_credibility.csv"
        ),
        caption_justify="left",
    )
    columns: list[tuple[str, str]] = [("Outcome", "left"), ("Visit", "left")]
    if several:
        columns.append(("Contrast", "left"))
    columns += [
        ("Modifier", "left"),
        ("Scale", "left"),
        (f"Interaction ({pct}% CI)", "right"),
        ("P", "right"),
        ("P Holm", "right"),
        ("P BH", "right"),
        ("", "left"),
    ]
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for _, r in rows.iterrows():
        continuous = str(r["type"]) == "continuous"
        if continuous:
            ci = fmt_ci(r["estimate_per_sd"], r["conf_low_per_sd"], r["conf_high_per_sd"], 2)
        else:
            ci = fmt_ci(r["estimate"], r["conf_low"], r["conf_high"], 2)
        contrast = str(r["contrast"]) if has_contrast else ""
        key = (str(r["modifier"]), str(r["outcome"]), str(r["visit"]), contrast)
        flags = []
        if float(r["p_value"]) < em.exploratory_p:
            flags.append("exploratory")
        if key in credible:
            flags.append("credible")
        cells = [str(r["outcome"]), str(r["visit"])]
        if several:
            cells.append(contrast)
        table.add_row(
            *(escape(c) for c in cells),
            escape(str(r["label"])),
            "per SD" if continuous else escape(str(r["unit"])),
            ci,
            _p(r["p_value"]),
            _p(r.get("p_holm")),
            _p(r.get("p_bh")),
            ", ".join(flags),
            style="bold" if key in credible else None,
        )
    return table


def _reference_levels(analysis: TrialAnalysis) -> str:
    """``"reference levels: arm = sham; sex = female"`` from the analysis' levels table."""
    levels = getattr(analysis, "levels", None)
    if levels is None or len(levels) == 0:
        return f"reference levels: {analysis.plan.trial.arm} = {analysis.plan.trial.reference_arm}"
    parts = [f"{r['column']} = {r['reference']}" for _, r in levels.iterrows()]
    return "reference levels: " + "; ".join(parts)


def _mediation_lines(analysis: TrialAnalysis) -> str:
    """Joint indirect and total effect per outcome, one line each (the report has the rest)."""
    from resolve.report.mediation_figures import best_rows
    from resolve.report.tables import fmt_ci

    m = analysis.mediation
    assert m is not None
    rows = best_rows(m.result.effects)
    visit = analysis.plan.mediation.visit
    where = " (simulated trial with mediators)" if m.data_label else ""
    lines = [f"\nCausal mediation{where}, all mediators jointly, at {visit}:"]
    for outcome in dict.fromkeys(rows["outcome"]):
        part = rows[(rows["outcome"] == outcome) & (rows["mediator"] == "joint")]
        got = {r["effect"]: r for _, r in part.iterrows()}
        if "nie" in got and "te" in got:
            nie, te = (
                fmt_ci(got[e]["estimate"], got[e]["conf_low"], got[e]["conf_high"], 2)
                for e in ("nie", "te")
            )
            lines.append(f"  {outcome}: indirect {nie} of total {te}")
    return "\n".join(lines)


def _print_tables(console: Console, analysis: TrialAnalysis) -> None:
    console.print(_primary_table(analysis))
    console.print(_reference_levels(analysis), markup=False, highlight=False)
    console.print()
    if analysis.modifiers is None:
        console.print("No effect-modifier analysis (see the notes in the report).")
    else:
        console.print(_modifier_table(analysis, analysis.modifiers))
    if analysis.mediation is not None:
        console.print(_mediation_lines(analysis), markup=False, highlight=False)
    for note in analysis.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


#: Seed of the simulated trial with mediators that the bundled-trial demo reports on
#: (with ``--seed`` that seed is used).
MEDIATION_SEED = 2021


def _with_mediation(analysis: TrialAnalysis, seed: int) -> TrialAnalysis:
    """``analysis`` plus the plan's mediation run on a simulated trial that has mediators.

    The bundled trial has no mediator measurements, so the demo's mediation section
    analyses a trial simulated from ``mediation.toml`` (same design and published
    total effects, placeholder paths), and says so in the report.
    """
    import dataclasses

    from resolve.analysis.mediation.planned import mediation_analysis
    from resolve.simulate import simulate_trial
    from resolve.simulate.mediators import mediation_scenario

    data = simulate_trial(mediation_scenario(), seed=seed)
    label = (
        "a trial simulated for this section (resolve.simulate, scenario mediation.toml, "
        f"seed {seed}: the RESOLVE design and published total effects with "
        "end-of-treatment mediators whose paths are placeholders), because the analysed "
        "trial has no mediator measurements"
    )
    result = mediation_analysis(
        data, analysis.plan, source="simulated trial with mediators", data_label=label
    )
    notes = [
        n for n in analysis.notes if not n.startswith("causal mediation ([mediation]) not run")
    ]
    notes.append(
        "causal mediation ([mediation]): the analysed trial has no mediator columns, so the "
        f"section runs on a trial simulated with mediators (scenario mediation.toml, seed {seed})"
    )
    return dataclasses.replace(analysis, mediation=result, notes=tuple(notes))


@app.command("demo")
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for report.html and the tables (CSV + JSON).")
    ] = Path("resolve-demo"),
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            help="Simulate a new trial with this seed instead of using the bundled one.",
        ),
    ] = None,
) -> None:
    """Analyse the example trial and write an HTML report with every table.

    Loads the bundled RESOLVE-like trial (or simulates one with --seed), runs the
    default analysis plan (primary, sensitivity, effect modifiers, who benefits;
    the causal mediation section on a simulated trial with end-of-treatment
    mediators, as the example trial has none), prints the primary and
    effect-modifier tables and writes report.html, primary.csv, modifiers.csv
    and the other tables (CSV + JSON) into --out.
    """
    from resolve._validation import check_output_dir

    check_output_dir(out)  # before any work: a bad --out fails fast
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(width=150)
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("loading data", total=_STEPS)

        def step(message: str) -> None:
            done = progress.tasks[0].completed + 1
            if done >= (progress.tasks[0].total or 0):
                progress.update(task, total=done + 1)
            progress.update(task, description=message, completed=done)

        screening = None
        if seed is None:
            from resolve import datasets

            data = datasets.load("resolve")
            screening = datasets.load("resolve_screening")
            label = (
                "bundled example trial (resolve.datasets.load('resolve')) with simulated "
                "screening counts (resolve.datasets.load('resolve_screening'))"
            )
        else:
            from resolve.simulate import simulate_trial

            progress.update(task, description=f"simulating a trial (seed {seed})")
            data = simulate_trial(seed=seed)
            label = "trial simulated with resolve.simulate.simulate_trial"
        from resolve.analysis.run import analyze

        analysis = analyze(
            data,
            progress=step,
            screening=screening,
            screening_source="resolve_screening.csv (simulated counts, bundled)",
        )
        if analysis.mediation is None and analysis.plan.mediation.enabled:
            step("causal mediation (on a simulated trial with mediators)")
            analysis = _with_mediation(analysis, MEDIATION_SEED if seed is None else seed)
        step("writing the report")
        from resolve.report import write_report

        report = write_report(analysis, out, data_label=label, seed=seed)
        progress.update(task, completed=progress.tasks[0].total)
    _print_tables(console, analysis)
    n_files = len([p for p in out.iterdir() if p.suffix in (".csv", ".json")])
    console.print(f"\nWrote {report} and {n_files} table files (CSV + JSON) to {out}/")


@app.command("demo-scoring")
def demo_scoring(
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the scores to this CSV.")
    ] = None,
) -> None:
    """Score the bundled example responses on every instrument and show the results."""
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from resolve import datasets
    from resolve.instruments import available, read_responses

    source = Path(datasets.path("example_responses"))
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
