"""Schedule of assessments, visit calendars and overdue lists, with fixed dates."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from resolve.errors import DataValidationError
from resolve.trial.protocol import VisitSpec, load_protocol
from resolve.trial.schedule import overdue, schedule_of_assessments, visit_calendar

P = load_protocol()
DAY0 = date(2024, 1, 1)
SESSIONS = [f"session {k}" for k in range(1, 13)]


def test_schedule_of_assessments_marks_instruments() -> None:
    soa = schedule_of_assessments(P)
    assert list(soa["visit"]) == [v.name for v in P.visits]
    assert list(soa.columns[:5]) == [
        "visit",
        "kind",
        "week",
        "window_before_days",
        "window_after_days",
    ]
    assert list(soa.columns[5:]) == list(P.instruments)
    row = soa.set_index("visit")
    assert row.loc["baseline", "psychoactive_medication"] == "X"
    assert row.loc["week 18", "pcs"] == "" and row.loc["week 12", "pcs"] == "X"
    assert row.loc["week 52", "window_after_days"] == 28
    assert (row.loc[SESSIONS, list(P.instruments)] == "").all().all()
    # every X corresponds to the protocol, and nothing else is marked
    for v in P.visits:
        marked = {c for c in P.instruments if row.loc[v.name, c] == "X"}
        assert marked == set(v.instruments)


def test_calendar_dates_and_windows() -> None:
    cal = visit_calendar(P, DAY0).set_index("visit")
    assert list(cal.columns) == ["target_date", "window_start", "window_end"]
    assert cal.loc["baseline"].tolist() == [DAY0, date(2023, 12, 18), DAY0]
    assert cal.loc["screening", "window_start"] == date(2023, 12, 4)
    assert cal.loc["session 1"].tolist() == [date(2024, 1, 8), date(2024, 1, 5), date(2024, 1, 11)]
    assert cal.loc["week 18"].tolist() == [date(2024, 5, 6), date(2024, 4, 29), date(2024, 5, 20)]
    assert cal.loc["week 52"].tolist() == [
        date(2024, 12, 30),
        date(2024, 12, 16),
        date(2025, 1, 27),
    ]


def test_fractional_weeks_round_to_a_day() -> None:
    extra = VisitSpec("week 8.5", 8.5, 0, 0, (), "follow-up")
    p = dataclasses.replace(P, visits=(*P.visits[:13], extra))
    cal = visit_calendar(p, DAY0).set_index("visit")
    assert cal.loc["week 8.5", "target_date"] == date(2024, 3, 1)  # 59.5 days -> 60 (banker's)


def test_overdue_statuses() -> None:
    done = ["screening", "baseline", *SESSIONS[:3]]
    # 2024-02-01: sessions 4 (Jan 29, window to Feb 1) due, session 5 (Feb 5) opens Feb 2
    out = overdue(P, DAY0, done, date(2024, 2, 1))
    assert list(out.columns) == ["visit", "target_date", "window_end", "status"]
    assert out.to_dict("records")[0] == {
        "visit": "session 4",
        "target_date": date(2024, 1, 29),
        "window_end": date(2024, 2, 1),
        "status": "due",
    }
    assert out.set_index("visit")["status"].to_dict() == {
        "session 4": "due",
        "session 5": "upcoming",
    }
    # one day later session 4's window has closed
    later = overdue(P, DAY0, done, date(2024, 2, 2)).set_index("visit")["status"].to_dict()
    assert later["session 4"] == "overdue" and later["session 5"] == "due"


def test_overdue_lists_missed_visits_in_date_order() -> None:
    out = overdue(P, DAY0, ["baseline"], date(2024, 5, 21))
    assert list(out["visit"]) == [*SESSIONS, "week 12", "week 18"]
    assert set(out["status"]) == {"overdue"}
    assert list(out["target_date"]) == sorted(out["target_date"])
    assert "screening" not in set(out["visit"])  # precedes randomisation


def test_nothing_listed_when_all_recorded_or_far_ahead() -> None:
    everything = [v.name for v in P.visits]
    assert overdue(P, DAY0, everything, date(2030, 1, 1)).empty
    done = ["baseline", *SESSIONS, "week 12"]
    assert overdue(P, DAY0, done, date(2024, 4, 10)).empty
    soon = overdue(P, DAY0, done, date(2024, 4, 10), horizon_days=30)
    assert soon.to_dict("records")[0]["status"] == "upcoming"


def test_missing_baseline_is_overdue_on_the_day_after() -> None:
    out = overdue(P, DAY0, [], date(2024, 1, 2), horizon_days=0).set_index("visit")["status"]
    assert out.to_dict() == {"baseline": "overdue"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recorded_visits": ["week 19"]}, r"visit\(s\) 'week 19' not in protocol"),
        ({"recorded_visits": "baseline"}, "not the string 'baseline'"),
        ({"randomised_on": "2024-01-01"}, "randomised_on must be a datetime.date"),
        ({"today": datetime(2024, 1, 1, 9)}, "today must be a datetime.date"),
        ({"horizon_days": -1}, "horizon_days must be an integer >= 0"),
    ],
)
def test_overdue_errors(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "randomised_on": DAY0,
        "recorded_visits": [],
        "today": date(2024, 2, 1),
    }
    args.update(kwargs)
    with pytest.raises(DataValidationError, match=message):
        overdue(P, **args)  # type: ignore[arg-type]


def test_calendar_date_type() -> None:
    with pytest.raises(DataValidationError, match=r"randomised_on must be a datetime\.date"):
        visit_calendar(P, "2024-01-01")  # type: ignore[arg-type]
