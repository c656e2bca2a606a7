"""SQLAlchemy 2 typed models of a trial's operational data.

Participants are never deleted: their life cycle is a status. No allocation
sequence and no seed is stored: arms are derived from the trial key, which lives
outside the database (:mod:`resolve.store.keys`). The audit trail
(:class:`AuditEvent`) is append-only (database triggers) and HMAC-chained;
:mod:`resolve.store.audit` writes and verifies it.

The schema itself is created by the Alembic migrations in
``resolve/store/migrations`` (see :func:`resolve.store.migrate.upgrade`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from resolve.trial.status import ParticipantStatus

__all__ = [
    "Allocation",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Participant",
    "ParticipantStatus",
    "Response",
    "ResponseRevision",
    "Role",
    "SessionDelivery",
    "Site",
    "Stratum",
    "Trial",
    "TrialStatus",
    "Unblinding",
    "User",
    "Visit",
]


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Role(StrEnum):
    """What a user may do; the permission table is :mod:`resolve.ops.permissions`."""

    admin = "admin"
    enroller = "enroller"
    clinician = "clinician"
    assessor = "assessor"
    statistician = "statistician"
    unblinded_statistician = "unblinded_statistician"
    monitor = "monitor"
    #: The trial's system account for participant self-report (:mod:`resolve.ops.links`):
    #: created on first use, no password, may only submit answers through a personal link.
    participant = "participant"


class TrialStatus(StrEnum):
    """Life cycle of the trial's data: open, then locked, then unblinded."""

    open = "open"
    locked = "locked"
    unblinded = "unblinded"


class Trial(Base):
    """One trial and the protocol it runs (stored as JSON)."""

    __tablename__ = "trial"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    protocol: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[str] = mapped_column(String(40))
    #: Random public identifier (names the default key file).
    uid: Mapped[str] = mapped_column(String(36))
    #: Fingerprint of the trial key (the key itself is never stored).
    key_fingerprint: Mapped[str] = mapped_column(String(16))
    #: Seed of an insecure demo key (tests and demonstrations only), else None.
    demo_seed: Mapped[int | None] = mapped_column(BigInteger)
    #: :class:`TrialStatus`.
    status: Mapped[str] = mapped_column(String(16))


class Site(Base):
    """A recruiting site (also a stratification factor)."""

    __tablename__ = "site"
    __table_args__ = (UniqueConstraint("trial_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class User(Base):
    """A person acting on the trial, named in the audit trail."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(40))
    #: argon2id hash (None: no password set; the account cannot log in to the web app).
    password_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Site the user works at (enrollers: participants they screen get this site).
    site: Mapped[str | None] = mapped_column(String(64))
    #: The password was set by an admin (a one-time password): the web app lets the user
    #: do nothing but change it, and the API issues no token, until they have.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)


class Participant(Base):
    """A screened person; status follows :class:`ParticipantStatus`."""

    __tablename__ = "participant"
    __table_args__ = (UniqueConstraint("trial_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"))
    code: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    status: Mapped[str] = mapped_column(String(32))
    screening: Mapped[dict[str, Any]] = mapped_column(JSON)
    eligible: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    strata: Mapped[dict[str, Any]] = mapped_column(JSON)
    screened_at: Mapped[str] = mapped_column(String(40))
    consent_version: Mapped[str | None] = mapped_column(String(64))
    consented_at: Mapped[str | None] = mapped_column(String(40))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[str | None] = mapped_column(String(40))
    #: Keyed hash of the identifying fields (re-enrolment guard); None if not given.
    identity_hash: Mapped[str | None] = mapped_column(String(64))
    #: Treating clinician (sees this participant's arm).
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class Stratum(Base):
    """A stratum's counter row: the lock taken while allocating.

    ``next_position`` is the 1-based position of the next unused slot.
    """

    __tablename__ = "stratum"
    __table_args__ = (UniqueConstraint("trial_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"))
    key: Mapped[str] = mapped_column(String(400))
    levels: Mapped[dict[str, Any]] = mapped_column(JSON)
    next_position: Mapped[int] = mapped_column(Integer)
    length: Mapped[int] = mapped_column(Integer)


class Allocation(Base):
    """The arm given to a participant; one per participant, never deleted."""

    __tablename__ = "allocation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), unique=True)
    arm: Mapped[str] = mapped_column(String(64))
    stratum_id: Mapped[int] = mapped_column(ForeignKey("stratum.id"))
    position: Mapped[int] = mapped_column(Integer)
    allocated_at: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    __table_args__ = (UniqueConstraint("stratum_id", "position"),)


class Unblinding(Base):
    """An emergency unblinding: who, when and why."""

    __tablename__ = "unblinding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[str] = mapped_column(String(40))


class Visit(Base):
    """A participant's visit (one row per protocol visit attended)."""

    __tablename__ = "visit"
    __table_args__ = (UniqueConstraint("participant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    name: Mapped[str] = mapped_column(String(64))
    recorded_on: Mapped[str] = mapped_column(String(40))


class Response(Base):
    """Item-level responses to one instrument at one visit, scored on save.

    ``revision`` counts corrections; earlier values are kept in
    :class:`ResponseRevision` and in the audit trail.
    """

    __tablename__ = "response"
    __table_args__ = (UniqueConstraint("visit_id", "instrument"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    instrument: Mapped[str] = mapped_column(String(64))
    instrument_version: Mapped[str] = mapped_column(String(200))
    items: Mapped[dict[str, Any]] = mapped_column(JSON)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))


class ResponseRevision(Base):
    """A superseded version of a response, with the reason it was corrected."""

    __tablename__ = "response_revision"
    __table_args__ = (UniqueConstraint("response_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id"))
    revision: Mapped[int] = mapped_column(Integer)
    items: Mapped[dict[str, Any]] = mapped_column(JSON)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    superseded_at: Mapped[str] = mapped_column(String(40))


class SessionDelivery(Base):
    """One delivered (or missed) training-programme session."""

    __tablename__ = "session_delivery"
    __table_args__ = (UniqueConstraint("participant_id", "session_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    session_number: Mapped[int] = mapped_column(Integer)
    delivered_on: Mapped[str | None] = mapped_column(String(40))
    attended: Mapped[bool] = mapped_column(Boolean)
    components: Mapped[dict[str, Any]] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))


class AuditHead(Base):
    """The single row holding the chain's last event (locked while appending)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    """One append-only, hash-chained audit event.

    ``old_value`` and ``new_value`` are canonical JSON text; ``hash`` is the
    HMAC-SHA256, under the trial key's audit sub-key, of the canonical JSON of
    every other field, ``prev_hash`` included.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    user_name: Mapped[str] = mapped_column(String(128))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
