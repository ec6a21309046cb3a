"""The assistant's data port (``fairtel.care.CareData``) over the database and the usage lake, and what the agents
and the loader need of the same records.

Reads: subscribers, issued bills and their lines, adjustments, stored catalog versions, the consent ledger, the
loyalty ledger, roaming caps, the line's complaints (database); rated lines (``<lake>/rated/period=YYYY-MM``, through
``Lake.files``, which finishes a rating commit left pending first), split as the bill run splits them (charged, or
held off the bill); usage, for plan advice (``HomeAdvisor``) and a charge's explanation. Writes, each in its own
transaction: a cancelled consent event, a loyalty redemption, a roaming cap, a trouble ticket, a complaint; each is
written to the access audit in its transaction, under the subscriber's pseudonym, when the store is given a
pseudonymizer (as the API audits the same change: ``subscription.cancel``, ``loyalty.redeem``, ``roaming_cap.set``,
``ticket.open``, ``complaint.create``). Every method reads the one line it is given: the assistant has already
checked that the line is the caller's.

Also: a record's rating explained as it was billed (``explain_stored``, which ``fairtel explain`` uses too), the
tickets read back for the agents (``ticket_text``), moved and noted by them (``move_ticket``, ``add_ticket_note``:
entries of ``ticket_notes``, read by ``ticket_notes``), and an operator's loyalty ledger imported
(``import_loyalty``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from fairtel.billing import (
    BILLABLE_VERDICTS,
    USAGE_KINDS,
    Account,
    Suspension,
    held_usage,
    normalise_rated,
    suspensions_of,
)
from fairtel.billing._model import KEEP_NUMBER_TEXT
from fairtel.billing._run import (
    BEFORE_HOLDING,
    HOLD,
    HOLD_REASONS,
    changed_hands_in,
    fee_days,
    fee_for_days,
    fee_parts,
    kept_number_days,
)
from fairtel.billing._statement import reason_words
from fairtel.care import (
    DEFAULT_SLA,
    DEMO_OFFER_ALIASES,
    DIALLING_CODES,
    AdjustmentFacts,
    AdviceFacts,
    AllowanceLeft,
    BillFacts,
    BillItem,
    ChargeFacts,
    ComplaintFacts,
    ComplaintRequest,
    DestinationFacts,
    LineFacts,
    LoyaltyEntryFacts,
    LoyaltyFacts,
    PlanFeeFacts,
    RoamingFacts,
    RoamingRate,
    SlaPolicy,
    SubscriptionFacts,
    Text,
    TicketFacts,
    TicketRequest,
    bill_item_text,
)
from fairtel.catalog import Catalog, Plan
from fairtel.consent import project_subscriptions, states_at
from fairtel.core.errors import ConflictError, FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.ids import new_id
from fairtel.core.money import ROAMING_CAP_MAX, Money
from fairtel.core.time import Period, parse_rfc3339, utc_now, zone
from fairtel.store._audit import record_access
from fairtel.store._consent import consent_event_id, consent_ledger
from fairtel.store._engine import DatabaseBusyError, unavailable, writer
from fairtel.store._lake import Lake, LakeError
from fairtel.store._report import ImportReport
from fairtel.store._schema import (
    LOYALTY_KINDS,
    Adjustment,
    Bill,
    BillLine,
    Complaint,
    ConsentEvent,
    Finding,
    LineStatusHistory,
    LoyaltyEntry,
    RoamingCap,
    Subscriber,
    SubscriberPlan,
    TicketNote,
    TroubleTicket,
    table_of,
)
from fairtel.store._subscribers import get_subscriber

if TYPE_CHECKING:
    from fairtel.rating import Explanation
    from fairtel.rating._explain import Refund

RATED = "rated"
_PER_UNIT = {"voice": (60, "min"), "sms": (1, "SMS"), "data": (1024 * 1024, "MiB")}  # data priced per MiB (1024² bytes)
_URGENT = frozenset({"no_service", "no_signal"})
_MSISDN = re.compile(r"\d{7,15}")


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
    s = table_of(Subscriber)
    activated = {r.msisdn: r.activated_at
                 for r in conn.execute(select(s.c.msisdn, s.c.activated_at).where(s.c.msisdn.in_(sorted(recorded))))}
    out: dict[str, list[tuple[datetime, str]]] = {}
    for msisdn, spells in recorded.items():
        kept: list[tuple[datetime, str]] = []
        later: datetime | None = None  # the earliest start among the rows recorded after the one looked at
        for since, plan in reversed(spells):
            if later is None or since < later:
                kept.append((since, plan))
            later = since if later is None else min(later, since)
        out[msisdn] = _from_activation(sorted(kept, key=lambda s: s[0]), activated.get(msisdn))
    return out


def _from_activation(spells: list[tuple[datetime, str]], activated: datetime | None) -> list[tuple[datetime, str]]:
    """``spells`` from the line's activation on (``store.holding_plans``' rule): the plan in force at it from it,
    the rows before it (an earlier holder's) dropped."""
    if activated is None:
        return spells
    early = [i for i, (since, _plan) in enumerate(spells) if since <= activated]
    if not early:
        return spells
    return [(activated, spells[early[-1]][1]), *spells[early[-1] + 1:]]


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
    ``advisor`` gives plan advice for a line (default: ``HomeAdvisor``, the home's own advice, priced from the
    line's usage as ``fairtel advise`` prices it); ``sla``: the operator's
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
        tax_rates: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.engine = engine
        self.tax_rates = dict(tax_rates or {})  # the bill run's (``settings.tax_rates``): advice compares taxed amounts
        self.lake_dir = Path(lake_dir)
        self.catalog = catalog
        self.clock = clock
        self.consent_channel = consent_channel
        self.actor = actor
        self.pseudonymize = pseudonymize  # msisdn → audit pseudonym; None: complaints are not audited here
        self.sla = sla
        self.tz = catalog.operator.timezone
        self.currency = catalog.operator.currency
        self.advisor = HomeAdvisor(self) if advisor is None else advisor

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
                         pending_from=pending_from, activated_at=_utc(sub.activated_at),
                         holder_since=_utc(sub.holder_since))

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

    def _bill_lines(self, msisdn: str, period: str, record_id: str | None = None) -> pl.DataFrame | None:
        """The lines the line's issued bill of ``period`` was issued from (its run's part of ``billed``) and the usage
        lines that run held off it (``held_usage``), as ``fairtel bill statement`` and ``fairtel explain`` read them
        (SNAPSHOT_COLUMNS); of ``record_id`` only, when given. None when the period's bill is not issued, or was issued
        before bills kept their lines (then the rated lines are all there is)."""
        b = table_of(Bill)
        with self.engine.connect() as conn:
            bill = conn.execute(select(b.c.bill_id, b.c.run_id).where((b.c.msisdn == msisdn) & (b.c.period == period))).first()
        if bill is None or bill.run_id is None:
            return None
        frames: list[pl.DataFrame] = []
        for dataset in _BILL_DATASETS:
            try:
                files = [f for f in Lake(self.lake_dir).files(dataset, periods=[period]) if f.stem == bill.run_id]
            except LakeError:
                files = []
            if not files:
                if dataset == _BILL_DATASETS[0]:
                    return None  # the bill kept no lines: read as rated
                continue
            cond = pl.col("bill_id") == bill.bill_id
            if record_id is not None:
                cond &= pl.col("record_id") == record_id
            frames.append(pl.scan_parquet(files).filter(cond).collect())
        return pl.concat(frames, how="diagonal_relaxed")

    def _month_lines(self, msisdn: str, period: str) -> tuple[pl.DataFrame | None, bool]:
        """The month's lines the assistant tells charges from, and whether its bill is issued. Of an issued month, the
        lines its bill was issued from (and held off it), never as rated again since (a tariff change, a rerate):
        the corrections since are told as such (``explain_charge``); then, marked ``on_bill`` False, the records rated
        after the bill, which it does not hold (charged on the next one). Of a month not billed yet, its rated lines."""
        rated = self._rated(msisdn, period)
        billed = self._bill_lines(msisdn, period)
        if billed is None:
            return rated, False
        keep = [c for c in _CHARGE_COLUMNS if c in billed.columns]
        key = (pl.col("source").fill_null("") + "/" + pl.col("record_id")).alias("_record")
        lines = billed.select(keep).with_columns(pl.lit(True).alias("on_bill"))
        if rated is not None and rated.height:
            later = rated.filter(~(pl.col("source").fill_null("") + "/" + pl.col("record_id")).is_in(
                billed.select(key)["_record"].implode()))
            if later.height:
                lines = pl.concat([lines, later.select([c for c in keep if c in later.columns])
                                   .with_columns(pl.lit(False).alias("on_bill"))], how="diagonal_relaxed")
        return lines, True

    # -- bill -----------------------------------------------------------------------------------------
    def bill(self, msisdn: str, period: str) -> BillFacts | None:
        """The issued bill of ``period``; before it, what that bill would carry by billing's rules (``run_bills``):
        the plan fee for the days in service, the rated lines it charges (not the usage held off it, made after the
        line's suspension: ``held_minor``, outside the total; VAS only with a billable consent verdict; in the month
        of an owner change, from the change on, the previous customer's part told neither charged nor held), and the
        adjustments it would carry (``_adjustments``). A month not rated yet (this one, early on) still has its fee
        and adjustments (``rated`` False); a past month this home rated nothing of is unknown (None)."""
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
            if sub is None:
                return None
            adjustments = self._adjustments(conn, sub, period)
            plan_id = self._period_plan(conn, msisdn, sub.plan_id, period)
            kept = suspensions_in(conn, msisdns=[msisdn]) if keeps_numbers(self.catalog) else {}
        per = Period.parse(period, self.tz)
        rated = self._rated(msisdn, period)
        if rated is None and per.key != Period.containing(self.clock(), self.tz).key and not adjustments:
            return None  # a refund or credit a past month's bill is to carry is told all the same
        items: list[BillItem] = []
        plan = next((p for p in self.catalog.plans if p.id == plan_id), None)
        if plan is not None and plan.monthly_fee:
            fee, keep = self._fees(plan, sub, per, kept.get(msisdn, ()))
            if fee:
                items.append(BillItem("plan_fee", Text(f"套餐月租（{plan.name.zh}）", f"Plan fee ({plan.name.en})"), fee))
            if keep:  # days suspended at the subscriber's request under a plan with a keep-number fee: as the bill run
                items.append(BillItem("plan_fee", Text(f"停机保号费（{plan.name.zh}）", f"Keep-number fee ({plan.name.en})"),
                                      keep))
        held_minor = 0
        if rated is not None and rated.height:
            billable, held = _billable_and_held(rated, sub, per)
            # the previous customer's part of an owner change month is none of this customer's: not told as held
            held_minor = int(held.filter(pl.col("verdict") != BEFORE_HOLDING)["amount_minor"].sum() or 0)
            charged = billable.with_columns(
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
        return BillFacts(msisdn, period, self.currency, sum(i.amount_minor for i in items), tuple(items), issued=False,
                         held_minor=held_minor, rated=rated is not None and rated.height > 0)

    def _fees(self, plan: Plan, sub: Any, per: Period, suspensions: tuple[Suspension, ...] = ()) -> tuple[int, int]:
        """(plan fee, keep-number fee) the period's bill charges (``billing.fee_days``, ``billing.fee_parts``): for the
        days in service from the later of the activation and, in the month of an owner change, the day of the change,
        up to the closing of a closed line (none when a closed line does not say when it closed); the days wholly
        suspended at the subscriber's request (``suspensions``) under a plan with a keep-number fee, at that fee."""
        account = _account(sub)
        if account is None:
            return 0, 0
        account = replace(account, suspensions=suspensions)
        days = fee_days(account, per)
        return fee_parts(plan, self.currency, days, kept_number_days(account, plan, per), per)

    def plan_fee(self, msisdn: str, period: str) -> PlanFeeFacts | None:
        """How the plan fee of ``period``'s bill is charged (``care.PlanFees``): the plan the period is billed under,
        its monthly fee and the days in service as the bill run counts them (``billing.fee_days``: from the activation,
        or in the month of an owner change from the day of the change); the issued bill's fee line when the bill is
        issued. None when the line has no fee that month."""
        try:
            per = Period.parse(period, self.tz)
        except (ValueError, FairtelError):
            return None
        with self.engine.connect() as conn:
            sub = get_subscriber(conn, msisdn)
            if sub is None:
                return None
            plan_id = self._period_plan(conn, msisdn, sub.plan_id, period)
            b, bl = table_of(Bill), table_of(BillLine)
            # the plan fee lines (a keep-number fee line, for days suspended at the subscriber's request, is not one)
            issued = conn.execute(select(func.sum(bl.c.amount_minor), func.max(bl.c.rule_id))
                                  .join(b, b.c.bill_id == bl.c.bill_id)
                                  .where((b.c.msisdn == msisdn) & (b.c.period == period) & (bl.c.kind == "plan_fee")
                                         & ~bl.c.description.startswith(KEEP_NUMBER_TEXT))).first()
            kept = suspensions_in(conn, msisdns=[msisdn]) if keeps_numbers(self.catalog) else {}
        if issued is not None and issued[1]:
            plan_id = str(issued[1])
        plan = next((p for p in self.catalog.plans if p.id == plan_id), None)
        if plan is None or not plan.monthly_fee:
            return None
        monthly = Money.of(plan.monthly_fee, self.currency).to_minor()
        account = _account(sub)
        if account is None or (sub.status == "closed" and sub.closed_at is None):
            return None
        # the bill run's days (``billing.fee_days``): in the month of an owner change, the current customer's from
        # the day of the change, not from the activation (the earlier days are the previous customer's)
        # the days in service; those wholly suspended at the subscriber's request are charged a keep-number fee instead
        account = replace(account, suspensions=kept.get(msisdn, ()))
        days = fee_days(account, per) - kept_number_days(account, plan, per)
        fee = fee_for_days(monthly, days, per)
        if issued is not None and issued[0] is not None:
            fee = int(issued[0])
        if not fee:
            return None
        return PlanFeeFacts(period, plan_id, self._plan_name(plan_id), Money.from_minor(monthly, self.currency),
                            Money.from_minor(fee, self.currency), days, per.days)

    def adjustments(self, msisdn: str, *, limit: int = 5) -> list[AdjustmentFacts]:
        """The line's refunds, credits and debits, newest first (``care.AdjustmentReader``), each with the bill that
        carries it (issued: a bill line names it) or the period whose bill will (pending: billing's rule, as
        ``_adjustments``)."""
        a, bl, b = table_of(Adjustment), table_of(BillLine), table_of(Bill)
        with self.engine.connect() as conn:
            sub = get_subscriber(conn, msisdn)
            if sub is None:
                return []
            rows = conn.execute(
                select(a, b.c.bill_id.label("carried_bill"), b.c.period.label("carried_period"))
                .outerjoin(bl, bl.c.adjustment_id == a.c.adjustment_id).outerjoin(b, b.c.bill_id == bl.c.bill_id)
                .where(a.c.msisdn == msisdn).order_by(a.c.created_at.desc(), a.c.adjustment_id.desc()).limit(limit)).all()
            latest = conn.scalar(select(func.max(b.c.period)).where(b.c.msisdn == msisdn))
        if latest is not None:
            following = Period.parse(latest, self.tz).next().key
        else:
            following = max(Period.containing(self.clock(), self.tz).key,
                            Period.containing(_utc(sub.activated_at) or sub.activated_at, self.tz).key)
        out = []
        for r in rows:
            if r.carried_bill is not None:
                carried, bill_id = r.carried_period, r.carried_bill
            else:
                carried = max(following, Period.parse(r.period, self.tz).next().key) if r.period else following
                bill_id = None
            corrects = r.period
            if corrects is None and r.bill_id is not None:
                with self.engine.connect() as conn:
                    corrects = conn.scalar(select(b.c.period).where(b.c.bill_id == r.bill_id))
            out.append(AdjustmentFacts(
                adjustment_id=r.adjustment_id, kind=r.kind, amount=Money.from_minor(r.amount_minor, r.currency),
                reason=r.reason, created_at=(_utc(r.created_at) or r.created_at).astimezone(zone(self.tz)),
                carried_by=carried, bill_id=bill_id, corrects=corrects, record_id=r.record_id,
                reason_text={lang: reason_words(r.reason, catalog=self.catalog, language=lang) for lang in ("zh", "en")}))
        return out

    def _adjustments(self, conn: Connection, sub: Any, period: str) -> int:
        """Refunds and credits (negative) and debits (positive) the bill of ``period`` would carry, by billing's
        rules: entries no bill line carries yet (``store.pending_adjustments``), in the operator's currency, each
        carried by the line's next bill unless it corrects that period or a later one, when the bill of the period
        after the one it corrects carries it (``run_bills``). The next bill is the one after the line's latest issued
        bill; of a line never billed, its first period to bill (the earliest this home rated, or this one, from its
        activation on)."""
        a, bl, b = table_of(Adjustment), table_of(BillLine), table_of(Bill)
        rows = conn.execute(
            select(a.c.kind, a.c.amount_minor, a.c.period)
            .outerjoin(bl, bl.c.adjustment_id == a.c.adjustment_id)
            .where((a.c.msisdn == sub.msisdn) & bl.c.adjustment_id.is_(None) & (a.c.currency == self.currency))).all()
        if not rows:
            return 0
        latest = conn.scalar(select(func.max(b.c.period)).where(b.c.msisdn == sub.msisdn))
        if latest is not None:
            following = Period.parse(latest, self.tz).next().key
        else:
            activated = Period.containing(_utc(sub.activated_at) or sub.activated_at, self.tz).key
            current = Period.containing(self.clock(), self.tz).key
            following = min([p for p in self._rated_periods() if p >= activated] + [max(current, activated)])
        total = 0
        for r in rows:
            carried_by = max(following, Period.parse(r.period, self.tz).next().key) if r.period else following
            if carried_by == period:
                total += r.amount_minor if r.kind == "debit" else -r.amount_minor
        return total

    def _rated_periods(self) -> list[str]:
        try:
            return Lake(self.lake_dir).periods(RATED)
        except LakeError:
            return []

    # -- charges --------------------------------------------------------------------------------------
    def charges(self, msisdn: str, period: str) -> list[ChargeFacts]:
        """The month's rated records of the line, one each (read from the lake only), with what billing makes of them:
        a usage record rating held off the bill (``held``: its ``verdict`` a hold reason, made after the line's
        suspension) is not a charge."""
        rated, issued = self._month_lines(msisdn, period)
        if rated is None or rated.height == 0:
            return []
        if not issued:
            rated = rated.with_columns(pl.lit(None, dtype=pl.Boolean).alias("on_bill"))
        # rating's hold, read from the lake alone (``explain_charge`` adds the register's suspension since rating)
        held = rated.filter(pl.col("kind").is_in(USAGE_KINDS) & pl.col("verdict").is_in(list(HOLD_REASONS)).fill_null(False))
        holds = {(r["source"], r["record_id"]): r["verdict"] for r in held.select("source", "record_id", "verdict").iter_rows(named=True)}
        # Each record's lines in line order for "first"; the records by start, then id (lake order varies).
        per_record = rated.sort("source", "record_id", "line", nulls_last=True).group_by("source", "record_id").agg(
            pl.col("kind").first(), pl.col("started_at").min(), pl.col("amount_minor").sum(),
            pl.col("currency").first(),
            pl.col("rule_id").filter(pl.col("amount_minor") > 0).first().alias("charged_rule"),
            pl.col("rule_id").first(), pl.col("allowance_id").drop_nulls().first(),
            pl.col("subscription_id").first(), pl.col("verdict").first(), pl.col("roaming_country").first(),
            pl.col("on_bill").first(),
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
                source=r["source"], held=holds.get((r["source"], r["record_id"])), on_bill=r["on_bill"],
            ))
        return out

    def _name(self, what: str, key: str | None) -> Text | None:
        name = self.catalog.name_of(what, key) if key else None
        return None if name is None else Text(name.zh, name.en)

    def _offer_name(self, offer_id: str | None) -> Text | None:
        offer = next((o for o in self.catalog.offers if o.id == offer_id), None)
        return None if offer is None else Text(offer.name.zh, offer.name.en)

    def explain_charge(self, msisdn: str, record_id: str, language: str) -> ChargeFacts | None:
        """The charge and, for usage, the chain that priced it as ``fairtel explain`` tells it (``explain_stored``:
        the tariff the bill was issued under and the corrections issued since), with the numbers masked: the
        text is said back in chat and carried into a hand-off's transcript."""
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
        if charge.held is None and charge.kind != "vas":  # held by the register's suspension since it was rated
            with self.engine.connect() as conn:
                sub = get_subscriber(conn, msisdn)
            lines = mine.filter(pl.col("source") == charge.source) if charge.source is not None else mine
            held = None if sub is None else _billable_and_held(lines, sub)[1]
            if held is not None and held.height:
                charge = _replace(charge, held=str(held["verdict"][0]))
        if charge.kind == "vas":
            state, confirmed = self._subscription_state(msisdn, charge.subscription_id)
            return _replace(charge, consent_state=state, confirmed_at=confirmed)
        # the chain of the very record whose facts are told: two sources may number records alike; of a record on an
        # issued bill, the lines the bill was issued from, as ``fairtel explain`` tells them (``billed_or_rated``)
        # the lake's lines, when they are not the bill's, are the record as a rerate priced it since: told after
        # the correction, which says why the amount moved
        rated_now = mine
        if charge.on_bill:
            billed = self._bill_lines(msisdn, period, record_id)
            if billed is not None and billed.height:
                mine = billed_or_rated(mine, billed)
        e = explain_stored(self.engine, record_id, rated=mine, current=lambda: self.catalog,
                           usage=self._usage_of(msisdn, record_id, charge.source, period), source=charge.source,
                           repriced=None if mine is rated_now or rated_now.height == 0 else rated_now)
        return _replace(charge, explanation=Text(e.render("zh", plain_numbers=False), e.render("en", plain_numbers=False)))

    def charge_refunds(self, msisdn: str, record_id: str, source: str | None) -> list[Refund]:
        """The refunds posted for a charge of the line since its bill (``record_refunds``), oldest first."""
        period = self._period_of(msisdn, record_id, source)
        with self.engine.connect() as conn:
            return record_refunds(conn, msisdn, record_id, source=source, period=period)

    def attempted_charge(self, msisdn: str, record_id: str, source: str | None) -> Money | None:
        """What a value-added charge the consent gate refused was attempted at: the amount the provider's record
        asked, else the offer's price in the catalog; None when neither is known."""
        period = self._period_of(msisdn, record_id, source)
        usage = None if period is None else self._usage_of(msisdn, record_id, source, period)
        if usage is not None and "amount_minor" in usage.columns:
            row = usage.row(0, named=True)
            if row.get("amount_minor") and row.get("currency"):
                return Money.from_minor(int(row["amount_minor"]), str(row["currency"]))
        rated = self._record_lines(msisdn, record_id, source)
        if rated is None:
            return None
        first = rated.row(0, named=True)
        found = next((o for o in self.catalog.offers if o.id == _offer_of(first["rule_id"])), None)
        if found is None:
            return None
        return Money.of(found.price_at(first["started_at"]), str(first["currency"]))

    def _record_lines(self, msisdn: str, record_id: str, source: str | None) -> pl.DataFrame | None:
        files = self._rated_files()
        if not files:
            return None
        cond = (pl.col("msisdn") == msisdn) & (pl.col("record_id") == record_id)
        if source is not None:
            cond &= pl.col("source") == source
        found = pl.scan_parquet(files).filter(cond).collect()
        return found if found.height else None

    def _period_of(self, msisdn: str, record_id: str, source: str | None) -> str | None:
        rated = self._record_lines(msisdn, record_id, source)
        return None if rated is None else str(rated["period"][0])

    def _usage_of(self, msisdn: str, record_id: str, source: str | None, period: str) -> pl.DataFrame | None:
        """The usage record behind a charge (what the statement says of the call or session), if the lake holds it."""
        try:
            files = Lake(self.lake_dir).files("usage", periods=[period])
        except LakeError:
            return None
        if not files:
            return None
        cond = (pl.col("msisdn") == msisdn) & (pl.col("record_id") == record_id)
        if source is not None:
            cond &= pl.col("source") == source
        found = pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore").filter(cond).collect()
        return found if found.height else None

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
        """Book a redemption of ``points`` when the line's balance covers them (else ``ConflictError``). Two
        redemptions of one line are decided one after the other: the line's register row is held while the balance
        is read and the entry written (PostgreSQL: a row lock; SQLite: the write lock, taken when the transaction
        begins, ``store.writer``), so the second reads the balance the first left. A lock not had in time is a
        ``ConflictError`` too (nothing booked: try again)."""
        if points <= 0:
            raise InvalidInputError([Problem("loyalty", None, "points", "a positive number of points")], what="redeem")
        try:
            with writer(self.engine).begin() as conn:
                _lock_lines(conn, [msisdn])
                before = self._loyalty(conn, msisdn)
                if points > before.balance:
                    raise ConflictError(f"balance {before.balance} is less than {points} points",
                                        details={"balance": before.balance, "points": points})
                entry_id, at = new_id("pts"), self.clock()
                conn.execute(table_of(LoyaltyEntry).insert().values(
                    entry_id=entry_id, msisdn=msisdn, kind="redeem", points=points, reason=reason[:200], booked_at=at))
                self._audit_change(conn, "loyalty.redeem", f"loyalty/{entry_id}", msisdn, f"{points} points redeemed by the "
                                   "assistant for the subscriber", at)
                return self._loyalty(conn, msisdn)
        except OperationalError as exc:
            if not isinstance(unavailable(exc), DatabaseBusyError):
                raise
            raise ConflictError("the line's points are being changed by another request: nothing was redeemed, try again",
                                details={"points": points}) from exc

    # -- roaming --------------------------------------------------------------------------------------
    # -- the current holding of a number (``care._holding`` reads these through ``HoldingSince`` and
    # ``HoldingRecords``: the assistant tells a holder only what is dated from their line's activation on) -------
    def holding_since(self, msisdn: str) -> datetime | None:
        """When the current holder's holding of ``msisdn`` began: the register's ``activated_at`` (a reassigned
        number has a later one), or its ``holder_since`` when later (the line moved to another customer, its
        activation kept); None: the line is unknown."""
        with self.engine.connect() as conn:
            sub = get_subscriber(conn, msisdn)
        if sub is None or sub.activated_at is None:
            return None
        since = _instant(sub.activated_at)
        if sub.holder_since is not None:
            since = max(since, _instant(sub.holder_since))
        return since

    def holding_roaming_cap(self, msisdn: str, since: datetime) -> Money | None:
        """The cap in force set in the holding that began ``since``: the latest cap row of ``msisdn`` set at or
        after it (None: none set in it, or the latest removed it)."""
        t = table_of(RoamingCap)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.amount_minor, t.c.currency, t.c.set_at).where(t.c.msisdn == msisdn)
                                .order_by(t.c.set_at.desc(), t.c.cap_id.desc())).all()
        row = next((r for r in rows if _instant(r.set_at) >= since), None)
        if row is None or row.amount_minor is None or row.currency is None:
            return None
        return Money.from_minor(int(row.amount_minor), row.currency)

    def subscriptions_ordered_before(self, msisdn: str, since: datetime) -> frozenset[str]:
        """The subscriptions of ``msisdn`` whose first consent event (the order) is before ``since``: an earlier
        holder's."""
        t = table_of(ConsentEvent)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.subscription_id, func.min(t.c.at).label("first"))
                                .where(t.c.msisdn == msisdn).group_by(t.c.subscription_id)).all()
        return frozenset(r.subscription_id for r in rows if r.first is not None and _instant(r.first) < since)

    def roaming_cap(self, msisdn: str) -> Money | None:
        """The line's monthly roaming spending cap in force: its latest cap row (None: never set, or removed)."""
        with self.engine.connect() as conn:
            return self._roaming_cap(conn, msisdn)

    def _roaming_cap(self, conn: Connection, msisdn: str) -> Money | None:
        t = table_of(RoamingCap)
        row = conn.execute(select(t.c.amount_minor, t.c.currency).where(t.c.msisdn == msisdn)
                           .order_by(t.c.set_at.desc(), t.c.cap_id.desc()).limit(1)).first()
        if row is None or row.amount_minor is None:
            return None
        return Money.from_minor(row.amount_minor, row.currency)

    def roaming(self, msisdn: str, country: str) -> RoamingFacts | None:
        with self.engine.connect() as conn:
            sub = get_subscriber(conn, msisdn)
            cap = self._roaming_cap(conn, msisdn)
            # the prices of today's usage: those of the plan in force, not of a change pending for next period
            plan_id = None if sub is None else self._plan_at(conn, msisdn, sub.plan_id, self.clock()).plan_id
        if sub is None:
            return None
        plan = next((p for p in self.catalog.plans if p.id == plan_id), None)
        try:
            rz = self.catalog.roaming_zone_of(country)  # as rating places it: None at home, no roaming rates
        except NotFoundError:
            return None
        if plan is None or rz is None:
            return None
        rates: list[RoamingRate] = []
        for kind, direction in (("voice", "out"), ("sms", "out"), ("data", None)):
            rule = plan.rule_for(kind, direction, "domestic", rz.id)
            if rule is None:
                continue
            rates.append(self._unit_price(kind, rule))
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
            # as ``POST /subscriptions/{id}/cancel`` audits it
            self._audit_change(conn, "subscription.cancel", f"subscription/{subscription_id}", msisdn,
                               "cancelled by the assistant for the subscriber", at)
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
        return self._ticket(msisdn, ticket.category, 1 if ticket.category in _URGENT else 2, ticket.summary,
                            why="fault report opened by the assistant for the subscriber")

    def _ticket(self, msisdn: str, category: str, priority: int, summary: str, *, why: str) -> str:
        tid, at = new_id("tkt"), self.clock()
        with self.engine.begin() as conn:
            sub = get_subscriber(conn, msisdn)
            conn.execute(table_of(TroubleTicket).insert().values(
                ticket_id=tid, msisdn=msisdn, region=sub.region if sub else None, category=category[:48],
                priority=priority, status="open", opened_at=at, resolved_at=None, summary=summary))
            self._audit_change(conn, "ticket.open", f"ticket/{tid}", msisdn, why, at)
        return tid

    def _audit_change(self, conn: Connection, action: str, resource: str, msisdn: str, reason: str, at: datetime) -> None:
        """A change the assistant made for the subscriber, in the access audit under their pseudonym, in the change's
        transaction (as the API audits the same change), when the store was given a pseudonymizer."""
        if self.pseudonymize is not None:
            record_access(conn, actor=self.actor, role="system", action=action, resource=resource,
                          subject_msisdn_pseudonym=self.pseudonymize(msisdn), reason=reason, at=at)

    def record_complaint(self, msisdn: str, complaint: ComplaintRequest) -> str:
        """An ``opened`` complaint with its deadline; the finding, refund and conversation it names go into
        the link columns, any other link (a usage record) travels with the words. Audited when the store
        was given a pseudonymizer."""
        from fairtel.store._complaints import LINK_COLUMNS, AuditAs, open_complaint

        links = dict(complaint.links)
        if complaint.conversation_id:
            links.setdefault("conversation_id", complaint.conversation_id)
        if links.get("record_id") and not links.get("finding_id"):
            found = self._finding_of(msisdn, links["record_id"])
            if found is not None:  # the charge-assurance finding about the record complained of: linked
                links["finding_id"] = found
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

    def _finding_of(self, msisdn: str, record_id: str) -> str | None:
        """The latest finding of the line that names ``record_id``, if any."""
        f = table_of(Finding)
        with self.engine.connect() as conn:
            rows = conn.execute(select(f.c.finding_id, f.c.record_ids).where(f.c.msisdn == msisdn)
                                .order_by(f.c.detected_at.desc(), f.c.finding_id.desc())).all()
        return next((r.finding_id for r in rows if record_id in (r.record_ids or [])), None)

    def hand_off(self, msisdn: str, reason: str, conversation_id: str) -> str:
        """A ticket in the agents' queue carrying the conversation (``reason``: ``care.handoff_text``, what the
        subscriber asked for first and every turn; ``ticket_text`` reads it back)."""
        return self._ticket(msisdn, HANDOFF, 2, f"chat {conversation_id}\n{reason}",
                            why=f"hand-off to an agent from chat {conversation_id}")

    def plan_advice(self, msisdn: str) -> AdviceFacts | None:
        return None if self.advisor is None else self.advisor(msisdn)

    def complaints(self, msisdn: str, *, limit: int = 3) -> list[ComplaintFacts]:
        """The line's complaints, newest first, as the subscriber may see them (``care.ComplaintReader``): the lifecycle
        status and the current term's resolution deadline, under the store's SLA policy; never the agents' notes."""
        from fairtel.store._complaints import get_complaint

        t = table_of(Complaint)
        with self.engine.connect() as conn:
            ids = conn.execute(select(t.c.complaint_id).where(t.c.msisdn == msisdn)
                               .order_by(t.c.opened_at.desc(), t.c.complaint_id.desc()).limit(limit)).scalars().all()
            records = [get_complaint(conn, cid, policy=self.sla) for cid in ids]
        def local(at: datetime | None) -> datetime | None:
            utc = _utc(at)
            return None if utc is None else utc.astimezone(zone(self.tz))

        refunds: dict[str, Money] = {}
        wanted = [r.adjustment_id for r in records if r.adjustment_id]
        if wanted:
            a = table_of(Adjustment)
            with self.engine.connect() as conn:
                refunds = {row.adjustment_id: Money.from_minor(row.amount_minor, row.currency) for row in conn.execute(
                    select(a.c.adjustment_id, a.c.amount_minor, a.c.currency).where(a.c.adjustment_id.in_(wanted)))}
        return [ComplaintFacts(r.complaint_id, r.category, r.status, local(r.opened_at) or r.opened_at, local(r.due_at),
                               local(r.closed_at), escalation_level=r.escalation_level,
                               refund=refunds.get(r.adjustment_id or ""), refund_id=r.adjustment_id) for r in records]

    def reopen_complaint(self, msisdn: str, complaint_id: str, note: str) -> ComplaintFacts:
        """Reopen the line's own resolved complaint, as a subscriber may (``POST /complaints/{id}/reopen``): a
        complaint of another line is not found; one not resolved is a conflict. Audited when the store was given a
        pseudonymizer."""
        from fairtel.store._complaints import AuditAs, move_complaint

        t = table_of(Complaint)
        audit = AuditAs(self.actor, "system", self.pseudonymize or (lambda m: ""),
                        reason="reopened by the assistant for the subscriber (not satisfied with the outcome)")
        with self.engine.begin() as conn:
            row = conn.execute(select(t.c.msisdn, t.c.lifecycle).where(t.c.complaint_id == complaint_id)).first()
            if row is None or row.msisdn != msisdn:
                raise NotFoundError(f"no complaint {complaint_id}")
            if row.lifecycle != "resolved":
                raise ConflictError(f"complaint {complaint_id} is {row.lifecycle}: a subscriber reopens a resolved complaint only",
                                    details={"from": row.lifecycle, "to": "reopened"})
            move_complaint(conn, complaint_id, "reopened", at=self.clock(), audit=audit, note=note[:500], policy=self.sla)
        return next(c for c in self.complaints(msisdn, limit=50) if c.complaint_id == complaint_id)

    def tickets(self, msisdn: str, *, limit: int = 3) -> list[TicketFacts]:
        """The line's trouble tickets, newest first (``care.TicketReader``): category, status, when opened and resolved;
        never the agents' notes nor the summary."""
        t = table_of(TroubleTicket)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.ticket_id, t.c.category, t.c.status, t.c.opened_at, t.c.resolved_at)
                                .where(t.c.msisdn == msisdn).order_by(t.c.opened_at.desc(), t.c.ticket_id.desc())
                                .limit(limit)).all()

        def local(at: datetime | None) -> datetime | None:
            utc = _utc(at)
            return None if utc is None else utc.astimezone(zone(self.tz))

        return [TicketFacts(r.ticket_id, r.category, r.status, local(r.opened_at) or r.opened_at, local(r.resolved_at))
                for r in rows]

    def destination(self, msisdn: str, country: str) -> DestinationFacts | None:
        """What calling and texting ``country`` from home costs on the plan in force now (``care.DestinationPrices``):
        the destination zone of its dialling code (the catalog's prefixes, as rating tells a number's zone) and the
        plan's rules for outgoing calls and SMS to it, not roaming."""
        code = DIALLING_CODES.get(country.strip().upper())
        with self.engine.connect() as conn:
            sub = get_subscriber(conn, msisdn)
            plan_id = None if sub is None else self._plan_at(conn, msisdn, sub.plan_id, self.clock()).plan_id
        plan = next((p for p in self.catalog.plans if p.id == plan_id), None)
        if code is None or plan is None:
            return None
        try:
            dest = self.catalog.zone_for(code)
        except NotFoundError:
            return None
        rates: list[RoamingRate] = []
        for kind in ("voice", "sms"):
            rule = plan.rule_for(kind, "out", dest.id, None)
            if rule is None:
                continue
            rates.append(self._unit_price(kind, rule))
        if not rates:
            return None
        return DestinationFacts(country=country.upper(), dialling_code=code, zone_id=dest.id,
                                zone_name=Text(dest.name.zh, dest.name.en), currency=self.currency, rates=tuple(rates))

    def _unit_price(self, kind: str, rule: Any) -> RoamingRate:
        """A rule's price per minute, SMS or MiB, as the catalog's first rate step says."""
        if rule.free or rule.rate is None:
            return RoamingRate(kind, rule.id, None, _PER_UNIT[kind][1], free=True)
        step = self.catalog.rate(rule.rate).steps[0]
        per_units, per = _PER_UNIT[kind]
        return RoamingRate(kind, rule.id, _price(step.rate * Decimal(per_units) / Decimal(step.rate_unit)), per,
                           daily_cap=rule.daily_cap)

    def audit_line_read(self, msisdn: str, *, caller: str, topic: str, holder: bool) -> None:
        """A conversation answered about another line than the caller's (``care.LineReadAudit``): one audit row under
        that line's pseudonym, naming the caller's, when the store was given a pseudonymizer (as a recorded
        complaint is audited), so that a search of the audit by that line finds the read."""
        if self.pseudonymize is None:
            return
        whose = "a line of their own customer account" if holder else "a line of the customer handled"
        with self.engine.begin() as conn:
            record_access(conn, actor=self.actor, role="system", action="chat.line_read", resource=f"chat/{topic or 'answer'}",
                          subject_msisdn_pseudonym=self.pseudonymize(msisdn),
                          reason=f"asked in chat by {self.pseudonymize(caller)} about {whose}", at=self.clock())

    # -- roaming cap ------------------------------------------------------------------------------------
    def cap_currency(self, msisdn: str) -> str:
        """The currency a roaming cap is set in (the operator's, whatever the line): the assistant refuses a cap
        with more decimals than it has before asking to confirm it."""
        return self.currency

    def set_roaming_cap(self, msisdn: str, amount: Decimal | None) -> Money | None:
        """Set the line's monthly roaming spending cap as ``PUT /me/roaming-cap`` does: a new cap row (the history
        is kept), in minor units of the operator's currency, set by ``actor`` at the clock's instant; ``amount``
        None removes the cap. Audited under the subscriber's pseudonym when the store was given a pseudonymizer
        (as a recorded complaint is). Returns the cap in force afterwards (None: none)."""
        minor: int | None = None
        if amount is not None:
            try:
                minor = Money.of(amount, self.currency).to_minor()
            except (ArithmeticError, ValueError) as exc:
                raise InvalidInputError([Problem("roaming cap", None, "amount", f"not an amount in {self.currency}: {amount}")],
                                        what="roaming cap") from exc
            if minor < 0 or Money.from_minor(minor, self.currency).amount > ROAMING_CAP_MAX:
                raise InvalidInputError([Problem("roaming cap", None, "amount", f"between 0 and {ROAMING_CAP_MAX}")],
                                        what="roaming cap")
        at = self.clock()
        t = table_of(RoamingCap)
        with self.engine.begin() as conn:
            if get_subscriber(conn, msisdn) is None:
                raise NotFoundError(f"no subscriber {msisdn}")
            conn.execute(t.insert().values(cap_id=new_id("cap"), msisdn=msisdn, amount_minor=minor,
                                           currency=None if minor is None else self.currency, set_at=at, set_by=self.actor))
            self._audit_change(conn, "roaming_cap.set", "roaming_cap", msisdn, "set by the assistant for the subscriber", at)
            held = conn.execute(select(t.c.amount_minor, t.c.currency).where(t.c.msisdn == msisdn)
                                .order_by(t.c.set_at.desc(), t.c.cap_id.desc()).limit(1)).first()
        if held is None or held.amount_minor is None:
            return None
        return Money.from_minor(held.amount_minor, held.currency)


