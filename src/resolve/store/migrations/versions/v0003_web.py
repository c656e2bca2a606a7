"""Web application: sessions, API tokens, login attempts, participant links, e-consent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the web tables; consent records are append-only (trigger)."""
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("last_seen_at", sa.String(40), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )
    op.create_index("ix_login_attempt_username_at", "login_attempt", ["username", "at"])
    op.create_table(
        "participant_link",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("visit", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("used_at", sa.String(40), nullable=True),
        sa.Column("draft", sa.JSON, nullable=False),
    )
    op.create_table(
        "consent_record",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("typed_name", sa.String(200), nullable=False),
        sa.Column("signed_at", sa.String(40), nullable=False),
        sa.Column("document_html", sa.Text, nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for what in ("UPDATE", "DELETE"):
        name = f"resolve_no_{what.lower()}_consent_record"
        if dialect == "postgresql":
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {what} ON consent_record "
                "FOR EACH ROW EXECUTE FUNCTION resolve_refuse_change()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {what} ON consent_record BEGIN "
                f"SELECT RAISE(ABORT, 'resolve: {what} on consent_record is not allowed "
                "(append-only record)'); END"
            )


def downgrade() -> None:
    """Refused on a database holding trial data."""
    bind = op.get_bind()
    for table in ("participant", "audit_event"):
        if bind.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one():
            raise RuntimeError(
                "refusing to downgrade: the database holds trial data and its audit trail"
            )
    for table in (
        "consent_record",
        "participant_link",
        "login_attempt",
        "api_token",
        "web_session",
    ):
        op.drop_table(table)
