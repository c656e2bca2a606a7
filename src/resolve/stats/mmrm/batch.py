"""Fit one MMRM to many data sets (simulation studies): :func:`mmrm_batch`.

Every replicate is fitted exactly as :func:`resolve.stats.mmrm` would fit it on
its own (same design rules, same acceptance test for convergence), but

* the formula is parsed and the formulaic model-matrix structure is built once
  and reused (see :mod:`resolve.stats.mmrm.design`);
* each fit starts from the previous replicate's estimate (then, if that fails,
  from the usual moment-based starts), which typically saves most Newton steps;
* only the requested coefficient rows are tested (Satterthwaite Jacobians are
  evaluated once per replicate, lazily), and full results are kept on request.

A replicate whose fit does not converge (or whose data are invalid) is *not*
dropped or silently reported: its rows carry ``converged=False``, NaN
estimates and the reason in ``message``.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from resolve._results import Result, jsonable
from resolve._validation import Interval
from resolve.errors import DataValidationError, ResolveError
from resolve.stats._blas import limit_blas_threads
from resolve.stats.mmrm.api import make_spec
from resolve.stats.mmrm.covariance import get_structure
from resolve.stats.mmrm.design import build_design
from resolve.stats.mmrm.fit import FitControl, fit_model
from resolve.stats.mmrm.result import COLUMNS, MMRMResult
from resolve.stats.mmrm.spec import MMRMSpec

__all__ = ["BatchResult", "mmrm_batch", "shutdown_workers"]

Array = NDArray[np.float64]
FIT_COLUMNS = ["replicate", "converged", "loglik", "n_subjects", "n_obs", "iterations", "message"]


@dataclass(frozen=True, eq=False)
class BatchResult(Result):
    """Per-replicate results of :func:`mmrm_batch`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per replicate and coefficient: ``replicate, term, estimate,
        std_error, df, statistic, p_value, conf_low, conf_high, converged``
        (NaN statistics for replicates that did not converge).
    fits : pandas.DataFrame
        One row per replicate: ``replicate, converged, loglik, n_subjects,
        n_obs, iterations, message``.
    results : dict
        Replicate -> :class:`MMRMResult` (``None`` if it failed); empty unless
        ``keep_results=True``.
    """

    table: pd.DataFrame
    fits: pd.DataFrame
    results: dict[Any, MMRMResult | None] = field(default_factory=dict)

    @property
    def n_failed(self) -> int:
        return int((~self.fits["converged"].astype(bool)).sum())

    def to_frame(self) -> pd.DataFrame:
        """The tidy per-replicate coefficient table (a copy of ``table``)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {"table": self.table, "fits": self.fits, "n_failed": self.n_failed}
        )
        return out

    def summary(self) -> str:
        n = len(self.fits)
        lines = [f"mmrm_batch: {n} replicates, {n - self.n_failed} converged"]
        if self.n_failed:
            bad = self.fits.loc[~self.fits["converged"].astype(bool), "replicate"].tolist()
            lines.append(f"  not converged: {bad[:10]}{' ...' if len(bad) > 10 else ''}")
        ok = self.table[self.table["converged"]]
        if len(ok):
            agg = ok.groupby("term", sort=False)[["estimate", "std_error"]].agg(["mean", "std"])
            lines += ["", agg.to_string()]
        return "\n".join(lines)


def _split(
    datasets: pd.DataFrame | Sequence[pd.DataFrame], replicate: str
) -> list[tuple[Any, pd.DataFrame]]:
    if isinstance(datasets, pd.DataFrame):
        if replicate not in datasets.columns:
            raise DataValidationError(
                f"data has no replicate column {replicate!r}; pass replicate=<column name> "
                "or a list of data frames"
            )
        if datasets[replicate].isna().any():
            raise DataValidationError(f"replicate column {replicate!r} has missing values")
        groups = datasets.groupby(replicate, sort=True, observed=True)
        return [(key, frame) for key, frame in groups]
    out = []
    for i, frame in enumerate(datasets):
        if not isinstance(frame, pd.DataFrame):
            raise DataValidationError(
                f"datasets[{i}] must be a pandas DataFrame; got {type(frame).__name__}"
            )
        out.append((i, frame))
    return out


@dataclass
class _Chunk:
    rows: list[pd.DataFrame] = field(default_factory=list)
    fit_rows: list[tuple[Any, ...]] = field(default_factory=list)
    results: dict[Any, MMRMResult | None] = field(default_factory=dict)
    all_names: list[str] | None = None

    def combine(self) -> None:
        """Concatenate the replicates' rows once, in the worker, when none failed."""
        if len(self.rows) > 1 and all("term" in r.columns for r in self.rows):
            self.rows = [pd.concat(self.rows, ignore_index=True)]


