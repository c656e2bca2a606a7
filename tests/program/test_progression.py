"""The progression engine: each rule fires exactly when it should; overrides need a reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolve.errors import DataValidationError, UnknownNameError
from resolve.program.blocks import BlockRecord
from resolve.program.progression import Decision, current_level, decide, override, task_rules
from resolve.program.template import load_template, parse_template, template_text

T = load_template()
LRJ = task_rules(T, "lrj")
TACTILE = task_rules(T, "tactile")
GRAPH = task_rules(T, "graphaesthesia")


def _b(
    n: int,
    acc: float | None,
    rt: float | None = 1.5,
    *,
    level: int = 1,
    task: str = "lrj",
    pid: str = "P1",
) -> BlockRecord:
    measures: dict[str, float | None] = {"accuracy": acc}
    if task == "lrj":
        measures["median_rt_s"] = rt
    return BlockRecord.from_dict(
        {
            "participant_id": pid,
            "task": task,
            "block": n,
            "week": 1,
            "level": level,
            "measures": measures,
        }
    )


@pytest.mark.parametrize(
    ("first", "second", "action"),
    [
        (0.80, 0.80, "advance"),
        (0.85, 0.80, "advance"),
        (0.80, 0.799, "hold"),
        (0.799, 0.95, "hold"),
        (1.0, 0.7999999, "hold"),
    ],
)
def test_lrj_advance_accuracy_boundary(first: float, second: float, action: str) -> None:
    d = decide(LRJ, [_b(1, first), _b(2, second)])
    assert d.action == action
    assert d.to_level == (2 if action == "advance" else 1)
    assert d.rule_id == ("lrj-advance" if action == "advance" else None)


@pytest.mark.parametrize(
    ("rt", "action"), [(2.1, "advance"), (2.0999, "advance"), (2.1001, "hold"), (None, "hold")]
)
def test_lrj_advance_rt_boundary(rt: float | None, action: str) -> None:
    d = decide(LRJ, [_b(1, 0.9, 1.0), _b(2, 0.9, rt)])
    assert d.action == action
    rt_checks = [c for c in d.checks if c.measure == "median_rt_s" and c.block_id == "P1/lrj/2"]
    assert (
        rt_checks[0].threshold == pytest.approx(2.1)
        and rt_checks[0].threshold_from == "lrj.rt_upper_s"
    )
    assert rt_checks[0].value == rt and rt_checks[0].passed == (action == "advance")


@pytest.mark.parametrize(
    ("acc", "action"), [(0.6, "hold"), (0.599, "step_back"), (0.0, "step_back")]
)
def test_lrj_step_back_boundary(acc: float, action: str) -> None:
    d = decide(LRJ, [_b(1, 0.9, level=2), _b(2, acc, level=2)])
    assert d.action == action
    if action == "step_back":
        assert (d.from_level, d.to_level, d.rule_id) == (2, 1, "lrj-step-back")
        assert d.rule_text.startswith("Step back one level")
        assert [(c.block_id, c.value, c.op, c.threshold) for c in d.checks] == [
            ("P1/lrj/2", acc, "<", 0.6)
        ]
        assert d.blocks == ["P1/lrj/2"]


def test_one_good_block_is_not_enough_and_a_level_change_restarts_the_count() -> None:
    assert decide(LRJ, [_b(1, 0.95)]).action == "hold"
    d = decide(LRJ, [_b(1, 0.95, level=1), _b(2, 0.95, level=2)])
    assert d.action == "hold" and "needs 2 blocks at level 2, has 1" in d.note
    d = decide(LRJ, [_b(1, 0.95), _b(2, 0.95, level=2), _b(3, 0.95, level=1)])
    assert d.action == "hold"  # block 1 is not consecutive with block 3
    d = decide(LRJ, [_b(1, 0.95), _b(2, 0.95, level=2), _b(3, 0.95), _b(4, 0.9)])
    assert (d.action, d.blocks) == ("advance", ["P1/lrj/3", "P1/lrj/4"])


def test_hold_lists_every_comparison() -> None:
    d = decide(LRJ, [_b(1, 0.7), _b(2, 0.75)])
    assert d.action == "hold" and d.rule_id is None and d.from_level == d.to_level == 1
    assert {c.rule_id for c in d.checks} == {"lrj-step-back", "lrj-advance"}
    assert len(d.checks) == 1 + 2 * 2  # step back: last block; advance: 2 blocks x 2 conditions
    assert not any(
        c.passed for c in d.checks if c.rule_id == "lrj-advance" and c.measure == "accuracy"
    )


def test_missing_measure_never_passes() -> None:
    d = decide(LRJ, [_b(1, 0.9, None), _b(2, 0.9, None)])
    assert d.action == "hold"
    assert decide(TACTILE, [_b(1, None, task="tactile")]).action == "hold"


def test_top_and_bottom_levels_hold_naming_the_rule() -> None:
    top = LRJ.max_level
    d = decide(LRJ, [_b(1, 0.9, level=top), _b(2, 0.9, level=top)])
    assert (d.action, d.to_level, d.rule_id) == ("hold", top, "lrj-advance")
    assert d.note == f"already at the highest level ({top})"
    d = decide(LRJ, [_b(1, 0.3)])
    assert (d.action, d.to_level, d.rule_id, d.note) == (
        "hold",
        1,
        "lrj-step-back",
        "already at level 1",
    )


def test_tactile_and_graphaesthesia_rules() -> None:
    t = "tactile"
    assert decide(TACTILE, [_b(1, 0.8, task=t), _b(2, 0.8, task=t)]).to_level == 2
    assert decide(TACTILE, [_b(1, 0.8, task=t), _b(2, 0.79, task=t)]).action == "hold"
    d = decide(TACTILE, [_b(1, 0.45, task=t, level=3), _b(2, 0.49, task=t, level=3)])
    assert (d.action, d.to_level) == ("step_back", 2)
    assert (
        decide(TACTILE, [_b(1, 0.45, task=t, level=3), _b(2, 0.5, task=t, level=3)]).action
        == "hold"
    )
    g = "graphaesthesia"
    assert decide(GRAPH, [_b(1, 0.8, task=g), _b(2, 0.9, task=g)]).to_level == 2
    assert (
        decide(GRAPH, [_b(1, 0.1, task=g, level=2), _b(2, 0.1, task=g, level=2)]).action == "hold"
    )


def test_rules_fire_in_file_order() -> None:
    text = template_text().replace(
        'consecutive = 1\nwhen = [{ measure = "accuracy", op = "<", value = 0.60 }]',
        'consecutive = 1\nwhen = [{ measure = "accuracy", op = "<", value = 0.99 }]',
    )
    rules = task_rules(parse_template(text, "t.toml"), "lrj")
    d = decide(rules, [_b(1, 0.9, level=2), _b(2, 0.9, level=2)])
    assert d.rule_id == "lrj-step-back"  # listed first, so it wins over lrj-advance


def test_other_tasks_are_ignored_and_bad_histories_refused() -> None:
    d = decide(LRJ, [_b(1, 0.9), _b(1, 0.2, task="tactile"), _b(2, 0.9)])
    assert d.action == "advance"
    with pytest.raises(DataValidationError, match="no lrj block"):
        decide(LRJ, [_b(1, 0.9, task="tactile")])
    with pytest.raises(DataValidationError, match="several participants"):
        decide(LRJ, [_b(1, 0.9), _b(2, 0.9, pid="P2")])
    with pytest.raises(DataValidationError, match="block 1 follows block 2"):
        decide(LRJ, [_b(2, 0.9), _b(1, 0.9)])
    with pytest.raises(DataValidationError, match="level 9; lrj has 4 levels"):
        decide(LRJ, [_b(1, 0.9, level=9)])
    with pytest.raises(UnknownNameError):
        task_rules(T, "loading")


def test_override_needs_a_reason_and_valid_levels() -> None:
    d = override(LRJ, from_level=3, to_level=1, reason="  Flare; back to basics ", clinician="ada")
    assert (d.action, d.from_level, d.to_level, d.decided_by, d.reason, d.clinician) == (
        "override",
        3,
        1,
        "clinician",
        "Flare; back to basics",
        "ada",
    )
    assert d.rule_id is None and d.checks == []
    for reason in ("", "   "):
        with pytest.raises(DataValidationError, match="a reason is required"):
            override(LRJ, from_level=1, to_level=2, reason=reason, clinician="ada")
    with pytest.raises(DataValidationError, match="the clinician must be named"):
        override(LRJ, from_level=1, to_level=2, reason="ok", clinician="")
    with pytest.raises(DataValidationError, match="to_level must be 1 to 4; got 5"):
        override(LRJ, from_level=1, to_level=5, reason="ok", clinician="ada")
    assert current_level([d], task="lrj", default=3) == 1
    assert current_level([d], task="tactile", default=3) == 3


def test_block_records_refuse_unknown_measures() -> None:
    with pytest.raises(
        DataValidationError, match="'measures': unknown tactile measure 'median_rt_s'"
    ):
        BlockRecord.from_dict(
            {
                "participant_id": "P1",
                "task": "tactile",
                "block": 1,
                "week": 1,
                "level": 1,
                "measures": {"median_rt_s": 1.0},
            }
        )


def test_decision_is_a_json_audit_record() -> None:
    import json

    d = decide(LRJ, [_b(1, 0.85, 1.9), _b(2, 0.8, 2.0)])
    data = json.loads(json.dumps(d.to_dict()))
    assert Decision.from_dict(data) == d
    assert data["rule_id"] == "lrj-advance" and data["checks"][0]["value"] == 0.85


ACC = st.floats(0, 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(ACC, st.floats(0.5, 4.0)), min_size=1, max_size=6), st.integers(1, 4))
def test_decisions_match_the_rule_definitions(
    blocks: list[tuple[float, float]], level: int
) -> None:
    """At one level, the engine advances, steps back or holds exactly as the rules say."""
    history = [_b(k + 1, a, rt, level=level) for k, (a, rt) in enumerate(blocks)]
    d = decide(LRJ, history)
    last_acc = blocks[-1][0]
    two_good = len(blocks) >= 2 and all(a >= 0.8 and rt <= 2.1 for a, rt in blocks[-2:])
    if last_acc < 0.6:
        expected = ("step_back", level - 1) if level > 1 else ("hold", 1)
    elif two_good:
        expected = ("advance", level + 1) if level < 4 else ("hold", 4)
    else:
        expected = ("hold", level)
    assert (d.action, d.to_level) == expected
