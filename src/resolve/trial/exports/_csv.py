"""Writing export tables as CSV, with spreadsheet formula injection neutralised.

A spreadsheet (Excel, LibreOffice, Google Sheets) that opens a CSV file runs a
cell whose text starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and a
leading tab or line break can hide such a start (OWASP, "CSV Injection").
Participant ids, site names, ineligibility reasons and medication names are
typed in by people, so every file the trial export writes goes through
:func:`write_csv` (or :func:`csv_text`), which applies :func:`neutralise_cell`
to every data cell: such text gets a leading single quote ``'``, which
spreadsheets show as text, and a carriage return inside text becomes a line feed
(so that the field is quoted and cannot start a new row). Genuine numbers (int,
float, bool values, and the :class:`NumberText` of a number formatted by the
export itself) are written unchanged, so ``-2.5`` stays a number.
"""

from __future__ import annotations

import datetime
import numbers
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DANGEROUS_PREFIXES",
    "NumberText",
    "csv_text",
    "neutralise_cell",
    "safe_frame",
    "write_csv",
]

#: First characters that make a spreadsheet evaluate a cell (OWASP CSV injection), and
#: a line feed (a line break before a formula).
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


class NumberText(str):
    """Text of a genuine number formatted by the export (``"-1.5"`` in REDCap records).

    :func:`neutralise_cell` writes it unchanged: it is a number, not text typed in.
    """

    __slots__ = ()


def neutralise_cell(value: Any) -> Any:
    """One CSV cell with formula injection neutralised.

    Text (or any non-numeric object whose text) starting with one of
    :data:`DANGEROUS_PREFIXES` gets a leading ``'``. A carriage return inside text
    becomes a line feed (``\\r\\n`` and ``\\r`` -> ``\\n``): the CSV writer quotes a
    field with a line feed but not one with a bare carriage return, which a
    spreadsheet would read as a new row whose first cell could be a formula.
    Numbers, booleans, dates, missing values, :class:`NumberText` and other text
    are returned unchanged.

    Examples
    --------
    >>> [neutralise_cell(v) for v in ("=1+1", "+61 2", "@SUM(A1)", "\\t=1", "P01")]
    ["'=1+1", "'+61 2", "'@SUM(A1)", "'\\t=1", 'P01']
    >>> neutralise_cell("-2+3"), neutralise_cell(-2.5), neutralise_cell(NumberText("-2"))
    ("'-2+3", -2.5, '-2')
    >>> neutralise_cell("\\r=1"), neutralise_cell("pain\\r=1")
    ("'\\n=1", 'pain\\n=1')
    """
    if value is None or isinstance(value, NumberText | bool | np.bool_ | numbers.Number):
        return value
    if isinstance(value, datetime.date | datetime.time | np.datetime64 | np.timedelta64):
        return value
    text = value if isinstance(value, str) else str(value)
    safe = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith(DANGEROUS_PREFIXES) or safe.startswith(DANGEROUS_PREFIXES):
        return "'" + safe
    return value if safe == text else safe


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised (:func:`neutralise_cell`).

    Numeric, boolean and datetime columns are kept as they are; the header is the
    export's own column names and is not changed.

    Examples
    --------
    >>> t = safe_frame(pd.DataFrame({"id": ["=HYPERLINK(1)", "P2"], "change": [-2.0, 1.0]}))
    >>> t["id"].tolist(), t["change"].tolist()
    (["'=HYPERLINK(1)", 'P2'], [-2.0, 1.0])
    """
    out = frame.copy()
    for k in range(out.shape[1]):
        col = out.iloc[:, k]
        kind = col.dtype.kind
        if kind in "biufcmM":
            continue
        out.isetitem(k, col.astype(object).map(neutralise_cell).to_numpy(dtype=object))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as a UTF-8 CSV with a header row, cells neutralised.

    The one writer of every export file: :func:`safe_frame`, then
    :meth:`pandas.DataFrame.to_csv` without the index.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = write_csv(pd.DataFrame({"site": ["@home"], "n": [-1]}), path)
    >>> path.read_text(encoding="utf-8").splitlines()
    ['site,n', "'@home,-1"]
    """
    target = Path(path)
    safe_frame(frame).to_csv(target, index=False, encoding="utf-8")
    return target


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (header row, no index), cells neutralised; for printing.

    Examples
    --------
    >>> csv_text(pd.DataFrame({"reason": ["-age"], "n": [2]}))
    "reason,n\\n'-age,2\\n"
    """
    text: str = safe_frame(frame).to_csv(index=False, lineterminator="\n")
    return text
