"""``resolve design power --json`` gives the same bytes on every engine.

Local processes (1 and 2 workers) and a Dask scheduler with two workers started
here and reached over TCP: same seed, same bytes, whatever the engine, the
number of workers and the chunk size. (A Dask LocalCluster is checked against
the serial engine in tests/design/test_engine.py; through the CLI it starts a
cluster per design point, about 20 s here.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed: Any = pytest.importorskip("distributed")

BIN = Path(sys.executable).parent
# The chunk size is measured (no option sets it): at most ceil(reps / (4 x workers))
# replicates per task, so with 8 replicates per point --workers 2 runs 1 per task while
# --workers 1 and the scheduler (a window hint of 1 worker) run 2 unless one
# replicate takes over a second. Pinned chunk sizes are compared in
# tests/design/test_power.py (serial vs processes) and test_engine.py (Dask).
REPS = 8
POWER = ["design", "power", "--n", "60,80", "--reps", str(REPS), "--seed", "7"]
POWER += ["--analyses", "full", "--json", "--quiet"]
_MAIN = "from resolve.cli import main; main()"


def _start(*args: str) -> subprocess.Popen[bytes]:
    script = BIN / "resolve"
    cmd = [str(script)] if script.exists() else [sys.executable, "-c", _MAIN]
    return subprocess.Popen(
        [*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def _finish(proc: subprocess.Popen[bytes]) -> bytes:
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    return stdout


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _dask_command(role: str) -> list[str]:
    script = BIN / "dask"
    if script.exists():
        return [str(script), role]
    return [sys.executable, "-m", f"distributed.cli.dask_{role}"]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process started in its own session; kill its whole group if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # worker processes left behind, if any
    proc.wait()


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A Dask scheduler and two single-threaded worker processes, over TCP."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet: dict[str, Any] = {
        "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True,
    }  # fmt: skip
    local = ["--host", "127.0.0.1", "--no-dashboard"]
    commands = [
        [*_dask_command("scheduler"), "--port", str(port), *local],
        [*_dask_command("worker"), address, "--nworkers", "2", "--nthreads", "1", *local],
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for command in commands:
            procs.append(subprocess.Popen(command, **quiet))
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
            assert sum(client.nthreads().values()) == 2
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def outputs(request: pytest.FixtureRequest) -> Iterator[dict[str, bytes]]:
    """stdout of the same command on each engine; the runs overlap to save wall time."""
    procs = {
        "workers 1": _start(*POWER, "--workers", "1"),
        "workers 2": _start(*POWER, "--workers", "2"),
    }
    try:
        address = request.getfixturevalue("scheduler")
        procs["scheduler"] = _start(*POWER, "--scheduler", address)
        yield {name: _finish(proc) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            _stop(proc)


def test_reference_output_is_the_full_power_table(outputs: dict[str, bytes]) -> None:
    records = json.loads(outputs["workers 1"])
    assert {r["n"] for r in records} == {60, 80}
    assert {r["reps"] for r in records} == {REPS}
    targets = {r["target"] for r in records}
    assert "treatment:pain:week 18" in targets
    assert "modifier:frebaq:pain:week 52" in targets and "global:pain:week 52" in targets
    assert {r["adjustment"] for r in records} == {"none", "holm", "bh"}
    # the replicates differ between sizes, so the table is not trivially constant
    assert len({r["power"] for r in records}) > 3


def test_two_local_workers_give_the_same_bytes(outputs: dict[str, bytes]) -> None:
    assert outputs["workers 2"] == outputs["workers 1"]


def test_dask_over_tcp_gives_the_same_bytes(outputs: dict[str, bytes]) -> None:
    assert outputs["scheduler"] == outputs["workers 1"]


def test_scheduler_address_reaches_the_workers_started_here(scheduler: str) -> None:
    with distributed.Client(scheduler, timeout=30) as client:
        pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids
