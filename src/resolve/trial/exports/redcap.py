"""REDCap files: data dictionary, events and instrument-event mapping.

A longitudinal REDCap project (one arm, one event per protocol visit): the
``participant`` form holds the screening, consent and allocation facts; one form per
instrument holds its items (neutral labels only, never licensed wording) and the
scores computed by :mod:`resolve.instruments` (read-only fields). The records file
is built by :mod:`resolve.trial.exports.redcap_records`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from resolve._validation import show_values
from resolve.errors import DataValidationError
from resolve.instruments import Instrument, MedicationInstrument, get
from resolve.trial.exports._csv import DANGEROUS_PREFIXES, NumberText
from resolve.trial.protocol import Protocol

__all__ = [
    "READONLY",
    "REDCAP_COLUMNS",
    "redcap_dictionary",
    "redcap_event_name",
    "redcap_events",
    "redcap_instrument_events",
]

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

#: Field Annotation of computed scores: REDCap's ``@READONLY`` action tag, after text
#: so that the cell does not start with ``@`` (a spreadsheet formula prefix).
READONLY = "Computed by resolve @READONLY"

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


def _fmt(value: float) -> NumberText:
    """A number as REDCap reads it; kept a number by the CSV writer (``-5`` stays)."""
    return NumberText(f"{value:.10g}")


def _choices(item: Any) -> str:
    """REDCap choices ``code, label | ...``.

    A list whose first code is negative (GPE: ``-5, -5 (vastly worse) | ...``)
    starts with a space: REDCap trims it, and the cell does not start with ``-``,
    which the CSV writer would otherwise quote (REDCap would then refuse the code).
    """
    parts = []
    for code in item.codes:
        anchor = item.anchors.get(code)
        text = f"{code} ({anchor})" if anchor else str(code)
        parts.append(f"{code}, {text.replace('|', '/')}")
    out = " | ".join(parts)
    return " " + out if out.startswith(DANGEROUS_PREFIXES) else out


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
                annotation=READONLY,
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
        each cut-off category), annotated :data:`READONLY` (the action tag
        ``@READONLY`` after text, so that no cell starts with ``@``; REDCap finds
        action tags anywhere in the annotation). REDCap adds each form's
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

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> m = redcap_instrument_events(load_protocol())
    >>> m.iloc[0].to_dict()
    {'arm_num': 1, 'unique_event_name': 'screening_arm_1', 'form': 'participant'}
    >>> m[m.unique_event_name == "week_18_arm_1"]["form"].tolist()
    ['nrs', 'rmdq24', 'gpe']
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
