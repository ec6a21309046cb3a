"""Initial schema: customers, subscribers, catalog versions, ledgers, bills, care, fraud, users and audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "access_audit",
        sa.Column("audit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("subject_msisdn_pseudonym", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_access_audit")),
    )
    op.create_index(op.f("ix_access_audit_actor"), "access_audit", ["actor"], unique=False)
    op.create_index(op.f("ix_access_audit_at"), "access_audit", ["at"], unique=False)
    op.create_index(
        op.f("ix_access_audit_subject_msisdn_pseudonym"), "access_audit", ["subject_msisdn_pseudonym"], unique=False
    )

    op.create_table(
        "catalog_versions",
        sa.Column("version_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("toml_text", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_catalog_versions")),
        sa.UniqueConstraint("sha256", name=op.f("uq_catalog_versions_sha256")),
    )
    op.create_index(op.f("ix_catalog_versions_activated_at"), "catalog_versions", ["activated_at"], unique=False)

    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.String(length=40), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("category", sa.String(length=48), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.CheckConstraint("status IN ('open', 'in_progress', 'closed')", name=op.f("ck_complaints_status")),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaints")),
    )
    op.create_index(op.f("ix_complaints_category"), "complaints", ["category"], unique=False)
    op.create_index(op.f("ix_complaints_msisdn"), "complaints", ["msisdn"], unique=False)
    op.create_index(op.f("ix_complaints_opened_at"), "complaints", ["opened_at"], unique=False)

    op.create_table(
        "consent_events",
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.CheckConstraint("channel IN ('sms', 'app', 'web', 'store', 'ivr')", name=op.f("ck_consent_events_channel")),
        sa.CheckConstraint(
            "event IN ('ordered', 'confirmed', 'cancelled', 'expired')", name=op.f("ck_consent_events_event")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("subscription_id", "event", "at", name=op.f("uq_consent_events_subscription_id_event_at")),
    )
    op.create_index("ix_consent_events_msisdn_at", "consent_events", ["msisdn", "at"], unique=False)

    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("segment", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "findings",
        sa.Column("finding_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=True),
        sa.Column("subscription_id", sa.String(length=64), nullable=True),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.CHAR(length=3), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'confirmed', 'resolved', 'dismissed')", name=op.f("ck_findings_status")),
        sa.CheckConstraint("(amount_minor IS NULL) = (currency IS NULL)", name=op.f("ck_findings_money_pair")),
        sa.PrimaryKeyConstraint("finding_id", name=op.f("pk_findings")),
    )
    op.create_index(op.f("ix_findings_kind"), "findings", ["kind"], unique=False)
    op.create_index(op.f("ix_findings_msisdn"), "findings", ["msisdn"], unique=False)
    op.create_index(op.f("ix_findings_status"), "findings", ["status"], unique=False)

    op.create_table(
        "fraud_cases",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("detector", sa.String(length=48), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'confirmed', 'false_alarm')", name=op.f("ck_fraud_cases_status")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_fraud_cases")),
    )
    op.create_index(op.f("ix_fraud_cases_detector"), "fraud_cases", ["detector"], unique=False)
    op.create_index(op.f("ix_fraud_cases_msisdn"), "fraud_cases", ["msisdn"], unique=False)
    op.create_index(op.f("ix_fraud_cases_status"), "fraud_cases", ["status"], unique=False)

    op.create_table(
        "loyalty_points",
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('earn', 'redeem')", name=op.f("ck_loyalty_points_kind")),
        sa.CheckConstraint("points > 0", name=op.f("ck_loyalty_points_points_positive")),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_loyalty_points")),
    )
    op.create_index(op.f("ix_loyalty_points_msisdn"), "loyalty_points", ["msisdn"], unique=False)

    op.create_table(
        "surveys",
        sa.Column("survey_id", sa.String(length=40), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint("score BETWEEN 0 AND 10", name=op.f("ck_surveys_score_0_10")),
        sa.PrimaryKeyConstraint("survey_id", name=op.f("pk_surveys")),
    )
    op.create_index(op.f("ix_surveys_answered_at"), "surveys", ["answered_at"], unique=False)
    op.create_index(op.f("ix_surveys_msisdn"), "surveys", ["msisdn"], unique=False)

    op.create_table(
        "trouble_tickets",
        sa.Column("ticket_id", sa.String(length=40), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=48), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'resolved', 'closed')", name=op.f("ck_trouble_tickets_status")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_trouble_tickets")),
    )
    op.create_index(op.f("ix_trouble_tickets_msisdn"), "trouble_tickets", ["msisdn"], unique=False)
    op.create_index(op.f("ix_trouble_tickets_opened_at"), "trouble_tickets", ["opened_at"], unique=False)

    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('subscriber', 'agent', 'analyst', 'fraud_analyst', 'admin')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_msisdn"), "users", ["msisdn"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["username"], ["users.username"], name=op.f("fk_api_keys_username_users")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_username"), "api_keys", ["username"], unique=False)

    op.create_table(
        "bills",
        sa.Column("bill_id", sa.String(length=40), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("catalog_version_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("subtotal_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_version_id"],
            ["catalog_versions.version_id"],
            name=op.f("fk_bills_catalog_version_id_catalog_versions"),
        ),
        sa.PrimaryKeyConstraint("bill_id", name=op.f("pk_bills")),
        sa.UniqueConstraint("msisdn", "period", name=op.f("uq_bills_msisdn_period")),
    )
    op.create_table(
        "subscribers",
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("language IN ('zh', 'en')", name=op.f("ck_subscribers_language")),
        sa.CheckConstraint("status IN ('active', 'suspended', 'closed')", name=op.f("ck_subscribers_status")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_subscribers_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("msisdn", name=op.f("pk_subscribers")),
    )
    op.create_index(op.f("ix_subscribers_customer_id"), "subscribers", ["customer_id"], unique=False)
    op.create_index(op.f("ix_subscribers_plan_id"), "subscribers", ["plan_id"], unique=False)

    op.create_table(
        "adjustments",
        sa.Column("adjustment_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("bill_id", sa.String(length=40), nullable=True),
        sa.Column("finding_id", sa.String(length=40), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("kind IN ('refund', 'credit', 'debit')", name=op.f("ck_adjustments_kind")),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_adjustments_amount_positive")),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.bill_id"], name=op.f("fk_adjustments_bill_id_bills")),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.finding_id"], name=op.f("fk_adjustments_finding_id_findings")
        ),
        sa.PrimaryKeyConstraint("adjustment_id", name=op.f("pk_adjustments")),
    )
    op.create_index(op.f("ix_adjustments_finding_id"), "adjustments", ["finding_id"], unique=False)
    op.create_index(op.f("ix_adjustments_msisdn"), "adjustments", ["msisdn"], unique=False)

    op.create_table(
        "bill_lines",
        sa.Column("bill_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.bill_id"], name=op.f("fk_bill_lines_bill_id_bills")),
        sa.PrimaryKeyConstraint("bill_id", "line_no", name=op.f("pk_bill_lines")),
    )


def downgrade() -> None:
    op.drop_table("bill_lines")
    op.drop_index(op.f("ix_adjustments_msisdn"), table_name="adjustments")
    op.drop_index(op.f("ix_adjustments_finding_id"), table_name="adjustments")

    op.drop_table("adjustments")
    op.drop_index(op.f("ix_subscribers_plan_id"), table_name="subscribers")
    op.drop_index(op.f("ix_subscribers_customer_id"), table_name="subscribers")

    op.drop_table("subscribers")
    op.drop_table("bills")
    op.drop_index(op.f("ix_api_keys_username"), table_name="api_keys")

    op.drop_table("api_keys")
    op.drop_index(op.f("ix_users_msisdn"), table_name="users")

    op.drop_table("users")
    op.drop_index(op.f("ix_trouble_tickets_opened_at"), table_name="trouble_tickets")
    op.drop_index(op.f("ix_trouble_tickets_msisdn"), table_name="trouble_tickets")

    op.drop_table("trouble_tickets")
    op.drop_index(op.f("ix_surveys_msisdn"), table_name="surveys")
    op.drop_index(op.f("ix_surveys_answered_at"), table_name="surveys")

    op.drop_table("surveys")
    op.drop_index(op.f("ix_loyalty_points_msisdn"), table_name="loyalty_points")

    op.drop_table("loyalty_points")
    op.drop_index(op.f("ix_fraud_cases_status"), table_name="fraud_cases")
    op.drop_index(op.f("ix_fraud_cases_msisdn"), table_name="fraud_cases")
    op.drop_index(op.f("ix_fraud_cases_detector"), table_name="fraud_cases")

    op.drop_table("fraud_cases")
    op.drop_index(op.f("ix_findings_status"), table_name="findings")
    op.drop_index(op.f("ix_findings_msisdn"), table_name="findings")
    op.drop_index(op.f("ix_findings_kind"), table_name="findings")

    op.drop_table("findings")
    op.drop_table("customers")
    op.drop_index("ix_consent_events_msisdn_at", table_name="consent_events")

    op.drop_table("consent_events")
    op.drop_index(op.f("ix_complaints_opened_at"), table_name="complaints")
    op.drop_index(op.f("ix_complaints_msisdn"), table_name="complaints")
    op.drop_index(op.f("ix_complaints_category"), table_name="complaints")

    op.drop_table("complaints")
    op.drop_index(op.f("ix_catalog_versions_activated_at"), table_name="catalog_versions")

    op.drop_table("catalog_versions")
    op.drop_index(op.f("ix_access_audit_subject_msisdn_pseudonym"), table_name="access_audit")
    op.drop_index(op.f("ix_access_audit_at"), table_name="access_audit")
    op.drop_index(op.f("ix_access_audit_actor"), table_name="access_audit")

    op.drop_table("access_audit")
