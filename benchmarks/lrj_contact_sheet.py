"""Contact sheet of generated LRJ trunk images, each labelled, for looking at them.

Tiles ``--n`` images (default 48, all four levels, both sets) with their
labels (movement, side, angle, view, set) into one PNG, by default
``docs/img/lrj-contact-sheet.png``. Needs matplotlib (the ``plot`` extra) for the
labels; the images themselves come from :mod:`resolve.program.images`.

    .venv/bin/python benchmarks/lrj_contact_sheet.py [--n 48] [--seed 2026] [--out FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from resolve.program.images.render import render
from resolve.program.images.scene import scene_for
from resolve.program.images.spec import sample_specs

SHORT = {"rotation": "rotation", "side_bend": "side-bend"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=48, help="images (a multiple of 8)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--size", type=int, default=256, help="rendered size, pixels")
    parser.add_argument("--out", type=Path, default=Path("docs/img/lrj-contact-sheet.png"))
    parser.add_argument("--dpi", type=int, default=74, help="sheet resolution (74: under 400 KB)")
    args = parser.parse_args()
    half = args.n // 2
    specs = sample_specs(half, seed=args.seed, set="training") + sample_specs(
        args.n - half, seed=args.seed, set="test"
    )
    cols = 8
    rows = -(-len(specs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.78), dpi=100)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, spec in zip(axes.ravel(), specs, strict=False):
        ax.imshow(render(scene_for(spec), args.size), interpolation="lanczos")
        ax.set_title(
            f"{SHORT[spec.movement]} {spec.side.upper()} {spec.angle_deg}°\n"
            f"{spec.view.replace('_', '-')} · L{spec.level} · {spec.set}",
            fontsize=6.5,
            pad=2,
        )
    fig.subplots_adjust(left=0.005, right=0.995, top=0.97, bottom=0.005, wspace=0.04, hspace=0.3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=args.dpi, pil_kwargs={"optimize": True})
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB, {len(specs)} images)")


if __name__ == "__main__":
    main()
