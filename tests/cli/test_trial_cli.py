"""``resolve trial ...``: the fixed interface of issue 5, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from resolve.cli._app import run
from resolve.trial import load_protocol, service
from resolve.trial.randomize import generate_sequences

SEED = 11


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_full_flow_through_the_cli(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", db_url]
    code, out, err = invoke(["trial", "init", *db, "--seed", str(SEED), "--user", "admin"], capsys)
    assert code == 0, err
    assert "RESOLVE" in out and str(SEED) not in out
    code, out, _ = invoke(
        [
            "trial",
            "screen",
            *db,
            "--id",
            "P1",
            "--age",
            "40",
            "--duration-weeks",
            "20",
            "--pain",
            "6",
            "--user",
            "rc",
        ],
        capsys,
    )
    assert code == 0 and out.strip() == "P1: eligible"
    code, out, _ = invoke(
        [
            "trial",
            "screen",
            *db,
            "--id",
            "P2",
            "--age",
            "40",
            "--duration-weeks",
            "6",
            "--pain",
            "2",
            "--exclusion",
            "pregnancy",
            "--user",
            "rc",
        ],
        capsys,
    )
    assert code == 0 and "ineligible" in out and "pregnancy" in out.lower()
    assert (
        invoke(["trial", "consent", *db, "--id", "P1", "--version", "1.0", "--user", "rc"], capsys)[
            0
        ]
        == 0
    )
    code, out, _ = invoke(["trial", "randomise", *db, "--id", "P1", "--user", "rc"], capsys)
    assert code == 0
    assert out.strip() == generate_sequences(load_protocol(), SEED)[("sydney",)][0]
    # Second participant so that both arms may appear; items from a file and inline.
    for pid in ("P3", "P4"):
        invoke(
            [
                "trial",
                "screen",
                *db,
                "--id",
                pid,
                "--age",
                "50",
                "--duration-weeks",
                "52",
                "--pain",
                "5",
            ],
            capsys,
        )
        invoke(["trial", "consent", *db, "--id", pid, "--version", "1.0"], capsys)
        invoke(["trial", "randomise", *db, "--id", pid], capsys)
    items = tmp_path / "rmdq.json"
    items.write_text(json.dumps({f"rmdq24_{i}": 1 for i in range(1, 25)}))
    code, out, err = invoke(
        [
            "trial",
            "record",
            *db,
            "--id",
            "P1",
            "--visit",
            "baseline",
            "--instrument",
            "rmdq24",
            "--items",
            str(items),
        ],
        capsys,
    )
    assert code == 0 and "total 24" in out, err
    for pid in ("P1", "P3", "P4"):
        for visit, pain in (("baseline", 6), ("week 18", 3)):
            code, _, err = invoke(
                [
                    "trial",
                    "record",
                    *db,
                    "--id",
                    pid,
                    "--visit",
                    visit,
                    "--instrument",
                    "nrs",
                    "--items",
                    f'{{"nrs_1": {pain}}}',
                ],
                capsys,
            )
            assert code == 0, err
    code, out, _ = invoke(["trial", "schedule", *db], capsys)
    assert code == 0 and out.startswith("visit,")
    code, out, _ = invoke(["trial", "schedule", *db, "--id", "P1"], capsys)
    assert code == 0 and "baseline" in out and "recorded" in out
    code, out, err = invoke(["trial", "consort", *db], capsys)
    assert code == 0, err
    assert "assessed for eligibility" in out
    code, out, err = invoke(["trial", "export", *db, "--out", str(tmp_path / "export")], capsys)
    assert code == 0, err
    assert (tmp_path / "export" / "analysis.csv").exists()
    code, out, _ = invoke(["trial", "audit", "verify", *db], capsys)
    assert code == 0 and "intact" in out


def test_bad_input_exits_2_and_writes_nothing(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", db_url]
    assert invoke(["trial", "init", *db, "--seed", "1"], capsys)[0] == 0
    invoke(
        [
            "trial",
            "screen",
            *db,
            "--id",
            "P1",
            "--age",
            "40",
            "--duration-weeks",
            "20",
            "--pain",
            "6",
        ],
        capsys,
    )
    before = len(service.participants(db_url))
    cases = [
        [
            "trial",
            "screen",
            *db,
            "--id",
            "X",
            "--age",
            "40",
            "--duration-weeks",
            "20",
            "--pain",
            "6",
            "--exclusion",
            "no_such_thing",
        ],
        [
            "trial",
            "screen",
            *db,
            "--id",
            "X",
            "--age",
            "40",
            "--duration-weeks",
            "20",
            "--pain",
            "60",
        ],
        ["trial", "consent", *db, "--id", "P1", "--version", "9.9"],
        ["trial", "randomise", *db, "--id", "P1"],  # not consented
        ["trial", "randomise", *db, "--id", "NOBODY"],
        [
            "trial",
            "record",
            *db,
            "--id",
            "P1",
            "--visit",
            "baseline",
            "--instrument",
            "nrs",
            "--items",
            "{not json",
        ],
        ["trial", "init", *db],  # already initialised
    ]
    for args in cases:
        code, out, err = invoke(args, capsys)
        assert code == 2, (args, out, err)
        assert err.startswith("resolve: error: ") and err.count("\n") == 1, err
    assert len(service.participants(db_url)) == before
    assert service.allocations(db_url).empty
    assert invoke(["trial", "audit", "verify", *db], capsys)[0] == 0


def test_randomise_refuses_twice(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", db_url]
    invoke(["trial", "init", *db, "--seed", "3"], capsys)
    invoke(
        [
            "trial",
            "screen",
            *db,
            "--id",
            "P1",
            "--age",
            "40",
            "--duration-weeks",
            "20",
            "--pain",
            "6",
        ],
        capsys,
    )
    invoke(["trial", "consent", *db, "--id", "P1", "--version", "1.0"], capsys)
    assert invoke(["trial", "randomise", *db, "--id", "P1"], capsys)[0] == 0
    code, out, err = invoke(["trial", "randomise", *db, "--id", "P1"], capsys)
    assert code == 2 and "already randomised" in err and out == ""


def test_audit_verify_names_the_tampered_event(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", db_url]
    invoke(["trial", "init", *db, "--seed", "3", "--user", "admin"], capsys)
    invoke(
        [
            "trial",
            "screen",
            *db,
            "--id",
            "P1",
            "--age",
            "40",
            "--duration-weeks",
            "20",
            "--pain",
            "6",
            "--user",
            "rc",
        ],
        capsys,
    )
    with service.engine_for(db_url).begin() as conn:
        target = conn.execute(
            text("SELECT id FROM audit_event WHERE action = 'screen'")
        ).scalar_one()
        conn.execute(
            text("UPDATE audit_event SET user_name = 'someone else' WHERE id = :i"), {"i": target}
        )
    code, _, err = invoke(["trial", "audit", "verify", *db], capsys)
    assert code == 1
    assert f"audit event {target}:" in err


def test_no_command_reveals_a_future_allocation(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", db_url]
    seed = 987654
    outputs = [invoke(["trial", "init", *db, "--seed", str(seed)], capsys)[1]]
    for cmd in (["trial", "schedule", *db], ["trial", "audit", "verify", *db], ["trial", "--help"]):
        outputs.append(invoke(cmd, capsys)[1])
    text_out = "\n".join(outputs)
    assert str(seed) not in text_out
    assert "sham" not in text_out.replace("sham,", "")  # no arm list beyond the init summary
