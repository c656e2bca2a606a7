"""Export a running trial: analysis table, item-level data, REDCap files, CONSORT counts.

Pure pandas, no database: the service layer (``resolve.trial.service``) reads the
store and fills two data frames, whose exact columns are the contract below.

``participants`` -- one row per screened person (never deleted)
    ========================  ===================================================
    ``participant_id``        str, unique
    ``site``                  str
    ``status``                str: ``screened``, ``eligible``, ``ineligible``,
                              ``consented``, ``randomised``, ``withdrawn``,
                              ``lost``, ``randomised in error`` (``_``/``-`` and
                              the spelling ``randomized`` are accepted)
    ``screened_at``           datetime or ISO text, may be empty
    ``eligible``              bool, or empty when not yet decided
    ``ineligible_reasons``    text: reasons separated by ``;`` (or a JSON list,
                              or a Python list); empty when eligible
    ``consented_at``          datetime or ISO text; empty = not consented
    ``consent_version``       str or empty
    ``randomised_at``         datetime or ISO text; empty = not randomised
    ``arm``                   allocated arm name or empty (not randomised)
    ``stratum``               str or empty
    ``age``                   number or empty
    ``sex``                   optional column; str or empty
    ``withdrawn_at``          datetime or ISO text or empty
    ``lost_at``               datetime or ISO text or empty (lost to follow-up)
    ========================  ===================================================

    A participant is *randomised* when ``randomised_at`` or ``arm`` is filled.

``responses`` -- one row per participant x visit x instrument (the current value;
earlier values live in the audit trail)
    ====================  =========================================================
    ``participant_id``    str, one of ``participants.participant_id``
    ``visit``             a protocol visit name (``"baseline"``, ``"week 18"``)
    ``instrument``        an instrument id (``"nrs"``, ``"rmdq24"``, ...)
    ``items``             dict item number -> code or None (keys may be int or
                          digit strings; a JSON text of such a dict is accepted).
                          Codes are integers; for ``psychoactive_medication`` they
                          are medication names or ATC codes
    ``scores``            dict from :meth:`ScoreResult.to_dict
                          <resolve.instruments.ScoreResult.to_dict>` (``scores``,
                          ``n_missing``, ``prorated``, ``categories``...), or a flat
                          dict ``{"total": ..., "n_missing": ..., "categories":
                          {...}}``, or its JSON text; empty = score the items now
    ``recorded_at``       datetime or ISO text
    ``version``           the response's revision or instrument version (copied)
    ====================  =========================================================

``protocol`` -- a :class:`~resolve.trial.protocol.Protocol`; only its visits' names,
weeks, windows and instrument ids are used.

Visit mapping (protocol visit -> analysis plan visit label)
    A plan visit label (``baseline``, ``week 12``, ``week 18``, ``week 26``,
    ``week 52``) is taken by the protocol visit whose name, normalised (lower case,
    ``_`` and ``-`` as spaces, ``wk`` as ``week``, a space between ``week`` and its
    number), equals it. A label that no name matches falls back to the one protocol
    visit with the label's week (``baseline`` = week 0) that collects the primary
    outcome's instrument (``nrs``) and is not a screening or session visit; with
    zero or several candidates the label is left out. ``visit_map`` overrides the
    rule. Other protocol visits (screening, the weekly sessions) are not analysis
    visits; their data appear in the item-level and REDCap files only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from resolve._validation import require_columns, require_unique, show_values
from resolve.errors import DataValidationError
from resolve.instruments import Instrument, MedicationInstrument, get
from resolve.trial.protocol import Protocol

if TYPE_CHECKING:
    from resolve.analysis.plan import Plan

__all__ = [
    "ANALYSIS_SOURCES",
    "PARTICIPANT_COLUMNS",
    "REDCAP_COLUMNS",
    "RESPONSE_COLUMNS",
    "analysis_table",
    "analysis_visits",
    "consort_counts",
    "raw_items",
    "redcap_dictionary",
    "redcap_event_name",
    "redcap_events",
    "redcap_instrument_events",
    "redcap_records",
    "write_export",
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

#: The 18 columns of a REDCap data dictionary, in REDCap's order and spelling.
REDCAP_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)

#: Analysis-table column -> (instrument id, score name). Outcomes are read at every
#: analysis visit; the other columns are baseline values repeated on every row.
ANALYSIS_SOURCES: Mapping[str, tuple[str, str]] = {
    "pain": ("nrs", "total"),
    "rmdq": ("rmdq24", "total"),
    "pseq": ("pseq", "total"),
    "pcs": ("pcs", "total"),
    "pain_baseline": ("nrs", "total"),
    "psychoactive": ("psychoactive_medication", "psychoactive"),
    "frebaq": ("frebaq", "total"),
    "tsk": ("tsk17", "total"),
    "rmdq_baseline": ("rmdq24", "total"),
    "bbq": ("bbq", "total"),
}
_OUTCOMES = ("pain", "rmdq")
_MODIFIERS = tuple(k for k in ANALYSIS_SOURCES if k not in _OUTCOMES)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED = frozenset(
    {
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_data_access_group",
        "redcap_survey_identifier",
        "redcap_csrf_token",
        "hidden_edit_flag",
        "event_id",
        "instance",
        "arm",
        "record",
        "project_id",
    }
)
RandomisedInError = Literal["include", "exclude"]


# ----------------------------------------------------------------------------- helpers
def _empty(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _status(value: Any) -> str:
    if _empty(value):
        return ""
    text = re.sub(r"[_\-\s]+", " ", str(value).strip().lower())
    return text.replace("randomized", "randomised")


def _label(name: str) -> str:
    text = re.sub(r"[_\-\s]+", " ", name.strip().lower())
    text = re.sub(r"\bwk\b", "week", text)
    return re.sub(r"\bweek\s*(\d+)", r"week \1", text)


def _times(values: pd.Series, column: str) -> pd.Series:
    """Parse a timestamp column (datetimes or ISO text) to UTC; empty -> NaT."""
    raw = values.astype(object).where(~values.map(_empty), None)
    try:
        return pd.to_datetime(raw, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataValidationError(f"participants: column {column!r}: {exc}") from None


def _as_dict(value: Any, what: str) -> dict[Any, Any] | None:
    if _empty(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise DataValidationError(f"{what}: not a dict or JSON object ({exc})") from None
    if not isinstance(value, Mapping):
        raise DataValidationError(f"{what}: expected a dict, got {type(value).__name__}")
    return dict(value)


def _items_of(value: Any, what: str) -> dict[int, Any]:
    raw = _as_dict(value, what) or {}
    out: dict[int, Any] = {}
    for key, code in raw.items():
        text = str(key).rsplit("_", 1)[-1]
        if not text.isdigit():
            raise DataValidationError(f"{what}: item key {key!r} is not an item number")
        out[int(text)] = None if _empty(code) else code
    return dict(sorted(out.items()))


def _number(value: Any) -> float:
    if _empty(value):
        return math.nan
    return float(value)


@dataclass(frozen=True)
class _Scores:
    """One response's scores, flattened: score or category name -> value."""

    values: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.values.get(name)


