"""The retraining programme in the store: session logs, home practice, quizzes, loading ...

Each operation checks its permission first (:mod:`resolve.ops.permissions`):
``deliver programme`` (the treating clinician: session logs, progression
overrides, two-point thresholds, tolerance tests), ``practise`` (the patient
through their programme link, or the clinician beside them: home practice,
quizzes, imagery ratings, loading sessions, drills). Then the participant must
be one the actor may act on (:func:`resolve.ops.programme_store.subject`); the
input is validated by the domain record (:mod:`resolve.program`), with one
:class:`~resolve.errors.DataValidationError` naming the key and the value; and
one append-only :class:`~resolve.store.models_programme.ProgrammeRecord` is
stored with its audit event, in the same transaction. Blocks of the training
tasks are :mod:`resolve.ops.programme_blocks`; reads are
:mod:`resolve.ops.programme_views`; links :mod:`resolve.ops.programme_links`.

Examples
--------
>>> import tempfile, pathlib
>>> from resolve import ops
>>> db = pathlib.Path(tempfile.mkdtemp()) / "trial.db"
>>> _ = ops.init_trial(db, admin="ada", demo_seed=7)
>>> admin = ops.Client(db, user="ada")
>>> for name, role in [("rc", "enroller"), ("doc", "clinician")]:
...     _ = admin.run(ops.add_user, name, role=role, password=None)
>>> rc = ops.Client(db, user="rc")
>>> _ = rc.run(ops.screen, "P001", age=40, duration_weeks=20, pain=6, identity="1984-02-01 AB")
>>> rc.run(ops.consent, "P001", version="1.0")
>>> arm = rc.run(ops.randomise, "P001")
>>> admin.run(ops.assign_clinician, "P001", clinician="doc")
>>> doc = ops.Client(db, user="doc")
>>> t = template_for(doc.run(lambda ctx: ctx.protocol))
>>> plan = t.plan(arm, 1)
>>> checklist = {c: {i: True for i in t.component(c).fidelity} for c in plan.components}
>>> s = doc.run(log_session, "P001", {"week": 1, "attended": True, "minutes": 55,
...             "components": plan.components, "fidelity": checklist})
>>> s.week, s.attended, doc.run(ops.programme, "P001").adherence.sessions_attended
(1, True, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops.context import Context, TrialStateError
from resolve.ops.permissions import Operation
from resolve.ops.programme_store import (
    Subject,
    append,
    current,
    records,
    subject,
    template_for,
    today,
    via,
)
from resolve.ops.programme_views import collect, levels
from resolve.program.education import QuizAttempt, load_module, score_quiz
from resolve.program.imagery import ImageryRating, rate
from resolve.program.loading import (
    DrillLog,
    LoadingLog,
    LoadingPlan,
    decide_loading,
    plan_quotas,
    tolerance_test,
)
from resolve.program.progression import Decision, override, task_rules
from resolve.program.sessions import HomePractice, SessionRecord, check_home_practice, check_session
from resolve.program.template import TASKS
from resolve.program.twopoint import (
    TpdRun,
    TpdSeries,
    TpdTrial,
    limits_threshold,
    staircase_threshold,
)

__all__ = [
    "LoadingOutcome",
    "log_drill",
    "log_loading",
    "log_session",
    "override_level",
    "rate_imagery",
    "record_home_practice",
    "record_tolerance_test",
    "record_twopoint",
    "submit_quiz",
    "template_for",
]


# ----------------------------------------------------------------------------- helpers
def _data(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise DataValidationError(f"{what}: expected an object of key -> value; got {data!r}")
    return dict(data)


def _week(s: Subject, given: object, what: str) -> int:
    """The week of a record: ``given`` (1 to today's week; any week after the programme)."""
    now = s.week
    if given is None:
        return s.current_week()
    if isinstance(given, bool) or not isinstance(given, int):
        raise DataValidationError(f"{what}: 'week': must be an integer; got {given!r}")
    weeks = s.template.programme.weeks
    if not 1 <= given <= weeks:
        raise DataValidationError(f"{what}: 'week': must be 1 to {weeks}; got {given}")
    if now is not None and given > now:
        raise DataValidationError(
            f"{what}: 'week': week {given} has not started (participant {s.code!r} is in "
            f"week {now})"
        )
    return given


def _same(data: dict[str, Any], key: str, value: object, what: str) -> None:
    if key in data and data[key] != value:
        raise DataValidationError(f"{what}: {key!r} is {data[key]!r}; this record is {value!r}")
    data[key] = value


def _active(s: Subject, what: str) -> None:
    if s.role != "active":
        raise TrialStateError(f"participant {s.code!r}'s programme has no {what}")


def _setting(ctx: Context, given: object = None) -> str:
    if given is None:
        return "home" if via(ctx) == "link" else "clinic"
    if given not in ("clinic", "home"):
        raise DataValidationError(f"'setting': must be clinic or home; got {given!r}")
    if via(ctx) == "link" and given != "home":
        raise DataValidationError("'setting': practice through the programme link is at home")
    return str(given)


# ----------------------------------------------------------------------------- sessions
def log_session(
    ctx: Context, participant: str, data: Mapping[str, Any], *, reason: str | None = None
) -> SessionRecord:
    """Log a weekly session (either arm): attendance, minutes, components, fidelity checklist.

    Parameters
    ----------
    participant : str
        A randomised participant the clinician treats.
    data : mapping
        The keys of :class:`~resolve.program.sessions.SessionRecord`: ``week``
        (default: today's week; not a week that has not started), ``attended``,
        ``minutes``, ``components``, ``fidelity`` (component -> item -> done, every
        item of every delivered component), ``adverse_events`` (short
        descriptions; report each through :func:`resolve.ops.report_adverse_event`),
        ``pain``, ``notes``. ``participant_id`` and ``arm`` are filled in.
    reason : str, optional
        Required to correct a week already logged: the new record replaces it
        (both are kept; the audit event carries the reason).

    Returns
    -------
    SessionRecord

    Raises
    ------
    DataValidationError
        Invalid data (:func:`~resolve.program.sessions.check_session`), or a week
        already logged without a reason.
    """
    ctx.require(Operation.deliver_programme)
    s = subject(ctx, participant, write=True)
    body = _data(data, "session")
    _same(body, "participant_id", s.code, "session")
    _same(body, "arm", s.arm, "session")
    body["week"] = _week(s, body.get("week"), "session")
    record = check_session(
        s.template, SessionRecord.from_dict(body, source=f"session week {body['week']}")
    )
    earlier = [r for r in current(records(ctx, s, "session")) if r.week == record.week]
    corrects = None
    why = None
    if earlier:
        if reason is None or not str(reason).strip():
            raise DataValidationError(
                f"session week {record.week} of participant {s.code!r} is already logged; "
                "give a reason to correct it"
            )
        corrects, why = earlier[-1].id, str(reason).strip()
    append(ctx, s, "session", record.week, record.to_dict(), corrects=corrects, reason=why)
    return record


def override_level(
    ctx: Context, participant: str, task: str, to_level: int, reason: str
) -> Decision:
    """The clinician sets a training task's level (hold, advance, step back), with a reason.

    Raises
    ------
    DataValidationError
        Unknown task, a level outside the task's levels, or no reason.
    TrialStateError
        A participant whose programme has no training tasks.
    """
    ctx.require(Operation.deliver_programme)
    s = subject(ctx, participant, write=True)
    if task not in TASKS:
        raise DataValidationError(f"unknown task {task!r}; tasks with levels: {', '.join(TASKS)}")
    _active(s, "training tasks")
    week = s.week or s.template.programme.weeks
    data = collect(ctx, s)
    from_level = levels(s, data.decisions, week)[task]
    decision = override(
        task_rules(s.template, task),
        from_level=from_level,
        to_level=to_level,
        reason=reason,
        clinician=ctx.actor.name,
    )
    append(ctx, s, "override", s.current_week(), decision.to_dict())
    return decision


# ----------------------------------------------------------------------------- home practice
def record_home_practice(ctx: Context, participant: str, data: Mapping[str, Any]) -> HomePractice:
    """Log minutes of home practice of one task on one day of a week.

    ``data``: ``task`` (a component of the week's home programme or any active-arm
    component), ``minutes``, ``week`` and ``day`` (1-7; default: today).
    """
    ctx.require(Operation.practise)
    s = subject(ctx, participant, write=True)
    body = _data(data, "home practice")
    _same(body, "participant_id", s.code, "home practice")
    week = _week(s, body.get("week"), "home practice")
    body["week"] = week
    if "day" not in body:
        body["day"] = (today() - s.randomised_on).days % 7 + 1 if week == s.week else None
    record = HomePractice.from_dict(body, source="home practice")
    check_home_practice(s.template, s.arm, record)
    append(ctx, s, "home_practice", week, record.to_dict())
    return record


def submit_quiz(
    ctx: Context, participant: str, module_id: str, answers: Mapping[str, Any]
) -> QuizAttempt:
    """Score and store an attempt at an education module's questions.

    ``answers``: question id -> ``true``/``false`` or the chosen option's text; a
    question left out is unanswered.
    """
    ctx.require(Operation.practise)
    s = subject(ctx, participant, write=True)
    _active(s, "education")
    if module_id not in s.template.education.modules:
        raise UnknownNameError(
            f"unknown education module {module_id!r}; the programme's modules: "
            + ", ".join(s.template.education.modules)
        )
    result = score_quiz(load_module(module_id), _data(answers, f"quiz {module_id}"))
    attempt = QuizAttempt(week=s.current_week(), result=result)
    append(ctx, s, "quiz", attempt.week, attempt.to_dict())
    return attempt


def rate_imagery(
    ctx: Context, participant: str, script_id: str, vividness: int, pain: int
) -> ImageryRating:
    """Store the vividness and pain (0-10) of an imagery session of a bundled script."""
    ctx.require(Operation.practise)
    s = subject(ctx, participant, write=True)
    _active(s, "imagery")
    if script_id not in s.template.imagery.scripts:
        raise UnknownNameError(
            f"unknown imagery script {script_id!r}; the programme's scripts: "
            + ", ".join(s.template.imagery.scripts)
        )
    setting: Literal["clinic", "home"] = "home" if via(ctx) == "link" else "clinic"
    rating = rate(script_id, vividness=vividness, pain=pain, week=s.current_week(), setting=setting)
    append(ctx, s, "imagery", rating.week, rating.to_dict())
    return rating


# ----------------------------------------------------------------------------- loading, drills
def _exercise_unit(s: Subject, exercise: object) -> Any:
    for e in s.template.loading.exercises:
        if e.id == exercise:
            return e.unit
    known = ", ".join(e.id for e in s.template.loading.exercises)
    raise UnknownNameError(f"unknown loading exercise {exercise!r}; known: {known}")


def record_tolerance_test(
    ctx: Context, participant: str, exercise: str, values: Sequence[float]
) -> LoadingPlan:
    """Record a baseline tolerance test and plan the exercise's quotas from it.

    The plan runs to the programme's end (``sessions_per_week`` per remaining
    week); a new test of the same exercise starts a new plan.
    """
    ctx.require(Operation.deliver_programme)
    s = subject(ctx, participant, write=True)
    _active(s, "graded loading")
    settings = s.template.loading
    unit = _exercise_unit(s, exercise)
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise DataValidationError(f"tolerance test of {exercise!r}: values must be a list")
    test = tolerance_test(list(values), exercise=exercise, unit=unit, settings=settings)
    week = s.current_week()
    remaining = (s.template.programme.weeks - week + 1) * settings.sessions_per_week
    plan = plan_quotas(test, settings=settings, sessions=remaining)
    append(ctx, s, "tolerance", week, test.to_dict())
    append(ctx, s, "loading_plan", week, plan.to_dict())
    return plan


@dataclass(frozen=True)
class LoadingOutcome:
    """A logged loading session, the plan's decision and the next quota (None: plan done)."""

    log: LoadingLog
    decision: Decision
    next_quota: float | None


_LOADING_KEYS = ("exercise", "achieved", "sets", "reps", "load_kg", "pain", "setting")


def log_loading(ctx: Context, participant: str, data: Mapping[str, Any]) -> LoadingOutcome:
    """Log a graded-loading session; the plan decides the next quota (never the pain).

    ``data``: ``exercise``, ``achieved`` (in the exercise's unit), optionally
    ``sets``, ``reps``, ``load_kg``, ``pain`` (0-10, logged only) and ``setting``.
    The session number, plan step, quota and week come from the stored plan.

    Raises
    ------
    TrialStateError
        No tolerance test (so no plan) for the exercise yet.
    """
    ctx.require(Operation.practise)
    s = subject(ctx, participant, write=True)
    _active(s, "graded loading")
    body = _data(data, "loading session")
    for key in body:
        if key not in _LOADING_KEYS:
            raise DataValidationError(
                f"loading session: unknown key {key!r}; allowed: {', '.join(_LOADING_KEYS)} "
                "(session, step, quota and week come from the plan)"
            )
    exercise = body.get("exercise")
    _exercise_unit(s, exercise)
    rows = records(ctx, s, "loading_plan", "loading")
    plans = [r for r in rows if r.kind == "loading_plan" and r.payload["exercise"] == exercise]
    if not plans:
        raise TrialStateError(
            f"no tolerance test of {exercise!r} for participant {s.code!r} yet; the clinician "
            "records one first"
        )
    plan_row = plans[-1]
    plan = LoadingPlan.from_dict(plan_row.payload, source="stored loading plan")
    logs = [
        LoadingLog.from_dict(r.payload, source="stored loading session")
        for r in rows
        if r.kind == "loading" and r.id > plan_row.id and r.payload["exercise"] == exercise
    ]
    all_logs = [r for r in rows if r.kind == "loading"]
    step = 1
    if logs:
        step = decide_loading(plan, logs, settings=s.template.loading).to_level
    week = s.current_week()
    body.update(
        session=len(all_logs) + 1,
        step=step,
        week=week,
        quota=plan.quotas[step - 1],
        setting=_setting(ctx, body.get("setting")),
    )
    log = LoadingLog.from_dict(body, source="loading session")
    decision = decide_loading(plan, [*logs, log], settings=s.template.loading)
    append(ctx, s, "loading", week, log.to_dict())
    ref = f"loading/{log.exercise}/{log.session}"
    append(ctx, s, "decision", week, decision.to_dict(), ref=ref)
    ended = decision.action == "hold" and log.completed  # the last planned quota was done
    nxt = None if ended else plan.quotas[decision.to_level - 1]
    return LoadingOutcome(log=log, decision=decision, next_quota=nxt)


def log_drill(ctx: Context, participant: str, data: Mapping[str, Any]) -> DrillLog:
    """Log a movement-precision drill: ``drill_id``, ``sets``, ``reps``, ``feedback``,
    ``quality`` (0-10), ``week`` and ``setting`` (default: today, where the actor is)."""
    ctx.require(Operation.practise)
    s = subject(ctx, participant, write=True)
    _active(s, "movement-precision drills")
    body = _data(data, "drill")
    known = [d.id for d in s.template.drills]
    if body.get("drill_id") not in known:
        raise UnknownNameError(
            f"unknown drill {body.get('drill_id')!r}; the programme's drills: {', '.join(known)}"
        )
    body["week"] = _week(s, body.get("week"), "drill")
    body["setting"] = _setting(ctx, body.get("setting"))
    log = DrillLog.from_dict(body, source="drill")
    append(ctx, s, "drill", log.week, log.to_dict())
    return log


# ----------------------------------------------------------------------------- two-point
def record_twopoint(
    ctx: Context, participant: str, site: str, trials: Sequence[Mapping[str, Any]]
) -> TpdRun:
    """Record a two-point discrimination run at ``site`` (this week), replayed against the rule.

    ``trials``: for the staircase, ``{"separation_mm": ..., "response": "one"|"two"}``
    in order; for the method of limits, series ``{"direction": ..., "trials": [...]}``.
    An incomplete run is stored without a threshold.

    Raises
    ------
    DataValidationError
        A trial off the protocol (naming the trial and the expected separation),
        an unknown site, or a malformed trial.
    """
    ctx.require(Operation.deliver_programme)
    s = subject(ctx, participant, write=True)
    _active(s, "two-point measurements")
    settings = s.template.twopoint
    norms = s.template.norms.tpd
    if isinstance(trials, str | bytes) or not isinstance(trials, Sequence):
        raise DataValidationError("two-point: trials must be a list")
    if settings.method == "staircase":
        entered = [
            TpdTrial.from_dict(_data(t, f"two-point trial {k}"), source=f"two-point trial {k}")
            for k, t in enumerate(trials, start=1)
        ]
        result = staircase_threshold(entered, settings=settings, site=site, norms=norms)
    else:
        series = [
            TpdSeries.from_dict(_data(t, f"two-point series {k}"), source=f"two-point series {k}")
            for k, t in enumerate(trials, start=1)
        ]
        result = limits_threshold(series, settings=settings, site=site, norms=norms)
        entered = [t for ser in series for t in ser.trials]
    run = TpdRun(week=s.current_week(), site=site, trials=entered, result=result)
    append(ctx, s, "twopoint", run.week, run.to_dict())
    return run
