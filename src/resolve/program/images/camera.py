"""A pinhole camera around the figure, and the perspective projection.

Camera space: ``x`` to the image's right, ``y`` to the image's top, ``z`` the
depth in front of the camera (so a ray through a pixel is ``t * (u, v, 1)``
with ``t`` the depth). The image is never mirrored: in the front view the
person's left appears on the image's right, in the back view on the left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from resolve.program.images._vec import transform
from resolve.program.images.catalog import View

__all__ = ["FIELD_OF_VIEW_DEG", "Camera", "look_at"]

Vec = NDArray[np.float64]

#: Vertical (= horizontal: images are square) field of view of every camera.
FIELD_OF_VIEW_DEG = 26.0
#: Distance of the camera from its target, in metres (before jitter).
DISTANCE = 3.4


@dataclass(frozen=True)
class Camera:
    """World-to-camera transform: ``rotation @ (p - position)``; ``tan_half`` of the field."""

    position: Vec
    rotation: Vec  # rows: image right, image up, viewing direction
    tan_half: float

    def to_camera(self, points: Vec) -> Vec:
        """Transform points (``(..., 3)``, figure frame) into camera space."""
        p = np.asarray(points, dtype=np.float64) - self.position
        if p.ndim == 1:  # one point: one small product (the same path for every point)
            return np.asarray(self.rotation @ p, dtype=np.float64)
        return transform(p, self.rotation)

    def project(self, points: Vec, size: int) -> Vec:
        """Pixel coordinates ``(column, row)`` of points (``(..., 3)``) in a ``size`` image.

        Examples
        --------
        >>> from resolve.program.images.catalog import VIEWS
        >>> cam = look_at(VIEWS["front"], target=(0.0, 1.2, 0.0))
        >>> left_of_person = cam.project(np.array([0.2, 1.2, 0.0]), 256)
        >>> bool(left_of_person[0] > 128)  # facing the person, their left is on our right
        True
        """
        cam = self.to_camera(points)
        f = size / (2.0 * self.tan_half)
        col = size / 2.0 + f * cam[..., 0] / cam[..., 2]
        row = size / 2.0 - f * cam[..., 1] / cam[..., 2]
        return np.stack([col, row], axis=-1)


def _sin_cos(deg: float) -> tuple[float, float]:
    rad = math.radians(abs(deg))
    s, c = math.sin(rad), math.cos(rad)
    return (s if deg >= 0 else -s), c


def _unit(v: Vec) -> Vec:
    return v / math.sqrt(float(v @ v))


def look_at(
    view: View,
    *,
    target: tuple[float, float, float],
    azimuth_jitter: float = 0.0,
    elevation_jitter: float = 0.0,
    distance_factor: float = 1.0,
) -> Camera:
    """A camera at ``view`` (plus jitter) looking at ``target``.

    Parameters
    ----------
    view : View
        Azimuth (degrees from the person's front, positive toward the person's
        left) and elevation.
    target : (x, y, z)
        The point the camera looks at, figure frame; ``x`` must be 0 so that the
        mirror of a view is the view of the mirror (the labels' mirror test).
    azimuth_jitter, elevation_jitter : float
        Degrees added to the view's angles.
    distance_factor : float
        Multiplies the camera distance.

    Returns
    -------
    Camera

    Examples
    --------
    >>> from resolve.program.images.catalog import VIEWS
    >>> cam = look_at(VIEWS["back"], target=(0.0, 1.2, 0.0))
    >>> bool(cam.project(np.array([0.2, 1.2, 0.0]), 256)[0] < 128)  # from behind: on our left
    True
    """
    sa, ca = _sin_cos(view.azimuth + azimuth_jitter)
    se, ce = _sin_cos(view.elevation + elevation_jitter)
    aim = np.array(target, dtype=float)
    offset = np.array([sa * ce, se, ca * ce]) * (DISTANCE * distance_factor)
    position = aim + offset
    forward = _unit(aim - position)
    right = _unit(np.cross(forward, np.array([0.0, 1.0, 0.0])))
    up = np.cross(right, forward)
    tan_half = math.tan(math.radians(FIELD_OF_VIEW_DEG / 2.0))
    return Camera(position, np.stack([right, up, forward]), tan_half)
