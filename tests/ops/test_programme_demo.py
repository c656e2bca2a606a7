"""The demo trial of ``resolve serve --demo`` holds 12 weeks of programme data per arm.

:func:`resolve.cli.serve.make_demo_trial` stores the seeded demo programme
(:func:`resolve.program.demo.demo_programme`) for the earliest-randomised
participant of each arm, through the programme store code, each record in its own
programme week; the audit trail stays valid.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import select

from resolve import ops
from resolve.cli.serve import make_demo_trial
from resolve.ops.programme_demo import load_demo_programme
from resolve.store.models_programme import ProgrammeRecord
from resolve.store.uow import Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    db, key_file, _ = make_demo_trial(tmp_path_factory.mktemp("demo"))
    return db, key_file


def _programmes(db: Path, key_file: Path) -> dict[str, ops.ProgrammeView]:
    doc = ops.Client(db, user="clinician", key_file=key_file)
    seen = doc.run(ops.participants)
    treated = seen.dropna(subset=["arm"])["participant_id"]
    return {pid: doc.run(ops.programme, pid) for pid in treated}


def test_one_participant_per_arm_has_twelve_weeks(demo: tuple[Path, Path]) -> None:
    views = _programmes(*demo)
    by_arm = {v.arm: v for v in views.values()}
    assert len(views) == 2 and set(by_arm) == {"resolve", "sham"}
    active, sham = by_arm["resolve"], by_arm["sham"]
    for v in (active, sham):
        assert [s.week for s in v.sessions] == list(range(1, 13))
        assert v.week in (12, None)  # the programme's last week, or over
    assert {b.task for b in active.blocks} == {"lrj", "tactile", "graphaesthesia"}
    planned = {
        w for w in range(1, 13) if active.template and active.template.plan("resolve", w).lrj
    }
    assert {1, 12} <= planned <= {b.week for b in active.blocks}
    assert len(active.decisions) > len(active.blocks)  # blocks, loading, one override
    assert any(d.action == "override" and d.clinician == "clinician" for d in active.decisions)
    assert active.home and active.quizzes and active.imagery and active.twopoint
    assert active.loading and active.drills and active.loading_plans
    lrj = [b.measure("accuracy") for b in active.blocks if b.task == "lrj"]
    assert lrj[-1] is not None and lrj[0] is not None and lrj[-1] > lrj[0]
    assert sham.blocks == [] and sham.home == [] and sham.levels == {}
    assert active.adherence.sessions_attended == 11 and sham.adherence.sessions_attended == 11


def test_every_record_is_stamped_in_its_programme_week(demo: tuple[Path, Path]) -> None:
    db, key_file = demo
    views = _programmes(db, key_file)
    starts = {pid: date.fromisoformat(v.randomised_on) for pid, v in views.items()}

    def rows(session: Any) -> list[tuple[str, int, str, str]]:
        from resolve.store.models import Participant

        stmt = select(
            Participant.code, ProgrammeRecord.week, ProgrammeRecord.recorded_at, ProgrammeRecord.via
        ).join(Participant, Participant.id == ProgrammeRecord.participant_id)
        return [tuple(r) for r in session.execute(stmt).all()]  # type: ignore[misc]

    found = Store(db).run(rows, read_only=True)
    assert len(found) > 250
    for code, week, at, _ in found:
        begin = datetime.combine(starts[code] + timedelta(days=7 * (week - 1)), datetime.min.time())
        stamp = datetime.fromisoformat(at)
        assert begin.replace(tzinfo=UTC) <= stamp < begin.replace(tzinfo=UTC) + timedelta(days=7)
    assert {via for *_, via in found} == {"staff", "link"}  # home practice came by the link


def test_the_demo_audit_trail_verifies(demo: tuple[Path, Path]) -> None:
    db, key_file = demo
    assert ops.Client(db, user="admin", key_file=key_file).run(ops.verify_trial) is None


def test_no_programme_for_a_protocol_the_template_does_not_fit(tmp_path: Path) -> None:
    text = resources.files("resolve.trial").joinpath("protocols", "resolve.toml").read_text()
    for old, new in {"sham": "zircon", "resolve": "quartz"}.items():
        text, n = re.subn(rf'(?m)^name = "{old}"', f'name = "{new}"', text)
        assert n == 1
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(text, encoding="utf-8")
    original = ops.init_trial

    def init(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, "protocol": protocol})

    with mock.patch.object(ops, "init_trial", init):
        db, key_file, _ = make_demo_trial(tmp_path, participants=5)
    assert load_demo_programme(db, clinician="clinician", admin="admin", key_file=key_file) is None
    count = Store(db).run(
        lambda s: len(s.execute(select(ProgrammeRecord.id)).all()), read_only=True
    )
    assert count == 0
