"""From a long data frame to the arrays the likelihood needs.

Validates the input, fixes every level order, builds the fixed-effects design
with formulaic (treatment coding, first level = reference, like R), drops
aliased columns like R's ``lm`` (a column linearly dependent on earlier ones),
and lays the subjects out on a padded ``(subjects, slots, columns)`` grid
grouped by visit pattern.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from resolve._levels import factor_levels, natural_sort_levels, r_sort_levels, sorted_levels
from resolve._validation import require_columns, require_unique, show_values
from resolve.errors import DataValidationError
from resolve.stats.mmrm.covariance import CovarianceModel, get_structure
from resolve.stats.mmrm.spec import MMRMSpec

__all__ = ["ModelData", "build_design", "r_name"]

MAX_GROUPS = 20
Array = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class ModelData:
    """Everything about the data a fit needs (arrays are read-only by convention)."""

    spec: MMRMSpec
    outcome: str
    coef_names: tuple[str, ...]
    raw_names: tuple[str, ...]
    kept: NDArray[np.bool_]
    term_columns: dict[str, IntArray]
    term_factors: dict[str, tuple[str, ...]]
    model_spec: Any
    snapshot: dict[str, pd.Series]
    rows: IntArray
    factor_codes: dict[str, IntArray]
    x: Array
    y: Array
    subject_of_obs: IntArray
    slot_of_obs: IntArray
    subjects: tuple[str, ...]
    visits: tuple[str, ...]
    visit_source: str
    group_levels: tuple[str, ...]
    group_of_subject: IntArray
    xf: Array
    yf: Array
    pattern_of_subject: IntArray
    pattern_slots: tuple[IntArray, ...]
    unit_of_pattern: IntArray
    cov_model: CovarianceModel
    log_weight_sum: float
    n_subjects_input: int
    #: False only for spatial structures whose coordinates differ between subjects at
    #: a visit: slots are then positions within subject, one geometry per coordinate set.
    slots_are_visits: bool = True

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """The analysed rows in model order (subject, visit), factors as Categoricals.

        Built on first use from a copy of the model's columns taken at fit time,
        so later changes to the caller's data frame never reach the fit.
        """
        return _factor_frame(self.snapshot, self.rows, self.factor_codes, self.spec.levels)

    @property
    def n_obs(self) -> int:
        return int(self.y.size)

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    @property
    def rank(self) -> int:
        return int(self.kept.sum())


def r_name(column: str) -> str:
    """Turn formulaic's ``ARMCD[T.TRT]:AVISIT[T.VIS2]`` into R's ``ARMCDTRT:AVISITVIS2``."""
    parts = []
    for part in column.split(":"):
        if part.endswith("]") and "[T." in part:
            var, level = part[:-1].split("[T.", 1)
            parts.append(f"{var}{level}")
        elif part.endswith("]") and "[" in part:
            var, level = part[:-1].split("[", 1)
            parts.append(f"{var}{level}")
        else:
            parts.append("(Intercept)" if part == "Intercept" else part)
    return ":".join(parts)


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


def _levels(s: pd.Series) -> tuple[str, ...]:
    """Level order like R's ``factor()``: categories if categorical, else R's sort.

    Text sorts as R does in ``en_US.UTF-8`` (:func:`resolve._levels.r_sort_levels`:
    case-insensitive first, ``alpha < Beta``); numbers sort numerically.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        return tuple(str(c) for c in s.cat.categories)
    return tuple(sorted_levels(s.dropna().unique()))


def _as_categorical(s: pd.Series, levels: tuple[str, ...]) -> pd.Series:
    return pd.Series(
        pd.Categorical(s.astype(str).where(s.notna()), categories=list(levels)), index=s.index
    )


def _parse_formula(formula: str) -> tuple[str, list[str]]:
    if not isinstance(formula, str) or "~" not in formula:
        raise DataValidationError(f"formula must be a string 'outcome ~ terms'; got {formula!r}")
    lhs, rhs = _parse_formula_cached(formula)
    return lhs, list(rhs)


