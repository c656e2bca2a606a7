"""Writing the export folder: every file or none, text cells neutralised."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from resolve.trial.exports._contract import (
    RandomisedInError,
    check_in_error_option,
    plan_or_default,
)
from resolve.trial.exports._csv import write_csv
from resolve.trial.exports.analysis import analysis_table, analysis_visits
from resolve.trial.exports.consort import consort_counts
from resolve.trial.exports.raw import raw_items
from resolve.trial.exports.redcap import (
    redcap_dictionary,
    redcap_events,
    redcap_instrument_events,
)
from resolve.trial.exports.redcap_records import redcap_records
from resolve.trial.protocol import Protocol

if TYPE_CHECKING:
    from resolve.analysis.plan import Plan

__all__ = ["write_export"]

_README = """\
Trial export written by resolve (resolve.trial.exports). All files are UTF-8 CSV with a header row.

Spreadsheet safety: a text cell that would start with =, +, -, @, a tab or a carriage return is
written with a leading single quote (') so that a spreadsheet shows it as text and never runs it as
a formula (CSV injection). Numbers are written as numbers. Remove the quote before using such a
value as an identifier elsewhere.

analysis.csv
{analysis}

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


def _analysis_readme(pl: Plan, labels: list[str], randomised_in_error: str) -> str:
    """The README paragraph of ``analysis.csv``, from the plan's declarations."""
    t = pl.trial
    command = "`resolve analyze analysis.csv`"
    if not pl.source.endswith("(bundled)"):
        command = f"`resolve analyze analysis.csv --plan {pl.source}`"

    def described(label: str, column: str, source: tuple[str, str], note: str = "") -> str:
        return f"{column} ({label}, {source[0]}.{source[1]}{note})"

    outcomes = [described(o.label, o.column, o.source) for o in pl.outcomes if o.source]
    modifiers = [
        described(m.label, m.column, m.source, ", 1 = yes, 0 = no" if m.type == "binary" else "")
        for m in pl.modifiers
        if m.source
    ]
    in_error = (
        "kept under their allocated arm (intention to treat)"
        if randomised_in_error == "include"
        else "excluded"
    )
    text = (
        f"The long analysis table that {command} reads with the analysis plan {pl.source}: "
        f"one row per randomised participant x analysis visit ({', '.join(labels)}). "
        f"Columns: {t.subject}, {t.arm} (allocated arm, intention to treat), {t.visit}, week; "
        f"outcomes at that visit: {', '.join(outcomes)}; "
        + (f"baseline values repeated on every row: {', '.join(modifiers)}; " if modifiers else "")
        + "then age, sex, site, stratum. Empty cells are missing values. "
        f"Randomised-in-error participants: {in_error}."
    )
    return textwrap.fill(
        text, width=100, initial_indent="    ", subsequent_indent="    ", break_on_hyphens=False
    )


def write_export(
    out_dir: str | Path,
    participants: pd.DataFrame,
    responses: pd.DataFrame,
    protocol: Protocol,
    *,
    plan: Plan | None = None,
    visit_map: Mapping[str, str] | None = None,
    randomised_in_error: RandomisedInError = "include",
    extra: Mapping[str, tuple[pd.DataFrame, str]] | None = None,
) -> list[Path]:
    """Write every export file into ``out_dir``, all or nothing.

    Every table is built first (any input error is raised before a file is
    written), then written into a temporary directory beside ``out_dir`` and moved
    into place only when all files succeeded
    (:func:`resolve.analysis.run.atomic_directory`); on any error nothing is left
    behind. Every CSV goes through one writer
    (:func:`~resolve.trial.exports.write_csv`), which neutralises spreadsheet
    formula injection: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
    or a carriage return gets a leading ``'``; numbers stay numbers.

    Parameters
    ----------
    out_dir : str or Path
        Created if needed; files of the same names are replaced.
    participants, responses, protocol, plan, visit_map, randomised_in_error
        As :func:`~resolve.trial.exports.analysis_table`.
    extra : mapping of str to (DataFrame, str), optional
        More tables, ``name -> (frame, README paragraph)``, written as
        ``<name>.csv`` by the same writer, after ``consort.csv`` (e.g. the
        adverse events, for a role that may see them).

    Returns
    -------
    list of Path
        ``analysis.csv``, ``items.csv``, ``redcap_dictionary.csv``,
        ``redcap_events.csv``, ``redcap_instrument_events.csv``,
        ``redcap_records.csv``, ``consort.csv``, the ``extra`` tables and
        ``README.txt``, as paths inside ``out_dir``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from resolve.trial.exports._contract import example_frames
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "export"
    >>> [p.name for p in write_export(out, *example_frames())][:3]
    ['analysis.csv', 'items.csv', 'redcap_dictionary.csv']
    >>> pd.read_csv(out / "analysis.csv")[["id", "visit", "pain"]].values.tolist()[2]
    ['P01', 'week 18', 3.0]
    """
    from resolve.analysis.run import atomic_directory

    check_in_error_option(randomised_in_error)
    pl = plan_or_default(plan)
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
    notes = ""
    for name, (frame, note) in (extra or {}).items():
        if name in tables:
            raise ValueError(f"extra export table {name!r} would replace a standard one")
        tables[name] = frame
        notes += f"{name}.csv\n{textwrap.indent(textwrap.fill(note, 96), '    ')}\n\n"
    labels = list(analysis_visits(protocol, pl, visit_map).values())
    readme = _README.format(analysis=_analysis_readme(pl, labels, randomised_in_error))
    readme = readme.replace("See docs/trial-export.md", notes + "See docs/trial-export.md", 1)
    target = Path(out_dir)
    names: list[str] = []
    with atomic_directory(target) as folder:
        for name, frame in tables.items():
            write_csv(frame, folder / f"{name}.csv")
            names.append(f"{name}.csv")
        (folder / "README.txt").write_text(readme, encoding="utf-8")
        names.append("README.txt")
    return [target / n for n in names]
