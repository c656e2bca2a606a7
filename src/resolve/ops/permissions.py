"""Who may do what: one table of operations x roles, checked in the service layer.

Every operation in :mod:`resolve.ops` calls :func:`require` with its
:class:`Operation` before touching data, so the CLI and the web app enforce the
same rules; a user interface may hide what a role cannot do, but hiding is not
the protection.

Arm visibility is separate from permission to run an operation
(:func:`arm_view`): a blinded role that may list participants sees no arm
column at all (assessor, monitor, admin) or masked arm codes (statistician,
until the statistician is unblinded after database lock).

The ``participant`` role is not a person's account: it is the trial's system
account that participant self-report links act as (:mod:`resolve.ops.links`).
It may only submit self-report answers and, through a personal programme link,
practise the programme of that link's participant (:mod:`resolve.ops.programme_links`).

Adverse events are a third view (:func:`ae_view`): their narratives can reveal
the arm ("sore after the first session"), so roles that must stay blind see
none of them (assessor, blinded statistician, admin), the monitor sees their
coded fields for source data verification but not the narrative, and the
treating and recruiting staff and the unblinded statistician (safety
monitoring) see everything.

Examples
--------
>>> from resolve.store.models import Role
>>> allowed(Role.assessor, Operation.record), allowed(Role.assessor, Operation.randomise)
(True, False)
>>> arm_view(Role.statistician, trial_status="open")
'masked'
>>> ae_view(Role.monitor), ae_view(Role.assessor)
('coded', 'none')
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from resolve.errors import ResolveError
from resolve.store.models import Role

__all__ = [
    "MATRIX",
    "AeView",
    "ArmView",
    "Operation",
    "PermissionDenied",
    "ae_view",
    "allowed",
    "arm_view",
    "require",
]


class PermissionDenied(ResolveError, PermissionError):  # noqa: N818 - reads as a verdict
    """The acting user's role may not run this operation."""


class Operation(StrEnum):
    """Every operation of the service layer."""

    init_trial = "init trial"
    manage_users = "manage users"
    list_users = "list users"
    screen = "screen"
    consent = "consent"
    randomise = "randomise"
    assign_clinician = "assign clinician"
    withdraw = "withdraw"
    mark_lost = "mark lost"
    mark_randomised_in_error = "mark randomised in error"
    emergency_unblind = "emergency unblind"
    record = "record"
    correct = "correct"
    view_participants = "view participants"
    view_responses = "view responses"
    view_schedule = "view schedule"
    export = "export"
    consort = "consort"
    lock_database = "lock database"
    unblind_statistician = "unblind statistician"
    verify_audit = "verify audit"
    read_audit = "read audit"
    checkpoint_audit = "checkpoint audit"
    create_participant_link = "create participant link"
    submit_self_report = "submit self-report"
    report_adverse_events = "report adverse events"
    view_adverse_events = "view adverse events"
    view_programme = "view programme"
    deliver_programme = "deliver programme"
    practise = "practise"


R = Role
#: Every staff role: all but the participant system account.
_ALL = frozenset(Role) - {R.participant}

