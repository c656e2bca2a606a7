"""Baseline questionnaires at item level, medication lists, and their scoring.

Questionnaire totals come from the latent layer (:mod:`resolve.simulate.latent`).
Item responses are then drawn *given* each total: the total's units above the
instrument minimum are spread over the scored items' response slots uniformly
at random (a multivariate hypergeometric draw, item by item), reverse-keyed
items are written as raw codes ``low + high - score``, and distractor items (BBQ
4, 5, 7, 9, 11) get independent uniform codes. The item table is then scored by
:func:`resolve.instruments.score_frame`, which returns the generated totals;
the modifier columns of a simulated trial are those scored values.

Medication lists: users of psychoactive medication list one psychoactive drug
plus up to two others; non-users write ``none`` or list one or two
non-psychoactive drugs. About a quarter of entries are written as WHO ATC
codes rather than names. The lists are classified by the
``psychoactive_medication`` instrument.

Examples
--------
>>> import numpy as np
>>> from resolve.simulate.baseline import item_responses
>>> items = item_responses("tsk17", np.array([17, 40, 68]), np.random.default_rng(1))
>>> items.shape, int(items.loc[0, "tsk17_4"]), int(items.loc[2, "tsk17_4"])
((3, 17), 4, 1)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from resolve.instruments import PSYCHOACTIVE_MEDICATION, Instrument, get, score_frame

__all__ = ["allocate", "item_responses", "medication_lists", "score_items"]

#: Output modifier column -> instrument id (items are generated for each).
INSTRUMENTS = {
    "pseq": "pseq",
    "pcs": "pcs",
    "pain_baseline": "nrs",
    "psychoactive": "psychoactive_medication",
    "frebaq": "frebaq",
    "tsk": "tsk17",
    "rmdq_baseline": "rmdq24",
    "bbq": "bbq",
}

_MED_SLOTS = 3
_ATC_SHARE = 0.25


def allocate(
    units: NDArray[np.int64], n_items: int, cap: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Spread ``units[i]`` over ``n_items`` items of capacity ``cap``, uniformly over slots.

    Returns an ``(len(units), n_items)`` array whose rows sum to ``units``.
    """
    units = np.asarray(units, dtype=np.int64)
    out = np.zeros((units.size, n_items), dtype=np.int64)
    left = units.copy()
    slots_left = n_items * cap
    for j in range(n_items - 1):
        slots_left -= cap
        out[:, j] = rng.hypergeometric(cap, slots_left, left) if cap else 0
        left -= out[:, j]
    out[:, -1] = left
    return out


def item_responses(
    instrument: str, totals: NDArray[np.int64], rng: np.random.Generator
) -> pd.DataFrame:
    """Raw item codes (columns ``<id>_<n>``) whose instrument total is ``totals``.

    Works for summed instruments whose items share one code range (PSEQ, PCS,
    FreBAQ, TSK-17, BBQ, RMDQ-24, NRS).
    """
    inst = get(instrument)
    assert isinstance(inst, Instrument)
    scored = [it for it in inst.items if it.scored]
    low, high = scored[0].low, scored[0].high
    units = np.asarray(totals, dtype=np.int64) - low * len(scored)
    scores = low + allocate(units, len(scored), high - low, rng)
    cols: dict[str, NDArray[np.int64]] = {}
    k = 0
    for it in inst.items:
        if it.scored:
            s = scores[:, k]
            k += 1
            cols[inst.column(it.number)] = (it.low + it.high - s) if it.reverse else s
        else:
            cols[inst.column(it.number)] = rng.integers(it.low, it.high + 1, size=len(units))
    return pd.DataFrame(cols)


def _pools() -> tuple[NDArray[np.str_], NDArray[np.str_], dict[str, str]]:
    med = PSYCHOACTIVE_MEDICATION
    names = sorted(med.names)
    psych = np.array([n for n in names if med.classify(n)])
    other = np.array([n for n in names if not med.classify(n)])
    return psych, other, dict(med.names)


def medication_lists(psychoactive: NDArray[np.int64], rng: np.random.Generator) -> pd.DataFrame:
    """Medication slots ``psychoactive_medication_1..3`` consistent with the 0/1 flags."""
    psych, other, atc = _pools()
    n = len(psychoactive)
    user = np.asarray(psychoactive, dtype=bool)
    slots = np.full((n, _MED_SLOTS), None, dtype=object)
    # users: one psychoactive drug, then 0-2 drugs of either kind
    n_user = 1 + rng.binomial(_MED_SLOTS - 1, 0.35, size=n)
    slots[:, 0] = rng.choice(psych, size=n)
    either = np.concatenate([psych, other])
    for j in range(1, _MED_SLOTS):
        pick = rng.choice(either, size=n)
        slots[user & (n_user > j), j] = pick[user & (n_user > j)]
    # non-users: 'none' (45%) or 1-2 non-psychoactive drugs
    says_none = rng.random(n) < 0.45
    n_other = 1 + rng.binomial(1, 0.4, size=n)
    first = rng.choice(other, size=n)
    second = rng.choice(other, size=n)
    nonuser = ~user
    slots[nonuser, 0] = np.where(says_none, "none", first)[nonuser]
    slots[nonuser, 1] = None
    keep = nonuser & ~says_none & (n_other > 1)
    slots[keep, 1] = second[keep]
    slots[nonuser, 2] = None
    # write some entries as ATC codes
    as_code = rng.random((n, _MED_SLOTS)) < _ATC_SHARE
    for i, j in zip(*np.nonzero(as_code), strict=True):
        v = slots[i, j]
        if v is not None and v != "none":
            slots[i, j] = atc[v]
    return pd.DataFrame(
        {c: slots[:, j] for j, c in enumerate(PSYCHOACTIVE_MEDICATION.columns[:_MED_SLOTS])}
    )


def score_items(items: pd.DataFrame) -> pd.DataFrame:
    """Score the baseline item table; one column per modifier (see ``INSTRUMENTS``).

    ``psychoactive`` is 1 for "yes" and 0 for "no".
    """
    out: dict[str, NDArray[np.float64]] = {}
    for column, instrument in INSTRUMENTS.items():
        scored = score_frame(instrument, items)
        if column == "psychoactive":
            out[column] = np.asarray(scored["psychoactive"] == "yes", dtype=np.float64)
        else:
            out[column] = scored["total"].to_numpy(dtype=np.float64)
    return pd.DataFrame(out, index=items.index)
