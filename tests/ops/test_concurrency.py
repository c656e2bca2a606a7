"""Concurrency and crashes, on SQLite and PostgreSQL.

300 processes randomise at the same moment: no duplicate position, no gap,
one allocation per participant, every stratum's arms in the order of its keyed
block list and balanced within blocks. A process killed mid-allocation
(SIGKILL, while the allocation, the counter update and the audit event are
written but not committed) leaves the store exactly as it was.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from resolve import ops
from resolve.ops.enrolment import MARKER_ENV, PAUSE_ENV
from tests.ops._workers import randomise_one
from tests.ops.helpers import (
    ENROLLER,
    UNBLINDED,
    blocks_balanced,
    client,
    counters,
    enrol,
    new_trial,
    randomise,
    sealed_lists,
    snapshot,
    two_site_protocol,
)

N = 300
#: Enroller accounts the workers act as (round robin).
WORKERS = [f"w{k}" for k in range(10)]
#: Store deadline of each worker. The default (30 s) bounds one call's wait; 300
#: cold processes released together on two cores queue for longer than that on
#: PostgreSQL (30-40 s measured with 100 connection slots), so the test gives them
#: 120 s: what it checks is that every call is retried until it gets a slot and a
#: lock, and that nothing is duplicated or lost (the default deadline is tested
#: by ``test_refused_connections_are_retried_within_the_deadline``).
WORKER_DEADLINE_S = 120.0
KILL_REPETITIONS = 3


def _start_context() -> Any:
    """Fresh processes that share nothing with pytest (no engine, no connection, no key).

    A forkserver that has imported :mod:`resolve.ops` and the driver, but opened
    nothing, forks the workers: 300 interpreters spawned one by one would each
    import pandas and SQLAlchemy (~1 s of CPU and ~100 MB each: minutes on two
    cores, more memory than CI has) and test nothing more. The worker module is
    importable under ``spawn`` too (``test_worker_runs_under_spawn``).
    """
    # The forkserver is one per pytest process: if an earlier test started it
    # (any library code using "forkserver"), its preload list is not ours and
    # every worker would carry whatever it imported. Stop it so ours is used.
    from multiprocessing import forkserver

    server: Any = forkserver._forkserver  # private, stable since Python 3.8
    server._stop()
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(
        [
            "tests.ops._lean",
            "tests.ops._workers",
            "psycopg",
            "sqlalchemy.dialects.postgresql.psycopg",
        ]
    )
    return ctx


def _run_workers(
    ctx: Any, db: str, key_file: Path, pids: list[str]
) -> tuple[dict[str, str], Counter[str], float]:
    """Start one process per participant, release them together; (results, retries, seconds)."""
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=randomise_one,
            args=(db, key_file, pid, WORKERS[k % len(WORKERS)], WORKER_DEADLINE_S, ready, go, out),
        )
        for k, pid in enumerate(pids)
    ]
    retries: Counter[str] = Counter()
    started = []
    try:
        for p in procs:
            p.start()
            started.append(p)
        for _ in procs:  # every process is up, its client built, waiting
            ready.get(timeout=300)
        start = time.perf_counter()
        go.set()
        results = {}
        for _ in procs:
            pid, result, retried = out.get(timeout=300)
            results[pid] = result
            retries.update(retried)
        elapsed = time.perf_counter() - start
    finally:
        go.set()  # never leave a started process waiting
        for p in started:
            p.join(timeout=60)
        for p in started:
            if p.is_alive():
                p.kill()
                p.join(timeout=10)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs if p.exitcode]
    return results, retries, elapsed


def _max_connections(db: str) -> int | None:
    if not db.startswith("postgresql"):
        return None
    from sqlalchemy import text

    from tests.ops.helpers import inspect_db

    return int(inspect_db(db, lambda s: s.execute(text("SHOW max_connections")).scalar_one()))


@pytest.mark.slow
def test_300_simultaneous_randomisations(db_url: str, tmp_path: Path) -> None:
    protocol_file = two_site_protocol(tmp_path)
    users = {ENROLLER: "enroller", UNBLINDED: "unblinded_statistician"}
    users.update(dict.fromkeys(WORKERS, "enroller"))
    res = new_trial(db_url, protocol_file, users=users)
    assert res.key_file is not None
    sites = {f"C{k:03d}": ("sydney" if k % 3 else "newcastle") for k in range(N)}
    enrol(db_url, list(sites), site=sites)

    results, retries, elapsed = _run_workers(_start_context(), db_url, res.key_file, list(sites))
    backend = db_url.split(":")[0].split("+")[0]
    print(
        f"\n{N} simultaneous randomisations on {backend}: {elapsed:.1f} s; retried: {dict(retries)}"
    )
    errors = {k: v for k, v in results.items() if v.startswith("ERROR")}
    assert not errors, list(errors.items())[:3]
    limit = _max_connections(db_url)
    if limit is not None and limit < N:
        # More processes than connection slots: some were refused with 53300 ("too
        # many clients") and the store retried them within its deadline.
        assert retries["53300"] > 0, retries

    dmc = client(db_url, UNBLINDED)
    alloc = dmc.run(ops.allocations)
    assert len(alloc) == N and alloc["participant"].is_unique
    assert set(alloc["participant"]) == set(sites)
    by_pid = alloc.set_index("participant")
    for pid, arm in results.items():
        assert by_pid.loc[pid, "arm"] == arm
    assert set(alloc["user"]) <= set(WORKERS)
    for k, pid in enumerate(sites):
        assert by_pid.loc[pid, "user"] == WORKERS[k % len(WORKERS)]
    parts = dmc.run(ops.participants)
    assert set(parts["status"]) == {"randomised"}

    sealed = sealed_lists(db_url, res.protocol)
    at_counters = counters(db_url)
    for (site,), arms in sealed.items():
        key = f'{{"site":"{site}"}}'
        mine = alloc[alloc["stratum"] == key].sort_values("position")
        k = sum(1 for s in sites.values() if s == site)
        assert list(mine["position"]) == list(range(1, k + 1))  # no gaps, no duplicates
        assert list(mine["arm"]) == arms[:k]  # the keyed list, in order
        assert blocks_balanced(list(mine["arm"]), res.protocol)  # balanced within blocks
        # Allocation times follow positions: the list was consumed in order.
        assert list(mine["allocated_at"]) == sorted(mine["allocated_at"])
        assert at_counters[key] == k + 1
    assert client(db_url, "admin").run(ops.verify_trial) is None


def test_worker_runs_under_spawn(tmp_path: Path) -> None:
    """The worker module imports and works in a freshly spawned interpreter."""
    db = f"sqlite:///{tmp_path / 'trial.db'}"
    res = new_trial(db, users={ENROLLER: "enroller", **dict.fromkeys(WORKERS[:2], "enroller")})
    assert res.key_file is not None
    enrol(db, ["S1", "S2"])
    ctx = mp.get_context("spawn")
    results, _, _ = _run_workers(ctx, db, res.key_file, ["S1", "S2"])
    arms = sealed_lists(db, res.protocol)[("sydney",)]
    assert sorted(results.values()) == sorted(arms[:2]), results


def _fill_connection_slots(db: str) -> list[Any]:
    """Open connections to ``db`` until the server refuses one; return the open ones."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(db)
    held = []
    for _ in range(1000):
        try:
            held.append(
                psycopg.connect(
                    host=url.host,
                    port=url.port or 5432,
                    user=url.username,
                    password=url.password,
                    dbname=url.database,
                    connect_timeout=5,
                )
            )
        except psycopg.OperationalError as exc:
            text = str(exc)
            assert "too many clients" in text or "connection slots" in text, text
            return held
    raise AssertionError("the server accepted 1000 connections")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a PostgreSQL limit
