"""Programme: append-only programme records and personal programme links.

Adds ``programme_record`` (session logs, blocks, decisions, home practice ...;
triggers refuse UPDATE and DELETE, and on PostgreSQL TRUNCATE) and
``programme_link`` (revocable, expiring links, tokens stored hashed).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLE = "programme_record"


def upgrade() -> None:
    """Create the programme tables and the append-only triggers of the records."""
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trial.id"), nullable=False),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("week", sa.Integer, nullable=False),
        sa.Column("ref", sa.String(200), nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("recorded_by", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("corrects", sa.Integer, sa.ForeignKey("programme_record.id"), nullable=True),
        sa.UniqueConstraint("participant_id", "kind", "ref", name="uq_programme_record_ref"),
    )
    op.create_index("ix_programme_record_participant_kind", _TABLE, ["participant_id", "kind"])
    op.create_table(
        "programme_link",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
        sa.Column("revoked_by", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
    )
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


def downgrade() -> None:
    """Refused on a database holding trial data."""
    bind = op.get_bind()
    for table in ("participant", "audit_event"):
        if bind.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one():
            raise RuntimeError(
                "refusing to downgrade: the database holds trial data and its audit trail"
            )
    op.drop_table("programme_link")
    op.drop_table(_TABLE)
