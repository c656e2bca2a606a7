"""``resolve mmrm`` end to end through ``resolve.cli._app.run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
