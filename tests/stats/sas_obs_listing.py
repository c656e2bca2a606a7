"""Parse the PROC PRINT of a PROC MIXED ``OUTP=`` data set in a SAS listing.

The ``sas_resid_*.txt`` listings print one row per observation, split over
pages and, within a page, over column blocks that each start with an ``Obs``
header line (a second header line above it holds the first word of two-word
names such as ``StdErr Pred`` or ``Scaled Resid``).  Rows are joined on the
``Obs`` number.  Text columns (``USUBJID AVISIT ARMCD RACE``) are kept as
strings; a lone ``.`` is a missing number.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["read_outp"]

_TEXT = ("USUBJID", "AVISIT", "ARMCD", "RACE", "SEX")
_SPACES = re.compile(r"\S+")


def _header_names(upper: str, lower: str) -> list[str]:
    """Column names of a block: lower-line words, prefixed by an overlapping upper word."""
    ups = [(m.start(), m.end(), m.group()) for m in _SPACES.finditer(upper)]
    names = []
    for m in _SPACES.finditer(lower):
        prefix = [w for s, e, w in ups if s < m.end() and m.start() < e]
        names.append(("".join(prefix) + m.group()) if prefix else m.group())
    return names


def _half_unit(tok: str) -> float:
    """Half a unit in the last printed digit (``0.00094`` -> ``5e-6``)."""
    if tok == ".":
        return np.nan
    return 0.5 * 10.0 ** -(len(tok.split(".")[1]) if "." in tok else 0)


def read_outp(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All ``Obs`` rows of the listing, and the printed precision of each number.

    Returns ``(values, half_units)``, both indexed by ``Obs``.  Column names
    join the two header lines: ``StdErrPred``, ``ScaledResid``, ``ScaledDep``,
    ``StudentResid``, ``PearsonResid``, plus ``Pred``, ``DF``, ``Alpha``,
    ``Lower``, ``Upper``, ``Resid`` and the input columns.  ``half_units``
    holds half a unit of the last printed digit of each numeric value.
    """
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    rows: dict[int, dict[str, object]] = {}
    halves: dict[int, dict[str, float]] = {}
    names: list[str] | None = None
    for i, line in enumerate(lines):
        tokens = line.split()
        if tokens[:1] == ["Obs"]:
            names = _header_names(lines[i - 1] if i else "", line)
            continue
        if names is None or not tokens or not tokens[0].isdigit():
            if tokens and "The SAS System" in line:
                names = None
            continue
        obs = int(tokens[0])
        rec = rows.setdefault(obs, {})
        half = halves.setdefault(obs, {})
        if names[1] == "USUBJID":  # text block; RACE may contain spaces
            rec.update(zip(names[1:4], tokens[1:4], strict=True))
            rec["RACE"] = " ".join(tokens[4:])
            continue
        if len(tokens) != len(names):
            raise ValueError(f"{path.name}:{i + 1}: {len(tokens)} values for {names}")
        for name, tok in zip(names[1:], tokens[1:], strict=True):
            if name in _TEXT:
                rec[name] = tok
            else:
                rec[name] = np.nan if tok == "." else float(tok)
                half[name] = _half_unit(tok)
    frame = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    frame.index.name = "Obs"
    units = pd.DataFrame.from_dict(halves, orient="index").sort_index()
    units.index.name = "Obs"
    return frame, units
