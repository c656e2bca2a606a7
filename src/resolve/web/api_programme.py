"""JSON API of the retraining programme, under ``/api/v1/programme`` (OpenAPI-described).

Two kinds of caller:

- **staff scripts** with a bearer token: ``GET /participants/{participant}``
  (the participant's programme: ``view programme``, audited), ``POST
  /participants/{participant}/sessions`` (log a session with its fidelity
  checklist: ``deliver programme``), ``POST /participants/{participant}/blocks``
  and ``POST /participants/{participant}/blocks/submit`` (a training block run
  by the clinician: ``deliver programme``);
- **the task script of a patient's programme link** (rule ``"link"``: the token
  in the path is the credential, as for self-report links): ``GET
  /links/{token}/today``, ``POST /links/{token}/blocks``, ``POST
  /links/{token}/blocks/submit``. An unknown, expired or revoked link is 404.

A block's answers go to ``.../blocks/submit`` with the ``block_id`` in the body
(block ids hold slashes). Reaction times are milliseconds from the image shown
to the answer. The service layer (:mod:`resolve.ops.programme_blocks`) keeps the
stimuli and their labels, checks the answers against them, scores the block and
runs the progression rules; the answer carries the score and the decision.
Blinded roles get 403 on every staff route here.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from resolve import ops
from resolve.ops.links import LinkGone
from resolve.ops.permissions import Operation
from resolve.program.sessions import Adherence, SessionRecord
from resolve.web.api import ErrorOut
from resolve.web.app import Who, client
from resolve.web.pages_support import href
from resolve.web.routing import rule

__all__ = [
    "BlockIn",
    "BlockOutcomeOut",
    "BlockStartOut",
    "SubmitIn",
    "outcome_out",
    "router",
    "start_out",
]

router = APIRouter(prefix="/api/v1/programme", tags=["programme"])

Task = Literal["lrj", "tactile", "graphaesthesia"]
_TEXT = {
    401: "Not authenticated (no, expired or revoked bearer token)",
    403: "The caller's role may not do this, or not for this participant",
    404: "No such participant, block or programme link",
    409: "The participant's, the trial's or the block's state does not allow this",
    422: "Invalid request data, or answers that do not match the started block",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorOut, "description": _TEXT[c]} for c in codes}


# ----------------------------------------------------------------------------- models
class BlockIn(BaseModel):
    """Start a block of a training task at the participant's current level."""

    model_config = ConfigDict(extra="forbid")

    task: Task
    mode: Literal["clinic", "home", "partner"] | None = Field(
        None,
        description="clinic (the clinician runs it), home (the patient alone) or partner (at "
        "home, a partner touches or draws); default: clinic for staff, home for a link",
    )


class SubmitIn(BaseModel):
    """The answers to a started block, one per stimulus, in the order shown."""

    model_config = ConfigDict(extra="forbid")

    block_id: str = Field(min_length=1, max_length=200, examples=["D001/lrj/3"])
    trials: list[dict[str, Any]] = Field(
        max_length=400,
        description="LRJ: file, response (left/right/null), rt_ms; tactile: zone, stimulus, "
        "response_zone, response_stimulus; graphaesthesia: symbol, orientation, response",
    )
    pain: int | None = Field(None, ge=0, le=10, description="Current pain 0-10, if given")


class StimulusOut(BaseModel):
    """One stimulus to show: an LRJ image (file and URL), a touch, or a symbol to draw."""

    file: str | None = None
    url: str | None = None
    zone: str | None = None
    stimulus: str | None = None
    symbol: str | None = None
    orientation: str | None = None


class GridOut(BaseModel):
    """The tactile grid: rows (head to feet) x columns (the person's left to right)."""

    rows: int
    cols: int
    spacing_cm: float
    zones: list[str]


class BlockStartOut(BaseModel):
    """A started block: what to show, in order (LRJ labels stay on the server)."""

    block_id: str
    task: str
    mode: str
    setting: str
    week: int
    level: int
    level_label: str
    time_limit_s: float | None = None
    image_set: str | None = None
    stimuli: list[StimulusOut]
    grid: GridOut | None = None
    stimulus_types: list[str] | None = None


class ScoreOut(BaseModel):
    """The headline numbers of a scored block (all measures are in ``measures``)."""

    n_trials: int
    n_correct: int
    accuracy: float
    median_rt_ms: float | None = None
    mean_error_cm: float | None = None


class DecisionOut(BaseModel):
    """The progression decision made after the block, with the rule that fired."""

    action: str
    from_level: int
    to_level: int
    rule_id: str | None
    rule_text: str
    note: str = ""


