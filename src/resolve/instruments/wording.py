"""Attach a site's licensed item wording at run time.

Licensed wording never ships with ``resolve``. A site that holds a licence
keeps a CSV file with columns ``instrument, item, text`` and loads it here.
"""

from __future__ import annotations

import csv
from pathlib import Path

from resolve.errors import DataValidationError, UnknownNameError
from resolve.instruments.base import Instrument
from resolve.instruments.registry import get

__all__ = ["load_wording"]


def load_wording(path: str | Path) -> dict[str, Instrument]:
    """Read ``path`` and return the instruments it words, with wording attached.

    Raises
    ------
    DataValidationError
        Naming the file and line of an unknown instrument or item, a duplicate
        item or an empty text.
    """
    path = Path(path)
    texts: dict[str, dict[int, str]] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"instrument", "item", "text"} - set(reader.fieldnames or [])
        if missing:
            raise DataValidationError(
                f"{path.name}: missing column(s) {', '.join(sorted(missing))}"
            )
        for line, row in enumerate(reader, start=2):
            where = f"{path.name} line {line}"
            try:
                inst = get(row["instrument"])
            except UnknownNameError as exc:
                raise DataValidationError(f"{where}: {exc}") from None
            if not isinstance(inst, Instrument):
                raise DataValidationError(f"{where}: {inst.id} has no item wording")
            item = row["item"].strip()
            if not item.isdigit() or int(item) not in {i.number for i in inst.items}:
                raise DataValidationError(f"{where}: {inst.id} has no item {item!r}")
            if not row["text"].strip():
                raise DataValidationError(f"{where}: empty text for {inst.id} item {item}")
            bucket = texts.setdefault(inst.id, {})
            if int(item) in bucket:
                raise DataValidationError(f"{where}: duplicate wording for {inst.id} item {item}")
            bucket[int(item)] = row["text"].strip()
    out: dict[str, Instrument] = {}
    for key, mapping in texts.items():
        base = get(key)
        assert isinstance(base, Instrument)  # checked above
        out[key] = base.with_wording(mapping)
    return out
