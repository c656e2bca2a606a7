"""A small trial with real users and data, and insider tools, shared by store and ops tests.

:func:`build_trial` runs the proper operations (screen, consent, randomise,
record, correct, emergency unblinding) as proper accounts; :func:`drop_triggers`
removes every append-only trigger, as an insider with write access to the
database could, so tests can show that detection does not rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from resolve import ops
from resolve.cli._app import run
from resolve.store.keys import TrialKey, read_key_file
from resolve.store.models import AuditEvent
from resolve.store.uow import Store

ADMIN = "ada"
ENROLLER = "rc"
ASSESSOR = "asr"
DMC = "dmc"
#: Participants randomised by :func:`build_trial`.
PARTICIPANTS = ("P001", "P002", "P003", "P004")


@dataclass(frozen=True)
class Trial:
    """What :func:`build_trial` made."""

    url: str
    uid: str
    key_file: Path | None
    key: TrialKey
    arms: dict[str, str]

    @property
    def engine(self) -> Engine:
        """A read-write engine of the database (the insider's)."""
        return Store(self.url).engine


def build_trial(url: str, *, demo_seed: int | None = None, data: bool = True) -> Trial:
    """Init a trial, add accounts, randomise :data:`PARTICIPANTS`, record and correct answers."""
    result = ops.init_trial(url, admin=ADMIN, demo_seed=demo_seed)
    admin = ops.Client(url, user=ADMIN)
    admin.run(ops.add_user, ENROLLER, role="enroller", password=None)
    admin.run(ops.add_user, ASSESSOR, role="assessor", password=None)
    admin.run(ops.add_user, DMC, role="unblinded_statistician", password=None)
    enroller = ops.Client(url, user=ENROLLER)
    arms: dict[str, str] = {}
    for i, pid in enumerate(PARTICIPANTS, start=1):
        screened = enroller.run(
            ops.screen,
            pid,
            age=40 + i,
            duration_weeks=20,
            pain=6,
            identity=f"1980-01-{i:02d} AB",
        )
        assert screened.eligible
        enroller.run(ops.consent, pid, version="1.0")
        arms[pid] = enroller.run(ops.randomise, pid)
    if data:
        assessor = ops.Client(url, user=ASSESSOR)
        for pid, score in (("P001", 5), ("P002", 7)):
            assessor.run(
                ops.record, pid, visit="baseline", instrument="nrs", items={"nrs_1": score}
            )
        assessor.run(
            ops.correct,
            "P001",
            visit="baseline",
            instrument="nrs",
            items={"nrs_1": 6},
            reason="transcription error",
        )
        dmc = ops.Client(url, user=DMC)
        assert (
            dmc.run(ops.emergency_unblind, "P003", reason="serious adverse event") == arms["P003"]
        )
    if result.key_file is not None:
        key = read_key_file(result.key_file)
    else:
        assert demo_seed is not None
        key = TrialKey.insecure_from_seed(demo_seed)
    return Trial(url=url, uid=result.uid, key_file=result.key_file, key=key, arms=arms)


def events(engine: Engine) -> list[tuple[int, str, str, str]]:
    """Every audit event as (id, entity, entity_id, action), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                AuditEvent.id, AuditEvent.entity, AuditEvent.entity_id, AuditEvent.action
            ).order_by(AuditEvent.id)
        ).all()
    return [(int(i), e, eid, a) for i, e, eid, a in rows]


def event_id(engine: Engine, entity_id: str, action: str) -> int:
    """The id of the last event ``action`` on ``entity_id``."""
    found = [i for i, _, eid, a in events(engine) if eid == entity_id and a == action]
    assert found, f"no {action} event of {entity_id}"
    return found[-1]


def drop_triggers(engine: Engine) -> list[str]:
    """Drop every append-only trigger (what an insider with DDL rights can do); their names."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            names = list(
                conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
                ).scalars()
            )
            for name in names:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
        else:
            rows = conn.execute(
                text(
                    "SELECT t.tgname, c.relname FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY 1"
                )
            ).all()
            names = [name for name, _ in rows]
            for name, table in rows:
                conn.execute(text(f'DROP TRIGGER "{name}" ON "{table}"'))
    return names


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``resolve ARGV`` in-process: (exit code, stdout, stderr)."""
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def verify(
    capsys: pytest.CaptureFixture[str], url: str, *extra: str, user: str = ADMIN
) -> tuple[int, str]:
    """``resolve trial audit verify --db URL --user USER EXTRA``: (exit code, stderr)."""
    code, _, err = cli(capsys, "trial", "audit", "verify", "--db", url, "--user", user, *extra)
    return code, err
