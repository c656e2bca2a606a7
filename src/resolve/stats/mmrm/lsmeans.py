"""Least-squares means (SAS LSMEANS, R emmeans) and their differences.

The reference grid crosses the levels of every categorical variable in the
model; numeric covariates sit at their mean over the observations used in the
fit.  Grid rows are averaged over the factors not in ``specs``/``by`` with
``"equal"`` weights (SAS default, emmeans default) or ``"proportional"`` weights
(frequencies of those factors' level combinations in the data used; SAS
``OM``, emmeans ``weights = "proportional"``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from resolve._validation import OneOf
from resolve.errors import DataValidationError
from resolve.stats.mmrm.design import ModelData

__all__ = ["lsmeans_matrices"]

Array = NDArray[np.float64]


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def lsmeans_matrices(
    data: ModelData,
    specs: str | Sequence[str],
    by: str | Sequence[str] | None = None,
    weights: str = "equal",
) -> tuple[pd.DataFrame, Array, pd.DataFrame, Array]:
    """Return the LS-means cells and their ``L`` rows, and the pairwise differences.

    Differences compare every pair of ``specs`` cells within each ``by`` cell as
    ``later - earlier`` in level order (for a treatment factor whose first level
    is the reference this is treatment minus reference).
    """
    OneOf("weights", ("equal", "proportional"))(weights)
    spec_vars, by_vars = _as_list(specs), _as_list(by)
    levels = data.spec.levels
    cat_vars = [v for f in data.term_factors.values() for v in f if v in levels]
    cat_vars = list(dict.fromkeys(cat_vars))
    for v in spec_vars + by_vars:
        if v not in cat_vars:
            raise DataValidationError(
                f"lsmeans variable {v!r} is not a categorical variable of the model; "
                f"available: {', '.join(cat_vars) or 'none'}"
            )
    frame = data.frame
    needed = (
        sorted(data.model_spec.required_variables)
        if hasattr(data.model_spec, "required_variables")
        else []
    )
    numeric = {
        v: float(pd.to_numeric(frame[v]).mean())
        for v in needed
        if v not in levels and v in frame.columns
    }
    cells_vars = by_vars + spec_vars
    other = [v for v in cat_vars if v not in cells_vars]
    grid = pd.DataFrame(
        list(itertools.product(*[levels[v] for v in cells_vars + other])),
        columns=cells_vars + other,
    )
    for v in cells_vars + other:
        grid[v] = pd.Categorical(grid[v], categories=list(levels[v]))
    for v, val in numeric.items():
        grid[v] = val
    xg = np.asarray(data.model_spec.get_model_matrix(grid), dtype=np.float64)
    if other and weights == "proportional":
        freq = frame[other].astype(str).value_counts()
        keys = [tuple(str(x) for x in row) for row in grid[other].itertuples(index=False)]
        w = np.array([float(freq.get(k if len(k) > 1 else k[0], 0.0)) for k in keys])
    else:
        w = np.ones(len(grid))
    cell_keys = list(itertools.product(*[levels[v] for v in cells_vars]))
    rows = []
    lmat = np.zeros((len(cell_keys), xg.shape[1]))
    labels = [tuple(str(x) for x in r) for r in grid[cells_vars].itertuples(index=False)]
    index: dict[tuple[str, ...], list[int]] = {}
    for i, lab in enumerate(labels):
        index.setdefault(lab, []).append(i)
    for j, key in enumerate(cell_keys):
        ids = index[tuple(key)]
        ww = w[ids]
        if ww.sum() <= 0:
            ww = np.ones_like(ww)
        lmat[j] = (ww[:, None] * xg[ids]).sum(0) / ww.sum()
        rows.append(dict(zip(cells_vars, key, strict=True)))
    cells = pd.DataFrame(rows, columns=cells_vars)

    diff_rows = []
    dmat = []
    by_keys = list(itertools.product(*[levels[v] for v in by_vars])) if by_vars else [()]
    for bkey in by_keys:
        members = [j for j, key in enumerate(cell_keys) if tuple(key[: len(by_vars)]) == bkey]
        for a, b in itertools.combinations(members, 2):
            la = " ".join(cell_keys[a][len(by_vars) :])
            lb = " ".join(cell_keys[b][len(by_vars) :])
            diff_rows.append({**dict(zip(by_vars, bkey, strict=True)), "contrast": f"{lb} - {la}"})
            dmat.append(lmat[b] - lmat[a])
    diffs = pd.DataFrame(diff_rows, columns=[*by_vars, "contrast"])
    dm = np.array(dmat) if dmat else np.zeros((0, xg.shape[1]))
    return cells, lmat, diffs, dm
