"""The dashboard (``GET /``) and its JSON twin (``GET /api/v1/dashboard``).

Both show :func:`resolve.ops.dashboard`: recruitment against the protocol's
target, live CONSORT counts, and the visits overdue or due soon. Arm-specific
counts exist only in the result of a role that sees every real arm; for
everybody else the page and the JSON carry pooled counts and no arm at all.

Examples
--------
>>> from datetime import date
>>> from resolve.ops.dashboard import MonthCount
>>> months = (MonthCount("2024-01", 2, 2, 3.0), MonthCount("2024-02", 1, 3, 6.0))
>>> chart = recruitment_chart(months, target=6)
>>> chart.actual, chart.planned, chart.target_y
('0,133.3 640,100.0', '0,100.0 640,0.0', 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from resolve import ops
from resolve.ops.dashboard import UPCOMING_DAYS, ArmFlow, Dashboard, FlowCount, MonthCount
from resolve.ops.permissions import Operation
from resolve.web.app import Who, client, render
from resolve.web.pages_support import href
from resolve.web.routing import rule

__all__ = ["DashboardOut", "recruitment_chart", "router"]

router = APIRouter()

#: Size of the recruitment chart's drawing area (SVG user units; it scales to the page).
CHART_WIDTH, CHART_HEIGHT = 640, 200
#: Follow-up and analysis measures, in the order of the page's columns.
FOLLOW_UP = ("assessed", "withdrawn", "lost to follow-up", "missed visit", "not yet due")
ANALYSIS = ("analysed", "excluded from analysis", "not yet due")


# ----------------------------------------------------------------------------- JSON
class MonthOut(BaseModel):
    """Randomisations in one month; ``planned``: the plan's cumulative number by its end."""

    month: str = Field(examples=["2024-03"])
    randomised: int
    cumulative: int
    planned: float | None = None


class RecruitmentOut(BaseModel):
    """Recruitment against the protocol's target and planned period."""

    screened: int
    eligible: int
    consented: int
    randomised: int
    target: int | None = None
    percent: float | None = None
    start: date | None = None
    end: date | None = None
    months: list[MonthOut]
    planned_by_today: float | None = None
    needed_per_month: float | None = None


class FlowOut(BaseModel):
    """One CONSORT count (``visit`` and ``reason`` empty where they do not apply)."""

    stage: str
    visit: str
    measure: str
    reason: str
    n: int


class ArmFlowOut(BaseModel):
    """One arm's allocation, follow-up and analysis counts."""

    arm: str
    counts: list[FlowOut]


class ConsortOut(BaseModel):
    """Live CONSORT counts: pooled for everybody; ``by_arm`` only for roles that see arms."""

    enrolment: list[FlowOut]
    pooled: list[FlowOut]
    by_arm: list[ArmFlowOut] | None = None
    follow_up: bool


class DueVisitOut(BaseModel):
    """A visit overdue, due now or upcoming, with its window."""

    participant: str
    visit: str
    status: str = Field(examples=["overdue", "due", "upcoming"])
    target_date: date
    window_start: date
    window_end: date
    days_overdue: int | None = None
    days_to_close: int | None = None
    days_to_open: int | None = None


class DashboardOut(BaseModel):
    """The trial dashboard as the caller's role may see it."""

    today: date
    recruitment: RecruitmentOut
    consort: ConsortOut
    overdue: list[DueVisitOut]
    upcoming: list[DueVisitOut]


class _ErrorOut(BaseModel):
    detail: str


@router.get(
    "/api/v1/dashboard",
    response_model=DashboardOut,
    response_model_exclude_none=True,
    tags=["dashboard"],
    responses={
        401: {"model": _ErrorOut, "description": "Not authenticated"},
        403: {"model": _ErrorOut, "description": "The caller's role may not see the dashboard"},
    },
)
@rule("operation", Operation.view_participants)
def api_dashboard(request: Request, who: Who) -> DashboardOut:
    """Recruitment, live CONSORT counts and visits due; per-arm counts only for roles
    that see every arm (absent otherwise)."""
    board = client(request, who).run(ops.dashboard)
    return DashboardOut.model_validate(board.to_dict())


# ----------------------------------------------------------------------------- page
@dataclass(frozen=True)
class Chart:
    """Polyline points of cumulative randomisations and of the planned pace, the height
    of the target line (SVG user units; y grows downwards) and the value at the top.

    The scale follows the data (the cumulative and planned numbers), so early
    recruitment is visible; the target line is drawn when it is within the scale.
    """

    actual: str
    planned: str | None
    target_y: float | None
    top: float
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def recruitment_chart(months: tuple[MonthCount, ...], target: int | None) -> Chart | None:
    """The recruitment chart's geometry (None without months)."""
    if not months:
        return None
    top = max([*(m.cumulative for m in months), *(m.planned or 0 for m in months), 1])

    def point(i: int, value: float) -> str:
        x = CHART_WIDTH * i / (len(months) - 1) if len(months) > 1 else CHART_WIDTH / 2
        return f"{x:g},{CHART_HEIGHT - CHART_HEIGHT * value / top:.1f}"

    actual = " ".join(point(i, m.cumulative) for i, m in enumerate(months))
    planned = None
    if all(m.planned is not None for m in months):
        planned = " ".join(point(i, m.planned or 0) for i, m in enumerate(months))
    shown = target is not None and target <= top
    target_y = CHART_HEIGHT - CHART_HEIGHT * target / top if shown and target else None
    return Chart(actual, planned, target_y, top)


def _counts(flows: tuple[FlowCount, ...]) -> dict[tuple[str, str, str], int]:
    """(stage, visit, measure) -> n, reasons summed (the page shows reasons at enrolment only)."""
    out: dict[tuple[str, str, str], int] = {}
    for f in flows:
        key = (f.stage, f.visit, f.measure)
        out[key] = out.get(key, 0) + f.n
    return out


def _groups(board: Dashboard) -> list[tuple[str | None, dict[tuple[str, str, str], int]]]:
    """(arm or None for all randomised, counts) for the flow tables."""
    groups: list[tuple[str | None, dict[tuple[str, str, str], int]]] = [
        (None, _counts(board.consort.pooled))
    ]
    arms: tuple[ArmFlow, ...] = board.consort.by_arm or ()
    groups.extend((a.arm, _counts(a.counts)) for a in arms)
    return groups


def _visits(flows: tuple[FlowCount, ...], stage: str) -> list[str]:
    return list(dict.fromkeys(f.visit for f in flows if f.stage == stage))


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@rule("user")
def dashboard_page(request: Request, who: Who) -> HTMLResponse:
    """Recruitment, CONSORT counts and visits due, as the role may see them."""
    board = client(request, who).run(ops.dashboard)
    context: dict[str, Any] = {
        "board": board,
        "rec": board.recruitment,
        "chart": recruitment_chart(board.recruitment.months, board.recruitment.target),
        "groups": _groups(board),
        "follow_up_visits": _visits(board.consort.pooled, "follow-up"),
        "analysis_visits": _visits(board.consort.pooled, "analysis"),
        "follow_up_measures": FOLLOW_UP,
        "analysis_measures": ANALYSIS,
        "upcoming_days": UPCOMING_DAYS,
        "href": href,
    }
    return render(request, "dashboard.html", who, **context)
