"""Factor level order: R's sort, natural order, declared and categorical orders.

golden: tests/reference/r/levels_sort.csv, written by tests/reference/r/levels_sort.R
(R 4.2.2 with ICU 72.1, ``LC_COLLATE=en_US.UTF-8``): ``levels(factor(x))`` for each case.
The natural-order tests check resolve's own rule (R has no natural sort), stated in
:func:`resolve._levels.natural_sort_levels`.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resolve._levels import (
    factor_levels,
    natural_sort_key,
    natural_sort_levels,
    numeric_labels,
    r_sort_key,
    r_sort_levels,
    sorted_levels,
)
from resolve.errors import DataValidationError

R_CSV = Path(__file__).resolve().parents[1] / "reference" / "r" / "levels_sort.csv"


def _r_cases() -> dict[str, list[str]]:
    table = pd.read_csv(R_CSV, keep_default_na=False, dtype={"level": str}, encoding="utf-8")
    return {
        str(case): list(group.sort_values("position")["level"])
        for case, group in table.groupby("case", sort=False)
    }


R_CASES = _r_cases()
TEXT_CASES = sorted(c for c in R_CASES if c != "numbers")


def _shuffled(values: list[str], seed: int) -> list[str]:
    out = list(values)
    random.Random(seed).shuffle(out)
    return out


def test_reference_csv_has_the_cases() -> None:
    assert {"mixed_case", "case_pairs", "visit_codes", "punctuation", "random_ascii"} <= set(
        R_CASES
    )
    assert len(R_CASES["random_ascii"]) > 300


@pytest.mark.parametrize("case", TEXT_CASES)
def test_r_sort_levels_matches_r(case: str) -> None:
    expected = R_CASES[case]
    for seed in range(3):
        given = _shuffled(expected, seed) + _shuffled(expected, seed + 10)[:3]  # duplicates
        assert r_sort_levels(given) == expected
        assert sorted_levels(given) == expected


def test_r_sort_examples_from_the_brief_are_in_the_reference() -> None:
    # The three examples the rule is stated with; each order is R's (see the CSV).
    assert r_sort_levels(["gamma", "Beta", "alpha"]) == R_CASES["mixed_case"]
    assert R_CASES["mixed_case"][0] == "alpha"
    assert r_sort_levels(["B", "b", "A", "a"]) == R_CASES["case_pairs"]
    vis = ["VIS1", "VIS10", "VIS2"]
    assert r_sort_levels(vis) == [v for v in R_CASES["visit_codes"] if v in vis]


def test_r_sort_differs_from_code_point_order() -> None:
    # The bug this module fixes: Python's sorted() puts "Beta" first.
    labels = R_CASES["mixed_case"]
    assert sorted(labels) != labels
    assert r_sort_levels(labels) == labels


def test_numbers_sort_numerically_as_r_factor_of_numeric() -> None:
    expected = R_CASES["numbers"]
    values: list[object] = [int(v) if v.lstrip("-").isdigit() else float(v) for v in expected]
    random.Random(1).shuffle(values)
    assert sorted_levels(values) == expected
    assert sorted_levels(np.array(values, dtype=object)) == expected
    assert factor_levels(pd.Series(values, dtype=object)) == (expected, "R sort")


def test_r_sort_key_is_a_total_order_on_distinct_labels() -> None:
    labels = R_CASES["random_ascii"] + ["caf\u00e9", "cafe\u0301"]  # NFC vs NFD: distinct
    keys = {r_sort_key(v) for v in labels}
    assert len(keys) == len(set(labels))


def test_non_ascii_fast_and_general_paths_agree() -> None:
    # An ASCII label gets the same key whether or not it goes through the general path.
    from resolve._levels import _general_key

    for label in R_CASES["random_ascii"][:100] + R_CASES["punctuation"]:
        assert r_sort_key(label) == _general_key(label)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["week 26", "week 6", "week 10"], ["week 6", "week 10", "week 26"]),
        (["V10", "V2", "V1"], ["V1", "V2", "V10"]),
        (["Week 10", "week 2"], ["week 2", "Week 10"]),  # text compares case-insensitively
        (["Day 1", "Day -1", "Day -7"], ["Day -7", "Day -1", "Day 1"]),
        (["10", "9", "-1", "0.5"], ["-1", "0.5", "9", "10"]),  # all numbers: by value
        (["V1", "V01"], ["V01", "V1"]),  # same number: R's order breaks the tie
        (["visit 2b", "visit 2a", "visit 10"], ["visit 2a", "visit 2b", "visit 10"]),
    ],
)
def test_natural_sort_examples(given: list[str], expected: list[str]) -> None:
    assert natural_sort_levels(given) == expected
    assert natural_sort_levels(list(reversed(given))) == expected
    assert sorted(given, key=natural_sort_key) == expected or numeric_labels(given)


@pytest.mark.parametrize("case", ["mixed_case", "case_pairs", "arms", "fev_race", "accents"])
def test_natural_sort_equals_r_sort_without_digits(case: str) -> None:
    expected = R_CASES[case]
    assert not any(ch.isdigit() for v in expected for ch in v)
    assert natural_sort_levels(_shuffled(expected, 4)) == expected


def test_natural_sort_is_deterministic_under_permutation() -> None:
    labels = R_CASES["random_ascii"]
    first = natural_sort_levels(labels)
    assert sorted(first) == sorted(labels)
    for seed in range(3):
        assert natural_sort_levels(_shuffled(labels, seed)) == first


def test_natural_sort_orders_numbers_by_value() -> None:
    labels = [f"week {n}" for n in (52, 6, 104, 0, 12, 26, 1)]
    out = natural_sort_levels(labels)
    assert [int(v.split()[1]) for v in out] == sorted(int(v.split()[1]) for v in labels)
    assert r_sort_levels(labels) != out  # R's text order would be wrong for time


# -- factor_levels ---------------------------------------------------------------


def test_factor_levels_sources() -> None:
    assert factor_levels(["b", "a", None]) == (["a", "b"], "R sort")
    assert factor_levels(["week 10", "week 6"], natural=True) == (["week 6", "week 10"], "natural")
    cat = pd.Categorical(["x", "y"], categories=["y", "x", "z"])
    assert factor_levels(cat) == (["y", "x", "z"], "categorical")
    ordered = pd.Series(pd.Categorical(["lo", "hi"], categories=["lo", "hi"], ordered=True))
    assert factor_levels(ordered, natural=True) == (["lo", "hi"], "categorical")
    assert factor_levels(ordered, declared=["hi", "lo"]) == (["hi", "lo"], "declared")


def test_factor_levels_declared_unused() -> None:
    values = ["b", "a"]
    assert factor_levels(values, ["c", "b", "a"]) == (["b", "a"], "declared")
    assert factor_levels(values, ["c", "b", "a"], unused="keep") == (["c", "b", "a"], "declared")
    with pytest.raises(DataValidationError, match=r"'c'.*not a value of column 'arm'"):
        factor_levels(values, ["c", "b", "a"], name="column 'arm'", unused="error")


def test_factor_levels_declared_must_cover_observed() -> None:
    with pytest.raises(DataValidationError, match=r"column 'visit'.*lack.*'week 26'"):
        factor_levels(["week 6", "week 26"], ["week 6"], name="column 'visit'")
    with pytest.raises(DataValidationError, match="repeat 'a'"):
        factor_levels(["a"], ["a", "a"])
    with pytest.raises(DataValidationError, match="not a string"):
        factor_levels(["a"], "a")
