"""Export a running trial: analysis table, item-level data, REDCap files, CONSORT counts.

Pure pandas, no database: the service layer reads the trial store and fills two
data frames, whose exact columns are the contract below.

Modules, one concept each: ``_contract`` (the contract and its checks, shared by
all), :mod:`~resolve.trial.exports.analysis` (:func:`analysis_table`, the visit
mapping; which score fills which column is declared by the analysis plan's
``source`` keys), :mod:`~resolve.trial.exports.raw` (:func:`raw_items`),
:mod:`~resolve.trial.exports.redcap` (REDCap dictionary and events),
:mod:`~resolve.trial.exports.redcap_records` (REDCap records),
:mod:`~resolve.trial.exports.consort` (:func:`consort_counts`),
:mod:`~resolve.trial.exports.writing` (:func:`write_export`) and ``_csv`` (the one
CSV writer, which neutralises spreadsheet formula injection: :func:`write_csv`).

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
"""

from resolve.trial.exports._contract import (
    PARTICIPANT_COLUMNS,
    RESPONSE_COLUMNS,
    RandomisedInError,
)
from resolve.trial.exports._csv import (
    DANGEROUS_PREFIXES,
    csv_text,
    neutralise_cell,
    safe_frame,
    write_csv,
)
from resolve.trial.exports.analysis import (
    PARTICIPANT_VALUES,
    analysis_sources,
    analysis_table,
    analysis_visits,
)
from resolve.trial.exports.consort import consort_counts
from resolve.trial.exports.raw import raw_items
from resolve.trial.exports.redcap import (
    READONLY,
    REDCAP_COLUMNS,
    redcap_dictionary,
    redcap_event_name,
    redcap_events,
    redcap_instrument_events,
)
from resolve.trial.exports.redcap_records import redcap_records
from resolve.trial.exports.writing import write_export

__all__ = [
    "DANGEROUS_PREFIXES",
    "PARTICIPANT_COLUMNS",
    "PARTICIPANT_VALUES",
    "READONLY",
    "REDCAP_COLUMNS",
    "RESPONSE_COLUMNS",
    "RandomisedInError",
    "analysis_sources",
    "analysis_table",
    "analysis_visits",
    "consort_counts",
    "csv_text",
    "neutralise_cell",
    "raw_items",
    "redcap_dictionary",
    "redcap_event_name",
    "redcap_events",
    "redcap_instrument_events",
    "redcap_records",
    "safe_frame",
    "write_csv",
    "write_export",
]
