"""``resolve trial ...`` and ``resolve users ...``: a trial's command line, SQLite and PostgreSQL.

Every command runs in-process through :func:`resolve.cli._app.run` (the parser, the
service layer and the exit codes of the ``resolve`` executable). Accounts: ``admin``
(made by ``trial init``), ``rc`` (enroller), ``oa`` (blinded outcome assessor),
``stat`` (blinded statistician), ``mon`` (monitor), ``doc`` (clinician) and ``dmc``
(unblinded statistician).
"""

from __future__ import annotations

import io
import json
import re
import stat
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from resolve.cli._app import run
from resolve.store.keys import TrialKey
from resolve.store.models import Role
from resolve.trial import load_protocol
from resolve.trial.randomize import make_randomizer

ADMIN = "admin"
USERS = {
    "rc": "enroller",
    "oa": "assessor",
    "stat": "statistician",
    "mon": "monitor",
    "doc": "clinician",
    "dmc": "unblinded_statistician",
}
ARMS = set(load_protocol().arm_names)  # sham, resolve
#: An arm name or a masked arm code as a word ("resolve: error:" is the program's prefix).
ARM_TEXT = re.compile(r"\b(?:sham|resolve)\b(?!\.toml)|\bgroup [A-Z]\b")


# ----------------------------------------------------------------------------- helpers
def invoke(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``resolve ARGS`` in-process: (exit code, stdout, stderr)."""
    code = run(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def ok(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``resolve ARGS``; it must exit 0; return its stdout."""
    code, out, err = invoke(args, capsys)
    assert code == 0, (list(args), out, err)
    return out


def refused(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``resolve ARGS``; it must exit 2 with ONE stderr line, no traceback; return it."""
    code, out, err = invoke(args, capsys)
    assert code == 2, (list(args), out, err)
    assert err.startswith("resolve: error: ") and err.count("\n") == 1, (list(args), err)
    assert "Traceback" not in err + out
    return err


def init_trial(
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    *,
    demo_seed: int | None = None,
    key_file: Path | None = None,
    users: dict[str, str] = USERS,
) -> str:
    """``trial init`` as ``admin`` and ``users add`` for ``users``; return init's stdout."""
    args = ["trial", "init", "--db", db_url, "--user", ADMIN, "--no-password"]
    if demo_seed is not None:
        args += ["--demo-seed", str(demo_seed)]
    if key_file is not None:
        args += ["--key-file", str(key_file)]
    out = ok(args, capsys)
    key = [] if key_file is None else ["--key-file", str(key_file)]
    for name, role in users.items():
        added = ok(users_add(db_url, ADMIN, name, role, "--no-password", *key), capsys)
        assert added.strip() == f"added {name} ({role})"
    return out


def trial(cmd: str, db_url: str, user: str, *rest: str) -> list[str]:
    """``trial CMD --db DB --user USER REST...`` (``cmd`` may be two words: ``audit verify``)."""
    return ["trial", *cmd.split(), "--db", db_url, "--user", user, *rest]


def users_add(db_url: str, by: str, name: str, role: str, *rest: str) -> list[str]:
    """``users add --db DB --user BY --username NAME --role ROLE REST...``."""
    return ["users", "add", "--db", db_url, "--user", by, "--username", name, "--role", role, *rest]


def record(
    db_url: str, user: str, pid: str, visit: str, instrument: str, items: str, *rest: str
) -> list[str]:
    """``trial record`` of ``items`` (JSON text or a file name)."""
    return trial(
        "record", db_url, user, "--id", pid, "--visit", visit, "--instrument", instrument,
        "--items", items, *rest,
    )  # fmt: skip


def screen(
    db_url: str,
    pid: str,
    *,
    user: str = "rc",
    age: int = 40,
    weeks: int = 20,
    pain: int = 6,
    identity: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """A ``trial screen`` command; the identity defaults to one per participant id."""
    ident = identity if identity is not None else f"1970-01-01 synthetic {pid}"
    return trial(
        "screen", db_url, user, "--id", pid, "--age", str(age), "--duration-weeks", str(weeks),
        "--pain", str(pain), "--identity", ident, *extra,
    )  # fmt: skip


def enrol(
    db_url: str, pid: str, capsys: pytest.CaptureFixture[str], *, key: Sequence[str] = ()
) -> str:
    """Screen (eligible), consent and randomise ``pid`` as ``rc``; return the printed arm."""
    assert ok([*screen(db_url, pid), *key], capsys).strip() == f"{pid}: eligible"
    ok([*trial("consent", db_url, "rc", "--id", pid, "--version", "1.0"), *key], capsys)
    arm = ok([*trial("randomise", db_url, "rc", "--id", pid), *key], capsys).strip()
    assert arm in ARMS
    return arm


def audit_log(db_url: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """Every audit event, as ``trial audit log`` prints it to the monitor."""
    out = ok(trial("audit log", db_url, "mon"), capsys)
    return [json.loads(line) for line in out.splitlines()]


@contextmanager
def raw_connection(db_url: str) -> Iterator[Connection]:
    """A direct connection to the database, as an insider with write access has."""
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def drop_trigger(conn: Connection, name: str, table: str) -> None:
    """Drop one of the triggers of migration 0002 (an owner of the database can)."""
    suffix = f" ON {table}" if conn.dialect.name == "postgresql" else ""
    conn.execute(text(f"DROP TRIGGER {name}{suffix}"))


def csv(out: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(out), keep_default_na=False, dtype=str)


# ----------------------------------------------------------------------------- the flow
def test_full_flow_through_the_cli(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "keys" / "trial.key"
    out = init_trial(db_url, capsys, key_file=key_file)
    assert "RESOLVE" in out and f"trial key written to {key_file}" in out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = ["--key-file", str(key_file)]
    users = csv(ok(["users", "list", "--db", db_url, "--user", ADMIN, *key], capsys))
    assert dict(zip(users["name"], users["role"], strict=True)) == {ADMIN: "admin", **USERS}

    assert ok([*screen(db_url, "P1"), *key], capsys).strip() == "P1: eligible"
    out = ok(
        [*screen(db_url, "P2", weeks=6, pain=2, extra=["--exclusion", "pregnancy"]), *key], capsys
    )
    assert out.startswith("P2: ineligible") and "pregnancy" in out.lower()
    ok([*trial("consent", db_url, "rc", "--id", "P1", "--version", "1.0"), *key], capsys)
    arms = {"P1": ok([*trial("randomise", db_url, "rc", "--id", "P1"), *key], capsys).strip()}
    for pid in ("P3", "P4", "P5", "P6"):
        arms[pid] = enrol(db_url, pid, capsys, key=key)
    assert set(arms.values()) <= ARMS

    # outcomes: the assessor records, items from a file and inline
    items = tmp_path / "rmdq.json"
    items.write_text(json.dumps({f"rmdq24_{i}": 1 for i in range(1, 25)}))
    out = ok(
        record(db_url, "oa", "P1", "baseline", "rmdq24", str(items), *key),
        capsys,
    )
    assert out.strip() == "P1 baseline rmdq24: total 24"
    for pid in arms:
        for visit, pain in (("baseline", 6), ("week 18", 3)):
            ok(
                record(db_url, "oa", pid, visit, "nrs", f'{{"nrs_1": {pain}}}', *key),
                capsys,
            )
    correct = trial(
        "correct", db_url, "oa", "--id", "P1", "--visit", "week 18", "--instrument", "nrs",
        "--items", '{"nrs_1": 4}', "--reason", "transcription error", *key,
    )  # fmt: skip
    out = ok(correct, capsys)
    assert out.strip() == "P1 week 18 nrs: corrected"
    ok([*trial("withdraw", db_url, "rc", "--id", "P5", "--reason", "moved away"), *key], capsys)
    ok([*trial("lost", db_url, "oa", "--id", "P6", "--reason", "no reply"), *key], capsys)

    # schedules: anyone; no arm in them
    out = ok(trial("schedule", db_url, "oa"), capsys)
    assert out.startswith("visit,") and "week 18" in out
    out = ok(trial("schedule", db_url, "oa", "--id", "P1"), capsys)
    calendar = csv(out).set_index("visit")["status"]
    assert calendar["baseline"] == "recorded" and calendar["week 18"] == "recorded"

    # a clinician sees the arm of their own participants only; emergency unblinding
    ok([*trial("assign-clinician", db_url, "rc", "--id", "P3", "--clinician", "doc"), *key], capsys)
    seen = csv(ok([*trial("participants", db_url, "doc"), *key], capsys)).set_index(
        "participant_id"
    )
    assert seen.loc["P3", "arm"] == arms["P3"]
    assert set(seen.drop(index="P3")["arm"]) == {""}
    out = ok(
        [*trial("unblind", db_url, "doc", "--id", "P4", "--reason", "adverse event"), *key],
        capsys,
    )
    assert out.strip() == arms["P4"]

    # the blinded statistician: masked codes in CONSORT and the export
    consort = csv(ok([*trial("consort", db_url, "stat"), *key], capsys))
    assert set(consort["arm"]) == {"all", "group A", "group B"}
    enrolment = consort[(consort["stage"] == "enrolment") & (consort["reason"] == "")]
    counts = dict(zip(enrolment["measure"], enrolment["n"].astype(int), strict=True))
    assert counts["assessed for eligibility"] == 6 and counts["randomised"] == 5
    ok([*trial("export", db_url, "stat", "--out", str(tmp_path / "masked")), *key], capsys)
    masked = pd.read_csv(tmp_path / "masked" / "analysis.csv")
    assert set(masked["arm"]) == {"group A", "group B"} and masked["id"].nunique() == 5
    # the unblinded statistician (DMC): real arms, the ones randomise printed
    paths = ok([*trial("export", db_url, "dmc", "--out", str(tmp_path / "export")), *key], capsys)
    assert str(tmp_path / "export" / "analysis.csv") in paths.splitlines()
    table = pd.read_csv(tmp_path / "export" / "analysis.csv")
    assert dict(zip(table["id"], table["arm"], strict=False)) == arms
    pairs = set(
        zip(
            masked.sort_values(["id", "visit"])["arm"],
            table.sort_values(["id", "visit"])["arm"],
            strict=True,
        )
    )
    assert len(pairs) == 2 and len({m for m, _ in pairs}) == 2  # one code per arm

    out = ok([*trial("audit verify", db_url, "mon"), *key], capsys)
    assert out.strip() == "audit trail intact; data tables match their events"
    events = audit_log(db_url, capsys)
    newest = ok(trial("audit log", db_url, "mon", "--limit", "2"), capsys).splitlines()
    assert [json.loads(line) for line in newest] == events[-2:]
    assert ok(trial("audit log", db_url, "mon", "--limit", "0"), capsys) == ""
    reads = [(e["user"], e["entity_id"]) for e in events if e["action"] == "read"]
    assert (
        ("stat", "export") in reads and ("dmc", "export") in reads and ("stat", "consort") in reads
    )
    assert any(
        e["action"] == "emergency unblind" and e["reason"] == "adverse event" for e in events
    )


def test_demo_seed_makes_allocations_reproducible(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = 987_654_321
    code, out, err = invoke(
        [
            "trial",
            "init",
            "--db",
            db_url,
            "--user",
            ADMIN,
            "--no-password",
            "--demo-seed",
            str(seed),
        ],
        capsys,
    )
    assert code == 0 and "uid" in out and str(seed) not in out
    assert err.strip() == "INSECURE DEMO MODE: allocations are predictable from the database"
    ok(users_add(db_url, ADMIN, "rc", "enroller", "--no-password"), capsys)
    got = [enrol(db_url, f"P{k}", capsys) for k in range(1, 7)]
    randomizer = make_randomizer(load_protocol(), TrialKey.insecure_from_seed(seed).entropy)
    expected: list[str] = []
    for _ in got:
        expected.append(
            str(
                randomizer.next_arm({"site": "sydney"}, [(a, {"site": "sydney"}) for a in expected])
            )
        )
    assert got == expected


def test_bad_input_exits_2_and_writes_nothing(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    init_trial(db_url, capsys, demo_seed=1)
    ok(screen(db_url, "P1", identity="1980-02-03 AB"), capsys)
    ok(screen(db_url, "P9", age=80), capsys)  # ineligible
    before = ok(trial("participants", db_url, ADMIN), capsys)
    n_events = len(audit_log(db_url, capsys))
    cases = [
        screen(db_url, "X", extra=["--exclusion", "no_such_thing"]),
        screen(db_url, "X", pain=60),
        screen(db_url, "X", identity="1980-02-03  ab"),  # P1 again: same person, another id
        screen(db_url, "X", identity=""),  # no identifying fields
        screen(db_url, "X", extra=["--factor", "site=perth"]),
        screen(db_url, "X", extra=["--factor", "site"]),
        screen(db_url, "=HYPERLINK(1)"),  # participant id rule
        screen(db_url, "P\u200b1"),
        trial("consent", db_url, "rc", "--id", "P1", "--version", "9.9"),
        trial("consent", db_url, "rc", "--id", "P9", "--version", "1.0"),  # ineligible
        trial("randomise", db_url, "rc", "--id", "P1"),  # not consented
        trial("randomise", db_url, "rc", "--id", "NOBODY"),
        record(db_url, "oa", "P1", "baseline", "nrs", "{not json"),
        record(db_url, "oa", "P1", "baseline", "nrs", '{"nrs_1": 6}'),  # not randomised
        record(db_url, "oa", "P1", "week 99", "nrs", '{"nrs_1": 6}'),
        ["trial", "init", "--db", db_url, "--user", ADMIN, "--no-password"],  # initialised
    ]
    for args in cases:
        refused(args, capsys)
    assert ok(trial("participants", db_url, ADMIN), capsys) == before
    assert len(audit_log(db_url, capsys)) == n_events
    assert ok(trial("audit verify", db_url, "mon"), capsys).startswith("audit trail intact")


def test_randomise_twice(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    init_trial(db_url, capsys, demo_seed=3, users={**USERS, "rc2": "enroller"})
    arm = enrol(db_url, "P1", capsys)
    # the enroller who allocated may ask again: the same arm, no second allocation
    assert ok(trial("randomise", db_url, "rc", "--id", "P1"), capsys).strip() == arm
    code, out, err = invoke(trial("randomise", db_url, "rc2", "--id", "P1"), capsys)
    assert code == 2 and "already randomised" in err and out == ""
    assert not ARM_TEXT.search(err.removeprefix("resolve: error:"))
    err = refused(trial("randomise", db_url, "oa", "--id", "P1"), capsys)
    assert "may not randomise" in err
    events = audit_log(db_url, capsys)
    assert [e["action"] for e in events].count("randomise") == 1
    assert ok(trial("audit verify", db_url, "mon"), capsys).startswith("audit trail intact")


def test_audit_verify_names_the_tampered_event(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    init_trial(db_url, capsys, demo_seed=3)
    ok(screen(db_url, "P1"), capsys)
    with raw_connection(db_url) as conn:
        target = conn.execute(
            text("SELECT id FROM audit_event WHERE action = 'screen'")
        ).scalar_one()
    # prevented: the trigger refuses the edit ...
    with pytest.raises(Exception, match="not allowed"), raw_connection(db_url) as conn:
        conn.execute(text("UPDATE audit_event SET user_name = 'x' WHERE id = :i"), {"i": target})
    # ... detected: an owner drops the trigger and edits anyway
    with raw_connection(db_url) as conn:
        drop_trigger(conn, "resolve_no_update_audit_event", "audit_event")
        conn.execute(
            text("UPDATE audit_event SET user_name = 'someone else' WHERE id = :i"), {"i": target}
        )
    code, out, err = invoke(trial("audit verify", db_url, "mon"), capsys)
    assert code == 1 and out == ""
    assert err.startswith(f"audit trail broken: audit event {target}:") and err.count("\n") == 1


def test_verify_detects_a_direct_edit_of_a_data_table(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    init_trial(db_url, capsys, demo_seed=5)
    arm = enrol(db_url, "P1", capsys)
    other = (ARMS - {arm}).pop()
    with raw_connection(db_url) as conn:
        drop_trigger(conn, "resolve_no_update_allocation", "allocation")
        conn.execute(text("UPDATE allocation SET arm = :a"), {"a": other})
    code, _, err = invoke(trial("audit verify", db_url, "mon"), capsys)
    assert code == 1
    assert (
        err.strip()
        == "audit trail broken: table allocation: allocation of 'P1' differs from its event"
    )
    assert not ARM_TEXT.search(err)  # the report names the participant, never an arm


def test_no_command_reveals_a_future_allocation(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Key mode: no output shows the key; the assessor's outputs carry no arm information."""
    key_file = tmp_path / "keys" / "k.key"
    outputs = [init_trial(db_url, capsys, key_file=key_file)]
    key = ["--key-file", str(key_file)]
    for pid in ("P1", "P2", "P3", "P4"):
        enrol(db_url, pid, capsys, key=key)
    commands = [
        trial("participants", db_url, "oa"),
        trial("schedule", db_url, "oa"),
        trial("schedule", db_url, "oa", "--id", "P2"),
        record(db_url, "oa", "P2", "week 18", "nrs", '{"nrs_1": 2}', *key),
        [*trial("consort", db_url, "oa"), *key],
        [*trial("export", db_url, "oa", "--out", str(tmp_path / "x")), *key],
        [*trial("randomise", db_url, "oa", "--id", "P1"), *key],
        [*trial("unblind", db_url, "oa", "--id", "P1", "--reason", "curious"), *key],
        trial("audit log", db_url, "oa"),
        [*trial("audit verify", db_url, "oa"), *key],
        ["users", "list", "--db", db_url, "--user", "oa"],
    ]
    for cmd in commands:
        code, out, err = invoke(cmd, capsys)
        assert code in (0, 2) and "Traceback" not in err, (cmd, err)
        text_out = out + err.removeprefix("resolve: error:")
        assert not ARM_TEXT.search(text_out), (cmd, text_out)
        outputs.append(out + err)
    assert not (tmp_path / "x").exists()
    # the monitor reads the audit trail with every arm hidden
    monitor = ok(trial("audit log", db_url, "mon"), capsys)
    assert '"arm": "(hidden)"' in monitor and not ARM_TEXT.search(monitor)
    for cmd in (trial("participants", db_url, "mon"), trial("audit verify", db_url, "mon", *key)):
        outputs.append(ok(cmd, capsys))
    outputs.append(ok(["trial", "--help"], capsys))
    secret = TrialKey.from_hex(key_file.read_text().split()[1], "key").hex()
    everything = "\n".join(outputs)
    assert secret not in everything and secret.upper() not in everything


# ----------------------------------------------------------------------------- users
def test_users_add_list_deactivate(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long admin passphrase\n"))
    ok(
        ["trial", "init", "--db", db_url, "--user", ADMIN, "--password-stdin", "--demo-seed", "2"],
        capsys,
    )
    add = ["users", "add", "--db", db_url, "--user", ADMIN]
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery staple\n"))
    assert (
        ok(
            [
                *add,
                "--username",
                "rc",
                "--role",
                "enroller",
                "--site",
                "sydney",
                "--password-stdin",
            ],
            capsys,
        ).strip()
        == "added rc (enroller)"
    )
    ok([*add, "--username", "mon", "--role", "monitor", "--no-password"], capsys)
    listed = csv(ok(["users", "list", "--db", db_url, "--user", "mon"], capsys))
    assert list(listed.columns) == ["name", "role", "site", "active", "password", "created_at"]
    rows = listed.set_index("name")
    assert rows.loc[ADMIN, "role"] == "admin" and rows.loc[ADMIN, "password"] == "True"
    assert rows.loc["rc", "site"] == "sydney" and rows.loc["rc", "password"] == "True"
    assert rows.loc["mon", "password"] == "False" and set(rows["active"]) == {"True"}

    # refusals: one line each, nothing added
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert "at least 12 characters" in refused(
        [*add, "--username", "x1", "--role", "monitor", "--password-stdin"], capsys
    )
    err = refused([*add, "--username", "x2", "--role", "boss", "--no-password"], capsys)
    assert "unknown role 'boss'" in err and all(r.value in err for r in Role)
    assert "exists already" in refused(
        [*add, "--username", "rc", "--role", "monitor", "--no-password"], capsys
    )
    err = refused(users_add(db_url, "rc", "x3", "admin", "--no-password"), capsys)
    assert "may not manage users" in err and "allowed roles: admin" in err
    assert "may not list users" in refused(
        ["users", "list", "--db", db_url, "--user", "rc"], capsys
    )
    refused(
        [*add, "--username", "x4", "--role", "monitor", "--site", "perth", "--no-password"], capsys
    )
    refused([*add, "--username", "bad name", "--role", "monitor", "--no-password"], capsys)
    names = set(csv(ok(["users", "list", "--db", db_url, "--user", ADMIN], capsys))["name"])
    assert names == {ADMIN, "rc", "mon"}

    # deactivate: audited, the account stays, its commands are refused
    deactivate = ["users", "deactivate", "--db", db_url, "--user", ADMIN]
    assert "may not manage users" in refused(
        [
            "users",
            "deactivate",
            "--db",
            db_url,
            "--user",
            "mon",
            "--username",
            "rc",
            "--reason",
            "x",
        ],
        capsys,
    )
    assert (
        ok([*deactivate, "--username", "rc", "--reason", "left the trial"], capsys).strip()
        == "deactivated rc"
    )
    assert "cannot deactivate their own" in refused(
        [*deactivate, "--username", ADMIN, "--reason", "x"], capsys
    )
    refused([*deactivate, "--username", "ghost", "--reason", "x"], capsys)
    err = refused(screen(db_url, "P1"), capsys)
    assert err.strip() == "resolve: error: user 'rc' is deactivated"
    rows = csv(ok(["users", "list", "--db", db_url, "--user", ADMIN], capsys)).set_index("name")
    assert rows.loc["rc", "active"] == "False"
    events = audit_log(db_url, capsys)
    assert any(
        e["action"] == "deactivate" and e["entity_id"] == "rc" and e["reason"] == "left the trial"
        for e in events
    )
    assert ok(trial("audit verify", db_url, ADMIN), capsys).startswith("audit trail intact")


def test_unknown_user_is_refused_by_name(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    init_trial(db_url, capsys, demo_seed=4, users={})
    err = refused(screen(db_url, "P1", user="mallory"), capsys)
    assert err.strip() == "resolve: error: no user 'mallory' in this trial (an admin adds users)"
    # without --user: $RESOLVE_USER (else the login name) acts
    monkeypatch.setenv("RESOLVE_USER", "ghost")
    err = refused(["trial", "participants", "--db", db_url], capsys)
    assert "no user 'ghost'" in err
    monkeypatch.setenv("RESOLVE_USER", ADMIN)
    assert ok(["trial", "participants", "--db", db_url], capsys).startswith("participant_id,")


# ----------------------------------------------------------------------------- the key
def test_the_trial_key_is_needed_and_checked(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "keys" / "trial.key"
    init_trial(db_url, capsys, key_file=key_file, users={"rc": "enroller"})
    # not at the default place: say where it was looked for
    err = refused(screen(db_url, "P1"), capsys)
    assert "the trial key is not at" in err and "--key-file" not in err
    # an environment variable names it
    monkeypatch.setenv("RESOLVE_TRIAL_KEY_FILE", str(key_file))
    assert ok(screen(db_url, "P1"), capsys).strip() == "P1: eligible"
    monkeypatch.delenv("RESOLVE_TRIAL_KEY_FILE")
    # a key file others can read is refused
    key_file.chmod(0o644)
    err = refused([*screen(db_url, "P2"), "--key-file", str(key_file)], capsys)
    assert "readable by others" in err and "chmod 600" in err
    key_file.chmod(0o600)
    # another trial's key is refused
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    other_key = tmp_path / "keys2" / "other.key"
    ok(
        [
            "trial",
            "init",
            "--db",
            other_db,
            "--user",
            ADMIN,
            "--no-password",
            "--key-file",
            str(other_key),
        ],
        capsys,
    )
    err = refused([*screen(db_url, "P2"), "--key-file", str(other_key)], capsys)
    assert "does not belong to trial" in err
    refused([*screen(db_url, "P2"), "--key-file", str(tmp_path / "nowhere.key")], capsys)
    # init never overwrites a key file
    third_db = f"sqlite:///{tmp_path / 'third.db'}"
    err = refused(
        [
            "trial",
            "init",
            "--db",
            third_db,
            "--user",
            ADMIN,
            "--no-password",
            "--key-file",
            str(other_key),
        ],
        capsys,
    )
    assert "never overwritten" in err
    assert ok(trial("participants", db_url, ADMIN), capsys).count("\n") == 2  # header + P1


def test_key_file_beside_the_database_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "trial.db"
    err = refused(
        [
            "trial",
            "init",
            "--db",
            str(db),
            "--user",
            ADMIN,
            "--no-password",
            "--key-file",
            str(tmp_path / "trial.key"),
        ],
        capsys,
    )
    assert "must not sit beside the database" in err
    assert not (tmp_path / "trial.key").exists()
    key_file = tmp_path / "keys" / "trial.key"
    ok(
        [
            "trial",
            "init",
            "--db",
            str(db),
            "--user",
            ADMIN,
            "--no-password",
            "--key-file",
            str(key_file),
        ],
        capsys,
    )
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700


# ----------------------------------------------------------------------------- audit
def test_checkpoint_then_verify_and_a_truncated_tail(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init_trial(db_url, capsys, demo_seed=6)
    enrol(db_url, "P1", capsys)
    ok(trial("export", db_url, "stat", "--out", str(tmp_path / "export")), capsys)
    cp = tmp_path / "worm" / "cp1.json"
    cp.parent.mkdir()
    out = ok(trial("audit checkpoint", db_url, "mon", "--out", str(cp)), capsys)
    body = json.loads(cp.read_text())
    assert out.strip() == f"checkpoint of event {body['last_id']} written to {cp}"
    assert set(body) == {"trial", "last_id", "last_hash", "at", "mac"}
    written = cp.read_bytes()
    assert "never overwritten" in refused(
        trial("audit checkpoint", db_url, "mon", "--out", str(cp)), capsys
    )
    assert cp.read_bytes() == written
    verify = trial("audit verify", db_url, "mon", "--checkpoint", str(cp))
    assert ok(verify, capsys).startswith("audit trail intact")

    # An insider hides the export: deletes the newest events (the export's read event and
    # the checkpoint's own event) and fixes the head row. The chain and the data tables
    # still agree, so only the checkpoint on write-once storage shows it.
    events = audit_log(db_url, capsys)
    export_event = next(int(str(e["id"])) for e in events if e["entity_id"] == "export")
    assert int(body["last_id"]) == export_event
    with raw_connection(db_url) as conn:
        drop_trigger(conn, "resolve_no_delete_audit_event", "audit_event")
        conn.execute(text("DELETE FROM audit_event WHERE id >= :i"), {"i": export_event})
        conn.execute(
            text(
                "UPDATE audit_head SET last_id = :i, last_hash = "
                "(SELECT hash FROM audit_event WHERE id = :i) WHERE id = 1"
            ),
            {"i": export_event - 1},
        )
    assert ok(trial("audit verify", db_url, "mon"), capsys).startswith("audit trail intact")
    code, _, err = invoke(verify, capsys)
    assert code == 1 and "events removed from the end" in err
    assert err.startswith(f"audit trail broken: audit event {export_event}:")

    # a checkpoint file that is not one, or not of this trial's key
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "not a checkpoint file" in refused(
        trial("audit verify", db_url, "mon", "--checkpoint", str(bad)), capsys
    )
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**body, "last_id": 1, "mac": "0" * 64}))
    code, _, err = invoke(trial("audit verify", db_url, "mon", "--checkpoint", str(forged)), capsys)
    assert code == 1 and "MAC is wrong" in err


def test_lock_and_unblind_statistician(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init_trial(db_url, capsys, demo_seed=8)
    arms = {pid: enrol(db_url, pid, capsys) for pid in ("P1", "P2", "P3")}
    late_record = record(db_url, "oa", "P1", "week 18", "nrs", '{"nrs_1": 3}')
    err = refused(
        trial("unblind-statistician", db_url, ADMIN, "--reason", "final analysis"), capsys
    )
    assert "lock it before unblinding" in err
    assert "may not lock database" in refused(
        trial("lock", db_url, "stat", "--reason", "x"), capsys
    )
    assert (
        ok(trial("lock", db_url, ADMIN, "--reason", "last visit done"), capsys).strip()
        == "database locked"
    )
    assert "already locked" in refused(trial("lock", db_url, ADMIN, "--reason", "again"), capsys)
    assert "no data can be changed" in refused(late_record, capsys)
    correct = trial(
        "correct", db_url, "oa", "--id", "P1", "--visit", "baseline", "--instrument", "nrs",
        "--items", '{"nrs_1": 3}', "--reason", "late fix",
    )  # fmt: skip
    assert "no data can be changed" in refused(correct, capsys)
    blinded = csv(ok(trial("participants", db_url, "stat"), capsys))
    assert set(blinded["arm"]) <= {"group A", "group B"}
    assert "may not unblind statistician" in refused(
        trial("unblind-statistician", db_url, "mon", "--reason", "x"), capsys
    )
    out = ok(trial("unblind-statistician", db_url, ADMIN, "--reason", "final analysis"), capsys)
    assert out.strip() == "statistician unblinded"
    unblinded = csv(ok(trial("participants", db_url, "stat"), capsys)).set_index("participant_id")
    assert unblinded["arm"].to_dict() == arms
    ok(trial("export", db_url, "stat", "--out", str(tmp_path / "final")), capsys)
    assert set(pd.read_csv(tmp_path / "final" / "analysis.csv")["arm"]) <= ARMS
    steps = [
        (e["action"], e["reason"]) for e in audit_log(db_url, capsys) if e["entity"] == "trial"
    ]
    assert steps[1:] == [("lock", "last visit done"), ("unblind statistician", "final analysis")]
    assert ok(trial("audit verify", db_url, "mon"), capsys).startswith("audit trail intact")


# ----------------------------------------------------------------------------- errors
def test_every_error_is_one_line_without_traceback(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing_db = str(tmp_path / "nothing-here" / "trial.db")
    refused(["trial", "participants", "--db", missing_db, "--user", ADMIN], capsys)
    refused(["trial", "participants", "--db", str(tmp_path / "absent.db"), "--user", ADMIN], capsys)
    refused(["trial", "init", "--db", db_url, "--user", "bad user", "--no-password"], capsys)
    refused(
        [
            "trial",
            "init",
            "--db",
            db_url,
            "--user",
            ADMIN,
            "--protocol",
            str(tmp_path / "no.toml"),
            "--no-password",
        ],
        capsys,
    )
    refused(
        ["trial", "init", "--db", db_url, "--user", ADMIN, "--demo-seed", "-1", "--no-password"],
        capsys,
    )
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    init = ["trial", "init", "--db", db_url, "--user", ADMIN, "--no-password"]
    assert "not UTF-8" in refused([*init, "--protocol", str(binary)], capsys)
    init_trial(db_url, capsys, demo_seed=9)
    enrol(db_url, "P1", capsys)
    cases = [
        ["trial", "screen", "--db", db_url, "--user", "rc", "--id", "P2"],  # options missing
        ["trial", "no-such-command", "--db", db_url],
        ["users", "add", "--db", db_url, "--user", ADMIN, "--username", "x"],  # no --role
        screen(db_url, "P2", extra=["--age", "forty"]),
        record(db_url, "oa", "P1", "baseline", "nrs", str(tmp_path / "missing.json")),
        record(db_url, "oa", "P1", "baseline", "nrs", '{"nrs_1": 11}'),
        record(db_url, "oa", "P1", "baseline", "gpe", '{"gpe_1": 1}'),
        record(db_url, "oa", "P1", "baseline", "nrs", "[1, 2]"),
        record(db_url, "oa", "P1", "baseline", "nrs", '"6"'),
        trial("withdraw", db_url, "rc", "--id", "P1", "--reason", "  "),
        trial("withdraw", db_url, "oa", "--id", "P1", "--reason", "x"),
        trial("assign-clinician", db_url, "rc", "--id", "P1", "--clinician", "oa"),
        trial("unblind", db_url, "doc", "--id", "P1", "--reason", ""),
        trial("unblind", db_url, "rc", "--id", "P1", "--reason", "x"),
        trial("randomised-in-error", db_url, "oa", "--id", "P1", "--reason", "x"),
        trial("schedule", db_url, "oa", "--id", "NOBODY"),
        trial("export", db_url, "mon", "--out", str(tmp_path / "e")),
        trial("consort", db_url, "doc"),
        trial("audit log", db_url, "rc"),
        trial("audit checkpoint", db_url, "oa", "--out", str(tmp_path / "cp.json")),
        trial("audit verify", db_url, "mon", "--checkpoint", str(tmp_path / "none.json")),
        trial("audit log", db_url, "mon", "--limit", "many"),
        trial("audit log", db_url, "mon", "--limit", "-1"),
    ]
    binary_items = tmp_path / "items.bin"
    binary_items.write_bytes(b"\xff\xfe{")
    cases.append(record(db_url, "oa", "P1", "baseline", "nrs", str(binary_items)))
    not_checkpoints = {"list.json": "[]", "text.json": '"x"', "id.json": '{"last_id": "abc"}'}
    for name, content in not_checkpoints.items():
        (tmp_path / name).write_text(content)
        cases.append(trial("audit verify", db_url, "mon", "--checkpoint", str(tmp_path / name)))
    for args in cases:
        refused(args, capsys)
    assert not (tmp_path / "e").exists() and not (tmp_path / "cp.json").exists()
    # a database whose schema is newer than this resolve knows
    with raw_connection(db_url) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    err = refused(trial("participants", db_url, ADMIN), capsys)
    assert "newer than this version of resolve" in err
