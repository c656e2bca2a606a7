"""The trial service layer on SQLite and PostgreSQL: flow, refusals, concurrency, crashes."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from resolve.errors import DataValidationError, ResolveError, UnknownNameError
from resolve.store.models import Allocation, AuditEvent, SequenceSlot, Stratum
from resolve.trial import load_protocol, service
from resolve.trial.randomize import generate_sequences
from resolve.trial.service import TrialStateError

SEED = 20240601
TWO_SITES = 'site = ["sydney", "newcastle"]'


def two_site_protocol(tmp_path: Path) -> Path:
    bundled = (Path(service.__file__).parent / "protocols" / "resolve.toml").read_text()
    assert 'site = ["sydney"]' in bundled
    path = tmp_path / "two_sites.toml"
    path.write_text(bundled.replace('site = ["sydney"]', TWO_SITES))
    return path


def enrol(url: str, pid: str, *, site: str | None = None) -> None:
    factors = {"site": site} if site else None
    assert service.screen(
        url, pid, age=40, duration_weeks=30, pain=6, factors=factors, user="rc"
    ).eligible
    service.consent(url, pid, version="1.0", user="rc")


def audit_actions(url: str) -> list[tuple[str, str, str | None]]:
    with Session(service.engine_for(url)) as s:
        rows = s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        return [(e.action, e.entity_id, e.reason) for e in rows]


def test_whole_participant_flow(db_url: str) -> None:
    proto = service.init_trial(db_url, seed=SEED, user="admin")
    assert proto.name == "RESOLVE"
    enrol(db_url, "P001")
    arm = service.randomise(db_url, "P001", user="rc")
    assert arm == generate_sequences(load_protocol(), SEED)[("sydney",)][0]
    scores = service.record(
        db_url, "P001", visit="baseline", instrument="nrs", items={"nrs_1": 7}, user="assessor"
    )
    assert scores["scores"]["total"] == 7
    service.record(
        db_url,
        "P001",
        visit="baseline",
        instrument="rmdq24",
        items={f"rmdq24_{i}": i % 2 for i in range(1, 25)},
        user="assessor",
    )
    service.record(
        db_url, "P001", visit="week 18", instrument="nrs", items={"nrs_1": 3}, user="assessor"
    )
    parts = service.participants(db_url)
    assert parts.loc[0, "status"] == "randomised" and parts.loc[0, "arm"] == arm
    assert parts.loc[0, "consent_version"] == "1.0"
    resp = service.responses(db_url)
    assert len(resp) == 3 and set(resp["visit"]) == {"baseline", "week 18"}
    cal = service.participant_schedule(db_url, "P001")
    assert cal.set_index("visit").loc["baseline", "status"] == "recorded"
    assert len(service.trial_schedule(db_url)) == len(proto.visits)
    service.withdraw(db_url, "P001", reason="moved away", user="rc")
    assert service.participants(db_url).loc[0, "status"] == "withdrawn"
    assert service.verify_audit(db_url) is None
    actions = [a for a, _, _ in audit_actions(db_url)]
    for needed in ("init", "screen", "consent", "randomise", "record", "withdraw"):
        assert needed in actions


def test_refusals_write_nothing(db_url: str) -> None:
    service.init_trial(db_url, seed=SEED, user="admin")
    with pytest.raises(TrialStateError, match="already holds a trial"):
        service.init_trial(db_url, seed=1, user="admin")
    res = service.screen(db_url, "OLD", age=75, duration_weeks=30, pain=6, user="rc")
    assert not res.eligible and "age 75 is above 70" in res.reasons
    service.screen(db_url, "NOC", age=40, duration_weeks=30, pain=6, user="rc")
    before = len(audit_actions(db_url))
    with pytest.raises(TrialStateError, match="ineligible"):
        service.randomise(db_url, "OLD", user="rc")
    with pytest.raises(TrialStateError, match="ineligible"):
        service.consent(db_url, "OLD", version="1.0", user="rc")
    with pytest.raises(TrialStateError, match="has not consented"):
        service.randomise(db_url, "NOC", user="rc")
    with pytest.raises(UnknownNameError, match="has not been screened"):
        service.randomise(db_url, "NOBODY", user="rc")
    with pytest.raises(DataValidationError, match="unknown consent version '9'"):
        service.consent(db_url, "NOC", version="9", user="rc")
    with pytest.raises(DataValidationError, match="unknown exclusion"):
        service.screen(
            db_url, "X", age=40, duration_weeks=30, pain=6, exclusions=["nope"], user="rc"
        )
    with pytest.raises(DataValidationError, match="--user"):
        service.screen(db_url, "X", age=40, duration_weeks=30, pain=6, user=" ")
    assert len(audit_actions(db_url)) == before
    enrol(db_url, "P1")
    service.randomise(db_url, "P1", user="rc")
    n_alloc = len(service.allocations(db_url))
    with pytest.raises(TrialStateError, match="already randomised"):
        service.randomise(db_url, "P1", user="rc")
    with pytest.raises(TrialStateError, match="only a participant"):
        service.screen(db_url, "P1", age=40, duration_weeks=30, pain=6, user="rc")
    assert len(service.allocations(db_url)) == n_alloc
    # Item validation names the item; nothing is stored.
    with pytest.raises(DataValidationError, match="rmdq24_3"):
        service.record(
            db_url, "P1", visit="baseline", instrument="rmdq24", items={"rmdq24_3": 5}, user="a"
        )
    with pytest.raises(DataValidationError, match="not collected at visit"):
        service.record(
            db_url, "P1", visit="session 1", instrument="nrs", items={"nrs_1": 1}, user="a"
        )
    assert service.responses(db_url).empty
    assert service.verify_audit(db_url) is None


def test_randomised_in_error_and_unblinding(db_url: str) -> None:
    service.init_trial(db_url, seed=SEED, user="admin")
    enrol(db_url, "P1")
    arm = service.randomise(db_url, "P1", user="rc")
    with pytest.raises(DataValidationError, match="reason"):
        service.mark_randomised_in_error(db_url, "P1", reason="", user="rc")
    service.mark_randomised_in_error(db_url, "P1", reason="consent form unsigned", user="rc")
    parts = service.participants(db_url)
    assert parts.loc[0, "status"] == "randomised_in_error" and parts.loc[0, "arm"] == arm
    with pytest.raises(TrialStateError, match="already randomised"):
        service.randomise(db_url, "P1", user="rc")
    with pytest.raises(DataValidationError, match="unblinding reason"):
        service.emergency_unblind(db_url, "P1", reason=" ", user="doc")
    assert (
        service.emergency_unblind(db_url, "P1", reason="serious adverse event", user="doc") == arm
    )
    assert ("emergency unblind", "P1", "serious adverse event") in audit_actions(db_url)


def test_correction_needs_reason_and_keeps_old_value(db_url: str) -> None:
    service.init_trial(db_url, seed=SEED, user="admin")
    enrol(db_url, "P1")
    service.record(db_url, "P1", visit="baseline", instrument="nrs", items={"nrs_1": 4}, user="a")
    with pytest.raises(TrialStateError, match="already recorded"):
        service.record(
            db_url, "P1", visit="baseline", instrument="nrs", items={"nrs_1": 5}, user="a"
        )
    with pytest.raises(DataValidationError, match="reason"):
        service.correct(
            db_url,
            "P1",
            visit="baseline",
            instrument="nrs",
            items={"nrs_1": 5},
            reason="  ",
            user="a",
        )
    scores = service.correct(
        db_url,
        "P1",
        visit="baseline",
        instrument="nrs",
        items={"nrs_1": 5},
        reason="transcription error",
        user="a",
    )
    assert scores["scores"]["total"] == 5
    resp = service.responses(db_url)
    assert resp.loc[0, "items"] == {"nrs_1": 5} and resp.loc[0, "version"] == 2
    with Session(service.engine_for(db_url)) as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "correct")).scalar_one()
    assert ev.reason == "transcription error"
    assert '"nrs_1":4' in (ev.old_value or "") and '"nrs_1":5' in (ev.new_value or "")
    assert service.verify_audit(db_url) is None


def test_tampering_with_sql_is_detected(db_url: str) -> None:
    service.init_trial(db_url, seed=SEED, user="admin")
    enrol(db_url, "P1")
    service.randomise(db_url, "P1", user="rc")
    with Session(service.engine_for(db_url)) as s:
        target = s.execute(select(AuditEvent.id).where(AuditEvent.action == "consent")).scalar_one()
    with service.engine_for(db_url).begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET new_value = :v WHERE id = :i"),
            {"v": '{"consent_version":"2.0","status":"consented"}', "i": target},
        )
    broken = service.verify_audit(db_url)
    assert broken is not None and broken.event_id == target


def test_no_function_reveals_a_future_allocation(db_url: str) -> None:
    service.init_trial(db_url, seed=SEED, user="admin")
    enrol(db_url, "P1")
    service.randomise(db_url, "P1", user="rc")
    alloc = service.allocations(db_url)
    assert list(alloc["position"]) == [1]
    # Nothing but consumed slots, nor the seed, appears in any frame or the audit trail.
    seq = generate_sequences(load_protocol(), SEED)[("sydney",)]
    with Session(service.engine_for(db_url)) as s:
        audit_text = " ".join(
            f"{e.old_value} {e.new_value}" for e in s.execute(select(AuditEvent)).scalars()
        )
    assert str(SEED) not in audit_text
    assert audit_text.count('"arm"') == 1
    frames = [service.participants(db_url), service.responses(db_url), alloc]
    shown = " ".join(f.to_csv() for f in frames)
    assert str(SEED) not in shown and shown.count(seq[0]) >= 1
    for name in service.__all__:  # the public API has no way to read the sealed list
        assert "sequence" not in name.lower() and "seed" not in name.lower()


def _counts(url: str) -> dict[str, int]:
    with Session(service.engine_for(url)) as s:
        return {st.key: st.next_position for st in s.execute(select(Stratum)).scalars()}


@pytest.mark.slow
def test_200_simultaneous_randomisations(db_url: str, tmp_path: Path) -> None:
    n = 200
    service.init_trial(db_url, two_site_protocol(tmp_path), seed=SEED, user="admin")
    sites = {f"C{k:03d}": ("sydney" if k % 3 else "newcastle") for k in range(n)}
    for pid, site in sites.items():
        enrol(db_url, pid, site=site)
    # Separate, fresh processes. A forkserver that has imported the service (but
    # opened no connection) starts them: spawning 200 interpreters that each import
    # pandas and SQLAlchemy would cost minutes of CPU and test nothing more.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["resolve.trial.service", "tests.trial._workers"])
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(db_url, pid, ready, go, out)) for pid in sites]
    for p in procs:
        p.start()
    for _ in procs:  # every process is up and waiting
        ready.get(timeout=600)
    start = time.perf_counter()
    go.set()
    results = dict(out.get(timeout=600) for _ in procs)
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join(timeout=60)
    errors = {k: v for k, v in results.items() if v.startswith("ERROR")}
    assert not errors, list(errors.items())[:3]
    print(f"\n{n} concurrent randomisations on {db_url.split(':')[0]}: {elapsed:.1f} s")

    alloc = service.allocations(db_url)
    assert len(alloc) == n and alloc["participant"].is_unique
    assert set(alloc["participant"]) == set(sites)
    proto = load_protocol(two_site_protocol(tmp_path))
    sealed = generate_sequences(proto, SEED)
    for (site,), arms in sealed.items():
        key = f'{{"site":"{site}"}}'
        mine = alloc[alloc["stratum"] == key].sort_values("position")
        k = sum(1 for s in sites.values() if s == site)
        assert list(mine["position"]) == list(range(1, k + 1))  # no gaps, no duplicates
        assert list(mine["arm"]) == arms[:k]  # in sequence order
        # Allocation times follow positions: the sequence was consumed in order.
        assert list(mine["allocated_at"]) == sorted(mine["allocated_at"])
        assert _counts(db_url)[key] == k + 1
    for pid, arm in results.items():
        assert alloc.set_index("participant").loc[pid, "arm"] == arm
    assert service.verify_audit(db_url) is None


_worker = __import__("tests.trial._workers", fromlist=["randomise_one"]).randomise_one


def _cli(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    code = "import sys; from resolve.cli import main; sys.argv[0] = 'resolve'; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args, "--db", url],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_process_killed_mid_allocation_leaves_store_consistent(db_url: str, tmp_path: Path) -> None:
    service.init_trial(db_url, seed=SEED, user="admin")
    enrol(db_url, "K1")
    enrol(db_url, "K2")
    marker = tmp_path / "locked"
    proc = _cli(
        db_url,
        "trial",
        "randomise",
        "--id",
        "K1",
        "--user",
        "victim",
        env={service.PAUSE_ENV: "60", service.MARKER_ENV: str(marker)},
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the allocation never reached its pause"
        time.sleep(0.05)
    # The allocation row, the counter update and the audit event are written but not committed.
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert service.allocations(db_url).empty
    assert _counts(db_url) == {'{"site":"sydney"}': 1}  # position not consumed
    assert service.participants(db_url).set_index("participant_id").loc["K1", "status"] == (
        "consented"
    )
    assert service.verify_audit(db_url) is None
    assert "randomise" not in [a for a, _, _ in audit_actions(db_url)]
    # The next randomisations work and take the sequence from its start.
    seq = generate_sequences(load_protocol(), SEED)[("sydney",)]
    assert service.randomise(db_url, "K2", user="rc") == seq[0]
    assert service.randomise(db_url, "K1", user="rc") == seq[1]
    assert list(service.allocations(db_url)["position"]) == [1, 2]
    with Session(service.engine_for(db_url)) as s:
        assert s.execute(select(Allocation)).scalars().all()[0].position == 1
        assert len(s.execute(select(SequenceSlot)).scalars().all()) == len(seq)
    assert service.verify_audit(db_url) is None


def test_missing_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResolveError, match="no trial database"):
        service.randomise(str(tmp_path / "none.db"), "P1", user="rc")
    assert not (tmp_path / "none.db").exists()
