"""Long-format export, participant summary and merging into the analysis table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from resolve.errors import DataValidationError
from resolve.program.blocks import BlockRecord
from resolve.program.demo import demo_programme
from resolve.program.export import (
    LONG_COLUMNS,
    SUMMARY_COLUMNS,
    ParticipantProgramme,
    long_frame,
    merge_into_analysis,
    participant_summary,
)
from resolve.program.sessions import HomePractice, SessionRecord
from resolve.program.template import load_template

T = load_template()


def _participant() -> ParticipantProgramme:
    comps = list(T.plan("resolve", 1).components)
    session = SessionRecord(
        participant_id="P1",
        arm="resolve",
        week=1,
        attended=True,
        minutes=50.0,
        components=comps,
        fidelity={c: dict.fromkeys(T.component(c).fidelity, True) for c in comps},
        adverse_events=["sore"],
        pain=4,
    )
    missed = SessionRecord(participant_id="P1", arm="resolve", week=2, attended=False)
    blocks = [
        BlockRecord(
            participant_id="P1",
            task="lrj",
            block=1,
            week=1,
            level=1,
            measures={"accuracy": 0.6, "median_rt_s": 2.5},
        ),
        BlockRecord(
            participant_id="P1",
            task="lrj",
            block=2,
            week=1,
            setting="home",
            level=1,
            measures={"accuracy": 0.7, "median_rt_s": None},
        ),
        BlockRecord(
            participant_id="P1",
            task="lrj",
            block=3,
            week=2,
            level=1,
            measures={"accuracy": 0.9, "median_rt_s": 1.9},
        ),
    ]
    home = [
        HomePractice(participant_id="P1", week=1, day=d, task="lrj", minutes=12.5) for d in (1, 2)
    ]
    return ParticipantProgramme(
        participant_id="P1",
        arm="resolve",
        sessions=[session, missed],
        blocks=blocks,
        home_practice=home,
    )


def test_long_frame_hand_made() -> None:
    f = long_frame(_participant(), template=T)
    assert tuple(f.columns) == LONG_COLUMNS
    sess = f[f.task == "session"].set_index(["week", "measure"])["value"]
    assert sess[(1, "attended")] == 1.0 and sess[(1, "minutes")] == 50.0
    assert sess[(1, "fidelity")] == 1.0 and sess[(1, "adverse_events")] == 1.0
    assert sess[(1, "planned_delivered")] == 1.0 and sess[(1, "pain")] == 4.0
    assert sess[(2, "attended")] == 0.0
    assert math.isnan(sess[(2, "minutes")]) and math.isnan(sess[(2, "fidelity")])
    home = f[(f.setting == "home") & (f.measure == "minutes")]
    assert home[["week", "task", "value"]].values.tolist() == [[1, "lrj", 25.0]]
    lrj = f[f.task == "lrj"]
    assert lrj[["block", "measure", "value"]].dropna().values.tolist() == [
        [1, "accuracy", 0.6],
        [1, "median_rt_s", 2.5],
        [2, "accuracy", 0.7],
        [3, "accuracy", 0.9],
        [3, "median_rt_s", 1.9],
    ]
    assert math.isnan(lrj[(lrj.block == 2) & (lrj.measure == "median_rt_s")]["value"].iloc[0])
    assert str(f["block"].dtype) == "Int64" and str(f["week"].dtype) == "int64"


def test_summary_hand_made() -> None:
    s = participant_summary([_participant()], template=T).iloc[0]
    assert s["sessions_attended"] == 1 and bool(s["received"]) and not bool(s["adherent"])
    assert s["lrj_accuracy_first"] == 0.6 and s["lrj_accuracy_last"] == 0.9  # clinic blocks only
    assert s["lrj_median_rt_s_last"] == 1.9
    assert math.isnan(s["tactile_accuracy_first"]) and math.isnan(s["tpd_mm_first"])
    assert math.isnan(s["education_score"]) and s["home_minutes"] == 25.0


def test_demo_export_covers_every_record_type() -> None:
    demo = demo_programme(seed=3)
    f = long_frame(demo.participants, template=T)
    assert set(f.task) >= {
        "session",
        "lrj",
        "tactile",
        "graphaesthesia",
        "twopoint",
        "education",
        "imagery",
        "movement_precision",
        "loading",
    }
    assert set(f[f.participant_id == "DEMO-S01"].task) == {"session"}
    s = participant_summary(demo.participants, template=T)
    assert tuple(s.columns) == SUMMARY_COLUMNS
    active = s.iloc[0]
    assert active["lrj_accuracy_last"] > active["lrj_accuracy_first"]
    assert active["tpd_mm_last"] < active["tpd_mm_first"]
    assert s.iloc[1]["home_adherent"] is pd.NA and math.isnan(s.iloc[1]["lrj_accuracy_first"])
    with pytest.raises(DataValidationError, match="participant 'DEMO-R01' given twice"):
        long_frame([demo.participants[0], demo.participants[0]], template=T)


def test_merge_into_analysis() -> None:
    analysis = pd.DataFrame(
        {
            "id": ["DEMO-R01"] * 2 + ["X"],
            "visit": ["baseline", "week 18", "baseline"],
            "pain": [6.0, 3.0, 5.0],
        }
    )
    s = participant_summary(demo_programme(seed=3).participants, template=T)
    merged = merge_into_analysis(analysis, s)
    assert len(merged) == 3 and list(merged.columns[:3]) == ["id", "visit", "pain"]
    assert merged.loc[0, "fidelity"] == merged.loc[1, "fidelity"] == s.loc[0, "fidelity"]
    assert math.isnan(merged.loc[2, "fidelity"])  # no programme data: missing, not 0
    with pytest.raises(DataValidationError, match="no column 'subject'"):
        merge_into_analysis(analysis, s, subject="subject")
    with pytest.raises(DataValidationError, match="already has column\\(s\\) fidelity"):
        merge_into_analysis(analysis.assign(fidelity=1.0), s)
