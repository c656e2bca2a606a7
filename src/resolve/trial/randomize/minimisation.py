"""Pocock-Simon minimisation with a random element.

For a new participant, each arm is tried in turn: the participant's level of every
minimisation factor is looked up, the counts of earlier participants with that level are
taken per arm (divided by the arm's ratio), the participant is added to the arm being
tried, and the imbalance of those counts across arms is measured (range or variance).
The weighted sum over factors is the arm's score. The arm with the lowest score (the
*minimising arm*) is allocated with probability ``p``; otherwise another arm is. The first
``initial_random`` allocations are made by simple randomisation with the arm ratios.

Every draw is a function of ``(seed, allocation index)`` alone, so an allocation can be
reproduced and audited, and no list exists to be sealed: what must stay hidden is the seed.
Internal to the service layer.

Examples
--------
>>> from resolve.trial.randomize.minimisation import imbalance_scores
>>> from resolve.trial.protocol import Factor, RandomisationSpec, load_protocol
>>> import dataclasses
>>> p = dataclasses.replace(
...     load_protocol(),
...     factors=(Factor("site", ("a", "b")), Factor("sex", ("f", "m"))),
...     strata=(),
...     randomisation=RandomisationSpec("minimisation", minimisation_factors=("site", "sex")),
... )
>>> existing = [("sham", {"site": "a", "sex": "f"}), ("resolve", {"site": "b", "sex": "f"})]
>>> imbalance_scores(p, existing, {"site": "a", "sex": "m"})
{'sham': 3.0, 'resolve': 1.0}
>>> minimise(p, existing, {"site": "a", "sex": "m"}, seed=5, index=2)
'resolve'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from resolve.errors import DataValidationError
from resolve.trial.protocol import Protocol
from resolve.trial.randomize._seeds import MINIMISATION_TAG, check_seed, spawn_rng

__all__ = ["Allocated", "check_factors", "imbalance_scores", "minimise"]

Allocated = tuple[str, Mapping[str, str]]
"""An earlier allocation: (arm, factor levels)."""

_TOL = 1e-9


def check_factors(
    protocol: Protocol, factors: Mapping[str, str], needed: Sequence[str] | None = None
) -> dict[str, str]:
    """Check a participant's factor levels against the protocol.

    Every factor in ``needed`` (default: :attr:`Protocol.allocation_factors`) must be
    present; every factor given must be a protocol factor with an allowed level.

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> check_factors(load_protocol(), {"site": "perth"})
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: factor 'site' has level 'perth'; allowed: sydney
    """
    if not isinstance(factors, Mapping):
        raise DataValidationError(f"factors must be a mapping of factor to level; got {factors!r}")
    levels = protocol.strata_levels
    for name, level in factors.items():
        if name not in levels:
            raise DataValidationError(
                f"unknown factor {name!r}; protocol {protocol.source} defines "
                f"{', '.join(levels) or 'none'}"
            )
        if level not in levels[name]:
            raise DataValidationError(
                f"factor {name!r} has level {level!r}; allowed: {', '.join(levels[name])}"
            )
    need = protocol.allocation_factors if needed is None else tuple(needed)
    missing = [f for f in need if f not in factors]
    if missing:
        raise DataValidationError(f"factor(s) {', '.join(map(repr, missing))} needed to randomise")
    return dict(factors)


def _imbalance(values: Sequence[float], how: str) -> float:
    if how == "range":
        return max(values) - min(values)
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def imbalance_scores(
    protocol: Protocol, existing: Sequence[Allocated], factors: Mapping[str, str]
) -> dict[str, float]:
    """Weighted Pocock-Simon imbalance if the new participant went to each arm.

    Parameters
    ----------
    protocol : Protocol
        Supplies arms and ratios, ``minimisation_factors``, weights and the
        imbalance function (``range`` or population ``variance``).
    existing : sequence of (arm, factor levels)
        Everyone already allocated, in any order.
    factors : mapping
        The new participant's factor levels.

    Returns
    -------
    dict
        Arm name -> score (lower is better balanced), in protocol arm order. For
        arm ``a``: the sum over minimisation factors ``f`` of ``weight_f *
        imbalance(c_f / ratio)``, where ``c_f`` counts, per arm, the earlier
        participants sharing the new participant's level of ``f``, plus one for
        ``a``.
    """
    spec = protocol.randomisation
    arms = protocol.arm_names
    index = {a: k for k, a in enumerate(arms)}
    ratios = [float(a.ratio) for a in protocol.arms]
    check_factors(protocol, factors, spec.minimisation_factors)
    targets = [(f, factors[f]) for f in spec.minimisation_factors]
    counts = [[0.0] * len(arms) for _ in targets]
    for arm, levels in existing:
        k = index.get(arm)
        if k is None:
            raise DataValidationError(
                f"existing allocation to unknown arm {arm!r}; arms: {', '.join(arms)}"
            )
        for row, (f, level) in zip(counts, targets, strict=True):
            if levels.get(f) == level:
                row[k] += 1.0
    scores = {}
    for k, arm in enumerate(arms):
        total = 0.0
        for w, row in zip(spec.weights, counts, strict=True):
            adjusted = [
                (c + (1.0 if j == k else 0.0)) / r
                for j, (c, r) in enumerate(zip(row, ratios, strict=True))
            ]
            total += w * _imbalance(adjusted, spec.imbalance)
        scores[arm] = total
    return scores


def minimise(
    protocol: Protocol,
    existing: Sequence[Allocated],
    factors: Mapping[str, str],
    seed: int,
    index: int,
) -> str:
    """Allocate one participant by Pocock-Simon minimisation.

    Parameters
    ----------
    protocol : Protocol
        A protocol whose ``randomisation`` names the minimisation factors,
        ``minimisation_p``, ``initial_random``, the weights and imbalance function.
    existing : sequence of (arm, factor levels)
        Every participant already allocated (including any later marked randomised
        in error: they were allocated and count towards balance).
    factors : mapping
        The participant's level of each minimisation factor (other protocol factors
        are allowed and ignored).
    seed : int
        Trial seed (>= 0).
    index : int
        0-based allocation number of this participant in the trial, normally
        ``len(existing)``.

    Returns
    -------
    str
        The allocated arm's name.

    Raises
    ------
    DataValidationError
        Missing or unknown factor or level, an unknown arm in ``existing``, a bad
        seed or index.

    Notes
    -----
    * ``index < initial_random``: simple randomisation, arm probability proportional
      to its ratio.
    * Otherwise, with scores from :func:`imbalance_scores` (counts divided by arm
      ratios): if every arm ties, simple randomisation by ratio; else with
      probability ``p`` an arm drawn uniformly among the lowest-scoring, otherwise
      one drawn uniformly among the rest.
    * The random numbers come from ``SeedSequence(seed, spawn_key=(tag, index))``:
      the same seed, index and history always give the same arm.
    * With unequal ratios, Pocock-Simon with a fixed ``p`` only approximates the
      target ratio; check by simulation before using it so.

    Examples
    --------
    >>> import dataclasses
    >>> from resolve.trial.protocol import Factor, RandomisationSpec, load_protocol
    >>> p = dataclasses.replace(
    ...     load_protocol(), strata=(), factors=(Factor("site", ("a", "b")),),
    ...     randomisation=RandomisationSpec("minimisation", minimisation_factors=("site",),
    ...                                     minimisation_p=1.0),
    ... )
    >>> minimise(p, [("sham", {"site": "a"})], {"site": "a"}, seed=1, index=1)
    'resolve'
    """
    spec = protocol.randomisation
    if spec.method != "minimisation":
        raise DataValidationError(
            f"protocol {protocol.source} randomises by {spec.method}, not minimisation"
        )
    seed = check_seed(seed)
    if isinstance(index, bool) or not isinstance(index, int | np.integer) or index < 0:
        raise DataValidationError(f"index must be an integer >= 0; got {index!r}")
    rng = spawn_rng(seed, MINIMISATION_TAG, int(index))
    arms = protocol.arm_names
    ratios = np.array([a.ratio for a in protocol.arms], dtype=float)
    # Draw both numbers every time so that each allocation consumes the same stream.
    u_coin, u_pick = rng.random(2)
    scores = imbalance_scores(protocol, existing, factors)
    if index < spec.initial_random:
        return _by_ratio(arms, ratios, u_pick)
    values = np.array([scores[a] for a in arms])
    best = [a for a, s in zip(arms, values, strict=True) if s <= values.min() + _TOL]
    if len(best) == len(arms):
        return _by_ratio(arms, ratios, u_pick)
    pool = best if u_coin < spec.minimisation_p else [a for a in arms if a not in best]
    return pool[min(int(u_pick * len(pool)), len(pool) - 1)]


def _by_ratio(arms: tuple[str, ...], ratios: np.ndarray, u: float) -> str:
    cum = np.cumsum(ratios) / ratios.sum()
    return arms[min(int(np.searchsorted(cum, u, side="right")), len(arms) - 1)]
