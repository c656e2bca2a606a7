"""Small-vector arithmetic written out component by component.

``numpy.matmul`` and ``numpy.einsum`` may take different code paths (blocked
BLAS kernels, fused multiply-adds on some rows only) for different elements of
one array. Written out, every element of the result is computed with the same
operations in the same order, so a point and its mirror image (which sit at
different places in the arrays: pixel columns, ring vertices) get exactly
mirrored results. These helpers are also faster than ``numpy.cross`` on small
arrays.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["cross", "dot", "transform"]

F = TypeVar("F", bound=np.floating[Any])


def cross(a: NDArray[F], b: NDArray[F]) -> NDArray[F]:
    """Cross product over the last axis.

    Examples
    --------
    >>> cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)


def dot(a: NDArray[F], b: NDArray[F]) -> NDArray[F]:
    """Dot product over the last axis (length 3).

    Examples
    --------
    >>> float(dot(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])))
    32.0
    """
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def transform(points: NDArray[F], matrix: NDArray[F]) -> NDArray[F]:
    """``matrix @ p`` for every point ``p`` on the last axis of ``points``.

    ``matrix`` is ``(3, 3)``, or ``(..., 3, 3)`` broadcasting against the
    leading axes of ``points`` (one matrix per group of points).

    Examples
    --------
    >>> rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    >>> transform(np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), rot)
    array([[ 0.,  1.,  0.],
           [-2.,  0.,  0.]])
    """
    p0, p1, p2 = points[..., 0], points[..., 1], points[..., 2]
    m = matrix
    return np.stack(
        [p0 * m[..., i, 0] + p1 * m[..., i, 1] + p2 * m[..., i, 2] for i in range(3)], axis=-1
    )
