"""Graded loading by quota (never by pain) and drill logs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolve.errors import DataValidationError
from resolve.program.loading import (
    DrillLog,
    LoadingLog,
    decide_loading,
    drill_summary,
    plan_quotas,
    tolerance_test,
)
from resolve.program.template import load_template

S = load_template().loading  # start 80%, +10% of baseline per session, hold if missed


def test_tolerance_and_quota_plans_hand_computed() -> None:
    t = tolerance_test([9, 10, 11], exercise="sit-to-stand", unit="reps", settings=S)
    assert t.tolerance == 10.0
    assert plan_quotas(t, settings=S, sessions=4).quotas == [8.0, 9.0, 10.0, 11.0]
    prev = S.model_copy(update={"increment_kind": "fraction_of_previous", "increment": 0.25})
    assert plan_quotas(t, settings=prev, sessions=3).quotas == [
        8.0,
        10.0,
        13.0,
    ]  # 8, 10, 12.5 -> 13
    absolute = S.model_copy(update={"increment_kind": "absolute", "increment": 0.75})
    kg = tolerance_test([10, 10, 10], exercise="floor-lift", unit="kg", settings=absolute)
    assert plan_quotas(kg, settings=absolute, sessions=4).quotas == [
        8.0,
        9.0,
        9.5,
        10.5,
    ]  # 8.75->9, 9.5, 10.25->10.5
    first = plan_quotas(t, settings=S, sessions=1).quotas[0]
    assert first < t.tolerance  # the plan starts below tolerance


def test_tolerance_test_checks() -> None:
    with pytest.raises(DataValidationError, match="2 trial\\(s\\); the template asks for 3"):
        tolerance_test([1, 2], exercise="walk", unit="minutes", settings=S)
    with pytest.raises(DataValidationError, match="trial 2 must be a finite number >= 0; got nan"):
        tolerance_test([1, float("nan"), 2], exercise="walk", unit="minutes", settings=S)
    with pytest.raises(DataValidationError, match="tolerance is 0"):
        tolerance_test([0, 0, 0], exercise="walk", unit="minutes", settings=S)
    t = tolerance_test([10, 10, 10], exercise="walk", unit="minutes", settings=S)
    with pytest.raises(DataValidationError, match="sessions must be an integer from 1 to 200"):
        plan_quotas(t, settings=S, sessions=0)


def _log(
    session: int, step: int, quota: float, achieved: float, pain: int | None = None
) -> LoadingLog:
    return LoadingLog(
        exercise="sit-to-stand",
        session=session,
        step=step,
        week=9,
        quota=quota,
        achieved=achieved,
        pain=pain,
    )


PLAN = plan_quotas(
    tolerance_test([10, 10, 10], exercise="sit-to-stand", unit="reps", settings=S),
    settings=S,
    sessions=3,
)  # 8, 9, 10


def test_quota_done_advances_missed_quota_repeats() -> None:
    d = decide_loading(PLAN, [_log(1, 1, 8, 8)], settings=S)
    assert (d.action, d.from_level, d.to_level, d.rule_id, d.item) == (
        "advance",
        1,
        2,
        "loading-per-plan",
        "sit-to-stand",
    )
    assert [(c.measure, c.value, c.op, c.threshold, c.passed) for c in d.checks] == [
        ("achieved", 8.0, ">=", 8.0, True)
    ]
    d = decide_loading(PLAN, [_log(1, 1, 8, 8), _log(2, 2, 9, 6)], settings=S)
    assert (d.action, d.to_level, d.rule_id) == ("hold", 2, "loading-hold-missed")
    moving = S.model_copy(update={"hold_if_missed": False})
    d = decide_loading(PLAN, [_log(1, 1, 8, 8), _log(2, 2, 9, 6)], settings=moving)
    assert (d.action, d.to_level) == ("advance", 3) and "quota missed" in d.note
    d = decide_loading(PLAN, [_log(1, 3, 10, 12)], settings=S)
    assert (d.action, d.to_level, d.note) == ("hold", 3, "end of the plan (3 steps)")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10), st.integers(0, 10), st.booleans())
def test_pain_never_changes_a_decision(pain_a: int, pain_b: int, done: bool) -> None:
    achieved = 9.0 if done else 7.0
    a = decide_loading(
        PLAN, [_log(1, 1, 8, 8, pain_a), _log(2, 2, 9, achieved, pain_a)], settings=S
    )
    b = decide_loading(
        PLAN, [_log(1, 1, 8, 8, pain_b), _log(2, 2, 9, achieved, pain_b)], settings=S
    )
    assert a == b


def test_loading_logs_must_follow_the_plan() -> None:
    with pytest.raises(
        DataValidationError, match="quota 9 is not the plan's quota for step 1 \\(8\\)"
    ):
        decide_loading(PLAN, [_log(1, 1, 9, 9)], settings=S)
    with pytest.raises(DataValidationError, match="step 4 is beyond the plan \\(3 steps\\)"):
        decide_loading(PLAN, [_log(1, 4, 11, 11)], settings=S)
    with pytest.raises(DataValidationError, match="session 1 follows 2"):
        decide_loading(PLAN, [_log(2, 1, 8, 8), _log(1, 2, 9, 9)], settings=S)
    with pytest.raises(DataValidationError, match="no session of 'sit-to-stand'"):
        decide_loading(PLAN, [], settings=S)
    with pytest.raises(DataValidationError, match="'pain': must be an integer in \\[0, 10\\]"):
        LoadingLog.from_dict(
            {
                "exercise": "walk",
                "session": 1,
                "step": 1,
                "week": 9,
                "quota": 5,
                "achieved": 5,
                "pain": 11,
            }
        )


def test_drill_summary() -> None:
    logs = [
        DrillLog(drill_id="hip-hinge", week=6, sets=3, reps=8, feedback="video", quality=4),
        DrillLog(drill_id="pelvic-tilt", week=6, sets=2, reps=10, quality=None),
        DrillLog(drill_id="hip-hinge", week=7, sets=3, reps=8, feedback="touch", quality=7),
    ]
    s = drill_summary(logs)
    assert [(x.drill_id, x.sessions, x.total_reps, x.mean_quality) for x in s] == [
        ("hip-hinge", 2, 48, 5.5),
        ("pelvic-tilt", 1, 20, None),
    ]