@functools.lru_cache(maxsize=256)
def _parse_formula_cached(formula: str) -> tuple[str, tuple[str, ...]]:
    from formulaic import Formula

    try:
        parsed = Formula(formula)
        lhs = sorted(parsed.lhs.required_variables)
        rhs = sorted(parsed.rhs.required_variables)
    except Exception as exc:  # formulaic raises several types
        raise DataValidationError(
            f"formula {formula!r} does not parse: {' '.join(str(exc).split())}"
        ) from exc
    if len(lhs) != 1:
        raise DataValidationError(
            f"formula {formula!r} must have exactly one outcome variable; got {lhs}"
        )
    return lhs[0], tuple(rhs)


def _fast_codable(s: pd.Series) -> bool:
    dt = s.dtype
    return bool(
        pd.api.types.is_object_dtype(dt)
        or isinstance(dt, pd.StringDtype)
        or pd.api.types.is_bool_dtype(dt)
        or pd.api.types.is_integer_dtype(dt)
    )


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _factor_codes(
    s: pd.Series, levels: tuple[str, ...] | None = None
) -> tuple[IntArray, tuple[str, ...]]:
    """Codes of ``s`` into ``levels`` (R ``factor()`` order if None); -1 if missing/unknown.

    Equivalent to ``pd.Categorical(s.astype(str), categories=levels).codes`` but
    hashes each distinct value once instead of converting every row to a string.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = tuple(str(c) for c in s.cat.categories)
        raw = s.cat.codes.to_numpy()
        if levels is None:
            levels = cats
        if cats == levels:
            return raw.astype(np.intp), levels
        pos = {lv: i for i, lv in enumerate(levels)}
        mapping = np.array([pos.get(c, -1) for c in cats] + [-1], dtype=np.intp)
        return mapping[raw], levels
    if not _fast_codable(s):
        lv = _levels(s) if levels is None else levels
        codes = pd.Categorical(s.astype(str).where(s.notna()), categories=list(lv)).codes
        return codes.astype(np.intp), lv
    ustr: list[str | None]
    if pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        codes_u, uniques = pd.factorize(s, use_na_sentinel=True)
        labels = [str(u) for u in uniques]
        ustr = list(labels)
        if levels is None and pd.api.types.is_integer_dtype(s.dtype):
            # Numbers sort numerically, as R's factor() of a numeric vector.
            levels = tuple(labels[int(i)] for i in np.argsort(np.asarray(uniques), kind="stable"))
        elif levels is None:
            levels = tuple(r_sort_levels(labels))  # False < True
    else:
        # Text and object columns: pd.factorize (a hash table in C; 2-6x faster than a
        # dict lookup per row, with python- or arrow-backed strings). Missing values
        # (None, NaN, pd.NA) get code -1 and no level.
        codes_u, uniques = pd.factorize(s, use_na_sentinel=True)
        ustr = [None if _is_missing(v) else str(v) for v in uniques]  # aligned with codes
        values = [v for v in uniques if not _is_missing(v)]
        if levels is None:
            if all(isinstance(v, str) for v in values):  # text labels
                levels = tuple(r_sort_levels(values))
            else:  # R's order of the values (numerically if they are all numbers)
                levels = tuple(sorted_levels(values))
    pos = {lv: i for i, lv in enumerate(levels)}
    mapping = np.array([-1 if u is None else pos.get(u, -1) for u in ustr] + [-1], dtype=np.intp)
    return mapping[np.asarray(codes_u, dtype=np.intp)], levels


def _factor_frame(
    snapshot: Mapping[str, pd.Series],
    rows: IntArray,
    codes: dict[str, IntArray],
    levels: Mapping[str, tuple[str, ...]],
) -> pd.DataFrame:
    """Rows ``rows`` of the snapshot columns, with the coded factors as pandas Categoricals."""
    frame = pd.DataFrame({c: s.iloc[rows] for c, s in snapshot.items()})
    if not codes:
        return frame
    return frame.assign(**{v: _as_factor(c, levels[v], frame.index) for v, c in codes.items()})


def _kept_factor(s: pd.Series, keep: NDArray[np.bool_]) -> tuple[IntArray, tuple[str, ...]]:
    """Codes of the kept rows of ``s`` and its levels among them.

    Levels follow R's ``factor()`` on the analysed rows: a categorical column keeps
    all its categories; otherwise only values present in kept rows are levels.
    """
    codes, levels = _factor_codes(s)
    kept = codes[keep]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return kept, levels
    present = np.unique(kept[kept >= 0])
    if present.size == len(levels):
        return kept, levels
    remap = np.full(len(levels) + 1, -1, dtype=np.intp)  # the last slot maps -1 to -1
    remap[present] = np.arange(present.size)
    return remap[kept], tuple(levels[int(i)] for i in present)


def _as_factor(codes: IntArray, levels: tuple[str, ...], index: pd.Index) -> pd.Series:
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=pd.Index(list(levels)), validate=False),
        index=index,
    )


@dataclass(frozen=True)
class _MatrixRecipe:
    """A formulaic model matrix structure, reusable for data with the same levels.

    ``columns[j]`` lists the factors multiplied into column ``j``: ``(var, level)``
    for a level indicator or ``(var, -1)`` for a numeric variable; ``None`` when
    the structure is not a product of plain data columns (formulaic is then used
    every time).
    """

    model_spec: Any
    raw_names: tuple[str, ...]
    term_columns: dict[str, IntArray]
    term_factors: dict[str, tuple[str, ...]]
    columns: tuple[tuple[tuple[str, int], ...], ...] | None


_RECIPES: OrderedDict[tuple[Any, ...], _MatrixRecipe] = OrderedDict()
_MAX_RECIPES = 64


def _materialize(
    columns: tuple[tuple[tuple[str, int], ...], ...],
    codes: dict[str, IntArray],
    numeric: dict[str, Array],
    n: int,
) -> Array:
    x = np.ones((n, len(columns)))
    for j, parts in enumerate(columns):
        for var, lev in parts:
            if lev < 0:
                x[:, j] *= numeric[var]
            else:
                x[:, j] *= codes[var] == lev
    return x


def _recipe_columns(
    names: tuple[str, ...], levels: dict[str, tuple[str, ...]], numeric: list[str]
) -> tuple[tuple[tuple[str, int], ...], ...] | None:
    atoms: dict[str, tuple[str, int]] = {}
    for var in numeric:
        atoms[var] = (var, -1)
    for var, lv in levels.items():
        for i, level in enumerate(lv):
            for key in (f"{var}[T.{level}]", f"{var}[{level}]"):
                if key in atoms:
                    return None
                atoms[key] = (var, i)
    if any(":" in a for a in atoms):
        return None
    out: list[tuple[tuple[str, int], ...]] = []
    for name in names:
        if name == "Intercept":
            out.append(())
            continue
        parts = name.split(":")
        if not all(p in atoms for p in parts):
            return None
        out.append(tuple(atoms[p] for p in parts))
    return tuple(out)


def _model_matrix(
    rhs: str,
    make_frame: Callable[[], pd.DataFrame],
    num: dict[str, Array],
    n: int,
    codes: dict[str, IntArray],
    levels: dict[str, tuple[str, ...]],
) -> tuple[Array, _MatrixRecipe]:
    """The fixed-effects design; formulaic's structure is cached per (formula, levels).

    ``make_frame`` builds the data frame formulaic needs; it is only called when
    the structure is not cached yet (or is not a product of plain columns).
    """
    numeric = list(num)
    key = (rhs, tuple(sorted(levels.items())), tuple(sorted(numeric)))
    recipe = _RECIPES.get(key)
    if recipe is not None and recipe.columns is not None:
        _RECIPES.move_to_end(key)
        return _materialize(recipe.columns, codes, num, n), recipe
    from formulaic import model_matrix

    mm = model_matrix(rhs, make_frame(), na_action="ignore")
    x_full = np.asarray(mm, dtype=np.float64)
    model_spec = mm.model_spec
    term_columns: dict[str, IntArray] = {}
    term_factors: dict[str, tuple[str, ...]] = {}
    for term, sl in model_spec.term_slices.items():
        name = str(term)
        name = "(Intercept)" if name == "1" else name
        term_columns[name] = np.arange(sl.start, sl.stop, dtype=np.intp)
        term_factors[name] = tuple(str(f) for f in term.factors if str(f) != "1")
    raw_names = tuple(str(c) for c in mm.columns)
    columns = _recipe_columns(raw_names, levels, numeric)
    if columns is not None:
        mine = _materialize(columns, codes, num, n)
        if mine.shape != x_full.shape or not np.array_equal(mine, x_full):
            columns = None
    recipe = _MatrixRecipe(model_spec, raw_names, term_columns, term_factors, columns)
    _RECIPES[key] = recipe
    while len(_RECIPES) > _MAX_RECIPES:
        _RECIPES.popitem(last=False)
    return x_full, recipe


def _aliased(x: Array, tol: float = 1e-7) -> NDArray[np.bool_]:
    """Columns in the span of earlier columns (R's ``lm`` rule, unpivoted QR)."""
    if x.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    norms = np.linalg.norm(x, axis=0)
    if np.all(norms > 0) and x.shape[0] > 4 * x.shape[1]:
        # Shortcut: diag(chol(D^-1 X'X D^-1))**2 = (|R_jj| / |x_j|)**2 exactly; when all
        # exceed 1e-6 no column is anywhere near the 1e-7 aliasing threshold.
        gram = x.T @ x
        gram /= np.outer(norms, norms)
        try:
            d = np.diagonal(np.linalg.cholesky(gram))
        except np.linalg.LinAlgError:
            d = np.zeros(1)
        if np.all(d * d > 1e-6):
            return np.zeros(x.shape[1], dtype=bool)
    r = np.linalg.qr(x, mode="r")
    diag = np.abs(np.diag(r))
    out = np.zeros(x.shape[1], dtype=bool)
    out[: diag.size] = diag <= tol * np.maximum(norms[: diag.size], 1e-300)
    out[diag.size :] = True
    out |= norms == 0
    return out


def _visit_codes(s: pd.Series, spec: MMRMSpec) -> tuple[IntArray, tuple[str, ...], str]:
    """Codes of the visit column, its level order and how the order was obtained.

    ``spec.visit_order`` if given (it must list exactly the visit labels in the
    column), else the categories of a pandas Categorical, else natural order of
    the labels (:func:`resolve._levels.natural_sort_levels`: ``week 6 < week 10``;
    numeric labels by value).
    """
    codes, levels = _factor_codes(s)
    if spec.visit_order is not None:
        if isinstance(s.dtype, pd.CategoricalDtype):
            observed: list[str] = [levels[int(i)] for i in np.unique(codes[codes >= 0])]
        else:
            observed = list(levels)
        order, source = factor_levels(
            observed,
            spec.visit_order,
            name=f"visit column {spec.visit!r}",
            unused="error",
        )
    elif isinstance(s.dtype, pd.CategoricalDtype):
        return codes, levels, "categorical"
    else:
        order, source = natural_sort_levels(levels), "natural"
    new = tuple(order)
    if new == levels:
        return codes, levels, source
    pos = {lv: i for i, lv in enumerate(new)}
    remap = np.array([pos.get(lv, -1) for lv in levels] + [-1], dtype=np.intp)
    return remap[codes], new, source


def _check_visits_covered(
    cov: str,
    visits: tuple[str, ...],
    group_levels: tuple[str, ...],
    group_of_subject: IntArray,
    pattern_of_subject: IntArray,
    pattern_slots: list[IntArray],
    group: str | None,
) -> None:
    """Refuse at once a covariance whose parameters the data cannot identify.

    Every structure with a variance per visit needs each visit observed (in each
    group); ``us`` also needs, for every pair of visits, a subject observed at
    both (its covariance is otherwise free: the fit would search a flat
    likelihood until the iteration limit, minutes for many visits).
    """
    m = len(visits)
    n_pat = len(pattern_slots)
    observed = np.zeros((n_pat, m), dtype=np.int64)  # pattern x visit indicators
    for j, slots in enumerate(pattern_slots):
        observed[j, slots] = 1
    for g, level in enumerate(group_levels):
        count = np.bincount(pattern_of_subject[group_of_subject == g], minlength=n_pat)
        together = observed.T @ (count[:, None] * observed)  # subjects seen at both visits
        where = f" in group {group} = {level!r}" if group is not None else ""
        seen = np.diag(together)
        if (seen == 0).any():
            v = visits[int(np.flatnonzero(seen == 0)[0])]
            raise DataValidationError(
                f"cov={cov!r} has a variance for every visit, but no subject{where} has an "
                f"outcome at visit {v!r}: drop that visit or use a homogeneous structure "
                "(e.g. 'ar1', 'toep', 'cs')"
            )
        if cov == "us" and (together == 0).any():
            j, k = (int(i) for i in np.argwhere(together == 0)[0])
            raise DataValidationError(
                f"cov='us' needs, for every pair of visits, a subject observed at both; no "
                f"subject{where} has outcomes at both {visits[min(j, k)]!r} and "
                f"{visits[max(j, k)]!r}, so their covariance cannot be estimated: use a "
                "structured covariance (e.g. 'toeph', 'adh' or 'ar1h') or combine visits"
            )


def _coordinates_of_visits(coords: Array, visit_code: IntArray, n_visits: int) -> Array | None:
    """Each visit's coordinates if all its rows share them (to 12 decimals), else None.

    When coordinates are a function of the visit (e.g. the visit's planned day),
    a spatial model can lay subjects out by visit like every other structure: one
    distance matrix per group instead of one per distinct set of coordinates,
    with the same covariance for every subject and hence the same likelihood.
    """
    rounded = np.round(coords, 12)
    order = np.argsort(visit_code, kind="stable")
    starts = np.searchsorted(visit_code[order], np.arange(n_visits))
    present = np.bincount(visit_code, minlength=n_visits) > 0
    if not present.all():
        return None
    first = order[starts]
    if not np.array_equal(rounded, rounded[first[visit_code]]):
        return None
    return np.asarray(coords[first], dtype=np.float64)


def build_design(spec: MMRMSpec, data: pd.DataFrame) -> ModelData:
    """Validate ``data`` against ``spec`` and build a :class:`ModelData`."""
    outcome, rhs_vars = _parse_formula(spec.formula)
    extra = [c for c in (spec.group, spec.weights) if c is not None] + list(spec.coordinates)
    require_columns(data, [outcome, *rhs_vars, spec.subject, spec.visit, *extra])
    if spec.cov in ("sp_exp", "sp_pow", "sp_gau") and not spec.coordinates:
        raise DataValidationError(f"cov={spec.cov!r} needs coordinates=<numeric column name(s)>")
    for c in spec.coordinates:
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise DataValidationError(f"coordinate column {c!r} must be numeric")
    if not pd.api.types.is_numeric_dtype(data[outcome]) or pd.api.types.is_bool_dtype(
        data[outcome]
    ):
        bad = pd.to_numeric(data[outcome], errors="coerce").isna() & data[outcome].notna()
        raise DataValidationError(
            f"outcome column {outcome!r} must be numeric; "
            f"non-numeric values: {show_values(data.loc[bad, outcome].unique())}"
        )
    for key in (spec.subject, spec.visit):
        if data[key].isna().any():
            raise DataValidationError(
                f"column {key!r} has {int(data[key].isna().sum())} missing values"
            )
    visit_all, visits, visit_source = _visit_codes(data[spec.visit], spec)
    subj_all, subjects_all = _factor_codes(data[spec.subject])
    pair = subj_all.astype(np.int64) * len(visits) + visit_all
    if np.unique(pair).size < pair.size:
        require_unique(data, [spec.subject, spec.visit])  # raises, naming a duplicate
    used = [outcome, *rhs_vars, *extra]
    # Copies of the model's columns: later changes to ``data`` never reach the fit.
    snapshot = {c: data[c].copy() for c in dict.fromkeys([spec.subject, spec.visit, *used])}
    keep = np.logical_and.reduce([snapshot[c].notna().to_numpy() for c in used])
    if spec.weights is not None:
        w = pd.to_numeric(data[spec.weights], errors="coerce")
        if ((w <= 0) & keep).any() or not pd.api.types.is_numeric_dtype(data[spec.weights]):
            raise DataValidationError(f"weights column {spec.weights!r} must be positive numbers")
    kept_rows = np.flatnonzero(keep)
    if kept_rows.size == 0:
        raise DataValidationError(f"no rows with a non-missing outcome {outcome!r} and covariates")
    visit_code = visit_all[keep]
    counts = np.bincount(visit_code, minlength=len(visits))
    empty_visits = [v for v, c in zip(visits, counts, strict=True) if c == 0]
    if empty_visits:
        raise DataValidationError(
            f"visit column {spec.visit!r} has level(s) with no non-missing outcome: "
            f"{show_values(empty_visits)}; drop them or fill them"
        )

    levels: dict[str, tuple[str, ...]] = {spec.visit: visits}
    codes: dict[str, IntArray] = {}
    numeric: list[str] = []
    for v in rhs_vars:
        if _is_categorical(snapshot[v]):
            if v == spec.visit:
                codes[v] = visit_code
            else:
                codes[v], levels[v] = _kept_factor(snapshot[v], keep)
        else:
            numeric.append(v)
    present, subj_code = np.unique(subj_all[keep], return_inverse=True)
    subj_code = np.asarray(subj_code, dtype=np.intp).reshape(-1)
    subjects = tuple(subjects_all[int(i)] for i in present)
    order = np.lexsort((visit_code, subj_code))
    subj_code = subj_code[order]
    visit_code = visit_code[order]
    rows = kept_rows[order]
    codes = {v: c[order] for v, c in codes.items()}

    def column(name: str) -> Array:
        return snapshot[name].to_numpy(dtype=np.float64)[rows]

    def formula_frame() -> pd.DataFrame:
        return _factor_frame(snapshot, rows, codes, levels)

    group_levels: tuple[str, ...] = ("all",)
    group_of_subject = np.zeros(len(subjects), dtype=np.intp)
    if spec.group is not None:
        gcode, group_levels = _kept_factor(snapshot[spec.group], keep)
        gcode = gcode[order]
        if len(group_levels) > MAX_GROUPS:
            raise DataValidationError(
                f"group column {spec.group!r} has {len(group_levels)} levels; at most "
                f"{MAX_GROUPS} separate covariance matrices are supported"
            )
        levels[spec.group] = group_levels
        per_subject = pd.Series(gcode).groupby(subj_code).nunique()
        if (per_subject > 1).any():
            bad_subjects = [subjects[int(i)] for i in per_subject.index[per_subject > 1]]
            raise DataValidationError(
                f"group column {spec.group!r} must be constant within subject; "
                f"it varies for {show_values(bad_subjects)}"
            )
        group_of_subject[subj_code] = gcode
    spec = replace(spec, levels=levels)

    try:
        x_full, recipe = _model_matrix(
            spec.formula.split("~", 1)[1],
            formula_frame,
            {v: column(v) for v in numeric},
            len(rows),
            codes,
            {v: levels[v] for v in codes},
        )
    except Exception as exc:
        raise DataValidationError(
            f"formula {spec.formula!r} cannot be evaluated: {' '.join(str(exc).split())}"
        ) from exc
    model_spec = recipe.model_spec
    coef_names = tuple(r_name(c) for c in recipe.raw_names)
    term_columns = recipe.term_columns
    term_factors = recipe.term_factors
    kept = ~_aliased(x_full)
    x = x_full[:, kept]
    y = column(outcome)

    # Slots: the visit index; for spatial structures whose coordinates differ
    # between subjects at the same visit, the position within subject.
    structure = get_structure(spec.cov)
    n_subj = len(subjects)
    coords = np.column_stack([column(c) for c in spec.coordinates]) if structure.spatial else None
    visit_coords = (
        None if coords is None else _coordinates_of_visits(coords, visit_code, len(visits))
    )
    if coords is not None and visit_coords is None:
        slot = np.asarray(
            pd.Series(subj_code).groupby(subj_code).cumcount().to_numpy(), dtype=np.intp
        )
        m = int(slot.max()) + 1
    else:
        slot = visit_code
        m = len(visits)

    weight_arr = None
    log_weight_sum = 0.0
    if spec.weights is not None:
        weight_arr = column(spec.weights)
        log_weight_sum = float(np.log(weight_arr).sum())
    scale = np.sqrt(weight_arr) if weight_arr is not None else np.ones_like(y)
    xf = np.zeros((n_subj, m, x.shape[1]))
    yf = np.zeros((n_subj, m))
    xf[subj_code, slot] = x * scale[:, None]
    yf[subj_code, slot] = y * scale

    # Patterns: identical (group, slots[, coordinates]) share one covariance block.
    if visit_coords is not None:
        coords = None  # slots are visits: one geometry per group, patterns as usual
    keys: dict[tuple[Any, ...], int] = {}
    pattern_of_subject = np.empty(n_subj, dtype=np.intp)
    pattern_slots: list[IntArray] = []
    unit_keys: dict[tuple[Any, ...], int] = {}
    unit_of_pattern: list[int] = []
    unit_group: list[int] = []
    geometry: list[Array] = []
    bounds = np.searchsorted(subj_code, np.arange(n_subj + 1))
    if coords is None:
        # Vectorised: one row (slot indicators, group) per subject; patterns numbered
        # in order of first appearance, as the loop below does for spatial data.
        key_mat = np.zeros((n_subj, m + 1), dtype=np.int64)
        key_mat[subj_code, slot] = 1
        key_mat[:, m] = group_of_subject
        if m + len(group_levels).bit_length() < 62:
            # one integer per subject (slot bits, group above them): a 1-d unique
            packed = np.zeros(n_subj, dtype=np.int64)
            np.bitwise_or.at(packed, subj_code, np.left_shift(np.int64(1), slot.astype(np.int64)))
            packed |= group_of_subject.astype(np.int64) << m
            _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
            uniq = key_mat[first]
        else:
            uniq, first, inverse = np.unique(
                key_mat, axis=0, return_index=True, return_inverse=True
            )
        rank = np.empty(first.size, dtype=np.intp)
        rank[np.argsort(first, kind="stable")] = np.arange(first.size)
        pattern_of_subject = rank[np.asarray(inverse, dtype=np.intp).reshape(-1)]
        for j in np.argsort(first, kind="stable"):
            pattern_slots.append(np.flatnonzero(uniq[j, :m]).astype(np.intp))
            keys[(int(uniq[j, m]), tuple(pattern_slots[-1].tolist()), ())] = len(keys)
    for i in range(n_subj if coords is not None else 0):
        span = slice(bounds[i], bounds[i + 1])
        s = tuple(int(v) for v in slot[span])
        g = int(group_of_subject[i])
        ckey: tuple[Any, ...] = ()
        if coords is not None:
            ckey = tuple(np.round(coords[span], 12).ravel().tolist())
        pkey = (g, s, ckey)
        if pkey not in keys:
            keys[pkey] = len(pattern_slots)
            pattern_slots.append(np.asarray(s, dtype=np.intp))
            ukey = (g, ckey) if coords is not None else (g,)
            if ukey not in unit_keys:
                unit_keys[ukey] = len(unit_group)
                unit_group.append(g)
                if coords is not None:
                    crd = coords[span]
                    dist = np.zeros((m, m))
                    k = crd.shape[0]
                    dist[:k, :k] = np.sqrt(((crd[:, None, :] - crd[None, :, :]) ** 2).sum(-1))
                    geometry.append(dist)
            unit_of_pattern.append(unit_keys[ukey])
        pattern_of_subject[i] = keys[pkey]
    if visit_coords is not None:
        n_units = len(group_levels)
        unit_group_arr = np.arange(n_units, dtype=np.intp)
        unit_of_pattern = [k[0] for k in keys]
        dist = np.sqrt(((visit_coords[:, None, :] - visit_coords[None, :, :]) ** 2).sum(-1))
        geometry = [dist] * n_units
    elif structure.spatial:
        n_units = len(unit_group)
        unit_group_arr = np.asarray(unit_group, dtype=np.intp)
    else:
        n_units = len(group_levels)
        unit_group_arr = np.arange(n_units, dtype=np.intp)
        unit_of_pattern = [k[0] for k in keys]
    del n_units
    if structure.name in ("us", "csh", "toeph", "adh", "ar1h"):
        _check_visits_covered(structure.name, visits, group_levels, group_of_subject,
                              pattern_of_subject, pattern_slots, spec.group)  # fmt: skip
    cov_model = CovarianceModel(
        structure=structure,
        m=m,
        n_groups=len(group_levels),
        unit_group=unit_group_arr,
        geometry=np.stack(geometry) if geometry else None,
    )
    return ModelData(
        spec=spec,
        outcome=outcome,
        coef_names=coef_names,
        raw_names=recipe.raw_names,
        kept=kept,
        term_columns=term_columns,
        term_factors=term_factors,
        model_spec=model_spec,
        snapshot=snapshot,
        rows=rows,
        factor_codes=codes,
        x=x,
        y=y,
        subject_of_obs=subj_code,
        slot_of_obs=slot,
        subjects=subjects,
        visits=visits,
        visit_source=visit_source,
        group_levels=group_levels,
        group_of_subject=group_of_subject,
        xf=xf,
        yf=yf,
        pattern_of_subject=pattern_of_subject,
        pattern_slots=tuple(pattern_slots),
        unit_of_pattern=np.asarray(unit_of_pattern, dtype=np.intp),
        cov_model=cov_model,
        log_weight_sum=log_weight_sum,
        n_subjects_input=len(subjects_all),
        slots_are_visits=not structure.spatial or visit_coords is not None,
    )
