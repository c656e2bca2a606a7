"""Tactile localisation and sharp/blunt discrimination on a grid drawn on the back.

The grid has ``rows`` x ``cols`` zones ``spacing_cm`` apart, seen from behind: rows
are lettered from the head down (``A``, ``B``, ...), columns numbered from the
person's left to their right (``1``, ``2``, ...), so ``"A1"`` is the upper zone on the
person's left. Zone centres are in cm from the grid's centre: ``x`` toward the
person's right, ``y`` toward the head.

The app tells the clinician or partner where and what to touch (a seeded sequence
in which every zone x stimulus pair occurs equally often, up to one when the block
length is not a multiple, and the same zone never twice in a row when avoidable);
the person answers by tapping a zone and naming the stimulus. Discrimination is
active (the person reports both); passive touch alone is not the task.

Scoring: location, type and combined accuracy over all trials (an unanswered part
is not correct); error distance (cm between the touched and the answered zone
centres; 0 when right) over trials with a location answer; a location confusion
matrix (rows = touched zone, columns = answered zone, grid order) and a type
confusion table.

Examples
--------
>>> g = Grid(rows=2, cols=3, spacing_cm=5)
>>> g.zones
['A1', 'A2', 'A3', 'B1', 'B2', 'B3']
>>> g.centre("A1"), g.distance("A1", "B3")
((-5.0, 2.5), 11.180339887498949)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Annotated

from resolve._schema import Text, between
from resolve.errors import DataValidationError
from resolve.program._records import Record, rng
from resolve.program._task_schema import TactileLevel

__all__ = [
    "Grid",
    "TactileScore",
    "TactileStimulus",
    "TactileTrial",
    "grid_for",
    "make_sequence",
    "score_block",
]

_ROWS = "ABCDEFGHIJ"


class Grid(Record):
    """A rows x cols grid of zones ``spacing_cm`` apart."""

    rows: Annotated[int, between(1, 10)]
    cols: Annotated[int, between(1, 10)]
    spacing_cm: Annotated[float, between(0, low_open=True)]

    @property
    def zones(self) -> list[str]:
        """Zone ids in grid order (row by row from the head, left to right)."""
        return [f"{_ROWS[r]}{c + 1}" for r in range(self.rows) for c in range(self.cols)]

    def centre(self, zone: str) -> tuple[float, float]:
        """``(x, y)`` of a zone centre, cm from the grid centre (x right, y up)."""
        self.check(zone, "zone")
        r, c = _ROWS.index(zone[0]), int(zone[1:]) - 1
        return (
            (c - (self.cols - 1) / 2) * self.spacing_cm,
            ((self.rows - 1) / 2 - r) * self.spacing_cm,
        )

    def distance(self, a: str, b: str) -> float:
        """Distance between two zone centres, cm."""
        (xa, ya), (xb, yb) = self.centre(a), self.centre(b)
        return math.hypot(xa - xb, ya - yb)

    def check(self, zone: object, what: str) -> str:
        """``zone`` if it is a zone of the grid, else :class:`DataValidationError`."""
        if not isinstance(zone, str) or zone not in self.zones:
            raise DataValidationError(
                f"{what} must be a zone of the {self.rows} x {self.cols} grid "
                f"({self.zones[0]} to {self.zones[-1]}); got {zone!r}"
            )
        return zone


def grid_for(level: TactileLevel) -> Grid:
    """The grid of a tactile level."""
    return Grid(rows=level.rows, cols=level.cols, spacing_cm=level.spacing_cm)


class TactileStimulus(Record):
    """Where and what to touch."""

    zone: Text
    stimulus: Text


def make_sequence(
    grid: Grid, *, n: int, seed: int, stimuli: Sequence[str] = ("sharp", "blunt")
) -> list[TactileStimulus]:
    """A seeded, balanced sequence of ``n`` zone x stimulus touches.

    Every zone x stimulus pair occurs ``n // (zones x stimuli)`` times; the remaining
    touches go to distinct zones with the stimuli in turn, so zone counts and
    stimulus counts each differ by at most one. Consecutive touches are in different
    zones whenever the counts allow it.

    Examples
    --------
    >>> g = Grid(rows=2, cols=2, spacing_cm=8)
    >>> seq = make_sequence(g, n=24, seed=5)
    >>> from collections import Counter
    >>> sorted(Counter((s.zone, s.stimulus) for s in seq).values())
    [3, 3, 3, 3, 3, 3, 3, 3]
    >>> any(a.zone == b.zone for a, b in zip(seq, seq[1:]))
    False
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataValidationError(f"n must be an integer >= 1; got {n!r}")
    stims = list(stimuli)
    if not stims or len(set(stims)) != len(stims):
        raise DataValidationError(f"stimuli must be distinct names; got {stims!r}")
    g = rng(seed)
    zones = grid.zones
    per_zone: dict[str, list[str]] = {z: [] for z in zones}
    reps, rest = divmod(n, len(zones) * len(stims))
    for z in zones:
        per_zone[z].extend(stims * reps)
    # The remainder: the pairs listed pass by pass over one shuffled zone order, the
    # stimulus rotating with the position and the pass, so that every pair occurs once
    # in the list and any prefix keeps zone and stimulus counts within one.
    offset = int(g.integers(len(stims)))
    order = [zones[i] for i in g.permutation(len(zones))]
    extra = [
        (z, stims[(offset + i + p) % len(stims)])
        for p in range(len(stims))
        for i, z in enumerate(order)
    ]
    for z, s in extra[:rest]:
        per_zone[z].append(s)
    for z in zones:
        per_zone[z] = [per_zone[z][i] for i in g.permutation(len(per_zone[z]))]
    out: list[TactileStimulus] = []
    prev: str | None = None
    for i in range(n):
        left = n - i
        counts = {z: len(v) for z, v in per_zone.items() if v}
        allowed = [z for z in counts if z != prev] or list(counts)
        forced = [z for z in allowed if 2 * counts[z] > left]
        if forced:
            zone = forced[0]
        else:
            weights = [counts[z] for z in allowed]
            zone = allowed[int(g.choice(len(allowed), p=[w / sum(weights) for w in weights]))]
        out.append(TactileStimulus(zone=zone, stimulus=per_zone[zone].pop()))
        prev = zone
    return out


