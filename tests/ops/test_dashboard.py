"""The trial dashboard (:func:`resolve.ops.dashboard`) on hand-built SQLite trials.

The template trial (every participant screened, consented and randomised by the
enroller on the day of the test run, ``R``):

* ``P1`` - ``P4`` randomised, followed up: baseline NRS for ``P1`` - ``P3`` (``P4`` has
  none), week 12 NRS for ``P1``, week 18 NRS for ``P2``;
* ``P5`` randomised, baseline NRS, then lost to follow-up;
* ``P6`` randomised, baseline NRS, then withdrawn;
* ``P7`` ineligible (age 75); ``P8`` eligible, not consented; ``P9`` consented, not
  randomised.

Windows are judged against a fixed ``today`` counted from ``R``, so every count
below is worked out by hand from the protocol's visits: week 12 (target day 84,
window days 77-98), week 18 (target day 126, window days 119-140).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from resolve import ops
from resolve.ops.dashboard import Dashboard, DueVisit, FlowCount, MonthCount
from resolve.store.models import Role
from tests.db_fixtures import _dispose
from tests.ops.helpers import (
    ADMIN,
    ASSESSOR,
    CLINICIAN,
    ENROLLER,
    MONITOR,
    STATISTICIAN,
    UNBLINDED,
    audit_actions,
    audit_count,
    client,
    enrol,
    new_trial,
    randomise,
    screen,
)

ARMS = ("sham", "resolve")
FOLLOWED = ("P1", "P2", "P3", "P4")
#: Roles whose arm view is not "all": never an arm-specific count.
BLINDED_OR_OWN = (ASSESSOR, MONITOR, ADMIN, STATISTICIAN, ENROLLER, CLINICIAN)


def _nrs(ctx: ops.Context, pid: str, visit: str) -> None:
    ops.record(ctx, pid, visit=visit, instrument="nrs", items={"nrs_1": 5})


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The trial described in the module docstring: (database file, key file)."""
    folder = tmp_path_factory.mktemp("dashboard")
    key_file = tmp_path_factory.mktemp("key") / "trial.key"
    db = folder / "trial.db"
    url = f"sqlite:///{db}"
    new_trial(url, key_file=key_file)
    enrol(url, ["P1", "P2", "P3", "P4", "P5", "P6", "P9"], key_file=key_file)
    rc = client(url, ENROLLER, key_file)
    rc.run(lambda ctx: screen(ctx, "P7", eligible=False))
    rc.run(lambda ctx: screen(ctx, "P8"))
    for pid in ("P1", "P2", "P3", "P4", "P5", "P6"):
        randomise(url, pid, key_file=key_file)

    def record(ctx: ops.Context) -> None:
        for pid in ("P1", "P2", "P3", "P5", "P6"):
            _nrs(ctx, pid, "baseline")
        _nrs(ctx, "P1", "week 12")
        _nrs(ctx, "P2", "week 18")
        ops.mark_lost(ctx, "P5", reason="no contact")

    client(url, ASSESSOR, key_file).run(record)
    rc.run(ops.withdraw, "P6", reason="moved away")
    _dispose(url)  # checkpoint the WAL into the file: a plain copy is complete
    yield db, key_file


