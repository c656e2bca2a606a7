"""Run a whole analysis plan on one data set, and write its tables atomically.

:func:`analyze` validates the data against the plan once, then fits the primary and
sensitivity models (:mod:`resolve.analysis.primary`), computes the observed-data
summaries (:mod:`resolve.analysis.descriptive`), Table 1
(:mod:`resolve.analysis.baseline`), the responder analysis
(:mod:`resolve.analysis.responders`), the effect-modifier analysis
(:mod:`resolve.analysis.effect_modifiers`), who benefits (exploratory;
:mod:`resolve.analysis.benefit`), when the plan enables it multiple
imputation (:mod:`resolve.analysis.mi`), and last the plain-language summary
(:mod:`resolve.analysis.summary`).
:func:`write_tables` writes every table as CSV and JSON into a directory, all or
nothing.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis.run import analyze
>>> result = analyze(datasets.load("resolve"))
>>> result.primary[["outcome", "visit"]].iloc[1].tolist()
['pain', 'week 18']
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from resolve._results import jsonable
from resolve.analysis.baseline import flow_counts, screening_counts, table1
from resolve.analysis.descriptive import consort, consort_notes, table2, trajectories
from resolve.analysis.plan import Plan, load_plan
from resolve.analysis.primary import (
    primary_analysis,
    recommended_rows,
    sensitivity_analysis,
)
from resolve.analysis.responders import responder_analysis
from resolve.analysis.result import ModifierAnalysis, TrialAnalysis
from resolve.analysis.summary import plain_summary

if TYPE_CHECKING:
    from resolve.analysis.benefit import BenefitAnalysis
    from resolve.analysis.mediation.planned import PlannedMediation
from resolve.analysis.validate import factor_levels_table
from resolve.errors import DataValidationError

__all__ = ["MODIFIER_COLUMNS", "analyze", "atomic_directory", "write_tables"]

#: Columns of ``modifiers.csv`` (the contract of ``ModifierAnalysis.table``).
MODIFIER_COLUMNS = (
    "modifier",
    "label",
    "type",
    "unit",
    "outcome",
    "visit",
    "contrast",
    "n",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "sd",
    "estimate_per_sd",
    "conf_low_per_sd",
    "conf_high_per_sd",
    "p_holm",
    "p_bh",
    "in_family",
    "exploratory",
    "nonlinearity_p",
    "direction_hypothesised",
    "direction_observed",
    "df",
    "statistic",
    "se_method",
)

Progress = Callable[[str], object]


def _run_modifiers(data: pd.DataFrame, plan: Plan) -> ModifierAnalysis:
    from resolve.analysis.effect_modifiers import analyse_modifiers

    return analyse_modifiers(data, plan)


def _run_benefit(data: pd.DataFrame, plan: Plan) -> BenefitAnalysis:
    from resolve.analysis.benefit import benefit_analysis

    return benefit_analysis(data, plan)


def _run_mediation(data: pd.DataFrame, plan: Plan, source: str) -> PlannedMediation:
    from resolve.analysis.mediation.planned import mediation_analysis

    return mediation_analysis(data, plan, source=source)


def _mediation_absent(data: pd.DataFrame, plan: Plan) -> list[str]:
    """The mediator columns of an enabled ``[mediation]`` when the data have none of them."""
    from resolve.analysis.mediation.planned import mediation_columns

    columns = list(mediation_columns(plan))
    return columns if not any(c in data.columns for c in columns) else []


def _run_mi(data: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    from resolve.analysis.mi import multiple_imputation

    return multiple_imputation(data, plan)


def analyze(
    data: pd.DataFrame,
    plan: Plan | None = None,
    *,
    progress: Progress | None = None,
    source: str = "data",
    screening: pd.DataFrame | None = None,
    screening_source: str = "screening",
) -> TrialAnalysis:
    """Run every analysis of ``plan`` on ``data``.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format, one row per participant and visit, with the columns the plan
        names (e.g. ``resolve.datasets.load("resolve")``).  Empty outcome cells
        are missing outcomes.
    plan : Plan, optional
        Default: the bundled RESOLVE plan (:func:`resolve.analysis.load_plan`).
    progress : callable(str), optional
        Called with a short description before each step (the CLI prints them).
    source : str
        How error messages name the data (e.g. the CSV file name).
    screening : pandas.DataFrame, optional
        The trial's screening log: the ``consort.csv`` of
        :func:`resolve.trial.exports.write_export` (columns ``stage, arm, visit,
        measure, reason, n``) or a table of enrolment counts with columns
        ``measure, reason, n`` (:func:`resolve.analysis.baseline.screening_counts`).
        With it the CONSORT flow starts at "assessed for eligibility"; without it,
        at randomisation.  The export's allocation, follow-up and analysis rows
        add, per arm, those randomised in error and the reasons follow-up data are
        missing (:func:`resolve.analysis.descriptive.consort`); where they differ
        from the data, ``notes`` says so.
    screening_source : str
        How error messages and notes name the screening log.

    Returns
    -------
    TrialAnalysis
        ``primary`` (plan's primary model), ``sensitivity`` (its sensitivity models),
        ``table2``, ``trajectories``, ``consort``, ``table1`` (baseline
        characteristics), ``responders`` (responder analysis, observed cases),
        ``modifiers`` (None when the plan has no modifiers), ``imputation`` (None
        unless enabled), ``benefit`` (who benefits, exploratory; None without
        modifiers or with ``[benefit] enabled = false``), ``screening`` (the
        enrolment counts, or None),
        ``plain_summary`` (sentences), ``levels`` (factors with their levels and
        reference level) and ``notes`` (what was skipped and why).
        Columns: :mod:`resolve.analysis.result`.

    Raises
    ------
    DataValidationError
        The data do not fit the plan (see :meth:`Plan.validate_data`), an arm of
        the plan has no participants, or the screening log is not readable
        (:func:`resolve.analysis.baseline.screening_counts`,
        :func:`resolve.analysis.baseline.flow_counts`).
    ConvergenceError
        A model could not be fitted.

    Examples
    --------
    >>> from resolve import datasets
    >>> steps = []
    >>> result = analyze(datasets.load("resolve"), progress=steps.append)
    >>> steps[0], len(result.table2)
    ('validating data', 10)
    """
    say: Progress = progress if progress is not None else (lambda _msg: None)
    plan = load_plan() if plan is None else plan
    say("validating data")
    valid = plan.validate_data(data, source=source)
    log = None if screening is None else screening_counts(screening, source=screening_source)
    if screening is not None:  # the whole log is checked before any model is fitted
        flow_counts(screening, source=screening_source)
    t = plan.trial
    arms_seen = set(valid[t.arm].dropna().astype(str))
    empty_arms = [a for a in t.arms if a not in arms_seen]
    if t.reference_arm in empty_arms or len(arms_seen) < 2:
        raise DataValidationError(
            f"{source}: the analysis needs participants in the reference arm {t.reference_arm!r} "
            f"and at least one other arm; arms with participants: "
            f"{', '.join(sorted(arms_seen)) or 'none'}"
        )
    notes: list[str] = []
    if empty_arms:
        notes.append(f"arm(s) without participants: {', '.join(empty_arms)}")
    say(f"fitting the primary model ({plan.analysis.primary})")
    primary = primary_analysis(valid, plan, validated=True)
    say(f"fitting sensitivity models ({', '.join(plan.analysis.sensitivity) or 'none'})")
    sensitivity = sensitivity_analysis(valid, plan, validated=True)
    say("summarising observed data")
    traj = trajectories(valid, plan)
    tab2 = table2(traj, primary, plan)
    flow = consort(valid, plan, screening=screening, source=screening_source)
    baseline = table1(
        valid, plan, extra=plan.analysis.describe, labels=dict(plan.analysis.describe_labels)
    )
    notes += consort_notes(valid, plan, screening, source=screening_source)
    responders = None
    if plan.responders:
        n_def = len(plan.responders)
        say(f"responder analysis ({n_def} definition{'s' if n_def != 1 else ''})")
        responders = responder_analysis(valid, plan, validated=True)
    modifiers = None
    if plan.modifiers:
        n_mod = len(plan.modifiers)
        say(f"analysing {n_mod} candidate effect modifier{'s' if n_mod != 1 else ''}")
        modifiers = _run_modifiers(valid, plan)
    benefit = None
    if plan.modifiers and plan.benefit.enabled and plan.benefit.outcomes:
        say("who benefits (exploratory: risk groups, penalised effect model, cross-validated)")
        benefit = _run_benefit(valid, plan)
    mediation = None
    if plan.mediation.enabled:
        absent = _mediation_absent(valid, plan)
        if absent:
            notes.append(
                "causal mediation ([mediation]) not run: the data have none of the mediator "
                f"columns ({', '.join(absent)})"
            )
        else:
            n_med = len(plan.mediation.mediators)
            say(f"causal mediation ({n_med} mediator{'s' if n_med != 1 else ''})")
            mediation = _run_mediation(valid, plan, source)
    imputation = None
    if plan.analysis.mi_enabled:
        say(f"multiple imputation (m = {plan.analysis.mi_m})")
        imputation = _run_mi(valid, plan)
    sentences = plain_summary(
        plan,
        primary,
        responders=responders,
        modifiers=modifiers,
        recommended=recommended_rows(plan, sensitivity),
    )
    return TrialAnalysis(
        plan=plan,
        primary=primary,
        table2=tab2,
        trajectories=traj,
        consort=flow,
        sensitivity=sensitivity,
        modifiers=modifiers,
        imputation=imputation,
        notes=tuple(notes),
        table1=baseline,
        responders=responders,
        plain_summary=tuple(sentences),
        screening=log,
        levels=factor_levels_table(valid, plan, source=source),
        benefit=benefit,
        mediation=mediation,
    )


# ----------------------------------------------------------------------------- writing
def _tables(analysis: TrialAnalysis) -> dict[str, pd.DataFrame]:
    tables = {
        "primary": analysis.primary,
        "sensitivity": analysis.sensitivity,
        "table2": analysis.table2,
        "trajectories": analysis.trajectories,
        "consort": analysis.consort,
    }
    if analysis.levels is not None:
        tables["levels"] = analysis.levels
    if analysis.table1 is not None:
        tables["table1"] = analysis.table1
    if analysis.responders is not None:
        tables["responders"] = analysis.responders
    if analysis.screening is not None:
        tables["screening"] = analysis.screening
    m = analysis.modifiers
    if m is None:
        tables["modifiers"] = pd.DataFrame({c: [] for c in MODIFIER_COLUMNS})
    else:
        tables["modifiers"] = m.table
        tables["modifier_quartiles"] = m.quartiles
        tables["modifier_curves"] = m.curves
        tables["modifier_global_tests"] = m.global_tests
        tables["modifier_credibility"] = m.credibility
    if analysis.imputation is not None:
        tables["imputation"] = analysis.imputation
    if analysis.benefit is not None:
        tables.update(analysis.benefit.tables())
    if analysis.mediation is not None:
        tables.update(analysis.mediation.tables())
    return tables


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_directory(out_dir: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``out_dir``; move its files there on success.

    On an exception nothing is left behind: the temporary directory is removed, as
    are any parent directories this call created.  On success a new ``out_dir`` is
    created by one rename; files of an existing ``out_dir`` are replaced one by one
    (each replacement atomic), and other files in it are kept.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_directory(root / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(p.name for p in (root / "out").iterdir())
    ['a.txt']
    """
    target = Path(out_dir).absolute()
    if target.exists() and not target.is_dir():
        raise DataValidationError(f"output {out_dir} exists and is not a directory")
    created: list[Path] = []
    parent = target.parent
    while not parent.exists():
        created.append(parent)
        parent = parent.parent
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if not target.exists():
            os.replace(tmp, target)
        else:
            for item in tmp.iterdir():
                dest = target / item.name
                if dest.is_dir() and not dest.is_symlink():
                    shutil.rmtree(dest)
                os.replace(item, dest)
            tmp.rmdir()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for p in created:  # deepest first
            try:
                p.rmdir()
            except OSError:
                break
        raise


def _write_into(analysis: TrialAnalysis, folder: Path) -> list[Path]:
    written = []
    for name, frame in _tables(analysis).items():
        csv = folder / f"{name}.csv"
        frame.to_csv(csv, index=False, encoding="utf-8")
        js = folder / f"{name}.json"
        js.write_text(
            json.dumps(jsonable(frame), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        written += [csv, js]
    if analysis.plain_summary:
        text = folder / "summary.txt"
        text.write_text("\n\n".join(analysis.plain_summary) + "\n", encoding="utf-8")
        written.append(text)
    full = folder / "analysis.json"
    full.write_text(
        json.dumps(analysis.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return [*written, full]


def write_tables(
    analysis: TrialAnalysis,
    out_dir: str | Path,
    *,
    extra: Sequence[Callable[[TrialAnalysis, Path], Any]] = (),
) -> list[Path]:
    """Write every table of ``analysis`` as CSV and JSON into ``out_dir``, all or nothing.

    Parameters
    ----------
    analysis : TrialAnalysis
    out_dir : str or Path
        Created if needed (with missing parents).  Existing files of the same names
        are replaced.
    extra : sequence of callable(analysis, folder)
        More writers (e.g. an HTML report) run inside the same temporary folder, so
        that their failure also leaves nothing behind.

    Returns
    -------
    list of Path
        The files written, as paths inside ``out_dir``.

    Notes
    -----
    Files: ``primary``, ``sensitivity``, ``table2``, ``trajectories``, ``consort``
    and ``modifiers`` (``.csv`` and ``.json`` each; ``modifiers`` has only its
    header when no modifier analysis ran); ``levels`` (factors, levels, reference
    level and how it was chosen); ``table1`` (baseline characteristics);
    ``responders`` when the plan defines responders;
    ``screening`` when a screening log was given; with a modifier analysis also
    ``modifier_quartiles``, ``modifier_curves``, ``modifier_global_tests`` and
    ``modifier_credibility``; ``imputation`` when multiple imputation ran;
    ``benefit_risk_groups``, ``benefit_risk_tests``, ``benefit_models``,
    ``benefit_calibration``, ``benefit_coefficients`` and ``benefit_individual``
    when the who-benefits analysis ran (exploratory);
    ``mediation_effects``, ``mediation_paths`` and ``mediation_sensitivity`` when the
    causal mediation analysis ran;
    ``summary.txt`` (the plain-language summary, one paragraph per sentence);
    and ``analysis.json`` with everything.  CSVs are UTF-8 (the formatted Table 2 uses
    the minus sign U+2212); JSON records have ``null`` for missing values.
    Everything is written into a temporary directory beside ``out_dir`` and moved
    into place only after every file succeeded (:func:`atomic_directory`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from resolve import datasets
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "results"
    >>> files = write_tables(analyze(datasets.load("resolve")), out)
    >>> sorted(p.name for p in files)[:3]
    ['analysis.json', 'benefit_calibration.csv', 'benefit_calibration.json']
    """
    target = Path(out_dir)
    with atomic_directory(target) as folder:
        _write_into(analysis, folder)
        for writer in extra:
            writer(analysis, folder)
        names = sorted(p.name for p in folder.iterdir())
    return [target / n for n in names]
