"""consent: the VAS subscription ledger (append-only) and its projections, and the consent gate.

Owns: parsing and validating consent events (JSON Lines, DESIGN.md contract), the append-only ledger, the
ordered → confirmed → cancelled/expired state machine as projections, and ``gate_vas``, which decides for
each value-added charge whether it is billable and why. Does not own: storing events (store/), the
catalog's offers (catalog/; any object with the ``OfferLike`` attributes is accepted), or the findings
raised from refused charges (assurance/).
"""

from fairtel.consent._gate import GATE_COLUMNS, Verdict, charge_key, gate_vas, line_states, subscription_coverage
from fairtel.consent._ledger import (
    EARLIEST_EVENT,
    EVENT_FUTURE_TOLERANCE,
    EVENT_SCHEMA,
    AppendResult,
    ConsentLedger,
    EventBatch,
    as_events,
    empty_events,
    event_time_problem,
    parse_consent_lines,
    read_consent_events,
)
from fairtel.consent._offer import Offer, OfferBook, OfferLike, OfferPeriod, offer_book, offers_frame
from fairtel.consent._policy import DEFAULT_POLICY, REGULATORY_MIN_RETENTION_MONTHS, ConsentPolicy
from fairtel.consent._projection import (
    CLOSING_SOURCE,
    CODE_STEP,
    LINE_CLOSED,
    SUBSCRIPTION_SCHEMA,
    ConfirmationStatus,
    SubscriptionState,
    archivable,
    chargeable_intervals,
    closing_evidence,
    code_verified,
    ends_at_closing,
    project_subscriptions,
    state_expr,
    states_at,
)

__all__ = [
    "CLOSING_SOURCE",
    "CODE_STEP",
    "DEFAULT_POLICY",
    "EARLIEST_EVENT",
    "EVENT_FUTURE_TOLERANCE",
    "EVENT_SCHEMA",
    "GATE_COLUMNS",
    "LINE_CLOSED",
    "REGULATORY_MIN_RETENTION_MONTHS",
    "SUBSCRIPTION_SCHEMA",
    "AppendResult",
    "ConfirmationStatus",
    "ConsentLedger",
    "ConsentPolicy",
    "EventBatch",
    "Offer",
    "OfferBook",
    "OfferLike",
    "OfferPeriod",
    "SubscriptionState",
    "Verdict",
    "archivable",
    "as_events",
    "charge_key",
    "chargeable_intervals",
    "closing_evidence",
    "code_verified",
    "empty_events",
    "ends_at_closing",
    "event_time_problem",
    "gate_vas",
    "line_states",
    "offer_book",
    "offers_frame",
    "parse_consent_lines",
    "project_subscriptions",
    "read_consent_events",
    "state_expr",
    "states_at",
    "subscription_coverage",
]
