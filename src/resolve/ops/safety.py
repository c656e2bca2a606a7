"""Adverse events: report, follow up and read them; the treating clinician.

An adverse event is reported once (:func:`report_adverse_event`) and followed
up as often as needed (:func:`follow_up_adverse_event`); each report is a new,
never-changed row (:class:`~resolve.store.models_safety.AdverseEvent`,
append-only by database triggers), so an event's history is its rows and its
current state is its newest row. Seriousness follows ICH E2A: an event is
serious when it meets at least one criterion of
:data:`~resolve.store.models_safety.SERIOUS_CRITERIA`, and the criteria are
recorded.

Who may do what is :mod:`resolve.ops.permissions`: enrollers and clinicians
report; what a reader sees is :func:`~resolve.ops.permissions.ae_view`: the
narrative can reveal the arm ("sore after the first session"), so the monitor
sees the coded fields only and the blinded roles (assessor, blinded
statistician, admin) see nothing. Every read that returns an event is an audit
event; each report's audit event carries the SHA-256 of what was stored, never
the narrative (the audit trail is read by monitors and admins).

Examples
--------
>>> import tempfile, pathlib
>>> from resolve import ops
>>> db = pathlib.Path(tempfile.mkdtemp()) / "trial.db"
>>> _ = ops.init_trial(db, admin="ada", demo_seed=7)
>>> _ = ops.Client(db, user="ada").run(ops.add_user, "rc", role="enroller", password=None)
>>> rc = ops.Client(db, user="rc")
>>> _ = rc.run(ops.screen, "P001", age=40, duration_weeks=20, pain=6, identity="1984-02-01 AB")
>>> rc.run(ops.consent, "P001", version="1.0")
>>> event = rc.run(report_adverse_event, "P001", onset_date=date.today().isoformat(),
...                description="Sore lower back after the session", serious=False,
...                severity="mild", relatedness="possible", expectedness="expected",
...                outcome="ongoing", action_taken="none")
>>> _ = rc.run(follow_up_adverse_event, event, outcome="recovered",
...            description="Settled within two days")
>>> frame = rc.run(adverse_events, "P001")
>>> frame[["follow_up", "kind", "outcome", "current"]].values.tolist()
[[0, 'initial', 'ongoing', False], [1, 'follow-up', 'recovered', True]]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops import _ae_checks
from resolve.ops.context import TRIAL_ID, Context, TrialStateError, participant_row
from resolve.ops.enrolment import _same_site
from resolve.ops.permissions import Operation, ae_view
from resolve.store import audit
from resolve.store.models import Participant, Role, TrialStatus, User
from resolve.store.models_safety import AdverseEvent

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AE_COLUMNS",
    "adverse_event_table",
    "adverse_events",
    "care_team",
    "follow_up_adverse_event",
    "report_adverse_event",
]

#: Columns of :func:`adverse_events`, one row per report (initial or follow-up).
AE_COLUMNS = [
    "event_id",
    "report_id",
    "participant_id",
    "follow_up",
    "kind",
    "onset_date",
    "description",
    "serious",
    "serious_criteria",
    "severity",
    "relatedness",
    "expectedness",
    "outcome",
    "action_taken",
    "reporter",
    "reported_at",
    "current",
]


def _writable(ctx: Context, participant: str) -> Participant:
    if ctx.trial.status != TrialStatus.open.value:
        raise TrialStateError(f"the database is {ctx.trial.status}; no data can be changed")
    p = participant_row(ctx, participant, lock=True)
    _same_site(ctx, p)
    if p.consent_version is None:
        raise TrialStateError(
            f"participant {p.code!r} has not consented; adverse events are recorded from consent on"
        )
    return p


def _digest(row: AdverseEvent, code: str) -> str:
    """SHA-256 of what a report stored (the audit event carries it, not the narrative)."""
    body = {
        "participant": code,
        "follows": row.follows_id,
        "follow_up": row.follow_up,
        **{k: getattr(row, k) for k in _FIELDS},
        "reported_at": row.reported_at,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_FIELDS = (
    "onset_date",
    "description",
    "serious",
    "serious_criteria",
    "severity",
    "relatedness",
    "expectedness",
    "outcome",
    "action_taken",
)


def _store(ctx: Context, p: Participant, row: AdverseEvent, action: str) -> int:
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit(
        entity="adverse_event",
        entity_id=f"{p.code}/{row.id}",
        action=action,
        new={
            "event": row.follows_id or row.id,
            "follow_up": row.follow_up,
            "record_sha256": _digest(row, p.code),
        },
    )
    return row.id


# ----------------------------------------------------------------------------- writes
def report_adverse_event(
    ctx: Context,
    participant: str,
    *,
    onset_date: str,
    description: str,
    serious: bool,
    serious_criteria: Iterable[str] = (),
    severity: str,
    relatedness: str,
    expectedness: str,
    outcome: str,
    action_taken: str,
    today: date | None = None,
) -> int:
    """Report an adverse event of a consented participant; the event's id.

    Parameters
    ----------
    participant : str
        The participant's id; they must have consented (events before consent
        are medical history).
    onset_date : str
        ``YYYY-MM-DD``; not in the future and not before consent (each with a
        day's slack for the difference between the server's and the site's date).
    description : str
        The narrative (at most :data:`~resolve.store.models_safety.MAX_DESCRIPTION_LENGTH`
        characters, no control characters but line breaks and tabs).
    serious : bool
        Whether the event is serious; then ``serious_criteria`` names at least
        one ICH E2A criterion, and otherwise none.
    serious_criteria : iterable of str
        Of :data:`~resolve.store.models_safety.SERIOUS_CRITERIA`.
    severity, relatedness, expectedness, outcome, action_taken : str
        One of :data:`~resolve.store.models_safety.SEVERITIES`, ``RELATEDNESS``,
        ``EXPECTEDNESS``, ``OUTCOMES``, ``ACTIONS``.
    today : date, optional
        The date to judge ``onset_date`` against (default: today, UTC).

    Raises
    ------
    DataValidationError
        A field outside its vocabulary or range, naming the field and the value.
    TrialStateError
        The database is locked, or the participant has not consented.
    """
    ctx.require(Operation.report_adverse_events)
    coded = {
        "severity": severity,
        "relatedness": relatedness,
        "expectedness": expectedness,
        "outcome": outcome,
        "action_taken": action_taken,
    }
    fields = _ae_checks.fields(
        description, _ae_checks.seriousness(serious, serious_criteria), coded, None
    )
    p = _writable(ctx, participant)
    row = AdverseEvent(
        participant_id=p.id,
        follows_id=None,
        follow_up=0,
        onset_date=_ae_checks.onset(onset_date, p, today),
        user_id=ctx.actor.id,
        reported_at=audit.now(),
        **fields,
    )
    return _store(ctx, p, row, "report")


def follow_up_adverse_event(
    ctx: Context,
    event_id: int,
    *,
    description: str,
    outcome: str | None = None,
    serious: bool | None = None,
    serious_criteria: Iterable[str] | None = None,
    severity: str | None = None,
    relatedness: str | None = None,
    expectedness: str | None = None,
    action_taken: str | None = None,
    onset_date: str | None = None,
    today: date | None = None,
) -> int:
    """Add a follow-up report to adverse event ``event_id``; the follow-up's id.

    The follow-up restates the event's current assessment: fields not given
    keep the value of the event's newest report; ``description`` is required
    and says what is new. ``serious`` and ``serious_criteria`` go together
    (giving one restates both). Same validation as :func:`report_adverse_event`.

    Raises
    ------
    UnknownNameError
        No adverse event ``event_id``.
    DataValidationError
        ``event_id`` is itself a follow-up (name the event's first report), or a
        field is invalid.
    """
    ctx.require(Operation.report_adverse_events)
    first = ctx.session.get(AdverseEvent, int(event_id))
    if first is None:
        raise UnknownNameError(f"no adverse event {event_id}")
    if first.follows_id is not None:
        raise DataValidationError(
            f"adverse event {event_id} is a follow-up of event {first.follows_id}; "
            f"follow up event {first.follows_id}"
        )
    code = ctx.session.execute(
        select(Participant.code).where(Participant.id == first.participant_id)
    ).scalar_one()
    p = _writable(ctx, code)
    latest = ctx.session.execute(
        select(AdverseEvent)
        .where((AdverseEvent.id == first.id) | (AdverseEvent.follows_id == first.id))
        .order_by(AdverseEvent.follow_up.desc())
        .limit(1)
    ).scalar_one()
    if serious is None and serious_criteria is None:
        seriousness = (latest.serious, list(latest.serious_criteria))
    else:
        seriousness = _ae_checks.seriousness(
            latest.serious if serious is None else serious,
            serious_criteria if serious_criteria is not None else (),
        )
    coded = {
        "severity": severity,
        "relatedness": relatedness,
        "expectedness": expectedness,
        "outcome": outcome,
        "action_taken": action_taken,
    }
    fields = _ae_checks.fields(description, seriousness, coded, latest)
    onset = latest.onset_date if onset_date is None else _ae_checks.onset(onset_date, p, today)
    row = AdverseEvent(
        participant_id=p.id,
        follows_id=first.id,
        follow_up=latest.follow_up + 1,
        onset_date=onset,
        user_id=ctx.actor.id,
        reported_at=audit.now(),
        **fields,
    )
    return _store(ctx, p, row, "follow up")


# ----------------------------------------------------------------------------- reads
def adverse_events(ctx: Context, participant: str | None = None) -> pd.DataFrame:
    """Every adverse event report (of one participant, or all), as this actor may see them.

    One row per report, oldest event first and each event's reports in order;
    columns :data:`AE_COLUMNS`: ``event_id`` (the first report's id),
    ``report_id``, ``participant_id``, ``follow_up`` (0 for the first report),
    ``kind`` (``initial``/``follow-up``), the reported fields, ``reporter``,
    ``reported_at`` and ``current`` (the event's newest report). For the
    monitor (:func:`~resolve.ops.permissions.ae_view` ``"coded"``) every
    ``description`` is None. A read that returns any report is audited.

    Raises
    ------
    PermissionDenied
        A role that may not see adverse events (assessor, statistician, admin:
        :data:`~resolve.ops.permissions.MATRIX`).
    UnknownNameError
        ``participant`` has not been screened.
    """
    import pandas as pd

    ctx.require(Operation.view_adverse_events)
    view = ae_view(ctx.role)
    stmt = (
        select(AdverseEvent, Participant.code, User.name)
        .join(Participant, Participant.id == AdverseEvent.participant_id)
        .join(User, User.id == AdverseEvent.user_id)
        .where(Participant.trial_id == TRIAL_ID)
    )
    code = None
    if participant is not None:
        p = participant_row(ctx, participant)
        code = p.code
        stmt = stmt.where(AdverseEvent.participant_id == p.id)
    found = ctx.session.execute(stmt).all()
    newest: dict[int, int] = {}
    for row, _, _ in found:
        event = row.follows_id or row.id
        newest[event] = max(newest.get(event, -1), row.follow_up)
    records: list[dict[str, Any]] = []
    for row, pcode, reporter in found:
        event = row.follows_id or row.id
        records.append(
            {
                "event_id": event,
                "report_id": row.id,
                "participant_id": pcode,
                "follow_up": row.follow_up,
                "kind": "initial" if row.follows_id is None else "follow-up",
                **{k: getattr(row, k) for k in _FIELDS},
                "serious_criteria": list(row.serious_criteria),
                "reporter": reporter,
                "reported_at": row.reported_at,
                "current": row.follow_up == newest[event],
            }
        )
        if view != "full":
            records[-1]["description"] = None
    records.sort(key=lambda r: (r["event_id"], r["follow_up"]))
    if records:
        ctx.audit(
            entity="read",
            entity_id="adverse events",
            action="read",
            new={"ae_view": view, "participant": code, "rows": len(records)},
        )
    return pd.DataFrame(records, columns=AE_COLUMNS)


_EXPORT_NOTE = (
    "Adverse events, one row per report (first report and follow-ups): event_id, report_id, "
    "participant_id, follow_up (0 = first report), kind, onset_date, description, serious, "
    "serious_criteria (ICH E2A, separated by '; '), severity, relatedness, expectedness, "
    "outcome, action_taken, reporter, reported_at, current (the event's newest report). "
    "The descriptions can reveal the allocation: keep this file from blinded staff."
)


def adverse_event_table(ctx: Context) -> tuple[pd.DataFrame, str]:
    """Every adverse event report as an export table, with its README paragraph (audited).

    The table of :func:`adverse_events` with ``serious_criteria`` joined by
    ``"; "``; for :func:`resolve.ops.export`, which adds it for roles that see
    adverse events in full.
    """
    frame = adverse_events(ctx)
    frame["serious_criteria"] = ["; ".join(c) for c in frame["serious_criteria"]]
    return frame, _EXPORT_NOTE


def care_team(ctx: Context, participant: str) -> dict[str, Any]:
    """The participant's treating clinician and the active clinician accounts to choose from.

    Returns ``{"participant": id, "clinician": name or None, "clinicians": [names]}``
    (for :func:`resolve.ops.assign_clinician`; shows no arm).
    """
    ctx.require(Operation.assign_clinician)
    p = participant_row(ctx, participant)
    names = (
        ctx.session.execute(
            select(User.name)
            .where(User.role == Role.clinician.value, User.active.is_(True))
            .order_by(func.lower(User.name))
        )
        .scalars()
        .all()
    )
    current = None
    if p.clinician_id is not None:
        current = ctx.session.execute(
            select(User.name).where(User.id == p.clinician_id)
        ).scalar_one_or_none()
    return {"participant": p.code, "clinician": current, "clinicians": list(names)}
