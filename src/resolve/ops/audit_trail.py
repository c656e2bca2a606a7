"""Audit trail: verify (chain, checkpoints, and the data the events imply), checkpoint, read.

:func:`verify_trial` checks, in order: the HMAC chain and its head
(:func:`resolve.store.audit.verify`), the external checkpoints given, and then
**replays** the events: the participants, allocations, visits and responses
the events imply must equal the rows in the data tables. A direct edit of a
data table (an arm swapped, an answer changed, an allocation deleted and made
again) is reported as the first divergence, naming the participant and the
table, never an arm.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from resolve.errors import DataValidationError
from resolve.ops.context import TRIAL_ID, Context, TrialStateError
from resolve.ops.permissions import Operation
from resolve.store import audit
from resolve.store.models import (
    Allocation,
    AuditEvent,
    Participant,
    Response,
    ResponseRevision,
    Stratum,
    Trial,
    Unblinding,
    User,
    Visit,
)

__all__ = [
    "Problem",
    "checkpoint",
    "events",
    "lock_database",
    "unblind_statistician",
    "verify_trial",
]


@dataclass(frozen=True)
class Problem:
    """The first thing found wrong: where (event id or table) and what."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass
class _State:
    participants: dict[str, dict[str, Any]] = field(default_factory=dict)
    allocations: dict[str, dict[str, Any]] = field(default_factory=dict)
    visits: dict[tuple[str, str], str] = field(default_factory=dict)
    responses: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    revisions: dict[tuple[str, str, str, int], Any] = field(default_factory=dict)
    unblindings: list[tuple[str, str | None]] = field(default_factory=list)
    protocol_sha256: str | None = None
    status: str = "open"


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _replay(ctx: Context) -> tuple[_State, Problem | None]:
    st = _State()
    rows = ctx.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    for ev in rows:
        new = _load(ev.new_value) or {}
        where = f"audit event {ev.id}"
        if ev.entity == "participant":
            code = ev.entity_id
            p = st.participants.get(code)
            if ev.action in ("screen", "rescreen"):
                if (ev.action == "screen") == (p is not None):
                    return st, Problem(where, f"{ev.action} of participant {code!r} out of order")
                st.participants[code] = {
                    "status": new["status"],
                    "screening": new["screening"],
                    "factors": new["factors"],
                    "identity_hash": new.get("identity_hash"),
                    "eligible": new["status"] == "eligible",
                    "reasons": new.get("reasons", []),
                    "consent_version": None if p is None else p["consent_version"],
                    "clinician_id": None if p is None else p["clinician_id"],
                }
                continue
            if p is None:
                return st, Problem(where, f"{ev.action} of participant {code!r} never screened")
            if ev.action == "randomise":
                if code in st.allocations:
                    return st, Problem(where, f"participant {code!r} randomised a second time")
                st.allocations[code] = {
                    "arm": new["arm"],
                    "stratum": new["stratum"],
                    "position": new["position"],
                    "user": ev.user_name,
                }
            if ev.action == "emergency unblind":
                st.unblindings.append((code, ev.reason))
            if "status" in new:
                p["status"] = new["status"]
            if ev.action == "consent":
                p["consent_version"] = new["consent_version"]
            if ev.action == "assign clinician":
                p["clinician_id"] = new["clinician_id"]
        elif ev.entity == "visit" and ev.action == "create":
            code, _, visit = ev.entity_id.partition("/")
            st.visits[(code, visit)] = new["recorded_on"]
        elif ev.entity == "response":
            code, visit, instrument = ev.entity_id.split("/", 2)
            key = (code, visit, instrument)
            if (ev.action == "record") == (key in st.responses):
                return st, Problem(where, f"{ev.action} of {ev.entity_id} out of order")
            if ev.action == "correct":
                old = _load(ev.old_value) or {}
                st.revisions[(*key, int(old.get("revision", 0)))] = old.get("items")
            st.responses[key] = {
                "items": new["items"],
                "revision": new["revision"],
                "scores": new.get("scores"),
            }
        elif ev.entity == "app_user":
            if ev.action == "create":
                st.users[ev.entity_id] = {
                    "role": new["role"],
                    "active": True,
                    "site": new.get("site"),
                }
            elif ev.action == "deactivate" and ev.entity_id in st.users:
                st.users[ev.entity_id]["active"] = False
        elif ev.entity == "trial" and ev.action in ("lock", "unblind statistician"):
            st.status = new["status"]
        elif ev.entity == "trial" and ev.action == "init":
            st.protocol_sha256 = new.get("protocol_sha256")
    ctx.session.expunge_all()
    return st, None