def _scores_of(row: Mapping[Any, Any], what: str) -> _Scores:
    """Scores of a response row; re-scores the items when ``scores`` is empty."""
    raw = _as_dict(row["scores"], what)
    if raw is None:
        inst = get(str(row["instrument"]))
        items = _items_of(row["items"], what)
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
    return _Scores(flat)


def _check_participants(participants: pd.DataFrame) -> pd.DataFrame:
    require_columns(participants, PARTICIPANT_COLUMNS, what="participants")
    out = participants.copy()
    if out["participant_id"].map(_empty).any():
        raise DataValidationError("participants: column 'participant_id' has empty values")
    out["participant_id"] = out["participant_id"].astype(str)
    require_unique(out, ["participant_id"], what="participants")
    if "sex" not in out.columns:
        out["sex"] = None
    for col in ("screened_at", "consented_at", "randomised_at", "withdrawn_at", "lost_at"):
        out[col] = _times(out[col], col)
    out["_status"] = out["status"].map(_status)
    out["_arm"] = out["arm"].map(lambda a: None if _empty(a) else str(a))
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


def _check_responses(
    responses: pd.DataFrame, protocol: Protocol, ids: Iterable[str] | None = None
) -> pd.DataFrame:
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


def _plan(plan: Plan | None) -> Plan:
    if plan is not None:
        return plan
    from resolve.analysis.plan import load_plan

    return load_plan()


def _label_week(label: str) -> float | None:
    if label == "baseline":
        return 0.0
    m = re.fullmatch(r"week (\d+(?:\.\d+)?)", label)
    return float(m.group(1)) if m else None


