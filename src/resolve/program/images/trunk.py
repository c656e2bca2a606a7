"""The trunk: a continuous spine and a smooth lofted surface (a triangle mesh) around it.

The spine runs up from the lumbar base (``y = 1.02 * height``). The trunk's
rotation and side-bend accumulate along it piecewise linearly through the
lumbar, lower thoracic and upper thoracic regions in the shares given by
:data:`ROTATION_SHARE` and :data:`BEND_SHARE`, so the trunk twists and curves
smoothly; below the lumbar base (pelvis, hips) nothing moves. The surface is a
stack of elliptical rings (the cross-sections of :data:`PROFILE`), each carried
rigidly by the spine at its height, closed by a cap at each end.

Mirror exactness: ring angles are mirror-symmetric in floating point, quads on
the left and right halves are split along mirrored diagonals, and normals are
oriented outward by a sign test, so the mesh of a right pose is exactly the
mirror image of the mesh of the left pose.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from resolve.program.images._vec import cross, dot, transform
from resolve.program.images.catalog import MATERIALS, Body, Material

__all__ = [
    "BEND_SHARE",
    "FLEXION_SHARE",
    "PROFILE",
    "ROTATION_SHARE",
    "Mesh",
    "spine",
    "trunk_mesh",
]

Vec = NDArray[np.float64]

#: Share of the axial rotation taken by the lumbar, lower and upper thoracic regions.
ROTATION_SHARE = (0.15, 0.40, 0.45)
#: Share of the side-bend taken by the same regions.
BEND_SHARE = (0.40, 0.35, 0.25)
#: Share of the (small, jittered) forward flexion.
FLEXION_SHARE = (0.45, 0.35, 0.20)
#: Heights of the region boundaries above the lumbar base, as fractions of body height.
_REGION_TOPS = (0.15, 0.28, 0.42)
SPINE_BASE = 1.02

#: Trunk cross-sections: height, half-width, half-depth, forward offset (x body factors).
PROFILE: tuple[tuple[float, float, float, float], ...] = (
    (0.845, 0.135, 0.092, 0.000),
    (0.885, 0.160, 0.104, -0.004),
    (0.935, 0.171, 0.111, -0.006),
    (0.985, 0.166, 0.106, -0.004),
    (1.035, 0.153, 0.099, 0.000),
    (1.090, 0.144, 0.096, 0.004),
    (1.150, 0.145, 0.098, 0.008),
    (1.215, 0.150, 0.103, 0.011),
    (1.280, 0.156, 0.109, 0.013),
    (1.345, 0.160, 0.114, 0.015),
    (1.405, 0.161, 0.112, 0.013),
    (1.455, 0.156, 0.103, 0.008),
    (1.495, 0.143, 0.090, 0.002),
    (1.525, 0.118, 0.076, 0.000),
    (1.550, 0.088, 0.060, 0.000),
)
#: Height below which the trunk wears the shorts, above which the top.
HEM = 1.01
#: Vertices per ring (a multiple of 4, so the sides and the midline are vertices).
RING = 40


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh with per-vertex normals and one material per face."""

    vertices: Vec  # (V, 3)
    normals: Vec  # (V, 3), unit, outward
    faces: NDArray[np.int32]  # (F, 3)
    face_material: NDArray[np.int16]  # (F,) index into MATERIALS


def _cumulative(share: tuple[float, float, float], rel: Vec) -> Vec:
    knots = np.array([0.0, *_REGION_TOPS])
    values = np.concatenate([[0.0], np.cumsum(share)])
    return np.asarray(np.interp(rel, knots, values))


