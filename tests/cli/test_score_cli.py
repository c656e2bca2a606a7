"""``resolve instruments``, ``resolve score``, ``resolve fhir`` and ``resolve demo-scoring``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from resolve.cli._app import run


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def write(tmp_path: Path, text: str, name: str = "tsk.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def tsk_csv(rows: list[list[str]]) -> str:
    header = ["id", *[f"tsk17_{n}" for n in range(1, 18)]]
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


def test_help_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["--help"], capsys)
    assert code == 0
    for command in ("instruments", "score", "fhir", "demo"):
        assert command in out
        c, text, _ = invoke([command, "--help"], capsys)
        assert c == 0 and "Usage" in text
    for sub in ("questionnaire", "score"):
        c, text, _ = invoke(["fhir", sub, "--help"], capsys)
        assert c == 0 and "Usage" in text


def test_instruments_lists_ids_versions_items_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["instruments"], capsys)
    assert code == 0
    assert "tsk17" in out and "TSK-17" in out and "17 to 68" in out
    assert "dass21" in out and "depression 0 to 42" in out


def test_score_csv_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [["P1", *["3"] * 17], ["P2", *["1"] * 16, ""], ["P3", *["2"] * 14, "", "", ""]]
    code, out, err = invoke(["score", "tsk17", str(write(tmp_path, tsk_csv(rows)))], capsys)
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out), keep_default_na=False, dtype=str)
    assert list(table.columns) == ["id", "total", "n_missing", "prorated", "kinesiophobia"]
    assert table["id"].tolist() == ["P1", "P2", "P3"]
    assert table["total"].iloc[0] == "47"
    # P2: item 17 missing; 12 forward items at 1 + 4 reversed at 5 - 1 = 28 over 16 answered
    assert float(table["total"].iloc[1]) == pytest.approx(28 * 17 / 16, rel=1e-9)
    assert table["prorated"].tolist() == ["false", "true", "false"]
    assert table["total"].iloc[2] == ""  # 3 missing > 2 allowed: missing, never zero
    assert table["kinesiophobia"].tolist() == ["high", "not high", ""]


def test_score_json_and_id_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "subject,nrs_1\nA,4\nB,\n"
    path = write(tmp_path, text, "nrs.csv")
    code, out, err = invoke(
        ["score", "nrs", str(path), "--id-column", "subject", "--format", "json"], capsys
    )
    assert code == 0, err
    records = json.loads(out)
    assert records[0] == {
        "subject": "A",
        "total": 4.0,
        "n_missing": 0,
        "prorated": False,
        "severity": "mild",
        "recovered": "not recovered",
    }
    assert records[1]["total"] is None and records[1]["severity"] is None


@pytest.mark.parametrize(
    ("cell", "fragment"),
    [
        ("5", "value 5 is out of range 1 to 4"),
        ("2.5", "value 2.5 is not an integer code"),
        ("abc", "'abc' is not an integer code"),
        ("TRUE", "'TRUE' is not an integer code"),
    ],
)
def test_bad_cell_exits_2_naming_row_item_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str, fragment: str
) -> None:
    rows = [["P1", *["3"] * 17], ["P2", *["3"] * 4, cell, *["3"] * 12]]
    code, out, err = invoke(["score", "tsk17", str(write(tmp_path, tsk_csv(rows)))], capsys)
    assert code == 2
    assert out == ""  # no partial output
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "tsk.csv line 3" in err and "'P2'" in err and "tsk17_5" in err and fragment in err


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("id,tsk17_1,tsk17_1\nP1,1,1\n", "duplicate column(s) tsk17_1"),
        (
            "id," + ",".join(f"tsk17_{n}" for n in range(1, 19)) + "\nP1" + ",1" * 18 + "\n",
            "unknown item column 'tsk17_18'",
        ),
        ("id,tsk17_1\nP1,1\n", "missing item column(s) tsk17_2"),
        ("who,tsk17_1\nP1,1\n", "no id column 'id'"),
        ("", "the file is empty"),
    ],
)
def test_bad_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragment: str
) -> None:
    code, out, err = invoke(["score", "tsk17", str(write(tmp_path, text))], capsys)
    assert code == 2 and out == ""
    assert fragment in err and err.count("\n") == 1


def test_unknown_instrument_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = invoke(["score", "tsk99", str(tmp_path / "x.csv")], capsys)
    assert code == 2 and "unknown instrument 'tsk99'" in err
    code, _, err = invoke(["score", "tsk17", str(tmp_path / "nope.csv")], capsys)
    assert code == 2 and "nope.csv" in err and err.count("\n") == 1


def test_fhir_questionnaire_and_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["fhir", "questionnaire", "pcs"], capsys)
    assert code == 0
    q = json.loads(out)
    assert q["resourceType"] == "Questionnaire" and len(q["item"]) == 13
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": q["url"],
        "status": "completed",
        "subject": {"reference": "Patient/P9"},
        "item": [
            {"linkId": f"pcs_{n}", "answer": [{"valueCoding": {"code": "2"}}]} for n in range(1, 14)
        ],
    }
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(response))
    code, out, err = invoke(["fhir", "score", str(path)], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["respondent"] == "P9" and result["scores"]["total"] == 26.0
    response["item"][0]["answer"] = [{"valueCoding": {"code": "9"}}]
    path.write_text(json.dumps(response))
    code, out, err = invoke(["fhir", "score", str(path)], capsys)
    assert code == 2 and "pcs_1" in err and "value 9" in err and out == ""
    path.write_text("{not json")
    code, _, err = invoke(["fhir", "score", str(path)], capsys)
    assert code == 2 and "not valid JSON" in err


def test_demo_scores_bundled_responses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "scores.csv"
    code, out, err = invoke(["demo-scoring", "--out", str(out_file)], capsys)
    assert code == 0, err
    assert "R001" in out and "kinesiophobia" in out
    scores = pd.read_csv(out_file)
    assert len(scores) == 40 and "tsk17.total" in scores.columns


@pytest.mark.parametrize(
    ("ids", "value", "lines"),
    [(["P1", "P2", "P1"], "P1", (2, 4)), (["A", "B", "C", " B "], "B", (3, 5))],
)
def test_duplicate_respondent_ids_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ids: list[str],
    value: str,
    lines: tuple[int, int],
) -> None:
    rows = [[i, *["3"] * 17] for i in ids]
    code, out, err = invoke(["score", "tsk17", str(write(tmp_path, tsk_csv(rows)))], capsys)
    assert code == 2 and out == ""  # nothing scored
    assert err == (
        f"resolve: error: tsk.csv: respondent id {value!r} (column 'id') appears twice, "
        f"on lines {lines[0]} and {lines[1]}; ids must be unique\n"
    )


def test_duplicate_ids_in_the_named_id_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "subject,id,nrs_1\nA,1,4\nB,1,5\nA,2,6\n", "nrs.csv")
    code, out, err = invoke(["score", "nrs", str(path), "--id-column", "subject"], capsys)
    assert code == 2 and out == ""
    assert "nrs.csv: respondent id 'A' (column 'subject') appears twice, on lines 2 and 4" in err
    code, out, err = invoke(["score", "nrs", str(path), "--id-column", "id"], capsys)
    assert code == 2 and "(column 'id') appears twice, on lines 2 and 3" in err


def test_blank_ids_are_not_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "id,nrs_1\n,4\n,5\nC,6\n", "nrs.csv")
    code, out, err = invoke(["score", "nrs", str(path)], capsys)
    assert code == 0, err
    assert len(pd.read_csv(io.StringIO(out))) == 3
