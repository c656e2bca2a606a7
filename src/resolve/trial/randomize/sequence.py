"""Sealed allocation lists: one permuted-block list per stratum, generated from a seed.

The service generates the lists once, at trial set-up, stores them sealed and hands out
the next entry of the participant's stratum at each randomisation. Nothing here may be
exposed through an API, command or export before allocation: these functions are
internal to the service layer.

Examples
--------
>>> from resolve.trial.protocol import load_protocol
>>> lists = generate_sequences(load_protocol(), seed=2015)
>>> list(lists), len(lists[("sydney",)])
([('sydney',)], 400)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

from resolve._validation import show_values
from resolve.errors import DataValidationError
from resolve.trial.ids import id_problem, safe_repr
from resolve.trial.protocol import (
    LEVEL_PATTERN,
    MAX_LEVELS,
    MAX_SEQUENCE_ENTRIES,
    MAX_STRATA,
    Protocol,
)
from resolve.trial.randomize._seeds import BLOCKS_TAG, check_seed, key_words, spawn_rng
from resolve.trial.randomize.blocks import permuted_blocks

__all__ = ["generate_sequence", "generate_sequences", "strata_keys", "stratum_key"]


def _levels(
    protocol: Protocol, strata_levels: Mapping[str, Sequence[str]] | None
) -> dict[str, tuple[str, ...]]:
    levels = {f: protocol.strata_levels[f] for f in protocol.strata}
    if strata_levels is not None:
        levels.update(_given_levels(protocol, strata_levels))
    # the caps of parse_protocol, again: levels given here, or a Protocol built directly
    strata = math.prod(len(v) for v in levels.values())
    length = protocol.randomisation.list_length_per_stratum
    if strata > MAX_STRATA or strata * length > MAX_SEQUENCE_ENTRIES:
        raise DataValidationError(
            f"protocol {protocol.source}: {strata} strata x {length} entries = "
            f"{strata * length} sealed entries; at most {MAX_STRATA} strata and "
            f"{MAX_SEQUENCE_ENTRIES} entries"
        )
    return levels


def _given_levels(
    protocol: Protocol, strata_levels: Mapping[str, Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    """``strata_levels`` checked: stratum factors only, each with valid distinct levels."""
    levels: dict[str, tuple[str, ...]] = {}
    extra = [f for f in strata_levels if f not in protocol.strata]
    if extra:
        raise DataValidationError(
            f"strata_levels names {show_values(extra)}, which are not strata of protocol "
            f"{protocol.source} (strata: {', '.join(protocol.strata) or 'none'})"
        )
    for f, given in strata_levels.items():
        if isinstance(given, str) or not all(isinstance(x, str) and x for x in given):
            raise DataValidationError(
                f"strata_levels[{f!r}] must be a list of non-empty strings; got {given!r}"
            )
        if not given or len(set(given)) != len(given):
            raise DataValidationError(
                f"strata_levels[{f!r}] must list at least one level, each once; got {given!r}"
            )
        if len(given) > MAX_LEVELS:
            raise DataValidationError(
                f"strata_levels[{f!r}] lists {len(given)} levels; at most {MAX_LEVELS}"
            )
        for level in given:
            problem = id_problem(level, LEVEL_PATTERN)
            if problem is not None:
                raise DataValidationError(
                    f"strata_levels[{f!r}]: level {safe_repr(level)}: {problem}"
                )
        levels[f] = tuple(given)
    return levels


def strata_keys(
    protocol: Protocol, strata_levels: Mapping[str, Sequence[str]] | None = None
) -> list[tuple[str, ...]]:
    """Every stratum key: one level per stratum factor, in ``protocol.strata`` order.

    A protocol without strata has the single key ``()``.

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> strata_keys(load_protocol(), {"site": ["sydney", "newcastle"]})
    [('sydney',), ('newcastle',)]
    """
    levels = _levels(protocol, strata_levels)
    return [tuple(k) for k in itertools.product(*(levels[f] for f in protocol.strata))]


def stratum_key(protocol: Protocol, factors: Mapping[str, str]) -> tuple[str, ...]:
    """The stratum key of a participant with factor levels ``factors``.

    Raises
    ------
    DataValidationError
        A stratum factor is missing from ``factors`` or has a level the protocol
        does not define.

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> stratum_key(load_protocol(), {"site": "sydney"})
    ('sydney',)
    """
    key = []
    for f in protocol.strata:
        if f not in factors:
            raise DataValidationError(f"factor {f!r} is needed to randomise (stratum factor)")
        level = factors[f]
        allowed = protocol.strata_levels[f]
        if level not in allowed:
            raise DataValidationError(
                f"factor {f!r} has level {level!r}; allowed: {', '.join(allowed)}"
            )
        key.append(level)
    return tuple(key)


def generate_sequence(protocol: Protocol, seed: int, key: tuple[str, ...]) -> list[str]:
    """The sealed list of one stratum (what :func:`generate_sequences` holds under ``key``)."""
    spec = protocol.randomisation
    if spec.method != "blocks":
        raise DataValidationError(
            f"protocol {protocol.source} randomises by {spec.method}, which allocates "
            "dynamically; there is no list to generate"
        )
    if len(key) != len(protocol.strata):
        raise DataValidationError(
            f"stratum key {key!r} needs one level per stratum factor ({', '.join(protocol.strata)})"
        )
    parts = tuple(f"{f}={level}" for f, level in zip(protocol.strata, key, strict=True))
    rng = spawn_rng(check_seed(seed), BLOCKS_TAG, *key_words(parts))
    return permuted_blocks(protocol.arms, spec.block_sizes, spec.list_length_per_stratum, rng)


def generate_sequences(
    protocol: Protocol,
    seed: int,
    strata_levels: Mapping[str, Sequence[str]] | None = None,
) -> dict[tuple[str, ...], list[str]]:
    """Generate one sealed permuted-block list per stratum.

    Parameters
    ----------
    protocol : Protocol
        A protocol with ``randomisation.method == "blocks"``.
    seed : int
        Trial seed (>= 0), chosen at set-up and kept with the sealed lists.
    strata_levels : mapping, optional
        Levels to use for some or all stratum factors instead of the protocol's
        (e.g. sites added later). Factors not named keep the protocol's levels.

    Returns
    -------
    dict
        Stratum key (one level per factor in ``protocol.strata`` order; ``()`` when
        there are no strata) -> list of ``list_length_per_stratum`` arm names, in
        allocation order.

    Raises
    ------
    DataValidationError
        The method is minimisation, the seed is not a non-negative integer, or
        ``strata_levels`` names a factor that is not a stratum, lists no level, a
        level outside the protocol's level rule, more than ``MAX_LEVELS`` levels, or
        makes more strata or entries than ``MAX_STRATA`` / ``MAX_SEQUENCE_ENTRIES``
        (the caps of :mod:`resolve.trial.protocol`).

    Notes
    -----
    Each stratum's list is drawn from ``SeedSequence(seed, spawn_key=(tag,
    sha256(stratum)))``: it depends only on the seed, the arms and ratios, the block
    sizes, the list length and the stratum's own levels. Adding a stratum level, or
    reordering levels, leaves every other list unchanged.

    Sealed: the result must go straight into the store; no API, command or export
    may reveal an entry before it is allocated (it may be exported for the trial
    master file after the trial, by a role separate from enrolling staff).

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> p = load_protocol()
    >>> a = generate_sequences(p, seed=1)
    >>> b = generate_sequences(p, seed=1, strata_levels={"site": ["sydney", "perth"]})
    >>> a[("sydney",)] == b[("sydney",)], sorted(b)
    (True, [('perth',), ('sydney',)])
    """
    if protocol.randomisation.method != "blocks":
        raise DataValidationError(
            f"protocol {protocol.source} randomises by {protocol.randomisation.method}, which "
            "allocates dynamically; there is no list to generate"
        )
    seed = check_seed(seed)
    return {
        key: generate_sequence(protocol, seed, key) for key in strata_keys(protocol, strata_levels)
    }
