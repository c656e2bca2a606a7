"""Backdrops behind the figure: plain, gradient, room (wall and floor) and busy room.

Every backdrop is mirror-symmetric about the image's vertical centre line, so
that mirroring an image never changes its background (the labels' mirror test
relies on it). Arrays are float RGB in 0..255, shape ``(size, size, 3)``.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

from resolve.program.images.catalog import Background

__all__ = ["background_pixels", "draw_background"]

Image = NDArray[np.float64]


def _rows(
    colour_top: NDArray[np.float64],
    colour_bottom: NDArray[np.float64],
    size: int,
    start: float = 0.0,
    stop: float = 1.0,
) -> Image:
    """A vertical gradient, one colour per row (shape ``(size, 1, 3)``)."""
    y = (np.arange(size) + 0.5) / size
    w = np.clip((y - start) / max(stop - start, 1e-9), 0.0, 1.0)[:, None, None]
    return np.asarray(colour_top * (1.0 - w) + colour_bottom * w, dtype=np.float64)


@functools.lru_cache(maxsize=64)
def _cached(background: Background, size: int, horizon: float) -> Image:
    cols: list[NDArray[np.float64]] = [np.array(c, dtype=np.float64) for c in background.colours]
    full: NDArray[np.float64] = np.ones((size, size, 1))
    if background.kind == "plain":
        return full * cols[0]
    if background.kind == "gradient":
        return full * _rows(cols[0], cols[1], size)
    y = (np.arange(size) + 0.5) / size
    floor = (y >= horizon)[:, None, None]
    wall = _rows(cols[0], cols[0] * 0.9, size, 0.0, horizon)
    ground = _rows(cols[1] * 1.08, cols[1] * 0.92, size, horizon, 1.0)
    image = full * np.where(floor, ground, wall)
    if background.kind == "room":
        # a skirting board along the floor line
        band = (y >= horizon - 0.012) & (y < horizon)
        image[band] = cols[1] * 0.7
        return image
    # busy: tiled floor and framed panels on the wall
    x = np.abs(np.arange(size) + 0.5 - size / 2.0) / size  # exactly symmetric
    tile = 0.09
    depth = np.maximum(y - horizon, 0.0)
    u = np.floor(x[None, :] / (tile * (0.4 + 2.5 * depth[:, None])))
    v = np.floor(np.sqrt(depth[:, None] * 40.0) * 2.0)
    checker = ((u + v) % 2 == 1) & floor[:, :, 0]
    image[checker] = image[checker] * 0.82 + cols[2] * 0.18
    for centre, half_w in ((0.14, 0.07), (0.38, 0.08)):
        top, bottom = horizon * 0.18, horizon * 0.78
        frame = (
            (np.abs(x - centre)[None, :] <= half_w) & (y[:, None] >= top) & (y[:, None] <= bottom)
        )
        inner = (
            (np.abs(x - centre)[None, :] <= half_w - 0.012)
            & (y[:, None] >= top + 0.012)
            & (y[:, None] <= bottom - 0.012)
        )
        image[frame & ~inner] = cols[2]
        image[inner] = image[inner] * 0.6 + cols[1] * 0.4
    return image


def _horizon(elevation_deg: float) -> float:
    """Height of the floor line (fraction of the image from the top), in 1/64 steps."""
    horizon = float(np.clip(0.72 - 0.011 * max(elevation_deg - 8.0, 0.0), 0.08, 0.9))
    return round(horizon * 64) / 64


def draw_background(background: Background, size: int, *, elevation_deg: float = 8.0) -> Image:
    """The backdrop as float RGB ``(size, size, 3)`` (read-only, cached).

    ``elevation_deg`` (the camera's) moves the floor line up when looking down,
    so that the floor fills most of the picture in the view from above.

    Examples
    --------
    >>> from resolve.program.images.catalog import BACKGROUNDS
    >>> img = draw_background(BACKGROUNDS[-1], 64)
    >>> img.shape, bool(np.array_equal(img, img[:, ::-1]))  # mirror-symmetric
    ((64, 64, 3), True)
    """
    image = _cached(background, size, _horizon(elevation_deg))
    image.flags.writeable = False
    return image


@functools.lru_cache(maxsize=64)
def _pixels(background: Background, size: int, horizon: float) -> NDArray[np.uint8]:
    out = np.asarray(np.clip(np.rint(_cached(background, size, horizon)), 0, 255), dtype=np.uint8)
    out.flags.writeable = False
    return out


def background_pixels(
    background: Background, size: int, *, elevation_deg: float = 8.0
) -> NDArray[np.uint8]:
    """The backdrop rounded to 8-bit RGB (read-only, cached).

    Examples
    --------
    >>> from resolve.program.images.catalog import BACKGROUNDS
    >>> background_pixels(BACKGROUNDS[0], 8)[0, 0].tolist()
    [214, 216, 218]
    """
    return _pixels(background, size, _horizon(elevation_deg))
