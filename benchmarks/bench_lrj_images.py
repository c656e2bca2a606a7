"""Benchmark: LRJ trunk images per second at 256 px, end to end (render, PNG, files, manifest).

Target (issue 12): >= 50 images/s on the 2-core reference machine. Each run calls
``resolve.program.images.generate`` for ``--n`` images into a fresh temporary
directory (so it includes PNG encoding, writing the files and the manifest, and
the atomic rename); the median of ``--repeat`` runs is reported, for one process
and for ``--jobs`` worker processes. A per-stage breakdown (one process) follows.

    .venv/bin/python benchmarks/bench_lrj_images.py [--n 200] [--repeat 5] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from resolve.program.images import generate
from resolve.program.images.png import encode_png
from resolve.program.images.render import render
from resolve.program.images.scene import scene_for
from resolve.program.images.spec import sample_specs
from resolve.program.images.svg import render_svg


def _rate(n: int, size: int, jobs: int, repeat: int, root: Path) -> list[float]:
    rates = []
    for run in range(repeat):
        out = root / f"run-{jobs}-{run}"
        start = time.perf_counter()
        generate(out, n, seed=run, size=size, jobs=jobs)
        rates.append(n / (time.perf_counter() - start))
        shutil.rmtree(out)
    return rates


def _stage(label: str, fn: object, items: list[object], repeat: int) -> tuple[str, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)  # type: ignore[operator]
        times.append((time.perf_counter() - start) / len(items))
    return label, statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "warm-up", 8, seed=99, size=args.size)
        for jobs in sorted({1, args.jobs}):
            rates = _rate(args.n, args.size, jobs, args.repeat, root)
            print(
                f"generate {args.n} x {args.size} px, jobs={jobs}: median "
                f"{statistics.median(rates):.1f} images/s "
                f"(min {min(rates):.1f}, max {max(rates):.1f}; {args.repeat} runs)"
            )
    specs = sample_specs(64, seed=7)
    scenes = [scene_for(s) for s in specs]
    images = [render(s, args.size) for s in scenes]
    stages = [
        _stage("scene (figure, trunk mesh, camera)", scene_for, list(specs), args.repeat),
        _stage(
            "render (ray casting + mesh, 2x2 samples)",
            lambda s: render(s, args.size),
            list(scenes),
            args.repeat,
        ),
        _stage("PNG encoding", encode_png, list(images), args.repeat),
        _stage("SVG (not in the default set)", lambda s: render_svg(s, args.size), list(scenes), 1),
    ]
    print("per image, one process (median ms):")
    for label, ms in stages:
        print(f"  {label:44s} {ms:6.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
