"""Pain intensity NRS and the Global Perceived Effect scale (single items)."""

from __future__ import annotations

from resolve.instruments.base import Band, Classification, Condition, Instrument, Item, Scale
from resolve.instruments.catalog._build import bands_between

NRS = Instrument(
    id="nrs",
    version="NRS-11 pain intensity",
    title="Pain intensity numeric rating scale (0-10)",
    items=(
        Item(
            1, "average pain intensity", 0, 10, anchors={0: "no pain", 10: "worst pain imaginable"}
        ),
    ),
    scales=(Scale("total", (1,), description="pain intensity 0-10"),),
    classifications=(
        Classification(
            "severity",
            bands_between("total", ("mild", "moderate", "severe"), (5, 7)),
            source="ePPOC/BPI severity bands: 0-4 mild, 5-6 moderate, 7-10 severe (inclusive)",
        ),
        Classification(
            "recovered",
            (
                Band("recovered", (Condition("total", "<=", 0),)),
                Band("not recovered", (Condition("total", ">", 0),)),
            ),
            source="Kamper et al. 2010: recovered = pain NRS 0",
        ),
    ),
    recall="average over the past week (RESOLVE); record the CRF's recall period",
    source="0 = no pain, 10 = worst pain imaginable; RESOLVE primary outcome (Bagg et al. 2022)",
    licence="generic scale; no licence",
)

GPE = Instrument(
    id="gpe",
    version="GPE 11-point (-5 to +5)",
    title="Global Perceived Effect",
    items=(
        Item(
            1,
            "global perceived effect",
            -5,
            5,
            anchors={-5: "vastly worse", 0: "no change", 5: "completely recovered"},
        ),
    ),
    scales=(Scale("total", (1,)),),
    higher_is="better",
    recall="store the reference point (since start of treatment or since baseline)",
    source="Kamper et al. 2009, 2010 (11-point format used in Sydney LBP trials); any "
    "dichotomy must be pre-specified",
    licence="generic scale; no licence",
)
