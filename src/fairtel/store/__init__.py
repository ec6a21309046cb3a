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
    catalog_sha256,
    catalog_text,
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
    ConsentEvent,
    Customer,
    Finding,
    FraudCase,
    LoyaltyEntry,
    RoamingCap,
    Subscriber,
    Survey,
    TroubleTicket,
    User,
    metadata,
)
from fairtel.store._subscribers import (
    SubscriberRecord,
    count_subscribers,
    get_subscriber,
    import_subscribers,
    list_subscribers,
)

__all__ = [
    "CONSENT_LEDGER_SCHEMA",
    "AccessAudit",
    "AccessRecord",
    "Adjustment",
    "AgentAssignment",
    "ApiKey",
    "Base",
    "Bill",
    "BillLine",
    "CatalogVersion",
    "Complaint",
    "ConsentEvent",
    "ConsentEventRecord",
    "Customer",
    "Finding",
    "FraudCase",
    "ImportReport",
    "ImportStatus",
    "IssueReport",
    "Lake",
    "LakeError",
    "LoyaltyEntry",
    "PlainNumberInAuditError",
    "RoamingCap",
    "StoreCareData",
    "StoredCatalog",
    "Subscriber",
    "SubscriberRecord",
    "Survey",
    "TroubleTicket",
    "User",
    "access_log",
    "access_row",
    "adjustments_of",
    "bills_of_period",
    "catalog_sha256",
    "catalog_text",
    "connect",
    "consent_event_id",
    "consent_events_for",
    "consent_ledger",
    "count_subscribers",
    "current_catalog",
    "current_catalog_text",
    "current_revision",
    "get_bill",
    "get_subscriber",
    "head_revision",
    "import_consent_events",
    "import_subscribers",
    "issue_bills",
    "issued_bills",
    "list_subscribers",
    "metadata",
    "migrate",
    "pending_adjustments",
    "record_access",
    "record_accesses",
    "record_adjustments",
    "rerate_entries",
    "store_catalog",
]

if TYPE_CHECKING:
    from fairtel.store._care import StoreCareData


def __getattr__(name: str) -> object:
    # The assistant's data port pulls in the care package (and scikit-learn with it): loaded on first use so
    # that importing the store stays fast.
    if name == "StoreCareData":
        from fairtel.store._care import StoreCareData

        return StoreCareData
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
