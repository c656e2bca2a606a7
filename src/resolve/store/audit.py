"""Append-only, HMAC-chained audit trail with exportable checkpoints.

Each event's ``hash`` is the HMAC-SHA256, under the trial key's ``audit``
sub-key (:mod:`resolve.store.keys`; never in the database), of a canonical JSON
object holding every other field of the event (``prev_hash`` included). Altering,
deleting, inserting or re-ordering stored events breaks the chain, and without
the key nobody can re-compute a consistent chain. Database triggers refuse
UPDATE and DELETE of events (migration 0002).

Deleting the newest events *and* fixing the head row leaves a valid, shorter
chain: a **checkpoint** (:func:`checkpoint`: the head's id and hash, MACed),
copied to write-once storage, detects that (:func:`verify` with
``checkpoints``). :func:`append` serialises writers by locking the single
:class:`AuditHead` row (``SELECT ... FOR UPDATE``; SQLite transactions are
already exclusive).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from resolve.store.keys import TrialKey
from resolve.store.models import AuditEvent, AuditHead

__all__ = [
    "GENESIS",
    "AuditBreak",
    "append",
    "canonical",
    "checkpoint",
    "event_hash",
    "now",
    "verify",
]

#: Sub-key label of the chain's HMAC.
AUDIT_LABEL = "audit chain v1"
CHECKPOINT_LABEL = "audit checkpoint v1"

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


def event_hash(event: AuditEvent, key: TrialKey) -> str:
    """HMAC-SHA256 (hex) of the canonical JSON of an event's fields and ``prev_hash``."""
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
    return key.mac(AUDIT_LABEL, text.encode("utf-8"))


def append(
    session: Session,
    *,
    key: TrialKey,
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
    key : TrialKey
        The trial key (the chain's HMAC key is derived from it).
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
    ).scalar_one_or_none()
    if head is None:
        raise RuntimeError("the audit trail's head row is missing; the record was tampered with")
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
    event.hash = event_hash(event, key)
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


def checkpoint(session: Session, key: TrialKey, trial_uid: str) -> dict[str, Any]:
    """The chain's current head, MACed, to copy to write-once storage.

    Examples
    --------
    The fields: ``{"trial": uid, "last_id": n, "last_hash": h, "at": time, "mac": m}``.
    """
    head = session.get(AuditHead, 1)
    if head is None:
        raise RuntimeError("the audit trail's head row is missing; the record was tampered with")
    body = {"trial": trial_uid, "last_id": head.last_id, "last_hash": head.last_hash, "at": now()}
    text = canonical(body)
    assert text is not None
    return {**body, "mac": key.mac(CHECKPOINT_LABEL, text.encode("utf-8"))}


def _checkpoint_ok(cp: dict[str, Any], key: TrialKey) -> bool:
    body = {k: cp.get(k) for k in ("trial", "last_id", "last_hash", "at")}
    text = canonical(body)
    assert text is not None
    return hmac.compare_digest(str(cp.get("mac", "")), key.mac(CHECKPOINT_LABEL, text.encode()))


def verify(
    session: Session,
    key: TrialKey,
    *,
    checkpoints: list[dict[str, Any]] | None = None,
    trial_uid: str | None = None,
    batch: int = 2000,
) -> AuditBreak | None:
    """Check the whole chain; return the first problem, or None if intact.

    Detects an altered field or a forged event (HMAC mismatch), a deleted or
    inserted event (id gap or ``prev_hash`` mismatch), a missing head row, a
    head that does not match the last event, and, given ``checkpoints``, a chain
    that no longer contains a checkpointed head (events removed from the end).
    """
    prev_hash = GENESIS
    expected_id = 1
    last_id = 0
    hashes: dict[int, str] = {}
    wanted = {int(cp.get("last_id", -1)) for cp in checkpoints or []}
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
            if not hmac.compare_digest(event_hash(event, key), event.hash):
                return AuditBreak(
                    event.id, "content does not match its HMAC (altered or forged without the key)"
                )
            if event.id in wanted:
                hashes[event.id] = event.hash
            prev_hash = event.hash
            expected_id += 1
            last_id = event.id
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is None:
        return AuditBreak(last_id + 1, "the chain's head row is missing (removed?)")
    if head.last_id != last_id or head.last_hash != prev_hash:
        return AuditBreak(
            last_id + 1 if head.last_id > last_id else head.last_id,
            "chain head does not match the last stored event (events removed?)",
        )
    for cp in checkpoints or []:
        cp_id = int(cp.get("last_id", -1))
        if not _checkpoint_ok(cp, key):
            return AuditBreak(cp_id, "checkpoint's MAC is wrong (not made with this trial's key)")
        if trial_uid is not None and cp.get("trial") != trial_uid:
            return AuditBreak(cp_id, "checkpoint belongs to another trial")
        if cp_id > last_id:
            return AuditBreak(
                last_id + 1,
                f"the chain ends at event {last_id} but a checkpoint of "
                f"{cp.get('at')} recorded event {cp_id} (events removed from the end)",
            )
        if cp_id > 0 and hashes.get(cp_id) != cp.get("last_hash"):
            return AuditBreak(cp_id, "event differs from the checkpointed one (chain replaced)")
    return None
