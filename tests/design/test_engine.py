"""The replicate engine: seeds, chunking, engines, Parquet streaming and resume."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resolve.design import (
    DaskEngine,
    LocalEngine,
    SerialEngine,
    plan_chunks,
    replicate_rng,
    run_replicates,
)
from resolve.design.engine_store import MANIFEST_NAME
from resolve.errors import DataValidationError

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
REPS = 40
SEED = 20260101


def t_statistic(rng: np.random.Generator, index: int) -> dict[str, float | int | str]:
    """One-sample t-statistic of 20 standard-normal draws shifted by 0.3."""
    x = rng.normal(loc=0.3, size=20)
    t = float(x.mean() / (x.std(ddof=1) / np.sqrt(x.size)))
    return {"t": t, "reject": int(abs(t) > 2.093), "label": f"r{index % 3}"}


def two_rows(rng: np.random.Generator, index: int) -> list[dict[str, float | str]]:
    """Two rows per replicate (one per arm)."""
    return [
        {"arm": "control", "y": float(rng.normal())},
        {"arm": "active", "y": float(rng.normal(loc=1.0))},
    ]


def slow_t_statistic(
    rng: np.random.Generator, index: int, delay: float
) -> dict[str, float | int | str]:
    """As :func:`t_statistic`, but sleeping ``delay`` seconds first."""
    time.sleep(delay)
    return t_statistic(rng, index)


def bad_value(rng: np.random.Generator, index: int) -> dict[str, object]:
    return {"x": [1, 2]} if index == 3 else {"x": 1.0}


def _json(frame: pd.DataFrame) -> bytes:
    return frame.to_json(orient="records", double_precision=15).encode("utf-8")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return run_replicates(t_statistic, reps=REPS, seed=SEED, chunk_size=7, engine=SerialEngine())


def _assert_identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert _json(a) == _json(b)


def test_replicate_seeds_are_spawned_children() -> None:
    children = np.random.SeedSequence(SEED).spawn(5)
    for i, child in enumerate(children):
        expected = np.random.default_rng(child).integers(0, 2**62, size=4)
        assert np.array_equal(replicate_rng(SEED, i).integers(0, 2**62, size=4), expected)


def test_reference_shape_and_values(reference: pd.DataFrame) -> None:
    assert list(reference.columns) == ["replicate", "t", "reject", "label"]
    assert reference["replicate"].tolist() == list(range(REPS))
    # replicate 5 recomputed by hand from child 5 of the root seed
    x = np.random.default_rng(np.random.SeedSequence(SEED).spawn(6)[5]).normal(0.3, size=20)
    assert reference.loc[5, "t"] == x.mean() / (x.std(ddof=1) / np.sqrt(20))
    assert reference["t"].nunique() == REPS


@pytest.mark.parametrize("chunk_size", [1, 3, REPS, 1000, None])
def test_serial_chunk_size_does_not_change_results(
    reference: pd.DataFrame, chunk_size: int | None
) -> None:
    result = run_replicates(
        t_statistic, reps=REPS, seed=SEED, chunk_size=chunk_size, engine=SerialEngine()
    )
    _assert_identical(result, reference)


@pytest.mark.parametrize(("workers", "chunk_size"), [(1, 6), (2, 3), (2, None)])
def test_local_processes_match_serial(
    reference: pd.DataFrame, workers: int, chunk_size: int | None
) -> None:
    result = run_replicates(
        t_statistic,
        reps=REPS,
        seed=SEED,
        chunk_size=chunk_size,
        engine=LocalEngine(workers=workers),
    )
    _assert_identical(result, reference)


def test_different_seed_differs(reference: pd.DataFrame) -> None:
    other = run_replicates(t_statistic, reps=REPS, seed=SEED + 1, engine=SerialEngine())
    assert not np.array_equal(other["t"].to_numpy(), reference["t"].to_numpy())


def test_list_of_rows_keeps_replicate_then_row_order() -> None:
    a = run_replicates(two_rows, reps=5, seed=1, chunk_size=2, engine=SerialEngine())
    b = run_replicates(two_rows, reps=5, seed=1, chunk_size=5, engine=SerialEngine())
    _assert_identical(a, b)
    assert a["replicate"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert a["arm"].tolist() == ["control", "active"] * 5


def test_progress_reports_every_chunk() -> None:
    calls: list[tuple[int, int]] = []
    run_replicates(
        t_statistic,
        reps=10,
        seed=1,
        chunk_size=4,
        engine=SerialEngine(),
        progress=lambda done, total, elapsed: calls.append((done, total)),
    )
    assert calls == [(0, 10), (4, 10), (8, 10), (10, 10)]


def test_bad_row_value_names_replicate_and_column() -> None:
    with pytest.raises(DataValidationError, match=r"replicate 3: value of 'x'.*list"):
        run_replicates(bad_value, reps=5, seed=1, chunk_size=2, engine=SerialEngine())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"reps": -1}, "reps"), ({"seed": 1.5}, "seed"), ({"chunk_size": 0}, "chunk_size")],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"reps": 3, "seed": 1, "engine": SerialEngine(), **kwargs}
    with pytest.raises(DataValidationError, match=message):
        run_replicates(t_statistic, **args)  # type: ignore[arg-type]


def test_zero_replicates_gives_empty_frame() -> None:
    result = run_replicates(t_statistic, reps=0, seed=1, engine=SerialEngine())
    assert list(result.columns) == ["replicate"] and len(result) == 0


# --- Parquet dataset, manifest and resume --------------------------------------------


def test_parquet_output_matches_memory(reference: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_replicates(
        t_statistic, reps=REPS, seed=SEED, chunk_size=7, engine=SerialEngine(), out=out
    )
    _assert_identical(result, reference)
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"chunk-{k:06d}.parquet" for k in range(6)] + [MANIFEST_NAME]
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "chunk-000001.parquet"), reference[7:14].reset_index(drop=True)
    )


def test_rerun_on_complete_dataset_recomputes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = run_replicates(
        t_statistic, reps=12, seed=2, chunk_size=5, engine=SerialEngine(), out=out
    )
    calls: list[int] = []
    second = run_replicates(
        t_statistic,
        reps=12,
        seed=2,
        engine=SerialEngine(),
        out=out,
        progress=lambda done, total, elapsed: calls.append(done),
    )
    _assert_identical(first, second)
    assert calls == [12]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seed": 3}, "seed"),
        ({"reps": 13}, "reps"),
        ({"chunk_size": 4}, "chunk_size"),
        ({"fn_version": "v2"}, "fn_version"),
        ({"fn": two_rows}, "fn"),
    ],
)
def test_manifest_mismatch_is_refused(
    tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    out = tmp_path / "run"
    base: dict[str, object] = {"fn": t_statistic, "reps": 12, "seed": 2, "chunk_size": 5}
    run_replicates(engine=SerialEngine(), out=out, **base)  # type: ignore[arg-type]
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(DataValidationError, match=rf"different parameters.*{field}: stored"):
        run_replicates(engine=SerialEngine(), out=out, **{**base, **kwargs})  # type: ignore[arg-type]
    assert sorted(p.name for p in out.iterdir()) == before


def test_chunks_without_manifest_are_refused(tmp_path: Path) -> None:
    (tmp_path / "chunk-000000.parquet").write_bytes(b"")
    with pytest.raises(DataValidationError, match=r"no manifest\.json"):
        run_replicates(t_statistic, reps=3, seed=1, engine=SerialEngine(), out=tmp_path)


_KILLED_RUN = """
import functools, sys
from resolve.design import SerialEngine, run_replicates
from tests.design.test_engine import slow_t_statistic
run_replicates(functools.partial(slow_t_statistic, delay=0.1), reps={reps}, seed={seed},
               chunk_size=2, engine=SerialEngine(), out=sys.argv[1])
