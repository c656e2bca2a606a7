"""Parse the SAS PROC MIXED listings in ``tests/reference/sas/`` for tests.

Only what the tests need: model information, the last iteration of the
iteration history (``-2 (Res) Log Like`` with 8 decimals), fit statistics,
covariance parameter estimates, and the rows of the fixed-effects solution,
type 3 tests and LS-means tables.  Page breaks (``The SAS System`` headers and
repeated table titles) are skipped.  Numbers keep their printed text so a test
can compare within half a unit of the last printed digit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["REFERENCE_DIR", "SasListing", "SasNumber"]


#: ``tests/reference/sas``: the mmrm example data and SAS PROC MIXED outputs
#: (Apache-2.0, from R mmrm; see ``tests/reference/sas/NOTICE.md``).
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference" / "sas"


@dataclass(frozen=True)
class SasNumber:
    """A printed number: its value and the half-unit of its last printed digit."""

    text: str

    @property
    def value(self) -> float:
        t = self.text.lstrip("<")
        return float(t)

    @property
    def is_bound(self) -> bool:
        return self.text.startswith("<")

    @property
    def half_unit(self) -> float:
        t = self.text.lstrip("<-")
        if "E" in t.upper():
            mant, exp = re.split("[eE]", t)
            dec = len(mant.split(".")[1]) if "." in mant else 0
            return 0.5 * 10.0 ** (int(exp) - dec)
        dec = len(t.split(".")[1]) if "." in t else 0
        return 0.5 * 10.0**-dec

    def close(self, x: float, rel: float = 1e-4) -> bool:
        """``x`` agrees with the printed value within its rounding plus ``rel`` relative."""
        if self.is_bound:
            return x < self.value
        return abs(x - self.value) <= self.half_unit + rel * abs(self.value) + 1e-12


_NUM = re.compile(r"^(<?-?\d*\.?\d+(?:[eE][-+]?\d+)?|\.)$")
_TITLES = (
    "Model Information",
    "Class Level Information",
    "Dimensions",
    "Number of Observations",
    "Iteration History",
    "Estimated R Matrix",
    "Estimated R Correlation",
    "Covariance Parameter Estimates",
    "Fit Statistics",
    "Null Model Likelihood Ratio Test",
    "Solution for Fixed Effects",
    "Type 3 Tests of Fixed Effects",
    "Least Squares Means",
    "Differences of Least Squares Means",
    "Tests of Effect Slices",
)


@dataclass(frozen=True)
class Row:
    """One data row: a label (text columns joined by one space) and its numbers."""

    label: str
    numbers: tuple[SasNumber | None, ...]


class SasListing:
    """A parsed SAS listing file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = path.read_text(encoding="utf-8", errors="replace").splitlines()

    def _section(self, title: str, occurrence: int = 0) -> list[str]:
        starts = [i for i, ln in enumerate(self.lines) if ln.strip() == title]
        if len(starts) <= occurrence:
            raise KeyError(f"{title!r} not in {self.path.name}")
        out: list[str] = []
        for ln in self.lines[starts[occurrence] + 1 :]:
            s = ln.strip()
            if (s in _TITLES and s != title) or s.startswith("Obs "):  # next table or a PROC PRINT
                break
            if "The SAS System" in s or s == "The Mixed Procedure" or s == title:
                continue
            out.append(ln)
        return out

    def rows(self, title: str, occurrence: int = 0) -> list[Row]:
        """Data rows of a table: lines whose trailing tokens are numbers."""
        out = []
        for ln in self._section(title, occurrence):
            tokens = re.split(r"\s{2,}", ln.strip())
            if not tokens or tokens == [""]:
                continue
            nums: list[SasNumber | None] = []
            while tokens and _NUM.match(tokens[-1]):
                t = tokens.pop()
                nums.append(None if t == "." else SasNumber(t))
            if not nums:
                continue
            label = " ".join(" ".join(tokens).split())
            if label.startswith("Row") or label in ("Iteration", "Effect"):
                continue
            out.append(Row(label, tuple(reversed(nums))))
        return out

    def info(self, key: str) -> str:
        for ln in self._section("Model Information"):
            if ln.strip().startswith(key):
                return " ".join(ln.strip()[len(key) :].split())
        raise KeyError(key)

    def minus2ll(self) -> float:
        """-2 (Res) Log Likelihood at convergence, from the iteration history."""
        last = None
        for ln in self._section("Iteration History"):
            tok = ln.split()
            if len(tok) >= 3 and tok[0].isdigit() and tok[1].isdigit():
                last = float(tok[2])
        if last is None:
            raise KeyError("iteration history")
        return last

    def fit_statistics(self) -> dict[str, SasNumber]:
        out = {}
        for ln in self._section("Fit Statistics"):
            m = re.match(r"\s*(.+?)\s{2,}(-?[\d.]+)\s*$", ln)
            if m:
                key = m.group(1).split(" (")[0].strip()
                out[key] = SasNumber(m.group(2))
        return out

    def cov_params(self) -> list[Row]:
        return self.rows("Covariance Parameter Estimates")
