"""Initial schema: trial, site, user, participant, randomisation, data capture, audit.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "trial",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("protocol", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "site",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trial.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.UniqueConstraint("trial_id", "code"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "participant",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trial.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("screening", sa.JSON, nullable=False),
        sa.Column("eligible", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("strata", sa.JSON, nullable=False),
        sa.Column("screened_at", sa.String(40), nullable=False),
        sa.Column("consent_version", sa.String(64), nullable=True),
        sa.Column("consented_at", sa.String(40), nullable=True),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("status_changed_at", sa.String(40), nullable=True),
        sa.UniqueConstraint("trial_id", "code"),
    )
    op.create_table(
        "stratum",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trial.id"), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("levels", sa.JSON, nullable=False),
        sa.Column("next_position", sa.Integer, nullable=False),
        sa.Column("length", sa.Integer, nullable=False),
        sa.UniqueConstraint("trial_id", "key"),
    )
    op.create_table(
        "sequence_slot",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("stratum_id", sa.Integer, sa.ForeignKey("stratum.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.UniqueConstraint("stratum_id", "position"),
    )
    op.create_table(
        "sealed_parameter",
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trial.id"), primary_key=True),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
    )
    op.create_table(
        "allocation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "participant_id",
            sa.Integer,
            sa.ForeignKey("participant.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.Column("stratum_id", sa.Integer, sa.ForeignKey("stratum.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("allocated_at", sa.String(40), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.UniqueConstraint("stratum_id", "position"),
    )
    op.create_table(
        "unblinding",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("recorded_on", sa.String(40), nullable=False),
        sa.UniqueConstraint("participant_id", "name"),
    )
    op.create_table(
        "response",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("visit_id", sa.Integer, sa.ForeignKey("visit.id"), nullable=False),
        sa.Column("instrument", sa.String(64), nullable=False),
        sa.Column("instrument_version", sa.String(200), nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.UniqueConstraint("visit_id", "instrument"),
    )
    op.create_table(
        "response_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("response_id", sa.Integer, sa.ForeignKey("response.id"), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("superseded_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("response_id", "revision"),
    )
    op.create_table(
        "session_delivery",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("session_number", sa.Integer, nullable=False),
        sa.Column("delivered_on", sa.String(40), nullable=True),
        sa.Column("attended", sa.Boolean, nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.UniqueConstraint("participant_id", "session_number"),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_id", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("old_value", sa.Text, nullable=True),
        sa.Column("new_value", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(
        sa.table(
            "audit_head",
            sa.column("id", sa.Integer),
            sa.column("last_id", sa.Integer),
            sa.column("last_hash", sa.String),
        ),
        [{"id": 1, "last_id": 0, "last_hash": "0" * 64}],
    )


def downgrade() -> None:
    """Drop every table (children first); refused on a database holding trial data."""
    bind = op.get_bind()
    for table in ("participant", "audit_event"):
        if bind.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one():
            raise RuntimeError(
                "refusing to downgrade: the database holds trial data and its audit trail"
            )
    for name in (
        "audit_event",
        "audit_head",
        "session_delivery",
        "response_revision",
        "response",
        "visit",
        "unblinding",
        "allocation",
        "sealed_parameter",
        "sequence_slot",
        "stratum",
        "participant",
        "app_user",
        "site",
        "trial",
    ):
        op.drop_table(name)
