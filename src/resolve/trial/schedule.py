"""The SPIRIT schedule of assessments, visit calendars with windows, and overdue lists.

All three come from the protocol's visits, so the schedule printed in a protocol
paper, the reminders and the data-capture checks cannot drift apart.

Examples
--------
>>> from datetime import date
>>> from resolve.trial.protocol import load_protocol
>>> p = load_protocol()
>>> soa = schedule_of_assessments(p)
>>> soa.loc[soa["visit"] == "week 18", ["week", "nrs", "rmdq24", "pcs"]].to_dict("records")
[{'week': 18.0, 'nrs': 'X', 'rmdq24': 'X', 'pcs': ''}]
>>> cal = visit_calendar(p, date(2024, 1, 1))
>>> cal[cal["visit"] == "week 18"].iloc[0].tolist()
['week 18', datetime.date(2024, 5, 6), datetime.date(2024, 4, 29), datetime.date(2024, 5, 20)]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from resolve.errors import DataValidationError
from resolve.trial.protocol import Protocol, VisitSpec

__all__ = ["overdue", "schedule_of_assessments", "visit_calendar"]


def _target(randomised_on: dt.date, visit: VisitSpec) -> dt.date:
    # Weeks are counted from the day of randomisation; fractional weeks round to a day.
    return randomised_on + dt.timedelta(days=round(visit.week * 7))


def _window(randomised_on: dt.date, visit: VisitSpec) -> tuple[dt.date, dt.date, dt.date]:
    target = _target(randomised_on, visit)
    return (
        target,
        target - dt.timedelta(days=visit.window_before_days),
        target + dt.timedelta(days=visit.window_after_days),
    )


def _check_date(name: str, value: object) -> dt.date:
    # datetime is a subclass of date; a time of day would silently shift nothing, but is
    # almost always a caller mix-up, so say so.
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise DataValidationError(f"{name} must be a datetime.date; got {value!r}")
    return value


def schedule_of_assessments(protocol: Protocol) -> pd.DataFrame:
    """The SPIRIT schedule of assessments (participant timeline) of ``protocol``.

    Parameters
    ----------
    protocol : Protocol
        The trial protocol.

    Returns
    -------
    pandas.DataFrame
        One row per visit, in protocol order, with columns ``visit`` (str), ``kind``
        (screening, baseline, session or follow-up), ``week`` (float, target week after
        randomisation), ``window_before_days`` and ``window_after_days`` (int), then one
        column per instrument (in order of first use) holding ``"X"`` where the
        instrument is given at that visit and ``""`` otherwise.

    Notes
    -----
    SPIRIT figures usually put timepoints in columns; ``schedule_of_assessments(p)
    .set_index("visit").T`` gives that layout.

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> soa = schedule_of_assessments(load_protocol())
    >>> soa.shape
    (18, 14)
    >>> list(soa.columns[:6])
    ['visit', 'kind', 'week', 'window_before_days', 'window_after_days', 'nrs']
    """
    instruments = protocol.instruments
    rows = []
    for v in protocol.visits:
        row: dict[str, object] = {
            "visit": v.name,
            "kind": v.kind,
            "week": float(v.week),
            "window_before_days": v.window_before_days,
            "window_after_days": v.window_after_days,
        }
        row.update({i: "X" if i in v.instruments else "" for i in instruments})
        rows.append(row)
    columns = ["visit", "kind", "week", "window_before_days", "window_after_days", *instruments]
    return pd.DataFrame(rows, columns=columns)


def visit_calendar(protocol: Protocol, randomised_on: dt.date) -> pd.DataFrame:
    """Each visit's target date and window for a participant randomised on ``randomised_on``.

    Parameters
    ----------
    protocol : Protocol
        The trial protocol.
    randomised_on : datetime.date
        Day of randomisation (week 0).

    Returns
    -------
    pandas.DataFrame
        One row per visit in protocol order with columns ``visit`` (str),
        ``target_date``, ``window_start`` and ``window_end`` (``datetime.date``,
        window bounds inclusive). The target is ``randomised_on + round(7 * week)``
        days; the window runs from ``window_before_days`` before to
        ``window_after_days`` after it.

    Examples
    --------
    >>> from datetime import date
    >>> from resolve.trial.protocol import load_protocol
    >>> cal = visit_calendar(load_protocol(), date(2024, 1, 1))
    >>> cal.iloc[2].tolist()
    ['session 1', datetime.date(2024, 1, 8), datetime.date(2024, 1, 5), datetime.date(2024, 1, 11)]
    """
    day = _check_date("randomised_on", randomised_on)
    rows = []
    for v in protocol.visits:
        target, start, end = _window(day, v)
        rows.append(
            {"visit": v.name, "target_date": target, "window_start": start, "window_end": end}
        )
    return pd.DataFrame(rows, columns=["visit", "target_date", "window_start", "window_end"])


def overdue(
    protocol: Protocol,
    randomised_on: dt.date,
    recorded_visits: Iterable[str],
    today: dt.date,
    *,
    horizon_days: int = 7,
) -> pd.DataFrame:
    """Visits not yet recorded whose window has closed, is open, or opens soon.

    Parameters
    ----------
    protocol : Protocol
        The trial protocol.
    randomised_on : datetime.date
        Day of randomisation.
    recorded_visits : iterable of str
        Names of the visits already recorded for this participant.
    today : datetime.date
        The day to judge against.
    horizon_days : int, default 7
        A visit whose window opens within this many days after ``today`` is listed
        as ``"upcoming"``; later visits are not listed.

    Returns
    -------
    pandas.DataFrame
        Columns ``visit`` (str), ``target_date``, ``window_end`` (``datetime.date``)
        and ``status``: ``"overdue"`` (window closed before ``today``), ``"due"``
        (``today`` inside the window, bounds inclusive) or ``"upcoming"``. Sorted
        by target date, then protocol order.

    Raises
    ------
    DataValidationError
        ``recorded_visits`` names a visit the protocol does not have, is a single
        string, or a date is not a ``datetime.date``.

    Notes
    -----
    The screening visit is never listed: it precedes randomisation by definition.

    Examples
    --------
    >>> from datetime import date
    >>> from resolve.trial.protocol import load_protocol
    >>> p = load_protocol()
    >>> done = ["screening", "baseline"] + [f"session {k}" for k in range(1, 13)]
    >>> overdue(p, date(2024, 1, 1), done, date(2024, 4, 5)).to_dict("records")
    [{'visit': 'week 12', 'target_date': datetime.date(2024, 3, 25), \
'window_end': datetime.date(2024, 4, 8), 'status': 'due'}]
    """
    day = _check_date("randomised_on", randomised_on)
    now = _check_date("today", today)
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 0:
        raise DataValidationError(f"horizon_days must be an integer >= 0; got {horizon_days!r}")
    if isinstance(recorded_visits, str):
        raise DataValidationError(
            f"recorded_visits must be a list of visit names, not the string {recorded_visits!r}"
        )
    recorded = set(recorded_visits)
    known = {v.name for v in protocol.visits}
    unknown = sorted(recorded - known)
    if unknown:
        raise DataValidationError(
            f"recorded_visits has visit(s) {', '.join(map(repr, unknown))} not in protocol "
            f"{protocol.source} ({', '.join(v.name for v in protocol.visits)})"
        )
    rows = []
    for order, v in enumerate(protocol.visits):
        if v.kind == "screening" or v.name in recorded:
            continue
        target, start, end = _window(day, v)
        if now > end:
            status = "overdue"
        elif now >= start:
            status = "due"
        elif (start - now).days <= horizon_days:
            status = "upcoming"
        else:
            continue
        rows.append(
            (
                target,
                order,
                {"visit": v.name, "target_date": target, "window_end": end, "status": status},
            )
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    return pd.DataFrame(
        [r[2] for r in rows], columns=["visit", "target_date", "window_end", "status"]
    )
