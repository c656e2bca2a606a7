"""The role matrix: every operation x every role, through the real operations.

Each case runs one operation of :mod:`resolve.ops` through ``Client.run`` as the
account of one role, on a copy of a prepared SQLite trial in which the
operation can succeed. Roles in the operation's row of
:data:`~resolve.ops.MATRIX` succeed (and the operation asked for exactly that
permission); every other role gets :class:`~resolve.ops.PermissionDenied` and
the database is unchanged, audit trail included.
"""

from __future__ import annotations

import ast
import inspect
import shutil
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from resolve import ops
from resolve.ops import MATRIX, Operation, links
from resolve.ops.context import Context
from resolve.ops.permissions import arm_view
from resolve.store.models import Role
from tests.db_fixtures import _dispose
from tests.ops.helpers import (
    ADMIN,
    ASSESSOR,
    CLINICIAN,
    ENROLLER,
    USER_OF_ROLE,
    audit_count,
    client,
    enrol,
    new_trial,
    randomise,
    screen,
    snapshot,
)

SPARE = "spare"


@dataclass(frozen=True)
class Case:
    """One operation called with arguments that succeed on the prepared trial."""

    fn: Callable[..., Any]
    op: Operation
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: Also refused for roles that may see no arm (an arm-revealing read).
    needs_arm_view: bool = False
    #: Run as the admin before the case (a state the operation needs).
    prepare: Callable[[ops.Context], Any] | None = None
    #: The participant account runs it through the prepared programme link.
    via_link: bool = False

    @property
    def name(self) -> str:
        return self.fn.__name__


def _lock(ctx: ops.Context) -> None:
    ops.lock_database(ctx, reason="final analysis")


DOCUMENT = "<article><p>I agree to take part.</p></article>"
#: A valid adverse event report (today's onset: after R1's consent, not in the future).
AE = {
    "onset_date": date.today().isoformat(),
    "description": "Aching lower back the day after the session",
    "serious": False,
    "severity": "mild",
    "relatedness": "possible",
    "expectedness": "expected",
    "outcome": "recovering",
    "action_taken": "none",
}


OUT = Path("export-out")  # relative to the test's folder (see ``_bind``)


class Prepared(str):
    """A value known only once the template trial is built (see ``_bind``)."""


