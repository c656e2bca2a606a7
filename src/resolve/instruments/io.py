"""Reading item-level responses from CSV files, strictly.

A CSV cell is text: an empty cell is an unanswered item; any other text must
be an integer code (``3``; ``3.0`` is accepted as 3) for a coded instrument,
or a medication name / ATC code for the medication classifier. Nothing is
coerced silently: other text raises
:class:`~resolve.errors.DataValidationError` naming the file, line,
respondent, item column and value.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from resolve.errors import DataValidationError
from resolve.instruments.base import Instrument
from resolve.instruments.registry import AnyInstrument
from resolve.instruments.scoring import locate

__all__ = ["read_responses"]


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        try:
            return next(csv.reader(fh))
        except StopIteration:
            raise DataValidationError(f"{path.name}: the file is empty") from None


def read_responses(
    path: str | Path, instrument: AnyInstrument, *, id_column: str | None = "id"
) -> pd.DataFrame:
    """Read one-row-per-respondent responses for ``instrument`` from ``path``.

    Returns a frame ready for ``instrument.score_frame``: item columns hold
    floats (NaN = unanswered) for coded instruments and text for medications.
    """
    path = Path(path)
    header = _header(path)
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise DataValidationError(f"{path.name}: duplicate column(s) {', '.join(dupes)}")
    if id_column is not None and id_column not in header:
        raise DataValidationError(f"{path.name}: no id column {id_column!r}")
    try:
        data = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=True
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"{path.name}: not a readable CSV file ({exc})") from None
    if not isinstance(instrument, Instrument):
        return data.replace("", None)
    ids = data[id_column].tolist() if id_column is not None else None
    prefix = instrument.id + "_"
    for col in [c for c in data.columns if c.startswith(prefix)]:
        text = data[col].str.strip()
        empty = (text == "").to_numpy()
        numbers = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(np.isnan(numbers) & ~empty)
        if bad.size:
            row = int(bad[0])
            raise DataValidationError(
                f"{locate(instrument.id, ids, row, path.name)}, item {col}: value "
                f"{data[col].iloc[row]!r} is not an integer code"
            )
        data[col] = numbers
    return data
