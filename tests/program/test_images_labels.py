"""LRJ images: the labels are proved by geometry (mirror test, 3D shoulder line, projection)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from resolve.program.images.camera import look_at
from resolve.program.images.catalog import BACKGROUNDS, BODIES, MIRROR_VIEW, VIEWS
from resolve.program.images.figure import Capsule, Ellipsoid, Pose, build_figure
from resolve.program.images.render import render
from resolve.program.images.scene import figure_for, scene_for
from resolve.program.images.spec import ImageSpec, Jitter, sample_specs

NEUTRAL = Jitter(
    angle=0.0, azimuth=0.0, elevation=0.0, distance=1.0, flexion=0.0, arm_spread=0.0, light_side=1
)


def _spec(**changes: object) -> ImageSpec:
    base = ImageSpec(
        set="training",
        seed=0,
        index=0,
        movement="rotation",
        side="left",
        angle_deg=30,
        level=2,
        view="front",
        body="average-1",
        skin="tone-3",
        clothing="navy-grey",
        background="plain-grey",
        arms="down",
        jitter=NEUTRAL,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _shoulder_yaw(spec: ImageSpec) -> float:
    """Yaw of the shoulder line (right -> left shoulder), degrees; > 0 = turned to the left."""
    j = figure_for(spec).joints
    v = j["left_shoulder"] - j["right_shoulder"]
    return math.degrees(math.atan2(-v[2], v[0]))


# (a) mirror: a left movement, mirrored, is the right movement of the mirrored scene --------


@pytest.mark.parametrize("movement", ["rotation", "side_bend"])
def test_front_view_left_mirrored_is_right_exactly(movement: str) -> None:
    """Front view, symmetric body, light on the midline: fliplr(left) == right, pixel for pixel.

    Exact equality (not a tolerance) holds because the renderer is sign-symmetric in
    floating point: sines come from absolute angles, pixel rays are symmetric about the
    image's centre line, the trunk mesh is built and triangulated mirror-symmetrically,
    and the 2x2 supersamples are summed pairwise. Only an exact depth tie between two
    surfaces could break it, which these scenes do not contain.
    """
    left = _spec(movement=movement, side="left", angle_deg=45)
    right = _spec(movement=movement, side="right", angle_deg=45)
    scene_l, scene_r = scene_for(left), scene_for(right)
    midline_light = np.array([0.0, 0.7, -0.714])
    img_l = render(dataclasses.replace(scene_l, light=midline_light), 96)
    img_r = render(dataclasses.replace(scene_r, light=midline_light), 96)
    assert np.array_equal(img_l[:, ::-1], img_r)
    # and the test has teeth: the image is not symmetric, left differs from right
    assert not np.array_equal(img_l, img_r)
    assert int(np.abs(img_l.astype(int) - img_r.astype(int)).max()) > 60


@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("movement", ["rotation", "side_bend"])
def test_every_view_mirrors_exactly(view: str, movement: str) -> None:
    """Any view, jitter and backdrop: the mirrored spec (other side, mirrored view, camera
    azimuth and light) renders exactly as the horizontally flipped image."""
    jitter = Jitter(
        angle=1.3,
        azimuth=-4.2,
        elevation=2.1,
        distance=0.97,
        flexion=4.0,
        arm_spread=3.5,
        light_side=-1,
    )
    spec = _spec(
        movement=movement,
        view=view,
        jitter=jitter,
        arms="bent",
        background=BACKGROUNDS[len(view) % len(BACKGROUNDS)].name,
    )
    mirror = spec.mirrored()
    assert mirror.side == "right" and mirror.view == MIRROR_VIEW[view]
    assert np.array_equal(render(scene_for(spec), 80)[:, ::-1], render(scene_for(mirror), 80))


def test_generated_specs_mirror_exactly() -> None:
    for spec in sample_specs(12, seed=11, set="test"):
        img = render(scene_for(spec), 64)
        assert np.array_equal(img[:, ::-1], render(scene_for(spec.mirrored()), 64)), spec


def test_figures_are_mirror_symmetric_in_3d() -> None:
    """The right pose is the left pose with x negated, primitive by primitive and in the mesh."""
    for body in BODIES:
        for movement in ("rotation", "side_bend"):
            a = build_figure(body, Pose(movement, "left", 37.0, 3.0, "hands-front", 2.0))
            b = build_figure(body, Pose(movement, "right", 37.0, 3.0, "hands-front", 2.0))
            flip = np.array([-1.0, 1.0, 1.0])
            by_part = {p.part: p for p in b.primitives}
            for p in a.primitives:
                other = (
                    p.part.replace("left_", "@").replace("right_", "left_").replace("@", "right_")
                )
                q = by_part[other]
                if isinstance(p, Ellipsoid):
                    assert isinstance(q, Ellipsoid)
                    assert np.array_equal(p.center * flip, q.center)
                    assert np.array_equal(p.radii, q.radii)
                else:
                    assert isinstance(p, Capsule) and isinstance(q, Capsule)
                    assert np.array_equal(p.a * flip, q.a) and np.array_equal(p.b * flip, q.b)
            mirrored = {tuple(v) for v in (a.trunk.vertices * flip).tolist()}
            assert mirrored == {tuple(v) for v in b.trunk.vertices.tolist()}


# (b) every image of a generated set: the shoulder line turns / tilts the labelled way in 3D ----


@pytest.mark.parametrize("image_set", ["training", "test"])
def test_every_generated_image_moves_the_labelled_way(image_set: str) -> None:
    specs = sample_specs(400, seed=5, set=image_set)
    for spec in specs:
        fig = figure_for(spec)
        j = fig.joints
        sign = 1.0 if spec.side == "left" else -1.0
        shoulders = j["left_shoulder"] - j["right_shoulder"]
        axis = j["neck_base"] - j["trunk_base"]
        yaw = _shoulder_yaw(spec)
        tilt = math.degrees(math.atan2(-shoulders[1], math.hypot(shoulders[0], shoulders[2])))
        if spec.movement == "rotation":
            # left rotation: left shoulder back (-z), right forward; yaw = the labelled angle
            assert sign * yaw > 0 and sign * (j["right_shoulder"][2] - j["left_shoulder"][2]) > 0
            assert yaw == pytest.approx(sign * spec.exact_angle, abs=1e-6)
            assert abs(tilt) < 1e-6  # no side-bend hidden in a rotation
        else:
            # left side-bend: left shoulder lower, trunk axis leaning to the left (+x)
            assert sign * tilt > 0 and sign * axis[0] > 0
            assert sign * (j["right_shoulder"][1] - j["left_shoulder"][1]) > 0
            assert abs(yaw) < 1e-6
        assert spec.exact_angle >= spec.angle_deg - 2.0 > 0


def test_pelvis_and_legs_stay_put() -> None:
    still = build_figure(BODIES[4], Pose("rotation", "left", 1e-9))
    legs = {
        p.part: p
        for p in still.primitives
        if "leg" in p.part or p.part.endswith(("thigh", "shin", "foot"))
    }
    assert len(legs) == 8
    for movement in ("rotation", "side_bend"):
        for side in ("left", "right"):
            fig = build_figure(BODIES[4], Pose(movement, side, 45.0, 5.0))  # type: ignore[arg-type]
            for p in fig.primitives:
                if p.part in legs:
                    q = legs[p.part]
                    assert isinstance(p, Capsule) and isinstance(q, Capsule)
                    assert np.array_equal(p.a, q.a) and np.array_equal(p.b, q.b)
            below = still.trunk.vertices[:, 1] < 1.0
            assert np.array_equal(fig.trunk.vertices[below], still.trunk.vertices[below])


def test_movement_is_spread_over_the_spine() -> None:
    """Rotation grows from the lumbar to the thoracic spine; the lumbar spine turns least."""
    from resolve.program.images.trunk import spine

    heights = np.array([1.05, 1.17, 1.30, 1.50])
    _, frames = spine(heights, BODIES[3], 40.0, 0.0, 0.0)
    yaws = [math.degrees(math.atan2(f[0, 2], f[0, 0])) for f in frames]
    assert yaws == sorted(yaws) and yaws[-1] == pytest.approx(40.0)
    assert yaws[1] == pytest.approx(40.0 * 0.15, abs=0.01)  # the lumbar share


# the image: the person's own left, whatever the camera ------------------------------------


@pytest.mark.parametrize(
    ("view", "left_on_image_right"),
    [("front", True), ("back", False), ("front_left", True), ("back_right", False)],
)
def test_person_left_appears_where_it_should(view: str, left_on_image_right: bool) -> None:
    fig = build_figure(BODIES[3], Pose("rotation", "left", 10.0))
    cam = look_at(VIEWS[view], target=(0.0, 1.24, 0.0))
    left, right = cam.project(
        np.stack([fig.joints["left_shoulder"], fig.joints["right_shoulder"]]), 256
    )
    assert (left[0] > right[0]) == left_on_image_right


def test_side_bend_is_visible_where_expected() -> None:
    """Front view: a left side-bend moves the figure's upper part to the image's right."""
    imgs = {}
    for side in ("left", "right"):
        imgs[side] = render(scene_for(_spec(movement="side_bend", side=side, angle_deg=45)), 96)
    bg = imgs["left"][0, 0]
    cols = {}
    for side, img in imgs.items():
        top = np.any(np.abs(img[15:40].astype(int) - bg.astype(int)).sum(axis=2) > 30, axis=0)
        cols[side] = float(np.mean(np.nonzero(top)[0]))
    assert cols["left"] > 48 + 5 and cols["right"] < 48 - 5
