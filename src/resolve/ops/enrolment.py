"""Enrolment operations: screen, consent, randomise, status changes, emergency unblinding.

Allocation goes only through the randomiser protocol
(:func:`resolve.trial.randomize.make_randomizer`) with the entropy of the trial
key: the database holds neither a list nor a seed. Allocations in a stratum are
serialised on its counter row (``SELECT ... FOR UPDATE``; SQLite writers are
exclusive), and the counter must equal the number of allocations already made
in the stratum, so a deleted allocation is refused, not silently re-used.
"""

from __future__ import annotations

import os
import time
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from resolve.errors import DataValidationError
from resolve.ops.context import TRIAL_ID, Context, TrialStateError, participant_row
from resolve.ops.permissions import Operation, PermissionDenied
from resolve.ops.setup import MINIMISATION_KEY, stratum_key
from resolve.store import audit
from resolve.store.models import (
    Allocation,
    Participant,
    Role,
    Site,
    Stratum,
    Unblinding,
    User,
)
from resolve.trial.eligibility import EligibilityResult, check_eligibility
from resolve.trial.protocol import Protocol
from resolve.trial.randomize import make_randomizer
from resolve.trial.status import ParticipantStatus, TransitionError, next_status

__all__ = [
    "MARKER_ENV",
    "PAUSE_ENV",
    "assign_clinician",
    "consent",
    "emergency_unblind",
    "mark_lost",
    "mark_randomised_in_error",
    "randomise",
    "screen",
    "withdraw",
]

#: Test hook: seconds to sleep inside the allocation transaction before commit.
PAUSE_ENV = "RESOLVE_TEST_ALLOCATION_PAUSE"
#: Test hook: file written when the pause starts.
MARKER_ENV = "RESOLVE_TEST_ALLOCATION_MARKER"


def _text(value: str | None, what: str) -> str:
    if value is None or not str(value).strip():
        raise DataValidationError(f"{what} is required and must not be blank")
    return str(value).strip()


def _transition(action: str, p: Participant) -> str | None:
    try:
        return next_status(action, p.status)
    except TransitionError as exc:
        raise TrialStateError(f"participant {p.code!r}: {exc}") from None


def _identity_hash(ctx: Context, identity: str) -> str:
    """Keyed hash of identifying fields (NFC, case-folded, whitespace collapsed).

    The same person gives the same hash whatever the spacing or case; the hash
    reveals nothing without the trial key.
    """
    text = unicodedata.normalize("NFC", identity).casefold()
    canonical = " ".join(text.replace(";", " ; ").split())
    if len(canonical) < 4:
        raise DataValidationError(
            "identifying fields are required (e.g. date of birth and initials) "
            "to guard against enrolling one person twice"
        )
    return ctx.key.mac("identity v1", canonical.encode("utf-8"))


def _same_site(ctx: Context, p: Participant) -> None:
    """A site-bound user acts only on participants of their own site."""
    site = ctx.actor.site
    if site is not None and p.strata.get("site", site) != site:
        raise PermissionDenied(
            f"user {ctx.actor.name!r} works at site {site!r}; participant {p.code!r} is not "
            "at that site"
        )


def _factor_levels(ctx: Context, given: Mapping[str, str] | None) -> dict[str, str]:
    proto = ctx.protocol
    known = proto.strata_levels
    out: dict[str, str] = {}
    for name, level in dict(given or {}).items():
        if name not in known:
            raise DataValidationError(
                f"unknown factor {name!r}; known: {', '.join(known) or '(none)'}"
            )
        if level not in known[name]:
            raise DataValidationError(
                f"factor {name}: unknown level {level!r}; allowed: {', '.join(known[name])}"
            )
        out[name] = level
    site = ctx.actor.site
    if site is not None and "site" in known:
        if out.get("site", site) != site:
            raise PermissionDenied(
                f"user {ctx.actor.name!r} works at site {site!r} and cannot screen for "
                f"site {out['site']!r}"
            )
        out["site"] = site
    for name, levels in known.items():
        if name not in out and len(levels) == 1:
            out[name] = levels[0]
    return out


