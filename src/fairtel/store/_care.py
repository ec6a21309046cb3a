"""The assistant's data port (``fairtel.care.CareData``) over the database and the usage lake.

Reads: subscribers, issued bills and their lines, adjustments, the consent ledger, the loyalty ledger,
roaming caps (database); rated lines (``<lake>/rated/period=YYYY-MM``, through ``Lake.files``, which finishes a
rating commit left pending first). Writes, each in its own transaction: a cancelled consent event, a loyalty
redemption, a trouble ticket, a complaint. Every method reads the one line it is given: the assistant has
already checked that the line is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from fairtel.care import (
    DEFAULT_SLA,
    DEMO_OFFER_ALIASES,
    AdviceFacts,
    AllowanceLeft,
    BillFacts,
    BillItem,
    ChargeFacts,
    ComplaintRequest,
    LineFacts,
    LoyaltyEntryFacts,
    LoyaltyFacts,
    RoamingFacts,
    RoamingRate,
    SlaPolicy,
    SubscriptionFacts,
    Text,
    TicketRequest,
    bill_item_text,
)
from fairtel.catalog import Catalog
from fairtel.consent import project_subscriptions, states_at
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from fairtel.core.ids import new_id
from fairtel.core.money import Money
from fairtel.core.time import Period, utc_now, zone
from fairtel.store._consent import consent_event_id, consent_ledger
from fairtel.store._lake import Lake, LakeError
from fairtel.store._schema import (
    Adjustment,
    Bill,
    BillLine,
    ConsentEvent,
    LoyaltyEntry,
    RoamingCap,
    Subscriber,
    SubscriberPlan,
    TroubleTicket,
    table_of,
)
from fairtel.store._subscribers import get_subscriber

RATED = "rated"
_PER_UNIT = {"voice": (60, "min"), "sms": (1, "SMS"), "data": (1024 * 1024, "MB")}
_URGENT = frozenset({"no_service", "no_signal"})


@dataclass(frozen=True, slots=True)
class PlanInForce:
    """A line's plan at an instant: the plan in force (what its period is rated and billed under) and the next
    change the register knows of that is not in force yet (``pending_plan_id`` from ``pending_from``, the start
    of a billing period), if any."""

    plan_id: str
    pending_plan_id: str | None = None
    pending_from: datetime | None = None


def plan_spells(conn: Connection, msisdns: Collection[str]) -> dict[str, list[tuple[datetime, str]]]:
    """The plan timeline of each of ``msisdns`` (``store.plan_timeline``'s rule: a history row recorded later
    replaces, from its ``effective_from`` on, what the rows recorded before it said), as (effective_from,
    plan_id) in time order, read in one query of those lines' history rows only: a page of a console list or
    one subscriber's answer must not pay for a pass over the whole history. A line without history rows is
    absent (it is on its register plan throughout)."""
    if not msisdns:
        return {}
    h = table_of(SubscriberPlan)
    rows = conn.execute(select(h.c.msisdn, h.c.plan_id, h.c.effective_from).where(h.c.msisdn.in_(sorted(set(msisdns))))
                        .order_by(h.c.msisdn, h.c.recorded_at, h.c.plan_change_id)).all()
    recorded: dict[str, list[tuple[datetime, str]]] = {}
    for r in rows:
        recorded.setdefault(r.msisdn, []).append((r.effective_from, r.plan_id))
    out: dict[str, list[tuple[datetime, str]]] = {}
    for msisdn, spells in recorded.items():
        kept: list[tuple[datetime, str]] = []
        later: datetime | None = None  # the earliest start among the rows recorded after the one looked at
        for since, plan in reversed(spells):
            if later is None or since < later:
                kept.append((since, plan))
            later = since if later is None else min(later, since)
        out[msisdn] = sorted(kept, key=lambda s: s[0])
    return out


def plan_in_force(spells: list[tuple[datetime, str]] | None, register_plan: str, *, at: datetime) -> PlanInForce:
    """The plan of a line (its timeline ``spells``, from ``plan_spells``) in force at ``at``: the latest one
    started by then (for a line not activated yet, its first), and the next other plan after it as the pending
    change.
    ``register_plan`` (``subscribers.plan_id``, the latest plan) when the line has no history."""
    if not spells:
        return PlanInForce(register_plan)
    started = [i for i, (since, _plan) in enumerate(spells) if since <= at]
    current = spells[started[-1] if started else 0][1]
    after = started[-1] + 1 if started else 1
    # a change back to the plan in force before the first one took effect leaves nothing pending
    pending = next(((since, plan) for since, plan in spells[after:] if plan != current), None)
    return PlanInForce(current) if pending is None else PlanInForce(current, pending[1], pending[0])


class StoreCareData:
    """``CareData`` for one home. ``clock`` gives "now" (the operator's period and the instant of writes);
    ``advisor`` gives plan advice for a line when the insight package provides it; ``sla``: the operator's
    complaint deadlines (``care.sla_policy(settings.sla)``), which a recorded complaint's ``due_at`` is set
    from: give the assistant over this port the same policy, so that its reply quotes the stored deadline's."""

    def __init__(
        self,
        engine: Engine,
        lake_dir: Path | str,
        catalog: Catalog,
        *,
        clock: Callable[[], datetime] = utc_now,
        advisor: Callable[[str], AdviceFacts | None] | None = None,
        consent_channel: str = "app",
        actor: str = "assistant",
        pseudonymize: Callable[[str], str] | None = None,
        sla: SlaPolicy = DEFAULT_SLA,
    ) -> None:
        self.engine = engine
        self.lake_dir = Path(lake_dir)
        self.catalog = catalog
        self.clock = clock
        self.advisor = advisor
        self.consent_channel = consent_channel
        self.actor = actor
        self.pseudonymize = pseudonymize  # msisdn → audit pseudonym; None: complaints are not audited here
        self.sla = sla
        self.tz = catalog.operator.timezone
        self.currency = catalog.operator.currency

    # -- clock and lines --------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock().astimezone(zone(self.tz))

    def line(self, msisdn: str) -> LineFacts | None:
        """The line with the plan in force now (the register's ``plan_id`` is the latest plan, a change that
        takes effect from the next period included) and the change pending, if any."""
        with self.engine.connect() as conn:
            sub = get_subscriber(conn, msisdn)
            if sub is None:
                return None
            t = table_of(Subscriber)
            lines = tuple(r[0] for r in conn.execute(
                select(t.c.msisdn).where(t.c.customer_id == sub.customer_id).order_by(t.c.msisdn)))
            plan = self._plan_at(conn, msisdn, sub.plan_id, self.clock())
        pending_from = None if plan.pending_from is None else plan.pending_from.astimezone(zone(self.tz))
        return LineFacts(msisdn=sub.msisdn, customer_id=sub.customer_id, plan_id=plan.plan_id,
                         plan_name=self._plan_name(plan.plan_id), status=sub.status, language=sub.language, lines=lines,
                         pending_plan_id=plan.pending_plan_id,
                         pending_plan_name=None if plan.pending_plan_id is None else self._plan_name(plan.pending_plan_id),
                         pending_from=pending_from)

    def _plan_at(self, conn: Connection, msisdn: str, register_plan: str, at: datetime) -> PlanInForce:
        return plan_in_force(plan_spells(conn, [msisdn]).get(msisdn), register_plan, at=at)

    def _period_plan(self, conn: Connection, msisdn: str, register_plan: str, period: str) -> str:
        """The plan ``period`` is rated and billed under (``store.plans_in_force``: the one in force at its start)."""
        return self._plan_at(conn, msisdn, register_plan, Period.parse(period, self.tz).start).plan_id

    def _plan_name(self, plan_id: str) -> Text:
        plan = next((p for p in self.catalog.plans if p.id == plan_id), None)
        return Text(plan.name.zh, plan.name.en) if plan else Text(plan_id, plan_id)

    # -- rated lines --------------------------------------------------------------------------------------
    def _rated_files(self, period: str | None = None) -> list[Path]:
        """The rated parts of ``period`` (of every period when None), read through the lake: a rating commit left
        pending is finished first, so the lines are one run's. A period not written ``YYYY-MM`` has none."""
        try:
            return Lake(self.lake_dir).files(RATED, periods=None if period is None else [period])
        except LakeError:
            return []

    def _rated(self, msisdn: str, period: str) -> pl.DataFrame | None:
        files = self._rated_files(period)
        if not files:
            return None
        return pl.scan_parquet(files).filter(pl.col("msisdn") == msisdn).collect()

    # -- bill -----------------------------------------------------------------------------------------
    def bill(self, msisdn: str, period: str) -> BillFacts | None:
        with self.engine.connect() as conn:
            b = table_of(Bill)
            row = conn.execute(select(b).where((b.c.msisdn == msisdn) & (b.c.period == period))).first()
            if row is not None:
                bl = table_of(BillLine)
                lines = conn.execute(select(bl).where(bl.c.bill_id == row.bill_id).order_by(bl.c.line_no)).all()
                issued = tuple(BillItem(r.kind, bill_item_text(r.kind, rule_id=r.rule_id, description=r.description, catalog=self.catalog,
                                                               allowance_id=r.allowance_id), r.amount_minor) for r in lines)
                return BillFacts(msisdn, period, row.currency, row.total_minor, issued, issued=True, bill_id=row.bill_id)
            sub = get_subscriber(conn, msisdn)
            adjustments = self._adjustments(conn, msisdn, period)
            plan_id = None if sub is None else self._period_plan(conn, msisdn, sub.plan_id, period)
        rated = self._rated(msisdn, period)
        if rated is None or sub is None:
            return None
        items: list[BillItem] = []
        plan = next((p for p in self.catalog.plans if p.id == plan_id), None)
        if plan is not None and plan.monthly_fee:
            fee = Money.of(plan.monthly_fee, self.currency).to_minor()
            items.append(BillItem("plan_fee", Text(f"套餐月租（{plan.name.zh}）", f"Plan fee ({plan.name.en})"), fee))
        if rated.height:
            charged = rated.with_columns(
                pl.when(pl.col("roaming_country").is_not_null() & (pl.col("kind") != "vas"))
                .then(pl.lit("roaming")).otherwise(pl.col("kind")).alias("item")
            ).group_by("item").agg(pl.col("amount_minor").sum())
            sums = {k: int(v) for k, v in charged.iter_rows()}
            for kind, zh, en in (("voice", "通话", "Calls"), ("sms", "短信", "SMS"), ("data", "流量", "Data"),
                                 ("roaming", "漫游", "Roaming"), ("vas", "增值业务", "Value-added services")):
                if sums.get(kind):
                    items.append(BillItem(kind, Text(zh, en), sums[kind]))
        if adjustments:
            items.append(BillItem("adjustment", Text("调账/退款", "Adjustments and refunds"), adjustments))
        return BillFacts(msisdn, period, self.currency, sum(i.amount_minor for i in items), tuple(items), issued=False)

    def _adjustments(self, conn: Connection, msisdn: str, period: str) -> int:
        """Refunds and credits (negative) and debits (positive) booked in the period and not on an issued bill."""
        per = Period.parse(period, self.tz)
        a = table_of(Adjustment)
        rows = conn.execute(select(a.c.kind, a.c.amount_minor).where(
            (a.c.msisdn == msisdn) & a.c.bill_id.is_(None) & (a.c.created_at >= per.start) & (a.c.created_at < per.end)
            & (a.c.currency == self.currency))).all()
        return sum(r.amount_minor if r.kind == "debit" else -r.amount_minor for r in rows)

    # -- charges --------------------------------------------------------------------------------------
    def charges(self, msisdn: str, period: str) -> list[ChargeFacts]:
        rated = self._rated(msisdn, period)
        if rated is None or rated.height == 0:
            return []
        # Each record's lines in line order for "first"; the records by start, then id (lake order varies).
        per_record = rated.sort("source", "record_id", "line", nulls_last=True).group_by("source", "record_id").agg(
            pl.col("kind").first(), pl.col("started_at").min(), pl.col("amount_minor").sum(),
            pl.col("currency").first(),
            pl.col("rule_id").filter(pl.col("amount_minor") > 0).first().alias("charged_rule"),
            pl.col("rule_id").first(), pl.col("allowance_id").drop_nulls().first(),
            pl.col("subscription_id").first(), pl.col("verdict").first(), pl.col("roaming_country").first(),
        ).sort("started_at", "source", "record_id", nulls_last=True)
        out = []
        for r in per_record.iter_rows(named=True):
            offer = _offer_of(r["rule_id"]) if r["kind"] == "vas" else None
            out.append(ChargeFacts(
                record_id=r["record_id"], kind=r["kind"], started_at=r["started_at"].astimezone(zone(self.tz)),
                amount_minor=int(r["amount_minor"]), currency=r["currency"], rule_id=r["charged_rule"] or r["rule_id"],
                allowance_id=r["allowance_id"], offer_id=offer, offer_name=self._offer_name(offer),
                subscription_id=r["subscription_id"], verdict=r["verdict"], roaming_country=r["roaming_country"],
                rule_name=self._name("rule", r["charged_rule"] or r["rule_id"]),
                allowance_name=self._name("allowance", r["allowance_id"]),
                source=r["source"],
            ))
        return out

    def _name(self, what: str, key: str | None) -> Text | None:
        name = self.catalog.name_of(what, key) if key else None
        return None if name is None else Text(name.zh, name.en)

    def _offer_name(self, offer_id: str | None) -> Text | None:
        offer = next((o for o in self.catalog.offers if o.id == offer_id), None)
        return None if offer is None else Text(offer.name.zh, offer.name.en)

    def explain_charge(self, msisdn: str, record_id: str, language: str) -> ChargeFacts | None:
        from fairtel.rating import explain

        files = self._rated_files()
        if not files:
            return None
        mine = pl.scan_parquet(files).filter((pl.col("msisdn") == msisdn) & (pl.col("record_id") == record_id)).collect()
        if mine.height == 0:
            return None  # not this line's record: nothing is said about it
        period = str(mine["period"][0])
        charge = next((c for c in self.charges(msisdn, period) if c.record_id == record_id), None)
        if charge is None:
            return None
        if charge.kind == "vas":
            state, confirmed = self._subscription_state(msisdn, charge.subscription_id)
            return _replace(charge, consent_state=state, confirmed_at=confirmed)
        # the chain of the very record whose facts are told: two sources may number records alike
        e = explain(record_id, rated=mine, catalog=self.catalog, source=charge.source)
        return _replace(charge, explanation=Text(e.render("zh"), e.render("en")))

    def _subscription_state(self, msisdn: str, subscription_id: str | None) -> tuple[str | None, datetime | None]:
        if subscription_id is None:
            return None, None
        frame = self._projection(msisdn).filter(pl.col("subscription_id") == subscription_id)
        if frame.height == 0:
            return None, None
        row = frame.row(0, named=True)
        confirmed = row["confirmed_at"]
        return row["state"], None if confirmed is None else confirmed.astimezone(zone(self.tz))

    # -- allowances -----------------------------------------------------------------------------------
    def allowances(self, msisdn: str, period: str) -> list[AllowanceLeft]:
        with self.engine.connect() as conn:
            sub = get_subscriber(conn, msisdn)
            plan_id = None if sub is None else self._period_plan(conn, msisdn, sub.plan_id, period)
        if sub is None:
            return []
        plan = next((p for p in self.catalog.plans if p.id == plan_id), None)
        if plan is None or not plan.allowances:
            return []
        rated = self._rated(msisdn, period)
        used: dict[str, int] = {}
        if rated is not None and rated.height:
            for aid, n in rated.filter(pl.col("allowance_id").is_not_null()).group_by("allowance_id").agg(
                pl.col("allowance_used").sum()
            ).iter_rows():
                used[aid] = int(n or 0)
        return [
            AllowanceLeft(allowance_id=a.id, kind=str(a.match.kind), unit=str(a.unit), quantity=a.quantity,
                          used=used.get(a.id, 0), throttle_after=a.throttle_after)
            for a in plan.allowances
        ]

    # -- loyalty --------------------------------------------------------------------------------------
    def loyalty(self, msisdn: str) -> LoyaltyFacts:
        with self.engine.connect() as conn:
            return self._loyalty(conn, msisdn)

    def _loyalty(self, conn: Connection, msisdn: str) -> LoyaltyFacts:
        t = table_of(LoyaltyEntry)
        rows = conn.execute(select(t).where(t.c.msisdn == msisdn).order_by(t.c.booked_at, t.c.entry_id)).all()
        entries = tuple(LoyaltyEntryFacts(r.kind, r.points, r.reason, r.booked_at.astimezone(zone(self.tz))) for r in rows)
        balance = sum(e.points if e.kind == "earn" else -e.points for e in entries)
        return LoyaltyFacts(msisdn, balance, entries)

    def redeem_points(self, msisdn: str, points: int, reason: str) -> LoyaltyFacts:
        if points <= 0:
            raise InvalidInputError([Problem("loyalty", None, "points", "a positive number of points")], what="redeem")
        with self.engine.begin() as conn:
            before = self._loyalty(conn, msisdn)
            if points > before.balance:
                raise ConflictError(f"balance {before.balance} is less than {points} points",
                                    details={"balance": before.balance, "points": points})
            conn.execute(table_of(LoyaltyEntry).insert().values(
                entry_id=new_id("pts"), msisdn=msisdn, kind="redeem", points=points, reason=reason[:200],
                booked_at=self.clock()))
            return self._loyalty(conn, msisdn)

    # -- roaming --------------------------------------------------------------------------------------
    def roaming(self, msisdn: str, country: str) -> RoamingFacts | None:
        with self.engine.connect() as conn:
            sub = get_subscriber(conn, msisdn)
            t = table_of(RoamingCap)
            cap_row = conn.execute(select(t.c.amount_minor, t.c.currency).where(t.c.msisdn == msisdn)
                                   .order_by(t.c.set_at.desc(), t.c.cap_id.desc()).limit(1)).first()
            # the prices of today's usage: those of the plan in force, not of a change pending for next period
            plan_id = None if sub is None else self._plan_at(conn, msisdn, sub.plan_id, self.clock()).plan_id
        if sub is None:
            return None
        plan = next((p for p in self.catalog.plans if p.id == plan_id), None)
        try:
            rz = self.catalog.roaming_zone_for(country)
        except NotFoundError:
            return None
        if plan is None:
            return None
        rates: list[RoamingRate] = []
        for kind, direction in (("voice", "out"), ("sms", "out"), ("data", None)):
            rule = plan.rule_for(kind, direction, "domestic", rz.id)
            if rule is None:
                continue
            if rule.free or rule.rate is None:
                rates.append(RoamingRate(kind, rule.id, None, _PER_UNIT[kind][1], free=True))
                continue
            rate = self.catalog.rate(rule.rate)
            step = rate.steps[0]
            per_units, per = _PER_UNIT[kind]
            price = step.rate * Decimal(per_units) / Decimal(step.rate_unit)
            rates.append(RoamingRate(kind, rule.id, _price(price), per, daily_cap=rule.daily_cap))
        cap = None
        if cap_row is not None and cap_row.amount_minor is not None:
            cap = Money.from_minor(cap_row.amount_minor, cap_row.currency)
        return RoamingFacts(country=country.upper(), zone_id=rz.id, zone_name=Text(rz.name.zh, rz.name.en),
                            currency=self.currency, rates=tuple(rates), cap=cap)

    # -- VAS ------------------------------------------------------------------------------------------
    def _projection(self, msisdn: str) -> pl.DataFrame:
        with self.engine.connect() as conn:
            ledger = consent_ledger(conn, msisdns=[msisdn])
        subs = project_subscriptions(ledger)
        if subs.height == 0:
            return subs.with_columns(pl.lit(None, pl.String()).alias("state"))
        states = states_at(subs, self.clock()).select("subscription_id", "state")
        return subs.join(states, on="subscription_id", how="left")

    def subscriptions(self, msisdn: str) -> list[SubscriptionFacts]:
        frame = self._projection(msisdn)
        offers = {o.id: o for o in self.catalog.offers}
        out = []
        for r in frame.sort("ordered_at", nulls_last=True).iter_rows(named=True):
            o = offers.get(r["offer_id"])
            out.append(SubscriptionFacts(
                subscription_id=r["subscription_id"], offer_id=r["offer_id"],
                name=Text(o.name.zh, o.name.en) if o else Text(r["offer_id"], r["offer_id"]),
                provider=o.provider if o else None, price=Money.of(o.price, self.currency) if o else None,
                period=o.period.value if o else None, state=str(r["state"]),
                confirmed_at=None if r["confirmed_at"] is None else r["confirmed_at"].astimezone(zone(self.tz)),
            ))
        return out

    def cancel_subscription(self, msisdn: str, subscription_id: str) -> SubscriptionFacts:
        """Appends a ``cancelled`` event to the consent ledger (nothing is updated or deleted)."""
        current = next((s for s in self.subscriptions(msisdn) if s.subscription_id == subscription_id), None)
        if current is None:
            raise NotFoundError(f"no subscription {subscription_id}")
        if current.state not in ("ordered", "confirmed"):
            raise ConflictError(f"subscription {subscription_id} is {current.state}: nothing to cancel")
        at = self.clock()
        with self.engine.begin() as conn:
            conn.execute(table_of(ConsentEvent).insert().values(
                event_id=consent_event_id(subscription_id, "cancelled", at), subscription_id=subscription_id,
                msisdn=msisdn, offer_id=current.offer_id, event="cancelled", at=at, channel=self.consent_channel,
                evidence={"via": self.actor}, recorded_at=utc_now(), source=self.actor))
        after = next(s for s in self.subscriptions(msisdn) if s.subscription_id == subscription_id)
        return after

    def offer_aliases(self) -> Mapping[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for o in self.catalog.offers:
            names = (o.name.zh, o.name.en.lower(), o.provider, *DEMO_OFFER_ALIASES.get(o.id, ()))
            out[o.id] = tuple(dict.fromkeys(n for n in names if n))
        return out

    # -- tickets, complaints, hand-off ------------------------------------------------------------------
    def open_ticket(self, msisdn: str, ticket: TicketRequest) -> str:
        return self._ticket(msisdn, ticket.category, 1 if ticket.category in _URGENT else 2, ticket.summary)

    def _ticket(self, msisdn: str, category: str, priority: int, summary: str) -> str:
        tid = new_id("tkt")
        with self.engine.begin() as conn:
            sub = get_subscriber(conn, msisdn)
            conn.execute(table_of(TroubleTicket).insert().values(
                ticket_id=tid, msisdn=msisdn, region=sub.region if sub else None, category=category[:48],
                priority=priority, status="open", opened_at=self.clock(), resolved_at=None, summary=summary))
        return tid

    def record_complaint(self, msisdn: str, complaint: ComplaintRequest) -> str:
        """An ``opened`` complaint with its deadline; the finding, refund and conversation it names go into
        the link columns, any other link (a usage record) travels with the words. Audited when the store
        was given a pseudonymizer."""
        from fairtel.store._complaints import LINK_COLUMNS, AuditAs, open_complaint

        links = dict(complaint.links)
        if complaint.conversation_id:
            links.setdefault("conversation_id", complaint.conversation_id)
        text = complaint.text
        other = {k: v for k, v in links.items() if k not in LINK_COLUMNS}
        if other:
            text += "\n[" + ", ".join(f"{k}={v}" for k, v in sorted(other.items())) + "]"
        audit = None if self.pseudonymize is None else AuditAs(
            self.actor, "system", self.pseudonymize, reason="recorded by the assistant for the subscriber")
        with self.engine.begin() as conn:
            rec = open_complaint(conn, msisdn=msisdn, category=complaint.category, text=text, at=self.clock(),
                                 audit=audit, channel=complaint.channel, policy=self.sla,
                                 links={k: v for k, v in links.items() if k in LINK_COLUMNS})
        return rec.complaint_id

    def hand_off(self, msisdn: str, reason: str, conversation_id: str) -> str:
        """A ticket in the agents' queue carrying the conversation so far."""
        return self._ticket(msisdn, "agent_handoff", 2, f"chat {conversation_id}\n{reason}")

    def plan_advice(self, msisdn: str) -> AdviceFacts | None:
        return None if self.advisor is None else self.advisor(msisdn)


def _price(value: Decimal) -> Decimal:
    """A unit price as the catalog writes prices: at least two decimals, more only when it has them."""
    exact = value.normalize()
    return exact if -exact.as_tuple().exponent > 2 else value.quantize(Decimal("0.01"))  # type: ignore[operator]


def _offer_of(rule_id: str | None) -> str | None:
    if rule_id and rule_id.startswith("offer/"):
        return rule_id.removeprefix("offer/")
    return None


def _replace(c: ChargeFacts, **changes: Any) -> ChargeFacts:
    from dataclasses import replace

    return replace(c, **changes)

