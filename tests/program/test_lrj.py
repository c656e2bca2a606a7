"""Left/right judgement: manifests, balanced blocks, hand-worked scores, norms."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolve.errors import DataValidationError
from resolve.program.lrj import (
    MAX_RUN,
    LrjStimulus,
    LrjTrial,
    make_block,
    parse_manifest,
    read_manifest,
    score_block,
)
from resolve.program.template import MEASURES, load_template

T = load_template()
HEADER = "file,movement,side,angle_deg,view,set,body\n"


def _manifest(rows: list[str]) -> str:
    return HEADER + "".join(r + "\n" for r in rows)


def _stim(side: str, movement: str = "rotation") -> LrjStimulus:
    return LrjStimulus.from_dict(
        {"movement": movement, "side": side, "angle_deg": 45, "view": "back"}
    )


def test_manifest_parsing_and_errors(tmp_path: Path) -> None:
    text = _manifest(
        ["a.png,rotation,left,45,back,training,slim-1", "b.png,side_bend,right,30,front,test,x"]
    )
    stimuli = parse_manifest(text, "manifest.csv")
    assert [(s.file, s.movement, s.side, s.angle_deg, s.view, s.set) for s in stimuli] == [
        ("a.png", "rotation", "left", 45.0, "back", "training"),
        ("b.png", "side_bend", "right", 30.0, "front", "test"),
    ]
    (tmp_path / "manifest.csv").write_text(text, encoding="utf-8")
    assert read_manifest(tmp_path / "manifest.csv") == stimuli
    with pytest.raises(DataValidationError, match=r"^m\.csv: missing column\(s\) angle_deg"):
        parse_manifest("file,movement,side,view,set\n", "m.csv")
    with pytest.raises(
        DataValidationError, match=r"^m\.csv: row 3: 'angle_deg': must be a number; got 'x'"
    ):
        parse_manifest(
            _manifest(["a.png,rotation,left,45,back,training,", "b,rotation,left,x,back,test,"]),
            "m.csv",
        )
    with pytest.raises(
        DataValidationError, match=r"^m\.csv: row 2: 'movement': must be one of rotation"
    ):
        parse_manifest(_manifest(["a.png,twist,left,45,back,training,"]), "m.csv")
    with pytest.raises(
        DataValidationError, match=r"'angle_deg': must be a number in \(0, 90\]; got 0"
    ):
        parse_manifest(_manifest(["a.png,rotation,left,0,back,training,"]), "m.csv")
    with pytest.raises(DataValidationError, match=r"^m\.csv: no images"):
        parse_manifest(HEADER, "m.csv")
    with pytest.raises(DataValidationError, match="cannot read manifest"):
        read_manifest(tmp_path / "none.csv")


@pytest.mark.parametrize("level", T.lrj.levels, ids=lambda lv: f"level{lv.level}")
def test_generated_blocks_are_balanced_and_follow_the_level(level: object) -> None:
    from resolve.program._task_schema import LrjLevel

    assert isinstance(level, LrjLevel)
    for seed in range(5):
        block = make_block(level, seed=seed)
        assert len(block) == level.trials
        cells = Counter((s.side, s.movement) for s in block)
        assert set(cells.values()) == {level.trials // 4} and len(cells) == 4
        assert {s.angle_deg for s in block} <= set(level.angles_deg)
        assert {s.view for s in block} <= set(level.views)
        run = best = 1
        for a, b in itertools.pairwise(block):
            run = run + 1 if a.side == b.side else 1
            best = max(best, run)
        assert best <= MAX_RUN
    assert make_block(level, seed=1) == make_block(level, seed=1)
    assert make_block(level, seed=1) != make_block(level, seed=2)


def test_blocks_from_a_manifest_filter_by_level_and_set() -> None:
    rows = []
    for k, (side, movement) in enumerate(
        [(s, m) for s in ("left", "right") for m in ("rotation", "side_bend")] * 3
    ):
        rows.append(f"tr{k}.png,{movement},{side},45,back,training,")
        rows.append(f"te{k}.png,{movement},{side},45,front,test,")
        rows.append(f"x{k}.png,{movement},{side},30,back,training,")  # level-2 angle
    stimuli = parse_manifest(_manifest(rows), "m.csv")
    level = T.lrj.levels[0]  # 45 degrees, front/back, 24 trials: 6 per cell, 3 images per cell
    block = make_block(level, seed=4, stimuli=stimuli, image_set="training")
    assert {s.file[:2] for s in block if s.file} == {"tr"}
    counts = Counter(s.file for s in block)
    assert set(counts.values()) == {2}  # each of the 3 images per cell used exactly twice
    test_block = make_block(level, seed=4, stimuli=stimuli, image_set="test")
    assert {s.set for s in test_block} == {"test"}
    with pytest.raises(DataValidationError, match="manifest has no test-set image for LRJ level 2"):
        make_block(T.lrj.levels[1], seed=1, stimuli=stimuli, image_set="test")


def test_score_hand_worked_example() -> None:
    trials = [
        LrjTrial(stimulus=_stim("left"), response="left", rt_ms=1200),
        LrjTrial(stimulus=_stim("left"), response="left", rt_ms=1800),
        LrjTrial(stimulus=_stim("left", "side_bend"), response="right", rt_ms=900),
        LrjTrial(stimulus=_stim("right"), response="right", rt_ms=1000),
        LrjTrial(stimulus=_stim("right", "side_bend"), response="right", rt_ms=2500),
        LrjTrial(stimulus=_stim("right", "side_bend"), response=None),
    ]
    s = score_block(trials, norms=T.norms.lrj)
    assert (s.n_trials, s.n_correct, s.n_timeouts) == (6, 4, 1)
    assert s.accuracy == pytest.approx(4 / 6)
    # correct RTs: 1200, 1800, 1000, 2500 -> median (1200 + 1800) / 2, mean 1625
    assert s.median_rt_ms == 1500.0 and s.mean_rt_ms == 1625.0
    left, right = s.by_side["left"], s.by_side["right"]
    assert (left.n, left.n_correct, left.median_rt_ms) == (3, 2, 1500.0)
    assert (right.n, right.n_correct, right.median_rt_ms) == (3, 2, 1750.0)
    assert s.asymmetry_accuracy == 0.0 and s.asymmetry_rt_ms == -250.0
    rot, bend = s.by_movement["rotation"], s.by_movement["side_bend"]
    assert (rot.n, rot.n_correct, rot.median_rt_ms) == (3, 3, 1200.0)
    assert (bend.n, bend.n_correct, bend.mean_rt_ms) == (3, 1, 2500.0)
    assert s.norm is not None
    assert (s.norm.accuracy_ok, s.norm.rt_ok, s.norm.symmetric_ok, s.norm.within_norm) == (
        False,
        True,
        True,
        False,
    )
    m = s.measures()
    assert set(m) == set(MEASURES["lrj"])
    assert m["median_rt_s"] == 1.5 and m["timeout_rate"] == pytest.approx(1 / 6)
    assert m["asymmetry_rt_s"] == 0.25
    # a 2 s limit turns the 2500 ms answer into a timeout
    limited = score_block(trials, time_limit_s=2.0)
    assert (limited.n_correct, limited.n_timeouts, limited.median_rt_ms) == (3, 2, 1200.0)


def test_missing_rt_values_are_missing_not_zero() -> None:
    s = score_block(
        [LrjTrial(stimulus=_stim("left"), response="right", rt_ms=800)], norms=T.norms.lrj
    )
    assert s.accuracy == 0.0 and s.median_rt_ms is None
    assert s.by_side["right"].accuracy is None and s.asymmetry_accuracy is None
    assert s.measures()["median_rt_s"] is None and s.measures()["accuracy_right"] is None
    assert s.norm is not None and s.norm.rt_ok is None and s.norm.within_norm is False


def test_trial_validation() -> None:
    with pytest.raises(DataValidationError, match="'rt_ms': an answer needs its reaction time"):
        LrjTrial.from_dict({"stimulus": _stim("left").to_dict(), "response": "left"})
    with pytest.raises(DataValidationError, match="'rt_ms': must be a number in \\(0, 600000\\]"):
        LrjTrial.from_dict({"stimulus": _stim("left").to_dict(), "response": "left", "rt_ms": -5})
    with pytest.raises(DataValidationError, match="no trials"):
        score_block([])


SIDE = st.sampled_from(["left", "right"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(SIDE, st.one_of(st.none(), SIDE), st.floats(100, 5000)), min_size=1, max_size=40
    )
)
def test_mirroring_labels_flips_asymmetry(rows: list[tuple[str, str | None, float]]) -> None:
    """Swapping left and right in stimuli and answers keeps accuracy and flips asymmetries."""
    flip = {"left": "right", "right": "left", None: None}

    def trials(mirror: bool) -> list[LrjTrial]:
        return [
            LrjTrial.from_dict(
                {
                    "stimulus": _stim(flip[s] if mirror else s).to_dict(),  # type: ignore[index]
                    "response": flip[r] if mirror else r,
                    "rt_ms": rt if r is not None else None,
                }
            )
            for s, r, rt in rows
        ]

    a, b = score_block(trials(False)), score_block(trials(True))
    assert 0.0 <= a.accuracy <= 1.0 and a.accuracy == b.accuracy
    assert a.median_rt_ms == b.median_rt_ms
    if a.asymmetry_accuracy is not None:
        assert b.asymmetry_accuracy == pytest.approx(-a.asymmetry_accuracy)
    if a.asymmetry_rt_ms is not None:
        assert b.asymmetry_rt_ms == pytest.approx(-a.asymmetry_rt_ms)
