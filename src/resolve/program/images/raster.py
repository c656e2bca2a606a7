"""Vectorised triangle rasterisation into the renderer's z-buffer (the trunk mesh).

All front-facing triangles are handled at once: every (triangle, sample) pair
inside a triangle's bounding box is generated with ``numpy.repeat``, tested
with edge functions, and resolved against the z-buffer with
``numpy.minimum.at``. Depth and normals are interpolated perspective-correctly.
Screen coordinates are centred on the image's middle, so that mirroring the
mesh mirrors every edge function exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from resolve.program.images._vec import cross, dot

__all__ = ["draw_mesh", "mesh_bounds"]

Vec = NDArray[np.float64]


def mesh_bounds(vertices: Vec) -> tuple[float, float, float, float]:
    """Bounds of ``x/z`` and ``y/z`` over camera-space vertices."""
    u = vertices[:, 0] / vertices[:, 2]
    v = vertices[:, 1] / vertices[:, 2]
    return float(u.min()), float(u.max()), float(v.min()), float(v.max())


def draw_mesh(
    vertices: Vec,
    normals: Vec,
    faces: NDArray[np.int32],
    face_index: NDArray[np.int16],
    *,
    focal: float,
    origin: tuple[float, float],
    depth: Vec,
    normal_buf: NDArray[np.float32],
    index_buf: NDArray[np.int16],
) -> None:
    """Rasterise a mesh (camera space) into the buffers, nearest surface wins.

    Parameters
    ----------
    vertices, normals : (V, 3) arrays
        Camera-space positions (all in front of the camera) and unit normals.
    faces : (F, 3) int array
    face_index : (F,) int array
        Palette index of each face.
    focal : float
        Samples per unit of ``x/z``.
    origin : (row, column)
        Centred sample coordinates of the buffers' first sample: the sample
        ``(i, j)`` of the buffers looks along ``x/z = (origin[1] + j) / focal``
        and ``y/z = -(origin[0] + i) / focal``.
    depth, normal_buf, index_buf : arrays
        The buffers (updated in place).

    Examples
    --------
    >>> verts = np.array([[-1.0, -1.0, 5.0], [1.0, -1.0, 5.0], [0.0, 1.0, 5.0]])
    >>> norms = np.tile([0.0, 0.0, -1.0], (3, 1))
    >>> z = np.full((8, 8), np.inf)
    >>> draw_mesh(verts, norms, np.array([[0, 1, 2]], dtype=np.int32),
    ...           np.array([1], dtype=np.int16), focal=10.0, origin=(-3.5, -3.5), depth=z,
    ...           normal_buf=np.zeros((8, 8, 3), np.float32),
    ...           index_buf=np.zeros((8, 8), np.int16))
    >>> np.isfinite(z)[2:7, 1:7].astype(int)  # the covered samples, apex up
    array([[0, 0, 0, 0, 0, 0],
           [0, 0, 1, 1, 0, 0],
           [0, 0, 1, 1, 0, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 0, 0, 0, 0, 0]])
    >>> float(z[4, 4])
    5.0
    """
    h, w = depth.shape
    z = vertices[:, 2]
    sx = focal * vertices[:, 0] / z  # centred sample coordinates
    sy = -focal * vertices[:, 1] / z
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    # back faces: geometric normal against the outward vertex normals, seen from the origin
    e1 = vertices[b] - vertices[a]
    e2 = vertices[c] - vertices[a]
    geo = cross(e1, e2)
    outward = dot(geo, normals[a] + normals[b] + normals[c])
    towards = dot(geo, vertices[a])
    keep = (outward * towards) < 0.0
    a, b, c, face_index = a[keep], b[keep], c[keep], face_index[keep]
    xa, xb, xc, ya, yb, yc = sx[a], sx[b], sx[c], sy[a], sy[b], sy[c]
    area = (xb - xa) * (yc - ya) - (yb - ya) * (xc - xa)
    ok = area != 0.0
    a, b, c, face_index = a[ok], b[ok], c[ok], face_index[ok]
    xa, xb, xc, ya, yb, yc, area = xa[ok], xb[ok], xc[ok], ya[ok], yb[ok], yc[ok], area[ok]
    # barycentric planes: l0 = A0 * x + B0 * y + C0 (and l1 alike; l2 = 1 - l0 - l1)
    a0, b0 = -(yc - yb) / area, (xc - xb) / area
    c0 = (xb * yc - xc * yb) / area
    a1, b1 = -(ya - yc) / area, (xa - xc) / area
    c1 = (xc * ya - xa * yc) / area
    # rows of samples each triangle covers (sample row i sits at y = origin[0] + i)
    ymin = np.minimum(np.minimum(ya, yb), yc)
    ymax = np.maximum(np.maximum(ya, yb), yc)
    i0 = np.clip(np.ceil(ymin - origin[0]), 0, h).astype(np.int64)
    i1 = np.clip(np.floor(ymax - origin[0]) + 1, 0, h).astype(np.int64)
    nrows = np.maximum(i1 - i0, 0)
    if int(nrows.sum()) == 0:
        return
    tri_r = np.repeat(np.arange(len(nrows)), nrows)
    row = i0[tri_r] + (np.arange(len(tri_r)) - np.repeat(np.cumsum(nrows) - nrows, nrows))
    y = origin[0] + row.astype(np.float64)
    # the x-span of each (triangle, row): where the row crosses the triangle's edges
    lo = np.full(len(tri_r), np.inf)
    hi = np.full(len(tri_r), -np.inf)
    for (x_p, y_p), (x_q, y_q) in (
        ((xa, ya), (xb, yb)),
        ((xb, yb), (xc, yc)),
        ((xc, yc), (xa, ya)),
    ):
        xp, yp, xq, yq = x_p[tri_r], y_p[tri_r], x_q[tri_r], y_q[tri_r]
        crosses = (np.minimum(yp, yq) <= y) & (y <= np.maximum(yp, yq))
        with np.errstate(invalid="ignore", divide="ignore"):
            x = np.where(yq != yp, xp + (y - yp) * (xq - xp) / (yq - yp), np.minimum(xp, xq))
            x2 = np.where(yq != yp, x, np.maximum(xp, xq))
        lo = np.where(crosses, np.minimum(lo, x), lo)
        hi = np.where(crosses, np.maximum(hi, x2), hi)
    ok_r = np.isfinite(lo)
    # one sample of margin each side: the edge functions below decide
    j0 = np.clip(np.floor(np.where(ok_r, lo, 0.0) - origin[1]), 0, w).astype(np.int64)
    j1 = np.clip(np.ceil(np.where(ok_r, hi, -1.0) - origin[1]) + 1, 0, w).astype(np.int64)
    span = np.where(ok_r, np.maximum(j1 - j0, 0), 0)
    total = int(span.sum())
    if total == 0:
        return
    r = np.repeat(np.arange(len(span)), span)
    jj = j0[r] + (np.arange(total) - np.repeat(np.cumsum(span) - span, span))
    tri = tri_r[r]
    px = origin[1] + jj.astype(np.float64)
    l0 = a0[tri] * px + (b0[tri_r] * y + c0[tri_r])[r]
    l1 = a1[tri] * px + (b1[tri_r] * y + c1[tri_r])[r]
    l2 = 1.0 - l0 - l1
    eps = -1e-9
    inside = (l0 >= eps) & (l1 >= eps) & (l2 >= eps)
    tri, jj, l0, l1, l2 = tri[inside], jj[inside], l0[inside], l1[inside], l2[inside]
    ii = row[r[inside]]
    fa, fb, fc = a[tri], b[tri], c[tri]
    w0, w1, w2 = l0 / z[fa], l1 / z[fb], l2 / z[fc]
    inv = w0 + w1 + w2
    frag_depth = 1.0 / inv
    flat = ii * w + jj
    depth_flat = depth.reshape(-1)
    np.minimum.at(depth_flat, flat, frag_depth)
    win = depth_flat[flat] == frag_depth
    flat, w0, w1, w2, tri = flat[win], w0[win], w1[win], w2[win], tri[win]
    # perspective-correct normal interpolation; neighbouring vertex normals differ by a few
    # degrees, so the interpolated normal's length is within 0.5 % of 1 and is left as is
    scale = (1.0 / inv[win]).astype(np.float32)
    nf = normals.astype(np.float32)
    n = nf[a[tri]] * (w0.astype(np.float32) * scale)[:, None]
    n += nf[b[tri]] * (w1.astype(np.float32) * scale)[:, None]
    n += nf[c[tri]] * (w2.astype(np.float32) * scale)[:, None]
    normal_buf.reshape(-1, 3)[flat] = n
    index_buf.reshape(-1)[flat] = face_index[tri]
