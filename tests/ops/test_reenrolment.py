"""Re-enrolment guard and stratification from recorded data, on SQLite and PostgreSQL.

One person cannot be enrolled twice: identifying details are stored as a keyed
hash and a second participant id with the same details is refused, whatever the
spacing or case, also after the first one withdrew. The same id may be screened
again until consent. Stratification factors are recorded at screening (a
site-bound enroller's site is filled in and cannot be overridden) and
randomisation takes them from there, never from its caller.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from resolve import ops
from resolve.cli._app import run
from resolve.errors import DataValidationError
from tests.ops.helpers import (
    ADMIN,
    ENROLLER,
    ENROLLER2,
    UNBLINDED,
    audit_actions,
    client,
    new_trial,
    sealed_lists,
    snapshot,
    two_site_protocol,
)

WHO = "1971-03-02 AB"
SAME_PERSON = [
    WHO,
    "1971-03-02 ab",
    "  1971-03-02   AB ",
    "1971-03-02\tAb",
    "1971-03-02 AB\n",
    "1971-03-02\u00a0AB",  # no-break space
]


def _screen(c: ops.Client, pid: str, who: str, *, age: int = 40, site: str | None = None) -> bool:
    result = c.run(
        ops.screen,
        pid,
        age=age,
        duration_weeks=30,
        pain=6,
        identity=who,
        factors={"site": site} if site else None,
    )
    return bool(result.eligible)


def test_same_person_under_a_new_id_is_refused(db_url: str) -> None:
    new_trial(db_url)
    rc = client(db_url, ENROLLER)
    assert _screen(rc, "P1", WHO)
    before = snapshot(db_url)
    for variant in SAME_PERSON:
        for user in (ENROLLER, ENROLLER2):
            with pytest.raises(ops.TrialStateError, match=r"'P1'.*cannot be enrolled twice"):
                _screen(client(db_url, user), "P2", variant)
    assert snapshot(db_url) == before
    assert _screen(rc, "P2", "1971-03-02 AC")  # another person
    with pytest.raises(DataValidationError, match="identifying"):
        _screen(rc, "P3", " a ")


@pytest.mark.parametrize("randomised", [False, True], ids=["consented", "randomised"])
def test_refused_after_the_first_id_withdrew(db_url: str, randomised: bool) -> None:
    new_trial(db_url)
    rc = client(db_url, ENROLLER)
    _screen(rc, "P1", WHO)
    rc.run(ops.consent, "P1", version="1.0")
    if randomised:
        rc.run(ops.randomise, "P1")
    rc.run(ops.withdraw, "P1", reason="changed their mind")
    before = snapshot(db_url)
    for variant in SAME_PERSON:
        with pytest.raises(ops.TrialStateError, match="cannot be enrolled twice"):
            _screen(rc, "P1-again", variant)
    assert snapshot(db_url) == before


def test_rescreening_the_same_id_is_allowed_until_consent(db_url: str) -> None:
    new_trial(db_url)
    rc = client(db_url, ENROLLER)
    assert not _screen(rc, "P1", WHO, age=75)
    assert _screen(rc, "P1", "1971-03-02  ab", age=40)  # same person, new data: eligible now
    assert _screen(rc, "P1", "1971-03-12 AB")  # a typo corrected before consent
    parts = client(db_url, ADMIN).run(ops.participants)
    assert len(parts) == 1 and parts.loc[0, "status"] == "eligible" and parts.loc[0, "age"] == 40
    rescreens = [a for e, a, pid, _ in audit_actions(db_url) if a == "rescreen" and pid == "P1"]
    assert len(rescreens) == 2
    # The corrected details now guard against a second enrolment.
    with pytest.raises(ops.TrialStateError, match="cannot be enrolled twice"):
        _screen(rc, "P2", "1971-03-12 AB")
    rc.run(ops.consent, "P1", version="1.0")
    before = snapshot(db_url)
    with pytest.raises(ops.TrialStateError, match="cannot be screened again"):
        _screen(rc, "P1", "1971-03-12 AB")
    assert snapshot(db_url) == before
    assert client(db_url, ADMIN).run(ops.verify_trial) is None


def test_identity_is_stored_only_as_a_keyed_hash(db_url: str) -> None:
    new_trial(db_url)
    _screen(client(db_url, ENROLLER), "P1", "1971-03-02 Zebedee Quux")
    dump = json.dumps(snapshot(db_url)).lower()
    assert "zebedee" not in dump and "quux" not in dump and "1971-03-02" not in dump


# ----------------------------------------------------------------------------- sites and strata
SYD, NEW = "rc_syd", "rc_new"


def _two_site_trial(db: str, folder: Path) -> ops.InitResult:
    res = new_trial(db, two_site_protocol(folder))
    admin = client(db, ADMIN)
    admin.run(ops.add_user, SYD, role="enroller", password=None, site="sydney")
    admin.run(ops.add_user, NEW, role="enroller", password=None, site="newcastle")
    with pytest.raises(DataValidationError, match="unknown site 'perth'"):
        admin.run(ops.add_user, "rc_per", role="enroller", password=None, site="perth")
    return res


def test_site_bound_enroller_cannot_screen_for_another_site(db_url: str, tmp_path: Path) -> None:
    _two_site_trial(db_url, tmp_path)
    syd = client(db_url, SYD)
    before = snapshot(db_url)
    with pytest.raises(ops.PermissionDenied, match=r"site 'sydney'.*site 'newcastle'"):
        _screen(syd, "S1", "1980-01-01 S1", site="newcastle")
    assert snapshot(db_url) == before
    _screen(syd, "S1", "1980-01-01 S1")  # the user's site is filled in
    _screen(syd, "S2", "1980-01-01 S2", site="sydney")
    _screen(client(db_url, NEW), "N1", "1980-01-01 N1")
    parts = client(db_url, ADMIN).run(ops.participants).set_index("participant_id")
    assert parts["site"].to_dict() == {"S1": "sydney", "S2": "sydney", "N1": "newcastle"}
    assert parts.loc["N1", "factors"] == {"site": "newcastle"}
    # Rescreening by the other site's enroller cannot move a participant either.
    with pytest.raises(ops.PermissionDenied):
        _screen(client(db_url, NEW), "S1", "1980-01-01 S1", site="sydney")


def test_randomisation_takes_the_stratum_from_screening(db_url: str, tmp_path: Path) -> None:
    res = _two_site_trial(db_url, tmp_path)
    assert list(inspect.signature(ops.randomise).parameters) == ["ctx", "participant"]
    rc = client(db_url, ENROLLER)  # not bound to a site

    def enrol_at(c: ops.Client, pid: str) -> None:
        _screen(c, pid, f"1980-01-01 {pid}")
        c.run(ops.consent, pid, version="1.0")

    enrol_at(client(db_url, SYD), "S1")
    enrol_at(client(db_url, NEW), "N1")
    enrol_at(client(db_url, NEW), "N2")
    enrol_at(rc, "U1")  # two sites and none recorded: cannot be allocated
    before = snapshot(db_url)
    with pytest.raises(ops.TrialStateError, match=r"no recorded level for factor.*site"):
        rc.run(ops.randomise, "U1")
    assert snapshot(db_url) == before
    # The command line has no way to give factors at randomisation.
    argv = ["trial", "randomise", "--db", db_url, "--id", "N1", "--user", ENROLLER]
    assert run([*argv, "--factor", "site=sydney"]) == 2
    assert snapshot(db_url) == before
    for pid in ("S1", "N1", "N2"):
        rc.run(ops.randomise, pid)
    alloc = client(db_url, UNBLINDED).run(ops.allocations).set_index("participant")
    lists = sealed_lists(db_url, res.protocol)
    assert alloc.loc["S1", "stratum"] == '{"site":"sydney"}' and alloc.loc["S1", "position"] == 1
    assert alloc.loc["N2", "stratum"] == '{"site":"newcastle"}' and alloc.loc["N2", "position"] == 2
    assert alloc.loc["S1", "arm"] == lists[("sydney",)][0]
    assert [alloc.loc[p, "arm"] for p in ("N1", "N2")] == lists[("newcastle",)][:2]
