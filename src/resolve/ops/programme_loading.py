"""Where a participant stands in the graded-loading plan of each exercise (audited read).

The patient needs today's quota before logging a loading session, and the clinician the
plan's latest decision; both come from the same replay as :func:`resolve.ops.log_loading`
makes: the latest plan of the exercise and its sessions since, decided by
:func:`resolve.program.loading.decide_loading` (quotas, never pain).
"""

from __future__ import annotations

from dataclasses import dataclass

from resolve.ops.context import Context
from resolve.ops.permissions import Operation
from resolve.ops.programme_store import audit_read, records, subject
from resolve.program.loading import LoadingLog, LoadingPlan, decide_loading
from resolve.program.progression import Decision

__all__ = ["ExerciseState", "loading_state"]


@dataclass(frozen=True)
class ExerciseState:
    """Where a participant is in the loading plan of one exercise.

    ``quota`` is the next session's quota (None: no plan yet, or the plan is done),
    ``decision`` the plan's decision after the latest session.
    """

    exercise: str
    label: str
    unit: str
    plan: LoadingPlan | None
    step: int | None
    quota: float | None
    logs: list[LoadingLog]
    decision: Decision | None


def loading_state(ctx: Context, participant: str) -> dict[str, ExerciseState]:
    """Each loading exercise's plan, next quota and latest decision (``practise``; audited).

    The same replay as :func:`resolve.ops.log_loading` makes: the latest plan of the
    exercise and its sessions since, decided by
    :func:`resolve.program.loading.decide_loading` (quotas, never pain).
    """
    ctx.require(Operation.practise)
    s = subject(ctx, participant, write=False)
    out: dict[str, ExerciseState] = {}
    if s.role != "active":
        return out
    rows = records(ctx, s, "loading_plan", "loading")
    settings = s.template.loading
    for e in settings.exercises:
        plans = [r for r in rows if r.kind == "loading_plan" and r.payload["exercise"] == e.id]
        plan = step = quota = decision = None
        logs: list[LoadingLog] = []
        if plans:
            plan = LoadingPlan.from_dict(plans[-1].payload, source="stored loading plan")
            logs = [
                LoadingLog.from_dict(r.payload, source="stored loading session")
                for r in rows
                if r.kind == "loading" and r.id > plans[-1].id and r.payload["exercise"] == e.id
            ]
            step = 1
            if logs:
                decision = decide_loading(plan, logs, settings=settings)
                step = decision.to_level
            ended = decision is not None and decision.action == "hold" and logs[-1].completed
            quota = None if ended else plan.quotas[step - 1]
        out[e.id] = ExerciseState(e.id, e.label, e.unit, plan, step, quota, logs, decision)
    audit_read(ctx, "programme loading", s.code)
    return out
