"""Session records, fidelity checklists and adherence."""

from __future__ import annotations

import pytest

from resolve.errors import DataValidationError
from resolve.program.sessions import (
    HomePractice,
    SessionRecord,
    adherence,
    check_home_practice,
    check_session,
    session_fidelity,
)
from resolve.program.template import load_template

T = load_template()


def _checklist(components: list[str], undone: int = 0) -> dict[str, dict[str, bool]]:
    out = {c: dict.fromkeys(T.component(c).fidelity, True) for c in components}
    for c in components:
        for item in list(out[c])[:undone]:
            out[c][item] = False
    return out


def _session(
    arm: str, week: int, *, attended: bool = True, undone: int = 0, drop: int = 0, pid: str = "P1"
) -> SessionRecord:
    comps = list(T.plan(arm, week).components)
    comps = comps[: len(comps) - drop]
    return SessionRecord(
        participant_id=pid,
        arm=arm,
        week=week,
        attended=attended,
        minutes=60.0 if attended else None,
        components=comps if attended else [],
        fidelity=_checklist(comps, undone) if attended else {},
    )


def test_fidelity_hand_computed() -> None:
    s = _session("resolve", 1, undone=1, drop=1)  # drop 'lrj'; one item undone per component
    f = session_fidelity(T, s)
    n_items = sum(len(T.component(c).fidelity) for c in s.components)
    assert (f.items_done, f.items_total) == (n_items - len(s.components), n_items)
    assert f.fidelity == pytest.approx((n_items - 4) / n_items)
    assert f.not_delivered == ["lrj"] and f.planned_delivered == pytest.approx(4 / 5)
    assert f.by_component["framing"] == pytest.approx(1 / 2)


def test_check_session_refusals() -> None:
    ok = _session("sham", 2)
    assert check_session(T, ok) is ok
    bad = [
        (ok.model_copy(update={"arm": "control"}), "unknown arm 'control'"),
        (ok.model_copy(update={"week": 13}), "the programme has 12 weeks"),
        (
            ok.model_copy(update={"components": [*ok.components, "education"]}),
            "component 'education' is not part of the sham arm's programme",
        ),
        (
            ok.model_copy(update={"components": [*ok.components, "massage"]}),
            "unknown component 'massage'",
        ),
        (ok.model_copy(update={"minutes": None}), "attended, so 'minutes' is required"),
        (ok.model_copy(update={"attended": False}), "not attended, so no minutes"),
        (ok.model_copy(update={"fidelity": {}}), "no fidelity checklist for 'sham_laser'"),
        (
            ok.model_copy(
                update={"fidelity": {**ok.fidelity, "sham_laser": {"Device placed": True}}}
            ),
            "'sham_laser' has no checklist item 'Device placed'",
        ),
        (
            ok.model_copy(update={"fidelity": {**ok.fidelity, "sham_laser": {}}}),
            "'sham_laser' checklist item 'Device placed as scripted with output off' not recorded",
        ),
        (
            ok.model_copy(update={"fidelity": {**ok.fidelity, "framing": {}}}),
            "checklist of 'framing', which was not delivered",
        ),
    ]
    for record, message in bad:
        with pytest.raises(DataValidationError, match=message):
            check_session(T, record)
    missed = _session("sham", 3, attended=False)
    assert session_fidelity(T, missed).fidelity is None


def test_session_record_from_form_data() -> None:
    data = _session("resolve", 6).to_dict()
    assert SessionRecord.from_dict(data) == _session("resolve", 6)
    with pytest.raises(DataValidationError, match="'attended': must be true or false; got 'yes'"):
        SessionRecord.from_dict({**data, "attended": "yes"}, source="session form")


def test_adherence_hand_computed() -> None:
    sessions = [_session("resolve", w, attended=w not in (3, 7, 8, 9, 10)) for w in range(1, 13)]
    home = [
        HomePractice(participant_id="P1", week=1, day=d, task="lrj", minutes=10.0)
        for d in range(1, 8)
    ] + [HomePractice(participant_id="P1", week=2, day=1, task="tactile", minutes=25.0)]
    a = adherence(T, participant_id="P1", arm="resolve", sessions=sessions, home=home)
    assert (a.sessions_planned, a.sessions_recorded, a.sessions_attended) == (12, 12, 7)
    assert a.received and not a.adherent  # 7 < 8
    assert a.clinic_minutes == 7 * 60.0 and a.fidelity == 1.0
    target = sum(T.plan("resolve", w).home_minutes_per_week for w in range(1, 13))
    assert a.home_minutes == 95.0 and a.home_target_minutes == target
    assert a.home_fraction == pytest.approx(95.0 / target) and a.home_adherent is False
    first = adherence(
        T, participant_id="P1", arm="resolve", sessions=sessions, home=home, through_week=1
    )
    assert first.home_target_minutes == 10 * 3 + 10 * 7 + 10 * 5
    assert first.home_fraction == pytest.approx(70 / 150) and first.sessions_attended == 1


def test_sham_adherence_has_no_home_programme() -> None:
    sessions = [_session("sham", w, pid="S1") for w in range(1, 13)]
    a = adherence(T, participant_id="S1", arm="sham", sessions=sessions)
    assert a.adherent and a.home_fraction is None and a.home_adherent is None
    h = HomePractice(participant_id="S1", week=1, day=1, task="lrj", minutes=5)
    with pytest.raises(DataValidationError, match="the sham arm has no home programme"):
        check_home_practice(T, "sham", h)


def test_adherence_refuses_mixed_or_duplicate_records() -> None:
    s = _session("resolve", 1)
    with pytest.raises(DataValidationError, match="two session records for week 1"):
        adherence(T, participant_id="P1", arm="resolve", sessions=[s, s])
    with pytest.raises(DataValidationError, match="session of P1 \\(resolve\\) given for P2"):
        adherence(T, participant_id="P2", arm="resolve", sessions=[s])
    with pytest.raises(DataValidationError, match="through_week must be 1 to 12; got 0"):
        adherence(T, participant_id="P1", arm="resolve", sessions=[s], through_week=0)
    h = HomePractice(participant_id="P1", week=1, day=1, task="sham_laser", minutes=5)
    with pytest.raises(DataValidationError, match="'sham_laser' is not an active-arm component"):
        adherence(T, participant_id="P1", arm="resolve", sessions=[s], home=[h])
