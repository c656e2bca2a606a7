"""Graded loading and movement-precision drills: quota-based, time-contingent progression.

Graded loading follows a plan, never the day's pain:

1. A baseline **tolerance test**: the person does the exercise until they choose to
   stop (pain, fatigue or effort), ``[loading] tolerance_trials`` times; tolerance is
   the mean.
2. The **first quota** is set below tolerance: ``start_fraction`` x tolerance (80%).
3. **Planned increments**: each session's quota rises by ``increment`` x tolerance
   (``fraction_of_baseline``), by a factor ``1 + increment`` (``fraction_of_previous``)
   or by ``increment`` units (``absolute``). Quotas are rounded to whole reps,
   seconds and metres, and to half kilograms and minutes.
4. After each session :func:`decide_loading` moves to the next planned step when the
   quota was done; a missed quota is repeated when ``hold_if_missed`` (otherwise the
   plan moves on regardless). Pain ratings are logged but never read by the decision.

Movement-precision drills are logged (:class:`DrillLog`: sets, reps, feedback mode,
the clinician's 0-10 rating of precision) and summarised by :func:`drill_summary`.

Examples
--------
>>> from resolve.program.template import load_template
>>> s = load_template().loading
>>> test = tolerance_test([10, 12, 11], exercise="sit-to-stand", unit="reps", settings=s)
>>> plan = plan_quotas(test, settings=s, sessions=5)
>>> test.tolerance, plan.quotas
(11.0, [9.0, 10.0, 11.0, 12.0, 13.0])
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from typing import Annotated, Literal

from resolve._schema import Text, between
from resolve.errors import DataValidationError
from resolve.program._records import Record
from resolve.program._task_schema import LoadingSettings
from resolve.program.progression import Check, Decision

__all__ = [
    "DrillLog",
    "DrillSummary",
    "LoadingLog",
    "LoadingPlan",
    "ToleranceTest",
    "decide_loading",
    "drill_summary",
    "plan_quotas",
    "tolerance_test",
]

Unit = Literal["reps", "kg", "minutes", "seconds", "metres"]
_Amount = Annotated[float, between(0)]
#: Rounding step of quotas per unit.
ROUNDING: dict[str, float] = {"reps": 1, "seconds": 1, "metres": 1, "kg": 0.5, "minutes": 0.5}


class ToleranceTest(Record):
    """A baseline tolerance test: the trials' amounts and their mean (the tolerance)."""

    exercise: Text
    unit: Unit
    trials: list[_Amount]
    tolerance: Annotated[float, between(0, low_open=True)]


def tolerance_test(
    values: Sequence[float], *, exercise: str, unit: Unit, settings: LoadingSettings
) -> ToleranceTest:
    """The tolerance (mean) of ``settings.tolerance_trials`` trials to tolerance.

    Raises
    ------
    DataValidationError
        Not exactly ``tolerance_trials`` values, a value that is not a finite number
        >= 0, or a mean of 0.
    """
    if len(values) != settings.tolerance_trials:
        raise DataValidationError(
            f"tolerance test of {exercise!r}: {len(values)} trial(s); the template asks for "
            f"{settings.tolerance_trials}"
        )
    for k, v in enumerate(values, start=1):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise DataValidationError(
                f"tolerance test of {exercise!r}: trial {k} must be a finite number >= 0; got {v!r}"
            )
    mean = statistics.fmean(values)
    if mean <= 0:
        raise DataValidationError(f"tolerance test of {exercise!r}: tolerance is 0")
    return ToleranceTest(
        exercise=exercise, unit=unit, trials=[float(v) for v in values], tolerance=mean
    )


class LoadingPlan(Record):
    """Planned quotas, one per session step (step 1 = first loading session)."""

    exercise: Text
    unit: Unit
    tolerance: float
    start_fraction: float
    increment: float
    increment_kind: Literal["fraction_of_baseline", "fraction_of_previous", "absolute"]
    quotas: list[float]


def _round(value: float, unit: str) -> float:
    step = ROUNDING[unit]
    return math.floor(value / step + 0.5) * step


def plan_quotas(test: ToleranceTest, *, settings: LoadingSettings, sessions: int) -> LoadingPlan:
    """Quotas for ``sessions`` steps from a tolerance test (see the module notes).

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> s = load_template().loading.model_copy(update={"increment_kind": "fraction_of_previous"})
    >>> t = tolerance_test([20, 20, 20], exercise="floor-lift", unit="kg", settings=s)
    >>> plan_quotas(t, settings=s, sessions=3).quotas
    [16.0, 17.5, 19.5]
    """
    if isinstance(sessions, bool) or not isinstance(sessions, int) or not 1 <= sessions <= 200:
        raise DataValidationError(f"sessions must be an integer from 1 to 200; got {sessions!r}")
    first = settings.start_fraction * test.tolerance
    raw = []
    for k in range(sessions):
        if settings.increment_kind == "fraction_of_baseline":
            raw.append(first + k * settings.increment * test.tolerance)
        elif settings.increment_kind == "fraction_of_previous":
            raw.append(first * (1 + settings.increment) ** k)
        else:
            raw.append(first + k * settings.increment)
    return LoadingPlan(
        exercise=test.exercise,
        unit=test.unit,
        tolerance=test.tolerance,
        start_fraction=settings.start_fraction,
        increment=settings.increment,
        increment_kind=settings.increment_kind,
        quotas=[_round(q, test.unit) for q in raw],
    )


