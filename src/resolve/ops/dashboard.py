"""The trial dashboard: recruitment against target, live CONSORT counts, visits due.

One read, :func:`dashboard`, for every staff role. It is assembled from the other
reads of :mod:`resolve.ops.views` (participants, responses, recorded visits) and
from :mod:`resolve.trial` (the schedule's windows, the export's CONSORT counts),
so the dashboard, the exports and the participant pages cannot disagree.

What a role sees follows :func:`~resolve.ops.permissions.arm_view`: the counts
are pooled over the arms for everybody; only a role that sees every real arm
(``"all"``: the unblinded statistician, and the statistician once unblinded)
also gets the allocation, follow-up and analysis counts per arm, and that read
is audited. Follow-up and analysis counts come from the stored questionnaires,
so they are shown only to roles that may view responses.

Examples
--------
>>> import tempfile, pathlib
>>> from datetime import date
>>> from resolve import ops
>>> db = pathlib.Path(tempfile.mkdtemp()) / "trial.db"
>>> _ = ops.init_trial(db, admin="ada", demo_seed=7)
>>> _ = ops.Client(db, user="ada").run(ops.add_user, "rc", role="enroller", password=None)
>>> rc = ops.Client(db, user="rc")
>>> _ = rc.run(ops.screen, "P001", age=40, duration_weeks=20, pain=6, identity="1984-02-01 AB",
...            factors={"site": "sydney"})
>>> rc.run(ops.consent, "P001", version="1.0")
>>> _ = rc.run(ops.randomise, "P001")
>>> board = rc.run(dashboard)
>>> board.recruitment.randomised, board.recruitment.target, board.consort.by_arm is None
(1, 276, True)
>>> [(v.visit, v.status) for v in board.upcoming]
[('baseline', 'due')]
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from resolve.ops.context import Context
from resolve.ops.permissions import Operation, allowed
from resolve.ops.views import (
    RESPONSE_FRAME_COLUMNS,
    _audit_read,
    participants,
    responses,
    visits,
)
from resolve.trial.status import ParticipantStatus

if TYPE_CHECKING:
    import pandas as pd

    from resolve.analysis.plan import Plan
    from resolve.trial.protocol import Protocol

__all__ = [
    "UPCOMING_DAYS",
    "ArmFlow",
    "Consort",
    "Dashboard",
    "DueVisit",
    "FlowCount",
    "MonthCount",
    "Recruitment",
    "dashboard",
]

#: A visit is "upcoming" when its window opens within this many days.
UPCOMING_DAYS = 14
#: Average days per month (the pace needed is per average month).
_MONTH_DAYS = 365.25 / 12
#: Arm label of the pooled counts (internal: never shown).
_POOLED = "all randomised"
#: Participants no longer followed up: no visit is due for them.
_OFF_STUDY = frozenset({ParticipantStatus.withdrawn, ParticipantStatus.lost})


@dataclass(frozen=True)
class MonthCount:
    """Randomisations in one calendar month (``YYYY-MM``) and the running total.

    ``planned`` is the cumulative number the plan expects by the month's last day
    (an even pace from ``recruitment_start`` to ``recruitment_end``), or None.
    """

    month: str
    randomised: int
    cumulative: int
    planned: float | None


@dataclass(frozen=True)
class Recruitment:
    """Recruitment so far against the protocol's target and planned period.

    Counts are cumulative: ``screened`` (everyone assessed for eligibility),
    ``eligible``, ``consented``, ``randomised`` (ever, whatever happened later).
    ``percent`` is 100 x randomised / target (it can pass 100).
    ``planned_by_today`` is the cumulative number an even pace over the
    planned period reaches today; ``needed_per_month`` the randomisations per
    month that would still reach the target by ``end`` (0 once reached; None
    without a target and end, or after the end).
    """

    screened: int
    eligible: int
    consented: int
    randomised: int
    target: int | None
    percent: float | None
    start: date | None
    end: date | None
    months: tuple[MonthCount, ...]
    planned_by_today: float | None
    needed_per_month: float | None


@dataclass(frozen=True)
class FlowCount:
    """One CONSORT count: ``stage`` (enrolment, allocation, follow-up, analysis), the
    plan's ``visit`` label (or ""), ``measure``, ``reason`` (or "") and ``n``."""

    stage: str
    visit: str
    measure: str
    reason: str
    n: int


