"""Software renderer: per-primitive ray casting in projected bounding boxes, with a z-buffer.

Each primitive (ellipsoid or capsule) is intersected analytically with the rays
of the pixels inside its exact projected bounding box only; a z-buffer keeps the
nearest hit, its surface normal and its colour. Shading is Lambert plus ambient
with one directional light; anti-aliasing is ``supersample x supersample``
sampling averaged into each pixel and composited over the backdrop.

Everything is computed so that mirroring a scene about the figure's sagittal
plane (and the light's direction with it) mirrors the image exactly: pixel rays
are symmetric about the image's centre line and every operation is
sign-symmetric in floating point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from resolve.program.images._vec import dot, transform
from resolve.program.images.background import background_pixels, draw_background
from resolve.program.images.camera import Camera
from resolve.program.images.catalog import MATERIALS, Background
from resolve.program.images.figure import Capsule, Ellipsoid, Primitive
from resolve.program.images.raster import draw_mesh, mesh_bounds
from resolve.program.images.trunk import Mesh

__all__ = ["AMBIENT", "DIFFUSE", "Scene", "render"]

Vec = NDArray[np.float64]
Grid = NDArray[np.float64]

AMBIENT = 0.36
DIFFUSE = 0.70


@dataclass(frozen=True)
class Scene:
    """Everything one image shows.

    ``palette`` holds one 8-bit RGB albedo per material of
    :data:`~resolve.program.images.figure.MATERIALS`; ``light`` is a unit vector
    in camera space pointing toward the light.
    """

    trunk: Mesh
    primitives: tuple[Primitive, ...]
    palette: NDArray[np.float64]
    camera: Camera
    light: Vec
    background: Background
    elevation_deg: float


@dataclass
class _Buffers:
    depth: Grid
    normal: NDArray[np.float32]
    index: NDArray[np.int16]
    u: Grid  # ray x-slope of each column
    v: Grid  # ray y-slope of each row


def _range(lo: float, hi: float, n: int) -> tuple[int, int]:
    a = max(math.floor(lo) - 1, 0)
    b = min(math.ceil(hi) + 2, n)
    return a, b


def _conic_bounds(dual: Vec) -> tuple[float, float, float, float] | None:
    """Bounds of ``x/z`` and ``y/z`` over a quadric's outline, from its dual conic."""
    out = []
    for k in (0, 1):
        a, b, c = dual[2, 2], dual[k, 2], dual[k, k]
        disc = b * b - a * c
        if disc < 0 or a >= 0:  # camera inside or beside the primitive: not drawable
            return None
        r = math.sqrt(disc)
        out += sorted(((b - r) / a, (b + r) / a))
    return out[0], out[1], out[2], out[3]


def _ellipsoid(p: Ellipsoid, cam: Camera) -> tuple[Vec, Vec, Vec]:
    centre = cam.to_camera(p.center)
    rot = cam.rotation @ p.rotation
    return centre, rot, np.asarray(p.radii, dtype=float)


def _bbox(prim: Primitive, cam: Camera) -> tuple[float, float, float, float] | None:
    if isinstance(prim, Ellipsoid):
        c, rot, radii = _ellipsoid(prim, cam)
        axes = rot * radii
        return _conic_bounds(axes @ axes.T - np.outer(c, c))
    bounds = []
    for end in (prim.a, prim.b):
        c = cam.to_camera(end)
        b = _conic_bounds(np.eye(3) * prim.radius**2 - np.outer(c, c))
        if b is None:
            return None
        bounds.append(b)
    (a0, a1, a2, a3), (b0, b1, b2, b3) = bounds
    return min(a0, b0), max(a1, b1), min(a2, b2), max(a3, b3)


def _hit_ellipsoid(
    prim: Ellipsoid, cam: Camera, u: Grid, v: Grid
) -> tuple[Grid, tuple[Grid, Grid, Grid], Vec, Vec]:
    c, rot, radii = _ellipsoid(prim, cam)
    inv = rot.T / radii[:, None]  # camera space -> unit sphere
    o = -(inv @ c)
    m = tuple(inv[k, 0] * u[None, :] + (inv[k, 1] * v + inv[k, 2])[:, None] for k in range(3))
    a = m[0] * m[0] + m[1] * m[1] + m[2] * m[2]
    b = m[0] * o[0] + m[1] * o[1] + m[2] * o[2]
    cc = float(o @ o) - 1.0
    disc = b * b - a * cc
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / a
    t[~(disc >= 0.0)] = np.inf
    return t, m, o, inv