def _compare(ctx: Context, st: _State) -> Problem | None:
    s = ctx.session
    trial = s.get(Trial, TRIAL_ID)
    if trial is not None and trial.status != st.status:
        return Problem("table trial", "the trial's data status differs from its audit events")
    if trial is not None and st.protocol_sha256 is not None:
        text = trial.protocol.get("toml", "")
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != st.protocol_sha256:
            return Problem("table trial", "the trial's protocol differs from the one at init")
    users = {u.name: u for u in s.execute(select(User)).scalars()}
    for name in sorted(set(users) | set(st.users)):
        u, e = users.get(name), st.users.get(name)
        if (
            u is None
            or e is None
            or u.role != e["role"]
            or bool(u.active) != e["active"]
            or u.site != e["site"]
        ):
            return Problem("table app_user", f"user {name!r} differs from its audit events")
    parts = {p.code: p for p in s.execute(select(Participant)).scalars()}
    for code in sorted(set(parts) | set(st.participants)):
        p, e = parts.get(code), st.participants.get(code)
        if p is None or e is None:
            return Problem("table participant", f"participant {code!r} has no matching events")
        if (
            p.status != e["status"]
            or p.screening != e["screening"]
            or dict(p.strata) != e["factors"]
            or p.identity_hash != e["identity_hash"]
            or p.consent_version != e["consent_version"]
            or p.clinician_id != e["clinician_id"]
            or bool(p.eligible) != e["eligible"]
            or list(p.reasons) != list(e["reasons"])
        ):
            return Problem("table participant", f"participant {code!r} differs from its events")
    allocs = {
        code: (a, levels, by)
        for code, a, levels, by in s.execute(
            select(Participant.code, Allocation, Stratum.levels, User.name)
            .join(Allocation, Allocation.participant_id == Participant.id)
            .join(Stratum, Stratum.id == Allocation.stratum_id)
            .join(User, User.id == Allocation.user_id)
        ).all()
    }
    for code in sorted(set(allocs) | set(st.allocations)):
        got, e = allocs.get(code), st.allocations.get(code)
        if got is None or e is None:
            return Problem("table allocation", f"allocation of {code!r} has no matching event")
        a, levels, by = got
        if (
            a.arm != e["arm"]
            or a.position != e["position"]
            or dict(levels) != e["stratum"]
            or by != e["user"]
        ):
            return Problem("table allocation", f"allocation of {code!r} differs from its event")
    for stratum in s.execute(select(Stratum)).scalars():
        n = sum(1 for e in st.allocations.values() if e["stratum"] == dict(stratum.levels))
        if stratum.key != "minimisation" and stratum.next_position != n + 1:
            return Problem("table stratum", f"stratum {stratum.key} counter differs from events")
    visits = {
        (code, name): on
        for code, name, on in s.execute(
            select(Participant.code, Visit.name, Visit.recorded_on).join(
                Visit, Visit.participant_id == Participant.id
            )
        ).all()
    }
    if visits != st.visits:
        bad = sorted(set(visits.items()) ^ set(st.visits.items()))[0]
        return Problem("table visit", f"visit {bad[0][0]}/{bad[0][1]} differs from its events")
    resp = {
        (code, visit, r.instrument): r
        for code, visit, r in s.execute(
            select(Participant.code, Visit.name, Response)
            .join(Visit, Visit.participant_id == Participant.id)
            .join(Response, Response.visit_id == Visit.id)
        ).all()
    }
    for key in sorted(set(resp) | set(st.responses)):
        r, e = resp.get(key), st.responses.get(key)
        if (
            r is None
            or e is None
            or r.items != e["items"]
            or r.revision != e["revision"]
            or (e["scores"] is not None and r.scores.get("scores") != e["scores"])
        ):
            return Problem("table response", f"response {'/'.join(key)} differs from its events")
    revs = {
        (code, visit, instrument, rev.revision): rev.items
        for code, visit, instrument, rev in s.execute(
            select(Participant.code, Visit.name, Response.instrument, ResponseRevision)
            .join(Visit, Visit.participant_id == Participant.id)
            .join(Response, Response.visit_id == Visit.id)
            .join(ResponseRevision, ResponseRevision.response_id == Response.id)
        ).all()
    }
    for rkey in sorted(set(revs) | set(st.revisions), key=str):
        if rkey not in revs or rkey not in st.revisions or revs[rkey] != st.revisions[rkey]:
            name = "/".join(map(str, rkey[:3]))
            return Problem(
                "table response_revision", f"revision {rkey[3]} of {name} differs from its events"
            )
    unblinded = s.execute(
        select(Participant.code, Unblinding.reason).join(
            Unblinding, Unblinding.participant_id == Participant.id
        )
    ).all()
    if sorted(map(tuple, unblinded), key=str) != sorted(st.unblindings, key=str):
        return Problem("table unblinding", "the emergency unblindings differ from their events")
    return None


