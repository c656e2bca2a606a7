"""Questionnaire instruments: declarative definitions and one scoring engine.

Examples
--------
>>> from resolve import instruments
>>> r = instruments.score("tsk17", {i: 3 for i in range(1, 18)}, respondent="P01")
>>> r.total, r.categories["kinesiophobia"]
(47.0, 'high')
>>> [i.id for i in instruments.available()][:4]
['nrs', 'rmdq24', 'frebaq', 'tsk17']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from resolve.instruments.base import (
    Band,
    Classification,
    Condition,
    Instrument,
    Item,
    MissingRule,
    Scale,
)
from resolve.instruments.fhir import questionnaire_response, score_response
from resolve.instruments.io import read_responses
from resolve.instruments.medication import PSYCHOACTIVE_MEDICATION, MedicationInstrument
from resolve.instruments.registry import AnyInstrument, available, get, register
from resolve.instruments.result import ScoreResult
from resolve.instruments.wording import load_wording

__all__ = [
    "PSYCHOACTIVE_MEDICATION",
    "Band",
    "Classification",
    "Condition",
    "Instrument",
    "Item",
    "MedicationInstrument",
    "MissingRule",
    "Scale",
    "ScoreResult",
    "available",
    "get",
    "load_wording",
    "questionnaire_response",
    "read_responses",
    "register",
    "score",
    "score_frame",
    "score_response",
    "to_fhir",
]


def score(
    instrument: str | AnyInstrument,
    responses: Mapping[Any, Any] | Iterable[Any],
    *,
    respondent: object = None,
    code_base: int | None = None,
) -> ScoreResult:
    """Score one respondent on one instrument.

    Parameters
    ----------
    instrument : str or Instrument
        Instrument id (see :func:`available`) or definition.
    responses : mapping or iterable of pairs
        Item (``"tsk17_5"``, ``5`` or ``"5"``) to integer code. An absent item,
        ``None`` or NaN is unanswered. For ``psychoactive_medication``, a list of
        medication names or ATC codes.
    respondent : object, optional
        Respondent id, named in errors and stored in the result.
    code_base : int, optional
        Lowest code used by ``responses`` if it differs from the instrument's.

    Returns
    -------
    ScoreResult
        Total and subscales, ``n_missing``, ``prorated`` and cut-off categories.

    Raises
    ------
    DataValidationError
        Out-of-range, non-integer or boolean codes, unknown or duplicate items.
    """
    return get(instrument).score(responses, respondent=respondent, code_base=code_base)  # type: ignore[arg-type]


def score_frame(
    instrument: str | AnyInstrument,
    data: pd.DataFrame,
    *,
    id_column: str | None = None,
    code_base: int | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Score every row of ``data``, vectorised; see :meth:`Instrument.score_frame`.

    Returns one row per respondent with ``id_column`` (if given), ``total``,
    each subscale by name, ``n_missing``, ``prorated`` and each cut-off
    category. Missing items follow the instrument's rule; they are never zero.
    """
    return get(instrument).score_frame(
        data, id_column=id_column, code_base=code_base, source=source
    )


def to_fhir(instrument: str | AnyInstrument) -> dict[str, Any]:
    """The FHIR R4 Questionnaire resource of an instrument."""
    return get(instrument).to_fhir()