def _hit_capsule(prim: Capsule, cam: Camera, u: Grid, v: Grid) -> tuple[Grid, Vec, Vec, float]:
    a = cam.to_camera(prim.a)
    b = cam.to_camera(prim.b)
    r2 = prim.radius * prim.radius
    axis = b - a
    length = math.sqrt(float(axis @ axis))
    ax = axis / length
    uu = u[None, :]
    dd = uu * uu + (v * v + 1.0)[:, None]
    du = ax[0] * uu + (ax[1] * v + ax[2])[:, None]
    a_ax = float(a @ ax)
    perp = a - a_ax * ax
    qa = dd - du * du
    qb = perp[0] * uu + (perp[1] * v + perp[2])[:, None]
    qc = float(perp @ perp) - r2
    with np.errstate(invalid="ignore", divide="ignore"):
        disc = qb * qb - qa * qc
        t = (qb - np.sqrt(disc)) / qa
        s = t * du - a_ax
        t[~((disc >= 0.0) & (s >= 0.0) & (s <= length))] = np.inf
        for end in (a, b):
            # the end sphere, only over the samples its own outline can cover
            bounds = _conic_bounds(np.eye(3) * r2 - np.outer(end, end))
            if bounds is None:
                continue
            j0, j1 = np.searchsorted(u, [bounds[0], bounds[1]])
            i0, i1 = np.searchsorted(-v, [-bounds[3], -bounds[2]])
            j0, i0 = max(j0 - 1, 0), max(i0 - 1, 0)
            j1, i1 = j1 + 1, i1 + 1
            us, vs = u[None, j0:j1], v[i0:i1]
            de = end[0] * us + (end[1] * vs + end[2])[:, None]
            dds = dd[i0:i1, j0:j1]
            disc = de * de - dds * (float(end @ end) - r2)
            te = (de - np.sqrt(disc)) / dds
            te[~(disc >= 0.0)] = np.inf
            np.minimum(t[i0:i1, j0:j1], te, out=t[i0:i1, j0:j1])
    return t, a, ax, length


def _draw(index: int, prim: Primitive, cam: Camera, buf: _Buffers, box: tuple[int, ...]) -> None:
    i0, i1, j0, j1 = box
    u, v = buf.u[j0:j1], buf.v[i0:i1]
    depth = buf.depth[i0:i1, j0:j1]
    if isinstance(prim, Ellipsoid):
        t, m, o, inv = _hit_ellipsoid(prim, cam, u, v)
        win = t < depth
        if not win.any():
            return
        tw = t[win]
        s = np.stack([tw * m[k][win] + o[k] for k in range(3)], axis=-1)
        n = transform(s, inv.T)  # gradient of |inv (x - c)|^2, up to a factor 2
    else:
        t, a, ax, length = _hit_capsule(prim, cam, u, v)
        win = t < depth
        if not win.any():
            return
        tw = t[win]
        rows, cols = np.nonzero(win)
        x = np.stack([tw * u[cols], tw * v[rows], tw], axis=-1) - a
        n = x - np.clip(dot(x, ax), 0.0, length)[:, None] * ax
    n /= np.sqrt(dot(n, n))[:, None]
    depth[win] = tw
    buf.normal[i0:i1, j0:j1][win] = n
    buf.index[i0:i1, j0:j1][win] = index


