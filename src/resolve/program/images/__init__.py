"""Procedural trunk images for left/right judgement (LRJ): our own figure, camera and renderer.

An articulated 3D figure (:mod:`~resolve.program.images.figure`, with a smooth
trunk mesh from :mod:`~resolve.program.images.trunk`) turns or bends its trunk
to the person's left or right; a software renderer
(:mod:`~resolve.program.images.render`) draws it to PNG, and
:mod:`~resolve.program.images.svg` to SVG. :func:`generate` writes balanced,
seeded image sets with a manifest; training and test sets never share an image.
Only numpy is needed. Importing :mod:`resolve` does not import this package.

Examples
--------
>>> from resolve.program.images import sample_specs
>>> spec = sample_specs(4, seed=7, set="test")[0]
>>> spec.set, spec.movement in ("rotation", "side_bend")
('test', True)
"""

from __future__ import annotations

from resolve.program.images.generate import FORMATS, MANIFEST_COLUMNS, generate, render_file
from resolve.program.images.spec import ImageSpec, Jitter, persons, sample_specs

__all__ = [
    "FORMATS",
    "MANIFEST_COLUMNS",
    "ImageSpec",
    "Jitter",
    "generate",
    "persons",
    "render_file",
    "sample_specs",
]
