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
from resolve.ops.dashboard import dashboard
from resolve.ops.econsent import (
    consent_record,
    consent_records,
    consent_with_record,
    record_econsent,
)
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
from resolve.ops.programme import (
    LoadingOutcome,
    log_drill,
    log_loading,
    log_session,
    override_level,
    rate_imagery,
    record_home_practice,
    record_tolerance_test,
    record_twopoint,
    submit_quiz,
)
from resolve.ops.programme_blocks import BlockOutcome, start_block, submit_block
from resolve.ops.programme_links import (
    ProgrammeLinkInfo,
    create_programme_link,
    link_participant,
    programme_links,
    revoke_programme_link,
    run_as_link,
)
from resolve.ops.programme_loading import ExerciseState, loading_state
from resolve.ops.programme_views import (
    ProgrammeView,
    TodayTask,
    TodayView,
    programme,
    programme_export,
    today,
)
from resolve.ops.safety import (
    adverse_events,
    care_team,
    follow_up_adverse_event,
    report_adverse_event,
)
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
    "BlockOutcome",
    "Client",
    "Context",
    "ExerciseState",
    "InitResult",
    "LoadingOutcome",
    "Operation",
    "PermissionDenied",
    "Problem",
    "ProgrammeLinkInfo",
    "ProgrammeView",
    "TodayTask",
    "TodayView",
    "TrialStateError",
    "add_user",
    "adverse_events",
    "allocations",
    "assign_clinician",
    "care_team",
    "check_password",
    "checkpoint",
    "consent",
    "consent_record",
    "consent_records",
    "consent_with_record",
    "consort",
    "correct",
    "create_link",
    "create_programme_link",
    "dashboard",
    "deactivate_user",
    "emergency_unblind",
    "events",
    "export",
    "follow_up_adverse_event",
    "init_trial",
    "link_participant",
    "list_users",
    "load_key",
    "loading_state",
    "lock_database",
    "log_drill",
    "log_loading",
    "log_session",
    "mark_lost",
    "mark_randomised_in_error",
    "overdue_visits",
    "override_level",
    "participant_links",
    "participant_schedule",
    "participants",
    "programme",
    "programme_export",
    "programme_links",
    "randomise",
    "rate_imagery",
    "record",
    "record_econsent",
    "record_home_practice",
    "record_tolerance_test",
    "record_twopoint",
    "report_adverse_event",
    "responses",
    "revoke_programme_link",
    "run_as_link",
    "screen",
    "set_password",
    "start_block",
    "submit_block",
    "submit_quiz",
    "today",
    "trial_schedule",
    "unblind_statistician",
    "verify_trial",
    "visits",
    "withdraw",
]
