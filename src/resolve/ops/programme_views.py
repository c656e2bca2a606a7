"""Reading the programme: a participant's programme, the patient's day, the export.

Programme data reveal the arm, so :func:`programme` and :func:`programme_export`
need :attr:`~resolve.ops.permissions.Operation.view_programme` (the treating
clinician, for their own participants, and the unblinded statistician) and are
audited; :func:`today` is the patient's own view (through their programme link,
or the clinician beside them) and names no arm: it says "your programme".

Examples
--------
>>> from resolve.ops.programme_store import programme_week
>>> from datetime import date
>>> programme_week(date(2026, 1, 1), date(2026, 1, 15), 12)
3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from resolve.errors import DataValidationError
from resolve.ops.context import TRIAL_ID, Context
from resolve.ops.permissions import Operation
from resolve.ops.programme_store import Subject, audit_read, current, records, subject, template_for
from resolve.ops.programme_store import today as today_date
from resolve.program.blocks import BlockRecord
from resolve.program.education import QuizAttempt
from resolve.program.export import ParticipantProgramme, long_frame, participant_summary
from resolve.program.imagery import ImageryRating
from resolve.program.loading import DrillLog, LoadingLog, LoadingPlan, ToleranceTest
from resolve.program.progression import Decision, current_level
from resolve.program.sessions import Adherence, HomePractice, SessionRecord, adherence
from resolve.program.template import TASKS, Template, WeekPlan
from resolve.program.twopoint import TpdRun
from resolve.store.models import Allocation, Participant, Role

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ProgrammeView",
    "TodayTask",
    "TodayView",
    "collect",
    "export_tables",
    "levels",
    "programme",
    "programme_export",
    "today",
]


@dataclass(frozen=True)
class ProgrammeView:
    """A participant's programme as the clinician and the unblinded statistician see it.

    ``week`` is today's programme week (1 to ``weeks``; None after the programme),
    ``plan`` that week's plan for the participant's arm (None after the programme),
    ``levels`` the current level of each training task, ``open_blocks`` the ids of
    blocks started and not yet submitted. The record lists hold the domain records
    (corrected sessions replaced by their corrections), oldest first.
    """

    participant: str
    arm: str
    role: str
    randomised_on: str
    week: int | None
    weeks: int
    plan: WeekPlan | None
    levels: dict[str, int]
    sessions: list[SessionRecord]
    blocks: list[BlockRecord]
    decisions: list[Decision]
    home: list[HomePractice]
    quizzes: list[QuizAttempt]
    imagery: list[ImageryRating]
    loading: list[LoadingLog]
    twopoint: list[TpdRun]
    adherence: Adherence
    drills: list[DrillLog] = field(default_factory=list)
    tolerance_tests: list[ToleranceTest] = field(default_factory=list)
    loading_plans: list[LoadingPlan] = field(default_factory=list)
    open_blocks: list[str] = field(default_factory=list)
    template: Template | None = None

    def records(self) -> ParticipantProgramme:
        """Everything as one :class:`~resolve.program.export.ParticipantProgramme`."""
        return ParticipantProgramme(
            participant_id=self.participant,
            arm=self.arm,
            sessions=self.sessions,
            home_practice=self.home,
            blocks=self.blocks,
            decisions=self.decisions,
            quizzes=self.quizzes,
            imagery=self.imagery,
            twopoint=self.twopoint,
            tolerance_tests=self.tolerance_tests,
            loading_plans=self.loading_plans,
            loading_logs=self.loading,
            drills=self.drills,
        )


def collect(ctx: Context, s: Subject) -> ParticipantProgramme:
    """Every current programme record of ``s`` as domain records (no permission check)."""
    rows = current(records(ctx, s))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r.kind, []).append(r.payload)

    def load(kind: str, cls: Any) -> list[Any]:
        return [cls.from_dict(p, source=f"stored {kind}") for p in by_kind.get(kind, [])]

    decisions = [
        Decision.from_dict(r.payload, source=f"stored {r.kind}")
        for r in rows
        if r.kind in ("decision", "override")
    ]
    return ParticipantProgramme(
        participant_id=s.code,
        arm=s.arm,
        sessions=sorted(load("session", SessionRecord), key=lambda x: x.week),
        home_practice=load("home_practice", HomePractice),
        blocks=load("block", BlockRecord),
        decisions=decisions,
        quizzes=load("quiz", QuizAttempt),
        imagery=load("imagery", ImageryRating),
        twopoint=load("twopoint", TpdRun),
        tolerance_tests=load("tolerance", ToleranceTest),
        loading_plans=load("loading_plan", LoadingPlan),
        loading_logs=load("loading", LoadingLog),
        drills=load("drill", DrillLog),
    )


def levels(s: Subject, decisions: list[Decision], week: int) -> dict[str, int]:
    """Current level of each training task (the template's start level before any decision).

    Empty for the sham arm (no training tasks).
    """
    if s.role != "active":
        return {}
    return {
        task: current_level(decisions, task=task, default=s.template.start_level(task, week))
        for task in TASKS
    }


def _open_blocks(ctx: Context, s: Subject) -> list[str]:
    rows = records(ctx, s, "block_started", "block")
    done = {r.ref for r in rows if r.kind == "block"}
    return [r.ref for r in rows if r.kind == "block_started" and r.ref not in done and r.ref]


def programme(ctx: Context, participant: str) -> ProgrammeView:
    """A participant's programme: plan of the week, levels, every record, adherence (audited).

    Parameters
    ----------
    participant : str
        A randomised participant (a clinician: one they treat).

    Returns
    -------
    ProgrammeView

    Raises
    ------
    PermissionDenied
        A role without ``view programme``, or a clinician who does not treat the participant.
    TrialStateError
        The participant has not been randomised.
    """
    ctx.require(Operation.view_programme)
    s = subject(ctx, participant, write=False)
    data = collect(ctx, s)
    week = s.week
    weeks = s.template.programme.weeks
    through = week if week is not None else weeks
    view = ProgrammeView(
        participant=s.code,
        arm=s.arm,
        role=s.role,
        randomised_on=s.randomised_on.isoformat(),
        week=week,
        weeks=weeks,
        plan=s.template.plan(s.arm, week) if week is not None else None,
        levels=levels(s, data.decisions, through),
        sessions=data.sessions,
        blocks=data.blocks,
        decisions=data.decisions,
        home=data.home_practice,
        quizzes=data.quizzes,
        imagery=data.imagery,
        loading=data.loading_logs,
        twopoint=data.twopoint,
        adherence=adherence(
            s.template,
            participant_id=s.code,
            arm=s.arm,
            sessions=data.sessions,
            home=data.home_practice,
            through_week=through,
        ),
        drills=data.drills,
        tolerance_tests=data.tolerance_tests,
        loading_plans=data.loading_plans,
        open_blocks=_open_blocks(ctx, s),
        template=s.template,
    )
    audit_read(ctx, "programme", s.code)
    return view


# ----------------------------------------------------------------------------- the patient's day
@dataclass(frozen=True)
class TodayTask:
    """One home-practice task of the week: target, level and what is done so far."""

    task: str
    label: str
    level: int | None
    level_label: str | None
    minutes_per_day: float
    days_per_week: int
    bouts_per_day: int
    minutes_today: float
    minutes_this_week: float
    blocks_this_week: int


@dataclass(frozen=True)
class TodayView:
    """What the patient practises today, and their own progress. Names no arm.

    ``week`` and ``day`` (1-7 within the week) are None after the programme;
    ``education_due`` lists the week's modules whose questions are not answered
    yet; ``progress`` holds sessions attended, home minutes, the task levels and
    the latest accuracy of each task practised.
    """

    participant: str
    week: int | None
    weeks: int
    day: int | None
    focus: str | None
    tasks: list[TodayTask]
    education_due: list[str]
    imagery_scripts: list[str]
    loading_exercises: list[str]
    progress: dict[str, Any]


def today(ctx: Context, participant: str) -> TodayView:
    """Today's practice for the patient (their own programme; no arm is named).

    Raises
    ------
    PermissionDenied
        A role without ``practise``; a clinician who does not treat the participant;
        the participant account without a link to this participant.
    TrialStateError
        The participant has not been randomised.
    """
    ctx.require(Operation.practise)
    s = subject(ctx, participant, write=False)
    data = collect(ctx, s)
    week = s.week
    weeks = s.template.programme.weeks
    day = None if week is None else (today_date() - s.randomised_on).days % 7 + 1
    task_levels = levels(s, data.decisions, week if week is not None else weeks)
    tasks: list[TodayTask] = []
    plan = s.template.plan(s.arm, week) if week is not None else None
    for target in plan.home if plan is not None else []:
        done = [h for h in data.home_practice if h.week == week and h.task == target.task]
        level = task_levels.get(target.task)
        level_label = None
        if level is not None:
            level_label = s.template.levels(target.task)[level - 1].label
        tasks.append(
            TodayTask(
                task=target.task,
                label=s.template.component(target.task).label,
                level=level,
                level_label=level_label,
                minutes_per_day=target.minutes_per_day,
                days_per_week=target.days_per_week,
                bouts_per_day=target.bouts_per_day,
                minutes_today=sum(h.minutes for h in done if h.day == day),
                minutes_this_week=sum(h.minutes for h in done),
                blocks_this_week=sum(
                    b.week == week and b.task == target.task and b.setting == "home"
                    for b in data.blocks
                ),
            )
        )
    answered = {q.result.module_id for q in data.quizzes}
    latest: dict[str, float | None] = {}
    for b in data.blocks:
        latest[b.task] = b.measure("accuracy")
    progress = {
        "sessions_attended": sum(x.attended for x in data.sessions),
        "sessions_recorded": len(data.sessions),
        "home_minutes": sum(h.minutes for h in data.home_practice),
        "levels": {t: task_levels[t] for t in latest},
        "latest_accuracy": latest,
        "quizzes_done": sorted(answered),
    }
    view = TodayView(
        participant=s.code,
        week=week,
        weeks=weeks,
        day=day,
        focus=plan.focus if plan is not None and s.role == "active" else None,
        tasks=tasks,
        education_due=[m for m in (plan.education if plan else []) if m not in answered],
        imagery_scripts=list(plan.imagery) if plan is not None else [],
        loading_exercises=list(plan.graded_loading) if plan is not None else [],
        progress=progress,
    )
    audit_read(ctx, "programme today", s.code)
    return view


# ----------------------------------------------------------------------------- export
def _subjects(ctx: Context) -> list[Subject]:
    stmt = (
        select(Participant.code)
        .join(Allocation, Allocation.participant_id == Participant.id)
        .where(Participant.trial_id == TRIAL_ID)
        .order_by(Participant.id)
    )
    if ctx.role is Role.clinician:
        stmt = stmt.where(Participant.clinician_id == ctx.actor.id)
    return [subject(ctx, code, write=False) for code in ctx.session.execute(stmt).scalars()]


def _everyone(ctx: Context) -> tuple[list[ParticipantProgramme], Template]:
    template = template_for(ctx)
    return [collect(ctx, s) for s in _subjects(ctx)], template


def programme_export(ctx: Context) -> pd.DataFrame:
    """Every programme record as one long table (audited).

    :func:`resolve.program.export.long_frame` over every randomised participant
    (a clinician: the participants they treat): columns ``participant_id, arm, week,
    setting, task, item, block, level, measure, value``.
    """
    ctx.require(Operation.view_programme)
    people, template = _everyone(ctx)
    frame = long_frame(people, template=template)
    audit_read(ctx, "programme export", None)
    return frame


_LONG_NOTE = (
    "Programme records in long format, one row per participant x record x measure: "
    "participant_id, arm, week, setting (clinic/home), task, item, block, level, measure, "
    "value (see docs/programme.md, 'Data out'). Reveals the allocation: unblinded exports only."
)
_SUMMARY_NOTE = (
    "One row per randomised participant: sessions attended, received the allocated "
    "intervention, adherent, clinic and home minutes, fidelity, and first/last clinic-block "
    "task measures, two-point thresholds, education score, misconceptions remaining, imagery "
    "vividness (docs/programme.md). Join to analysis.csv on participant_id = id. Reveals the "
    "allocation: unblinded exports only."
)


def export_tables(ctx: Context) -> dict[str, tuple[pd.DataFrame, str]]:
    """``programme_long`` and ``programme_summary`` for an unblinded trial export.

    For :func:`resolve.ops.export`, which calls it only when the actor sees every
    arm (``arm_view == "all"``); the caller has checked its own permission. A
    trial whose protocol the template does not fit gets no programme tables;
    with no participant the tables are empty.
    """
    import pandas as pd

    from resolve.program.export import LONG_COLUMNS, SUMMARY_COLUMNS

    try:
        template = template_for(ctx)
    except DataValidationError:  # a protocol the programme template does not fit
        return {}
    people = [collect(ctx, s) for s in _subjects(ctx)]
    long = (
        long_frame(people, template=template)
        if people
        else pd.DataFrame(columns=list(LONG_COLUMNS))
    )
    summary = (
        participant_summary(people, template=template)
        if people
        else pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    )
    return {"programme_long": (long, _LONG_NOTE), "programme_summary": (summary, _SUMMARY_NOTE)}
