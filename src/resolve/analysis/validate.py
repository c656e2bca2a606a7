"""Check a long-format trial data set against an analysis plan, value by value.

Every column the plan names is checked, and a problem is refused with a
:class:`~resolve.errors.DataValidationError` that names the data (``source``),
the row, the column and the value.  Rows are **data rows counted from 1** in the
order of the data (the header of a CSV file is not a data row, so data row *r*
is line *r* + 1 of the file).

What is refused
---------------
- a column the plan names but the data lack; an empty participant id, arm or visit;
  an arm or visit that is not in the plan; two rows for one participant and
  visit; a participant in two arms;
- in an outcome, modifier or numeric covariate: text that is not a number (also
  ``NaN``, ``NA``, ``inf``: only an **empty cell** is a missing value), an
  infinite number, and True/False;
- an outcome value outside the outcome's plan ``range`` (inclusive);
- a modifier or covariate that varies within a participant (they are baseline
  characteristics), a modifier without variance, a binary modifier not coded 0/1;
- a categorical covariate value missing from the plan's declared
  ``covariate_levels``, a text value that reads as a missing-value code
  (``NA``, ``NaN``, ``N/A``, ``NULL``, ...) unless the plan declares it as a
  level, a covariate with a single value, and a covariate column mixing numbers
  and text (declare its levels to make it categorical).

Categorical covariates
----------------------
A covariate is categorical when the plan declares its levels
(``[analysis] covariate_levels``) or when its values are text.  Its levels are the
declared ones (first = reference level) or else R's ``factor()`` order of the
observed values (:func:`resolve._levels.r_sort_levels`: the reference is what R
would choose); levels nobody has are dropped.  A pandas Categorical column keeps
its categories' order.  Every model enters a categorical covariate as a factor
(treatment coding); :func:`factor_levels_table` lists the levels used.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis import load_plan
>>> out = validate_data(datasets.load("resolve"), load_plan())
>>> len(out)
1380
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from resolve._levels import factor_levels
from resolve._validation import require_columns, show_values
from resolve.errors import DataValidationError

if TYPE_CHECKING:
    from resolve.analysis.plan import Plan

__all__ = [
    "MISSING_CODES",
    "CovariateFactor",
    "covariate_factors",
    "factor_levels_table",
    "validate_data",
]

#: Text that reads as a missing-value code; refused in a categorical covariate unless
#: the plan declares it as a level (an empty cell is the only missing value).
MISSING_CODES = frozenset(
    {"NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "NULL", "null", "None", "none", "#N/A", "."}
)

_ROWS = "rows are data rows counted from 1; data row r is line r + 1 of a CSV file"


@dataclass(frozen=True)
class CovariateFactor:
    """A categorical covariate: its column, levels (reference first) and how they were chosen."""

    column: str
    levels: tuple[str, ...]
    how: str

    @property
    def reference(self) -> str:
        return self.levels[0]


def _fmt(value: object) -> str:
    """A value as a message shows it: ``15``, ``-3.5``, ``inf``, ``'NaN'`` (text quoted)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | float | np.integer | np.floating):
        f = float(value)
        if math.isfinite(f) and f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return repr(f) if math.isfinite(f) else str(f)
    return repr(value)


def _where(source: str, position: int, column: str) -> str:
    return f"{source}: row {position + 1}, column {column!r}"


def _first(mask: pd.Series | np.ndarray) -> int:
    return int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])


def _missing(values: pd.Series) -> np.ndarray:
    return np.asarray(values.isna().to_numpy(), dtype=bool)


