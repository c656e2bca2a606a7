"""The injected context of every operation: a session, an authenticated actor, the key.

Operations in :mod:`resolve.ops` are plain functions ``op(ctx, ...)``. The CLI
and the web app build a :class:`Context` per request through :class:`Client`
(one unit of work per call: :class:`~resolve.store.uow.Store`), after deciding
who the actor is: the CLI trusts ``--user`` (the database file or credentials
are its security boundary), the web app authenticates a password or token.

Examples
--------
>>> import tempfile, pathlib
>>> from resolve import ops
>>> db = pathlib.Path(tempfile.mkdtemp()) / "trial.db"
>>> _ = ops.init_trial(db, admin="ada", demo_seed=7)
>>> client = Client(db, user="ada")
>>> client.run(ops.add_user, "eve", role="enroller", password=None).role
'enroller'
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from resolve.errors import DataValidationError, ResolveError, UnknownNameError
from resolve.ops.permissions import ArmView, Operation, PermissionDenied, arm_view, require
from resolve.store.keys import (
    KEY_ENV,
    KEY_FILE_ENV,
    TrialKey,
    TrialKeyError,
    default_key_path,
    read_key_file,
)
from resolve.store.models import Participant, Role, Trial, User
from resolve.store.uow import Store
from resolve.trial.protocol import Protocol

__all__ = [
    "TRIAL_ID",
    "Client",
    "Context",
    "TrialStateError",
    "load_key",
    "participant_row",
]

P = ParamSpec("P")
T = TypeVar("T")

TRIAL_ID = 1


class TrialStateError(ResolveError, ValueError):
    """A request the participant's or the trial's current state does not allow."""


@functools.lru_cache(maxsize=8)
def _protocol_from_text(text: str, source: str) -> Protocol:
    from resolve.trial.protocol import parse_protocol

    return parse_protocol(text, source)


def trial_protocol(trial: Trial) -> Protocol:
    """The protocol a stored trial runs (parsed once per process)."""
    return _protocol_from_text(trial.protocol["toml"], trial.protocol["source"])


def load_key(trial: Trial, key_file: str | Path | None = None) -> TrialKey:
    """The trial key: demo seed, :data:`KEY_ENV`, ``key_file``, :data:`KEY_FILE_ENV`, default path.

    Raises
    ------
    TrialKeyError
        No key found, or a key that is not this trial's (fingerprint mismatch).
    """
    if trial.demo_seed is not None:
        key = TrialKey.insecure_from_seed(int(trial.demo_seed))
        source = "the demo seed"
    elif os.environ.get(KEY_ENV):
        key = TrialKey.from_hex(os.environ[KEY_ENV], KEY_ENV)
        source = KEY_ENV
    else:
        path = Path(
            key_file or os.environ.get(KEY_FILE_ENV) or default_key_path(trial.uid)
        ).expanduser()
        if not path.exists():
            raise TrialKeyError(
                f"the trial key is not at {path}; give the key file of trial {trial.uid} "
                f"(or set {KEY_FILE_ENV} or {KEY_ENV})"
            )
        key = read_key_file(path)
        source = str(path)
    if key.fingerprint != trial.key_fingerprint:
        raise TrialKeyError(f"{source}: this key does not belong to trial {trial.uid}")
    return key


@dataclass
class Context:
    """What an operation needs: the session, who acts, the trial, its protocol and key."""

    session: Session
    actor: User
    trial: Trial
    protocol: Protocol
    _key: TrialKey | None
    _key_file: str | Path | None = None

    @property
    def role(self) -> Role:
        """The actor's role."""
        return Role(self.actor.role)

    @property
    def key(self) -> TrialKey:
        """The trial key (loaded on first use; reads need none unless they are audited)."""
        if self._key is None:
            self._key = load_key(self.trial, self._key_file)
        return self._key

    def require(self, op: Operation) -> None:
        """Refuse ``op`` unless the actor's role may run it."""
        require(self.role, op, user=self.actor.name)

    @property
    def arm_view(self) -> ArmView:
        """What this actor sees of allocations (:func:`~resolve.ops.permissions.arm_view`)."""
        return arm_view(self.role, trial_status=self.trial.status)

    def audit(self, **event: Any) -> None:
        """Append an audit event in this unit of work, as this actor."""
        from resolve.store import audit

        audit.append(self.session, key=self.key, user=self.actor.name, **event)


def _actor(session: Session, name: str) -> User:
    if not isinstance(name, str) or not name.strip():
        raise DataValidationError("a user name is required")
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise UnknownNameError(f"no user {name!r} in this trial (an admin adds users)")
    if not user.active:
        raise PermissionDenied(f"user {name!r} is deactivated")
    return user


def _trial(session: Session) -> Trial:
    trial = session.get(Trial, TRIAL_ID)
    if trial is None:
        raise TrialStateError("the database holds no trial")
    return trial


def participant_row(ctx: Context, code: str, *, lock: bool = False) -> Participant:
    """The participant with id ``code`` (validated), optionally locked for update."""
    code = ctx.protocol.check_participant_id(code)
    stmt = select(Participant).where(Participant.trial_id == TRIAL_ID, Participant.code == code)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    found = ctx.session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise UnknownNameError(f"participant {code!r} has not been screened")
    return found


class Client:
    """Runs operations on one trial database as one user, one unit of work per call.

    Parameters
    ----------
    db : str or Path
        The trial database (SQLite path or URL).
    user : str
        The acting user's name (must exist; its role decides what it may do).
    key_file : str or Path, optional
        The trial key file (else :data:`KEY_ENV`, :data:`KEY_FILE_ENV`, the
        default path); needed by every operation that writes or audits.
    read_only : bool, default False
        Open the database read-only (verification and reports; also read-only copies).
    """

    def __init__(
        self,
        db: str | Path | Store,
        *,
        user: str,
        key_file: str | Path | None = None,
        read_only: bool = False,
    ) -> None:
        self.store = db if isinstance(db, Store) else Store(db, read_only=read_only)
        self.user = user
        self.key_file = key_file

    def run(
        self,
        op: Callable[Concatenate[Context, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``op(ctx, *args, **kwargs)`` in one transaction."""

        def work(session: Session) -> T:
            trial = _trial(session)
            ctx = Context(
                session=session,
                actor=_actor(session, self.user),
                trial=trial,
                protocol=trial_protocol(trial),
                _key=None,
                _key_file=self.key_file,
            )
            return op(ctx, *args, **kwargs)

        return self.store.run(work)
