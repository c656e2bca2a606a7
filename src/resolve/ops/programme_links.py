"""Personal programme links: how a patient practises at home without an account.

The treating clinician creates a participant's link with
:func:`create_programme_link`: 256 random bits, returned once as the path
``/prog/<token>``; the database keeps only the token's SHA-256
(:class:`~resolve.store.models_programme.ProgrammeLink`). The link works until
the programme's last day (randomisation + the template's weeks) or until it is
revoked (:func:`revoke_programme_link`, or a new link, which replaces it). It is
not single-use: the patient comes back every day.

Whoever holds the link acts as the trial's participant system account (role
``participant``, :data:`resolve.ops.links.SYSTEM_USER`), and only for the link's
participant: :func:`link_participant` resolves a token and binds its participant
to the unit of work, and every programme operation of the participant account
refuses any other participant. :func:`run_as_link` does both for the web layer.
An unknown, expired or revoked link, a participant who left the programme and a
locked database all give the same :class:`~resolve.ops.links.LinkGone`.

Examples
--------
>>> link_path("abc")
'/prog/abc'
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from resolve.ops.context import TRIAL_ID, Context, trial_protocol
from resolve.ops.links import LinkGone, _audit_created, _system_account, token_hash
from resolve.ops.permissions import Operation
from resolve.ops.programme_store import LINK_KEY, subject
from resolve.store.models import Allocation, Participant, Role, Trial, TrialStatus, User
from resolve.store.models_programme import ProgrammeLink
from resolve.store.uow import Store
from resolve.trial.status import ParticipantStatus

__all__ = [
    "ProgrammeLinkInfo",
    "create_programme_link",
    "link_participant",
    "link_path",
    "programme_links",
    "revoke_programme_link",
    "run_as_link",
]

P = ParamSpec("P")
T = TypeVar("T")
_MAX_TOKEN = 128


def link_path(token: str) -> str:
    """The URL path of a programme link."""
    return f"/prog/{token}"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds")


@dataclass(frozen=True)
class ProgrammeLinkInfo:
    """One programme link as staff see it (never the token)."""

    id: int
    created_at: str
    expires_at: str
    created_by: str
    revoked_at: str | None
    state: str  # "open", "revoked" or "expired"


def _open_links(ctx: Context, participant_id: int, stamp: str) -> list[ProgrammeLink]:
    return list(
        ctx.session.execute(
            select(ProgrammeLink).where(
                ProgrammeLink.participant_id == participant_id,
                ProgrammeLink.revoked_at.is_(None),
                ProgrammeLink.expires_at > stamp,
            )
        ).scalars()
    )


def create_programme_link(ctx: Context, participant: str) -> tuple[str, str]:
    """Create the participant's personal programme link: ``("/prog/<token>", expires_at)``.

    The token is shown once (only its SHA-256 is stored). The link expires at the
    end of the programme's last day; an earlier open link of the participant is
    revoked. Audited (``programme_link create``, naming the link, not the participant).

    Raises
    ------
    TrialStateError
        The database is not open, the participant is not randomised (or left), or
        the programme is over.
    """
    ctx.require(Operation.deliver_programme)
    s = subject(ctx, participant, write=True)
    s.current_week()  # refuses a programme that is over
    end = s.randomised_on + timedelta(days=7 * s.template.programme.weeks)
    expires = _iso(datetime.combine(end, time(0, 0), tzinfo=UTC))
    now = _now()
    stamp = _iso(now)
    replaced = _open_links(ctx, s.participant.id, stamp)
    for old in replaced:
        old.revoked_at = stamp
        old.revoked_by = ctx.actor.id
    token = secrets.token_urlsafe(32)
    link = ProgrammeLink(
        token_hash=token_hash(token),
        participant_id=s.participant.id,
        created_at=stamp,
        expires_at=expires,
        created_by=ctx.actor.id,
        revoked_at=None,
        revoked_by=None,
    )
    ctx.session.add(link)
    ctx.session.flush()
    ctx.audit(
        entity="programme_link",
        entity_id=str(link.id),
        action="create",
        new={"expires_at": expires, "replaced": [r.id for r in replaced]},
    )
    return link_path(token), expires


def revoke_programme_link(ctx: Context, participant: str) -> int:
    """Revoke the participant's open programme link(s); how many were open. Audited."""
    ctx.require(Operation.deliver_programme)
    s = subject(ctx, participant, write=False)
    stamp = _iso(_now())
    links = _open_links(ctx, s.participant.id, stamp)
    for link in links:
        link.revoked_at = stamp
        link.revoked_by = ctx.actor.id
        ctx.audit(entity="programme_link", entity_id=str(link.id), action="revoke")
    return len(links)


