"""Set-up operations: create a trial (schema, key, first admin), manage user accounts.

:func:`init_trial` is the one operation without an actor (nobody exists yet): it
creates the schema, the trial, its stratum counters and the first ``admin``,
and writes the trial key to a file outside the database folder (mode 0600),
unless ``demo_seed`` asks for the insecure, reproducible demo mode.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from resolve.errors import DataValidationError
from resolve.ops.context import TRIAL_ID, Context, TrialStateError, _protocol_from_text
from resolve.ops.permissions import Operation, PermissionDenied
from resolve.store import audit
from resolve.store.keys import TrialKey, create_key_file, default_key_path
from resolve.store.migrate import upgrade
from resolve.store.models import Role, Site, Stratum, Trial, TrialStatus, User
from resolve.store.uow import Store
from resolve.trial.ids import validate_participant_id
from resolve.trial.protocol import Protocol

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "InitResult",
    "add_user",
    "check_password",
    "deactivate_user",
    "init_trial",
    "list_users",
    "set_password",
    "stratum_key",
]

#: Shortest password accepted for an account.
MIN_PASSWORD_LENGTH = 12
MINIMISATION_KEY = "minimisation"
_HASHER = PasswordHasher()


def stratum_key(levels: dict[str, str]) -> str:
    """Canonical text of a stratum's factor levels (its counter row's key)."""
    return json.dumps(dict(levels), sort_keys=True, separators=(",", ":"))


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
    except UnicodeDecodeError:
        raise DataValidationError(f"{path}: not a protocol file (not UTF-8 text)") from None


def _hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise DataValidationError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def _check_key_path(path: Path, db: str | Path) -> None:
    """Refuse a key path that exists or sits in the SQLite database's folder."""
    from sqlalchemy.engine import make_url

    from resolve.store.engine import normalise_url
    from resolve.store.keys import TrialKeyError

    if path.exists():
        raise TrialKeyError(f"{path}: a key file exists already; it is never overwritten")
    url = normalise_url(db)
    if url.startswith("sqlite"):
        database = make_url(url).database or ""
        folder = Path(database).expanduser().resolve().parent
        if path.resolve().parent == folder:
            raise TrialKeyError(
                f"{path}: the trial key must not sit beside the database it protects; "
                "choose a key file in another folder"
            )


class InitResult:
    """What :func:`init_trial` created: the protocol, trial uid and key file (None in demo mode)."""

    def __init__(self, protocol: Protocol, uid: str, key_file: Path | None) -> None:
        self.protocol = protocol
        self.uid = uid
        self.key_file = key_file

    def __repr__(self) -> str:
        return f"InitResult(trial={self.protocol.name!r}, uid={self.uid!r})"


def init_trial(
    db: str | Path,
    protocol: str | Path | None = None,
    *,
    admin: str,
    admin_password: str | None = None,
    key_file: str | Path | None = None,
    demo_seed: int | None = None,
    admin_must_change_password: bool = False,
) -> InitResult:
    """Create the schema, the trial, its stratum counters, the first admin and the key.

    Parameters
    ----------
    db : str or Path
        A new SQLite file (created with mode 0600) or an empty PostgreSQL database.
    protocol : str or Path, optional
        Protocol TOML file; the bundled RESOLVE protocol by default.
    admin : str
        Name of the first ``admin`` account.
    admin_password : str, optional
        Its password (web login); without one the account acts only through the CLI.
    key_file : str or Path, optional
        Where to write the new trial key (mode 0600; never in the database's folder).
        Default: ``$RESOLVE_KEY_DIR/<trial uid>.key`` (``~/.config/resolve/keys``).
    demo_seed : int, optional
        **Insecure demo mode**: derive the key from this seed and keep the seed in the
        database, so allocations are reproducible and predictable. Tests and demos only.
    admin_must_change_password : bool, default False
        ``admin_password`` is a one-time password (e.g. generated and printed by
        ``resolve serve --demo``): the admin must change it at the first sign-in.

    Returns
    -------
    InitResult
        ``protocol``, ``uid`` and ``key_file`` (None in demo mode).
    """
    name = validate_participant_id(admin, what="user name")
    text, source = _read_protocol(protocol)
    proto = _protocol_from_text(text, source)
    password_hash = None if admin_password is None else _hash_password(admin_password)
    key = TrialKey.generate() if demo_seed is None else TrialKey.insecure_from_seed(demo_seed)
    uid = str(uuid.uuid4())
    path: Path | None = None
    if demo_seed is None:
        path = Path(key_file).expanduser() if key_file is not None else default_key_path(uid)
        _check_key_path(path, db)  # before anything is created
    store = Store(db, create=True)
    try:
        upgrade(store.engine)
    except DBAPIError as exc:
        raise store._error(exc) from exc

    def work(session: Session) -> None:
        if session.get(Trial, TRIAL_ID) is not None:
            raise TrialStateError("the database already holds a trial; use a new database")
        session.add(
            Trial(
                id=TRIAL_ID,
                name=proto.name,
                protocol={"toml": text, "source": source},
                created_at=audit.now(),
                uid=uid,
                key_fingerprint=key.fingerprint,
                demo_seed=demo_seed,
                status=TrialStatus.open.value,
            )
        )
        session.flush()
        user = User(
            name=name,
            role=Role.admin.value,
            created_at=audit.now(),
            password_hash=password_hash,
            active=True,
            must_change_password=admin_must_change_password and password_hash is not None,
        )
        session.add(user)
        for level in proto.strata_levels.get("site", ()):
            session.add(Site(trial_id=TRIAL_ID, code=level, name=level))
        n_strata = 0
        if proto.randomisation.method == "blocks":
            levels = [proto.strata_levels[f] for f in proto.strata]
            for combo in itertools.product(*levels):
                lv = dict(zip(proto.strata, combo, strict=True))
                session.add(
                    Stratum(
                        trial_id=TRIAL_ID,
                        key=stratum_key(lv),
                        levels=lv,
                        next_position=1,
                        length=proto.randomisation.list_length_per_stratum,
                    )
                )
                n_strata += 1
        else:
            session.add(
                Stratum(
                    trial_id=TRIAL_ID, key=MINIMISATION_KEY, levels={}, next_position=1, length=0
                )
            )
        session.flush()
        audit.append(
            session,
            key=key,
            user=name,
            entity="trial",
            entity_id=TRIAL_ID,
            action="init",
            new={
                "name": proto.name,
                "protocol_version": proto.version,
                "protocol_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "source": source,
                "method": proto.randomisation.method,
                "strata": n_strata,
                "uid": uid,
                "concealment": "insecure demo seed" if demo_seed is not None else "trial key",
                "admin": name,
            },
        )
        audit.append(
            session,
            key=key,
            user=name,
            entity="app_user",
            entity_id=name,
            action="create",
            new={"name": name, "role": Role.admin.value, "password": password_hash is not None},
        )

    if path is not None:
        folder = store.sqlite_path.parent if store.sqlite_path is not None else None
        create_key_file(path, key, database_folder=folder)
    try:
        store.run_unchecked(work)
    except BaseException:
        if path is not None and path.exists():
            path.unlink()  # nothing half-written: no key without its trial
        raise
    return InitResult(proto, uid, path)


