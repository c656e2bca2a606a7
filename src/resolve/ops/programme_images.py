"""The programme's bank of left/right judgement images: fixed, seeded, rendered on demand.

Each image set (``training`` and ``test``) is :data:`LRJ_BANK_SIZE` image
specifications drawn by :func:`resolve.program.images.sample_specs` with
:data:`LRJ_BANK_SEED`: balanced over side, movement and the four difficulty
levels, and disjoint between the sets (different persons). An image's file name
is ``<set>-<number>.png`` (``training-00001.png`` ..., as ``resolve program
lrj-images --n 1024`` names them). Blocks draw from the bank
(:func:`lrj_bank`: :class:`~resolve.program.lrj.LrjStimulus` with ``file``);
the web layer renders an image from its file name with :func:`image_spec` and
:func:`resolve.program.images.render_file`. Nothing is stored: the bank is the
same on every server.

Examples
--------
>>> stimuli = lrj_bank("training")
>>> len(stimuli), stimuli[0].file, image_spec(stimuli[0].file).set
(1024, 'training-00001.png', 'training')
>>> len(bank_manifest()), {s.set for s in bank_manifest()} == {"training", "test"}
(2048, True)
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from resolve.errors import UnknownNameError

if TYPE_CHECKING:
    from resolve.program.images import ImageSpec
    from resolve.program.lrj import LrjStimulus

__all__ = ["LRJ_BANK_SEED", "LRJ_BANK_SIZE", "bank_manifest", "image_spec", "lrj_bank"]

#: Seed of the image bank (the same bank on every server).
LRJ_BANK_SEED = 2022
#: Images per set: a multiple of 16 (exactly balanced over side x movement x level).
LRJ_BANK_SIZE = 1024
_ID = re.compile(r"^(training|test)-(\d{5})\.png$")


@functools.lru_cache(maxsize=2)
def _specs(image_set: str) -> tuple[ImageSpec, ...]:
    from resolve.program.images import sample_specs

    return tuple(sample_specs(LRJ_BANK_SIZE, seed=LRJ_BANK_SEED, set=image_set))


def _id(spec: ImageSpec) -> str:
    return f"{spec.set}-{spec.index + 1:05d}.png"


@functools.lru_cache(maxsize=2)
def _bank(image_set: str) -> tuple[LrjStimulus, ...]:
    from resolve.program.lrj import LrjStimulus

    return tuple(
        LrjStimulus.from_dict(
            {
                "file": _id(spec),
                "movement": spec.movement,
                "side": spec.side,
                "angle_deg": float(spec.angle_deg),
                "view": spec.view,
                "set": spec.set,
            }
        )
        for spec in _specs(image_set)
    )


def lrj_bank(image_set: str) -> list[LrjStimulus]:
    """The images of one set (``training`` or ``test``) as LRJ stimuli (``file`` = file name).

    Raises
    ------
    UnknownNameError
        Not a set of the bank.
    """
    if image_set not in ("training", "test"):
        raise UnknownNameError(f"no image set {image_set!r}; sets: training, test")
    return list(_bank(image_set))


def bank_manifest() -> list[LrjStimulus]:
    """Every image of the bank (training set, then test set)."""
    return [*_bank("training"), *_bank("test")]


def image_spec(image_id: str) -> ImageSpec:
    """The specification of bank image ``image_id`` (to render it).

    Raises
    ------
    UnknownNameError
        Not an image of the bank.
    """
    found = _ID.match(image_id) if isinstance(image_id, str) else None
    if found is None or not 1 <= int(found.group(2)) <= LRJ_BANK_SIZE:
        raise UnknownNameError(f"no image {image_id!r} in the programme's image bank")
    return _specs(found.group(1))[int(found.group(2)) - 1]
