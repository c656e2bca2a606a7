"""Graphaesthesia: numbers, letters and short words drawn on the back.

The clinician or partner draws a symbol with a fingertip on the lower back; the
person names it. Levels progress from numbers (0-9) to capital letters (A-Z) to
three-letter words, then vary the orientation: ``upright`` (the top of the symbol
toward the head, as the drawer behind the person reads it), ``inverted`` (turned 180
degrees) or ``sideways`` (turned 90 degrees, top toward the person's left).

A block draws symbols of the level's set without repeats until the set is used up
(then reshuffles), never the same symbol twice in a row, with the orientations in
equal numbers (up to one). Scoring: accuracy (exact answer, case and surrounding
blanks ignored; unanswered is not correct), character accuracy (share of symbol
positions named right; an unanswered trial scores 0), accuracy by orientation and the
confusions (symbol shown, answer given).

Examples
--------
>>> from resolve.program.template import load_template
>>> lv = load_template().graphaesthesia.levels[3]
>>> seq = make_sequence(lv, seed=2)
>>> len(seq), {s.orientation for s in seq} == set(lv.orientations)
(12, True)
>>> t = [GraphTrial(symbol="CAT", orientation="upright", response="cat"),
...      GraphTrial(symbol="DOG", orientation="inverted", response="DIG")]
>>> s = score_block(t)
>>> s.accuracy, round(s.character_accuracy, 3), s.confusions
(0.5, 0.833, [['DOG', 'DIG']])
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Literal

from resolve._schema import Text
from resolve.errors import DataValidationError
from resolve.program._records import Record, rng
from resolve.program._task_schema import GraphLevel

__all__ = ["SETS", "GraphScore", "GraphStimulus", "GraphTrial", "make_sequence", "score_block"]

Orientation = Literal["upright", "inverted", "sideways"]

#: The stimulus sets: digits, capital letters, three-letter words (written for this project).
SETS: dict[str, tuple[str, ...]] = {
    "numbers": tuple("0123456789"),
    "letters": tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "words": (
        "ARM", "BAG", "BED", "BOX", "BUS", "CAR", "CAT", "CUP", "DOG", "EGG",
        "FAN", "FOX", "GUM", "HAT", "HEN", "HUT", "INK", "JAM", "JUG", "KEY",
        "KIT", "LEG", "LID", "LOG", "MAP", "MOP", "MUD", "NET", "OWL", "PEN",
        "PIG", "RED", "RUG", "SUN", "TEA", "TOP", "VAN", "WEB", "YAK", "ZIP",
    ),
}  # fmt: skip


class GraphStimulus(Record):
    """A symbol to draw and its orientation."""

    symbol: Text
    orientation: Orientation


def make_sequence(level: GraphLevel, *, seed: int) -> list[GraphStimulus]:
    """A seeded block of ``level.trials`` symbols of the level's set and orientations.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> lv = load_template().graphaesthesia.levels[0]
    >>> make_sequence(lv, seed=1) == make_sequence(lv, seed=1)
    True
    >>> sorted(s.symbol for s in make_sequence(lv, seed=1)) == list("0123456789")
    True
    """
    g = rng(seed)
    pool = SETS[level.set]
    symbols: list[str] = []
    while len(symbols) < level.trials:
        batch = [pool[i] for i in g.permutation(len(pool))]
        if symbols and len(batch) > 1 and batch[0] == symbols[-1]:
            batch[0], batch[1] = batch[1], batch[0]
        symbols.extend(batch)
    symbols = symbols[: level.trials]
    orientations: list[str] = []
    while len(orientations) < level.trials:
        orientations.extend(level.orientations)
    orientations = orientations[: level.trials]
    orientations = [orientations[i] for i in g.permutation(len(orientations))]
    return [
        GraphStimulus.from_dict({"symbol": s, "orientation": o})
        for s, o in zip(symbols, orientations, strict=True)
    ]


class GraphTrial(Record):
    """A drawn symbol and the answer (None = not answered)."""

    symbol: Text
    orientation: Orientation
    response: str | None


class GraphScore(Record):
    """Score of one graphaesthesia block."""

    n_trials: int
    accuracy: float
    character_accuracy: float
    unanswered_rate: float
    accuracy_by_orientation: dict[str, float]
    confusions: list[list[str]]

    def measures(self) -> dict[str, float | None]:
        """The block's measures for :class:`~resolve.program.blocks.BlockRecord`."""
        return {
            "accuracy": self.accuracy,
            "character_accuracy": self.character_accuracy,
            "unanswered_rate": self.unanswered_rate,
            "n_trials": float(self.n_trials),
        }


def _characters(symbol: str, answer: str | None) -> float:
    if answer is None:
        return 0.0
    hits = sum(a == b for a, b in zip(symbol, answer, strict=False))
    return hits / max(len(symbol), len(answer))


def score_block(trials: Sequence[GraphTrial]) -> GraphScore:
    """Score a block (see the module notes).

    Examples
    --------
    >>> score_block([GraphTrial(symbol="7", orientation="upright", response=None)]).unanswered_rate
    1.0
    """
    if not trials:
        raise DataValidationError("graphaesthesia block: no trials")
    correct: list[bool] = []
    chars: list[float] = []
    confusions: list[list[str]] = []
    by_orientation: dict[str, list[bool]] = {}
    for t in trials:
        answer = None if t.response is None else t.response.strip().upper()
        ok = answer == t.symbol.upper()
        correct.append(ok)
        chars.append(_characters(t.symbol.upper(), answer))
        by_orientation.setdefault(t.orientation, []).append(ok)
        if answer is not None and not ok:
            confusions.append([t.symbol, answer])
    n = len(trials)
    return GraphScore(
        n_trials=n,
        accuracy=sum(correct) / n,
        character_accuracy=statistics.fmean(chars),
        unanswered_rate=sum(t.response is None for t in trials) / n,
        accuracy_by_orientation={o: sum(v) / len(v) for o, v in by_orientation.items()},
        confusions=confusions,
    )
