"""Data capture: record questionnaire responses (scored on save) and correct them.

Nothing is captured once the database is locked. A correction keeps the
superseded value (:class:`~resolve.store.models.ResponseRevision`) and needs a
reason; both are audit events carrying the full item values, so
:func:`resolve.ops.audit.verify` can replay them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select

from resolve.errors import DataValidationError
from resolve.ops.context import Context, TrialStateError, participant_row
from resolve.ops.permissions import Operation
from resolve.store import audit
from resolve.store.models import Response, ResponseRevision, TrialStatus, Visit
from resolve.trial.status import RECORDABLE, ParticipantStatus

__all__ = ["correct", "record", "score_items", "store_response"]


def score_items(instrument: str, items: Any, respondent: str) -> tuple[str, dict[str, Any]]:
    """Score ``items`` with the registered instrument: (instrument version, stored scores)."""
    from resolve.instruments import get

    inst = get(instrument)
    if not isinstance(items, Mapping | list):
        raise DataValidationError(
            f"items for {instrument}: expected an object of item -> code"
            f" (or a list for {instrument}); got {type(items).__name__}"
        )
    if isinstance(items, list) and not all(
        isinstance(pair, list | tuple) and len(pair) == 2 for pair in items
    ):
        raise DataValidationError(
            f"items for {instrument}: a list must hold [item, code] pairs; got {items!r:.60}"
        )
    result = inst.score(items, respondent=respondent)  # type: ignore[arg-type]
    d = result.to_dict()
    scores = {k: d[k] for k in ("scores", "n_missing", "missing_items", "prorated", "categories")}
    return result.version, scores


def _jsonable(items: Any) -> Any:
    if isinstance(items, Mapping):
        return {str(k): v for k, v in items.items()}
    return list(items)


def _open_for_data(ctx: Context) -> None:
    if ctx.trial.status != TrialStatus.open.value:
        raise TrialStateError(f"the database is {ctx.trial.status}; no data can be changed")


def record(
    ctx: Context,
    participant: str,
    *,
    visit: str,
    instrument: str,
    items: Mapping[str, Any] | list[Any],
    recorded_on: date | None = None,
) -> dict[str, Any]:
    """Store item-level responses to one instrument at one visit, scored on save.

    Returns the stored scores (``scores``, ``n_missing``, ``missing_items``,
    ``prorated``, ``categories``). A second record of the same response is
    refused: a change is a :func:`correct`\\ ion with a reason.
    """
    ctx.require(Operation.record)
    return store_response(
        ctx, participant, visit=visit, instrument=instrument, items=items, recorded_on=recorded_on
    )


def store_response(
    ctx: Context,
    participant: str,
    *,
    visit: str,
    instrument: str,
    items: Mapping[str, Any] | list[Any],
    recorded_on: date | None = None,
) -> dict[str, Any]:
    """The recording step of :func:`record`, after the caller checked its permission.

    Shared by :func:`record` (staff, :attr:`Operation.record`) and participant
    self-report links (:func:`resolve.ops.links.submit_link`,
    :attr:`Operation.submit_self_report`): the same checks, scoring, storage and
    audit events.
    """
    _open_for_data(ctx)
    p = participant_row(ctx, participant, lock=True)
    spec = ctx.protocol.visit(visit)
    if instrument not in spec.instruments:
        allowed = ", ".join(spec.instruments) or "(none: this visit has no questionnaires)"
        raise DataValidationError(
            f"instrument {instrument!r} is not collected at visit {visit!r}; allowed: {allowed}"
        )
    if ParticipantStatus(p.status) not in RECORDABLE:
        raise TrialStateError(f"participant {p.code!r} is {p.status}; cannot record data")
    version, scores = score_items(instrument, items, p.code)
    session = ctx.session
    v = session.execute(
        select(Visit).where(Visit.participant_id == p.id, Visit.name == visit)
    ).scalar_one_or_none()
    if v is None:
        v = Visit(
            participant_id=p.id, name=visit, recorded_on=(recorded_on or date.today()).isoformat()
        )
        session.add(v)
        session.flush()
        ctx.audit(
            entity="visit",
            entity_id=f"{p.code}/{visit}",
            action="create",
            new={"recorded_on": v.recorded_on},
        )
    exists = session.execute(
        select(Response.id).where(Response.visit_id == v.id, Response.instrument == instrument)
    ).scalar_one_or_none()
    if exists is not None:
        raise TrialStateError(
            f"{instrument} at {visit!r} for participant {p.code!r} is already recorded; "
            "a change is a correction and needs a reason"
        )
    stored = _jsonable(items)
    session.add(
        Response(
            visit_id=v.id,
            instrument=instrument,
            instrument_version=version,
            items=stored,
            scores=scores,
            revision=1,
            recorded_at=audit.now(),
            user_id=ctx.actor.id,
        )
    )
    session.flush()
    ctx.audit(
        entity="response",
        entity_id=f"{p.code}/{visit}/{instrument}",
        action="record",
        new={"items": stored, "scores": scores["scores"], "revision": 1},
    )
    return scores


def correct(
    ctx: Context,
    participant: str,
    *,
    visit: str,
    instrument: str,
    items: Mapping[str, Any] | list[Any],
    reason: str,
) -> dict[str, Any]:
    """Correct a stored response; the old values stay (revision table and audit trail)."""
    ctx.require(Operation.correct)
    _open_for_data(ctx)
    if reason is None or not str(reason).strip():
        raise DataValidationError("a reason for the correction is required and must not be blank")
    why = str(reason).strip()
    p = participant_row(ctx, participant, lock=True)
    row = ctx.session.execute(
        select(Response)
        .join(Visit, Visit.id == Response.visit_id)
        .where(Visit.participant_id == p.id, Visit.name == visit, Response.instrument == instrument)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise TrialStateError(
            f"no {instrument} response at {visit!r} for participant {p.code!r} to correct"
        )
    version, scores = score_items(instrument, items, p.code)
    stored = _jsonable(items)
    ctx.session.add(
        ResponseRevision(
            response_id=row.id,
            revision=row.revision,
            items=row.items,
            scores=row.scores,
            reason=why,
            user_id=ctx.actor.id,
            superseded_at=audit.now(),
        )
    )
    old = {"items": row.items, "scores": row.scores["scores"], "revision": row.revision}
    row.items = stored
    row.scores = scores
    row.instrument_version = version
    row.revision += 1
    row.recorded_at = audit.now()
    row.user_id = ctx.actor.id
    ctx.audit(
        entity="response",
        entity_id=f"{p.code}/{visit}/{instrument}",
        action="correct",
        old=old,
        new={"items": stored, "scores": scores["scores"], "revision": row.revision},
        reason=why,
    )
    return scores