def screen(
    ctx: Context,
    participant: str,
    *,
    age: int,
    duration_weeks: float,
    pain: int,
    identity: str,
    exclusions: Iterable[str] = (),
    factors: Mapping[str, str] | None = None,
) -> EligibilityResult:
    """Screen a participant against the protocol's eligibility rules.

    ``identity`` is the person's identifying fields (e.g. ``"1971-03-02 AB"``),
    stored only as a keyed hash: screening the same person under another id is
    refused. ``factors`` are the prognostic factor levels recorded now and used
    at randomisation; a site-bound user's site is filled in and cannot be
    overridden. Rescreening is allowed until consent.
    """
    ctx.require(Operation.screen)
    code = ctx.protocol.check_participant_id(participant)
    exclusions = tuple(exclusions)
    result = check_eligibility(
        ctx.protocol, age=age, duration_weeks=duration_weeks, pain=pain, exclusions=exclusions
    )
    levels = _factor_levels(ctx, factors)
    ident = _identity_hash(ctx, identity)
    session = ctx.session
    existing = session.execute(
        select(Participant)
        .where(Participant.trial_id == TRIAL_ID, Participant.code == code)
        .with_for_update()
    ).scalar_one_or_none()
    twin = session.execute(
        select(Participant.code).where(
            Participant.trial_id == TRIAL_ID,
            Participant.identity_hash == ident,
            Participant.code != code,
        )
    ).scalar_one_or_none()
    if twin is not None:
        raise TrialStateError(
            f"participant {code!r} has the identifying details of participant {twin!r}; "
            "one person cannot be enrolled twice"
        )
    status = ParticipantStatus.eligible if result.eligible else ParticipantStatus.ineligible
    screening = {
        "age": age,
        "duration_weeks": duration_weeks,
        "pain": pain,
        "exclusions": sorted(exclusions),
    }
    site_id = None
    if "site" in levels:
        site_id = session.execute(
            select(Site.id).where(Site.trial_id == TRIAL_ID, Site.code == levels["site"])
        ).scalar_one_or_none()
    new = {
        "status": status.value,
        "screening": screening,
        "reasons": list(result.reasons),
        "factors": levels,
        "identity_hash": ident,
    }
    if existing is None:
        session.add(
            Participant(
                trial_id=TRIAL_ID,
                code=code,
                site_id=site_id,
                status=status.value,
                screening=screening,
                eligible=result.eligible,
                reasons=list(result.reasons),
                strata=levels,
                screened_at=audit.now(),
                identity_hash=ident,
            )
        )
        session.flush()
        ctx.audit(entity="participant", entity_id=code, action="screen", new=new)
        return result
    _transition("screen", existing)
    old = {
        "status": existing.status,
        "screening": existing.screening,
        "reasons": existing.reasons,
        "factors": existing.strata,
        "identity_hash": existing.identity_hash,
    }
    existing.status = status.value
    existing.screening = screening
    existing.eligible = result.eligible
    existing.reasons = list(result.reasons)
    existing.strata = levels
    existing.site_id = site_id
    existing.identity_hash = ident
    existing.screened_at = audit.now()
    ctx.audit(entity="participant", entity_id=code, action="rescreen", old=old, new=new)
    return result


def consent(ctx: Context, participant: str, *, version: str) -> None:
    """Record informed consent (a protocol consent version); re-consent to a newer one."""
    ctx.require(Operation.consent)
    v = _text(version, "a consent version")
    if v not in ctx.protocol.consent_versions:
        raise DataValidationError(
            f"unknown consent version {v!r}; allowed: {', '.join(ctx.protocol.consent_versions)}"
        )
    p = participant_row(ctx, participant, lock=True)
    _same_site(ctx, p)
    if p.status == ParticipantStatus.ineligible:
        raise TrialStateError(
            f"participant {p.code!r} is ineligible ({'; '.join(map(str, p.reasons))}); "
            "cannot consent"
        )
    new_status = _transition("consent", p)
    assert new_status is not None
    old = {"status": p.status, "consent_version": p.consent_version}
    p.status = new_status
    p.consent_version = v
    p.consented_at = audit.now()
    ctx.audit(
        entity="participant",
        entity_id=p.code,
        action="consent",
        old=old,
        new={"status": new_status, "consent_version": v},
    )


