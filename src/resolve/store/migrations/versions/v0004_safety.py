"""Safety: adverse events (append-only) and one-time passwords.

Adds the ``adverse_event`` table (initial reports and follow-ups as new rows;
triggers refuse UPDATE and DELETE, and on PostgreSQL TRUNCATE) and the
``must_change_password`` flag of ``app_user`` (a password set by an admin must
be changed at the first sign-in).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLE = "adverse_event"


def upgrade() -> None:
    """Create the adverse event table with its triggers; add the one-time password flag."""
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("follows_id", sa.Integer, sa.ForeignKey("adverse_event.id"), nullable=True),
        sa.Column("follow_up", sa.Integer, nullable=False),
        sa.Column("onset_date", sa.String(10), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("serious", sa.Boolean, nullable=False),
        sa.Column("serious_criteria", sa.JSON, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("relatedness", sa.String(16), nullable=False),
        sa.Column("expectedness", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("action_taken", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("reported_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("follows_id", "follow_up", name="uq_adverse_event_follow_up"),
    )
    op.create_index("ix_adverse_event_participant", _TABLE, ["participant_id"])
    dialect = op.get_bind().dialect.name
    for what in ("UPDATE", "DELETE"):
        name = f"resolve_no_{what.lower()}_{_TABLE}"
        if dialect == "postgresql":
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {what} ON {_TABLE} "
                "FOR EACH ROW EXECUTE FUNCTION resolve_refuse_change()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {what} ON {_TABLE} BEGIN "
                f"SELECT RAISE(ABORT, 'resolve: {what} on {_TABLE} is not allowed "
                "(append-only record)'); END"
            )
    if dialect == "postgresql":
        op.execute(
            f"CREATE TRIGGER resolve_no_truncate_{_TABLE} BEFORE TRUNCATE ON {_TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION resolve_refuse_change()"
        )
    # A plain ADD COLUMN (no table copy on SQLite, so app_user keeps its constraints).
    op.add_column(
        "app_user",
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Refused on a database holding trial data."""
    bind = op.get_bind()
    for table in ("participant", "audit_event"):
        if bind.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one():
            raise RuntimeError(
                "refusing to downgrade: the database holds trial data and its audit trail"
            )
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("must_change_password")
    op.drop_table(_TABLE)