def verify_trial(
    ctx: Context, *, checkpoints: list[dict[str, Any]] | None = None
) -> Problem | None:
    """Check the chain, the checkpoints, and the data tables against the events.

    Returns the first problem, or None when everything agrees.
    """
    ctx.require(Operation.verify_audit)
    broken = audit.verify(ctx.session, ctx.key, checkpoints=checkpoints, trial_uid=ctx.trial.uid)
    if broken is not None:
        return Problem(f"audit event {broken.event_id}", broken.problem)
    ctx.session.expunge_all()
    state, problem = _replay(ctx)
    if problem is not None:
        return problem
    return _compare(ctx, state)


def checkpoint(ctx: Context) -> dict[str, Any]:
    """The chain head, MACed, to store on write-once media (audited)."""
    ctx.require(Operation.checkpoint_audit)
    cp = audit.checkpoint(ctx.session, ctx.key, ctx.trial.uid)
    ctx.audit(
        entity="audit", entity_id=ctx.trial.uid, action="checkpoint", new={"last_id": cp["last_id"]}
    )
    return cp


_ARM_KEYS = ("arm",)


def events(ctx: Context, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The audit trail, newest last; arm values are redacted for roles that may not see arms."""
    ctx.require(Operation.read_audit)
    redact = ctx.arm_view != "all"
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    rows = list(ctx.session.execute(stmt).scalars())
    if limit is not None:
        if limit < 0:
            raise DataValidationError(f"limit must be >= 0; got {limit}")
        rows = rows[len(rows) - limit :] if limit else []
    out = []
    for ev in rows:
        old, new = _load(ev.old_value), _load(ev.new_value)
        if redact:
            for value in (old, new):
                if isinstance(value, dict):
                    for k in _ARM_KEYS:
                        if k in value:
                            value[k] = "(hidden)"
        out.append(
            {
                "id": ev.id,
                "at": ev.at,
                "user": ev.user_name,
                "entity": ev.entity,
                "entity_id": ev.entity_id,
                "action": ev.action,
                "old": old,
                "new": new,
                "reason": ev.reason,
            }
        )
    return out


def lock_database(ctx: Context, *, reason: str) -> None:
    """Lock the data (no more capture or corrections): an audited workflow step."""
    ctx.require(Operation.lock_database)
    if ctx.trial.status != "open":
        raise TrialStateError(f"the database is already {ctx.trial.status}")
    ctx.trial.status = "locked"
    ctx.audit(
        entity="trial", entity_id=TRIAL_ID, action="lock", new={"status": "locked"}, reason=reason
    )


def unblind_statistician(ctx: Context, *, reason: str) -> None:
    """After lock, let the blinded statistician see real arms: an audited workflow step."""
    ctx.require(Operation.unblind_statistician)
    if ctx.trial.status != "locked":
        raise TrialStateError(f"the database is {ctx.trial.status}; lock it before unblinding")
    ctx.trial.status = "unblinded"
    ctx.audit(
        entity="trial",
        entity_id=TRIAL_ID,
        action="unblind statistician",
        new={"status": "unblinded"},
        reason=reason,
    )
