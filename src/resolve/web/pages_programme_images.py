"""The trunk images of the left/right judgement task, rendered on request and kept in memory.

The programme's image bank (:mod:`resolve.ops.programme_images`) is a fixed,
seeded set of image specifications, the training set for practice and the test
set for the end-of-treatment block; a block's stimuli name their image by its
file name in that bank (``training-00017.png``). This module turns an id into PNG bytes.

Why render on request rather than write the bank to a folder on first use:
the renderer is deterministic (the same name gives byte-identical PNGs in every
worker process, on every machine), it needs no writable folder (the app may run
read-only, several workers would otherwise race to create the same folder, and
a PostgreSQL deployment has no database folder to put it beside), and it is fast
enough: about 35 ms for one 384 px image on one core, so a block of 24-40
images costs about a second once, while the task page preloads them, and every
later request for the image is served from a bounded in-memory LRU cache
(:data:`CACHE_IMAGES` images of about 25 kB each, some 13 MB per process).

Examples
--------
>>> image_png("test-00001.png")[:4]
b'\\x89PNG'
>>> image_response("../etc/passwd").status_code
404
"""

from __future__ import annotations

import functools

from fastapi import Response

from resolve.errors import UnknownNameError

__all__ = ["CACHE_IMAGES", "IMAGE_PX", "image_png", "image_response"]

#: Width = height of the served images (pixels); a phone shows them at up to ~360 CSS px.
IMAGE_PX = 384
#: Images kept in memory per process.
CACHE_IMAGES = 512


@functools.lru_cache(maxsize=CACHE_IMAGES)
def image_png(file: str) -> bytes:
    """The PNG bytes of bank image ``file`` (rendered once per process, then cached).

    Raises
    ------
    UnknownNameError
        ``file`` is not an image of the programme's bank.
    """
    from resolve.ops.programme_images import image_spec
    from resolve.program.images import render_file

    return render_file(image_spec(file), "png", IMAGE_PX)


def image_response(file: str) -> Response:
    """The image as an HTTP answer (404 for a name that is not a bank image)."""
    try:
        data = image_png(file)
    except UnknownNameError:
        return Response(status_code=404)
    return Response(data, media_type="image/png")
