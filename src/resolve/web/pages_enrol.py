"""Trial staff pages of enrolment: screening (each eligibility criterion with its
verdict), e-consent (typed name, version, archived copy) and randomisation (a
confirmation step; the arm shown only to roles that may see it).

Every endpoint carries a :func:`~resolve.web.routing.rule`; the service layer
checks the role again. The arm returned by :func:`resolve.ops.randomise` is
shown only when the actor's arm view is not ``"none"``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resolve import ops
from resolve.errors import DataValidationError
from resolve.ops import econsent
from resolve.ops.permissions import Operation
from resolve.trial.status import ParticipantStatus
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.i18n import t
from resolve.web.pages_participants import Criterion, criteria, participant_row, protocol_of
from resolve.web.pages_support import Form, actor_site, arm_view_of, href, may
from resolve.web.routing import rule

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


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
    protocol = protocol_of(runner)
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
    protocol = protocol_of(runner)
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
    protocol = protocol_of(runner)
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
    protocol = protocol_of(runner)
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