#: Operation -> the roles that may run it.
MATRIX: dict[Operation, frozenset[Role]] = {
    Operation.init_trial: frozenset({R.admin}),
    Operation.manage_users: frozenset({R.admin}),
    Operation.list_users: frozenset({R.admin, R.monitor}),
    Operation.screen: frozenset({R.enroller}),
    Operation.consent: frozenset({R.enroller}),
    Operation.randomise: frozenset({R.enroller}),
    Operation.assign_clinician: frozenset({R.enroller, R.admin}),
    Operation.withdraw: frozenset({R.enroller, R.clinician}),
    Operation.mark_lost: frozenset({R.enroller, R.assessor}),
    Operation.mark_randomised_in_error: frozenset({R.enroller, R.unblinded_statistician}),
    Operation.emergency_unblind: frozenset({R.clinician, R.unblinded_statistician}),
    Operation.record: frozenset({R.assessor, R.enroller}),
    Operation.correct: frozenset({R.assessor, R.enroller}),
    Operation.view_participants: _ALL,
    Operation.view_responses: frozenset(
        {R.assessor, R.statistician, R.unblinded_statistician, R.monitor, R.enroller}
    ),
    Operation.view_schedule: _ALL,
    Operation.export: frozenset({R.statistician, R.unblinded_statistician}),
    Operation.consort: frozenset({R.statistician, R.unblinded_statistician}),
    Operation.lock_database: frozenset({R.admin}),
    Operation.unblind_statistician: frozenset({R.admin}),
    Operation.verify_audit: frozenset({R.admin, R.monitor, R.unblinded_statistician}),
    Operation.read_audit: frozenset({R.admin, R.monitor}),
    Operation.checkpoint_audit: frozenset({R.admin, R.monitor}),
    Operation.create_participant_link: frozenset({R.enroller, R.assessor}),
    Operation.submit_self_report: frozenset({R.participant}),
    # Harms are reported by the staff who see the participant; blinded roles never read
    # them (a narrative can name the intervention): see ae_view for what each reader sees.
    Operation.report_adverse_events: frozenset({R.enroller, R.clinician}),
    Operation.view_adverse_events: frozenset(
        {R.enroller, R.clinician, R.unblinded_statistician, R.monitor}
    ),
    # Programme data reveal the arm (only the active arm has training tasks and home
    # practice): the treating clinician and the unblinded statistician only. The
    # participant account practises through a personal programme link, for that link's
    # participant only (resolve.ops.programme_links).
    Operation.view_programme: frozenset({R.clinician, R.unblinded_statistician}),
    Operation.deliver_programme: frozenset({R.clinician}),
    Operation.practise: frozenset({R.clinician, R.participant}),
}

ArmView = Literal["none", "masked", "own", "all"]
AeView = Literal["none", "coded", "full"]


def allowed(role: Role | str, op: Operation) -> bool:
    """Whether ``role`` may run ``op``."""
    return Role(role) in MATRIX[op]


def require(role: Role | str, op: Operation, *, user: str = "") -> None:
    """Refuse ``op`` for a role not in its row of :data:`MATRIX`.

    Raises
    ------
    PermissionDenied
        Naming the user, the role and the roles that may.
    """
    if not allowed(role, op):
        who = f"user {user!r} " if user else ""
        roles = ", ".join(sorted(r.value for r in MATRIX[op]))
        raise PermissionDenied(
            f"{who}(role {Role(role).value}) may not {op.value}; allowed roles: {roles}"
        )


def arm_view(role: Role | str, *, trial_status: str) -> ArmView:
    """What a role sees of allocations.

    ``"all"``: real arms (unblinded statistician/DMC; the blinded statistician
    once unblinded after lock); ``"own"``: real arms of participants assigned to
    the user (clinician) or allocated by them (enroller, who tells the
    participant where to go); ``"masked"``: stable codes ("group A"...) that
    keep the grouping but not which arm is which (blinded statistician);
    ``"none"``: no arm, no arm-revealing column or count (assessor, monitor,
    admin, and the ``participant`` system account of self-report links).
    """
    role = Role(role)
    if role is Role.unblinded_statistician:
        return "all"
    if role is Role.statistician:
        return "all" if trial_status == "unblinded" else "masked"
    if role in (Role.clinician, Role.enroller):
        return "own"
    return "none"


def ae_view(role: Role | str) -> AeView:
    """What a role sees of adverse events.

    ``"full"``: every field, the narrative included (enroller and clinician, who
    report them, and the unblinded statistician, who monitors safety by arm);
    ``"coded"``: every coded field (dates, seriousness and its criteria,
    severity, relatedness, expectedness, outcome, action taken, reporter) but not
    the free-text narrative, which can name the intervention (the monitor, for
    source data verification against the clinic notes); ``"none"``: nothing, not
    even whether a participant has any (assessor, blinded statistician, admin,
    and the ``participant`` system account).
    """
    role = Role(role)
    if role not in MATRIX[Operation.view_adverse_events]:
        return "none"
    return "coded" if role is Role.monitor else "full"
