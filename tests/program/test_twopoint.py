"""Two-point discrimination: staircase and method-of-limits thresholds, hand-computed."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolve.errors import DataValidationError
from resolve.program.template import load_template
from resolve.program.twopoint import (
    TpdSeries,
    TpdTrial,
    limits_threshold,
    next_separation,
    staircase_threshold,
)

T = load_template()
TP = T.twopoint  # start 80, step 5, 2-down/1-up, 8 reversals, 2 discarded


def _trials(rows: list[tuple[float, str]]) -> list[TpdTrial]:
    return [TpdTrial.from_dict({"separation_mm": s, "response": r}) for s, r in rows]


# A full default run worked by hand. "d" = the separation goes down, "u" = up, R = reversal.
FULL = [
    (80, "two"), (80, "two"),  # d -> 75
    (75, "two"), (75, "two"),  # d -> 70
    (70, "two"), (70, "two"),  # d -> 65
    (65, "one"),               # u, R1 = 65 -> 70
    (70, "two"), (70, "two"),  # d, R2 = 70 -> 65
    (65, "two"), (65, "one"),  # u, R3 = 65 -> 70
    (70, "two"), (70, "two"),  # d, R4 = 70 -> 65
    (65, "two"), (65, "two"),  # d -> 60
    (60, "one"),               # u, R5 = 60 -> 65
    (65, "one"),               # u -> 70
    (70, "two"), (70, "two"),  # d, R6 = 70 -> 65
    (65, "one"),               # u, R7 = 65 -> 70
    (70, "two"), (70, "two"),  # d, R8 = 70 -> stop
]  # fmt: skip


def test_staircase_threshold_hand_computed() -> None:
    r = staircase_threshold(_trials(FULL), settings=TP, site="lumbar_left", norms=T.norms.tpd)
    assert r.reversals == [65.0, 70.0, 65.0, 70.0, 60.0, 70.0, 65.0, 70.0]
    assert r.complete and r.n_trials == len(FULL)
    assert r.threshold_mm == pytest.approx((65 + 70 + 60 + 70 + 65 + 70) / 6)  # reversals 3-8
    assert r.norm is not None and r.norm.reference_mm == 57.0
    assert r.norm.difference_mm == pytest.approx(r.threshold_mm - 57.0)
    assert r.norm.above_reference
    assert next_separation(_trials(FULL), settings=TP) is None


def test_incomplete_run_has_no_threshold() -> None:
    r = staircase_threshold(_trials(FULL[:12]), settings=TP, site="lumbar_right")
    assert not r.complete and r.threshold_mm is None and r.norm is None
    assert r.reversals == [65.0, 70.0, 65.0]
    assert next_separation(_trials(FULL[:12]), settings=TP) == 70.0


def test_inconsistent_staircase_input_is_refused() -> None:
    wrong = [*FULL[:6], (60, "one")]
    with pytest.raises(
        DataValidationError, match=r"trial 7: separation 60 mm, but the staircase calls for 65 mm"
    ):
        staircase_threshold(_trials(wrong), settings=TP, site="lumbar_left")
    with pytest.raises(
        DataValidationError, match=r"trial 1: separation 75 mm, but the staircase calls for 80 mm"
    ):
        staircase_threshold(_trials([(75, "two")]), settings=TP, site="lumbar_left")
    extra = [*FULL, (65, "two")]
    with pytest.raises(
        DataValidationError, match=r"trial 23: the staircase stopped at reversal 8 \(trial 22\)"
    ):
        staircase_threshold(_trials(extra), settings=TP, site="lumbar_left")
    with pytest.raises(DataValidationError, match="unknown two-point site 'neck'"):
        staircase_threshold(_trials(FULL), settings=TP, site="neck")
    with pytest.raises(DataValidationError, match="'response': must be one of one, two"):
        TpdTrial.from_dict({"separation_mm": 80, "response": "three"})


def test_staircase_stays_within_the_calliper_range() -> None:
    tp = TP.model_copy(update={"start_mm": 10.0, "min_mm": 5.0})
    rows = [(10, "two"), (10, "two"), (5, "two"), (5, "two"), (5, "two"), (5, "two")]
    assert next_separation(_trials(rows), settings=tp) == 5.0  # clamped at min_mm
    top = TP.model_copy(update={"start_mm": 120.0})
    assert next_separation(_trials([(120, "one")]), settings=top) == 120.0


def _series(direction: str, rows: list[tuple[float, str]]) -> TpdSeries:
    return TpdSeries.from_dict(
        {"direction": direction, "trials": [{"separation_mm": s, "response": r} for s, r in rows]}
    )


def test_method_of_limits_hand_computed() -> None:
    tp = TP.model_copy(update={"method": "limits", "series": 4})
    up = [(5 + 5 * k, "one") for k in range(11)]  # 5 .. 55 mm "one"
    series = [
        _series("descending", [(80, "two"), (75, "two"), (70, "two"), (65, "one")]),  # 67.5
        _series("ascending", [*up, (60, "two")]),  # (55 + 60) / 2 = 57.5
        _series("descending", [(80, "two"), (75, "two"), (70, "one")]),  # 72.5
        _series("ascending", [*up, (60, "one"), (65, "two")]),  # 62.5
    ]
    r = limits_threshold(series, settings=tp, site="lumbar_left")
    assert r.reversals == [67.5, 57.5, 72.5, 62.5]
    assert r.threshold_mm == 65.0 and r.complete and r.method == "limits"
    assert r.n_trials == 4 + 12 + 3 + 13


def test_method_of_limits_refuses_inconsistent_series() -> None:
    tp = TP.model_copy(update={"method": "limits"})
    with pytest.raises(DataValidationError, match="series 1: must be descending"):
        limits_threshold(
            [_series("ascending", [(5, "one"), (10, "two")])], settings=tp, site="lumbar_left"
        )
    with pytest.raises(
        DataValidationError, match="series 1 trial 2: separation 70 mm, but the series calls for 75"
    ):
        limits_threshold(
            [_series("descending", [(80, "two"), (70, "one")])], settings=tp, site="lumbar_left"
        )
    with pytest.raises(
        DataValidationError, match="series 1 trial 2: answer 'one' changes the answer"
    ):
        limits_threshold(
            [_series("descending", [(80, "two"), (75, "one"), (70, "two")])],
            settings=tp,
            site="lumbar_left",
        )
    with pytest.raises(
        DataValidationError, match="series 1 trial 2: the series ends without a change"
    ):
        limits_threshold(
            [_series("descending", [(80, "two"), (75, "two")])], settings=tp, site="lumbar_left"
        )
    with pytest.raises(DataValidationError, match="the first answer is already 'one'"):
        limits_threshold([_series("descending", [(80, "one")])], settings=tp, site="lumbar_left")


@settings(max_examples=40, deadline=None)
@given(threshold=st.floats(10, 110), slope=st.floats(1, 10), seed=st.integers(0, 2**31))
def test_simulated_observers_give_consistent_runs(
    threshold: float, slope: float, seed: int
) -> None:
    """Runs that follow next_separation are always accepted; the threshold is in range."""
    import numpy as np

    g = np.random.default_rng(seed)
    trials: list[TpdTrial] = []
    nxt = next_separation(trials, settings=TP)
    while nxt is not None and len(trials) < 400:
        p = 1 / (1 + math.exp(-(nxt - threshold) / slope))
        trials.append(TpdTrial(separation_mm=nxt, response="two" if g.random() < p else "one"))
        nxt = next_separation(trials, settings=TP)
    r = staircase_threshold(trials, settings=TP, site="lumbar_left")
    assert r.complete == (nxt is None)
    if r.threshold_mm is not None:
        assert TP.min_mm <= r.threshold_mm <= TP.max_mm
        assert len(r.reversals) == TP.reversals
