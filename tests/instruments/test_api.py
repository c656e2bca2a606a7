"""Library-level behaviour: frames, bad input messages, wording files, FHIR details."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resolve.errors import DataValidationError, UnknownNameError
from resolve.instruments import (
    get,
    load_wording,
    questionnaire_response,
    read_responses,
    score,
    score_frame,
    score_response,
)


def dass_frame(n: int = 3, value: float = 1.0) -> pd.DataFrame:
    frame = pd.DataFrame({f"dass21_{k}": [value] * n for k in range(1, 22)})
    frame.insert(0, "id", [f"D{k}" for k in range(n)])
    return frame


def test_score_frame_keeps_index_and_id_column() -> None:
    frame = dass_frame().set_index(pd.Index([10, 20, 30]))
    out = score_frame("dass21", frame, id_column="id")
    assert list(out.index) == [10, 20, 30]
    assert list(out.columns) == [
        "id",
        "total",
        "depression",
        "anxiety",
        "stress",
        "n_missing",
        "prorated",
        "depression_severity",
        "anxiety_severity",
        "stress_severity",
    ]
    assert out["depression"].tolist() == [14.0, 14.0, 14.0]


def test_frame_errors_name_respondent_item_and_value() -> None:
    frame = dass_frame()
    frame.loc[1, "dass21_7"] = 2.5
    with pytest.raises(DataValidationError) as exc:
        score_frame("dass21", frame, id_column="id")
    assert (
        str(exc.value) == "dass21, respondent 'D1', item dass21_7: value 2.5 is not an integer code"
    )
    frame = dass_frame()
    frame["dass21_3"] = [1, 4, 2]
    with pytest.raises(DataValidationError, match="declare code_base=1"):
        score_frame("dass21", frame, id_column="id")
    with pytest.raises(DataValidationError, match="no id column 'who'"):
        score_frame("dass21", frame, id_column="who")


def test_boolean_and_text_columns_are_rejected() -> None:
    frame = dass_frame()
    frame["dass21_2"] = [True, False, True]
    with pytest.raises(
        DataValidationError, match="respondent 'D0', item dass21_2: value True is a boolean"
    ):
        score_frame("dass21", frame, id_column="id")
    frame = dass_frame()
    frame["dass21_2"] = pd.Series([1, "2", None], dtype=object)
    with pytest.raises(DataValidationError, match="respondent 'D1', item dass21_2: value '2'"):
        score_frame("dass21", frame, id_column="id")


def test_nullable_integer_and_object_columns_score_like_floats() -> None:
    frame = dass_frame()
    frame["dass21_1"] = pd.array([1, None, 3], dtype="Int64")
    frame["dass21_6"] = pd.Series([np.int64(1), 1.0, None], dtype=object)
    out = score_frame("dass21", frame)
    assert out["n_missing"].tolist() == [0, 1, 1]
    assert out["prorated"].tolist() == [False, True, True]
    # stress (items 1, 6, 8, 11, 12, 14, 18) of D1: item 1 missing, six at 1 -> 6 x 7/6 -> x 2
    assert out["stress"].iloc[1] == pytest.approx(14.0)
    # D2: item 6 missing, item 1 = 3 and five at 1 -> 8 x 7/6 -> x 2
    assert out["stress"].iloc[2] == pytest.approx(2 * 8 * 7 / 6)


def test_unknown_instrument_lists_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="unknown instrument 'tsk13'; known: bbq"):
        get("tsk13")


def test_missing_rule_can_be_changed_per_trial() -> None:
    from resolve.instruments import MissingRule

    strict = get("rmdq24").with_missing_rule("total", MissingRule(0, False, "complete cases"))
    response = {n: 1 for n in range(1, 24)}
    assert strict.score(response).total is None
    assert score("rmdq24", response).total == pytest.approx(24.0)
    with pytest.raises(DataValidationError, match="no scale 'pain'"):
        get("rmdq24").with_missing_rule("pain", MissingRule())  # type: ignore[union-attr]


def test_read_responses_parses_strictly(tmp_path: Path) -> None:
    path = tmp_path / "pcs.csv"
    header = "id," + ",".join(f"pcs_{k}" for k in range(1, 14))
    path.write_text(
        header + "\nA," + ",".join(["2"] * 12) + ", \nB," + ",".join(["3.0"] * 13) + "\n"
    )
    data = read_responses(path, get("pcs"))
    assert math.isnan(data["pcs_13"].iloc[0]) and data["pcs_1"].iloc[1] == 3.0
    out = score_frame("pcs", data, id_column="id")
    # A: magnification has item 13 missing -> (2 + 2) x 3 / 2 = 6; others full: R 8 + H 12
    assert out["magnification"].iloc[0] == pytest.approx(6.0)
    assert out["total"].iloc[0] == pytest.approx(26.0)
    assert out["total"].iloc[1] == pytest.approx(39.0)


def test_wording_file_attaches_text_and_checks_it(tmp_path: Path) -> None:
    path = tmp_path / "wording.csv"
    path.write_text("instrument,item,text\ntsk17,1,SITE TEXT ONE\npcs,13,SITE TEXT\n")
    worded = load_wording(path)
    assert worded["tsk17"].items[0].text == "SITE TEXT ONE"
    assert worded["tsk17"].to_fhir()["item"][0]["text"] == "SITE TEXT ONE"
    assert get("tsk17").to_fhir()["item"][0]["text"] == "TSK item 1"  # registry unchanged
    for body, fragment in (
        ("tsk17,18,x\n", "wording.csv line 2: tsk17 has no item '18'"),
        ("tsk99,1,x\n", "wording.csv line 2: unknown instrument 'tsk99'"),
        ("tsk17,1,x\ntsk17,1,y\n", "wording.csv line 3: duplicate wording"),
        ("tsk17,1, \n", "empty text"),
    ):
        path.write_text("instrument,item,text\n" + body)
        with pytest.raises(DataValidationError, match=fragment):
            load_wording(path)


def test_fhir_response_variants_and_errors() -> None:
    tsk = get("tsk17")
    resource = questionnaire_response(tsk, {n: 2 for n in range(1, 18)}, respondent="P5")  # type: ignore[arg-type]
    # nested groups and valueInteger answers are read too
    resource["item"] = [
        {
            "linkId": "group",
            "item": [
                {"linkId": f"tsk17_{n}", "answer": [{"valueInteger": 2}]} for n in range(1, 18)
            ],
        }
    ]
    assert score_response(resource).total == 13 * 2 + 4 * 3
    bad = dict(resource, questionnaire="http://example.org/Questionnaire/x")
    with pytest.raises(DataValidationError, match="not one of resolve's"):
        score_response(bad)
    with pytest.raises(DataValidationError, match="expected a QuestionnaireResponse"):
        score_response({"resourceType": "Patient"})
    two = questionnaire_response(tsk, {1: 2}, respondent="P5")  # type: ignore[arg-type]
    two["item"][0]["answer"].append({"valueInteger": 3})
    with pytest.raises(DataValidationError, match="tsk17_1: more than one answer"):
        score_response(two)
    med = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "urn:resolve:Questionnaire:psychoactive_medication",
        "item": [
            {
                "linkId": "psychoactive_medication",
                "answer": [
                    {"valueString": "duloxetine"},
                    {"valueCoding": {"system": "http://www.whocc.no/atc", "code": "N02AX02"}},
                ],
            }
        ],
    }
    result = score_response(med)
    assert result.scores["opioid"] == 1 and result.scores["antidepressant"] == 1
