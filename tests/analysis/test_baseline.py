"""Table 1 (recomputed here with pandas groupby) and the screening log of the CONSORT flow."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis.baseline import (
    FLOW_COLUMNS,
    OVERALL,
    TABLE1_COLUMNS,
    flow_counts,
    screening_counts,
    table1,
)
from resolve.analysis.descriptive import (
    CONSORT_COLUMNS,
    FROM_DATA,
    FROM_LOG,
    consort,
    consort_notes,
)
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


# ----------------------------------------------------------------------------- after enrolment
ENROLMENT = [("assessed for eligibility", 300), ("randomised", 276)]
REASONS = ("withdrawn", "lost to follow-up", "missed visit")


def _log(rows: list[tuple[str, str, str, str, str, int]]) -> pd.DataFrame:
    """A log in the trial export's format: enrolment rows, then ``rows``."""
    enrol = [("enrolment", "all", "", m, "", n) for m, n in ENROLMENT]
    return pd.DataFrame(enrol + rows, columns=list(FLOW_COLUMNS))


def _export_style_log(
    data: pd.DataFrame, plan: Plan
) -> tuple[pd.DataFrame, dict[tuple[str, str, str], int]]:
    """A log with the export's rows after enrolment, made here from the data with pandas.

    A participant without pain at a visit is withdrawn (even position) or lost
    (odd position) when pain is also missing at every later visit, else missed
    the visit. Returns the log and its reason counts by (arm, visit, measure).
    """
    t = plan.trial
    wide = data.pivot(index="id", columns="visit", values="pain")
    arm = data.drop_duplicates("id").set_index("id")["arm"].reindex(wide.index)
    follow = [v for v in t.visits if v != t.baseline_visit]
    odd = pd.Series(np.arange(len(wide)) % 2 == 1, index=wide.index)
    rows: list[tuple[str, str, str, str, str, int]] = []
    expected: dict[tuple[str, str, str], int] = {}
    for a in t.arms:
        rows += [("allocation", a, "", "allocated", "", int((arm == a).sum()))]
        rows += [("allocation", a, "", "randomised in error", "", 0)]
    for a in t.arms:
        for k, v in enumerate(follow):
            w = wide[arm == a]
            missing = w[v].isna()
            gone = w[follow[k:]].isna().all(axis=1)
            counts = {
                "assessed": int((~missing).sum()),
                "withdrawn": int((missing & gone & ~odd[w.index]).sum()),
                "lost to follow-up": int((missing & gone & odd[w.index]).sum()),
                "missed visit": int((missing & ~gone).sum()),
            }
            for measure, n in counts.items():
                rows.append(("follow-up", a, v, measure, "", n))
                expected[(a, v, measure)] = n
    pv = t.primary_visit
    for a in t.arms:
        at = wide.loc[arm == a, pv]
        rows.append(("analysis", a, pv, "analysed", "", int(at.notna().sum())))
        reason = f"no primary outcome at {pv}"
        rows.append(("analysis", a, pv, "excluded from analysis", reason, int(at.isna().sum())))
    return _log(rows), expected


