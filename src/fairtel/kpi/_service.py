"""Service indicators of one month, computed from plain facts (the CLI and the API gather them).

- complaints per million subscribers, overall and per category (operators report about 0.78 per million
  for unexplained charges);
- SLA attainment: complaints resolved by the deadline stored when they were opened (their category's, for
  complaints stored without one), and open ones already late; a reopened complaint counts as open again;
- NPS of the month's survey answers;
- the assistant: intent recognition rate (messages the intent engine judged that got an in-scope intent at
  or above the confidence threshold), containment (conversations closed without a human) and hand-off rate;
- unexplained-charge findings, the amount at stake, and the refunds made;
- rating timeliness: the share of records rated within 15 minutes of arrival, when rated data carries both
  instants.

Ratios are Decimals rounded half-up for display (4 places for shares, 2 for per-million rates); counts
stay integers, so every ratio can be checked against them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fairtel.care import DEFAULT_SLA, ComplaintCategory, SlaPolicy, nps, resolve_due
from fairtel.core.money import Money
from fairtel.core.time import require_aware

MILLION = 1_000_000
UNEXPLAINED_CHARGE_REFERENCE = Decimal("0.78")  # complaints per million subscribers, as operators report
UNEXPLAINED_FINDINGS = frozenset(
    {"unconsented_charge", "charge_after_cancellation", "duplicate_charge", "price_mismatch", "unknown_offer_charge"}
)
TIMELINESS_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ComplaintFact:
    complaint_id: str
    category: str
    channel: str
    opened_at: datetime
    closed_at: datetime | None = None  # when last settled (resolved or closed); None while open or reopened
    due_at: datetime | None = None  # the resolution deadline stored with the complaint


@dataclass(frozen=True, slots=True)
class FindingFact:
    kind: str
    amount_minor: int | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class RefundFact:
    amount_minor: int
    currency: str
    finding_id: str | None = None


@dataclass(frozen=True)
class KpiInputs:
    """Everything of one period (``YYYY-MM``) the indicators need. ``turns`` are the conversation log's
    records (``intent``, ``confidence``, ``classified``, ``out_of_scope``, ``conversation_id``,
    ``handed_off``, ``language``); ``timeliness`` pairs (arrived_at, rated_at) or None when rated data does
    not carry them."""

    period: str
    subscribers: int
    now: datetime
    complaints: Sequence[ComplaintFact] = ()
    survey_scores: Sequence[int] = ()
    turns: Sequence[Mapping[str, Any]] = ()
    findings: Sequence[FindingFact] = ()
    refunds: Sequence[RefundFact] = ()
    timeliness: Sequence[tuple[datetime, datetime] | tuple[datetime, datetime, int]] | None = None
    currency: str = "CNY"


def share(part: int, whole: int) -> Decimal | None:
    if whole <= 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def per_million(count: int, subscribers: int) -> Decimal | None:
    if subscribers <= 0:
        return None
    return (Decimal(count) * MILLION / Decimal(subscribers)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def complaint_rates(complaints: Sequence[ComplaintFact], subscribers: int) -> dict[str, Any]:
    by_category = Counter(c.category for c in complaints)
    unexplained = by_category.get(ComplaintCategory.UNEXPLAINED_CHARGE.value, 0)
    return {
        "total": len(complaints),
        "per_million": _text(per_million(len(complaints), subscribers)),
        "by_category": {
            cat: {"count": n, "per_million": _text(per_million(n, subscribers))} for cat, n in sorted(by_category.items())
        },
        "unexplained_charge": unexplained,
        "unexplained_charge_per_million": _text(per_million(unexplained, subscribers)),
        "unexplained_charge_reference_per_million": str(UNEXPLAINED_CHARGE_REFERENCE),
    }


def sla_attainment(complaints: Sequence[ComplaintFact], now: datetime, policy: SlaPolicy = DEFAULT_SLA) -> dict[str, Any]:
    """Resolved complaints settled by their resolution deadline; open ones past it. The deadline is the one
    stored with the complaint, else its category's under ``policy``."""
    now = require_aware(now, "now").astimezone(UTC)
    resolved = in_time = overdue = 0
    for c in complaints:
        # elapsed hours and instants compared in UTC: the operator's zone may change its clocks
        due = (c.due_at if c.due_at is not None else resolve_due(c.category, c.opened_at, policy)).astimezone(UTC)
        if c.closed_at is not None:
            resolved += 1
            in_time += c.closed_at.astimezone(UTC) <= due
        elif now > due:
            overdue += 1
    return {"resolved": resolved, "resolved_in_time": in_time, "attainment": _text(share(in_time, resolved)),
            "open": len(complaints) - resolved, "open_overdue": overdue}


