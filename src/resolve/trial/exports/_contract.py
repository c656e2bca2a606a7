"""The input contract shared by every export: the two frames' columns and their checks.

See :mod:`resolve.trial.exports` for the contract; the checks here turn the frames
into checked copies (parsed times, normalised status, allocated arm) and read the
``items`` and ``scores`` cells.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from resolve._validation import require_columns, require_unique, show_values
from resolve.errors import DataValidationError
from resolve.instruments import get
from resolve.trial.protocol import Protocol

if TYPE_CHECKING:
    from resolve.analysis.plan import Plan

__all__ = [
    "PARTICIPANT_COLUMNS",
    "RESPONSE_COLUMNS",
    "RandomisedInError",
    "Scores",
    "as_dict",
    "check_in_error_option",
    "check_participants",
    "check_responses",
    "example_frames",
    "is_empty",
    "items_of",
    "number",
    "plan_or_default",
    "reasons_of",
    "scores_of",
]

#: Columns ``participants`` must have (``sex`` is optional).
PARTICIPANT_COLUMNS = (
    "participant_id",
    "site",
    "status",
    "screened_at",
    "eligible",
    "ineligible_reasons",
    "consented_at",
    "consent_version",
    "randomised_at",
    "arm",
    "stratum",
    "age",
    "withdrawn_at",
    "lost_at",
)

#: Columns ``responses`` must have.
RESPONSE_COLUMNS = (
    "participant_id",
    "visit",
    "instrument",
    "items",
    "scores",
    "recorded_at",
    "version",
)

#: What to do with participants whose status is ``randomised in error``.
RandomisedInError = Literal["include", "exclude"]


def is_empty(value: Any) -> bool:
    """Whether a cell is missing: None, NA, NaT, NaN or blank text.

    Examples
    --------
    >>> [is_empty(v) for v in (None, float("nan"), " ", 0, "x")]
    [True, True, True, False, False]
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _status(value: Any) -> str:
    if is_empty(value):
        return ""
    text = re.sub(r"[_\-\s]+", " ", str(value).strip().lower())
    return text.replace("randomized", "randomised")


