"""``resolve demo``: analyse the example trial and write the report (uses the real engine)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from resolve.cli._app import run


def test_demo_writes_report_and_prints_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    code = run(["demo", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for name in ("report.html", "primary.csv", "modifiers.csv", "primary.json"):
        assert (out / name).is_file(), name
    text = captured.out
    assert "Primary analysis" in text and "Effect modification" in text
    assert "week 18" in text and "Pain self-efficacy (PSEQ)" in text
    primary = pd.read_csv(out / "primary.csv")
    assert {"week 18", "week 52"} <= set(primary["visit"])
    html = (out / "report.html").read_text()
    assert "bundled example trial" in html and html.count("<svg") == 11
    # the mediation section runs on a simulated trial with mediators, and says so
    assert "<h2>Mechanisms: causal mediation</h2>" in html
    assert "because the analysed trial has no mediator measurements" in html
    assert "the section runs on a trial simulated with mediators" in html
    assert "not run: the data have none of the mediator columns" not in html
    effects = pd.read_csv(out / "mediation_effects.csv")
    assert set(effects["outcome"]) == {"pain", "rmdq"} and "joint" in set(effects["mediator"])
    # the bundled trial carries (simulated) screening counts: the flow starts at eligibility
    assert ">Assessed for eligibility<" in html and "simulated screening counts" in html
    flow = pd.read_csv(out / "consort.csv")
    assert flow["stage"].iloc[0] == "assessed for eligibility"
    for name in ("table1.csv", "responders.csv", "responders.json", "summary.txt"):
        assert (out / name).is_file(), name
    assert "Results in plain language" in html
    # notes are printed as text: "[mediation]" is not swallowed as console markup
    assert "note: causal mediation ([mediation]): the analysed trial has no mediator" in " ".join(
        text.split()
    )


def test_demo_simulates_with_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    code = run(["demo", "--out", str(out), "--seed", "7"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    html = (out / "report.html").read_text()
    assert "simulate_trial(seed=7)" in html
    assert "No screening data were supplied" in html  # the screening log is the bundled trial's
    assert len(pd.read_csv(out / "modifiers.csv")) > 0


def test_demo_rejects_a_negative_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo", "--seed", "-1"]) == 2
    assert "seed" in capsys.readouterr().err
