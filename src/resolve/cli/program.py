"""``resolve program ...``: the retraining programme's files (LRJ images, the template)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from resolve.cli._app import app
from resolve.errors import DataValidationError

__all__ = ["lrj_images", "template_show"]

program_app = typer.Typer(
    help="The retraining programme: left/right judgement images, the programme template.",
    no_args_is_help=True,
)
template_app = typer.Typer(help="The programme template file.", no_args_is_help=True)
program_app.add_typer(template_app, name="template")
app.add_typer(program_app, name="program")

_FORMATS = {"png": ("png",), "svg": ("svg",), "both": ("png", "svg")}


def _check(value: object, allowed: tuple[object, ...], option: str) -> None:
    if value not in allowed:
        shown = ", ".join(str(a) for a in allowed)
        raise DataValidationError(f"{option} must be one of {shown}; got {value!r}")


@program_app.command("lrj-images")
def lrj_images(
    out: Annotated[Path, typer.Option("--out", help="Directory to write (must be new or empty).")],
    n: Annotated[int, typer.Option("--n", help="Number of images (1-100000).")] = 48,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (>= 0).")] = 1,
    image_set: Annotated[
        str, typer.Option("--set", help="training or test (they never share an image).")
    ] = "training",
    size: Annotated[int, typer.Option("--size", help="Image width = height, pixels.")] = 256,
    fmt: Annotated[str, typer.Option("--format", help="png, svg or both.")] = "png",
    level: Annotated[
        int | None,
        typer.Option(
            "--level", help="Difficulty 1-4 only (default: all four, evenly).", show_default=False
        ),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Rendering processes.")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace DIR if it is not empty.")] = False,
) -> None:
    """Write procedural trunk images for left/right judgement and their manifest.csv.

    Each image shows a figure whose trunk is rotated or side-bent to the
    person's left or right; manifest.csv gives every image's label (movement,
    side, angle_deg, view, set, level ...). Side x movement is exactly balanced
    when N is divisible by 4. The same options always give the same files.
    """
    _check(image_set, ("training", "test"), "--set")
    _check(fmt, tuple(_FORMATS), "--format")
    if level is not None:
        _check(level, (1, 2, 3, 4), "--level")
    for option, value, low, high in (
        ("--n", n, 1, 100_000),
        ("--seed", seed, 0, None),
        ("--size", size, 32, 2048),
        ("--jobs", jobs, 1, 64),
    ):
        if value < low or (high is not None and value > high):
            bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise DataValidationError(f"{option} must be a whole number {bound}; got {value}")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from resolve.program.images import generate
    from resolve.program.images.generate import check_output_dir

    check_output_dir(out, overwrite=force)  # before the progress bar starts
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("rendering", total=n)
        manifest = generate(
            out,
            n,
            seed,
            set=image_set,
            size=size,
            formats=_FORMATS[fmt],
            level=level,
            jobs=jobs,
            overwrite=force,
            progress=lambda done: progress.update(task, completed=done),
        )
    cells = Counter(zip(manifest["movement"], manifest["side"], strict=True))
    counts = set(cells.values())
    balance = (
        f"{counts.pop()} per movement x side"
        if len(cells) == 4 and len(counts) == 1
        else "movement x side: " + ", ".join(f"{m} {s} {c}" for (m, s), c in sorted(cells.items()))
    )
    typer.echo(
        f"wrote {n} images ({fmt}, {size} px) and manifest.csv to {out} "
        f"(set {image_set}, seed {seed}; {balance})"
    )


@template_app.command("show")
def template_show() -> None:
    """Print the bundled RESOLVE programme template (TOML, with its comments).

    Save it as the start of your own: resolve program template show > my-programme.toml
    """
    from resolve.program.template import template_text

    typer.echo(template_text(), nl=False)
