"""Psychoactive medication use: classify medication names or ATC codes.

RESOLVE used "psychoactive medication use" as a baseline effect modifier. Its
operational definition is unpublished, so the class table is a versioned
project coding anchored to the WHO ATC index (``data/psychoactive_classes.csv``
and ``data/medication_names.csv``, see ``data/SOURCE.md``).

Each respondent lists medications in slots ``psychoactive_medication_1`` ...
``_20``: a generic name (``"pregabalin"``) or an ATC code (``"N03AX16"``). The
word ``none`` in the first slot records that the respondent takes no
medication; a row with every slot empty is *missing* (not "no medication").
An unknown name is an error rather than a silent "not psychoactive".
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from resolve.errors import DataValidationError
from resolve.instruments.result import ScoreResult
from resolve.instruments.scoring import locate

__all__ = ["PSYCHOACTIVE_MEDICATION", "MedicationInstrument"]

_ATC = re.compile(r"^[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?$")
_NONE = "none"
_BLANK, _NONE_CODE = -1, -2  # slot markers besides class bit-masks (>= 0)
TABLE_VERSION = "resolve-psychoactive-2026.1"


def _read_table(name: str) -> list[dict[str, str]]:
    text = resources.files("resolve.instruments").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@dataclass(frozen=True)
class MedicationInstrument:
    """Classifier of medications into psychoactive drug classes.

    Parameters
    ----------
    classes : tuple of (class, ATC prefix) pairs
    names : mapping of lower-case generic name to ATC code
    max_slots : int
        Number of medication slots a data frame may have.
    """

    id: str = "psychoactive_medication"
    version: str = TABLE_VERSION
    title: str = "Psychoactive medication use (WHO ATC classes)"
    classes: tuple[tuple[str, str], ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    max_slots: int = 20
    higher_is: str = "worse"
    source: str = "project coding anchored to WHO ATC (specs/instruments.md section 9)"
    licence: str = "no licensed content"

    @cached_property
    def class_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for c, _ in self.classes))

    @property
    def n_items(self) -> int:
        return self.max_slots

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f"{self.id}_{k}" for k in range(1, self.max_slots + 1))

    @property
    def output_columns(self) -> tuple[str, ...]:
        return ("total", *self.class_names, "n_missing", "prorated", "psychoactive")

    def scale_range(self, scale: str = "total") -> tuple[float, float]:
        return (0.0, float(len(self.class_names)) if scale == "total" else 1.0)

    # ------------------------------------------------------------ classification
    def atc_code(self, entry: str) -> str:
        """ATC code of a name or code (raises ``KeyError`` when unknown)."""
        text = entry.strip()
        if _ATC.match(text.upper()) and any(ch.isdigit() for ch in text):
            return text.upper()
        return self.names[" ".join(text.lower().split())]

    def classify(self, entry: str) -> frozenset[str]:
        """Drug classes of one medication name or ATC code."""
        code = self.atc_code(entry)
        return frozenset(c for c, prefix in self.classes if code.startswith(prefix))

    def _mask(self, entry: str) -> int:
        classes = self.classify(entry)
        bits = 0
        for k, name in enumerate(self.class_names):
            if name in classes:
                bits |= 1 << k
        return bits

    # ------------------------------------------------------------ scoring
    def score_frame(
        self,
        data: pd.DataFrame,
        *,
        id_column: str | None = None,
        code_base: int | None = None,
        source: str | None = None,
    ) -> pd.DataFrame:
        """Classify every respondent (row); columns as :attr:`output_columns`."""
        if code_base is not None:
            raise DataValidationError(f"{self.id}: code_base does not apply to medication names")
        if id_column is not None and id_column not in data.columns:
            raise DataValidationError(f"{self.id}: no id column {id_column!r}")
        ids = data[id_column].tolist() if id_column is not None else None
        slots = self._slot_columns(data.columns, source)
        n = len(data)
        masks = np.zeros(n, dtype=np.int64)
        filled = np.zeros(n, dtype=bool)
        said_none = np.zeros(n, dtype=bool)
        for pos, col in enumerate(slots):
            values = data[col].to_numpy(dtype=object)
            codes = self._slot_codes(values, col, ids, source)
            blank, none_here = codes == _BLANK, codes == _NONE_CODE
            here = ~blank & ~none_here
            problems = (
                (
                    none_here if pos else np.zeros(n, dtype=bool),
                    "'none' belongs in the first slot only",
                ),
                (here & said_none, "contradicts 'none' in the first slot"),
            )
            for mask, message in problems:
                if mask.any():
                    row = int(np.flatnonzero(mask)[0])
                    raise DataValidationError(
                        f"{locate(self.id, ids, row, source)}, item {col}: value "
                        f"{values[row]!r} {message}"
                    )
            if pos == 0:
                said_none = none_here
            masks |= np.where(here, codes, 0)
            filled |= here
        answered = filled | said_none
        out: dict[str, Any] = {}
        counts = np.zeros(n)
        for k, name in enumerate(self.class_names):
            flag = ((masks >> k) & 1).astype(float)
            counts += flag
            out[name] = np.where(answered, flag, np.nan)
        table = pd.DataFrame(
            {
                "total": np.where(answered, counts, np.nan),
                **out,
                "n_missing": (~answered).astype(np.int64),
                "prorated": np.zeros(n, dtype=bool),
                "psychoactive": pd.Series(
                    np.where(counts > 0, "yes", "no"), index=data.index, dtype=object
                ).where(answered, None),
            },
            index=data.index,
        )
        if id_column is not None:
            table.insert(0, id_column, data[id_column].to_numpy())
        return table

    def score(
        self,
        responses: Sequence[Any] | Mapping[Any, Any] | Iterable[tuple[Any, Any]],
        *,
        respondent: object = None,
        code_base: int | None = None,
    ) -> ScoreResult:
        """Classify one respondent's medications.

        ``responses`` is a list of names/codes (``[]`` or ``["none"]`` for no
        medication) or a mapping of slot (``"psychoactive_medication_1"`` or 1)
        to name.
        """
        if isinstance(responses, Mapping):
            row = self._mapping_row(responses.items(), respondent)
        elif isinstance(responses, list | tuple) and all(
            not isinstance(r, tuple) for r in responses
        ):
            entries = list(responses) or [_NONE]
            if len(entries) > self.max_slots:
                raise DataValidationError(f"{self.id}: more than {self.max_slots} medications")
            row = {self.columns[k]: v for k, v in enumerate(entries)}
        else:
            row = self._mapping_row(responses, respondent)  # type: ignore[arg-type]
        frame = pd.DataFrame({c: pd.Series([row.get(c)], dtype=object) for c in self.columns})
        rec = self._score_rows(frame, respondent).iloc[0]
        total = None if pd.isna(rec["total"]) else float(rec["total"])
        scores: dict[str, float | None] = {"total": total}
        scores.update({c: (None if pd.isna(rec[c]) else float(rec[c])) for c in self.class_names})
        return ScoreResult(
            instrument=self.id,
            version=self.version,
            respondent=respondent,
            scores=scores,
            n_missing=int(rec["n_missing"]),
            missing_items=(1,) if rec["n_missing"] else (),
            prorated=False,
            categories={
                "psychoactive": None if pd.isna(rec["psychoactive"]) else rec["psychoactive"]
            },
            rules={"total": "number of psychoactive drug classes among listed medications"},
        )

    def _score_rows(self, frame: pd.DataFrame, respondent: object) -> pd.DataFrame:
        frame = frame.assign(_id=pd.Series([respondent], index=frame.index, dtype=object))
        return self.score_frame(frame, id_column="_id" if respondent is not None else None)

    def _slot_codes(
        self, values: np.ndarray, col: str, ids: list[object] | None, source: str | None
    ) -> np.ndarray:
        """Class bit-mask of every cell of one slot (``_BLANK``/``_NONE_CODE`` markers)."""
        present = pd.notna(values) & (values != "")
        codes = np.full(len(values), _BLANK, dtype=np.int64)
        mapping: dict[object, int] = {}
        for value in pd.unique(values[present]):
            row = int(np.flatnonzero(present & (values == value))[0])
            where = f"{locate(self.id, ids, row, source)}, item {col}: value {value!r}"
            if not isinstance(value, str):
                raise DataValidationError(f"{where} is not a medication name or ATC code")
            text = value.strip()
            if not text:
                mapping[value] = _BLANK
            elif text.lower() == _NONE:
                mapping[value] = _NONE_CODE
            else:
                try:
                    mapping[value] = self._mask(text)
                except KeyError:
                    raise DataValidationError(
                        f"{where}: unknown medication; give its WHO ATC code (e.g. N03AX16) "
                        "or add it to a site table"
                    ) from None
        codes[present] = [mapping[v] for v in values[present]]
        return codes

    def _mapping_row(self, pairs: Iterable[tuple[Any, Any]], respondent: object) -> dict[str, Any]:
        row: dict[str, Any] = {}
        where = self.id + (f", respondent {respondent!r}" if respondent is not None else "")
        for key, value in pairs:
            col = (
                self.columns[key - 1] if isinstance(key, int) and 0 < key <= self.max_slots else key
            )
            if col not in self.columns:
                raise DataValidationError(f"{where}: unknown item {key!r}")
            if col in row:
                raise DataValidationError(f"{where}: duplicate item {col}")
            row[col] = value
        return row

    def _slot_columns(self, columns: Iterable[object], source: str | None) -> list[str]:
        prefix = self.id + "_"
        where = self.id + (f", {source}" if source else "")
        found: list[str] = []
        for col in columns:
            if isinstance(col, str) and col.startswith(prefix):
                if col not in self.columns:
                    raise DataValidationError(f"{where}: unknown item column {col!r}")
                if col in found:
                    raise DataValidationError(f"{where}: duplicate item column {col!r}")
                found.append(col)
        if not found:
            raise DataValidationError(f"{where}: no {prefix}<n> columns")
        return sorted(found, key=lambda c: int(c.rsplit("_", 1)[1]))

    def to_fhir(self) -> dict[str, Any]:
        """FHIR R4 ``Questionnaire`` resource (one repeating medication item)."""
        from resolve.instruments.fhir import medication_questionnaire

        return medication_questionnaire(self)


def _default() -> MedicationInstrument:
    classes = tuple((r["drug_class"], r["atc"]) for r in _read_table("psychoactive_classes.csv"))
    names = {r["name"].lower(): r["atc"] for r in _read_table("medication_names.csv")}
    return MedicationInstrument(classes=classes, names=names)


PSYCHOACTIVE_MEDICATION = _default()
