"""Write ``resolve.csv``: one synthetic RESOLVE-like trial from :mod:`resolve.simulate`.

Synthetic participants only (no real people): 276 randomised 1:1 to ``sham``
and ``resolve``, pain NRS and RMDQ at baseline and 12, 18, 26 and 52 weeks,
and the eight baseline modifiers of Venter et al. (2026), generated with the
default scenario ``src/resolve/simulate/scenarios/resolve.toml`` (published
average effects, FreBAQ x treatment on 52-week pain as the only effect
modification, chance baseline imbalance only).

Choice of seed. Any single trial scatters around the calibration targets, so
the seed was picked (``choose_seed``) among the first 200 as the trial whose
*pre-specified analyses* come closest to the published results. Eligible
seeds: the 52-week pain difference is not significant (P >= .05), and the
FreBAQ x treatment interaction on 52-week pain is positive with P < .01 while
no other row of the pre-specified modifier family reaches P < .01 (model-based
OLS tests, as published; the default plan's HC2 tests give smaller P here). Among
them, the seed minimising the standardised distance

    sum(((estimate - published) / published SE)**2)

over the primary-model differences for pain at 18 weeks (-1.0, SE 0.28) and
RMDQ at 18, 26 and 52 weeks (-2.6, -2.1, -1.8; SE 0.66) (Bagg et al. 2022)
and, since issue 9, the FreBAQ x treatment interaction on 52-week pain
(+0.18, SE 0.069; Venter et al. 2026). The generator itself is unchanged;
only the seed was selected, and this is stated wherever the bundled trial is
used. Run from the repository root::

    python src/resolve/datasets/make_resolve.py            # write resolve.csv with SEED
    python src/resolve/datasets/make_resolve.py --choose   # re-run the rule (about 2 min)
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from resolve.simulate import simulate_trial

SEED = 120  # chosen by choose_seed() among range(1, 201); see the module docstring


PUBLISHED = {  # (outcome, visit): (estimate, SE), Bagg et al. 2022 (specs/resolve-trial.md 5)
    ("pain", "week 18"): (-1.0, 0.28),
    ("rmdq", "week 18"): (-2.6, 0.66),
    ("rmdq", "week 26"): (-2.1, 0.66),
    ("rmdq", "week 52"): (-1.8, 0.66),
}

#: FreBAQ x treatment on 52-week pain, per point: (estimate, SE), Venter et al. 2026 (spec 7.3).
FREBAQ = (0.18, 0.069)


def distance(trial: pd.DataFrame) -> float:
    """Distance of the trial's analyses from the published pattern (inf if not eligible)."""
    from resolve.analysis import load_plan
    from resolve.analysis.effect_modifiers import analyse_modifiers
    from resolve.analysis.primary import primary_analysis

    plan = load_plan()
    # The published P values are model-based (OLS); compare like with like.
    em = dataclasses.replace(plan.effect_modification, standard_errors="ols")
    plan = dataclasses.replace(plan, effect_modification=em)
    valid = plan.validate_data(trial)
    primary = primary_analysis(valid, plan, validated=True)
    if "model" in primary.columns:
        primary = primary[primary["model"] == plan.analysis.primary]
    keys = list(zip(primary["outcome"], primary["visit"], strict=True))
    diff = dict(zip(keys, primary["estimate"].to_numpy(dtype=float), strict=True))
    p_value = dict(zip(keys, primary["p_value"].to_numpy(dtype=float), strict=True))
    if p_value[("pain", "week 52")] < 0.05:
        return float("inf")
    table = analyse_modifiers(valid, plan, credibility=False).table
    family = table[table.in_family.astype(bool)]
    key = (family.modifier == "frebaq") & (family.outcome == "pain") & (family.visit == "week 52")
    frebaq = family[key].iloc[0]
    others = family[~key]
    if not (frebaq.estimate > 0 and frebaq.p_value < 0.01) or (others.p_value < 0.01).any():
        return float("inf")
    d = sum(((diff[k] - est) / se) ** 2 for k, (est, se) in PUBLISHED.items())
    return float(d + ((frebaq.estimate - FREBAQ[0]) / FREBAQ[1]) ** 2)


def choose_seed(candidates: range = range(1, 201)) -> int:
    """The seed in ``candidates`` whose trial is closest to the published pattern."""
    scores = {seed: distance(simulate_trial(seed=seed)) for seed in candidates}
    best = min(scores, key=lambda k: scores[k])
    if not np.isfinite(scores[best]):
        raise RuntimeError("no candidate seed shows the published pattern")
    return best


def make(seed: int = SEED) -> pd.DataFrame:
    """The bundled trial: :func:`resolve.simulate.simulate_trial` with ``seed``."""
    return simulate_trial(seed=seed)


if __name__ == "__main__":
    seed = choose_seed() if "--choose" in sys.argv[1:] else SEED
    out = Path(__file__).with_name("resolve.csv")
    make(seed).to_csv(out, index=False, float_format="%.10g")
    print(f"wrote {out} (seed {seed})")
