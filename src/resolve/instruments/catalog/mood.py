"""Psychological distress and risk stratification: DASS-21 and STarT Back."""

from __future__ import annotations

from resolve.instruments.base import (
    Band,
    Classification,
    Condition,
    Instrument,
    Item,
    MissingRule,
    Scale,
)
from resolve.instruments.catalog._build import bands_between, items

_DASS_RULE = MissingRule(
    1,
    True,
    "project rule (DASS FAQ Q27 not retrieved): prorate a "
    "subscale when at most 1 of its 7 items is unanswered",
)
_SEVERITY = ("normal", "mild", "moderate", "severe", "extremely severe")
_DASS_SOURCE = "Lovibond & Lovibond 1995 bands on the DASS-42 metric (raw sum x 2), inclusive "


def _dass_scale(name: str, numbers: tuple[int, ...]) -> Scale:
    return Scale(
        name,
        numbers,
        missing=_DASS_RULE,
        multiplier=2.0,
        description="raw sum x 2 (DASS-42 metric, 0-42)",
    )


DASS21 = Instrument(
    id="dass21",
    version="DASS-21 (x2 to DASS-42 metric)",
    title="Depression Anxiety Stress Scales, 21 items",
    items=items(
        range(1, 22),
        0,
        3,
        prefix="DASS",
        anchors={0: "did not apply", 3: "applied very much or most of the time"},
    ),
    scales=(
        Scale(
            "total",
            from_scales=("depression", "anxiety", "stress"),
            description="sum of the three doubled subscales (0-126)",
        ),
        _dass_scale("depression", (3, 5, 10, 13, 16, 17, 21)),
        _dass_scale("anxiety", (2, 4, 7, 9, 15, 19, 20)),
        _dass_scale("stress", (1, 6, 8, 11, 12, 14, 18)),
    ),
    classifications=(
        Classification(
            "depression_severity",
            bands_between("depression", _SEVERITY, (10, 14, 21, 28)),
            source=_DASS_SOURCE + "0-9, 10-13, 14-20, 21-27, 28+",
        ),
        Classification(
            "anxiety_severity",
            bands_between("anxiety", _SEVERITY, (8, 10, 15, 20)),
            source=_DASS_SOURCE + "0-7, 8-9, 10-14, 15-19, 20+ (to be checked against the manual)",
        ),
        Classification(
            "stress_severity",
            bands_between("stress", _SEVERITY, (15, 19, 26, 34)),
            source=_DASS_SOURCE + "0-14, 15-18, 19-25, 26-33, 34+",
        ),
    ),
    recall="past week",
    source="Lovibond & Lovibond 1995; subscale sums doubled once (metric: dass42_equivalent)",
    licence="public domain per the authors; wording not shipped",
)

_STARTBACK_ITEMS = (
    *items(range(1, 9), 0, 1, prefix="STarT Back", anchors={0: "disagree", 1: "agree"}),
    Item(
        9,
        "STarT Back item 9 (bothersomeness)",
        0,
        4,
        recode=(0, 0, 0, 1, 1),
        anchors={0: "not at all", 1: "slightly", 2: "moderately", 3: "very much", 4: "extremely"},
    ),
)

STARTBACK = Instrument(
    id="startback",
    version="Keele STarT Back (9 items)",
    title="Keele STarT Back Screening Tool",
    items=_STARTBACK_ITEMS,
    scales=(
        Scale("total", tuple(range(1, 10)), description="overall score 0-9"),
        Scale("psychosocial", (5, 6, 7, 8, 9), description="psychosocial (distress) subscale 0-5"),
    ),
    classifications=(
        Classification(
            "risk_group",
            (
                Band("low", (Condition("total", "<=", 3),)),
                Band("high", (Condition("psychosocial", ">=", 4),)),
                Band("medium", (Condition("total", ">=", 4), Condition("psychosocial", "<=", 3))),
            ),
            source="Hill et al. 2008 / Keele scoring: overall 0-3 low; overall >= 4 and "
            "subscale <= 3 medium; subscale >= 4 high (inclusive)",
        ),
    ),
    source="Keele University; item 9: very much or extremely = 1; all items required",
    licence="(c) Keele University, free for non-commercial use; wording not shipped",
)
