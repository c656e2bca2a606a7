"""LRJ image sets: balance, disjoint training/test sets, determinism, PNG and SVG files."""

from __future__ import annotations

import csv
import hashlib
import importlib
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolve.errors import DataValidationError
from resolve.program.images import MANIFEST_COLUMNS, generate, persons, sample_specs
from resolve.program.images.catalog import BACKGROUNDS, BODIES, CLOTHING, LEVELS, SKINS
from resolve.program.images.png import encode_png
from resolve.program.images.render import render
from resolve.program.images.scene import scene_for


def decode_png(data: bytes) -> np.ndarray:
    """A tiny PNG decoder (8-bit RGB, filters 0-4), independent of the encoder."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) == (8, 2, 0)
    raw = zlib.decompress(idat)
    stride = width * 3
    out = np.zeros((height, stride), dtype=np.int64)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]
        prev = out[y - 1] if y else np.zeros(stride, dtype=np.int64)
        cur = out[y]
        for x in range(stride):
            a = cur[x - 3] if x >= 3 else 0
            b = prev[x]
            c = prev[x - 3] if x >= 3 else 0
            pred = {0: 0, 1: a, 2: b, 3: (a + b) // 2}.get(ftype)
            if pred is None:  # Paeth
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + pred) % 256
    return out.reshape(height, width, 3).astype(np.uint8)


# (c) balance -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 16, 48, 100])
def test_side_and_movement_exactly_balanced(n: int) -> None:
    specs = sample_specs(n, seed=n, set="training")
    cells = pd.Series([(s.movement, s.side) for s in specs]).value_counts()
    assert len(cells) == 4 and set(cells) == {n // 4}


def test_levels_balanced_and_fixed_level_respected() -> None:
    specs = sample_specs(64, seed=2, set="test")
    levels = pd.Series([s.level for s in specs]).value_counts()
    assert set(levels.index) == {1, 2, 3, 4} and set(levels) == {16}
    for spec in specs:
        lv = LEVELS[spec.level]
        assert spec.angle_deg == lv.angle_deg and spec.view in lv.views
        kind = next(b.kind for b in BACKGROUNDS if b.name == spec.background)
        assert kind in lv.backgrounds
    only = sample_specs(20, seed=2, level=4)
    assert {s.level for s in only} == {4} and {s.angle_deg for s in only} == {10}
    assert {s.view for s in only} <= {
        "above",
        "front_left",
        "front_right",
        "back_left",
        "back_right",
    }


def test_odd_counts_stay_nearly_balanced() -> None:
    cells = pd.Series([(s.movement, s.side) for s in sample_specs(7, seed=1)]).value_counts()
    assert cells.max() - cells.min() <= 1 and cells.sum() == 7


# (d) disjoint sets -----------------------------------------------------------------------


def test_persons_split_once_for_all() -> None:
    train, test = set(persons("training")), set(persons("test"))
    assert not train & test
    assert len(train | test) == len(BODIES) * len(SKINS) * len(CLOTHING)
    # the test set still has every body, skin tone and clothing, in new combinations
    assert {p[0] for p in test} == {b.name for b in BODIES}
    assert {p[1] for p in test} == set(SKINS) and {p[2] for p in test} == {c.name for c in CLOTHING}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**40), level=st.sampled_from([None, 1, 2, 3, 4]))
def test_no_seed_makes_a_training_image_of_a_test_person(seed: int, level: int | None) -> None:
    test_persons = set(persons("test"))
    for spec in sample_specs(24, seed=seed, set="training", level=level):
        assert (spec.body, spec.skin, spec.clothing) not in test_persons
    for spec in sample_specs(24, seed=seed, set="test", level=level):
        assert (spec.body, spec.skin, spec.clothing) in test_persons


def test_sets_disjoint_by_parameters_and_by_file_hash(tmp_path: Path) -> None:
    keys: dict[str, set[object]] = {"training": set(), "test": set()}
    hashes: dict[str, set[str]] = {"training": set(), "test": set()}
    for image_set in ("training", "test"):
        for seed in (1, 2, 3):
            keys[image_set] |= {s.key() for s in sample_specs(200, seed=seed, set=image_set)}
            out = tmp_path / f"{image_set}-{seed}"
            manifest = generate(out, 12, seed, set=image_set, size=48)
            files = {hashlib.sha256((out / f).read_bytes()).hexdigest() for f in manifest.file}
            assert files == set(manifest.sha256)
            hashes[image_set] |= files
    assert len(keys["training"]) == 600 and len(keys["test"]) == 600
    assert not keys["training"] & keys["test"]
    assert len(hashes["training"]) == 36 and not hashes["training"] & hashes["test"]


# (e) determinism ------------------------------------------------------------------------


def _all_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", 8, 42, size=64, formats=("png", "svg"))
    generate(tmp_path / "b", 8, 42, size=64, formats=("png", "svg"), jobs=2)
    generate(tmp_path / "c", 8, 43, size=64, formats=("png", "svg"))
    files_a, files_b, files_c = (_all_bytes(tmp_path / x) for x in "abc")
    assert files_a == files_b  # including manifest.csv; worker processes change nothing
    assert len(files_a) == 17
    assert files_a["manifest.csv"] != files_c["manifest.csv"]
    differ = [k for k in files_a if k.endswith(".png") and files_a[k] != files_c[k]]
    assert len(differ) == 8
    assert list(a.columns) == [*MANIFEST_COLUMNS, "svg_file"]


# (f) PNG files decode and have the requested size -------------------------------------------


def test_png_files_decode_to_the_rendered_pixels(tmp_path: Path) -> None:
    manifest = generate(tmp_path / "set", 4, 9, size=40, set="test")
    for row in manifest.itertuples():
        data = (tmp_path / "set" / row.file).read_bytes()
        pixels = decode_png(data)
        assert pixels.shape == (40, 40, 3)
        spec = sample_specs(4, seed=9, set="test")[row.index]
        assert np.array_equal(pixels, render(scene_for(spec), 40))


def test_png_matches_matplotlib_reader(tmp_path: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    manifest = generate(tmp_path / "set", 4, 3, size=72)
    for name in manifest.file:
        data = (tmp_path / "set" / name).read_bytes()
        read = image.imread(tmp_path / "set" / name)
        assert read.shape == (72, 72, 3)
        assert np.array_equal(np.rint(read * 255).astype(np.uint8), decode_png(data))


def test_png_encoder_round_trips_arbitrary_pixels(rng: np.random.Generator) -> None:
    pixels = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png(pixels)), pixels)
    with pytest.raises(ValueError, match="uint8"):
        encode_png(pixels.astype(np.int32))


# (g) SVG is well-formed ------------------------------------------------------------------


def test_svg_is_well_formed_and_complete(tmp_path: Path) -> None:
    manifest = generate(tmp_path / "svg", 8, 5, size=300, formats=("svg",), level=4)
    assert all(f.endswith(".svg") for f in manifest.file)
    ns = "{http://www.w3.org/2000/svg}"
    for name in manifest.file:
        root = ET.parse(tmp_path / "svg" / name).getroot()
        assert root.tag == f"{ns}svg" and root.get("viewBox") == "0 0 300 300"
        assert len(root.findall(f"{ns}polygon")) > 150  # trunk triangles and limbs
        assert len(root.findall(f"{ns}ellipse")) >= 8  # head, hair, hands ...


# the manifest ----------------------------------------------------------------------------


def test_manifest_rows_describe_the_files(tmp_path: Path) -> None:
    out = tmp_path / "m"
    generate(out, 16, 7, size=32, set="test")
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 16 and set(rows[0]) == set(MANIFEST_COLUMNS)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [r["file"] for r in rows] + ["manifest.csv"]
    )
    for r in rows:
        assert r["set"] == "test" and r["seed"] == "7"
        assert r["movement"] in {"rotation", "side_bend"} and r["side"] in {"left", "right"}
        assert abs(float(r["angle_exact"]) - int(r["angle_deg"])) <= 2.0
        assert int(r["level"]) in LEVELS and LEVELS[int(r["level"])].angle_deg == int(
            r["angle_deg"]
        )
        assert r["build"] == r["body"].split("-")[0]


def test_bad_arguments_are_refused_before_writing(tmp_path: Path) -> None:
    cases = [
        ({"n": 0}, "n must be"),
        ({"seed": -1}, "seed must be"),
        ({"size": 16}, "size must be"),
        ({"formats": ("gif",)}, "'gif'"),
        ({"set": "validation"}, "'validation'"),
        ({"level": 5}, "level must be"),
        ({"jobs": 0}, "jobs must be"),
    ]
    for extra, message in cases:
        args: dict[str, object] = {"n": 4, "seed": 1, **extra}
        with pytest.raises(DataValidationError, match=message):
            generate(tmp_path / "x", **args)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen_module = importlib.import_module("resolve.program.images.generate")
    calls = {"n": 0}
    real = gen_module.render_file

    def flaky(*args: object, **kwargs: object) -> bytes:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gen_module, "render_file", flaky)
    with pytest.raises(RuntimeError, match="disk on fire"):
        generate(tmp_path / "deep" / "out", 6, 1, size=32)
    assert list(tmp_path.iterdir()) == []  # no output, no temporary directory, no parents


def test_overwrite_replaces_the_whole_directory(tmp_path: Path) -> None:
    out = tmp_path / "o"
    generate(out, 8, 1, size=32)
    with pytest.raises(DataValidationError, match="not empty"):
        generate(out, 4, 2, size=32)
    assert len(list(out.iterdir())) == 9
    generate(out, 4, 2, size=32, overwrite=True)
    assert len(list(out.iterdir())) == 5 and sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_import_resolve_does_not_import_the_renderer() -> None:
    code = (
        "import sys, resolve, resolve.cli; "
        "print(any(m.startswith('resolve.program.images') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