def _rotations(yaw: Vec, bend: Vec, flex: Vec) -> Vec:
    """``Ry(yaw) @ Rz(-bend) @ Rx(flex)`` for arrays of angles in degrees, shape ``(n, 3, 3)``."""

    def sc(deg: Vec) -> tuple[Vec, Vec]:
        rad = np.radians(np.abs(deg))
        return np.sin(rad) * np.where(deg >= 0, 1.0, -1.0), np.cos(rad)

    sy, cy = sc(yaw)
    sb, cb = sc(-bend)
    sx, cx = sc(flex)
    n = len(yaw)
    ry = np.zeros((n, 3, 3))
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 1, 1], ry[:, 2, 0], ry[:, 2, 2] = cy, sy, 1.0, -sy, cy
    rz = np.zeros((n, 3, 3))
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = cb, -sb, sb, cb, 1.0
    rx = np.zeros((n, 3, 3))
    rx[:, 0, 0], rx[:, 1, 1], rx[:, 1, 2], rx[:, 2, 1], rx[:, 2, 2] = 1.0, cx, -sx, sx, cx
    return np.asarray(ry @ rz @ rx)


def spine(heights: Vec, body: Body, yaw: float, bend: float, flex: float) -> tuple[Vec, Vec]:
    """Spine points and frames at undeformed heights ``heights`` (metres, figure frame).

    Parameters
    ----------
    heights : array
        Heights on the upright figure, increasing.
    body : Body
    yaw, bend, flex : float
        Total trunk rotation (positive = to the person's left), side-bend
        (positive = to the left) and forward flexion, degrees.

    Returns
    -------
    points : (n, 3) array
        Where the spine point of each height ends up.
    frames : (n, 3, 3) array
        The orientation carried at each height (identity below the lumbar base).

    Examples
    --------
    >>> from resolve.program.images.catalog import BODIES
    >>> pts, frames = spine(np.array([0.9, 1.5]), BODIES[3], 30.0, 0.0, 0.0)
    >>> bool(np.allclose(frames[0], np.eye(3))), round(float(frames[1][2, 0]), 3)
    (True, -0.5)
    """
    h = body.height
    base = SPINE_BASE * h
    # integrate the spine's direction in 5 mm steps up to the highest height
    top = float(np.max(heights))
    steps = max(int(np.ceil((top - base) / 0.005)), 1)
    grid = base + (top - base) * np.arange(steps + 1) / steps
    mids = (grid[:-1] + grid[1:]) / 2.0
    rel = (np.maximum(mids, base) - base) / h
    frames_mid = _rotations(
        yaw * _cumulative(ROTATION_SHARE, rel),
        bend * _cumulative(BEND_SHARE, rel),
        flex * _cumulative(FLEXION_SHARE, rel),
    )
    step_len = np.diff(grid)
    path = np.concatenate(
        [np.zeros((1, 3)), np.cumsum(frames_mid[:, :, 1] * step_len[:, None], axis=0)]
    )
    path += np.array([0.0, base, 0.0])
    points = np.empty((len(heights), 3))
    for k in range(3):
        points[:, k] = np.interp(heights, grid, path[:, k])
    below = heights < base
    points[below] = np.column_stack([np.zeros(below.sum()), heights[below], np.zeros(below.sum())])
    rel_h = (np.maximum(heights, base) - base) / h
    frames = _rotations(
        yaw * _cumulative(ROTATION_SHARE, rel_h),
        bend * _cumulative(BEND_SHARE, rel_h),
        flex * _cumulative(FLEXION_SHARE, rel_h),
    )
    return points, frames


