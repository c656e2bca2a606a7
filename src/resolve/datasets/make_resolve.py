"""Write ``resolve.csv``: one synthetic RESOLVE-like trial from :mod:`resolve.simulate`.

Synthetic participants only (no real people): 276 randomised 1:1 to ``sham``
and ``resolve``, pain NRS and RMDQ at baseline and 12, 18, 26 and 52 weeks,
and the eight baseline modifiers of Venter et al. (2026), generated with the
default scenario ``src/resolve/simulate/scenarios/resolve.toml``.

Choice of seed. Any single trial scatters around the calibration targets, so
the seed was picked among the first 40 (``choose_seed``) as the first whose
trial shows the published pattern: an 18-week pain difference within 0.1 of
-1.0, an 18-week RMDQ difference within 0.3 of -2.8, a 52-week pain
difference that is not significant (|z| < 1.96), and a FreBAQ x treatment
interaction on 52-week pain that is positive with p < 0.05. The generator
itself is unchanged; only the seed was selected. Run from the repository
root::

    python src/resolve/datasets/make_resolve.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from scipy import stats

from resolve.simulate import simulate_trial
from resolve.simulate.calibration import trial_statistics

SEED = 14  # chosen by choose_seed() among range(1, 41); see the module docstring


def shows_published_pattern(trial: pd.DataFrame) -> bool:
    """True when ``trial`` shows the published pattern (see the module docstring)."""
    s = trial_statistics(trial).iloc[0]
    z_int = s["interaction.frebaq.pain.w52"] / s["interaction_se.frebaq.pain.w52"]
    return bool(
        abs(s["pain.diff.w18"] + 1.0) <= 0.1
        and abs(s["rmdq.diff.w18"] + 2.8) <= 0.3
        and abs(s["pain.z.w52"]) < 1.96
        and s["interaction.frebaq.pain.w52"] > 0
        and 2 * stats.norm.sf(abs(z_int)) < 0.05
    )


def choose_seed(candidates: range = range(1, 41)) -> int:
    """The first seed in ``candidates`` whose trial shows the published pattern."""
    for seed in candidates:
        if shows_published_pattern(simulate_trial(seed=seed)):
            return seed
    raise RuntimeError("no candidate seed shows the published pattern")


def make(seed: int = SEED) -> pd.DataFrame:
    """The bundled trial: :func:`resolve.simulate.simulate_trial` with ``seed``."""
    return simulate_trial(seed=seed)


if __name__ == "__main__":
    out = Path(__file__).with_name("resolve.csv")
    make().to_csv(out, index=False, float_format="%.10g")
    print(f"wrote {out}")
