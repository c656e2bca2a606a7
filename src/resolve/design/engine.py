"""Run a replicate function many times: seeded, chunked, on any engine.

:func:`run_replicates` is the engine under power, sample-size and
operating-characteristic simulations. Replicate ``i`` always draws from child
``i`` of ``numpy.random.SeedSequence(seed).spawn(reps)``, whatever the chunk
size, the engine or the number of workers, and rows come back in replicate
order, so a seed fixes the result exactly.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from resolve.design.engine_backends import Engine, LocalEngine
from resolve.design.engine_store import RunManifest, RunStore
from resolve.errors import DataValidationError

__all__ = ["ReplicateFn", "plan_chunks", "replicate_rng", "run_replicates"]

Scalar = float | int | str | bool | None
Row = Mapping[str, Any]
ReplicateFn = Callable[[np.random.Generator, int], Row | Sequence[Row]]
ProgressFn = Callable[[int, int, float], None]

REPLICATE_COLUMN = "replicate"


def replicate_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of replicate ``index``: child ``index`` of ``SeedSequence(seed)``.

    Built directly from the spawn key, so no process needs all ``reps``
    children in memory; it equals ``SeedSequence(seed).spawn(reps)[index]``.

    Examples
    --------
    >>> import numpy as np
    >>> child = np.random.SeedSequence(7).spawn(3)[2]
    >>> float(replicate_rng(7, 2).random()) == float(np.random.default_rng(child).random())
    True
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def plan_chunks(reps: int, chunk_size: int) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` replicate ranges of at most ``chunk_size``.

    Examples
    --------
    >>> plan_chunks(7, 3)
    [(0, 3), (3, 6), (6, 7)]
    """
    return [(start, min(start + chunk_size, reps)) for start in range(0, reps, chunk_size)]


def _fn_name(fn: Callable[..., Any]) -> str:
    inner: Any = fn
    while isinstance(inner, functools.partial):
        inner = inner.func
    module = getattr(inner, "__module__", None) or "?"
    name = getattr(inner, "__qualname__", None) or type(inner).__qualname__
    return f"{module}.{name}"


def _clean_value(value: object, index: int, key: str) -> Scalar:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        item = value.item()
        if item is None or isinstance(item, bool | int | float | str):
            return item
    raise DataValidationError(
        f"replicate {index}: value of {key!r} must be a number, string, bool or None, "
        f"got {type(value).__name__}"
    )


def _rows_of(result: object, index: int) -> list[dict[str, Scalar]]:
    raw: Sequence[object]
    if isinstance(result, Mapping):
        raw = [result]
    elif isinstance(result, list | tuple):
        raw = result
    else:
        raise DataValidationError(
            f"replicate {index}: the replicate function must return a dict or a list of "
            f"dicts, got {type(result).__name__}"
        )
    rows: list[dict[str, Scalar]] = []
    for row in raw:
        if not isinstance(row, Mapping):
            raise DataValidationError(
                f"replicate {index}: every row must be a dict, got {type(row).__name__}"
            )
        if REPLICATE_COLUMN in row:
            raise DataValidationError(
                f"replicate {index}: column {REPLICATE_COLUMN!r} is reserved for the "
                "replicate index"
            )
        clean: dict[str, Scalar] = {REPLICATE_COLUMN: index}
        for key, value in row.items():
            if not isinstance(key, str):
                raise DataValidationError(
                    f"replicate {index}: column names must be strings, got {key!r}"
                )
            clean[key] = _clean_value(value, index, key)
        rows.append(clean)
    return rows


def run_chunk(fn: ReplicateFn, seed: int, start: int, stop: int) -> pa.Table:
    """Run replicates ``start .. stop - 1`` and return their rows as one table.

    This is the unit of work sent to a worker. Every row must have the same
    columns.

    Examples
    --------
    >>> def draw(rng, index):
    ...     return {"x": float(rng.normal())}
    >>> run_chunk(draw, seed=1, start=4, stop=6).column_names
    ['replicate', 'x']
    """
    rows: list[dict[str, Scalar]] = []
    columns: list[str] | None = None
    for index in range(start, stop):
        for row in _rows_of(fn(replicate_rng(seed, index), index), index):
            if columns is None:
                columns = list(row)
            elif list(row) != columns and set(row) != set(columns):
                raise DataValidationError(
                    f"replicate {index}: columns {sorted(row)} differ from the first "
                    f"row's {sorted(columns)}"
                )
            rows.append(row)
    if columns is None:
        return pa.table({REPLICATE_COLUMN: pa.array([], type=pa.int64())})
    return pa.Table.from_pylist(rows).select(columns)


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataValidationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _measure_chunk_size(
    fn: ReplicateFn, seed: int, reps: int, workers: int, chunk_seconds: float
) -> int:
    start = time.perf_counter()
    run_chunk(fn, seed, 0, 1)
    elapsed = max(time.perf_counter() - start, 1e-6)
    per_second = math.ceil(chunk_seconds / elapsed)
    balanced = max(1, math.ceil(reps / (4 * workers)))
    return max(1, min(per_second, balanced))


