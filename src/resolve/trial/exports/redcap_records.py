"""REDCap records: the trial data in REDCap's longitudinal CSV import format.

The fields, forms and events are those of :mod:`resolve.trial.exports.redcap`
(data dictionary and events), so the three files import together.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from resolve.errors import DataValidationError
from resolve.instruments import get
from resolve.trial.exports._contract import (
    check_participants,
    check_responses,
    is_empty,
    items_of,
    reasons_of,
    scores_of,
)
from resolve.trial.exports._csv import NumberText
from resolve.trial.exports.redcap import (
    _PARTICIPANT_FIELDS,
    _PARTICIPANT_FORM,
    _event_names,
    _fmt,
    _score_fields,
    redcap_dictionary,
)
from resolve.trial.protocol import Protocol

__all__ = ["redcap_records"]


def _cell(value: Any, validation: str = "") -> str:
    """A REDCap CSV cell: raw codes, ISO dates, 1/0 for booleans, empty when missing.

    A number becomes :class:`~resolve.trial.exports._csv.NumberText`, so that the
    writer keeps a negative number as a number; other text is neutralised there.
    """
    if is_empty(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if validation.startswith("date") else value.isoformat()
    if isinstance(value, float | np.floating):
        return _fmt(float(value))
    if isinstance(value, int | np.integer):
        return NumberText(str(value))
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
        See :mod:`resolve.trial.exports`.
    protocol : Protocol

    Returns
    -------
    pandas.DataFrame
        All text (numbers formatted as REDCap reads them). Columns
        ``record_id``, ``redcap_event_name``, then every field of
        :func:`redcap_dictionary` in its order, each form followed by
        ``<form>_complete``. One row per participant at the first protocol visit's
        event (the ``participant`` form; every screened person) and one row per
        participant x visit with responses; ``<form>_complete`` is ``2``
        (complete) where the form has data. Missing values are empty cells.

    Raises
    ------
    DataValidationError
        As :func:`~resolve.trial.exports.analysis_table`, and for a response to an
        instrument the protocol does not schedule at that visit (REDCap would
        reject it).

    Examples
    --------
    >>> from resolve.trial.exports._contract import example_frames
    >>> r = redcap_records(*example_frames())
    >>> r[["record_id", "redcap_event_name", "allocated_arm", "nrs_1", "nrs_total"]].values.tolist()
    [['P01', 'screening_arm_1', 'sham', '', ''], ['P01', 'baseline_arm_1', '', '6', '6'], \
['P01', 'week_18_arm_1', '', '3', '3'], ['S01', 'screening_arm_1', '', '', '']]
    """
    parts = check_participants(participants)
    resp = check_responses(responses, protocol, parts["participant_id"])
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
            if src == "eligible" and not is_empty(value):
                value = bool(value)
            if src == "ineligible_reasons":
                value = "; ".join(reasons_of(value))
            row[name] = _cell(value, validation)
        row[f"{_PARTICIPANT_FORM}_complete"] = "2"
        records[(pid, first_event)] = row
    for r in resp.to_dict("records"):
        pid, event, inst_id = r["participant_id"], events[r["visit"]], r["instrument"]
        what = f"responses: {pid} {r['visit']} {inst_id}"
        row = records.setdefault((pid, event), {"record_id": pid, "redcap_event_name": event})
        inst = get(inst_id)
        for number, code in items_of(r["items"], what).items():
            row[f"{inst_id}_{number}"] = _cell(code)
        scores = scores_of(r, what)
        for name, _ftype, _validation in _score_fields(inst):
            row[f"{inst_id}_{name}"] = _cell(scores.get(name))
        row[f"{inst_id}_complete"] = "2"
    order = {e: k for k, e in enumerate(events.values())}
    pos = {pid: k for k, pid in enumerate(parts["participant_id"])}
    keys = sorted(records, key=lambda k: (pos[k[0]], order[k[1]]))
    out = pd.DataFrame([records[k] for k in keys], columns=columns, dtype=object)
    return out.fillna("")
