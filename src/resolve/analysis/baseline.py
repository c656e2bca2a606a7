"""Who was randomised: Table 1 (baseline characteristics by arm) and screening counts.

:func:`table1` describes, by arm and overall, every column the plan names as a
baseline characteristic: each outcome at the baseline visit, each candidate
effect modifier, each covariate, and any ``extra`` columns the caller names
(for example age and sex).  Nothing is guessed from column names: a column is
described only when the plan (or the caller) names it.  Continuous variables are
given as mean (SD), binary and categorical ones as n (%) for every level, with
the number of participants missing the value.  Table 1 of a randomised trial has
no P values: differences at baseline between randomised groups are due to chance
by design, so testing them is not meaningful (CONSORT 2010, item 15, explanation).

:func:`screening_counts` reads the enrolment part of a screening log (the
``consort.csv`` of :func:`resolve.trial.exports.write_export`, or the same columns
written by hand) for the CONSORT flow, and :func:`flow_counts` its allocation,
follow-up and analysis rows (the export writes them; a hand-written log usually
has none).

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis import load_plan
>>> t1 = table1(datasets.load("resolve"), load_plan())
>>> row = t1[(t1.variable == "pain") & (t1.arm == "overall")].iloc[0]
>>> row.characteristic, int(row.n), row.text
('Pain intensity (NRS 0-10)', 276, '5.7 (1.9)')
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from resolve._validation import require_columns
from resolve.analysis.descriptive import format_number
from resolve.analysis.plan import Plan
from resolve.errors import DataValidationError

__all__ = [
    "FLOW_COLUMNS",
    "FLOW_MEASURES",
    "OVERALL",
    "TABLE1_COLUMNS",
    "flow_counts",
    "screening_counts",
    "table1",
]

#: The ``arm`` value of the all-participants column of Table 1.
OVERALL = "overall"

#: Columns of :func:`table1`.
TABLE1_COLUMNS = (
    "variable",
    "characteristic",
    "source",
    "type",
    "level",
    "arm",
    "n",
    "mean",
    "sd",
    "count",
    "percent",
    "missing",
    "text",
)

Kind = Literal["continuous", "binary", "categorical"]


def _level_text(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _binary_names(unit: str) -> tuple[str, str]:
    """Names of levels 1 and 0 from a unit like ``"user vs non-user"``."""
    parts = [p.strip() for p in re.split(r"\bvs\.?\s", unit) if p.strip()]
    return (parts[0], parts[1]) if len(parts) == 2 else ("1", "0")


def _describe(
    values: pd.Series,
    arms: pd.Series,
    arm_order: Sequence[str],
    *,
    variable: str,
    characteristic: str,
    source: str,
    kind: Kind,
    levels: Sequence[tuple[str, str]] = (),
) -> list[tuple[object, ...]]:
    """Rows of one characteristic; ``levels`` = (value as text, display name)."""
    rows: list[tuple[object, ...]] = []
    for arm in [*arm_order, OVERALL]:
        v = values if arm == OVERALL else values[arms == arm]
        present = v.dropna()
        n, missing = len(present), len(v) - len(present)
        if kind == "continuous":
            x = pd.to_numeric(present).astype(float)
            mean = float(x.mean()) if n else math.nan
            sd = float(x.std(ddof=1)) if n > 1 else math.nan
            text = f"{format_number(mean)} ({format_number(sd)})" if n > 1 else format_number(mean)
            cont: tuple[object, ...] = (variable, characteristic, source, kind, None, arm, n)
            rows.append((*cont, mean, sd, np.nan, np.nan, missing, text))
            continue
        as_text = present.map(_level_text)
        for value, name in levels:
            count = int((as_text == value).sum())
            pct = 100 * count / n if n else math.nan
            text = f"{count} ({format_number(pct)})" if n else "0"
            cat: tuple[object, ...] = (variable, characteristic, source, kind, name, arm, n)
            rows.append((*cat, np.nan, np.nan, count, pct, missing, text))
    return rows


def _as_float(values: pd.Series) -> np.ndarray | None:
    """Values as floats, or None when they are not all numeric."""
    x = pd.to_numeric(values, errors="coerce")
    if (x.isna() & values.notna()).any():
        return None
    return x.to_numpy(dtype=np.float64)


def _kind_of(values: pd.Series, declared: Sequence[str] | None) -> tuple[Kind, list[str]]:
    present = values.dropna()
    if declared:
        seen = [_level_text(v) for v in dict.fromkeys(present)]
        extra = sorted(set(seen) - set(declared))
        return "categorical", [*declared, *extra]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        if set(present.unique()) <= {0, 1}:
            return "binary", ["1", "0"]
        return "continuous", []
    return "categorical", sorted({_level_text(v) for v in present})


def table1(
    data: pd.DataFrame,
    plan: Plan,
    *,
    extra: Sequence[str] = (),
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Baseline characteristics by arm and overall (CONSORT Table 1), tidy.

    Parameters
    ----------
    data : pandas.DataFrame
        Long trial data (one row per participant and visit) with the plan's
        columns; every participant in it counts (intention to treat).
    plan : Plan
        Names the outcomes (described at ``trial.baseline_visit``), the modifiers
        and the covariates, in that order.
    extra : sequence of str
        More baseline columns to describe after those (e.g. ``("age", "sex")``),
        in the order given; each must be in ``data``.
    labels : dict, optional
        Display names of ``extra`` columns (default: the column name).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE1_COLUMNS`: ``variable`` (data column),
        ``characteristic`` (plan label), ``source`` (outcome, modifier,
        covariate or extra), ``type`` (continuous, binary or categorical),
        ``level`` (missing for continuous), ``arm`` (arm names exactly as in the
        plan, reference first, then ``"overall"``), ``n`` (participants with a
        value), ``mean``, ``sd`` (``n - 1``; continuous only), ``count``,
        ``percent`` (of ``n``; binary and categorical, one row per level),
        ``missing`` (participants without a value) and ``text`` ("5.7 (2.0)" or
        "69 (50.0)", one decimal, real minus sign).

    Notes
    -----
    A participant's value of a modifier, covariate or extra column is the one on
    their baseline-visit row, else their first non-missing one.  Binary (0/1)
    modifiers show both levels, named from the modifier's unit when it reads
    "A vs B" (A = 1); a numeric column whose only values are 0 and 1 is
    binary; a covariate with declared ``covariate_levels`` is categorical with
    those levels in that order; text columns are categorical with their
    observed levels in sorted order; other numeric columns are continuous.
    A column whose participant values equal those of a column already described
    (e.g. a ``pain_baseline`` modifier that repeats the baseline pain outcome) is
    not repeated.  No P values (see the module docstring).

    Examples
    --------
    >>> from resolve import datasets
    >>> from resolve.analysis import load_plan
    >>> t1 = table1(datasets.load("resolve"), load_plan(), extra=["sex"])
    >>> sex = t1[(t1.variable == "sex") & (t1.arm == "sham")]
    >>> [(r.level, int(r["count"])) for _, r in sex.iterrows()]
    [('female', 66), ('male', 72)]
    """
    t = plan.trial
    names = dict(labels or {})
    cols = [t.subject, t.arm, t.visit, *(o.column for o in plan.outcomes)]
    cols += [m.column for m in plan.modifiers] + list(plan.analysis.covariates) + list(extra)
    require_columns(data, list(dict.fromkeys(cols)), what="data")
    frame = data.copy()
    frame["_base"] = frame[t.visit].astype(str) != t.baseline_visit
    frame = frame.sort_values("_base", kind="stable")
    first = frame.groupby(t.subject, sort=False).first()
    base_rows = frame[~frame["_base"]].drop_duplicates(t.subject).set_index(t.subject)
    arms = first[t.arm].astype(str)
    arm_order = [t.reference_arm, *(a for a in t.arms if a != t.reference_arm)]
    arm_order += sorted(set(arms) - set(arm_order))
    rows: list[tuple[object, ...]] = []
    for o in plan.outcomes:
        v = base_rows[o.column].reindex(first.index) if len(base_rows) else first[o.column] * np.nan
        label = f"{o.label}, {t.baseline_visit}" if o.label == o.name else o.label
        rows += _describe(
            pd.to_numeric(v),
            arms,
            arm_order,
            variable=o.column,
            characteristic=label,
            source="outcome",
            kind="continuous",
        )
    described = {o.column for o in plan.outcomes}
    seen_values = [_as_float(base_rows[o.column].reindex(first.index)) for o in plan.outcomes]

    def repeat(col: str) -> bool:
        """Already described, or the same values as a column already described."""
        if col in described:
            return True
        described.add(col)
        v = _as_float(first[col])
        if v is not None and any(
            s is not None and np.array_equal(v, s, equal_nan=True) for s in seen_values
        ):
            return True
        seen_values.append(v)
        return False

    for m in plan.modifiers:
        if repeat(m.column):
            continue
        if m.type == "binary":
            one, zero = _binary_names(m.unit)
            rows += _describe(
                first[m.column],
                arms,
                arm_order,
                variable=m.column,
                characteristic=m.label,
                source="modifier",
                kind="binary",
                levels=[("1", one), ("0", zero)],
            )
        else:
            rows += _describe(
                pd.to_numeric(first[m.column]),
                arms,
                arm_order,
                variable=m.column,
                characteristic=m.label,
                source="modifier",
                kind="continuous",
            )
    declared = plan.analysis.covariate_levels
    for source, columns in (("covariate", plan.analysis.covariates), ("extra", tuple(extra))):
        for col in columns:
            if repeat(col):
                continue
            kind, levels = _kind_of(first[col], declared.get(col))
            rows += _describe(
                first[col],
                arms,
                arm_order,
                variable=col,
                characteristic=names.get(col, col),
                source=source,
                kind=kind,
                levels=[(lv, lv) for lv in levels],
            )
    out = pd.DataFrame(rows, columns=list(TABLE1_COLUMNS))
    for col in ("n", "missing"):
        out[col] = out[col].astype(np.int64)
    for col in ("mean", "sd", "count", "percent"):
        out[col] = out[col].astype(np.float64)
    return out