def programme_links(ctx: Context, participant: str) -> list[ProgrammeLinkInfo]:
    """The participant's programme links, newest first (never their tokens)."""
    ctx.require(Operation.deliver_programme)
    s = subject(ctx, participant, write=False)
    stamp = _iso(_now())
    rows = ctx.session.execute(
        select(ProgrammeLink, User.name)
        .join(User, User.id == ProgrammeLink.created_by)
        .where(ProgrammeLink.participant_id == s.participant.id)
        .order_by(ProgrammeLink.id.desc())
    ).all()
    out = []
    for link, by in rows:
        state = (
            "revoked" if link.revoked_at else ("expired" if stamp >= link.expires_at else "open")
        )
        out.append(
            ProgrammeLinkInfo(link.id, link.created_at, link.expires_at, by, link.revoked_at, state)
        )
    return out


def _live(session: Session, token: object) -> Participant:
    """The participant of a live link, or :class:`LinkGone` (one answer for every reason)."""
    h = token_hash(token if isinstance(token, str) and len(token) <= _MAX_TOKEN else "")
    link = session.execute(
        select(ProgrammeLink).where(ProgrammeLink.token_hash == h)
    ).scalar_one_or_none()
    trial = session.get(Trial, TRIAL_ID)
    if link is None or trial is None:
        raise LinkGone()
    p = session.get(Participant, link.participant_id)
    allocated = session.execute(
        select(Allocation.id).where(Allocation.participant_id == link.participant_id)
    ).scalar_one_or_none()
    if (
        link.revoked_at is not None
        or _iso(_now()) >= link.expires_at
        or trial.status != TrialStatus.open.value
        or p is None
        or allocated is None
        or p.status != ParticipantStatus.randomised.value
    ):
        raise LinkGone()
    return p


def link_participant(ctx: Context, token: str) -> str:
    """The participant of a live programme link, bound to this unit of work.

    After this call the participant account may run the practise operations
    (:func:`resolve.ops.today`, :func:`resolve.ops.start_block` ...) for that
    participant, and for no other, in the same unit of work.

    Raises
    ------
    LinkGone
        Unknown, expired or revoked link, or the participant left the programme.
    """
    ctx.require(Operation.practise)
    p = _live(ctx.session, token)
    if ctx.role is Role.participant:
        ctx.session.info[LINK_KEY] = p.code
    return p.code


def run_as_link(
    store: Store,
    token: str,
    op: Callable[Concatenate[Context, str, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run ``op(ctx, participant, *args, **kwargs)`` as the link's holder, in one transaction.

    The actor is the participant system account (created, audited, on first use);
    ``participant`` is the link's participant. ``key_file`` (keyword) is the trial
    key file when it is not found otherwise.

    Raises
    ------
    LinkGone
        As :func:`link_participant`.
    """
    key_file: str | Path | None = kwargs.pop("key_file", None)  # type: ignore[assignment]

    def work(session: Session) -> T:
        trial = session.get(Trial, TRIAL_ID)
        if trial is None:
            raise LinkGone()
        _live(session, token)  # before anything is written
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
        if created:
            _audit_created(ctx, actor)
        code = link_participant(ctx, token)
        return op(ctx, code, *args, **kwargs)

    return store.run(work)
