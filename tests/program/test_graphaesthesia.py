"""Graphaesthesia sequences and scoring."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from resolve.errors import DataValidationError
from resolve.program.graphaesthesia import SETS, GraphTrial, make_sequence, score_block
from resolve.program.template import MEASURES, load_template


@pytest.mark.parametrize("level", load_template().graphaesthesia.levels, ids=lambda lv: lv.set)
def test_sequences_use_the_level_set_and_orientations(level: object) -> None:
    from resolve.program._task_schema import GraphLevel

    assert isinstance(level, GraphLevel)
    for seed in range(4):
        seq = make_sequence(level, seed=seed)
        assert len(seq) == level.trials
        assert {s.symbol for s in seq} <= set(SETS[level.set])
        counts = Counter(s.orientation for s in seq)
        assert set(counts) == set(level.orientations)
        assert max(counts.values()) - min(counts.values()) <= 1
        assert all(a.symbol != b.symbol for a, b in itertools.pairwise(seq))
        if level.trials <= len(SETS[level.set]):
            assert len({s.symbol for s in seq}) == level.trials  # no repeats within a set


def test_sets() -> None:
    assert SETS["numbers"] == tuple("0123456789") and len(SETS["letters"]) == 26
    assert all(len(w) == 3 and w.isalpha() and w.isupper() for w in SETS["words"])
    assert len(set(SETS["words"])) == len(SETS["words"])


def test_score_hand_worked() -> None:
    trials = [
        GraphTrial(symbol="CAT", orientation="upright", response=" cat "),
        GraphTrial(symbol="DOG", orientation="inverted", response="DIG"),
        GraphTrial(symbol="SUN", orientation="inverted", response=None),
        GraphTrial(symbol="7", orientation="sideways", response="1"),
    ]
    s = score_block(trials)
    assert s.accuracy == 0.25
    assert s.character_accuracy == pytest.approx((1 + 2 / 3 + 0 + 0) / 4)
    assert s.unanswered_rate == 0.25
    assert s.accuracy_by_orientation == {"upright": 1.0, "inverted": 0.0, "sideways": 0.0}
    assert s.confusions == [["DOG", "DIG"], ["7", "1"]]
    assert set(s.measures()) == set(MEASURES["graphaesthesia"])
    with pytest.raises(DataValidationError, match="no trials"):
        score_block([])
