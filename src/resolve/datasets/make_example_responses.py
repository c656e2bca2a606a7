"""Write ``example_responses.csv``: 40 synthetic respondents x every instrument.

Synthetic item-level answers (no real people) for the scoring demonstration:
each respondent has a latent "distress" level that shifts every instrument's
codes, about 3% of items are left unanswered, and medications are drawn from
the bundled name table. Run from the repository root::

    python src/resolve/datasets/make_example_responses.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from resolve.instruments import Instrument, available
from resolve.instruments.medication import PSYCHOACTIVE_MEDICATION

SEED = 20221004  # RESOLVE's JAMA publication date
N = 40
MEDICATIONS = (
    "pregabalin",
    "paracetamol",
    "oxycodone",
    "amitriptyline",
    "ibuprofen",
    "N05BA01",
    "duloxetine",
    "celecoxib",
)


def make(seed: int = SEED, n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    distress = rng.uniform(0.1, 0.9, size=n)
    cols: dict[str, object] = {"id": [f"R{k:03d}" for k in range(1, n + 1)]}
    for inst in available():
        if not isinstance(inst, Instrument):
            continue
        for item in inst.items:
            width = item.high - item.low
            level = distress if inst.higher_is == "worse" else 1 - distress
            if item.reverse:
                level = 1 - level
            codes = item.low + rng.binomial(width, level).astype(float)
            codes[rng.uniform(size=n) < 0.03] = np.nan
            if inst.id == "psfs" and item.number > 3:
                codes[:] = np.nan  # three nominated activities
            cols[inst.column(item.number)] = codes
    n_meds = rng.integers(0, 4, size=n)
    for slot in range(1, 4):
        meds = rng.choice(MEDICATIONS, size=n).astype(object)
        meds[n_meds < slot] = None
        if slot == 1:
            meds[n_meds == 0] = "none"
        cols[PSYCHOACTIVE_MEDICATION.columns[slot - 1]] = meds
    cols[PSYCHOACTIVE_MEDICATION.columns[0]][-1] = None  # type: ignore[index]  # not asked
    return pd.DataFrame(cols)


if __name__ == "__main__":
    out = Path(__file__).with_name("example_responses.csv")
    make().to_csv(out, index=False, float_format="%.0f")
    print(f"wrote {out}")
