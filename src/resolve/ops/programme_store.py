"""Shared internals of the programme operations: who may act on whom, and the record store.

Not public API: :mod:`resolve.ops.programme`, :mod:`resolve.ops.programme_blocks`,
:mod:`resolve.ops.programme_views` and :mod:`resolve.ops.programme_links` use it.

Access (on top of the role's permission, checked by each operation first):

- a clinician acts only on the participants they treat (``participant.clinician_id``;
  the clinician sees only those participants' arms) and at their own site;
- the participant system account acts only for the participant of the
  programme link resolved in the same unit of work
  (:func:`resolve.ops.programme_links.link_participant`, which binds it here);
- the unblinded statistician reads every participant.

Writes need an open database and a randomised participant whose arm is one of
the programme template's arms. Every write appends one
:class:`~resolve.store.models_programme.ProgrammeRecord` and one audit event
that names the record (id, SHA-256 of the payload, how it came in) but neither
the participant, the kind nor the week: the audit trail is read by blinded
monitors and admins, and which records a participant has would reveal the arm.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import select

from resolve.errors import DataValidationError
from resolve.ops.context import TRIAL_ID, Context, TrialStateError, participant_row
from resolve.ops.permissions import PermissionDenied
from resolve.program.template import Template
from resolve.store import audit
from resolve.store.models import Allocation, Participant, Role, TrialStatus
from resolve.store.models_programme import KINDS, ProgrammeRecord
from resolve.trial.protocol import Protocol
from resolve.trial.status import ParticipantStatus

__all__ = [
    "LINK_KEY",
    "Subject",
    "append",
    "audit_read",
    "programme_week",
    "records",
    "subject",
    "template_for",
    "today",
    "via",
]

#: Key of :attr:`Session.info` holding the participant code of the programme link
#: resolved in this unit of work.
LINK_KEY = "resolve.programme_link"


@functools.lru_cache(maxsize=8)
def _template(protocol_text: str, source: str) -> Template:
    from resolve.ops.context import _protocol_from_text
    from resolve.program.template import check_protocol, load_template

    template = load_template()
    check_protocol(template, _protocol_from_text(protocol_text, source))
    return template


def template_for(protocol: Protocol | Context) -> Template:
    """The programme template of a trial: the bundled one, checked against its protocol.

    Raises
    ------
    DataValidationError
        The protocol's arms or session visits do not fit the template.
    """
    if isinstance(protocol, Context):
        stored = protocol.trial.protocol
        return _template(stored["toml"], stored["source"])
    from resolve.program.template import check_protocol, load_template

    template = load_template()
    check_protocol(template, protocol)
    return template


def today() -> date:
    """Today's date (UTC), the clock of programme weeks."""
    return datetime.now(UTC).date()


def programme_week(randomised_on: date, on: date, weeks: int) -> int | None:
    """The programme week of day ``on`` (week 1 starts on the randomisation day), or None.

    None before randomisation and after the last week.

    Examples
    --------
    >>> programme_week(date(2026, 1, 1), date(2026, 1, 7), 12), programme_week(
    ...     date(2026, 1, 1), date(2026, 1, 8), 12)
    (1, 2)
    >>> programme_week(date(2026, 1, 1), date(2026, 3, 26), 12) is None
    True
    """
    days = (on - randomised_on).days
    week = days // 7 + 1
    return week if days >= 0 and week <= weeks else None


@dataclass(frozen=True)
class Subject:
    """The participant an operation acts on, with what the programme needs to know."""

    participant: Participant
    arm: str
    role: Literal["active", "sham"]
    randomised_on: date
    template: Template

    @property
    def code(self) -> str:
        """The participant's id."""
        return self.participant.code

    @property
    def week(self) -> int | None:
        """Today's programme week (None after the programme)."""
        return programme_week(self.randomised_on, today(), self.template.programme.weeks)

    def current_week(self) -> int:
        """Today's programme week; :class:`TrialStateError` outside the programme."""
        week = self.week
        if week is None:
            raise TrialStateError(
                f"participant {self.code!r}'s programme ended after week "
                f"{self.template.programme.weeks}"
            )
        return week


def via(ctx: Context) -> Literal["staff", "link"]:
    """How the actor reaches the store: ``link`` for the participant account."""
    return "link" if ctx.role is Role.participant else "staff"