# ----------------------------------------------------------------------------- randomisation
_RANDOMIZERS: dict[tuple[str, str, str], Any] = {}


def _randomizer(ctx: Context) -> Any:
    cache_key = (ctx.trial.uid, ctx.trial.key_fingerprint, ctx.trial.protocol["toml"])
    r = _RANDOMIZERS.get(cache_key)
    if r is None:
        r = _RANDOMIZERS[cache_key] = make_randomizer(ctx.protocol, ctx.key.entropy)
    return r


def _test_pause() -> None:
    pause = os.environ.get(PAUSE_ENV)
    if not pause:
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(float(pause))


def _can_see(ctx: Context, p: Participant, alloc: Allocation) -> bool:
    view = ctx.arm_view
    if view == "all":
        return True
    if view != "own":
        return False
    if ctx.role is Role.clinician:
        return p.clinician_id == ctx.actor.id
    return alloc.user_id == ctx.actor.id


def _factors_for(proto: Protocol, p: Participant) -> dict[str, str]:
    needed = proto.allocation_factors
    missing = [f for f in needed if f not in p.strata]
    if missing:
        raise TrialStateError(
            f"participant {p.code!r} has no recorded level for factor(s) {', '.join(missing)}; "
            "screen them again with the factor levels"
        )
    return {f: str(p.strata[f]) for f in needed}


