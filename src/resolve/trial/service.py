"""Service layer of trial operations: the one API beneath the CLI and the web app.

Every function opens its own transaction, changes the store, writes the audit
event(s) of the change in the same transaction, and either commits all of it
or nothing. Functions never print; refusals raise
:class:`~resolve.errors.ResolveError` subclasses with a one-line message.

Concealment: the sealed allocation sequence is written once by
:func:`init_trial` and read only inside :func:`randomise`, one slot at a time,
after the slot is consumed. No function returns an unused slot or the seed.

Concurrency: :func:`randomise` serialises competing requests on the stratum's
counter row (``SELECT ... FOR UPDATE`` on PostgreSQL; every SQLite transaction
starts with ``BEGIN IMMEDIATE``), and retries with jittered exponential
backoff on lock, serialisation, deadlock and connection-limit errors.

Examples
--------
>>> import tempfile, pathlib
>>> db = str(pathlib.Path(tempfile.mkdtemp()) / "trial.db")
>>> _ = init_trial(db, seed=7, user="admin")
>>> screen(db, "P001", age=40, duration_weeks=20, pain=6, user="rc").eligible
True
>>> consent(db, "P001", version="1.0", user="rc")
>>> randomise(db, "P001", user="rc") in {"sham", "resolve"}
True
>>> verify_audit(db) is None
True
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from resolve.errors import DataValidationError, ResolveError, UnknownNameError
from resolve.store import audit
from resolve.store.engine import READ_ONLY, make_engine, normalise_url
from resolve.store.migrate import upgrade
from resolve.store.models import (
    Allocation,
    Participant,
    ParticipantStatus,
    Response,
    ResponseRevision,
    Role,
    SealedParameter,
    SequenceSlot,
    Site,
    Stratum,
    Trial,
    Unblinding,
    User,
    Visit,
)
from resolve.trial.eligibility import EligibilityResult, check_eligibility
from resolve.trial.export import PARTICIPANT_COLUMNS, RESPONSE_COLUMNS
from resolve.trial.protocol import Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "StoreError",
    "TrialStateError",
    "allocations",
    "consent",
    "consort",
    "correct",
    "emergency_unblind",
    "engine_for",
    "export",
    "init_trial",
    "load_trial_protocol",
    "mark_lost",
    "mark_randomised_in_error",
    "overdue_visits",
    "participant_schedule",
    "participants",
    "randomise",
    "record",
    "responses",
    "screen",
    "trial_schedule",
    "verify_audit",
    "visits",
    "withdraw",
]

T = TypeVar("T")
Db = str | Path | Engine

#: Test hook: seconds to sleep inside the allocation transaction, after every
#: write and before the commit (used to kill a process mid-allocation).
PAUSE_ENV = "RESOLVE_TEST_ALLOCATION_PAUSE"
#: Test hook: file touched when the pause starts.
MARKER_ENV = "RESOLVE_TEST_ALLOCATION_MARKER"

_RETRY_SQLSTATES = {"40001", "40P01", "55P03", "53300", "57P03"}
_MAX_ATTEMPTS = 60
_TRIAL_ID = 1
# The export contract's columns (resolve.trial.export) plus what the store also knows.
PARTICIPANT_FRAME_COLUMNS = [
    *PARTICIPANT_COLUMNS,
    "duration_weeks",
    "pain",
    "exclusions",
    "factors",
    "status_reason",
]
RESPONSE_FRAME_COLUMNS = [*RESPONSE_COLUMNS, "instrument_version", "user"]
_MINIMISATION_KEY = "minimisation"
_ACTIVE = {ParticipantStatus.randomised.value}
_RECORDABLE = {
    ParticipantStatus.consented.value,
    ParticipantStatus.randomised.value,
}


class TrialStateError(ResolveError, ValueError):
    """A request the participant's or the trial's current state does not allow."""


class StoreError(ResolveError, RuntimeError):
    """The database could not be reached or rejected a statement."""


# ----------------------------------------------------------------------------- plumbing
_ENGINES: dict[str, Engine] = {}


def engine_for(db: Db, *, create: bool = False) -> Engine:
    """The (cached) engine for a SQLite path, a database URL or an engine.

    Unless ``create``, a SQLite file that does not exist is refused (instead of
    silently creating an empty database).
    """
    if isinstance(db, Engine):
        return db
    url = normalise_url(db)
    if url.startswith("sqlite") and not create:
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).exists():
            raise TrialStateError(
                f"--db: no trial database at {database}; create one with `resolve trial init`"
            )
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = make_engine(url)
    return engine


@contextlib.contextmanager
def _writer_queue(engine: Engine, read_only: bool) -> Iterator[None]:
    """On SQLite, queue writers on an OS file lock beside the database.

    SQLite's busy handler polls with sleeps of up to 100 ms, so hundreds of
    competing writers leave the database idle between transactions; a blocking
    ``flock`` hands the lock over at once, and the kernel releases it when a
    process dies. ``BEGIN IMMEDIATE`` still guards writers that bypass it.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if read_only or not database or database == ":memory:" or fcntl is None:
        yield
        return
    with open(f"{database}.writer-lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES:
        return True
    text = str(orig).lower()
    return (
        "database is locked" in text
        or "database is busy" in text
        or "too many clients" in text
        or "remaining connection slots" in text
        or "could not serialize" in text
        or "deadlock" in text
    )


def _transaction(db: Db, work: Callable[[Session], T], *, read_only: bool = False) -> T:
    """Run ``work`` in one transaction; retry on lock or serialisation errors.

    On SQLite a writing transaction starts with ``BEGIN IMMEDIATE``; a
    ``read_only`` one with a plain ``BEGIN`` (no lock in WAL mode).
    """
    engine = engine_for(db)
    delay = 0.01
    for attempt in range(_MAX_ATTEMPTS):
        try:
            with _writer_queue(engine, read_only), engine.connect() as conn:
                conn.info[READ_ONLY] = read_only
                with conn.begin(), Session(bind=conn, expire_on_commit=False) as session:
                    return work(session)
        except DBAPIError as exc:
            if isinstance(exc, IntegrityError) or not _retryable(exc):
                raise _store_error(exc) from exc
            if attempt == _MAX_ATTEMPTS - 1:
                raise TrialStateError(
                    f"database busy: gave up after {_MAX_ATTEMPTS} attempts ({exc.orig})"
                ) from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")  # pragma: no cover


def _store_error(exc: DBAPIError) -> ResolveError:
    orig = exc.orig
    text = " ".join(str(orig).split())
    if getattr(orig, "sqlstate", None) == "42P01" or "no such table" in text:
        return TrialStateError(
            "the database holds no trial schema; create one with `resolve trial init`"
        )
    if isinstance(exc, IntegrityError):
        return StoreError(f"the database refused a conflicting change (retry): {text}")
    return StoreError(f"database error: {text}")


def _require_text(value: str | None, what: str) -> str:
    if value is None or not str(value).strip():
        raise DataValidationError(f"{what} is required and must not be blank")
    return str(value).strip()


def _user(session: Session, name: str, *, role: Role = Role.coordinator) -> User:
    name = _require_text(name, "--user")
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        user = User(name=name, role=role.value, created_at=audit.now())
        session.add(user)
        session.flush()
        audit.append(
            session,
            user=name,
            entity="app_user",
            entity_id=user.id,
            action="create",
            new={"name": name, "role": user.role},
        )
    return user


def _trial(session: Session) -> Trial:
    trial = session.get(Trial, _TRIAL_ID)
    if trial is None:
        raise TrialStateError("the database holds no trial; run `resolve trial init` first")
    return trial


@functools.lru_cache(maxsize=8)
def _protocol_from_text(text: str, source: str) -> Protocol:
    from resolve.trial.protocol import parse_protocol

    return parse_protocol(text, source)


def _protocol(trial: Trial) -> Protocol:
    return _protocol_from_text(trial.protocol["toml"], trial.protocol["source"])


def _participant(session: Session, code: str, *, lock: bool = False) -> Participant:
    code = _require_text(code, "--id")
    stmt = select(Participant).where(Participant.trial_id == _TRIAL_ID, Participant.code == code)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    found = session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise UnknownNameError(f"participant {code!r} has not been screened")
    return found


def _stratum_key(levels: Mapping[str, str]) -> str:
    return json.dumps(dict(levels), sort_keys=True, separators=(",", ":"))


# ----------------------------------------------------------------------------- set-up
def load_trial_protocol(db: Db) -> Protocol:
    """The protocol the trial in ``db`` runs."""
    return _transaction(db, lambda s: _protocol(_trial(s)), read_only=True)


def _read_protocol(protocol: str | Path | None) -> tuple[str, str]:
    if protocol is None:
        text = (
            resources.files("resolve.trial")
            .joinpath("protocols", "resolve.toml")
            .read_text(encoding="utf-8")
        )
        return text, "resolve.toml (bundled)"
    path = Path(protocol)
    try:
        return path.read_text(encoding="utf-8"), path.name
    except OSError as exc:
        raise DataValidationError(f"{path}: cannot read protocol file ({exc.strerror})") from None


def _sequences(protocol: Protocol, seed: int) -> dict[tuple[str, ...], list[str]]:
    from resolve.trial.randomize import generate_sequences

    levels = {name: protocol.strata_levels[name] for name in protocol.strata}
    return {tuple(k): list(v) for k, v in generate_sequences(protocol, seed, levels).items()}


def init_trial(
    db: Db, protocol: str | Path | None = None, *, seed: int | None = None, user: str
) -> Protocol:
    """Create the schema (Alembic), the trial, its sites and its sealed sequence.

    Parameters
    ----------
    db : str, Path or Engine
        SQLite file path, ``sqlite:///FILE`` or ``postgresql+psycopg://...`` URL.
    protocol : str or Path, optional
        Protocol TOML file; the bundled RESOLVE protocol by default.
    seed : int, optional
        Seed of the allocation sequence (0 to 2**31 - 1); a random one by
        default. It is stored sealed and never shown.
    user : str
        Who sets the trial up (becomes an ``admin``).

    Returns
    -------
    Protocol
        The validated protocol.

    Raises
    ------
    DataValidationError
        Invalid protocol or seed.
    TrialStateError
        The database already holds a trial.
    """
    user = _require_text(user, "--user")
    text, source = _read_protocol(protocol)
    proto = _protocol_from_text(text, source)
    if seed is not None and not 0 <= seed < 2**31:
        raise DataValidationError(f"--seed must be in 0 to {2**31 - 1}; got {seed}")
    sealed_seed = secrets.randbelow(2**31) if seed is None else seed
    slots = _sequences(proto, sealed_seed) if proto.randomisation.method == "blocks" else {}
    engine = engine_for(db, create=True)
    try:
        upgrade(engine)  # creates the schema, or brings an older one to head
    except DBAPIError as exc:
        raise _store_error(exc) from exc

    def work(session: Session) -> None:
        if session.get(Trial, _TRIAL_ID) is not None:
            raise TrialStateError("the database already holds a trial; use a new --db")
        session.add(
            Trial(
                id=_TRIAL_ID,
                name=proto.name,
                protocol={"toml": text, "source": source},
                created_at=audit.now(),
            )
        )
        session.flush()
        admin = _user(session, user, role=Role.admin)
        for level in proto.strata_levels.get("site", ()):
            session.add(Site(trial_id=_TRIAL_ID, code=level, name=level))
        session.add(
            SealedParameter(trial_id=_TRIAL_ID, seed=sealed_seed, method=proto.randomisation.method)
        )
        if proto.randomisation.method == "blocks":
            for key, arms in slots.items():
                levels = dict(zip(proto.strata, key, strict=True))
                stratum = Stratum(
                    trial_id=_TRIAL_ID,
                    key=_stratum_key(levels),
                    levels=levels,
                    next_position=1,
                    length=len(arms),
                )
                session.add(stratum)
                session.flush()
                session.add_all(
                    SequenceSlot(stratum_id=stratum.id, position=i, arm=arm)
                    for i, arm in enumerate(arms, start=1)
                )
        else:
            session.add(
                Stratum(
                    trial_id=_TRIAL_ID, key=_MINIMISATION_KEY, levels={}, next_position=1, length=0
                )
            )
        session.flush()
        audit.append(
            session,
            user=admin.name,
            entity="trial",
            entity_id=_TRIAL_ID,
            action="init",
            new={
                "name": proto.name,
                "protocol_version": proto.version,
                "source": source,
                "method": proto.randomisation.method,
                "strata": len(slots),
                "seed": "sealed",
            },
        )

    _transaction(engine, work)
    return proto


# ----------------------------------------------------------------------------- screening
def _factor_levels(proto: Protocol, given: Mapping[str, str] | None) -> dict[str, str]:
    given = dict(given or {})
    known = proto.strata_levels
    out: dict[str, str] = {}
    for name, level in given.items():
        if name not in known:
            raise DataValidationError(
                f"--factor: unknown factor {name!r}; known: {', '.join(known) or '(none)'}"
            )
        if level not in known[name]:
            raise DataValidationError(
                f"--factor {name}: unknown level {level!r}; allowed: {', '.join(known[name])}"
            )
        out[name] = level
    for name, levels in known.items():
        if name not in out and len(levels) == 1:
            out[name] = levels[0]
    return out


def screen(
    db: Db,
    participant: str,
    *,
    age: int,
    duration_weeks: float,
    pain: int,
    exclusions: Iterable[str] = (),
    factors: Mapping[str, str] | None = None,
    user: str,
) -> EligibilityResult:
    """Screen a participant against the protocol's eligibility rules.

    Parameters
    ----------
    db : str, Path or Engine
        The trial database.
    participant : str
        Participant id (unique within the trial).
    age, duration_weeks, pain : int, float, int
        Age in years, duration of low back pain in weeks, past-week pain NRS 0-10.
    exclusions : iterable of str
        Names of the protocol's exclusion criteria that apply.
    factors : mapping of str to str, optional
        Levels of the prognostic factors (e.g. ``{"site": "sydney"}``); a factor
        with a single level is filled in.
    user : str
        Who screens.

    Returns
    -------
    EligibilityResult
        ``eligible`` and the reasons for ineligibility.

    Raises
    ------
    DataValidationError
        Out-of-range values, an unknown exclusion or factor level.
    TrialStateError
        The participant has already consented or been randomised.
    """
    exclusions = tuple(exclusions)

    def work(session: Session) -> EligibilityResult:
        actor = _user(session, user)
        proto = _protocol(_trial(session))
        result = check_eligibility(
            proto, age=age, duration_weeks=duration_weeks, pain=pain, exclusions=exclusions
        )
        levels = _factor_levels(proto, factors)
        code = _require_text(participant, "--id")
        existing = session.execute(
            select(Participant)
            .where(Participant.trial_id == _TRIAL_ID, Participant.code == code)
            .with_for_update()
        ).scalar_one_or_none()
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
                select(Site.id).where(Site.trial_id == _TRIAL_ID, Site.code == levels["site"])
            ).scalar_one_or_none()
        new = {
            "status": status.value,
            "screening": screening,
            "reasons": list(result.reasons),
            "factors": levels,
        }
        if existing is None:
            row = Participant(
                trial_id=_TRIAL_ID,
                code=code,
                site_id=site_id,
                status=status.value,
                screening=screening,
                eligible=result.eligible,
                reasons=list(result.reasons),
                strata=levels,
                screened_at=audit.now(),
            )
            session.add(row)
            session.flush()
            audit.append(
                session,
                user=actor.name,
                entity="participant",
                entity_id=code,
                action="screen",
                new=new,
            )
            return result
        if existing.status not in (
            ParticipantStatus.screened,
            ParticipantStatus.eligible,
            ParticipantStatus.ineligible,
        ):
            raise TrialStateError(
                f"participant {code!r} is {existing.status}; only a participant who has not "
                "consented can be screened again"
            )
        old = {
            "status": existing.status,
            "screening": existing.screening,
            "reasons": existing.reasons,
            "factors": existing.strata,
        }
        existing.status = status.value
        existing.screening = screening
        existing.eligible = result.eligible
        existing.reasons = list(result.reasons)
        existing.strata = levels
        existing.site_id = site_id
        existing.screened_at = audit.now()
        audit.append(
            session,
            user=actor.name,
            entity="participant",
            entity_id=code,
            action="rescreen",
            old=old,
            new=new,
        )
        return result

    return _transaction(db, work)


