"""The one scoring engine: validation, recoding, missing-item rules, cut-offs.

Every coded instrument is scored here, vectorised over respondents. Codes are
integers; a float is accepted only when it is exactly integral (``2.0``),
because tabular tools store integer columns that have gaps as floats. Anything
else (``2.5``, text, booleans, out-of-range codes) raises
:class:`~resolve.errors.DataValidationError` naming the instrument, the
respondent, the item and the value. Unanswered items are never scored as zero:
each scale applies its own :class:`~resolve.instruments.base.MissingRule`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resolve.errors import DataValidationError
from resolve.instruments.base import Instrument
from resolve.instruments.result import ScoreResult

__all__ = ["locate", "score_frame", "score_one"]

_ITEM_KEY = re.compile(r"^(?P<prefix>.*)_(?P<n>[^_]+)$")


# --------------------------------------------------------------------- messages
def locate(name: str, ids: Sequence[object] | None, row: int, source: str | None) -> str:
    """Locate a data row in a message: instrument, file and line, respondent."""
    parts = [name]
    if source is not None:
        parts.append(f"{source} line {row + 2}")
    if ids is None:
        if source is None:
            parts.append(f"row {row}")
    elif ids[row] is not None:
        parts.append(f"respondent {ids[row]!r}")
    return ", ".join(parts)


def _show(value: object) -> str:
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return repr(int(value))
    return repr(value.item() if isinstance(value, np.generic) else value)


def _fail(
    inst: Instrument,
    ids: Sequence[object] | None,
    row: int,
    column: str,
    value: object,
    problem: str,
    source: str | None,
) -> DataValidationError:
    return DataValidationError(
        f"{locate(inst.id, ids, row, source)}, item {column}: value {_show(value)} {problem}"
    )


# --------------------------------------------------------------------- columns
def _item_columns(inst: Instrument, columns: Iterable[object], source: str | None) -> None:
    """Reject unknown or duplicate ``<id>_<n>`` columns and absent items."""
    prefix = inst.id + "_"
    known = set(inst.columns)
    seen: set[str] = set()
    where = f"{inst.id}" + (f", {source}" if source else "")
    for col in columns:
        if not isinstance(col, str) or not col.startswith(prefix):
            continue
        if col not in known:
            raise DataValidationError(
                f"{where}: unknown item column {col!r}; {inst.id} has items "
                f"{inst.columns[0]} to {inst.columns[-1]}"
            )
        if col in seen:
            raise DataValidationError(f"{where}: duplicate item column {col!r}")
        seen.add(col)
    absent = [c for c in inst.columns if c not in seen]
    if absent and not inst.allow_absent_items:
        raise DataValidationError(
            f"{where}: missing item column(s) {', '.join(absent[:5])}"
            + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
            + " (an unanswered item is an empty cell, not an absent column)"
        )


def _as_float(
    inst: Instrument,
    series: pd.Series,
    column: str,
    ids: Sequence[object] | None,
    source: str | None,
) -> np.ndarray:
    """Column of codes as float64 with NaN for missing; rejects non-integers."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        row = int(np.flatnonzero(series.notna().to_numpy())[0]) if series.notna().any() else 0
        raise _fail(inst, ids, row, column, series.iloc[row], "is a boolean, not a code", source)
    if pd.api.types.is_integer_dtype(dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_float_dtype(dtype):
        arr = series.to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(np.isfinite(arr) & (arr != np.floor(arr)) | np.isinf(arr))
        if bad.size:
            row = int(bad[0])
            raise _fail(inst, ids, row, column, arr[row], "is not an integer code", source)
        return arr
    out = np.empty(len(series), dtype=float)
    for row, v in enumerate(series.to_numpy(dtype=object)):
        out[row] = _scalar_code(inst, v, row, column, ids, source)
    return out


def _scalar_code(
    inst: Instrument,
    v: object,
    row: int,
    column: str,
    ids: Sequence[object] | None,
    source: str | None,
) -> float:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return math.nan
    if isinstance(v, bool | np.bool_):
        raise _fail(inst, ids, row, column, v, "is a boolean, not a code", source)
    if isinstance(v, numbers.Integral):
        return float(int(v))
    if isinstance(v, numbers.Real):
        f = float(v)
        if math.isfinite(f) and f == math.floor(f):
            return f
        raise _fail(inst, ids, row, column, v, "is not an integer code", source)
    raise _fail(inst, ids, row, column, v, "is not an integer code", source)


def _validated_codes(
    inst: Instrument,
    data: pd.DataFrame,
    ids: Sequence[object] | None,
    code_base: int | None,
    source: str | None,
) -> np.ndarray:
    """(n, n_items) canonical codes, NaN where unanswered."""
    _item_columns(inst, data.columns, source)
    shift = 0 if code_base is None else inst.code_base - code_base
    n = len(data)
    codes = np.full((n, inst.n_items), np.nan, order="F")
    for j, item in enumerate(inst.items):
        col = inst.column(item.number)
        if col not in data.columns:
            continue
        raw = _as_float(inst, data[col], col, ids, source)
        canon = raw + shift
        bad = np.flatnonzero(~np.isnan(canon) & ((canon < item.low) | (canon > item.high)))
        if bad.size:
            row = int(bad[0])
            lo, hi = item.low - shift, item.high - shift
            problem = f"is out of range {lo} to {hi}"
            hint = _code_base_hint(inst, data, shift, raw[row], item.high)
            raise _fail(inst, ids, row, col, raw[row], problem + hint, source)
        codes[:, j] = canon
    return codes


def _code_base_hint(
    inst: Instrument, data: pd.DataFrame, shift: int, value: float, high: int
) -> str:
    """Suggest ``code_base`` when the data look like codes exported from another base."""
    if shift != 0 or value != high + 1:
        return ""
    cols = [c for c in inst.columns if c in data.columns]
    lows = [
        pd.to_numeric(data[c], errors="coerce").min()
        for c in cols
        if not pd.api.types.is_bool_dtype(data[c].dtype)
    ]
    observed_min = min((x for x in lows if pd.notna(x)), default=math.nan)
    if observed_min == inst.code_base + 1:
        return (
            f" (the codes look {inst.code_base + 1}-based; {inst.id} uses "
            f"{inst.code_base}-based codes: declare code_base={inst.code_base + 1})"
        )
    return ""


# --------------------------------------------------------------------- scoring
def _item_values(inst: Instrument, codes: np.ndarray) -> np.ndarray:
    """Apply recoding and reverse keying to canonical codes (NaN stays NaN)."""
    values = np.empty_like(codes, order="F")
    for j, item in enumerate(inst.items):
        col = codes[:, j]
        if item.recode is not None:
            table = np.array([*item.recode, np.nan], dtype=float)
            idx = np.where(np.isnan(col), len(item.recode), col - item.low).astype(np.intp)
            values[:, j] = table[idx]
        elif item.reverse:
            values[:, j] = (item.low + item.high) - col
        else:
            values[:, j] = col
    return values


def _score_values(inst: Instrument, values: np.ndarray) -> dict[str, np.ndarray]:
    """Scale scores, ``n_missing``, ``prorated`` and categories from item values."""
    position = {item.number: j for j, item in enumerate(inst.items)}
    n = values.shape[0]
    out: dict[str, np.ndarray] = {}
    prorated = np.zeros(n, dtype=bool)
    for scale in inst.scoring_order:
        if scale.from_scales:
            out[scale.name] = np.sum([out[s] for s in scale.from_scales], axis=0)
            continue
        sub = values[:, [position[i] for i in scale.items]]
        k = sub.shape[1]
        n_obs = np.sum(~np.isnan(sub), axis=1)
        n_miss = k - n_obs
        total = np.nansum(sub, axis=1)
        rule = scale.missing
        allowed = (n_miss <= rule.max_missing) & (n_obs > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            if scale.method == "mean":
                score = np.where(allowed, total / n_obs, np.nan)
            else:
                full = n_miss == 0
                scaled = total * k / n_obs
                score = np.where(full, total, np.where(allowed & rule.prorate, scaled, np.nan))
        if rule.prorate:
            prorated |= (n_miss > 0) & ~np.isnan(score)
        out[scale.name] = score * scale.multiplier
    scored = [j for j, item in enumerate(inst.items) if item.scored]
    out["n_missing"] = np.sum(np.isnan(values[:, scored]), axis=1)
    out["prorated"] = prorated
    for cls in inst.classifications:
        labels = np.full(n, None, dtype=object)
        assigned = np.zeros(n, dtype=bool)
        complete = np.all([~np.isnan(out[s]) for s in cls.scores_used()], axis=0)
        for band in cls.bands:
            hit = complete & ~assigned
            for cond in band.conditions:
                with np.errstate(invalid="ignore"):
                    hit &= cond.holds(out[cond.score])
            labels[hit] = band.label
            assigned |= hit
        out[cls.name] = labels
    return out


def _scored_table(
    inst: Instrument,
    data: pd.DataFrame,
    ids: Sequence[object] | None,
    code_base: int | None,
    source: str | None,
) -> pd.DataFrame:
    codes = _validated_codes(inst, data, ids, code_base, source)
    scores = _score_values(inst, _item_values(inst, codes))
    return pd.DataFrame({c: scores[c] for c in inst.output_columns}, index=data.index)


def score_frame(
    inst: Instrument,
    data: pd.DataFrame,
    *,
    id_column: str | None = None,
    code_base: int | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Score every respondent (row) of ``data`` for one instrument.

    Parameters
    ----------
    inst : Instrument
    data : pandas.DataFrame
        One row per respondent with item columns ``<id>_<n>``; other columns
        are ignored. A missing value (NaN/None/NA) is an unanswered item.
    id_column : str, optional
        Respondent id column, copied to the output and named in errors.
    code_base : int, optional
        Lowest code used in ``data`` when it differs from the instrument's
        canonical base (e.g. ``1`` for DASS-21 exported as 1-4).
    source : str, optional
        File name to name in error messages (with line numbers).

    Returns
    -------
    pandas.DataFrame
        Same index as ``data``: ``id_column`` (if given), ``total``, each
        subscale, ``n_missing``, ``prorated`` and each cut-off classification.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataValidationError(f"{inst.id}: data must be a pandas DataFrame")
    ids: list[object] | None = None
    if id_column is not None:
        if id_column not in data.columns:
            raise DataValidationError(
                f"{inst.id}" + (f", {source}" if source else "") + f": no id column {id_column!r}"
            )
        ids = data[id_column].tolist()
    table = _scored_table(inst, data, ids, code_base, source)
    if id_column is not None:
        table.insert(0, id_column, data[id_column].to_numpy())
    return table


def _item_number(inst: Instrument, key: object, respondent: object) -> int:
    where = inst.id + (f", respondent {respondent!r}" if respondent is not None else "")
    number: int | None = None
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        number = int(key)
    elif isinstance(key, str):
        m = _ITEM_KEY.match(key)
        text = m.group("n") if m and m.group("prefix") == inst.id else key
        number = int(text) if text.isdigit() else None
    if number is None or number not in {i.number for i in inst.items}:
        raise DataValidationError(f"{where}: unknown item {key!r}")
    return number


def score_one(
    inst: Instrument,
    responses: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
    *,
    respondent: object = None,
    code_base: int | None = None,
) -> ScoreResult:
    """Score one respondent's responses.

    ``responses`` maps items (``"tsk17_5"``, ``5`` or ``"5"``) to codes, or is
    a sequence of ``(item, code)`` pairs; an item may appear only once. An
    absent item, ``None`` or NaN is unanswered.
    """
    pairs = responses.items() if isinstance(responses, Mapping) else responses
    row: dict[str, object] = {c: None for c in inst.columns}
    seen: set[int] = set()
    for key, value in pairs:
        number = _item_number(inst, key, respondent)
        if number in seen:
            where = inst.id + (f", respondent {respondent!r}" if respondent is not None else "")
            raise DataValidationError(f"{where}: duplicate item {inst.column(number)}")
        seen.add(number)
        row[inst.column(number)] = value
    frame = pd.DataFrame({k: pd.Series([v], dtype=object) for k, v in row.items()})
    codes = _validated_codes(inst, frame, [respondent], code_base, None)
    out = _score_values(inst, _item_values(inst, codes))
    unanswered = np.isnan(codes[0])
    return ScoreResult(
        instrument=inst.id,
        version=inst.version,
        respondent=respondent,
        scores={s.name: _opt_float(out[s.name][0]) for s in inst.scales},
        n_missing=int(out["n_missing"][0]),
        missing_items=tuple(
            i.number for j, i in enumerate(inst.items) if i.scored and unanswered[j]
        ),
        prorated=bool(out["prorated"][0]),
        categories={c.name: out[c.name][0] for c in inst.classifications},
        rules={s.name: s.missing.source for s in inst.scales if not s.from_scales},
    )


def _opt_float(x: Any) -> float | None:
    f = float(x)
    return None if math.isnan(f) else f
