"""Trial staff pages about participants: screening, e-consent, randomisation, the
participant page (calendar, questionnaires, status actions).

Every endpoint carries a :func:`~resolve.web.routing.rule`; the service layer
checks the role again. Arms are never read here: the participant row of
:func:`resolve.ops.participants` already holds only what the actor may see, and
the arm returned by :func:`resolve.ops.randomise` is shown only when the actor's
arm view is not ``"none"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resolve import ops
from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops import econsent
from resolve.ops.permissions import Operation
from resolve.trial.protocol import Protocol
from resolve.trial.status import TRANSITIONS, ParticipantStatus
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.i18n import t
from resolve.web.pages_support import Form, actor_site, arm_view_of, clean, href, may
from resolve.web.routing import rule

__all__ = ["Criterion", "criteria", "participant_row", "router"]

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


def _protocol(runner: ops.Client) -> Protocol:
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


# ----------------------------------------------------------------------------- screening
_SCREEN_FIELDS = ("participant", "age", "duration_weeks", "pain", "identity")


def _screen_page(
    request: Request,
    who: Who,
    runner: ops.Client,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    general: str | None = None,
    result: Any = None,
    judged: list[Criterion] | None = None,
    status: int = 200,
) -> HTMLResponse:
    protocol = _protocol(runner)
    page = render(
        request,
        "p_screen.html",
        who,
        protocol=protocol,
        site=actor_site(runner),
        values=values,
        errors=errors,
        general=general,
        result=result,
        judged=judged or [],
        may_consent=may(who.role if who else None, Operation.consent),
        href=href,
    )
    page.status_code = status
    return page


@router.get("/screen", response_class=HTMLResponse)
@rule("operation", Operation.screen)
def screen_page(request: Request, who: Who, participant: str = "") -> HTMLResponse:
    """The screening form (rescreening: ``?participant=ID`` fills in the id)."""
    runner = client(request, who)
    return _screen_page(
        request, who, runner, values={"participant": participant, "exclusions": []}, errors={}
    )


def _int(text: str, low: int, high: int | None) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    if value < low or (high is not None and value > high):
        return None
    return value


def _field_of(message: str) -> str | None:
    lowered = message.lower()
    for prefix, field in (
        ("age", "age"),
        ("pain", "pain"),
        ("duration", "duration_weeks"),
        ("identifying", "identity"),
        ("participant id", "participant"),
        ("unknown exclusion", "exclusions"),
    ):
        if lowered.startswith(prefix):
            return field
    return None


@router.post("/screen", response_class=HTMLResponse)
@rule("operation", Operation.screen)
def screen_submit(request: Request, who: Who, form: Form) -> HTMLResponse:
    """Screen one person; shows each criterion with its verdict."""
    check_csrf(who, str(form.get("csrf_token", "")))
    runner = client(request, who)
    protocol = _protocol(runner)
    values: dict[str, Any] = {k: str(form.get(k, "")).strip() for k in _SCREEN_FIELDS}
    exclusions = [str(x) for x in form.getlist("exclusions")]
    values["exclusions"] = exclusions
    errors: dict[str, str] = {}
    if not values["participant"]:
        errors["participant"] = t("screen.err.required")
    else:
        try:
            values["participant"] = protocol.check_participant_id(values["participant"])
        except DataValidationError as exc:
            errors["participant"] = str(exc)
    age = _int(values["age"], 0, 130)
    if age is None:
        errors["age"] = t("screen.err.age")
    pain = _int(values["pain"], 0, 10)
    if pain is None:
        errors["pain"] = t("screen.err.pain")
    try:
        duration: float | None = float(values["duration_weeks"])
        if duration is None or not math.isfinite(duration) or duration < 0:
            duration = None
    except ValueError:
        duration = None
    if duration is None:
        errors["duration_weeks"] = t("screen.err.duration")
    if len(values["identity"]) < 4:
        errors["identity"] = t("screen.err.identity")
    known = {e.name for e in protocol.eligibility.exclusions}
    if not set(exclusions) <= known:
        errors["exclusions"] = t("screen.err.exclusion")
    factors: dict[str, str] = {}
    site = actor_site(runner)
    for name, levels in protocol.strata_levels.items():
        if name == "site" and site is not None:
            factors[name] = site
            continue
        chosen = str(form.get(f"factor_{name}", "")).strip()
        values[f"factor_{name}"] = chosen
        if chosen in levels:
            factors[name] = chosen
        elif chosen or len(levels) > 1:
            errors[f"factor_{name}"] = t("screen.err.factor", levels=", ".join(levels))
    if errors:
        return _screen_page(request, who, runner, values=values, errors=errors, status=422)
    assert age is not None and pain is not None and duration is not None
    try:
        result = runner.run(
            ops.screen,
            values["participant"],
            age=age,
            duration_weeks=duration,
            pain=pain,
            identity=values["identity"],
            exclusions=exclusions,
            factors=factors,
        )
    except DataValidationError as exc:
        field = _field_of(str(exc))
        if field is None:
            return _screen_page(
                request, who, runner, values=values, errors={}, general=str(exc), status=422
            )
        return _screen_page(
            request, who, runner, values=values, errors={field: str(exc)}, status=422
        )
    except ops.TrialStateError as exc:
        return _screen_page(
            request, who, runner, values=values, errors={}, general=str(exc), status=409
        )
    judged = criteria(protocol, age=age, duration_weeks=duration, pain=pain, exclusions=exclusions)
    return _screen_page(
        request,
        who,
        runner,
        values={"participant": "", "exclusions": []},
        errors={},
        result={"participant": values["participant"], "eligible": result.eligible},
        judged=judged,
    )


# ----------------------------------------------------------------------------- consent
def _consent_document(
    request: Request, *, participant: str, version: str, typed_name: str, trial: str
) -> str:
    """The archived HTML copy of what the participant agreed to (our own words)."""
    template = request.app.state.templates.env.get_template("p_consent_document.html")
    text: str = template.render(
        t=t,
        participant=participant,
        version=version,
        typed_name=typed_name,
        trial=trial,
        signed_on=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return text


def _consent_page(
    request: Request,
    who: Who,
    runner: ops.Client,
    participant: str,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    general: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    row = participant_row(runner, participant)
    protocol = _protocol(runner)
    preview = _consent_document(
        request,
        participant=participant,
        version=values.get("version") or protocol.consent_versions[-1],
        typed_name="",
        trial=protocol.name,
    )
    page = render(
        request,
        "p_consent.html",
        who,
        p=row,
        versions=protocol.consent_versions,
        values=values,
        errors=errors,
        general=general,
        preview=preview,
        href=href,
    )
    page.status_code = status
    return page


@router.get("/participants/{participant}/consent", response_class=HTMLResponse)
@rule("operation", Operation.consent)
def consent_page(request: Request, who: Who, participant: str) -> HTMLResponse:
    """The e-consent form: version, typed name, agreement."""
    runner = client(request, who)
    return _consent_page(request, who, runner, participant, values={}, errors={})


@router.post("/participants/{participant}/consent", response_class=HTMLResponse)
@rule("operation", Operation.consent)
def consent_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Record consent and its e-consent record (one transaction), then show the record."""
    check_csrf(who, str(form.get("csrf_token", "")))
    runner = client(request, who)
    protocol = _protocol(runner)
    values = {
        "version": str(form.get("version", "")).strip(),
        "typed_name": " ".join(str(form.get("typed_name", "")).split()),
        "agreed": form.get("agreed") == "yes",
    }
    errors: dict[str, str] = {}
    if values["version"] not in protocol.consent_versions:
        errors["version"] = t("consent.err.version")
    if not values["typed_name"]:
        errors["typed_name"] = t("consent.err.name")
    elif len(str(values["typed_name"])) > econsent.MAX_NAME_LENGTH:
        errors["typed_name"] = t("consent.err.name_long", n=econsent.MAX_NAME_LENGTH)
    if not values["agreed"]:
        errors["agreed"] = t("consent.err.agreed")
    if errors:
        return _consent_page(
            request, who, runner, participant, values=values, errors=errors, status=422
        )
    document = _consent_document(
        request,
        participant=participant,
        version=str(values["version"]),
        typed_name=str(values["typed_name"]),
        trial=protocol.name,
    )
    try:
        record_id = runner.run(
            econsent.consent_with_record,
            participant,
            version=str(values["version"]),
            typed_name=str(values["typed_name"]),
            document_html=document,
        )
    except (DataValidationError, ops.TrialStateError) as exc:
        code = 422 if isinstance(exc, DataValidationError) else 409
        return _consent_page(
            request,
            who,
            runner,
            participant,
            values=values,
            errors={},
            general=str(exc),
            status=code,
        )
    return RedirectResponse(
        href("participants", participant, "consent", record_id) + "?done=1", status_code=303
    )