@dataclass(frozen=True)
class _ChunkTask:
    """Fit a run of replicates in order (picklable, so it can run in a worker process)."""

    spec: MMRMSpec
    reml: bool
    control: FitControl | None
    wanted: list[str] | None
    warm_start: bool
    keep_results: bool
    level: float

    def __call__(self, parts: list[tuple[Any, pd.DataFrame]]) -> _Chunk:
        out = _Chunk()
        previous: Array | None = None
        with limit_blas_threads(1):
            for key, frame in parts:
                previous = self._one(key, frame, previous, out)
        out.combine()
        return out

    def _one(
        self, key: Any, frame: pd.DataFrame, previous: Array | None, out: _Chunk
    ) -> Array | None:
        try:
            model_data = build_design(self.spec, frame)
            theta, evaluation, report, _ = fit_model(
                model_data, self.reml, self.control, theta0=previous if self.warm_start else None
            )
        except ResolveError as exc:
            msg = " ".join(str(exc).split())
            out.fit_rows.append((key, False, np.nan, np.nan, np.nan, 0, msg[:500]))
            if self.keep_results:
                out.results[key] = None
            out.rows.append(pd.DataFrame({"replicate": [key]}))  # filled in later
            return previous
        result = MMRMResult(
            data=model_data,
            theta=theta,
            evaluation=evaluation,
            convergence=report,
            conf_level=self.level,
        )
        chosen = report.attempts[report.chosen] if report.chosen is not None else None
        out.fit_rows.append(
            (
                key,
                bool(report.converged),
                result.loglik,
                model_data.n_subjects,
                model_data.n_obs,
                chosen.iterations if chosen is not None else 0,
                "" if chosen is None else f"{chosen.optimizer} from {chosen.start} start",
            )
        )
        if out.all_names is None:
            out.all_names = list(result.coef_names)
        if self.wanted is None:
            table = result.to_frame()
        else:
            unknown = [t for t in self.wanted if t not in result.coef_names]
            if unknown:
                raise DataValidationError(
                    f"terms {unknown} are not coefficients of the model; "
                    f"available: {', '.join(result.coef_names)}"
                )
            lmat = np.zeros((len(self.wanted), len(result.coef_names)))
            for i, t in enumerate(self.wanted):
                lmat[i, result.coef_names.index(t)] = 1.0
            table = result.contrast(lmat)
            table["term"] = self.wanted
        table.insert(0, "replicate", key)
        table["converged"] = bool(report.converged)
        out.rows.append(table)
        if self.keep_results:
            out.results[key] = result
        return theta if report.converged else previous


#: Warm worker pools kept between calls, by size (``keep_workers=True``).
_POOLS: dict[int, ProcessPoolExecutor] = {}
#: Replicates per task sent to a worker: progress is reported per task, warm starts
#: restart at task boundaries.
TASK_SIZE = 50


