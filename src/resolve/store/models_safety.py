"""Adverse events (migration 0004): append-only reports and their follow-ups.

Each row is one report about one adverse event of one participant: the
initial report (``follows_id`` is None, ``follow_up`` 0) or a follow-up
(``follows_id`` is the initial report's id, ``follow_up`` 1, 2, ...), which
restates the event's current assessment (outcome, severity, seriousness...).
Rows are never changed or deleted (database triggers refuse UPDATE and DELETE):
the event's history is its rows, and its current state is its newest row.

The coded vocabularies follow ICH E2A (seriousness criteria) and the usual
case-report-form scales for severity, relatedness (causality), expectedness,
outcome (after ICH E2B) and action taken with the trial intervention.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from resolve.store.models import Base

__all__ = [
    "ACTIONS",
    "EXPECTEDNESS",
    "MAX_DESCRIPTION_LENGTH",
    "OUTCOMES",
    "RELATEDNESS",
    "SERIOUS_CRITERIA",
    "SEVERITIES",
    "AdverseEvent",
]

#: ICH E2A: an adverse event is serious when it meets at least one of these.
SERIOUS_CRITERIA = (
    "death",
    "life-threatening",
    "hospitalisation",
    "disability",
    "congenital anomaly",
    "other important medical event",
)
SEVERITIES = ("mild", "moderate", "severe")
#: Causal relationship to the trial intervention, from least to most likely.
RELATEDNESS = ("not related", "unlikely", "possible", "probable", "definite")
#: Against the trial's reference safety information.
EXPECTEDNESS = ("expected", "unexpected")
OUTCOMES = (
    "recovered",
    "recovering",
    "ongoing",
    "recovered with sequelae",
    "fatal",
    "unknown",
)
#: Action taken with the trial intervention because of the event.
ACTIONS = (
    "none",
    "intervention modified",
    "intervention interrupted",
    "intervention discontinued",
    "not applicable",
)
#: Longest narrative stored (characters).
MAX_DESCRIPTION_LENGTH = 2000


class AdverseEvent(Base):
    """One report (initial or follow-up) of an adverse event; never changed."""

    __tablename__ = "adverse_event"
    __table_args__ = (UniqueConstraint("follows_id", "follow_up"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    #: The initial report this follows up (None: this is the initial report).
    follows_id: Mapped[int | None] = mapped_column(ForeignKey("adverse_event.id"))
    #: 0 for the initial report, then 1, 2, ... for its follow-ups.
    follow_up: Mapped[int] = mapped_column(Integer)
    onset_date: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    serious: Mapped[bool] = mapped_column(Boolean)
    #: The ICH E2A criteria met (a list of :data:`SERIOUS_CRITERIA`; empty when not serious).
    serious_criteria: Mapped[list[Any]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(16))
    relatedness: Mapped[str] = mapped_column(String(16))
    expectedness: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))
    action_taken: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    reported_at: Mapped[str] = mapped_column(String(40))