@router.get("/participants/{participant}/consent/{record_id}", response_class=HTMLResponse)
@rule("operation", Operation.view_participants)
def consent_record_page(
    request: Request, who: Who, participant: str, record_id: int, done: int = 0
) -> HTMLResponse:
    """An archived e-consent record: who typed what when, the document and its hash."""
    runner = client(request, who)
    record = runner.run(econsent.consent_record, participant, record_id)
    return render(request, "p_consent_record.html", who, r=record, done=bool(done), href=href)


@router.get("/participants/{participant}/consent/{record_id}/document")
@rule("operation", Operation.view_participants)
def consent_document_download(
    request: Request, who: Who, participant: str, record_id: int
) -> Response:
    """The archived document, byte for byte (its SHA-256 is the recorded one)."""
    runner = client(request, who)
    record = runner.run(econsent.consent_record, participant, record_id)
    name = f"consent-{record['participant_id']}-{record['id']}.html"
    return Response(
        record["document_html"].encode("utf-8"),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ----------------------------------------------------------------------------- randomise
@router.get("/participants/{participant}/randomise", response_class=HTMLResponse)
@rule("operation", Operation.randomise)
def randomise_page(request: Request, who: Who, participant: str) -> HTMLResponse:
    """The confirmation step before randomising."""
    runner = client(request, who)
    row = participant_row(runner, participant)
    return render(
        request,
        "p_randomise.html",
        who,
        p=row,
        ready=row["status"] == ParticipantStatus.consented,
        href=href,
    )


@router.post("/participants/{participant}/randomise", response_class=HTMLResponse)
@rule("operation", Operation.randomise)
def randomise_submit(request: Request, who: Who, participant: str, form: Form) -> HTMLResponse:
    """Randomise; the arm is shown only to a role whose arm view is not "none"."""
    check_csrf(who, str(form.get("csrf_token", "")))
    runner = client(request, who)
    arm = runner.run(ops.randomise, participant)
    shown = arm if arm_view_of(runner) != "none" else None
    return render(request, "p_randomised.html", who, participant=participant, arm=shown, href=href)


# ----------------------------------------------------------------------------- participant page
_DONE = {
    "withdrawn": "participant.done.withdrawn",
    "lost": "participant.done.lost",
    "in_error": "participant.done.in_error",
}


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
    protocol = _protocol(runner)
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
        action_errors=action_errors or {},
        done=t(_DONE[done]) if done in _DONE else None,
        href=href,
    )
    page.status_code = status
    return page


@router.get("/participants/{participant}", response_class=HTMLResponse)
@rule("user")
def participant_page(request: Request, who: Who, participant: str, done: str = "") -> HTMLResponse:
    """Status, dates, screening, consent records, visit calendar, questionnaires, actions."""
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
