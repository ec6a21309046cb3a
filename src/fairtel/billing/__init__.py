"""billing: rated lines → bills, adjustments, itemised statements and rerating. See README.md in this folder.

Owns the bill run (``run_bills``: pure, over frames), the bill and adjustment-entry model, pro-rating of
plan fees, taxes as a policy (``BillingPolicy``), itemised statements (``build_statement``, CSV and HTML, zh
and en) and rerating differences (``rerate_differences`` for usage, ``rerate_fees`` for plan fees,
``charge_late_vas`` for consented VAS charges rated after their bill), and held usage (made at or after a line's
suspension: left off the bill, ``release_held`` charges it once released), and when a period may be issued
(``check_issuable``: once it has ended on the operator's clock). Does not own rating (rating/), storing
bills and the adjustments ledger (store/) or finding what to refund (assurance/).
"""

from fairtel.billing._closing import PeriodNotEndedError, check_issuable
from fairtel.billing._held import HELD_RECORD_COLUMNS, ReleaseResult, held_records, release_held
from fairtel.billing._model import (
    TAXABLE_KINDS,
    USAGE_KINDS,
    Account,
    AdjustmentEntry,
    AdjustmentKind,
    Bill,
    BillingPolicy,
    BillLine,
    LineKind,
    Suspension,
    bill_id_for,
)
from fairtel.billing._reconcile import KindTie, Reconciliation, reconcile
from fairtel.billing._rerate import (
    EarlierRerate,
    FeeChange,
    FeeRerateResult,
    LateVasResult,
    RecordChange,
    RerateOutcome,
    RerateResult,
    Settled,
    charge_late_vas,
    rerate_differences,
    rerate_fees,
    rerate_outcome,
)
from fairtel.billing._run import (
    BILLABLE_VERDICTS,
    SNAPSHOT_COLUMNS,
    BillRun,
    ChunkedBillRun,
    charged,
    fee_parts,
    held_usage,
    kept_number_days,
    normalise_rated,
    prorated_fee_minor,
    run_bills,
    run_bills_chunked,
    snapshot_mismatches,
    suspensions_of,
)
from fairtel.billing._statement import (
    Statement,
    StatementLine,
    build_statement,
    format_quantity,
    line_text,
    statement_csv,
    statement_html,
)

__all__ = [
    "BILLABLE_VERDICTS",
    "HELD_RECORD_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "TAXABLE_KINDS",
    "USAGE_KINDS",
    "Account",
    "AdjustmentEntry",
    "AdjustmentKind",
    "Bill",
    "BillLine",
    "BillRun",
    "BillingPolicy",
    "ChunkedBillRun",
    "EarlierRerate",
    "FeeChange",
    "FeeRerateResult",
    "KindTie",
    "LateVasResult",
    "LineKind",
    "PeriodNotEndedError",
    "Reconciliation",
    "RecordChange",
    "ReleaseResult",
    "RerateOutcome",
    "RerateResult",
    "Settled",
    "Statement",
    "StatementLine",
    "Suspension",
    "bill_id_for",
    "build_statement",
    "charge_late_vas",
    "charged",
    "check_issuable",
    "fee_parts",
    "format_quantity",
    "held_records",
    "held_usage",
    "kept_number_days",
    "line_text",
    "normalise_rated",
    "prorated_fee_minor",
    "reconcile",
    "release_held",
    "rerate_differences",
    "rerate_fees",
    "rerate_outcome",
    "run_bills",
    "run_bills_chunked",
    "snapshot_mismatches",
    "statement_csv",
    "statement_html",
    "suspensions_of",
]
