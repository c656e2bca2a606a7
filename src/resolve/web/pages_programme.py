"""Trial staff pages of the retraining programme: a participant's programme, the session
log with its fidelity checklist, progression overrides and the patient's programme link.

- ``GET /programme/{participant}`` -- the week's plan, current task levels,
  adherence, figures (LRJ accuracy and reaction time over the weeks, the tactile
  error map, weekly pain), the session log and every progression decision
  (``view programme``: the treating clinician and the unblinded statistician;
  audited by the service layer, because programme data reveal the arm);
- ``GET``/``POST /programme/{participant}/session`` -- log a week's session
  (attendance, minutes, components delivered with the fidelity checklist of
  each, pain, adverse events, notes); a week already logged needs a reason;
- ``GET``/``POST /programme/{participant}/override`` -- set a task's level, with
  a reason;
- ``GET``/``POST /programme/{participant}/link`` -- the patient's personal
  programme link (shown once), revocation.

Every route carries a :func:`~resolve.web.routing.rule`; the service layer
checks the role again, and that a clinician treats the participant.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resolve import ops
from resolve.errors import DataValidationError
from resolve.ops.context import TrialStateError
from resolve.ops.permissions import Operation
from resolve.program.sessions import session_fidelity
from resolve.program.template import TASKS, Template
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.i18n import t
from resolve.web.pages_programme_figures import figures
from resolve.web.pages_support import Form, href, may
from resolve.web.routing import rule

__all__ = ["router", "session_data"]

router = APIRouter(include_in_schema=False)

_DONE = ("session", "override", "link_revoked", "block")


def _template(v: ops.ProgrammeView) -> Template:
    assert v.template is not None
    return v.template


def _view(request: Request, who: Who, participant: str) -> ops.ProgrammeView:
    return client(request, who).run(ops.programme, participant)


def _label(template: Template, component: str) -> str:
    try:
        return template.component(component).label
    except LookupError:
        return component


# ----------------------------------------------------------------------------- overview
def _sessions(v: ops.ProgrammeView) -> list[dict[str, Any]]:
    tpl = _template(v)
    rows = []
    for s in v.sessions:
        fidelity = session_fidelity(tpl, s).fidelity if s.attended else None
        rows.append(
            {
                "week": s.week,
                "attended": s.attended,
                "minutes": s.minutes,
                "components": [_label(tpl, c) for c in s.components],
                "fidelity": fidelity,
                "pain": s.pain,
                "adverse_events": s.adverse_events,
                "notes": s.notes,
            }
        )
    return rows


def _levels(v: ops.ProgrammeView) -> list[dict[str, Any]]:
    tpl = _template(v)
    return [
        {
            "task": task,
            "level": v.levels[task],
            "top": len(tpl.levels(task)),
            "label": tpl.levels(task)[v.levels[task] - 1].label,
        }
        for task in TASKS
        if task in v.levels
    ]


@router.get("/programme/{participant}", response_class=HTMLResponse)
@rule("operation", Operation.view_programme)
def programme_page(request: Request, who: Who, participant: str, done: str = "") -> HTMLResponse:
    """A participant's programme (audited read: it reveals the arm)."""
    v = _view(request, who, participant)
    tpl = _template(v)
    role = who.role if who else None
    plan = v.plan
    return render(
        request,
        "prog_overview.html",
        who,
        v=v,
        programme=tpl.programme,
        plan=plan,
        plan_components=[_label(tpl, c) for c in plan.components] if plan else [],
        home=[
            {"label": _label(tpl, h.task), "target": h}
            for h in (plan.home if plan is not None else [])
        ],
        levels=_levels(v) if v.role == "active" else [],
        sessions=_sessions(v),
        decisions=list(reversed(v.decisions)),
        figures=figures(v) if v.role == "active" else None,
        deliver=may(role, Operation.deliver_programme),
        done=t("prog.done." + done) if done in _DONE else None,
        href=href,
    )


# ----------------------------------------------------------------------------- session log
def _components_for(tpl: Template, arm: str) -> list[Any]:
    role = tpl.role(arm)
    return [c for c in tpl.components if c.role in (role, "both")]