def assistant_figures(
    turns: Sequence[Mapping[str, Any]], *, oos_label: str = "out_of_scope", threshold: float = 0.0
) -> dict[str, Any]:
    """Recognition: of the messages the intent engine judged, the share given an in-scope intent with
    confidence ≥ ``threshold``. Containment: conversations that never reached a human."""
    judged = [t for t in turns if t.get("classified")]
    recognised = [
        t for t in judged
        if not t.get("out_of_scope") and t.get("intent") not in (None, oos_label)
        and float(t.get("confidence") or 0.0) >= threshold
    ]
    conversations: dict[str, bool] = {}
    for t in turns:
        cid = str(t.get("conversation_id"))
        conversations[cid] = conversations.get(cid, False) or bool(t.get("handed_off"))
    handed = sum(conversations.values())
    by_language: dict[str, dict[str, Any]] = {}
    for lang in sorted({str(t.get("language")) for t in judged}):
        j = [t for t in judged if t.get("language") == lang]
        r = [t for t in recognised if t.get("language") == lang]
        by_language[lang] = {"messages": len(j), "recognised": len(r), "recognition_rate": _text(share(len(r), len(j)))}
    return {
        "messages": len(turns),
        "classified": len(judged),
        "recognised": len(recognised),
        "recognition_rate": _text(share(len(recognised), len(judged))),
        "by_language": by_language,
        "conversations": len(conversations),
        "handed_off": handed,
        "containment_rate": _text(share(len(conversations) - handed, len(conversations))),
        "handoff_rate": _text(share(handed, len(conversations))),
    }


def charge_figures(findings: Sequence[FindingFact], refunds: Sequence[RefundFact], currency: str) -> dict[str, Any]:
    unexplained = [f for f in findings if f.kind in UNEXPLAINED_FINDINGS]
    at_stake = sum(f.amount_minor or 0 for f in unexplained if f.currency in (None, currency))
    refunded = sum(r.amount_minor for r in refunds if r.currency == currency)
    return {
        "unexplained_findings": len(unexplained),
        "by_kind": dict(sorted(Counter(f.kind for f in unexplained).items())),
        "amount_at_stake": str(Money.from_minor(at_stake, currency).amount),
        "refunds": len(refunds),
        "refunds_for_findings": sum(1 for r in refunds if r.finding_id),
        "refunded": str(Money.from_minor(refunded, currency).amount),
        "currency": currency,
    }


def rating_timeliness(
    pairs: Sequence[tuple[datetime, datetime] | tuple[datetime, datetime, int]] | None,
    within: timedelta = TIMELINESS_WINDOW,
) -> dict[str, Any] | None:
    """Share of records rated within ``within`` of their arrival; ``pairs``: (arrived, rated) per record, or
    (arrived, rated, records) per file."""
    if pairs is None:
        return None
    total = on_time = 0
    for p in pairs:
        n = p[2] if len(p) == 3 else 1
        total += n
        on_time += n if p[1].astimezone(UTC) - p[0].astimezone(UTC) <= within else 0  # elapsed, not wall-clock
    return {"records": total, "within_window": on_time, "window_minutes": int(within.total_seconds() // 60),
            "share": _text(share(on_time, total))}


@dataclass(frozen=True)
class KpiReport:
    period: str
    subscribers: int
    complaints: dict[str, Any]
    sla: dict[str, Any]
    nps: dict[str, Any]
    assistant: dict[str, Any]
    charges: dict[str, Any]
    rating_timeliness: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period, "subscribers": self.subscribers, "complaints": self.complaints, "sla": self.sla,
            "nps": self.nps, "assistant": self.assistant, "charges": self.charges,
            "rating_timeliness": self.rating_timeliness, "notes": list(self.notes),
        }


def compute_kpis(
    inputs: KpiInputs, *, sla: SlaPolicy = DEFAULT_SLA, oos_label: str = "out_of_scope", threshold: float = 0.0
) -> KpiReport:
    notes: list[str] = []
    if inputs.subscribers <= 0:
        notes.append("no subscribers in the period: per-million rates are undefined")
    if inputs.timeliness is None:
        notes.append("no file of this period was rated online (fairtel watch --rate): rating timeliness not measured")
    return KpiReport(
        period=inputs.period,
        subscribers=inputs.subscribers,
        complaints=complaint_rates(inputs.complaints, inputs.subscribers),
        sla=sla_attainment(inputs.complaints, inputs.now, sla),
        nps=nps(inputs.survey_scores).to_dict(),
        assistant=assistant_figures(inputs.turns, oos_label=oos_label, threshold=threshold),
        charges=charge_figures(inputs.findings, inputs.refunds, inputs.currency),
        rating_timeliness=rating_timeliness(inputs.timeliness),
        notes=notes,
    )