def analysis_visits(
    protocol: Protocol, plan: Plan | None = None, visit_map: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map protocol visit names to the plan's visit labels (see the module notes).

    Parameters
    ----------
    protocol : Protocol
    plan : Plan, optional
        Default: the bundled RESOLVE analysis plan.
    visit_map : mapping of protocol visit name to plan visit label, optional
        Explicit mapping; replaces the rule.

    Returns
    -------
    dict
        Protocol visit name -> plan visit label, in plan visit order.

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> analysis_visits(load_protocol())
    {'baseline': 'baseline', 'week 12': 'week 12', 'week 18': 'week 18', \
'week 26': 'week 26', 'week 52': 'week 52'}
    """
    labels = _plan(plan).trial.visits
    names = [v.name for v in protocol.visits]
    if visit_map is not None:
        bad_names = sorted(set(visit_map) - set(names))
        bad_labels = sorted(set(visit_map.values()) - set(labels))
        if bad_names or bad_labels:
            raise DataValidationError(
                "visit_map: "
                + "; ".join(
                    s
                    for s in (
                        f"unknown protocol visit(s) {show_values(bad_names)}" if bad_names else "",
                        f"unknown plan visit(s) {show_values(bad_labels)}" if bad_labels else "",
                    )
                    if s
                )
            )
        if len(set(visit_map.values())) != len(visit_map):
            raise DataValidationError("visit_map: two protocol visits map to one plan visit")
        order = {lab: k for k, lab in enumerate(labels)}
        return dict(sorted(visit_map.items(), key=lambda kv: order[kv[1]]))
    out: dict[str, str] = {}
    taken: set[str] = set()
    for label in labels:
        hit = [v.name for v in protocol.visits if _label(v.name) == label and v.name not in taken]
        if not hit:
            week = _label_week(label)
            hit = [
                v.name
                for v in protocol.visits
                if week is not None
                and float(v.week) == week
                and ANALYSIS_SOURCES["pain"][0] in v.instruments
                and getattr(v, "kind", "") not in ("screening", "session")
                and v.name not in taken
            ]
        if len(hit) == 1:
            out[hit[0]] = label
            taken.add(hit[0])
    return out


# ----------------------------------------------------------------------------- analysis
def analysis_table(
    participants: pd.DataFrame,
    responses: pd.DataFrame,
    protocol: Protocol,
    *,
    plan: Plan | None = None,
    visit_map: Mapping[str, str] | None = None,
    randomised_in_error: RandomisedInError = "include",
) -> pd.DataFrame:
    """The long table ``resolve analyze`` reads, from live trial data.

    Parameters
    ----------
    participants, responses : pandas.DataFrame
        See the module notes for their columns.
    protocol : Protocol
    plan : Plan, optional
        Analysis plan whose visit labels are used (default: the RESOLVE plan).
    visit_map : mapping, optional
        Protocol visit name -> plan visit label (default: :func:`analysis_visits`).
    randomised_in_error : {"include", "exclude"}
        ``"include"`` (default, strict intention to treat): participants with status
        ``randomised in error`` stay in the table under their allocated arm.
        ``"exclude"`` drops them (defensible only when the decision was made blind
        to allocation and outcome, Fergusson et al., BMJ 2002).

    Returns
    -------
    pandas.DataFrame
        One row per randomised participant x analysis visit (every visit the
        mapping yields, in plan order, even when nothing was recorded), sorted by
        participant (in ``participants`` order) then visit. Columns ``id``,
        ``arm`` (allocated arm), ``visit`` (plan label), ``week``, ``pain`` (NRS
        total), ``rmdq`` (RMDQ-24 total), the baseline values ``pseq``, ``pcs``,
        ``pain_baseline``, ``psychoactive`` (1 = user, 0 = non-user, from the
        ``psychoactive_medication`` category), ``frebaq``, ``tsk`` (TSK-17 total),
        ``rmdq_baseline``, ``bbq`` repeated on every row, then ``age``, ``sex``,
        ``site``, ``stratum``. Missing values stay missing (NaN), never 0;
        withdrawn and lost participants keep their rows.

    Raises
    ------
    DataValidationError
        A missing column, duplicate participant or response, an unknown visit or
        participant in ``responses``, or a randomised participant without an arm.
    UnknownNameError
        An unknown instrument id.
    """
    if randomised_in_error not in ("include", "exclude"):
        raise DataValidationError(
            f"randomised_in_error must be 'include' or 'exclude'; got {randomised_in_error!r}"
        )
    parts = _check_participants(participants)
    resp = _check_responses(responses, protocol, parts["participant_id"])
    vmap = analysis_visits(protocol, plan, visit_map)
    weeks = {v.name: float(v.week) for v in protocol.visits}
    chosen = parts[parts["_randomised"]]
    if randomised_in_error == "exclude":
        chosen = chosen[~chosen["_in_error"]]
    needed = {src[0] for src in ANALYSIS_SOURCES.values()}
    resp = resp[resp["visit"].isin(list(vmap)) & resp["instrument"].isin(sorted(needed))]
    resp = resp[resp["participant_id"].isin(set(chosen["participant_id"]))]
    value: dict[tuple[str, str, str], Any] = {}
    for row in resp.to_dict("records"):
        what = f"responses: {row['participant_id']} {row['visit']} {row['instrument']}"
        scores = _scores_of(row, what)
        for col, (inst, name) in ANALYSIS_SOURCES.items():
            if inst == row["instrument"]:
                value[(row["participant_id"], row["visit"], col)] = scores.get(name)
    baseline_names = [n for n, lab in vmap.items() if lab == _plan(plan).trial.baseline_visit]
    base = baseline_names[0] if baseline_names else None
    rows: list[dict[str, Any]] = []
    for p in chosen.to_dict("records"):
        pid = p["participant_id"]
        mods: dict[str, float] = {}
        for col in _MODIFIERS:
            raw = value.get((pid, base, col)) if base is not None else None
            if col == "psychoactive":
                mods[col] = (
                    math.nan if _empty(raw) else float(str(raw).strip().lower() in ("yes", "1"))
                )
            else:
                mods[col] = _number(raw)
        for name, label in vmap.items():
            rows.append(
                {
                    "id": pid,
                    "arm": p["_arm"],
                    "visit": label,
                    "week": weeks[name],
                    "pain": _number(value.get((pid, name, "pain"))),
                    "rmdq": _number(value.get((pid, name, "rmdq"))),
                    **mods,
                    "age": _number(p["age"]),
                    "sex": None if _empty(p["sex"]) else str(p["sex"]),
                    "site": None if _empty(p["site"]) else str(p["site"]),
                    "stratum": None if _empty(p["stratum"]) else str(p["stratum"]),
                }
            )
    columns = ["id", "arm", "visit", "week", *_OUTCOMES, *_MODIFIERS]
    columns += ["age", "sex", "site", "stratum"]
    table = pd.DataFrame(rows, columns=columns)
    for col in ("week", *_OUTCOMES, *_MODIFIERS, "age"):
        table[col] = table[col].astype(float)
    for col in ("id", "arm", "visit", "sex", "site", "stratum"):
        table[col] = table[col].astype(object)
    return table


# ----------------------------------------------------------------------------- items
def raw_items(responses: pd.DataFrame) -> pd.DataFrame:
    """Item-level long table: one row per recorded item.

    Parameters
    ----------
    responses : pandas.DataFrame
        See the module notes (``scores`` is not used).

    Returns
    -------
    pandas.DataFrame
        Columns ``participant_id, visit, instrument, item, code, recorded_at,
        version``; ``item`` is the item number (int), ``code`` the recorded code
        (an int, a medication name for ``psychoactive_medication``, or None when
        unanswered). Items are as recorded: an item absent from ``items`` has no
        row. Rows in ``responses`` order, items by number.

    Examples
    --------
    >>> r = pd.DataFrame({"participant_id": ["P1"], "visit": ["baseline"],
    ...     "instrument": ["nrs"], "items": [{1: 6}], "scores": [None],
    ...     "recorded_at": ["2024-01-01T10:00:00"], "version": [1]})
    >>> raw_items(r)[["instrument", "item", "code"]].values.tolist()
    [['nrs', 1, 6]]
    """
    require_columns(responses, RESPONSE_COLUMNS, what="responses")
    rows: list[dict[str, Any]] = []
    for row in responses.to_dict("records"):
        what = f"responses: {row['participant_id']} {row['visit']} {row['instrument']}"
        for number, code in _items_of(row["items"], what).items():
            rows.append(
                {
                    "participant_id": str(row["participant_id"]),
                    "visit": str(row["visit"]),
                    "instrument": str(row["instrument"]),
                    "item": number,
                    "code": code,
                    "recorded_at": row["recorded_at"],
                    "version": row["version"],
                }
            )
    columns = ["participant_id", "visit", "instrument", "item", "code", "recorded_at", "version"]
    out = pd.DataFrame(rows, columns=columns)
    out["item"] = out["item"].astype("int64")
    out["code"] = out["code"].astype(object)
    return out


# ----------------------------------------------------------------------------- REDCap
def redcap_event_name(visit: str, arm_num: int = 1) -> str:
    """REDCap's unique event name of a protocol visit.

    REDCap derives it from the event name: lower case, spaces to ``_``, other
    characters dropped, the first 18 characters, then ``_arm_<n>``.

    Examples
    --------
    >>> redcap_event_name("week 18"), redcap_event_name("Baseline")
    ('week_18_arm_1', 'baseline_arm_1')
    """
    text = re.sub(r"[^a-z0-9_]", "", re.sub(r"\s+", "_", visit.strip().lower()))
    text = text[:18].strip("_")
    if not text or not text[0].isalpha():
        text = "event_" + text
        text = text[:18].strip("_")
    return f"{text}_arm_{arm_num}"


def _event_names(protocol: Protocol) -> dict[str, str]:
    names = {v.name: redcap_event_name(v.name) for v in protocol.visits}
    seen: dict[str, str] = {}
    for visit, event in names.items():
        if event in seen:
            raise DataValidationError(
                f"protocol visits {seen[event]!r} and {visit!r} give the same REDCap event "
                f"name {event!r}; rename one"
            )
        seen[event] = visit
    return names


def _fmt(value: float) -> str:
    return f"{value:.10g}"


def _choices(item: Any) -> str:
    parts = []
    for code in item.codes:
        anchor = item.anchors.get(code)
        text = f"{code} ({anchor})" if anchor else str(code)
        parts.append(f"{code}, {text.replace('|', '/')}")
    return " | ".join(parts)


def _row(**cells: str) -> dict[str, str]:
    keys = {
        "name": "Variable / Field Name",
        "form": "Form Name",
        "section": "Section Header",
        "type": "Field Type",
        "label": "Field Label",
        "choices": "Choices, Calculations, OR Slider Labels",
        "note": "Field Note",
        "validation": "Text Validation Type OR Show Slider Number",
        "vmin": "Text Validation Min",
        "vmax": "Text Validation Max",
        "identifier": "Identifier?",
        "branching": "Branching Logic (Show field only if...)",
        "required": "Required Field?",
        "matrix": "Matrix Group Name",
        "annotation": "Field Annotation",
    }
    out = dict.fromkeys(REDCAP_COLUMNS, "")
    for key, value in cells.items():
        out[keys[key]] = value
    return out


#: Fields of the ``participant`` form (after ``record_id``): name, type, label,
#: validation, identifier flag, source column of ``participants``.
_PARTICIPANT_FIELDS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("site", "text", "Site", "", "", "site"),
    ("participant_status", "text", "Participant status", "", "", "status"),
    ("screening_date", "text", "Date screened", "date_ymd", "y", "screened_at"),
    ("eligible", "yesno", "Eligible", "", "", "eligible"),
    ("ineligible_reasons", "notes", "Reasons not eligible", "", "", "ineligible_reasons"),
    ("consent_date", "text", "Date of consent", "date_ymd", "y", "consented_at"),
    ("consent_version", "text", "Consent form version", "", "", "consent_version"),
    ("randomisation_date", "text", "Date randomised", "date_ymd", "y", "randomised_at"),
    ("allocated_arm", "text", "Allocated arm", "", "", "arm"),
    ("stratum", "text", "Randomisation stratum", "", "", "stratum"),
    ("age", "text", "Age (years)", "integer", "", "age"),
    ("sex", "text", "Sex", "", "", "sex"),
    ("withdrawal_date", "text", "Date withdrawn", "date_ymd", "y", "withdrawn_at"),
    ("lost_date", "text", "Date lost to follow-up", "date_ymd", "y", "lost_at"),
)
_PARTICIPANT_FORM = "participant"


def _score_fields(inst: Instrument | MedicationInstrument) -> list[tuple[str, str, str]]:
    """(score name, REDCap type, validation) of every computed field."""
    if isinstance(inst, MedicationInstrument):
        numeric = ("total", *inst.class_names)
        categories: tuple[str, ...] = ("psychoactive",)
    else:
        numeric = tuple(s.name for s in inst.scales)
        categories = tuple(c.name for c in inst.classifications)
    out = [(n, "text", "number") for n in numeric]
    out += [("n_missing", "text", "integer"), ("prorated", "yesno", "")]
    out += [(c, "text", "") for c in categories]
    return out


def _instrument_rows(inst: Instrument | MedicationInstrument) -> list[dict[str, str]]:
    form = inst.id
    section = (
        f"{inst.title} ({inst.version}). Neutral item labels only: licensed item wording is "
        "not included."
    )
    rows: list[dict[str, str]] = []
    if isinstance(inst, MedicationInstrument):
        for k, col in enumerate(inst.columns, start=1):
            rows.append(
                _row(
                    name=col,
                    form=form,
                    section=section if k == 1 else "",
                    type="text",
                    label=f"Medication {k} (generic name or WHO ATC code)",
                    note="write 'none' in medication 1 for no medication" if k == 1 else "",
                    branching=f"[{inst.columns[k - 2]}] <> ''" if k > 1 else "",
                )
            )
    else:
        choices = [_choices(it) for it in inst.items]
        matrix = f"{inst.id}_items" if len(inst.items) > 1 and len(set(choices)) == 1 else ""
        for k, (it, ch) in enumerate(zip(inst.items, choices, strict=True)):
            rows.append(
                _row(
                    name=inst.column(it.number),
                    form=form,
                    section=section if k == 0 else "",
                    type="radio",
                    label=it.label,  # neutral label, never it.text (licensed wording)
                    choices=ch,
                    note=inst.recall if k == 0 and not matrix else "",
                    matrix=matrix,
                )
            )
    for j, (name, ftype, validation) in enumerate(_score_fields(inst)):
        vmin = vmax = ""
        if validation == "number":
            lo, hi = inst.scale_range(name)
            vmin, vmax = _fmt(lo), _fmt(hi)
        rows.append(
            _row(
                name=f"{inst.id}_{name}",
                form=form,
                section="Scores computed by resolve (read-only)" if j == 0 else "",
                type=ftype,
                label=f"{inst.version}: {name.replace('_', ' ')}",
                note="computed by resolve.instruments; do not edit",
                validation=validation,
                vmin=vmin,
                vmax=vmax,
                annotation="@READONLY",
            )
        )
    return rows


def _check_names(names: Sequence[str], what: str) -> None:
    bad = [n for n in names if not _NAME.match(n) or len(n) > 100 or n in _RESERVED]
    if bad:
        raise DataValidationError(
            f"{what}: invalid REDCap name(s) {show_values(bad)} (lower-case letters, digits and "
            "underscores, starting with a letter, at most 100 characters, not reserved)"
        )
    dup = sorted({n for n in names if list(names).count(n) > 1})
    if dup:
        raise DataValidationError(f"{what}: duplicate REDCap name(s) {show_values(dup)}")


def redcap_dictionary(protocol: Protocol) -> pd.DataFrame:
    """A REDCap data dictionary for the protocol's instruments.

    Parameters
    ----------
    protocol : Protocol

    Returns
    -------
    pandas.DataFrame
        The 18 columns of :data:`REDCAP_COLUMNS` (REDCap's header), all text.
        ``record_id`` first, then the ``participant`` form (site, status,
        eligibility, consent, allocation, dates), then one form per instrument in
        protocol order, named by the instrument id: a ``radio`` field
        ``<instrument>_<n>`` per item with choices ``code, label`` (neutral labels
        and anchors only) -- ``psychoactive_medication`` has ``text`` slots instead
        -- followed by read-only computed fields ``<instrument>_<score>`` (totals
        and subscales with their range, ``n_missing``, ``prorated`` (yes/no) and
        each cut-off category), annotated ``@READONLY``. REDCap adds each form's
        ``<form>_complete`` field itself.

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> d = redcap_dictionary(load_protocol())
    >>> d.iloc[0, :4].tolist()
    ['record_id', 'participant', '', 'text']
    >>> d.loc[d["Variable / Field Name"] == "rmdq24_1", "Field Type"].item()
    'radio'
    """
    rows = [_row(name="record_id", form=_PARTICIPANT_FORM, type="text", label="Record ID")]
    for name, ftype, label, validation, ident, _src in _PARTICIPANT_FIELDS:
        rows.append(
            _row(
                name=name,
                form=_PARTICIPANT_FORM,
                type=ftype,
                label=label,
                validation=validation,
                identifier=ident,
            )
        )
    for inst_id in protocol.instruments:
        rows += _instrument_rows(get(inst_id))
    out = pd.DataFrame(rows, columns=list(REDCAP_COLUMNS), dtype=object)
    _check_names(out["Variable / Field Name"].tolist(), "redcap_dictionary")
    _check_names(list(dict.fromkeys(out["Form Name"])), "redcap_dictionary forms")
    return out


def redcap_events(protocol: Protocol) -> pd.DataFrame:
    """REDCap events (Define My Events upload / API import), one per protocol visit.

    Returns
    -------
    pandas.DataFrame
        Columns ``event_name, arm_num, day_offset, offset_min, offset_max,
        unique_event_name, custom_event_label``: ``day_offset`` = week x 7,
        offsets = the visit's window in days.

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> e = redcap_events(load_protocol())
    >>> e.loc[e.event_name == "week 18", ["day_offset", "unique_event_name"]].values.tolist()
    [[126, 'week_18_arm_1']]
    """
    names = _event_names(protocol)
    rows = [
        {
            "event_name": v.name,
            "arm_num": 1,
            "day_offset": round(float(v.week) * 7),
            "offset_min": int(getattr(v, "window_before_days", 0)),
            "offset_max": int(getattr(v, "window_after_days", 0)),
            "unique_event_name": names[v.name],
            "custom_event_label": "",
        }
        for v in protocol.visits
    ]
    return pd.DataFrame(rows)


def redcap_instrument_events(protocol: Protocol) -> pd.DataFrame:
    """REDCap instrument-event mapping (columns ``arm_num, unique_event_name, form``).

    The ``participant`` form is designated for the first protocol visit; each
    instrument form for every visit that collects it.
    """
    names = _event_names(protocol)
    rows = [
        {"arm_num": 1, "unique_event_name": names[protocol.visits[0].name], "form": "participant"}
    ]
    for v in protocol.visits:
        rows += [
            {"arm_num": 1, "unique_event_name": names[v.name], "form": i} for i in v.instruments
        ]
    return pd.DataFrame(rows, columns=["arm_num", "unique_event_name", "form"])


def _cell(value: Any, validation: str = "") -> str:
    """A REDCap CSV cell: raw codes, ISO dates, 1/0 for booleans, empty when missing."""
    if _empty(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if validation.startswith("date") else value.isoformat()
    if isinstance(value, float | np.floating):
        return _fmt(float(value))
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def redcap_records(
    participants: pd.DataFrame, responses: pd.DataFrame, protocol: Protocol
) -> pd.DataFrame:
    """Trial data in REDCap's longitudinal CSV import format (raw codes).

    Parameters
    ----------
    participants, responses : pandas.DataFrame
        See the module notes.
    protocol : Protocol

    Returns
    -------
    pandas.DataFrame
        All text. Columns ``record_id``, ``redcap_event_name``, then every field
        of :func:`redcap_dictionary` in its order, each form followed by
        ``<form>_complete``. One row per participant at the first protocol visit's
        event (the ``participant`` form; every screened person) and one row per
        participant x visit with responses; ``<form>_complete`` is ``2``
        (complete) where the form has data. Missing values are empty cells.

    Raises
    ------
    DataValidationError
        As :func:`analysis_table`, and for a response to an instrument the
        protocol does not schedule at that visit (REDCap would reject it).
    """
    parts = _check_participants(participants)
    resp = _check_responses(responses, protocol, parts["participant_id"])
    events = _event_names(protocol)
    scheduled = {v.name: set(v.instruments) for v in protocol.visits}
    stray = resp[
        [i not in scheduled[v] for v, i in zip(resp["visit"], resp["instrument"], strict=True)]
    ]
    if len(stray):
        first = stray.iloc[0]
        raise DataValidationError(
            f"responses: {len(stray)} response(s) to an instrument the protocol does not "
            f"schedule at that visit ({first['participant_id']!r}, {first['visit']!r}, "
            f"{first['instrument']!r} is one)"
        )
    dictionary = redcap_dictionary(protocol)
    columns = ["record_id", "redcap_event_name"]
    for form, group in dictionary.groupby("Form Name", sort=False):
        columns += [n for n in group["Variable / Field Name"] if n != "record_id"]
        columns.append(f"{form}_complete")
    first_event = events[protocol.visits[0].name]
    records: dict[tuple[str, str], dict[str, str]] = {}
    for p in parts.to_dict("records"):
        pid = p["participant_id"]
        row = {"record_id": pid, "redcap_event_name": first_event}
        for name, _type, _label, validation, _ident, src in _PARTICIPANT_FIELDS:
            value = p[src]
            if src == "eligible" and not _empty(value):
                value = bool(value)
            if src == "ineligible_reasons":
                value = "; ".join(_reasons(value))
            row[name] = _cell(value, validation)
        row[f"{_PARTICIPANT_FORM}_complete"] = "2"
        records[(pid, first_event)] = row
    for r in resp.to_dict("records"):
        pid, event, inst_id = r["participant_id"], events[r["visit"]], r["instrument"]
        what = f"responses: {pid} {r['visit']} {inst_id}"
        row = records.setdefault((pid, event), {"record_id": pid, "redcap_event_name": event})
        inst = get(inst_id)
        for number, code in _items_of(r["items"], what).items():
            row[f"{inst_id}_{number}"] = _cell(code)
        scores = _scores_of(r, what)
        for name, _ftype, _validation in _score_fields(inst):
            row[f"{inst_id}_{name}"] = _cell(scores.get(name))
        row[f"{inst_id}_complete"] = "2"
    order = {e: k for k, e in enumerate(events.values())}
    pos = {pid: k for k, pid in enumerate(parts["participant_id"])}
    keys = sorted(records, key=lambda k: (pos[k[0]], order[k[1]]))
    out = pd.DataFrame([records[k] for k in keys], columns=columns, dtype=object)
    return out.fillna("")


# ----------------------------------------------------------------------------- CONSORT
def _reasons(value: Any) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v).strip() for v in value if not _empty(v)]
    if _empty(value):
        return []
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return [str(v).strip() for v in parsed if not _empty(v)]
    return [part.strip() for part in text.split(";") if part.strip()]


def consort_counts(
    participants: pd.DataFrame,
    responses: pd.DataFrame,
    protocol: Protocol,
    *,
    plan: Plan | None = None,
    visit_map: Mapping[str, str] | None = None,
    randomised_in_error: RandomisedInError = "include",
) -> pd.DataFrame:
    """CONSORT 2010/2025 flow counts from live data.

    Parameters
    ----------
    participants, responses, protocol, plan, visit_map, randomised_in_error
        As :func:`analysis_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``stage, arm, visit, measure, reason, n`` (``arm`` is ``"all"``
        on enrolment rows; ``visit`` and ``reason`` are empty strings when they do
        not apply). Rows in flow order:

        - ``enrolment``: ``assessed for eligibility`` (every participant row);
          ``excluded`` (assessed minus randomised), split into the mutually
          exclusive ``not meeting inclusion criteria`` (eligible is false), then
          one row per reason (``reason`` set; a person may have several),
          ``eligibility not determined`` (eligible empty), ``declined to
          participate`` (eligible, not consented), ``other reasons`` (consented,
          not randomised); ``randomised``.
        - ``allocation`` (per arm): ``allocated``; ``randomised in error``.
        - ``follow-up`` (per arm x follow-up analysis visit): mutually exclusive
          ``assessed`` (primary outcome present at the visit), ``withdrawn``
          (no outcome; withdrawn on or before the visit's target date =
          randomisation + week x 7 days, or status ``withdrawn`` without a date),
          ``lost to follow-up`` (likewise with ``lost_at`` / status ``lost``) and
          ``missed visit`` (no outcome otherwise); they sum to ``allocated``.
        - ``analysis`` (per arm, primary visit): ``analysed`` (primary outcome
          present at the primary visit, and not excluded as randomised in error),
          ``excluded from analysis`` with reason ``no primary outcome at <visit>``
          and (when ``randomised_in_error="exclude"``) ``randomised in error``.
    """
    pl = _plan(plan)
    parts = _check_participants(participants)
    table = analysis_table(
        participants,
        responses,
        protocol,
        plan=pl,
        visit_map=visit_map,
        randomised_in_error="include",
    )
    primary = next((o for o in pl.outcomes if o.role == "primary"), pl.outcomes[0]).column
    rows: list[tuple[str, str, str, str, str, int]] = []

    def add(stage: str, arm: str, visit: str, measure: str, reason: str, n: Any) -> None:
        rows.append((stage, arm, visit, measure, reason, int(n)))

    rand = parts["_randomised"]
    elig = parts["eligible"]
    elig_known = ~elig.map(_empty)
    elig_true = elig_known & elig.map(lambda v: bool(v) if not _empty(v) else False)
    consented = parts["consented_at"].notna()
    not_rand = ~rand
    ineligible = not_rand & elig_known & ~elig_true
    add("enrolment", "all", "", "assessed for eligibility", "", len(parts))
    add("enrolment", "all", "", "excluded", "", not_rand.sum())
    add("enrolment", "all", "", "not meeting inclusion criteria", "", ineligible.sum())
    counts: dict[str, int] = {}
    for value in parts.loc[ineligible, "ineligible_reasons"]:
        for reason in dict.fromkeys(_reasons(value)):
            counts[reason] = counts.get(reason, 0) + 1
    for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        add("enrolment", "all", "", "not meeting inclusion criteria", reason, n)
    add("enrolment", "all", "", "eligibility not determined", "", (not_rand & ~elig_known).sum())
    add(
        "enrolment",
        "all",
        "",
        "declined to participate",
        "",
        (not_rand & elig_true & ~consented).sum(),
    )
    add("enrolment", "all", "", "other reasons", "", (not_rand & elig_true & consented).sum())
    add("enrolment", "all", "", "randomised", "", rand.sum())

    seen_arms = sorted(set(parts.loc[rand, "_arm"]) - set(pl.trial.arms))
    arms = [a for a in pl.trial.arms] + seen_arms
    randp = parts[rand]
    for arm in arms:
        at = randp[randp["_arm"] == arm]
        add("allocation", arm, "", "allocated", "", len(at))
        add("allocation", arm, "", "randomised in error", "", at["_in_error"].sum())

    vmap = analysis_visits(protocol, pl, visit_map)
    weeks = {v.name: float(v.week) for v in protocol.visits}
    label_week = {lab: weeks[name] for name, lab in vmap.items()}
    has = table.assign(_has=table[primary].notna()).set_index(["id", "visit"])["_has"]
    follow = [
        lab for lab in pl.trial.visits if lab in label_week and lab != pl.trial.baseline_visit
    ]
    for arm in arms:
        at = randp[randp["_arm"] == arm]
        for lab in follow:
            target = at["randomised_at"] + pd.to_timedelta(label_week[lab] * 7, unit="D")
            got = np.array(
                [bool(has.get((pid, lab), False)) for pid in at["participant_id"]], dtype=bool
            )
            withdrawn = (
                (at["withdrawn_at"].notna() & (at["withdrawn_at"] <= target))
                | (at["withdrawn_at"].notna() & at["randomised_at"].isna())
                | (at["withdrawn_at"].isna() & (at["_status"] == "withdrawn"))
            )
            lost = (
                (at["lost_at"].notna() & (at["lost_at"] <= target))
                | (at["lost_at"].notna() & at["randomised_at"].isna())
                | (at["lost_at"].isna() & (at["_status"] == "lost"))
            )
            w = ~got & withdrawn.to_numpy()
            lo = ~got & ~w & lost.to_numpy()
            add("follow-up", arm, lab, "assessed", "", got.sum())
            add("follow-up", arm, lab, "withdrawn", "", w.sum())
            add("follow-up", arm, lab, "lost to follow-up", "", lo.sum())
            add("follow-up", arm, lab, "missed visit", "", (~got & ~w & ~lo).sum())

    pv = pl.trial.primary_visit
    for arm in arms:
        at = randp[randp["_arm"] == arm]
        got = np.array(
            [bool(has.get((pid, pv), False)) for pid in at["participant_id"]], dtype=bool
        )
        err = (
            at["_in_error"].to_numpy()
            if randomised_in_error == "exclude"
            else np.zeros(len(at), bool)
        )
        add("analysis", arm, pv, "analysed", "", (got & ~err).sum())
        add(
            "analysis",
            arm,
            pv,
            "excluded from analysis",
            f"no primary outcome at {pv}",
            (~got & ~err).sum(),
        )
        if randomised_in_error == "exclude":
            add("analysis", arm, pv, "excluded from analysis", "randomised in error", err.sum())
    out = pd.DataFrame(rows, columns=["stage", "arm", "visit", "measure", "reason", "n"])
    out["n"] = out["n"].astype("int64")
    return out


# ----------------------------------------------------------------------------- writing
_README = """\
Trial export written by resolve (resolve.trial.export). All files are UTF-8 CSV with a header row.

analysis.csv
    The long analysis table that `resolve analyze analysis.csv` reads with the default RESOLVE
    plan: one row per randomised participant x analysis visit (baseline, week 12, week 18,
    week 26, week 52). Columns: id, arm (allocated arm, intention to treat), visit, week,
    pain (NRS 0-10), rmdq (RMDQ-24 total), baseline values repeated on every row: pseq, pcs,
    pain_baseline, psychoactive (1 = user, 0 = non-user), frebaq, tsk (TSK-17 total),
    rmdq_baseline, bbq; then age, sex, site, stratum. Empty cells are missing values.
    Randomised-in-error participants: {in_error}.

items.csv
    Item-level responses as recorded: participant_id, visit, instrument, item (number), code,
    recorded_at, version. An empty code is an unanswered item.

redcap_dictionary.csv
    REDCap data dictionary (Project Setup > Data Dictionary > upload). Form "participant" and
    one form per instrument; item fields <instrument>_<n> with neutral labels only (licensed
    wording is not shipped); computed scores are read-only fields.

redcap_events.csv
    Events for a longitudinal REDCap project (one per protocol visit, arm 1), with day offsets
    and windows: event_name, arm_num, day_offset, offset_min, offset_max, unique_event_name,
    custom_event_label.

redcap_instrument_events.csv
    Instrument-event designations: arm_num, unique_event_name, form.

redcap_records.csv
    Data in REDCap's longitudinal import format (Data Import Tool, records in rows, raw codes,
    dates YYYY-MM-DD): record_id, redcap_event_name, fields, <form>_complete.

consort.csv
    CONSORT flow counts from live data: stage, arm, visit, measure, reason, n.

See docs/trial-export.md for the column contracts and the REDCap import steps.
"""


def write_export(
    out_dir: str | Path,
    participants: pd.DataFrame,
    responses: pd.DataFrame,
    protocol: Protocol,
    *,
    plan: Plan | None = None,
    visit_map: Mapping[str, str] | None = None,
    randomised_in_error: RandomisedInError = "include",
) -> list[Path]:
    """Write every export file into ``out_dir``, all or nothing.

    Every table is built first, then written into a temporary directory beside
    ``out_dir`` and moved into place only when all files succeeded
    (:func:`resolve.analysis.run.atomic_directory`); on any error nothing is
    left behind.

    Parameters
    ----------
    out_dir : str or Path
        Created if needed; files of the same names are replaced.
    participants, responses, protocol, plan, visit_map, randomised_in_error
        As :func:`analysis_table`.

    Returns
    -------
    list of Path
        ``analysis.csv``, ``items.csv``, ``redcap_dictionary.csv``,
        ``redcap_events.csv``, ``redcap_instrument_events.csv``,
        ``redcap_records.csv``, ``consort.csv`` and ``README.txt``, as paths inside
        ``out_dir``.
    """
    from resolve.analysis.run import atomic_directory

    pl = _plan(plan)
    tables = {
        "analysis": analysis_table(
            participants,
            responses,
            protocol,
            plan=pl,
            visit_map=visit_map,
            randomised_in_error=randomised_in_error,
        ),
        "items": raw_items(responses),
        "redcap_dictionary": redcap_dictionary(protocol),
        "redcap_events": redcap_events(protocol),
        "redcap_instrument_events": redcap_instrument_events(protocol),
        "redcap_records": redcap_records(participants, responses, protocol),
        "consort": consort_counts(
            participants,
            responses,
            protocol,
            plan=pl,
            visit_map=visit_map,
            randomised_in_error=randomised_in_error,
        ),
    }
    target = Path(out_dir)
    names: list[str] = []
    with atomic_directory(target) as folder:
        for name, frame in tables.items():
            frame.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8")
            names.append(f"{name}.csv")
        in_error = (
            "kept under their allocated arm (intention to treat)"
            if randomised_in_error == "include"
            else "excluded"
        )
        (folder / "README.txt").write_text(_README.format(in_error=in_error), encoding="utf-8")
        names.append("README.txt")
    return [target / n for n in names]
