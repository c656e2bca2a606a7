"""docs/trial-security.md states the permission matrix and the arm views the code enforces."""

from __future__ import annotations

import io
import re
import shlex
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from resolve.cli._app import run
from resolve.ops.permissions import MATRIX, Operation, arm_view
from resolve.store.models import Role, TrialStatus

DOC = Path(__file__).resolve().parents[1] / "docs" / "trial-security.md"


def _table(name: str) -> list[dict[str, str]]:
    """The Markdown table between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert found is not None, f"no {name} table in {DOC.name}"
    lines = found.group(1).strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert set(lines[1].replace("|", "").strip()) <= {"-", " "}
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().removeprefix("|").removesuffix("|").split("|")]
        assert len(cells) == len(header), line
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def render_matrix() -> str:
    """The role columns of the permission table as they must read (paste-ready)."""
    roles = [r.value for r in Role]
    lines = [f"| operation | {' | '.join(roles)} |"]
    for op in Operation:
        cells = ["yes" if Role(r) in MATRIX[op] else "" for r in roles]
        lines.append(f"| {op.value} | {' | '.join(cells)} |")
    return "\n".join(lines)


def test_permission_table_equals_MATRIX() -> None:
    rows = _table("permission-matrix")
    in_doc = {row["operation"]: {r.value for r in Role if row[r.value] == "yes"} for row in rows}
    expected = {op.value: {r.value for r in roles} for op, roles in MATRIX.items()}
    assert [row["operation"] for row in rows] == [op.value for op in Operation], render_matrix()
    assert in_doc == expected, f"regenerate the table from MATRIX:\n{render_matrix()}"
    for row in rows:  # every cell is "yes" or empty, nothing else
        assert {row[r.value] for r in Role} <= {"yes", ""}, row


def test_arm_view_table_equals_arm_view() -> None:
    rows = _table("arm-views")
    assert [row["role"] for row in rows] == [r.value for r in Role]
    for row in rows:
        for status in TrialStatus:
            assert row[status.value] == arm_view(row["role"], trial_status=status.value), (
                row["role"],
                status.value,
            )


def _cli_commands() -> list[str]:
    commands: list[str] = []
    for row in _table("permission-matrix"):
        commands += re.findall(r"`([a-z -]+)`", row["CLI"])
    return commands


@pytest.mark.parametrize("command", _cli_commands())
def test_every_cli_command_in_the_table_exists(command: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run([*shlex.split(command), "--help"])
    assert code == 0, err.getvalue()
    assert "--db" in out.getvalue()


def test_the_doc_names_no_role_or_operation_that_does_not_exist() -> None:
    roles = {r.value for r in Role}
    for row in _table("permission-matrix"):
        assert set(row) == {"operation", "CLI", *roles}
