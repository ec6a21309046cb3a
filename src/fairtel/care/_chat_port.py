"""What the assistant may know and do, as a port: the facts it reads and the actions it takes.

The assistant never computes an amount of its own: every number it says is a field of one of these facts,
filled by the implementation of :class:`CareData` over the operator's records (the store and the lake, or
an in-memory set of records in tests). Amounts are integer minor units with their currency, as at rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from fairtel.core.money import Money


@dataclass(frozen=True, slots=True)
class Text:
    """Words in both languages the assistant speaks (a plan's or an offer's name)."""

    zh: str
    en: str

    def get(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True, slots=True)
class LineFacts:
    """One subscriber line, and the other lines of the same customer (the numbers they may ask about).

    ``plan_id`` is the plan in force now (this month is billed under it); a plan change takes effect from the next
    billing period, and until then it is ``pending_plan_id`` from ``pending_from``. ``activated_at``: the
    number's current activation (the register's; a reassigned number has a later one); ``holder_since``: when the
    line moved to its current customer with its activation kept (an owner change, 过户; None: it did not, or the
    port does not say). The current customer's holding begins at ``holding_from``, the later of the two: the
    assistant tells only what is dated from it on (``care._holding``); None when the port says neither."""

    msisdn: str
    customer_id: str
    plan_id: str
    plan_name: Text
    status: str
    language: str
    lines: tuple[str, ...] = ()
    pending_plan_id: str | None = None
    pending_plan_name: Text | None = None
    pending_from: datetime | None = None
    activated_at: datetime | None = None
    holder_since: datetime | None = None

    @property
    def holding_from(self) -> datetime | None:
        """When the current customer's holding of the line began: the later of ``activated_at`` and
        ``holder_since`` (a stored instant without a zone is UTC); None when neither is known."""
        known = [at if at.tzinfo is not None else at.replace(tzinfo=UTC)
                 for at in (self.activated_at, self.holder_since) if at is not None]
        return max(known) if known else None


@dataclass(frozen=True, slots=True)
class BillItem:
    kind: str  # plan_fee, voice, sms, data, vas, roaming, adjustment, tax ...
    description: Text
    amount_minor: int


@dataclass(frozen=True, slots=True)
class BillFacts:
    """A month's bill: the issued bill when billing holds one, else the provisional sum of what the month's bill
    would carry (``issued`` False): the plan fee, the rated lines billing would charge, and the adjustments no bill
    carries yet that this month's bill would. ``total_minor`` is the sum of ``items``. ``held_minor``: usage held
    off the bill (made after the line's suspension: charged only once released), never in the total;
    ``rated`` False: no usage of the month is rated yet (the fee and adjustments alone)."""

    msisdn: str
    period: str
    currency: str
    total_minor: int
    items: tuple[BillItem, ...]
    issued: bool
    bill_id: str | None = None
    held_minor: int = 0
    rated: bool = True

    @property
    def total(self) -> Money:
        return Money.from_minor(self.total_minor, self.currency)


@dataclass(frozen=True, slots=True)
class ChargeFacts:
    """One charged usage record and, when asked for, the chain that priced it."""

    record_id: str
    kind: str
    started_at: datetime
    amount_minor: int
    currency: str
    rule_id: str | None
    allowance_id: str | None = None
    offer_id: str | None = None
    offer_name: Text | None = None
    subscription_id: str | None = None
    verdict: str | None = None  # VAS: the consent gate's verdict
    consent_state: str | None = None  # VAS: the subscription's state now (confirmed, cancelled, ...)
    confirmed_at: datetime | None = None
    roaming_country: str | None = None
    peer_zone: str | None = None
    explanation: Text | None = None  # the rating explain chain, rendered
    rule_name: Text | None = None  # the catalog's names of the rule and allowance, when it has them
    allowance_name: Text | None = None
    source: str | None = None  # the switch or platform that sent the record (ids are unique per source only)
    # usage held off the bill (billing's rule: made at or after the line's suspension): its amount is what it would
    # cost if released, not a charge; the reason (``line_suspended``), None when billable
    held: str | None = None
    # of a month whose bill is issued: True for a record on the bill (``amount_minor`` what the bill charged, the
    # explanation the tariff it was issued under, the corrections since told after it), False for usage rated after
    # the bill (on no bill: charged on the next one); None while the month is not billed (amounts as rated so far)
    on_bill: bool | None = None

    @property
    def amount(self) -> Money:
        return Money.from_minor(self.amount_minor, self.currency)


@dataclass(frozen=True, slots=True)
class AllowanceLeft:
    """An allowance of the plan in a period: ``quantity`` None is unlimited; units are seconds, messages, bytes."""

    allowance_id: str
    kind: str
    unit: str
    quantity: int | None
    used: int
    throttle_after: int | None = None

    @property
    def left(self) -> int | None:
        return None if self.quantity is None else max(0, self.quantity - self.used)


@dataclass(frozen=True, slots=True)
class LoyaltyEntryFacts:
    kind: str  # earn | redeem
    points: int
    reason: str
    booked_at: datetime


@dataclass(frozen=True, slots=True)
class LoyaltyFacts:
    """The balance is earns minus redemptions of ``entries`` (the whole ledger of the line)."""

    msisdn: str
    balance: int
    entries: tuple[LoyaltyEntryFacts, ...] = ()


@dataclass(frozen=True, slots=True)
class RoamingRate:
    """A rule's unit price as the assistant tells it: roaming in a zone, or calling a destination from home."""

    kind: str  # voice, sms, data
    rule_id: str
    price: Decimal | None  # per ``per``; None when the rule is free
    per: str  # "min", "SMS", "MiB"
    daily_cap: Decimal | None = None
    free: bool = False


@dataclass(frozen=True, slots=True)
class RoamingFacts:
    """Roaming prices for a country from the catalog's roaming zone, and the line's bill-shock cap."""

    country: str
    zone_id: str
    zone_name: Text
    currency: str
    rates: tuple[RoamingRate, ...]
    cap: Money | None  # the subscriber's own monthly roaming cap, when set
    default_cap: Money | None = None  # what applies without one (the operator's preset)


@dataclass(frozen=True, slots=True)
class DestinationFacts:
    """What calls and texts from home to a country cost on the line's plan in force now: the destination zone its
    dialling code falls in and the plan's rules for it (``rates``: outgoing voice per minute, SMS per message)."""

    country: str
    dialling_code: str
    zone_id: str
    zone_name: Text
    currency: str
    rates: tuple[RoamingRate, ...]


@dataclass(frozen=True, slots=True)
class ComplaintFacts:
    """One of the caller's complaints as they may see it: its lifecycle status (opened, acknowledged, resolved,
    closed, reopened) and the resolution deadline of its current term; never an agent's notes."""

    complaint_id: str
    category: str
    status: str
    opened_at: datetime
    due_at: datetime | None
    settled_at: datetime | None = None  # when last resolved or closed
    escalation_level: int = 0  # raised each time the current term's deadline passed unresolved
    refund: Money | None = None  # the refund or credit its resolution was settled with, if any
    refund_id: str | None = None  # that adjustment's id


@dataclass(frozen=True, slots=True)
class PlanFeeFacts:
    """The plan fee of a month's bill as billing charges it: the plan the month is billed under, its monthly fee,
    the days of the month the line was in service and the fee for them (``charged``: the whole fee for the whole
    month, else ``monthly × days / period_days`` rounded once)."""

    period: str
    plan_id: str
    plan_name: Text
    monthly: Money
    charged: Money
    days: int
    period_days: int


@dataclass(frozen=True, slots=True)
class AdjustmentFacts:
    """One refund, credit or debit of the line's adjustments ledger, as the subscriber may see it: ``kind`` refund,
    credit or debit; ``carried_by`` the bill period that carries (or will carry) it; ``bill_id`` the issued bill
    carrying it, None while no bill does (pending); ``corrects`` the period it corrects, when it says."""

    adjustment_id: str
    kind: str
    amount: Money
    reason: str
    created_at: datetime
    carried_by: str | None
    bill_id: str | None = None
    corrects: str | None = None
    record_id: str | None = None
    # the reason as a bill line words it, per language (zh, en); a reader that cannot word it leaves it empty
    reason_text: Mapping[str, str] = field(default_factory=dict)

    def reason_in(self, lang: str) -> str:
        return self.reason_text.get(lang) or self.reason

    @property
    def pending(self) -> bool:
        return self.bill_id is None


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """One of the caller's trouble tickets (a fault report, a hand-off) as they may see it: never an agent's notes."""

    ticket_id: str
    category: str  # no_signal, slow_data, ..., handoff
    status: str  # open, in_progress, resolved, closed
    opened_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionFacts:
    subscription_id: str
    offer_id: str
    name: Text
    provider: str | None
    price: Money | None
    period: str | None  # monthly | per_use
    state: str  # ordered, confirmed, cancelled, expired
    confirmed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AdviceFacts:
    """Best-plan advice, from insight when it is available."""

    current_plan: str
    best_plan: str
    best_plan_name: Text
    monthly_saving: Money
    reason: Text | None = None


@dataclass(frozen=True, slots=True)
class TicketRequest:
    category: str  # no_signal, slow_data, dropped_calls, no_service, other
    location: str
    since: str
    summary: str


@dataclass(frozen=True, slots=True)
class ComplaintRequest:
    category: str
    text: str
    channel: str = "chat"
    conversation_id: str | None = None
    links: Mapping[str, str] = field(default_factory=dict)  # e.g. {"record_id": ..., "finding_id": ...}


class CareData(Protocol):
    """The subscriber's own records, and the few things the assistant may change. Every method takes the
    line it is about; the assistant has already checked that the line belongs to the person it talks to."""

    def now(self) -> datetime: ...

    def line(self, msisdn: str) -> LineFacts | None: ...

    def bill(self, msisdn: str, period: str) -> BillFacts | None: ...

    def charges(self, msisdn: str, period: str) -> list[ChargeFacts]: ...

    def explain_charge(self, msisdn: str, record_id: str, language: str) -> ChargeFacts | None: ...

    def allowances(self, msisdn: str, period: str) -> list[AllowanceLeft]: ...

    def loyalty(self, msisdn: str) -> LoyaltyFacts: ...

    def redeem_points(self, msisdn: str, points: int, reason: str) -> LoyaltyFacts: ...

    def roaming(self, msisdn: str, country: str) -> RoamingFacts | None: ...

    def subscriptions(self, msisdn: str) -> list[SubscriptionFacts]: ...

    def cancel_subscription(self, msisdn: str, subscription_id: str) -> SubscriptionFacts: ...

    def open_ticket(self, msisdn: str, ticket: TicketRequest) -> str: ...

    def record_complaint(self, msisdn: str, complaint: ComplaintRequest) -> str: ...

    def hand_off(self, msisdn: str, reason: str, conversation_id: str) -> str:
        """A ticket in the agents' queue; ``reason`` is ``care.handoff_text``: what the subscriber asked for first,
        then the whole conversation."""
        ...

    def plan_advice(self, msisdn: str) -> AdviceFacts | None: ...

    def offer_aliases(self) -> Mapping[str, tuple[str, ...]]: ...


@runtime_checkable
class RoamingCapSetter(Protocol):
    """A data port that can also set the line's monthly roaming spending cap, as ``PUT /me/roaming-cap`` does
    (a new cap row, in the operator's currency, recorded as set by the assistant). ``amount`` None removes the
    cap; the cap in force afterwards is returned. A port without it leaves the assistant telling the subscriber
    where to change the cap."""

    def set_roaming_cap(self, msisdn: str, amount: Decimal | None) -> Money | None: ...


@runtime_checkable
class ComplaintReader(Protocol):
    """A data port that reads back the caller's own complaints, newest first (at most ``limit``): "what is the status
    of my complaint" is answered from them rather than recorded as a new one."""

    def complaints(self, msisdn: str, *, limit: int = 3) -> list[ComplaintFacts]: ...


@runtime_checkable
class ComplaintReopener(Protocol):
    """A data port that reopens the caller's own resolved complaint (not satisfied with its outcome), as a subscriber
    may through ``POST /complaints/{id}/reopen``: a new term with its own deadline; the complaint as it stands after."""

    def reopen_complaint(self, msisdn: str, complaint_id: str, note: str) -> ComplaintFacts: ...


@runtime_checkable
class PlanFees(Protocol):
    """A data port that tells how the plan fee of a month's bill was charged (``PlanFeeFacts``; None: no fee)."""

    def plan_fee(self, msisdn: str, period: str) -> PlanFeeFacts | None: ...


@runtime_checkable
class AdjustmentReader(Protocol):
    """A data port that reads the line's refunds, credits and debits, newest first (at most ``limit``): "has my refund
    arrived?" is answered from them."""

    def adjustments(self, msisdn: str, *, limit: int = 5) -> list[AdjustmentFacts]: ...


@runtime_checkable
class TicketReader(Protocol):
    """A data port that reads back the caller's own trouble tickets, newest first (at most ``limit``)."""

    def tickets(self, msisdn: str, *, limit: int = 3) -> list[TicketFacts]: ...


@runtime_checkable
class DestinationPrices(Protocol):
    """A data port that prices calls and texts from home to a country (``DestinationFacts``; None when the catalog
    cannot tell): "how much to call Hong Kong" is a question about that, not about roaming there."""

    def destination(self, msisdn: str, country: str) -> DestinationFacts | None: ...


@runtime_checkable
class LineReadAudit(Protocol):
    """A data port that records, in the access audit, that a conversation read a line other than the caller's
    own (``msisdn``: another line of the same customer; ``caller``: who is talking; ``topic``: the intent
    answered; ``holder``: the caller holds the customer account). A caller audits its own conversation itself
    (``POST /chat``); a read of another line must be found under that line's subject too."""

    def audit_line_read(self, msisdn: str, *, caller: str, topic: str, holder: bool) -> None: ...