class TactileTrial(Record):
    """A touch and the answer: ``response_zone`` / ``response_stimulus`` None = not answered."""

    zone: Text
    stimulus: Text
    response_zone: Text | None
    response_stimulus: Text | None


class TactileScore(Record):
    """Score of one tactile block (see the module notes)."""

    n_trials: int
    accuracy: float
    location_accuracy: float
    type_accuracy: float
    mean_error_cm: float | None
    median_error_cm: float | None
    unanswered_rate: float
    zones: list[str]
    confusion: list[list[int]]
    type_confusion: dict[str, dict[str, int]]
    accuracy_by_zone: dict[str, float | None]
    error_by_zone: dict[str, float | None]

    def measures(self) -> dict[str, float | None]:
        """The block's measures for :class:`~resolve.program.blocks.BlockRecord`."""
        return {
            "accuracy": self.accuracy,
            "location_accuracy": self.location_accuracy,
            "type_accuracy": self.type_accuracy,
            "mean_error_cm": self.mean_error_cm,
            "median_error_cm": self.median_error_cm,
            "unanswered_rate": self.unanswered_rate,
            "n_trials": float(self.n_trials),
        }


def score_block(
    grid: Grid, trials: Sequence[TactileTrial], *, stimuli: Sequence[str] = ("sharp", "blunt")
) -> TactileScore:
    """Score a tactile block on ``grid``.

    Raises
    ------
    DataValidationError
        No trials, or a zone or stimulus (touched or answered) that is not on the grid
        or not one of ``stimuli`` (the message names the trial number and value).

    Examples
    --------
    >>> g = Grid(rows=1, cols=3, spacing_cm=4)
    >>> def trial(zone, stimulus, response_zone, response_stimulus):
    ...     return TactileTrial(zone=zone, stimulus=stimulus, response_zone=response_zone,
    ...                         response_stimulus=response_stimulus)
    >>> t = [trial("A1", "sharp", "A1", "sharp"), trial("A1", "blunt", "A3", "blunt"),
    ...      trial("A2", "sharp", None, "blunt")]
    >>> s = score_block(g, t)
    >>> s.accuracy, s.location_accuracy, s.type_accuracy, s.mean_error_cm
    (0.3333333333333333, 0.3333333333333333, 0.6666666666666666, 4.0)
    >>> s.confusion
    [[1, 0, 1], [0, 0, 0], [0, 0, 0]]
    """
    if not trials:
        raise DataValidationError("tactile block: no trials")
    stims = list(stimuli)
    zones = grid.zones
    index = {z: k for k, z in enumerate(zones)}
    confusion = [[0] * len(zones) for _ in zones]
    types = {s: dict.fromkeys(stims, 0) for s in stims}
    errors: list[float] = []
    by_zone: dict[str, list[float]] = {z: [] for z in zones}
    hits: dict[str, list[bool]] = {z: [] for z in zones}
    n_loc = n_type = n_both = n_unanswered = 0
    for k, t in enumerate(trials, start=1):
        grid.check(t.zone, f"trial {k}: 'zone'")
        for value, what in ((t.stimulus, "stimulus"), (t.response_stimulus, "response_stimulus")):
            if value is not None and value not in stims:
                raise DataValidationError(
                    f"trial {k}: {what!r} must be one of {', '.join(stims)}; got {value!r}"
                )
        loc_ok = type_ok = False
        if t.response_zone is not None:
            grid.check(t.response_zone, f"trial {k}: 'response_zone'")
            confusion[index[t.zone]][index[t.response_zone]] += 1
            d = grid.distance(t.zone, t.response_zone)
            errors.append(d)
            by_zone[t.zone].append(d)
            loc_ok = t.response_zone == t.zone
        if t.response_stimulus is not None:
            types[t.stimulus][t.response_stimulus] += 1
            type_ok = t.response_stimulus == t.stimulus
        hits[t.zone].append(loc_ok)
        n_loc += loc_ok
        n_type += type_ok
        n_both += loc_ok and type_ok
        n_unanswered += t.response_zone is None or t.response_stimulus is None
    n = len(trials)
    return TactileScore(
        n_trials=n,
        accuracy=n_both / n,
        location_accuracy=n_loc / n,
        type_accuracy=n_type / n,
        mean_error_cm=statistics.fmean(errors) if errors else None,
        median_error_cm=statistics.median(errors) if errors else None,
        unanswered_rate=n_unanswered / n,
        zones=zones,
        confusion=confusion,
        type_confusion=types,
        accuracy_by_zone={z: sum(v) / len(v) if v else None for z, v in hits.items()},
        error_by_zone={z: statistics.fmean(v) if v else None for z, v in by_zone.items()},
    )
