"""Left/right judgement (LRJ) of trunk images: blocks of trials and their scores.

A block is a seeded, balanced sequence of images: equal numbers of each side (the
person's own left or right) x movement (rotation or side-bend) cell, drawn from an
image manifest (``manifest.csv`` of ``resolve program lrj-images``: ``file, movement,
side, angle_deg, view, set``) filtered by the level's angles and views, or generated
from the level alone (``file`` None), and shuffled so that no more than
:data:`MAX_RUN` images in a row show the same side.

Scoring: accuracy is correct answers over all trials (a timeout or an answer slower
than the time limit counts as a timeout, never as correct); reaction times (RT) are
summarised over **correct** answers only, the usual convention for laterality tasks
(median and mean, in ms), per side and per movement; asymmetries are left minus
right. Norm comparisons use the template's ``[norms.lrj]``
(:func:`resolve.program.norms.compare_lrj`).

Examples
--------
>>> from resolve.program.template import load_template
>>> t = load_template()
>>> block = make_block(t.lrj.levels[0], seed=1)
>>> len(block), sum(s.side == "left" for s in block), sum(s.movement == "rotation" for s in block)
(24, 12, 12)
>>> trials = [LrjTrial(stimulus=s, response=s.side, rt_ms=1500.0) for s in block]
>>> score = score_block(trials, norms=t.norms.lrj)
>>> score.accuracy, score.median_rt_ms, score.norm.within_norm
(1.0, 1500.0, True)
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import model_validator

from resolve._schema import SchemaError, Text, between
from resolve.errors import DataValidationError
from resolve.program._records import Record, rng
from resolve.program._task_schema import LrjLevel
from resolve.program._template_schema import LrjNorms
from resolve.program.norms import LrjNormComparison, compare_lrj

__all__ = [
    "MANIFEST_COLUMNS",
    "MAX_RUN",
    "LrjCell",
    "LrjScore",
    "LrjStimulus",
    "LrjTrial",
    "make_block",
    "parse_manifest",
    "read_manifest",
    "score_block",
]

Movement = Literal["rotation", "side_bend"]
Side = Literal["left", "right"]
SIDES: tuple[Side, Side] = ("left", "right")
MOVEMENTS: tuple[Movement, Movement] = ("rotation", "side_bend")
#: Columns a manifest must have (others are ignored).
MANIFEST_COLUMNS = ("file", "movement", "side", "angle_deg", "view", "set")
#: Longest run of images of the same side in a block.
MAX_RUN = 3


class LrjStimulus(Record):
    """One image: its file (None when generated from a level), label and view."""

    file: str | None = None
    movement: Movement
    side: Side
    angle_deg: Annotated[float, between(0, 90, low_open=True)]
    view: Text
    set: Literal["training", "test"] | None = None


def parse_manifest(text: str, source: str) -> list[LrjStimulus]:
    """Parse manifest CSV ``text``; errors name ``source``, the row and the column.

    Examples
    --------
    >>> text = "file,movement,side,angle_deg,view,set\\na.png,rotation,left,45,back,training\\n"
    >>> parse_manifest(text, "manifest.csv")[0].side
    'left'
    >>> parse_manifest(text.replace("left", "up"), "manifest.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: manifest.csv: row 2: 'side': must be one of left, ...
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DataValidationError(f"{source}: missing column(s) {', '.join(missing)}")
    out = []
    for k, row in enumerate(reader, start=2):
        data: dict[str, object] = {c: row[c] for c in MANIFEST_COLUMNS}
        try:
            data["angle_deg"] = float(row["angle_deg"])
        except (TypeError, ValueError):
            raise DataValidationError(
                f"{source}: row {k}: 'angle_deg': must be a number; got {row['angle_deg']!r}"
            ) from None
        out.append(LrjStimulus.from_dict(data, source=f"{source}: row {k}"))
    if not out:
        raise DataValidationError(f"{source}: no images")
    return out


def read_manifest(path: str | Path) -> list[LrjStimulus]:
    """Read an image manifest (``manifest.csv``); see :func:`parse_manifest`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise DataValidationError(f"{p}: cannot read manifest ({why})") from None
    return parse_manifest(text, p.name)


def _max_run(sides: Sequence[str]) -> int:
    best = run = 0
    for k, s in enumerate(sides):
        run = run + 1 if k and s == sides[k - 1] else 1
        best = max(best, run)
    return best


def make_block(
    level: LrjLevel,
    *,
    seed: int,
    stimuli: Sequence[LrjStimulus] | None = None,
    image_set: Literal["training", "test"] | None = None,
) -> list[LrjStimulus]:
    """A balanced, shuffled block of ``level.trials`` images for ``level``.

    Parameters
    ----------
    level : LrjLevel
        Angles, views and number of trials (a multiple of 4).
    seed : int
        Seed of the draw and the order; the same inputs give the same block.
    stimuli : sequence of LrjStimulus, optional
        A manifest (:func:`read_manifest`). Images whose angle and view belong to the
        level (and whose ``set`` is ``image_set``, when given) are drawn without
        replacement within each side x movement cell; a cell with fewer images than
        it needs reuses them as evenly as possible. Without a manifest the block is
        generated from the level (angles and views cycled within each cell).
    image_set : {"training", "test"}, optional
        Only images of this set (outcome tests use images not used in training).

    Raises
    ------
    DataValidationError
        A cell has no image for the level.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> lv = load_template().lrj.levels[1]
    >>> make_block(lv, seed=3) == make_block(lv, seed=3)
    True
    >>> sorted({s.view for s in make_block(lv, seed=3)}) == sorted(lv.views)
    True
    """
    g = rng(seed)
    per_cell = level.trials // 4
    angles = set(level.angles_deg)
    views = set(level.views)
    block: list[LrjStimulus] = []
    for side in SIDES:
        for movement in MOVEMENTS:
            if stimuli is None:
                combos = [(a, v) for a in level.angles_deg for v in level.views]
                order = g.permutation(len(combos))
                pool = [
                    LrjStimulus(movement=movement, side=side, angle_deg=a, view=v, set=image_set)
                    for a, v in (combos[i] for i in order)
                ]
            else:
                pool = [
                    s
                    for s in stimuli
                    if s.side == side
                    and s.movement == movement
                    and s.angle_deg in angles
                    and s.view in views
                    and (image_set is None or s.set == image_set)
                ]
                if not pool:
                    raise DataValidationError(
                        f"manifest has no {image_set or 'any'}-set image for LRJ level "
                        f"{level.level}: side {side}, movement {movement}, angles "
                        f"{sorted(angles)}, views {sorted(views)}"
                    )
            picked: list[LrjStimulus] = []
            while len(picked) < per_cell:
                order = g.permutation(len(pool))
                picked.extend(pool[i] for i in order[: per_cell - len(picked)])
            block.extend(picked)
    for _ in range(1000):
        order = g.permutation(len(block))
        shuffled = [block[i] for i in order]
        if _max_run([s.side for s in shuffled]) <= MAX_RUN:
            return shuffled
    return shuffled  # pragma: no cover - a valid order is found long before


class LrjTrial(Record):
    """One answered (or timed-out) image.

    ``response`` is None for a timeout (no answer within the time limit); an answer
    needs its reaction time ``rt_ms`` (from image onset, e.g. ``performance.now()``).
    """

    stimulus: LrjStimulus
    response: Side | None
    rt_ms: Annotated[float, between(0, 600_000, low_open=True)] | None = None

    @model_validator(mode="after")
    def _rt(self) -> Self:
        if self.response is not None and self.rt_ms is None:
            raise SchemaError("an answer needs its reaction time; got None", "rt_ms")
        return self

    @property
    def correct(self) -> bool:
        """Whether the answer names the labelled side."""
        return self.response == self.stimulus.side


class LrjCell(Record):
    """Accuracy and RT (correct answers, ms) of one side or movement."""

    n: int
    n_correct: int
    accuracy: float | None
    median_rt_ms: float | None
    mean_rt_ms: float | None


class LrjScore(Record):
    """Score of one LRJ block (see the module notes for the conventions)."""

    n_trials: int
    n_correct: int
    n_timeouts: int
    accuracy: float
    median_rt_ms: float | None
    mean_rt_ms: float | None
    by_side: dict[str, LrjCell]
    by_movement: dict[str, LrjCell]
    asymmetry_accuracy: float | None
    asymmetry_rt_ms: float | None
    norm: LrjNormComparison | None

    def measures(self) -> dict[str, float | None]:
        """The block's measures for :class:`~resolve.program.blocks.BlockRecord` (seconds)."""

        def s(ms: float | None) -> float | None:
            return None if ms is None else ms / 1000.0

        left, right = self.by_side["left"], self.by_side["right"]
        return {
            "accuracy": self.accuracy,
            "median_rt_s": s(self.median_rt_ms),
            "mean_rt_s": s(self.mean_rt_ms),
            "accuracy_left": left.accuracy,
            "accuracy_right": right.accuracy,
            "median_rt_left_s": s(left.median_rt_ms),
            "median_rt_right_s": s(right.median_rt_ms),
            "asymmetry_accuracy": None
            if self.asymmetry_accuracy is None
            else abs(self.asymmetry_accuracy),
            "asymmetry_rt_s": None
            if self.asymmetry_rt_ms is None
            else abs(self.asymmetry_rt_ms) / 1e3,
            "timeout_rate": self.n_timeouts / self.n_trials,
            "n_trials": float(self.n_trials),
        }


def _cell(trials: Iterable[tuple[bool, float | None]]) -> LrjCell:
    items = list(trials)
    rts = [rt for ok, rt in items if ok and rt is not None]
    n_correct = sum(ok for ok, _ in items)
    return LrjCell(
        n=len(items),
        n_correct=n_correct,
        accuracy=n_correct / len(items) if items else None,
        median_rt_ms=statistics.median(rts) if rts else None,
        mean_rt_ms=statistics.fmean(rts) if rts else None,
    )


def score_block(
    trials: Sequence[LrjTrial],
    *,
    norms: LrjNorms | None = None,
    time_limit_s: float | None = None,
) -> LrjScore:
    """Score a block: accuracy, RT of correct answers, per side and movement, norms.

    Parameters
    ----------
    trials : sequence of LrjTrial
        The block's trials (at least one).
    norms : LrjNorms, optional
        The template's ``[norms.lrj]``; when given, ``norm`` holds the comparison.
    time_limit_s : float, optional
        Answers slower than this count as timeouts.

    Returns
    -------
    LrjScore
        ``asymmetry_accuracy`` = accuracy left - accuracy right; ``asymmetry_rt_ms`` =
        median RT left - right (None when a side has no correct answer).

    Examples
    --------
    >>> s = LrjStimulus(movement="rotation", side="left", angle_deg=45, view="back")
    >>> r = LrjStimulus(movement="rotation", side="right", angle_deg=45, view="back")
    >>> t = [LrjTrial(stimulus=s, response="left", rt_ms=1000),
    ...      LrjTrial(stimulus=s, response="left", rt_ms=3000),
    ...      LrjTrial(stimulus=r, response="left", rt_ms=900),
    ...      LrjTrial(stimulus=r, response=None)]
    >>> sc = score_block(t)
    >>> sc.accuracy, sc.median_rt_ms, sc.n_timeouts, sc.asymmetry_accuracy
    (0.5, 2000.0, 1, 1.0)
    >>> score_block(t, time_limit_s=2.5).by_side["left"].accuracy
    0.5
    """
    if not trials:
        raise DataValidationError("LRJ block: no trials")
    limit_ms = None if time_limit_s is None else time_limit_s * 1000.0
    rows: list[tuple[LrjStimulus, bool, float | None, bool]] = []
    for t in trials:
        late = limit_ms is not None and t.rt_ms is not None and t.rt_ms > limit_ms
        timeout = t.response is None or late
        ok = t.correct and not timeout
        rows.append((t.stimulus, ok, None if timeout else t.rt_ms, timeout))
    overall = _cell((ok, rt) for _, ok, rt, _ in rows)
    by_side: dict[str, LrjCell] = {
        side: _cell((ok, rt) for s, ok, rt, _ in rows if s.side == side) for side in SIDES
    }
    by_movement: dict[str, LrjCell] = {
        m: _cell((ok, rt) for s, ok, rt, _ in rows if s.movement == m) for m in MOVEMENTS
    }
    left, right = by_side["left"], by_side["right"]
    asym_acc = (
        None if left.accuracy is None or right.accuracy is None else left.accuracy - right.accuracy
    )
    asym_rt = (
        None
        if left.median_rt_ms is None or right.median_rt_ms is None
        else left.median_rt_ms - right.median_rt_ms
    )
    accuracy = overall.n_correct / overall.n
    norm = None
    if norms is not None:
        norm = compare_lrj(
            accuracy=accuracy,
            median_rt_s=None if overall.median_rt_ms is None else overall.median_rt_ms / 1e3,
            asymmetry_accuracy=asym_acc,
            norms=norms,
        )
    return LrjScore(
        n_trials=overall.n,
        n_correct=overall.n_correct,
        n_timeouts=sum(timeout for *_, timeout in rows),
        accuracy=accuracy,
        median_rt_ms=overall.median_rt_ms,
        mean_rt_ms=overall.mean_rt_ms,
        by_side=by_side,
        by_movement=by_movement,
        asymmetry_accuracy=asym_acc,
        asymmetry_rt_ms=asym_rt,
        norm=norm,
    )
