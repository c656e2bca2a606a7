"""Checks of adverse event reports (:mod:`resolve.ops.safety`): each refusal names the field
and the value.

Examples
--------
>>> _choice("severity", "Mild", SEVERITIES)
'mild'
>>> seriousness(True, ["Hospitalisation"])
(True, ['hospitalisation'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from resolve.errors import DataValidationError
from resolve.store.models import Participant
from resolve.store.models_safety import (
    ACTIONS,
    EXPECTEDNESS,
    MAX_DESCRIPTION_LENGTH,
    OUTCOMES,
    RELATEDNESS,
    SERIOUS_CRITERIA,
    SEVERITIES,
    AdverseEvent,
)

__all__ = ["fields", "onset", "seriousness"]

#: The server's UTC date may lag or lead the site's local date by up to a day.
_CLOCK_SLACK = timedelta(days=1)


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    text = " ".join(str(value if value is not None else "").split()).lower()
    if text not in allowed:
        raise DataValidationError(
            f"adverse event {field}: unknown value {value!r}; allowed: {', '.join(allowed)}"
        )
    return text


def _description(value: object) -> str:
    text = str(value if value is not None else "").replace("\r\n", "\n").strip()
    if not text:
        raise DataValidationError("adverse event description: required, and must not be blank")
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise DataValidationError(
            f"adverse event description: {len(text)} characters; at most "
            f"{MAX_DESCRIPTION_LENGTH} allowed"
        )
    bad = [c for c in text if ord(c) < 32 and c not in "\n\t"]
    if bad:
        raise DataValidationError(
            f"adverse event description: control character {bad[0]!r} is not allowed"
        )
    return text


def seriousness(serious: object, criteria: Iterable[str]) -> tuple[bool, list[str]]:
    if not isinstance(serious, bool):
        raise DataValidationError(f"adverse event serious: expected true or false; got {serious!r}")
    chosen = [" ".join(str(c).split()).lower() for c in criteria]
    unknown = [c for c in chosen if c not in SERIOUS_CRITERIA]
    if unknown:
        raise DataValidationError(
            f"adverse event serious_criteria: unknown criterion {unknown[0]!r}; "
            f"allowed: {', '.join(SERIOUS_CRITERIA)}"
        )
    ordered = [c for c in SERIOUS_CRITERIA if c in chosen]
    if serious and not ordered:
        raise DataValidationError(
            "adverse event serious_criteria: a serious event needs at least one criterion "
            f"({', '.join(SERIOUS_CRITERIA)})"
        )
    if not serious and ordered:
        raise DataValidationError(
            f"adverse event serious_criteria: {', '.join(ordered)} given for an event marked "
            "not serious; an event meeting a criterion is serious"
        )
    return serious, ordered


_VOCABULARIES = {
    "severity": SEVERITIES,
    "relatedness": RELATEDNESS,
    "expectedness": EXPECTEDNESS,
    "outcome": OUTCOMES,
    "action_taken": ACTIONS,
}


def fields(
    description: object,
    seriousness: tuple[bool, list[str]],
    coded: Mapping[str, str | None],
    latest: AdverseEvent | None,
) -> dict[str, Any]:
    """A report's validated fields; a coded field given as None keeps ``latest``'s value."""
    out: dict[str, Any] = {
        "description": _description(description),
        "serious": seriousness[0],
        "serious_criteria": seriousness[1],
    }
    for field, allowed in _VOCABULARIES.items():
        value = coded[field]
        if value is None and latest is not None:
            out[field] = str(getattr(latest, field))
        else:
            out[field] = _choice(field, value, allowed)
    if out["outcome"] == "fatal" and "death" not in seriousness[1]:
        raise DataValidationError(
            "adverse event outcome: 'fatal' needs the serious criterion 'death'"
        )
    return out


def onset(value: object, p: Participant, today: date | None) -> str:
    try:
        onset = date.fromisoformat(str(value))
    except ValueError:
        raise DataValidationError(
            f"adverse event onset_date: {value!r} is not a date (YYYY-MM-DD)"
        ) from None
    latest = (today or datetime.now(UTC).date()) + _CLOCK_SLACK
    if onset > latest:
        raise DataValidationError(f"adverse event onset_date: {onset} is in the future")
    if p.consented_at is not None:
        consented = date.fromisoformat(p.consented_at[:10])
        if onset < consented - _CLOCK_SLACK:
            raise DataValidationError(
                f"adverse event onset_date: {onset} is before participant {p.code!r} "
                f"consented ({consented}); earlier conditions are medical history"
            )
    return onset.isoformat()
