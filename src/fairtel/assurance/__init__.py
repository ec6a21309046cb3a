"""assurance: charge assurance. Finds unexplained charges and says what to do about them.

Owns: the detectors (unconsented charges, charges after cancellation, duplicate charges, price mismatches,
confirmations that cannot be a person's, bill shock against caps, roaming without a welcome notice), the
ranking of suspicious value-added providers and the suspension list, refund and dismissal decisions, and
the subscriber notifications they cause. Does not own: the consent ledger and gate (consent/), storing
findings and adjustments (store/), or applying refunds to bills (billing/).
"""

from fairtel.assurance._billshock import DOMESTIC, EU_DATA_ROAMING, PRESETS, BillShockPolicy, bill_shock_findings
from fairtel.assurance._charges import charge_findings
from fairtel.assurance._confirmations import machine_speed_findings, replayed_evidence_findings, shared_evidence
from fairtel.assurance._finding import (
    BEFORE_HOLDING,
    CHARGE_KINDS,
    FINDING_ID_PURPOSE,
    FINDINGS_SCHEMA,
    Finding,
    FindingIds,
    FindingKind,
    FindingStatus,
    before_holding_counts,
    finding_id,
    findings_frame,
    mark_before_holding,
)
from fairtel.assurance._merchants import SIGNALS, MerchantPolicy, merchant_evidence, rank_merchants, suspension_list
from fairtel.assurance._notify import (
    FileOutbox,
    Outbox,
    OutboxMessage,
    bill_shock_messages,
    refund_messages,
    refund_reason_text,
)
from fairtel.assurance._refund_tax import BillTaxBase, ChargedRecord, RefundTaxes, charged_parts, take_back
from fairtel.assurance._refunds import (
    NOT_BILLED_REASON,
    RecordKey,
    RefundAdjustment,
    RefundDecisions,
    RefundPolicy,
    Resolution,
    ResolutionError,
    any_source,
    decide_refunds,
    dismiss,
    record_keys,
    refund,
    refund_reason,
    refund_reasons,
    refunded_text,
)
from fairtel.assurance._roaming import welcome_findings
from fairtel.assurance._run import AssurancePolicy, AssuranceRun, assure, detect

__all__ = [
    "BEFORE_HOLDING",
    "CHARGE_KINDS",
    "DOMESTIC",
    "EU_DATA_ROAMING",
    "FINDINGS_SCHEMA",
    "FINDING_ID_PURPOSE",
    "NOT_BILLED_REASON",
    "PRESETS",
    "SIGNALS",
    "AssurancePolicy",
    "AssuranceRun",
    "BillShockPolicy",
    "BillTaxBase",
    "ChargedRecord",
    "FileOutbox",
    "Finding",
    "FindingIds",
    "FindingKind",
    "FindingStatus",
    "MerchantPolicy",
    "Outbox",
    "OutboxMessage",
    "RecordKey",
    "RefundAdjustment",
    "RefundDecisions",
    "RefundPolicy",
    "RefundTaxes",
    "Resolution",
    "ResolutionError",
    "any_source",
    "assure",
    "before_holding_counts",
    "bill_shock_findings",
    "bill_shock_messages",
    "charge_findings",
    "charged_parts",
    "decide_refunds",
    "detect",
    "dismiss",
    "finding_id",
    "findings_frame",
    "machine_speed_findings",
    "mark_before_holding",
    "merchant_evidence",
    "rank_merchants",
    "record_keys",
    "refund",
    "refund_messages",
    "refund_reason",
    "refund_reason_text",
    "refund_reasons",
    "refunded_text",
    "replayed_evidence_findings",
    "shared_evidence",
    "suspension_list",
    "take_back",
    "welcome_findings",
]
