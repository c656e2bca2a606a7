"""Trial export: the export folder, all or nothing, and CSV formula injection.

``write_export`` writes every file through one CSV writer that neutralises
spreadsheet formula injection (OWASP "CSV Injection"): every CSV file written
is read back as text and no cell may start with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return, unless it is a genuine number.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from resolve.analysis.run import analyze
from resolve.errors import DataValidationError
from resolve.trial.exports import (
    REDCAP_COLUMNS,
    csv_text,
    neutralise_cell,
    safe_frame,
    write_export,
)
from tests.trial.test_export import trial

__all__ = ["trial"]  # the fixture, shared with the export tests


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


def test_write_export_keeps_a_previous_export_on_error(
    tmp_path: Path, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed re-export leaves the previous export as it was, and no temporary folder."""
    out = tmp_path / "export"
    write_export(out, trial["participants"], trial["responses"], trial["protocol"])
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    real = pd.DataFrame.to_csv
    calls = {"n": 0}

    def failing(self: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 7:  # the last CSV file
            raise OSError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing)
    people = trial["participants"].assign(site="elsewhere")
    with pytest.raises(OSError, match="disk full"):
        write_export(out, people, trial["responses"], trial["protocol"])
    assert list(tmp_path.iterdir()) == [out]
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before


# ----------------------------------------------------------------------------- CSV injection
PAYLOADS = ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2+3", "\t=1", "\r=1"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def _poisoned(trial: dict[str, Any], payload: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trial with ``payload`` in every free-text field a person could type.

    One randomised participant's id, every site, stratum, sex and consent version,
    one ineligibility reason, a medication name, a response version. Also a negative
    stored score (a score change) and a negative item code, which must stay numbers.
    """
    p = trial["participants"].copy()
    r = trial["responses"].copy()
    victim = str(p.loc[p["arm"].notna(), "participant_id"].iloc[0])
    p["participant_id"] = p["participant_id"].replace({victim: payload})
    r["participant_id"] = r["participant_id"].replace({victim: payload})
    for col in ("site", "stratum", "consent_version"):
        p[col] = payload
    p.loc[p["arm"].notna(), "sex"] = payload
    inel = p.index[p["eligible"] == False]  # noqa: E712
    p.loc[inel[0], "ineligible_reasons"] = f"{payload}; age 72 is above 70"
    meds = (r["participant_id"] == payload) & (r["instrument"] == "psychoactive_medication")
    r.loc[meds, "items"] = pd.Series([{1: payload}], index=r.index[meds])
    r["version"] = r["version"].astype(object)
    r.loc[meds, "version"] = payload
    change = (r["participant_id"] == payload) & (r["instrument"] == "nrs")
    change &= r["visit"] == "week 12"
    assert change.sum() == 1
    r.loc[change, "items"] = pd.Series([{1: -3}], index=r.index[change])
    r.loc[change, "scores"] = pd.Series([{"total": -2.5}], index=r.index[change])
    return p, r


def _cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_no_csv_cell_of_an_export_starts_a_formula(
    tmp_path: Path, trial: dict[str, Any], payload: str
) -> None:
    p, r = _poisoned(trial, payload)
    pid = "'" + payload.replace("\r", "\n")  # neutralised (a carriage return becomes \n)
    files = write_export(tmp_path / "export", p, r, trial["protocol"])
    written = [f for f in files if f.suffix == ".csv"]
    assert len(written) == 7
    seen: set[str] = set()
    for f in written:
        for row in _cells(f)[1:]:
            for cell in row:
                if cell.startswith(DANGEROUS):
                    assert NUMBER.fullmatch(cell), (f.name, cell)
                if cell == pid:
                    seen.add(f.name)
    # the payload reached every file that carries people's text, neutralised
    assert {"analysis.csv", "items.csv", "redcap_records.csv"} <= seen
    consort = pd.read_csv(tmp_path / "export" / "consort.csv", keep_default_na=False)
    assert "'" + payload.strip() in set(consort["reason"])  # a reason, blanks trimmed
    # genuine numbers stay numbers, negative ones included
    analysis = pd.read_csv(tmp_path / "export" / "analysis.csv", dtype={"id": str})
    assert analysis["pain"].dtype.kind == "f"
    row = analysis[(analysis["id"] == pid) & (analysis["visit"] == "week 12")]
    assert row["pain"].tolist() == [-2.5]
    items = pd.read_csv(tmp_path / "export" / "items.csv", dtype=str, keep_default_na=False)
    nrs = items[(items["participant_id"] == pid) & (items["instrument"] == "nrs")]
    assert "-3" in set(nrs["code"])
    rec = pd.read_csv(tmp_path / "export" / "redcap_records.csv", dtype=str, keep_default_na=False)
    at12 = rec[(rec["record_id"] == pid) & (rec["redcap_event_name"] == "week_12_arm_1")]
    assert at12[["nrs_1", "nrs_total"]].to_numpy().tolist() == [["-3", "-2.5"]]
    dictionary = _cells(tmp_path / "export" / "redcap_dictionary.csv")
    gpe = next(row for row in dictionary if row[0] == "gpe_total")
    assert gpe[8:10] == ["-5", "5"]  # validation min and max: numbers


def test_the_readme_says_cells_are_neutralised(tmp_path: Path, trial: dict[str, Any]) -> None:
    write_export(tmp_path, trial["participants"], trial["responses"], trial["protocol"])
    readme = (tmp_path / "README.txt").read_text(encoding="utf-8")
    assert "leading single quote (')" in readme
    assert "CSV injection" in readme


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1", "'+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\n=1"),  # and a carriage return becomes a line feed
        ("a\r\n=1", "a\n=1"),
        ("\n=1", "'\n=1"),
        ("-1", "'-1"),  # text, even when it reads as a number
        ("P-01", "P-01"),
        (-2.5, -2.5),
        (-3, -3),
        (None, None),
    ],
)
def test_neutralise_cell(value: Any, written: Any) -> None:
    assert neutralise_cell(value) == written
    assert type(neutralise_cell(value)) is type(written)


def test_safe_frame_keeps_numeric_columns(trial: dict[str, Any]) -> None:
    frame = pd.DataFrame({"id": ["=1", "P2"], "change": [-2.0, np.nan], "n": [-1, 2]})
    out = safe_frame(frame)
    assert out["id"].tolist() == ["'=1", "P2"]
    assert out["change"].dtype == float and out["n"].dtype == np.int64
    assert frame["id"].tolist() == ["=1", "P2"]  # the input is not changed
    assert csv_text(frame).splitlines() == ["id,change,n", "'=1,-2.0,-1", "P2,,2"]
