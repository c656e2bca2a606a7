"""The patient's pages for graphaesthesia, graded loading and drills (programme link).

Rule ``"link"``: the token in the path is the credential (see
:mod:`resolve.web.programme_link`); every page runs the service layer as the
link's holder, for the link's participant only. An unknown, expired or revoked
link gives the neutral 404 page. Phone-first; no arm is named.

- ``GET /prog/{token}/graphaesthesia`` -- drawing practice with a partner: the
  screen shows the partner the symbol to draw on the back and which way up, the
  patient types what they felt; the JSON goes to :mod:`resolve.web.api_programme`;
- ``GET``/``POST /prog/{token}/loading`` -- the week's loading exercises with
  their quotas; a session logged against its quota, then the plan's decision;
- ``GET``/``POST /prog/{token}/drills`` -- log a movement-precision drill.

A page of a component the week's plan does not hold is the neutral 404 page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resolve import ops
from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops.context import TrialStateError
from resolve.ops.links import LinkGone
from resolve.web.api_programme import link_run
from resolve.web.app import Who
from resolve.web.i18n import t
from resolve.web.pages_programme_more_forms import (
    FEEDBACK,
    drill_data,
    loading_data,
    week_drills,
)
from resolve.web.pages_support import Form, href
from resolve.web.programme_link import _gone, _page, _template, _today
from resolve.web.routing import rule

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _has(v: ops.TodayView, task: str) -> bool:
    return any(x.task == task for x in v.tasks)


# ----------------------------------------------------------------------------- graphaesthesia
@router.get("/prog/{token}/graphaesthesia", response_class=HTMLResponse)
@rule("link")
def graph_page(request: Request, who: Who, token: str) -> Response:
    """Drawing practice with a partner (graphaesthesia)."""
    try:
        v = _today(request, token)
        tpl = _template(request, token)
    except LinkGone:
        return _gone(request)
    level = next((x.level for x in v.tasks if x.task == "graphaesthesia"), None)
    level = level or v.progress.get("levels", {}).get("graphaesthesia")
    level = level or tpl.start_level("graphaesthesia", v.week or v.weeks)
    return _page(
        request,
        token,
        "s_prog_graph.html",
        v=v,
        start_url=href("api", "v1", "programme", "links", token, "blocks"),
        submit_url=href("api", "v1", "programme", "links", token, "blocks", "submit"),
        mode="partner",
        level=level,
        level_label=tpl.levels("graphaesthesia")[level - 1].label,
        who_draws="partner",
        csrf=None,
    )


# ----------------------------------------------------------------------------- loading
def _loading_page(
    request: Request,
    token: str,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    done: str = "",
    exercise: str = "",
    status: int = 200,
) -> Response:
    try:
        v = _today(request, token)
        if not v.loading_exercises and not _has(v, "graded_loading"):
            return _gone(request)
        state = link_run(request, token, ops.loading_state)
    except LinkGone:
        return _gone(request)
    shown = [state[e] for e in v.loading_exercises if e in state]
    return _page(
        request,
        token,
        "s_prog_loading.html",
        status=status,
        v=v,
        exercises=shown,
        values=values or {},
        error=error,
        done=t("prog.more.done.loading") if done == "loading" else None,
        latest=state.get(exercise) if done == "loading" else None,
    )


@router.get("/prog/{token}/loading", response_class=HTMLResponse)
@rule("link")
def loading_page(
    request: Request, who: Who, token: str, done: str = "", exercise: str = ""
) -> Response:
    """The week's loading exercises, each with today's quota."""
    return _loading_page(request, token, done=done, exercise=exercise)


@router.post("/prog/{token}/loading", response_class=HTMLResponse)
@rule("link")
def loading_submit(request: Request, who: Who, token: str, form: Form) -> Response:
    """Log a loading session at home; back to the page with the plan's decision."""
    errors: dict[str, str] = {}
    data = loading_data(form, errors)
    values = {str(k): str(val) for k, val in form.multi_items()}
    if errors:
        message = " ".join(errors.values())
        return _loading_page(request, token, values=values, error=message, status=422)
    try:
        link_run(request, token, ops.log_loading, data)
    except LinkGone:
        return _gone(request)
    except (DataValidationError, TrialStateError, UnknownNameError) as exc:
        return _loading_page(request, token, values=values, error=str(exc), status=422)
    target = href("prog", token, "loading")
    query = urlencode({"done": "loading", "exercise": data["exercise"]})
    return RedirectResponse(f"{target}?{query}", status_code=303)


# ----------------------------------------------------------------------------- drills
def _drills_page(
    request: Request,
    token: str,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    done: str = "",
    status: int = 200,
) -> Response:
    try:
        v = _today(request, token)
        tpl = _template(request, token)
    except LinkGone:
        return _gone(request)
    if not _has(v, "movement_precision"):
        return _gone(request)
    # only the active arm's plan holds movement_precision, so its drills are this week's
    planned = week_drills(tpl, tpl.programme.active_arm, v.week)
    drills = [d for d in tpl.drills if d.id in planned] or list(tpl.drills)
    return _page(
        request,
        token,
        "s_prog_loading_drills.html",
        status=status,
        v=v,
        drills=drills,
        feedback=FEEDBACK,
        values=values or {},
        error=error,
        done=t("prog.more.done.drill") if done == "drill" else None,
    )


@router.get("/prog/{token}/drills", response_class=HTMLResponse)
@rule("link")
def drills_page(request: Request, who: Who, token: str, done: str = "") -> Response:
    """The week's movement-precision drills and a form to log one."""
    return _drills_page(request, token, done=done)


@router.post("/prog/{token}/drills", response_class=HTMLResponse)
@rule("link")
def drills_submit(request: Request, who: Who, token: str, form: Form) -> Response:
    """Log a drill done at home."""
    errors: dict[str, str] = {}
    data = drill_data(form, errors, rated=False)
    values = {str(k): str(val) for k, val in form.multi_items()}
    if errors:
        return _drills_page(
            request, token, values=values, error=" ".join(errors.values()), status=422
        )
    try:
        link_run(request, token, ops.log_drill, data)
    except LinkGone:
        return _gone(request)
    except (DataValidationError, TrialStateError, UnknownNameError) as exc:
        return _drills_page(request, token, values=values, error=str(exc), status=422)
    return RedirectResponse(href("prog", token, "drills") + "?done=drill", status_code=303)