def _times(values: pd.Series, column: str) -> pd.Series:
    """Parse a timestamp column (datetimes or ISO text) to UTC; empty -> NaT."""
    raw = values.astype(object).where(~values.map(is_empty), None)
    try:
        return pd.to_datetime(raw, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataValidationError(f"participants: column {column!r}: {exc}") from None


def as_dict(value: Any, what: str) -> dict[Any, Any] | None:
    """A dict cell (or its JSON text) as a dict; None when empty."""
    if is_empty(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise DataValidationError(f"{what}: not a dict or JSON object ({exc})") from None
    if not isinstance(value, Mapping):
        raise DataValidationError(f"{what}: expected a dict, got {type(value).__name__}")
    return dict(value)


def items_of(value: Any, what: str) -> dict[int, Any]:
    """The ``items`` cell as item number -> code (None = unanswered), by number.

    Examples
    --------
    >>> items_of('{"nrs_1": 6}', "responses: P1")
    {1: 6}
    """
    raw = as_dict(value, what) or {}
    out: dict[int, Any] = {}
    for key, code in raw.items():
        text = str(key).rsplit("_", 1)[-1]
        if not text.isdigit():
            raise DataValidationError(f"{what}: item key {key!r} is not an item number")
        out[int(text)] = None if is_empty(code) else code
    return dict(sorted(out.items()))


def number(value: Any, what: str = "value") -> float:
    """A numeric cell as float; NaN when empty (never 0)."""
    if is_empty(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataValidationError(f"{what}: {value!r} is not a number") from None


@dataclass(frozen=True)
class Scores:
    """One response's scores, flattened: score or category name -> value."""

    values: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.values.get(name)


def scores_of(row: Mapping[Any, Any], what: str) -> Scores:
    """Scores of a response row; re-scores the items when ``scores`` is empty."""
    raw = as_dict(row["scores"], what)
    if raw is None:
        inst = get(str(row["instrument"]))
        items = items_of(row["items"], what)
        raw = inst.score(items, respondent=row["participant_id"]).to_dict()
    flat: dict[str, Any] = {}
    inner = raw.get("scores")
    if isinstance(inner, Mapping):
        flat.update(inner)
    for key, value in raw.items():
        if key not in ("scores", "categories") and not isinstance(value, Mapping | list):
            flat.setdefault(key, value)
    cats = raw.get("categories")
    if isinstance(cats, Mapping):
        flat.update(cats)
    return Scores(flat)


def reasons_of(value: Any) -> list[str]:
    """Ineligibility reasons of a cell: ``;``-separated text, a JSON list or a list.

    Examples
    --------
    >>> reasons_of("age; pain "), reasons_of('["a", "b"]'), reasons_of(None)
    (['age', 'pain'], ['a', 'b'], [])
    """
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v).strip() for v in value if not is_empty(v)]
    if is_empty(value):
        return []
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return [str(v).strip() for v in parsed if not is_empty(v)]
    return [part.strip() for part in text.split(";") if part.strip()]


def check_participants(participants: pd.DataFrame) -> pd.DataFrame:
    """A checked copy of ``participants`` with parsed times and helper columns.

    Adds ``_status`` (normalised), ``_arm`` (str or None), ``_randomised`` and
    ``_in_error``; an absent ``sex`` column is added empty.
    """
    require_columns(participants, PARTICIPANT_COLUMNS, what="participants")
    out = participants.copy()
    if out["participant_id"].map(is_empty).any():
        raise DataValidationError("participants: column 'participant_id' has empty values")
    out["participant_id"] = out["participant_id"].astype(str)
    require_unique(out, ["participant_id"], what="participants")
    if "sex" not in out.columns:
        out["sex"] = None
    for col in ("screened_at", "consented_at", "randomised_at", "withdrawn_at", "lost_at"):
        out[col] = _times(out[col], col)
    out["_status"] = out["status"].map(_status)
    out["_arm"] = out["arm"].map(lambda a: None if is_empty(a) else str(a))
    out["_randomised"] = out["randomised_at"].notna() | out["_arm"].notna()
    bad = out["_randomised"] & out["_arm"].isna()
    if bad.any():
        first = out.loc[bad, "participant_id"].iloc[0]
        raise DataValidationError(
            f"participants: {int(bad.sum())} randomised participant(s) without an arm "
            f"(participant_id={first!r} is one)"
        )
    out["_in_error"] = out["_status"] == "randomised in error"
    return out


def check_responses(
    responses: pd.DataFrame, protocol: Protocol, ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """A checked copy of ``responses``: known visits, instruments and participants."""
    require_columns(responses, RESPONSE_COLUMNS, what="responses")
    out = responses.copy()
    out["participant_id"] = out["participant_id"].astype(str)
    out["visit"] = out["visit"].astype(str)
    out["instrument"] = out["instrument"].astype(str)
    require_unique(out, ["participant_id", "visit", "instrument"], what="responses")
    known = {v.name for v in protocol.visits}
    unknown = sorted(set(out["visit"]) - known)
    if unknown:
        raise DataValidationError(
            f"responses: visit(s) {show_values(unknown)} are not protocol visits "
            f"({', '.join(v.name for v in protocol.visits)})"
        )
    for inst in sorted(set(out["instrument"])):
        get(inst)  # UnknownNameError names the instrument
    if ids is not None:
        strangers = sorted(set(out["participant_id"]) - set(ids))
        if strangers:
            raise DataValidationError(
                f"responses: participant_id(s) {show_values(strangers)} are not in participants"
            )
    return out


def check_in_error_option(randomised_in_error: str) -> None:
    """Refuse a ``randomised_in_error`` option other than include/exclude."""
    if randomised_in_error not in ("include", "exclude"):
        raise DataValidationError(
            f"randomised_in_error must be 'include' or 'exclude'; got {randomised_in_error!r}"
        )


def plan_or_default(plan: Plan | None) -> Plan:
    """``plan``, or the bundled RESOLVE analysis plan when None."""
    if plan is not None:
        return plan
    from resolve.analysis.plan import load_plan

    return load_plan()


def example_frames() -> tuple[pd.DataFrame, pd.DataFrame, Protocol]:
    """A tiny trial in the contract: used by the examples of the export functions.

    ``P01`` is randomised to ``sham`` with NRS 6 and a psychoactive medication at
    baseline and NRS 3 at week 18; ``S01`` was screened and found ineligible.

    Examples
    --------
    >>> participants, responses, protocol = example_frames()
    >>> participants["participant_id"].tolist(), len(responses)
    (['P01', 'S01'], 3)
    """
    from resolve.trial.protocol import load_protocol

    person = dict.fromkeys(PARTICIPANT_COLUMNS)
    participants = pd.DataFrame(
        [
            {
                **person,
                "participant_id": "P01",
                "site": "sydney",
                "status": "randomised",
                "screened_at": "2024-01-02T09:00:00+00:00",
                "eligible": True,
                "consented_at": "2024-01-05T09:00:00+00:00",
                "consent_version": "1.0",
                "randomised_at": "2024-01-08T09:00:00+00:00",
                "arm": "sham",
                "stratum": "sydney",
                "age": 52,
                "sex": "female",
            },
            {
                **person,
                "participant_id": "S01",
                "site": "sydney",
                "status": "ineligible",
                "screened_at": "2024-01-03T09:00:00+00:00",
                "eligible": False,
                "ineligible_reasons": "age 72 is above 70",
                "age": 72,
            },
        ]
    )
    recorded = {"scores": None, "recorded_at": "2024-01-08T10:00:00+00:00", "version": 1}
    responses = pd.DataFrame(
        [
            {"participant_id": "P01", "visit": "baseline", "instrument": "nrs"}
            | {"items": {1: 6}, **recorded},
            {"participant_id": "P01", "visit": "baseline", "instrument": "psychoactive_medication"}
            | {"items": {1: "pregabalin"}, **recorded},
            {"participant_id": "P01", "visit": "week 18", "instrument": "nrs"}
            | {"items": {1: 3}, **recorded},
        ]
    )
    return participants, responses, load_protocol()