def _text_values(values: pd.Series) -> pd.Series:
    """Values as text, missing kept missing; integer-valued floats print without ``.0``."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)

    def one(v: object) -> object:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v)

    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def _numeric(values: pd.Series, column: str, source: str, what: str) -> pd.Series:
    """``values`` as float64; refuse text, non-finite numbers and booleans (first row named)."""
    if pd.api.types.is_bool_dtype(values):
        pos = _first(values.notna())
        raise DataValidationError(
            f"{source}: row {pos + 1}, column {column!r} must be numeric; found "
            f"{_fmt(values.iloc[pos])} ({what}; {_ROWS})"
        )
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if pd.api.types.is_numeric_dtype(values):
        x = pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=values.index)
        bad = ~np.isfinite(x.to_numpy()) & ~_missing(x)
        if bad.any():
            pos = _first(bad)
            raise DataValidationError(
                f"{source}: row {pos + 1}, column {column!r} must hold finite numbers; found "
                f"{_fmt(x.iloc[pos])} ({what}; {_ROWS})"
            )
        return x
    present = ~_missing(values)
    raw = values.to_numpy(dtype=object)
    parsed = np.full(len(values), np.nan)
    ok = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(present):
        v = raw[i]
        if isinstance(v, bool | np.bool_):
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if isinstance(v, str) and v.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            continue
        if math.isfinite(f):
            parsed[i], ok[i] = f, True
    bad = present & ~ok
    if bad.any():
        pos = _first(bad)
        raise DataValidationError(
            f"{source}: row {pos + 1}, column {column!r} must be numeric; found "
            f"{_fmt(raw[pos])} ({what}; only an empty cell is a missing value; {_ROWS})"
        )
    return pd.Series(parsed, index=values.index)


def _is_number_text(v: object) -> bool:
    if isinstance(v, bool | np.bool_):
        return False
    if isinstance(v, int | float | np.integer | np.floating):
        return True
    try:
        float(str(v))
    except ValueError:
        return False
    return True


def covariate_factors(
    data: pd.DataFrame, plan: Plan, *, source: str = "data"
) -> dict[str, CovariateFactor]:
    """The categorical covariates of ``plan`` in ``data``, with their levels (reference first).

    A covariate is categorical when ``plan.analysis.covariate_levels`` declares its
    levels or when its (non-missing) values are text; see the module docstring.
    Works on raw data and on data returned by :func:`validate_data` alike.

    Raises
    ------
    DataValidationError
        A covariate column that mixes numbers and text without declared levels, a
        value the declared levels lack, a missing-value code used as a level, or a
        categorical covariate with a single level.

    Examples
    --------
    >>> from resolve import datasets
    >>> from dataclasses import replace
    >>> from resolve.analysis import load_plan
    >>> plan = load_plan()
    >>> plan = replace(plan, analysis=replace(plan.analysis, covariates=("sex", "age")))
    >>> f = covariate_factors(datasets.load("resolve"), plan)
    >>> list(f), f["sex"].levels, f["sex"].reference
    (['sex'], ('female', 'male'), 'female')
    """
    declared = dict(plan.analysis.covariate_levels)
    out: dict[str, CovariateFactor] = {}
    for col in dict.fromkeys(plan.analysis.covariates):
        values = data[col]
        is_cat = isinstance(values.dtype, pd.CategoricalDtype)
        if col not in declared and not is_cat:
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                continue
            present = ~_missing(values)
            raw = values.to_numpy(dtype=object)
            number = np.array(
                [bool(p) and _is_number_text(v) for v, p in zip(raw, present, strict=True)]
            )
            if present.any() and number[present].all():
                continue  # numbers written as text: a numeric covariate (checked later)
            codes = np.array(
                [
                    bool(p) and str(v).strip() in MISSING_CODES
                    for v, p in zip(raw, present, strict=True)
                ]
            )
            if number.any() and codes[present & ~number].all():
                continue  # numbers with 'NaN'/'NA' text: numeric, refused by the numeric check
            if number.any():
                pos = _first(number)
                other = _first(present & ~number)
                raise DataValidationError(
                    f"{_where(source, pos, col)}: the covariate mixes numbers ({_fmt(raw[pos])}) "
                    f"and text ({_fmt(raw[other])} on row {other + 1}); fix the values, or declare "
                    f"its levels in the plan's [analysis] covariate_levels to make it categorical "
                    f"({_ROWS})"
                )
        text = _text_values(values)
        present = text.notna().to_numpy()
        raw = text.to_numpy(dtype=object)
        decl = declared.get(col)
        for i in np.flatnonzero(present):
            v = str(raw[i])
            if v.strip() == "" or (v.strip() in MISSING_CODES and (decl is None or v not in decl)):
                raise DataValidationError(
                    f"{_where(source, int(i), col)}: value {v!r} reads as a missing-value code; "
                    "leave the cell empty for a missing value (or declare it as a level in "
                    f"[analysis] covariate_levels; {_ROWS})"
                )
        if decl is not None:
            known = set(decl)
            lacking = [i for i in np.flatnonzero(present) if str(raw[i]) not in known]
            if lacking:
                pos = int(lacking[0])
                raise DataValidationError(
                    f"{_where(source, pos, col)}: value {_fmt(raw[pos])} is not one of the levels "
                    f"the plan declares for covariate {col!r} ({show_values(decl, limit=12)}; "
                    f"{_ROWS})"
                )
            levels, how = factor_levels(text.dropna(), decl, name=f"column {col!r}")
            how_text = "declared in the plan (covariate_levels)"
        elif is_cat:
            observed = set(text.dropna())
            levels = [str(c) for c in values.cat.categories if str(c) in observed]
            how_text = "categories of the data (pandas Categorical)"
        else:
            levels, how = factor_levels(text.dropna(), name=f"column {col!r}")
            how_text = "R factor() order of the values" if how == "R sort" else str(how)
        if len(levels) < 2:
            raise DataValidationError(
                f"{source}: categorical covariate {col!r} has a single value "
                f"({show_values(levels)}); it cannot be adjusted for"
            )
        out[col] = CovariateFactor(col, tuple(levels), how_text)
    return out


def factor_levels_table(data: pd.DataFrame, plan: Plan, *, source: str = "data") -> pd.DataFrame:
    """The factors of the models, their levels and reference level, and how each was chosen.

    Returns
    -------
    pandas.DataFrame
        One row for the arm and one per categorical covariate: ``factor`` (``"arm"``
        or ``"covariate"``), ``column`` (the data column), ``levels`` (text, levels
        in model order separated by ``" | "``), ``n_levels``, ``reference`` and
        ``how`` (the plan's reference arm; levels declared in the plan; or R's
        ``factor()`` order of the values).  Arms without participants are left out.

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> plan = load_plan()
    >>> factor_levels_table(datasets.load("resolve"), plan)[["column", "reference"]].values.tolist()
    [['arm', 'sham']]
    """
    t = plan.trial
    seen = set(data[t.arm].dropna().astype(str))
    arms = [t.reference_arm, *(a for a in t.arms if a != t.reference_arm)]
    arms = [a for a in arms if a in seen]
    rows: list[dict[str, object]] = [
        {
            "factor": "arm",
            "column": t.arm,
            "levels": " | ".join(arms),
            "n_levels": len(arms),
            "reference": t.reference_arm,
            "how": "reference_arm of the plan; other arms in plan order",
        }
    ]
    for f in covariate_factors(data, plan, source=source).values():
        rows.append(
            {
                "factor": "covariate",
                "column": f.column,
                "levels": " | ".join(f.levels),
                "n_levels": len(f.levels),
                "reference": f.reference,
                "how": f.how,
            }
        )
    out = pd.DataFrame(rows, columns=["factor", "column", "levels", "n_levels", "reference", "how"])
    out["n_levels"] = out["n_levels"].astype(np.int64)
    return out


def _require_present(out: pd.DataFrame, column: str, source: str) -> None:
    empty = _missing(out[column])
    if empty.any():
        pos = _first(empty)
        raise DataValidationError(
            f"{source}: column {column!r} is empty on data row {pos + 1} (every row needs a "
            f"value; {_ROWS})"
        )


def _constant_within(out: pd.DataFrame, subject: str, column: str, source: str, what: str) -> None:
    per = out.groupby(subject, sort=False)[column].nunique(dropna=True)
    if (per > 1).any():
        who = per.index[per > 1][0]
        rows = np.flatnonzero((out[subject] == who).to_numpy())
        vals = out[column].iloc[rows].dropna()
        raise DataValidationError(
            f"{source}: {what} {column!r} varies within participant {who!r} "
            f"({show_values(pd.unique(vals))} on rows {show_values([int(r) + 1 for r in rows])}); "
            "it must be a baseline value, the same on every row of a participant"
        )


def validate_data(data: pd.DataFrame, plan: Plan, *, source: str = "data") -> pd.DataFrame:
    """Check ``data`` against the plan, value by value; return a cleaned copy.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format, one row per participant and visit, with the columns the plan
        names.  Missing values are empty cells (NaN/None); text such as ``"NaN"``
        or ``"NA"`` is not a missing value but an error (read CSV files with
        :func:`resolve.analysis.io.read_trial_csv`, which keeps such text).
    plan : Plan
    source : str
        How messages name the data (e.g. the CSV file name).

    Returns
    -------
    pandas.DataFrame
        A copy with arm and visit as strings, outcomes, modifiers and numeric
        covariates as float64 and categorical covariates as text (a pandas
        Categorical stays one, with only its observed categories);
        :func:`covariate_factors` gives their levels.

    Raises
    ------
    DataValidationError
        See the module docstring; the message names ``source``, the data row
        (counted from 1, header excluded), the column and the value.

    Examples
    --------
    >>> import pandas as pd
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> bad = datasets.load("resolve")
    >>> bad.loc[6, "pain"] = 15
    >>> try:
    ...     validate_data(bad, load_plan(), source="trial.csv")
    ... except Exception as e:
    ...     print(str(e).split(" (")[0])
    trial.csv: row 7, column 'pain': value 15 is outside the plan's range [0, 10]
    """
    t = plan.trial
    require_columns(data, plan.columns, what=source)
    out = data.copy()
    _require_present(out, t.subject, source)
    for col, allowed, what in ((t.arm, t.arms, "arm"), (t.visit, t.visits, "visit")):
        _require_present(out, col, source)
        out[col] = _text_values(out[col]).astype("string")
        unknown_mask = ~out[col].isin(list(allowed)).to_numpy(dtype=bool)
        if unknown_mask.any():
            pos = _first(unknown_mask)
            unknown = sorted(set(out.loc[unknown_mask, col]) - set(allowed))
            raise DataValidationError(
                f"{source}: column {col!r} has {what}(s) {show_values(unknown)} not in the plan "
                f"({', '.join(allowed)}); the first is {_fmt(out[col].iloc[pos])} on data row "
                f"{pos + 1} ({_ROWS})"
            )
    dup = out.duplicated([t.subject, t.visit], keep=False)
    if dup.any():
        first = out.loc[dup, [t.subject, t.visit]].iloc[0]
        raise DataValidationError(
            f"{source}: {int(dup.sum())} rows share a participant and visit "
            f"({t.subject}={first[t.subject]!r}, {t.visit}={first[t.visit]!r} is one)"
        )
    per_subject_arm = out.groupby(t.subject)[t.arm].nunique()
    if (per_subject_arm > 1).any():
        bad = per_subject_arm.index[per_subject_arm > 1][0]
        raise DataValidationError(f"{source}: participant {bad!r} has more than one arm")
    for o in plan.outcomes:
        out[o.column] = _numeric(out[o.column], o.column, source, f"outcome {o.name!r}")
        if o.range is not None:
            lo, hi = o.range
            y = out[o.column].to_numpy()
            outside = ~np.isnan(y) & ((y < lo) | (y > hi))
            if outside.any():
                pos = _first(outside)
                raise DataValidationError(
                    f"{_where(source, pos, o.column)}: value {_fmt(y[pos])} is outside the "
                    f"plan's range [{_fmt(lo)}, {_fmt(hi)}] ({_ROWS})"
                )
    factors = covariate_factors(out, plan, source=source)
    for col in dict.fromkeys(plan.analysis.covariates):
        if col in factors:
            if isinstance(out[col].dtype, pd.CategoricalDtype):
                out[col] = pd.Categorical(
                    _text_values(out[col]), categories=list(factors[col].levels)
                )
            else:  # text; covariate_factors() gives the same levels again from it
                out[col] = _text_values(out[col])
        else:
            out[col] = _numeric(out[col], col, source, f"covariate {col!r}")
        _constant_within(out, t.subject, col, source, "covariate")
    for m in plan.modifiers:
        out[m.column] = _numeric(out[m.column], m.column, source, f"modifier {m.name!r}")
        _constant_within(out, t.subject, m.column, source, "modifier")
        values = out.drop_duplicates(t.subject)[m.column].dropna()
        if values.nunique() < 2:
            raise DataValidationError(
                f"{source}: modifier {m.column!r} has no variance "
                f"(every participant has {show_values(values.unique())})"
            )
        if m.type == "binary" and not set(values.unique()) <= {0, 1}:
            col_values = out[m.column].to_numpy()
            pos = _first(~np.isnan(col_values) & ~np.isin(col_values, [0.0, 1.0]))
            raise DataValidationError(
                f"{_where(source, pos, m.column)}: binary modifier {m.name!r} must be coded 0/1; "
                f"found {_fmt(col_values[pos])} ({_ROWS})"
            )
    return out
