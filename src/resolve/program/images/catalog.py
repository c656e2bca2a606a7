"""The named choices an LRJ image is made of: bodies, skin tones, clothing, backgrounds, views.

Everything here is plain data. Each name is stable (it goes into ``manifest.csv``),
so adding entries is safe but renaming or reordering them changes generated sets.

Colours are 8-bit sRGB triples. Skin tones span light to deep in six steps; tops
and shorts are saturated or dark enough to stand out against every background
and every skin tone; backgrounds are muted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ARM_POSES",
    "BACKGROUNDS",
    "BODIES",
    "CLOTHING",
    "LEVELS",
    "MATERIALS",
    "MIRROR_VIEW",
    "SKINS",
    "VIEWS",
    "Background",
    "Body",
    "Clothing",
    "Level",
    "Material",
    "View",
]

RGB = tuple[int, int, int]
Material = Literal["skin", "top", "shorts", "hair", "shoes", "trim"]
#: Every surface material, in palette order (``trim``: the stripes on the top).
MATERIALS: tuple[Material, ...] = ("skin", "top", "shorts", "hair", "shoes", "trim")


@dataclass(frozen=True)
class Body:
    """Proportions of one figure, as factors of the average body (1.0 = average).

    ``height`` scales every vertical length; ``width`` the trunk and pelvis;
    ``shoulders`` the distance between the shoulder joints; ``limbs`` the limb
    radii; ``depth`` the trunk's front-to-back size. Bodies are left/right
    symmetric by construction (the labels rely on it, see the mirror test).
    """

    name: str
    build: str
    height: float
    width: float
    shoulders: float
    limbs: float
    depth: float
    hair: RGB


@dataclass(frozen=True)
class Clothing:
    """A top (t-shirt with short sleeves) and shorts."""

    name: str
    top: RGB
    shorts: RGB
    shoes: RGB


@dataclass(frozen=True)
class Background:
    """A backdrop drawn behind the figure.

    ``kind`` is ``plain`` (one colour), ``gradient`` (top to bottom), ``room``
    (wall above a floor line) or ``busy`` (room with a tiled floor and framed
    panels on the wall). Every background is mirror-symmetric about the image's
    vertical centre line.
    """

    name: str
    kind: str
    colours: tuple[RGB, ...]


@dataclass(frozen=True)
class View:
    """A camera position around the person.

    ``azimuth`` is in degrees from the person's front, positive toward the
    person's LEFT (90 = the camera stands at the person's left side, 180 =
    behind); ``elevation`` in degrees above the horizontal.
    """

    name: str
    azimuth: float
    elevation: float


@dataclass(frozen=True)
class Level:
    """One difficulty level: the trunk angle and the views and backgrounds it draws from."""

    number: int
    angle_deg: int
    views: tuple[str, ...]
    backgrounds: tuple[str, ...]  # background kinds


_HAIR: tuple[RGB, ...] = ((40, 28, 22), (92, 60, 38), (196, 160, 100), (130, 126, 122))

BODIES: tuple[Body, ...] = (
    Body("slim-1", "slim", 1.00, 0.84, 0.92, 0.84, 0.88, _HAIR[0]),
    Body("slim-2", "slim", 1.04, 0.80, 0.90, 0.82, 0.86, _HAIR[2]),
    Body("slim-3", "slim", 0.95, 0.86, 0.93, 0.86, 0.90, _HAIR[1]),
    Body("average-1", "average", 1.00, 1.00, 1.00, 1.00, 1.00, _HAIR[1]),
    Body("average-2", "average", 1.03, 0.97, 1.02, 0.98, 0.98, _HAIR[3]),
    Body("average-3", "average", 0.96, 1.03, 0.98, 1.02, 1.02, _HAIR[0]),
    Body("broad-1", "broad", 1.00, 1.18, 1.10, 1.16, 1.16, _HAIR[3]),
    Body("broad-2", "broad", 1.05, 1.14, 1.12, 1.12, 1.12, _HAIR[0]),
    Body("broad-3", "broad", 0.97, 1.24, 1.08, 1.20, 1.22, _HAIR[2]),
)

SKINS: dict[str, RGB] = {
    "tone-1": (242, 211, 186),
    "tone-2": (226, 184, 152),
    "tone-3": (200, 150, 112),
    "tone-4": (164, 114, 80),
    "tone-5": (120, 80, 54),
    "tone-6": (84, 56, 40),
}

CLOTHING: tuple[Clothing, ...] = (
    Clothing("navy-grey", (38, 62, 122), (88, 90, 96), (40, 40, 44)),
    Clothing("red-black", (176, 40, 44), (34, 34, 38), (230, 230, 230)),
    Clothing("green-navy", (46, 122, 76), (34, 44, 82), (40, 40, 44)),
    Clothing("teal-khaki", (24, 126, 132), (150, 132, 92), (90, 60, 40)),
    Clothing("purple-grey", (104, 58, 140), (70, 72, 78), (230, 230, 230)),
    Clothing("mustard-navy", (204, 152, 30), (30, 40, 78), (40, 40, 44)),
    Clothing("orange-black", (214, 102, 36), (36, 36, 40), (200, 200, 205)),
    Clothing("blue-khaki", (52, 110, 196), (126, 112, 80), (40, 40, 44)),
)

BACKGROUNDS: tuple[Background, ...] = (
    Background("plain-grey", "plain", ((214, 216, 218),)),
    Background("plain-blue", "plain", ((200, 216, 230),)),
    Background("plain-sand", "plain", ((228, 220, 200),)),
    Background("gradient-sky", "gradient", ((222, 232, 242), (160, 176, 196))),
    Background("gradient-warm", "gradient", ((238, 226, 208), (186, 160, 132))),
    Background("gradient-sage", "gradient", ((220, 230, 218), (150, 170, 150))),
    Background("room-cream", "room", ((232, 226, 210), (150, 124, 96))),
    Background("room-blue", "room", ((204, 218, 226), (120, 120, 126))),
    Background("busy-tiles", "busy", ((224, 214, 196), (168, 150, 126), (120, 104, 86))),
    Background("busy-panels", "busy", ((208, 220, 214), (150, 160, 170), (96, 104, 118))),
)

VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View("front", 0.0, 8.0),
        View("back", 180.0, 8.0),
        View("front_left", 45.0, 12.0),
        View("front_right", -45.0, 12.0),
        View("back_left", 135.0, 12.0),
        View("back_right", -135.0, 12.0),
        View("above", 180.0, 62.0),
    )
}

# The mirror image of each view (used by the mirror test and the label checks).
MIRROR_VIEW: dict[str, str] = {
    "front": "front",
    "back": "back",
    "above": "above",
    "front_left": "front_right",
    "front_right": "front_left",
    "back_left": "back_right",
    "back_right": "back_left",
}

_OBLIQUE = ("front_left", "front_right", "back_left", "back_right")

LEVELS: dict[int, Level] = {
    1: Level(1, 45, ("front", "back"), ("plain",)),
    2: Level(2, 30, ("front", "back", *_OBLIQUE), ("plain", "gradient")),
    3: Level(3, 20, ("front", "back", "above", *_OBLIQUE), ("gradient", "room")),
    4: Level(4, 10, ("above", *_OBLIQUE), ("room", "busy")),
}

# Arm poses, defined for the LEFT arm in the upper-trunk frame (x = the person's
# left, y = up, z = forward) as (upper-arm direction, forearm direction); the right
# arm is the mirror image, so no pose hints at the answer.
ARM_POSES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "down": ((0.16, -1.0, 0.0), (0.10, -1.0, 0.12)),
    "bent": ((0.14, -1.0, 0.04), (0.05, -0.12, 1.0)),
    "out": ((0.75, -0.66, 0.0), (0.80, -0.55, 0.12)),
    "hands-front": ((0.08, -1.0, 0.30), (-0.70, 0.10, 0.72)),
}