#: The programme's participant (allocated the active arm), filled by the template fixture,
#: with a started LRJ block, its answers and a programme link.
ACTIVE, BLOCK, ANSWERS, TOKEN = (Prepared(n) for n in ("active", "block", "answers", "token"))
PREPARED: dict[str, Any] = {}
#: A week-1 session of the active arm with every checklist item ticked (filled too).
SESSION = Prepared("session")
CASES = [
    Case(ops.add_user, Operation.manage_users, ("newbie",), {"role": "monitor", "password": None}),
    Case(ops.deactivate_user, Operation.manage_users, (SPARE,), {"reason": "left the trial"}),
    Case(ops.set_password, Operation.manage_users, (SPARE, "a long enough password")),
    Case(ops.list_users, Operation.list_users),
    Case(
        ops.screen,
        Operation.screen,
        ("N1",),
        {"age": 40, "duration_weeks": 30, "pain": 6, "identity": "1990-09-09 NN"},
    ),
    Case(ops.consent, Operation.consent, ("S1",), {"version": "1.0"}),
    Case(ops.randomise, Operation.randomise, ("C1",)),
    Case(ops.assign_clinician, Operation.assign_clinician, ("R1",), {"clinician": "doc2"}),
    Case(ops.withdraw, Operation.withdraw, ("R1",), {"reason": "moved away"}),
    Case(ops.mark_lost, Operation.mark_lost, ("R1",), {"reason": "no contact"}),
    Case(
        ops.mark_randomised_in_error,
        Operation.mark_randomised_in_error,
        ("R1",),
        {"reason": "consent form unsigned"},
    ),
    Case(ops.emergency_unblind, Operation.emergency_unblind, ("R1",), {"reason": "SAE"}),
    Case(
        ops.record,
        Operation.record,
        ("R1",),
        {"visit": "week 18", "instrument": "nrs", "items": {"nrs_1": 3}},
    ),
    Case(
        ops.correct,
        Operation.correct,
        ("R1",),
        {"visit": "baseline", "instrument": "nrs", "items": {"nrs_1": 6}, "reason": "typo"},
    ),
    Case(ops.participants, Operation.view_participants),
    Case(ops.dashboard, Operation.view_participants),
    Case(ops.allocations, Operation.view_participants, needs_arm_view=True),
    Case(ops.visits, Operation.view_schedule),
    Case(ops.responses, Operation.view_responses),
    Case(ops.trial_schedule, Operation.view_schedule),
    Case(ops.participant_schedule, Operation.view_schedule, ("R1",)),
    Case(ops.overdue_visits, Operation.view_schedule, ("R1",)),
    Case(ops.export, Operation.export, (OUT,)),
    Case(ops.consort, Operation.consort),
    Case(ops.lock_database, Operation.lock_database, kwargs={"reason": "final analysis"}),
    Case(
        ops.unblind_statistician,
        Operation.unblind_statistician,
        kwargs={"reason": "analysis done"},
        prepare=_lock,
    ),
    Case(ops.verify_trial, Operation.verify_audit),
    Case(ops.events, Operation.read_audit),
    Case(ops.checkpoint, Operation.checkpoint_audit),
    Case(ops.create_link, Operation.create_participant_link, ("R1",), {"visit": "week 18"}),
    Case(ops.participant_links, Operation.create_participant_link, ("R1",)),
    Case(
        ops.consent_with_record,
        Operation.consent,
        ("S1",),
        {"version": "1.0", "typed_name": "Sam One", "document_html": DOCUMENT},
    ),
    Case(
        ops.record_econsent,
        Operation.consent,
        ("C1",),
        {"version": "1.0", "typed_name": "Cy One", "document_html": DOCUMENT},
    ),
    Case(ops.consent_records, Operation.view_participants, ("C1",)),
    Case(ops.consent_record, Operation.view_participants, ("C1", 1)),
    Case(ops.report_adverse_event, Operation.report_adverse_events, ("R1",), AE),
    Case(
        ops.follow_up_adverse_event,
        Operation.report_adverse_events,
        (1,),
        {"outcome": "recovered", "description": "Settled after two days"},
    ),
    Case(ops.adverse_events, Operation.view_adverse_events),
    Case(ops.care_team, Operation.assign_clinician, ("R1",)),
    Case(ops.programme, Operation.view_programme, (ACTIVE,), needs_arm_view=True),
    Case(ops.programme_export, Operation.view_programme, needs_arm_view=True),
    Case(ops.today, Operation.practise, (ACTIVE,), via_link=True),
    Case(ops.loading_state, Operation.practise, (ACTIVE,), via_link=True),
    Case(ops.link_participant, Operation.practise, (TOKEN,)),
    Case(ops.log_session, Operation.deliver_programme, (ACTIVE, SESSION)),
    Case(ops.start_block, Operation.practise, (ACTIVE, "lrj"), {"mode": "home"}, via_link=True),
    Case(ops.submit_block, Operation.practise, (ACTIVE, BLOCK, ANSWERS), via_link=True),
    Case(ops.override_level, Operation.deliver_programme, (ACTIVE, "lrj", 2, "doing well")),
    Case(
        ops.record_home_practice,
        Operation.practise,
        (ACTIVE, {"task": "lrj", "minutes": 12}),
        via_link=True,
    ),
    Case(
        ops.submit_quiz,
        Operation.practise,
        (ACTIVE, "pain-protects", {}),
        via_link=True,
    ),
    Case(ops.rate_imagery, Operation.practise, (ACTIVE, "lift-mirrored", 6, 2), via_link=True),
    Case(
        ops.log_loading,
        Operation.practise,
        (ACTIVE, {"exercise": "sit-to-stand", "achieved": 9}),
        via_link=True,
    ),
    Case(
        ops.log_drill,
        Operation.practise,
        (ACTIVE, {"drill_id": "pelvic-tilt", "sets": 2, "reps": 10}),
        via_link=True,
    ),
    Case(
        ops.record_tolerance_test,
        Operation.deliver_programme,
        (ACTIVE, "sit-to-stand", [10, 12, 11]),
    ),
    Case(
        ops.record_twopoint,
        Operation.deliver_programme,
        (ACTIVE, "lumbar_left", [{"separation_mm": 80, "response": "two"}]),
    ),
    Case(ops.create_programme_link, Operation.deliver_programme, (ACTIVE,)),
    Case(ops.revoke_programme_link, Operation.deliver_programme, (ACTIVE,)),
    Case(ops.programme_links, Operation.deliver_programme, (ACTIVE,)),
]
#: Operations that are not a function of a Context: nobody exists before the trial does
#: (init trial), or the credential is a participant's link token, not an account (submit
#: self-report: resolve.ops.links, tested in tests/web/test_selfreport.py).
NO_ACTOR = {Operation.init_trial, Operation.submit_self_report}


