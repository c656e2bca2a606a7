"""Tampering by an insider with write access makes ``resolve trial audit verify`` exit 1.

Each test builds a trial through the proper operations and accounts
(:func:`tests.store.scenario.build_trial`), drops every append-only trigger (as
someone with DDL rights could: detection must not rely on them), makes one kind
of direct SQL change, and runs ``resolve trial audit verify --db URL --user ADMIN``
in-process. The first problem is named on stderr: the audit event id or the
table. Runs on SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.orm import Session

from resolve import ops
from resolve.store import audit
from resolve.store.keys import TrialKey, create_key_file
from resolve.store.models import (
    Allocation,
    AuditEvent,
    AuditHead,
    Participant,
    Response,
    ResponseRevision,
    Stratum,
    Visit,
)
from resolve.store.models import Trial as TrialRow
from tests.store.scenario import (
    ADMIN,
    ENROLLER,
    Trial,
    build_trial,
    cli,
    drop_triggers,
    event_id,
    events,
    verify,
)

BROKEN = "audit trail broken: "
HMAC = "content does not match its HMAC (altered or forged without the key)"


@pytest.fixture
def trial(db_url: str) -> Trial:
    """A trial with 4 randomised participants, answers, a correction and an unblinding."""
    made = build_trial(db_url)
    assert drop_triggers(made.engine), "the migration installs append-only triggers"
    return made


def _last_id(trial: Trial) -> int:
    return events(trial.engine)[-1][0]


def _problem(capsys: pytest.CaptureFixture[str], trial: Trial, *extra: str) -> str:
    """Run verify; assert exit 1 and one stderr line; return the problem text."""
    code, err = verify(capsys, trial.url, *extra)
    assert code == 1, err
    assert err.startswith(BROKEN) and err.count("\n") == 1, err
    return err[len(BROKEN) :].strip()


def _plain_sha256(ev: AuditEvent) -> str:
    """What a forger without the key can compute: SHA-256 of the same canonical fields."""
    payload = {
        "id": ev.id,
        "at": ev.at,
        "user": ev.user_name,
        "entity": ev.entity,
        "entity_id": ev.entity_id,
        "action": ev.action,
        "old_value": ev.old_value,
        "new_value": ev.new_value,
        "reason": ev.reason,
        "prev_hash": ev.prev_hash,
    }
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _sql(trial: Trial, change: Callable[[Connection], object]) -> None:
    with trial.engine.begin() as conn:
        change(conn)


def _set_head(conn: Connection, last_id: int) -> None:
    last_hash = (
        audit.GENESIS
        if last_id == 0
        else conn.execute(select(AuditEvent.hash).where(AuditEvent.id == last_id)).scalar_one()
    )
    conn.execute(update(AuditHead).values(last_id=last_id, last_hash=last_hash))


def _checkpoint(capsys: pytest.CaptureFixture[str], trial: Trial, out: Path) -> dict[str, object]:
    """``resolve trial audit checkpoint --out OUT`` (what goes to write-once storage)."""
    argv = ["trial", "audit", "checkpoint", "--db", trial.url, "--user", ADMIN, "--out", str(out)]
    code, _, err = cli(capsys, *argv)
    assert (code, err) == (0, "")
    cp: dict[str, object] = json.loads(out.read_text())
    return cp


# ----------------------------------------------------------------------------- intact


def test_untampered_trial_verifies(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "trial", "audit", "verify", "--db", trial.url, "--user", ADMIN)
    assert (code, err) == (0, "")
    assert "intact" in out


# ----------------------------------------------------------------------------- the chain


def test_edited_event_field(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    target = event_id(trial.engine, "P002", "screen")
    _sql(
        trial,
        lambda c: c.execute(
            update(AuditEvent).where(AuditEvent.id == target).values(user_name="mallory")
        ),
    )
    assert _problem(capsys, trial) == (
        f"audit event {target}: content does not match its HMAC (altered or forged without the key)"
    )


def test_edited_event_value_with_its_hash_recomputed(
    trial: Trial, capsys: pytest.CaptureFixture[str]
) -> None:
    """Edit the arm recorded in a randomise event and re-hash it without the key."""
    target = event_id(trial.engine, "P001", "randomise")

    def change(conn: Connection) -> None:
        ev = conn.execute(select(AuditEvent).where(AuditEvent.id == target)).one()
        new = json.loads(ev.new_value)
        new["arm"] = "sham" if new["arm"] == "resolve" else "resolve"
        conn.execute(
            update(AuditEvent).where(AuditEvent.id == target).values(new_value=json.dumps(new))
        )

    _sql(trial, change)
    assert _problem(capsys, trial).startswith(f"audit event {target}: content does not match")


def test_deleted_middle_event(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    target = event_id(trial.engine, "P003", "consent")
    _sql(trial, lambda c: c.execute(delete(AuditEvent).where(AuditEvent.id == target)))
    assert (
        _problem(capsys, trial)
        == f"audit event {target}: missing (next stored event is {target + 1})"
    )


def test_deleted_tail_events_with_head_fixed_and_data_left(
    trial: Trial, capsys: pytest.CaptureFixture[str]
) -> None:
    """Remove the newest events (a correction and an unblinding), point the head at the
    remaining last one: a valid shorter chain, but the data tables still hold what the
    removed events did, so the replay finds it without any checkpoint."""
    correction = event_id(trial.engine, "P001/baseline/nrs", "correct")

    def change(conn: Connection) -> None:
        conn.execute(delete(AuditEvent).where(AuditEvent.id >= correction))
        _set_head(conn, correction - 1)

    _sql(trial, change)
    assert (
        _problem(capsys, trial)
        == "table response: response P001/baseline/nrs differs from its events"
    )


def test_deleted_tail_needs_a_checkpoint_when_the_data_are_rolled_back_too(
    trial: Trial, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The full rollback of the newest operation (events, head and data) leaves a valid,
    shorter, consistent record: only a checkpoint copied out earlier reveals it."""
    # a correction, then a checkpoint written to (write-once) storage
    ops.Client(trial.url, user="asr").run(
        ops.correct,
        "P002",
        visit="baseline",
        instrument="nrs",
        items={"nrs_1": 8},
        reason="late correction",
    )
    cp_file = tmp_path / "checkpoint.json"
    cp = _checkpoint(capsys, trial, cp_file)
    late = event_id(trial.engine, "P002/baseline/nrs", "correct")
    assert cp["last_id"] == late  # the checkpoint event itself comes after
    assert verify(capsys, trial.url, "--checkpoint", str(cp_file)) == (0, "")

    def change(conn: Connection) -> None:
        conn.execute(delete(AuditEvent).where(AuditEvent.id >= late))
        _set_head(conn, late - 1)
        resp = conn.execute(
            select(Response.id)
            .join(Visit, Visit.id == Response.visit_id)
            .join(Participant, Participant.id == Visit.participant_id)
            .where(Participant.code == "P002", Response.instrument == "nrs")
        ).scalar_one()
        old = conn.execute(
            select(ResponseRevision.items, ResponseRevision.scores).where(
                ResponseRevision.response_id == resp
            )
        ).one()
        conn.execute(delete(ResponseRevision).where(ResponseRevision.response_id == resp))
        conn.execute(
            update(Response)
            .where(Response.id == resp)
            .values(items=old.items, scores=old.scores, revision=1)
        )

    _sql(trial, change)
    # the rolled-back copy of the answer must equal what was recorded (same scores shape)
    with Session(trial.engine) as s:
        stored = s.execute(
            select(Response.items, Response.revision)
            .join(Visit, Visit.id == Response.visit_id)
            .join(Participant, Participant.id == Visit.participant_id)
            .where(Participant.code == "P002")
        ).one()
        assert stored == ({"nrs_1": 7}, 1)
    # without the checkpoint: NOT detectable (a consistent, shorter history)
    assert verify(capsys, trial.url) == (0, "")
    # with the checkpoint: exit 1 naming the first missing event
    problem = _problem(capsys, trial, "--checkpoint", str(cp_file))
    assert problem.startswith(
        f"audit event {late}: the chain ends at event {late - 1} but a checkpoint of"
    )
    assert problem.endswith("(events removed from the end)")


