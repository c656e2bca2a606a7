"""Demo programme data in a trial store: 12 weeks for one participant of each arm.

:func:`load_demo_programme` takes the seeded records of
:func:`resolve.program.demo.demo_programme` (an active-arm and a sham
participant), re-keys them to the earliest-randomised participant of each of the
template's arms in a demo trial, and stores them with the same code as the
programme operations (:func:`resolve.ops.programme_store.append`), week by week,
each record stamped in its own programme week (randomisation day + 7 days per
week). Weeks that have not started yet are left out. The participants get the
demo's clinician as their treating clinician (who then sees them and their
arm); records of home practice come in through the participant account, as
through a programme link, the rest from the clinician.

For ``resolve serve --demo`` (:func:`resolve.cli.serve.make_demo_trial`) and
tests; the records are illustrations, not trial data.

Examples
--------
>>> from datetime import date
>>> _stamp(date(2026, 1, 1), 2, 0)[:16]
'2026-01-08T09:00'
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from sqlalchemy import select
from sqlalchemy.orm import Session

from resolve.errors import DataValidationError
from resolve.ops.context import TRIAL_ID, Context, trial_protocol
from resolve.ops.links import _audit_created, _system_account
from resolve.ops.programme_store import (
    LINK_KEY,
    Subject,
    append,
    programme_week,
    subject,
    template_for,
    today,
)
from resolve.program.export import ParticipantProgramme
from resolve.store import audit
from resolve.store.models import Allocation, Participant, Trial
from resolve.store.uow import Store
from resolve.trial.status import ParticipantStatus

__all__ = ["DemoLoad", "load_demo_programme"]


@dataclass(frozen=True)
class DemoLoad:
    """What :func:`load_demo_programme` stored.

    ``participants``: role (``active``/``sham``) -> participant id;
    ``weeks``: role -> number of programme weeks loaded; ``finished``: how many
    randomised participants were in their last programme week or past it (the
    candidates); ``records``: records stored; ``programme_weeks``: the
    template's number of weeks.
    """

    participants: dict[str, str] = field(default_factory=dict)
    weeks: dict[str, int] = field(default_factory=dict)
    finished: int = 0
    records: int = 0
    programme_weeks: int = 12

    @property
    def complete(self) -> bool:
        """Whether both arms have a participant with every programme week loaded."""
        return len(self.weeks) == 2 and all(w == self.programme_weeks for w in self.weeks.values())


def _stamp(randomised_on: date, week: int, tick: int) -> str:
    start = datetime(randomised_on.year, randomised_on.month, randomised_on.day, 9, tzinfo=UTC)
    return (start + timedelta(days=7 * (week - 1), seconds=tick)).isoformat(timespec="microseconds")


@contextlib.contextmanager
def _in_week(randomised_on: date, week: int) -> Iterator[None]:
    """Stamp what is stored inside as done in programme week ``week`` (demo data only)."""
    tick = itertools.count()
    with mock.patch.object(audit, "now", lambda: _stamp(randomised_on, week, next(tick))):
        yield


def _choose(session: Session, template: Any) -> tuple[dict[str, tuple[str, date]], int]:
    """Earliest-randomised participant per template role, and how many are in week >= last."""
    rows = session.execute(
        select(Participant.code, Allocation.arm, Allocation.allocated_at)
        .join(Allocation, Allocation.participant_id == Participant.id)
        .where(
            Participant.trial_id == TRIAL_ID,
            Participant.status == ParticipantStatus.randomised.value,
        )
        .order_by(Allocation.allocated_at)
    ).all()
    weeks = template.programme.weeks
    chosen: dict[str, tuple[str, date]] = {}
    finished = 0
    for code, arm, at in rows:
        on = date.fromisoformat(at[:10])
        week = programme_week(on, today(), weeks)
        if week is None or week == weeks:
            finished += 1
        chosen.setdefault(template.role(arm), (code, on))
    return chosen, finished


def _stream(data: ParticipantProgramme) -> dict[int, list[tuple[str, str | None, Any]]]:
    """Per week, (kind, ref, record) in the order they happened."""
    out: dict[int, list[tuple[str, str | None, Any]]] = {}
    blocks = {b.block_id: b for b in data.blocks}
    logs = {(x.exercise, f"{x.exercise}/session {x.session}"): x for x in data.loading_logs}
    tests = {t.exercise: t for t in data.tolerance_tests}
    plans = {pl.exercise: pl for pl in data.loading_plans}
    week = 1

    def add(week: int, kind: str, ref: str | None, record: Any) -> None:
        out.setdefault(week, []).append((kind, ref, record))

    for s in data.sessions:
        add(s.week, "session", None, s)
    for run in data.twopoint:
        add(run.week, "twopoint", None, run)
    for q in data.quizzes:
        add(q.week, "quiz", None, q)
    for d in data.decisions:
        if d.decided_by == "clinician":
            add(week, "override", None, d)
        elif d.task == "loading":
            assert d.item is not None
            log = logs[(d.item, d.blocks[-1])]
            week = log.week
            if d.item in tests:
                add(week, "tolerance", None, tests.pop(d.item))
                add(week, "loading_plan", None, plans.pop(d.item))
            add(week, "loading", None, log)
            add(week, "decision", f"loading/{log.exercise}/{log.session}", d)
        else:
            block = blocks[d.blocks[-1]]
            week = block.week
            add(week, "block", block.block_id, block)
            add(week, "decision", block.block_id, d)
    for r in data.imagery:
        add(r.week, "imagery", None, r)
    for dr in data.drills:
        add(dr.week, "drill", None, dr)
    for h in data.home_practice:
        add(h.week, "home_practice", None, h)
    return out


def _link_context(ctx: Context, code: str) -> Context:
    """The participant account, bound to ``code`` as a programme link binds it."""
    actor, created = _system_account(ctx.session)
    if created:
        _audit_created(ctx, actor)
    ctx.session.info[LINK_KEY] = code
    return Context(ctx.session, actor, ctx.trial, ctx.protocol, ctx._key, ctx._key_file)


def _home(kind: str, record: Any) -> bool:
    return kind == "home_practice" or getattr(record, "setting", "clinic") == "home"


def _rekey(value: Any, old: str, new: str) -> Any:
    """``value`` (JSON) with participant id ``old`` (alone or as a block id prefix) -> ``new``."""
    if isinstance(value, str):
        if value == old:
            return new
        return new + value[len(old) :] if value.startswith(old + "/") else value
    if isinstance(value, dict):
        return {k: _rekey(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rekey(v, old, new) for v in value]
    return value


def _store(ctx: Context, s: Subject, data: ParticipantProgramme, last_week: int) -> int:
    link = _link_context(ctx, s.code)
    n = 0
    for week, items in sorted(_stream(data).items()):
        if week > last_week:
            break
        with _in_week(s.randomised_on, week):
            for kind, ref, record in items:
                who = link if _home(kind, record) and s.role == "active" else ctx
                payload = _rekey(record.to_dict(), data.participant_id, s.code)
                if kind == "override":
                    payload["clinician"] = ctx.actor.name
                key = None if ref is None else _rekey(ref, data.participant_id, s.code)
                append(who, s, kind, week, payload, ref=key)
                n += 1
    return n


def load_demo_programme(
    db: str | Path | Store,
    *,
    clinician: str,
    admin: str,
    key_file: str | Path | None = None,
    seed: int = 2022,
) -> DemoLoad | None:
    """Store the demo programme for the earliest-randomised participant of each arm.

    Parameters
    ----------
    db : str, Path or Store
        A demo trial (randomised participants, a clinician and an admin account).
    clinician, admin : str
        The clinician who treats the demo participants; the admin who assigns them.
    key_file : str or Path, optional
        The trial key file.
    seed : int
        Seed of :func:`resolve.program.demo.demo_programme`.

    Returns
    -------
    DemoLoad or None
        None when the trial's protocol does not fit the programme template (its
        arms are not the template's), so no programme is loaded.
    """
    from resolve import ops
    from resolve.program.demo import demo_programme

    store = db if isinstance(db, Store) else Store(db)

    def pick(session: Session) -> tuple[Any, dict[str, tuple[str, date]], int] | None:
        trial = session.get(Trial, TRIAL_ID)
        assert trial is not None
        try:
            template = template_for(trial_protocol(trial))
        except DataValidationError:
            return None
        chosen, finished = _choose(session, template)
        return template, chosen, finished

    found = store.run(pick, read_only=True)
    if found is None:
        return None
    template, chosen, finished = found
    boss = ops.Client(store, user=admin, key_file=key_file)
    for code, _ in chosen.values():
        boss.run(ops.assign_clinician, code, clinician=clinician)
    demo = demo_programme(seed, template=template)
    by_role = {"active": demo.participants[0], "sham": demo.participants[1]}
    doc = ops.Client(store, user=clinician, key_file=key_file)
    participants: dict[str, str] = {}
    weeks: dict[str, int] = {}
    stored = 0
    for role, (code, on) in chosen.items():
        last = programme_week(on, today(), template.programme.weeks) or template.programme.weeks

        def load(ctx: Context, code: str = code, role: str = role, last: int = last) -> int:
            return _store(ctx, subject(ctx, code, write=True), by_role[role], last)

        stored += doc.run(load)
        participants[role], weeks[role] = code, last
    return DemoLoad(participants, weeks, finished, stored, template.programme.weeks)
