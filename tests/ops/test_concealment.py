"""Allocation concealment: a database reader without the trial key learns no future arm.

After ``init`` (a real key, no demo seed) and some allocations, the whole
database dump (SQLite ``iterdump()``; PostgreSQL: every row of every table) holds
neither the key, nor its allocation entropy, nor a seed, nor a list: no integer
or text found in it, used as a seed, regenerates the allocation list, while the
key outside the database does (sanity). Demo mode is reproducible and says so.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from resolve import ops
from resolve.errors import DataValidationError
from resolve.store import audit, normalise_url
from resolve.store.keys import TrialKey, read_key_file
from resolve.store.uow import Store
from resolve.trial.protocol import load_protocol
from resolve.trial.randomize import generate_sequence
from resolve.trial.randomize.sequence import stratum_key
from tests.db_fixtures import _dispose
from tests.store.scenario import ADMIN, ENROLLER, cli

N_ALLOCATED = 10
#: Future allocations compared besides the ones made: a list of N_ALLOCATED
#: blocked arms has only ~10 bits, so a few in thousands of seeds would match it
#: by chance; what matters is that no seed found in the dump predicts what comes.
N_FUTURE = 30
STRATUM = ("sydney",)


def _allocate(db: str, n: int, *, demo_seed: int | None = None) -> tuple[list[str], str]:
    """Init a trial, randomise ``n`` participants: (arms in order, trial uid)."""
    result = ops.init_trial(db, admin=ADMIN, demo_seed=demo_seed)
    ops.Client(db, user=ADMIN).run(ops.add_user, ENROLLER, role="enroller", password=None)
    rc = ops.Client(db, user=ENROLLER)
    arms = []
    for i in range(1, n + 1):
        pid = f"C{i:03d}"
        rc.run(ops.screen, pid, age=30 + i, duration_weeks=20, pain=6, identity=f"id {i:04d} xy")
        rc.run(ops.consent, pid, version="1.0")
        arms.append(rc.run(ops.randomise, pid))
    return arms, result.uid


def _dump(db: str) -> tuple[str, list[object]]:
    """The whole database as text, and every cell value."""
    store = Store(db)
    cells: list[object] = []
    with store.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                cells.extend(row)
    if store.sqlite_path is not None:
        with sqlite3.connect(store.sqlite_path) as raw:
            dumped = "\n".join(raw.iterdump())
    else:
        dumped = "\n".join(map(repr, cells))
    return dumped, cells


def _candidate_seeds(dumped: str, cells: list[object]) -> set[int]:
    """Every integer a reader could try as a seed: numbers, hex strings, texts."""
    found: set[int] = set()
    found.update(int(t) for t in re.findall(r"\d+", dumped))
    found.update(int(t, 16) for t in re.findall(r"[0-9a-fA-F]{8,}", dumped))
    for cell in cells:
        if isinstance(cell, bool) or cell is None:
            continue
        if isinstance(cell, int):
            found.add(cell)
            continue
        value = str(cell).encode("utf-8")
        found.add(int.from_bytes(hashlib.sha256(value).digest(), "big"))
        found.add(int.from_bytes(value[:64], "big"))
    # the demo-mode derivation of every small number found (a reader's obvious guess)
    found.update(TrialKey.insecure_from_seed(s).entropy for s in list(found) if 0 <= s < 2**63)
    return {s for s in found if s >= 0}


def test_a_reader_without_the_key_cannot_recover_the_list(db_url: str) -> None:
    arms, _uid = _allocate(db_url, N_ALLOCATED)
    protocol = load_protocol()
    assert stratum_key(protocol, {"site": "sydney"}) == STRATUM
    key_files = list(Path(os.environ["RESOLVE_KEY_DIR"]).iterdir())
    assert len(key_files) == 1
    key = read_key_file(key_files[0])
    # sanity: the key (outside the database) does reproduce the allocations
    true_list = generate_sequence(protocol, key.entropy, STRATUM)
    assert true_list[:N_ALLOCATED] == arms
    assert len(set(arms)) == 2

    dumped, cells = _dump(db_url)
    lowered = dumped.lower()
    secrets = {
        "key": key.hex(),
        "entropy (hex)": key.subkey("allocation").hex(),
        "entropy (decimal)": str(key.entropy),
        "audit sub-key": key.subkey(audit.AUDIT_LABEL).hex(),
        "identity sub-key": key.subkey("identity v1").hex(),
    }
    for what, value in secrets.items():
        assert value.lower() not in lowered, what
        assert value not in {str(c) for c in cells}, what
    # no seed column holds a value; the fingerprint is all that identifies the key
    with Store(db_url).engine.connect() as conn:
        demo_seed, fingerprint = conn.execute(
            text("SELECT demo_seed, key_fingerprint FROM trial")
        ).one()
        tables = set(inspect(conn).get_table_names())
        columns = {f"{t}.{c['name']}" for t in tables for c in inspect(conn).get_columns(t)}
    assert demo_seed is None and fingerprint == key.fingerprint
    assert not {c for c in columns if re.search(r"seed|slot|sequence|sealed", c)} - {
        "trial.demo_seed"
    }
    # no stored run of arms longer than the allocations made: each arm is stored once
    # in its allocation row and once in its randomise event, never as a list
    arm_cells = [c for c in cells if c in ("sham", "resolve")]
    assert len(arm_cells) == N_ALLOCATED
    separator = r"[\s\"',;\[\]()]*"
    run = re.compile(rf"(?:\b(?:sham|resolve)\b{separator}){{{N_ALLOCATED + 1},}}")
    assert run.search(" ".join(true_list[: N_ALLOCATED + 1]))  # the check can fail
    assert not run.search(dumped)
    assert dumped.count('"arm":') == N_ALLOCATED  # the randomise events, one arm each

    # no integer or text found in the dump, used as a seed, regenerates the list
    candidates = _candidate_seeds(dumped, cells)
    assert len(candidates) > 500, len(candidates)
    horizon = N_ALLOCATED + N_FUTURE
    for seed in candidates:
        try:
            guess = generate_sequence(protocol, seed, STRATUM)
        except DataValidationError:
            continue
        assert guess[:horizon] != true_list[:horizon], "a value in the database predicts the list"


def test_demo_mode_is_reproducible_and_labelled_insecure(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        capsys,
        "trial",
        "init",
        "--db",
        db_url,
        "--user",
        ADMIN,
        "--no-password",
        "--demo-seed",
        "7",
    )
    assert code == 0
    assert "INSECURE DEMO MODE" in err and "predictable" in err
    assert "key written" not in out
    assert not list(Path(os.environ["RESOLVE_KEY_DIR"]).iterdir())  # no key file
    with Store(db_url).engine.connect() as conn:
        assert conn.execute(text("SELECT demo_seed FROM trial")).scalar_one() == 7
        init_event = conn.execute(
            text("SELECT new_value FROM audit_event WHERE action = 'init'")
        ).scalar_one()
    assert '"concealment":"insecure demo seed"' in init_event
    ops.Client(db_url, user=ADMIN).run(ops.add_user, ENROLLER, role="enroller", password=None)
    rc = ops.Client(db_url, user=ENROLLER)
    arms = []
    for i in range(1, 7):
        rc.run(ops.screen, f"D{i}", age=40, duration_weeks=20, pain=6, identity=f"demo {i} pp")
        rc.run(ops.consent, f"D{i}", version="1.0")
        arms.append(rc.run(ops.randomise, f"D{i}"))
    # predictable from the seed alone, and the same in another database with the same seed
    demo = TrialKey.insecure_from_seed(7)
    assert arms == generate_sequence(load_protocol(), demo.entropy, STRATUM)[:6]
    again_db = tmp_path / "again.db"
    again, _ = _allocate(str(again_db), 6, demo_seed=7)
    _dispose(normalise_url(again_db))
    assert again == arms
