"""Trial staff pages of the programme's remaining components: two-point discrimination,
graphaesthesia in clinic, graded loading and movement-precision drills.

- ``GET``/``POST /programme/{participant}/twopoint`` -- enter a two-point staircase
  at one body site: the page shows the separation the staircase calls for next
  (:func:`resolve.program.twopoint.next_separation`), the clinician enters each
  answer ("one" or "two"); the trials so far travel in the form, are replayed on
  every post and stored with :func:`resolve.ops.record_twopoint` on *Save*, which
  shows the threshold against the healthy reference;
- ``GET /programme/{participant}/tasks/graphaesthesia`` -- a graphaesthesia block
  in clinic (``static/programme.js``; the JSON goes to the clinic block routes of
  :mod:`resolve.web.pages_programme_tasks`);
- ``GET``/``POST /programme/{participant}/loading`` -- a baseline tolerance test
  (which plans the quotas), the planned quotas, and a loading session logged
  against its quota with the plan's decision;
- ``GET``/``POST /programme/{participant}/drills`` -- log a movement-precision drill.

Every route needs ``deliver programme`` (the treating clinician); the service
layer checks the role again, and that the clinician treats the participant.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resolve import ops
from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops.context import TrialStateError
from resolve.ops.permissions import Operation
from resolve.program.loading import drill_summary
from resolve.program.template import Template
from resolve.program.twopoint import TpdTrial, next_separation, staircase_threshold
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.i18n import t
from resolve.web.pages_programme_more_forms import (
    FEEDBACK,
    drill_data,
    loading_data,
    number,
    parse_trials,
    week_drills,
)
from resolve.web.pages_support import Form, href
from resolve.web.routing import rule

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_DONE = ("twopoint", "tolerance", "loading", "drill")


def _view(request: Request, who: Who, participant: str) -> ops.ProgrammeView:
    return client(request, who).run(ops.programme, participant)


def _tpl(v: ops.ProgrammeView) -> Template:
    assert v.template is not None
    return v.template


def _page(request: Request, who: Who, name: str, status: int = 200, **context: object) -> Response:
    page = render(request, name, who, href=href, **context)
    page.status_code = status
    return page


def _done(done: str) -> str | None:
    return t("prog.more.done." + done) if done in _DONE else None


# ----------------------------------------------------------------------------- two-point
def _twopoint_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    site: str = "",
    trials: list[TpdTrial] | None = None,
    errors: dict[str, str] | None = None,
    done: str = "",
    status: int = 200,
) -> Response:
    v = _view(request, who, participant)
    tpl = _tpl(v)
    settings = tpl.twopoint
    sites = {s.id: s.label for s in settings.sites}
    site = site if site in sites else settings.sites[0].id
    trials = trials or []
    nxt = next_separation(trials, settings=settings) if settings.method == "staircase" else None
    preview = None
    if trials and settings.method == "staircase":
        preview = staircase_threshold(trials, settings=settings, site=site, norms=tpl.norms.tpd)
    return _page(
        request,
        who,
        "prog_twopoint.html",
        status=status,
        v=v,
        settings=settings,
        sites=sites,
        site=site,
        trials=trials,
        encoded=",".join(f"{x.separation_mm:g}:{x.response}" for x in trials),
        next_mm=nxt,
        preview=preview,
        runs=list(reversed(v.twopoint)),
        errors=errors or {},
        done=_done(done),
    )


@router.get("/programme/{participant}/twopoint", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def twopoint_page(
    request: Request, who: Who, participant: str, site: str = "", done: str = ""
) -> Response:
    """Two-point discrimination: the staircase's next separation, the runs stored."""
    return _twopoint_page(request, who, participant, site=site, done=done)