def test_deleted_head_row(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    last = _last_id(trial)
    _sql(trial, lambda c: c.execute(delete(AuditHead)))
    assert _problem(capsys, trial) == (
        f"audit event {last + 1}: the chain's head row is missing (removed?)"
    )


def test_replaced_head_hash(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    last = _last_id(trial)

    def change(conn: Connection) -> None:
        earlier = conn.execute(
            select(AuditEvent.hash).where(AuditEvent.id == last - 1)
        ).scalar_one()
        conn.execute(update(AuditHead).values(last_hash=earlier))

    _sql(trial, change)
    assert _problem(capsys, trial) == (
        f"audit event {last}: chain head does not match the last stored event (events removed?)"
    )


@pytest.mark.parametrize("how", ["sha256", "hmac with a guessed key"])
def test_rechained_trail_without_the_key(
    trial: Trial, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """Swap an arm in its event and the allocation table, then re-chain without the key."""
    guessed = TrialKey.insecure_from_seed(0)

    def change(conn: Connection) -> None:
        pid = conn.execute(select(Participant.id).where(Participant.code == "P001")).scalar_one()
        conn.execute(
            update(Allocation)
            .where(Allocation.participant_id == pid)
            .values(arm=_other(trial.arms["P001"]))
        )
        with Session(bind=conn) as s:
            prev = audit.GENESIS
            for ev in s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
                if ev.entity_id == "P001" and ev.action == "randomise":
                    new = json.loads(ev.new_value or "{}")
                    new["arm"] = "sham" if new["arm"] == "resolve" else "resolve"
                    ev.new_value = audit.canonical(new)
                ev.prev_hash = prev
                ev.hash = _plain_sha256(ev) if how == "sha256" else audit.event_hash(ev, guessed)
                prev = ev.hash
            head = s.get(AuditHead, 1)
            assert head is not None
            head.last_hash = prev
            s.flush()

    _sql(trial, change)
    assert _problem(capsys, trial) == (
        "audit event 1: content does not match its HMAC (altered or forged without the key)"
    )


def test_forged_appended_event(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    last = _last_id(trial)

    def change(conn: Connection) -> None:
        head = conn.execute(select(AuditHead.last_hash)).scalar_one()
        ev = AuditEvent(
            id=last + 1,
            at=audit.now(),
            user_name=ENROLLER,
            entity="participant",
            entity_id="P004",
            action="withdraw",
            old_value=audit.canonical({"status": "randomised"}),
            new_value=audit.canonical({"status": "withdrawn"}),
            reason="forged",
            prev_hash=head,
        )
        ev.hash = _plain_sha256(ev)
        conn.execute(
            insert(AuditEvent).values(
                id=ev.id,
                at=ev.at,
                user_name=ev.user_name,
                entity=ev.entity,
                entity_id=ev.entity_id,
                action=ev.action,
                old_value=ev.old_value,
                new_value=ev.new_value,
                reason=ev.reason,
                prev_hash=ev.prev_hash,
                hash=ev.hash,
            )
        )
        conn.execute(update(AuditHead).values(last_id=ev.id, last_hash=ev.hash))
        conn.execute(
            update(Participant).where(Participant.code == "P004").values(status="withdrawn")
        )

    _sql(trial, change)
    assert _problem(capsys, trial) == (f"audit event {last + 1}: {HMAC}")


def test_wiped_trail(trial: Trial, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cp_file = tmp_path / "cp.json"
    _checkpoint(capsys, trial, cp_file)

    def change(conn: Connection) -> None:
        conn.execute(delete(AuditEvent))
        _set_head(conn, 0)

    _sql(trial, change)
    # an empty chain is a valid chain, but the data tables hold what no event explains
    assert _problem(capsys, trial) == "table app_user: user 'ada' differs from its audit events"
    assert _problem(capsys, trial, "--checkpoint", str(cp_file)).startswith(
        "audit event 1: the chain ends at event 0 but a checkpoint of"
    )


# ----------------------------------------------------------------------------- the data tables


def _other(arm: str) -> str:
    return "sham" if arm == "resolve" else "resolve"


def test_swapped_allocation_arm(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    def change(conn: Connection) -> None:
        pid = conn.execute(select(Participant.id).where(Participant.code == "P002")).scalar_one()
        conn.execute(
            update(Allocation)
            .where(Allocation.participant_id == pid)
            .values(arm=_other(trial.arms["P002"]))
        )

    _sql(trial, change)
    problem = _problem(capsys, trial)
    assert problem == "table allocation: allocation of 'P002' differs from its event"
    assert not re.search(r"\b(sham|resolve)\b", problem)  # never names an arm


def test_edited_stored_answer(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    def change(conn: Connection) -> None:
        resp = conn.execute(
            select(Response.id)
            .join(Visit, Visit.id == Response.visit_id)
            .join(Participant, Participant.id == Visit.participant_id)
            .where(Participant.code == "P002", Response.instrument == "nrs")
        ).scalar_one()
        conn.execute(update(Response).where(Response.id == resp).values(items={"nrs_1": 2}))

    _sql(trial, change)
    assert (
        _problem(capsys, trial)
        == "table response: response P002/baseline/nrs differs from its events"
    )


def test_deleted_allocation_then_rerandomised_through_the_api(
    trial: Trial, capsys: pytest.CaptureFixture[str]
) -> None:
    """Delete P004's allocation, put the participant and the stratum counter back, and
    randomise again through the service: the second randomise event is the problem."""
    first = event_id(trial.engine, "P004", "randomise")

    def change(conn: Connection) -> None:
        pid = conn.execute(select(Participant.id).where(Participant.code == "P004")).scalar_one()
        conn.execute(delete(Allocation).where(Allocation.participant_id == pid))
        conn.execute(update(Participant).where(Participant.id == pid).values(status="consented"))
        conn.execute(update(Stratum).values(next_position=Stratum.next_position - 1))

    _sql(trial, change)
    arm = ops.Client(trial.url, user=ENROLLER).run(ops.randomise, "P004")
    assert arm in {"sham", "resolve"}
    second = event_id(trial.engine, "P004", "randomise")
    assert second > first
    assert _problem(capsys, trial) == (
        f"audit event {second}: participant 'P004' randomised a second time"
    )


def test_deleted_allocation_alone(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    def change(conn: Connection) -> None:
        pid = conn.execute(select(Participant.id).where(Participant.code == "P003")).scalar_one()
        conn.execute(delete(Allocation).where(Allocation.participant_id == pid))

    _sql(trial, change)
    assert _problem(capsys, trial) == "table allocation: allocation of 'P003' has no matching event"


def test_edited_participant_status(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    _sql(
        trial,
        lambda c: c.execute(
            update(Participant).where(Participant.code == "P003").values(status="withdrawn")
        ),
    )
    assert (
        _problem(capsys, trial) == "table participant: participant 'P003' differs from its events"
    )


def test_edited_screening_data(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    _sql(
        trial,
        lambda c: c.execute(
            update(Participant)
            .where(Participant.code == "P001")
            .values(screening={"age": 17, "duration_weeks": 20, "exclusions": [], "pain": 6})
        ),
    )
    assert (
        _problem(capsys, trial) == "table participant: participant 'P001' differs from its events"
    )


def test_changed_user_role(trial: Trial, capsys: pytest.CaptureFixture[str]) -> None:
    _sql(
        trial,
        lambda c: c.execute(
            text("UPDATE app_user SET role = 'unblinded_statistician' WHERE name = 'asr'")
        ),
    )
    assert _problem(capsys, trial) == "table app_user: user 'asr' differs from its audit events"


def _edit_protocol(conn: Connection) -> None:
    """Make the stored protocol's blocks all of size 2 (the next arm of a pair is known)."""
    stored = conn.execute(select(TrialRow.protocol)).scalar_one()
    toml = stored["toml"]
    assert toml.count("block_sizes = [2, 4, 6]") == 1
    edited = toml.replace("block_sizes = [2, 4, 6]", "block_sizes = [2]")
    conn.execute(update(TrialRow).values(protocol={**stored, "toml": edited}))


def _own_allocation(conn: Connection) -> None:
    """Make the assessor the allocating user of P001 (enrollers see arms they allocated)."""
    me = conn.execute(text("SELECT id FROM app_user WHERE name = 'asr'")).scalar_one()
    pid = conn.execute(select(Participant.id).where(Participant.code == "P001")).scalar_one()
    conn.execute(update(Allocation).where(Allocation.participant_id == pid).values(user_id=me))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda c: c.execute(text("DELETE FROM unblinding")),
            "table unblinding: the emergency unblindings differ from their events",
        ),
        (
            lambda c: c.execute(text("UPDATE unblinding SET reason = 'routine check'")),
            "table unblinding: the emergency unblindings differ from their events",
        ),
        (
            lambda c: c.execute(text("DELETE FROM response_revision")),
            "table response_revision: revision 1 of P001/baseline/nrs differs from its events",
        ),
        (
            lambda c: c.execute(update(ResponseRevision).values(items={"nrs_1": 0})),
            "table response_revision: revision 1 of P001/baseline/nrs differs from its events",
        ),
        (
            lambda c: c.execute(
                update(Response).values(scores={"scores": {"total": 0.0}, "n_missing": 0})
            ),
            "table response: response P001/baseline/nrs differs from its events",
        ),
        (
            lambda c: c.execute(update(Participant).values(eligible=False)),
            "table participant: participant 'P001' differs from its events",
        ),
        (
            _own_allocation,
            "table allocation: allocation of 'P001' differs from its event",
        ),
        (
            lambda c: c.execute(text("UPDATE app_user SET site = 'sydney' WHERE name = 'rc'")),
            "table app_user: user 'rc' differs from its audit events",
        ),
        (_edit_protocol, "table trial: the trial's protocol differs from the one at init"),
    ],
    ids=[
        "unblinding deleted",
        "unblinding reason edited",
        "superseded answer deleted",
        "superseded answer edited",
        "stored scores edited",
        "eligibility edited",
        "allocating user changed",
        "user site changed",
        "protocol block sizes edited",
    ],
)
def test_other_direct_data_edits(
    trial: Trial,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[Connection], object],
    problem: str,
) -> None:
    _sql(trial, change)
    assert _problem(capsys, trial) == problem


# ----------------------------------------------------------------------------- the key


def test_wrong_key_file(trial: Trial, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "other-keys"
    wrong = create_key_file(folder / "wrong.key", TrialKey.generate())
    code, err = verify(capsys, trial.url, "--key-file", str(wrong))
    assert code == 2
    assert err == f"resolve: error: {wrong}: this key does not belong to trial {trial.uid}\n"


def test_key_file_readable_by_others(
    trial: Trial, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert trial.key_file is not None
    exposed = tmp_path / "exposed" / "trial.key"
    exposed.parent.mkdir(mode=0o700)
    shutil.copy(trial.key_file, exposed)
    for mode in (0o644, 0o640, 0o604):
        os.chmod(exposed, mode)
        code, err = verify(capsys, trial.url, "--key-file", str(exposed))
        assert code == 2, oct(mode)
        assert err.startswith(
            f"resolve: error: {exposed}: the trial key file is readable by others"
        )
        assert "chmod 600" in err and err.count("\n") == 1
    os.chmod(exposed, 0o600)
    assert verify(capsys, trial.url, "--key-file", str(exposed)) == (0, "")