@dataclass(frozen=True)
class ArmFlow:
    """The allocation, follow-up and analysis counts of one arm."""

    arm: str
    counts: tuple[FlowCount, ...]


@dataclass(frozen=True)
class Consort:
    """Live CONSORT counts.

    ``enrolment``: assessed, excluded with their reasons, randomised.
    ``pooled``: allocation (and, when ``follow_up``, follow-up per visit and
    analysis) of all randomised participants together. At follow-up, a
    participant whose visit window has not closed and whose visit is not
    recorded counts as ``not yet due`` rather than ``missed visit`` (and, at the
    primary visit's analysis, rather than ``excluded from analysis``).
    ``by_arm``: the same per arm, only for a role that sees every real arm.
    """

    enrolment: tuple[FlowCount, ...]
    pooled: tuple[FlowCount, ...]
    by_arm: tuple[ArmFlow, ...] | None
    follow_up: bool


@dataclass(frozen=True)
class DueVisit:
    """A visit not recorded whose window has closed (``overdue``), is open (``due``)
    or opens within :data:`UPCOMING_DAYS` (``upcoming``).

    ``days_overdue`` (overdue), ``days_to_close`` (due) and ``days_to_open``
    (upcoming) count days from today; the others are None.
    """

    participant: str
    visit: str
    status: str
    target_date: date
    window_start: date
    window_end: date
    days_overdue: int | None
    days_to_close: int | None
    days_to_open: int | None


