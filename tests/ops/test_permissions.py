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

    @property
    def name(self) -> str:
        return self.fn.__name__


def _lock(ctx: ops.Context) -> None:
    ops.lock_database(ctx, reason="final analysis")


OUT = Path("export-out")  # relative to the test's folder (see ``_bind``)
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

    S1 screened; C1 consented; R1 randomised by the enroller, treated by the
    clinician, baseline NRS recorded; one account per role (the participant role's
    system account included) plus a spare enroller and a second clinician.
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
    client(url, ASSESSOR, key_file).run(
        ops.record, "R1", visit="baseline", instrument="nrs", items={"nrs_1": 7}
    )
    _dispose(url)  # checkpoint the WAL into the file: a plain copy is complete
    assert not Path(f"{db}-wal").exists()
    yield db, key_file


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
    return tuple(tmp_path / a if a is OUT else a for a in case.args)


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
                client(url, ENROLLER, key_file).run(case.fn, *case.args, **case.kwargs)
    assert snapshot(url) == before