def allowed_roles(case: Case) -> set[Role]:
    roles = set(MATRIX[case.op])
    if case.needs_arm_view:
        roles = {r for r in roles if arm_view(r, trial_status="open") != "none"}
    return roles


# ----------------------------------------------------------------------------- the prepared trial
@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A SQLite trial (real key) where every case can succeed; (database file, key file).

    S1 screened; C1 consented, with e-consent record 1; R1 randomised by the
    enroller, treated by the clinician, baseline NRS recorded, adverse event 1;
    one account per role (the participant role's system account included) plus a
    spare enroller and a second clinician.
    """
    folder = tmp_path_factory.mktemp("template")
    key_file = tmp_path_factory.mktemp("key") / "trial.key"
    db = folder / "trial.db"
    url = f"sqlite:///{db}"
    new_trial(url, key_file=key_file)
    admin = client(url, ADMIN, key_file)
    admin.run(ops.add_user, SPARE, role="enroller", password=None)
    enrol(url, ["C1", "R1"], key_file=key_file)
    client(url, ENROLLER, key_file).run(lambda ctx: screen(ctx, "S1"))
    randomise(url, "R1", key_file=key_file)
    admin.run(ops.assign_clinician, "R1", clinician=CLINICIAN)
    admin.run(links.ensure_system_account)  # the participant role's account
    rc = client(url, ENROLLER, key_file)
    rc.run(
        ops.record_econsent, "C1", version="1.0", typed_name="Cy One", document_html=DOCUMENT
    )  # consent record 1
    rc.run(ops.report_adverse_event, "R1", **AE)  # adverse event 1
    client(url, ASSESSOR, key_file).run(
        ops.record, "R1", visit="baseline", instrument="nrs", items={"nrs_1": 7}
    )
    _prepare_programme(url, key_file)
    _dispose(url)  # checkpoint the WAL into the file: a plain copy is complete
    assert not Path(f"{db}-wal").exists()
    yield db, key_file


def _prepare_programme(url: str, key_file: Path) -> None:
    """A participant of the active arm treated by the clinician (R1 or G1-G3: with
    permuted blocks of at most 6, four allocations from the start hold both arms), a
    started LRJ block with its answers, a tolerance test (a loading plan) and a link."""
    from resolve.ops.programme_images import image_spec
    from resolve.ops.programme_store import template_for

    enrol(url, ["G1", "G2", "G3"], key_file=key_file)
    for pid in ("G1", "G2", "G3"):
        randomise(url, pid, key_file=key_file)
        client(url, ADMIN, key_file).run(ops.assign_clinician, pid, clinician=CLINICIAN)
    doc = client(url, CLINICIAN, key_file)
    arms = {p: doc.run(ops.programme, p).arm for p in ("R1", "G1", "G2", "G3")}
    t = template_for(doc.run(lambda ctx: ctx.protocol))
    active = next(p for p, arm in arms.items() if t.role(arm) == "active")
    block = doc.run(ops.start_block, active, "lrj", mode="home")
    answers = [
        {"file": x["file"], "response": image_spec(x["file"]).side, "rt_ms": 900.0}
        for x in block["stimuli"]
    ]
    doc.run(ops.record_tolerance_test, active, "sit-to-stand", [10, 12, 11])
    path, _ = doc.run(ops.create_programme_link, active)
    plan = t.plan(arms[active], 1)
    PREPARED.update(
        active=active,
        block=block["block_id"],
        answers=answers,
        token=path.rsplit("/", 1)[1],
        session={
            "week": 1,
            "attended": True,
            "minutes": 50,
            "components": plan.components,
            "fidelity": {c: dict.fromkeys(t.component(c).fidelity, True) for c in plan.components},
        },
    )


@pytest.fixture
def trial(template: tuple[Path, Path], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A fresh copy of the template: (URL, key file)."""
    db, key_file = template
    copy = tmp_path / "trial.db"
    shutil.copy2(db, copy)
    url = f"sqlite:///{copy}"
    yield url, key_file
    _dispose(url)


def _bind(case: Case, tmp_path: Path) -> tuple[Any, ...]:
    def value(a: Any) -> Any:
        if a is OUT:
            return tmp_path / a
        return PREPARED[str(a)] if isinstance(a, Prepared) else a

    return tuple(value(a) for a in case.args)


def _via_link(ctx: Context, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn`` as the holder of the prepared programme link (the participant account)."""
    ops.link_participant(ctx, PREPARED["token"])
    return fn(ctx, *args, **kwargs)


# ----------------------------------------------------------------------------- the matrix
def test_matrix_is_total() -> None:
    assert set(MATRIX) == set(Operation)
    for op, roles in MATRIX.items():
        assert roles and roles <= set(Role), op
    assert set(USER_OF_ROLE) == {r.value for r in Role}
    # Every operation has a case (or is an operation without an actor).
    assert {c.op for c in CASES} | NO_ACTOR == set(Operation)


def test_init_trial_creates_the_first_admin(tmp_path: Path) -> None:
    assert MATRIX[Operation.init_trial] == {Role.admin}
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    ops.init_trial(url, admin="founder")
    (user,) = client(url, "founder").run(ops.list_users)
    assert user["name"] == "founder" and user["role"] == "admin"


def _context_functions() -> dict[str, Callable[..., Any]]:
    """Public functions of :mod:`resolve.ops` whose first parameter is the Context."""
    out: dict[str, Callable[..., Any]] = {}
    for name in ops.__all__:
        fn = getattr(ops, name)
        if not inspect.isfunction(fn):
            continue
        params = list(inspect.signature(fn).parameters.values())
        if params and (params[0].name == "ctx" or params[0].annotation in ("Context", Context)):
            out[name] = fn
    return out


def test_every_context_operation_has_a_case() -> None:
    assert set(_context_functions()) == {c.name for c in CASES}
    assert len({c.name for c in CASES}) == len(CASES)


def _required_operations(fn: Callable[..., Any]) -> tuple[list[str], str | None]:
    """(Operations named in ``ctx.require(Operation.X)`` calls, the first statement's one)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    func = tree.body[0]
    assert isinstance(func, ast.FunctionDef)
    named = []
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "require"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "ctx"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Attribute)
        ):
            named.append(node.args[0].attr)
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    body = [s for s in body if not isinstance(s, ast.Import | ast.ImportFrom)]  # local imports
    first = None
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Call):
        call = body[0].value
        if isinstance(call.func, ast.Attribute) and call.func.attr == "require":
            arg = call.args[0]
            first = arg.attr if isinstance(arg, ast.Attribute) else None
    return named, first


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_operation_checks_its_permission_first(case: Case) -> None:
    named, first = _required_operations(case.fn)
    assert case.op.name in named, f"{case.name} never calls ctx.require(Operation.{case.op.name})"
    if case.fn is ops.set_password:
        # Changing one's own password (with the old one) needs no permission; the
        # account is looked up first to know whose password it is.
        return
    assert first == case.op.name, f"{case.name} does something before ctx.require"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_role_matrix(
    case: Case,
    role: Role,
    trial: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, key_file = trial
    if case.prepare is not None:
        client(url, ADMIN, key_file).run(case.prepare)
    required: list[Operation] = []
    real = Context.require

    def spy(self: Context, op: Operation) -> None:
        required.append(op)
        real(self, op)

    monkeypatch.setattr(Context, "require", spy)
    actor = client(url, USER_OF_ROLE[role.value], key_file)
    args = _bind(case, tmp_path)
    if role in allowed_roles(case):
        if case.via_link and role is Role.participant:
            result = actor.run(_via_link, case.fn, *args, **case.kwargs)
        else:
            result = actor.run(case.fn, *args, **case.kwargs)
        assert case.op in required
        if case.fn is ops.verify_trial:
            assert result is None
    else:
        before = snapshot(url)
        events = audit_count(url)
        with pytest.raises(ops.PermissionDenied, match=role.value):
            actor.run(case.fn, *args, **case.kwargs)
        assert audit_count(url) == events
        assert snapshot(url) == before
        if case.fn is ops.export:
            assert not (tmp_path / OUT).exists()


def test_a_deactivated_account_may_do_nothing(trial: tuple[str, Path]) -> None:
    url, key_file = trial
    client(url, ADMIN, key_file).run(ops.deactivate_user, ENROLLER, reason="left the trial")
    before = snapshot(url)
    for case in CASES:
        if Role.enroller in allowed_roles(case):
            with pytest.raises(ops.PermissionDenied, match="deactivated"):
                client(url, ENROLLER, key_file).run(case.fn, *_bind(case, Path(".")), **case.kwargs)
    assert snapshot(url) == before
