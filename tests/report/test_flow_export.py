"""The participant flow from a real trial export: its consort.csv through analyze and the CLI.

The export is written by :func:`resolve.trial.exports.write_export` from the trial
fixture of ``tests/trial/test_export.py`` (the bundled trial as participants and
item responses; those missing weeks 26 and 52 withdrew or were lost at weeks
20-21, one was randomised in error). Every count checked here is recomputed
from that participants table and the bundled data with pandas.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from resolve.analysis.descriptive import consort, consort_notes
from resolve.analysis.io import read_trial_csv
from resolve.analysis.plan import load_plan
from resolve.analysis.result import TrialAnalysis
from resolve.analysis.run import analyze
from resolve.cli._app import run
from resolve.report.html import render_html
from resolve.trial.exports import write_export
from tests.trial.test_export import trial

__all__ = ["trial"]  # the fixture, shared with the export tests

FOLLOW = ("week 12", "week 18", "week 26", "week 52")
REASONS = ("withdrawn", "lost to follow-up", "missed visit")
NBSP_N = "n\u00a0=\u00a0"  # the diagram never breaks a line inside "n = 12"


def _read(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = read_trial_csv(folder / "analysis.csv", text_columns=("id", "arm", "visit"))
    log = read_trial_csv(folder / "consort.csv", text_columns=("reason",))
    return data, log


@pytest.fixture(scope="module")
def export(trial: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export")
    write_export(out, trial["participants"], trial["responses"], trial["protocol"])
    return out


@pytest.fixture(scope="module")
def expected(trial: dict[str, Any]) -> dict[tuple[str, str, str], int]:
    """(arm, visit, measure) -> count, from the participants table and the bundled data."""
    p = trial["participants"]
    people = p[p["arm"].notna()].set_index("participant_id")
    pain = trial["data"].pivot(index="id", columns="visit", values="pain")
    out: dict[tuple[str, str, str], int] = {}
    for arm in ("sham", "resolve"):
        who = people[people["arm"] == arm]
        out[(arm, "", "allocated")] = len(who)
        out[(arm, "", "randomised in error")] = int((who["status"] == "randomised_in_error").sum())
        out[(arm, "", "analysed")] = int(pain.loc[who.index].notna().any(axis=1).sum())
        start = pd.to_datetime(who["randomised_at"], utc=True)
        for visit in FOLLOW:
            target = start + pd.Timedelta(weeks=int(visit.split()[1]))
            missing = pain.loc[who.index, visit].isna()
            withdrawn = missing & (pd.to_datetime(who["withdrawn_at"], utc=True) <= target)
            lost = missing & ~withdrawn & (pd.to_datetime(who["lost_at"], utc=True) <= target)
            out[(arm, visit, "assessed")] = int((~missing).sum())
            out[(arm, visit, "withdrawn")] = int(withdrawn.sum())
            out[(arm, visit, "lost to follow-up")] = int(lost.sum())
            out[(arm, visit, "missed visit")] = int((missing & ~withdrawn & ~lost).sum())
    return out


@pytest.fixture(scope="module")
def analysed(export: Path) -> TrialAnalysis:
    data, log = _read(export)
    return analyze(data, screening=log, screening_source="consort.csv")


def _check_flow(flow: pd.DataFrame, expected: dict[tuple[str, str, str], int]) -> None:
    def n(stage: str, arm: str) -> list[int]:
        return [int(k) for k in flow.loc[(flow.stage == stage) & (flow.arm == arm), "n"]]

    for arm in ("sham", "resolve"):
        assert n("allocated", arm) == [expected[(arm, "", "allocated")]]
        err = expected[(arm, "", "randomised in error")]
        assert n("allocated: randomised in error", arm) == ([err] if err else [])
        assert n("analysed", arm) == [expected[(arm, "", "analysed")]]
        for visit in FOLLOW:
            assert n(f"follow-up {visit}", arm) == [expected[(arm, visit, "assessed")]]
            for measure in REASONS:
                k = expected[(arm, visit, measure)]
                assert n(f"follow-up {visit}: {measure}", arm) == ([k] if k else []), (
                    arm,
                    visit,
                    measure,
                )


def test_the_fixture_has_something_to_show(expected: dict[tuple[str, str, str], int]) -> None:
    for measure in (*REASONS, "randomised in error"):
        assert sum(k for (_, _, m), k in expected.items() if m == measure) > 0, measure


def test_analyze_draws_the_exports_losses_per_arm_and_visit(
    analysed: TrialAnalysis, expected: dict[tuple[str, str, str], int]
) -> None:
    _check_flow(analysed.consort, expected)
    flow_notes = [n for n in analysed.notes if not n.startswith("causal mediation")]
    assert flow_notes == ["participant flow from screening: consort.csv"]
    html = render_html(analysed)
    body = html[html.index('<section id="flow">') :]
    svg = body[body.index("<svg") : body.index("</svg>")]
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, flags=re.DOTALL)
    assert desc is not None
    for arm in ("sham", "resolve"):
        for visit in FOLLOW:
            lines = [
                f"{m[:1].upper()}{m[1:]} (n = {expected[(arm, visit, m)]})"
                for m in REASONS
                if expected[(arm, visit, m)]
            ]
            box = f"Follow-up {visit}, {arm}: n = {expected[(arm, visit, 'assessed')]}"
            box += f" ({'; '.join(lines)})" if lines else ""
            assert box + ";" in desc.group(1), box
            for line in lines:  # and drawn, as text of the diagram
                assert ">" + line.replace("n = ", NBSP_N) + "<" in svg
    caption = body[body.index("<figcaption>") : body.index("</figcaption>")]
    assert (
        "The lines beneath the boxes (randomised in error, withdrawn, lost to follow-up, "
        in caption
    )
    assert "are from the screening log" in caption


def test_cli_reads_the_exports_consort_csv(
    export: Path,
    tmp_path: Path,
    expected: dict[tuple[str, str, str], int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    argv = ["analyze", str(export / "analysis.csv"), "--screening", str(export / "consort.csv")]
    code = run([*argv, "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    flow = pd.read_csv(out / "consort.csv", keep_default_na=False)
    _check_flow(flow, expected)
    html = (out / "report.html").read_text(encoding="utf-8")
    k = expected[("resolve", "week 26", "lost to follow-up")]
    assert f">Lost to follow-up ({NBSP_N}{k})<" in html
    assert "note: participant flow from screening: consort.csv" in captured.out


def test_a_log_with_a_wrong_arm_gives_a_note(
    export: Path, expected: dict[tuple[str, str, str], int]
) -> None:
    data, log = _read(export)
    plan = load_plan()
    valid = plan.validate_data(data)
    log.loc[log["arm"] == "sham", "arm"] = "placebo"
    notes = consort_notes(valid, plan, log, source="consort.csv")
    assert any("arm(s) 'placebo'" in n and "not arms of the plan" in n for n in notes)
    flow = consort(valid, plan, screening=log)
    sham = flow[(flow.arm == "sham") & flow.stage.str.contains(": ")]
    assert sham.empty  # none of the placebo rows is drawn against sham
    assert (
        flow.loc[(flow.stage == "allocated") & (flow.arm == "sham"), "n"].item()
        == (expected[("sham", "", "allocated")])
    )


def test_an_export_that_excludes_those_randomised_in_error(
    trial: dict[str, Any], tmp_path: Path, expected: dict[tuple[str, str, str], int]
) -> None:
    """randomised_in_error="exclude": the data lack them, the flow counts them as CONSORT does."""
    write_export(
        tmp_path,
        trial["participants"],
        trial["responses"],
        trial["protocol"],
        randomised_in_error="exclude",
    )
    data, log = _read(tmp_path)
    plan = load_plan()
    valid = plan.validate_data(data)
    flow = consort(valid, plan, screening=log)
    p = trial["participants"]
    in_error = p[p["status"] == "randomised_in_error"]
    assert len(in_error) == 1
    arm = str(in_error["arm"].iloc[0])
    alloc = flow[flow.stage == "allocated"].set_index("arm")["n"]
    assert alloc[arm] == expected[(arm, "", "allocated")]
    assert flow.loc[flow.stage == "randomised", "n"].item() == p["arm"].notna().sum()
    out = flow[(flow.stage == "analysed: excluded from analysis") & (flow.arm == arm)]
    assert out[["n", "detail"]].to_numpy().tolist() == [[1, "randomised in error"]]
    notes = consort_notes(valid, plan, log, source="consort.csv")
    assert not any("allocated" in n for n in notes)