class BlockOutcomeOut(BaseModel):
    """A scored block and the progression decision."""

    block_id: str
    task: str
    level: int
    week: int
    measures: dict[str, float | None]
    score: ScoreOut
    decision: DecisionOut
    new_level: int


class BlockOut(BaseModel):
    """One scored block (trials left out)."""

    block_id: str
    task: str
    week: int
    setting: str
    level: int
    measures: dict[str, float | None]
    pain: int | None = None


class ProgrammeOut(BaseModel):
    """A participant's programme (reveals the arm: unblinded roles only)."""

    participant_id: str
    arm: str
    week: int | None
    weeks: int
    randomised_on: str
    focus: str | None
    components: list[str]
    levels: dict[str, int]
    sessions: list[SessionRecord]
    blocks: list[BlockOut]
    decisions: list[DecisionOut]
    adherence: Adherence
    open_blocks: list[str]


class TodayTaskOut(BaseModel):
    """A home-practice task of the week with its target and what is done."""

    task: str
    label: str
    level: int | None
    level_label: str | None
    minutes_per_day: float
    days_per_week: int
    bouts_per_day: int
    minutes_today: float
    minutes_this_week: float
    blocks_this_week: int


class TodayOut(BaseModel):
    """What the patient practises today (names no arm)."""

    week: int | None
    weeks: int
    day: int | None
    focus: str | None
    tasks: list[TodayTaskOut]
    education_due: list[str]
    imagery_scripts: list[str]
    loading_exercises: list[str]


# ----------------------------------------------------------------------------- conversions
def start_out(started: dict[str, Any], image_base: str) -> BlockStartOut:
    """The answer to a block start; LRJ images get their URL under ``image_base``."""
    stimuli = []
    for s in started["stimuli"]:
        out = StimulusOut(**s)
        if out.file is not None:
            out.url = image_base + out.file
        stimuli.append(out)
    settings = started.get("settings") or {}
    grid = started.get("grid")
    return BlockStartOut(
        block_id=started["block_id"],
        task=started["task"],
        mode=started["mode"],
        setting=started["setting"],
        week=started["week"],
        level=started["level"],
        level_label=str(settings.get("label", "")),
        time_limit_s=started.get("time_limit_s"),
        image_set=started.get("image_set"),
        stimuli=stimuli,
        grid=None if grid is None else GridOut(**grid),
        stimulus_types=started.get("stimulus_types"),
    )


def decision_out(d: Any) -> DecisionOut:
    """A progression decision's summary."""
    return DecisionOut(
        action=d.action,
        from_level=d.from_level,
        to_level=d.to_level,
        rule_id=d.rule_id,
        rule_text=d.rule_text,
        note=d.note,
    )


def outcome_out(o: ops.BlockOutcome) -> BlockOutcomeOut:
    """The answer to a block submission."""
    n = int(o.score.get("n_trials", o.measures.get("n_trials") or 0))
    accuracy = float(o.measures.get("accuracy") or 0.0)
    correct = o.score.get("n_correct")
    return BlockOutcomeOut(
        block_id=o.block_id,
        task=o.task,
        level=o.level,
        week=o.week,
        measures=o.measures,
        score=ScoreOut(
            n_trials=n,
            n_correct=int(correct) if correct is not None else round(accuracy * n),
            accuracy=accuracy,
            median_rt_ms=o.score.get("median_rt_ms"),
            mean_error_cm=o.score.get("mean_error_cm"),
        ),
        decision=decision_out(o.decision),
        new_level=o.new_level,
    )


def programme_out(v: ops.ProgrammeView) -> ProgrammeOut:
    """A participant's programme for the API."""
    return ProgrammeOut(
        participant_id=v.participant,
        arm=v.arm,
        week=v.week,
        weeks=v.weeks,
        randomised_on=v.randomised_on,
        focus=v.plan.focus if v.plan is not None else None,
        components=list(v.plan.components) if v.plan is not None else [],
        levels=dict(v.levels),
        sessions=list(v.sessions),
        blocks=[
            BlockOut(
                block_id=b.block_id,
                task=b.task,
                week=b.week,
                setting=b.setting,
                level=b.level,
                measures=dict(b.measures),
                pain=b.pain,
            )
            for b in v.blocks
        ],
        decisions=[decision_out(d) for d in v.decisions],
        adherence=v.adherence,
        open_blocks=list(v.open_blocks),
    )


