"""Fixtures: a realistic analysis built without the analysis engine, and its report."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolve.analysis.result import TrialAnalysis
from tests.report.fake_analysis import make_analysis


@pytest.fixture(scope="session")
def analysis() -> TrialAnalysis:
    return make_analysis()


@pytest.fixture(scope="session")
def report_dir(analysis: TrialAnalysis, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from resolve.report import write_report

    out = tmp_path_factory.mktemp("report")
    write_report(analysis, out, data_label="fixture")
    return out


@pytest.fixture(scope="session")
def report_html(report_dir: Path) -> str:
    return (report_dir / "report.html").read_text(encoding="utf-8")
