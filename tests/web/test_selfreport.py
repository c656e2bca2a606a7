"""Participant self-report links: create, answer on a phone, resume, review, submit; refusals.

The participant's pages are driven with a phone's User-Agent through the
TestClient (the real-browser run at phone size is in the Playwright tests).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from resolve import ops
from resolve.errors import DataValidationError
from resolve.ops import links
from resolve.ops.permissions import MATRIX, Operation
from resolve.store.models import AuditEvent, Role
from resolve.store.models_web import ParticipantLink
from tests.web.conftest import WebTrial

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
_LINK = re.compile(r"https://testserver/p/([A-Za-z0-9_-]{43})")


def phone(web: WebTrial) -> TestClient:
    c = web.anon()
    c.headers["User-Agent"] = PHONE_UA
    return c


def create_via_page(web: WebTrial, participant: str, visit: str, role: str = "assessor") -> str:
    r = web.page(role).post(
        f"/participants/{participant}/links",
        data={"visit": visit, "ttl_hours": "48", "csrf_token": web.csrf(role)},
    )
    assert r.status_code == 201, r.text
    found = _LINK.search(r.text)
    assert found is not None
    return found.group(1)


def link_row(web: WebTrial, token: str) -> ParticipantLink:
    h = links.token_hash(token)
    return web.sql(
        lambda s: s.execute(
            select(ParticipantLink).where(ParticipantLink.token_hash == h)
        ).scalar_one()
    )


def arms(web: WebTrial) -> dict[str, str]:
    frame = web.ops("unblinded_statistician").run(ops.allocations)
    return dict(zip(frame["participant"], frame["arm"], strict=True))


def gone_page(web: WebTrial) -> str:
    r = web.anon().get("/p/" + "x" * 43)
    assert r.status_code == 404
    return str(r.text)


# ----------------------------------------------------------------------------- staff side
def test_only_enroller_and_assessor_create_links() -> None:
    assert MATRIX[Operation.create_participant_link] == {Role.enroller, Role.assessor}
    assert MATRIX[Operation.submit_self_report] == {Role.participant}
    # the participant system account: self-report links and, through a programme link, home
    # practice (ops refuse it anything without a link resolved in the same unit of work)
    assert {op.name for op in Operation if Role.participant in MATRIX[op]} == {
        "submit_self_report",
        "practise",
    }


def test_staff_page_creates_a_link_shown_once_and_stored_hashed(web: WebTrial) -> None:
    c = web.page("enroller")
    page = c.get("/participants/D002/links")
    assert page.status_code == 200
    assert 'name="visit"' in page.text and 'for="visit"' in page.text
    token = create_via_page(web, "D002", "week 26", role="enroller")
    assert len(token) == 43  # 256 bits, URL-safe base64
    row = link_row(web, token)
    assert row.token_hash == links.token_hash(token) and token not in repr(vars(row))
    assert row.visit == "week 26" and row.used_at is None and row.draft == {}
    created = datetime.fromisoformat(row.created_at)
    assert datetime.fromisoformat(row.expires_at) - created == timedelta(hours=48)
    listed = c.get("/participants/D002/links")
    assert "week 26" in listed.text and token not in listed.text
    events = web.sql(
        lambda s: s.execute(
            select(AuditEvent.user_name, AuditEvent.action).where(
                AuditEvent.entity == "participant_link", AuditEvent.entity_id == "D002/week 26"
            )
        ).all()
    )
    assert events == [("enroller", "create")]


def test_staff_page_refusals_are_shown_on_the_form(web: WebTrial) -> None:
    c = web.page("assessor")
    csrf = web.csrf("assessor")
    r = c.post("/participants/D003/links", data={"visit": "session 1", "csrf_token": csrf})
    assert r.status_code == 422 and "no questionnaires" in r.text
    r = c.post(
        "/participants/D003/links", data={"visit": "week 18", "ttl_hours": "0", "csrf_token": csrf}
    )
    assert r.status_code == 422
    r = c.post("/participants/D003/links", data={"visit": "week 18", "csrf_token": "forged"})
    assert r.status_code == 403
    r = c.post("/participants/NOPE/links", data={"visit": "week 18", "csrf_token": csrf})
    assert r.status_code == 404


def test_a_new_link_replaces_an_open_one(web: WebTrial) -> None:
    first = web.link("D004", "week 26")
    second = web.link("D004", "week 26")
    assert phone(web).get(f"/p/{first}").status_code == 404
    assert phone(web).get(f"/p/{second}").status_code == 200


# ----------------------------------------------------------------------------- the participant
def test_phone_flow_draft_resume_review_submit(web: WebTrial) -> None:
    token = create_via_page(web, "D001", "week 18")
    p = phone(web)
    start = p.get(f"/p/{token}")
    assert start.status_code == 200
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in start.text
    assert "Pain intensity" in start.text and "Roland-Morris" in start.text
    assert f"/p/{token}?one=1" in start.text  # the one-question-per-screen option

    # one question per screen: the NRS, then the first RMDQ item
    q = p.get(f"/p/{token}/q/nrs?one=1")
    assert q.status_code == 200 and q.text.count('type="radio"') == 11
    r = p.post(
        f"/p/{token}/q/nrs", data={"item_1": "6", "one": "1", "n": "1"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/p/{token}/q/rmdq24?one=1&n=1"
    assert link_row(web, token).draft == {"nrs": {"1": 6}}
    r = p.post(
        f"/p/{token}/q/rmdq24", data={"item_1": "1", "one": "1", "n": "1"}, follow_redirects=False
    )
    assert r.headers["location"] == f"/p/{token}/q/rmdq24?one=1&n=2"
    screen2 = p.get(r.headers["location"])
    assert (
        "Question 2 of 24" in screen2.text and f"/p/{token}/q/rmdq24?one=1&amp;n=1" in screen2.text
    )

    # resume on another device: the draft is there, "continue" leads to the first gap
    other = phone(web)
    again = other.get(f"/p/{token}?one=1")
    assert "Continue where you stopped" in again.text
    assert f'href="/p/{token}/q/rmdq24?one=1&amp;n=2"' in again.text
    assert "1 of 24 questions answered" in again.text

    # the rest of the RMDQ on one page, then the GPE saved by the autosave script
    answers = {f"item_{i}": str(i % 2) for i in range(2, 25)}
    r = other.post(f"/p/{token}/q/rmdq24", data=answers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/p/{token}/q/gpe"
    r = other.post(f"/p/{token}/q/gpe", data={"item_1": "3"}, headers={"X-Resolve-Autosave": "1"})
    assert r.status_code == 204
    assert set(link_row(web, token).draft) == {"nrs", "rmdq24", "gpe"}

    review = other.get(f"/p/{token}/review")
    assert review.status_code == 200
    assert f'action="/p/{token}/submit"' in review.text and "Not answered yet" not in review.text
    assert "ticked" in review.text  # answers shown with their labels

    done = other.post(f"/p/{token}/submit")
    assert done.status_code == 200 and "Thank you" in done.text

    # recorded through ops.record's code, as the participant system account, audited
    frame = web.ops("assessor").run(ops.responses)
    mine = frame[(frame["participant_id"] == "D001") & (frame["visit"] == "week 18")]
    assert set(mine["instrument"]) == {"nrs", "rmdq24", "gpe"}
    assert set(mine["user"]) == {links.SYSTEM_USER}
    nrs = mine[mine["instrument"] == "nrs"].iloc[0]
    assert nrs["scores"]["scores"]["total"] == 6.0 and nrs["items"] == {"1": 6}
    rmdq = mine[mine["instrument"] == "rmdq24"].iloc[0]
    assert rmdq["scores"]["scores"]["total"] == float(sum(i % 2 for i in range(2, 25)) + 1)
    events = web.sql(
        lambda s: [
            (e.user_name, e.entity, e.action, e.entity_id)
            for e in s.execute(
                select(AuditEvent).where(AuditEvent.user_name == links.SYSTEM_USER)
            ).scalars()
        ]
    )
    created = web.sql(
        lambda s: (
            s.execute(
                select(AuditEvent.action).where(
                    AuditEvent.entity == "app_user", AuditEvent.entity_id == links.SYSTEM_USER
                )
            )
            .scalars()
            .all()
        )
    )
    assert created == ["create"]  # on first use (here: the demo's home practice), audited once
    assert (links.SYSTEM_USER, "response", "record", "D001/week 18/gpe") in events
    assert events[-1] == (links.SYSTEM_USER, "participant_link", "submit", "D001/week 18")
    assert web.ops("admin").run(ops.verify_trial) is None  # the replay agrees with the tables

    # the link is used: every page of it is the neutral 404
    row = link_row(web, token)
    assert row.used_at is not None and row.draft == {}
    gone = gone_page(web)
    for method, path in [
        ("GET", f"/p/{token}"),
        ("GET", f"/p/{token}/q/nrs"),
        ("POST", f"/p/{token}/q/nrs"),
        ("GET", f"/p/{token}/review"),
        ("POST", f"/p/{token}/submit"),
    ]:
        r = other.request(method, path)
        assert r.status_code == 404 and r.text == gone, (method, path)


def test_expired_used_and_unknown_links_look_the_same(web: WebTrial) -> None:
    expired = web.link("D005", "week 12")
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="microseconds")
    h = links.token_hash(expired)
    web.sql(
        lambda s: s.execute(
            update(ParticipantLink).where(ParticipantLink.token_hash == h).values(expires_at=past)
        )
    )
    withdrawn = web.link("D006", "week 12")
    web.ops("enroller").run(ops.withdraw, "D006", reason="moved away")
    gone = gone_page(web)
    assert "expired" in gone and "D00" not in gone
    for token in (expired, withdrawn, expired[:-1], "", "a" * 500):
        r = phone(web).get(f"/p/{token}")
        if token == "":
            assert r.status_code in (307, 404)
            continue
        assert r.status_code == 404 and r.text == gone
        r = phone(web).post(f"/p/{token}/q/nrs", data={"item_1": "3"})
        assert r.status_code == 404 and r.text == gone
    with pytest.raises(links.LinkGone):
        links.save_draft(web.store, expired, "nrs", {"1": 2})


def test_invalid_answers_are_refused_and_nothing_is_saved(web: WebTrial) -> None:
    token = web.link("D003", "week 26")
    p = phone(web)
    r = p.post(f"/p/{token}/q/nrs", data={"item_1": "11"})
    assert r.status_code == 422 and 'role="alert"' in r.text
    r = p.post(f"/p/{token}/q/nrs", data={"item_1": "3", "item_2": "3"})
    assert r.status_code == 422
    r = p.post(f"/p/{token}/q/gpe", data={"item_1": "x"}, headers={"X-Resolve-Autosave": "1"})
    assert r.status_code == 422
    assert link_row(web, token).draft == {}
    # a questionnaire not due on this link
    r = p.get(f"/p/{token}/q/tsk17", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/p/{token}"
    # an incomplete submission is refused; the link stays usable
    p.post(f"/p/{token}/q/nrs", data={"item_1": "3"})
    r = p.post(f"/p/{token}/submit")
    assert r.status_code == 422 and "not answered" in r.text
    assert p.get(f"/p/{token}").status_code == 200
    assert link_row(web, token).used_at is None


def test_medication_list_with_names_and_none(web: WebTrial) -> None:
    web.ops("enroller").run(ops.consent, "D007", version="1.0")
    token = web.link("D007", "baseline")
    p = phone(web)
    page = p.get(f"/p/{token}/q/psychoactive_medication?one=1")
    assert page.status_code == 200 and 'for="slot_1"' in page.text
    r = p.post(f"/p/{token}/q/psychoactive_medication", data={"slot_1": "notamedicine"})
    assert r.status_code == 422 and 'value="notamedicine"' in r.text
    r = p.post(f"/p/{token}/q/psychoactive_medication", data={"slot_1": "none", "slot_2": ""})
    assert r.status_code == 303 or r.status_code == 200
    assert link_row(web, token).draft["psychoactive_medication"] == {"1": "none"}
    with pytest.raises(DataValidationError, match="first"):
        links.save_draft(web.store, token, "psychoactive_medication", {"2": "none"})


def test_pages_reveal_no_arm(web: WebTrial) -> None:
    status = web.ops("admin").run(ops.participants).set_index("participant_id")["status"]
    by_arm: dict[str, str] = {}
    for pid, arm in arms(web).items():
        if status[pid] == "randomised":
            by_arm.setdefault(arm, pid)
    assert len(by_arm) == 2, "the demo trial has participants in both arms"
    seen: dict[str, list[str]] = {}
    for arm, pid in by_arm.items():
        token = web.link(pid, "week 52")
        p = phone(web)
        pages = [
            p.get(f"/p/{token}").text,
            p.get(f"/p/{token}?one=1").text,
            p.get(f"/p/{token}/q/nrs").text,
            p.get(f"/p/{token}/q/rmdq24?one=1&n=3").text,
            p.post(f"/p/{token}/q/nrs", data={"item_1": "4"}).text,
            p.get(f"/p/{token}/review").text,
        ]
        normal = [
            re.sub(r"until [0-9: -]+ \(UTC\)", "until T", x.replace(token, "TOKEN")) for x in pages
        ]
        seen[arm] = normal
        for text in pages:
            low = text.lower()
            for label in web.ops("unblinded_statistician").run(lambda ctx: ctx.protocol.arm_names):
                if label.lower() != "resolve":  # also the trial's name; compared below instead
                    assert label.lower() not in low
            assert "group a" not in low and "group b" not in low and pid not in text
    first, second = seen.values()
    assert first == second  # a participant's pages do not depend on the arm


def test_the_participant_role_is_a_system_account_only(web: WebTrial) -> None:
    admin = web.ops("admin")
    with pytest.raises(DataValidationError, match="system account"):
        admin.run(ops.add_user, "pat", role="participant", password="a long enough password")
    name = web.user("participant")
    assert name == links.SYSTEM_USER
    with pytest.raises(DataValidationError, match="no password"):
        admin.run(ops.set_password, name, "a long enough password")
    r = web.anon().post("/login", data={"username": name, "password": ""})
    assert r.status_code in (401, 422)
    with pytest.raises(ops.PermissionDenied):
        web.ops("participant").run(ops.participants)


def test_links_on_sqlite_and_postgresql(db_url: str) -> None:
    """The link operations on both backends (row locks, the system account's savepoint)."""
    from resolve.web.app import create_app

    ops.init_trial(db_url, admin="admin", demo_seed=11)
    admin = ops.Client(db_url, user="admin")
    admin.run(ops.add_user, "rc", role="enroller", password=None)
    rc = ops.Client(db_url, user="rc")
    for pid in ("L1", "L2"):
        rc.run(ops.screen, pid, age=40, duration_weeks=20, pain=6, identity=f"1984 {pid}")
        rc.run(ops.consent, pid, version="1.0")
    first, second = (rc.run(ops.create_link, pid, visit="week 18") for pid in ("L1", "L2"))
    p = TestClient(create_app(db_url), base_url="https://testserver")
    for token in (first, second):
        for inst, items in (("nrs", {"item_1": "5"}), ("gpe", {"item_1": "-2"})):
            assert (
                p.post(f"/p/{token}/q/{inst}", data=items, follow_redirects=False).status_code
                == 303
            )
        answers = {f"item_{i}": "0" for i in range(1, 25)}
        assert (
            p.post(f"/p/{token}/q/rmdq24", data=answers, follow_redirects=False).status_code == 303
        )
        assert p.post(f"/p/{token}/submit").status_code == 200
        assert p.get(f"/p/{token}").status_code == 404
    users = admin.run(ops.list_users)
    assert [u["name"] for u in users if u["role"] == "participant"] == [links.SYSTEM_USER]
    frame = rc.run(ops.responses)
    assert len(frame) == 6 and set(frame["user"]) == {links.SYSTEM_USER}
    assert admin.run(ops.verify_trial) is None
