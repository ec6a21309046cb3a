"""The current holding of a line: what the assistant may tell the person who holds a number today.

A number is reassigned: closed, then activated again for another customer with a later ``activated_at``. Rating
already treats the earlier holder's usage as not this line's (``before_activation``) and their consent as given
"by a previous holder"; the assistant follows the same rule for everything it tells. The current holder's records
are those dated at or after the line's ``activated_at`` in the register:

- bills and plan fees of periods ending after it (the month of the activation included), allowances of those
  periods; in the month of an owner change the port tells the plan fee as billing charges it, for the days from the
  change (``PlanFeeFacts``; the store's port counts them by ``billing.fee_days``), and the assistant says the line
  moved to the customer on that day (``changed_hands_in``);
- usage records started at or after it;
- subscriptions first ordered (else confirmed) at or after it;
- complaints, trouble tickets and adjustments opened or created at or after it;
- loyalty entries booked at or after it (the balance is theirs alone), and redemptions checked against it;
- the roaming cap last set at or after it (an earlier holder's cap is none of theirs).

``HoldingData`` wraps any ``CareData`` port and filters what it returns by this rule (``Dialog`` wraps the port it
is given). The instant comes from the port's ``holding_since`` (``HoldingSince``: the store's port reads the
register's row) when it has one, else from ``LineFacts.holding_from`` (activation or owner change); the roaming cap set in the holding and the
subscriptions ordered before it from the port's ``HoldingRecords`` (the store's reads its tables). A port that
tells none of these is answered from as it is (nothing can be dated). The earlier holder's records stay where they are (staff
read them); only the holder of today is not told them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from fairtel.care._chat_port import (
    AdjustmentFacts,
    AdviceFacts,
    AllowanceLeft,
    BillFacts,
    CareData,
    ChargeFacts,
    ComplaintFacts,
    ComplaintRequest,
    DestinationFacts,
    LineFacts,
    LoyaltyFacts,
    PlanFeeFacts,
    RoamingFacts,
    SubscriptionFacts,
    TicketFacts,
    TicketRequest,
)
from fairtel.core.errors import ConflictError, FairtelError, NotFoundError
from fairtel.core.money import Money
from fairtel.core.time import Period

if TYPE_CHECKING:
    from fairtel.rating._explain import Refund


@runtime_checkable
class HoldingSince(Protocol):
    """A data port that tells when the current holder's holding of a line began (the register's ``activated_at``;
    None: unknown, nothing is filtered)."""

    def holding_since(self, msisdn: str) -> datetime | None: ...


@runtime_checkable
class HoldingRecords(Protocol):
    """A data port that dates what ``CareData`` does not: the roaming cap set in a holding, and the subscriptions
    ordered before it (an earlier holder's). The store's port has them; without them, the cap and the
    subscriptions are told as the port gives them."""

    def holding_roaming_cap(self, msisdn: str, since: datetime) -> Money | None: ...

    def subscriptions_ordered_before(self, msisdn: str, since: datetime) -> frozenset[str]: ...


# the optional ports ``Dialog`` checks for with ``isinstance``: a wrapper offers one only when the port it wraps does
OPTIONAL = (
    "complaints", "reopen_complaint", "tickets", "adjustments", "plan_fee", "roaming_cap", "set_roaming_cap",
    "charge_refunds", "attempted_charge", "destination", "audit_line_read",
)


def _aware(at: datetime) -> datetime:
    """A stored instant without a zone is UTC (how the store keeps instants on SQLite)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


class HoldingData:
    """``CareData`` limited to the current holding of each line (see the module's rule). Everything else is the
    wrapped port's."""

    def __init__(self, data: CareData) -> None:
        self.wrapped = data

    def __getattr__(self, name: str) -> Any:
        if name == "wrapped":  # not set yet (a copy being built): never recurse
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    # -- the rule -------------------------------------------------------------------------------------------
    def holding_since(self, msisdn: str) -> datetime | None:
        """When the current holder's holding of ``msisdn`` began; None when the port cannot tell."""
        if isinstance(self.wrapped, HoldingSince):  # the store's: the register's row alone
            at = self.wrapped.holding_since(msisdn)
            return None if at is None else _aware(at)
        facts = self.wrapped.line(msisdn)
        since = None if facts is None else facts.holding_from  # the later of activation and an owner change
        return None if since is None else _aware(since)

    def _held(self, at: datetime | None, since: datetime | None) -> bool:
        """Whether a record dated ``at`` is of the holding that began ``since`` (an undated one is kept)."""
        return since is None or at is None or _aware(at) >= since

    def _period_held(self, period: str, since: datetime | None) -> bool:
        """Whether billing period ``period`` (``YYYY-MM``) ends after ``since``: its month is the activation's or
        later, in the operator's time zone (the zone of ``now``)."""
        if since is None:
            return True
        local = since.astimezone(self.wrapped.now().tzinfo)
        return period >= f"{local.year:04d}-{local.month:02d}"

    # -- CareData -------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.wrapped.now()

    def line(self, msisdn: str) -> LineFacts | None:
        return self.wrapped.line(msisdn)

    def bill(self, msisdn: str, period: str) -> BillFacts | None:
        if not self._period_held(period, self.holding_since(msisdn)):
            return None
        return self.wrapped.bill(msisdn, period)

    def charges(self, msisdn: str, period: str) -> list[ChargeFacts]:
        since = self.holding_since(msisdn)
        if not self._period_held(period, since):
            return []
        return [c for c in self.wrapped.charges(msisdn, period) if self._held(c.started_at, since)]

    def explain_charge(self, msisdn: str, record_id: str, language: str) -> ChargeFacts | None:
        found = self.wrapped.explain_charge(msisdn, record_id, language)
        if found is None or not self._held(found.started_at, self.holding_since(msisdn)):
            return None
        return found

    def allowances(self, msisdn: str, period: str) -> list[AllowanceLeft]:
        if not self._period_held(period, self.holding_since(msisdn)):
            return []
        return self.wrapped.allowances(msisdn, period)

    def loyalty(self, msisdn: str) -> LoyaltyFacts:
        return self._loyalty_of(self.wrapped.loyalty(msisdn), self.holding_since(msisdn))

    def _loyalty_of(self, facts: LoyaltyFacts, since: datetime | None) -> LoyaltyFacts:
        if since is None:
            return facts
        entries = tuple(e for e in facts.entries if self._held(e.booked_at, since))
        if len(entries) == len(facts.entries):
            return facts
        balance = sum(e.points if e.kind == "earn" else -e.points for e in entries)
        return LoyaltyFacts(facts.msisdn, balance, entries)

    def redeem_points(self, msisdn: str, points: int, reason: str) -> LoyaltyFacts:
        """A redemption is checked against the holding's own balance: an earlier holder's points are not spent."""
        since = self.holding_since(msisdn)
        before = self._loyalty_of(self.wrapped.loyalty(msisdn), since)
        if points > before.balance:
            raise ConflictError(f"balance {before.balance} is less than {points} points",
                                details={"balance": before.balance, "points": points})
        return self._loyalty_of(self.wrapped.redeem_points(msisdn, points, reason), since)

    def roaming(self, msisdn: str, country: str) -> RoamingFacts | None:
        facts = self.wrapped.roaming(msisdn, country)
        if facts is None or facts.cap is None:
            return facts
        since = self.holding_since(msisdn)
        if since is None or not isinstance(self.wrapped, HoldingRecords):
            return facts
        cap = self.wrapped.holding_roaming_cap(msisdn, since)
        if cap == facts.cap:
            return facts
        return replace(facts, cap=cap)

    def subscriptions(self, msisdn: str) -> list[SubscriptionFacts]:
        since = self.holding_since(msisdn)
        found = self.wrapped.subscriptions(msisdn)
        if since is None:
            return found
        earlier = (self.wrapped.subscriptions_ordered_before(msisdn, since)
                   if isinstance(self.wrapped, HoldingRecords) else frozenset())
        return [s for s in found if s.subscription_id not in earlier and self._held(s.confirmed_at, since)]

    def cancel_subscription(self, msisdn: str, subscription_id: str) -> SubscriptionFacts:
        if not any(s.subscription_id == subscription_id for s in self.subscriptions(msisdn)):
            raise NotFoundError(f"no subscription {subscription_id}")
        return self.wrapped.cancel_subscription(msisdn, subscription_id)

    def open_ticket(self, msisdn: str, ticket: TicketRequest) -> str:
        return self.wrapped.open_ticket(msisdn, ticket)

    def record_complaint(self, msisdn: str, complaint: ComplaintRequest) -> str:
        return self.wrapped.record_complaint(msisdn, complaint)

    def hand_off(self, msisdn: str, reason: str, conversation_id: str) -> str:
        return self.wrapped.hand_off(msisdn, reason, conversation_id)

    def plan_advice(self, msisdn: str) -> AdviceFacts | None:
        return self.wrapped.plan_advice(msisdn)

    def offer_aliases(self) -> Mapping[str, tuple[str, ...]]:
        return self.wrapped.offer_aliases()

    # -- the optional ports (offered only when the wrapped port has them: ``holding_view``) ------------------
    def complaints(self, msisdn: str, *, limit: int = 3) -> list[ComplaintFacts]:
        # newest first: the holding's are the newest, so the first ``limit`` of them are among the port's
        since = self.holding_since(msisdn)
        return [c for c in self.wrapped.complaints(msisdn, limit=limit) if self._held(c.opened_at, since)]  # type: ignore[attr-defined]

    def reopen_complaint(self, msisdn: str, complaint_id: str, note: str) -> ComplaintFacts:
        if not any(c.complaint_id == complaint_id for c in self.complaints(msisdn, limit=50)):
            raise NotFoundError(f"no complaint {complaint_id}")
        found: ComplaintFacts = self.wrapped.reopen_complaint(msisdn, complaint_id, note)  # type: ignore[attr-defined]
        return found

    def tickets(self, msisdn: str, *, limit: int = 3) -> list[TicketFacts]:
        since = self.holding_since(msisdn)
        return [t for t in self.wrapped.tickets(msisdn, limit=limit) if self._held(t.opened_at, since)]  # type: ignore[attr-defined]

    def adjustments(self, msisdn: str, *, limit: int = 5) -> list[AdjustmentFacts]:
        since = self.holding_since(msisdn)
        return [a for a in self.wrapped.adjustments(msisdn, limit=limit)  # type: ignore[attr-defined]
                if self._held(a.created_at, since)]

    def plan_fee(self, msisdn: str, period: str) -> PlanFeeFacts | None:
        """The plan fee of a period of the holding, as the port tells it: as billing charges it (``PlanFeeFacts``), in
        the month of an owner change for the days from the change on."""
        if not self._period_held(period, self.holding_since(msisdn)):
            return None
        found: PlanFeeFacts | None = self.wrapped.plan_fee(msisdn, period)  # type: ignore[attr-defined]
        return found

    def roaming_cap(self, msisdn: str) -> Money | None:
        cap: Money | None = self.wrapped.roaming_cap(msisdn)  # type: ignore[attr-defined]
        since = self.holding_since(msisdn)
        if cap is None or since is None or not isinstance(self.wrapped, HoldingRecords):
            return cap
        return self.wrapped.holding_roaming_cap(msisdn, since)

    def set_roaming_cap(self, msisdn: str, amount: Decimal | None) -> Money | None:
        cap: Money | None = self.wrapped.set_roaming_cap(msisdn, amount)  # type: ignore[attr-defined]
        return cap

    def charge_refunds(self, msisdn: str, record_id: str, source: str | None) -> list[Refund]:
        found: list[Refund] = self.wrapped.charge_refunds(msisdn, record_id, source)  # type: ignore[attr-defined]
        return found

    def attempted_charge(self, msisdn: str, record_id: str, source: str | None) -> Money | None:
        found: Money | None = self.wrapped.attempted_charge(msisdn, record_id, source)  # type: ignore[attr-defined]
        return found

    def destination(self, msisdn: str, country: str) -> DestinationFacts | None:
        found: DestinationFacts | None = self.wrapped.destination(msisdn, country)  # type: ignore[attr-defined]
        return found

    def audit_line_read(self, msisdn: str, *, caller: str, topic: str, holder: bool) -> None:
        self.wrapped.audit_line_read(msisdn, caller=caller, topic=topic, holder=holder)  # type: ignore[attr-defined]


def changed_hands_in(facts: LineFacts | None, period: str, tz: str) -> datetime | None:
    """The instant the line moved to its current customer (``holder_since``, later than its activation: an owner
    change, 过户) when it falls inside billing period ``period`` after its start, else None: billing's
    ``changed_hands_in`` rule, whose bill for that period charges the current customer from the change on."""
    if facts is None or facts.holder_since is None:
        return None
    since = _aware(facts.holder_since)
    if facts.activated_at is not None and since <= _aware(facts.activated_at):
        return None
    try:
        per = Period.parse(period, tz)
    except (ValueError, FairtelError):
        return None
    return since if per.start < since < per.end else None


_VIEWS: dict[tuple[str, ...], type[HoldingData]] = {}


def holding_view(data: CareData) -> CareData:
    """``data`` limited to the current holding of each line (``HoldingData``), offering the same optional ports
    as ``data`` does (a port ``data`` lacks is blanked, so that ``isinstance`` checks answer as for ``data``)."""
    if isinstance(data, HoldingData):
        return data
    missing = tuple(n for n in OPTIONAL if not callable(getattr(data, n, None)))
    cls = _VIEWS.get(missing)
    if cls is None:
        cls = HoldingData if not missing else type("HoldingData", (HoldingData,), dict.fromkeys(missing))
        _VIEWS[missing] = cls
    view: CareData = cls(data)
    return view


__all__ = ["HoldingData", "HoldingRecords", "HoldingSince", "changed_hands_in", "holding_view"]