def test_flow_counts_read_the_rows_after_enrolment() -> None:
    log = _log(
        [
            (" Allocation", " sham ", "", "Allocated", "", 138),
            ("follow up", "sham", "week 12", "withdrawn", "", 2),
            ("FOLLOW-UP", "sham", "week 12", "withdrawn", "moved away", 1),
            ("analysis", "sham", "week 18", "excluded from analysis", "randomised in error", 1),
        ]
    )
    got = flow_counts(log, source="consort.csv")
    assert list(got.columns) == list(FLOW_COLUMNS)
    assert got.to_numpy().tolist() == [
        ["allocation", "sham", "", "allocated", "", 138],
        ["follow-up", "sham", "week 12", "withdrawn", "", 2],
        ["follow-up", "sham", "week 12", "withdrawn", "moved away", 1],
        ["analysis", "sham", "week 18", "excluded from analysis", "randomised in error", 1],
    ]
    assert screening_counts(log)["n"].tolist() == [300, 24, 276]  # enrolment only
    # the hand-written format and the bundled (enrolment-only) log have no such rows
    hand = pd.DataFrame({"measure": ["assessed for eligibility", "randomised"], "n": [10, 8]})
    assert flow_counts(hand).empty and list(flow_counts(hand).columns) == list(FLOW_COLUMNS)
    assert flow_counts(datasets.load("resolve_screening")).empty


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            ("randomisation", "sham", "", "allocated", "", 1),
            "row 3, column 'stage' has 'randomisation'",
        ),
        (("allocation", "sham", "", "assessed", "", 1), "row 3, column 'measure' has 'assessed'"),
        (("follow-up", "", "week 12", "assessed", "", 1), "row 3, column 'arm' has ''"),
        (("analysis", "all", "", "analysed", "", 1), "row 3, column 'arm' has 'all'"),
        (("follow-up", "sham", "", "assessed", "", 1), "row 3, column 'visit' is empty"),
        (
            ("follow-up", "sham", "week 12", "assessed", "", -1),
            "column 'n' must hold whole numbers >= 0; row 3 has -1",
        ),
    ],
)
def test_flow_counts_name_the_bad_row(
    row: tuple[str, str, str, str, str, int], message: str
) -> None:
    with pytest.raises(DataValidationError, match=re.escape(f"log.csv: {message}")):
        flow_counts(_log([row]), source="log.csv")
    if "'stage'" in message or "'n'" in message:  # the enrolment reader refuses them too
        with pytest.raises(DataValidationError, match=re.escape(message)):
            screening_counts(_log([row]), source="log.csv")


def test_flow_counts_refuse_a_repeated_row() -> None:
    row = ("follow-up", "sham", "week 12", "assessed", "", 1)
    with pytest.raises(DataValidationError, match=r"log\.csv: row 4 repeats row 3"):
        flow_counts(_log([row, row]), source="log.csv")


def test_consort_draws_the_logs_reasons_beside_the_datas_counts(
    data: pd.DataFrame, plan: Plan
) -> None:
    valid = plan.validate_data(data)
    log, expected = _export_style_log(data, plan)
    flow = consort(valid, plan, screening=log)
    assert list(flow.columns) == list(CONSORT_COLUMNS)
    assert consort_notes(valid, plan, log, source="log.csv") == [
        "participant flow from screening: log.csv"
    ]
    # the boxes: the data's own counts (pain present per arm and visit)
    for (arm, visit, measure), n in expected.items():
        if measure == "assessed":
            box = flow[(flow.stage == f"follow-up {visit}") & (flow.arm == arm)]
            present = data[(data.arm == arm) & (data.visit == visit)]["pain"].notna().sum()
            assert box["n"].item() == present == n
            assert box["source"].item() == FROM_DATA
            continue
        # beneath them: the log's reasons, only those above zero
        line = flow[(flow.stage == f"follow-up {visit}: {measure}") & (flow.arm == arm)]
        assert line["n"].tolist() == ([n] if n else [])
        assert set(line["source"]) <= {FROM_LOG} and set(line["visit"]) <= {visit}
    assert sum(n for (_, _, m), n in expected.items() if m != "assessed") > 0
    drawn = flow[flow.stage.str.contains(": ") & (flow.arm != "all")]
    assert drawn["n"].sum() == sum(n for (_, _, m), n in expected.items() if m in REASONS)
    # no one randomised in error; everyone has pain at some visit: nothing else beneath
    assert not flow.stage.str.startswith(("allocated:", "analysed:")).any()
    # without those rows the flow is the one an enrolment-only log gives
    enrolment_only = consort(valid, plan, screening=log[log.stage == "enrolment"])
    boxes = flow[~flow.stage.str.contains(": ") | (flow.arm == "all")].reset_index(drop=True)
    pd.testing.assert_frame_equal(boxes, enrolment_only)


