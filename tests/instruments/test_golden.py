"""Worked examples computed by hand from each instrument's published scoring rules.

Each case cites the rule it exercises (see ``specs/instruments.md`` for the
sources); the expected numbers are the arithmetic shown in the comment, not
output of this package.
"""

from __future__ import annotations

import pytest

from resolve.instruments import score

TSK_REVERSED = {4, 8, 12, 16}


def tsk17_total_37() -> dict[int, int]:
    # 13 forward items at 2 = 26, three of them raised to 3 -> 29; reversed items at 3 -> 4 x 2 = 8
    codes = {n: (3 if n in TSK_REVERSED else 2) for n in range(1, 18)}
    for n in (1, 2, 3):
        codes[n] = 3
    return codes


CASES = [
    # (instrument, responses, expected scores, expected categories, rule)
    (
        "tsk17",
        {n: 3 for n in range(1, 18)},
        {"total": 47},
        {"kinesiophobia": "high"},
        "13 x 3 + reversed 4 x (5 - 3) = 47 > 37 (Vlaeyen 1995)",
    ),
    (
        "tsk17",
        {n: 1 for n in range(1, 18)},
        {"total": 29},
        {"kinesiophobia": "not high"},
        "13 x 1 + 4 x (5 - 1) = 29",
    ),
    (
        "tsk17",
        tsk17_total_37(),
        {"total": 37},
        {"kinesiophobia": "not high"},
        "exactly 37 is not high: the cut-off is exclusive",
    ),
    ("tsk17", {**tsk17_total_37(), 5: 3}, {"total": 38}, {"kinesiophobia": "high"}, "38 > 37"),
    (
        "tsk11",
        {n: 3 for n in range(1, 12)},
        {"total": 33},
        {},
        "11 x 3, no reversed items in TSK-11 (Woby 2005)",
    ),
    (
        "pcs",
        {n: n % 5 for n in range(1, 14)},
        {"total": 26, "rumination": 8, "magnification": 6, "helplessness": 12},
        {"catastrophizing": "not clinically relevant"},
        "R = i8..i11 = 3+4+0+1; M = i6,i7,i13 = 1+2+3; H = i1..i5,i12 = 1+2+3+4+0+2",
    ),
    (
        "pcs",
        {**{n: 2 for n in range(1, 14)}, 1: 4, 2: 4, 3: 4, 4: 4},
        {"total": 34, "helplessness": 20},
        {"catastrophizing": "clinically relevant"},
        "13 x 2 + 4 x 2 = 34 >= 30 (Sullivan manual)",
    ),
    (
        "pcs",
        {**{n: 2 for n in range(1, 14)}, 1: 4, 2: 4},
        {"total": 30},
        {"catastrophizing": "clinically relevant"},
        "exactly 30 is clinically relevant (boundary chosen inclusive)",
    ),
    (
        "dass21",
        {
            **{n: 2 for n in (3, 5, 10, 13, 16, 17, 21)},
            **{n: 1 for n in (2, 4, 7, 9, 15, 19, 20)},
            **{n: 1 for n in (1, 6, 8, 11, 12, 14, 18)},
        },
        {"depression": 28, "anxiety": 14, "stress": 14, "total": 56},
        {
            "depression_severity": "extremely severe",
            "anxiety_severity": "moderate",
            "stress_severity": "normal",
        },
        "D 7 x 2 = 14 -> x2 = 28 (28+); A 7 -> 14 (10-14); S 7 -> 14 (0-14)",
    ),
    (
        "dass21",
        {n: 0 for n in range(1, 22)} | {3: 3, 5: 2},
        {"depression": 10},
        {"depression_severity": "mild"},
        "D raw 5 -> 10: lower edge of mild (10-13)",
    ),
    (
        "startback",
        {n: 1 for n in range(1, 4)} | {n: 0 for n in range(4, 10)},
        {"total": 3, "psychosocial": 0},
        {"risk_group": "low"},
        "overall 0-3 -> low",
    ),
    (
        "startback",
        {1: 1, 2: 1, 3: 0, 4: 0, 5: 1, 6: 1, 7: 1, 8: 0, 9: 2},
        {"total": 5, "psychosocial": 3},
        {"risk_group": "medium"},
        "item 9 'moderately' (2) scores 0; overall 5 >= 4 and subscale 3 <= 3 -> medium",
    ),
    (
        "startback",
        {1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 1, 8: 0, 9: 3},
        {"total": 4, "psychosocial": 4},
        {"risk_group": "high"},
        "item 9 'very much' (3) scores 1; subscale 4 >= 4 -> high",
    ),
    (
        "rmdq24",
        {n: int(n <= 2) for n in range(1, 25)},
        {"total": 2},
        {"recovered": "recovered"},
        "RMDQ <= 2 is recovered (Kamper 2010, inclusive)",
    ),
    (
        "rmdq24",
        {n: int(n <= 3) for n in range(1, 25)},
        {"total": 3},
        {"recovered": "not recovered"},
        "3 > 2",
    ),
    (
        "rmdq24",
        {n: (None if n == 24 else int(n <= 11)) for n in range(1, 25)},
        {"total": 11 * 24 / 23},
        {"recovered": "not recovered"},
        "one item unanswered: 11 ticks x 24 / 23 answered",
    ),
    (
        "bbq",
        {n: 5 for n in range(1, 15)},
        {"total": 9},
        {},
        "9 scored items at 'completely agree' reversed to 1; distractors ignored",
    ),
    (
        "bbq",
        {n: (1 if n in (4, 5, 7, 9, 11) else 5) for n in range(1, 15)},
        {"total": 9},
        {},
        "changing only the distractors leaves the score unchanged",
    ),
    (
        "bpi_interference",
        {1: 2, 2: 4, 3: 6, 4: 8},
        {"total": 5.0},
        {},
        "mean of 4 answered items (2+4+6+8)/4; valid with >= 4 of 7",
    ),
    (
        "bpi_interference",
        {1: 2, 2: 4, 3: 6},
        {"total": None},
        {},
        "only 3 of 7 answered: not scored",
    ),
    ("psfs", {1: 4, 2: 6, 3: 8}, {"total": 6.0}, {}, "mean of the 3 rated activities"),
    ("nrs", {1: 4}, {"total": 4}, {"severity": "mild", "recovered": "not recovered"}, "0-4 mild"),
    ("nrs", {1: 5}, {"total": 5}, {"severity": "moderate"}, "5-6 moderate"),
    ("nrs", {1: 7}, {"total": 7}, {"severity": "severe"}, "7-10 severe"),
    ("nrs", {1: 0}, {"total": 0}, {"severity": "mild", "recovered": "recovered"}, "0 recovered"),
    ("frebaq", {n: 2 for n in range(1, 10)}, {"total": 18}, {}, "9 x 2"),
    (
        "frebaq",
        {n: (None if n == 9 else 2) for n in range(1, 10)},
        {"total": 18},
        {},
        "one item unanswered: 16 x 9 / 8",
    ),
    ("pseq", {n: 6 for n in range(1, 11)}, {"total": 60}, {}, "10 x 6; higher = better"),
    ("pseq2", {1: 5, 2: 6}, {"total": 11}, {}, "5 + 6"),
    ("gpe", {1: -3}, {"total": -3}, {}, "single item -5..+5"),
    (
        "psychoactive_medication",
        ["clonazepam"],
        {"total": 2, "antiepileptic": 1, "benzodiazepine": 1, "opioid": 0},
        {"psychoactive": "yes"},
        "WHO ATC N03AE01: antiepileptic that is a benzodiazepine",
    ),
    (
        "psychoactive_medication",
        ["Tapentadol", "N06AX21"],
        {"total": 2, "opioid": 1, "antidepressant": 1},
        {"psychoactive": "yes"},
        "tapentadol N02AX06 (opioid); duloxetine N06AX21 (antidepressant)",
    ),
    (
        "psychoactive_medication",
        ["paracetamol", "ibuprofen"],
        {"total": 0},
        {"psychoactive": "no"},
        "N02BE01 and M01AE01 are not psychoactive",
    ),
]


@pytest.mark.parametrize(
    ("instrument", "responses", "scores", "categories", "rule"),
    CASES,
    ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)],
)
def test_worked_example(
    instrument: str,
    responses: object,
    scores: dict[str, float | None],
    categories: dict[str, str],
    rule: str,
) -> None:
    result = score(instrument, responses)  # type: ignore[arg-type]
    for name, expected in scores.items():
        if expected is None:
            assert result.scores[name] is None, rule
        else:
            assert result.scores[name] == pytest.approx(expected, rel=1e-12), rule
    for name, label in categories.items():
        assert result.categories[name] == label, rule
