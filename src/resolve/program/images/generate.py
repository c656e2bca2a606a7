"""Generate a set of left/right judgement images and its manifest, atomically.

``generate`` draws balanced specifications (:mod:`~resolve.program.images.spec`),
renders each one, and writes the files plus ``manifest.csv`` into a temporary
directory beside the output directory, which it renames into place only when
everything is written: a failure or an interruption never leaves a half-written
set. Rendering may use several processes; the files do not depend on it.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from resolve.errors import DataValidationError
from resolve.program.images.catalog import BODIES
from resolve.program.images.png import encode_png
from resolve.program.images.render import render
from resolve.program.images.scene import scene_for
from resolve.program.images.spec import ImageSpec, sample_specs
from resolve.program.images.svg import render_svg

__all__ = ["FORMATS", "MANIFEST_COLUMNS", "check_output_dir", "generate", "render_file"]

FORMATS = ("png", "svg")
MAX_IMAGES = 100_000
SIZES = (32, 2048)

#: Columns of ``manifest.csv``, in order (``svg_file`` only when both formats are written).
MANIFEST_COLUMNS = (
    "file",
    "movement",
    "side",
    "angle_deg",
    "view",
    "set",
    "level",
    "body",
    "build",
    "skin",
    "clothing",
    "background",
    "arms",
    "seed",
    "index",
    "angle_exact",
    "azimuth_jitter",
    "elevation_jitter",
    "distance_factor",
    "flexion_deg",
    "arm_spread_deg",
    "light_side",
    "sha256",
)

_BUILD = {b.name: b.build for b in BODIES}


def render_file(spec: ImageSpec, fmt: str, size: int) -> bytes:
    """The bytes of one image file (``fmt`` is ``"png"`` or ``"svg"``).

    Examples
    --------
    >>> spec = sample_specs(1, seed=2)[0]
    >>> render_file(spec, "png", 48)[:4], render_file(spec, "svg", 48)[:5]
    (b'\\x89PNG', b'<?xml')
    """
    scene = scene_for(spec)
    if fmt == "png":
        return encode_png(render(scene, size))
    return render_svg(scene, size).encode("utf-8")


def _names(spec: ImageSpec, formats: Sequence[str], width: int) -> dict[str, str]:
    return {fmt: f"{spec.set}-{spec.index + 1:0{width}d}.{fmt}" for fmt in formats}


def _write_chunk(
    args: tuple[list[ImageSpec], tuple[str, ...], int, int, str],
) -> list[str]:
    """Render and write some images; return the sha256 of each first file."""
    specs, formats, size, width, folder = args
    digests = []
    for spec in specs:
        for k, (fmt, name) in enumerate(_names(spec, formats, width).items()):
            data = render_file(spec, fmt, size)
            Path(folder, name).write_bytes(data)
            if k == 0:
                digests.append(hashlib.sha256(data).hexdigest())
    return digests


def _row(spec: ImageSpec, files: dict[str, str], digest: str) -> dict[str, Any]:
    j = spec.jitter
    row: dict[str, Any] = {
        "file": next(iter(files.values())),
        "movement": spec.movement,
        "side": spec.side,
        "angle_deg": spec.angle_deg,
        "view": spec.view,
        "set": spec.set,
        "level": spec.level,
        "body": spec.body,
        "build": _BUILD[spec.body],
        "skin": spec.skin,
        "clothing": spec.clothing,
        "background": spec.background,
        "arms": spec.arms,
        "seed": spec.seed,
        "index": spec.index,
        "angle_exact": round(spec.exact_angle, 2),
        "azimuth_jitter": j.azimuth,
        "elevation_jitter": j.elevation,
        "distance_factor": j.distance,
        "flexion_deg": j.flexion,
        "arm_spread_deg": j.arm_spread,
        "light_side": "left" if j.light_side < 0 else "right",
        "sha256": digest,
    }
    if len(files) > 1:
        row["svg_file"] = files["svg"]
    return row


def _check(n: Any, seed: Any, size: Any, formats: Iterable[str], jobs: Any) -> tuple[str, ...]:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
        raise DataValidationError(f"n must be a whole number in [1, {MAX_IMAGES}]; got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataValidationError(f"seed must be a whole number >= 0; got {seed!r}")
    lo, hi = SIZES
    if isinstance(size, bool) or not isinstance(size, int) or not lo <= size <= hi:
        raise DataValidationError(
            f"size must be a whole number of pixels in [{lo}, {hi}]; got {size!r}"
        )
    if isinstance(formats, str):
        formats = (formats,)
    fmts = tuple(dict.fromkeys(formats))
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise DataValidationError(
            f"formats must be one or both of png, svg; got {', '.join(map(repr, bad or fmts))}"
            if fmts
            else "formats must be one or both of png, svg; got none"
        )
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise DataValidationError(f"jobs must be a whole number >= 1; got {jobs!r}")
    # png first, so that ``file`` names the PNG when both are written
    return tuple(f for f in FORMATS if f in fmts)


def check_output_dir(out_dir: str | Path, *, overwrite: bool = False) -> None:
    """Refuse an output directory :func:`generate` would not write, before any work.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "old.png").write_bytes(b"")
    >>> check_output_dir(root)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: ...: directory is not empty; choose another or ...
    >>> check_output_dir(root, overwrite=True)
    """
    out_dir = Path(out_dir)
    if out_dir.is_symlink() and not out_dir.exists():
        raise DataValidationError(f"{out_dir}: is a broken symbolic link")
    if out_dir.exists() and not out_dir.is_dir():
        raise DataValidationError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise DataValidationError(
            f"{out_dir}: directory is not empty; choose another or replace it (--force)"
        )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _install(tmp: Path, target: Path) -> None:
    """Move the finished ``tmp`` to ``target`` (replacing an existing directory)."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old.rmdir()
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def generate(
    out_dir: str | Path,
    n: int,
    seed: int,
    set: str = "training",
    size: int = 256,
    formats: Sequence[str] = ("png",),
    *,
    level: int | None = None,
    jobs: int = 1,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Write ``n`` LRJ trunk images and ``manifest.csv`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Output directory; created (with parents) if missing. An existing
        non-empty directory is refused unless ``overwrite``, which replaces it
        (its old contents are removed).
    n : int
        Number of images, 1 to 100,000. Side x movement is exactly balanced
        when ``n`` is divisible by 4 (levels too, when divisible by 16 and no
        ``level`` is given).
    seed : int
        Non-negative; the same arguments always give byte-identical files.
    set : {"training", "test"}
        Training and test sets show disjoint persons, so they never share an
        image, whatever their seeds (see :mod:`resolve.program.images.spec`).
    size : int
        Width = height in pixels, 32 to 2048 (SVG: the view box).
    formats : sequence of {"png", "svg"}
        File formats to write for each image.
    level : int, optional
        Difficulty 1 (45 degrees, front/back, plain backdrop) to 4 (10 degrees,
        above/oblique, busy backdrop); by default all four, evenly.
    jobs : int
        Worker processes for rendering (the files are the same for any value).
    overwrite : bool
        Replace a non-empty ``out_dir``.
    progress : callable, optional
        Called with the number of images finished so far, now and then.

    Returns
    -------
    pandas.DataFrame
        The manifest: one row per image with the columns of
        :data:`MANIFEST_COLUMNS` (``file`` is the PNG when both formats are
        written; ``svg_file`` then names the SVG). ``sha256`` is the digest of
        ``file``.

    Raises
    ------
    DataValidationError
        A bad argument (named with its value), or ``out_dir`` is a file or a
        non-empty directory without ``overwrite``. Nothing is written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "lrj"
    >>> manifest = generate(out, 8, seed=1, size=64)
    >>> sorted(p.name for p in out.iterdir())[:2], len(manifest)
    (['manifest.csv', 'training-00001.png'], 8)
    >>> manifest.groupby(["movement", "side"]).size().tolist()
    [2, 2, 2, 2]
    """
    fmts = _check(n, seed, size, formats, jobs)
    specs = sample_specs(n, seed=seed, set=set, level=level)
    target = Path(out_dir).absolute()
    check_output_dir(target, overwrite=overwrite)
    created = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    width = max(5, len(str(n)))
    try:
        chunk = max(1, min(64, n // (jobs * 4) or 1))
        parts = [specs[i : i + chunk] for i in range(0, n, chunk)]
        tasks = [(part, fmts, size, width, str(tmp)) for part in parts]
        digests: list[str] = []
        if jobs == 1 or len(parts) == 1:
            results: Iterable[list[str]] = map(_write_chunk, tasks)
            for res in results:
                digests += res
                if progress is not None:
                    progress(len(digests))
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for res in pool.map(_write_chunk, tasks):
                    digests += res
                    if progress is not None:
                        progress(len(digests))
        rows = [_row(s, _names(s, fmts, width), d) for s, d in zip(specs, digests, strict=True)]
        columns = list(MANIFEST_COLUMNS) + (["svg_file"] if len(fmts) > 1 else [])
        with open(tmp / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp made it private
        _install(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for p in created:  # deepest first
            try:
                p.rmdir()
            except OSError:
                break
        raise
    return pd.DataFrame(rows, columns=columns)