def render(scene: Scene, size: int, *, supersample: int = 2) -> NDArray[np.uint8]:
    """Render ``scene`` as an 8-bit RGB array of shape ``(size, size, 3)``.

    Parameters
    ----------
    scene : Scene
    size : int
        Width and height in pixels.
    supersample : int
        Samples per pixel along each axis (2 = four samples per pixel).

    Returns
    -------
    numpy.ndarray of uint8

    Examples
    --------
    >>> from resolve.program.images.scene import scene_for
    >>> from resolve.program.images.spec import sample_specs
    >>> spec = sample_specs(4, seed=1, set="training")[0]
    >>> render(scene_for(spec), 64).shape
    (64, 64, 3)
    """
    cam = scene.camera
    n_sub = size * supersample
    focal = n_sub / (2.0 * cam.tan_half)
    centre = np.arange(n_sub) + 0.5 - n_sub / 2.0
    trunk = cam.to_camera(scene.trunk.vertices)
    bounds_all = [_bbox(prim, cam) for prim in scene.primitives]
    bounds_all.append(mesh_bounds(trunk) if bool(np.all(trunk[:, 2] > 0.05)) else None)
    boxes: list[tuple[int, int, int, int] | None] = []
    for bounds in bounds_all:
        if bounds is None:
            boxes.append(None)
            continue
        x0, x1, y0, y1 = bounds
        j0, j1 = _range(n_sub / 2.0 + focal * x0 - 0.5, n_sub / 2.0 + focal * x1 - 0.5, n_sub)
        i0, i1 = _range(n_sub / 2.0 - focal * y1 - 0.5, n_sub / 2.0 - focal * y0 - 0.5, n_sub)
        boxes.append((i0, i1, j0, j1) if i1 > i0 and j1 > j0 else None)
    drawn = [b for b in boxes if b is not None]
    background = draw_background(scene.background, size, elevation_deg=scene.elevation_deg)
    if not drawn:
        return background_pixels(scene.background, size, elevation_deg=scene.elevation_deg).copy()
    # the union of the boxes, aligned to whole output pixels
    ss = supersample
    r0 = min(b[0] for b in drawn) // ss
    r1 = -(-max(b[1] for b in drawn) // ss)
    c0 = min(b[2] for b in drawn) // ss
    c1 = -(-max(b[3] for b in drawn) // ss)
    h, w = (r1 - r0) * ss, (c1 - c0) * ss
    buf = _Buffers(
        depth=np.full((h, w), np.inf),
        normal=np.zeros((h, w, 3), dtype=np.float32),
        index=np.full((h, w), len(MATERIALS), dtype=np.int16),
        u=np.asarray(centre[c0 * ss : c1 * ss] / focal, dtype=np.float64),
        v=np.asarray(-centre[r0 * ss : r1 * ss] / focal, dtype=np.float64),
    )
    material = {name: k for k, name in enumerate(MATERIALS)}
    if boxes[-1] is not None:
        draw_mesh(
            trunk,
            transform(scene.trunk.normals, cam.rotation),
            scene.trunk.faces,
            scene.trunk.face_material,
            focal=focal,
            origin=(float(centre[r0 * ss]), float(centre[c0 * ss])),
            depth=buf.depth,
            normal_buf=buf.normal,
            index_buf=buf.index,
        )
    for prim, box in zip(scene.primitives, boxes, strict=False):
        if box is not None:
            i0, i1, j0, j1 = box
            local = (i0 - r0 * ss, i1 - r0 * ss, j0 - c0 * ss, j1 - c0 * ss)
            _draw(material[prim.material], prim, cam, buf, local)
    cover = np.isfinite(buf.depth).astype(np.float32)
    shade = np.maximum(dot(buf.normal, scene.light.astype(np.float32)), np.float32(0.0))
    shade *= np.float32(DIFFUSE)
    shade += np.float32(AMBIENT)
    # misses keep the index of an extra black palette entry
    palette = np.vstack([scene.palette, np.zeros((1, 3))]).astype(np.float32)
    colour = np.take(palette, buf.index, axis=0)
    colour *= shade[..., None]
    if ss == 2:  # pairwise sums, symmetric under a left-right flip
        colour_sum = (colour[0::2, 0::2] + colour[0::2, 1::2]) + (
            colour[1::2, 0::2] + colour[1::2, 1::2]
        )
        cover_sum = (cover[0::2, 0::2] + cover[0::2, 1::2]) + (
            cover[1::2, 0::2] + cover[1::2, 1::2]
        )
    else:
        colour_sum = colour.reshape(h // ss, ss, w // ss, ss, 3).sum(axis=(1, 3))
        cover_sum = cover.reshape(h // ss, ss, w // ss, ss).sum(axis=(1, 3))
    weight = np.float32(1.0 / (ss * ss))
    mixed = background[r0:r1, c0:c1].astype(np.float32)
    mixed *= (np.float32(1.0) - cover_sum * weight)[..., None]
    colour_sum *= weight
    mixed += colour_sum
    np.rint(mixed, out=mixed)
    np.clip(mixed, 0.0, 255.0, out=mixed)
    out = background_pixels(scene.background, size, elevation_deg=scene.elevation_deg).copy()
    out[r0:r1, c0:c1] = mixed.astype(np.uint8)
    return out
