"""Pain cognitions and beliefs: TSK-17, TSK-11, PCS, PSEQ, PSEQ-2, BBQ, FreBAQ."""

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
from resolve.instruments.catalog._build import items

_AGREE4 = {1: "strongly disagree", 2: "disagree", 3: "agree", 4: "strongly agree"}

TSK17 = Instrument(
    id="tsk17",
    version="TSK-17",
    title="Tampa Scale for Kinesiophobia (17 items)",
    items=items(range(1, 18), 1, 4, prefix="TSK", reverse=(4, 8, 12, 16), anchors=_AGREE4),
    scales=(
        Scale(
            "total",
            tuple(range(1, 18)),
            missing=MissingRule(
                2,
                True,
                "project rule (no published rule): prorate after "
                "reversal when at most 2 of 17 items are unanswered",
            ),
        ),
    ),
    classifications=(
        Classification(
            "kinesiophobia",
            (
                Band("high", (Condition("total", ">", 37),)),
                Band("not high", (Condition("total", "<=", 37),)),
            ),
            source="Vlaeyen et al. 1995: high kinesiophobia > 37 (exclusive); prorated totals "
            "are compared unrounded",
        ),
    ),
    source="Kori, Miller & Todd 1990; reverse items 4, 8, 12, 16 scored 5 - x",
    licence="no licence statement found: treat wording as copyrighted",
)

_TSK11_FROM_17 = (1, 2, 3, 5, 6, 7, 10, 11, 13, 15, 17)

TSK11 = Instrument(
    id="tsk11",
    version="TSK-11",
    title="Tampa Scale for Kinesiophobia, 11-item short form (Woby et al. 2005)",
    items=tuple(
        Item(k, f"TSK-11 item {k} (TSK-17 item {n})", 1, 4, anchors=_AGREE4)
        for k, n in enumerate(_TSK11_FROM_17, start=1)
    ),
    scales=(
        Scale(
            "total",
            tuple(range(1, 12)),
            missing=MissingRule(
                1,
                True,
                "project rule (no published rule): prorate when at "
                "most 1 of 11 items is unanswered",
            ),
        ),
    ),
    source="Woby et al. 2005: TSK-17 without items 4, 8, 9, 12, 14, 16; no reversed items",
    licence="no licence statement found: treat wording as copyrighted",
)

_PCS_RULE = MissingRule(
    1,
    True,
    "project rule (no rule in the manual): prorate a subscale "
    "when at most 1 of its items is unanswered; total = sum of subscales",
)

PCS = Instrument(
    id="pcs",
    version="PCS (13 items)",
    title="Pain Catastrophizing Scale",
    items=items(range(1, 14), 0, 4, prefix="PCS", anchors={0: "not at all", 4: "all the time"}),
    scales=(
        Scale("total", from_scales=("rumination", "magnification", "helplessness")),
        Scale("rumination", (8, 9, 10, 11), missing=_PCS_RULE),
        Scale("magnification", (6, 7, 13), missing=_PCS_RULE),
        Scale("helplessness", (1, 2, 3, 4, 5, 12), missing=_PCS_RULE),
    ),
    classifications=(
        Classification(
            "catastrophizing",
            (
                Band("clinically relevant", (Condition("total", ">=", 30),)),
                Band("not clinically relevant", (Condition("total", "<", 30),)),
            ),
            source="Sullivan, PCS manual: a total of 30 (about the 75th percentile of "
            "chronic-pain samples) is clinically relevant; boundary taken as >= 30",
        ),
    ),
    source="Sullivan, Bishop & Pivik 1995; subscales per Sullivan's item numbers",
    licence="licensed (Mapi Research Trust): never ship wording",
)

_CONFIDENT = {0: "not at all confident", 6: "completely confident"}

PSEQ = Instrument(
    id="pseq",
    version="PSEQ-10",
    title="Pain Self-Efficacy Questionnaire",
    items=items(range(1, 11), 0, 6, prefix="PSEQ", anchors=_CONFIDENT),
    scales=(
        Scale(
            "total",
            tuple(range(1, 11)),
            missing=MissingRule(
                2,
                True,
                "commonly quoted rule (not verified against "
                "Nicholas): prorate when at most 2 of 10 items are unanswered",
            ),
        ),
    ),
    higher_is="better",
    source="Nicholas 2007",
    licence="(c) M. Nicholas; no terms found: do not ship wording",
)

PSEQ2 = Instrument(
    id="pseq2",
    version="PSEQ-2",
    title="Pain Self-Efficacy Questionnaire, 2-item form",
    items=(
        Item(1, "PSEQ-2 item 1 (PSEQ item 5: work)", 0, 6, anchors=_CONFIDENT),
        Item(2, "PSEQ-2 item 2 (PSEQ item 9: normal life)", 0, 6, anchors=_CONFIDENT),
    ),
    scales=(Scale("total", (1, 2)),),
    higher_is="better",
    source="Nicholas, McGuire & Asghari 2015; PSEQ item numbers 5 and 9 to be confirmed",
    licence="as PSEQ",
)

_BBQ_SCORED = (1, 2, 3, 6, 8, 10, 12, 13, 14)

BBQ = Instrument(
    id="bbq",
    version="BBQ (14 items, 9 scored)",
    title="Back Beliefs Questionnaire",
    items=items(
        range(1, 15),
        1,
        5,
        prefix="BBQ",
        reverse=_BBQ_SCORED,
        distractors=(4, 5, 7, 9, 11),
        anchors={1: "completely disagree", 5: "completely agree"},
    ),
    scales=(
        Scale(
            "total",
            _BBQ_SCORED,
            missing=MissingRule(
                1,
                True,
                "project rule (none published): prorate when at most "
                "1 of the 9 scored items is unanswered; distractors never count",
            ),
        ),
    ),
    higher_is="better",
    source="Symonds et al. 1996; scored items reversed (6 - x), range 9-45, higher = more "
    "positive beliefs; distractors 4, 5, 7, 9, 11 validated and ignored",
    licence="none found: do not ship wording",
)

FREBAQ = Instrument(
    id="frebaq",
    version="FreBAQ (9-item back)",
    title="Fremantle Back Awareness Questionnaire",
    items=items(
        range(1, 10),
        0,
        4,
        prefix="FreBAQ",
        anchors={0: "never", 1: "rarely", 2: "occasionally", 3: "often", 4: "always"},
    ),
    scales=(
        Scale(
            "total",
            tuple(range(1, 10)),
            missing=MissingRule(
                1,
                True,
                "project rule (none published): unidimensional "
                "Rasch-fitting scale, prorate when at most 1 of 9 items is "
                "unanswered",
            ),
        ),
    ),
    source="Wand et al. 2014, 2016; sum 0-36, higher = more disturbed back perception; the "
    "6-item area-agnostic derivative is a different instrument",
    licence="no terms of use found: do not ship wording",
)
