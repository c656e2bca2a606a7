"""Eligibility: boundaries of every threshold, every exclusion, and input validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolve.errors import DataValidationError
from resolve.trial.eligibility import EligibilityResult, check_eligibility
from resolve.trial.protocol import Protocol, load_protocol

P = load_protocol()
OK = {"age": 40, "duration_weeks": 26, "pain": 5}


def check(protocol: Protocol = P, **changes: object) -> EligibilityResult:
    return check_eligibility(protocol, **{**OK, **changes})  # type: ignore[arg-type]


def test_typical_participant_is_eligible() -> None:
    r = check()
    assert r == EligibilityResult(True, ())
    assert r.to_dict() == {"eligible": True, "reasons": []}


@pytest.mark.parametrize(
    ("field", "value", "eligible", "reason"),
    [
        ("age", 18, True, None),
        ("age", 70, True, None),
        ("age", 17, False, "age 17 is below 18"),
        ("age", 71, False, "age 71 is above 70"),
        ("age", 72, False, "age 72 is above 70"),
        ("duration_weeks", 12, True, None),
        ("duration_weeks", 12.0, True, None),
        ("duration_weeks", 11.9, False, "pain duration 11.9 weeks is below 12"),
        ("duration_weeks", 0, False, "pain duration 0 weeks is below 12"),
        ("pain", 3, True, None),
        ("pain", 10, True, None),
        ("pain", 2, False, "past-week pain 2 is below 3"),
        ("pain", 0, False, "past-week pain 0 is below 3"),
    ],
)
def test_boundaries(field: str, value: object, eligible: bool, reason: str | None) -> None:
    r = check(**{field: value})
    assert r.eligible is eligible
    assert r.reasons == (() if reason is None else (reason,))


@pytest.mark.parametrize("name", [e.name for e in P.eligibility.exclusions])
def test_each_exclusion_makes_ineligible(name: str) -> None:
    r = check(exclusions=[name])
    label = P.eligibility.exclusion(name).label
    assert not r.eligible and r.reasons == (f"exclusion {name}: {label}",)


def test_all_reasons_in_order_and_duplicates_once() -> None:
    r = check(
        age=71, duration_weeks=3, pain=1, exclusions=("pregnancy", "radiculopathy", "pregnancy")
    )
    assert r.reasons == (
        "age 71 is above 70",
        "pain duration 3 weeks is below 12",
        "past-week pain 1 is below 3",
        "exclusion pregnancy: Pregnancy",
        f"exclusion radiculopathy: {P.eligibility.exclusion('radiculopathy').label}",
    )


def test_unknown_exclusion_lists_known_ones() -> None:
    with pytest.raises(
        DataValidationError, match=r"unknown exclusion\(s\) 'cancer'; known: serious"
    ):
        check(exclusions=["cancer"])


def test_single_string_of_exclusions_is_refused() -> None:
    with pytest.raises(DataValidationError, match="not the single string 'pregnancy'"):
        check(exclusions="pregnancy")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pain", True, "pain must be an integer; got True"),
        ("pain", 2.5, "pain must be an integer; got 2.5"),
        ("pain", "5", "pain must be an integer"),
        ("pain", 11, "pain must be an integer in 0-10; got 11"),
        ("pain", -1, "pain must be an integer in 0-10"),
        ("pain", float("nan"), "pain must be an integer"),
        ("age", False, "age must be an integer"),
        ("age", 40.5, "age must be an integer"),
        ("age", -3, "age must be an integer in 0-130"),
        ("age", None, "age must be an integer"),
        ("duration_weeks", True, "duration_weeks must be a number"),
        ("duration_weeks", "long", "duration_weeks must be a number"),
        ("duration_weeks", -1, "duration_weeks must be a number >= 0"),
        ("duration_weeks", float("inf"), "duration_weeks must be a number >= 0"),
    ],
)
def test_invalid_values_are_errors_not_ineligible(field: str, value: object, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        check(**{field: value})


def test_integral_float_accepted_like_instrument_codes() -> None:
    assert check(pain=3.0, age=70.0).eligible


def test_numpy_integers_accepted() -> None:
    np = pytest.importorskip("numpy")
    assert check(age=np.int64(18), pain=np.int32(3), duration_weeks=np.float64(12)).eligible


@given(
    age=st.integers(0, 130),
    duration=st.floats(0, 1000, allow_nan=False),
    pain=st.integers(0, 10),
    exclusions=st.lists(st.sampled_from([e.name for e in P.eligibility.exclusions]), max_size=3),
)
def test_eligible_iff_every_criterion_holds(
    age: int, duration: float, pain: int, exclusions: list[str]
) -> None:
    r = check_eligibility(P, age=age, duration_weeks=duration, pain=pain, exclusions=exclusions)
    expected = 18 <= age <= 70 and duration >= 12 and pain >= 3 and not exclusions
    assert r.eligible is expected
    assert r.eligible is (not r.reasons)
    assert len(r.reasons) == (not 18 <= age <= 70) + (duration < 12) + (pain < 3) + len(
        set(exclusions)
    )