@pytest.fixture
def trial(template: tuple[Path, Path], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A fresh copy of the template: (URL, key file)."""
    db, key_file = template
    copy = tmp_path / "trial.db"
    shutil.copy2(db, copy)
    url = f"sqlite:///{copy}"
    yield url, key_file
    _dispose(url)


@pytest.fixture(scope="module")
def day_r(template: tuple[Path, Path]) -> date:
    """``R``: the day every participant was randomised (from the stored allocations)."""
    db, key_file = template
    frame = client(f"sqlite:///{db}", UNBLINDED, key_file).run(ops.participants)
    days = {str(at)[:10] for at in frame["randomised_at"].dropna()}
    assert len(days) == 1, days
    return date.fromisoformat(days.pop())


def board(url: str, key_file: Path, user: str, today: date) -> Dashboard:
    return client(url, user, key_file).run(ops.dashboard, today=today)


def flows(counts: tuple[FlowCount, ...]) -> dict[tuple[str, str, str], int]:
    return {(f.stage, f.visit, f.measure): f.n for f in counts}


# ----------------------------------------------------------------------------- recruitment
def test_recruitment_counts(trial: tuple[str, Path], day_r: date) -> None:
    url, key_file = trial
    rec = board(url, key_file, ASSESSOR, day_r).recruitment
    assert (rec.screened, rec.eligible, rec.consented, rec.randomised) == (9, 8, 7, 6)
    assert rec.target == 276 and rec.percent == 2.2  # 100 x 6 / 276 = 2.17
    assert rec.months == (MonthCount(day_r.strftime("%Y-%m"), 6, 6, None),)
    assert rec.start is None and rec.end is None
    assert rec.planned_by_today is None and rec.needed_per_month is None
    later = day_r + timedelta(days=62)
    labels = [day_r.strftime("%Y-%m")]
    while labels[-1] != later.strftime("%Y-%m"):
        year, month = map(int, labels[-1].split("-"))
        labels.append(f"{year + month // 12:04d}-{month % 12 + 1:02d}")
    assert len(labels) in (3, 4)  # two months on: December to February, or 31 Jan to 3 Apr
    expected = tuple(MonthCount(m, 6 if k == 0 else 0, 6, None) for k, m in enumerate(labels))
    assert board(url, key_file, ASSESSOR, later).recruitment.months == expected


def _planned_trial(tmp_path: Path, lines: str) -> tuple[str, Path]:
    bundled = (
        resources.files("resolve.trial").joinpath("protocols", "resolve.toml").read_text("utf-8")
    )
    old = "target_sample_size = 276\n"
    assert old in bundled
    protocol = tmp_path / "planned.toml"
    protocol.write_text(bundled.replace(old, lines), encoding="utf-8")
    key_file = tmp_path / "keys" / "trial.key"
    url = f"sqlite:///{tmp_path / 'planned.db'}"
    new_trial(url, protocol, key_file=key_file)
    return url, key_file


def test_recruitment_against_a_planned_period(tmp_path: Path) -> None:
    # 2024 has 366 days: a target of 366 over the year plans exactly one a day.
    url, key_file = _planned_trial(
        tmp_path,
        "target_sample_size = 366\nrecruitment_start = 2024-01-01\n"
        'recruitment_end = "2024-12-31"\n',
    )
    rec = board(url, key_file, MONITOR, date(2024, 3, 15)).recruitment
    assert (rec.start, rec.end, rec.target) == (date(2024, 1, 1), date(2024, 12, 31), 366)
    assert rec.months == (
        MonthCount("2024-01", 0, 0, 31.0),
        MonthCount("2024-02", 0, 0, 60.0),
        MonthCount("2024-03", 0, 0, 91.0),
    )
    assert rec.planned_by_today == 75.0  # 31 + 29 + 15 days
    # 366 still to go in the 292 days from 15 March to 31 December (9.59 average months)
    assert rec.needed_per_month == round(366 / (292 / (365.25 / 12)), 1) == 38.2
    assert rec.percent == 0.0
    before = board(url, key_file, MONITOR, date(2023, 12, 1)).recruitment
    assert before.planned_by_today == 0.0 and before.months == ()
    assert before.needed_per_month == round(366 / (397 / (365.25 / 12)), 1)
    after = board(url, key_file, MONITOR, date(2025, 1, 10)).recruitment
    assert after.planned_by_today == 366.0 and after.needed_per_month is None
    assert after.months[-1] == MonthCount("2025-01", 0, 0, 366.0)


def test_recruitment_without_a_target(tmp_path: Path) -> None:
    url, key_file = _planned_trial(tmp_path, "recruitment_end = 2030-06-30\n")
    rec = board(url, key_file, MONITOR, date(2030, 1, 1)).recruitment
    assert rec.target is None and rec.percent is None
    assert rec.needed_per_month is None and rec.planned_by_today is None


def test_the_pace_needed_once_the_target_is_reached(tmp_path: Path) -> None:
    url, key_file = _planned_trial(
        tmp_path, "target_sample_size = 1\nrecruitment_end = 2099-12-31\n"
    )
    enrol(url, ["Q1"], key_file=key_file)
    randomise(url, "Q1", key_file=key_file)
    rec = board(url, key_file, MONITOR, date.today()).recruitment
    assert rec.randomised == 1 and rec.percent == 100.0 and rec.needed_per_month == 0.0


# ----------------------------------------------------------------------------- CONSORT
ENROLMENT = [
    ("assessed for eligibility", "", 9),
    ("not randomised", "", 3),
    ("not meeting inclusion criteria", "", 1),
    ("not meeting inclusion criteria", "age 75 is above 70", 1),
    ("eligibility not determined", "", 0),
    ("eligible, not consented", "", 1),  # P8: may still consent (no "declined" status)
    ("consented, not randomised", "", 1),  # P9: may still be randomised
    ("randomised", "", 6),
]


def test_consort_enrolment(trial: tuple[str, Path], day_r: date) -> None:
    url, key_file = trial
    got = board(url, key_file, MONITOR, day_r).consort.enrolment
    assert [(f.measure, f.reason, f.n) for f in got] == ENROLMENT


def test_consort_follow_up_splits_visits_not_yet_due(trial: tuple[str, Path], day_r: date) -> None:
    url, key_file = trial
    now = flows(board(url, key_file, ASSESSOR, day_r).consort.pooled)
    assert now[("allocation", "", "allocated")] == 6
    assert now[("allocation", "", "randomised in error")] == 0
    # week 12 on day R: P1 assessed, P5 lost, P6 withdrawn, P2-P4 not yet due
    week12 = {m: now[("follow-up", "week 12", m)] for m in _FOLLOW_UP}
    assert week12 == dict(zip(_FOLLOW_UP, (1, 1, 1, 0, 3), strict=True))
    week18 = {m: now[("follow-up", "week 18", m)] for m in _FOLLOW_UP}
    assert week18 == dict(zip(_FOLLOW_UP, (1, 1, 1, 0, 3), strict=True))
    assert now[("analysis", "week 18", "analysed")] == 1
    assert now[("analysis", "week 18", "excluded from analysis")] == 2  # P5, P6
    assert now[("analysis", "week 18", "not yet due")] == 3
    # Day 99: the week 12 window (days 77-98) has closed for everybody.
    later = flows(board(url, key_file, ASSESSOR, day_r + timedelta(days=99)).consort.pooled)
    week12 = {m: later[("follow-up", "week 12", m)] for m in _FOLLOW_UP}
    assert week12 == dict(zip(_FOLLOW_UP, (1, 1, 1, 3, 0), strict=True))
    assert later[("follow-up", "week 18", "not yet due")] == 3
    # Day 141: week 18 (days 119-140) has closed too: P1, P3, P4 missed it.
    last = flows(board(url, key_file, ASSESSOR, day_r + timedelta(days=141)).consort.pooled)
    assert last[("follow-up", "week 18", "missed visit")] == 3
    assert last[("analysis", "week 18", "excluded from analysis")] == 5
    assert last[("analysis", "week 18", "not yet due")] == 0


_FOLLOW_UP = ("assessed", "withdrawn", "lost to follow-up", "missed visit", "not yet due")


@pytest.mark.parametrize("user", [ADMIN, CLINICIAN])
def test_roles_that_may_not_view_responses_get_no_follow_up_counts(
    trial: tuple[str, Path], day_r: date, user: str
) -> None:
    url, key_file = trial
    consort = board(url, key_file, user, day_r).consort
    assert consort.follow_up is False
    assert {f.stage for f in consort.pooled} == {"allocation"}
    assert [(f.measure, f.reason, f.n) for f in consort.enrolment] == ENROLMENT


# ----------------------------------------------------------------------------- blinding
@pytest.mark.parametrize("user", BLINDED_OR_OWN)
def test_no_arm_specific_count_for_a_role_that_does_not_see_every_arm(
    trial: tuple[str, Path], day_r: date, user: str
) -> None:
    url, key_file = trial
    before = audit_actions(url)
    result = board(url, key_file, user, day_r)
    assert result.consort.by_arm is None
    text = repr(result.to_dict())
    assert not any(arm in text for arm in ARMS), "an arm name in a blinded dashboard"
    new = [a for a in audit_actions(url)[len(before) :] if a[2] == "dashboard"]
    assert new == [], "no arm-specific count was read, so no dashboard read is audited"


def test_arm_counts_for_the_unblinded_statistician(trial: tuple[str, Path], day_r: date) -> None:
    url, key_file = trial
    events = audit_count(url)
    result = board(url, key_file, UNBLINDED, day_r)
    assert result.consort.by_arm is not None
    assert tuple(a.arm for a in result.consort.by_arm) == ARMS
    allocated = client(url, UNBLINDED, key_file).run(ops.allocations)["arm"].value_counts()
    pooled = flows(result.consort.pooled)
    per_arm = [flows(a.counts) for a in result.consort.by_arm]
    for a, counts in zip(ARMS, per_arm, strict=True):
        assert counts[("allocation", "", "allocated")] == int(allocated.get(a, 0))
    for key, n in pooled.items():  # the arms add up to the pooled counts
        assert sum(c[key] for c in per_arm) == n, key
    # the read is audited as an arm-revealing read (beside the participant list it used)
    added = audit_actions(url)[events:]
    assert ("read", "read", "dashboard", None) in added


def test_the_statistician_sees_arms_once_unblinded(trial: tuple[str, Path], day_r: date) -> None:
    url, key_file = trial
    assert board(url, key_file, STATISTICIAN, day_r).consort.by_arm is None
    admin = client(url, ADMIN, key_file)
    admin.run(ops.lock_database, reason="final analysis")
    admin.run(ops.unblind_statistician, reason="analysis plan signed")
    by_arm = board(url, key_file, STATISTICIAN, day_r).consort.by_arm
    assert by_arm is not None and tuple(a.arm for a in by_arm) == ARMS


def _swap_arms(url: str) -> None:
    """Swap the two arms of every allocation (dropping the append-only triggers first)."""
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        for (name,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'allocation'"
        ).fetchall():
            con.execute(f'DROP TRIGGER "{name}"')
        con.execute(
            "UPDATE allocation SET arm = CASE arm WHEN ? THEN ? ELSE ? END", (ARMS[0], *ARMS[::-1])
        )
        con.commit()
    finally:
        con.close()


def _arm_counts(url: str) -> dict[str, int]:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return dict(con.execute("SELECT arm, COUNT(*) FROM allocation GROUP BY arm").fetchall())
    finally:
        con.close()


def test_a_blinded_dashboard_does_not_depend_on_the_allocation(
    trial: tuple[str, Path], day_r: date
) -> None:
    url, key_file = trial
    counts = _arm_counts(url)
    assert sum(counts.values()) == 6
    today = day_r + timedelta(days=99)
    before = {u: board(url, key_file, u, today) for u in BLINDED_OR_OWN}
    unblinded = board(url, key_file, UNBLINDED, today)
    _dispose(url)
    _swap_arms(url)
    assert _arm_counts(url) == {ARMS[0]: counts.get(ARMS[1], 0), ARMS[1]: counts.get(ARMS[0], 0)}
    for user, result in before.items():
        assert board(url, key_file, user, today) == result, user
    swapped = board(url, key_file, UNBLINDED, today)
    assert swapped.consort.pooled == unblinded.consort.pooled
    assert unblinded.consort.by_arm is not None and swapped.consort.by_arm is not None
    flipped = {a.arm: a.counts for a in swapped.consort.by_arm}
    for arm_flow, other in zip(unblinded.consort.by_arm, ARMS[::-1], strict=True):
        assert arm_flow.counts == flipped[other]


# ----------------------------------------------------------------------------- visits due
def _due(visits: tuple[DueVisit, ...]) -> list[tuple[str, str, str, int | None]]:
    """(participant, visit, status, days overdue / to the window's close / to its opening)."""
    days = {"overdue": "days_overdue", "due": "days_to_close", "upcoming": "days_to_open"}
    out = []
    for v in visits:
        others = {k for k in days.values() if k != days[v.status]}
        assert all(getattr(v, k) is None for k in others), v
        out.append((v.participant, v.visit, v.status, getattr(v, days[v.status])))
    return out


def test_visits_due_on_the_day_of_randomisation(trial: tuple[str, Path], day_r: date) -> None:
    url, key_file = trial
    result = board(url, key_file, ASSESSOR, day_r)
    assert result.overdue == ()
    # P4's baseline window (14 days before to the day of randomisation) closes today
    assert _due(result.upcoming) == [("P4", "baseline", "due", 0)]
    (visit,) = result.upcoming
    assert (visit.window_start, visit.window_end) == (day_r - timedelta(days=14), day_r)


def test_overdue_and_upcoming_visits(trial: tuple[str, Path], day_r: date) -> None:
    url, key_file = trial
    day70 = board(url, key_file, MONITOR, day_r + timedelta(days=70))
    assert _due(day70.overdue) == [("P4", "baseline", "overdue", 70)]
    # week 12 opens on day 77: in 7 days, for those who have not had it (not P1)
    assert _due(day70.upcoming) == [(p, "week 12", "upcoming", 7) for p in ("P2", "P3", "P4")]
    (w12, *_) = day70.upcoming
    assert (w12.target_date, w12.window_start, w12.window_end) == (
        day_r + timedelta(days=84),
        day_r + timedelta(days=77),
        day_r + timedelta(days=98),
    )
    day99 = board(url, key_file, MONITOR, day_r + timedelta(days=99))
    assert _due(day99.overdue) == [("P4", "baseline", "overdue", 99)] + [
        (p, "week 12", "overdue", 1) for p in ("P2", "P3", "P4")
    ]
    assert day99.upcoming == ()  # week 18 opens on day 119: 20 days ahead
    day110 = board(url, key_file, MONITOR, day_r + timedelta(days=110))
    assert _due(day110.upcoming) == [(p, "week 18", "upcoming", 9) for p in ("P1", "P3", "P4")]
    day125 = board(url, key_file, MONITOR, day_r + timedelta(days=125))
    assert _due(day125.upcoming) == [(p, "week 18", "due", 15) for p in ("P1", "P3", "P4")]


def test_no_visit_is_due_for_withdrawn_lost_or_sessions(
    trial: tuple[str, Path], day_r: date
) -> None:
    url, key_file = trial
    for days in (0, 10, 70, 99, 125, 400):
        result = board(url, key_file, ENROLLER, day_r + timedelta(days=days))
        listed = {(v.participant, v.visit) for v in (*result.overdue, *result.upcoming)}
        assert not {p for p, _ in listed} & {"P5", "P6", "P7", "P8", "P9"}
        assert not [v for _, v in listed if v.startswith("session")]
    late = board(url, key_file, ENROLLER, day_r + timedelta(days=400))
    assert {v.visit for v in late.overdue} == {
        "baseline",
        "week 12",
        "week 18",
        "week 26",
        "week 52",
    }


def test_every_staff_role_may_read_it_and_no_one_else(trial: tuple[str, Path], day_r: date) -> None:
    url, key_file = trial
    from resolve.ops import links

    client(url, ADMIN, key_file).run(links.ensure_system_account)
    with pytest.raises(ops.PermissionDenied, match=Role.participant.value):
        board(url, key_file, links.SYSTEM_USER, day_r)


def test_dashboard_result_is_plain_data(trial: tuple[str, Path], day_r: date) -> None:
    url, key_file = trial
    data: dict[str, Any] = board(url, key_file, ASSESSOR, day_r).to_dict()
    assert set(data) == {"today", "recruitment", "consort", "overdue", "upcoming"}
    assert data["today"] == day_r and data["consort"]["by_arm"] is None
    assert data["upcoming"][0]["participant"] == "P4"
