"""analyze() and the all-or-nothing write_tables()."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis import run as run_module
from resolve.analysis.plan import load_plan
from resolve.analysis.result import TrialAnalysis
from resolve.analysis.run import MODIFIER_COLUMNS, analyze, atomic_directory, write_tables
from resolve.errors import DataValidationError

TABLES = ("primary", "sensitivity", "table2", "trajectories", "consort", "modifiers")


@pytest.fixture(scope="module")
def analysis() -> TrialAnalysis:
    return analyze(datasets.load("resolve"))


def test_analyze_fills_every_table(analysis: TrialAnalysis) -> None:
    assert len(analysis.primary) == 8
    per_model = analysis.sensitivity.groupby("model").size().to_dict()
    assert per_model == {"mmrm_unstructured_all_visits": 8, "mmrm_baseline_adjusted": 8}
    assert len(analysis.table2) == 10 and len(analysis.trajectories) == 20
    assert analysis.consort.iloc[0]["n"] == 276
    assert analysis.imputation is None
    if analysis.modifiers is not None:
        assert {"p_holm", "p_bh"} <= set(analysis.modifiers.table.columns)


def test_progress_reports_steps() -> None:
    seen: list[str] = []
    plan = load_plan()
    data = datasets.load("resolve")
    analyze(data[data["visit"].isin(["baseline", "week 18"])], plan, progress=seen.append)
    assert seen[:3] == [
        "validating data",
        "fitting the primary model (lmm_random_intercept)",
        "fitting sensitivity models (mmrm_unstructured_all_visits, mmrm_baseline_adjusted)",
    ]


def test_one_arm_only_is_an_error() -> None:
    data = datasets.load("resolve")
    with pytest.raises(DataValidationError, match="reference arm 'sham'"):
        analyze(data[data["arm"] == "resolve"])


def test_write_tables(tmp_path: Path, analysis: TrialAnalysis) -> None:
    out = tmp_path / "a" / "b"
    files = write_tables(analysis, out)
    names = {p.name for p in files}
    for t in TABLES:
        assert {f"{t}.csv", f"{t}.json"} <= names
    assert "analysis.json" in names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]  # no temp dirs left
    primary = pd.read_csv(out / "primary.csv")
    for col in ("outcome", "visit", "estimate", "conf_low", "conf_high", "p_value", "model",
                "std_error", "df"):  # fmt: skip
        assert col in primary.columns
    pd.testing.assert_frame_equal(
        primary[["estimate", "p_value"]], analysis.primary[["estimate", "p_value"]]
    )
    mods = pd.read_csv(out / "modifiers.csv")
    for col in ("modifier", "outcome", "visit", "estimate", "conf_low", "conf_high",
                "p_value", "p_holm", "p_bh"):  # fmt: skip
        assert col in mods.columns
    records = json.loads((out / "table2.json").read_text(encoding="utf-8"))
    assert records[2]["difference"].startswith("\u2212") and records[0]["p_value"] is None
    assert json.loads((out / "analysis.json").read_text())["trial"] == "RESOLVE"


def test_empty_modifiers_file_has_the_contract_columns(
    tmp_path: Path, analysis: TrialAnalysis
) -> None:
    bare = TrialAnalysis(
        plan=analysis.plan,
        primary=analysis.primary,
        table2=analysis.table2,
        trajectories=analysis.trajectories,
        consort=analysis.consort,
        sensitivity=analysis.sensitivity,
    )
    write_tables(bare, tmp_path / "out")
    assert tuple(pd.read_csv(tmp_path / "out" / "modifiers.csv").columns) == MODIFIER_COLUMNS


def test_failure_writes_nothing(tmp_path: Path, analysis: TrialAnalysis) -> None:
    def broken(_a: TrialAnalysis, folder: Path) -> None:
        (folder / "report.html").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_tables(analysis, tmp_path / "new" / "deeper" / "out", extra=[broken])
    assert list(tmp_path.iterdir()) == []


def test_existing_directory_files_replaced_others_kept(
    tmp_path: Path, analysis: TrialAnalysis
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "primary.csv").write_text("old")
    (out / "notes.txt").write_text("mine")
    write_tables(analysis, out)
    assert (out / "primary.csv").read_text().startswith("outcome,")
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_keeps_existing_directory_untouched(
    tmp_path: Path, analysis: TrialAnalysis
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "primary.csv").write_text("old")

    def broken(_a: TrialAnalysis, _folder: Path) -> None:
        raise OSError("no space")

    with pytest.raises(OSError):
        write_tables(analysis, out, extra=[broken])
    assert [p.name for p in out.iterdir()] == ["primary.csv"]
    assert (out / "primary.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_output_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DataValidationError, match="not a directory"), atomic_directory(f):
        pass


def test_multiple_imputation_when_enabled(tmp_path: Path) -> None:
    pytest.importorskip("resolve.analysis.mi")
    text = (Path(run_module.__file__).parent / "plans" / "resolve.toml").read_text()
    old = "multiple_imputation = { m = 20, seed = 2022, enabled = false }"
    assert old in text
    text = text.replace(old, "multiple_imputation = { m = 3, seed = 1, enabled = true }")
    text = text.split("[[modifiers]]")[0]  # no modifiers: faster
    path = tmp_path / "mi.toml"
    path.write_text(text)
    result = analyze(datasets.load("resolve"), load_plan(path))
    assert result.imputation is not None and len(result.imputation) == 8
    assert result.modifiers is None
    files = {p.name for p in write_tables(result, tmp_path / "out")}
    assert {"imputation.csv", "imputation.json"} <= files
