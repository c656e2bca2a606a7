"""Read operations: participants, allocations, responses, schedules, CONSORT, export.

What a user sees of allocations follows :func:`resolve.ops.permissions.arm_view`:
real arms, masked codes (``group A``, ``group B``... a keyed, stable relabelling
that keeps the grouping but hides which arm is which), only their own
participants' arms, or no arm column and no arm-revealing count at all. Every
read that reveals allocation or exports data is an audit event.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from resolve.ops.context import TRIAL_ID, Context, TrialStateError, participant_row
from resolve.ops.permissions import Operation, PermissionDenied
from resolve.store.models import (
    Allocation,
    Participant,
    Response,
    Role,
    Site,
    Stratum,
    User,
    Visit,
)
from resolve.trial.exports import PARTICIPANT_COLUMNS, RESPONSE_COLUMNS
from resolve.trial.status import ParticipantStatus

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PARTICIPANT_FRAME_COLUMNS",
    "RESPONSE_FRAME_COLUMNS",
    "allocations",
    "consort",
    "export",
    "overdue_visits",
    "participant_schedule",
    "participants",
    "responses",
    "trial_schedule",
    "visits",
]

#: The export contract's participant columns plus what the store also knows.
PARTICIPANT_FRAME_COLUMNS = [
    *PARTICIPANT_COLUMNS,
    "duration_weeks",
    "pain",
    "exclusions",
    "factors",
    "status_reason",
]
RESPONSE_FRAME_COLUMNS = [*RESPONSE_COLUMNS, "instrument_version", "user"]


def _arm_labels(ctx: Context) -> dict[str, str]:
    """Arm -> masked code (``group A``...) by a keyed permutation of the arms."""
    arms = sorted(ctx.protocol.arm_names)
    order = sorted(arms, key=lambda a: ctx.key.mac("arm mask v1", a.encode("utf-8")))
    return {arm: f"group {string.ascii_uppercase[i]}" for i, arm in enumerate(order)}


def _arm_shown(ctx: Context) -> Any:
    """A function (participant row, allocation row) -> the arm text this actor may see."""
    view = ctx.arm_view
    if view == "all":
        return lambda p, a: a.arm
    if view == "masked":
        labels = _arm_labels(ctx)
        return lambda p, a: labels[a.arm]
    if view == "own":
        me = ctx.actor.id
        if ctx.role is Role.clinician:
            return lambda p, a: a.arm if p.clinician_id == me else None
        return lambda p, a: a.arm if a.user_id == me else None
    return None


def _audit_read(ctx: Context, what: str, detail: dict[str, Any] | None = None) -> None:
    ctx.audit(
        entity="read",
        entity_id=what,
        action="read",
        new={"arm_view": ctx.arm_view, **(detail or {})},
    )


def participants(ctx: Context) -> pd.DataFrame:
    """One row per participant, in the export column contract (arm as this actor may see it).

    Columns ``participant_id, site, status, screened_at, eligible,
    ineligible_reasons, consented_at, consent_version, randomised_at, arm,
    stratum, age, withdrawn_at, lost_at, duration_weeks, pain, exclusions,
    factors, status_reason``. For a role that may see no arm, ``arm`` is empty
    for everyone. Reads that show any arm are audited.
    """
    import pandas as pd

    ctx.require(Operation.view_participants)
    shown = _arm_shown(ctx)
    out = []
    stmt = (
        select(Participant, Site.code, Allocation, Stratum.key)
        .outerjoin(Site, Site.id == Participant.site_id)
        .outerjoin(Allocation, Allocation.participant_id == Participant.id)
        .outerjoin(Stratum, Stratum.id == Allocation.stratum_id)
        .where(Participant.trial_id == TRIAL_ID)
        .order_by(Participant.id)
    )
    for p, site, alloc, stratum in ctx.session.execute(stmt).all():
        changed = p.status_changed_at
        arm = shown(p, alloc) if (shown is not None and alloc is not None) else None
        out.append(
            {
                "participant_id": p.code,
                "site": site,
                "status": p.status,
                "screened_at": p.screened_at,
                "eligible": p.eligible,
                "ineligible_reasons": list(p.reasons),
                "consented_at": p.consented_at,
                "consent_version": p.consent_version,
                "randomised_at": alloc.allocated_at if alloc is not None else None,
                "arm": arm,
                "stratum": stratum,
                "age": p.screening.get("age"),
                "withdrawn_at": changed if p.status == ParticipantStatus.withdrawn else None,
                "lost_at": changed if p.status == ParticipantStatus.lost else None,
                "duration_weeks": p.screening.get("duration_weeks"),
                "pain": p.screening.get("pain"),
                "exclusions": list(p.screening.get("exclusions", [])),
                "factors": dict(p.strata),
                "status_reason": p.status_reason,
            }
        )
    frame = pd.DataFrame(out, columns=PARTICIPANT_FRAME_COLUMNS)
    if shown is not None and frame["arm"].notna().any():
        _audit_read(ctx, "participants", {"rows": len(frame)})
    return frame


def allocations(ctx: Context) -> pd.DataFrame:
    """One row per allocation made, for a role that may see arms (audited).

    Columns ``participant, arm, stratum, position, allocated_at, user``.
    """
    import pandas as pd

    ctx.require(Operation.view_participants)
    shown = _arm_shown(ctx)
    if shown is None:
        raise PermissionDenied(
            f"user {ctx.actor.name!r} (role {ctx.role.value}) may not see allocations"
        )
    stmt = (
        select(Participant, Allocation, Stratum.key, User.name)
        .join(Allocation, Allocation.participant_id == Participant.id)
        .join(Stratum, Stratum.id == Allocation.stratum_id)
        .join(User, User.id == Allocation.user_id)
        .order_by(Allocation.stratum_id, Allocation.position)
    )
    rows = []
    for p, a, key, user in ctx.session.execute(stmt).all():
        arm = shown(p, a)
        if arm is not None:
            rows.append((p.code, arm, key, a.position, a.allocated_at, user))
    _audit_read(ctx, "allocations", {"rows": len(rows)})
    return pd.DataFrame(
        rows, columns=["participant", "arm", "stratum", "position", "allocated_at", "user"]
    )


def visits(ctx: Context) -> pd.DataFrame:
    """One row per recorded visit: ``participant, visit, recorded_on``."""
    import pandas as pd

    ctx.require(Operation.view_schedule)
    stmt = (
        select(Participant.code, Visit.name, Visit.recorded_on)
        .join(Visit, Visit.participant_id == Participant.id)
        .order_by(Participant.id, Visit.id)
    )
    rows = [tuple(r) for r in ctx.session.execute(stmt).all()]
    return pd.DataFrame(rows, columns=["participant", "visit", "recorded_on"])


def responses(ctx: Context) -> pd.DataFrame:
    """One row per stored response (current value), in the export contract.

    Columns ``participant_id, visit, instrument, items, scores, recorded_at,
    version, instrument_version, user``.
    """
    import pandas as pd

    ctx.require(Operation.view_responses)
    stmt = (
        select(
            Participant.code,
            Visit.name,
            Response.instrument,
            Response.items,
            Response.scores,
            Response.recorded_at,
            Response.revision,
            Response.instrument_version,
            User.name,
        )
        .join(Visit, Visit.participant_id == Participant.id)
        .join(Response, Response.visit_id == Visit.id)
        .join(User, User.id == Response.user_id)
        .order_by(Participant.id, Visit.id, Response.id)
    )
    rows = [tuple(r) for r in ctx.session.execute(stmt).all()]
    return pd.DataFrame(rows, columns=RESPONSE_FRAME_COLUMNS)


# ----------------------------------------------------------------------------- schedules
@dataclass(frozen=True)
class _Timeline:
    code: str
    randomised_on: date | None
    recorded: tuple[str, ...]


def _timeline(ctx: Context, participant: str) -> _Timeline:
    p = participant_row(ctx, participant)
    at = ctx.session.execute(
        select(Allocation.allocated_at).where(Allocation.participant_id == p.id)
    ).scalar_one_or_none()
    recorded = (
        ctx.session.execute(select(Visit.name).where(Visit.participant_id == p.id)).scalars().all()
    )
    if at is None:
        raise TrialStateError(f"participant {p.code!r} has not been randomised; no calendar yet")
    return _Timeline(p.code, date.fromisoformat(at[:10]), tuple(recorded))


def trial_schedule(ctx: Context) -> Any:
    """The SPIRIT schedule of assessments of the trial's protocol."""
    from resolve.trial.schedule import schedule_of_assessments

    ctx.require(Operation.view_schedule)
    return schedule_of_assessments(ctx.protocol)


