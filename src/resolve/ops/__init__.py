"""Application services of a trial: operations shared by the CLI and the web app.

Each operation is a function ``op(ctx, ...)`` taking a
:class:`~resolve.ops.context.Context` (an open session, the authenticated actor,
the trial, its protocol and key), checking the actor's role
(:mod:`resolve.ops.permissions`) before anything else, changing the store and
writing its audit event(s) in the same transaction. :class:`Client` runs one
operation per transaction for a given database and user.

Examples
--------
>>> import tempfile, pathlib
>>> from resolve import ops
>>> db = pathlib.Path(tempfile.mkdtemp()) / "trial.db"
>>> _ = ops.init_trial(db, admin="ada", demo_seed=7)
>>> _ = ops.Client(db, user="ada").run(ops.add_user, "rc", role="enroller", password=None)
>>> rc = ops.Client(db, user="rc")
>>> rc.run(ops.screen, "P001", age=40, duration_weeks=20, pain=6, identity="1984-02-01 AB",
...        factors={"site": "sydney"}).eligible
True
>>> rc.run(ops.consent, "P001", version="1.0")
>>> rc.run(ops.randomise, "P001") in {"sham", "resolve"}
True
"""

from __future__ import annotations

from resolve.ops.audit_trail import (
    Problem,
    checkpoint,
    events,
    lock_database,
    unblind_statistician,
    verify_trial,
)
from resolve.ops.capture import correct, record
from resolve.ops.context import Client, Context, TrialStateError, load_key
from resolve.ops.enrolment import (
    assign_clinician,
    consent,
    emergency_unblind,
    mark_lost,
    mark_randomised_in_error,
    randomise,
    screen,
    withdraw,
)
from resolve.ops.links import create_link, participant_links
from resolve.ops.permissions import MATRIX, Operation, PermissionDenied
from resolve.ops.setup import (
    InitResult,
    add_user,
    check_password,
    deactivate_user,
    init_trial,
    list_users,
    set_password,
)
from resolve.ops.views import (
    allocations,
    consort,
    export,
    overdue_visits,
    participant_schedule,
    participants,
    responses,
    trial_schedule,
    visits,
)

__all__ = [
    "MATRIX",
    "Client",
    "Context",
    "InitResult",
    "Operation",
    "PermissionDenied",
    "Problem",
    "TrialStateError",
    "add_user",
    "allocations",
    "assign_clinician",
    "check_password",
    "checkpoint",
    "consent",
    "consort",
    "correct",
    "create_link",
    "deactivate_user",
    "emergency_unblind",
    "events",
    "export",
    "init_trial",
    "list_users",
    "load_key",
    "lock_database",
    "mark_lost",
    "mark_randomised_in_error",
    "overdue_visits",
    "participant_links",
    "participant_schedule",
    "participants",
    "randomise",
    "record",
    "responses",
    "screen",
    "set_password",
    "trial_schedule",
    "unblind_statistician",
    "verify_trial",
    "visits",
    "withdraw",
]
