"""Table 1 (recomputed here with pandas groupby) and the screening counts of the CONSORT flow."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis.baseline import OVERALL, TABLE1_COLUMNS, screening_counts, table1
from resolve.analysis.descriptive import consort
from resolve.analysis.plan import Plan
from resolve.analysis.run import analyze
from resolve.errors import DataValidationError


def _per_person(data: pd.DataFrame, column: str) -> pd.DataFrame:
    base = data[data["visit"] == "baseline"].set_index("id")
    return pd.DataFrame({"arm": base["arm"], "value": base[column]})


def test_table1_continuous_rows_match_groupby(data: pd.DataFrame, plan: Plan) -> None:
    t1 = table1(data, plan)
    assert tuple(t1.columns) == TABLE1_COLUMNS
    for column in ("pain", "rmdq", "pseq", "bbq"):
        people = _per_person(data, column)
        groups = {str(a): g["value"] for a, g in people.groupby("arm")}
        groups[OVERALL] = people["value"]
        got = t1[t1["variable"] == column]
        assert got["arm"].tolist() == ["sham", "resolve", OVERALL]  # reference first, overall
        for arm, n, mean, sd, missing in zip(
            got["arm"], got["n"], got["mean"], got["sd"], got["missing"], strict=True
        ):
            values = groups[str(arm)].to_numpy(dtype=float)
            assert int(n) == len(values) and int(missing) == 0
            assert float(mean) == pytest.approx(values.mean(), rel=1e-12)
            assert float(sd) == pytest.approx(values.std(ddof=1), rel=1e-12)


def test_table1_binary_rows_show_every_level(data: pd.DataFrame, plan: Plan) -> None:
    t1 = table1(data, plan)
    rows = t1[t1["variable"] == "psychoactive"]
    assert list(dict.fromkeys(rows["level"])) == ["user", "non-user"]  # unit "user vs non-user"
    people = _per_person(data, "psychoactive")
    for arm in ("sham", "resolve"):
        values = people.loc[people["arm"] == arm, "value"].to_numpy()
        users = rows[(rows.arm == arm) & (rows.level == "user")]
        assert int(users["count"].iloc[0]) == int((values == 1).sum())
        pct = float(users["percent"].iloc[0])
        assert pct == pytest.approx(100 * (values == 1).sum() / len(values))
        assert int(rows.loc[rows.arm == arm, "count"].sum()) == len(values)
    text = rows[(rows.arm == OVERALL) & (rows.level == "user")]["text"].iloc[0]
    n = int((people["value"] == 1).sum())
    assert text == f"{n} ({100 * n / len(people):.1f})"


def test_table1_missing_extra_columns_and_categorical_covariate(
    data: pd.DataFrame, plan: Plan
) -> None:
    d = data.copy()
    first_ids = sorted(d["id"].unique())[:5]
    d.loc[d["id"].isin(first_ids) & (d["visit"] == "baseline"), "pain"] = np.nan
    d["site"] = np.where(d["id"].str[-1].isin(list("01234")), "north", "south")
    d.loc[d["id"] == first_ids[0], "site"] = np.nan
    p = replace(
        plan,
        analysis=replace(
            plan.analysis, covariates=("site",), covariate_levels={"site": ("south", "north")}
        ),
    )
    t1 = table1(d, p, extra=["age", "sex"], labels={"age": "Age, years"})
    pain = t1[(t1.variable == "pain") & (t1.arm == OVERALL)].iloc[0]
    assert (int(pain["n"]), int(pain["missing"])) == (271, 5)
    site = t1[(t1.variable == "site") & (t1.arm == OVERALL)]
    assert site["level"].tolist() == ["south", "north"]  # declared order
    assert site["source"].iloc[0] == "covariate" and site["type"].iloc[0] == "categorical"
    assert int(site["missing"].iloc[0]) == 1 and int(site["count"].sum()) == 275
    age = t1[(t1.variable == "age") & (t1.arm == "resolve")].iloc[0]
    people = d.drop_duplicates("id")
    assert age["characteristic"] == "Age, years" and age["source"] == "extra"
    assert age["mean"] == pytest.approx(people.loc[people.arm == "resolve", "age"].mean())
    sex = t1[(t1.variable == "sex") & (t1.arm == "sham")]
    assert sorted(sex["level"]) == sorted(people["sex"].unique())
    assert int(sex["count"].sum()) == int((people.arm == "sham").sum())


def test_table1_does_not_repeat_a_baseline_outcome(data: pd.DataFrame, plan: Plan) -> None:
    """The pain_baseline modifier equals the baseline pain outcome; it is described once."""
    variables = set(table1(data, plan)["variable"])
    assert {"pain", "rmdq"} <= variables
    assert not {"pain_baseline", "rmdq_baseline"} & variables
    assert len(variables) == 2 + len(plan.modifiers) - 2


def test_arm_names_exactly_as_written(data: pd.DataFrame, plan: Plan) -> None:
    d = data.replace({"arm": {"sham": "usual care", "resolve": "GSR"}})
    p = replace(
        plan, trial=replace(plan.trial, arms=("usual care", "GSR"), reference_arm="usual care")
    )
    assert list(dict.fromkeys(table1(d, p)["arm"])) == ["usual care", "GSR", OVERALL]


# ----------------------------------------------------------------------------- screening
def test_screening_counts_read_the_export_format() -> None:
    log = datasets.load("resolve_screening")
    counts = screening_counts(log)
    assert counts["measure"].iloc[0] == "assessed for eligibility"
    assert counts["measure"].iloc[-1] == "randomised"
    top = counts[counts["reason"] == ""].set_index("measure")["n"]
    assert top["randomised"] == 276
    assert top["excluded"] == top["assessed for eligibility"] - top["randomised"]
    categories = top.drop(["assessed for eligibility", "excluded", "randomised"])
    assert categories.sum() == top["excluded"]  # the simulated categories are exclusive


def test_screening_counts_validate() -> None:
    ok = pd.DataFrame(
        {"measure": ["assessed for eligibility", "randomised"], "n": [10, 8], "reason": ["", ""]}
    )
    assert screening_counts(ok)["n"].tolist() == [10, 2, 8]
    with pytest.raises(DataValidationError, match="randomised"):
        screening_counts(ok.iloc[:1])
    with pytest.raises(DataValidationError, match="only 10 assessed"):
        screening_counts(ok.assign(n=[10, 12]))
    with pytest.raises(DataValidationError, match="whole numbers"):
        screening_counts(ok.assign(n=[10, -1]))
    bad_total = pd.concat([ok, pd.DataFrame({"measure": ["excluded"], "n": [5], "reason": [""]})])
    with pytest.raises(DataValidationError, match="assessed - randomised = 2"):
        screening_counts(bad_total)
    with pytest.raises(DataValidationError, match="lacks column"):
        screening_counts(ok.drop(columns="n"))


def test_consort_starts_at_eligibility_with_screening(data: pd.DataFrame, plan: Plan) -> None:
    valid = plan.validate_data(data)
    log = datasets.load("resolve_screening")
    flow = consort(valid, plan, screening=log)
    assert flow["stage"].tolist()[:2] == ["assessed for eligibility", "excluded"]
    exclusions = flow[flow["stage"].str.startswith("excluded: ")]
    assert "excluded: not meeting inclusion criteria" in set(exclusions["stage"])
    reasons = exclusions.loc[
        exclusions["stage"] == "excluded: not meeting inclusion criteria", "detail"
    ].tolist()
    assert "pain below 3/10 (n = " in str(reasons[0])
    without = consort(valid, plan)
    assert without["stage"].iloc[0] == "randomised"
    assert flow[flow.stage == "randomised"]["n"].iloc[0] == 276
    # after the enrolment rows the flow is the same
    tail = flow.iloc[len(flow) - len(without) :].reset_index(drop=True)
    pd.testing.assert_frame_equal(tail, without)


def test_analyze_takes_a_screening_log_and_notes_a_mismatch(data: pd.DataFrame) -> None:
    log = datasets.load("resolve_screening")
    log.loc[log.measure == "randomised", "n"] = 270
    log.loc[log.measure == "assessed for eligibility", "n"] -= 6
    result = analyze(data, screening=log, screening_source="log.csv")
    assert result.consort["stage"].iloc[0] == "assessed for eligibility"
    assert result.screening is not None and result.screening["n"].iloc[-1] == 270
    assert any("log.csv" in n and "270 randomised" in n for n in result.notes)
    assert result.table1 is not None and result.responders is not None
    assert analyze(data).screening is None
