"""The retraining programme's records and links (migration 0005).

:class:`ProgrammeRecord` is append-only (database triggers refuse UPDATE and
DELETE, and TRUNCATE on PostgreSQL): every session log, started and scored
block, progression decision, home practice, quiz, imagery rating, loading
session and two-point run is one row whose ``payload`` is the domain record's
JSON (:meth:`resolve.program._records.Record.to_dict`). A correction is a new
row naming the row it replaces (``corrects``); nothing is ever changed.

:class:`ProgrammeLink` is a participant's personal link to their own programme
(home practice on a phone): revocable and expiring at the programme's end; like
every other secret, only the SHA-256 of its token is stored.

Programme data reveal the arm (only the active arm has training blocks and home
practice): :mod:`resolve.ops.programme` shows them to unblinded roles only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from resolve.store.models import Base

__all__ = ["KINDS", "VIA", "ProgrammeLink", "ProgrammeRecord"]

#: What a programme record holds (its ``kind``), and the domain record of its payload.
KINDS: dict[str, str] = {
    "session": "resolve.program.sessions.SessionRecord",
    "block_started": "the stimuli of a started block (resolve.ops.programme_blocks)",
    "block": "resolve.program.blocks.BlockRecord",
    "decision": "resolve.program.progression.Decision (engine)",
    "override": "resolve.program.progression.Decision (clinician)",
    "home_practice": "resolve.program.sessions.HomePractice",
    "quiz": "resolve.program.education.QuizAttempt",
    "imagery": "resolve.program.imagery.ImageryRating",
    "tolerance": "resolve.program.loading.ToleranceTest",
    "loading_plan": "resolve.program.loading.LoadingPlan",
    "loading": "resolve.program.loading.LoadingLog",
    "drill": "resolve.program.loading.DrillLog",
    "twopoint": "resolve.program.twopoint.TpdRun",
}
#: How a record reached the store: a staff account, or the participant's programme link.
VIA = ("staff", "link")


class ProgrammeRecord(Base):
    """One programme record of one participant; never changed or deleted."""

    __tablename__ = "programme_record"
    __table_args__ = (
        UniqueConstraint("participant_id", "kind", "ref", name="uq_programme_record_ref"),
        Index("ix_programme_record_participant_kind", "participant_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    #: One of :data:`KINDS`.
    kind: Mapped[str] = mapped_column(String(32))
    #: Programme week (1 to the template's weeks).
    week: Mapped[int] = mapped_column(Integer)
    #: A key unique per participant and kind when set (a block's id: a block is started,
    #: scored and decided on once); None for records that may repeat.
    ref: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[str] = mapped_column(String(40))
    #: ``staff`` or ``link`` (:data:`VIA`).
    via: Mapped[str] = mapped_column(String(8))
    #: The record this one corrects (None: an original record).
    corrects: Mapped[int | None] = mapped_column(ForeignKey("programme_record.id"))


class ProgrammeLink(Base):
    """A participant's personal link to their programme: revocable, expiring."""

    __tablename__ = "programme_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    revoked_at: Mapped[str | None] = mapped_column(String(40))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
