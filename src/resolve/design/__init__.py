"""Trial design by simulation: seeded replicate runs on local processes or Dask.

:func:`run_replicates` runs a replicate function with per-replicate seeds from
``numpy.random.SeedSequence``, in chunks, on a :class:`SerialEngine`,
:class:`LocalEngine` (processes) or :class:`DaskEngine`, optionally streaming
to a resumable Parquet dataset. Needs the ``design`` extra
(``pip install 'resolve[design]'``: pyarrow, Dask distributed); ``import resolve``
does not import this package.
"""

from __future__ import annotations

try:
    import pyarrow  # type: ignore[import-untyped]  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "resolve.design needs the 'design' extra: pip install 'resolve[design]'"
    ) from exc

from resolve.design.engine import plan_chunks, replicate_rng, run_replicates
from resolve.design.engine_backends import DaskEngine, Engine, LocalEngine, SerialEngine

__all__ = [
    "DaskEngine",
    "Engine",
    "LocalEngine",
    "SerialEngine",
    "plan_chunks",
    "replicate_rng",
    "run_replicates",
]
