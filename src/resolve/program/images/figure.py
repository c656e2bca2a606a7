"""An articulated 3D human figure of our own geometry, posed with trunk rotation or side-bend.

Frame and units
---------------
Metres, in the figure's own frame: ``x`` points to the person's LEFT, ``y`` up,
``z`` forward (where the person faces); the origin is on the floor between the
feet. The frame is right-handed.

Conventions (the labels of every image rest on these)
-----------------------------------------------------
- **Left rotation**: the shoulders turn toward the person's left, so the left
  shoulder goes back (``-z``) and the right shoulder forward: a positive turn
  about ``+y``.
- **Left side-bend**: the trunk bends so that the left shoulder drops toward the
  left hip; the top of the trunk moves to ``+x``: a negative turn about ``+z``.

The movement is spread along the spine over the lumbar, lower thoracic and
upper thoracic regions (:mod:`resolve.program.images.trunk`: the lumbar spine
rotates little, the thoracic spine most); the pelvis and legs never move. The
trunk is a smooth mesh; head, neck, shoulders and limbs are ellipsoids and
capsules carried by the top of the spine. Sines and cosines are computed from
the absolute angle and the sign applied afterwards, so a left pose and its
right mirror are exact mirror images in floating point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from resolve.errors import DataValidationError
from resolve.program.images._vec import cross
from resolve.program.images.catalog import ARM_POSES, MATERIALS, Body, Material
from resolve.program.images.trunk import Mesh, spine, trunk_mesh

__all__ = [
    "MATERIALS",
    "Capsule",
    "Ellipsoid",
    "Figure",
    "Pose",
    "build_figure",
    "rotation_x",
    "rotation_y",
    "rotation_z",
]

Vec = NDArray[np.float64]


def _sin_cos(deg: float) -> tuple[float, float]:
    rad = math.radians(abs(deg))
    s, c = math.sin(rad), math.cos(rad)
    return (s if deg >= 0 else -s), c


def rotation_x(deg: float) -> Vec:
    """Rotation about ``+x`` by ``deg`` degrees (positive tips ``+y`` toward ``+z``).

    Examples
    --------
    >>> rotation_x(90.0).round(6) @ [0.0, 1.0, 0.0]
    array([0., 0., 1.])
    """
    s, c = _sin_cos(deg)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_y(deg: float) -> Vec:
    """Rotation about ``+y`` by ``deg`` degrees (positive turns ``+x`` toward ``-z``).

    Examples
    --------
    >>> rotation_y(90.0).round(6) @ [1.0, 0.0, 0.0]  # left shoulder goes back
    array([ 0.,  0., -1.])
    """
    s, c = _sin_cos(deg)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_z(deg: float) -> Vec:
    """Rotation about ``+z`` by ``deg`` degrees (positive turns ``+x`` toward ``+y``).

    Examples
    --------
    >>> rotation_z(-90.0).round(6) @ [0.0, 1.0, 0.0]  # the top tips to the left
    array([1., 0., 0.])
    """
    s, c = _sin_cos(deg)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Ellipsoid:
    """``center + rotation @ (radii * s)`` for unit vectors ``s``."""

    part: str
    material: Material
    center: Vec
    rotation: Vec
    radii: Vec


@dataclass(frozen=True)
class Capsule:
    """All points within ``radius`` of the segment from ``a`` to ``b``."""

    part: str
    material: Material
    a: Vec
    b: Vec
    radius: float


Primitive = Ellipsoid | Capsule


@dataclass(frozen=True)
class Pose:
    """A trunk movement and the small, label-neutral pose details.

    Parameters
    ----------
    movement : {"rotation", "side_bend"}
    side : {"left", "right"}
        The person's own side (see the module conventions).
    angle_deg : float
        Total trunk angle in degrees, > 0 (spread along the spine, see the module notes).
    flexion_deg : float
        Slight forward flexion of the trunk (both sides alike).
    arms : str
        A key of :data:`~resolve.program.images.catalog.ARM_POSES`.
    arm_spread_deg : float
        Extra abduction of both arms alike.
    """

    movement: Literal["rotation", "side_bend"]
    side: Literal["left", "right"]
    angle_deg: float
    flexion_deg: float = 0.0
    arms: str = "down"
    arm_spread_deg: float = 0.0


@dataclass(frozen=True)
class Figure:
    """The posed figure: trunk mesh, other primitives, and the joints used to check labels."""

    trunk: Mesh
    primitives: tuple[Primitive, ...]
    joints: dict[str, Vec] = field(default_factory=dict)
    #: orientation of the upper-trunk (chest) frame in the figure frame
    chest_frame: Vec = field(default_factory=lambda: np.eye(3))


def _unit(v: Vec) -> Vec:
    return v / math.sqrt(float(v @ v))


def _frame_along(direction: Vec) -> Vec:
    """A rotation whose ``y`` column is ``direction`` (for limbs and hands)."""
    y = _unit(direction)
    helper = np.array([0.0, 0.0, 1.0]) if abs(y[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = _unit(cross(y, helper))
    z = cross(x, y)
    return np.column_stack([x, y, z])


def _arm(
    side: float, shoulder: Vec, frame: Vec, body: Body, pose: Pose, prims: list[Primitive]
) -> Vec:
    upper_dir, fore_dir = (np.array(v, dtype=float) for v in ARM_POSES[pose.arms])
    spread = rotation_z(pose.arm_spread_deg)  # abducts the left arm (x grows, y falls)
    upper_dir = spread @ upper_dir
    fore_dir = spread @ fore_dir
    mirror = np.array([side, 1.0, 1.0])
    h, limbs = body.height, body.limbs
    upper = frame @ _unit(upper_dir * mirror)
    fore = frame @ _unit(fore_dir * mirror)
    elbow = shoulder + 0.29 * h * upper
    wrist = elbow + 0.25 * h * fore
    name = "left" if side > 0 else "right"
    r_up, r_fore = 0.043 * limbs, 0.034 * limbs
    prims.append(
        Capsule(
            f"{name}_sleeve", "top", shoulder, shoulder + 0.4 * (elbow - shoulder), r_up + 0.013
        )
    )
    # the sleeve hides the top of the upper arm, so the capsule starts below it
    prims.append(
        Capsule(f"{name}_upper_arm", "skin", shoulder + 0.3 * (elbow - shoulder), elbow, r_up)
    )
    prims.append(Capsule(f"{name}_forearm", "skin", elbow, wrist, r_fore))
    hand_frame = _frame_along(fore)
    prims.append(
        Ellipsoid(
            f"{name}_hand",
            "skin",
            wrist + 0.055 * h * fore,
            hand_frame,
            np.array([0.030, 0.062, 0.018]) * limbs,
        )
    )
    return elbow


def _leg(side: float, body: Body, prims: list[Primitive]) -> None:
    h, w, limbs = body.height, body.width, body.limbs
    name = "left" if side > 0 else "right"
    hip = np.array([side * 0.088 * w, 0.90 * h, 0.0])
    knee = np.array([side * 0.098 * w, 0.50 * h, 0.025])
    ankle = np.array([side * 0.105 * w, 0.085 * h, 0.0])
    toe = ankle + np.array([side * 0.012, -0.045 * h, 0.16 * h])
    r_thigh = 0.068 * limbs
    prims.append(
        Capsule(f"{name}_shorts_leg", "shorts", hip, hip + 0.40 * (knee - hip), r_thigh + 0.012)
    )
    prims.append(Capsule(f"{name}_thigh", "skin", hip + 0.3 * (knee - hip), knee, r_thigh))
    prims.append(Capsule(f"{name}_shin", "skin", knee, ankle, 0.047 * limbs))
    prims.append(Capsule(f"{name}_foot", "shoes", ankle, toe, 0.040 * limbs))


def build_figure(body: Body, pose: Pose) -> Figure:
    """Build the posed figure.

    Parameters
    ----------
    body : Body
        Proportions (see :data:`~resolve.program.images.catalog.BODIES`).
    pose : Pose
        The trunk movement and label-neutral pose details.

    Returns
    -------
    Figure
        Primitives in the figure frame, plus the joints ``left_shoulder``,
        ``right_shoulder``, ``left_hip``, ``right_hip``, ``trunk_base``,
        ``neck_base`` and ``head``.

    Examples
    --------
    >>> from resolve.program.images.catalog import BODIES
    >>> fig = build_figure(BODIES[0], Pose("rotation", "left", 30.0))
    >>> bool(fig.joints["left_shoulder"][2] < fig.joints["right_shoulder"][2])  # left goes back
    True
    """
    if not pose.angle_deg > 0:
        raise DataValidationError(f"angle_deg must be > 0; got {pose.angle_deg!r}")
    if pose.arms not in ARM_POSES:
        raise DataValidationError(
            f"arms must be one of {', '.join(sorted(ARM_POSES))}; got {pose.arms!r}"
        )
    h, w, d, s = body.height, body.width, body.depth, body.shoulders
    sign = 1.0 if pose.side == "left" else -1.0
    yaw = sign * pose.angle_deg if pose.movement == "rotation" else 0.0
    bend = sign * pose.angle_deg if pose.movement == "side_bend" else 0.0
    prims: list[Primitive] = []
    _leg(1.0, body, prims)
    _leg(-1.0, body, prims)
    mesh = trunk_mesh(body, yaw, bend, pose.flexion_deg)
    # shoulders, neck and head ride on the top of the spine
    heights = np.array([1.50, 1.52, 1.61, 1.70]) * h
    (p_sh, p_nb, p_nt, p_head), frames = spine(heights, body, yaw, bend, pose.flexion_deg)
    f3 = frames[-1]
    shoulder_l = p_sh + frames[0] @ [0.19 * s, -0.012 * h, -0.012 * d]
    shoulder_r = p_sh + frames[0] @ [-0.19 * s, -0.012 * h, -0.012 * d]
    for side, joint in ((1.0, shoulder_l), (-1.0, shoulder_r)):
        name = "left" if side > 0 else "right"
        prims.append(
            Ellipsoid(
                f"{name}_deltoid",
                "top",
                joint + frames[0] @ [side * -0.012, 0.004, 0.0],
                frames[0],
                np.array([0.052, 0.056, 0.054]) * body.limbs,
            )
        )
    prims.append(
        Capsule(
            "neck",
            "skin",
            p_nb + frames[1] @ [0.0, -0.02, -0.004],
            p_nt + frames[2] @ [0.0, 0.0, 0.004],
            0.046 * w,
        )
    )
    prims.append(
        Ellipsoid(
            "neckline",
            "skin",
            p_nb + frames[1] @ [0.0, -0.012 * h, 0.042 * d],
            frames[1],
            np.array([0.05 * w, 0.03 * h, 0.03 * d]),
        )
    )
    head = p_head + f3 @ [0.0, 0.0, 0.012]
    prims.append(Ellipsoid("head", "skin", head, f3, np.array([0.076, 0.104, 0.094])))
    prims.append(
        Ellipsoid(
            "hair", "hair", head + f3 @ [0.0, 0.018, -0.016], f3, np.array([0.081, 0.101, 0.094])
        )
    )
    prims.append(
        Ellipsoid(
            "nose", "skin", head + f3 @ [0.0, -0.012, 0.088], f3, np.array([0.013, 0.021, 0.022])
        )
    )
    for side in (1.0, -1.0):
        prims.append(
            Ellipsoid(
                "left_ear" if side > 0 else "right_ear",
                "skin",
                head + f3 @ [side * 0.076, -0.004, -0.004],
                f3,
                np.array([0.012, 0.026, 0.017]),
            )
        )
    _arm(1.0, shoulder_l, frames[0], body, pose, prims)
    _arm(-1.0, shoulder_r, frames[0], body, pose, prims)
    joints = {
        "left_shoulder": shoulder_l,
        "right_shoulder": shoulder_r,
        "left_hip": np.array([0.088 * w, 0.90 * h, 0.0]),
        "right_hip": np.array([-0.088 * w, 0.90 * h, 0.0]),
        "trunk_base": np.array([0.0, 1.02 * h, 0.0]),
        "neck_base": p_nb,
        "head": head,
    }
    return Figure(mesh, tuple(prims), joints, f3)
