"""Shared set-up of the service-layer tests: a trial with one account per role, enrolment.

Every helper goes through :mod:`resolve.ops` (``Client.run``) except the
inspection helpers (:func:`snapshot`, :func:`audit_rows`, :func:`counters`),
which read the tables directly, as an auditor with database access would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from resolve import ops
from resolve.store.keys import TrialKey
from resolve.store.models import AuditEvent, Base, Stratum, Trial
from resolve.store.uow import Store
from resolve.trial.protocol import Protocol
from resolve.trial.randomize import generate_sequences

T = TypeVar("T")

ARMS = ("sham", "resolve")
TWO_SITES = 'site = ["sydney", "newcastle"]'

#: One account per role (the admin is created by ``init_trial``).
ADMIN = "admin"
ENROLLER = "rc"
ENROLLER2 = "rc2"
CLINICIAN = "doc"
CLINICIAN2 = "doc2"
ASSESSOR = "ana"
STATISTICIAN = "stat"
UNBLINDED = "dmc"
MONITOR = "mon"
_USERS: dict[str, str] = {
    ENROLLER: "enroller",
    ENROLLER2: "enroller",
    CLINICIAN: "clinician",
    CLINICIAN2: "clinician",
    ASSESSOR: "assessor",
    STATISTICIAN: "statistician",
    UNBLINDED: "unblinded_statistician",
    MONITOR: "monitor",
}


def _role_users() -> dict[str, str]:
    """Role value -> the first account of that role (``participant``: the system account
    of self-report links, which exists only where a test creates it)."""
    from resolve.ops.links import SYSTEM_USER

    out = {"admin": ADMIN, "participant": SYSTEM_USER}
    for name, role in _USERS.items():
        out.setdefault(role, name)
    return out


#: Role value -> the account that acts in that role.
USER_OF_ROLE: dict[str, str] = _role_users()


def two_site_protocol(folder: Path) -> Path:
    """The bundled protocol with a second site ("newcastle"), written into ``folder``."""
    from importlib import resources

    bundled = (
        resources.files("resolve.trial").joinpath("protocols", "resolve.toml").read_text("utf-8")
    )
    assert 'site = ["sydney"]' in bundled
    path = folder / "two_sites.toml"
    path.write_text(bundled.replace('site = ["sydney"]', TWO_SITES), encoding="utf-8")
    return path


def new_trial(
    db: str,
    protocol: str | Path | None = None,
    *,
    key_file: Path | None = None,
    demo_seed: int | None = None,
    users: dict[str, str] | None = None,
) -> ops.InitResult:
    """Initialise a trial (real key unless ``demo_seed``) and add one account per role."""
    result = ops.init_trial(db, protocol, admin=ADMIN, key_file=key_file, demo_seed=demo_seed)
    admin = client(db, ADMIN, key_file)

    def add_all(ctx: ops.Context) -> None:
        for name, role in (users if users is not None else _USERS).items():
            ops.add_user(ctx, name, role=role, password=None)

    admin.run(add_all)
    return result


def client(db: str, user: str, key_file: Path | None = None) -> ops.Client:
    """A client acting as ``user``."""
    return ops.Client(db, user=user, key_file=key_file)


def identity(pid: str) -> str:
    """Identifying details of participant ``pid`` (distinct per id)."""
    return f"1980-01-01 {pid}"


def screen(
    ctx: ops.Context,
    pid: str,
    *,
    eligible: bool = True,
    who: str | None = None,
    site: str | None = None,
) -> None:
    """Screen ``pid`` inside an operation (age 40 eligible, 75 not)."""
    factors = {"site": site} if site else None
    ops.screen(
        ctx,
        pid,
        age=40 if eligible else 75,
        duration_weeks=30,
        pain=6,
        identity=who or identity(pid),
        factors=factors,
    )


def enrol(
    db: str,
    pids: Sequence[str],
    *,
    user: str = ENROLLER,
    site: str | dict[str, str] | None = None,
    key_file: Path | None = None,
) -> None:
    """Screen (eligible) and consent every participant of ``pids`` in one transaction."""

    def work(ctx: ops.Context) -> None:
        for pid in pids:
            screen(ctx, pid, site=site.get(pid) if isinstance(site, dict) else site)
            ops.consent(ctx, pid, version="1.0")

    client(db, user, key_file).run(work)


def randomise(db: str, pid: str, *, user: str = ENROLLER, key_file: Path | None = None) -> str:
    """Randomise ``pid`` as ``user``; the arm."""
    return client(db, user, key_file).run(ops.randomise, pid)


def inspect_db(db: str, work: Callable[[Session], T]) -> T:
    """Run ``work`` on a plain session (no actor, no permission check)."""
    return Store(db).run(work, read_only=True)


def audit_rows(db: str) -> list[AuditEvent]:
    """Every audit event, in order."""
    return inspect_db(
        db, lambda s: list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
    )


def audit_actions(db: str) -> list[tuple[str, str, str, str | None]]:
    """``(entity, action, entity_id, reason)`` of every audit event, in order."""
    return [(e.entity, e.action, e.entity_id, e.reason) for e in audit_rows(db)]


def audit_count(db: str) -> int:
    """Number of audit events."""
    return len(audit_rows(db))


def counters(db: str) -> dict[str, int]:
    """Stratum key -> next position."""
    return inspect_db(
        db,
        lambda s: {st.key: st.next_position for st in s.execute(select(Stratum)).scalars()},
    )


def snapshot(db: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (sorted), to show that something wrote nothing."""

    def work(s: Session) -> dict[str, list[tuple[Any, ...]]]:
        out = {}
        for table in Base.metadata.sorted_tables:
            rows = s.execute(text(f"SELECT * FROM {table.name}")).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
        return out

    return inspect_db(db, work)


def trial_key(db: str, key_file: Path | None = None) -> TrialKey:
    """The trial's key (as the operations load it)."""
    return inspect_db(db, lambda s: ops.load_key(_trial(s), key_file))


def _trial(s: Session) -> Trial:
    trial = s.get(Trial, 1)
    assert trial is not None
    return trial


def sealed_lists(
    db: str, protocol: Protocol, key_file: Path | None = None
) -> dict[tuple[str, ...], list[str]]:
    """The block lists the trial key implies (what only a key holder can compute)."""
    return generate_sequences(protocol, trial_key(db, key_file).entropy)


def blocks_balanced(arms: Sequence[str], protocol: Protocol) -> bool:
    """Whether ``arms`` splits into consecutive blocks of the protocol's sizes, each in ratio.

    The last block may be incomplete but then holds no arm more often than a
    whole block of some allowed size would.
    """
    ratios = {a.name: a.ratio for a in protocol.arms}
    total = sum(ratios.values())
    sizes = protocol.randomisation.block_sizes
    n = len(arms)

    def fits(chunk: Sequence[str], size: int, whole: bool) -> bool:
        counts = {a: chunk.count(a) for a in ratios}
        if sum(counts.values()) != len(chunk):
            return False
        want = {a: size * r // total for a, r in ratios.items()}
        if whole:
            return counts == want
        return all(counts[a] <= want[a] for a in ratios)

    reachable = [False] * (n + 1)
    reachable[0] = True
    for i in range(n + 1):
        if not reachable[i]:
            continue
        if any(fits(arms[i:], s, whole=False) for s in sizes if s >= n - i):
            return True
        for s in sizes:
            if i + s <= n and fits(arms[i : i + s], s, whole=True):
                reachable[i + s] = True
    return False
