"""A three-arm trial with every column renamed, built deterministically from the bundled trial.

Rule (stated once, used by the tests and written to
``tests/reference/r/resolve_three_arm_data.csv`` for the R script
``resolve_three_arm.R``):

- arms: ``sham`` becomes ``"usual care"``; the ``resolve`` participants, sorted by id,
  alternate ``"GSR"`` (1st, 3rd, ...) and ``"GSR+education"`` (2nd, 4th, ...);
- visits: ``baseline`` -> ``"Week 0"``, ``week 12`` -> ``"Week 6"``, ``week 18`` ->
  ``"Week 10"``, ``week 26`` -> ``"Week 26"``; ``week 52`` rows are dropped; the numeric
  ``week`` column follows (0, 6, 10, 26);
- every column is renamed (:data:`RENAME`), with spaces, parentheses and mixed case.

Values are unchanged, so every outcome stays on its scale.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from resolve import datasets
from resolve.analysis.plan import Plan, load_plan

REFERENCE_CSV = (
    Path(__file__).resolve().parents[1] / "reference" / "r" / "resolve_three_arm_data.csv"
)

RENAME = {
    "id": "Participant ID",
    "arm": "Allocated group",
    "age": "Age (years)",
    "sex": "Sex",
    "week": "Week number",
    "visit": "Timepoint",
    "pain": "Pain NRS (0-10)",
    "rmdq": "Disability (RMDQ)",
    "pseq": "Self-efficacy",
    "pcs": "Catastrophising",
    "pain_baseline": "Pain at entry",
    "psychoactive": "Psychoactive meds",
    "frebaq": "Back perception",
    "tsk": "Kinesiophobia",
    "rmdq_baseline": "RMDQ at entry",
    "bbq": "Back beliefs",
}
VISITS = {"baseline": "Week 0", "week 12": "Week 6", "week 18": "Week 10", "week 26": "Week 26"}
WEEKS = {"baseline": 0, "week 12": 6, "week 18": 10, "week 26": 26}
ARMS = ("usual care", "GSR", "GSR+education")


def three_arm_data() -> pd.DataFrame:
    """The three-arm trial (long format, renamed columns), rows in the bundled order."""
    d = datasets.load("resolve")
    d = d[d["visit"] != "week 52"].reset_index(drop=True)
    treated = sorted(d.loc[d["arm"] == "resolve", "id"].unique())
    edu = set(treated[1::2])
    d["arm"] = [
        "usual care" if a == "sham" else ("GSR+education" if i in edu else "GSR")
        for a, i in zip(d["arm"], d["id"], strict=True)
    ]
    d["week"] = d["visit"].map(WEEKS).astype("int64")
    d["visit"] = d["visit"].map(VISITS)
    return d.rename(columns=RENAME)


def plan_toml(*, covariates: tuple[str, ...] = (), extra: str = "GSR+education, GSR") -> str:
    """A plan for :func:`three_arm_data`: both outcomes, every modifier, renamed columns.

    ``extra`` is the extra contrast ``"arm, comparator"`` (empty string: none).
    """
    c = RENAME
    extra_line = ""
    if extra:
        a, b = (x.strip() for x in extra.split(","))
        extra_line = f'extra_contrasts = [["{a}", "{b}"]]\n'
    cov = ", ".join(f'"{x}"' for x in covariates)
    mods = [
        ("pseq", "continuous", "-"), ("pcs", "continuous", "+"),
        ("pain_baseline", "continuous", "-"), ("psychoactive", "binary", "+"),
        ("frebaq", "continuous", "+"), ("tsk", "continuous", "+"),
        ("rmdq_baseline", "continuous", "-"), ("bbq", "continuous", "-"),
    ]  # fmt: skip
    mod_text = "".join(
        f'\n[[modifiers]]\nname = "{n}"\ncolumn = "{c[n]}"\ntype = "{t}"\ndirection = "{d}"\n'
        for n, t, d in mods
    )
    return f"""[trial]
name = "Three-arm GSR trial"
subject = "{c["id"]}"
arm = "{c["arm"]}"
arms = ["usual care", "GSR", "GSR+education"]
reference_arm = "usual care"
visit = "{c["visit"]}"
visits = ["Week 0", "Week 6", "Week 10", "Week 26"]
baseline_visit = "Week 0"
primary_visit = "Week 10"
{extra_line}
[[outcomes]]
name = "Pain"
column = "{c["pain"]}"
label = "Pain intensity (NRS 0-10)"
role = "primary"
range = [0, 10]

[[outcomes]]
name = "Disability"
column = "{c["rmdq"]}"
range = [0, 24]

[analysis]
covariates = [{cov}]

[effect_modification]
family_visits = ["Week 10", "Week 26"]
standard_errors = "ols"   # the R fixtures are lm()
{mod_text}"""


def three_arm_plan(tmp_path: Path, **kwargs: object) -> Plan:
    """Write :func:`plan_toml` to ``tmp_path / "three.toml"`` and load it."""
    path = tmp_path / "three.toml"
    path.write_text(plan_toml(**kwargs), encoding="utf-8")  # type: ignore[arg-type]
    return load_plan(path)


if __name__ == "__main__":  # regenerate the committed CSV read by resolve_three_arm.R
    three_arm_data().to_csv(REFERENCE_CSV, index=False)