# the lake datasets a bill run writes beside its bills (``cli._billing``): the lines each bill was issued from, then
# the usage lines it held off them
_BILL_DATASETS = ("billed", "held_usage")
# the line columns ``StoreCareData.charges`` tells a month's charges from
_CHARGE_COLUMNS = ("record_id", "source", "line", "msisdn", "period", "started_at", "kind", "rule_id", "allowance_id",
                   "amount_minor", "currency", "subscription_id", "verdict", "roaming_country")
# what a bill's line must share with a rated line for the two to be the same charge
_SAME_CHARGE = ("line", "rule_id", "allowance_id", "allowance_used", "quantity", "charged_quantity", "amount_minor", "verdict")


def billed_or_rated(rated: pl.DataFrame, billed: pl.DataFrame) -> pl.DataFrame:
    """The lines to explain a billed record with (``cli._rating.as_billed``' rule): its rated lines while they are the
    very charge its bill holds (they keep more: the allowance used before each, the rate, whether a cap applied),
    else the bill's lines; ``rated`` when no bill holds the record, or it is in several sources."""
    if billed.height == 0 or billed["source"].n_unique() > 1:
        return rated if rated.height else billed
    mine = rated.filter(pl.col("source") == billed["source"][0]) if rated.height else rated

    def charge(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select([pl.col(c).cast(billed.schema[c]) for c in _SAME_CHARGE]).sort("line")

    if mine.height == billed.height and charge(mine).equals(charge(billed)):
        return mine
    return billed.drop([c for c in ("bill_id", "run_id") if c in billed.columns])


def explain_stored(
    engine: Engine, record_id: str, *, rated: pl.DataFrame, current: Callable[[], Catalog],
    usage: pl.DataFrame | None = None, source: str | None = None, given: Callable[[], Catalog] | None = None,
    repriced: pl.DataFrame | None = None,
) -> Explanation:
    """``rating.explain`` of a record of the home, with the catalog that priced it and the corrections issued
    for it since its bill (rerate entries: the record priced again after a tariff change), so that the
    arithmetic shown gives the amount stored and what the subscriber pays after the corrections, and the refunds
    posted for it since (``record_refunds``: a charge found later not to be owed). What
    ``fairtel explain`` prints and the assistant says of a charge.

    The catalog is ``given`` (a file the caller names) when there is one; else the version the record's bill
    was issued under (bills keep it; rated lines do not name one), unless it does not give the stored amounts
    while the home's current catalog (``current``, loaded only when needed) does (the period rated again
    since); else ``current``. Explained with an earlier version, the statement says what of the tariff that priced
    this record has changed since (nothing when none of it did); ``repriced``: the record's lines as a rerate
    priced them since (the lake's, when they are not the bill's), told after the correction, which says why the
    amount moved; an entry a bill carries names that bill's period."""
    from fairtel.catalog import parse_catalog
    from fairtel.rating import explain
    from fairtel.rating._explain import Correction
    from fairtel.store._billing import adjustments_of
    from fairtel.store._catalog import catalog_text, current_catalog

    mine = rated.filter(pl.col("record_id") == record_id)
    if source is not None:
        mine = mine.filter(pl.col("source") == source)
    candidates: list[tuple[Callable[[], Catalog], int | None]] = []
    corrections: list[Correction] = []
    refunds: list[Refund] = []
    review: str | None = None
    current_id = None
    if mine.height and mine["source"].n_unique() == 1:  # else ``explain`` says what is wrong
        first = mine.row(0, named=True)
        b = table_of(Bill)
        with engine.connect() as conn:
            stored = current_catalog(conn)
            current_id = None if stored is None else stored.version_id
            billed_id = conn.scalar(select(b.c.catalog_version_id).where(
                (b.c.msisdn == first["msisdn"]) & (b.c.period == first["period"])))
            text = None if billed_id is None or given is not None else catalog_text(conn, billed_id)
            mine_entries = [
                e for e in adjustments_of(conn, first["msisdn"])
                if e.period == first["period"] and e.record_id == record_id and (e.source or "") == (first["source"] or "")
            ]
            bl = table_of(BillLine)
            carried = {} if not mine_entries else {r.adjustment_id: r.period for r in conn.execute(
                select(bl.c.adjustment_id, b.c.period).join(b, b.c.bill_id == bl.c.bill_id)
                .where(bl.c.adjustment_id.in_([e.adjustment_id for e in mine_entries])))}
            corrections = [
                Correction(e.adjustment_id, e.signed_minor, e.created_at, e.old_amount_minor, e.new_amount_minor,
                           carried_in=carried.get(e.adjustment_id), reason=e.reason)
                for e in mine_entries
            ]
            refunds = record_refunds(conn, first["msisdn"], record_id, source=first["source"], period=first["period"])
            review = consent_review(conn, first["msisdn"], record_id)
        if text is not None:
            billed = parse_catalog(text, file=f"<stored catalog version {billed_id}>")[0]
            if billed is not None:
                candidates.append((lambda: billed, billed_id))
    if given is not None:
        candidates = [(given, None)]
    elif not candidates or candidates[0][1] != current_id:
        candidates.append((current, current_id))
    found = None
    now: list[Catalog] = []  # the catalog now, loaded once when needed

    def catalog_now() -> Catalog:
        if not now:
            now.append(current())
        return now[0]

    for load, version_id in candidates:
        earlier = version_id is not None and current_id is not None and version_id != current_id
        # with the catalog now at hand, an explanation with an earlier tariff says what of it changed for this
        # record only (``tariff_changes``: nothing when nothing that priced it did), and the record as priced again
        # is explained with the tariff that priced it
        e = explain(record_id, rated=rated, catalog=load(), usage=usage, source=source, corrections=corrections,
                    catalog_version_id=version_id, refunds=refunds, earlier_tariff=earlier,
                    current=catalog_now() if earlier or (repriced is not None and corrections) else None,
                    repriced=repriced, consent_review=review)
        found = found or e
        if e.agrees:
            return e
    assert found is not None
    return found


# the findings that put an order's confirmation in doubt while open or confirmed (not yet resolved or dismissed)
_CONSENT_DOUBTS = ("machine_speed_confirmation", "replayed_evidence")


def consent_review(conn: Connection, msisdn: str, record_id: str) -> str | None:
    """The kind of an open or confirmed charge-assurance finding that holds the confirmation behind ``record_id``
    (a value-added charge of ``msisdn``) in doubt, or None: ``explain`` then tells the charge as under review, not as
    a confirmed order."""
    f = table_of(Finding)
    rows = conn.execute(select(f.c.kind, f.c.record_ids).where(
        (f.c.msisdn == msisdn) & f.c.kind.in_(_CONSENT_DOUBTS) & f.c.status.in_(("open", "confirmed")))
        .order_by(f.c.detected_at, f.c.finding_id)).all()
    return next((r.kind for r in rows if record_id in (r.record_ids or [])), None)


_REFUNDED_BEFORE = re.compile(r"refunded before: (\S+?)\)?$")


def record_refunds(
    conn: Connection, msisdn: str, record_id: str, *, source: str | None = None, period: str | None = None,
) -> list[Refund]:
    """The refunds posted for a record of ``msisdn`` (oldest first), found through the findings naming it: refunds
    carry no record of their own. A finding names its records (``record_ids``) and, in its evidence, the source and
    period they belong to (a finding that does not say is taken to mean this one); a refunded finding posted its
    refund (``adjustments.finding_id``), or was closed with the one an earlier finding of the same charge posted
    (its resolution says ``refunded before: <adjustment>``). A refund is told once whichever findings name it."""
    from fairtel.rating._explain import Refund

    f, a = table_of(Finding), table_of(Adjustment)
    counts: dict[str, int] = {}  # finding → how many records it names
    names: dict[str, tuple[str, ...]] = {}  # finding → the records it names
    wanted: set[str] = set()
    earlier: set[str] = set()
    for row in conn.execute(select(f.c.finding_id, f.c.record_ids, f.c.evidence, f.c.resolution).where(
            (f.c.msisdn == msisdn) & f.c.resolution.like("refunded%"))):
        ids = [str(x) for x in (row.record_ids or [])]
        counts[row.finding_id] = len(ids)
        names[row.finding_id] = tuple(ids)
        ev = row.evidence if isinstance(row.evidence, dict) else {}
        if record_id not in ids:
            continue
        if source is not None and ev.get("source") not in (None, source):
            continue
        if period is not None and ev.get("period") not in (None, period):
            continue
        wanted.add(row.finding_id)
        m = _REFUNDED_BEFORE.search(row.resolution or "")
        if m:
            earlier.add(m.group(1))
    if not wanted and not earlier:
        return []
    rows = conn.execute(select(a).where((a.c.msisdn == msisdn) & (a.c.kind == "refund") & (
        a.c.finding_id.in_(sorted(wanted)) | a.c.adjustment_id.in_(sorted(earlier)))).order_by(a.c.created_at, a.c.adjustment_id))
    return [Refund(r.adjustment_id, int(r.amount_minor), r.currency, _utc(r.created_at) or r.created_at, r.reason,
                   max(1, counts.get(r.finding_id or "", 1)), record_ids=names.get(r.finding_id or "", ()),
                   charge_minor=None if r.old_amount_minor is None else int(r.old_amount_minor))
            for r in rows]


# -- the operator's loyalty ledger, imported ---------------------------------------------------------------
LOYALTY_FIELDS = ("entry_id", "msisdn", "kind", "points", "reason", "booked_at")


def import_loyalty(conn: Connection, path: Path | str, *, chunk_size: int = 2000) -> ImportReport:
    """Append an operator's loyalty ledger (JSON Lines, one entry a line: ``entry_id``, ``msisdn``, ``kind`` earn or
    redeem, ``points`` a whole number above 0, ``reason``, ``booked_at`` RFC 3339 with its offset; ``fairtel synth``
    writes ``loyalty.jsonl``) to ``loyalty_points``, where the assistant reads balances and books redemptions.

    The ledger is append-only: re-importing adds nothing (an entry id already stored, or repeated in the file, with
    the same content is a ``duplicate``; with other content it is rejected). A bad line, an unknown line number,
    or a redemption that would take a line's balance below zero, at its time or at any entry booked after it (with
    what is stored, the file's earns and the redemptions accepted before it), is reported with file, line and field
    and left out. Runs inside the caller's transaction; the lines of the file's entries are held (their register
    rows locked on PostgreSQL) while their ledgers are read and appended to, as ``StoreCareData.redeem_points``
    holds its line."""
    path = Path(path)
    file = str(path)
    report = ImportReport(file=file, kind="loyalty")
    pending: dict[str, tuple[int, dict[str, Any]]] = {}
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            report.read += 1
            entry, problems = _loyalty_line(file, line_no, raw.removeprefix(b"\xef\xbb\xbf") if line_no == 1 else raw)
            if entry is None:
                report.rejected += 1
                report.problems.extend(problems)
                continue
            seen = pending.get(entry["entry_id"])
            if seen is not None:
                if seen[1] == entry:
                    report.duplicate += 1
                else:
                    report.rejected += 1
                    report.problems.append(Problem(file, line_no, "entry_id", f"conflicts with the entry on line {seen[0]}", "conflict"))
                continue
            pending[entry["entry_id"]] = (line_no, entry)
    t = table_of(LoyaltyEntry)
    stored: dict[str, Any] = {}
    for part in _chunked(sorted(pending), chunk_size):
        stored.update({r.entry_id: r for r in conn.execute(select(t).where(t.c.entry_id.in_(part)))})
    fresh: list[tuple[int, dict[str, Any]]] = []
    for entry_id, (line_no, entry) in pending.items():
        held = stored.get(entry_id)
        if held is None:
            fresh.append((line_no, entry))
        elif (held.msisdn, held.kind, held.points, held.reason, _utc(held.booked_at)) == (
                entry["msisdn"], entry["kind"], entry["points"], entry["reason"], entry["booked_at"]):
            report.duplicate += 1
        else:
            report.rejected += 1
            report.problems.append(Problem(file, line_no, "entry_id", f"entry {entry_id} is stored with other content", "conflict"))
    numbers = sorted({e["msisdn"] for _, e in fresh})
    known: set[str] = set()
    before: dict[str, list[tuple[datetime, str, int]]] = {}
    for part in _chunked(numbers, chunk_size):
        known.update(_lock_lines(conn, part))
        for r in conn.execute(select(t.c.msisdn, t.c.booked_at, t.c.entry_id, t.c.kind, t.c.points).where(t.c.msisdn.in_(part))):
            before.setdefault(r.msisdn, []).append((_utc(r.booked_at) or r.booked_at, r.entry_id, r.points if r.kind == "earn" else -r.points))
    accepted: list[dict[str, Any]] = []
    by_line: dict[str, list[tuple[datetime, str, int, int, dict[str, Any] | None]]] = {}
    for line_no, e in fresh:
        if e["msisdn"] not in known:
            report.rejected += 1
            report.problems.append(Problem(file, line_no, "msisdn", f"no subscriber {e['msisdn']} in the register", "unknown"))
            continue
        by_line.setdefault(e["msisdn"], []).append((e["booked_at"], e["entry_id"], e["points"] if e["kind"] == "earn" else -e["points"], line_no, e))
    for msisdn, entries in by_line.items():
        ledger = sorted([*((at, eid, pts, 0, None) for at, eid, pts in before.get(msisdn, [])), *entries], key=lambda x: (x[0], x[1]))
        lowest = _lowest_after(ledger)
        balance = 0
        for i, (_at, _eid, pts, at_line, new) in enumerate(ledger):
            if new is not None and pts < 0:
                why, later = None, lowest[i]
                if balance + pts < 0:
                    why = f"redeems {-pts} points when the balance is {balance}"
                elif later is not None and balance + pts + later[0] < 0:
                    why = (f"redeems {-pts} points: the balance would fall to {balance + pts + later[0]} at the entry "
                           f"booked {later[1].isoformat()}, after it")
                if why is not None:
                    report.rejected += 1
                    report.problems.append(Problem(file, at_line, "points", why, "balance"))
                    continue
            balance += pts
            if new is not None:
                accepted.append(new)
    for part in _chunked(accepted, chunk_size):
        conn.execute(t.insert(), part)
    report.accepted = report.inserted = len(accepted)
    return report


def _lock_lines(conn: Connection, numbers: Sequence[str]) -> list[str]:
    """The lines of ``numbers`` that are in the register, their rows held until the transaction ends (PostgreSQL:
    locked in number order, so that two writers of several lines wait rather than deadlock; SQLite takes no row
    lock: its writer holds the whole database), so that a line's loyalty ledger is read and appended to by one
    transaction at a time."""
    s = table_of(Subscriber)
    return [r[0] for r in conn.execute(select(s.c.msisdn).where(s.c.msisdn.in_(numbers)).order_by(s.c.msisdn).with_for_update())]


def _lowest_after(ledger: Sequence[tuple[datetime, str, int, int, dict[str, Any] | None]]) -> list[tuple[int, datetime] | None]:
    """For each place in a line's ledger (oldest first), how far the balance goes down, at its lowest, over the
    entries booked after it that are settled (stored entries and the file's earns; the file's other redemptions
    are checked at their own place), and the instant of that entry; None: no such entry after it."""
    out: list[tuple[int, datetime] | None] = [None] * len(ledger)
    low: tuple[int, datetime] | None = None
    for i in range(len(ledger) - 1, -1, -1):
        out[i] = low
        at, _eid, pts, _line, new = ledger[i]
        settled = 0 if new is not None and pts < 0 else pts
        # the lowest change from just before entry i: its own, or its own and then the lowest after it
        low = (settled, at) if low is None or low[0] >= 0 else (settled + low[0], low[1])
    return out


def _loyalty_line(file: str, line: int, raw: bytes) -> tuple[dict[str, Any] | None, list[Problem]]:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [Problem(file, line, None, f"not a JSON line: {exc}")]
    if not isinstance(obj, dict):
        return None, [Problem(file, line, None, "not a JSON object")]
    problems = [Problem(file, line, f, "missing") for f in LOYALTY_FIELDS if obj.get(f) in (None, "")]
    if problems:
        return None, problems
    entry_id, msisdn, kind, points, reason = (obj[f] for f in LOYALTY_FIELDS[:5])
    if not isinstance(entry_id, str) or len(entry_id) > 40:
        problems.append(Problem(file, line, "entry_id", "a string of at most 40 characters"))
    if not isinstance(msisdn, str) or not _MSISDN.fullmatch(msisdn):
        problems.append(Problem(file, line, "msisdn", "7 to 15 digits (E.164 without +)"))
    if kind not in LOYALTY_KINDS:
        problems.append(Problem(file, line, "kind", f"one of {', '.join(LOYALTY_KINDS)}, not {kind!r}"))
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0 or points >= 2**63:
        problems.append(Problem(file, line, "points", f"a whole number above 0, not {points!r}"))
    if not isinstance(reason, str) or len(reason) > 200:
        problems.append(Problem(file, line, "reason", "a string of at most 200 characters"))
    try:
        booked = parse_rfc3339(str(obj["booked_at"])).astimezone(UTC)
    except (ValueError, FairtelError) as exc:
        problems.append(Problem(file, line, "booked_at", str(exc)))
        booked = None
    if problems:
        return None, problems
    return {"entry_id": entry_id, "msisdn": msisdn, "kind": kind, "points": points, "reason": reason, "booked_at": booked}, []


def _chunked(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- the agents' side of tickets -----------------------------------------------------------------------------
# A ticket's ``summary`` is what the assistant wrote from the conversation, and nothing an agent wrote: agents'
# notes are rows of their own (``ticket_notes``: who, when, the move it came with). A hand-off's summary is
# ``chat <id>`` on its first line, then what the subscriber asked for first (``asked first (<intent>): ...``),
# then the whole conversation, one turn a line (``user: ...`` / ``assistant: ...``), a turn of several lines
# continued on the lines after it, indented by two spaces (``care.handoff_text``; hand-offs written before it
# have no header, carry their last 20 turns and continue unindented). A fault's is one line in the conversation's
# language naming the chat it was reported in (``… (reported in chat chat_…)`` / ``…（于对话 chat_… 中报告）``).
HANDOFF = "agent_handoff"
TICKET_UNSETTLED = ("open", "in_progress")
NOTE_MAX = 2000
_CHAT_REF = re.compile(r"(?:\bchat|对话) (chat_[0-9a-z]+)")
_TURN = re.compile(r"^(user|assistant): ?(.*)$", re.DOTALL)
_ASKED_FIRST = re.compile(r"^asked first(?: \(([a-z_]+)\))?: ?(.*)$", re.DOTALL)
_CONTINUED = "  "
# which moves an agent makes from which status (taking an open ticket starts work on it)
TICKET_MOVES: dict[str, tuple[str, ...]] = {
    "in_progress": ("open",),
    "resolved": ("open", "in_progress"),
    "closed": ("open", "in_progress", "resolved"),
}


@dataclass(frozen=True, slots=True)
class TicketTurn:
    who: str  # user | assistant
    text: str


@dataclass(frozen=True, slots=True)
class TicketText:
    """A ticket's summary read back: the chat it links, what the subscriber reported (a fault's description;
    empty for a hand-off), what they asked for first and the intent it was taken for (a hand-off's: its header,
    or for one written without it, the first thing they said), and the conversation carried (a hand-off's)."""

    conversation_id: str | None
    reported: str
    turns: tuple[TicketTurn, ...]
    asked_first: str | None = None
    first_intent: str | None = None


def ticket_text(summary: str, category: str) -> TicketText:
    lines = summary.split("\n")
    handoff = category == HANDOFF and bool(lines) and lines[0].startswith("chat ")
    if not handoff:
        refs = _CHAT_REF.findall(summary)  # the writer names the chat last, after the subscriber's words
        return TicketText(refs[-1] if refs else None, summary.strip(), ())
    conversation = lines[0].removeprefix("chat ").strip() or None
    body = lines[1:]
    asked: str | None = None
    intent: str | None = None
    first = _ASKED_FIRST.match(body[0]) if body else None
    if first:
        intent, asked, body = first[1], first[2].strip(), body[1:]
    reported: list[str] = []
    turns: list[list[str]] = []
    for line in body:
        turn = _TURN.match(line)
        if turn:
            turns.append([turn[1], turn[2]])
        elif turns:
            turns[-1][1] += "\n" + line.removeprefix(_CONTINUED)
        else:
            reported.append(line)
    if asked is None:
        asked = next((text for who, text in turns if who == "user"), None)
    return TicketText(conversation, "\n".join(reported).strip(), tuple(TicketTurn(w, t) for w, t in turns),
                      asked_first=asked or None, first_intent=intent)


@dataclass(frozen=True, slots=True)
class TicketNoteEntry:
    """One entry of a ticket's notes: ``status`` the status a move left the ticket in (None: a note alone)."""

    note_id: int
    ticket_id: str
    noted_at: datetime
    author: str
    status: str | None
    note: str


def ticket_notes(conn: Connection, ticket_id: str) -> list[TicketNoteEntry]:
    """What agents wrote on a ticket, oldest first."""
    n = table_of(TicketNote)
    rows = conn.execute(select(n).where(n.c.ticket_id == ticket_id).order_by(n.c.noted_at, n.c.note_id)).all()
    return [TicketNoteEntry(r.note_id, r.ticket_id, r.noted_at, r.author, r.status, r.note or "") for r in rows]


def _clean_note(note: str | None) -> str | None:
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise InvalidInputError([Problem("request", None, "note", f"at most {NOTE_MAX} characters")], what="ticket")
    return text or None


def add_ticket_note(conn: Connection, ticket_id: str, note: str, *, at: datetime, actor: str) -> TicketNoteEntry:
    """An agent's note on a ticket without moving it (any status: a settled ticket may be followed up)."""
    text = _clean_note(note)
    if text is None:
        raise InvalidInputError([Problem("request", None, "note", "a note says something")], what="ticket")
    t = table_of(TroubleTicket)
    if conn.execute(select(t.c.ticket_id).where(t.c.ticket_id == ticket_id)).first() is None:
        raise NotFoundError(f"no ticket {ticket_id}")
    return _note(conn, ticket_id, at=at, actor=actor, status=None, text=text)


def _note(conn: Connection, ticket_id: str, *, at: datetime, actor: str, status: str | None, text: str | None) -> TicketNoteEntry:
    n = table_of(TicketNote)
    done = conn.execute(n.insert().values(ticket_id=ticket_id, noted_at=at, author=actor, status=status, note=text))
    key = done.inserted_primary_key
    assert key is not None
    return TicketNoteEntry(int(key[0]), ticket_id, at, actor, status, text or "")


def move_ticket(conn: Connection, ticket_id: str, to: str, *, at: datetime, actor: str, note: str | None = None) -> Any:
    """Move a ticket to ``to`` (``TICKET_MOVES``: in progress, resolved or closed), recording the move and its note
    as an entry of the ticket's notes (its summary is left as the assistant wrote it); resolving or closing stamps
    ``resolved_at`` (the first settling's). Returns the row after the move. A move from a status that does not
    allow it is a ``ConflictError`` (details: from, to)."""
    t = table_of(TroubleTicket)
    row = conn.execute(select(t).where(t.c.ticket_id == ticket_id)).first()
    if row is None:
        raise NotFoundError(f"no ticket {ticket_id}")
    allowed = TICKET_MOVES.get(to)
    if allowed is None:
        raise InvalidInputError([Problem("request", None, "status", f"one of {', '.join(TICKET_MOVES)}")], what="ticket")
    if row.status not in allowed:
        raise ConflictError(f"ticket {ticket_id} is {row.status}: it cannot be {to.replace('_', ' ')}",
                            details={"from": row.status, "to": to})
    text = _clean_note(note)
    values: dict[str, Any] = {"status": to}
    if to in ("resolved", "closed"):
        values["resolved_at"] = row.resolved_at or at
    done = conn.execute(update(t).where(t.c.ticket_id == ticket_id, t.c.status == row.status).values(**values))
    if done.rowcount != 1:
        raise ConflictError(f"ticket {ticket_id} was moved meanwhile")
    _note(conn, ticket_id, at=at, actor=actor, status=to, text=text)
    return conn.execute(select(t).where(t.c.ticket_id == ticket_id)).one()


ADVICE_MONTHS = 3  # as `fairtel advise` prices by default
_ADVICE_USAGE = ("record_id", "source", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down",
                 "peer", "roaming_country", "offer_id", "amount", "amount_minor", "currency")


class HomeAdvisor:
    """Best-plan advice for one line from the home's own records, priced as ``fairtel advise`` prices the whole
    base (``insight.advise``): the line's usage of its last ``months`` complete billing months in the lake (the
    current month only while it has no complete one) rated under every plan of the catalog by the rating engine,
    the fee of the month of activation pro-rated as on the bill, value-added charges through the consent gate.
    Only plans the line could order are advised, by the same rule (``insight.advise``: the plan's
    ``eligibility`` at the clock's instant, through the channel the assistant answers on, ``consent_channel``;
    the register holds no age, so a plan for some ages only is not advised). Compared with the plan in force
    now (what the assistant names). A line without usage in the lake has no advice (None). Each answer is kept
    until the line's plan, the lake's usage or the plans on sale change."""

    def __init__(self, data: StoreCareData, *, months: int = ADVICE_MONTHS, cache_size: int = 1024) -> None:
        self.data = data
        self.months = months
        self.cache_size = cache_size
        self._cache: dict[tuple[Any, ...], AdviceFacts | None] = {}
        self._lock = threading.Lock()  # the API answers chats from several threads

    def __call__(self, msisdn: str) -> AdviceFacts | None:
        d = self.data
        try:
            lake = Lake(d.lake_dir)
            stored = lake.periods("usage")
        except LakeError:
            return None
        current = Period.containing(d.clock(), d.tz).key
        complete = [p for p in stored if p < current]
        chosen = (complete or [p for p in stored if p <= current])[-self.months:]
        if not chosen:
            return None
        with d.engine.connect() as conn:
            t = table_of(Subscriber)
            sub = conn.execute(select(t.c.msisdn, t.c.plan_id, t.c.activated_at, t.c.holder_since, t.c.status, t.c.closed_at,
                                      t.c.suspended_at, t.c.updated_at).where(t.c.msisdn == msisdn)).first()
            if sub is None:
                return None
            now = d.clock()
            plan = d._plan_at(conn, msisdn, sub.plan_id, now).plan_id
            files = lake.files("usage", periods=chosen)
            on_sale = tuple(p.id for p in d.catalog.plans
                            if not p.eligibility.sale_refusals(at=now, channel=d.consent_channel))
            key = (msisdn, plan, tuple(str(f) for f in files), tuple(_mtime(f) for f in files), on_sale)
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            ledger = consent_ledger(conn, msisdns=[msisdn])
        # no month has ended yet: the current one is priced as far as it has gone (``advise`` refuses it otherwise)
        advice = self._advise(sub, plan, files, ledger, now, so_far=not complete, periods=chosen)
        with self._lock:
            while len(self._cache) >= self.cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = advice
        return advice

    def _advise(self, sub: Any, plan: str, files: list[Path], ledger: Any, now: datetime, *,
                so_far: bool = False, periods: Sequence[str] = ()) -> AdviceFacts | None:
        from fairtel.billing import BillingPolicy
        from fairtel.insight import advise
        from fairtel.rating import consent_gate

        d = self.data
        if not files or plan not in {p.id for p in d.catalog.plans}:
            return None
        scan = pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore")
        names = scan.collect_schema().names()
        usage = scan.filter(pl.col("msisdn") == sub.msisdn).select([c for c in _ADVICE_USAGE if c in names]).collect()
        if usage.height == 0:
            return None
        instants = {c: _utc(getattr(sub, c))
                    for c in ("activated_at", "holder_since", "closed_at", "suspended_at", "updated_at")}
        # a closed line whose register does not say when: closed when the register last changed it, as the consent
        # gate reads it (cli._home.home_lines); such a line is advised nothing either way
        closed = instants["closed_at"] or (instants["updated_at"] if sub.status == "closed" else None)
        stamp = pl.Datetime("us", "UTC")
        lines = pl.DataFrame({"msisdn": [sub.msisdn], "status": [sub.status], "activated_at": [instants["activated_at"]],
                              "closed_at": [closed], "suspended_at": [instants["suspended_at"]],
                              "holder_since": [instants["holder_since"]]},
                             schema={"msisdn": pl.String(), "status": pl.String(), "activated_at": stamp, "closed_at": stamp,
                                     "suspended_at": stamp, "holder_since": stamp})
        gate = consent_gate(project_subscriptions(ledger), d.catalog, lines=lines)
        # a closed line's fee pro-rated to its closing, as on its bill (``advise`` skips a closed line anyway)
        # the current customer's holding only: after an owner change the earlier customer's usage is not theirs
        subscribers = lines.select("msisdn", pl.lit(plan).alias("plan_id"), "activated_at",
                                   pl.when(pl.col("status") == "closed").then(pl.col("closed_at")).alias("closed_at"),
                                   pl.lit(instants["holder_since"], dtype=stamp).alias("holder_since"))
        # months ended on the assistant's clock; a closed or suspended line is advised nothing (as `fairtel advise`)
        # (``so_far``: the month not ended yet, the only one there is, priced as far as it has gone)
        result = advise(usage, d.catalog, subscribers, months=None, prorate=True, gate=gate, at=now, now=now,
                        channel=d.consent_channel, line_status=lines.select("msisdn", "status"), ended_only=not so_far,
                        policy=BillingPolicy(tax_rates=d.tax_rates), usage_months=periods)
        if result.advice.height == 0:
            return None
        row = result.advice.row(0, named=True)
        months = max(1, int(row["months"]))
        monthly = int(row["saving_minor"]) // months
        if not row["switch"] or monthly <= 0:  # not even a cent a month: the plan in force is the best value
            return AdviceFacts(current_plan=plan, best_plan=plan, best_plan_name=d._plan_name(plan),
                               monthly_saving=Money.from_minor(0, d.currency), reason=None)
        return AdviceFacts(current_plan=plan, best_plan=row["best_plan"], best_plan_name=d._plan_name(row["best_plan"]),
                           monthly_saving=Money.from_minor(monthly, d.currency), reason=self._reason(row, plan, so_far=so_far))

    def _reason(self, row: Mapping[str, Any], plan: str, *, so_far: bool = False) -> Text:
        """What the advice rests on, in both languages: the months priced, what the line paid on its plan and what
        the advised plan would have cost for the same use, and the months in which it would have cost more; ``so_far``:
        the one month priced has not ended (an estimate on its use so far)."""
        d = self.data
        cur, best = d._plan_name(plan), d._plan_name(str(row["best_plan"]))
        first, last, n = str(row["first_period"]), str(row["last_period"]), int(row["months"])
        span = first if first == last else f"{first} – {last}"
        paid, would = (Money.from_minor(int(row[c]), d.currency) for c in ("current_minor", "best_minor"))
        zh = f"按您 {span}（{n} 个月）的实际用量计算：“{cur.zh}”共 {_zh_money(paid)}，“{best.zh}”只需 {_zh_money(would)}。"
        en = (f"Priced on your actual use over {n} month{'s' if n != 1 else ''} ({span}): {paid.amount} {paid.currency} on "
              f"\"{cur.en}\", {would.amount} {would.currency} on \"{best.en}\".")
        if so_far:  # no month has ended yet: an estimate on this month's use so far
            zh = (f"本月（{span}）尚未结束，按您本月至今的用量估算：“{cur.zh}”共 {_zh_money(paid)}，"
                  f"“{best.zh}”只需 {_zh_money(would)}。")
            en = (f"An estimate on your use so far this month ({span}, not ended yet): "
                  f"{paid.amount} {paid.currency} on \"{cur.en}\", {would.amount} {would.currency} on \"{best.en}\".")
        dearer = int(row.get("dearer_months") or 0)
        if dearer:
            extra = Money.from_minor(int(row.get("most_extra_minor") or 0), d.currency)
            zh += f"但其中 {dearer} 个月“{best.zh}”会更贵（单月最多多付 {_zh_money(extra)}）。"
            en += (f" In {dearer} of those months \"{best.en}\" would have cost more (up to {extra.amount} {extra.currency} "
                   "more in a month).")
        return Text(zh, en)


def keeps_numbers(catalog: Catalog) -> bool:
    """Whether a plan of ``catalog`` charges a keep-number fee for suspended days (``catalog.SuspensionPolicy``):
    then the bill run, the rerate and the bill preview read the lines' suspensions and why."""
    return any(p.suspension.active for p in catalog.plans)


def suspensions_in(conn: Connection, *, first: str | None = None, last: str | None = None,
                   msisdns: Collection[str] | None = None) -> dict[str, tuple[Suspension, ...]]:
    """msisdn → its suspensions with their reasons (``billing.suspensions_of``), from the line status history, of the
    lines numbered ``first`` to ``last`` or of ``msisdns`` that were ever suspended for a reason the register said
    (a suspension of no reason owes the plan fee: not read)."""
    h = table_of(LineStatusHistory)
    said = select(h.c.msisdn).where(h.c.status == "suspended", h.c.reason.is_not(None))
    if first is not None:
        said = said.where(h.c.msisdn >= first)
    if last is not None:
        said = said.where(h.c.msisdn <= last)
    if msisdns is not None:
        said = said.where(h.c.msisdn.in_(sorted(set(msisdns))))
    rows = conn.execute(select(h.c.msisdn, h.c.status, h.c.since, h.c.reason).where(h.c.msisdn.in_(said.distinct()))
                        .order_by(h.c.msisdn, h.c.since, h.c.entry_id)).all()
    return suspensions_of((r.msisdn, r.status, r.since if r.since.tzinfo else r.since.replace(tzinfo=UTC), r.reason)
                          for r in rows)


def _account(sub: Any) -> Account | None:
    """The register's line as the bill run reads it (``Account``, with its ``holder_since``); None when the register
    does not say when it was activated."""
    activated = _utc(sub.activated_at)
    if activated is None:
        return None
    return Account(sub.msisdn, sub.plan_id, activated, sub.status, sub.language, _utc(sub.closed_at),
                   _utc(sub.suspended_at) if sub.status == "suspended" else None, holder_since=_utc(sub.holder_since))


def _billable_and_held(rated: pl.DataFrame, sub: Any, per: Period | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A line's rated lines as its bill run splits them: (the lines a bill charges, the usage lines it holds off the
    bill with ``verdict`` the reason). Usage is held by ``billing.held_usage`` (rating's hold, or made at or after the
    suspension of a suspended line, as the register says), VAS billed only with a billable consent verdict. With
    ``per`` (the period the lines are of), in the month of an owner change what was used or charged before the change
    is the previous customer's, held (``before_holding``) as the bill run holds it."""
    lines = normalise_rated(rated)
    account = _account(sub)
    assert account is not None
    usage = held_usage(lines.filter(pl.col("kind").is_in(USAGE_KINDS)), [account], period=per)
    held = usage.filter(pl.col(HOLD).is_not_null()).with_columns(pl.col(HOLD).alias("verdict")).drop(HOLD)
    vas = lines.filter((pl.col("kind") == "vas") & pl.col("verdict").is_in(list(BILLABLE_VERDICTS)).fill_null(False))
    change = None if per is None else changed_hands_in(account, per)
    if change is not None and vas.height:
        theirs = pl.col("started_at") < change
        held = pl.concat([held, vas.filter(theirs).with_columns(pl.lit(BEFORE_HOLDING).alias("verdict"))],
                         how="diagonal_relaxed")
        vas = vas.filter(~theirs)
    billable = pl.concat([usage.filter(pl.col(HOLD).is_null()).drop(HOLD), vas])
    return billable, held


def _zh_money(m: Money) -> str:
    return f"{m.amount} 元" if m.currency == "CNY" else f"{m.amount} {m.currency}"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


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


def _instant(at: datetime) -> datetime:
    """A stored instant, aware: one kept without a zone is UTC (how the store keeps instants on SQLite)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at
