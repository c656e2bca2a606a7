"""SVG output: the same scene as the PNG, drawn with the painter's algorithm.

Every part is projected with the same camera as the raster renderer and drawn
far to near by the depth of its centre (the ears and nose, small parts on the
head's surface, by their nearest point): the trunk as its front-facing
triangles, each ellipsoid as its exact projected ellipse (the outline conic of
the quadric), each capsule as the convex hull of its two projected end circles.
Shading is flat (Lambert plus ambient, one value per shape) with a slightly
darker outline, so parts that overlap stay distinct. Backdrops are drawn with
SVG gradients and shapes that approximate the raster ones.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from resolve.program.images._vec import cross
from resolve.program.images.catalog import MATERIALS, Background
from resolve.program.images.figure import Capsule, Ellipsoid
from resolve.program.images.render import AMBIENT, DIFFUSE, Scene

__all__ = ["render_svg"]

Vec = NDArray[np.float64]

#: Small parts sitting on the head's surface, sorted by their nearest point.
_ON_SURFACE = frozenset({"left_ear", "right_ear", "nose"})


def _rgb(colour: Vec, shade: float) -> str:
    r, g, b = (int(np.clip(round(float(c) * shade), 0, 255)) for c in colour)
    return f"#{r:02x}{g:02x}{b:02x}"


def _hex(colour: tuple[int, ...] | Vec, factor: float = 1.0) -> str:
    return _rgb(np.asarray(colour, dtype=float), factor)


def _background(bg: Background, size: int, elevation_deg: float) -> list[str]:
    s = size
    cols = bg.colours
    out = ["<defs>"]
    if bg.kind == "plain":
        out.append("</defs>")
        out.append(f'<rect width="{s}" height="{s}" fill="{_hex(cols[0])}"/>')
        return out
    if bg.kind == "gradient":
        out.append(
            '<linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">'
            f'<stop offset="0" stop-color="{_hex(cols[0])}"/>'
            f'<stop offset="1" stop-color="{_hex(cols[1])}"/></linearGradient></defs>'
        )
        out.append(f'<rect width="{s}" height="{s}" fill="url(#bg)"/>')
        return out
    horizon = float(np.clip(0.72 - 0.011 * max(elevation_deg - 8.0, 0.0), 0.08, 0.9)) * s
    out.append(
        '<linearGradient id="wall" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{_hex(cols[0])}"/>'
        f'<stop offset="1" stop-color="{_hex(cols[0], 0.9)}"/></linearGradient>'
        '<linearGradient id="floor" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{_hex(cols[1], 1.08)}"/>'
        f'<stop offset="1" stop-color="{_hex(cols[1], 0.92)}"/></linearGradient>'
    )
    tile = round(0.09 * s, 1)
    if bg.kind == "busy":
        out.append(
            f'<pattern id="tiles" width="{2 * tile}" height="{2 * tile}" '
            f'patternUnits="userSpaceOnUse" x="{s / 2}" y="{horizon:.1f}">'
            f'<rect width="{tile}" height="{tile}" fill="{_hex(cols[2])}" fill-opacity="0.18"/>'
            f'<rect x="{tile}" y="{tile}" width="{tile}" height="{tile}" '
            f'fill="{_hex(cols[2])}" fill-opacity="0.18"/></pattern>'
        )
    out.append("</defs>")
    out.append(f'<rect width="{s}" height="{horizon:.1f}" fill="url(#wall)"/>')
    out.append(
        f'<rect y="{horizon:.1f}" width="{s}" height="{s - horizon:.1f}" fill="url(#floor)"/>'
    )
    if bg.kind == "room":
        band = 0.012 * s
        out.append(
            f'<rect y="{horizon - band:.1f}" width="{s}" height="{band:.1f}" '
            f'fill="{_hex(cols[1], 0.7)}"/>'
        )
        return out
    out.append(
        f'<rect y="{horizon:.1f}" width="{s}" height="{s - horizon:.1f}" fill="url(#tiles)"/>'
    )
    for centre, half_w in ((0.14, 0.07), (0.38, 0.08)):
        for side in (-1.0, 1.0):
            x = (0.5 + side * centre - half_w) * s
            y = horizon * 0.18
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{2 * half_w * s:.1f}" '
                f'height="{horizon * 0.6:.1f}" fill="{_hex(cols[1], 0.9)}" '
                f'stroke="{_hex(cols[2])}" stroke-width="{0.012 * s:.1f}"/>'
            )
    return out


def _lambert(normal: Vec, light: Vec) -> float:
    n = normal / max(float(np.linalg.norm(normal)), 1e-12)
    return AMBIENT + DIFFUSE * max(float(n @ light), 0.0)


def _points(xy: Vec) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)


def _hull(points: Vec) -> Vec:
    """Convex hull (monotone chain) of 2D points, counter-clockwise."""
    pts = sorted(map(tuple, np.round(points, 6)))

    def half(seq: list[tuple[float, ...]]) -> list[tuple[float, ...]]:
        out: list[tuple[float, ...]] = []
        for p in seq:
            while len(out) >= 2:
                (ax, ay), (bx, by) = out[-2], out[-1]
                if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) > 0:
                    break
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _ellipse(centre: Vec, rot: Vec, radii: Vec, focal: float, half: float) -> str | None:
    """The SVG ellipse of an ellipsoid's outline (camera space), or None if not drawable."""
    axes = rot * radii
    dual = axes @ axes.T - np.outer(centre, centre)
    try:
        conic = np.linalg.inv(dual)
    except np.linalg.LinAlgError:
        return None
    c2, b = conic[:2, :2], conic[:2, 2]
    mid = -np.linalg.solve(c2, b)
    k = float(mid @ c2 @ mid - conic[2, 2])
    vals, vecs = np.linalg.eigh(c2 / k)
    if np.any(vals <= 0):
        return None
    r1, r2 = (focal / np.sqrt(vals)).tolist()
    angle = -math.degrees(math.atan2(vecs[1, 0], vecs[0, 0]))
    cx, cy = half + focal * mid[0], half - focal * mid[1]
    return (
        f'cx="{cx:.1f}" cy="{cy:.1f}" rx="{r1:.1f}" ry="{r2:.1f}" '
        f'transform="rotate({angle:.1f} {cx:.1f} {cy:.1f})"'
    )


