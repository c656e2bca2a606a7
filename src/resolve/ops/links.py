"""Participant self-report: a personal, expiring, single-use link to one visit's questionnaires.

Staff (roles with :attr:`~resolve.ops.permissions.Operation.create_participant_link`:
enroller, assessor) create a link for a participant and a visit with
:func:`create_link`. Its token is 256 random bits (:func:`secrets.token_urlsafe`),
returned once and never stored: the database keeps only its SHA-256
(:class:`~resolve.store.models_web.ParticipantLink`). Whoever holds the link may,
until it expires (72 hours by default) or is submitted:

- see which questionnaires of the visit are still due (:func:`link_status`);
- save answers as a draft, one answer at a time (:func:`save_draft`): resumable,
  validated, but not trial data yet and not audited;
- submit (:func:`submit_link`): every due questionnaire must be complete; the
  answers are scored and stored by the same code as :func:`resolve.ops.record`
  (:func:`resolve.ops.capture.store_response`) and audited, in one transaction.
  Submitted answers are final (a change is a staff correction with a reason) and
  the link is used up.

An unknown, expired or used link, a link of a participant who can no longer
give data (withdrawn, lost...) and any link once the database is locked all
give the same :class:`LinkGone`: nothing tells them apart.

Submissions are attributed to the trial's **participant system account**
(:data:`SYSTEM_USER`, role ``participant``), created on first use inside the
submitting transaction (an audited ``app_user create``). It has no password,
cannot sign in, and may run no operation but ``submit self-report``; the audit
event of each submission names the link and, through it, the staff member who
created it. Nothing here reads or returns an allocation.

Examples
--------
>>> import tempfile, pathlib
>>> from resolve import ops
>>> db = pathlib.Path(tempfile.mkdtemp()) / "trial.db"
>>> _ = ops.init_trial(db, admin="ada", demo_seed=7)
>>> _ = ops.Client(db, user="ada").run(ops.add_user, "rc", role="enroller", password=None)
>>> rc = ops.Client(db, user="rc")
>>> _ = rc.run(ops.screen, "P001", age=40, duration_weeks=20, pain=6, identity="1984-02-01 AB")
>>> rc.run(ops.consent, "P001", version="1.0")
>>> token = rc.run(create_link, "P001", visit="baseline")
>>> link_status(rc.store, token).due[:2]
('nrs', 'rmdq24')
>>> save_draft(rc.store, token, "nrs", {"1": 7}).draft["nrs"]
{'1': 7}
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from resolve.errors import DataValidationError, ResolveError
from resolve.ops._link_answers import _check_answer, _instrument, _is_medication, unanswered
from resolve.ops.capture import store_response
from resolve.ops.context import (
    TRIAL_ID,
    Context,
    TrialStateError,
    participant_row,
    trial_protocol,
)
from resolve.ops.permissions import Operation, PermissionDenied
from resolve.store import audit
from resolve.store.models import Participant, Response, Role, Trial, TrialStatus, User, Visit
from resolve.store.models_web import ParticipantLink
from resolve.store.uow import Store
from resolve.trial.protocol import Protocol
from resolve.trial.status import RECORDABLE, ParticipantStatus

__all__ = [
    "DEFAULT_TTL_HOURS",
    "MAX_TTL_HOURS",
    "SYSTEM_USER",
    "LinkGone",
    "LinkInfo",
    "LinkState",
    "create_link",
    "ensure_system_account",
    "link_status",
    "participant_links",
    "save_draft",
    "submit_link",
    "token_hash",
    "unanswered",
]

#: Name of the trial's participant system account (role ``participant``).
SYSTEM_USER = "participant-self-report"
DEFAULT_TTL_HOURS = 72
#: Longest life of a link: 30 days.
MAX_TTL_HOURS = 24 * 30
#: Longest accepted token (a real one has 43 characters).
_MAX_TOKEN = 128


class LinkGone(ResolveError, LookupError):  # noqa: N818 - a verdict, as PermissionDenied
    """The link is unknown, expired or used (deliberately not saying which)."""

    def __init__(self) -> None:
        super().__init__("this link is not valid (it may have expired or been used)")


@dataclass(frozen=True)
class LinkState:
    """What a link's holder sees: the visit, when the link expires, what is due, the draft."""

    visit: str
    expires_at: str
    #: Instrument ids of the visit not yet recorded for the participant, in protocol order.
    due: tuple[str, ...]
    #: Saved answers: instrument id -> {item number (text) -> code or medication name}.
    draft: dict[str, dict[str, Any]] = field(default_factory=dict)

    def answers(self, instrument: str) -> dict[str, Any]:
        """The saved answers to one instrument (empty when none)."""
        return dict(self.draft.get(instrument, {}))

    def missing(self) -> dict[str, list[str]]:
        """Due instrument -> the items still unanswered (only instruments with gaps)."""
        out = {}
        for inst in self.due:
            gaps = unanswered(inst, self.answers(inst))
            if gaps:
                out[inst] = gaps
        return out