def test_refused_connections_are_retried_within_the_deadline(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every connection slot taken (SQLSTATE 53300): a call waits and retries, bounded."""
    import threading

    from resolve.store import uow
    from tests.db_fixtures import _dispose

    new_trial(db_url, users={ENROLLER: "enroller"})
    _dispose(db_url)  # no idle pooled connection: the next call must connect
    refused: list[str] = []
    classify = uow.classify

    def counting(exc: Any) -> str:
        kind = classify(exc)
        if kind == "retry":
            refused.append(str(exc.orig))
        return kind

    monkeypatch.setattr(uow, "classify", counting)
    held = _fill_connection_slots(db_url)
    try:
        # Beyond a short deadline: a clear, bounded refusal.
        with pytest.raises(uow.StoreBusyError, match="stayed unavailable or locked for 1 s"):
            ops.Client(uow.Store(db_url, deadline=1.0), user="admin").run(ops.list_users)
        assert refused, "the refused connection was not retried"
        # Slots freed within the default deadline: the call succeeds after retrying.
        refused.clear()
        done: dict[str, Any] = {}

        def call() -> None:
            start = time.perf_counter()
            try:
                done["users"] = ops.Client(db_url, user="admin").run(ops.list_users)
            except Exception as exc:  # reported below
                done["error"] = exc
            done["seconds"] = time.perf_counter() - start

        worker = threading.Thread(target=call)
        worker.start()
        time.sleep(1.5)
        assert worker.is_alive() and not done, done
        for conn in held[:5]:
            conn.close()
        worker.join(timeout=60)
    finally:
        for conn in held:
            conn.close()
    assert "error" not in done, done
    assert {u["name"] for u in done["users"]} == {"admin", ENROLLER}
    assert 1.5 <= done["seconds"] < uow.DEFAULT_DEADLINE_S
    assert any("too many clients" in r or "connection slots" in r for r in refused), refused


def test_balance_check_can_fail() -> None:
    from resolve.trial.protocol import load_protocol

    proto = load_protocol()  # block sizes 2, 4, 6 at 1:1
    assert blocks_balanced(["sham", "resolve", "resolve", "resolve", "sham", "sham"], proto)
    assert blocks_balanced(["sham", "resolve", "resolve", "resolve"], proto)  # 2 + part of 4/6
    assert not blocks_balanced(["sham", "sham", "sham", "sham"], proto)
    s, r = "sham", "resolve"
    assert not blocks_balanced([s, r, s, s, s, s, r, r], proto)  # 4 of one arm in a block
    assert not blocks_balanced([r, r, s, r, r, s, s, s], proto)
    assert blocks_balanced([s, r, r, r, s, s, r, s], proto)  # 2 + 6


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    code = "import sys; from resolve.cli import main; sys.argv[0] = 'resolve'; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_mid_allocation(db: str, pid: str, key_file: Path, marker: Path) -> None:
    proc = _cli(
        "trial",
        "randomise",
        "--db",
        db,
        "--id",
        pid,
        "--user",
        ENROLLER,
        "--key-file",
        str(key_file),
        env={PAUSE_ENV: "60", MARKER_ENV: str(marker)},
    )
    deadline = time.monotonic() + 60
    try:
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the allocation never reached its pause"
            time.sleep(0.05)
        # The allocation row, the counter update and the audit event are written, not committed.
        assert int(marker.read_text()) == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def test_process_killed_mid_allocation_leaves_store_consistent(db_url: str, tmp_path: Path) -> None:
    res = new_trial(db_url)
    assert res.key_file is not None
    pids = [f"K{i}" for i in range(KILL_REPETITIONS)]
    enrol(db_url, pids)
    arms = sealed_lists(db_url, res.protocol)[("sydney",)]
    key = '{"site":"sydney"}'
    admin = client(db_url, "admin")
    for i, pid in enumerate(pids):
        before = snapshot(db_url)
        _kill_mid_allocation(db_url, pid, res.key_file, tmp_path / f"paused-{i}")
        # Nothing of the killed allocation was kept: no allocation row, the counter
        # unchanged, no audit event, the participant still consented.
        assert snapshot(db_url) == before
        assert counters(db_url) == {key: i + 1}
        assert admin.run(ops.verify_trial) is None
        # The participant can be randomised now, and gets the list's next entry.
        assert randomise(db_url, pid) == arms[i]
    alloc = client(db_url, UNBLINDED).run(ops.allocations)
    assert list(alloc["participant"]) == pids
    assert list(alloc["position"]) == list(range(1, KILL_REPETITIONS + 1))
    assert list(alloc["arm"]) == arms[:KILL_REPETITIONS]
    assert counters(db_url) == {key: KILL_REPETITIONS + 1}
    assert admin.run(ops.verify_trial) is None
