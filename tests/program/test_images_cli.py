"""``resolve program lrj-images`` and ``resolve program template show``: exit codes, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from resolve.cli._app import run


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["program", "lrj-images", "--help"], capsys)
    assert code == 0
    for option in ("--out", "--n", "--seed", "--set", "--size", "--format", "--level", "--force"):
        assert option in out


def test_writes_a_balanced_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "imgs"
    code, stdout, err = invoke(
        [
            "program",
            "lrj-images",
            "--out",
            str(out),
            "--n",
            "12",
            "--seed",
            "4",
            "--set",
            "test",
            "--size",
            "48",
            "--format",
            "both",
        ],
        capsys,
    )
    assert code == 0, err
    assert "wrote 12 images" in stdout and "3 per movement x side" in stdout
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest) == 12 and set(manifest["set"]) == {"test"}
    assert {"file", "movement", "side", "angle_deg", "view", "set"} <= set(manifest.columns)
    assert len(list(out.glob("*.png"))) == 12 and len(list(out.glob("*.svg"))) == 12
    assert manifest.groupby(["movement", "side"]).size().tolist() == [3, 3, 3, 3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "--n must be a whole number in [1, 100000]; got 0"),
        (["--n", "many"], "'--n'"),
        (["--size", "8"], "--size must be a whole number in [32, 2048]; got 8"),
        (["--seed", "-3"], "--seed must be a whole number >= 0; got -3"),
        (["--set", "validation"], "--set must be one of training, test; got 'validation'"),
        (["--format", "gif"], "--format must be one of png, svg, both; got 'gif'"),
        (["--level", "7"], "--level must be one of 1, 2, 3, 4; got 7"),
        (["--jobs", "0"], "--jobs must be a whole number in [1, 64]; got 0"),
        (["--colour", "red"], "--colour"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "imgs"
    code, stdout, err = invoke(["program", "lrj-images", "--out", str(out), *args], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("resolve: error:") and message in err
    assert "Traceback" not in err and stdout == ""
    assert not out.exists()


def test_missing_out_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(["program", "lrj-images", "--n", "4"], capsys)
    assert code == 2 and "--out" in err and err.count("\n") == 1


def test_refuses_non_empty_dir_unless_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "imgs"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    args = ["program", "lrj-images", "--out", str(out), "--n", "4", "--size", "32"]
    code, _, err = invoke(args, capsys)
    assert code == 2 and err.count("\n") == 1 and "not empty" in err and "--force" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    code, _, err = invoke([*args, "--force"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir())[0] == "manifest.csv"
    assert not (out / "notes.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs"]  # no temporary leftovers


def test_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, _, err = invoke(["program", "lrj-images", "--out", str(target), "--n", "4"], capsys)
    assert code == 2 and "not a directory" in err and target.read_text() == "x"


def test_empty_existing_dir_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    code, _, err = invoke(
        ["program", "lrj-images", "--out", str(out), "--n", "4", "--size", "32", "--level", "2"],
        capsys,
    )
    assert code == 0, err
    assert set(pd.read_csv(out / "manifest.csv")["angle_deg"]) == {30}


def test_template_show_prints_the_default_template(capsys: pytest.CaptureFixture[str]) -> None:
    from resolve.program.template import template_text

    code, out, err = invoke(["program", "template", "show"], capsys)
    assert code == 0 and err == ""
    assert out == template_text()
