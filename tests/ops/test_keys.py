"""The trial key: created private, never beside the database, never overwritten, found or
reported clearly (file, ``RESOLVE_TRIAL_KEY_FILE``, ``RESOLVE_TRIAL_KEY``)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from resolve import ops
from resolve.store import normalise_url
from resolve.store.keys import (
    KEY_ENV,
    KEY_FILE_ENV,
    TrialKey,
    TrialKeyError,
    create_key_file,
    default_key_path,
    read_key_file,
)
from resolve.store.uow import Store
from tests.db_fixtures import _dispose
from tests.store.scenario import ADMIN, ENROLLER, cli, verify


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _init(db: str) -> ops.InitResult:
    result = ops.init_trial(db, admin=ADMIN)
    ops.Client(db, user=ADMIN).run(ops.add_user, ENROLLER, role="enroller", password=None)
    return result


def _screen(db: str, pid: str = "K001") -> None:
    ops.Client(db, user=ENROLLER).run(
        ops.screen, pid, age=40, duration_weeks=20, pain=6, identity=f"{pid} 1980-01-01"
    )


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[str]:
    db = tmp_path / "data" / "trial.db"
    db.parent.mkdir()
    yield str(db)
    _dispose(normalise_url(db))


def test_key_file_is_private_in_a_private_folder(
    sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "config" / "keys"
    monkeypatch.setenv("RESOLVE_KEY_DIR", str(folder))
    old = os.umask(0)  # the modes must not come from the umask
    try:
        result = ops.init_trial(sqlite_db, admin=ADMIN)
    finally:
        os.umask(old)
    assert result.key_file == default_key_path(result.uid) == folder / f"{result.uid}.key"
    assert _mode(result.key_file) == 0o600
    assert _mode(folder) == 0o700
    key = read_key_file(result.key_file)
    with Store(sqlite_db).engine.connect() as conn:
        stored = conn.execute(text("SELECT key_fingerprint FROM trial")).scalar_one()
    assert stored == key.fingerprint
    assert key.hex() not in repr(key)  # never printed


def test_explicit_key_file(
    sqlite_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vault" / "resolve.key"
    code, out, err = cli(
        capsys,
        "trial",
        "init",
        "--db",
        sqlite_db,
        "--user",
        ADMIN,
        "--no-password",
        "--key-file",
        str(path),
    )
    assert (code, err) == (0, "")
    assert f"trial key written to {path}" in out
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert verify(capsys, sqlite_db, "--key-file", str(path)) == (0, "")


def test_key_beside_the_database_is_refused(sqlite_db: str, tmp_path: Path) -> None:
    beside = Path(sqlite_db).parent / "trial.key"
    with pytest.raises(TrialKeyError, match="must not sit beside the database"):
        ops.init_trial(sqlite_db, admin=ADMIN, key_file=beside)
    assert not beside.exists()
    # refused before anything was created: no database file, no trial without its key
    assert not Path(sqlite_db.removeprefix("sqlite:///")).exists()
    # the same database can then be initialised with the key elsewhere
    elsewhere = tmp_path / "keys-elsewhere" / "trial.key"
    result = ops.init_trial(sqlite_db, admin=ADMIN, key_file=elsewhere)
    assert result.key_file == elsewhere and elsewhere.exists()


def test_an_existing_key_file_is_never_overwritten(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys" / "trial.key"
    first = create_key_file(path, TrialKey.generate())
    content = first.read_text()
    with pytest.raises(TrialKeyError, match="never overwritten"):
        create_key_file(path, TrialKey.generate())
    code, _, err = cli(
        capsys,
        "trial",
        "init",
        "--db",
        db_url,
        "--user",
        ADMIN,
        "--no-password",
        "--key-file",
        str(path),
    )
    assert code == 2 and "never overwritten" in err and err.count("\n") == 1
    assert path.read_text() == content
    if db_url.startswith("sqlite"):  # refused before the database file was created
        assert not Path(db_url.removeprefix("sqlite:///")).exists()
    else:  # the (pre-existing, empty) PostgreSQL database got no schema, no trial
        with Store(db_url, create=True).engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('trial')")).scalar_one() is None


def test_a_missing_key_is_reported_with_where_to_put_it(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _init(db_url)
    assert result.key_file is not None
    hidden = tmp_path / "moved.key"
    result.key_file.rename(hidden)
    for argv in (
        ["trial", "screen", "--db", db_url, "--user", ENROLLER, "--id", "K002", "--age", "40",
         "--duration-weeks", "20", "--pain", "6", "--identity", "someone 1999"],
        ["trial", "audit", "verify", "--db", db_url, "--user", ADMIN],
    ):  # fmt: skip
        code, out, err = cli(capsys, *argv)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert err.startswith("resolve: error: the trial key is not at ")
        assert str(result.key_file) in err and result.uid in err
        assert KEY_FILE_ENV in err and KEY_ENV in err
    # nothing was screened without the key
    with Store(db_url).engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM participant")).scalar_one() == 0
    # the key file given explicitly, or through RESOLVE_TRIAL_KEY_FILE, works
    assert verify(capsys, db_url, "--key-file", str(hidden)) == (0, "")
    monkeypatch.setenv(KEY_FILE_ENV, str(hidden))
    _screen(db_url)
    assert verify(capsys, db_url) == (0, "")


def test_key_from_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _init(db_url)
    assert result.key_file is not None
    key = read_key_file(result.key_file)
    result.key_file.unlink()
    monkeypatch.setenv(KEY_ENV, key.hex())
    _screen(db_url)
    assert verify(capsys, db_url) == (0, "")
    monkeypatch.setenv(KEY_ENV, key.hex().upper())  # hex in either case
    assert verify(capsys, db_url) == (0, "")
    monkeypatch.setenv(KEY_ENV, TrialKey.generate().hex())
    code, err = verify(capsys, db_url)
    assert code == 2
    assert err == f"resolve: error: {KEY_ENV}: this key does not belong to trial {result.uid}\n"
    monkeypatch.setenv(KEY_ENV, "not a key")
    code, err = verify(capsys, db_url)
    assert code == 2 and f"{KEY_ENV}: not a trial key (expected 64 hex digits)" in err


def test_key_files_that_are_open_or_malformed_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "k"
    path = create_key_file(folder / "trial.key", TrialKey.generate())
    assert read_key_file(path).fingerprint
    for mode in (0o640, 0o604, 0o660, 0o644):
        path.chmod(mode)
        with pytest.raises(TrialKeyError, match=r"readable by others \(mode 6\d\d\).*chmod 600"):
            read_key_file(path)
    path.chmod(0o600)
    bad = folder / "bad.key"
    bad.write_text("resolve-trial-key-v1\nzz\n")
    bad.chmod(0o600)
    with pytest.raises(TrialKeyError, match="expected 64 hex digits"):
        read_key_file(bad)
    bad.write_text("something else\n")
    with pytest.raises(TrialKeyError, match="not a resolve trial key file"):
        read_key_file(bad)
    with pytest.raises(TrialKeyError, match="no trial key file here"):
        read_key_file(folder / "absent.key")
