"""The training tasks run by the clinician in clinic: left/right judgement and tactile.

- ``GET /programme/{participant}/tasks/lrj`` and ``.../tasks/tactile`` -- the task
  pages (``static/programme.js`` runs them; the tactile task is the clinic
  version of partner mode: the app tells the clinician where and what to touch,
  the patient answers on the back diagram);
- ``POST /programme/{participant}/blocks`` and ``.../blocks/submit`` -- the JSON
  the task script sends: start a clinic block, submit its answers. They are page
  routes (the session cookie, whose CSRF token the script sends in
  ``X-CSRF-Token``, checked before anything else), because the JSON API under
  ``/api/v1`` accepts writes only with a bearer token; their answers are those of
  the API (:mod:`resolve.web.api_programme`), errors as ``{"detail": ...}``;
- ``GET /programme/{participant}/img/{file}`` -- an LRJ image of the programme's
  bank (:mod:`resolve.web.pages_programme_images`).

Every route needs ``deliver programme`` (the clinician); the service layer
checks that they treat the participant.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from resolve import ops
from resolve.errors import DataValidationError, ResolveError, UnknownNameError
from resolve.ops.context import TrialStateError
from resolve.ops.permissions import Operation, PermissionDenied
from resolve.web.api_programme import (
    BlockIn,
    SubmitIn,
    outcome_out,
    staff_image_base,
    start_out,
)
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.pages_programme_images import image_response
from resolve.web.pages_support import href
from resolve.web.routing import rule

__all__ = ["error_json", "router"]

router = APIRouter(include_in_schema=False)

#: Largest JSON body a task script sends (400 trials with room to spare).
MAX_BODY = 256 * 1024


def error_json(exc: Exception) -> JSONResponse:
    """``{"detail": ...}`` with the status the API gives for the same error.

    Examples
    --------
    >>> r = error_json(TrialStateError("the block was submitted already"))
    >>> r.status_code, r.body
    (409, b'{"detail":"the block was submitted already"}')
    """
    status = 400
    if isinstance(exc, PermissionDenied | PermissionError):
        status = 403
    elif isinstance(exc, UnknownNameError):
        status = 404
    elif isinstance(exc, TrialStateError):
        status = 409
    elif isinstance(exc, DataValidationError | ValidationError):
        status = 422
    if isinstance(exc, ValidationError):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
    else:
        detail = " ".join(str(exc).split())
    return JSONResponse({"detail": detail}, status_code=status)


async def json_body(request: Request) -> Any:
    """The request's JSON body, or :class:`DataValidationError` (too large, not JSON)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise DataValidationError(f"request body over {MAX_BODY} bytes")
    try:
        return json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DataValidationError("the request body is not JSON") from None


def _task_page(request: Request, who: Who, participant: str, task: str) -> HTMLResponse:
    v = client(request, who).run(ops.programme, participant)
    tpl = v.template
    assert tpl is not None
    level = v.levels.get(task)
    label = tpl.levels(task)[level - 1].label if level else ""
    return render(
        request,
        "prog_task.html",
        who,
        v=v,
        task=task,
        start_url=href("programme", participant, "blocks"),
        submit_url=href("programme", participant, "blocks", "submit"),
        level=level,
        level_label=label,
        stimuli=list(tpl.tactile.stimuli),
        who_touches="clinician",
        href=href,
    )


@router.get("/programme/{participant}/tasks/lrj", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def lrj_page(request: Request, who: Who, participant: str) -> HTMLResponse:
    """A left/right judgement block in clinic."""
    return _task_page(request, who, participant, "lrj")


@router.get("/programme/{participant}/tasks/tactile", response_class=HTMLResponse)
@rule("operation", Operation.deliver_programme)
def tactile_page(request: Request, who: Who, participant: str) -> HTMLResponse:
    """A tactile block in clinic: the clinician touches, the patient answers."""
    return _task_page(request, who, participant, "tactile")


@router.post("/programme/{participant}/blocks")
@rule("operation", Operation.deliver_programme)
async def block_start(request: Request, who: Who, participant: str) -> Response:
    """Start a clinic block (JSON in: ``{"task": ...}``; out: the API's BlockStartOut)."""
    await _csrf(request, who)
    try:
        body = BlockIn.model_validate(await json_body(request))
        started = await _run(
            request, who, ops.start_block, participant, body.task, mode=body.mode or "clinic"
        )
    except (ResolveError, ValidationError) as exc:
        return error_json(exc)
    out = start_out(started, staff_image_base(participant))
    return JSONResponse(out.model_dump(mode="json", exclude_none=True), status_code=201)


@router.post("/programme/{participant}/blocks/submit")
@rule("operation", Operation.deliver_programme)
async def block_submit(request: Request, who: Who, participant: str) -> Response:
    """Submit a clinic block's answers (JSON in: SubmitIn; out: BlockOutcomeOut)."""
    await _csrf(request, who)
    try:
        body = SubmitIn.model_validate(await json_body(request))
        outcome = await _run(
            request, who, ops.submit_block, participant, body.block_id, body.trials, pain=body.pain
        )
    except (ResolveError, ValidationError) as exc:
        return error_json(exc)
    return JSONResponse(outcome_out(outcome).model_dump(mode="json"))


async def _csrf(request: Request, who: Who) -> None:
    """Refuse (403) a request without this session's CSRF token, before reading its data.

    The task script sends it in ``X-CSRF-Token``; a plain form post may carry it as the
    ``csrf_token`` field, as every other page form does (its data are then refused as not
    JSON).
    """
    token = request.headers.get("x-csrf-token")
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        await request.body()  # cached: json_body reads it again
        form = await request.form()
        found = form.get("csrf_token")
        token = found if isinstance(found, str) else None
    check_csrf(who, token)


async def _run(request: Request, who: Who, op: Any, *args: Any, **kwargs: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    runner = client(request, who)
    return await run_in_threadpool(runner.run, op, *args, **kwargs)


@router.get("/programme/{participant}/img/{file}")
@rule("operation", Operation.deliver_programme)
def staff_image(request: Request, who: Who, participant: str, file: str) -> Response:
    """A trunk image of the programme's bank (the same for every participant)."""
    if len(file) > 40:
        raise HTTPException(404)
    return image_response(file)
