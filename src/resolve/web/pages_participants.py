"""Trial staff pages about one participant: the participant page (status, screening,
consent records, visit calendar, questionnaires, adverse events, links to the
safety pages) and the status actions (withdrawal, lost to follow-up, randomised
in error); the helpers the other participant pages share.

Every endpoint carries a :func:`~resolve.web.routing.rule`; the service layer
checks the role again. Arms are never read here: the participant row of
:func:`resolve.ops.participants` already holds only what the actor may see.
Adverse events appear only for a role whose
:func:`~resolve.ops.permissions.ae_view` is not ``"none"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resolve import ops
from resolve.errors import UnknownNameError
from resolve.ops import econsent
from resolve.ops.permissions import Operation, ae_view
from resolve.trial.protocol import Protocol
from resolve.trial.status import TRANSITIONS, ParticipantStatus
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.i18n import t
from resolve.web.pages_support import Form, clean, href, may
from resolve.web.routing import rule

__all__ = [
    "Criterion",
    "adverse_event_summary",
    "criteria",
    "participant_row",
    "protocol_of",
    "router",
]

router = APIRouter(include_in_schema=False)


# ----------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class Criterion:
    """One eligibility criterion as screened: what, whether it is met, and why."""

    label: str
    ok: bool
    why: str


def _num(x: float) -> str:
    return f"{x:g}"


def criteria(
    protocol: Protocol, *, age: int, duration_weeks: float, pain: int, exclusions: list[str]
) -> list[Criterion]:
    """Each inclusion threshold and exclusion of the protocol, judged for these answers."""
    spec = protocol.eligibility
    out = [
        Criterion(
            t("screen.crit.age"),
            spec.age_min <= age <= spec.age_max,
            t("screen.why.age", value=age, low=spec.age_min, high=spec.age_max),
        ),
        Criterion(
            t("screen.crit.duration"),
            duration_weeks >= spec.duration_weeks_min,
            t(
                "screen.why.duration",
                value=_num(duration_weeks),
                low=_num(spec.duration_weeks_min),
            ),
        ),
        Criterion(
            t("screen.crit.pain"),
            pain >= spec.pain_min,
            t("screen.why.pain", value=pain, low=spec.pain_min),
        ),
    ]
    for e in spec.exclusions:
        applies = e.name in exclusions
        out.append(
            Criterion(
                t("screen.crit.exclusion", label=e.label),
                not applies,
                t("screen.why.excl_applies") if applies else t("screen.why.excl_absent"),
            )
        )
    return out


def protocol_of(runner: ops.Client) -> Protocol:
    """The trial's protocol."""
    return runner.run(lambda ctx: ctx.protocol)


def participant_row(runner: ops.Client, participant: str) -> dict[str, Any]:
    """The participant as the actor may see it (arm filtered by the service layer).

    Raises
    ------
    UnknownNameError
        No such participant (404).
    """
    frame = runner.run(ops.participants)
    rows = frame[frame["participant_id"] == participant].to_dict("records")
    if not rows:
        raise UnknownNameError(t("participant.unknown", id=participant))
    return {str(k): clean(v) for k, v in rows[0].items()}


def _can(action: str, status: str | None) -> bool:
    return status is not None and ParticipantStatus(status) in TRANSITIONS[action]


# ----------------------------------------------------------------------------- participant page
_DONE = {
    "withdrawn": "participant.done.withdrawn",
    "lost": "participant.done.lost",
    "in_error": "participant.done.in_error",
    "clinician": "participant.done.clinician",
}


def adverse_event_summary(runner: ops.Client, participant: str) -> dict[str, Any]:
    """The participant's adverse events as their newest reports say (an audited read).

    ``{"events": [...], "serious": n}``; each event: ``event_id, onset_date,
    serious, serious_criteria, severity, outcome, reports`` (how many reports).
    """
    frame = runner.run(ops.adverse_events, participant)
    if frame.empty:
        return {"events": [], "serious": 0}
    counts = frame.groupby("event_id").size().to_dict()
    events = []
    for r in frame[frame["current"]].to_dict("records"):
        events.append(
            {
                "event_id": int(r["event_id"]),
                "onset_date": r["onset_date"],
                "serious": bool(r["serious"]),
                "serious_criteria": list(r["serious_criteria"]),
                "severity": r["severity"],
                "outcome": r["outcome"],
                "reports": int(counts[r["event_id"]]),
            }
        )
    return {"events": events, "serious": sum(e["serious"] for e in events)}


