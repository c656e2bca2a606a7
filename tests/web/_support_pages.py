"""Support for the staff-page tests (``test_pages_*.py``): a small trial, one account per
role, signed-in TestClients, CSRF tokens and the arm-label checks.

A template trial is built once per test module (argon2 hashing of eight
passwords is the slow part) and copied for each test with SQLite's backup API
(it reads through the WAL, so the copy is consistent).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from resolve import ops
from resolve.web.app import create_app

PASSWORD = "correct horse battery staple"
ROLES = (
    "admin",
    "enroller",
    "clinician",
    "assessor",
    "statistician",
    "unblinded_statistician",
    "monitor",
)
#: The protocol's arm names: never shown to a blinded role.
ARMS = ("sham", "resolve")
#: Masked codes: never shown to a role whose arm view is "none" either.
MASKED = ("group A", "group B")

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def build_trial(folder: Path) -> Path:
    """A trial in ``folder`` (demo-seeded key): one account per role (named after it) plus
    ``enroller_sydney`` (site-bound), and participants

    * ``P001`` randomised (enroller), baseline ``nrs`` recorded, clinician assigned;
    * ``P002`` eligible and consented, baseline ``nrs`` recorded, not randomised;
    * ``P003`` ineligible;
    * ``P004`` eligible, not consented.
    """
    db = folder / "trial.db"
    ops.init_trial(db, admin="admin", admin_password=PASSWORD, demo_seed=11)
    admin = ops.Client(db, user="admin")
    one_time = "one-time " + PASSWORD  # set by the admin: each user replaces it with PASSWORD
    for role in ROLES[1:]:
        admin.run(ops.add_user, role, role=role, password=one_time)
    admin.run(ops.add_user, "enroller_sydney", role="enroller", password=one_time, site="sydney")
    for name in (*ROLES[1:], "enroller_sydney"):
        ops.Client(db, user=name).run(ops.set_password, name, PASSWORD, old_password=one_time)
    rc = ops.Client(db, user="enroller")
    for i, pain in ((1, 6), (2, 7), (3, 1), (4, 5)):
        rc.run(
            ops.screen,
            f"P00{i}",
            age=30 + i,
            duration_weeks=20,
            pain=pain,
            identity=f"1980-01-0{i} T{i}",
            factors={"site": "sydney"},
        )
    for pid in ("P001", "P002"):
        rc.run(ops.consent, pid, version="1.0")
        rc.run(ops.record, pid, visit="baseline", instrument="nrs", items={"nrs_1": 6})
    rc.run(ops.randomise, "P001")
    admin.run(ops.assign_clinician, "P001", clinician="clinician")
    return db


def add_complete_participants(db: Path, n: int, *, seed: int = 5) -> list[str]:
    """Randomise ``n`` more participants (``R01``...) with every baseline questionnaire
    and pain and disability at every follow-up visit: enough for the analysis plan."""
    import random

    from resolve.instruments import Instrument, get

    rnd = random.Random(seed)
    rc = ops.Client(db, user="enroller")
    codes = []
    for i in range(1, n + 1):
        pid = f"R{i:02d}"
        codes.append(pid)
        rc.run(
            ops.screen,
            pid,
            age=30 + i,
            duration_weeks=20 + i,
            pain=5,
            identity=f"1970-02-{i:02d} RR",
            factors={"site": "sydney"},
        )
        rc.run(ops.consent, pid, version="1.0")
        for name in ("nrs", "rmdq24", "pseq", "pcs", "tsk17", "frebaq", "bbq"):
            inst = get(name)
            assert isinstance(inst, Instrument)
            items = {inst.column(it.number): rnd.randint(it.low, it.high) for it in inst.items}
            rc.run(ops.record, pid, visit="baseline", instrument=name, items=items)
        medication = rnd.choice(["none", "pregabalin"])
        rc.run(
            ops.record,
            pid,
            visit="baseline",
            instrument="psychoactive_medication",
            items={"psychoactive_medication_1": medication},
        )
        rc.run(ops.randomise, pid)
        for visit in ("week 12", "week 18", "week 26", "week 52"):
            rc.run(
                ops.record, pid, visit=visit, instrument="nrs", items={"nrs_1": rnd.randint(0, 9)}
            )
            rmdq = {f"rmdq24_{k}": rnd.randint(0, 1) for k in range(1, 25)}
            rc.run(ops.record, pid, visit=visit, instrument="rmdq24", items=rmdq)
    return codes


def copy_trial(template: Path, folder: Path) -> Path:
    """A consistent copy of the template trial's database."""
    target = folder / "trial.db"
    src, dst = sqlite3.connect(template), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


def app_client(db: Path | FastAPI) -> TestClient:
    """A TestClient over https (so the Secure session cookie is sent); each has its own
    cookies, so clients of one app are separate browsers."""
    app = db if isinstance(db, FastAPI) else create_app(db)
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def signed_in(db: Path, roles: Iterable[str] = ROLES) -> dict[str, tuple[TestClient, str]]:
    """One signed-in client (and its CSRF token) per role, all on one app."""
    app = create_app(db)
    out = {}
    for role in roles:
        web = app_client(app)
        out[role] = (web, sign_in(web, role))
    return out


def csrf_of(html: str) -> str:
    """The CSRF token of a rendered page."""
    found = _CSRF.search(html)
    assert found is not None, "no csrf_token field on the page"
    return found.group(1)


def sign_in(client: TestClient, user: str) -> str:
    """Sign ``user`` in; return the session's CSRF token."""
    r = client.post("/login", data={"username": user, "password": PASSWORD})
    assert r.status_code == 303, r.text
    page = client.get("/password")
    assert page.status_code == 200
    return csrf_of(page.text)


def post(client: TestClient, url: str, csrf: str, **data: Any) -> Any:
    """POST a form with the CSRF token."""
    return client.post(url, data={"csrf_token": csrf, **data})


def arm_labels_in(texts: Iterable[str]) -> set[str]:
    """Arm labels found in table cells, definition values, strong text or option values."""
    found: set[str] = set()
    cell = re.compile(r"<(td|dd|strong|option)[^>]*>\s*([^<]*?)\s*</\1>", re.IGNORECASE)
    for text in texts:
        for _, value in cell.findall(text):
            for label in (*ARMS, *MASKED):
                if value.strip().lower() == label.lower():
                    found.add(label)
        for label in MASKED:
            if label in text:
                found.add(label)
        if re.search(r"\bsham\b", text, re.IGNORECASE):
            found.add("sham")
    return found
