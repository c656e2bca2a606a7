"""Session delivery: session records, fidelity checklists, home practice and adherence.

Both arms are recorded alike: each weekly session has a :class:`SessionRecord`
(attended, minutes, the components delivered, the fidelity checklist of each
delivered component, adverse events, current pain, notes), checked against the
template by :func:`check_session`. The active arm also logs home practice
(:class:`HomePractice`, minutes per task and day). :func:`session_fidelity` scores one
session; :func:`adherence` summarises a participant (sessions attended, "received
allocated intervention" and adherence by the template's ``[adherence]`` definitions,
clinic and home minutes against the plan, mean fidelity), which feeds CONSORT and
the exports.

Examples
--------
>>> from resolve.program.template import load_template
>>> t = load_template()
>>> items = {c: {i: True for i in t.component(c).fidelity} for c in t.plan("sham", 3).components}
>>> s = check_session(t, SessionRecord(participant_id="P2", arm="sham", week=3, attended=True,
...     minutes=55, components=t.plan("sham", 3).components, fidelity=items))
>>> session_fidelity(t, s).fidelity, session_fidelity(t, s).planned_delivered
(1.0, 1.0)
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from resolve._schema import Text, between
from resolve.errors import DataValidationError
from resolve.program._records import Record
from resolve.program._task_schema import Id
from resolve.program.template import Component, Role, Template

__all__ = [
    "Adherence",
    "FidelitySummary",
    "HomePractice",
    "SessionRecord",
    "adherence",
    "check_home_practice",
    "check_session",
    "session_fidelity",
]


class SessionRecord(Record):
    """One weekly session as the clinician logs it (either arm).

    ``fidelity`` maps each delivered component to its checklist: item text -> done.
    A session not attended has no minutes, components or checklist.
    """

    participant_id: Text
    arm: Text
    week: Annotated[int, between(1, 52)]
    attended: bool
    minutes: Annotated[float, between(0, 600, low_open=True)] | None = None
    components: list[Id] = Field(default_factory=list)
    fidelity: dict[str, dict[str, bool]] = Field(default_factory=dict)
    adverse_events: list[Text] = Field(default_factory=list)
    pain: Annotated[int, between(0, 10)] | None = None
    notes: str = ""


def _role(template: Template, arm: str, what: str) -> Role:
    try:
        return template.role(arm)
    except LookupError:
        raise DataValidationError(
            f"{what}: unknown arm {arm!r}; the template's arms are "
            f"{template.programme.active_arm!r} and {template.programme.sham_arm!r}"
        ) from None


def _component(template: Template, cid: str, what: str) -> Component:
    try:
        return template.component(cid)
    except LookupError:
        known = ", ".join(c.id for c in template.components)
        raise DataValidationError(f"{what}: unknown component {cid!r}; known: {known}") from None


def check_session(template: Template, record: SessionRecord) -> SessionRecord:
    """``record`` if it fits the template, else a :class:`DataValidationError`.

    Checks: the arm is one of the template's arms; the week is a programme week; a
    session not attended has no minutes, components or checklist; an attended one
    has its minutes, only components of its arm (never an active-arm component such
    as education in the sham arm), and a complete checklist (every item of every
    delivered component, ticked or not) for exactly the delivered components.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> t = load_template()
    >>> check_session(t, SessionRecord(participant_id="P2", arm="sham", week=1, attended=True,
    ...     minutes=60, components=["education"]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: session P2 week 1: component 'education' is not part ...
    """
    what = f"session {record.participant_id} week {record.week}"
    role = _role(template, record.arm, what)
    if record.week > template.programme.weeks:
        raise DataValidationError(f"{what}: the programme has {template.programme.weeks} weeks")
    if not record.attended:
        if record.minutes is not None or record.components or record.fidelity:
            raise DataValidationError(
                f"{what}: not attended, so no minutes, components or fidelity checklist"
            )
        return record
    if record.minutes is None:
        raise DataValidationError(f"{what}: attended, so 'minutes' is required")
    other = "sham" if role == "active" else "active"
    for cid in record.components:
        if _component(template, cid, what).role == other:
            raise DataValidationError(
                f"{what}: component {cid!r} is not part of the {role} arm's programme"
            )
    for cid in record.fidelity:
        if cid not in record.components:
            raise DataValidationError(f"{what}: checklist of {cid!r}, which was not delivered")
    for cid in record.components:
        items = _component(template, cid, what).fidelity
        given = record.fidelity.get(cid)
        if given is None:
            raise DataValidationError(f"{what}: no fidelity checklist for {cid!r}")
        for item in given:
            if item not in items:
                raise DataValidationError(f"{what}: {cid!r} has no checklist item {item!r}")
        for item in items:
            if item not in given:
                raise DataValidationError(f"{what}: {cid!r} checklist item {item!r} not recorded")
    return record


class FidelitySummary(Record):
    """Fidelity of one session.

    ``fidelity`` = checklist items done / items of the delivered components (None
    when nothing was delivered); ``planned_delivered`` = share of the week's planned
    components that were delivered.
    """

    week: int
    planned: list[str]
    delivered: list[str]
    not_delivered: list[str]
    items_done: int
    items_total: int
    fidelity: float | None
    by_component: dict[str, float]
    planned_delivered: float


def session_fidelity(template: Template, record: SessionRecord) -> FidelitySummary:
    """Fidelity of a checked session (see :class:`FidelitySummary`)."""
    check_session(template, record)
    planned = list(template.plan(record.arm, record.week).components)
    delivered = list(record.components)
    by_component = {
        c: sum(record.fidelity[c].values()) / len(record.fidelity[c]) for c in delivered
    }
    done = sum(sum(v.values()) for v in record.fidelity.values())
    total = sum(len(v) for v in record.fidelity.values())
    return FidelitySummary(
        week=record.week,
        planned=planned,
        delivered=delivered,
        not_delivered=[c for c in planned if c not in delivered],
        items_done=done,
        items_total=total,
        fidelity=done / total if total else None,
        by_component=by_component,
        planned_delivered=sum(c in delivered for c in planned) / len(planned),
    )


class HomePractice(Record):
    """Home practice of one task on one day: minutes done (days without practice have no row)."""

    participant_id: Text
    week: Annotated[int, between(1, 52)]
    day: Annotated[int, between(1, 7)]
    task: Id
    minutes: Annotated[float, between(0, 600, low_open=True)]


def check_home_practice(template: Template, arm: str, record: HomePractice) -> HomePractice:
    """``record`` if its task is an active-arm component and its week a programme week.

    The sham arm has no home programme, so its participants have no home practice.
    """
    what = f"home practice {record.participant_id} week {record.week} day {record.day}"
    if _role(template, arm, what) == "sham":
        raise DataValidationError(f"{what}: the sham arm has no home programme")
    if record.week > template.programme.weeks:
        raise DataValidationError(f"{what}: the programme has {template.programme.weeks} weeks")
    if _component(template, record.task, what).role == "sham":
        raise DataValidationError(f"{what}: {record.task!r} is not an active-arm component")
    return record


class Adherence(Record):
    """A participant's adherence to the programme (either arm), up to ``through_week``."""

    participant_id: str
    arm: str
    through_week: int
    sessions_planned: int
    sessions_recorded: int
    sessions_attended: int
    received: bool
    adherent: bool
    clinic_minutes: float
    fidelity: float | None
    home_minutes: float
    home_target_minutes: float
    home_fraction: float | None
    home_adherent: bool | None


def adherence(
    template: Template,
    *,
    participant_id: str,
    arm: str,
    sessions: Sequence[SessionRecord],
    home: Sequence[HomePractice] = (),
    through_week: int | None = None,
) -> Adherence:
    """Sessions attended, received/adherent, clinic and home minutes, mean fidelity.

    Parameters
    ----------
    template : Template
    participant_id, arm : str
        The participant and their allocated arm.
    sessions, home : sequences
        The participant's records (others' are refused).
    through_week : int, optional
        Summarise weeks 1 to ``through_week`` (default: the whole programme).

    Returns
    -------
    Adherence
        ``received`` = attended >= ``[adherence] received_min_sessions`` (CONSORT
        "received allocated intervention"); ``adherent`` = attended >=
        ``adherent_min_sessions``; ``home_fraction`` = home minutes / planned home
        minutes (None when nothing was planned, e.g. the sham arm); ``fidelity`` = mean
        session fidelity over attended sessions (None when none).

    Raises
    ------
    DataValidationError
        A record of another participant or arm, two records of one week, or an
        invalid record (:func:`check_session`, :func:`check_home_practice`).
    """
    last = template.programme.weeks if through_week is None else through_week
    if (
        isinstance(last, bool)
        or not isinstance(last, int)
        or not 1 <= last <= template.programme.weeks
    ):
        raise DataValidationError(
            f"through_week must be 1 to {template.programme.weeks}; got {through_week!r}"
        )
    seen: set[int] = set()
    for s in sessions:
        if s.participant_id != participant_id or s.arm != arm:
            raise DataValidationError(
                f"session of {s.participant_id} ({s.arm}) given for {participant_id} ({arm})"
            )
        if s.week in seen:
            raise DataValidationError(f"{participant_id}: two session records for week {s.week}")
        seen.add(s.week)
        check_session(template, s)
    for h in home:
        if h.participant_id != participant_id:
            raise DataValidationError(
                f"home practice of {h.participant_id} given for {participant_id}"
            )
        check_home_practice(template, arm, h)
    own = [s for s in sessions if s.week <= last]
    attended = [s for s in own if s.attended]
    fid = [session_fidelity(template, s).fidelity for s in attended]
    scored = [f for f in fid if f is not None]
    target = sum(template.plan(arm, w).home_minutes_per_week for w in range(1, last + 1))
    done = sum(h.minutes for h in home if h.week <= last)
    fraction = done / target if target else None
    a = template.adherence
    return Adherence(
        participant_id=participant_id,
        arm=arm,
        through_week=last,
        sessions_planned=last,
        sessions_recorded=len(own),
        sessions_attended=len(attended),
        received=len(attended) >= a.received_min_sessions,
        adherent=len(attended) >= a.adherent_min_sessions,
        clinic_minutes=sum(s.minutes or 0.0 for s in attended),
        fidelity=statistics.fmean(scored) if scored else None,
        home_minutes=done,
        home_target_minutes=target,
        home_fraction=fraction,
        home_adherent=None if fraction is None else fraction >= a.home_target_fraction,
    )
