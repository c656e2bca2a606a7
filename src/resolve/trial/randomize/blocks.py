"""Permuted blocks of random sizes.

Each block holds every arm in proportion to its ratio (a block of 4 at 1:1 holds two
of each), in random order; each block's size is drawn at random from the allowed sizes
so that the end of a block cannot be predicted.

Internal to the service layer: a generated list is sealed in the store and never shown
by an API, command or export before it is used (see ``docs/trial-protocol.md``).

Examples
--------
>>> import numpy as np
>>> permuted_blocks([("sham", 1), ("resolve", 1)], [2, 4], 8, np.random.default_rng(1))
['sham', 'resolve', 'resolve', 'sham', 'sham', 'resolve', 'resolve', 'sham']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from resolve.errors import DataValidationError
from resolve.trial.protocol import Arm

__all__ = ["ArmsWithRatios", "draw_blocks", "permuted_blocks"]

ArmsWithRatios = Mapping[str, int] | Iterable[tuple[str, int] | Arm]


def _arms(arms_with_ratios: ArmsWithRatios) -> list[tuple[str, int]]:
    if isinstance(arms_with_ratios, Mapping):
        pairs: list[tuple[object, ...]] = list(arms_with_ratios.items())
    else:
        pairs = [(a.name, a.ratio) if isinstance(a, Arm) else tuple(a) for a in arms_with_ratios]
    out: list[tuple[str, int]] = []
    for pair in pairs:
        if len(pair) != 2:
            raise DataValidationError(
                f"arms_with_ratios: expected (arm, ratio) pairs; got {pair!r}"
            )
        name, ratio = pair
        if not isinstance(name, str) or isinstance(ratio, bool) or not isinstance(ratio, int):
            raise DataValidationError(f"arms_with_ratios: expected (str, int); got {pair!r}")
        if ratio < 1:
            raise DataValidationError(
                f"arms_with_ratios: ratio of {name!r} must be >= 1; got {ratio}"
            )
        out.append((name, ratio))
    if len(out) < 2 or len({n for n, _ in out}) != len(out):
        raise DataValidationError(
            f"arms_with_ratios: need at least two distinct arms; got {[n for n, _ in out]}"
        )
    return out


def _sizes(block_sizes: Sequence[int], total: int) -> tuple[int, ...]:
    sizes = tuple(block_sizes)
    if not sizes:
        raise DataValidationError("block_sizes must name at least one size")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s <= 0 or s % total:
            raise DataValidationError(
                f"block_sizes: {s!r} is not a positive multiple of the sum of ratios ({total})"
            )
    return tuple(int(s) for s in sizes)


def draw_blocks(
    arms_with_ratios: ArmsWithRatios,
    block_sizes: Sequence[int],
    n: int,
    rng: np.random.Generator,
) -> list[tuple[str, ...]]:
    """Whole permuted blocks covering at least ``n`` allocations.

    Parameters and random-number use are those of :func:`permuted_blocks`, which
    flattens this result and cuts it to ``n``; with generators in the same state both
    give the same allocations, so tests can see block boundaries.

    Examples
    --------
    >>> import numpy as np
    >>> draw_blocks({"a": 1, "b": 2}, [3, 6], 7, np.random.default_rng(3))
    [('b', 'a', 'b', 'a', 'b', 'b'), ('b', 'a', 'b')]
    """
    arms = _arms(arms_with_ratios)
    total = sum(r for _, r in arms)
    sizes = _sizes(block_sizes, total)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise DataValidationError(f"n must be an integer >= 0; got {n!r}")
    blocks: list[tuple[str, ...]] = []
    filled = 0
    while filled < n:
        size = sizes[int(rng.integers(len(sizes)))]
        reps = size // total
        content = [name for name, ratio in arms for _ in range(ratio * reps)]
        order = rng.permutation(len(content))
        blocks.append(tuple(content[i] for i in order))
        filled += size
    return blocks


def permuted_blocks(
    arms_with_ratios: ArmsWithRatios,
    block_sizes: Sequence[int],
    n: int,
    rng: np.random.Generator,
) -> list[str]:
    """A list of ``n`` allocations in permuted blocks of randomly chosen sizes.

    Parameters
    ----------
    arms_with_ratios : mapping or iterable
        ``{arm: ratio}``, ``(arm, ratio)`` pairs or :class:`~resolve.trial.protocol.Arm`
        objects; at least two distinct arms, integer ratios >= 1.
    block_sizes : sequence of int
        Allowed block sizes, each a positive multiple of the sum of ratios. Each
        block's size is drawn uniformly from them, independently.
    n : int
        Number of allocations (>= 0).
    rng : numpy.random.Generator
        Source of randomness; the result is a function of its state.

    Returns
    -------
    list of str
        ``n`` arm names. Whole blocks are generated and the last one is cut at ``n``,
        so only the final block may be incomplete; lists should be longer than any
        stratum can need.

    Raises
    ------
    DataValidationError
        Fewer than two arms, a ratio below 1, an empty set of block sizes, a size
        that is not a positive multiple of the sum of ratios, or a negative ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> seq = permuted_blocks({"sham": 1, "resolve": 1}, [2, 4, 6], 12, np.random.default_rng(7))
    >>> len(seq), seq.count("sham") - seq.count("resolve") in (-2, -1, 0, 1, 2)
    (12, True)
    """
    blocks = draw_blocks(arms_with_ratios, block_sizes, n, rng)
    return [arm for block in blocks for arm in block][:n]
