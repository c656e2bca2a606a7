"""Check a long-format trial data set against an analysis plan.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis import load_plan
>>> out = validate_data(datasets.load("resolve"), load_plan())
>>> len(out)
1380
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from resolve._validation import require_columns, show_values
from resolve.errors import DataValidationError

if TYPE_CHECKING:
    from resolve.analysis.plan import Plan

__all__ = ["validate_data"]


def validate_data(data: pd.DataFrame, plan: Plan, *, source: str = "data") -> pd.DataFrame:
    """Check ``data`` against the plan; return it with arm and visit as strings.

    Raises :class:`DataValidationError` naming the problem: a column the plan
    names but the data lack, unknown arms or visits, duplicate subject-visit
    rows, a non-numeric outcome or modifier, a modifier with no variance, or
    a modifier that varies within a participant.
    """
    t = plan.trial
    require_columns(data, plan.columns, what=source)
    out = data.copy()
    for col in (t.arm, t.visit):
        out[col] = out[col].astype("string")
    for col, allowed, what in ((t.arm, t.arms, "arm"), (t.visit, t.visits, "visit")):
        seen = set(out[col].dropna().unique())
        unknown = sorted(seen - set(allowed))
        if unknown:
            raise DataValidationError(
                f"{source}: column {col!r} has {what}(s) {show_values(unknown)} not in "
                f"the plan ({', '.join(allowed)})"
            )
        if out[col].isna().any():
            row = int(np.flatnonzero(out[col].isna().to_numpy())[0])
            raise DataValidationError(f"{source}: column {col!r} is empty on data row {row + 1}")
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
    numeric = [o.column for o in plan.outcomes] + [m.column for m in plan.modifiers]
    numeric += list(plan.analysis.covariates)
    for col in numeric:
        values = out[col]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            bad_vals = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
            raise DataValidationError(
                f"{source}: column {col!r} must be numeric; found {show_values(bad_vals.unique())}"
            )
    for m in plan.modifiers:
        per = out.groupby(t.subject)[m.column].nunique(dropna=True)
        if (per > 1).any():
            raise DataValidationError(
                f"{source}: modifier {m.column!r} varies within participant "
                f"{per.index[per > 1][0]!r}; it must be a baseline value"
            )
        values = out.drop_duplicates(t.subject)[m.column].dropna()
        if values.nunique() < 2:
            raise DataValidationError(
                f"{source}: modifier {m.column!r} has no variance "
                f"(every participant has {show_values(values.unique())})"
            )
        if m.type == "binary" and not set(values.unique()) <= {0, 1}:
            raise DataValidationError(
                f"{source}: binary modifier {m.column!r} must be coded 0/1; found "
                f"{show_values(sorted(set(values.unique()) - {0, 1}))}"
            )
    return out