def consent(db: Db, participant: str, *, version: str, user: str) -> None:
    """Record informed consent (a protocol consent version) of an eligible participant.

    A consented or randomised participant may re-consent to a newer version.

    Raises
    ------
    DataValidationError
        ``version`` is not one of the protocol's consent versions.
    TrialStateError
        The participant is not eligible (or has left the trial).
    """

    def work(session: Session) -> None:
        actor = _user(session, user)
        proto = _protocol(_trial(session))
        v = _require_text(version, "--version")
        if v not in proto.consent_versions:
            raise DataValidationError(
                f"--version: unknown consent version {v!r}; allowed: "
                f"{', '.join(proto.consent_versions)}"
            )
        p = _participant(session, participant, lock=True)
        if p.status == ParticipantStatus.eligible:
            new_status = ParticipantStatus.consented.value
        elif p.status in (ParticipantStatus.consented, ParticipantStatus.randomised):
            new_status = p.status
        elif p.status == ParticipantStatus.ineligible:
            raise TrialStateError(
                f"participant {p.code!r} is ineligible ({'; '.join(map(str, p.reasons))}); "
                "cannot consent"
            )
        else:
            raise TrialStateError(f"participant {p.code!r} is {p.status}; cannot consent")
        old = {"status": p.status, "consent_version": p.consent_version}
        p.status = new_status
        p.consent_version = v
        p.consented_at = audit.now()
        audit.append(
            session,
            user=actor.name,
            entity="participant",
            entity_id=p.code,
            action="consent",
            old=old,
            new={"status": new_status, "consent_version": v},
        )

    _transaction(db, work)


