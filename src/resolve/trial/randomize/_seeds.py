"""Seed derivation shared by the randomisation methods.

Every random draw is a function of the trial seed and a *key* naming what is drawn
(one stratum's block list, one minimisation allocation), through
:class:`numpy.random.SeedSequence` with the key as ``spawn_key``. Keys are derived from
content (a hash of the stratum's levels, or the allocation index), not from the order of
creation, so adding a stratum level, or a factor level elsewhere, never changes any
other draw.
"""

from __future__ import annotations

import hashlib

import numpy as np

from resolve.errors import DataValidationError

__all__ = ["BLOCKS_TAG", "MINIMISATION_TAG", "check_seed", "key_words", "spawn_rng"]

# Domain tags keep the block lists and the minimisation draws of one seed unrelated.
BLOCKS_TAG = 0x626C6B73  # "blks"
MINIMISATION_TAG = 0x6D696E69  # "mini"


def check_seed(seed: object) -> int:
    """The seed as a non-negative int, or DataValidationError."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DataValidationError(f"seed must be an integer >= 0; got {seed!r}")
    return int(seed)


def key_words(parts: tuple[str, ...]) -> tuple[int, ...]:
    """Eight 32-bit words from the SHA-256 of ``parts`` (stable across runs and platforms)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4))


def spawn_rng(seed: int, tag: int, *words: int) -> np.random.Generator:
    """A generator for ``(seed, tag, *words)``; the same arguments give the same stream."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(tag, *words))
    return np.random.Generator(np.random.PCG64(ss))