def _worker_pool(workers: int, keep: bool) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes (the platform's default start method, as before
    pools were kept); kept for the next call when ``keep``."""
    pool = _POOLS.get(workers) if keep else None
    if pool is None:
        pool = ProcessPoolExecutor(max_workers=workers)
        if keep:
            if not _POOLS:
                atexit.register(shutdown_workers)
            _POOLS[workers] = pool
    return pool


def shutdown_workers() -> None:
    """Stop the worker processes :func:`mmrm_batch` keeps between calls.

    Examples
    --------
    >>> shutdown_workers()  # nothing to stop: fine
    """
    for pool in _POOLS.values():
        pool.shutdown(cancel_futures=True)
    _POOLS.clear()


def mmrm_batch(
    formula: str,
    datasets: pd.DataFrame | Sequence[pd.DataFrame],
    *,
    subject: str,
    visit: str,
    replicate: str = "rep",
    cov: str = "us",
    group: str | None = None,
    method: str = "reml",
    df: str = "satterthwaite",
    weights: str | None = None,
    conf_level: float = 0.95,
    visit_order: Sequence[str] | None = None,
    control: FitControl | None = None,
    terms: Sequence[str] | None = None,
    warm_start: bool = True,
    keep_results: bool = False,
    n_jobs: int = 1,
    convention: str = "sas",
    keep_workers: bool = True,
    progress: Callable[[int, int], object] | None = None,
) -> BatchResult:
    """Fit the same MMRM to many data sets, e.g. simulated trials.

    Parameters
    ----------
    formula, subject, visit, cov, group, method, df, weights, conf_level, visit_order, control
    convention
        As :func:`resolve.stats.mmrm` (``coordinates`` are not supported here).
        Level orders are decided per replicate by the same rules; pass
        ``visit_order`` (or Categorical columns) to fix them for every replicate.
    datasets : pandas.DataFrame or sequence of DataFrames
        A long frame with a ``replicate`` column (each level is one data set,
        fitted in sorted order), or a list of frames (replicate = position).
    replicate : str
        Name of the replicate column of a long frame.
    terms : sequence of str, optional
        Coefficients to report (default all); fewer terms means less work.
    warm_start : bool
        Start each fit from the previous converged estimate (falls back to the
        usual starts when that fails).  Results agree with independent fits to
        the optimiser's precision (Newton decrement below 1e-14 when reached).
    keep_results : bool
        Also keep every :class:`MMRMResult` (memory grows with the number of
        replicates).
    n_jobs : int
        Worker processes (default 1: this process only). With ``n_jobs > 1``
        the replicates are split into contiguous chunks fitted in parallel;
        every replicate's result is the same as in a serial run up to the
        optimiser's precision (warm starts differ at chunk boundaries).
    keep_workers : bool
        With ``n_jobs > 1``, keep the worker processes (with resolve imported)
        for the next call, so a simulation study that calls
        ``mmrm_batch`` repeatedly pays their start-up once; they stop at exit
        or with :func:`shutdown_workers`. ``False`` stops them after the call.
    progress : callable(done, total), optional
        Called after every task of about ``TASK_SIZE`` replicates (and once at
        the end) with the number of replicates fitted so far.

    Returns
    -------
    BatchResult
        ``to_frame()`` is the tidy table ``replicate, term, estimate,
        std_error, df, statistic, p_value, conf_low, conf_high, converged``;
        ``fits`` has one row per replicate with the convergence flag,
        log-likelihood and a message for failures.

    Examples
    --------
    >>> from resolve.stats import mmrm_batch
    >>> out = mmrm_batch("y ~ arm * visit", sims, subject="id", visit="visit",
    ...                  replicate="rep", terms=["armTRT:visitV4"])  # doctest: +SKIP
    >>> out.to_frame().groupby("term").p_value.apply(lambda p: (p < 0.05).mean())
    ... # doctest: +SKIP
    """
    spec = make_spec(
        formula,
        subject=subject,
        visit=visit,
        cov=cov,
        group=group,
        method=method,
        df=df,
        weights=weights,
        conf_level=conf_level,
        visit_order=visit_order,
        convention=convention,
    )
    level = spec.conf_level
    if get_structure(spec.cov).spatial:
        raise DataValidationError("mmrm_batch does not support spatial structures")
    parts = _split(datasets, replicate)
    wanted = None if terms is None else list(terms)
    jobs = int(Interval("n_jobs", 1, None)(n_jobs))
    task = _ChunkTask(spec, method == "reml", control, wanted, warm_start, keep_results, level)
    total = len(parts)
    n_tasks = max(jobs, -(-total // TASK_SIZE))
    # Contiguous pieces keep warm starts useful; results come back in order.
    bounds = np.linspace(0, total, n_tasks + 1).astype(int)
    pieces = [parts[bounds[j] : bounds[j + 1]] for j in range(n_tasks) if bounds[j + 1] > bounds[j]]
    chunks: list[_Chunk] = []
    done = 0
    if jobs == 1 or total < 2 * jobs:
        for piece in pieces:
            chunks.append(task(piece))
            done += len(piece)
            if progress is not None:
                progress(done, total)
    else:
        for attempt in (0, 1):
            pool = _worker_pool(jobs, keep_workers)
            try:
                chunks, done = [], 0
                for piece, chunk in zip(pieces, pool.map(task, pieces), strict=True):
                    chunks.append(chunk)
                    done += len(piece)
                    if progress is not None:
                        progress(done, total)
                break
            except BrokenProcessPool:  # a kept worker died (e.g. killed): start afresh once
                _POOLS.pop(jobs, None)
                if attempt:
                    raise
            finally:
                if not keep_workers:
                    pool.shutdown()
    rows = [r for c in chunks for r in c.rows]
    fit_rows = [r for c in chunks for r in c.fit_rows]
    results: dict[Any, MMRMResult | None] = {}
    for c in chunks:
        results.update(c.results)
    all_names = next((c.all_names for c in chunks if c.all_names is not None), None)
    columns = ["replicate", *COLUMNS, "converged"]
    filled = []
    for part in rows:
        if "term" not in part.columns:  # a failed replicate: NaN rows for every term
            names = wanted if wanted is not None else (all_names or [])
            nan_rows = pd.DataFrame({c: [np.nan] * len(names) for c in COLUMNS[1:]})
            nan_rows.insert(0, "term", names)
            nan_rows.insert(0, "replicate", [part["replicate"].iloc[0]] * len(names))
            nan_rows["converged"] = False
            part = nan_rows
        filled.append(part[columns])
    out = pd.concat(filled, ignore_index=True) if filled else pd.DataFrame(columns=columns)
    fits = pd.DataFrame(fit_rows, columns=FIT_COLUMNS)
    return BatchResult(table=out, fits=fits, results=results)
