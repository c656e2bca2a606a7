"""The catalog of coded instruments, one declarative definition each."""

from __future__ import annotations

from resolve.instruments.catalog.beliefs import BBQ, FREBAQ, PCS, PSEQ, PSEQ2, TSK11, TSK17
from resolve.instruments.catalog.disability import BPI_INTERFERENCE, PSFS, RMDQ24
from resolve.instruments.catalog.mood import DASS21, STARTBACK
from resolve.instruments.catalog.pain import GPE, NRS

CODED = (
    NRS,
    RMDQ24,
    FREBAQ,
    TSK17,
    TSK11,
    PCS,
    PSEQ,
    PSEQ2,
    BBQ,
    GPE,
    DASS21,
    STARTBACK,
    BPI_INTERFERENCE,
    PSFS,
)

__all__ = ["CODED"]
