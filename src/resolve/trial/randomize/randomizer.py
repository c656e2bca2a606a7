"""One interface over both randomisation methods, for the service layer.

The service asks a :class:`Randomizer` for the next arm, giving the participant's factor
levels and every earlier allocation; it never needs to know the method. Internal to the
service layer: a randomizer holds the secret (seed or sealed lists) and must never be
reachable from an API, command or export.

Examples
--------
>>> from resolve.trial.protocol import load_protocol
>>> r = make_randomizer(load_protocol(), seed=2015)
>>> r.method, r.next_arm({"site": "sydney"}, existing=[]) in ("sham", "resolve")
('blocks', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol as TypingProtocol
from typing import runtime_checkable

from resolve.errors import ResolveError
from resolve.trial.protocol import Protocol
from resolve.trial.randomize._seeds import check_seed
from resolve.trial.randomize.minimisation import Allocated, check_factors, minimise
from resolve.trial.randomize.sequence import generate_sequence, stratum_key

__all__ = [
    "BlockRandomizer",
    "MinimisationRandomizer",
    "Randomizer",
    "SequenceExhaustedError",
    "make_randomizer",
]


class SequenceExhaustedError(ResolveError, RuntimeError):
    """A stratum's sealed list has no entry left; extend it deliberately (audited)."""


@runtime_checkable
class Randomizer(TypingProtocol):
    """Allocates the next participant.

    ``next_arm(factors, existing)`` returns the arm for a participant with factor
    levels ``factors``, given ``existing``: every earlier allocation of the trial as
    ``(arm, factor levels)``, in allocation order, including any later marked
    randomised in error (they used a list entry). It is deterministic: the same
    history gives the same arm. The caller serialises calls (one allocation at a
    time, inside the store's transaction).
    """

    method: str

    def next_arm(self, factors: Mapping[str, str], existing: Sequence[Allocated]) -> str:
        """The arm for the next participant."""
        ...


class BlockRandomizer:
    """Stratified permuted blocks: the next unused entry of the participant's stratum list.

    Lists are regenerated from the seed on first use of a stratum (the same lists as
    :func:`~resolve.trial.randomize.sequence.generate_sequences`). A service that stores
    the sealed lists may read the entry from the store instead; both agree.
    """

    method = "blocks"

    def __init__(self, protocol: Protocol, seed: int) -> None:
        self.protocol = protocol
        self._seed = check_seed(seed)
        self._lists: dict[tuple[str, ...], list[str]] = {}

    def __repr__(self) -> str:  # never show the seed or a list
        return f"BlockRandomizer(protocol={self.protocol.name!r})"

    def next_arm(self, factors: Mapping[str, str], existing: Sequence[Allocated]) -> str:
        check_factors(self.protocol, factors)
        key = stratum_key(self.protocol, factors)
        position = sum(1 for _, levels in existing if stratum_key(self.protocol, levels) == key)
        if key not in self._lists:
            self._lists[key] = generate_sequence(self.protocol, self._seed, key)
        sealed = self._lists[key]
        if position >= len(sealed):
            raise SequenceExhaustedError(
                f"the allocation list of stratum {key!r} is used up ({len(sealed)} entries); "
                "raise list_length_per_stratum in a protocol amendment"
            )
        return sealed[position]


class MinimisationRandomizer:
    """Pocock-Simon minimisation (:func:`~resolve.trial.randomize.minimisation.minimise`)."""

    method = "minimisation"

    def __init__(self, protocol: Protocol, seed: int) -> None:
        self.protocol = protocol
        self._seed = check_seed(seed)

    def __repr__(self) -> str:  # never show the seed
        return f"MinimisationRandomizer(protocol={self.protocol.name!r})"

    def next_arm(self, factors: Mapping[str, str], existing: Sequence[Allocated]) -> str:
        check_factors(self.protocol, factors)
        return minimise(self.protocol, existing, factors, self._seed, len(existing))


def make_randomizer(protocol: Protocol, seed: int) -> BlockRandomizer | MinimisationRandomizer:
    """The randomizer for ``protocol.randomisation.method``."""
    if protocol.randomisation.method == "blocks":
        return BlockRandomizer(protocol, seed)
    return MinimisationRandomizer(protocol, seed)