def session_data(form: Any, tpl: Template, arm: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The session record's data from the form, and the form's own errors.

    Checklist boxes are named ``fid:<component>:<item number>``; the service
    layer checks the record again (:func:`resolve.program.sessions.check_session`).

    Examples
    --------
    >>> from starlette.datastructures import FormData
    >>> from resolve.program import load_template
    >>> form = FormData([("week", "2"), ("attended", "yes"), ("minutes", "45"),
    ...                  ("component", "framing"), ("fid:framing:1", "on")])
    >>> data, errors = session_data(form, load_template(), "sham")
    >>> errors, data["minutes"], data["fidelity"]["framing"]  # doctest: +ELLIPSIS
    ({}, 45.0, {'Standard rationale read: ...': True, 'Questions answered ...': False})
    >>> session_data(FormData([("week", "x")]), load_template(), "sham")[1]["attended"]
    'Say whether the participant attended.'
    """
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    week = str(form.get("week", "")).strip()
    if week.isdigit() and len(week) <= 2:
        data["week"] = int(week)
    else:
        errors["week"] = t("prog.err.week")
    attended = str(form.get("attended", ""))
    if attended not in ("yes", "no"):
        errors["attended"] = t("prog.err.attended")
    data["attended"] = attended == "yes"
    pain = str(form.get("pain", "")).strip()
    if pain:
        if pain.isdigit() and int(pain) <= 10:
            data["pain"] = int(pain)
        else:
            errors["pain"] = t("prog.err.pain")
    notes = str(form.get("notes", "")).replace("\r\n", "\n").strip()
    if notes:
        data["notes"] = notes[:4000]
    if form.get("ae") == "yes":
        what = " ".join(str(form.get("ae_what", "")).split())
        if not what:
            errors["ae_what"] = t("prog.err.ae_what")
        data["adverse_events"] = [what[:500]] if what else []
    if attended != "yes":
        return data, errors
    minutes = str(form.get("minutes", "")).strip()
    try:
        data["minutes"] = float(minutes)
        if not 0 < data["minutes"] <= 600:
            raise ValueError(minutes)
    except ValueError:
        errors["minutes"] = t("prog.err.minutes")
    delivered = [str(c) for c in form.getlist("component")]
    known = {c.id: c for c in _components_for(tpl, arm)}
    unknown = [c for c in delivered if c not in known]
    if unknown:
        errors["components"] = t("prog.err.component", component=unknown[0])
    elif not delivered:
        errors["components"] = t("prog.err.no_component")
    data["components"] = [c for c in delivered if c in known]
    data["fidelity"] = {
        c: {
            item: form.get(f"fid:{c}:{k}") == "on"
            for k, item in enumerate(known[c].fidelity, start=1)
        }
        for c in data["components"]
    }
    return data, errors


def _session_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    general: str | None = None,
    status: int = 200,
    week: int | None = None,
) -> HTMLResponse:
    v = _view(request, who, participant)
    tpl = _template(v)
    last = v.week or v.weeks
    chosen = week if week is not None and 1 <= week <= last else last
    logged = {s.week for s in v.sessions}
    plan = tpl.plan(v.arm, chosen)
    if values is None:
        values = {
            "week": chosen,
            "attended": "",
            "minutes": f"{plan.clinic_minutes:g}",
            "components": list(plan.components),
            "checked": set(),
            "pain": "",
            "notes": "",
            "ae": False,
            "ae_what": "",
            "reason": "",
        }
    page = render(
        request,
        "prog_session.html",
        who,
        v=v,
        weeks=list(range(1, last + 1)),
        logged=logged,
        plan=plan,
        components=_components_for(tpl, v.arm),
        values=values,
        errors=errors or {},
        general=general,
        href=href,
    )
    page.status_code = status
    return page


@router.get("/programme/{participant}/session", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def session_page(request: Request, who: Who, participant: str, week: str = "") -> HTMLResponse:
    """The session log form: this week's plan ticked in, every checklist of the arm."""
    return _session_page(
        request, who, participant, week=int(week) if week.isdigit() and len(week) < 3 else None
    )


@router.post("/programme/{participant}/session", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def session_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Log the session (or correct a logged week, with a reason); back to the programme."""
    check_csrf(who, str(form.get("csrf_token", "")))
    v = _view(request, who, participant)
    data, errors = session_data(form, _template(v), v.arm)
    reason = " ".join(str(form.get("reason", "")).split()) or None
    values = {
        "week": data.get("week"),
        "attended": str(form.get("attended", "")),
        "minutes": str(form.get("minutes", "")),
        "components": [str(c) for c in form.getlist("component")],
        "checked": {str(k) for k, val in form.multi_items() if str(k).startswith("fid:")},
        "pain": str(form.get("pain", "")),
        "notes": str(form.get("notes", "")),
        "ae": form.get("ae") == "yes",
        "ae_what": str(form.get("ae_what", "")),
        "reason": reason or "",
    }
    if not errors:
        try:
            client(request, who).run(ops.log_session, participant, data, reason=reason)
        except (DataValidationError, TrialStateError) as exc:
            status = 422 if isinstance(exc, DataValidationError) else 409
            return _session_page(
                request,
                who,
                participant,
                values=values,
                general=str(exc),
                status=status,
                week=data.get("week"),
            )
        target = href("programme", participant) + "?done=session"
        return RedirectResponse(target, status_code=303)
    return _session_page(
        request, who, participant, values=values, errors=errors, status=422, week=data.get("week")
    )


# ----------------------------------------------------------------------------- override
def _override_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    v = _view(request, who, participant)
    tpl = _template(v)
    tasks = [
        {
            "task": lv["task"],
            "level": lv["level"],
            "levels": [(x.level, x.label) for x in tpl.levels(lv["task"])],
        }
        for lv in _levels(v)
    ]
    page = render(
        request,
        "prog_override.html",
        who,
        v=v,
        tasks=tasks,
        values=values or {"task": "lrj", "to_level": "", "reason": ""},
        errors=errors or {},
        href=href,
    )
    page.status_code = status
    return page


@router.get("/programme/{participant}/override", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def override_page(request: Request, who: Who, participant: str) -> HTMLResponse:
    """Set a training task's level (hold, advance, step back) with a reason."""
    return _override_page(request, who, participant)


@router.post("/programme/{participant}/override", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def override_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Record the clinician's decision; back to the programme."""
    check_csrf(who, str(form.get("csrf_token", "")))
    values = {
        "task": str(form.get("task", "")),
        "to_level": str(form.get("to_level", "")).strip(),
        "reason": " ".join(str(form.get("reason", "")).split()),
    }
    errors: dict[str, str] = {}
    if values["task"] not in TASKS:
        errors["task"] = t("prog.err.task")
    if not (values["to_level"].isdigit() and len(values["to_level"]) < 3):
        errors["to_level"] = t("prog.err.level")
    if not values["reason"]:
        errors["reason"] = t("prog.err.reason")
    if not errors:
        try:
            client(request, who).run(
                ops.override_level,
                participant,
                values["task"],
                int(values["to_level"]),
                values["reason"],
            )
        except DataValidationError as exc:
            errors["to_level"] = str(exc)
        else:
            target = href("programme", participant) + "?done=override"
            return RedirectResponse(target, status_code=303)
    return _override_page(request, who, participant, values=values, errors=errors, status=422)


# ----------------------------------------------------------------------------- programme link
def _link_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    url: str | None = None,
    status: int = 200,
    done: str = "",
) -> HTMLResponse:
    runner = client(request, who)
    rows = runner.run(ops.programme_links, participant)
    page = render(
        request,
        "prog_link.html",
        who,
        participant=participant,
        rows=rows,
        url=url,
        done=t("prog.done." + done) if done in _DONE else None,
        href=href,
    )
    page.status_code = status
    return page


@router.get("/programme/{participant}/link", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def link_page(request: Request, who: Who, participant: str, done: str = "") -> HTMLResponse:
    """The participant's programme links (never their tokens) and the button to create one."""
    return _link_page(request, who, participant, done=done)


@router.post("/programme/{participant}/link", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def link_create(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Create (or replace) the patient's link, or revoke it; a new address is shown once."""
    check_csrf(who, str(form.get("csrf_token", "")))
    runner = client(request, who)
    if form.get("action") == "revoke":
        runner.run(ops.revoke_programme_link, participant)
        target = href("programme", participant, "link") + "?done=link_revoked"
        return RedirectResponse(target, status_code=303)
    path, _ = runner.run(ops.create_programme_link, participant)
    url = str(request.base_url).rstrip("/") + path
    return _link_page(request, who, participant, url=url, status=201)