def _questionnaires(
    runner: ops.Client, protocol: Protocol, participant: str, *, can_view: bool
) -> list[dict[str, Any]]:
    """Per protocol visit with questionnaires: each instrument, recorded or not, with score."""
    recorded: dict[tuple[str, str], dict[str, Any]] = {}
    if can_view:
        frame = runner.run(ops.responses)
        mine = frame[frame["participant_id"] == participant]
        for r in mine.to_dict("records"):
            scores = r["scores"] or {}
            recorded[(str(r["visit"]), str(r["instrument"]))] = {
                "total": (scores.get("scores") or {}).get("total"),
                "revision": r["version"],
                "recorded_at": r["recorded_at"],
            }
    visits = []
    for v in protocol.visits:
        if not v.instruments:
            continue
        visits.append(
            {
                "visit": v.name,
                "instruments": [
                    {
                        "id": inst,
                        "done": recorded.get((v.name, inst)),
                        "href": href("participants", participant, "record", v.name, inst),
                    }
                    for inst in v.instruments
                ],
            }
        )
    return visits


def _participant_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    action_errors: dict[str, str] | None = None,
    done: str = "",
    status: int = 200,
) -> HTMLResponse:
    runner = client(request, who)
    row = participant_row(runner, participant)
    protocol = protocol_of(runner)
    role = who.role if who else None
    screening = None
    if row.get("age") is not None and row.get("pain") is not None:
        screening = criteria(
            protocol,
            age=int(row["age"]),
            duration_weeks=float(row.get("duration_weeks") or 0),
            pain=int(row["pain"]),
            exclusions=list(row.get("exclusions") or []),
        )
    calendar: list[dict[str, Any]] = []
    if row.get("randomised_at"):
        frame = runner.run(ops.participant_schedule, participant)
        calendar = [{k: clean(v) for k, v in r.items()} for r in frame.to_dict("records")]
    can_view = may(role, Operation.view_responses)
    recordable = row["status"] in (ParticipantStatus.consented, ParticipantStatus.randomised)
    st = row["status"]
    sees_ae = role is not None and ae_view(role) != "none"
    page = render(
        request,
        "p_participant.html",
        who,
        p=row,
        screening=screening,
        records=runner.run(econsent.consent_records, participant),
        calendar=calendar,
        questionnaires=_questionnaires(runner, protocol, participant, can_view=can_view),
        can_view_responses=can_view,
        can_record=may(role, Operation.record) and recordable,
        can_open_entry=may(role, Operation.record),
        can_links=may(role, Operation.create_participant_link) and recordable,
        can_consent=may(role, Operation.consent) and _can("consent", st),
        can_randomise=may(role, Operation.randomise) and _can("randomise", st),
        can_rescreen=may(role, Operation.screen) and _can("screen", st),
        can_withdraw=may(role, Operation.withdraw) and _can("withdraw", st),
        can_lost=may(role, Operation.mark_lost) and _can("mark lost", st),
        can_in_error=may(role, Operation.mark_randomised_in_error)
        and _can("mark randomised in error", st),
        ae=adverse_event_summary(runner, participant) if sees_ae else None,
        can_report_ae=may(role, Operation.report_adverse_events) and bool(row["consented_at"]),
        can_unblind=may(role, Operation.emergency_unblind) and bool(row["randomised_at"]),
        can_assign=may(role, Operation.assign_clinician),
        action_errors=action_errors or {},
        done=t(_DONE[done]) if done in _DONE else None,
        href=href,
    )
    page.status_code = status
    return page


@router.get("/participants/{participant}", response_class=HTMLResponse)
@rule("user")
def participant_page(request: Request, who: Who, participant: str, done: str = "") -> HTMLResponse:
    """Status, dates, screening, consent records, visit calendar, questionnaires, adverse
    events (roles that may see them), actions."""
    return _participant_page(request, who, participant, done=done)


def _status_action(
    request: Request,
    who: Who,
    participant: str,
    form: Any,
    op: Any,
    key: str,
    done: str,
) -> Response:
    check_csrf(who, str(form.get("csrf_token", "")))
    reason = " ".join(str(form.get("reason", "")).split())
    if not reason:
        return _participant_page(
            request,
            who,
            participant,
            action_errors={key: t("participant.err.reason")},
            status=422,
        )
    client(request, who).run(op, participant, reason=reason)
    return RedirectResponse(href("participants", participant) + f"?done={done}", status_code=303)


@router.post("/participants/{participant}/withdraw")
@rule("operation", Operation.withdraw)
def withdraw_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Record a withdrawal with its reason (data are kept)."""
    return _status_action(request, who, participant, form, ops.withdraw, "withdraw", "withdrawn")


@router.post("/participants/{participant}/lost")
@rule("operation", Operation.mark_lost)
def lost_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Record a randomised participant as lost to follow-up, with the reason."""
    return _status_action(request, who, participant, form, ops.mark_lost, "lost", "lost")


@router.post("/participants/{participant}/randomised-in-error")
@rule("operation", Operation.mark_randomised_in_error)
def in_error_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Mark a randomised participant "randomised in error" (the allocation stays)."""
    return _status_action(
        request, who, participant, form, ops.mark_randomised_in_error, "in_error", "in_error"
    )
