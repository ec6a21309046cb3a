"""Complaints: the lifecycle status beside the coarse one, the resolution deadline, the escalation level, links
to the finding, refund and conversation behind a complaint, and the append-only history (``complaint_events``).

Existing rows keep their coarse ``status``; their lifecycle is mapped from it (open → opened, in_progress →
acknowledged, closed → closed) and their deadline is computed from the SLA hours in force when this
revision was written. Their history is not invented here: the store reads a complaint without events as
opened at ``opened_at``, plus whatever its status says happened since.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# Hours to resolve per category, as fairtel.care.DEFAULT_SLA had them: a migration does not follow later
# changes of the code.
_RESOLVE_HOURS = {"unexplained_charge": 48, "billing_error": 48, "fraud": 24, "privacy": 48}
_DEFAULT_RESOLVE_HOURS = 72
_LIFECYCLE = "lifecycle IN ('opened', 'acknowledged', 'resolved', 'closed', 'reopened')"


def upgrade() -> None:
    # SQLite cannot add a foreign key or a CHECK to an existing table: batch mode rebuilds it there.
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("lifecycle", sa.String(length=16), server_default="opened", nullable=False))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalation_level", sa.SmallInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("finding_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("adjustment_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("conversation_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key(op.f("fk_complaints_finding_id_findings"), "findings", ["finding_id"], ["finding_id"])
        batch.create_foreign_key(
            op.f("fk_complaints_adjustment_id_adjustments"), "adjustments", ["adjustment_id"], ["adjustment_id"]
        )
        batch.create_check_constraint(op.f("ck_complaints_lifecycle"), _LIFECYCLE)
        batch.create_check_constraint(op.f("ck_complaints_escalation_level"), "escalation_level >= 0")
    op.create_index(op.f("ix_complaints_due_at"), "complaints", ["due_at"], unique=False)
    op.create_index(op.f("ix_complaints_finding_id"), "complaints", ["finding_id"], unique=False)
    op.create_index(op.f("ix_complaints_adjustment_id"), "complaints", ["adjustment_id"], unique=False)
    op.create_index(op.f("ix_complaints_conversation_id"), "complaints", ["conversation_id"], unique=False)

    op.create_table(
        "complaint_events",
        sa.Column("complaint_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('status', 'escalation')", name=op.f("ck_complaint_events_kind")),
        sa.CheckConstraint(_LIFECYCLE.replace("lifecycle", "status"), name=op.f("ck_complaint_events_status")),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.complaint_id"], name=op.f("fk_complaint_events_complaint_id_complaints")
        ),
        sa.PrimaryKeyConstraint("complaint_id", "seq", name=op.f("pk_complaint_events")),
    )
    op.create_index(op.f("ix_complaint_events_at"), "complaint_events", ["at"], unique=False)

    _migrate_rows()


def _migrate_rows() -> None:
    complaints = sa.table(
        "complaints",
        sa.column("complaint_id", sa.String()),
        sa.column("category", sa.String()),
        sa.column("status", sa.String()),
        sa.column("opened_at", sa.DateTime(timezone=True)),
        sa.column("lifecycle", sa.String()),
        sa.column("due_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        complaints.update().values(
            lifecycle=sa.case(
                (complaints.c.status == "in_progress", "acknowledged"),
                (complaints.c.status == "closed", "closed"),
                else_="opened",
            )
        )
    )
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    rows = conn.execute(sa.select(complaints.c.complaint_id, complaints.c.category, complaints.c.opened_at)).all()
    for cid, category, opened_at in rows:
        if isinstance(opened_at, str):  # SQLite without the column type's help: UTC wall clock as text
            opened_at = datetime.fromisoformat(opened_at)
        due = opened_at + timedelta(hours=_RESOLVE_HOURS.get(category, _DEFAULT_RESOLVE_HOURS))
        # SQLite keeps the UTC wall clock without a zone (as fairtel.store UTCDateTime writes it)
        if sqlite:
            due = due.astimezone(UTC).replace(tzinfo=None) if due.tzinfo is not None else due
        conn.execute(complaints.update().where(complaints.c.complaint_id == cid).values(due_at=due))


def downgrade() -> None:
    op.drop_index(op.f("ix_complaint_events_at"), table_name="complaint_events")
    op.drop_table("complaint_events")
    for column in ("conversation_id", "adjustment_id", "finding_id", "due_at"):
        op.drop_index(op.f(f"ix_complaints_{column}"), table_name="complaints")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_constraint(op.f("ck_complaints_escalation_level"), type_="check")
        batch.drop_constraint(op.f("ck_complaints_lifecycle"), type_="check")
        batch.drop_constraint(op.f("fk_complaints_adjustment_id_adjustments"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_complaints_finding_id_findings"), type_="foreignkey")
        for column in ("conversation_id", "adjustment_id", "finding_id", "escalation_level", "due_at", "lifecycle"):
            batch.drop_column(column)
