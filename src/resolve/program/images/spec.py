"""What each image shows: the parameter tuple, balanced sampling and the disjoint sets.

Sets
----
A *person* is a (body, skin, clothing) triple. Persons are split once and for
all into the test persons (the sum of the three catalogue indices divisible
by 4: 108 of the 432) and the training persons (the rest). A set draws only
from its own persons, so no test image can show a person that any training
set, with any seed, can contain: training and test sets are disjoint by
construction, whatever the seeds.

Balance
-------
Image ``i`` (before shuffling) gets movement ``i % 2``, side ``(i // 2) % 2``
and, when no level is fixed, level ``(i // 4) % 4 + 1``: movement x side is
exactly balanced when ``n`` is divisible by 4, and levels too when ``n`` is
divisible by 16. The order is then shuffled by the seed.

Jitter
------
Small label-neutral variations: the angle varies by up to +/- 2 degrees around
its nominal value (nominal angles are 10, 20, 30, 45 degrees, so the sign never
flips), the camera by up to +/- 6 degrees of azimuth, +/- 3 degrees of
elevation and +/- 6 % of distance; the trunk flexes forward by 0-6 degrees;
both arms spread alike by -4 to +8 degrees; the light comes from the image's
left or right.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from resolve.errors import DataValidationError
from resolve.program.images.catalog import (
    ARM_POSES,
    BACKGROUNDS,
    BODIES,
    CLOTHING,
    LEVELS,
    MIRROR_VIEW,
    SKINS,
)

__all__ = [
    "MOVEMENTS",
    "SETS",
    "SIDES",
    "ImageSpec",
    "Jitter",
    "persons",
    "sample_specs",
]

MOVEMENTS: tuple[Literal["rotation", "side_bend"], ...] = ("rotation", "side_bend")
SIDES: tuple[Literal["left", "right"], ...] = ("left", "right")
SETS = ("training", "test")
_SET_CODE = {"training": 1, "test": 2}

ANGLE_JITTER = 2.0
AZIMUTH_JITTER = 6.0
ELEVATION_JITTER = 3.0
DISTANCE_JITTER = 0.06


@dataclass(frozen=True)
class Jitter:
    """Label-neutral variation of one image (see the module notes for the ranges)."""

    angle: float
    azimuth: float
    elevation: float
    distance: float
    flexion: float
    arm_spread: float
    light_side: int

    def as_tuple(self) -> tuple[float, ...]:
        return dataclasses.astuple(self)


@dataclass(frozen=True)
class ImageSpec:
    """The full parameter tuple of one image (the manifest row, before the file name)."""

    set: str
    seed: int
    index: int
    movement: Literal["rotation", "side_bend"]
    side: Literal["left", "right"]
    angle_deg: int
    level: int
    view: str
    body: str
    skin: str
    clothing: str
    background: str
    arms: str
    jitter: Jitter

    @property
    def exact_angle(self) -> float:
        """The trunk angle drawn (nominal plus jitter), degrees, always > 0."""
        return self.angle_deg + self.jitter.angle

    def key(self) -> tuple[object, ...]:
        """The parameters that decide the picture (not the set, seed or index)."""
        return (
            self.body,
            self.skin,
            self.clothing,
            self.background,
            self.view,
            self.angle_deg,
            self.side,
            self.movement,
            self.arms,
            self.jitter.as_tuple(),
        )

    def mirrored(self) -> ImageSpec:
        """The mirror-image scene: other side, mirrored view, camera and light.

        Examples
        --------
        >>> spec = sample_specs(4, seed=3, set="training")[0]
        >>> spec.mirrored().mirrored() == spec
        True
        """
        j = self.jitter
        return dataclasses.replace(
            self,
            side="right" if self.side == "left" else "left",
            view=MIRROR_VIEW[self.view],
            jitter=dataclasses.replace(j, azimuth=-j.azimuth, light_side=-j.light_side),
        )


def persons(set: str) -> list[tuple[str, str, str]]:
    """The (body, skin, clothing) triples a set may show.

    Examples
    --------
    >>> len(persons("training")), len(persons("test"))
    (324, 108)
    >>> set(persons("training")) & set(persons("test"))
    set()
    """
    _check_set(set)
    want_test = set == "test"
    out = []
    for b, body in enumerate(BODIES):
        for s, skin in enumerate(SKINS):
            for c, clothing in enumerate(CLOTHING):
                if ((b + s + c) % 4 == 0) == want_test:
                    out.append((body.name, skin, clothing.name))
    return out


def _check_set(set: str) -> None:
    if set not in SETS:
        raise DataValidationError(f"set must be one of {', '.join(SETS)}; got {set!r}")


def sample_specs(
    n: int, *, seed: int, set: str = "training", level: int | None = None
) -> list[ImageSpec]:
    """Draw ``n`` balanced image specifications, deterministically from ``seed``.

    Parameters
    ----------
    n : int
        Number of images, >= 1.
    seed : int
        Non-negative seed; the same ``(n, seed, set, level)`` give the same specs.
    set : {"training", "test"}
        Which persons to draw from (see the module notes).
    level : int, optional
        Fix the difficulty level (1-4); by default levels rotate evenly.

    Returns
    -------
    list of ImageSpec

    Examples
    --------
    >>> specs = sample_specs(8, seed=0, set="test")
    >>> sorted((s.movement, s.side) for s in specs).count(("rotation", "left"))
    2
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataValidationError(f"n must be a whole number >= 1; got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataValidationError(f"seed must be a whole number >= 0; got {seed!r}")
    _check_set(set)
    if level is not None and level not in LEVELS:
        raise DataValidationError(f"level must be one of 1, 2, 3, 4; got {level!r}")
    rng = np.random.default_rng([seed, _SET_CODE[set]])
    people = persons(set)
    arms = sorted(ARM_POSES)
    order = rng.permutation(n)
    specs = []
    for index in range(n):
        cell = int(order[index])
        lv = LEVELS[level if level is not None else cell // 4 % 4 + 1]
        view = lv.views[int(rng.integers(len(lv.views)))]
        bgs = [bg.name for bg in BACKGROUNDS if bg.kind in lv.backgrounds]
        body, skin, clothing = people[int(rng.integers(len(people)))]
        u = rng.uniform(-1.0, 1.0, size=4)
        jitter = Jitter(
            angle=round(float(u[0]) * ANGLE_JITTER, 2),
            azimuth=round(float(u[1]) * AZIMUTH_JITTER, 2),
            elevation=round(float(u[2]) * ELEVATION_JITTER, 2),
            distance=round(1.0 + float(u[3]) * DISTANCE_JITTER, 3),
            flexion=round(float(rng.uniform(0.0, 6.0)), 2),
            arm_spread=round(float(rng.uniform(-4.0, 8.0)), 2),
            light_side=1 if rng.integers(2) else -1,
        )
        specs.append(
            ImageSpec(
                set=set,
                seed=seed,
                index=index,
                movement=MOVEMENTS[cell % 2],
                side=SIDES[cell // 2 % 2],
                angle_deg=lv.angle_deg,
                level=lv.number,
                view=view,
                body=body,
                skin=skin,
                clothing=clothing,
                background=bgs[int(rng.integers(len(bgs)))],
                arms=arms[int(rng.integers(len(arms)))],
                jitter=jitter,
            )
        )
    return specs
