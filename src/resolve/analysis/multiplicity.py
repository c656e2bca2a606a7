"""Multiplicity-adjusted P values: Holm (family-wise error) and Benjamini-Hochberg (FDR).

Both follow R's ``p.adjust``: missing P values (NaN) are left out of the family
and stay NaN; the adjusted values are capped at 1 and monotone in the raw P.

For ``m`` P values sorted ascending, ``p(1) ≤ … ≤ p(m)``:

- Holm: ``p̃(i) = max_{j ≤ i} min(1, (m − j + 1) p(j))``;
- Benjamini-Hochberg: ``p̃(i) = min_{j ≥ i} min(1, m p(j) / j)``.

Examples
--------
>>> adjust_p([0.01, 0.04, 0.03, 0.20], "holm").round(4).tolist()
[0.04, 0.09, 0.09, 0.2]
>>> adjust_p([0.01, 0.04, 0.03, 0.20], "bh").round(4).tolist()
[0.04, 0.0533, 0.0533, 0.2]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from resolve._validation import OneOf

__all__ = ["adjust_p"]

_METHOD = OneOf("method", ("holm", "bh"))


def adjust_p(p: Sequence[float] | npt.NDArray[np.float64], method: str) -> npt.NDArray[np.float64]:
    """Adjust P values for multiplicity.

    Parameters
    ----------
    p : sequence of float
        Raw P values in [0, 1]; NaN marks a test that was not done.
    method : {"holm", "bh"}
        Holm's step-down (strong control of the family-wise error rate) or
        Benjamini-Hochberg's step-up (false discovery rate, independent or
        positively dependent tests).

    Returns
    -------
    numpy.ndarray
        Adjusted P values in the input order (NaN where the input is NaN).
        Matches R ``p.adjust(p, "holm")`` / ``p.adjust(p, "BH")``.
    """
    _METHOD(method)
    arr = np.asarray(p, dtype=float)
    out = np.full(arr.shape, np.nan)
    ok = ~np.isnan(arr)
    q = arr[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="mergesort")
    ranked = q[order]
    i = np.arange(1, m + 1)
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m - i + 1) * ranked))
    else:
        adj = np.minimum.accumulate(np.minimum(1.0, m * ranked / i)[::-1])[::-1]
    back = np.empty(m)
    back[order] = adj
    out[ok] = back
    return out