# ----------------------------------------------------------------------------- randomisation
def _test_pause() -> None:
    pause = os.environ.get(PAUSE_ENV)
    if not pause:
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(float(pause))


def _refuse_unrandomisable(p: Participant) -> None:
    if p.status == ParticipantStatus.consented:
        return
    if p.status in (ParticipantStatus.eligible, ParticipantStatus.screened):
        raise TrialStateError(f"participant {p.code!r} has not consented; cannot randomise")
    if p.status == ParticipantStatus.ineligible:
        raise TrialStateError(
            f"participant {p.code!r} is ineligible ({'; '.join(map(str, p.reasons))}); "
            "cannot randomise"
        )
    if p.status in (ParticipantStatus.randomised, ParticipantStatus.randomised_in_error):
        raise TrialStateError(
            f"participant {p.code!r} is already randomised; cannot randomise again"
        )
    raise TrialStateError(f"participant {p.code!r} is {p.status}; cannot randomise")


def _minimised_arm(session: Session, proto: Protocol, seed: int, p: Participant, index: int) -> str:
    from resolve.trial.randomize import minimise

    rows = session.execute(
        select(Participant.strata, Allocation.arm)
        .join(Allocation, Allocation.participant_id == Participant.id)
        .where(Participant.trial_id == _TRIAL_ID)
        .order_by(Allocation.position)
    ).all()
    existing = [(arm, dict(levels)) for levels, arm in rows]
    factors = {f: p.strata[f] for f in proto.randomisation.minimisation_factors}
    return str(minimise(proto, existing, factors, seed, index))


