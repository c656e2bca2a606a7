"""The programme in the store (:mod:`resolve.ops.programme` and friends), SQLite and PostgreSQL.

Records are append-only rows (triggers); blocks are started on the server and a
submission must match them; each block is scored and decided on once, with the
rule that fired stored; programme data are shown to the treating clinician and
the unblinded statistician only, audited, and exported only when unblinded; the
participant account acts only through the link of its own participant.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from resolve import ops
from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops.links import LinkGone
from resolve.ops.programme_images import image_spec
from resolve.ops.programme_store import template_for
from resolve.program.template import Template
from resolve.store.models import AuditEvent, Role
from resolve.store.models_programme import ProgrammeRecord
from resolve.store.uow import Store
from tests.ops.helpers import (
    ADMIN,
    ASSESSOR,
    CLINICIAN,
    CLINICIAN2,
    ENROLLER,
    MONITOR,
    STATISTICIAN,
    UNBLINDED,
    audit_rows,
    client,
    enrol,
    inspect_db,
    new_trial,
    randomise,
    snapshot,
)

PIDS = ("P001", "P002", "P003", "P004")


class Trial:
    """A trial with P001-P004 randomised (both arms occur), all treated by the clinician."""

    def __init__(self, db: str) -> None:
        self.db = db
        new_trial(db)
        enrol(db, list(PIDS))
        self.arms = {pid: randomise(db, pid) for pid in PIDS}
        for pid in PIDS:
            client(db, ADMIN).run(ops.assign_clinician, pid, clinician=CLINICIAN)
        self.doc = client(db, CLINICIAN)
        self.template: Template = template_for(self.doc.run(lambda ctx: ctx.protocol))
        roles = {pid: self.template.role(arm) for pid, arm in self.arms.items()}
        self.active = next(p for p, r in roles.items() if r == "active")
        self.sham = next(p for p, r in roles.items() if r == "sham")

    def records(self, kind: str | None = None) -> list[ProgrammeRecord]:
        def work(s: Any) -> list[ProgrammeRecord]:
            stmt = select(ProgrammeRecord).order_by(ProgrammeRecord.id)
            if kind is not None:
                stmt = stmt.where(ProgrammeRecord.kind == kind)
            rows = list(s.execute(stmt).scalars())
            s.expunge_all()
            return rows

        return inspect_db(self.db, work)

    def link(self, pid: str) -> str:
        return self.doc.run(ops.create_programme_link, pid)[0].rsplit("/", 1)[1]

    def session(self, pid: str, week: int = 1, **changes: Any) -> dict[str, Any]:
        plan = self.template.plan(self.arms[pid], week)
        fidelity = {
            c: dict.fromkeys(self.template.component(c).fidelity, True) for c in plan.components
        }
        return {
            "week": week,
            "attended": True,
            "minutes": 55,
            "components": plan.components,
            "fidelity": fidelity,
            **changes,
        }


@pytest.fixture
def trial(db_url: str) -> Trial:
    return Trial(db_url)


def _answers(block: dict[str, Any], *, rt: float = 900.0) -> list[dict[str, Any]]:
    """Correct, quick answers to a started LRJ block."""
    return [
        {"file": x["file"], "response": image_spec(x["file"]).side, "rt_ms": rt}
        for x in block["stimuli"]
    ]


# ----------------------------------------------------------------------------- append-only
def test_programme_records_are_append_only(trial: Trial) -> None:
    trial.doc.run(ops.log_session, trial.sham, trial.session(trial.sham))
    block = trial.doc.run(ops.start_block, trial.active, "lrj", mode="clinic")
    trial.doc.run(ops.submit_block, trial.active, block["block_id"], _answers(block))
    engine = Store(trial.db).engine
    statements = [
        "UPDATE programme_record SET payload = '{}'",
        "UPDATE programme_record SET week = week + 1 WHERE kind = 'session'",
        "DELETE FROM programme_record WHERE kind = 'decision'",
        "DELETE FROM programme_record",
    ]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE programme_record CASCADE")
    before = snapshot(trial.db)
    assert len(before["programme_record"]) == 4  # session, block started, block, decision
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert snapshot(trial.db) == before


# ----------------------------------------------------------------------------- blocks
def test_a_submission_must_match_the_started_block(trial: Trial) -> None:
    block = trial.doc.run(ops.start_block, trial.active, "lrj", mode="clinic")
    assert block["level"] == 1 and block["time_limit_s"] == 5.0
    assert set(block["stimuli"][0]) == {"file"}  # labels stay on the server
    good = _answers(block)
    other = next(x["file"] for x in block["stimuli"] if x["file"] != good[4]["file"])
    before = snapshot(trial.db)
    cases = [
        ({**good[4], "file": other}, rf"trial 5: 'file' is '{other}', but the started block"),
        ({**good[4], "response": "up"}, r"trial 5: 'response' must be left, right or null.*'up'"),
        ({**good[4], "rt_ms": -3}, r"trial 5: 'rt_ms' must be a number >= 0; got -3"),
        ({**good[4], "side": "left"}, r"trial 5: unknown key 'side'"),
    ]
    for bad, message in cases:
        trials = [*good[:4], bad, *good[5:]]
        with pytest.raises(DataValidationError, match=message):
            trial.doc.run(ops.submit_block, trial.active, block["block_id"], trials)
    with pytest.raises(DataValidationError, match=r"showed 24 stimuli; got 23 trials"):
        trial.doc.run(ops.submit_block, trial.active, block["block_id"], good[:-1])
    with pytest.raises(UnknownNameError, match="no block 'P9/lrj/1' was started"):
        trial.doc.run(ops.submit_block, trial.active, "P9/lrj/1", good)
    assert snapshot(trial.db) == before
    outcome = trial.doc.run(ops.submit_block, trial.active, block["block_id"], good)
    assert outcome.measures["accuracy"] == 1.0 and outcome.measures["median_rt_s"] == 0.9


def test_tactile_answers_are_checked_zone_by_zone(trial: Trial) -> None:
    link = trial.link(trial.active)
    store = Store(trial.db)
    block = ops.run_as_link(store, link, ops.start_block, "tactile", mode="partner")
    assert block["grid"]["zones"] == ["A1", "A2", "B1", "B2"]
    answers = [
        {**x, "response_zone": x["zone"], "response_stimulus": x["stimulus"]}
        for x in block["stimuli"]
    ]
    wrong = dict(answers[2], response_zone="C7")
    with pytest.raises(DataValidationError, match=r"trial 3: 'response_zone' must be a zone.*C7"):
        ops.run_as_link(
            store, link, ops.submit_block, block["block_id"], [*answers[:2], wrong, *answers[3:]]
        )
    far = {"A1": "B2", "A2": "B1", "B1": "A2", "B2": "A1"}
    answers[0]["response_zone"] = far[answers[0]["zone"]]
    outcome = ops.run_as_link(store, link, ops.submit_block, block["block_id"], answers)
    spacing = block["grid"]["spacing_cm"]
    assert outcome.measures["location_accuracy"] == pytest.approx(23 / 24)
    assert outcome.measures["mean_error_cm"] == pytest.approx(spacing * 2**0.5 / 24)
    (row,) = trial.records("block")
    assert row.via == "link" and row.payload["setting"] == "home"


def test_a_block_is_submitted_once(trial: Trial) -> None:
    block = trial.doc.run(ops.start_block, trial.active, "lrj", mode="clinic")
    trial.doc.run(ops.submit_block, trial.active, block["block_id"], _answers(block))
    before = snapshot(trial.db)
    with pytest.raises(ops.TrialStateError, match="submitted already"):
        trial.doc.run(ops.submit_block, trial.active, block["block_id"], _answers(block))
    assert snapshot(trial.db) == before
    assert len(trial.records("block")) == 1


def test_a_left_block_cannot_be_submitted_after_a_later_one_started(trial: Trial) -> None:
    first = trial.doc.run(ops.start_block, trial.active, "lrj", mode="clinic")
    second = trial.doc.run(ops.start_block, trial.active, "lrj", mode="clinic")
    assert second["block_id"].endswith("/lrj/2")
    with pytest.raises(ops.TrialStateError, match=r"left for a later block"):
        trial.doc.run(ops.submit_block, trial.active, first["block_id"], _answers(first))


def test_the_decision_is_stored_with_the_rule_that_fired(trial: Trial) -> None:
    outcomes = []
    for _ in range(2):
        block = trial.doc.run(ops.start_block, trial.active, "lrj", mode="clinic")
        outcomes.append(
            trial.doc.run(ops.submit_block, trial.active, block["block_id"], _answers(block))
        )
    assert [o.decision.action for o in outcomes] == ["hold", "advance"]
    assert outcomes[1].decision.rule_id == "lrj-advance" and outcomes[1].new_level == 2
    rows = trial.records("decision")
    assert [r.ref for r in rows] == [o.block_id for o in outcomes]
    stored = rows[1].payload
    assert stored["rule_id"] == "lrj-advance" and stored["to_level"] == 2
    assert stored["rule_text"] == trial.template.rules_for("lrj")[1].text
    checks = {(c["measure"], c["op"], c["threshold"], c["passed"]) for c in stored["checks"]}
    assert checks == {("accuracy", ">=", 0.8, True), ("median_rt_s", "<=", 2.1, True)}
    assert trial.doc.run(ops.start_block, trial.active, "lrj", mode="clinic")["level"] == 2
    view = trial.doc.run(ops.programme, trial.active)
    assert view.levels["lrj"] == 2 and len(view.blocks) == 2 and len(view.open_blocks) == 1


def test_a_slow_block_holds_and_says_why(trial: Trial) -> None:
    block = trial.doc.run(ops.start_block, trial.active, "lrj", mode="clinic")
    outcome = trial.doc.run(
        ops.submit_block, trial.active, block["block_id"], _answers(block, rt=4000.0)
    )
    assert outcome.decision.action == "hold" and outcome.decision.rule_id is None
    assert "lrj-advance: needs 2 blocks at level 1, has 1" in outcome.decision.note


def test_the_clinician_overrides_with_a_reason(trial: Trial) -> None:
    with pytest.raises(DataValidationError, match="a reason is required"):
        trial.doc.run(ops.override_level, trial.active, "tactile", 3, "  ")
    d = trial.doc.run(ops.override_level, trial.active, "tactile", 3, "Grid too easy")
    assert (d.action, d.from_level, d.to_level, d.clinician) == ("override", 1, 3, CLINICIAN)
    (row,) = trial.records("override")
    assert row.payload["reason"] == "Grid too easy"
    assert trial.doc.run(ops.start_block, trial.active, "tactile", mode="clinic")["level"] == 3


# ----------------------------------------------------------------------------- sessions and more
def test_session_log_and_its_correction(trial: Trial) -> None:
    trial.doc.run(ops.log_session, trial.sham, trial.session(trial.sham))
    with pytest.raises(DataValidationError, match=r"week 1 .* already logged; give a reason"):
        trial.doc.run(ops.log_session, trial.sham, trial.session(trial.sham, minutes=40))
    with pytest.raises(DataValidationError, match=r"'education' is not part of the sham arm"):
        trial.doc.run(
            ops.log_session, trial.sham, trial.session(trial.sham, components=["education"])
        )
    with pytest.raises(DataValidationError, match=r"week 2 has not started"):
        trial.doc.run(ops.log_session, trial.sham, trial.session(trial.sham, week=2))
    trial.doc.run(
        ops.log_session, trial.sham, trial.session(trial.sham, minutes=40), reason="Typo: 40 min"
    )
    view = trial.doc.run(ops.programme, trial.sham)
    assert [s.minutes for s in view.sessions] == [40]
    assert view.adherence.sessions_attended == 1 and view.levels == {}
    first, second = trial.records("session")
    assert second.corrects == first.id
    event = next(e for e in audit_rows(trial.db) if e.entity_id == str(second.id))
    assert (event.action, event.reason) == ("correct", "Typo: 40 min")


def test_the_sham_arm_has_no_training_or_home_programme(trial: Trial) -> None:
    with pytest.raises(ops.TrialStateError, match="has no training tasks"):
        trial.doc.run(ops.start_block, trial.sham, "lrj", mode="clinic")
    with pytest.raises(ops.TrialStateError, match="has no education"):
        trial.doc.run(ops.submit_quiz, trial.sham, "pain-protects", {})
    with pytest.raises(DataValidationError, match="the sham arm has no home programme"):
        trial.doc.run(ops.record_home_practice, trial.sham, {"task": "lrj", "minutes": 5})
    assert trial.records() == []


def test_loading_follows_the_plan_not_the_pain(trial: Trial) -> None:
    with pytest.raises(ops.TrialStateError, match="no tolerance test of 'sit-to-stand'"):
        trial.doc.run(ops.log_loading, trial.active, {"exercise": "sit-to-stand", "achieved": 9})
    plan = trial.doc.run(ops.record_tolerance_test, trial.active, "sit-to-stand", [10, 12, 11])
    assert plan.quotas[:3] == [9.0, 10.0, 11.0]
    done = trial.doc.run(
        ops.log_loading, trial.active, {"exercise": "sit-to-stand", "achieved": 9, "pain": 9}
    )
    assert (done.log.quota, done.decision.action, done.next_quota) == (9.0, "advance", 10.0)
    missed = trial.doc.run(
        ops.log_loading, trial.active, {"exercise": "sit-to-stand", "achieved": 7, "pain": 1}
    )
    assert (missed.log.quota, missed.decision.rule_id, missed.next_quota) == (
        10.0,
        "loading-hold-missed",
        10.0,
    )
    with pytest.raises(DataValidationError, match=r"unknown key 'quota'"):
        trial.doc.run(
            ops.log_loading, trial.active, {"exercise": "sit-to-stand", "achieved": 9, "quota": 1}
        )


def test_quiz_imagery_home_practice_and_two_point(trial: Trial) -> None:
    module = trial.template.education.modules[0]
    quiz = trial.doc.run(ops.submit_quiz, trial.active, module, {})
    assert quiz.result.n_answered == 0 and quiz.week == 1
    rating = trial.doc.run(ops.rate_imagery, trial.active, "lift-mirrored", 7, 1)
    assert (rating.setting, rating.vividness) == ("clinic", 7)
    with pytest.raises(DataValidationError, match="vividness"):
        trial.doc.run(ops.rate_imagery, trial.active, "lift-mirrored", 11, 1)
    home = trial.doc.run(ops.record_home_practice, trial.active, {"task": "lrj", "minutes": 12})
    assert (home.week, home.day) == (1, 1)
    with pytest.raises(DataValidationError, match=r"two-point trial 2: separation 70 mm"):
        trial.doc.run(
            ops.record_twopoint,
            trial.active,
            "lumbar_left",
            [{"separation_mm": 80, "response": "two"}, {"separation_mm": 70, "response": "two"}],
        )
    run = trial.doc.run(
        ops.record_twopoint, trial.active, "lumbar_left", [{"separation_mm": 80, "response": "two"}]
    )
    assert run.result.threshold_mm is None and not run.result.complete
    kinds = [r.kind for r in trial.records()]
    assert kinds == ["quiz", "imagery", "home_practice", "twopoint"]


# ----------------------------------------------------------------------------- who may
BLIND = (ADMIN, ENROLLER, ASSESSOR, STATISTICIAN, MONITOR)


@pytest.mark.parametrize("user", BLIND)
def test_blinded_roles_reach_no_programme_data(trial: Trial, user: str) -> None:
    trial.doc.run(ops.log_session, trial.active, trial.session(trial.active))
    before = snapshot(trial.db)
    actor = client(trial.db, user)
    calls = [
        (ops.programme, (trial.active,)),
        (ops.today, (trial.active,)),
        (ops.programme_export, ()),
        (ops.log_session, (trial.active, trial.session(trial.active, week=1))),
        (ops.start_block, (trial.active, "lrj")),
        (ops.create_programme_link, (trial.active,)),
    ]
    for fn, args in calls:
        kwargs = {"mode": "home"} if fn is ops.start_block else {}
        with pytest.raises(ops.PermissionDenied, match="may not"):
            actor.run(fn, *args, **kwargs)
    assert snapshot(trial.db) == before


def test_the_unblinded_statistician_reads_but_does_not_deliver(trial: Trial) -> None:
    trial.doc.run(ops.log_session, trial.active, trial.session(trial.active))
    dmc = client(trial.db, UNBLINDED)
    assert dmc.run(ops.programme, trial.active).arm == trial.arms[trial.active]
    frame = dmc.run(ops.programme_export)
    assert set(frame["participant_id"]) == {trial.active}
    with pytest.raises(ops.PermissionDenied, match="may not deliver programme"):
        dmc.run(ops.log_session, trial.active, trial.session(trial.active, week=1))


def test_a_clinician_reaches_only_the_participants_they_treat(trial: Trial) -> None:
    other = client(trial.db, CLINICIAN2)
    before = snapshot(trial.db)
    for fn, args in ((ops.programme, ()), (ops.today, ()), (ops.create_programme_link, ())):
        with pytest.raises(ops.PermissionDenied, match="is not the treating clinician"):
            other.run(fn, trial.active, *args)
    assert snapshot(trial.db) == before
    assert other.run(ops.programme_export).empty  # treats nobody


def test_the_participant_account_acts_only_through_its_own_link(trial: Trial) -> None:
    store = Store(trial.db)
    token = trial.link(trial.active)
    view = ops.run_as_link(store, token, ops.today)
    assert view.participant == trial.active and view.week == 1 and view.day == 1
    assert [t.task for t in view.tasks] == [
        h.task for h in trial.template.home_targets(trial.arms[trial.active], 1)
    ]
    with pytest.raises(ops.PermissionDenied, match="acts only through a programme link"):
        ops.run_as_link(store, token, lambda ctx, _code: ops.today(ctx, trial.sham))
    with pytest.raises(ops.PermissionDenied, match="acts only through a programme link"):
        client(trial.db, ops.links.SYSTEM_USER).run(ops.today, trial.active)
    block = ops.run_as_link(store, token, ops.start_block, "lrj", mode="home")
    with pytest.raises(ops.PermissionDenied, match="may not deliver programme"):
        ops.run_as_link(store, token, ops.start_block, "lrj", mode="clinic")
    outcome = ops.run_as_link(store, token, ops.submit_block, block["block_id"], _answers(block))
    assert outcome.measures["accuracy"] == 1.0
    # a new link replaces the old one; a revoked link is gone; both say nothing more
    newer = trial.link(trial.active)
    with pytest.raises(LinkGone):
        ops.run_as_link(store, token, ops.today)
    assert trial.doc.run(ops.revoke_programme_link, trial.active) == 1
    for gone in (newer, "x" * 43, "y" * 500):
        with pytest.raises(LinkGone, match="this link is not valid"):
            ops.run_as_link(store, gone, ops.today)
    states = [i.state for i in trial.doc.run(ops.programme_links, trial.active)]
    assert states == ["revoked", "revoked"]


def test_the_patient_view_names_no_arm(trial: Trial) -> None:
    store = Store(trial.db)
    for pid in (trial.active, trial.sham):
        token = trial.link(pid)
        view = ops.run_as_link(store, token, ops.today)
        words = repr(view).lower()
        for arm in set(trial.arms.values()):
            assert arm.lower() not in words, (pid, arm)
        assert "sham" not in words
    sham_view = ops.run_as_link(store, trial.link(trial.sham), ops.today)
    assert sham_view.tasks == [] and sham_view.focus is None


# ----------------------------------------------------------------------------- audit
def test_reads_are_audited_and_writes_name_no_participant(trial: Trial) -> None:
    n = len(audit_rows(trial.db))
    trial.doc.run(ops.log_session, trial.active, trial.session(trial.active))
    trial.doc.run(ops.programme, trial.active)
    token = trial.link(trial.active)
    ops.run_as_link(Store(trial.db), token, ops.today)
    client(trial.db, UNBLINDED).run(ops.programme_export)
    events: list[AuditEvent] = [e for e in audit_rows(trial.db)[n:] if e.entity != "app_user"]
    write, read, link, today_read, export = events  # (the link's account created on first use)
    assert (write.entity, write.action) == ("programme_record", "append")
    assert json.loads(write.new_value or "{}")["via"] == "staff"
    assert (read.entity, read.entity_id) == ("read", "programme")
    assert json.loads(read.new_value or "{}")["participant"] == trial.active
    assert (link.entity, link.action) == ("programme_link", "create")
    assert (today_read.entity_id, today_read.user_name) == (
        "programme today",
        ops.links.SYSTEM_USER,
    )
    assert (export.entity_id, export.user_name) == ("programme export", UNBLINDED)
    # what blinded readers of the trail see: no participant, no kind, no arm
    for e in (write, link, today_read):
        blob = f"{e.entity_id} {e.old_value} {e.new_value}"
        assert trial.active not in blob and "session" not in blob, e.new_value
        assert not re.search("|".join(set(trial.arms.values())), blob)


# ----------------------------------------------------------------------------- export
def _export(db: str, user: str, out: Path) -> list[str]:
    return [p.name for p in client(db, user).run(ops.export, out)]


def test_the_export_holds_programme_files_only_when_unblinded(trial: Trial, tmp_path: Path) -> None:
    block = trial.doc.run(ops.start_block, trial.active, "lrj", mode="clinic")
    trial.doc.run(ops.submit_block, trial.active, block["block_id"], _answers(block))
    trial.doc.run(ops.log_session, trial.sham, trial.session(trial.sham))
    blinded = _export(trial.db, STATISTICIAN, tmp_path / "blinded")
    assert not any(name.startswith("programme") for name in blinded)
    unblinded = _export(trial.db, UNBLINDED, tmp_path / "unblinded")
    assert {"programme_long.csv", "programme_summary.csv"} <= set(unblinded)
    import pandas as pd

    long = pd.read_csv(tmp_path / "unblinded" / "programme_long.csv")
    accuracy = long[(long["task"] == "lrj") & (long["measure"] == "accuracy")]
    assert accuracy[["participant_id", "block", "value"]].values.tolist() == [
        [trial.active, 1, 1.0]
    ]
    summary = pd.read_csv(tmp_path / "unblinded" / "programme_summary.csv")
    assert set(summary["participant_id"]) == set(PIDS)  # no record: not received
    readme = (tmp_path / "unblinded" / "README.txt").read_text()
    assert "programme_long.csv" in readme and "unblinded exports only" in readme
    # after lock and unblinding, the statistician's export has them too
    client(trial.db, ADMIN).run(ops.lock_database, reason="final analysis")
    client(trial.db, ADMIN).run(ops.unblind_statistician, reason="analysis done")
    assert "programme_long.csv" in _export(trial.db, STATISTICIAN, tmp_path / "late")


def test_roles_matrix_of_the_programme_operations() -> None:
    M = ops.MATRIX
    assert M[ops.Operation.view_programme] == {Role.clinician, Role.unblinded_statistician}
    assert M[ops.Operation.deliver_programme] == {Role.clinician}
    assert M[ops.Operation.practise] == {Role.clinician, Role.participant}
