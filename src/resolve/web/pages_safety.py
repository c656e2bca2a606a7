"""Trial staff pages of participant safety: adverse events (list, report, follow-up),
emergency unblinding and the treating clinician.

Every endpoint carries a :func:`~resolve.web.routing.rule` and the service layer
checks the role again (:mod:`resolve.ops.safety`). What a reader sees of adverse
events is :func:`~resolve.ops.permissions.ae_view`: the narrative only for
``"full"``; roles with ``"none"`` are refused every page here. An emergency
unblinding shows the arm only in the answer to its confirmed POST.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resolve import ops
from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops.permissions import Operation, ae_view
from resolve.store.models_safety import (
    ACTIONS,
    EXPECTEDNESS,
    MAX_DESCRIPTION_LENGTH,
    OUTCOMES,
    RELATEDNESS,
    SERIOUS_CRITERIA,
    SEVERITIES,
)
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.i18n import t
from resolve.web.pages_participants import participant_row
from resolve.web.pages_support import Form, clean, href, may
from resolve.web.routing import rule

__all__ = ["CHOICES", "router"]

router = APIRouter(include_in_schema=False)

#: Form field -> its vocabulary (select boxes and radio groups of the form).
CHOICES: dict[str, tuple[str, ...]] = {
    "severity": SEVERITIES,
    "relatedness": RELATEDNESS,
    "expectedness": EXPECTEDNESS,
    "outcome": OUTCOMES,
    "action_taken": ACTIONS,
}
_FIELD = re.compile(r"^adverse event (\w+):")


# ----------------------------------------------------------------------------- adverse events
def _events(runner: ops.Client, participant: str) -> list[dict[str, Any]]:
    """The participant's events, each with its reports (oldest first); an audited read."""
    frame = runner.run(ops.adverse_events, participant)
    events: dict[int, dict[str, Any]] = {}
    for r in frame.to_dict("records"):
        report = {k: clean(v) for k, v in r.items()}
        event = events.setdefault(int(r["event_id"]), {"id": int(r["event_id"]), "reports": []})
        event["reports"].append(report)
        if r["current"]:
            event["current"] = report
    return list(events.values())


@router.get("/participants/{participant}/adverse-events", response_class=HTMLResponse)
@rule("operation", Operation.view_adverse_events)
def adverse_events_page(
    request: Request, who: Who, participant: str, done: str = ""
) -> HTMLResponse:
    """Every adverse event of the participant with its reports (narratives for "full")."""
    runner = client(request, who)
    row = participant_row(runner, participant)
    role = who.role if who else None
    return render(
        request,
        "p_adverse_events.html",
        who,
        p=row,
        events=_events(runner, participant),
        narrative=role is not None and ae_view(role) == "full",
        can_report=may(role, Operation.report_adverse_events) and bool(row["consented_at"]),
        done=t("ae.done." + done) if done in ("reported", "followed_up") else None,
        href=href,
    )


def _form_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: " ".join(str(form.get(name, "")).split())
        for name in ("onset_date", "serious", *CHOICES)
    }
    values["description"] = str(form.get("description", "")).replace("\r\n", "\n").strip()
    values["serious_criteria"] = [str(c) for c in form.getlist("serious_criteria")]
    return values


def _form_errors(values: dict[str, Any]) -> dict[str, str]:
    """What the form itself can tell (the service layer checks again, and more)."""
    errors: dict[str, str] = {}
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", values["onset_date"]):
        errors["onset_date"] = t("ae.err.onset_date")
    if not values["description"]:
        errors["description"] = t("ae.err.description")
    elif len(values["description"]) > MAX_DESCRIPTION_LENGTH:
        errors["description"] = t("ae.err.description_long", n=MAX_DESCRIPTION_LENGTH)
    if values["serious"] not in ("yes", "no"):
        errors["serious"] = t("ae.err.serious")
    elif values["serious"] == "yes" and not values["serious_criteria"]:
        errors["serious_criteria"] = t("ae.err.criteria_needed")
    elif values["serious"] == "no" and values["serious_criteria"]:
        errors["serious_criteria"] = t("ae.err.criteria_not_serious")
    for name, allowed in CHOICES.items():
        if values[name] not in allowed:
            errors[name] = t("ae.err.choose", field=t("ae.f." + name))
    return errors


def _form_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    event: dict[str, Any] | None = None,
    general: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    runner = client(request, who)
    page = render(
        request,
        "p_adverse_event_form.html",
        who,
        p=participant_row(runner, participant),
        event=event,
        values=values,
        errors=errors,
        general=general,
        choices=CHOICES,
        criteria=SERIOUS_CRITERIA,
        max_description=MAX_DESCRIPTION_LENGTH,
        href=href,
    )
    page.status_code = status
    return page


def _submit(
    request: Request,
    who: Who,
    participant: str,
    form: Any,
    event: dict[str, Any] | None,
) -> Response:
    """Validate the form, then report (``event`` None) or follow up ``event``."""
    check_csrf(who, str(form.get("csrf_token", "")))
    values = _form_values(form)
    errors = _form_errors(values)
    if errors:
        return _form_page(
            request, who, participant, values=values, errors=errors, event=event, status=422
        )
    fields = {
        "onset_date": values["onset_date"],
        "description": values["description"],
        "serious": values["serious"] == "yes",
        "serious_criteria": values["serious_criteria"],
        **{name: values[name] for name in CHOICES},
    }
    runner = client(request, who)
    try:
        if event is None:
            runner.run(ops.report_adverse_event, participant, **fields)
        else:
            runner.run(ops.follow_up_adverse_event, event["id"], **fields)
    except (DataValidationError, ops.TrialStateError) as exc:
        message = str(exc)
        found = _FIELD.match(message)
        field = found.group(1) if found and found.group(1) in values else None
        return _form_page(
            request,
            who,
            participant,
            values=values,
            errors={field: message} if field else {},
            general=None if field else message,
            event=event,
            status=422 if isinstance(exc, DataValidationError) else 409,
        )
    done = "reported" if event is None else "followed_up"
    return RedirectResponse(
        href("participants", participant, "adverse-events") + f"?done={done}", status_code=303
    )


