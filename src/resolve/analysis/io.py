"""Read a long-format trial CSV so that only an empty cell is a missing value.

pandas' default CSV reader silently turns the text ``NA``, ``NaN``, ``nan``,
``N/A``, ``NULL``, ``null``, ``#N/A`` and others into missing values.  A trial
file is read here with that list switched off: an empty cell is missing, and any
other text is kept as written, so that :func:`resolve.analysis.validate.validate_data`
can refuse ``NaN`` or ``inf`` in a numeric column with the row and column named.

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = path.write_text("id,arm,pain\\n007,sham,3\\n008,sham,\\n009,sham,NaN\\n")
>>> frame = read_trial_csv(path, text_columns=("id", "arm"))
>>> frame["id"].tolist(), frame["pain"].tolist()
(['007', '008', '009'], ['3', nan, 'NaN'])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from resolve.errors import DataValidationError

__all__ = ["read_trial_csv"]


def read_trial_csv(path: str | Path, *, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Read a trial CSV (UTF-8, optional byte-order mark); only empty cells are missing.

    Parameters
    ----------
    path : str or Path
        The CSV file, one header row.
    text_columns : sequence of str
        Columns read as text whatever they hold (participant id, arm, visit), so that
        ids such as ``007`` keep their zeros.  Columns not in the file are ignored
        here (the plan check names them).

    Returns
    -------
    pandas.DataFrame
        Columns of numbers are numeric (empty cells NaN); a column with any other
        text (``NaN``, ``NA``, ``inf`` written as text included) stays text, to be
        checked by :func:`resolve.analysis.validate.validate_data`.

    Raises
    ------
    DataValidationError
        The file does not exist or is not a readable CSV file.
    """
    p = Path(path)
    if not p.is_file():
        raise DataValidationError(f"cannot read {p}: no such file")
    try:
        header = pd.read_csv(p, nrows=0, encoding="utf-8-sig").columns
        dtype = {c: str for c in text_columns if c in header}
        return pd.read_csv(
            p,
            dtype=dtype,  # type: ignore[arg-type]
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
        )
    except (ValueError, pd.errors.ParserError) as exc:  # incl. EmptyDataError, UnicodeError
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataValidationError(f"{p.name}: not a readable CSV file ({first})") from None
