"""Trial integrity: keyed concealment, accounts and roles, append-only audit trail.

Drops the stored allocation list and seed (arms are derived from the trial key,
kept outside the database); adds the trial's key fingerprint, uid and data
status, password hashes and sites of users, the re-enrolment hash and treating
clinician of participants; installs triggers that refuse UPDATE and DELETE of
audit events, allocations and participants (and DELETE of captured data).

A database created by revision 0001 holds no key: it cannot be upgraded in
place (the upgrade refuses one that holds participants).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: table -> operations refused by a trigger.
PROTECTED = {
    "audit_event": ("UPDATE", "DELETE"),
    "audit_head": ("DELETE",),
    "allocation": ("UPDATE", "DELETE"),
    "participant": ("DELETE",),
    "visit": ("DELETE",),
    "response": ("DELETE",),
    "response_revision": ("UPDATE", "DELETE"),
    "unblinding": ("UPDATE", "DELETE"),
}


def _holds_data() -> bool:
    bind = op.get_bind()
    for table in ("participant", "audit_event"):
        if bind.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one():
            return True
    return False


def _create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION resolve_refuse_change() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'resolve: % on % is not allowed (append-only record)', "
            "TG_OP, TG_TABLE_NAME USING ERRCODE = '42501'; END $$ LANGUAGE plpgsql"
        )
    for table, ops in PROTECTED.items():
        for what in ops:
            name = f"resolve_no_{what.lower()}_{table}"
            if dialect == "postgresql":
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {what} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION resolve_refuse_change()"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {what} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'resolve: {what} on {table} is not allowed "
                    "(append-only record)'); END"
                )
        if dialect == "postgresql" and table in ("audit_event", "audit_head", "allocation"):
            op.execute(
                f"CREATE TRIGGER resolve_no_truncate_{table} BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION resolve_refuse_change()"
            )


def _drop_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table, ops in PROTECTED.items():
        for what in ops:
            name = f"resolve_no_{what.lower()}_{table}"
            op.execute(
                f"DROP TRIGGER IF EXISTS {name}"
                + (f" ON {table}" if dialect == "postgresql" else "")
            )
        if dialect == "postgresql" and table in ("audit_event", "audit_head", "allocation"):
            op.execute(f"DROP TRIGGER IF EXISTS resolve_no_truncate_{table} ON {table}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS resolve_refuse_change()")


def upgrade() -> None:
    """Add the integrity columns and triggers; drop the stored list and seed."""
    if _holds_data():
        raise RuntimeError(
            "this database was created without a trial key and holds trial data; "
            "it cannot be upgraded in place (export it and start a new database)"
        )
    op.drop_table("sequence_slot")
    op.drop_table("sealed_parameter")
    with op.batch_alter_table("trial") as batch:
        batch.add_column(sa.Column("uid", sa.String(36), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("key_fingerprint", sa.String(16), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("demo_seed", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="open"))
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("password_hash", sa.Text, nullable=True))
        batch.add_column(sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("site", sa.String(64), nullable=True))
    with op.batch_alter_table("participant") as batch:
        batch.add_column(sa.Column("identity_hash", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column(
                "clinician_id",
                sa.Integer,
                sa.ForeignKey("app_user.id", name="fk_participant_clinician"),
                nullable=True,
            )
        )
        batch.create_unique_constraint("uq_participant_identity", ["trial_id", "identity_hash"])
    _create_triggers()


def downgrade() -> None:
    """Refused on a database holding trial data (it would lose the audit trail)."""
    if _holds_data():
        raise RuntimeError(
            "refusing to downgrade: the database holds trial data and its audit trail"
        )
    _drop_triggers()
    with op.batch_alter_table("participant") as batch:
        batch.drop_constraint("uq_participant_identity", type_="unique")
        batch.drop_constraint("fk_participant_clinician", type_="foreignkey")
        batch.drop_column("clinician_id")
        batch.drop_column("identity_hash")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("site")
        batch.drop_column("active")
        batch.drop_column("password_hash")
    with op.batch_alter_table("trial") as batch:
        batch.drop_column("status")
        batch.drop_column("demo_seed")
        batch.drop_column("key_fingerprint")
        batch.drop_column("uid")
    op.create_table(
        "sealed_parameter",
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trial.id"), primary_key=True),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
    )
    op.create_table(
        "sequence_slot",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("stratum_id", sa.Integer, sa.ForeignKey("stratum.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.UniqueConstraint("stratum_id", "position"),
    )