def participant_schedule(ctx: Context, participant: str, *, today: date | None = None) -> Any:
    """A randomised participant's visit calendar, with ``status``: recorded, overdue, due..."""
    from resolve.trial.schedule import overdue, visit_calendar

    ctx.require(Operation.view_schedule)
    tl = _timeline(ctx, participant)
    assert tl.randomised_on is not None
    calendar = visit_calendar(ctx.protocol, tl.randomised_on)
    due = overdue(ctx.protocol, tl.randomised_on, list(tl.recorded), today or date.today())
    status = dict(zip(due["visit"], due["status"], strict=True))
    status.update(dict.fromkeys(tl.recorded, "recorded"))
    return calendar.assign(status=[status.get(v, "") for v in calendar["visit"]])


def overdue_visits(ctx: Context, participant: str, *, today: date | None = None) -> Any:
    """A randomised participant's visits past their window and not recorded."""
    from resolve.trial.schedule import overdue

    ctx.require(Operation.view_schedule)
    tl = _timeline(ctx, participant)
    assert tl.randomised_on is not None
    return overdue(ctx.protocol, tl.randomised_on, list(tl.recorded), today or date.today())


# ----------------------------------------------------------------------------- CONSORT, export
def _analysis_frames(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    view = ctx.arm_view
    if view not in ("all", "masked"):
        raise PermissionDenied(
            f"user {ctx.actor.name!r} (role {ctx.role.value}) may not see counts or data by arm"
        )
    return participants(ctx), responses(ctx)


def _export_plan(ctx: Context) -> Any:
    """The analysis plan of exports; for a masked view its arms are the masked codes.

    Otherwise CONSORT would list the real arm names (with zero counts) beside the
    codes. The reference arm becomes the first code, whichever arm that is.
    """
    if ctx.arm_view != "masked":
        return None
    from dataclasses import replace

    from resolve.trial.exports._contract import plan_or_default

    plan = plan_or_default(None)
    codes = tuple(sorted(_arm_labels(ctx).values()))
    trial = replace(plan.trial, arms=codes, reference_arm=codes[0], extra_contrasts=())
    return replace(plan, trial=trial)


def consort(ctx: Context) -> pd.DataFrame:
    """CONSORT flow counts from live data, by arm (masked codes for a blinded statistician)."""
    from resolve.trial.exports import consort_counts

    ctx.require(Operation.consort)
    parts, resp = _analysis_frames(ctx)
    _audit_read(ctx, "consort", {"by_arm": True})
    return consort_counts(parts, resp, ctx.protocol, plan=_export_plan(ctx))


def export(ctx: Context, out_dir: str | Path) -> list[Path]:
    """Write the analysis table, item-level data, REDCap files and CONSORT counts (audited).

    A blinded statistician's export carries masked arm codes. A role that sees
    adverse events in full (:func:`~resolve.ops.permissions.ae_view`) also gets
    ``adverse_events.csv``; a role that sees every arm also gets the programme
    data, ``programme_long.csv`` and ``programme_summary.csv``
    (:func:`resolve.ops.programme_views.export_tables`). All files or none.
    """
    from resolve.ops.permissions import ae_view
    from resolve.ops.safety import adverse_event_table
    from resolve.trial.exports import write_export

    ctx.require(Operation.export)
    parts, resp = _analysis_frames(ctx)
    extra = {"adverse_events": adverse_event_table(ctx)} if ae_view(ctx.role) == "full" else {}
    if ctx.arm_view == "all":  # programme data reveal the arm: unblinded exports only
        from resolve.ops.programme_views import export_tables

        extra.update(export_tables(ctx))
    paths = write_export(out_dir, parts, resp, ctx.protocol, plan=_export_plan(ctx), extra=extra)
    _audit_read(ctx, "export", {"files": len(paths), "participants": len(parts)})
    return paths
