"""OLTP tables (SQLAlchemy 2: SQLite or PostgreSQL, Alembic) and the usage lake (Parquet + DuckDB).

Repositories are plain functions over a ``Connection``; the caller owns the transaction
(``with engine.begin() as conn: import_subscribers(conn, path)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fairtel.store._audit import (
    AccessRecord,
    PlainNumberInAuditError,
    access_log,
    access_row,
    record_access,
    record_accesses,
)
from fairtel.store._billing import (
    IssueReport,
    adjustments_of,
    bill_periods,
    bills_of_period,
    get_bill,
    issue_bills,
    issued_bills,
    pending_adjustments,
    record_adjustments,
    rerate_entries,
)
from fairtel.store._catalog import (
    StoredCatalog,
    catalog_currency,
    catalog_sha256,
    catalog_text,
    catalog_version,
    current_catalog,
    current_catalog_text,
    store_catalog,
)
from fairtel.store._consent import (
    CONSENT_LEDGER_SCHEMA,
    ConsentEventRecord,
    consent_event_id,
    consent_events_for,
    consent_ledger,
    import_consent_events,
)
from fairtel.store._engine import connect
from fairtel.store._lake import Lake, LakeError
from fairtel.store._logins import LoginNameClashError, LoginNameTakenError, login_key, login_named
from fairtel.store._merchants import (
    MerchantSuspensionRecord,
    lift_merchant,
    merchant_suspensions,
    merchant_windows,
    suspend_merchant,
    suspended_merchants,
)
from fairtel.store._migrate import current_revision, head_revision, migrate
from fairtel.store._report import ImportReport, ImportStatus
from fairtel.store._schema import (
    AccessAudit,
    Adjustment,
    AgentAssignment,
    ApiKey,
    Base,
    Bill,
    BillLine,
    CatalogVersion,
    Complaint,
    ComplaintEvent,
    ConsentEvent,
    Customer,
    Finding,
    FraudCase,
    LineStatusHistory,
    LoyaltyEntry,
    MerchantSuspension,
    RoamingCap,
    Subscriber,
    SubscriberPlan,
    Survey,
    TroubleTicket,
    User,
    metadata,
)
from fairtel.store._subscribers import (
    PLAN_TIMELINE_SCHEMA,
    PLANS_IN_FORCE_SCHEMA,
    SUSPENSION_WINDOW_COLUMNS,
    SubscriberRecord,
    count_subscribers,
    get_subscriber,
    handed_over,
    import_subscribers,
    list_subscribers,
    note_register_changes,
    plan_timeline,
    plans_in_force,
    register_changes,
    register_lines,
    register_version,
    suspend_line,
    suspension_windows,
)

__all__ = [
    "CONSENT_LEDGER_SCHEMA",
    "PLANS_IN_FORCE_SCHEMA",
    "PLAN_TIMELINE_SCHEMA",
    "SUSPENSION_WINDOW_COLUMNS",
    "AccessAudit",
    "AccessRecord",
    "Adjustment",
    "AgentAssignment",
    "ApiKey",
    "AuditAs",
    "Base",
    "Bill",
    "BillLine",
    "CatalogVersion",
    "Complaint",
    "ComplaintEvent",
    "ComplaintHistoryEntry",
    "ComplaintRecord",
    "ConsentEvent",
    "ConsentEventRecord",
    "Customer",
    "EscalatedComplaint",
    "Finding",
    "FraudCase",
    "ImportReport",
    "ImportStatus",
    "IssueReport",
    "Lake",
    "LakeError",
    "LineStatusHistory",
    "LoginNameClashError",
    "LoginNameTakenError",
    "LoyaltyEntry",
    "MerchantSuspension",
    "MerchantSuspensionRecord",
    "PlainNumberInAuditError",
    "RoamingCap",
    "StoreCareData",
    "StoredCatalog",
    "Subscriber",
    "SubscriberPlan",
    "SubscriberRecord",
    "Survey",
    "TroubleTicket",
    "User",
    "access_log",
    "access_row",
    "adjustments_of",
    "bill_periods",
    "bills_of_period",
    "catalog_currency",
    "catalog_sha256",
    "catalog_text",
    "catalog_version",
    "complaint_facts",
    "connect",
    "consent_event_id",
    "consent_events_for",
    "consent_ledger",
    "count_subscribers",
    "current_catalog",
    "current_catalog_text",
    "current_revision",
    "escalate_overdue",
    "get_bill",
    "get_complaint",
    "get_subscriber",
    "handed_over",
    "head_revision",
    "import_consent_events",
    "import_subscribers",
    "issue_bills",
    "issued_bills",
    "lift_merchant",
    "list_subscribers",
    "login_key",
    "login_named",
    "merchant_suspensions",
    "merchant_windows",
    "metadata",
    "migrate",
    "move_complaint",
    "note_register_changes",
    "open_complaint",
    "pending_adjustments",
    "plan_timeline",
    "plans_in_force",
    "record_access",
    "record_accesses",
    "record_adjustments",
    "register_changes",
    "register_lines",
    "register_version",
    "rerate_entries",
    "store_catalog",
    "suspend_line",
    "suspend_merchant",
    "suspended_merchants",
    "suspension_windows",
]

if TYPE_CHECKING:
    from fairtel.store._care import StoreCareData
    from fairtel.store._complaints import (
        AuditAs,
        ComplaintHistoryEntry,
        ComplaintRecord,
        EscalatedComplaint,
        complaint_facts,
        escalate_overdue,
        get_complaint,
        move_complaint,
        open_complaint,
    )

# The assistant's data port and the complaint lifecycle pull in the care package (and scikit-learn with it):
# loaded on first use so that importing the store stays fast.
_LAZY = {
    "StoreCareData": "fairtel.store._care",
    **dict.fromkeys(("AuditAs", "ComplaintHistoryEntry", "ComplaintRecord", "EscalatedComplaint", "complaint_facts",
                     "escalate_overdue", "get_complaint", "move_complaint", "open_complaint"), "fairtel.store._complaints"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
