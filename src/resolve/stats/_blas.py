"""Limit BLAS threads during fits (best effort, no new dependency).

The MMRM algebra is many small or tall-and-skinny matrix products; OpenBLAS
threading only adds synchronisation cost there (on a loaded 2-core machine a
10000 x 23 product took 11 ms threaded vs 0.6 ms single-threaded).  Uses
``threadpoolctl`` when installed, else calls the ``*_set_num_threads`` entry of
the OpenBLAS copies bundled with numpy and scipy; does nothing if neither is
found.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["limit_blas_threads"]

_SETTERS: list[tuple[Callable[[int], Any], Callable[[], int]]] | None = None


def _find_setters() -> list[tuple[Callable[[int], Any], Callable[[], int]]]:
    global _SETTERS
    if _SETTERS is not None:
        return _SETTERS
    found: list[tuple[Callable[[int], Any], Callable[[], int]]] = []
    try:
        import numpy
        import scipy

        dirs = [
            os.path.join(os.path.dirname(mod.__file__ or ""), "..", f"{mod.__name__}.libs")
            for mod in (numpy, scipy)
        ]
        for d in dirs:
            for path in glob.glob(os.path.join(d, "*openblas*")):
                lib = ctypes.CDLL(path)
                for prefix, suffix in (
                    ("scipy_openblas", "64_"),
                    ("scipy_openblas", ""),
                    ("openblas", ""),
                ):
                    set_name = f"{prefix}_set_num_threads{suffix}"
                    get_name = f"{prefix}_get_num_threads{suffix}"
                    if hasattr(lib, set_name) and hasattr(lib, get_name):
                        found.append((getattr(lib, set_name), getattr(lib, get_name)))
                        break
    except Exception:  # pragma: no cover - best effort only
        found = []
    _SETTERS = found
    return found


_NOT_LOOKED_UP: Any = object()
_THREADPOOL_LIMITS: Any = _NOT_LOOKED_UP
#: The limit in force from an enclosing ``limit_blas_threads`` (per thread), if any.
_ACTIVE = threading.local()


def _threadpool_limits() -> Any:
    """``threadpoolctl.threadpool_limits`` or None; looked up once (a failed import is slow)."""
    global _THREADPOOL_LIMITS
    if _THREADPOOL_LIMITS is _NOT_LOOKED_UP:
        try:
            from threadpoolctl import threadpool_limits  # type: ignore[import-not-found]
        except ImportError:
            _THREADPOOL_LIMITS = None
        else:
            _THREADPOOL_LIMITS = threadpool_limits
    return _THREADPOOL_LIMITS


@contextmanager
def limit_blas_threads(n: int = 1) -> Iterator[None]:
    """Run the body with at most ``n`` BLAS threads, then restore the previous setting.

    Nested calls inside a body already limited to ``n`` or fewer threads cost
    nothing (the fits of a simulation run inside one limit).
    """
    outer = getattr(_ACTIVE, "limit", None)
    if outer is not None and outer <= n:
        yield
        return
    _ACTIVE.limit = n
    try:
        limits = _threadpool_limits()
        if limits is None:
            setters = _find_setters()
            previous = [get() for _, get in setters]
            for set_, _ in setters:
                set_(n)
            try:
                yield
            finally:
                for (set_, _), p in zip(setters, previous, strict=True):
                    set_(p)
        else:
            with limits(limits=n, user_api="blas"):
                yield
    finally:
        _ACTIVE.limit = outer