def _ring_angles() -> tuple[Vec, Vec]:
    """Cosines and sines of the ring angles, exactly mirror-symmetric (x -> -x)."""
    phi = 2.0 * np.pi * np.arange(RING) / RING
    c, s = np.cos(phi), np.sin(phi)
    mirror = (RING // 2 - np.arange(RING)) % RING
    return (c - c[mirror]) / 2.0, (s + s[mirror]) / 2.0


def trunk_mesh(body: Body, yaw: float, bend: float, flex: float) -> Mesh:
    """The trunk surface for a pose (angles as in :func:`spine`).

    Examples
    --------
    >>> from resolve.program.images.catalog import BODIES
    >>> mesh = trunk_mesh(BODIES[3], 0.0, 20.0, 0.0)
    >>> mesh.vertices.shape[1], bool(mesh.faces.max() < len(mesh.vertices))
    (3, True)
    """
    prof = np.array(PROFILE)
    heights = prof[:, 0] * body.height
    points, frames = spine(heights, body, yaw, bend, flex)
    c, s = _ring_angles()
    local = np.zeros((len(prof), RING, 3))
    local[:, :, 0] = prof[:, 1, None] * body.width * c[None, :]
    local[:, :, 2] = prof[:, 2, None] * body.depth * s[None, :] + prof[:, 3, None] * body.depth
    grid = points[:, None, :] + transform(local, frames[:, None, :, :])
    # normals: central differences on the grid, oriented away from the ring's centre
    around = np.roll(grid, -1, axis=1) - np.roll(grid, 1, axis=1)
    up = np.empty_like(grid)
    up[1:-1] = grid[2:] - grid[:-2]
    up[0], up[-1] = grid[1] - grid[0], grid[-1] - grid[-2]
    normals = cross(up, around)
    centre = points[:, None, :] + frames[:, None, :, 2] * (prof[:, 3, None, None] * body.depth)
    outward = dot(normals, grid - centre)
    normals *= np.where(outward >= 0.0, 1.0, -1.0)[..., None]
    normals /= np.sqrt(dot(normals, normals))[..., None]
    vertices = grid.reshape(-1, 3)
    vnormals = normals.reshape(-1, 3)
    # caps: one centre vertex at each end
    vertices = np.vstack([vertices, points[0], points[-1]])
    vnormals = np.vstack([vnormals, -frames[0][:, 1], frames[-1][:, 1]])
    faces, materials = _topology()
    return Mesh(vertices, vnormals, faces, materials)


@functools.cache
def _topology() -> tuple[NDArray[np.int32], NDArray[np.int16]]:
    """Faces and their materials (the same for every body and pose)."""
    c, s = _ring_angles()
    heights = np.array(PROFILE)[:, 0]
    n_rings = len(heights)
    bottom, top = n_rings * RING, n_rings * RING + 1
    faces: list[tuple[int, int, int]] = []
    materials: list[Material] = []
    right_half = c < 0.0  # quads starting at these angles lie on the x < 0 half
    for k in range(n_rings - 1):
        cloth: Material = "shorts" if (heights[k] + heights[k + 1]) / 2.0 < HEM else "top"
        for m in range(RING):
            m1 = (m + 1) % RING
            a, b, cc, d = k * RING + m, k * RING + m1, (k + 1) * RING + m1, (k + 1) * RING + m
            # mirrored diagonals on the two halves (angles m..m+1 with cos >= 0 vs < 0)
            on_right = right_half[m] or right_half[m1]
            tris = ((a, b, d), (b, cc, d)) if on_right else ((a, b, cc), (a, cc, d))
            # stripes on the top: down each flank and down the middle of chest and back
            flank = min(abs(s[m]), abs(s[m1])) < 1e-9
            middle = min(abs(c[m]), abs(c[m1])) < 1e-9
            stripe = cloth == "top" and (flank or middle) and 1.06 < heights[k] < 1.47
            material: Material = "trim" if stripe else cloth
            faces.extend(tris)
            materials.extend([material, material])
    for m in range(RING):
        m1 = (m + 1) % RING
        faces.append((bottom, m1, m))
        faces.append((top, (n_rings - 1) * RING + m, (n_rings - 1) * RING + m1))
        materials.extend(["shorts", "top"])
    # order each face's corners by (ring, sine of the ring angle): both are unchanged by the
    # mirror x -> -x, so a face and its mirror list corresponding corners in the same order
    # and the rasteriser's arithmetic on them is exactly mirrored
    ring = np.concatenate([np.repeat(np.arange(n_rings), RING), [-1, n_rings]])
    sine = np.concatenate([np.tile(s, n_rings), [0.0, 0.0]])
    tri = np.array(faces, dtype=np.int32)
    key = ring[tri] * 4.0 + sine[tri]
    tri = np.take_along_axis(tri, np.argsort(key, axis=1, kind="stable"), axis=1).astype(np.int32)
    tri.flags.writeable = False
    codes = np.array([MATERIALS.index(m) for m in materials], dtype=np.int16)
    codes.flags.writeable = False
    return tri, codes
