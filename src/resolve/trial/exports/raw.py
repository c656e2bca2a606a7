"""Item-level raw data: every recorded item of every response (``items.csv``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from resolve._validation import require_columns
from resolve.trial.exports._contract import RESPONSE_COLUMNS, items_of

__all__ = ["raw_items"]

_COLUMNS = ["participant_id", "visit", "instrument", "item", "code", "recorded_at", "version"]


def raw_items(responses: pd.DataFrame) -> pd.DataFrame:
    """Item-level long table: one row per recorded item.

    Parameters
    ----------
    responses : pandas.DataFrame
        See :mod:`resolve.trial.exports` (``scores`` is not used).

    Returns
    -------
    pandas.DataFrame
        Columns ``participant_id, visit, instrument, item, code, recorded_at,
        version``; ``item`` is the item number (int), ``code`` the recorded code
        (an int, a medication name for ``psychoactive_medication``, or None when
        unanswered). Items are as recorded: an item absent from ``items`` has no
        row. Rows in ``responses`` order, items by number.

    Examples
    --------
    >>> r = pd.DataFrame({"participant_id": ["P1"], "visit": ["baseline"],
    ...     "instrument": ["nrs"], "items": [{1: 6}], "scores": [None],
    ...     "recorded_at": ["2024-01-01T10:00:00"], "version": [1]})
    >>> raw_items(r)[["instrument", "item", "code"]].values.tolist()
    [['nrs', 1, 6]]
    """
    require_columns(responses, RESPONSE_COLUMNS, what="responses")
    rows: list[dict[str, Any]] = []
    for row in responses.to_dict("records"):
        what = f"responses: {row['participant_id']} {row['visit']} {row['instrument']}"
        for number, code in items_of(row["items"], what).items():
            rows.append(
                {
                    "participant_id": str(row["participant_id"]),
                    "visit": str(row["visit"]),
                    "instrument": str(row["instrument"]),
                    "item": number,
                    "code": code,
                    "recorded_at": row["recorded_at"],
                    "version": row["version"],
                }
            )
    out = pd.DataFrame(rows, columns=_COLUMNS)
    out["item"] = out["item"].astype("int64")
    out["code"] = out["code"].astype(object)
    return out
