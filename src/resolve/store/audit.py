"""Append-only, hash-chained audit trail.

Each event's ``hash`` is the SHA-256 of a canonical JSON object holding every
other field of the event (``prev_hash`` included), so altering, deleting or
re-ordering any stored event breaks the chain from that event on.
:func:`append` serialises writers by locking the single :class:`AuditHead` row
(``SELECT ... FOR UPDATE``; SQLite transactions are already exclusive).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from resolve.store.models import AuditEvent, AuditHead

__all__ = ["GENESIS", "AuditBreak", "append", "canonical", "event_hash", "now", "verify"]

#: ``prev_hash`` of the first event.
GENESIS = "0" * 64


def now() -> str:
    """The current UTC time as an ISO 8601 string (microseconds)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def canonical(value: Any) -> str | None:
    """Canonical JSON text of ``value`` (sorted keys, no spaces); None stays None.

    Examples
    --------
    >>> canonical({"b": 1, "a": [1, 2]})
    '{"a":[1,2],"b":1}'
    """
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(event: AuditEvent) -> str:
    """SHA-256 (hex) of the canonical JSON of an event's fields and ``prev_hash``."""
    payload = {
        "id": event.id,
        "at": event.at,
        "user": event.user_name,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "action": event.action,
        "old_value": event.old_value,
        "new_value": event.new_value,
        "reason": event.reason,
        "prev_hash": event.prev_hash,
    }
    text = canonical(payload)
    assert text is not None  # a dict is never None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(
    session: Session,
    *,
    user: str,
    entity: str,
    entity_id: object,
    action: str,
    old: Any = None,
    new: Any = None,
    reason: str | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction.

    Parameters
    ----------
    session : Session
        An open session; the event commits or rolls back with the change it
        records.
    user : str
        Who made the change.
    entity, entity_id : str, object
        What was changed (table name and its identifier).
    action : str
        What happened (``screen``, ``randomise``, ``correct``...).
    old, new : JSON-serialisable, optional
        The value before and after.
    reason : str, optional
        Why (required by the caller for corrections).

    Returns
    -------
    AuditEvent
        The new event, flushed.
    """
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    event = AuditEvent(
        id=head.last_id + 1,
        at=now(),
        user_name=user,
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        old_value=canonical(old),
        new_value=canonical(new),
        reason=reason,
        prev_hash=head.last_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    head.last_id = event.id
    head.last_hash = event.hash
    session.flush()
    return event


@dataclass(frozen=True)
class AuditBreak:
    """Where and why the chain is broken."""

    event_id: int
    problem: str

    def __str__(self) -> str:
        return f"audit event {self.event_id}: {self.problem}"


def verify(session: Session, *, batch: int = 2000) -> AuditBreak | None:
    """Check the whole chain; return the first broken event, or None if intact.

    Detects an altered field (hash mismatch), a deleted or inserted event (id
    gap or ``prev_hash`` mismatch) and a truncated tail (head row mismatch).
    """
    prev_hash = GENESIS
    expected_id = 1
    last_id = 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for event in rows:
            if event.id != expected_id:
                return AuditBreak(expected_id, f"missing (next stored event is {event.id})")
            if event.prev_hash != prev_hash:
                return AuditBreak(event.id, "prev_hash does not match the previous event's hash")
            if event_hash(event) != event.hash:
                return AuditBreak(event.id, "content does not match its hash (altered)")
            prev_hash = event.hash
            expected_id += 1
            last_id = event.id
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != last_id or head.last_hash != prev_hash):
        return AuditBreak(
            last_id + 1 if head.last_id > last_id else head.last_id,
            "chain head does not match the last stored event (events removed?)",
        )
    return None
