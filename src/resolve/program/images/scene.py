"""From an image specification to a renderable scene (figure, colours, camera, light)."""

from __future__ import annotations

import math

import numpy as np

from resolve.program.images.camera import look_at
from resolve.program.images.catalog import (
    BACKGROUNDS,
    BODIES,
    CLOTHING,
    MATERIALS,
    SKINS,
    VIEWS,
    Body,
)
from resolve.program.images.figure import Figure, Pose, build_figure
from resolve.program.images.render import Scene
from resolve.program.images.spec import ImageSpec

__all__ = ["figure_for", "scene_for"]

_BODY = {b.name: b for b in BODIES}
_CLOTHING = {c.name: c for c in CLOTHING}
_BACKGROUND = {b.name: b for b in BACKGROUNDS}


def _body(spec: ImageSpec) -> Body:
    return _BODY[spec.body]


def figure_for(spec: ImageSpec) -> Figure:
    """The posed 3D figure of ``spec`` (before any projection).

    Examples
    --------
    >>> from resolve.program.images.spec import sample_specs
    >>> fig = figure_for(sample_specs(1, seed=0)[0])
    >>> len(fig.primitives) > 20
    True
    """
    pose = Pose(
        movement=spec.movement,
        side=spec.side,
        angle_deg=spec.exact_angle,
        flexion_deg=spec.jitter.flexion,
        arms=spec.arms,
        arm_spread_deg=spec.jitter.arm_spread,
    )
    return build_figure(_body(spec), pose)


def scene_for(spec: ImageSpec) -> Scene:
    """The scene of ``spec``: figure, per-primitive colours, camera, light and backdrop.

    The light comes from above and in front, from the image's left or right
    (``spec.jitter.light_side``), so shading never hints at the answer.

    Examples
    --------
    >>> from resolve.program.images.spec import sample_specs
    >>> scene = scene_for(sample_specs(1, seed=0)[0])
    >>> scene.palette.shape
    (6, 3)
    """
    body = _body(spec)
    figure = figure_for(spec)
    clothing = _CLOTHING[spec.clothing]
    top = np.array(clothing.top, dtype=float)
    trim = np.where(top.mean() > 110.0, top * 0.45, top * 0.4 + 255.0 * 0.6)
    colours = {
        "skin": SKINS[spec.skin],
        "top": clothing.top,
        "shorts": clothing.shorts,
        "shoes": clothing.shoes,
        "hair": body.hair,
        "trim": tuple(trim),
    }
    palette = np.array([colours[m] for m in MATERIALS], dtype=float)
    view = VIEWS[spec.view]
    above = spec.view == "above"
    target_y = (1.36 if above else 1.24) * body.height
    camera = look_at(
        view,
        target=(0.0, target_y, 0.0),
        azimuth_jitter=spec.jitter.azimuth,
        elevation_jitter=spec.jitter.elevation,
        distance_factor=spec.jitter.distance * (0.8 if above else 1.0),
    )
    lx, ly, lz = 0.45 * spec.jitter.light_side, 0.62, -0.64
    norm = math.sqrt(lx * lx + ly * ly + lz * lz)
    light = np.array([lx / norm, ly / norm, lz / norm])
    return Scene(
        trunk=figure.trunk,
        primitives=figure.primitives,
        palette=palette,
        camera=camera,
        light=light,
        background=_BACKGROUND[spec.background],
        elevation_deg=view.elevation + spec.jitter.elevation,
    )
