"""Answers given through a participant link: which items are still open, and checking one.

Split from :mod:`resolve.ops.links` (the links themselves); the scoring engine
checks the complete questionnaire again when the answers are submitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resolve.errors import DataValidationError

__all__ = ["unanswered"]

#: Longest medication name accepted on a link page.
_MAX_TEXT = 100


def _instrument(instrument_id: str) -> Any:
    from resolve.instruments import get

    return get(instrument_id)


def _is_medication(inst: Any) -> bool:
    from resolve.instruments import MedicationInstrument

    return isinstance(inst, MedicationInstrument)


def unanswered(instrument_id: str, answers: Mapping[str, Any]) -> list[str]:
    """Items of ``instrument_id`` without an answer in ``answers`` (item numbers as text).

    Every item needs an answer, except on instruments whose items may be absent
    (one answer is enough) and on the medication list (the first slot: a name or
    ``none``).
    """
    inst = _instrument(instrument_id)
    given = {k for k, v in answers.items() if v is not None and v != ""}
    if _is_medication(inst):
        return [] if "1" in given else ["1"]
    numbers = [str(item.number) for item in inst.items]
    if getattr(inst, "allow_absent_items", False):
        return [] if given & set(numbers) else numbers[:1]
    return [n for n in numbers if n not in given]


def _check_answer(instrument_id: str, item: str, value: Any) -> Any:
    """``value`` as stored for ``item`` (None clears it), or DataValidationError."""
    inst = _instrument(instrument_id)
    if value is None or (isinstance(value, str) and not value.strip()):
        if _is_medication(inst) and item.isdigit() and 1 <= int(item) <= inst.max_slots:
            return None
        if not _is_medication(inst) and item in {str(i.number) for i in inst.items}:
            return None
    if _is_medication(inst):
        if not item.isdigit() or not 1 <= int(item) <= inst.max_slots:
            raise DataValidationError(f"{instrument_id} has no medication slot {item!r}")
        text = " ".join(str(value).split())
        if len(text) > _MAX_TEXT:
            raise DataValidationError(f"a medication name has at most {_MAX_TEXT} characters")
        if text.lower() == "none":
            if item != "1":
                raise DataValidationError("'none' belongs in the first medication slot only")
            return "none"
        try:
            inst.atc_code(text)
        except KeyError:
            raise DataValidationError(
                f"medication {text!r} is not known; write its generic name (e.g. "
                "'paracetamol') or its ATC code"
            ) from None
        return text
    numbers = {str(i.number): i for i in inst.items}
    if item not in numbers:
        raise DataValidationError(f"{instrument_id} has no item {item!r}")
    spec = numbers[item]
    if isinstance(value, bool):
        raise DataValidationError(f"item {item}: choose one of the answers")
    try:
        code = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise DataValidationError(f"item {item}: choose one of the answers") from None
    if code not in spec.codes:
        raise DataValidationError(f"item {item}: choose one of the answers")
    return code