# ----------------------------------------------------------------------------- users
def _user_row(ctx: Context, name: str) -> User:
    user = ctx.session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise DataValidationError(f"no user {name!r}")
    return user


def add_user(
    ctx: Context,
    name: str,
    *,
    role: str,
    password: str | None,
    site: str | None = None,
) -> User:
    """Create an account (admin only); the password is stored as an argon2id hash.

    A password given here is a one-time password: the admin chose it, so the
    user must change it at the first sign-in (:func:`set_password`).
    """
    ctx.require(Operation.manage_users)
    name = validate_participant_id(name, what="user name")
    try:
        role_ = Role(role)
    except ValueError:
        raise DataValidationError(
            f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}"
        ) from None
    if role_ is Role.participant:
        raise DataValidationError(
            "the participant role is the trial's system account for self-report links; "
            "it is created automatically and cannot be given to a person"
        )
    if site is not None and site not in ctx.protocol.strata_levels.get("site", ()):
        raise DataValidationError(f"unknown site {site!r}")
    exists = ctx.session.execute(select(User.id).where(User.name == name)).scalar_one_or_none()
    if exists is not None:
        raise TrialStateError(f"user {name!r} exists already")
    user = User(
        name=name,
        role=role_.value,
        created_at=audit.now(),
        password_hash=None if password is None else _hash_password(password),
        active=True,
        site=site,
        must_change_password=password is not None,
    )
    ctx.session.add(user)
    ctx.session.flush()
    ctx.audit(
        entity="app_user",
        entity_id=name,
        action="create",
        new={"name": name, "role": role_.value, "site": site, "password": password is not None},
    )
    return user


def list_users(ctx: Context) -> list[dict[str, Any]]:
    """Every account: name, role, site, active, whether a password is set."""
    ctx.require(Operation.list_users)
    rows = ctx.session.execute(select(User).order_by(User.name)).scalars()
    return [
        {
            "name": u.name,
            "role": u.role,
            "site": u.site,
            "active": u.active,
            "password": u.password_hash is not None,
            "created_at": u.created_at,
        }
        for u in rows
    ]


def set_password(
    ctx: Context, name: str, password: str, *, old_password: str | None = None
) -> None:
    """Set a password: one's own (with the old one) or anyone's (admin).

    A password an admin sets for someone else is a one-time password: that user
    must change it at the next sign-in. Changing one's own password (which must
    differ from the current one) clears that requirement.
    """
    user = _user_row(ctx, name)
    if user.role == Role.participant.value:
        ctx.require(Operation.manage_users)
        raise DataValidationError(
            f"{name!r} is the system account of participant links; it has no password"
        )
    own = user.id == ctx.actor.id
    if own:
        if user.password_hash is not None and not check_password(user, old_password or ""):
            raise PermissionDenied("the current password is wrong")
        if check_password(user, password):
            raise DataValidationError("the new password must differ from the current one")
    else:
        ctx.require(Operation.manage_users)
    user.password_hash = _hash_password(password)
    user.must_change_password = not own
    ctx.audit(
        entity="app_user",
        entity_id=name,
        action="set password",
        new={"must_change_password": not own},
    )


def deactivate_user(ctx: Context, name: str, *, reason: str) -> None:
    """Deactivate an account (admin); it stays in the audit trail."""
    ctx.require(Operation.manage_users)
    user = _user_row(ctx, name)
    if user.id == ctx.actor.id:
        raise TrialStateError("an admin cannot deactivate their own account")
    user.active = False
    ctx.audit(entity="app_user", entity_id=name, action="deactivate", reason=reason)


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` matches the account's argon2 hash (constant-time)."""
    if user.password_hash is None:
        return False
    try:
        return bool(_HASHER.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False
