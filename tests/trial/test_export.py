"""Trial export: analysis table round trip, item data, REDCap files, CONSORT, atomic write.

The synthetic trial is the bundled RESOLVE data set turned back into item-level
responses: for every score a set of valid item codes that scores to it is built,
and each response is scored through :mod:`resolve.instruments` as the store does
on save. Extra screened people (ineligible, declined, pending) are added.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from resolve import datasets, instruments
from resolve.analysis.run import analyze
from resolve.errors import DataValidationError
from resolve.instruments import Instrument
from resolve.trial.export import (
    REDCAP_COLUMNS,
    analysis_table,
    analysis_visits,
    consort_counts,
    raw_items,
    redcap_dictionary,
    redcap_events,
    redcap_instrument_events,
    redcap_records,
    write_export,
)
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
    """The bundled trial as participants + responses, and the hand-built long frame."""
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


# ----------------------------------------------------------------------------- items
def test_raw_items_one_row_per_recorded_item(trial: dict[str, Any]) -> None:
    r = trial["responses"]
    items = raw_items(r)
    assert list(items.columns) == [
        "participant_id",
        "visit",
        "instrument",
        "item",
        "code",
        "recorded_at",
        "version",
    ]
    assert len(items) == sum(len(d) for d in r["items"])
    one = items[(items["instrument"] == "tsk17") & (items["participant_id"] == "R001")]
    assert one["item"].tolist() == list(range(1, 18))
    assert set(one["code"]) <= {1, 2, 3, 4}


# ----------------------------------------------------------------------------- REDCap
def test_redcap_dictionary_header_names_items(trial: dict[str, Any]) -> None:
    d = redcap_dictionary(trial["protocol"])
    assert tuple(d.columns) == REDCAP_COLUMNS
    assert len(REDCAP_COLUMNS) == 18
    names = d["Variable / Field Name"].tolist()
    assert names[0] == "record_id"
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) and len(n) <= 100 for n in names)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", f) for f in d["Form Name"].unique())
    for inst_id in trial["protocol"].instruments:
        inst = instruments.get(inst_id)
        for col in inst.columns:
            assert col in names, col
        form = d[d["Form Name"] == inst_id]
        assert f"{inst_id}_total" in form["Variable / Field Name"].tolist()
        if isinstance(inst, Instrument):
            for it in inst.items:
                row = d[d["Variable / Field Name"] == inst.column(it.number)].iloc[0]
                assert row["Field Type"] == "radio"
                assert row["Field Label"] == it.label
                codes = [c.split(",")[0].strip() for c in row[REDCAP_COLUMNS[5]].split("|")]
                assert codes == [str(c) for c in it.codes]
    computed = d[d["Field Annotation"] == "@READONLY"]
    assert set(computed["Field Type"]) <= {"text", "yesno"}


def test_redcap_dictionary_never_ships_licensed_wording() -> None:
    inst = instruments.get("tsk17")
    assert isinstance(inst, Instrument)
    secret = "LICENSED WORDING SENTINEL"
    instruments.register(inst.with_wording({1: secret}), replace=True)
    try:
        d = redcap_dictionary(load_protocol())
        assert not d.apply(lambda c: c.str.contains(secret)).any().any()
    finally:
        instruments.register(inst, replace=True)


def test_redcap_events_and_mapping(trial: dict[str, Any]) -> None:
    proto = trial["protocol"]
    events = redcap_events(proto)
    assert events["unique_event_name"].is_unique
    row = events.set_index("event_name").loc["week 18"]
    assert row["unique_event_name"] == "week_18_arm_1"
    assert row["day_offset"] == 126
    mapping = redcap_instrument_events(proto)
    assert set(mapping["unique_event_name"]) <= set(events["unique_event_name"])
    at18 = set(mapping.loc[mapping["unique_event_name"] == "week_18_arm_1", "form"])
    assert at18 == set(proto.visit("week 18").instruments)


def test_redcap_records_events_and_values(trial: dict[str, Any]) -> None:
    proto = trial["protocol"]
    rec = redcap_records(trial["participants"], trial["responses"], proto)
    assert rec.columns[:2].tolist() == ["record_id", "redcap_event_name"]
    names = set(redcap_dictionary(proto)["Variable / Field Name"])
    fields = [c for c in rec.columns[2:] if not c.endswith("_complete")]
    assert set(fields) == names - {"record_id"}
    assert set(rec["redcap_event_name"]) == {
        "screening_arm_1",
        "baseline_arm_1",
        "week_12_arm_1",
        "week_18_arm_1",
        "week_26_arm_1",
        "week_52_arm_1",
    }
    assert not rec.isna().any().any()
    assert rec.duplicated(["record_id", "redcap_event_name"]).sum() == 0
    screening = rec[rec["redcap_event_name"] == "screening_arm_1"]
    assert len(screening) == len(trial["participants"])
    data = trial["data"].set_index(["id", "visit"])
    at18 = rec[rec["redcap_event_name"] == "week_18_arm_1"].set_index("record_id")
    for pid in list(at18.index)[:30]:
        pain = data.loc[(pid, "week 18"), "pain"]
        want = "" if pd.isna(pain) else str(int(pain))
        assert at18.loc[pid, "nrs_1"] == want
        assert at18.loc[pid, "nrs_total"] == want
        assert at18.loc[pid, "pcs_1"] == ""  # PCS is not collected at week 18
    r001 = rec[(rec["record_id"] == "R001") & (rec["redcap_event_name"] == "screening_arm_1")]
    assert r001["allocated_arm"].item() == "sham"
    assert r001["eligible"].item() == "1"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r001["randomisation_date"].item())


def test_redcap_records_refuse_unscheduled_instrument(trial: dict[str, Any]) -> None:
    r = trial["responses"]
    bad = r[(r["instrument"] == "pcs")].iloc[:1].assign(visit="week 18")
    with pytest.raises(DataValidationError, match="does not schedule"):
        redcap_records(trial["participants"], pd.concat([r, bad]), trial["protocol"])


# ----------------------------------------------------------------------------- CONSORT
def test_consort_counts_equal_direct_pandas_counts(trial: dict[str, Any]) -> None:
    p, r, proto = trial["participants"], trial["responses"], trial["protocol"]
    c = consort_counts(p, r, proto)
    assert list(c.columns) == ["stage", "arm", "visit", "measure", "reason", "n"]

    def n(stage: str, measure: str, arm: str = "all", visit: str = "", reason: str = "") -> int:
        hit = c[
            (c.stage == stage)
            & (c.measure == measure)
            & (c.arm == arm)
            & (c.visit == visit)
            & (c.reason == reason)
        ]
        assert len(hit) == 1, (stage, measure, arm, visit, reason)
        return int(hit["n"].item())

    randomised = p["arm"].notna()
    assert n("enrolment", "assessed for eligibility") == len(p)
    assert n("enrolment", "randomised") == randomised.sum() == 276
    assert n("enrolment", "excluded") == (~randomised).sum()
    inel = p[~randomised & (p["eligible"] == False)]  # noqa: E712
    assert n("enrolment", "not meeting inclusion criteria") == len(inel)
    per_reason = inel["ineligible_reasons"].str.split("; ").explode().value_counts()
    for reason, count in per_reason.items():
        assert n("enrolment", "not meeting inclusion criteria", reason=str(reason)) == count
    assert (
        n("enrolment", "eligibility not determined") == (~randomised & p["eligible"].isna()).sum()
    )
    declined = ~randomised & (p["eligible"] == True) & p["consented_at"].isna()  # noqa: E712
    assert n("enrolment", "declined to participate") == declined.sum()
    other = ~randomised & (p["eligible"] == True) & p["consented_at"].notna()  # noqa: E712
    assert n("enrolment", "other reasons") == other.sum()
    excl = c[(c.stage == "enrolment") & (c.reason == "")]
    parts = ["not meeting inclusion criteria", "eligibility not determined"]
    parts += ["declined to participate", "other reasons"]
    assert excl[excl.measure.isin(parts)]["n"].sum() == n("enrolment", "excluded")

    data = trial["data"]
    for arm, count in p.loc[randomised, "arm"].value_counts().items():
        assert n("allocation", "allocated", str(arm)) == count
        in_err = (p["arm"] == arm) & (p["status"] == "randomised_in_error")
        assert n("allocation", "randomised in error", str(arm)) == in_err.sum()
        for visit in PLAN_VISITS[1:]:
            at = data[(data["arm"] == arm) & (data["visit"] == visit)]
            assessed = n("follow-up", "assessed", str(arm), visit)
            assert assessed == at["pain"].notna().sum()
            parts_n = sum(
                n("follow-up", m, str(arm), visit)
                for m in ("assessed", "withdrawn", "lost to follow-up", "missed visit")
            )
            assert parts_n == count
            week = int(visit.split()[1])
            pp = p.set_index("participant_id").loc[at["id"]]
            target = pd.to_datetime(pp["randomised_at"], utc=True) + pd.Timedelta(weeks=week)
            lost = pd.to_datetime(pp["lost_at"], utc=True) <= target
            missing = at.set_index("id")["pain"].isna()
            assert (
                n("follow-up", "lost to follow-up", str(arm), visit)
                == (lost.to_numpy() & missing.to_numpy()).sum()
            )
        at18 = data[(data["arm"] == arm) & (data["visit"] == "week 18")]
        assert n("analysis", "analysed", str(arm), "week 18") == at18["pain"].notna().sum()
        assert (
            n(
                "analysis",
                "excluded from analysis",
                str(arm),
                "week 18",
                "no primary outcome at week 18",
            )
            == at18["pain"].isna().sum()
        )
    # the analysis module's own CONSORT agrees on the analysed counts
    flow = analyze(_table(trial)).consort
    assert flow.loc[flow.stage == "randomised", "n"].item() == 276


# ----------------------------------------------------------------------------- writing
def test_write_export_files(tmp_path: Path, trial: dict[str, Any]) -> None:
    out = tmp_path / "export"
    files = write_export(out, trial["participants"], trial["responses"], trial["protocol"])
    names = sorted(f.name for f in files)
    assert names == sorted(
        [
            "analysis.csv",
            "items.csv",
            "redcap_dictionary.csv",
            "redcap_events.csv",
            "redcap_instrument_events.csv",
            "redcap_records.csv",
            "consort.csv",
            "README.txt",
        ]
    )
    assert all(f.exists() for f in files)
    back = pd.read_csv(out / "analysis.csv")
    got = analyze(back).primary
    want = analyze(trial["expected"]).primary
    np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=1e-10)
    header = (out / "redcap_dictionary.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(f'"{c}"' if "," in c else c for c in REDCAP_COLUMNS)
    rec = pd.read_csv(out / "redcap_records.csv", dtype=str, keep_default_na=False)
    assert rec.columns[:2].tolist() == ["record_id", "redcap_event_name"]
    assert list(tmp_path.iterdir()) == [out]


def test_write_export_leaves_nothing_on_error(
    tmp_path: Path, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "deep" / "export"
    calls = {"n": 0}
    real = pd.DataFrame.to_csv

    def failing(self: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing)
    with pytest.raises(OSError, match="disk full"):
        write_export(out, trial["participants"], trial["responses"], trial["protocol"])
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    # bad input: refused before anything is written
    with pytest.raises(DataValidationError):
        write_export(
            out, trial["participants"].drop(columns="status"), trial["responses"], trial["protocol"]
        )
    assert list(tmp_path.iterdir()) == []


def test_consort_counts_with_an_arm_not_yet_randomised(trial: dict[str, Any]) -> None:
    """Early in a trial one arm may have nobody yet: counts are zero, not an error."""
    p, r, proto = trial["participants"], trial["responses"], trial["protocol"]
    first = p[p["arm"].notna()].iloc[:1]  # a single randomised participant
    c = consort_counts(first, r[r["participant_id"].isin(first["participant_id"])], proto)
    other = next(a.name for a in proto.arms if a.name != first["arm"].iloc[0])
    allocated = c[(c.stage == "allocation") & (c.arm == other) & (c.measure == "allocated")]
    assert int(allocated["n"].item()) == 0
    followed = c[(c.stage == "follow-up") & (c.arm == other)]
    assert len(followed) > 0 and (followed["n"] == 0).all()