def randomise(db: Db, participant: str, *, user: str) -> str:
    """Allocate an eligible, consented participant; return the arm's name.

    Exactly one allocation per participant: the next unused slot of the
    participant's stratum (blocks) or the minimisation result, written with
    the participant's new status and the audit event in one transaction.

    Raises
    ------
    TrialStateError
        Ineligible, not consented, already randomised, a missing factor level,
        or an exhausted sealed list.
    """

    def work(session: Session) -> str:
        actor = _user(session, user)
        trial = _trial(session)
        proto = _protocol(trial)
        p = _participant(session, participant)
        _refuse_unrandomisable(p)
        if proto.randomisation.method == "blocks":
            missing = [f for f in proto.strata if f not in p.strata]
            key = _stratum_key({f: p.strata[f] for f in proto.strata if f in p.strata})
        else:
            missing = [f for f in proto.randomisation.minimisation_factors if f not in p.strata]
            key = _MINIMISATION_KEY
        if missing:
            raise TrialStateError(
                f"participant {p.code!r} has no level for factor(s) {', '.join(missing)}; "
                "screen again with --factor NAME=LEVEL"
            )
        # The lock that serialises allocations within the stratum.
        stratum = session.execute(
            select(Stratum)
            .where(Stratum.trial_id == _TRIAL_ID, Stratum.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if stratum is None:
            raise TrialStateError(f"no allocation sequence for stratum {key}")
        p = _participant(session, participant, lock=True)  # re-read under the lock
        _refuse_unrandomisable(p)
        position = stratum.next_position
        if proto.randomisation.method == "blocks":
            if position > stratum.length:
                raise TrialStateError(
                    f"the sealed allocation list of stratum {key} is exhausted "
                    f"({stratum.length} allocations); contact the trial statistician"
                )
            arm = session.execute(
                select(SequenceSlot.arm).where(
                    SequenceSlot.stratum_id == stratum.id, SequenceSlot.position == position
                )
            ).scalar_one()
        else:
            seed = session.execute(
                select(SealedParameter.seed).where(SealedParameter.trial_id == _TRIAL_ID)
            ).scalar_one()
            arm = _minimised_arm(session, proto, seed, p, position - 1)
        stratum.next_position = position + 1
        at = audit.now()
        session.add(
            Allocation(
                participant_id=p.id,
                arm=arm,
                stratum_id=stratum.id,
                position=position,
                allocated_at=at,
                user_id=actor.id,
            )
        )
        p.status = ParticipantStatus.randomised.value
        audit.append(
            session,
            user=actor.name,
            entity="participant",
            entity_id=p.code,
            action="randomise",
            old={"status": ParticipantStatus.consented.value},
            new={"status": p.status, "arm": arm, "stratum": stratum.levels, "position": position},
        )
        session.flush()
        _test_pause()
        return arm

    def precheck(session: Session) -> None:
        _protocol(_trial(session))  # parsed (and cached) outside the write lock
        _refuse_unrandomisable(_participant(session, participant))

    _transaction(db, precheck, read_only=True)
    return _transaction(db, work)


def _change_status(
    db: Db,
    participant: str,
    *,
    allowed: set[str],
    new_status: ParticipantStatus,
    action: str,
    reason: str,
    user: str,
) -> None:
    why = _require_text(reason, "a reason")

    def work(session: Session) -> None:
        actor = _user(session, user)
        _trial(session)
        p = _participant(session, participant, lock=True)
        if p.status not in allowed:
            raise TrialStateError(f"participant {p.code!r} is {p.status}; cannot {action}")
        old = {"status": p.status}
        p.status = new_status.value
        p.status_reason = why
        p.status_changed_at = audit.now()
        audit.append(
            session,
            user=actor.name,
            entity="participant",
            entity_id=p.code,
            action=action,
            old=old,
            new={"status": p.status},
            reason=why,
        )

    _transaction(db, work)


def mark_randomised_in_error(db: Db, participant: str, *, reason: str, user: str) -> None:
    """Mark a randomised participant "randomised in error"; the allocation stays."""
    _change_status(
        db,
        participant,
        allowed=_ACTIVE,
        action="mark randomised in error",
        new_status=ParticipantStatus.randomised_in_error,
        reason=reason,
        user=user,
    )


def withdraw(db: Db, participant: str, *, reason: str, user: str) -> None:
    """Record a participant's withdrawal (with a reason); data are kept."""
    _change_status(
        db,
        participant,
        action="withdraw",
        new_status=ParticipantStatus.withdrawn,
        allowed={
            ParticipantStatus.eligible,
            ParticipantStatus.consented,
            ParticipantStatus.randomised,
        },
        reason=reason,
        user=user,
    )


def mark_lost(db: Db, participant: str, *, reason: str, user: str) -> None:
    """Record a randomised participant as lost to follow-up."""
    _change_status(
        db,
        participant,
        allowed=_ACTIVE,
        action="mark lost",
        new_status=ParticipantStatus.lost,
        reason=reason,
        user=user,
    )


def emergency_unblind(db: Db, participant: str, *, reason: str, user: str) -> str:
    """Reveal one randomised participant's arm for an emergency; audited.

    Raises
    ------
    DataValidationError
        A blank reason.
    TrialStateError
        The participant has no allocation.
    """
    why = _require_text(reason, "an unblinding reason")

    def work(session: Session) -> str:
        actor = _user(session, user)
        p = _participant(session, participant)
        alloc = session.execute(
            select(Allocation).where(Allocation.participant_id == p.id)
        ).scalar_one_or_none()
        if alloc is None:
            raise TrialStateError(f"participant {p.code!r} has not been randomised")
        session.add(Unblinding(participant_id=p.id, reason=why, user_id=actor.id, at=audit.now()))
        audit.append(
            session,
            user=actor.name,
            entity="participant",
            entity_id=p.code,
            action="emergency unblind",
            new={"arm": alloc.arm},
            reason=why,
        )
        return alloc.arm

    return _transaction(db, work)


# ----------------------------------------------------------------------------- data capture
def _score(instrument: str, items: Any, respondent: str) -> tuple[str, dict[str, Any]]:
    from resolve.instruments import get

    inst = get(instrument)
    if not isinstance(items, Mapping | list):
        raise DataValidationError(
            f"--items for {instrument}: expected a JSON object of item -> code"
            f" (or a list for {instrument}); got {type(items).__name__}"
        )
    result = inst.score(items, respondent=respondent)  # type: ignore[arg-type]
    d = result.to_dict()
    scores = {k: d[k] for k in ("scores", "n_missing", "missing_items", "prorated", "categories")}
    return result.version, scores


def _visit_spec_check(proto: Protocol, visit: str, instrument: str) -> None:
    spec = proto.visit(visit)
    if instrument not in spec.instruments:
        allowed = ", ".join(spec.instruments) or "(none: this visit has no questionnaires)"
        raise DataValidationError(
            f"--instrument: {instrument!r} is not collected at visit {visit!r}; allowed: {allowed}"
        )


def _jsonable_items(items: Any) -> Any:
    if isinstance(items, Mapping):
        return {str(k): v for k, v in items.items()}
    return list(items)


def record(
    db: Db,
    participant: str,
    *,
    visit: str,
    instrument: str,
    items: Mapping[str, Any] | list[Any],
    user: str,
    recorded_on: date | None = None,
) -> dict[str, Any]:
    """Store item-level responses to one instrument at one visit, scored on save.

    Parameters
    ----------
    items : mapping or list
        Item (``"rmdq24_3"``, ``"3"``) to integer code; a list of medication
        names for ``psychoactive_medication``.
    recorded_on : date, optional
        Date of the visit (today by default).

    Returns
    -------
    dict
        The stored scores (``scores``, ``n_missing``, ``missing_items``,
        ``prorated``, ``categories``).

    Raises
    ------
    DataValidationError
        Unknown visit, an instrument not collected at that visit, or an item
        the instrument rejects (the message names the item).
    TrialStateError
        The participant has not consented, has left, or the response exists
        already (use :func:`correct`).
    """

    def work(session: Session) -> dict[str, Any]:
        actor = _user(session, user)
        proto = _protocol(_trial(session))
        p = _participant(session, participant, lock=True)
        _visit_spec_check(proto, visit, instrument)
        if p.status not in _RECORDABLE:
            raise TrialStateError(f"participant {p.code!r} is {p.status}; cannot record data")
        version, scores = _score(instrument, items, p.code)
        v = session.execute(
            select(Visit).where(Visit.participant_id == p.id, Visit.name == visit)
        ).scalar_one_or_none()
        if v is None:
            v = Visit(
                participant_id=p.id,
                name=visit,
                recorded_on=(recorded_on or date.today()).isoformat(),
            )
            session.add(v)
            session.flush()
            audit.append(
                session,
                user=actor.name,
                entity="visit",
                entity_id=f"{p.code}/{visit}",
                action="create",
                new={"recorded_on": v.recorded_on},
            )
        exists = session.execute(
            select(Response.id).where(Response.visit_id == v.id, Response.instrument == instrument)
        ).scalar_one_or_none()
        if exists is not None:
            raise TrialStateError(
                f"{instrument} at {visit!r} for participant {p.code!r} is already recorded; "
                "a change is a correction and needs a reason"
            )
        stored = _jsonable_items(items)
        row = Response(
            visit_id=v.id,
            instrument=instrument,
            instrument_version=version,
            items=stored,
            scores=scores,
            revision=1,
            recorded_at=audit.now(),
            user_id=actor.id,
        )
        session.add(row)
        session.flush()
        audit.append(
            session,
            user=actor.name,
            entity="response",
            entity_id=f"{p.code}/{visit}/{instrument}",
            action="record",
            new={"items": stored, "scores": scores["scores"]},
        )
        return scores

    return _transaction(db, work)


def correct(
    db: Db,
    participant: str,
    *,
    visit: str,
    instrument: str,
    items: Mapping[str, Any] | list[Any],
    reason: str,
    user: str,
) -> dict[str, Any]:
    """Correct a stored response; the old values stay in the audit trail.

    Raises
    ------
    DataValidationError
        A blank reason or invalid items.
    TrialStateError
        No response to correct.
    """
    why = _require_text(reason, "a reason for the correction")

    def work(session: Session) -> dict[str, Any]:
        actor = _user(session, user)
        _trial(session)
        p = _participant(session, participant, lock=True)
        row = session.execute(
            select(Response)
            .join(Visit, Visit.id == Response.visit_id)
            .where(
                Visit.participant_id == p.id,
                Visit.name == visit,
                Response.instrument == instrument,
            )
            .with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise TrialStateError(
                f"no {instrument} response at {visit!r} for participant {p.code!r} to correct"
            )
        version, scores = _score(instrument, items, p.code)
        stored = _jsonable_items(items)
        session.add(
            ResponseRevision(
                response_id=row.id,
                revision=row.revision,
                items=row.items,
                scores=row.scores,
                reason=why,
                user_id=actor.id,
                superseded_at=audit.now(),
            )
        )
        old = {"items": row.items, "scores": row.scores["scores"], "revision": row.revision}
        row.items = stored
        row.scores = scores
        row.instrument_version = version
        row.revision += 1
        row.recorded_at = audit.now()
        row.user_id = actor.id
        audit.append(
            session,
            user=actor.name,
            entity="response",
            entity_id=f"{p.code}/{visit}/{instrument}",
            action="correct",
            old=old,
            new={"items": stored, "scores": scores["scores"], "revision": row.revision},
            reason=why,
        )
        return scores

    return _transaction(db, work)


# ----------------------------------------------------------------------------- audit
def verify_audit(db: Db) -> audit.AuditBreak | None:
    """Check the audit chain; return the first broken event (``.event_id``) or None."""
    return _transaction(db, audit.verify, read_only=True)


# ----------------------------------------------------------------------------- schedule
@dataclass(frozen=True)
class _Timeline:
    code: str
    randomised_on: date | None
    recorded: tuple[str, ...]


def _timeline(session: Session, participant: str) -> _Timeline:
    p = _participant(session, participant)
    at = session.execute(
        select(Allocation.allocated_at).where(Allocation.participant_id == p.id)
    ).scalar_one_or_none()
    recorded = (
        session.execute(select(Visit.name).where(Visit.participant_id == p.id)).scalars().all()
    )
    return _Timeline(p.code, date.fromisoformat(at[:10]) if at else None, tuple(recorded))


def trial_schedule(db: Db) -> Any:
    """The SPIRIT schedule of assessments of the trial's protocol."""
    from resolve.trial.schedule import schedule_of_assessments

    return schedule_of_assessments(load_trial_protocol(db))


def participant_schedule(db: Db, participant: str, *, today: date | None = None) -> pd.DataFrame:
    """A randomised participant's visit calendar with what is done and what is due.

    Returns
    -------
    pandas.DataFrame
        Columns ``visit, target_date, window_start, window_end`` (see
        :func:`resolve.trial.schedule.visit_calendar`) and ``status``:
        ``recorded``, ``overdue``, ``due``, ``upcoming`` or empty (later).

    Raises
    ------
    TrialStateError
        The participant has not been randomised.
    """
    from resolve.trial.schedule import overdue, visit_calendar

    def work(session: Session) -> tuple[Protocol, _Timeline]:
        return _protocol(_trial(session)), _timeline(session, participant)

    proto, tl = _transaction(db, work, read_only=True)
    if tl.randomised_on is None:
        raise TrialStateError(f"participant {tl.code!r} has not been randomised; no calendar yet")
    calendar = visit_calendar(proto, tl.randomised_on)
    due = overdue(proto, tl.randomised_on, list(tl.recorded), today or date.today())
    status = dict(zip(due["visit"], due["status"], strict=True))
    status.update(dict.fromkeys(tl.recorded, "recorded"))
    return calendar.assign(status=[status.get(v, "") for v in calendar["visit"]])


def overdue_visits(db: Db, participant: str, *, today: date | None = None) -> Any:
    """A randomised participant's visits past their window and not recorded."""
    from resolve.trial.schedule import overdue

    def work(session: Session) -> tuple[Protocol, _Timeline]:
        return _protocol(_trial(session)), _timeline(session, participant)

    proto, tl = _transaction(db, work, read_only=True)
    if tl.randomised_on is None:
        raise TrialStateError(f"participant {tl.code!r} has not been randomised; no calendar yet")
    return overdue(proto, tl.randomised_on, list(tl.recorded), today or date.today())


# ----------------------------------------------------------------------------- data access
def _frame(db: Db, stmt: Any, columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    rows = _transaction(db, lambda s: [tuple(r) for r in s.execute(stmt).all()], read_only=True)
    return pd.DataFrame(rows, columns=columns)


def participants(db: Db) -> pd.DataFrame:
    """One row per participant, in the column contract of :mod:`resolve.trial.export`.

    Columns ``participant_id, site, status, screened_at, eligible,
    ineligible_reasons (list), consented_at, consent_version, randomised_at,
    arm, stratum, age, withdrawn_at, lost_at``, then ``duration_weeks, pain,
    exclusions (list), factors (dict), status_reason``. ``arm`` is filled only
    for allocations already made.
    """
    import pandas as pd

    def work(session: Session) -> list[dict[str, Any]]:
        out = []
        stmt = (
            select(Participant, Site.code, Allocation, Stratum.key)
            .outerjoin(Site, Site.id == Participant.site_id)
            .outerjoin(Allocation, Allocation.participant_id == Participant.id)
            .outerjoin(Stratum, Stratum.id == Allocation.stratum_id)
            .where(Participant.trial_id == _TRIAL_ID)
            .order_by(Participant.id)
        )
        for p, site, alloc, stratum in session.execute(stmt).all():
            changed = p.status_changed_at
            out.append(
                {
                    "participant_id": p.code,
                    "site": site,
                    "status": p.status,
                    "screened_at": p.screened_at,
                    "eligible": p.eligible,
                    "ineligible_reasons": list(p.reasons),
                    "consented_at": p.consented_at,
                    "consent_version": p.consent_version,
                    "randomised_at": alloc.allocated_at if alloc is not None else None,
                    "arm": alloc.arm if alloc is not None else None,
                    "stratum": stratum,
                    "age": p.screening.get("age"),
                    "withdrawn_at": changed if p.status == ParticipantStatus.withdrawn else None,
                    "lost_at": changed if p.status == ParticipantStatus.lost else None,
                    "duration_weeks": p.screening.get("duration_weeks"),
                    "pain": p.screening.get("pain"),
                    "exclusions": list(p.screening.get("exclusions", [])),
                    "factors": dict(p.strata),
                    "status_reason": p.status_reason,
                }
            )
        return out

    return pd.DataFrame(_transaction(db, work, read_only=True), columns=PARTICIPANT_FRAME_COLUMNS)


def allocations(db: Db) -> pd.DataFrame:
    """One row per allocation made: ``participant, arm, stratum, position,
    allocated_at, user`` (never an unused slot of the sealed sequence)."""
    stmt = (
        select(
            Participant.code,
            Allocation.arm,
            Stratum.key,
            Allocation.position,
            Allocation.allocated_at,
            User.name,
        )
        .join(Allocation, Allocation.participant_id == Participant.id)
        .join(Stratum, Stratum.id == Allocation.stratum_id)
        .join(User, User.id == Allocation.user_id)
        .order_by(Allocation.stratum_id, Allocation.position)
    )
    return _frame(db, stmt, ["participant", "arm", "stratum", "position", "allocated_at", "user"])


def visits(db: Db) -> pd.DataFrame:
    """One row per recorded visit: ``participant, visit, recorded_on``."""
    stmt = (
        select(Participant.code, Visit.name, Visit.recorded_on)
        .join(Visit, Visit.participant_id == Participant.id)
        .order_by(Participant.id, Visit.id)
    )
    return _frame(db, stmt, ["participant", "visit", "recorded_on"])


def responses(db: Db) -> pd.DataFrame:
    """One row per stored response (current value), in the export contract.

    Columns ``participant_id, visit, instrument, items (dict item -> code, or a
    medication list), scores (dict: scores, n_missing, missing_items,
    prorated, categories), recorded_at, version (revision number),
    instrument_version, user``. Earlier values live in the audit trail.
    """
    import pandas as pd

    stmt = (
        select(
            Participant.code,
            Visit.name,
            Response.instrument,
            Response.items,
            Response.scores,
            Response.recorded_at,
            Response.revision,
            Response.instrument_version,
            User.name,
        )
        .join(Visit, Visit.participant_id == Participant.id)
        .join(Response, Response.visit_id == Visit.id)
        .join(User, User.id == Response.user_id)
        .order_by(Participant.id, Visit.id, Response.id)
    )
    rows = _transaction(db, lambda s: [tuple(r) for r in s.execute(stmt).all()], read_only=True)
    return pd.DataFrame(rows, columns=RESPONSE_FRAME_COLUMNS)


def export(db: Db, out_dir: str | Path) -> list[Path]:
    """Write the analysis table, item-level data, REDCap files and CONSORT counts.

    See :func:`resolve.trial.export.write_export`; all files or none are written.
    """
    from resolve.trial.export import write_export

    return write_export(out_dir, participants(db), responses(db), load_trial_protocol(db))


def consort(db: Db) -> pd.DataFrame:
    """CONSORT flow counts from live data (see :func:`resolve.trial.export.consort_counts`)."""
    from resolve.trial.export import consort_counts

    return consort_counts(participants(db), responses(db), load_trial_protocol(db))
