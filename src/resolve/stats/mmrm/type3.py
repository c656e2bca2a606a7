"""Type III hypotheses as SAS PROC MIXED builds them.

A term's Type III hypothesis is "its coefficients are zero" in the
parametrisation that codes every categorical variable with sum-to-zero
contrasts.  Both codings span the same column space, so ``X_sum = X M`` and the
hypothesis rows in our (treatment-coded) parametrisation are the term's rows
of ``M^-1``.  The same construction is used by R mmrm's ``car::Anova`` method.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from resolve.stats.mmrm.design import ModelData

__all__ = ["type3_contrasts"]

Array = NDArray[np.float64]


def _factor_columns(
    frame: pd.DataFrame, name: str, levels: tuple[str, ...] | None, full: bool
) -> Array:
    if levels is None:
        return frame[name].to_numpy(dtype=np.float64)[:, None]
    codes = pd.Categorical(frame[name].astype(str), categories=list(levels)).codes
    k = len(levels)
    if full:  # indicator coding, as formulaic uses when the margin is absent
        return np.asarray(codes[:, None] == np.arange(k)[None, :], dtype=np.float64)
    out = np.zeros((len(frame), k - 1))
    for j in range(k - 1):
        out[:, j] = (codes == j).astype(float) - (codes == k - 1).astype(float)
    return out


def type3_contrasts(data: ModelData) -> dict[str, Array]:
    """Contrast matrices (rows over the estimable coefficients) per model term.

    Terms whose factors are not plain data columns (e.g. ``log(x)``) fall back
    to testing the term's own coefficients.
    """
    frame, levels = data.frame, data.spec.levels
    n = len(frame)
    p_full = len(data.coef_names)
    kept_idx = np.flatnonzero(data.kept)
    blocks: list[Array] = []
    simple = True
    for name, cols in data.term_columns.items():
        factors = data.term_factors[name]
        if name == "(Intercept)" or not factors:
            block = np.ones((n, 1))
        else:
            if not all(f in frame.columns for f in factors):
                simple = False
                break
            block = np.ones((n, 1))
            raw = [data.raw_names[c] for c in cols]
            for f in factors:
                full = any(f"{f}[" in r and f"{f}[T." not in r for r in raw)
                fc = _factor_columns(frame, f, levels.get(f), full)
                block = (block[:, :, None] * fc[:, None, :]).reshape(n, -1)
        if block.shape[1] != cols.size:
            simple = False
            break
        blocks.append(block)
    out: dict[str, Array] = {}
    if simple:
        x_sum = np.concatenate(blocks, axis=1)
        m, *_ = np.linalg.lstsq(data.x, x_sum, rcond=None)
        resid = np.abs(data.x @ m - x_sum).max() if x_sum.size else 0.0
        if resid < 1e-8 * max(1.0, float(np.abs(x_sum).max())):
            m_inv = np.linalg.pinv(m)
            for name, cols in data.term_columns.items():
                if name == "(Intercept)":
                    continue
                out[name] = m_inv[cols]
            return out
    for name, cols in data.term_columns.items():
        if name == "(Intercept)":
            continue
        rows = np.zeros((cols.size, p_full))
        rows[np.arange(cols.size), cols] = 1.0
        out[name] = rows[:, kept_idx]
    return out