def _check_access(ctx: Context, p: Participant) -> None:
    if ctx.role is Role.clinician:
        if p.clinician_id != ctx.actor.id:
            raise PermissionDenied(
                f"user {ctx.actor.name!r} (role clinician) is not the treating clinician of "
                f"participant {p.code!r}"
            )
        site = ctx.actor.site
        if site is not None and p.strata.get("site", site) != site:
            raise PermissionDenied(
                f"user {ctx.actor.name!r} works at site {site!r}; participant {p.code!r} is "
                "not at that site"
            )
    elif ctx.role is Role.participant and ctx.session.info.get(LINK_KEY) != p.code:
        raise PermissionDenied(
            f"user {ctx.actor.name!r} (role participant) acts only through a programme "
            "link, for that link's participant"
        )


def subject(ctx: Context, participant: str, *, write: bool) -> Subject:
    """The participant ``participant`` as this actor may act on them (see the module notes).

    Raises
    ------
    PermissionDenied
        A clinician who does not treat the participant, or the participant account
        without a link to this participant.
    UnknownNameError
        No such participant.
    TrialStateError
        Not randomised; for a write, a database that is not open or a participant
        who is no longer randomised (withdrawn, lost, randomised in error).
    DataValidationError
        The trial's arms do not fit the programme template.
    """
    p = participant_row(ctx, participant, lock=write)
    _check_access(ctx, p)
    alloc = ctx.session.execute(
        select(Allocation).where(Allocation.participant_id == p.id)
    ).scalar_one_or_none()
    if alloc is None:
        raise TrialStateError(f"participant {p.code!r} has not been randomised; no programme")
    if write:
        if ctx.trial.status != TrialStatus.open.value:
            raise TrialStateError(f"the database is {ctx.trial.status}; no data can be changed")
        if p.status != ParticipantStatus.randomised.value:
            raise TrialStateError(
                f"participant {p.code!r} is {p.status.replace('_', ' ')}; the programme "
                "records nothing more"
            )
    template = template_for(ctx)
    return Subject(
        participant=p,
        arm=alloc.arm,
        role=template.role(alloc.arm),
        randomised_on=date.fromisoformat(alloc.allocated_at[:10]),
        template=template,
    )


def _digest(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(
    ctx: Context,
    s: Subject,
    kind: str,
    week: int,
    payload: dict[str, Any],
    *,
    ref: str | None = None,
    corrects: int | None = None,
    reason: str | None = None,
) -> ProgrammeRecord:
    """Append one programme record and its audit event (see the module notes)."""
    if kind not in KINDS:
        raise ValueError(f"unknown programme record kind {kind!r}")
    if not 1 <= week <= s.template.programme.weeks:
        raise DataValidationError(
            f"week {week} is not a programme week (1 to {s.template.programme.weeks})"
        )
    row = ProgrammeRecord(
        trial_id=TRIAL_ID,
        participant_id=s.participant.id,
        kind=kind,
        week=week,
        ref=ref,
        payload=payload,
        recorded_by=ctx.actor.id,
        recorded_at=audit.now(),
        via=via(ctx),
        corrects=corrects,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit(
        entity="programme_record",
        entity_id=str(row.id),
        action="correct" if corrects is not None else "append",
        new={"record_sha256": _digest(payload), "via": row.via, "corrects": corrects},
        reason=reason,
    )
    return row


def records(ctx: Context, s: Subject, *kinds: str) -> list[ProgrammeRecord]:
    """The participant's records of ``kinds`` (all kinds when none), oldest first."""
    stmt = select(ProgrammeRecord).where(ProgrammeRecord.participant_id == s.participant.id)
    if kinds:
        stmt = stmt.where(ProgrammeRecord.kind.in_(kinds))
    return list(ctx.session.execute(stmt.order_by(ProgrammeRecord.id)).scalars())


def current(rows: list[ProgrammeRecord]) -> list[ProgrammeRecord]:
    """``rows`` without the records a later row corrects (the current versions)."""
    replaced = {r.corrects for r in rows if r.corrects is not None}
    return [r for r in rows if r.id not in replaced]


def audit_read(ctx: Context, what: str, code: str | None) -> None:
    """Audit a read of programme data (arm-revealing); the link's reads name no participant."""
    detail: dict[str, Any] = {"arm_view": ctx.arm_view, "via": via(ctx)}
    if code is not None and ctx.role is not Role.participant:
        detail["participant"] = code
    ctx.audit(entity="read", entity_id=what, action="read", new=detail)