@dataclass(frozen=True)
class LinkInfo:
    """One link as staff see it (never the token)."""

    id: int
    visit: str
    created_at: str
    expires_at: str
    created_by: str
    used_at: str | None
    state: str  # "open", "used" or "expired"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds")


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a link token: all the database keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- staff side
def _due(session: Session, protocol: Protocol, participant_id: int, visit: str) -> tuple[str, ...]:
    spec = protocol.visit(visit)
    done = set(
        session.execute(
            select(Response.instrument)
            .join(Visit, Visit.id == Response.visit_id)
            .where(Visit.participant_id == participant_id, Visit.name == visit)
        ).scalars()
    )
    return tuple(i for i in spec.instruments if i not in done)


def create_link(
    ctx: Context, participant: str, *, visit: str, ttl_hours: int = DEFAULT_TTL_HOURS
) -> str:
    """Create a participant's personal link to the questionnaires due at ``visit``.

    Returns the token (shown once; only its SHA-256 is stored). An earlier link
    of the same participant and visit that is still open stops working: the new
    one replaces it. Audited (``participant_link create``).

    Raises
    ------
    DataValidationError
        Unknown visit, a visit without questionnaires, or ``ttl_hours`` outside
        1 to :data:`MAX_TTL_HOURS`.
    TrialStateError
        Database not open, a participant who cannot give data, or nothing left to answer.
    """
    ctx.require(Operation.create_participant_link)
    if isinstance(ttl_hours, bool) or not isinstance(ttl_hours, int):
        raise DataValidationError("a link's lifetime is a whole number of hours")
    if not 1 <= ttl_hours <= MAX_TTL_HOURS:
        raise DataValidationError(f"a link lives between 1 and {MAX_TTL_HOURS} hours")
    if ctx.trial.status != TrialStatus.open.value:
        raise TrialStateError(f"the database is {ctx.trial.status}; no data can be collected")
    p = participant_row(ctx, participant, lock=True)
    site = ctx.actor.site
    if site is not None and p.strata.get("site", site) != site:
        raise PermissionDenied(
            f"user {ctx.actor.name!r} works at site {site!r}; participant {p.code!r} is not "
            "at that site"
        )
    spec = ctx.protocol.visit(visit)
    if not spec.instruments:
        raise DataValidationError(f"visit {visit!r} has no questionnaires")
    if ParticipantStatus(p.status) not in RECORDABLE:
        raise TrialStateError(f"participant {p.code!r} is {p.status}; cannot collect data")
    if not _due(ctx.session, ctx.protocol, p.id, visit):
        raise TrialStateError(
            f"every questionnaire of visit {visit!r} is recorded for participant {p.code!r}"
        )
    now = _now()
    stamp = _iso(now)
    replaced = 0
    for old in ctx.session.execute(
        select(ParticipantLink).where(
            ParticipantLink.participant_id == p.id,
            ParticipantLink.visit == visit,
            ParticipantLink.used_at.is_(None),
            ParticipantLink.expires_at > stamp,
        )
    ).scalars():
        old.expires_at = stamp
        replaced += 1
    token = secrets.token_urlsafe(32)
    link = ParticipantLink(
        token_hash=token_hash(token),
        participant_id=p.id,
        visit=spec.name,
        created_at=stamp,
        expires_at=_iso(now + timedelta(hours=ttl_hours)),
        created_by=ctx.actor.id,
        used_at=None,
        draft={},
    )
    ctx.session.add(link)
    ctx.session.flush()
    ctx.audit(
        entity="participant_link",
        entity_id=f"{p.code}/{spec.name}",
        action="create",
        new={"link": link.id, "expires_at": link.expires_at, "replaced": replaced},
    )
    return token


