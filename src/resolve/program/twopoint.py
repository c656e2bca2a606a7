"""Two-point discrimination (TPD) thresholds from entered staircase or method-of-limits trials.

On each trial the clinician touches the skin with both calliper tips at a given
separation and the person (eyes closed) answers ``"one"`` or ``"two"`` points.

**Staircase** (``method = "staircase"``; Levitt's transformed up-down rule). The run
starts at ``start_mm``. After ``down`` consecutive "two" answers the separation goes
down by ``step_mm``; after ``up`` consecutive "one" answers it goes up by ``step_mm``
(within ``min_mm`` .. ``max_mm``); any other answer resets the opposite count. A
*reversal* is a step in the opposite direction to the step before it; its value is the
separation at which the reversing answer was given. The run stops at the
``reversals``-th reversal, and the threshold is the mean of the reversal values after
the first ``discard_reversals``. With the default 2-down/1-up rule the run converges
on the separation felt as two about 71% of the time.

**Method of limits** (``method = "limits"``). ``series`` series alternate, starting
with a descending one: descending series start at ``start_mm`` and go down by
``step_mm`` until the first "one"; ascending series start at ``min_mm`` and go up
until the first "two". A series' transition is the midpoint of its last two
separations; the threshold is the mean transition.

Entered trials are replayed against the rule: a separation the rule would not have
presented, a series that does not end at the first change of answer, or a trial after
the run stopped is refused, naming the trial and the expected value.

Examples
--------
>>> from resolve.program.template import load_template
>>> tp = load_template().twopoint.model_copy(update={"reversals": 4, "discard_reversals": 1})
>>> answers = [(80, "two"), (80, "two"), (75, "two"), (75, "two"), (70, "one"), (75, "two"),
...            (75, "two"), (70, "two"), (70, "two"), (65, "one"), (70, "two"), (70, "two")]
>>> trials = [TpdTrial(separation_mm=s, response=r) for s, r in answers]
>>> r = staircase_threshold(trials, settings=tp, site="lumbar_left")
>>> r.reversals, r.threshold_mm, r.complete
([70.0, 75.0, 65.0, 70.0], 70.0, True)
>>> staircase_threshold(trials[:4] + [TpdTrial(separation_mm=60, response="one")],
...                     settings=tp, site="lumbar_left")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
resolve.errors.DataValidationError: two-point trial 5: separation 60 mm, but the staircase ...
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Annotated, Literal

from resolve._schema import Text, between
from resolve.errors import DataValidationError
from resolve.program._records import Record
from resolve.program._task_schema import TwoPointSettings
from resolve.program._template_schema import TpdNorms
from resolve.program.norms import TpdComparison, compare_tpd

__all__ = [
    "MAX_TRIALS",
    "TpdResult",
    "TpdRun",
    "TpdSeries",
    "TpdTrial",
    "limits_threshold",
    "next_separation",
    "staircase_threshold",
]

#: Most trials accepted for one site.
MAX_TRIALS = 500
_TOL = 1e-6


class TpdTrial(Record):
    """One touch: the separation set on the calliper and the answer."""

    separation_mm: Annotated[float, between(0, low_open=True)]
    response: Literal["one", "two"]


class TpdSeries(Record):
    """A method-of-limits series and its trials."""

    direction: Literal["descending", "ascending"]
    trials: list[TpdTrial]


class TpdResult(Record):
    """The threshold of one site (None until the run is complete)."""

    site: Text
    method: Literal["staircase", "limits"]
    n_trials: int
    reversals: list[float]
    threshold_mm: float | None
    complete: bool
    norm: TpdComparison | None


class TpdRun(Record):
    """A staircase run at one site in one week: the entered trials and the result."""

    week: Annotated[int, between(1, 52)]
    site: Text
    trials: list[TpdTrial]
    result: TpdResult


def _clamp(value: float, settings: TwoPointSettings) -> float:
    return min(max(value, settings.min_mm), settings.max_mm)


def _replay(trials: Sequence[TpdTrial], settings: TwoPointSettings) -> tuple[list[float], float]:
    """Reversal values and the next separation; refuses a trial off the rule."""
    if len(trials) > MAX_TRIALS:
        raise DataValidationError(f"two-point run: {len(trials)} trials; at most {MAX_TRIALS}")
    s = settings.start_mm
    twos = ones = 0
    last: str | None = None
    reversals: list[float] = []
    for k, t in enumerate(trials, start=1):
        if len(reversals) >= settings.reversals:
            raise DataValidationError(
                f"two-point trial {k}: the staircase stopped at reversal {settings.reversals} "
                f"(trial {k - 1}); no more trials are expected"
            )
        if abs(t.separation_mm - s) > _TOL:
            raise DataValidationError(
                f"two-point trial {k}: separation {t.separation_mm:g} mm, but the staircase "
                f"calls for {s:g} mm"
            )
        step: str | None = None
        if t.response == "two":
            twos, ones = twos + 1, 0
            if twos == settings.down:
                step, twos = "down", 0
        else:
            ones, twos = ones + 1, 0
            if ones == settings.up:
                step, ones = "up", 0
        if step is not None:
            if last is not None and step != last:
                reversals.append(s)
            last = step
            s = _clamp(s - settings.step_mm if step == "down" else s + settings.step_mm, settings)
    return reversals, s


def next_separation(trials: Sequence[TpdTrial], *, settings: TwoPointSettings) -> float | None:
    """The separation of the next staircase trial, or None once the run has stopped.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> tp = load_template().twopoint
    >>> next_separation([], settings=tp)
    80.0
    >>> next_separation([TpdTrial(separation_mm=80, response="one")], settings=tp)
    85.0
    """
    reversals, s = _replay(trials, settings)
    return None if len(reversals) >= settings.reversals else s


def staircase_threshold(
    trials: Sequence[TpdTrial],
    *,
    settings: TwoPointSettings,
    site: str,
    norms: TpdNorms | None = None,
) -> TpdResult:
    """Replay entered staircase trials and compute the threshold (see the module notes).

    Raises
    ------
    DataValidationError
        A trial's separation is not the one the staircase calls for, a trial comes
        after the run stopped, there are more than :data:`MAX_TRIALS`, or ``site`` is
        not a site of ``settings``.
    """
    _check_site(site, settings)
    reversals, _ = _replay(trials, settings)
    complete = len(reversals) >= settings.reversals
    used = reversals[settings.discard_reversals :]
    threshold = statistics.fmean(used) if complete else None
    return TpdResult(
        site=site,
        method="staircase",
        n_trials=len(trials),
        reversals=reversals,
        threshold_mm=threshold,
        complete=complete,
        norm=None if threshold is None or norms is None else compare_tpd(threshold, norms=norms),
    )


def _check_site(site: str, settings: TwoPointSettings) -> None:
    ids = [s.id for s in settings.sites]
    if site not in ids:
        raise DataValidationError(f"unknown two-point site {site!r}; sites: {', '.join(ids)}")


def limits_threshold(
    series: Sequence[TpdSeries],
    *,
    settings: TwoPointSettings,
    site: str,
    norms: TpdNorms | None = None,
) -> TpdResult:
    """Threshold from method-of-limits series (see the module notes).

    ``reversals`` holds each series' transition (midpoint of its last two separations).

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> tp = load_template().twopoint
    >>> down = TpdSeries(direction="descending", trials=[TpdTrial(separation_mm=s, response=r)
    ...     for s, r in [(80, "two"), (75, "two"), (70, "one")]])
    >>> up = TpdSeries(direction="ascending", trials=[
    ...     TpdTrial(separation_mm=5 + 5 * k, response="one") for k in range(12)]
    ...     + [TpdTrial(separation_mm=65, response="two")])
    >>> r = limits_threshold([down, up], settings=tp, site="lumbar_right")
    >>> r.reversals, r.threshold_mm, r.complete  # 2 of the 4 series entered so far
    ([72.5, 62.5], None, False)
    """
    _check_site(site, settings)
    if len(series) > settings.series:
        raise DataValidationError(
            f"two-point: {len(series)} series entered; the protocol has {settings.series}"
        )
    transitions = []
    n_trials = 0
    for k, ser in enumerate(series, start=1):
        expected = "descending" if k % 2 else "ascending"
        if ser.direction != expected:
            raise DataValidationError(
                f"two-point series {k}: must be {expected} (series alternate, descending first)"
            )
        transitions.append(_series_transition(k, ser, settings))
        n_trials += len(ser.trials)
    complete = len(series) == settings.series
    threshold = statistics.fmean(transitions) if complete else None
    if n_trials > MAX_TRIALS:
        raise DataValidationError(f"two-point run: {n_trials} trials; at most {MAX_TRIALS}")
    return TpdResult(
        site=site,
        method="limits",
        n_trials=n_trials,
        reversals=transitions,
        threshold_mm=threshold,
        complete=complete,
        norm=None if threshold is None or norms is None else compare_tpd(threshold, norms=norms),
    )


def _series_transition(k: int, ser: TpdSeries, settings: TwoPointSettings) -> float:
    descending = ser.direction == "descending"
    first, change = ("two", "one") if descending else ("one", "two")
    s = settings.start_mm if descending else settings.min_mm
    step = -settings.step_mm if descending else settings.step_mm
    if not ser.trials:
        raise DataValidationError(f"two-point series {k}: no trials")
    for j, t in enumerate(ser.trials, start=1):
        where = f"two-point series {k} trial {j}"
        if abs(t.separation_mm - s) > _TOL:
            raise DataValidationError(
                f"{where}: separation {t.separation_mm:g} mm, but the series calls for {s:g} mm"
            )
        last = j == len(ser.trials)
        if not last and t.response != first:
            raise DataValidationError(
                f"{where}: answer {t.response!r} changes the answer, so the series must end here"
            )
        if last and t.response != change:
            raise DataValidationError(
                f"{where}: the series ends without a change of answer (last answer "
                f"{t.response!r}; a {ser.direction} series ends at the first {change!r})"
            )
        nxt = s + step
        if not last and not settings.min_mm - _TOL <= nxt <= settings.max_mm + _TOL:
            raise DataValidationError(f"{where}: the series runs past the calliper's range")
        s = nxt
    if len(ser.trials) == 1:
        raise DataValidationError(
            f"two-point series {k}: the first answer is already {change!r}; start the series "
            "further from the threshold"
        )
    a, b = ser.trials[-2].separation_mm, ser.trials[-1].separation_mm
    return (a + b) / 2