class LoadingLog(Record):
    """One loading session: the plan step done, its quota and what was achieved.

    ``pain`` (0-10) is recorded for the clinician; it never changes a decision.
    """

    exercise: Text
    session: Annotated[int, between(1)]
    step: Annotated[int, between(1)]
    week: Annotated[int, between(1, 52)]
    setting: Literal["clinic", "home"] = "clinic"
    quota: _Amount
    achieved: _Amount
    sets: Annotated[int, between(0)] | None = None
    reps: Annotated[int, between(0)] | None = None
    load_kg: _Amount | None = None
    pain: Annotated[int, between(0, 10)] | None = None

    @property
    def completed(self) -> bool:
        """Whether the quota was done."""
        return self.achieved >= self.quota


def decide_loading(
    plan: LoadingPlan, logs: Sequence[LoadingLog], *, settings: LoadingSettings
) -> Decision:
    """The next plan step after the latest logged session (quota-based, not pain-based).

    Parameters
    ----------
    plan : LoadingPlan
    logs : sequence of LoadingLog
        Sessions of ``plan.exercise`` in session order (other exercises are ignored).
    settings : LoadingSettings
        ``hold_if_missed`` decides what a missed quota does.

    Raises
    ------
    DataValidationError
        No session, sessions out of order, a step outside the plan, or a logged quota
        that is not the plan's quota for its step.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> s = load_template().loading
    >>> t = tolerance_test([10, 10, 10], exercise="sit-to-stand", unit="reps", settings=s)
    >>> plan = plan_quotas(t, settings=s, sessions=4)
    >>> log = LoadingLog(exercise="sit-to-stand", session=1, step=1, week=9, quota=8,
    ...                  achieved=8, pain=7)
    >>> d = decide_loading(plan, [log], settings=s)
    >>> d.action, d.to_level, d.rule_id
    ('advance', 2, 'loading-per-plan')
    """
    own = [log for log in logs if log.exercise == plan.exercise]
    if not own:
        raise DataValidationError(f"loading: no session of {plan.exercise!r} to decide on")
    for a, b in itertools.pairwise(own):
        if b.session <= a.session:
            raise DataValidationError(
                f"loading: sessions must be in order; session {b.session} follows {a.session}"
            )
    for log in own:
        if log.step > len(plan.quotas):
            raise DataValidationError(
                f"loading session {log.session}: step {log.step} is beyond the plan "
                f"({len(plan.quotas)} steps)"
            )
        if abs(log.quota - plan.quotas[log.step - 1]) > 1e-9:
            raise DataValidationError(
                f"loading session {log.session}: quota {log.quota:g} is not the plan's quota "
                f"for step {log.step} ({plan.quotas[log.step - 1]:g})"
            )
    last = own[-1]
    check = Check(
        rule_id="loading-per-plan",
        block_id=f"{plan.exercise}/session {last.session}",
        measure="achieved",
        value=last.achieved,
        op=">=",
        threshold=last.quota,
        passed=last.completed,
    )
    top = len(plan.quotas)
    if last.completed or not settings.hold_if_missed:
        advance = last.step < top
        note = "" if advance else f"end of the plan ({top} steps)"
        if not last.completed:
            note = (note + "; " if note else "") + "quota missed; the plan moves on"
        return Decision(
            task="loading",
            item=plan.exercise,
            action="advance" if advance else "hold",
            from_level=last.step,
            to_level=last.step + 1 if advance else last.step,
            rule_id="loading-per-plan",
            rule_text="Quota done: next session takes the next planned quota.",
            checks=[check],
            blocks=[check.block_id or ""],
            note=note,
        )
    return Decision(
        task="loading",
        item=plan.exercise,
        action="hold",
        from_level=last.step,
        to_level=last.step,
        rule_id="loading-hold-missed",
        rule_text="Quota not done: the next session repeats it (pain does not change quotas).",
        checks=[check],
        blocks=[check.block_id or ""],
    )


class DrillLog(Record):
    """One movement-precision drill practised: dose, feedback and rated precision."""

    drill_id: Text
    week: Annotated[int, between(1, 52)]
    setting: Literal["clinic", "home"] = "clinic"
    sets: Annotated[int, between(0)]
    reps: Annotated[int, between(0)]
    feedback: Literal["mirror", "video", "touch", "verbal", "none"] = "none"
    quality: Annotated[int, between(0, 10)] | None = None


class DrillSummary(Record):
    """Per drill: sessions, total repetitions and mean precision rating."""

    drill_id: str
    sessions: int
    total_reps: int
    mean_quality: float | None


def drill_summary(logs: Sequence[DrillLog]) -> list[DrillSummary]:
    """Summaries per drill, in order of first use.

    Examples
    --------
    >>> logs = [DrillLog(drill_id="pelvic-tilt", week=6, sets=2, reps=10, quality=5),
    ...         DrillLog(drill_id="pelvic-tilt", week=7, sets=2, reps=10, quality=None)]
    >>> drill_summary(logs)[0].total_reps, drill_summary(logs)[0].mean_quality
    (40, 5.0)
    """
    order = list(dict.fromkeys(log.drill_id for log in logs))
    out = []
    for d in order:
        own = [log for log in logs if log.drill_id == d]
        rated = [log.quality for log in own if log.quality is not None]
        out.append(
            DrillSummary(
                drill_id=d,
                sessions=len(own),
                total_reps=sum(log.sets * log.reps for log in own),
                mean_quality=statistics.fmean(rated) if rated else None,
            )
        )
    return out
