"""Participant status transitions: one table, used by every operation that changes status.

Examples
--------
>>> next_status("consent", "eligible")
'consented'
>>> next_status("randomise", "ineligible")
Traceback (most recent call last):
...
resolve.trial.status.TransitionError: a participant who is ineligible cannot be randomised
"""

from __future__ import annotations

from enum import StrEnum

from resolve.errors import ResolveError

__all__ = ["RECORDABLE", "TRANSITIONS", "ParticipantStatus", "TransitionError", "next_status"]


class ParticipantStatus(StrEnum):
    """Life cycle of a participant; a participant is never deleted."""

    screened = "screened"
    eligible = "eligible"
    ineligible = "ineligible"
    consented = "consented"
    randomised = "randomised"
    randomised_in_error = "randomised_in_error"
    withdrawn = "withdrawn"
    lost = "lost"


S = ParticipantStatus


class TransitionError(ResolveError, ValueError):
    """The participant's status does not allow the requested action."""


_SCREENABLE = (S.screened, S.eligible, S.ineligible)

#: action -> {status before: status after}. A status not listed refuses the action.
TRANSITIONS: dict[str, dict[S, S | None]] = {
    # rescreening: the new status comes from the eligibility result (None = decided there)
    "screen": {s: None for s in _SCREENABLE},
    "consent": {S.eligible: S.consented, S.consented: S.consented, S.randomised: S.randomised},
    "randomise": {S.consented: S.randomised},
    "withdraw": {S.eligible: S.withdrawn, S.consented: S.withdrawn, S.randomised: S.withdrawn},
    "mark lost": {S.randomised: S.lost},
    "mark randomised in error": {S.randomised: S.randomised_in_error},
}

#: Statuses whose questionnaires may be recorded (baseline before randomisation).
RECORDABLE = frozenset({S.consented, S.randomised})

_VERB = {
    "screen": "screened again",
    "consent": "consented",
    "randomise": "randomised",
    "withdraw": "withdrawn",
    "mark lost": "marked lost to follow-up",
    "mark randomised in error": "marked randomised in error",
}


def next_status(action: str, current: str) -> str | None:
    """The status after ``action`` from ``current`` (None: decided by the action).

    Raises
    ------
    TransitionError
        ``action`` is not allowed from ``current``.
    """
    table = TRANSITIONS[action]
    status = S(current)
    if status not in table:
        name = status.value.replace("_", " ")
        if action == "randomise" and status in (S.randomised, S.randomised_in_error):
            raise TransitionError("the participant is already randomised")
        if action == "randomise" and status in (S.eligible, S.screened):
            raise TransitionError("the participant has not consented")
        raise TransitionError(f"a participant who is {name} cannot be {_VERB[action]}")
    after = table[status]
    return None if after is None else after.value