@dataclass(frozen=True)
class Dashboard:
    """The dashboard of one trial as one actor may see it, on day ``today``."""

    today: date
    recruitment: Recruitment
    consort: Consort
    overdue: tuple[DueVisit, ...]
    upcoming: tuple[DueVisit, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (dates stay ``datetime.date``)."""
        return asdict(self)


def dashboard(ctx: Context, *, today: date | None = None) -> Dashboard:
    """Recruitment, CONSORT counts and visits due, pooled over arms unless the role sees arms.

    Parameters
    ----------
    ctx : Context
        Any staff role (:attr:`Operation.view_participants`).
    today : datetime.date, optional
        The day to judge windows and the recruitment pace against (default: today).

    Returns
    -------
    Dashboard
        ``recruitment``, ``consort``, ``overdue`` (most overdue first) and
        ``upcoming`` (due now or opening within :data:`UPCOMING_DAYS` days,
        soonest first). Visits are listed for randomised participants who are
        not withdrawn or lost, and only visits with questionnaires (treatment
        sessions have none to record). ``consort.by_arm`` is None unless the
        actor's arm view is ``"all"``; that read is audited.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from resolve import ops
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "trial.db"
    >>> _ = ops.init_trial(db, admin="ada", demo_seed=3)
    >>> board = ops.Client(db, user="ada").run(dashboard, today=date(2024, 1, 1))
    >>> board.recruitment.screened, board.recruitment.percent, board.overdue
    (0, 0.0, ())
    """
    ctx.require(Operation.view_participants)
    day = today or date.today()
    parts = participants(ctx)
    follow_up = allowed(ctx.role, Operation.view_responses)
    resp = responses(ctx) if follow_up else _no_responses()
    recorded = visits(ctx)
    followed = _followed(ctx.protocol, parts, recorded, day)
    due = _visits_due(ctx.protocol, followed, day)
    consort = _consort(ctx, parts, resp, followed, follow_up=follow_up)
    if consort.by_arm is not None:
        _audit_read(ctx, "dashboard", {"by_arm": True})
    return Dashboard(
        today=day,
        recruitment=_recruitment(ctx.protocol, parts, day),
        consort=consort,
        overdue=tuple(v for v in due if v.status == "overdue"),
        upcoming=tuple(v for v in due if v.status != "overdue"),
    )


# ----------------------------------------------------------------------------- recruitment
def _month_end(month: tuple[int, int]) -> date:
    year, m = month
    return date(year, m, calendar.monthrange(year, m)[1])


def _planned(protocol: Protocol, day: date) -> float | None:
    """Cumulative randomisations an even pace over the planned period reaches by ``day``."""
    target, start, end = (
        protocol.target_sample_size,
        protocol.recruitment_start,
        protocol.recruitment_end,
    )
    if target is None or start is None or end is None:
        return None
    if day < start:
        return 0.0
    elapsed = min((day - start).days + 1, (end - start).days + 1)
    return round(target * elapsed / ((end - start).days + 1), 1)


def _recruitment(protocol: Protocol, parts: pd.DataFrame, day: date) -> Recruitment:
    randomised = parts["randomised_at"].dropna().map(lambda s: date.fromisoformat(str(s)[:10]))
    per_month: dict[tuple[int, int], int] = {}
    for d in randomised:
        per_month[(d.year, d.month)] = per_month.get((d.year, d.month), 0) + 1
    start, end, target = (
        protocol.recruitment_start,
        protocol.recruitment_end,
        protocol.target_sample_size,
    )
    months: list[MonthCount] = []
    firsts = [*per_month, *([(start.year, start.month)] if start is not None else [])]
    if firsts:
        month, last = min(firsts), max([*per_month, (day.year, day.month)])
        total = 0
        while month <= last:
            total += per_month.get(month, 0)
            months.append(
                MonthCount(
                    month=f"{month[0]:04d}-{month[1]:02d}",
                    randomised=per_month.get(month, 0),
                    cumulative=total,
                    planned=_planned(protocol, _month_end(month)),
                )
            )
            month = (month[0] + month[1] // 12, month[1] % 12 + 1)
    n = len(randomised)
    needed = None
    if target is not None and end is not None and day <= end:
        left = ((end - day).days + 1) / _MONTH_DAYS
        needed = round(max(target - n, 0) / left, 1)
    eligible = parts["eligible"].map(lambda v: v is not None and v == v and bool(v))
    return Recruitment(
        screened=len(parts),
        eligible=int(eligible.sum()),
        consented=int(parts["consented_at"].notna().sum()),
        randomised=n,
        target=target,
        percent=None if target is None else round(100 * n / target, 1),
        start=start,
        end=end,
        months=tuple(months),
        planned_by_today=_planned(protocol, day),
        needed_per_month=needed,
    )


# ----------------------------------------------------------------------------- visits due
@dataclass(frozen=True)
class _Followed:
    """A randomised participant still followed up: recorded visits and the schedule's list
    (visit, target date, window end, status) of visits overdue, due or upcoming."""

    participant: str
    recorded: frozenset[str]
    listed: tuple[tuple[str, date, date, str], ...]


def _followed(
    protocol: Protocol, parts: pd.DataFrame, recorded: pd.DataFrame, day: date
) -> list[_Followed]:
    from resolve.trial.schedule import overdue

    done: dict[str, list[str]] = {}
    for pid, visit in zip(recorded["participant"], recorded["visit"], strict=True):
        done.setdefault(str(pid), []).append(str(visit))
    rows = parts[parts["randomised_at"].notna()]
    out = []
    for pid, at, status in zip(
        rows["participant_id"], rows["randomised_at"], rows["status"], strict=True
    ):
        if ParticipantStatus(str(status)) in _OFF_STUDY:
            continue
        mine = done.get(str(pid), [])
        randomised_on = date.fromisoformat(str(at)[:10])
        listed = overdue(protocol, randomised_on, mine, day, horizon_days=UPCOMING_DAYS)
        columns = (listed[c].tolist() for c in ("visit", "target_date", "window_end", "status"))
        out.append(_Followed(str(pid), frozenset(mine), tuple(zip(*columns, strict=True))))
    return out


def _visits_due(protocol: Protocol, followed: list[_Followed], day: date) -> list[DueVisit]:
    before = {v.name: v.window_before_days for v in protocol.visits if v.instruments}
    out = []
    for f in followed:
        for visit, target, end, status in f.listed:
            if visit not in before:
                continue  # a treatment session: no questionnaire to record
            start = target - timedelta(days=before[visit])
            out.append(
                DueVisit(
                    participant=f.participant,
                    visit=visit,
                    status=status,
                    target_date=target,
                    window_start=start,
                    window_end=end,
                    days_overdue=(day - end).days if status == "overdue" else None,
                    days_to_close=(end - day).days if status == "due" else None,
                    days_to_open=(start - day).days if status == "upcoming" else None,
                )
            )
    out.sort(
        key=lambda v: (v.window_end if v.status == "overdue" else v.window_start, v.participant)
    )
    return out


# ----------------------------------------------------------------------------- CONSORT
def _no_responses() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=RESPONSE_FRAME_COLUMNS)


def _plan_with_arms(arms: tuple[str, ...]) -> Plan:
    """The bundled analysis plan with ``arms`` (the protocol's, or one pooled group)."""
    from resolve.trial.exports._contract import plan_or_default

    plan = plan_or_default(None)
    trial = replace(plan.trial, arms=arms, reference_arm=arms[0], extra_contrasts=())
    return replace(plan, trial=trial)


def _not_yet_due(
    labels: dict[str, str], followed: list[_Followed], arm_of: dict[str, str]
) -> dict[tuple[str, str], int]:
    """(arm, plan visit label) -> participants whose visit is not recorded and whose window
    has not closed (all of whom ``consort_counts`` counts as "missed visit")."""
    out: dict[tuple[str, str], int] = {}
    for f in followed:
        closed = {visit for visit, _, _, status in f.listed if status == "overdue"}
        for name, label in labels.items():
            if name not in f.recorded and name not in closed:
                key = (arm_of[f.participant], label)
                out[key] = out.get(key, 0) + 1
    return out


def _flows(
    counts: pd.DataFrame, waiting: dict[tuple[str, str], int], arm: str, primary: str
) -> tuple[FlowCount, ...]:
    """One arm's allocation/follow-up/analysis rows, with "not yet due" split off."""
    out = []
    for r in counts[(counts["stage"] != "enrolment") & (counts["arm"] == arm)].itertuples():
        n = int(str(r.n))
        wait = waiting.get((arm, str(r.visit)), 0)
        split = (r.stage == "follow-up" and r.measure == "missed visit") or (
            r.stage == "analysis" and r.measure == "excluded from analysis" and r.visit == primary
        )
        if split:
            n -= wait
        out.append(FlowCount(str(r.stage), str(r.visit), str(r.measure), str(r.reason), n))
        if split:
            out.append(FlowCount(str(r.stage), str(r.visit), "not yet due", "", wait))
    return tuple(out)


#: Enrolment rows of the final CONSORT flow renamed for a trial still recruiting: the store
#: has no "declined" status, so an eligible person without consent may still consent, and a
#: consented one may still be randomised; neither is excluded yet.
_LIVE = {
    "excluded": "not randomised",
    "declined to participate": "eligible, not consented",
    "other reasons": "consented, not randomised",
}


def _consort(
    ctx: Context,
    parts: pd.DataFrame,
    resp: pd.DataFrame,
    followed: list[_Followed],
    *,
    follow_up: bool,
) -> Consort:
    from resolve.trial.exports import analysis_visits, consort_counts

    protocol = ctx.protocol
    pooled_parts = parts.assign(arm=parts["arm"].where(parts["randomised_at"].isna(), _POOLED))
    plan = _plan_with_arms((_POOLED,))
    primary = plan.trial.primary_visit
    labels = analysis_visits(protocol, plan)
    counts = consort_counts(pooled_parts, resp, protocol, plan=plan)
    waiting = _not_yet_due(labels, followed, {f.participant: _POOLED for f in followed})
    keep = ("allocation",) if not follow_up else ("allocation", "follow-up", "analysis")
    pooled = tuple(f for f in _flows(counts, waiting, _POOLED, primary) if f.stage in keep)
    enrolment = tuple(
        FlowCount(
            str(r.stage),
            "",
            _LIVE.get(str(r.measure), str(r.measure)),
            str(r.reason),
            int(str(r.n)),
        )
        for r in counts[counts["stage"] == "enrolment"].itertuples()
    )
    by_arm = None
    if ctx.arm_view == "all":
        arms = protocol.arm_names
        per_arm = consort_counts(parts, resp, protocol, plan=_plan_with_arms(arms))
        arm_of = dict(
            zip(parts["participant_id"].astype(str), parts["arm"].astype(str), strict=True)
        )
        waiting = _not_yet_due(labels, followed, arm_of)
        by_arm = tuple(
            ArmFlow(
                arm, tuple(f for f in _flows(per_arm, waiting, arm, primary) if f.stage in keep)
            )
            for arm in arms
        )
    return Consort(enrolment=enrolment, pooled=pooled, by_arm=by_arm, follow_up=follow_up)
