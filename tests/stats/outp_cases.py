"""The models behind the ``sas_resid_*.txt`` listings and cached fits of them.

Each listing's Model Information and Type 3 blocks identify the model
(golden: tests/reference/sas/sas/sas_resid_*.txt):

* sas_resid_un.txt: FEV1 = RACE SEX AVISIT*ARMCD (same column space as
  ``RACE + SEX + ARMCD * AVISIT``), UN, REML, DDFM=BW, all 800 rows of fev_data.
* sas_resid_un_grp.txt: FEV1 = ARMCD, UN with GROUP=ARMCD, REML, DDFM=BW.
* sas_resid_un_weighted.txt: FEV1 = RACE SEX ARMCD AVISIT AVISIT*ARMCD, UN,
  REML, Satterthwaite, WEIGHT fit_weight; the 537 rows with an outcome.  The
  integer weights are not in fev_data.csv; they are read from the listing.
* sas_resid_spatial.txt: FEV1 = ARMCD, SP(POW)(VISITN), REML, Satterthwaite
  (the listing also prints fit_weight, but the model has no WEIGHT statement).

Reference levels differ between SAS and us; fitted values do not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sas_obs_listing import read_outp

from resolve.stats import MMRMResult, mmrm


@dataclass(frozen=True)
class OutpCase:
    file: str
    kwargs: dict[str, Any]
    sas_visits: tuple[str, ...] = ("VIS1", "VIS2", "VIS3", "VIS4")


FULL = "FEV1 ~ RACE + SEX + ARMCD * AVISIT"
OUTP_CASES = [
    OutpCase("sas_resid_un.txt", {"formula": FULL, "cov": "us", "df": "between-within"}),
    OutpCase(
        "sas_resid_un_grp.txt",
        {"formula": "FEV1 ~ ARMCD", "cov": "us", "group": "ARMCD", "df": "between-within"},
    ),
    OutpCase(
        "sas_resid_un_weighted.txt",
        {"formula": FULL, "cov": "us", "weights": "fit_weight"},
        ("VIS2", "VIS3", "VIS4", "VIS1"),
    ),
    OutpCase(
        "sas_resid_spatial.txt",
        {"formula": "FEV1 ~ ARMCD", "cov": "sp_pow", "coordinates": "VISITN"},
    ),
]
_CACHE: dict[str, tuple[MMRMResult, pd.DataFrame, pd.DataFrame, pd.DataFrame]] = {}


def fit_case(
    case: OutpCase, fev: pd.DataFrame, shared: Path
) -> tuple[MMRMResult, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(fit, data, sas_values, sas_half_units)``; ``data`` rows follow the listing's rows."""
    if case.file not in _CACHE:
        sas, half = read_outp(shared / "sas" / case.file)
        keys = ["USUBJID", "AVISIT"]
        data = sas[keys].merge(fev, on=keys, how="left", validate="one_to_one")
        if "fit_weight" in sas:
            data["fit_weight"] = sas["fit_weight"].to_numpy()
        data.index = sas.index
        fit = mmrm(data=data, subject="USUBJID", visit="AVISIT", **case.kwargs)
        _CACHE[case.file] = (fit, data, sas, half)
    return _CACHE[case.file]
