"""Randomisation: permuted blocks of random sizes (stratified) and Pocock-Simon minimisation.

Internal to the service layer. A sealed list, or the seed that regenerates it, must
never be exposed by an API, command or export before the allocation it holds has been
made; see ``docs/trial-protocol.md`` ("Sealing").
"""

from __future__ import annotations

from resolve.trial.randomize.blocks import draw_blocks, permuted_blocks
from resolve.trial.randomize.minimisation import check_factors, imbalance_scores, minimise
from resolve.trial.randomize.randomizer import (
    BlockRandomizer,
    MinimisationRandomizer,
    Randomizer,
    SequenceExhaustedError,
    make_randomizer,
)
from resolve.trial.randomize.sequence import (
    generate_sequence,
    generate_sequences,
    strata_keys,
    stratum_key,
)

__all__ = [
    "BlockRandomizer",
    "MinimisationRandomizer",
    "Randomizer",
    "SequenceExhaustedError",
    "check_factors",
    "draw_blocks",
    "generate_sequence",
    "generate_sequences",
    "imbalance_scores",
    "make_randomizer",
    "minimise",
    "permuted_blocks",
    "strata_keys",
    "stratum_key",
]
