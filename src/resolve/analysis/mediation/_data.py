"""Data preparation for the mediation models: roles, treatment coding, complete cases.

One row per participant. The treatment column must hold exactly two values; the
``reference`` one is coded 0 and the other 1. Mediators, outcome and covariates
must be numeric (text and infinite values are refused, naming column and row).
Rows with a missing value in any column of a model are dropped (complete-case
analysis) and counted, per column, in a warning; nothing is ever imputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from resolve._validation import require_columns, show_values
from resolve.errors import DataValidationError

__all__ = ["MEDIATOR_TYPES", "MediatorType", "ModelData", "encode_treatment", "model_data"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
MediatorType = Literal["continuous", "binary"]
MEDIATOR_TYPES: tuple[MediatorType, ...] = ("continuous", "binary")


def encode_treatment(values: pd.Series, *, reference: object, column: str) -> FloatArray:
    """Code a two-valued treatment column as 1 (treated) / 0 (``reference``); missing stays NaN.

    Examples
    --------
    >>> encode_treatment(pd.Series(["usual", "GSR", None]), reference="usual", column="arm")
    array([ 0.,  1., nan])
    """
    missing = values.isna().to_numpy()
    levels = list(pd.unique(values[~missing]))
    if len(levels) != 2:
        shown = show_values(sorted(str(v) for v in levels))
        raise DataValidationError(
            f"treatment column {column!r} must have exactly 2 distinct values (treated and "
            f"reference); got {len(levels)}: {shown}"
        )
    matches = [lv for lv in levels if _same(lv, reference)]
    if len(matches) != 1:
        raise DataValidationError(
            f"reference {reference!r} is not a value of treatment column {column!r} "
            f"(values: {show_values(levels)}); pass reference= one of them"
        )
    coded = np.where(missing, np.nan, 1.0)
    coded[~missing & (values.to_numpy() == matches[0])] = 0.0
    return coded


def _same(level: object, reference: object) -> bool:
    try:
        return bool(level == reference)
    except (TypeError, ValueError):
        return False


def _numeric(data: pd.DataFrame, column: str, role: str) -> FloatArray:
    """A numeric column as float with NaN for missing; text or infinite values are refused."""
    series = data[column]
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        label = bad.index[bad.to_numpy()][0]
        raise DataValidationError(
            f"{role} column {column!r} must be numeric; row {label!r} has {series[label]!r}"
        )
    out = converted.to_numpy(dtype=np.float64)
    inf = np.isinf(out)
    if inf.any():
        label = series.index[inf][0]
        raise DataValidationError(
            f"{role} column {column!r} has an infinite value at row {label!r}"
        )
    return out


@dataclass(frozen=True)
class ModelData:
    """The complete cases of one mediation model, as arrays.

    Attributes
    ----------
    treatment : (n,) 0/1
    mediators : (n, J)
    outcome : (n,)
    covariates : (n, q)
    rows : (n,) int
        0-based positions in the input data of the rows kept (use them to pick
        the columns of bootstrap weights, see :func:`~.bootstrap.resample_weights`).
    n_total, n_dropped : int
    warnings : tuple of str
    """

    treatment: FloatArray
    mediators: FloatArray
    outcome: FloatArray
    covariates: FloatArray
    rows: IntArray
    n_total: int
    n_dropped: int
    warnings: tuple[str, ...] = ()


def model_data(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    mediators: Sequence[str],
    covariates: Sequence[str] = (),
    reference: object = 0,
    mediator_types: Sequence[MediatorType] | None = None,
) -> ModelData:
    """Check one model's columns and keep its complete cases.

    Raises
    ------
    DataValidationError
        Unknown or repeated column, non-numeric or infinite value, a treatment
        without exactly two values or without ``reference``, a constant mediator,
        outcome or covariate, a binary mediator with values other than 0/1, or
        too few complete cases; every message names the column and value.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0, 1, 0, 1, 0, 1], "m": [1.0, 2, None, 3, 1, 2],
    ...                    "y": [0.5, 1, 2, 3, 0, 2]})
    >>> md = model_data(df, treatment="a", outcome="y", mediators=["m"])
    >>> md.rows.tolist()
    [0, 1, 3, 4, 5]
    >>> print(md.warnings[0])
    outcome 'y', mediator(s) 'm': 1 of 6 rows dropped (missing: m 1); complete-case analysis
    """
    mediators = list(mediators)
    covariates = list(covariates)
    types = list(mediator_types) if mediator_types is not None else ["continuous"] * len(mediators)
    if not mediators:
        raise DataValidationError("at least one mediator is required")
    if len(types) != len(mediators):
        raise DataValidationError(
            f"mediator_types has {len(types)} entries for {len(mediators)} mediator(s)"
        )
    for t in types:
        if t not in MEDIATOR_TYPES:
            raise DataValidationError(
                f"mediator_type must be one of {', '.join(MEDIATOR_TYPES)}; got {t!r}"
            )
    roles = [treatment, outcome, *mediators, *covariates]
    for name in roles:
        if not isinstance(name, str):
            raise DataValidationError(f"column names must be strings; got {name!r}")
    repeated = sorted({c for c in roles if roles.count(c) > 1})
    if repeated:
        raise DataValidationError(
            f"column(s) {show_values(repeated)} given in more than one role "
            "(treatment, outcome, mediator, covariate)"
        )
    require_columns(data, roles)
    a = encode_treatment(data[treatment], reference=reference, column=treatment)
    y = _numeric(data, outcome, "outcome")
    m = np.column_stack([_numeric(data, c, "mediator") for c in mediators])
    c = (
        np.column_stack([_numeric(data, col, "covariate") for col in covariates])
        if covariates
        else np.empty((len(data), 0))
    )
    columns = np.column_stack([a, y, m, c])
    missing = np.isnan(columns)
    keep = ~missing.any(axis=1)
    n_total, n = len(data), int(keep.sum())
    warnings: tuple[str, ...] = ()
    if n < n_total:
        per_col = ", ".join(
            f"{name} {int(k)}" for name, k in zip(roles, missing.sum(axis=0), strict=True) if k
        )
        warnings = (
            f"outcome {outcome!r}, mediator(s) {', '.join(map(repr, mediators))}: "
            f"{n_total - n} of {n_total} rows dropped (missing: {per_col}); complete-case analysis",
        )
    a, y, m, c = a[keep], y[keep], m[keep], c[keep]
    p_outcome = 2 + len(mediators) * 2 + len(covariates)
    if n <= p_outcome:
        raise DataValidationError(
            f"only {n} complete case(s) for outcome {outcome!r} and mediator(s) "
            f"{', '.join(mediators)}; the outcome model needs more than {p_outcome}"
        )
    if np.unique(a).size < 2:
        raise DataValidationError(
            f"treatment column {treatment!r}: only one arm among the {n} complete cases"
        )
    for role, name, values in [
        ("outcome", outcome, y),
        *(("mediator", mc, m[:, j]) for j, mc in enumerate(mediators)),
        *(("covariate", cc, c[:, k]) for k, cc in enumerate(covariates)),
    ]:
        if np.ptp(values) == 0.0:
            raise DataValidationError(
                f"{role} column {name!r} is constant ({values[0]:g}) in the {n} complete cases"
            )
    for j, t in enumerate(types):
        if t == "binary":
            bad = ~np.isin(m[:, j], (0.0, 1.0))
            if bad.any():
                raise DataValidationError(
                    f"binary mediator column {mediators[j]!r} must be coded 0/1; "
                    f"got {m[bad, j][0]:g}"
                )
    return ModelData(
        treatment=a,
        mediators=m,
        outcome=y,
        covariates=c,
        rows=np.flatnonzero(keep).astype(np.int64),
        n_total=n_total,
        n_dropped=n_total - n,
        warnings=warnings,
    )
