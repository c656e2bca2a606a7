"""Per-pattern algebra shared by the Kenward-Roger and empirical (sandwich) modules.

Subjects sit on the padded ``(subjects, m slots)`` grid of
:class:`~resolve.stats.mmrm.design.ModelData`; subjects with the same visit
pattern (and, for spatial structures, the same coordinates) share one
covariance block.  The inverse of a pattern's observed block is embedded into an
``m x m`` matrix with zeros at unobserved slots, so that sums over subjects
become sums over patterns of small matrix products.  The design ``xf`` and
outcome ``yf`` on the grid are already multiplied by ``sqrt(weight)``, so the
algebra below is the unweighted one on those scaled arrays (SAS ``WEIGHT``:
``V_i = W_i^-1/2 Sigma W_i^-1/2``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from resolve.stats.mmrm.design import ModelData

__all__ = ["embedded_inverses", "pattern_grams"]

Array = NDArray[np.float64]


def embedded_inverses(data: ModelData, s: Array) -> Array:
    """Inverse of each pattern's observed covariance block, embedded in ``m x m``.

    Parameters
    ----------
    data : ModelData
        The design.
    s : ndarray, shape (U, m, m)
        Covariance blocks per covariance unit (``CovarianceModel.evaluate``).

    Returns
    -------
    ndarray, shape (n_patterns, m, m)
        Zero rows and columns at slots the pattern does not observe.
    """
    m = data.cov_model.m
    out = np.zeros((len(data.pattern_slots), m, m))
    for j, slots in enumerate(data.pattern_slots):
        block = s[data.unit_of_pattern[j]][np.ix_(slots, slots)]
        out[j][np.ix_(slots, slots)] = np.linalg.inv(block)
    return out


def pattern_grams(data: ModelData) -> list[Array]:
    """``sum_i x_ia x_ib'`` over the subjects of each pattern, as ``(m*m, p*p)`` matrices.

    Entry ``[(a, b), (p, q)]`` is ``sum_i xf[i, a, p] * xf[i, b, q]`` so that
    ``sum_i xf_i' A xf_i = (A.ravel() @ G).reshape(p, p)`` for any ``m x m``
    matrix ``A`` shared by the pattern's subjects.
    """
    m = data.cov_model.m
    p = data.xf.shape[2]
    out = []
    for j in range(len(data.pattern_slots)):
        xs = data.xf[data.pattern_of_subject == j].reshape(-1, m * p)
        g = (xs.T @ xs).reshape(m, p, m, p).transpose(0, 2, 1, 3).reshape(m * m, p * p)
        out.append(np.asarray(g, dtype=np.float64))
    return out
