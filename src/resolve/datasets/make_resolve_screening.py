"""Write ``resolve_screening.csv``: simulated screening counts for the bundled trial.

**Simulated numbers, not RESOLVE's.**  The published RESOLVE screening counts
(how many were assessed for eligibility, excluded and why) were not retrieved
(``specs/resolve-trial.md`` has none), so this script simulates a plausible
screening log that ends with the bundled trial's 276 randomised participants.
Only the eligibility criteria are taken from the trial (spec section 1.5):
age 18-70 years, chronic low back pain for at least 12 weeks, mean past-week
pain of at least 3/10, no serious spinal pathology or previous back surgery,
enough English.  The rates below are this script's assumptions.

People are screened one at a time until 276 are randomised.  Each is
ineligible with probability 0.55 (one reason, or a second one with probability
0.15, drawn with the weights in ``REASONS``); an eligible person declines with
probability 0.18 and is otherwise consented, and a consented person is not
randomised (other reasons) with probability 0.02.

The file has the columns of the enrolment rows of the trial export's
``consort.csv`` (:func:`resolve.trial.exports.consort_counts`): ``stage`` (always
``enrolment``), ``arm`` (``all``), ``visit`` (empty), ``measure``, ``reason``,
``n``, so ``resolve analyze resolve.csv --screening resolve_screening.csv`` reads
it like a real export.  Run from the repository root::

    python src/resolve/datasets/make_resolve_screening.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 2015  # any fixed seed; the first RESOLVE randomisation was in December 2015
N_RANDOMISED = 276  # the bundled trial (resolve.csv)

#: Exclusion reasons (eligibility criteria of the trial) and their relative weights.
REASONS = {
    "pain below 3/10": 0.30,
    "pain for less than 12 weeks": 0.20,
    "age outside 18-70 years": 0.12,
    "serious spinal pathology or previous back surgery": 0.23,
    "insufficient English": 0.05,
    "other exclusion criteria": 0.10,
}


def screen(seed: int = SEED, n_randomised: int = N_RANDOMISED) -> pd.DataFrame:
    """One row per screened person: ``eligible``, ``reasons`` (list), ``outcome``."""
    rng = np.random.default_rng(seed)
    names = list(REASONS)
    weights = np.array(list(REASONS.values()))
    weights = weights / weights.sum()
    people = []
    randomised = 0
    while randomised < n_randomised:
        if rng.random() < 0.55:
            k = 2 if rng.random() < 0.15 else 1
            picked = rng.choice(len(names), size=k, replace=False, p=weights)
            people.append((False, [names[i] for i in sorted(picked)], "ineligible"))
        elif rng.random() < 0.18:
            people.append((True, [], "declined"))
        elif rng.random() < 0.02:
            people.append((True, [], "other"))
        else:
            people.append((True, [], "randomised"))
            randomised += 1
    return pd.DataFrame(people, columns=["eligible", "reasons", "outcome"])


def counts(people: pd.DataFrame) -> pd.DataFrame:
    """Enrolment counts in the trial export's ``consort.csv`` format."""
    rows: list[tuple[str, str, int]] = []
    ineligible = people[~people["eligible"]]
    rows.append(("assessed for eligibility", "", len(people)))
    rows.append(("excluded", "", int((people["outcome"] != "randomised").sum())))
    rows.append(("not meeting inclusion criteria", "", len(ineligible)))
    tally: dict[str, int] = {}
    for reasons in ineligible["reasons"]:
        for r in reasons:
            tally[r] = tally.get(r, 0) + 1
    for reason, n in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0])):
        rows.append(("not meeting inclusion criteria", reason, n))
    rows.append(("declined to participate", "", int((people["outcome"] == "declined").sum())))
    rows.append(("other reasons", "", int((people["outcome"] == "other").sum())))
    rows.append(("randomised", "", int((people["outcome"] == "randomised").sum())))
    out = pd.DataFrame(rows, columns=["measure", "reason", "n"])
    out.insert(0, "visit", "")
    out.insert(0, "arm", "all")
    out.insert(0, "stage", "enrolment")
    return out


def make(seed: int = SEED) -> pd.DataFrame:
    """The bundled screening counts."""
    return counts(screen(seed))


if __name__ == "__main__":
    out = Path(__file__).with_name("resolve_screening.csv")
    make().to_csv(out, index=False)
    print(f"wrote {out}")
