"""Blocks of the training tasks: started on the server, answered, scored, decided on once.

:func:`start_block` draws a block at the participant's current level (seeded
stimuli: LRJ images from the programme's image bank, tactile touches on the
level's grid, graphaesthesia symbols) and stores it (``block_started``), so a
submission cannot invent or reorder trials. :func:`submit_block` checks the
answers against the started block (same stimuli in the same order, answers from
the allowed set, reaction times in ms), scores them with the task module,
stores the block, runs the progression engine on the participant's history and
stores its decision, with the rule that fired. A block is submitted once.

Modes: ``clinic`` (the clinician runs the block in clinic: ``deliver programme``),
``home`` (the patient alone, through their link) and ``partner`` (at home, a
partner touches or draws while the patient answers).

Examples
--------
>>> sorted(MODES)
['clinic', 'home', 'partner']
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops.context import Context, TrialStateError
from resolve.ops.permissions import Operation
from resolve.ops.programme_store import Subject, append, records, subject
from resolve.ops.programme_views import collect, levels
from resolve.program.blocks import BlockRecord
from resolve.program.progression import Decision, decide, task_rules
from resolve.program.template import TASKS

__all__ = ["MODES", "BlockOutcome", "start_block", "submit_block"]

MODES = ("clinic", "home", "partner")


@dataclass(frozen=True)
class BlockOutcome:
    """A scored block: its measures, the full score, the decision and the level now."""

    block_id: str
    task: str
    level: int
    week: int
    measures: dict[str, float | None]
    score: dict[str, Any]
    decision: Decision
    new_level: int


def _stimuli(task: str, level: Any, seed: int, image_set: str | None, s: Subject) -> Any:
    """(stored stimuli, stimuli shown to the client, extra settings)."""
    if task == "lrj":
        from resolve.ops.programme_images import lrj_bank
        from resolve.program.lrj import make_block

        bank = lrj_bank(image_set or "training")
        block = make_block(level, seed=seed, stimuli=bank)
        stored = [x.to_dict() for x in block]
        return stored, [{"file": x.file} for x in block], {"time_limit_s": level.time_limit_s}
    if task == "tactile":
        from resolve.program.tactile import grid_for, make_sequence

        grid = grid_for(level)
        stims = s.template.tactile.stimuli
        seq = make_sequence(grid, n=level.trials, seed=seed, stimuli=stims)
        stored = [x.to_dict() for x in seq]
        extra = {"grid": {**grid.to_dict(), "zones": grid.zones}, "stimulus_types": list(stims)}
        return stored, stored, extra
    from resolve.program.graphaesthesia import make_sequence as graph_sequence

    seq2 = graph_sequence(level, seed=seed)
    stored = [x.to_dict() for x in seq2]
    return stored, stored, {}


def start_block(ctx: Context, participant: str, task: str, *, mode: str) -> dict[str, Any]:
    """Start a block of ``task`` at the participant's current level; what the client shows.

    Parameters
    ----------
    participant : str
        A randomised participant of the active arm, during the programme.
    task : {"lrj", "tactile", "graphaesthesia"}
    mode : {"clinic", "home", "partner"}
        ``clinic`` needs ``deliver programme`` (the treating clinician).

    Returns
    -------
    dict
        ``block_id``, ``task``, ``mode``, ``setting`` (clinic/home), ``week``,
        ``level``, ``settings`` (the level's settings), ``stimuli`` (LRJ:
        ``{"file": name}`` of the programme's image bank
        (:mod:`resolve.ops.programme_images`), in order, labels kept on the
        server; tactile: ``{"zone", "stimulus"}`` to touch; graphaesthesia:
        ``{"symbol", "orientation"}`` to draw), ``time_limit_s`` (LRJ, else None),
        ``image_set`` (LRJ), and for tactile ``grid`` and ``stimulus_types``.
    """
    ctx.require(Operation.practise)
    if mode not in MODES:
        raise DataValidationError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if mode == "clinic":
        ctx.require(Operation.deliver_programme)
    if task not in TASKS:
        raise UnknownNameError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    s = subject(ctx, participant, write=True)
    if s.role != "active":
        raise TrialStateError(f"participant {s.code!r}'s programme has no training tasks")
    week = s.current_week()
    level_no = levels(s, collect(ctx, s).decisions, week)[task]
    level = s.template.levels(task)[level_no - 1]
    numbers = [
        int(r.payload["block"])
        for r in records(ctx, s, "block_started", "block")
        if r.payload["task"] == task
    ]
    number = max(numbers, default=0) + 1
    block_id = f"{s.code}/{task}/{number}"
    seed = secrets.randbits(31)
    final = week == s.template.programme.weeks and mode == "clinic"
    image_set = ("test" if final else "training") if task == "lrj" else None
    stored, shown, extra = _stimuli(task, level, seed, image_set, s)
    setting = "clinic" if mode == "clinic" else "home"
    payload = {
        "block_id": block_id,
        "task": task,
        "block": number,
        "level": level_no,
        "mode": mode,
        "setting": setting,
        "week": week,
        "seed": seed,
        "image_set": image_set,
        "stimuli": stored,
    }
    append(ctx, s, "block_started", week, payload, ref=block_id)
    return {
        "block_id": block_id,
        "task": task,
        "mode": mode,
        "setting": setting,
        "week": week,
        "level": level_no,
        "settings": level.model_dump(mode="json"),
        "stimuli": shown,
        "time_limit_s": extra.pop("time_limit_s", None),
        "image_set": image_set,
        **extra,
    }


# ----------------------------------------------------------------------------- submission
def _trial(k: int, data: object, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise DataValidationError(f"trial {k}: expected an object; got {data!r}")
    for key in data:
        if key not in allowed:
            raise DataValidationError(
                f"trial {k}: unknown key {key!r}; allowed: {', '.join(allowed)}"
            )
    return dict(data)


def _match(k: int, key: str, given: object, shown: object) -> None:
    if given != shown:
        raise DataValidationError(
            f"trial {k}: {key!r} is {given!r}, but the started block showed {shown!r}"
        )


def _lrj(stimuli: list[dict[str, Any]], trials: Sequence[Any], template: Any, level: int) -> Any:
    from resolve.program.lrj import LrjStimulus, LrjTrial, score_block

    spec = template.lrj.levels[level - 1]
    out = []
    for k, (stim, raw) in enumerate(zip(stimuli, trials, strict=True), start=1):
        t = _trial(k, raw, ("file", "response", "rt_ms"))
        _match(k, "file", t.get("file"), stim["file"])
        response = t.get("response")
        if response not in ("left", "right", None):
            raise DataValidationError(
                f"trial {k}: 'response' must be left, right or null (no answer); got {response!r}"
            )
        rt = t.get("rt_ms")
        if rt is not None and (
            isinstance(rt, bool) or not isinstance(rt, int | float) or not rt >= 0
        ):
            raise DataValidationError(f"trial {k}: 'rt_ms' must be a number >= 0; got {rt!r}")
        data = {"stimulus": LrjStimulus.from_dict(stim), "response": response, "rt_ms": rt}
        out.append(LrjTrial.from_dict(data, source=f"trial {k}"))
    score = score_block(out, norms=template.norms.lrj, time_limit_s=spec.time_limit_s)
    return score, out


def _tactile(
    stimuli: list[dict[str, Any]], trials: Sequence[Any], template: Any, level: int
) -> Any:
    from resolve.program.tactile import TactileTrial, grid_for, score_block

    grid = grid_for(template.tactile.levels[level - 1])
    stims = template.tactile.stimuli
    out = []
    keys = ("zone", "stimulus", "response_zone", "response_stimulus")
    for k, (stim, raw) in enumerate(zip(stimuli, trials, strict=True), start=1):
        t = _trial(k, raw, keys)
        _match(k, "zone", t.get("zone"), stim["zone"])
        _match(k, "stimulus", t.get("stimulus"), stim["stimulus"])
        rz, rs = t.get("response_zone"), t.get("response_stimulus")
        if rz is not None:
            grid.check(rz, f"trial {k}: 'response_zone'")
        if rs is not None and rs not in stims:
            raise DataValidationError(
                f"trial {k}: 'response_stimulus' must be one of {', '.join(stims)} or null; "
                f"got {rs!r}"
            )
        data = {**stim, "response_zone": rz, "response_stimulus": rs}
        out.append(TactileTrial.from_dict(data, source=f"trial {k}"))
    return score_block(grid, out, stimuli=stims), out


def _graph(stimuli: list[dict[str, Any]], trials: Sequence[Any], template: Any, level: int) -> Any:
    from resolve.program.graphaesthesia import GraphTrial, score_block

    out = []
    for k, (stim, raw) in enumerate(zip(stimuli, trials, strict=True), start=1):
        t = _trial(k, raw, ("symbol", "orientation", "response"))
        _match(k, "symbol", t.get("symbol"), stim["symbol"])
        _match(k, "orientation", t.get("orientation"), stim["orientation"])
        response = t.get("response")
        if response is not None and (not isinstance(response, str) or len(response) > 20):
            raise DataValidationError(
                f"trial {k}: 'response' must be text (at most 20 characters) or null; "
                f"got {response!r}"
            )
        out.append(GraphTrial.from_dict({**stim, "response": response}, source=f"trial {k}"))
    return score_block(out), out


_SCORERS = {"lrj": _lrj, "tactile": _tactile, "graphaesthesia": _graph}


def submit_block(
    ctx: Context,
    participant: str,
    block_id: str,
    trials: Sequence[Mapping[str, Any]],
    *,
    pain: int | None = None,
) -> BlockOutcome:
    """Check, score and store the answers to a started block; decide on the level.

    Parameters
    ----------
    block_id : str
        From :func:`start_block`; each block is submitted once.
    trials : sequence of dict
        One per stimulus, in the order shown. LRJ: ``file``, ``response``
        (``left``/``right``, null = no answer in time), ``rt_ms`` (from image
        shown to answer, >= 0; null without an answer). Tactile: ``zone`` and
        ``stimulus`` as shown, ``response_zone`` (a zone of the grid or null),
        ``response_stimulus``. Graphaesthesia: ``symbol`` and ``orientation`` as
        shown, ``response`` (text or null).
    pain : int, optional
        Current pain 0-10 (LRJ results vary with pain).

    Raises
    ------
    UnknownNameError
        No block ``block_id`` was started for the participant.
    TrialStateError
        The block was submitted already, or a later block of the task was started.
    DataValidationError
        A trial that does not match the started block (naming the trial number and
        the value), the wrong number of trials, or an answer outside the allowed set.
    """
    ctx.require(Operation.practise)
    s = subject(ctx, participant, write=True)
    rows = [r for r in records(ctx, s, "block_started", "block") if r.ref == block_id]
    started = [r for r in rows if r.kind == "block_started"]
    if not started:
        raise UnknownNameError(f"no block {block_id!r} was started for participant {s.code!r}")
    if any(r.kind == "block" for r in rows):
        raise TrialStateError(f"block {block_id!r} was submitted already")
    begun = started[0].payload
    later = [
        r.ref
        for r in records(ctx, s, "block_started")
        if r.payload["task"] == begun["task"] and r.payload["block"] > begun["block"]
    ]
    if later:
        raise TrialStateError(
            f"block {block_id!r} was left for a later block ({later[0]!r}); it cannot be "
            "submitted any more"
        )
    if begun["mode"] == "clinic":
        ctx.require(Operation.deliver_programme)
    if isinstance(trials, str | bytes) or not isinstance(trials, Sequence):
        raise DataValidationError("trials must be a list, one per stimulus shown")
    stimuli = begun["stimuli"]
    if len(trials) != len(stimuli):
        raise DataValidationError(
            f"block {block_id!r} showed {len(stimuli)} stimuli; got {len(trials)} trials"
        )
    task, level = begun["task"], begun["level"]
    score, answered = _SCORERS[task](stimuli, trials, s.template, level)
    record = BlockRecord.from_dict(
        {
            "participant_id": s.code,
            "task": task,
            "block": begun["block"],
            "week": begun["week"],
            "setting": begun["setting"],
            "level": level,
            "measures": score.measures(),
            "trials": [t.to_dict() for t in answered],
            "image_set": begun["image_set"],
            "pain": pain,
        },
        source=f"block {block_id}",
    )
    history = sorted(
        [b for b in collect(ctx, s).blocks if b.task == task] + [record], key=lambda b: b.block
    )
    decision = decide(task_rules(s.template, task), history)
    week = begun["week"]
    append(ctx, s, "block", week, record.to_dict(), ref=block_id)
    append(ctx, s, "decision", week, decision.to_dict(), ref=block_id)
    return BlockOutcome(
        block_id=block_id,
        task=task,
        level=level,
        week=week,
        measures=record.measures,
        score=score.to_dict(),
        decision=decision,
        new_level=decision.to_level,
    )
