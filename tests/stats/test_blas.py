"""limit_blas_threads: limits, restores, and costs nothing when nested."""

from __future__ import annotations

from resolve.stats import _blas
from resolve.stats._blas import limit_blas_threads


def _threads() -> list[int]:
    return [get() for _, get in _blas._find_setters()]


def test_limit_restores_and_nests() -> None:
    before = _threads()
    with limit_blas_threads(1):
        assert all(n == 1 for n in _threads())
        assert _blas._ACTIVE.limit == 1
        with limit_blas_threads(1):  # nested: already limited, nothing to change
            assert all(n == 1 for n in _threads())
        with limit_blas_threads(4):  # a looser nested limit never raises the outer one
            assert all(n == 1 for n in _threads())
        assert _blas._ACTIVE.limit == 1
    assert _threads() == before
    assert getattr(_blas._ACTIVE, "limit", None) is None


def test_failed_threadpoolctl_import_is_looked_up_once() -> None:
    with limit_blas_threads(1):
        pass
    assert _blas._THREADPOOL_LIMITS is not _blas._NOT_LOOKED_UP