def participant_links(ctx: Context, participant: str) -> list[LinkInfo]:
    """A participant's links, newest first (never their tokens)."""
    ctx.require(Operation.create_participant_link)
    p = participant_row(ctx, participant)
    stamp = _iso(_now())
    rows = ctx.session.execute(
        select(ParticipantLink, User.name)
        .join(User, User.id == ParticipantLink.created_by)
        .where(ParticipantLink.participant_id == p.id)
        .order_by(ParticipantLink.id.desc())
    ).all()
    out = []
    for link, by in rows:
        state = "used" if link.used_at else ("expired" if stamp >= link.expires_at else "open")
        out.append(
            LinkInfo(link.id, link.visit, link.created_at, link.expires_at, by, link.used_at, state)
        )
    return out


# ----------------------------------------------------------------------------- holder side
def _live(
    session: Session, token: str, *, lock: bool
) -> tuple[Trial, ParticipantLink, Participant]:
    """The trial, the link and its participant, or :class:`LinkGone` (one answer for all)."""
    h = token_hash(token if isinstance(token, str) and len(token) <= _MAX_TOKEN else "")
    stmt = select(ParticipantLink).where(ParticipantLink.token_hash == h)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    link = session.execute(stmt).scalar_one_or_none()
    trial = session.get(Trial, TRIAL_ID)
    if link is None or trial is None:
        raise LinkGone()
    p = session.get(Participant, link.participant_id)
    if (
        link.used_at is not None
        or _iso(_now()) >= link.expires_at
        or trial.status != TrialStatus.open.value
        or p is None
        or ParticipantStatus(p.status) not in RECORDABLE
    ):
        raise LinkGone()
    return trial, link, p


def _state(session: Session, trial: Trial, link: ParticipantLink) -> LinkState:
    due = _due(session, trial_protocol(trial), link.participant_id, link.visit)
    draft = {k: dict(v) for k, v in (link.draft or {}).items() if k in due}
    return LinkState(link.visit, link.expires_at, due, draft)


def link_status(store: Store, token: str) -> LinkState:
    """The visit, expiry, due questionnaires and saved draft of a live link.

    Raises
    ------
    LinkGone
        Unknown, expired or used link (or data can no longer be collected).
    """

    def work(session: Session) -> LinkState:
        trial, link, _ = _live(session, token, lock=False)
        return _state(session, trial, link)

    return store.run(work, read_only=True)


def save_draft(store: Store, token: str, instrument: str, answers: Mapping[str, Any]) -> LinkState:
    """Save answers to one due questionnaire (merged into the draft; an empty value clears).

    Nothing is trial data until :func:`submit_link`.

    Raises
    ------
    LinkGone
        As :func:`link_status`.
    DataValidationError
        An instrument not due on this link, an unknown item or an inadmissible answer
        (nothing is saved then).
    """
    if not isinstance(answers, Mapping):
        raise DataValidationError("answers are an object of item -> answer")

    def work(session: Session) -> LinkState:
        trial, link, _ = _live(session, token, lock=True)
        state = _state(session, trial, link)
        if instrument not in state.due:
            raise DataValidationError(f"questionnaire {instrument!r} is not due on this link")
        merged = state.answers(instrument)
        for item, value in answers.items():
            checked = _check_answer(instrument, str(item), value)
            if checked is None:
                merged.pop(str(item), None)
            else:
                merged[str(item)] = checked
        draft = dict(state.draft)
        draft[instrument] = merged
        link.draft = draft
        session.flush()
        return LinkState(state.visit, state.expires_at, state.due, draft)

    return store.run(work)


