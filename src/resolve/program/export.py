"""Programme data out: tidy long tables and a per-participant summary for analysis.

:class:`ParticipantProgramme` is everything the programme records for one participant
(the store fills it; :func:`resolve.program.demo.demo_programme` makes two).

:func:`long_frame` -- one row per participant x record x measure, columns
:data:`LONG_COLUMNS`:

=================  ===========================================================
``participant_id`` str
``arm``            allocated arm
``week``           programme week (int)
``setting``        ``clinic`` or ``home``
``task``           ``session``, ``lrj``, ``tactile``, ``graphaesthesia``,
                   ``twopoint``, ``education``, ``imagery``,
                   ``movement_precision``, ``loading`` or a home-practice task
``item``           site, module, script, drill or exercise id ("" when none)
``block``          block number (tasks), session number (loading); else NA
``level``          task level or loading step; else NA
``measure``        measure name (``accuracy``, ``median_rt_s``, ``minutes`` ...)
``value``          float; NaN where the measure is missing (never 0)
=================  ===========================================================

Session measures: ``attended`` (1/0), ``minutes``, ``fidelity``,
``planned_delivered``, ``pain``, ``adverse_events`` (count). Home practice: weekly
``minutes`` per task. Loading: ``quota``, ``achieved``, ``completed`` (1/0).
Two-point: ``threshold_mm``, ``n_trials``. Education: ``score``, ``n_correct``.
Imagery: ``vividness``, ``pain``. Drills: ``sets``, ``reps``, ``quality``.

:func:`participant_summary` -- one row per participant (:data:`SUMMARY_COLUMNS`):
adherence (sessions attended, received, adherent, clinic and home minutes, home
fraction, fidelity) and change measures usable as mediators (first and last clinic
block of each task, two-point threshold at its first and last week, education score,
remaining misconceptions, imagery vividness). :func:`merge_into_analysis` adds them to
the long analysis table of ``resolve trial export`` (one row per participant x visit)
so ``resolve analyze`` plans can name them, e.g. as modifiers or in exploratory
mediation and complier-average analyses.

Examples
--------
>>> from resolve.program.demo import demo_programme
>>> from resolve.program.template import load_template
>>> demo = demo_programme(seed=1)
>>> long = long_frame(demo.participants, template=load_template())
>>> list(long.columns) == list(LONG_COLUMNS)
True
>>> s = participant_summary(demo.participants, template=load_template())
>>> s[["participant_id", "arm", "received"]].values.tolist()
[['DEMO-R01', 'resolve', True], ['DEMO-S01', 'sham', True]]
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from pydantic import Field

from resolve.errors import DataValidationError
from resolve.program._records import Record
from resolve.program.blocks import BlockRecord
from resolve.program.education import QuizAttempt, remaining_misconceptions
from resolve.program.imagery import ImageryRating
from resolve.program.loading import DrillLog, LoadingLog, LoadingPlan, ToleranceTest
from resolve.program.progression import Decision
from resolve.program.sessions import HomePractice, SessionRecord, adherence, session_fidelity
from resolve.program.template import Template
from resolve.program.twopoint import TpdRun

__all__ = [
    "LONG_COLUMNS",
    "SUMMARY_COLUMNS",
    "ParticipantProgramme",
    "long_frame",
    "merge_into_analysis",
    "participant_summary",
]

LONG_COLUMNS = (
    "participant_id",
    "arm",
    "week",
    "setting",
    "task",
    "item",
    "block",
    "level",
    "measure",
    "value",
)

SUMMARY_COLUMNS = (
    "participant_id",
    "arm",
    "sessions_attended",
    "received",
    "adherent",
    "clinic_minutes",
    "fidelity",
    "home_minutes",
    "home_fraction",
    "home_adherent",
    "lrj_accuracy_first",
    "lrj_accuracy_last",
    "lrj_median_rt_s_first",
    "lrj_median_rt_s_last",
    "tactile_accuracy_first",
    "tactile_accuracy_last",
    "tactile_error_cm_first",
    "tactile_error_cm_last",
    "graphaesthesia_accuracy_first",
    "graphaesthesia_accuracy_last",
    "tpd_mm_first",
    "tpd_mm_last",
    "education_score",
    "misconceptions_remaining",
    "imagery_vividness",
)


class ParticipantProgramme(Record):
    """Everything the programme records for one participant (either arm)."""

    participant_id: str
    arm: str
    sessions: list[SessionRecord]
    home_practice: list[HomePractice] = Field(default_factory=list)
    blocks: list[BlockRecord] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    quizzes: list[QuizAttempt] = Field(default_factory=list)
    imagery: list[ImageryRating] = Field(default_factory=list)
    twopoint: list[TpdRun] = Field(default_factory=list)
    tolerance_tests: list[ToleranceTest] = Field(default_factory=list)
    loading_plans: list[LoadingPlan] = Field(default_factory=list)
    loading_logs: list[LoadingLog] = Field(default_factory=list)
    drills: list[DrillLog] = Field(default_factory=list)


def _num(value: Any) -> float:
    if value is None:
        return math.nan
    return float(value)


def _rows(p: ParticipantProgramme, template: Template) -> Iterable[dict[str, Any]]:
    base = {"participant_id": p.participant_id, "arm": p.arm}

    def row(
        week: int,
        setting: str,
        task: str,
        measure: str,
        value: Any,
        *,
        item: str = "",
        block: int | None = None,
        level: int | None = None,
    ) -> dict[str, Any]:
        return {
            **base,
            "week": week,
            "setting": setting,
            "task": task,
            "item": item,
            "block": block,
            "level": level,
            "measure": measure,
            "value": _num(value),
        }

    for s in p.sessions:
        fid = session_fidelity(template, s) if s.attended else None
        yield row(s.week, "clinic", "session", "attended", int(s.attended))
        yield row(s.week, "clinic", "session", "minutes", s.minutes)
        yield row(s.week, "clinic", "session", "fidelity", None if fid is None else fid.fidelity)
        yield row(
            s.week,
            "clinic",
            "session",
            "planned_delivered",
            None if fid is None else fid.planned_delivered,
        )
        yield row(s.week, "clinic", "session", "pain", s.pain)
        yield row(s.week, "clinic", "session", "adverse_events", len(s.adverse_events))
    weekly: dict[tuple[int, str], float] = {}
    for h in p.home_practice:
        weekly[(h.week, h.task)] = weekly.get((h.week, h.task), 0.0) + h.minutes
    for (week, task), minutes in sorted(weekly.items()):
        yield row(week, "home", task, "minutes", minutes)
    for b in p.blocks:
        for measure, value in b.measures.items():
            yield row(b.week, b.setting, b.task, measure, value, block=b.block, level=b.level)
    for log in p.loading_logs:
        for measure, value in (
            ("quota", log.quota),
            ("achieved", log.achieved),
            ("completed", int(log.completed)),
        ):
            yield row(
                log.week,
                log.setting,
                "loading",
                measure,
                value,
                item=log.exercise,
                block=log.session,
                level=log.step,
            )
    for run in p.twopoint:
        yield row(
            run.week, "clinic", "twopoint", "threshold_mm", run.result.threshold_mm, item=run.site
        )
        yield row(run.week, "clinic", "twopoint", "n_trials", run.result.n_trials, item=run.site)
    for q in p.quizzes:
        yield row(q.week, "clinic", "education", "score", q.result.score, item=q.result.module_id)
        yield row(
            q.week, "clinic", "education", "n_correct", q.result.n_correct, item=q.result.module_id
        )
    for r in p.imagery:
        yield row(r.week, r.setting, "imagery", "vividness", r.vividness, item=r.script_id)
        yield row(r.week, r.setting, "imagery", "pain", r.pain, item=r.script_id)
    for d in p.drills:
        for measure, value in (("sets", d.sets), ("reps", d.reps), ("quality", d.quality)):
            yield row(d.week, d.setting, "movement_precision", measure, value, item=d.drill_id)


def _participants(
    participants: ParticipantProgramme | Sequence[ParticipantProgramme],
) -> list[ParticipantProgramme]:
    people = (
        [participants] if isinstance(participants, ParticipantProgramme) else list(participants)
    )
    ids = [p.participant_id for p in people]
    for k, i in enumerate(ids):
        if ids.index(i) != k:
            raise DataValidationError(f"programme export: participant {i!r} given twice")
    return people


def long_frame(
    participants: ParticipantProgramme | Sequence[ParticipantProgramme], *, template: Template
) -> pd.DataFrame:
    """Tidy long table of every programme record (see the module notes for columns).

    Raises
    ------
    DataValidationError
        A participant given twice, or a session record that does not fit the template.
    """
    rows = [r for p in _participants(participants) for r in _rows(p, template)]
    frame = pd.DataFrame(rows, columns=list(LONG_COLUMNS))
    frame["week"] = frame["week"].astype("int64")
    frame["block"] = frame["block"].astype("Int64")
    frame["level"] = frame["level"].astype("Int64")
    frame["value"] = frame["value"].astype("float64")
    return frame


def _first_last(blocks: list[BlockRecord], measure: str) -> tuple[float, float]:
    clinic = [b for b in blocks if b.setting == "clinic"]
    if not clinic:
        return math.nan, math.nan
    return _num(clinic[0].measure(measure)), _num(clinic[-1].measure(measure))


def _summary(p: ParticipantProgramme, template: Template) -> dict[str, Any]:
    a = adherence(
        template,
        participant_id=p.participant_id,
        arm=p.arm,
        sessions=p.sessions,
        home=p.home_practice,
    )
    out: dict[str, Any] = {
        "participant_id": p.participant_id,
        "arm": p.arm,
        "sessions_attended": a.sessions_attended,
        "received": a.received,
        "adherent": a.adherent,
        "clinic_minutes": a.clinic_minutes,
        "fidelity": _num(a.fidelity),
        "home_minutes": a.home_minutes,
        "home_fraction": _num(a.home_fraction),
        "home_adherent": a.home_adherent,
    }
    by_task = {
        t: [b for b in p.blocks if b.task == t] for t in ("lrj", "tactile", "graphaesthesia")
    }
    for column, task, measure in (
        ("lrj_accuracy", "lrj", "accuracy"),
        ("lrj_median_rt_s", "lrj", "median_rt_s"),
        ("tactile_accuracy", "tactile", "accuracy"),
        ("tactile_error_cm", "tactile", "mean_error_cm"),
        ("graphaesthesia_accuracy", "graphaesthesia", "accuracy"),
    ):
        out[f"{column}_first"], out[f"{column}_last"] = _first_last(by_task[task], measure)
    done = [r for r in p.twopoint if r.result.threshold_mm is not None]
    weeks = sorted({r.week for r in done})
    for key, pick in (("tpd_mm_first", weeks[:1]), ("tpd_mm_last", weeks[-1:])):
        vals = [
            float(r.result.threshold_mm)
            for r in done
            if r.week in pick and r.result.threshold_mm is not None
        ]
        out[key] = statistics.fmean(vals) if vals else math.nan
    scores = [q.result.score for q in p.quizzes]
    out["education_score"] = statistics.fmean(scores) if scores else math.nan
    out["misconceptions_remaining"] = (
        len(remaining_misconceptions([q.result for q in p.quizzes])) if p.quizzes else math.nan
    )
    viv = [r.vividness for r in p.imagery]
    out["imagery_vividness"] = statistics.fmean(viv) if viv else math.nan
    return out


def participant_summary(
    participants: ParticipantProgramme | Sequence[ParticipantProgramme], *, template: Template
) -> pd.DataFrame:
    """One row per participant: adherence and first/last task measures (see module notes).

    ``received`` / ``adherent`` follow the template's ``[adherence]`` definitions;
    ``home_fraction`` and ``home_adherent`` are missing for the sham arm (no home
    programme). Task measures compare the first and last *clinic* block (home blocks
    are practice); a participant without such data has NaN, never 0.
    """
    rows = [_summary(p, template) for p in _participants(participants)]
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    frame["home_adherent"] = frame["home_adherent"].astype("boolean")
    return frame


def merge_into_analysis(
    analysis: pd.DataFrame, summary: pd.DataFrame, *, subject: str = "id"
) -> pd.DataFrame:
    """Add the summary's columns to a long analysis table, repeated on each visit row.

    Parameters
    ----------
    analysis : DataFrame
        ``analysis.csv`` of ``resolve trial export`` (one row per participant x visit).
    summary : DataFrame
        :func:`participant_summary` output.
    subject : str
        The analysis table's participant column (the plan's ``[trial] subject``).

    Raises
    ------
    DataValidationError
        ``subject`` is not a column, or a summary column (other than the id and the
        arm) already exists in ``analysis``.

    Examples
    --------
    >>> a = pd.DataFrame({"id": ["P1", "P1"], "visit": ["baseline", "week 18"]})
    >>> s = pd.DataFrame({"participant_id": ["P1"], "arm": ["resolve"], "fidelity": [0.9]})
    >>> merge_into_analysis(a, s)["fidelity"].tolist()
    [0.9, 0.9]
    """
    if subject not in analysis.columns:
        raise DataValidationError(f"analysis table has no column {subject!r} (the subject column)")
    extra = [c for c in summary.columns if c not in ("participant_id", "arm")]
    clash = [c for c in extra if c in analysis.columns]
    if clash:
        raise DataValidationError(
            f"analysis table already has column(s) {', '.join(clash)}; rename them first"
        )
    right = summary[["participant_id", *extra]].rename(columns={"participant_id": subject})
    return analysis.merge(right, on=subject, how="left", validate="many_to_one")
