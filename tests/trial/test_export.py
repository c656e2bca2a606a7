"""Trial export: the shared trial fixture, and the analysis table (resolve.trial.exports.analysis).

The synthetic trial is the bundled RESOLVE data set turned back into item-level
responses: for every score a set of valid item codes that scores to it is built,
and each response is scored through :mod:`resolve.instruments` as the store does
on save. Extra screened people (ineligible, declined, pending) are added. The other
``test_export_*.py`` files (raw items, REDCap, CONSORT, writing) import the fixture.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import pytest

from resolve import datasets, instruments
from resolve.analysis.plan import Plan, bundled_plan_text, parse_plan
from resolve.analysis.run import analyze
from resolve.errors import DataValidationError
from resolve.instruments import Instrument
from resolve.trial.exports import analysis_sources, analysis_table, analysis_visits
from resolve.trial.protocol import load_protocol

START = pd.Timestamp("2016-01-04", tz="UTC")
PLAN_VISITS = ("baseline", "week 12", "week 18", "week 26", "week 52")
BASELINE_SOURCES = {
    "pseq": "pseq",
    "pcs": "pcs",
    "frebaq": "frebaq",
    "tsk": "tsk17",
    "bbq": "bbq",
}


def items_for_total(inst_id: str, total: float) -> dict[int, int]:
    """Valid codes whose (unprorated) total is ``total``: greedy over scored items."""
    return dict(_items_for_total(inst_id, total))


@functools.cache
def _items_for_total(inst_id: str, total: float) -> tuple[tuple[int, int], ...]:
    inst = instruments.get(inst_id)
    assert isinstance(inst, Instrument)
    scale = inst.scales[0]
    numbers = list(scale.items)
    for name in scale.from_scales:  # e.g. PCS: total = sum of its subscales
        numbers += next(s for s in inst.scales if s.name == name).items
    used = [inst.item(n) for n in dict.fromkeys(numbers)]
    values = {it.number: it.value_range[0] for it in used}
    left = round(total) - sum(values.values())
    for it in used:
        step = min(left, it.value_range[1] - values[it.number])
        values[it.number] += step
        left -= step
    assert left == 0, f"{inst.id}: total {total} not attainable"
    codes = {it.number: it.low for it in inst.items}  # unscored items: lowest code
    for it in used:
        codes[it.number] = next(c for c in it.codes if it.value(c) == values[it.number])
    assert instruments.score(inst, codes).total == total
    return tuple(codes.items())


@functools.cache
def _scored(inst_id: str, items: tuple[tuple[int, Any], ...]) -> dict[str, Any]:
    out: dict[str, Any] = instruments.score(inst_id, dict(items)).to_dict()
    return out


def _response(pid: str, visit: str, inst_id: str, items: dict[int, Any], k: int) -> dict[str, Any]:
    """A response row as the store would give it: items scored on save."""
    scores = {**_scored(inst_id, tuple(items.items())), "respondent": pid}
    return {
        "participant_id": pid,
        "visit": visit,
        "instrument": inst_id,
        "items": items,
        "scores": scores,
        "recorded_at": (START + pd.Timedelta(days=k)).isoformat(),
        "version": 1,
    }


@pytest.fixture(scope="module")
def trial() -> dict[str, Any]:
    """The bundled trial as participants + responses, and the hand-built long frame.

    Built once per session (tests copy a frame before changing it).
    """
    return dict(_trial())


@functools.cache
def _trial() -> dict[str, Any]:
    data = datasets.load("resolve")
    rng = np.random.default_rng(20221004)
    ids = list(dict.fromkeys(data["id"]))
    people: list[dict[str, Any]] = []
    responses: list[dict[str, Any]] = []
    for k, pid in enumerate(ids):
        rows = data[data["id"] == pid].set_index("visit")
        first = rows.iloc[0]
        randomised = START + pd.Timedelta(days=3 * k)
        lost_at = withdrawn_at = None
        pain = rows["pain"]
        if pd.isna(pain["week 26"]) and pd.isna(pain["week 52"]):
            if k % 2:
                lost_at = randomised + pd.Timedelta(weeks=20)
            else:
                withdrawn_at = randomised + pd.Timedelta(weeks=21)
        status = "lost" if lost_at is not None else "withdrawn" if withdrawn_at else "randomised"
        if k == 5:
            status = "randomised_in_error"
        people.append(
            {
                "participant_id": pid,
                "site": "sydney",
                "status": status,
                "screened_at": (randomised - pd.Timedelta(days=14)).isoformat(),
                "eligible": True,
                "ineligible_reasons": "",
                "consented_at": (randomised - pd.Timedelta(days=7)).isoformat(),
                "consent_version": "1.0",
                "randomised_at": randomised.isoformat(),
                "arm": first["arm"],
                "stratum": "sydney",
                "age": int(first["age"]),
                "sex": first["sex"],
                "withdrawn_at": None if withdrawn_at is None else withdrawn_at.isoformat(),
                "lost_at": None if lost_at is None else lost_at.isoformat(),
            }
        )
        for visit, row in rows.iterrows():
            if pd.notna(row["pain"]):
                responses.append(_response(pid, str(visit), "nrs", {1: int(row["pain"])}, k))
            if pd.notna(row["rmdq"]):
                codes = items_for_total("rmdq24", float(row["rmdq"]))
                responses.append(_response(pid, str(visit), "rmdq24", codes, k))
        for col, inst_id in BASELINE_SOURCES.items():
            codes = items_for_total(inst_id, float(first[col]))
            responses.append(_response(pid, "baseline", inst_id, codes, k))
        meds = ["pregabalin", "paracetamol"] if first["psychoactive"] else ["none"]
        slots = {j: m for j, m in enumerate(meds, start=1)}
        responses.append(_response(pid, "baseline", "psychoactive_medication", slots, k))
    # screened, never randomised
    reasons = ["age 72 is above 70", "past-week pain 2 is below 3", "serious_spinal_pathology"]
    extra = []
    for j in range(40):
        kind = ["ineligible", "ineligible", "declined", "pending", "consented"][j % 5]
        picked = "; ".join(rng.choice(reasons, size=1 + j % 2, replace=False).tolist())
        extra.append(
            {
                "participant_id": f"S{j:03d}",
                "site": "sydney",
                "status": "ineligible" if kind == "ineligible" else "screened",
                "screened_at": START.isoformat(),
                "eligible": {"ineligible": False, "pending": None}.get(kind, True),
                "ineligible_reasons": picked if kind == "ineligible" else "",
                "consented_at": START.isoformat() if kind == "consented" else None,
                "consent_version": "1.0" if kind == "consented" else None,
                "randomised_at": None,
                "arm": None,
                "stratum": None,
                "age": 40,
                "sex": None,
                "withdrawn_at": None,
                "lost_at": None,
            }
        )
    participants = pd.DataFrame(people + extra)
    expected = data[
        ["id", "arm", "visit", "pain", "rmdq", *BASELINE_SOURCES, "pain_baseline", "age", "sex"]
    ]
    expected = expected.assign(
        psychoactive=data["psychoactive"], rmdq_baseline=data["rmdq_baseline"]
    )
    return {
        "participants": participants,
        "responses": pd.DataFrame(responses),
        "protocol": load_protocol(),
        "expected": expected,
        "data": data,
    }


def _table(trial: dict[str, Any], **kw: Any) -> pd.DataFrame:
    return analysis_table(trial["participants"], trial["responses"], trial["protocol"], **kw)


# ----------------------------------------------------------------------------- analysis
def test_visit_mapping_by_name() -> None:
    p = load_protocol()
    assert analysis_visits(p) == {v: v for v in PLAN_VISITS}
    custom = {"baseline": "baseline", "week 18": "week 18"}
    assert analysis_visits(p, visit_map=custom) == custom
    with pytest.raises(DataValidationError, match="unknown protocol visit"):
        analysis_visits(p, visit_map={"week 99": "week 18"})


def test_analysis_table_matches_hand_built_frame(trial: dict[str, Any]) -> None:
    table = _table(trial)
    expected = trial["expected"]
    assert len(table) == len(expected) == 276 * 5
    assert table["visit"].unique().tolist() == list(PLAN_VISITS)
    merged = table.merge(expected, on=["id", "visit"], suffixes=("", "_x"), validate="1:1")
    for col in ["arm", "pain", "rmdq", *BASELINE_SOURCES, "pain_baseline", "psychoactive"]:
        got, want = merged[col], merged[f"{col}_x"]
        if col == "arm":
            assert (got == want).all()
        else:
            pd.testing.assert_series_equal(got.astype(float), want.astype(float), check_names=False)
    assert (merged["rmdq_baseline"] == merged["rmdq_baseline_x"]).all()


def test_analyze_round_trip_gives_same_primary_estimates(trial: dict[str, Any]) -> None:
    got = analyze(_table(trial)).primary
    want = analyze(trial["expected"]).primary
    cols = ["estimate", "std_error", "conf_low", "conf_high", "p_value", "n_subjects", "n_obs"]
    pd.testing.assert_frame_equal(got[cols], want[cols], rtol=1e-10)
    assert got[["outcome", "visit"]].equals(want[["outcome", "visit"]])


def test_missing_stays_missing(trial: dict[str, Any]) -> None:
    table = _table(trial)
    exp = trial["expected"].set_index(["id", "visit"])
    tab = table.set_index(["id", "visit"])
    assert tab["pain"].isna().sum() == exp["pain"].isna().sum() > 0
    assert (tab["pain"].isna() == exp.loc[tab.index, "pain"].isna()).all()
    assert not (tab.loc[exp["pain"].isna(), "pain"] == 0).any()
    # an unanswered NRS and an unanswered medication list give NaN, never 0
    resp = trial["responses"].copy()
    pid = trial["expected"]["id"].iloc[0]
    nrs = (resp["participant_id"] == pid) & (resp["visit"] == "baseline")
    nrs &= resp["instrument"] == "nrs"
    med = (resp["participant_id"] == pid) & (resp["instrument"] == "psychoactive_medication")
    resp.loc[nrs, "items"] = pd.Series([{1: None}], index=resp.index[nrs])
    resp.loc[nrs, "scores"] = None  # re-scored from the items
    resp.loc[med, "scores"] = pd.Series(
        [instruments.score("psychoactive_medication", {}).to_dict()], index=resp.index[med]
    )
    t2 = analysis_table(trial["participants"], resp, trial["protocol"])
    rows = t2[t2["id"] == pid]
    assert rows.loc[rows["visit"] == "baseline", "pain"].isna().all()
    assert rows["pain_baseline"].isna().all()
    assert rows["psychoactive"].isna().all()


def test_only_randomised_and_in_error_choice(trial: dict[str, Any]) -> None:
    table = _table(trial)
    assert not table["id"].str.startswith("S").any()
    in_error = trial["participants"].loc[5, "participant_id"]
    assert in_error in set(table["id"])
    dropped = _table(trial, randomised_in_error="exclude")
    assert in_error not in set(dropped["id"])
    assert len(dropped) == len(table) - 5
    with pytest.raises(DataValidationError, match="randomised_in_error"):
        _table(trial, randomised_in_error="maybe")


def test_boundary_errors(trial: dict[str, Any]) -> None:
    p, r, proto = trial["participants"], trial["responses"], trial["protocol"]
    with pytest.raises(DataValidationError, match="lacks column"):
        analysis_table(p.drop(columns="arm"), r, proto)
    with pytest.raises(DataValidationError, match="not protocol visits"):
        analysis_table(p, pd.concat([r, r.iloc[:1].assign(visit="week 99")]), proto)
    with pytest.raises(DataValidationError, match="rows sharing a key"):
        analysis_table(p, pd.concat([r, r.iloc[:1]]), proto)
    with pytest.raises(DataValidationError, match="not in participants"):
        analysis_table(p.iloc[1:], r, proto)


# ----------------------------------------------------------------------------- plan sources
def _plan(text: str) -> Plan:
    return parse_plan(text, "myplan.toml")


def test_bundled_plan_declares_the_resolve_mapping() -> None:
    assert analysis_sources() == {
        "pain": ("nrs", "total"),
        "rmdq": ("rmdq24", "total"),
        "pseq": ("pseq", "total"),
        "pcs": ("pcs", "total"),
        "pain_baseline": ("nrs", "total"),
        "psychoactive": ("psychoactive_medication", "psychoactive"),
        "frebaq": ("frebaq", "total"),
        "tsk": ("tsk17", "total"),
        "rmdq_baseline": ("rmdq24", "total"),
        "bbq": ("bbq", "total"),
    }


def test_columns_follow_the_plans_declarations(trial: dict[str, Any]) -> None:
    """A renamed outcome column, a subscale as modifier, a modifier from participants."""
    text = bundled_plan_text()
    text = text.replace('name = "pain"\ncolumn = "pain"', 'name = "pain"\ncolumn = "nrs_pain"')
    text = text.replace('outcomes = ["pain", "rmdq"]', 'outcomes = ["pain"]')
    text = text.replace('source = "pcs.total"', 'source = "pcs.rumination"')
    text += '\n[[modifiers]]\nname = "age"\ncolumn = "age"\n'  # no source: a participant value
    table = _table(trial, plan=_plan(text))
    assert table.columns[:6].tolist() == ["id", "arm", "visit", "week", "nrs_pain", "rmdq"]
    assert "pain" not in table.columns
    assert table.columns[-4:].tolist() == ["age", "sex", "site", "stratum"]
    default = _table(trial)
    pd.testing.assert_series_equal(table["nrs_pain"], default["pain"], check_names=False)
    r = trial["responses"]
    pcs = r[(r["instrument"] == "pcs") & (r["visit"] == "baseline")].set_index("participant_id")
    rumination = pcs["scores"].map(lambda s: s["scores"]["rumination"])
    got = table.drop_duplicates("id").set_index("id")["pcs"]
    np.testing.assert_array_equal(got.to_numpy(), rumination.loc[got.index].astype(float))
    assert not got.equals(default.drop_duplicates("id").set_index("id")["pcs"])


def test_a_needed_source_missing_is_refused(trial: dict[str, Any]) -> None:
    text = bundled_plan_text().replace('source = "rmdq24.total"\n', "", 1)
    text = text.replace('source = "bbq.total"\n', "")
    with pytest.raises(DataValidationError) as exc:
        _table(trial, plan=_plan(text))
    assert str(exc.value) == (
        "myplan.toml: no key 'source' in [[outcomes]] 'rmdq', [[modifiers]] 'bbq'; the trial "
        'export reads each analysis column from its "<instrument id>.<score>" '
        "(docs/analysis-plan.md)"
    )
    # the analysis of a data file does not need sources
    assert _plan(text).outcome("rmdq").source is None


def test_a_column_filled_twice_is_refused(trial: dict[str, Any]) -> None:
    extra = '\n[[modifiers]]\nname = "s"\ncolumn = "site"\nsource = "bbq.total"\n'
    text = bundled_plan_text() + extra
    with pytest.raises(DataValidationError, match="column 'site' of a participant value"):
        _table(trial, plan=_plan(text))


def test_visit_by_week_needs_the_primary_outcomes_source() -> None:
    text = bundled_plan_text().replace('"week 12"', '"month 3"')
    assert analysis_visits(load_protocol(), _plan(text)).get("week 12") is None
    text = text.replace('source = "nrs.total"           #', "#", 1)
    with pytest.raises(DataValidationError, match=r"\[\[outcomes\]\] 'pain'.*'month 3' by week"):
        analysis_visits(load_protocol(), _plan(text))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'source = "nrs.total"           #',
            'source = "nrss.total" #',
            "[[outcomes]] #1 'source': unknown instrument 'nrss' in 'nrss.total' "
            "(did you mean 'nrs'?)",
        ),
        (
            'source = "rmdq24.total"',
            'source = "rmdq24.totl"',
            "[[outcomes]] #2 'source': instrument 'rmdq24' has no score 'totl' "
            "(did you mean 'total'?)",
        ),
        (
            'source = "nrs.total"           #',
            'source = "nrs" #',
            '[[outcomes]] #1 \'source\': must be "<instrument id>.<score>", e.g. "nrs.total"; '
            "got 'nrs'",
        ),
        (
            'source = "nrs.total"           #',
            'source = "nrs.severity" #',
            "[[outcomes]] #1 'source': 'nrs.severity' is a category of 'nrs'; an outcome reads "
            "a numeric score (total)",
        ),
        (
            'source = "pcs.total"',
            'source = "psychoactive_medication.psychoactive"',
            "[[modifiers]] #2 'source': 'psychoactive_medication.psychoactive' is a yes/no "
            'category; only a binary modifier (type = "binary") reads one',
        ),
        (
            'source = "psychoactive_medication.psychoactive"',
            'source = "tsk17.kinesiophobia"',
            "[[modifiers]] #4 'source': category 'kinesiophobia' of 'tsk17' takes 'high', "
            "'not high'; a modifier reads a numeric score (total) or a yes/no category",
        ),
    ],
)
def test_plan_sources_are_checked_against_the_instrument_registry(
    old: str, new: str, message: str
) -> None:
    text = bundled_plan_text()
    assert old in text
    with pytest.raises(DataValidationError) as exc:
        _plan(text.replace(old, new, 1))
    assert str(exc.value) == f"myplan.toml: {message}"