def ensure_system_account(ctx: Context) -> User:
    """The participant system account; created (audited as ``ctx``'s actor) if missing."""
    user, created = _system_account(ctx.session)
    if created:
        _audit_created(ctx, user)
    return user


def _audit_created(ctx: Context, user: User) -> None:
    ctx.audit(
        entity="app_user",
        entity_id=user.name,
        action="create",
        new={"name": user.name, "role": user.role, "site": None, "password": False},
    )


def _system_account(session: Session) -> tuple[User, bool]:
    """The participant system account, created when missing: (user, created)."""
    found = (
        session.execute(select(User).where(User.role == Role.participant.value).order_by(User.id))
        .scalars()
        .first()
    )
    if found is not None:
        return found, False
    taken = session.execute(select(User.id).where(User.name == SYSTEM_USER)).scalar_one_or_none()
    if taken is not None:
        raise TrialStateError(
            f"a user named {SYSTEM_USER!r} exists with another role; participant links "
            "need that name for their system account"
        )
    user = User(
        name=SYSTEM_USER,
        role=Role.participant.value,
        created_at=audit.now(),
        password_hash=None,
        active=True,
        site=None,
    )
    try:
        with session.begin_nested():  # a concurrent first submission may create it too
            session.add(user)
            session.flush()
    except IntegrityError:
        again = session.execute(select(User).where(User.name == SYSTEM_USER)).scalar_one()
        return again, False
    return user, True


def _items(instrument_id: str, state: LinkState) -> dict[str, Any]:
    """The draft answers as :func:`resolve.ops.record` takes them."""
    answers = state.answers(instrument_id)
    if _is_medication(_instrument(instrument_id)):  # filled slots, renumbered from 1
        names = [answers[k] for k in sorted(answers, key=int)]
        return {f"{instrument_id}_{n}": name for n, name in enumerate(names, start=1)}
    return answers


def submit_link(
    store: Store, token: str, *, key_file: str | Path | None = None
) -> dict[str, dict[str, Any]]:
    """Submit the draft: score, store and audit every due questionnaire; use up the link.

    All or nothing: a questionnaire with unanswered items, or an answer the
    scoring refuses, leaves everything (draft and link) as it was. Returns
    instrument id -> stored scores (as :func:`resolve.ops.record`).

    Raises
    ------
    LinkGone
        As :func:`link_status`.
    DataValidationError
        Unanswered items (named) or answers the scoring refuses.
    """

    def work(session: Session) -> dict[str, dict[str, Any]]:
        trial, link, p = _live(session, token, lock=True)
        state = _state(session, trial, link)
        missing = state.missing()
        if missing:
            listed = "; ".join(f"{i}: item(s) {', '.join(n)}" for i, n in missing.items())
            raise DataValidationError(f"some questions are not answered yet ({listed})")
        actor, created = _system_account(session)
        if not actor.active:
            raise LinkGone()
        ctx = Context(
            session=session,
            actor=actor,
            trial=trial,
            protocol=trial_protocol(trial),
            _key=None,
            _key_file=key_file,
        )
        ctx.require(Operation.submit_self_report)
        if created:
            _audit_created(ctx, actor)
        scores = {}
        for inst in state.due:
            scores[inst] = store_response(
                ctx, p.code, visit=link.visit, instrument=inst, items=_items(inst, state)
            )
        link.used_at = audit.now()
        link.draft = {}
        creator = session.get(User, link.created_by)
        ctx.audit(
            entity="participant_link",
            entity_id=f"{p.code}/{link.visit}",
            action="submit",
            new={
                "link": link.id,
                "instruments": list(state.due),
                "created_by": creator.name if creator is not None else None,
            },
        )
        return scores

    return store.run(work)