# ----------------------------------------------------------------------------- screening
#: Rows of :func:`screening_counts` that are not exclusion categories.
_FLOW = ("assessed for eligibility", "excluded", "randomised")

#: Stages of a screening log after enrolment and the measures each may hold (the
#: trial export's ``consort.csv``, :func:`resolve.trial.exports.consort_counts`).
FLOW_MEASURES: dict[str, tuple[str, ...]] = {
    "allocation": ("allocated", "randomised in error"),
    "follow-up": ("assessed", "withdrawn", "lost to follow-up", "missed visit"),
    "analysis": ("analysed", "excluded from analysis"),
}

#: Columns of :func:`flow_counts`.
FLOW_COLUMNS = ("stage", "arm", "visit", "measure", "reason", "n")

_STAGES = ("enrolment", *FLOW_MEASURES)
_STAGE_ALIASES = {"enrollment": "enrolment", "followup": "follow-up", "": "enrolment"}


def _cell(value: object) -> str:
    """A log cell as text: empty for a missing cell, ``12`` for ``12.0``."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return _level_text(value).strip()


def _stages(frame: pd.DataFrame, source: str) -> list[str]:
    """The normalised stage of every row (``enrolment`` without a ``stage`` column)."""
    if "stage" not in frame.columns:
        return ["enrolment"] * len(frame)
    out = []
    for pos, value in enumerate(frame["stage"]):
        text = re.sub(r"[\s_]+", "-", _cell(value).lower())
        text = _STAGE_ALIASES.get(text, text)
        if text not in _STAGES:
            raise DataValidationError(
                f"{source}: row {pos + 1}, column 'stage' has {_cell(value)!r}; stages are "
                f"{', '.join(_STAGES)} (an empty stage is enrolment)"
            )
        out.append(text)
    return out


def _counts(frame: pd.DataFrame, source: str) -> pd.Series:
    """Column ``n`` as int64, or an error naming the first row that is not a whole number >= 0."""
    n = pd.to_numeric(frame["n"], errors="coerce")
    bad = n.isna() | (n < 0) | ~np.isclose(n.fillna(0), n.fillna(0).round())
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        value = frame["n"].iloc[pos]
        shown = repr(value) if isinstance(value, str) else _cell(value) or "an empty cell"
        raise DataValidationError(
            f"{source}: column 'n' must hold whole numbers >= 0; row {pos + 1} has {shown}"
        )
    return n.round().astype(np.int64)


def screening_counts(screening: pd.DataFrame, *, source: str = "screening") -> pd.DataFrame:
    """The enrolment counts of a screening log, checked and in flow order.

    Parameters
    ----------
    screening : pandas.DataFrame
        Columns ``measure`` and ``n``, optionally ``reason`` and ``stage``: the
        ``consort.csv`` of :func:`resolve.trial.exports.write_export` (only its
        enrolment rows are used here; :func:`flow_counts` reads the others) or a
        table written by hand.  Measures: ``assessed for eligibility`` and
        ``randomised`` (required), ``excluded`` (optional total; default assessed
        minus randomised), and any exclusion categories (``not meeting inclusion
        criteria``, ``declined to participate``, ...); a row with a ``reason`` is
        one reason within its category (a person may have several).  Zero-count
        categories are dropped.  A row with an empty ``stage`` is an enrolment row.
    source : str
        How error messages name the table.

    Returns
    -------
    pandas.DataFrame
        Columns ``measure, reason, n``: assessed, excluded (total), then each
        category (reason empty) followed by its reasons, then randomised.

    Raises
    ------
    DataValidationError
        Missing columns or measures, counts that are not whole numbers >= 0,
        an unknown ``stage``, more randomised than assessed, or an ``excluded``
        total that is not assessed minus randomised.  Rows are counted from 1
        (row r is line r + 1 of a CSV file).

    Examples
    --------
    >>> log = pd.DataFrame({"measure": ["assessed for eligibility", "declined to participate",
    ...                                 "randomised"], "n": [40, 10, 30]})
    >>> for row in screening_counts(log).itertuples(index=False):
    ...     print(tuple(row))
    ('assessed for eligibility', '', 40)
    ('excluded', '', 10)
    ('declined to participate', '', 10)
    ('randomised', '', 30)
    """
    require_columns(screening, ["measure", "n"], what=source)
    stages = _stages(screening, source)
    frame = screening.assign(n=_counts(screening, source))
    frame = frame[[s == "enrolment" for s in stages]].copy()
    frame["measure"] = frame["measure"].map(_cell)
    if "reason" in frame.columns:
        frame["reason"] = frame["reason"].map(_cell)
    else:
        frame["reason"] = ""
    lower = frame["measure"].str.lower()

    def total(measure: str) -> int | None:
        hit = frame[(lower == measure) & (frame["reason"] == "")]
        return None if hit.empty else int(hit["n"].sum())

    assessed, randomised = total("assessed for eligibility"), total("randomised")
    for name, value in (("assessed for eligibility", assessed), ("randomised", randomised)):
        if value is None:
            raise DataValidationError(f"{source}: no {name!r} count (column 'measure')")
    assert assessed is not None and randomised is not None
    if randomised > assessed:
        raise DataValidationError(
            f"{source}: {randomised} randomised but only {assessed} assessed for eligibility"
        )
    excluded = total("excluded")
    if excluded is not None and excluded != assessed - randomised:
        raise DataValidationError(
            f"{source}: excluded = {excluded}, but assessed - randomised = {assessed - randomised}"
        )
    rows: list[tuple[str, str, int]] = [
        ("assessed for eligibility", "", assessed),
        ("excluded", "", assessed - randomised),
    ]
    categories = [m for m in dict.fromkeys(frame["measure"]) if m.lower() not in _FLOW]
    for cat in categories:
        part = frame[frame["measure"] == cat]
        head = part[part["reason"] == ""]
        reasons = part[part["reason"] != ""]
        count = int(head["n"].sum()) if not head.empty else int(reasons["n"].sum())
        if count == 0 and (reasons["n"] == 0).all():
            continue
        rows.append((cat, "", count))
        rows += [(cat, r, int(k)) for r, k in zip(reasons["reason"], reasons["n"], strict=True)]
    rows.append(("randomised", "", randomised))
    out = pd.DataFrame(rows, columns=["measure", "reason", "n"])
    out["n"] = out["n"].astype(np.int64)
    return out


def flow_counts(screening: pd.DataFrame, *, source: str = "screening") -> pd.DataFrame:
    """The allocation, follow-up and analysis rows of a screening log, checked.

    Parameters
    ----------
    screening : pandas.DataFrame
        The ``consort.csv`` of :func:`resolve.trial.exports.write_export`
        (columns ``stage, arm, visit, measure, reason, n``).  Rows of stages
        ``allocation``, ``follow-up`` and ``analysis`` are read; enrolment rows
        are :func:`screening_counts`'s.  A log without a ``stage`` column (the
        hand-written ``measure, reason, n`` format) has none of these rows.
    source : str
        How error messages name the table.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FLOW_COLUMNS` (``stage, arm, visit, measure, reason, n``),
        the log's rows of those stages in the log's order, texts stripped, stage
        and measure in lower case (``"follow up"`` reads as ``follow-up``); no
        rows when the log has none.  Measures per stage: :data:`FLOW_MEASURES`
        (follow-up measures are mutually exclusive per arm and visit; an
        ``excluded from analysis`` row names its reason).  Whether arms and
        visits match the data is :func:`resolve.analysis.descriptive.consort`'s
        concern.

    Raises
    ------
    DataValidationError
        A row with an unknown stage or a measure its stage does not have, no
        ``arm`` (or ``all``), a follow-up row with no ``visit``, a count that is
        not a whole number >= 0, or two rows with the same stage, arm, visit,
        measure and reason.  The message names the row (counted from 1: row r is
        line r + 1 of a CSV file), the column and the value.

    Examples
    --------
    >>> log = pd.DataFrame({
    ...     "stage": ["enrolment", "enrolment", "allocation", "follow-up", "follow-up"],
    ...     "arm": ["all", "all", "sham", "sham", "sham"],
    ...     "visit": ["", "", "", "week 12", "week 12"],
    ...     "measure": ["assessed for eligibility", "randomised", "allocated", "assessed",
    ...                 "withdrawn"],
    ...     "reason": "", "n": [12, 10, 10, 9, 1]})
    >>> for row in flow_counts(log).itertuples(index=False):
    ...     print(f"{row.stage} | {row.arm} | {row.visit} | {row.measure} | {row.n}")
    allocation | sham |  | allocated | 10
    follow-up | sham | week 12 | assessed | 9
    follow-up | sham | week 12 | withdrawn | 1
    """
    require_columns(screening, ["measure", "n"], what=source)
    stages = _stages(screening, source)
    counts = _counts(screening, source)

    def column(name: str) -> list[str]:
        if name not in screening.columns:
            return [""] * len(screening)
        return [_cell(v) for v in screening[name]]

    arms, visits, reasons = column("arm"), column("visit"), column("reason")
    measures = [m.lower() for m in column("measure")]
    rows: list[tuple[str, str, str, str, str, int]] = []
    first: dict[tuple[str, str, str, str, str], int] = {}
    for pos, stage in enumerate(stages):
        if stage == "enrolment":
            continue
        arm, visit, measure, reason = arms[pos], visits[pos], measures[pos], reasons[pos]
        where = f"{source}: row {pos + 1}"
        if measure not in FLOW_MEASURES[stage]:
            raise DataValidationError(
                f"{where}, column 'measure' has {column('measure')[pos]!r}; a {stage} row's "
                f"measure is one of {', '.join(FLOW_MEASURES[stage])}"
            )
        if not arm or arm.lower() == "all":
            raise DataValidationError(
                f"{where}, column 'arm' has {arm!r}; a {stage} row needs the arm it counts"
            )
        if stage == "follow-up" and not visit:
            raise DataValidationError(
                f"{where}, column 'visit' is empty; a follow-up row needs the visit it counts"
            )
        key = (stage, arm, visit, measure, reason)
        if key in first:
            raise DataValidationError(
                f"{where} repeats row {first[key] + 1} (stage {stage!r}, arm {arm!r}, "
                f"visit {visit!r}, measure {measure!r}, reason {reason!r})"
            )
        first[key] = pos
        rows.append((stage, arm, visit, measure, reason, int(counts.iloc[pos])))
    out = pd.DataFrame(rows, columns=list(FLOW_COLUMNS))
    out["n"] = out["n"].astype(np.int64)
    return out