def test_consort_notes_where_the_log_and_the_data_differ(data: pd.DataFrame, plan: Plan) -> None:
    valid = plan.validate_data(data)
    log, expected = _export_style_log(data, plan)
    n_sham = int(data.loc[data.arm == "sham", "id"].nunique())
    wrong = log.copy()
    extra = pd.DataFrame(
        [
            ("follow-up", "placebo", "week 26", "withdrawn", "", 4),
            ("follow-up", "sham", "week 8", "withdrawn", "", 4),
            ("analysis", "sham", "week 18", "excluded from analysis", "protocol deviation", 2),
        ],
        columns=list(FLOW_COLUMNS),
    )
    wrong = pd.concat([wrong, extra], ignore_index=True)
    wrong.loc[(wrong.measure == "allocated") & (wrong.arm == "sham"), "n"] = n_sham + 3
    at26 = (wrong.measure == "assessed") & (wrong.arm == "resolve") & (wrong.visit == "week 26")
    wrong.loc[at26, "n"] -= 2
    notes = consort_notes(valid, plan, wrong, source="log.csv")
    text = "\n".join(notes)
    assert "arm(s) 'placebo'" in text and "not arms of the plan (sham, resolve)" in text
    assert "follow-up visit(s) 'week 8' are not visits of the plan" in text
    assert f"{n_sham + 3} allocated to sham in the log, {n_sham} in the data" in text
    n26 = expected[("resolve", "week 26", "assessed")]
    assert f"resolve at week 26: {n26 - 2} assessed in the log, {n26} with pain" in text
    assert "sham: protocol deviation (n = 2)" in text
    flow = consort(valid, plan, screening=wrong, source="log.csv")
    assert "placebo" not in set(flow.arm) and "week 8" not in set(flow.visit.dropna())
    assert flow.loc[flow.stage == "allocated", "n"].tolist() == [
        n_sham,
        int(data.loc[data.arm == "resolve", "id"].nunique()),
    ]  # the data's counts
    box = flow[(flow.stage == "follow-up week 26") & (flow.arm == "resolve")]
    assert box["n"].item() == n26 and f"screening log: {n26 - 2} assessed" in box["detail"].item()
    assert not flow.detail.str.contains("protocol deviation").any()  # not drawn
    assert consort_notes(valid, plan, None) == []


def test_consort_adds_back_those_randomised_in_error_the_data_leave_out(
    data: pd.DataFrame, plan: Plan
) -> None:
    """The export's randomised_in_error="exclude": the data lack them, the log counts them."""
    log, _ = _export_style_log(data, plan)
    gone = sorted(data.loc[data.arm == "resolve", "id"].unique())[:2]
    valid = plan.validate_data(data[~data["id"].isin(gone)])
    in_error = (log.stage == "allocation") & (log.arm == "resolve") & (log.measure != "allocated")
    log.loc[in_error, "n"] = len(gone)
    pv = plan.trial.primary_visit
    log.loc[len(log)] = (
        "analysis",
        "resolve",
        pv,
        "excluded from analysis",
        "randomised in error",
        2,
    )
    flow = consort(valid, plan, screening=log)
    n_resolve = int(data.loc[data.arm == "resolve", "id"].nunique())
    alloc = flow[flow.stage == "allocated"].set_index("arm")["n"]
    assert alloc["resolve"] == n_resolve and flow.loc[flow.stage == "randomised", "n"].item() == 276
    beneath = flow[flow.stage == "analysed: excluded from analysis"]
    assert beneath[["arm", "n", "detail", "source"]].to_numpy().tolist() == [
        ["resolve", 2, "randomised in error", FROM_LOG]
    ]
    analysed = flow[(flow.stage == "analysed") & (flow.arm == "resolve")]["n"].item()
    assert analysed == n_resolve - 2
    err = flow[flow.stage == "allocated: randomised in error"]
    assert err[["arm", "n", "detail"]].to_numpy().tolist() == [
        ["resolve", 2, "not in the analysed data"]
    ]
    notes = consort_notes(valid, plan, log)
    assert not any("allocat" in n for n in notes)  # the log explains the difference