def link_run(request: Request, token: str, op: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``op(ctx, participant, ...)`` as the holder of programme link ``token``.

    Raises
    ------
    LinkGone
        Unknown, expired or revoked link (the caller answers 404).
    """
    return ops.run_as_link(
        request.app.state.store, token, op, *args, key_file=request.app.state.key_file, **kwargs
    )


def _gone() -> HTTPException:
    return HTTPException(404, "no such programme link (unknown, expired or revoked)")


def staff_image_base(participant: str) -> str:
    """Where the staff pages fetch LRJ images (ends with a slash).

    Examples
    --------
    >>> staff_image_base("P 1") + "training-00001.png"
    '/programme/P%201/img/training-00001.png'
    """
    return href("programme", participant, "img") + "/"


def link_image_base(token: str) -> str:
    """Where a programme link's pages fetch LRJ images (ends with a slash).

    Examples
    --------
    >>> link_image_base("abc")
    '/prog/abc/img/'
    """
    return href("prog", token, "img") + "/"


# ----------------------------------------------------------------------------- staff routes
@router.get(
    "/participants/{participant}",
    response_model=ProgrammeOut,
    responses=_errors(401, 403, 404, 409),
)
@rule("operation", Operation.view_programme)
def api_programme(request: Request, who: Who, participant: str) -> ProgrammeOut:
    """A participant's programme: plan, levels, sessions, blocks, decisions, adherence."""
    return programme_out(client(request, who).run(ops.programme, participant))


@router.post(
    "/participants/{participant}/sessions",
    response_model=SessionRecord,
    status_code=201,
    responses=_errors(401, 403, 404, 409, 422),
)
@rule("operation", Operation.deliver_programme)
def api_log_session(
    request: Request, who: Who, participant: str, body: dict[str, Any]
) -> SessionRecord:
    """Log a weekly session: ``week``, ``attended``, ``minutes``, ``components``,
    ``fidelity`` (component -> checklist item -> done), ``pain``, ``notes``."""
    return client(request, who).run(ops.log_session, participant, body)


@router.post(
    "/participants/{participant}/blocks",
    response_model=BlockStartOut,
    response_model_exclude_none=True,
    status_code=201,
    responses=_errors(401, 403, 404, 409, 422),
)
@rule("operation", Operation.deliver_programme)
def api_start_block(request: Request, who: Who, participant: str, body: BlockIn) -> BlockStartOut:
    """Start a block (default mode: clinic) at the participant's current level."""
    started = client(request, who).run(
        ops.start_block, participant, body.task, mode=body.mode or "clinic"
    )
    return start_out(started, staff_image_base(participant))


@router.post(
    "/participants/{participant}/blocks/submit",
    response_model=BlockOutcomeOut,
    responses=_errors(401, 403, 404, 409, 422),
)
@rule("operation", Operation.deliver_programme)
def api_submit_block(
    request: Request, who: Who, participant: str, body: SubmitIn
) -> BlockOutcomeOut:
    """Submit a block's answers: scored, stored, and the progression rules applied."""
    outcome = client(request, who).run(
        ops.submit_block, participant, body.block_id, body.trials, pain=body.pain
    )
    return outcome_out(outcome)


# ----------------------------------------------------------------------------- link routes
@router.get("/links/{token}/today", response_model=TodayOut, responses=_errors(404))
@rule("link")
def api_link_today(request: Request, who: Who, token: str) -> TodayOut:
    """Today's practice of the link's participant."""
    try:
        v = link_run(request, token, ops.today)
    except LinkGone:
        raise _gone() from None
    return TodayOut(
        week=v.week,
        weeks=v.weeks,
        day=v.day,
        focus=v.focus,
        tasks=[TodayTaskOut(**vars(task)) for task in v.tasks],
        education_due=list(v.education_due),
        imagery_scripts=list(v.imagery_scripts),
        loading_exercises=list(v.loading_exercises),
    )


@router.post(
    "/links/{token}/blocks",
    response_model=BlockStartOut,
    response_model_exclude_none=True,
    status_code=201,
    responses=_errors(404, 409, 422),
)
@rule("link")
def api_link_start(request: Request, who: Who, token: str, body: BlockIn) -> BlockStartOut:
    """Start a home (or partner) block of the link's participant."""
    if body.mode == "clinic":
        raise HTTPException(422, "a programme link practises at home: mode home or partner")
    try:
        started = link_run(request, token, ops.start_block, body.task, mode=body.mode or "home")
    except LinkGone:
        raise _gone() from None
    return start_out(started, link_image_base(token))


@router.post(
    "/links/{token}/blocks/submit",
    response_model=BlockOutcomeOut,
    responses=_errors(404, 409, 422),
)
@rule("link")
def api_link_submit(request: Request, who: Who, token: str, body: SubmitIn) -> BlockOutcomeOut:
    """Submit the answers to a block started through the link."""
    try:
        outcome = link_run(
            request, token, ops.submit_block, body.block_id, body.trials, pain=body.pain
        )
    except LinkGone:
        raise _gone() from None
    return outcome_out(outcome)
