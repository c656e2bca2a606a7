"""Trial design by simulation: power, sample size and operating characteristics.

:func:`simulate_designs` simulates trials of each :class:`TrialDesign` (all-comers,
enrichment, stratified or biomarker-stratified; any sample size, allocation ratio,
dropout, effect size and effect modification) from a scenario and runs the
analysis plan's tests on each; :func:`power_table`, :func:`oc_table` and
:func:`sample_size` summarise them.

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
from resolve.design.power import (
    DesignRun,
    SampleSize,
    oc_table,
    power_table,
    sample_size,
    simulate_designs,
)
from resolve.design.trials import Condition, TrialDesign, parse_condition, parse_design

__all__ = [
    "Condition",
    "DaskEngine",
    "DesignRun",
    "Engine",
    "LocalEngine",
    "SampleSize",
    "SerialEngine",
    "TrialDesign",
    "oc_table",
    "parse_condition",
    "parse_design",
    "plan_chunks",
    "power_table",
    "replicate_rng",
    "run_replicates",
    "sample_size",
    "simulate_designs",
]
