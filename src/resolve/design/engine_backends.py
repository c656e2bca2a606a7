"""Execution engines for :func:`resolve.design.run_replicates`.

Each engine runs one picklable task over a sequence of argument tuples and
yields ``(position, result)`` pairs as tasks finish, keeping at most
``window`` tasks in flight so memory stays bounded however many chunks a run
has. Results are re-ordered by the caller, so the engine and the number of
workers never change what a run returns.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from resolve.errors import DataValidationError

__all__ = ["DaskEngine", "Engine", "LocalEngine", "SerialEngine"]

Task = Callable[..., Any]


class Engine(Protocol):
    """What :func:`~resolve.design.run_replicates` needs from an engine.

    Engines are also context managers: inside ``with engine:`` workers (a
    process pool, a Dask client) stay up between runs.
    """

    def __enter__(self) -> Any:
        """Start the workers for several runs."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Stop them."""
        ...

    @property
    def n_workers(self) -> int:
        """Number of tasks that can run at once."""
        ...

    def imap_unordered(
        self, task: Task, args: Sequence[tuple[Any, ...]], window: int
    ) -> Iterator[tuple[int, Any]]:
        """Run ``task(*args[i])`` for every i; yield ``(i, result)`` as tasks finish."""
        ...


def _check_workers(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataValidationError(f"{name} must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class SerialEngine:
    """Run every chunk in the calling process, in order (debugging, tests)."""

    @property
    def n_workers(self) -> int:
        """Always 1."""
        return 1

    def __enter__(self) -> SerialEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def imap_unordered(
        self, task: Task, args: Sequence[tuple[Any, ...]], window: int
    ) -> Iterator[tuple[int, Any]]:
        """Run the tasks one after the other."""
        for position, item in enumerate(args):
            yield position, task(*item)


@dataclass(frozen=True)
class LocalEngine:
    """Local worker processes (:class:`concurrent.futures.ProcessPoolExecutor`).

    Used as a context manager (``with LocalEngine(2) as engine: ...``), one pool
    of warm workers serves every run inside the block; otherwise each run
    starts and stops its own pool.

    Parameters
    ----------
    workers : int, optional
        Number of processes; default all cores (``os.cpu_count()``).
    start_method : {"spawn", "forkserver"}
        Multiprocessing start method; both start clean interpreters, so the
        replicate function must be importable (module level or a
        :func:`functools.partial` of one). ``"spawn"`` (default) shares
        nothing with the caller; ``"forkserver"`` starts workers faster but
        uses the process-wide fork server, whose preloaded modules are set by
        whoever started it first.

    Examples
    --------
    >>> LocalEngine(2).n_workers
    2
    """

    workers: int | None = None
    start_method: str = "spawn"
    _pool: list[ProcessPoolExecutor] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.workers is not None:
            _check_workers(self.workers, "workers")
        if self.start_method not in ("forkserver", "spawn"):
            raise DataValidationError(
                f"start_method must be 'forkserver' or 'spawn', got {self.start_method!r}"
            )

    @property
    def n_workers(self) -> int:
        """The number of worker processes."""
        return self.workers if self.workers is not None else (os.cpu_count() or 1)

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context(self.start_method)
        return ProcessPoolExecutor(max_workers=self.n_workers, mp_context=context)

    def __enter__(self) -> LocalEngine:
        if not self._pool:
            self._pool.append(self._new_pool())
        return self

    def __exit__(self, *exc: object) -> None:
        while self._pool:
            self._pool.pop().shutdown(wait=True, cancel_futures=True)

    def imap_unordered(
        self, task: Task, args: Sequence[tuple[Any, ...]], window: int
    ) -> Iterator[tuple[int, Any]]:
        """Run the tasks on a process pool, at most ``window`` in flight."""
        own = not self._pool
        pool = self._new_pool() if own else self._pool[0]
        pending: dict[Future[Any], int] = {}
        position = 0
        try:
            while position < len(args) or pending:
                while position < len(args) and len(pending) < window:
                    pending[pool.submit(task, *args[position])] = position
                    position += 1
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=pending.__getitem__):
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()
            if own:
                pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class DaskEngine:
    """Dask distributed: an existing scheduler or a local cluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address such as ``"tcp://10.0.0.5:8786"``.
    local_workers : int, optional
        Start a :class:`distributed.LocalCluster` with this many
        single-threaded worker processes instead (used when ``address`` is
        None; default 1).
    """

    address: str | None = None
    local_workers: int | None = None
    _open: list[Any] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.address is not None and self.local_workers is not None:
            raise DataValidationError("give either address or local_workers, not both")
        if self.local_workers is not None:
            _check_workers(self.local_workers, "local_workers")

    @property
    def n_workers(self) -> int:
        """Workers of a local cluster; for a remote scheduler, a window hint of 1.

        The real number of threads is read from the scheduler when the run
        starts.
        """
        return self.local_workers or 1

    def _connect(self) -> tuple[Any, Any]:
        """(client, cluster or None): a new connection (and local cluster)."""
        # distributed has no type hints: use it through Any
        distributed: Any = importlib.import_module("distributed")
        if self.address is None:
            cluster = distributed.LocalCluster(
                n_workers=self.n_workers,
                processes=True,
                threads_per_worker=1,
                dashboard_address=":0",
            )
            return distributed.Client(cluster), cluster
        return distributed.Client(self.address), None

    @staticmethod
    def _close(client: Any, cluster: Any) -> None:
        client.close()
        if cluster is not None:
            cluster.close()

    def __enter__(self) -> DaskEngine:
        if not self._open:
            self._open.append(self._connect())
        return self

    def __exit__(self, *exc: object) -> None:
        while self._open:
            self._close(*self._open.pop())

    def imap_unordered(
        self, task: Task, args: Sequence[tuple[Any, ...]], window: int
    ) -> Iterator[tuple[int, Any]]:
        """Submit the tasks to Dask, at most ``window`` (or 2 x threads) in flight."""
        distributed: Any = importlib.import_module("distributed")
        own = not self._open
        client, cluster = self._connect() if own else self._open[0]
        try:
            threads = sum(client.nthreads().values())
            window = max(window, 2 * threads + 1)
            pending: dict[Any, int] = {}
            position = 0
            while position < len(args) or pending:
                while position < len(args) and len(pending) < window:
                    future = client.submit(task, *args[position], pure=False)
                    pending[future] = position
                    position += 1
                done = distributed.wait(list(pending), return_when="FIRST_COMPLETED").done
                for future in sorted(done, key=pending.__getitem__):
                    yield pending.pop(future), future.result()
                    future.release()
        finally:
            for future in pending:
                future.cancel()
            if own:
                self._close(client, cluster)