def randomise(ctx: Context, participant: str) -> str:
    """Allocate a consented participant; return the arm.

    Repeated for an allocated participant: returns the existing arm to a user
    who may see it (idempotent; the read is audited), refuses everyone else.
    """
    ctx.require(Operation.randomise)
    session = ctx.session
    p = participant_row(ctx, participant)
    _same_site(ctx, p)
    proto = ctx.protocol
    if p.status in (ParticipantStatus.randomised, ParticipantStatus.randomised_in_error):
        alloc = session.execute(
            select(Allocation).where(Allocation.participant_id == p.id)
        ).scalar_one_or_none()
        if alloc is not None and _can_see(ctx, p, alloc):
            ctx.audit(entity="allocation", entity_id=p.code, action="read", new={"arm": alloc.arm})
            return alloc.arm
        raise TrialStateError(f"participant {p.code!r} is already randomised")
    _transition("randomise", p)
    factors = _factors_for(proto, p)
    if proto.randomisation.method == "blocks":
        key = stratum_key({f: factors[f] for f in proto.strata})
    else:
        key = MINIMISATION_KEY
    stratum = session.execute(
        select(Stratum)
        .where(Stratum.trial_id == TRIAL_ID, Stratum.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if stratum is None:
        raise TrialStateError(f"no allocation stratum {key}")
    p = participant_row(ctx, participant, lock=True)  # re-read under the lock
    _transition("randomise", p)
    position = stratum.next_position
    made = session.execute(
        select(func.count()).select_from(Allocation).where(Allocation.stratum_id == stratum.id)
    ).scalar_one()
    if made != position - 1:
        raise TrialStateError(
            f"the allocation record of stratum {key} is inconsistent ({made} allocations, "
            f"counter at {position - 1}); nothing allocated: verify the audit trail"
        )
    if proto.randomisation.method == "blocks" and position > stratum.length:
        raise TrialStateError(
            f"the allocation list of stratum {key} is used up ({stratum.length} allocations); "
            "a protocol amendment must extend it"
        )
    rows = session.execute(
        select(Allocation.arm, Participant.strata)
        .join(Participant, Participant.id == Allocation.participant_id)
        .where(Participant.trial_id == TRIAL_ID)
        .order_by(Allocation.id)
    ).all()
    existing = [
        (arm, {f: str(levels[f]) for f in proto.allocation_factors if f in levels})
        for arm, levels in rows
    ]
    arm = str(_randomizer(ctx).next_arm(factors, existing))
    stratum.next_position = position + 1
    session.add(
        Allocation(
            participant_id=p.id,
            arm=arm,
            stratum_id=stratum.id,
            position=position,
            allocated_at=audit.now(),
            user_id=ctx.actor.id,
        )
    )
    old_status = p.status
    p.status = ParticipantStatus.randomised.value
    ctx.audit(
        entity="participant",
        entity_id=p.code,
        action="randomise",
        old={"status": old_status},
        new={"status": p.status, "arm": arm, "stratum": stratum.levels, "position": position},
    )
    session.flush()
    _test_pause()
    return arm


# ----------------------------------------------------------------------------- status
def _change_status(ctx: Context, participant: str, action: str, reason: str) -> None:
    why = _text(reason, "a reason")
    p = participant_row(ctx, participant, lock=True)
    _same_site(ctx, p)
    new_status = _transition(action, p)
    assert new_status is not None
    old = {"status": p.status}
    p.status = new_status
    p.status_reason = why
    p.status_changed_at = audit.now()
    ctx.audit(
        entity="participant",
        entity_id=p.code,
        action=action,
        old=old,
        new={"status": new_status},
        reason=why,
    )


def withdraw(ctx: Context, participant: str, *, reason: str) -> None:
    """Record a participant's withdrawal (with a reason); data are kept."""
    ctx.require(Operation.withdraw)
    _change_status(ctx, participant, "withdraw", reason)


def mark_lost(ctx: Context, participant: str, *, reason: str) -> None:
    """Record a randomised participant as lost to follow-up."""
    ctx.require(Operation.mark_lost)
    _change_status(ctx, participant, "mark lost", reason)


def mark_randomised_in_error(ctx: Context, participant: str, *, reason: str) -> None:
    """Mark a randomised participant "randomised in error"; the allocation stays."""
    ctx.require(Operation.mark_randomised_in_error)
    _change_status(ctx, participant, "mark randomised in error", reason)


def assign_clinician(ctx: Context, participant: str, *, clinician: str) -> None:
    """Assign the treating clinician (who then sees this participant's arm)."""
    ctx.require(Operation.assign_clinician)
    p = participant_row(ctx, participant, lock=True)
    user = ctx.session.execute(select(User).where(User.name == clinician)).scalar_one_or_none()
    if user is None or user.role != Role.clinician.value:
        raise DataValidationError(f"{clinician!r} is not a clinician's account")
    old = p.clinician_id
    p.clinician_id = user.id
    ctx.audit(
        entity="participant",
        entity_id=p.code,
        action="assign clinician",
        old={"clinician_id": old},
        new={"clinician_id": user.id, "clinician": user.name},
    )


def emergency_unblind(ctx: Context, participant: str, *, reason: str) -> str:
    """Reveal one randomised participant's arm for an emergency (allowed roles, a reason)."""
    ctx.require(Operation.emergency_unblind)
    why = _text(reason, "an unblinding reason")
    p = participant_row(ctx, participant)
    alloc = ctx.session.execute(
        select(Allocation).where(Allocation.participant_id == p.id)
    ).scalar_one_or_none()
    if alloc is None:
        raise TrialStateError(f"participant {p.code!r} has not been randomised")
    ctx.session.add(
        Unblinding(participant_id=p.id, reason=why, user_id=ctx.actor.id, at=audit.now())
    )
    ctx.audit(
        entity="participant",
        entity_id=p.code,
        action="emergency unblind",
        new={"arm": alloc.arm},
        reason=why,
    )
    return alloc.arm