def _combine(tables: list[pa.Table]) -> pd.DataFrame:
    nonempty = [t for t in tables if t.num_rows > 0]
    if not nonempty:
        return pd.DataFrame({REPLICATE_COLUMN: pd.Series([], dtype="int64")})
    first = nonempty[0].column_names
    for table in nonempty[1:]:
        if set(table.column_names) != set(first):
            raise DataValidationError(
                f"replicate {table.column(REPLICATE_COLUMN)[0].as_py()}: columns "
                f"{sorted(table.column_names)} differ from replicate 0's {sorted(first)}"
            )
    combined = pa.concat_tables([t.select(first) for t in nonempty], promote_options="permissive")
    frame: pd.DataFrame = combined.to_pandas()
    return frame


def run_replicates(
    fn: ReplicateFn,
    *,
    reps: int,
    seed: int,
    chunk_size: int | None = None,
    engine: Engine | None = None,
    out: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    fn_version: str = "",
    chunk_seconds: float = 1.0,
) -> pd.DataFrame:
    """Run ``fn`` for ``reps`` seeded replicates and collect one table of rows.

    Parameters
    ----------
    fn : callable
        ``fn(rng, index)`` returns one row (a dict of column name to number,
        string, bool or None) or a list of rows for replicate ``index``;
        ``rng`` is a :class:`numpy.random.Generator` seeded from child
        ``index`` of ``SeedSequence(seed)`` (its ``bit_generator.seed_seq``
        is that child). For process and Dask engines ``fn`` must be
        picklable: a module-level function or a :func:`functools.partial`.
    reps : int
        Number of replicates (>= 0).
    seed : int
        Root seed (>= 0). The same seed gives the same table on every engine.
    chunk_size : int, optional
        Replicates per task. By default sized for about ``chunk_seconds`` of
        work from the time of replicate 0 (run in this process), capped so
        each worker gets at least 4 chunks; on resume, the stored size.
    engine : Engine, optional
        :class:`SerialEngine`, :class:`LocalEngine` (default, all cores) or
        :class:`DaskEngine`.
    out : path, optional
        Directory of a Parquet dataset: one ``chunk-NNNNNN.parquet`` per
        finished chunk plus ``manifest.json``. Re-running with the same
        directory skips chunks already on disk.
    progress : callable, optional
        Called as ``progress(done, total, elapsed_seconds)`` (replicates)
        after each chunk, and once at the start. Nothing is printed.
    fn_version : str
        Version of ``fn`` and of any arguments bound into it, stored in the
        manifest; a resume with another version is refused.
    chunk_seconds : float
        Target compute time of one chunk when ``chunk_size`` is not given.

    Returns
    -------
    pandas.DataFrame
        Column ``replicate`` then the columns of ``fn``'s rows, sorted by
        replicate (rows of one replicate keep their order).

    Raises
    ------
    DataValidationError
        For bad arguments, a row that is not a dict of scalars, rows with
        different columns, or an ``out`` directory holding another run.

    Examples
    --------
    >>> from resolve.design import SerialEngine
    >>> def mean_of_five(rng, index):
    ...     return {"mean": float(rng.normal(size=5).mean())}
    >>> a = run_replicates(mean_of_five, reps=6, seed=3, chunk_size=4, engine=SerialEngine())
    >>> b = run_replicates(mean_of_five, reps=6, seed=3, chunk_size=1, engine=SerialEngine())
    >>> a.equals(b), list(a.columns), a["replicate"].tolist()
    (True, ['replicate', 'mean'], [0, 1, 2, 3, 4, 5])
    """
    reps = _check_int(reps, "reps", 0)
    seed = _check_int(seed, "seed", 0)
    if chunk_size is not None:
        chunk_size = _check_int(chunk_size, "chunk_size", 1)
    if not callable(fn):
        raise DataValidationError(f"fn must be callable, got {type(fn).__name__}")
    if not (isinstance(chunk_seconds, int | float) and chunk_seconds > 0):
        raise DataValidationError(f"chunk_seconds must be > 0, got {chunk_seconds!r}")
    engine = engine if engine is not None else LocalEngine()
    store = RunStore(out) if out is not None else None
    if chunk_size is None and store is not None:
        chunk_size = store.stored_chunk_size()
    if chunk_size is None:
        chunk_size = (
            _measure_chunk_size(fn, seed, reps, engine.n_workers, chunk_seconds) if reps else 1
        )
    chunks = plan_chunks(reps, chunk_size)
    done: set[int] = set()
    if store is not None:
        manifest = RunManifest(seed, reps, chunk_size, _fn_name(fn), fn_version)
        store.open(manifest)
        store.clean_temporaries()
        done = store.done_chunks(len(chunks))
    todo = [k for k in range(len(chunks)) if k not in done]

    t0 = time.perf_counter()
    n_done = sum(chunks[k][1] - chunks[k][0] for k in done)
    if progress is not None:
        progress(n_done, reps, 0.0)
    tables: dict[int, pa.Table] = {}
    window = 2 * engine.n_workers + 1
    args = [(fn, seed, *chunks[k]) for k in todo]
    for position, table in engine.imap_unordered(run_chunk, args, window):
        k = todo[position]
        if store is not None:
            store.write_chunk(k, table)
        else:
            tables[k] = table
        n_done += chunks[k][1] - chunks[k][0]
        if progress is not None:
            progress(n_done, reps, time.perf_counter() - t0)
    if store is not None:
        return _combine([store.read_chunk(k) for k in range(len(chunks))])
    return _combine([tables[k] for k in range(len(chunks))])