"""


def test_killed_run_resumes_to_identical_result(reference: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = _KILLED_RUN.format(reps=REPS, seed=SEED)
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while len(list(out.glob("chunk-*.parquet"))) < 3:
            assert proc.poll() is None, "the run finished or failed before it could be killed"
            assert time.monotonic() < deadline, "no chunk written within 60 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("chunk-*.parquet")}
    assert 3 <= len(kept) < REPS // 2
    resumed = run_replicates(
        functools.partial(slow_t_statistic, delay=0.0),
        reps=REPS,
        seed=SEED,
        engine=LocalEngine(workers=2),
        out=out,
    )
    _assert_identical(resumed, reference)
    for name, mtime in kept.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert len(list(out.glob("chunk-*.parquet"))) == REPS // 2
    assert not list(out.glob(".chunk-*"))


# --- Dask over TCP ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    dask = str(VENV_BIN / "dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    common = {"cwd": ROOT, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                **common,  # type: ignore[call-overload]
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                ],
                **common,  # type: ignore[call-overload]
            )
        )
        from distributed import Client

        with Client(address, timeout=60) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(1, timeout=60)  # type: ignore[no-untyped-call]
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_dask_over_tcp_matches_serial(reference: pd.DataFrame, dask_scheduler: str) -> None:
    result = run_replicates(
        t_statistic, reps=REPS, seed=SEED, chunk_size=3, engine=DaskEngine(dask_scheduler)
    )
    _assert_identical(result, reference)


def test_plan_chunks_cover_every_replicate_once() -> None:
    for reps, size in [(0, 3), (1, 1), (10, 3), (10, 10), (10, 11)]:
        covered = [i for start, stop in plan_chunks(reps, size) for i in range(start, stop)]
        assert covered == list(range(reps))


def test_dask_local_cluster_matches_serial(reference: pd.DataFrame) -> None:
    result = run_replicates(
        t_statistic, reps=REPS, seed=SEED, chunk_size=9, engine=DaskEngine(local_workers=2)
    )
    _assert_identical(result, reference)


def test_dask_engine_refuses_address_and_local_workers() -> None:
    with pytest.raises(DataValidationError, match="either address or local_workers"):
        DaskEngine("tcp://127.0.0.1:1", local_workers=2)
