"""Disability and functioning: RMDQ-24, BPI interference, PSFS."""

from __future__ import annotations

from resolve.instruments.base import Band, Classification, Condition, Instrument, MissingRule, Scale
from resolve.instruments.catalog._build import items

RMDQ24 = Instrument(
    id="rmdq24",
    version="RMDQ-24",
    title="Roland-Morris Disability Questionnaire (24 items)",
    items=items(range(1, 25), 0, 1, prefix="RMDQ", anchors={0: "not ticked", 1: "ticked"}),
    scales=(
        Scale(
            "total",
            tuple(range(1, 25)),
            missing=MissingRule(
                2,
                True,
                "project rule (no published rule): with explicit yes/no capture, prorate "
                "sum x 24 / n answered when at most 2 items are unanswered; the trial "
                "statistician may change k (Instrument.with_missing_rule)",
            ),
        ),
    ),
    classifications=(
        Classification(
            "recovered",
            (
                Band("recovered", (Condition("total", "<=", 2),)),
                Band("not recovered", (Condition("total", ">", 2),)),
            ),
            source="Kamper et al. 2010: recovered = RMDQ <= 2 (inclusive)",
        ),
    ),
    recall="today",
    source="Roland & Morris 1983; ticked = 1. Paper forms have no missing state (an unticked "
    "box is 'no'); record the mode of administration",
    licence="unclear: do not ship wording",
)

_BPI_LABELS = {
    1: "general activity",
    2: "mood",
    3: "walking ability",
    4: "normal work",
    5: "relations with others",
    6: "sleep",
    7: "enjoyment of life",
}

BPI_INTERFERENCE = Instrument(
    id="bpi_interference",
    version="BPI-SF interference (7 items)",
    title="Brief Pain Inventory short form: pain interference",
    items=items(
        range(1, 8),
        0,
        10,
        prefix="BPI interference",
        labels=_BPI_LABELS,
        anchors={0: "does not interfere", 10: "completely interferes"},
    ),
    scales=(
        Scale(
            "total",
            tuple(range(1, 8)),
            method="mean",
            missing=MissingRule(
                3,
                True,
                "BPI user guide: mean of answered items, valid when at least 4 of 7 are answered",
            ),
        ),
    ),
    recall="past 24 hours (original) or past week (ePPOC); record it",
    source="Cleeland, BPI user guide",
    licence="proprietary (C. S. Cleeland): never ship wording",
)

PSFS = Instrument(
    id="psfs",
    version="PSFS (up to 5 activities)",
    title="Patient-Specific Functional Scale",
    items=items(
        range(1, 6),
        0,
        10,
        prefix="PSFS activity",
        anchors={0: "unable to perform", 10: "able to perform at pre-problem level"},
    ),
    scales=(
        Scale(
            "total",
            tuple(range(1, 6)),
            method="mean",
            missing=MissingRule(
                4,
                False,
                "Stratford 1995: mean of the activities rated; at "
                "least one required (empty slots are not imputed)",
            ),
        ),
    ),
    higher_is="better",
    allow_absent_items=True,
    source="Stratford et al. 1995; follow-ups re-rate the same activities",
    licence="forms reproduced with the authors' permission",
)