@router.get("/participants/{participant}/adverse-events/new", response_class=HTMLResponse)
@rule("operation", Operation.report_adverse_events)
def report_page(request: Request, who: Who, participant: str) -> HTMLResponse:
    """The form to report a new adverse event."""
    today = datetime.now(UTC).date().isoformat()
    values = {"onset_date": today, "serious": "", "serious_criteria": [], "description": ""}
    values.update(dict.fromkeys(CHOICES, ""))
    return _form_page(request, who, participant, values=values, errors={})


@router.post("/participants/{participant}/adverse-events", response_class=HTMLResponse)
@rule("operation", Operation.report_adverse_events)
def report_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Report an adverse event; back to the participant's events."""
    return _submit(request, who, participant, form, None)


def _event(request: Request, who: Who, participant: str, event_id: int) -> dict[str, Any]:
    for event in _events(client(request, who), participant):
        if event["id"] == event_id:
            return event
    raise UnknownNameError(t("ae.unknown", id=event_id, participant=participant))


@router.get(
    "/participants/{participant}/adverse-events/{event_id}/follow-up",
    response_class=HTMLResponse,
)
@rule("operation", Operation.report_adverse_events)
def follow_up_page(request: Request, who: Who, participant: str, event_id: int) -> HTMLResponse:
    """The follow-up form, filled in with the event's current assessment."""
    event = _event(request, who, participant, event_id)
    now = event["current"]
    values = {name: now[name] for name in ("onset_date", "serious_criteria", *CHOICES)}
    values.update(serious="yes" if now["serious"] else "no", description="")
    return _form_page(request, who, participant, values=values, errors={}, event=event)


@router.post(
    "/participants/{participant}/adverse-events/{event_id}/follow-up",
    response_class=HTMLResponse,
)
@rule("operation", Operation.report_adverse_events)
def follow_up_submit(
    request: Request, who: Who, participant: str, event_id: int, form: Form
) -> Response:
    """Add a follow-up report (a new row: the earlier reports stay as they were)."""
    check_csrf(who, str(form.get("csrf_token", "")))
    event = _event(request, who, participant, event_id)
    return _submit(request, who, participant, form, event)


# ----------------------------------------------------------------------------- emergency unblinding
def _unblind_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    row = participant_row(client(request, who), participant)
    page = render(request, "p_unblind.html", who, p=row, values=values, errors=errors, href=href)
    page.status_code = status
    return page


@router.get("/participants/{participant}/unblind", response_class=HTMLResponse)
@rule("operation", Operation.emergency_unblind)
def unblind_page(request: Request, who: Who, participant: str) -> HTMLResponse:
    """The emergency unblinding form: a reason and an explicit confirmation."""
    return _unblind_page(request, who, participant, values={}, errors={})


@router.post("/participants/{participant}/unblind", response_class=HTMLResponse)
@rule("operation", Operation.emergency_unblind)
def unblind_submit(request: Request, who: Who, participant: str, form: Form) -> HTMLResponse:
    """Unblind one participant (audited, recorded); the arm is shown in this answer only."""
    check_csrf(who, str(form.get("csrf_token", "")))
    reason = " ".join(str(form.get("reason", "")).split())
    confirmed = form.get("confirmed") == "yes"
    errors: dict[str, str] = {}
    if not reason:
        errors["unblind"] = t("unblind.err.reason")
    if not confirmed:
        errors["confirmed"] = t("unblind.err.confirm")
    if errors:
        values = {"reason": reason, "confirmed": confirmed}
        return _unblind_page(request, who, participant, values=values, errors=errors, status=422)
    arm = client(request, who).run(ops.emergency_unblind, participant, reason=reason)
    return render(request, "p_unblinded.html", who, participant=participant, arm=arm, href=href)


# ----------------------------------------------------------------------------- clinician
def _clinician_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    team = client(request, who).run(ops.care_team, participant)
    page = render(request, "p_clinician.html", who, team=team, errors=errors, href=href)
    page.status_code = status
    return page


@router.get("/participants/{participant}/clinician", response_class=HTMLResponse)
@rule("operation", Operation.assign_clinician)
def clinician_page(request: Request, who: Who, participant: str) -> HTMLResponse:
    """Choose the participant's treating clinician (who then sees their arm)."""
    return _clinician_page(request, who, participant, errors={})


@router.post("/participants/{participant}/clinician", response_class=HTMLResponse)
@rule("operation", Operation.assign_clinician)
def clinician_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Assign the treating clinician (audited); back to the participant page."""
    check_csrf(who, str(form.get("csrf_token", "")))
    name = str(form.get("clinician", "")).strip()
    if not name:
        return _clinician_page(
            request, who, participant, errors={"clinician": t("clinician.err.choose")}, status=422
        )
    try:
        client(request, who).run(ops.assign_clinician, participant, clinician=name)
    except DataValidationError as exc:
        return _clinician_page(
            request, who, participant, errors={"clinician": str(exc)}, status=422
        )
    return RedirectResponse(href("participants", participant) + "?done=clinician", status_code=303)
