"""Enrolment and data capture through :mod:`resolve.ops`, on SQLite and PostgreSQL.

The behaviours the old ``resolve.trial.service`` tests proved, on the service
layer: the whole participant flow, refusals that write nothing, randomised in
error and emergency unblinding, corrections that need a reason and keep the old
value, no function that reveals a future allocation, a missing database refused.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from resolve import ops
from resolve.errors import DataValidationError, ResolveError, UnknownNameError
from resolve.store.models import ResponseRevision, Trial, Unblinding, User
from tests.ops.helpers import (
    ADMIN,
    ASSESSOR,
    CLINICIAN,
    ENROLLER,
    ENROLLER2,
    UNBLINDED,
    audit_actions,
    audit_rows,
    client,
    enrol,
    inspect_db,
    new_trial,
    randomise,
    sealed_lists,
    snapshot,
    trial_key,
)

RMDQ = {f"rmdq24_{i}": i % 2 for i in range(1, 25)}


def test_whole_participant_flow(db_url: str) -> None:
    res = new_trial(db_url)
    proto = res.protocol
    assert proto.name == "RESOLVE"
    assert res.key_file is not None and stat.S_IMODE(res.key_file.stat().st_mode) == 0o600
    rc, ana = client(db_url, ENROLLER), client(db_url, ASSESSOR)
    result = rc.run(ops.screen, "P001", age=40, duration_weeks=30, pain=6, identity="1971-03-02 AB")
    assert result.eligible and result.reasons == ()
    rc.run(ops.consent, "P001", version="1.0")
    arm = rc.run(ops.randomise, "P001")
    assert arm == sealed_lists(db_url, proto)[("sydney",)][0]  # the keyed list's first entry
    scores = ana.run(ops.record, "P001", visit="baseline", instrument="nrs", items={"nrs_1": 7})
    assert scores["scores"]["total"] == 7
    ana.run(ops.record, "P001", visit="baseline", instrument="rmdq24", items=RMDQ)
    ana.run(ops.record, "P001", visit="week 18", instrument="nrs", items={"nrs_1": 3})

    parts = client(db_url, UNBLINDED).run(ops.participants)
    row = parts.set_index("participant_id").loc["P001"]
    assert row["status"] == "randomised" and row["arm"] == arm
    assert row["consent_version"] == "1.0" and row["site"] == "sydney"
    assert row["factors"] == {"site": "sydney"}
    resp = ana.run(ops.responses)
    assert len(resp) == 3 and set(resp["visit"]) == {"baseline", "week 18"}
    assert set(resp["user"]) == {ASSESSOR}
    visits = ana.run(ops.visits)
    assert sorted(visits["visit"]) == ["baseline", "week 18"]
    cal = ana.run(ops.participant_schedule, "P001")
    assert cal.set_index("visit").loc["baseline", "status"] == "recorded"
    assert len(ana.run(ops.trial_schedule)) == len(proto.visits)
    rc.run(ops.withdraw, "P001", reason="moved away")
    parts = client(db_url, UNBLINDED).run(ops.participants)
    assert parts.loc[0, "status"] == "withdrawn" and parts.loc[0, "status_reason"] == "moved away"
    assert client(db_url, ADMIN).run(ops.verify_trial) is None

    events = audit_actions(db_url)
    actions = {(entity, action) for entity, action, _, _ in events}
    for needed in [
        ("trial", "init"),
        ("app_user", "create"),
        ("participant", "screen"),
        ("participant", "consent"),
        ("participant", "randomise"),
        ("visit", "create"),
        ("response", "record"),
        ("participant", "withdraw"),
    ]:
        assert needed in actions, needed
    who = {(e.entity, e.action): e.user_name for e in audit_rows(db_url)}
    assert who[("participant", "randomise")] == ENROLLER
    assert who[("response", "record")] == ASSESSOR
    assert ("participant", "withdraw", "P001", "moved away") in events


def test_refusals_write_nothing(db_url: str, tmp_path: Path) -> None:
    new_trial(db_url)
    keys_before = sorted(p.name for p in trial_key_dir().iterdir())
    with pytest.raises(ops.TrialStateError, match="already holds a trial"):
        ops.init_trial(db_url, admin="other")
    assert sorted(p.name for p in trial_key_dir().iterdir()) == keys_before  # no stray key
    rc = client(db_url, ENROLLER)
    res = rc.run(ops.screen, "OLD", age=75, duration_weeks=30, pain=6, identity="1950-01-01 OL")
    assert not res.eligible and "age 75 is above 70" in res.reasons
    rc.run(ops.screen, "NOC", age=40, duration_weeks=30, pain=6, identity="1980-05-05 NC")
    before = snapshot(db_url)
    with pytest.raises(ops.TrialStateError, match="ineligible"):
        rc.run(ops.randomise, "OLD")
    with pytest.raises(ops.TrialStateError, match="ineligible"):
        rc.run(ops.consent, "OLD", version="1.0")
    with pytest.raises(ops.TrialStateError, match="has not consented"):
        rc.run(ops.randomise, "NOC")
    with pytest.raises(UnknownNameError, match="has not been screened"):
        rc.run(ops.randomise, "NOBODY")
    with pytest.raises(DataValidationError, match="unknown consent version '9'"):
        rc.run(ops.consent, "NOC", version="9")
    with pytest.raises(DataValidationError, match="unknown exclusion"):
        rc.run(
            ops.screen,
            "X",
            age=40,
            duration_weeks=30,
            pain=6,
            identity="x y z w",
            exclusions=["nope"],
        )
    with pytest.raises(DataValidationError, match="unknown factor"):
        rc.run(
            ops.screen,
            "X",
            age=40,
            duration_weeks=30,
            pain=6,
            identity="x y z w",
            factors={"a": "b"},
        )
    with pytest.raises(DataValidationError, match="identifying"):
        rc.run(ops.screen, "X", age=40, duration_weeks=30, pain=6, identity="  ")
    with pytest.raises(DataValidationError):
        rc.run(ops.screen, "bad id\n", age=40, duration_weeks=30, pain=6, identity="x y z w")
    with pytest.raises(DataValidationError, match="user name is required"):
        client(db_url, " ").run(
            ops.screen, "X", age=40, duration_weeks=30, pain=6, identity="x y z"
        )
    with pytest.raises(UnknownNameError, match="no user 'nobody'"):
        client(db_url, "nobody").run(ops.participants)
    assert snapshot(db_url) == before

    enrol(db_url, ["P1"])
    randomise(db_url, "P1")
    before = snapshot(db_url)
    with pytest.raises(ops.TrialStateError, match="already randomised"):
        randomise(db_url, "P1", user=ENROLLER2)  # not the allocating enroller: refused
    with pytest.raises(ops.TrialStateError, match="cannot be screened again"):
        rc.run(ops.screen, "P1", age=40, duration_weeks=30, pain=6, identity="1980-01-01 P1")
    # Item validation names the item; nothing is stored.
    ana = client(db_url, ASSESSOR)
    with pytest.raises(DataValidationError, match="rmdq24_3"):
        ana.run(ops.record, "P1", visit="baseline", instrument="rmdq24", items={"rmdq24_3": 5})
    with pytest.raises(DataValidationError, match="not collected at visit"):
        ana.run(ops.record, "P1", visit="session 1", instrument="nrs", items={"nrs_1": 1})
    with pytest.raises(DataValidationError, match=r"unknown visit|no visit"):
        ana.run(ops.record, "P1", visit="week 99", instrument="nrs", items={"nrs_1": 1})
    assert snapshot(db_url) == before
    assert ana.run(ops.responses).empty
    assert client(db_url, ADMIN).run(ops.verify_trial) is None


def trial_key_dir() -> Path:
    import os

    return Path(os.environ["RESOLVE_KEY_DIR"])


def test_randomised_in_error_and_unblinding(db_url: str) -> None:
    new_trial(db_url)
    enrol(db_url, ["P1", "P2"])
    arm = randomise(db_url, "P1")
    rc = client(db_url, ENROLLER)
    with pytest.raises(DataValidationError, match="reason"):
        rc.run(ops.mark_randomised_in_error, "P1", reason="")
    rc.run(ops.mark_randomised_in_error, "P1", reason="consent form unsigned")
    parts = client(db_url, UNBLINDED).run(ops.participants).set_index("participant_id")
    assert parts.loc["P1", "status"] == "randomised_in_error" and parts.loc["P1", "arm"] == arm
    assert parts.loc["P1", "status_reason"] == "consent form unsigned"
    with pytest.raises(ops.TrialStateError, match="already randomised"):
        randomise(db_url, "P1", user=ENROLLER2)
    assert len(client(db_url, UNBLINDED).run(ops.allocations)) == 1  # the allocation stays

    doc = client(db_url, CLINICIAN)
    before = snapshot(db_url)
    with pytest.raises(DataValidationError, match="unblinding reason"):
        doc.run(ops.emergency_unblind, "P1", reason=" ")
    with pytest.raises(ops.TrialStateError, match="has not been randomised"):
        doc.run(ops.emergency_unblind, "P2", reason="serious adverse event")
    assert snapshot(db_url) == before
    assert doc.run(ops.emergency_unblind, "P1", reason="serious adverse event") == arm
    assert ("participant", "emergency unblind", "P1", "serious adverse event") in audit_actions(
        db_url
    )

    def unblindings(s: Session) -> list[tuple[str, str]]:
        rows = s.execute(select(Unblinding.reason, User.name).join(User)).all()
        return [(r, n) for r, n in rows]

    assert inspect_db(db_url, unblindings) == [("serious adverse event", CLINICIAN)]
    assert client(db_url, ADMIN).run(ops.verify_trial) is None


def test_correction_needs_reason_and_keeps_old_value(db_url: str) -> None:
    new_trial(db_url)
    enrol(db_url, ["P1"])
    ana = client(db_url, ASSESSOR)
    ana.run(ops.record, "P1", visit="baseline", instrument="nrs", items={"nrs_1": 4})
    before = snapshot(db_url)
    with pytest.raises(ops.TrialStateError, match="already recorded"):
        ana.run(ops.record, "P1", visit="baseline", instrument="nrs", items={"nrs_1": 5})
    with pytest.raises(DataValidationError, match="reason"):
        ana.run(
            ops.correct, "P1", visit="baseline", instrument="nrs", items={"nrs_1": 5}, reason="  "
        )
    with pytest.raises(ops.TrialStateError, match="no rmdq24 response"):
        ana.run(ops.correct, "P1", visit="baseline", instrument="rmdq24", items=RMDQ, reason="x")
    assert snapshot(db_url) == before
    scores = ana.run(
        ops.correct,
        "P1",
        visit="baseline",
        instrument="nrs",
        items={"nrs_1": 5},
        reason="transcription error",
    )
    assert scores["scores"]["total"] == 5
    resp = ana.run(ops.responses)
    assert resp.loc[0, "items"] == {"nrs_1": 5} and resp.loc[0, "version"] == 2

    def revisions(s: Session) -> list[tuple[int, dict[str, int], str]]:
        rows = s.execute(select(ResponseRevision)).scalars()
        return [(r.revision, r.items, r.reason) for r in rows]

    assert inspect_db(db_url, revisions) == [(1, {"nrs_1": 4}, "transcription error")]
    (ev,) = [e for e in audit_rows(db_url) if e.action == "correct"]
    assert ev.reason == "transcription error" and ev.user_name == ASSESSOR
    assert json.loads(ev.old_value or "")["items"] == {"nrs_1": 4}
    assert json.loads(ev.new_value or "")["items"] == {"nrs_1": 5}
    assert client(db_url, ADMIN).run(ops.verify_trial) is None

    # After database lock nothing can be recorded or corrected.
    client(db_url, ADMIN).run(ops.lock_database, reason="final analysis")
    before = snapshot(db_url)
    with pytest.raises(ops.TrialStateError, match="locked"):
        ana.run(ops.record, "P1", visit="week 18", instrument="nrs", items={"nrs_1": 2})
    with pytest.raises(ops.TrialStateError, match="locked"):
        ana.run(
            ops.correct, "P1", visit="baseline", instrument="nrs", items={"nrs_1": 6}, reason="x"
        )
    assert snapshot(db_url) == before


def test_no_function_reveals_a_future_allocation(db_url: str) -> None:
    res = new_trial(db_url)
    enrol(db_url, ["P1", "P2", "P3"])
    arm = randomise(db_url, "P1")
    lists = sealed_lists(db_url, res.protocol)[("sydney",)]
    assert arm == lists[0]
    # Only the allocation made, and only its arm, appears anywhere.
    events_text = " ".join(f"{e.old_value} {e.new_value}" for e in audit_rows(db_url))
    assert events_text.count('"arm":') == 1
    dmc = client(db_url, UNBLINDED)
    alloc = dmc.run(ops.allocations)
    assert list(alloc["position"]) == [1] and list(alloc["arm"]) == [arm]
    parts = dmc.run(ops.participants).set_index("participant_id")
    assert parts.loc["P1", "arm"] == arm
    assert parts.loc[["P2", "P3"], "arm"].isna().all()
    with pytest.raises(ops.TrialStateError, match="not been randomised"):
        dmc.run(ops.participant_schedule, "P2")
    # The database holds neither the key, nor anything derived from it for allocation.
    key = trial_key(db_url)
    dump = json.dumps(snapshot(db_url))
    for secret in (key.hex(), key.subkey("allocation").hex(), str(key.entropy)):
        assert secret not in dump

    def schema(s: Session) -> dict[str, list[str]]:
        insp = sa_inspect(s.connection())
        return {t: [c["name"] for c in insp.get_columns(t)] for t in insp.get_table_names()}

    tables = inspect_db(db_url, schema)
    assert not [t for t in tables if "sequence" in t or "slot" in t or "seed" in t]
    seedish = [f"{t}.{c}" for t, cols in tables.items() for c in cols if "seed" in c]
    assert seedish == ["trial.demo_seed"]
    trial = inspect_db(db_url, lambda s: s.get(Trial, 1))
    assert trial is not None and trial.demo_seed is None
    # The public API has no way to read a list, a seed or a randomizer.
    for name in ops.__all__:
        assert not any(w in name.lower() for w in ("sequence", "seed", "randomizer", "list_of"))


def test_missing_database_is_refused(tmp_path: Path, db_url: str) -> None:
    missing = tmp_path / "none.db"
    with pytest.raises(ResolveError, match="no trial database"):
        client(str(missing), ENROLLER).run(ops.randomise, "P1")
    assert not missing.exists()
    # db_url: a new, empty database (SQLite: no file yet; PostgreSQL: no schema).
    with pytest.raises(ResolveError, match=r"no trial database|no trial schema"):
        client(db_url, ENROLLER).run(ops.randomise, "P1")
    if db_url.startswith("sqlite"):
        assert not (tmp_path / "trial.db").exists()
