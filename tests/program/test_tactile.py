"""Tactile grid: geometry, balanced sequences, hand-worked error distances and confusion maps."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolve.errors import DataValidationError
from resolve.program.tactile import Grid, TactileTrial, grid_for, make_sequence, score_block
from resolve.program.template import MEASURES, load_template


def _t(zone: str, stim: str, rz: str | None, rs: str | None) -> TactileTrial:
    return TactileTrial(zone=zone, stimulus=stim, response_zone=rz, response_stimulus=rs)


def test_grid_geometry() -> None:
    g = Grid(rows=3, cols=4, spacing_cm=4)
    assert g.zones[:5] == ["A1", "A2", "A3", "A4", "B1"] and len(g.zones) == 12
    assert g.centre("A1") == (-6.0, 4.0)
    assert g.centre("C4") == (6.0, -4.0)
    assert g.centre("B2") == (-2.0, 0.0)
    assert g.distance("A1", "A2") == 4.0
    assert g.distance("A1", "B2") == pytest.approx(4 * math.sqrt(2))
    assert g.distance("A1", "C4") == pytest.approx(math.hypot(12, 8))
    with pytest.raises(
        DataValidationError, match=r"must be a zone of the 3 x 4 grid \(A1 to C4\); got 'D1'"
    ):
        g.centre("D1")
    lv = load_template().tactile.levels[2]
    assert grid_for(lv) == Grid(rows=3, cols=3, spacing_cm=5.0)


def test_score_hand_worked_error_distances_and_confusion() -> None:
    g = Grid(rows=2, cols=2, spacing_cm=6)  # A1 A2 / B1 B2, 6 cm apart
    trials = [
        _t("A1", "sharp", "A1", "sharp"),  # right, 0 cm
        _t("A1", "blunt", "A2", "blunt"),  # 6 cm, type right
        _t("A2", "sharp", "B1", "blunt"),  # diagonal 6*sqrt(2), type wrong
        _t("B1", "blunt", "B1", "sharp"),  # location right, type wrong
        _t("B2", "sharp", None, "sharp"),  # location unanswered
        _t("B2", "blunt", "B2", None),  # type unanswered
    ]
    s = score_block(g, trials)
    assert s.n_trials == 6
    assert s.location_accuracy == pytest.approx(3 / 6)
    assert s.type_accuracy == pytest.approx(3 / 6)
    assert s.accuracy == pytest.approx(1 / 6)
    errors = [0.0, 6.0, 6 * math.sqrt(2), 0.0, 0.0]
    assert s.mean_error_cm == pytest.approx(sum(errors) / 5)
    assert s.median_error_cm == 0.0
    assert s.unanswered_rate == pytest.approx(2 / 6)
    assert s.zones == ["A1", "A2", "B1", "B2"]
    assert s.confusion == [
        [1, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
    ]
    assert s.type_confusion == {
        "sharp": {"sharp": 2, "blunt": 1},
        "blunt": {"sharp": 1, "blunt": 1},
    }
    assert s.accuracy_by_zone == {"A1": 0.5, "A2": 0.0, "B1": 1.0, "B2": 0.5}
    assert s.error_by_zone["A1"] == 3.0 and s.error_by_zone["A2"] == pytest.approx(6 * math.sqrt(2))
    assert set(s.measures()) == set(MEASURES["tactile"])


def test_no_location_answer_leaves_error_missing() -> None:
    s = score_block(Grid(rows=1, cols=2, spacing_cm=5), [_t("A1", "sharp", None, None)])
    assert s.mean_error_cm is None and s.measures()["mean_error_cm"] is None
    assert s.error_by_zone == {"A1": None, "A2": None}


def test_score_refuses_unknown_zones_and_stimuli() -> None:
    g = Grid(rows=2, cols=2, spacing_cm=6)
    with pytest.raises(DataValidationError, match=r"trial 2: 'response_zone' must be a zone"):
        score_block(g, [_t("A1", "sharp", "A1", "sharp"), _t("A1", "sharp", "C9", "sharp")])
    with pytest.raises(
        DataValidationError,
        match=r"trial 1: 'response_stimulus' must be one of sharp, blunt; got 'soft'",
    ):
        score_block(g, [_t("A1", "sharp", "A1", "soft")])
    with pytest.raises(DataValidationError, match="no trials"):
        score_block(g, [])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    n=st.integers(1, 80),
    seed=st.integers(0, 10_000),
)
def test_sequences_are_balanced(rows: int, cols: int, n: int, seed: int) -> None:
    g = Grid(rows=rows, cols=cols, spacing_cm=5)
    seq = make_sequence(g, n=n, seed=seed)
    assert len(seq) == n and seq == make_sequence(g, n=n, seed=seed)
    zones = Counter(s.zone for s in seq)
    stims = Counter(s.stimulus for s in seq)
    pairs = Counter((s.zone, s.stimulus) for s in seq)
    full = n // (len(g.zones) * 2)
    assert all(pairs[(z, x)] >= full for z in g.zones for x in ("sharp", "blunt"))
    assert max(pairs.values()) <= full + 1
    assert max(zones.values()) - min(zones.get(z, 0) for z in g.zones) <= 1
    assert max(stims.values()) - min(stims.get(x, 0) for x in ("sharp", "blunt")) <= 1
    if len(g.zones) > 1:
        assert all(a.zone != b.zone for a, b in itertools.pairwise(seq))


def test_sequence_argument_checks() -> None:
    g = Grid(rows=2, cols=2, spacing_cm=6)
    with pytest.raises(DataValidationError, match="n must be an integer >= 1; got 0"):
        make_sequence(g, n=0, seed=1)
    with pytest.raises(DataValidationError, match="seed must be an integer >= 0"):
        make_sequence(g, n=4, seed=-1)
    with pytest.raises(DataValidationError, match="stimuli must be distinct"):
        make_sequence(g, n=4, seed=1, stimuli=("sharp", "sharp"))