def render_svg(scene: Scene, size: int) -> str:
    """The scene as an SVG document (``size`` x ``size`` view box).

    Examples
    --------
    >>> import xml.etree.ElementTree as ET
    >>> from resolve.program.images.scene import scene_for
    >>> from resolve.program.images.spec import sample_specs
    >>> svg = render_svg(scene_for(sample_specs(1, seed=4)[0]), 128)
    >>> ET.fromstring(svg).tag
    '{http://www.w3.org/2000/svg}svg'
    """
    cam = scene.camera
    focal = size / (2.0 * cam.tan_half)
    half = size / 2.0
    light = scene.light
    palette = {m: scene.palette[k] for k, m in enumerate(MATERIALS)}
    outline = max(0.4, size / 400.0)
    items: list[tuple[float, str]] = []
    # trunk: front-facing triangles, each flat-shaded by the mean of its corners' normals
    mesh = scene.trunk
    verts = cam.to_camera(mesh.vertices)
    norms = mesh.normals @ cam.rotation.T
    xy = np.column_stack(
        [half + focal * verts[:, 0] / verts[:, 2], half - focal * verts[:, 1] / verts[:, 2]]
    )
    faces = mesh.faces
    p0, p1, p2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    geo = cross(p1 - p0, p2 - p0)
    smooth = norms[faces].sum(axis=1)  # the corners' normals: neighbours shade alike
    outward = np.einsum("ij,ij->i", geo, smooth)
    geo *= np.where(outward < 0, -1.0, 1.0)[:, None]
    visible = np.einsum("ij,ij->i", geo, p0) < 0  # facing the camera
    unit = smooth / np.maximum(np.linalg.norm(smooth, axis=1, keepdims=True), 1e-12)
    shade = AMBIENT + DIFFUSE * np.maximum(unit @ light, 0.0)
    albedo = scene.palette[mesh.face_material]
    rgb = np.clip(np.rint(albedo * shade[:, None]), 0, 255).astype(int)
    depth = (p0[:, 2] + p1[:, 2] + p2[:, 2]) / 3.0
    for k in np.flatnonzero(visible):
        r, g, b = rgb[k]
        colour = f"#{r:02x}{g:02x}{b:02x}"
        items.append(
            (
                float(depth[k]),
                f'<polygon points="{_points(xy[faces[k]])}" fill="{colour}" stroke="{colour}" '
                f'stroke-width="0.5" stroke-linejoin="round"/>',
            )
        )
    for prim in scene.primitives:
        colour_v = palette[prim.material]
        if isinstance(prim, Ellipsoid):
            c = cam.to_camera(prim.center)
            shape = _ellipse(c, cam.rotation @ prim.rotation, np.asarray(prim.radii), focal, half)
            if shape is None:
                continue
            shade = _lambert(-c, light)
            items.append(
                (
                    float(c[2]) - (float(np.max(prim.radii)) if prim.part in _ON_SURFACE else 0.0),
                    f'<ellipse {shape} fill="{_rgb(colour_v, shade)}" '
                    f'stroke="{_rgb(colour_v, shade * 0.72)}" stroke-width="{outline:.2f}"/>',
                )
            )
        elif isinstance(prim, Capsule):
            a, b = cam.to_camera(prim.a), cam.to_camera(prim.b)
            if min(a[2], b[2]) <= prim.radius:
                continue
            ring = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
            circle = np.column_stack([np.cos(ring), np.sin(ring)])
            pts = []
            for end in (a, b):
                r = focal * prim.radius / math.sqrt(max(float(end @ end) - prim.radius**2, 1e-9))
                pts.append(
                    np.array([half + focal * end[0] / end[2], half - focal * end[1] / end[2]])
                    + r * circle
                )
            axis = (b - a) / max(float(np.linalg.norm(b - a)), 1e-12)
            mid = (a + b) / 2.0
            facing = -(mid - float(mid @ axis) * axis)
            shade = _lambert(facing, light)
            items.append(
                (
                    float(mid[2]),
                    f'<polygon points="{_points(_hull(np.vstack(pts)))}" '
                    f'fill="{_rgb(colour_v, shade)}" stroke="{_rgb(colour_v, shade * 0.72)}" '
                    f'stroke-width="{outline:.2f}" stroke-linejoin="round"/>',
                )
            )
    items.sort(key=lambda item: -item[0])  # far to near
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}">'
    )
    body = _background(scene.background, size, scene.elevation_deg)
    return "\n".join([head, *body, *(item for _, item in items), "</svg>"]) + "\n"
