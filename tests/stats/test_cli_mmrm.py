"""``resolve mmrm`` end to end through ``resolve.cli._app.run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from resolve._levels import r_sort_levels
from resolve.cli._app import run


def _args(shared: Path, *extra: str) -> list[str]:
    return [
        "mmrm",
        str(shared / "fev_data.csv"),
        "--formula",
        "FEV1 ~ ARMCD * AVISIT",
        "--subject",
        "USUBJID",
        "--visit",
        "AVISIT",
        *extra,
    ]


def test_json_output(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(shared, "--cov", "ar1", "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "converged",
        "loglik",
        "aic",
        "n_subjects",
        "n_obs",
        "visit_order",
        "reference_levels",
        "notes",
        "coefficients",
        "covariance",
    }
    assert out["converged"] is True and out["n_obs"] == 537
    assert out["covariance"]["structure"] == "ar1"


def test_summary_output(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(shared, "--method", "ml", "--df", "residual")) == 0
    out = capsys.readouterr().out
    assert "Coefficients" in out and "ARMCDTRT" in out and "ML" in out


def test_sp_exp_with_coordinates(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(shared, "--cov", "sp_exp", "--coordinates", "VISITN", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["converged"] is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--cov", "zzz"), "cov must be one of"),
        (("--group", "NOPE"), "NOPE"),
        (("--df", "containment"), "df must be one of"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    shared: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    assert run(_args(shared, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("resolve: error:") and message in err and "\n" not in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "mmrm",
        str(tmp_path / "absent.csv"),
        "--formula",
        "y ~ 1",
        "--subject",
        "s",
        "--visit",
        "v",
    ]
    assert run(args) == 2
    assert "resolve: error:" in capsys.readouterr().err


# -- visit order and reference levels ----------------------------------------------

WEEKS = {"VIS1": "week 6", "VIS2": "week 10", "VIS3": "week 26"}
PLAIN = {"VIS1": "v1", "VIS2": "v2", "VIS3": "v3"}


def _relabelled(shared: Path, tmp_path: Path, labels: dict[str, str], name: str) -> Path:
    """fev visits VIS1..VIS3 renamed; ``week 6/10/26`` sort wrongly as text."""
    fev = pd.read_csv(shared / "fev_data.csv")
    part = fev[fev["AVISIT"].isin(list(labels))].copy()
    part["AVISIT"] = part["AVISIT"].map(labels)
    path = tmp_path / name
    part.to_csv(path, index=False)
    return path


def _fit_json(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    args = ["mmrm", str(path), "--formula", "FEV1 ~ ARMCD * AVISIT", "--subject", "USUBJID"]
    assert run([*args, "--visit", "AVISIT", "--cov", "ar1", "--json", *extra]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_visit_order_is_natural_not_text(
    shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weeks = _relabelled(shared, tmp_path, WEEKS, "weeks.csv")
    plain = _relabelled(shared, tmp_path, PLAIN, "plain.csv")
    assert r_sort_levels(WEEKS.values()) != list(WEEKS.values())  # text order is wrong here
    by_weeks = _fit_json(weeks, capsys)
    by_plain = _fit_json(plain, capsys)
    assert by_weeks["loglik"] == pytest.approx(by_plain["loglik"], rel=0, abs=1e-8)
    assert by_weeks["visit_order"] == {
        "levels": ["week 6", "week 10", "week 26"],
        "source": "natural",
        "inferred": True,
    }
    assert "visit order inferred from labels: week 6 < week 10 < week 26" in by_weeks["notes"][0]
    assert "--visit-order" in by_weeks["notes"][0]
    assert by_weeks["reference_levels"] == {"ARMCD": "PBO", "AVISIT": "week 6"}
    # Declaring the same order changes nothing; a wrong order changes the AR(1) fit.
    declared = _fit_json(weeks, capsys, "--visit-order", "week 6, week 10, week 26")
    assert declared["loglik"] == pytest.approx(by_plain["loglik"], rel=0, abs=1e-8)
    assert declared["visit_order"]["source"] == "declared"
    assert declared["visit_order"]["inferred"] is False
    wrong = _fit_json(weeks, capsys, "--visit-order", "week 10,week 6,week 26")
    assert wrong["visit_order"]["levels"] == ["week 10", "week 6", "week 26"]
    assert abs(wrong["loglik"] - by_plain["loglik"]) > 1e-3


def test_summary_states_visit_order_and_reference_levels(
    shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weeks = _relabelled(shared, tmp_path, WEEKS, "weeks.csv")
    args = ["mmrm", str(weeks), "--formula", "FEV1 ~ ARMCD * AVISIT", "--subject", "USUBJID"]
    assert run([*args, "--visit", "AVISIT", "--cov", "ar1"]) == 0
    out = capsys.readouterr().out
    assert (
        "visit order inferred from labels: week 6 < week 10 < week 26; "
        "set --visit-order to change" in out
    )
    assert "reference levels: ARMCD = PBO, AVISIT = week 6" in out
    assert run([*args, "--visit", "AVISIT", "--visit-order", "week 6,week 10,week 26"]) == 0
    out = capsys.readouterr().out
    assert "inferred" not in out and "visit order (declared): week 6 < week 10 < week 26" in out


def test_mixed_case_arm_labels_take_r_reference(
    shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fev = pd.read_csv(shared / "fev_data.csv")
    fev["ARMCD"] = fev["ARMCD"].map({"PBO": "Beta", "TRT": "alpha"})
    path = tmp_path / "arms.csv"
    fev.to_csv(path, index=False)
    out = _fit_json(path, capsys)
    assert out["reference_levels"]["ARMCD"] == r_sort_levels(["Beta", "alpha"])[0] == "alpha"
    assert any(c["term"] == "ARMCDBeta" for c in out["coefficients"])


@pytest.mark.parametrize(
    ("order", "label"),
    [
        ("week 6,week 10,week 99", "'week 99' is not a value of column 'AVISIT'"),
        ("week 6,week 10", "lacks 'week 26', a value of column 'AVISIT'"),
        ("week 6,week 6,week 10,week 26", "repeats 'week 6'"),
        ("week 6,,week 26", "empty label"),
    ],
)
def test_bad_visit_order_exits_2_with_one_line(
    shared: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    order: str,
    label: str,
) -> None:
    weeks = _relabelled(shared, tmp_path, WEEKS, "weeks.csv")
    args = ["mmrm", str(weeks), "--formula", "FEV1 ~ ARMCD * AVISIT", "--subject", "USUBJID"]
    assert run([*args, "--visit", "AVISIT", "--visit-order", order]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == ""
    assert err.startswith("resolve: error: --visit-order") and label in err and "\n" not in err
    if "value of column" in label:
        assert str(weeks) in err
