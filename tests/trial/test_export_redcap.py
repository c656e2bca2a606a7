"""Trial export: REDCap dictionary, events, instrument events, records (exports.redcap)."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from resolve import instruments
from resolve.errors import DataValidationError
from resolve.instruments import Instrument
from resolve.trial.exports import (
    READONLY,
    REDCAP_COLUMNS,
    redcap_dictionary,
    redcap_events,
    redcap_instrument_events,
    redcap_records,
)
from resolve.trial.protocol import load_protocol
from tests.trial.test_export import trial

__all__ = ["trial"]  # the fixture, shared with the export tests


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
    computed = d[d["Field Annotation"] == READONLY]
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