@router.post("/programme/{participant}/twopoint", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def twopoint_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """One answer more (or undo, or save the run): the trials are replayed every time."""
    check_csrf(who, str(form.get("csrf_token", "")))
    v = _view(request, who, participant)
    settings = _tpl(v).twopoint
    site = str(form.get("site", ""))
    errors: dict[str, str] = {}
    if site not in {s.id for s in settings.sites}:
        errors["site"] = t("prog.tp.err.site", value=site[:40])
    try:
        trials = parse_trials(str(form.get("trials", "")))
        nxt = next_separation(trials, settings=settings)
    except DataValidationError as exc:
        errors["trials"] = str(exc)
        trials, nxt = [], None
    action = str(form.get("action", ""))
    if not errors and action == "undo":
        trials = trials[:-1]
    elif not errors and action in ("one", "two"):
        shown = str(form.get("separation", "")).strip()
        if nxt is None:
            errors["answer"] = t("prog.tp.err.stopped")
        elif shown != f"{nxt:g}":
            errors["separation"] = t(
                "prog.tp.err.separation", value=shown[:20], expected=f"{nxt:g}"
            )
        else:
            answer: Literal["one", "two"] = "one" if action == "one" else "two"
            trials = [*trials, TpdTrial(separation_mm=nxt, response=answer)]
    elif not errors and action == "save":
        if not trials:
            errors["answer"] = t("prog.tp.err.empty")
        else:
            try:
                client(request, who).run(
                    ops.record_twopoint, participant, site, [x.to_dict() for x in trials]
                )
            except (DataValidationError, TrialStateError) as exc:
                errors["trials"] = str(exc)
            else:
                target = href("programme", participant, "twopoint")
                query = urlencode({"site": site, "done": "twopoint"})
                return RedirectResponse(f"{target}?{query}", status_code=303)
    elif not errors:
        errors["answer"] = t("prog.tp.err.action", value=action[:20])
    status = 422 if errors else 200
    return _twopoint_page(
        request, who, participant, site=site, trials=trials, errors=errors, status=status
    )


# ----------------------------------------------------------------------------- graphaesthesia
@router.get("/programme/{participant}/tasks/graphaesthesia", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def graph_page(request: Request, who: Who, participant: str) -> Response:
    """A graphaesthesia block in clinic: the clinician draws, the patient answers."""
    v = _view(request, who, participant)
    level = v.levels.get("graphaesthesia")
    return _page(
        request,
        who,
        "prog_graph.html",
        v=v,
        start_url=href("programme", participant, "blocks"),
        submit_url=href("programme", participant, "blocks", "submit"),
        mode="clinic",
        level=level,
        level_label=_tpl(v).levels("graphaesthesia")[level - 1].label if level else "",
        who_draws="clinician",
    )


# ----------------------------------------------------------------------------- loading
def _loading_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str = "",
    exercise: str = "",
    status: int = 200,
) -> Response:
    v = _view(request, who, participant)
    state = client(request, who).run(ops.loading_state, participant) if v.role == "active" else {}
    tpl = _tpl(v)
    return _page(
        request,
        who,
        "prog_loading.html",
        status=status,
        v=v,
        state=state,
        week_exercises=list(v.plan.graded_loading) if v.plan is not None else [],
        trials=tpl.loading.tolerance_trials,
        settings=tpl.loading,
        values=values or {},
        errors=errors or {},
        done=_done(done),
        latest=state.get(exercise),
    )


@router.get("/programme/{participant}/loading", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def loading_page(
    request: Request, who: Who, participant: str, done: str = "", exercise: str = ""
) -> Response:
    """Graded loading: tolerance tests, planned quotas, sessions and the plan's decisions."""
    return _loading_page(request, who, participant, done=done, exercise=exercise)


@router.post("/programme/{participant}/loading", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def loading_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Record a tolerance test (``action=tolerance``) or log a session (``action=log``)."""
    check_csrf(who, str(form.get("csrf_token", "")))
    action = str(form.get("action", ""))
    values = {str(k): str(val) for k, val in form.multi_items()}
    errors: dict[str, str] = {}
    runner = client(request, who)
    exercise = str(form.get("exercise", ""))
    try:
        if action == "tolerance":
            found = [number(form, f"trial{k}", errors) for k in range(1, 11) if f"trial{k}" in form]
            if not found:
                errors["trial1"] = t("prog.more.err.required", field="trial1")
            if not errors:
                values_ = [x for x in found if x is not None]
                runner.run(ops.record_tolerance_test, participant, exercise, values_)
        elif action == "log":
            data = loading_data(form, errors)
            if not errors:
                runner.run(ops.log_loading, participant, data)
        else:
            errors["action"] = t("prog.tp.err.action", value=action[:20])
    except (DataValidationError, UnknownNameError, TrialStateError) as exc:
        errors["exercise"] = str(exc)
    if errors:
        return _loading_page(request, who, participant, values=values, errors=errors, status=422)
    done = "tolerance" if action == "tolerance" else "loading"
    target = href("programme", participant, "loading")
    query = urlencode({"done": done, "exercise": exercise})
    return RedirectResponse(f"{target}?{query}", status_code=303)


# ----------------------------------------------------------------------------- drills
def _drills_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str = "",
    status: int = 200,
) -> Response:
    v = _view(request, who, participant)
    tpl = _tpl(v)
    planned = week_drills(tpl, v.arm, v.week) if v.role == "active" else []
    return _page(
        request,
        who,
        "prog_loading_drills.html",
        status=status,
        v=v,
        drills=sorted(tpl.drills, key=lambda d: d.id not in planned),
        planned=[d.label for d in tpl.drills if d.id in planned],
        labels={d.id: d.label for d in tpl.drills},
        summary=drill_summary(v.drills),
        feedback=FEEDBACK,
        values=values or {},
        errors=errors or {},
        done=_done(done),
    )


@router.get("/programme/{participant}/drills", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def drills_page(request: Request, who: Who, participant: str, done: str = "") -> Response:
    """Movement-precision drills: the week's drills, a log form and each drill's totals."""
    return _drills_page(request, who, participant, done=done)


@router.post("/programme/{participant}/drills", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def drills_submit(request: Request, who: Who, participant: str, form: Form) -> Response:
    """Log a drill done in clinic."""
    check_csrf(who, str(form.get("csrf_token", "")))
    errors: dict[str, str] = {}
    data = drill_data(form, errors, rated=True)
    if not errors:
        try:
            client(request, who).run(ops.log_drill, participant, data)
        except (DataValidationError, UnknownNameError, TrialStateError) as exc:
            errors["drill_id"] = str(exc)
    if errors:
        values = {str(k): str(val) for k, val in form.multi_items()}
        return _drills_page(request, who, participant, values=values, errors=errors, status=422)
    target = href("programme", participant, "drills") + "?done=drill"
    return RedirectResponse(target, status_code=303)
