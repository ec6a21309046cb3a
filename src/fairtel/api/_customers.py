"""Subscribers, their bills and itemised lines (with “why this charge”), roaming caps and chat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field
from sqlalchemy import Column, ColumnElement, CompoundSelect, Table, exists, false, func, select, text, union_all
from sqlalchemy.engine import Connection

from fairtel.api._access import Access, Pseudonyms, in_holding
from fairtel.api._bills import BILL_COLUMNS, BillCorrectionOut, IssuedBill, bill_corrections, read_bill
from fairtel.api._errors import AssistantUnavailableError
from fairtel.api._explain import explain_line
from fairtel.api._money import parse_amount
from fairtel.api._paging import Page, decode_after, encode_after, fetch_page, money_text, slice_page
from fairtel.api._services import Assistant, ChatReply
from fairtel.api._subscriptions import LineNotInServiceError
from fairtel.billing import BILLABLE_VERDICTS, LineKind, line_text
from fairtel.catalog import Catalog, parse_catalog
from fairtel.consent import Verdict
from fairtel.core.contracts import SubscriberStatus
from fairtel.core.errors import InvalidInputError, NotFoundError, PermissionDeniedError, Problem
from fairtel.core.ids import new_id
from fairtel.core.money import ROAMING_CAP_MAX, Money
from fairtel.core.time import Period
from fairtel.privacy import KeyedOrder, Permission, Role
from fairtel.privacy._roles import View
from fairtel.rating._explain import HELD_WORDS, Correction, correction_words
from fairtel.store import Bill, Lake, RoamingCap, Subscriber, adjustments_of, catalog_text, current_catalog
from fairtel.store._care import PlanInForce, plan_in_force, plan_spells, record_refunds
from fairtel.store._schema import Finding, SubscriberPlan, table_of


class SubscriberOut(BaseModel):
    msisdn: str = Field(description="Plain for the subscriber and an agent handling them, masked or pseudonymised otherwise.")
    customer_id: str
    plan_id: str = Field(description="The plan in force now: the current billing period is rated and billed under it.")
    pending_plan_id: str | None = Field(
        None, description="A plan change not in force yet (it takes effect from the next billing period), if any.")
    pending_from: datetime | None = Field(None, description="When the pending plan takes effect (a billing period's start).")
    status: str
    language: str
    region: str | None
    activated_at: datetime = Field(description="As registered for the subscriber and an agent handling them; to other readers "
                                                "only its month (the first instant of it, UTC).")
    view: str


class BillLineOut(BaseModel):
    line_no: int
    kind: str
    description: str
    rule_id: str | None
    quantity: int | None
    unit: str | None
    amount: str
    currency: str
    allowance_id: str | None = Field(None, description="The plan allowance a usage line drew on, if any.")


class BillOut(BaseModel):
    bill_id: str
    msisdn: str
    period: str
    issued_at: datetime
    currency: str
    subtotal: str
    tax: str
    total: str
    lines: list[BillLineOut] | None = None
    corrections: list[BillCorrectionOut] | None = Field(
        None, description="One bill read alone: entries issued since to correct it (an owner change learnt after it), "
                          "carried into a later bill, each with why; the bill itself never changes.")


class CorrectionOut(BaseModel):
    """An entry issued for a line's record since its bill (the record priced again after a tariff change, or charged
    after the bill): money the next bill carries, not money paid back or taken already."""

    adjustment_id: str
    kind: str = Field(description="credit (the next bill deducts it) or debit (the next bill adds it).")
    amount: str = Field(description="What the entry adds to the next bill: negative for a credit.")
    currency: str
    old_amount: str | None = Field(None, description="What the record was billed, before tax (a rerate).")
    new_amount: str | None = Field(None, description="What the record costs now, before tax.")
    created_at: datetime
    carried: str = Field("next_bill", description="Where the money goes: into the next bill.")


class UsageLineOut(BaseModel):
    record_id: str
    line: int
    started_at: datetime
    kind: str
    direction: str | None
    zone: str | None
    band: str | None
    roaming_country: str | None
    quantity: int | None
    unit: str | None
    allowance_id: str | None
    allowance_used: int | None
    charged_quantity: int | None
    amount: str
    currency: str
    rule_id: str | None
    rate_id: str | None
    verdict: str | None
    subscription_id: str | None = Field(
        description="The subscription a value-added charge was made under; null for a subscriber when it is another "
                    "customer's (verdict previous_holder or before_activation: the line's previous customer's, or the "
                    "number's previous holder's), which they are not shown.")
    why: dict[str, str] = Field(description="Why this charge, in English (en) and Chinese (zh).")
    on_bill: bool | None = Field(
        None, description="True: a line of the period's issued bill, as the bill was issued from it; False: a line on no "
                          "bill (rated after the bill, held off it, or a VAS charge refused); null: the period is not billed yet.")
    status: str | None = Field(
        None, description="For a line not on the issued bill: after_bill (rated after the bill was issued: charged on the "
                          "next one), held (held off the bill) or not_billed (a charge the consent gate refused).")
    corrections: list[CorrectionOut] = Field(
        default_factory=list, description="Entries issued for the record since its bill, carried into the next bill.")


class UsagePage(Page[UsageLineOut]):
    period: str
    total: str | None = Field(None, description="The sum of the lines (all pages); of an issued period, what its bill charged for them.")
    currency: str | None = None
    bill_id: str | None = Field(
        None, description="The issued bill of the period the lines are from (its snapshot of billed lines); null when "
                          "the period is not billed yet and the lines are the rated lines as they stand now.")
    count: int = Field(0, description="How many lines there are in all pages.")
    not_on_bill: list[UsageLineOut] = Field(
        default_factory=list, description="Lines of an issued period on no bill, never in the total (first page only): "
                                          "rated after the bill was issued (charged on the next one), or held off it.")
    corrections_total: str | None = Field(
        None, description="The net of the corrections issued since the bill for the period's records, carried into the "
                          "next bill (negative: a credit); null when there are none.")


class RoamingCapOut(BaseModel):
    amount: str | None = Field(description="The cap; null when none is set.")
    currency: str | None
    set_at: datetime | None
    set_by: str | None


class ChatOut(BaseModel):
    reply: str
    intent: str | None
    language: str | None


# ---- subscribers ----------------------------------------------------------------------------------------
def _subscriber_out(acc: Access, r: Any, plan: PlanInForce) -> SubscriberOut:
    return SubscriberOut(
        msisdn=acc.show(r.msisdn) or "",
        customer_id=acc.show_customer(r.customer_id, r.msisdn),
        plan_id=plan.plan_id,
        pending_plan_id=plan.pending_plan_id,
        pending_from=plan.pending_from,
        status=r.status,
        language=r.language,
        region=r.region,
        activated_at=r.activated_at if acc.view(r.msisdn) is View.PLAIN else activation_month(r.activated_at),
        view=acc.view(r.msisdn).value,
    )


def activation_month(at: datetime) -> datetime:
    """When a line was activated, as readers who see it through a pseudonym or a masked number read it: the first
    instant of its month (UTC). The exact second beside the region and the plan would single the subscriber out of
    any list of customers that has it."""
    at = at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _plans_now(acc: Access, rows: Sequence[Any]) -> dict[str, PlanInForce]:
    """The plan in force now and the pending change of each row's line (``subscribers.plan_id`` is the latest
    plan, a change that applies from the next period included), from one query for all of ``rows``."""
    spells = plan_spells(acc.conn, [r.msisdn for r in rows])
    return {r.msisdn: plan_in_force(spells.get(r.msisdn), r.plan_id, at=acc.now) for r in rows}


def _plan_now_column(t: Table, at: datetime) -> ColumnElement[Any]:
    """The plan in force at ``at`` of each register row, in SQL (what ``plan_in_force`` picks from the timeline):
    the history row recorded last among those started by ``at`` (a row recorded later replaces the earlier
    ones from its start on, so the last recorded of them is the one in force); for a line with none started,
    its first; the register's plan for a line without history."""
    h = table_of(SubscriberPlan)
    started = (select(h.c.plan_id).where(h.c.msisdn == t.c.msisdn, h.c.effective_from <= at)
               .order_by(h.c.recorded_at.desc(), h.c.plan_change_id.desc()).limit(1).scalar_subquery())
    first = (select(h.c.plan_id).where(h.c.msisdn == t.c.msisdn)
             .order_by(h.c.effective_from, h.c.recorded_at.desc(), h.c.plan_change_id.desc()).limit(1).scalar_subquery())
    return func.coalesce(started, first, t.c.plan_id)


_ORDER_LOCK = 0x66616972_6F726472  # "fairordr": the advisory lock PostgreSQL takes while sort keys are made
_ORDER_BATCH = 10_000
_ORDER_ANALYZE = 1000  # keys made at once after which PostgreSQL's statistics of them are read again
_ORDER_CHANGED = ("this cursor belongs to an order since replaced (a new secret, or an earlier version of the list): "
                  "start from the first page")


def _stale_sort_keys(t: Table, key: Column[Any], order: KeyedOrder) -> CompoundSelect:
    """Lines whose stored sort key is missing (added since the keys were last made) or made under another secret
    (one since replaced): three ranges of the key's index, each empty in the steady state."""
    parts = [select(t.c.msisdn).where(key.is_(None)), select(t.c.msisdn).where(key < order.low)]
    if order.high is not None:
        parts.append(select(t.c.msisdn).where(key >= order.high))
    return union_all(*parts).limit(_ORDER_BATCH)


def keep_sort_keys(conn: Connection, order: KeyedOrder) -> int:
    """Give every line of the register its sort key in the list's keyed order (``subscribers.pseudonym_order``),
    where it has none or one made under another secret; returns how many were made. A line costs one digest
    once, when it is added or the secret is replaced, instead of one on every page. The server calls it when it
    starts and ``fairtel load`` after an import, so that the first list after a large import does not pay for it;
    the list calls it too, for the lines added otherwise. On PostgreSQL, one transaction at a time makes them
    (the others wait, then find them made); the keys are the same whoever makes them."""
    t = table_of(Subscriber)
    key = t.c.pseudonym_order
    stale = _stale_sort_keys(t, key, order)
    made, locked = 0, conn.dialect.name != "postgresql"
    # as text: the statement built per row by the expression language costs as much as the database's work
    put = text(f"UPDATE {t.name} SET {key.name} = :sort_key WHERE {t.c.msisdn.name} = :line")
    while names := sorted(conn.scalars(stale)):
        if not locked:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ORDER_LOCK})
            locked = True
            continue  # look again: another transaction may have made them meanwhile
        conn.execute(put, [{"line": m, "sort_key": order(m)} for m in names])
        made += len(names)
    if made >= _ORDER_ANALYZE and conn.dialect.name == "postgresql":
        # the planner's statistics still say the keys are missing (autovacuum reads them again only later): it
        # would read every line for a page meanwhile. ANALYZE counts this transaction's own rows.
        conn.execute(text(f"ANALYZE {t.name}"))
    return made


def list_order(pseudonyms: Pseudonyms) -> KeyedOrder:
    """The keyed order the subscriber list is in, under the secret of ``pseudonyms``: the same as
    ``Pseudonymizer(secret).order``."""
    return KeyedOrder(pseudonyms.msisdn_digest)


def list_subscribers(
    acc: Access, *, status: str | None = None, plan_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[SubscriberOut]:
    """Agents see masked numbers, analysts pseudonyms; nobody gets a plain list, nor one in the numbers' order
    (where a row stands would tell the range of its number), nor one in the pseudonyms' (whose stored sort keys
    would be the pseudonyms themselves, readable by anyone holding a copy of the database): the list is in a
    keyed order of its own (``KeyedOrder``), paged by the last row's place in it. That place is a stored,
    indexed sort key (``keep_sort_keys``), so a page reads its own rows from the index, not every line of the
    register."""
    acc.require(Permission.CUSTOMER_READ, Permission.AGGREGATE_READ)
    after = decode_after(cursor)
    order = list_order(acc.pseudonyms)
    if after is not None and not order.current(after):
        raise InvalidInputError([Problem("query", None, "cursor", _ORDER_CHANGED)], what="request")
    keep_sort_keys(acc.conn, order)
    t = table_of(Subscriber)
    key = t.c.pseudonym_order
    q = select(t.c.msisdn, t.c.customer_id, t.c.plan_id, t.c.status, t.c.language, t.c.region, t.c.activated_at,
               key.label("order_key")).order_by(key)
    # keys under the current secret only (a line added while this page is read has none yet: it is listed from
    # the next request on)
    q = q.where(key > (after if after is not None else order.low))
    if order.high is not None:
        q = q.where(key < order.high)
    if status:
        q = q.where(t.c.status == status)
    if plan_id:  # the lines on the plan now, as the list shows them (not those only changing to it)
        # only a line whose register or history names the plan can be on it: checked first, by the indexes, so the
        # plan in force (two subqueries a line) is worked out for those alone, not for every line of the register
        h = table_of(SubscriberPlan)
        named = (t.c.plan_id == plan_id) | select(h.c.msisdn).where(h.c.msisdn == t.c.msisdn, h.c.plan_id == plan_id).exists()
        q = q.where(named, _plan_now_column(t, acc.now) == plan_id)
        # a plan no line names at all (mistyped, retired): an empty page without a pass over the register
        if not acc.conn.execute(select(
                select(t.c.msisdn).where(t.c.plan_id == plan_id).exists()
                | select(h.c.msisdn).where(h.c.plan_id == plan_id).exists())).scalar():
            q = q.where(false())
    rows = acc.conn.execute(q.limit(limit + 1)).all()
    rows, nxt = rows[:limit], (encode_after(bytes(rows[limit - 1].order_key)) if len(rows) > limit else None)
    # audited in the pseudonyms' order, not the page's: the audit's rows follow the order they are written in, and
    # a copy of the database can sort the lines by their stored keys, so rows in the page's order would pair each
    # pseudonym with its line
    acc.audit_list("subscriber.list", "subscribers", sorted((r.msisdn for r in rows), key=acc.pseudonyms.msisdn),
                   reason=f"list of {len(rows)}, shown {acc.view(rows[0].msisdn).value if rows else 'none'}")
    plans = _plans_now(acc, rows)
    return Page(items=[_subscriber_out(acc, r, plans[r.msisdn]) for r in rows], next_cursor=nxt)


def get_subscriber(acc: Access, msisdn: str) -> SubscriberOut:
    reason = acc.open_subject(msisdn)
    t = table_of(Subscriber)
    r = acc.conn.execute(
        select(t.c.msisdn, t.c.customer_id, t.c.plan_id, t.c.status, t.c.language, t.c.region, t.c.activated_at).where(t.c.msisdn == msisdn)
    ).first()
    if r is None:
        raise NotFoundError("no such subscriber")
    acc.audit("subscriber.read", "subscriber", msisdn=msisdn, reason=reason)
    return _subscriber_out(acc, r, _plans_now(acc, [r])[r.msisdn])


# ---- bills ---------------------------------------------------------------------------------------------



def _bill_out(acc: Access, r: Any, lines: list[BillLineOut] | None = None) -> BillOut:
    return BillOut(
        bill_id=r.bill_id,
        msisdn=acc.show(r.msisdn) or "",
        period=r.period,
        issued_at=r.issued_at,
        currency=r.currency,
        subtotal=money_text(r.subtotal_minor, r.currency) or "0",
        tax=money_text(r.tax_minor, r.currency) or "0",
        total=money_text(r.total_minor, r.currency) or "0",
        lines=lines,
    )


def in_holding_period(acc: Access, msisdn: str, period: str) -> bool:
    """Whether the bill of ``period`` is one of the reader's: for a subscriber, of a period ending after their holding
    of the line began (``Access.holding_period``); staff read every bill of the number."""
    first = acc.holding_period(msisdn)
    return first is None or period >= first


def billing_available(acc: Access) -> bool:
    return bool(acc.conn.scalar(select(exists().where(table_of(Bill).c.bill_id.is_not(None)))))


def list_bills(acc: Access, msisdn: str, *, limit: int = 24, cursor: str | None = None) -> Page[BillOut]:
    reason = acc.open_subject(msisdn)
    t = table_of(Bill)
    q = select(*(t.c[c] for c in BILL_COLUMNS)).where(t.c.msisdn == msisdn).order_by(t.c.period.desc())
    first = acc.holding_period(msisdn)
    if first is not None:  # a subscriber: the bills of their holding (periods ending after it began), not an earlier holder's
        q = q.where(t.c.period >= first)
    rows, nxt = fetch_page(acc.conn, q, limit=limit, cursor=cursor)
    acc.audit("bill.list", "bills", msisdn=msisdn, reason=reason)
    available = bool(rows) or billing_available(acc)
    return Page(
        items=[_bill_out(acc, r) for r in rows], next_cursor=nxt, available=available,
        note=None if available else "billing has not run yet: no bills have been issued",
    )


def _issued(acc: Access, **key: str) -> IssuedBill | None:
    if acc.bills is None:
        return read_bill(acc.conn, **key)
    return acc.bills.get(lambda: acc.conn, **key)


# The API takes no language for a bill: its lines are read as billing wrote them, in English, and an adjustment's
# reason (stored as a code and parameters: ``rerate-fee period=… plan=… old=… new=… currency=…``) is worded in English.
BILL_LINE_LANGUAGE = "en"
_CATALOG_NOW: dict[str, Catalog] = {}  # the database's current catalog, by its version's hash (the latest only)


def _current_catalog(acc: Access, bill: IssuedBill) -> Catalog | None:
    """What an adjustment's reason names (plans, tariff rules, offers) is worded from: the home's current catalog,
    parsed once per version (a catalog loaded while the server runs names from the next request on); with none
    stored, the catalog version the bill was issued under; else None (the reason as stored). Never the bundled
    demo catalog: its names are not the operator's."""
    conn = acc.conn
    current = current_catalog(conn)
    if current is None:
        b = table_of(Bill)
        version_id = conn.scalar(select(b.c.catalog_version_id).where(b.c.bill_id == bill.bill.bill_id))
        return _billed_catalog(acc, version_id, None)
    kept = _CATALOG_NOW.get(current.sha256)
    if kept is not None:
        return kept
    stored = catalog_text(conn, current.version_id)
    catalog = parse_catalog(stored, file=f"catalog version {current.version_id} (database)")[0] if stored is not None else None
    if catalog is None:
        return None
    _CATALOG_NOW.clear()
    _CATALOG_NOW[current.sha256] = catalog
    return catalog


def _lines_out(acc: Access, bill: IssuedBill) -> list[BillLineOut]:
    """A bill's lines as the API shows them: as stored, but for adjustments, worded by ``fairtel.billing.line_text``
    (never the stored code of a reason). Only a bill with adjustments reads the catalog."""
    adjusted = any(r.kind == LineKind.ADJUSTMENT for r in bill.lines)
    catalog = _current_catalog(acc, bill) if adjusted else None

    def description(r: Any) -> str:
        if catalog is None or r.kind != LineKind.ADJUSTMENT:
            return str(r.description)
        return line_text(r.kind, rule_id=r.rule_id, catalog=catalog, language=BILL_LINE_LANGUAGE,
                         description=r.description)

    return [
        BillLineOut(
            line_no=r.line_no, kind=r.kind, description=description(r), rule_id=r.rule_id, quantity=r.quantity, unit=r.unit,
            amount=money_text(r.amount_minor, r.currency) or "0", currency=r.currency, allowance_id=r.allowance_id,
        )
        for r in bill.lines
    ]


def get_bill(acc: Access, bill_id: str, *, with_lines: bool = True) -> BillOut:
    """A bill by id, to its subscriber or an agent handling them. Other roles are refused before the bill is
    looked up: a bill id is computable from a number and a period, so a refusal for a bill that exists beside
    a 404 for one that does not would tell them whether a number is a customer."""
    acc.require(Permission.OWN_LINES_READ, Permission.CUSTOMER_READ)
    found = _issued(acc, bill_id=bill_id)
    if found is None:
        raise NotFoundError(f"no bill {bill_id}")
    r = found.bill
    try:
        reason = acc.open_subject(r.msisdn)
    except PermissionDeniedError:
        if acc.role is Role.SUBSCRIBER:  # do not tell a subscriber that another's bill exists
            raise NotFoundError(f"no bill {bill_id}") from None
        raise
    if not in_holding_period(acc, r.msisdn, r.period):  # an earlier holder's bill of the number
        raise NotFoundError(f"no bill {bill_id}")
    # named by period with the subject's pseudonym, not by its id: an unkeyed hash of the number, which anyone
    # reading the audit could recompute for every number of a range
    acc.audit("bill.read", f"bill/{r.period}", msisdn=r.msisdn, reason=reason)
    return _bill_out(acc, r, _lines_out(acc, found) if with_lines else None)


def bill_for_period(acc: Access, msisdn: str, period: str) -> BillOut:
    reason = acc.open_subject(msisdn)
    key = Period.parse(period).key
    found = _issued(acc, msisdn=msisdn, period=key)
    acc.audit("bill.read", f"bill/{key}", msisdn=msisdn, reason=reason)
    if found is None or not in_holding_period(acc, msisdn, key):
        raise NotFoundError(f"no bill for {key}")
    out = _bill_out(acc, found.bill, _lines_out(acc, found))
    # owner-change corrections (``holding-*`` entries) are issued only for the bill of the period the line's current
    # holding began in: a subscriber's other bills have none, and are answered from memory as before
    first = acc.holding_period(msisdn)
    out.corrections = ([] if first is not None and first != key
                       else bill_corrections(acc.conn, found.bill.bill_id, lambda: _current_catalog(acc, found)))
    return out


# ---- itemised usage (of an issued period, the lines its bill was issued from; else the rated lines) ----
_USAGE_COLS = (
    "record_id", "line", "msisdn", "started_at", "kind", "direction", "zone", "roaming_zone", "band", "roaming_country", "quantity",
    "unit", "allowance_id", "allowance_used", "charged_quantity", "amount_minor", "currency", "rule_id", "rate_id", "capped",
    "throttled", "verdict", "subscription_id", "source",
)


def usage_periods(lake: Lake) -> list[str]:
    return lake.periods("rated")


def _rated_rows(lake: Lake, msisdn: str, period: str, kind: str | None, *, since: datetime | None = None) -> list[dict[str, Any]]:
    return _lake_rows(lake, "rated", msisdn, period, kind, since=since)


def _lake_rows(lake: Lake, dataset: str, msisdn: str, period: str, kind: str | None, *, bill: Any = None,
               since: datetime | None = None) -> list[dict[str, Any]]:
    """The lines of ``msisdn`` in ``period`` of a lake dataset, in time order; of ``bill`` only (its id and run, as the
    statement reads them), for the datasets a bill run writes (``billed``, ``held_usage``); started at or after
    ``since`` only, when given (a subscriber's holding of the line: ``Access.holding_from``)."""
    files = lake.files(dataset, periods=[period])
    filters: list[Any] = [("msisdn", "=", msisdn)]
    if bill is not None:
        filters += [("bill_id", "=", bill.bill_id), ("run_id", "=", bill.run_id)]
    rows: list[dict[str, Any]] = []
    for f in files:
        present = set(pq.read_schema(f).names)
        cols = [c for c in _USAGE_COLS if c in present]
        table = pq.read_table(f, columns=cols, filters=[x for x in filters if x[0] in present])
        if kind:
            table = table.filter(pc.equal(table["kind"], kind))
        rows.extend(r for r in table.to_pylist() if in_holding(since, r.get("started_at")))
    rows.sort(key=lambda r: (r["started_at"], r["record_id"], r.get("line") or 0))
    return rows


# the datasets a bill run writes beside its bills (``cli._billing``): the lines each bill was issued from, and the
# usage lines it held off them
_BILLED, _HELD = "billed", "held_usage"
_CATALOG_VERSIONS: dict[int, Catalog] = {}  # stored catalog versions bills were issued under, parsed once
_NOT_ON_BILL = {
    "after_bill": ("Not on this bill: rated after the bill was issued, so it is charged on your next bill.",
                   "不在本期账单上：本话单在出账后才计费，将计入下期账单。"),
    "after_bill_free": ("Not on this bill: rated after the bill was issued; it costs nothing.",
                        "不在本期账单上：本话单在出账后才计费，不收费。"),
}


def _billed_catalog(acc: Access, version_id: int | None, fallback: Catalog | None) -> Catalog | None:
    """The catalog version a bill was issued under (its lines are named and priced as they were), else ``fallback``."""
    if version_id is None:
        return fallback
    kept = _CATALOG_VERSIONS.get(version_id)
    if kept is not None:
        return kept
    stored = catalog_text(acc.conn, version_id)
    catalog = parse_catalog(stored, file=f"catalog version {version_id} (database)")[0] if stored is not None else None
    if catalog is None:
        return fallback
    if len(_CATALOG_VERSIONS) >= 8:
        _CATALOG_VERSIONS.clear()
    _CATALOG_VERSIONS[version_id] = catalog
    return catalog


def _issued_bill(acc: Access, lake: Lake, msisdn: str, period: str) -> Any | None:
    """The line's issued bill of ``period`` whose run wrote its lines into the lake (bill id, run, catalog version);
    None when the period is not billed (or billed before bills kept their lines: read as rated then)."""
    b = table_of(Bill)
    bill = acc.conn.execute(select(b.c.bill_id, b.c.run_id, b.c.catalog_version_id)
                            .where(b.c.msisdn == msisdn, b.c.period == period)).first()
    if bill is None or bill.run_id is None or period not in lake.periods(_BILLED):
        return None
    return bill if any(f.stem == bill.run_id for f in lake.files(_BILLED, periods=[period])) else None


def _key(r: dict[str, Any]) -> tuple[str, str]:
    return (r.get("source") or "", r["record_id"])


def _refused(r: dict[str, Any]) -> bool:
    """A VAS charge the consent gate refused: never billed (its line costs nothing)."""
    return r.get("kind") == "vas" and r.get("verdict") not in BILLABLE_VERDICTS


def _with_rate(row: dict[str, Any], rated: dict[tuple[str, str, int], dict[str, Any]], catalog: Catalog | None) -> dict[str, Any]:
    """A billed line with what the snapshot does not keep: the rate (and roaming zone) of its rule, from the rated
    line of the same rule where there is one, else the rule's rate in the catalog it was billed under; whether a
    cap or a throttle applied, when the rated line is the very charge billed."""
    out = dict(row)
    now = rated.get((*_key(row), int(row.get("line") or 0)))
    if now is not None and now.get("rule_id") == row.get("rule_id"):
        out["roaming_zone"] = now.get("roaming_zone")
        out["rate_id"] = now.get("rate_id")
        if now.get("amount_minor") == row.get("amount_minor") and now.get("quantity") == row.get("quantity"):
            out["capped"], out["throttled"] = now.get("capped"), now.get("throttled")
    elif catalog is not None and row.get("rule_id") and row.get("kind") != "vas":
        try:
            out["rate_id"] = catalog.rule(str(row["rule_id"])).rate
        except Exception:  # a rule the catalog does not hold: named by its id alone
            out["rate_id"] = None
    return out


def _corrections_of(acc: Access, msisdn: str, period: str) -> dict[tuple[str, str], list[Any]]:
    """(source, record) → the entries issued for it since the bill of ``period`` (rerate, late usage, release), oldest
    first: what the next bill carries for it."""
    out: dict[tuple[str, str], list[Any]] = {}
    for e in adjustments_of(acc.conn, msisdn):
        if e.period == period and e.record_id is not None:
            out.setdefault((e.source or "", e.record_id), []).append(e)
    return out


def _correction_out(e: Any) -> CorrectionOut:
    return CorrectionOut(
        adjustment_id=e.adjustment_id, kind=str(e.kind.value if hasattr(e.kind, "value") else e.kind),
        amount=money_text(e.signed_minor, e.currency) or "0", currency=e.currency,
        old_amount=money_text(e.old_amount_minor, e.currency), new_amount=money_text(e.new_amount_minor, e.currency),
        created_at=e.created_at,
    )


def _told(why: dict[str, str], entries: Sequence[Any], catalog: Catalog | None, *, first: dict[str, str] | None = None,
          released: bool = False) -> dict[str, str]:
    """``why`` with what is said before it (``first``: why a line is not on the bill) and the corrections after it."""
    tz = None if catalog is None else catalog.tz
    out = {}
    for lang, end in (("en", " "), ("zh", "")):
        parts = [first[lang]] if first else []
        parts.append(why[lang])
        for e in entries:
            c = Correction(e.adjustment_id, e.signed_minor, e.created_at, e.old_amount_minor, e.new_amount_minor,
                           reason=e.reason)
            said = correction_words(c, e.currency, lang, tz, released=released and e.signed_minor > 0)
            parts.append(said + ("." if lang == "en" else "。"))
        out[lang] = end.join(parts)
    return out


def _line_out(r: dict[str, Any], currency: str | None, why: dict[str, str], *, on_bill: bool | None = None,
              status: str | None = None, entries: Sequence[Any] = ()) -> UsageLineOut:
    return UsageLineOut(
        record_id=r["record_id"], line=int(r.get("line") or 0), started_at=r["started_at"], kind=r["kind"],
        direction=r.get("direction"), zone=r.get("zone"), band=r.get("band"), roaming_country=r.get("roaming_country"),
        quantity=r.get("quantity"), unit=r.get("unit"), allowance_id=r.get("allowance_id"), allowance_used=r.get("allowance_used"),
        charged_quantity=r.get("charged_quantity"), amount=money_text(r.get("amount_minor") or 0, r.get("currency") or currency or "CNY") or "0",
        currency=r.get("currency") or currency or "", rule_id=r.get("rule_id"), rate_id=r.get("rate_id"), verdict=r.get("verdict"),
        subscription_id=r.get("subscription_id"), why=why, on_bill=on_bill, status=status,
        corrections=[_correction_out(e) for e in entries],
    )


# the consent verdicts of a VAS charge made under another customer's subscription: the number's previous holder's
# (consent given before its activation) or, after an owner change (过户), the line's previous customer's
_ANOTHER_CUSTOMERS = frozenset({Verdict.BEFORE_ACTIVATION.value, Verdict.PREVIOUS_HOLDER.value})


def _as_seen_by(acc: Access, page: UsagePage) -> UsagePage:
    """``page`` as its reader may see it: a subscriber is told a charge refused for being made under another
    customer's subscription (``_ANOTHER_CUSTOMERS``) with its verdict and why, never that subscription's id (it is
    the other customer's record); staff read the line's whole record."""
    if acc.role is not Role.SUBSCRIBER:
        return page

    def seen(lines: list[UsageLineOut]) -> list[UsageLineOut]:
        return [u.model_copy(update={"subscription_id": None}) if u.subscription_id and u.verdict in _ANOTHER_CUSTOMERS
                else u for u in lines]

    return page.model_copy(update={"items": seen(page.items), "not_on_bill": seen(page.not_on_bill)})


def usage_lines(
    acc: Access, lake: Lake, msisdn: str, *, period: str | None = None, kind: str | None = None, limit: int = 100, cursor: str | None = None,
    catalog: Catalog | None = None,
) -> UsagePage:
    """The itemised lines of a period, each with “why this charge” in both languages (named from ``catalog``).

    Of a period whose bill is issued, the lines the bill was issued from (its snapshot, ``billed``), named from the
    catalog it was issued under, as its statement and ``fairtel explain`` show them: never the lines as rated again
    since (a tariff change, a late record). What changed since is told as such: the corrections issued for a line's
    record (carried into the next bill), and apart from the lines and their total (``not_on_bill``) the lines on no
    bill: rated after the bill (charged on the next one), held off it, or refused by the consent gate. Of a period not
    billed yet, the rated lines as they stand. As the caller may see them (``_as_seen_by``)."""
    return _as_seen_by(acc, _usage_lines(acc, lake, msisdn, period=period, kind=kind, limit=limit, cursor=cursor,
                                         catalog=catalog))


def _usage_lines(
    acc: Access, lake: Lake, msisdn: str, *, period: str | None = None, kind: str | None = None, limit: int = 100, cursor: str | None = None,
    catalog: Catalog | None = None,
) -> UsagePage:
    """``usage_lines`` before ``_as_seen_by``."""
    reason = acc.open_subject(msisdn)
    periods = usage_periods(lake)
    key = Period.parse(period).key if period else (periods[-1] if periods else "")
    acc.audit("usage.read", f"usage/{key or 'none'}", msisdn=msisdn, reason=reason)
    if not periods:
        return UsagePage(items=[], period=key, available=False, note="rating has not run yet: no rated lines in the lake")
    since = acc.holding_from(msisdn)  # a subscriber: the usage of their holding only, not an earlier holder's
    bill = _issued_bill(acc, lake, msisdn, key) if key and in_holding_period(acc, msisdn, key) else None
    rated = _rated_rows(lake, msisdn, key, kind, since=since) if key in periods else []
    if bill is None:
        rows, named = rated, catalog
    else:
        named = _billed_catalog(acc, bill.catalog_version_id, catalog)
        by_line = {(*_key(r), int(r.get("line") or 0)): r for r in rated}
        rows = [_with_rate(r, by_line, named) for r in _lake_rows(lake, _BILLED, msisdn, key, kind, bill=bill, since=since)]
        # with them, at nothing, the VAS charges the consent gate refused (no bill holds them): listed as not billed
        on_bill = {_key(r) for r in rows}
        rows += [r for r in rated if _refused(r) and _key(r) not in on_bill]
        rows.sort(key=lambda r: (r["started_at"], r["record_id"], r.get("line") or 0))
    total = sum(int(r.get("amount_minor") or 0) for r in rows)
    currency = next((r["currency"] for r in rows if r.get("currency")), None)
    part, nxt = slice_page(rows, limit=limit, cursor=cursor)
    # a refund issued since for a line's charge is told with it (found through the findings naming its record);
    # one indexed look first: most subscribers have no refunded finding, and then nothing more is read
    f = table_of(Finding)
    refunded = acc.conn.execute(select(f.c.finding_id).where((f.c.msisdn == msisdn) & f.c.resolution.like("refunded%"))
                                .limit(1)).first() is not None

    def refunds(r: dict[str, Any]) -> list[Any]:
        return record_refunds(acc.conn, msisdn, r["record_id"], source=r.get("source"), period=key) if refunded else []

    if bill is None:
        items = [_line_out(r, currency, explain_line(r, named, refunds=refunds(r))) for r in part]
        return UsagePage(items=items, next_cursor=nxt, period=key, total=money_text(total, currency), currency=currency,
                         count=len(rows))

    corrections = _corrections_of(acc, msisdn, key)
    told: set[tuple[str, str]] = set()

    def billed_out(r: dict[str, Any]) -> UsageLineOut:
        if _refused(r) and _key(r) not in on_bill:
            return _line_out(r, currency, explain_line(r, catalog, refunds=refunds(r)), on_bill=False, status="not_billed")
        entries = [] if _key(r) in told else corrections.get(_key(r), [])
        told.add(_key(r))  # a record's entries are told once, with its first line
        why = _told(explain_line(r, named, refunds=refunds(r)), entries, named)
        return _line_out(r, currency, why, on_bill=True, entries=entries)

    items = [billed_out(r) for r in part]
    others = _not_on_bill(lake, bill, msisdn, key, kind, rated, on_bill, named, catalog, corrections, told, refunds, since)
    records = {_key(r) for r in rows} | {(o.source, o.record_id) for o in others}
    net = [e for k, es in corrections.items() if k in records for e in es]
    currencies = {e.currency for e in net}
    return UsagePage(
        items=items, next_cursor=nxt, period=key, total=money_text(total, currency), currency=currency, count=len(rows),
        bill_id=bill.bill_id, not_on_bill=[o.line for o in others] if not cursor else [],
        note=USAGE_AFTER_BILL if any(o.line.status == "after_bill" for o in others) else None,
        corrections_total=money_text(sum(e.signed_minor for e in net), currencies.pop()) if len(currencies) == 1 else None,
    )


# said of an issued period with lines rated after its bill (the console words it in Chinese: ``web._i18n.NOTES_ZH``)
USAGE_AFTER_BILL = "lines rated after the bill was issued are not on it: they are charged on the next bill"


@dataclass(frozen=True, slots=True)
class _Apart:
    source: str
    record_id: str
    line: UsageLineOut


def _not_on_bill(
    lake: Lake, bill: Any, msisdn: str, key: str, kind: str | None, rated: list[dict[str, Any]], on_bill: set[tuple[str, str]],
    named: Catalog | None, catalog: Catalog | None, corrections: dict[tuple[str, str], list[Any]],
    told: set[tuple[str, str]], refunds: Callable[[dict[str, Any]], list[Any]], since: datetime | None = None,
) -> list[_Apart]:
    """The lines of an issued period on no bill, apart from the bill's: the usage its run held off it (made after the
    line's suspension ...), then the lines rated since that the bill does not hold: usage (or a confirmed VAS charge)
    rated after the bill was issued, charged on the next bill (with the entry that charges it, once issued). The VAS
    charges the consent gate refused are listed with the bill's lines, at nothing."""
    held = _lake_rows(lake, _HELD, msisdn, key, kind, bill=bill, since=since) if key in lake.periods(_HELD) else []
    out: list[_Apart] = []

    def entries_of(r: dict[str, Any]) -> list[Any]:
        found = [] if _key(r) in told else corrections.get(_key(r), [])
        told.add(_key(r))  # a record's entries are told once, with its first line
        return found

    for r in (_with_rate(h, {}, named) for h in held):
        words = HELD_WORDS.get(str(r.get("verdict") or ""))
        first = None if words is None else {"en": words[1] + ".", "zh": words[0] + "。"}
        entries = entries_of(r)
        why = _told(explain_line(r, named), entries, named, first=first, released=True)
        out.append(_Apart(*_key(r), _line_out(r, r.get("currency"), why, on_bill=False, status="held", entries=entries)))
    kept = {_key(r) for r in held}
    for r in rated:
        if _key(r) in on_bill or _key(r) in kept or _refused(r):
            continue
        entries = entries_of(r)
        said = _NOT_ON_BILL["after_bill" if (r.get("amount_minor") or 0) > 0 else "after_bill_free"]
        why = _told(explain_line(r, catalog, refunds=refunds(r)), entries, catalog, first={"en": said[0], "zh": said[1]})
        out.append(_Apart(*_key(r), _line_out(r, r.get("currency"), why, on_bill=False, status="after_bill", entries=entries)))
    return out


# ---- roaming cap ---------------------------------------------------------------------------------------
def roaming_cap(acc: Access, msisdn: str) -> RoamingCapOut:
    reason = acc.open_subject(msisdn)
    t = table_of(RoamingCap)
    q = select(t.c.amount_minor, t.c.currency, t.c.set_at, t.c.set_by).where(t.c.msisdn == msisdn)
    since = acc.holding_from(msisdn)
    if since is not None:  # a cap an earlier holder of the number set is not this subscriber's
        q = q.where(t.c.set_at >= since)
    r = acc.conn.execute(q.order_by(t.c.set_at.desc(), t.c.cap_id.desc()).limit(1)).first()
    acc.audit("roaming_cap.read", "roaming_cap", msisdn=msisdn, reason=reason)
    if r is None:
        return RoamingCapOut(amount=None, currency=None, set_at=None, set_by=None)
    return RoamingCapOut(amount=money_text(r.amount_minor, r.currency), currency=r.currency, set_at=r.set_at, set_by=acc.login_name(r.set_by))


# the highest cap, in units of the cap's currency (100000 CNY, 100000 JPY, 100000 KWD): checked on the amount, not
# on minor units, whose count per unit differs by currency; one limit for the API, the console and the assistant
CAP_MAX = ROAMING_CAP_MAX


def set_roaming_cap(acc: Access, msisdn: str, amount: str | None, currency: str, *,
                    catalog_currency: str | None = None) -> RoamingCapOut:
    """A subscriber sets (or, with no amount, removes) their own cap; an agent may do it for them while handling them.

    ``catalog_currency``: the currency of the catalog in force, the one roaming is charged in; a cap in another is
    refused (422, field ``currency``): bill-shock detection compares the cap with the charges, in one currency."""
    if acc.role is Role.SUBSCRIBER:
        acc.require(Permission.OWN_CONSENT_WRITE)
    reason = acc.open_subject(msisdn)
    if catalog_currency is not None and currency != catalog_currency:
        raise InvalidInputError([Problem("request", None, "currency", f"a roaming cap is set in the currency roaming is "
                                         f"charged in, {catalog_currency}; not {currency}")], what="roaming cap")
    minor: int | None = None
    if amount is not None and amount != "":
        # the API's one rule for an amount (``parse_amount``): plain digits, at most the currency's minor digits
        money = Money(parse_amount(amount, currency, what="roaming cap"), currency)
        minor = money.to_minor()
        if money.amount < 0 or money.amount > CAP_MAX:
            raise InvalidInputError([Problem("request", None, "amount", f"between 0 and {CAP_MAX}")], what="roaming cap")
        sub = table_of(Subscriber)
        if acc.conn.scalar(select(sub.c.status).where(sub.c.msisdn == msisdn)) == SubscriberStatus.CLOSED.value:
            # a closed line roams no more; a cap set on it would stand for whoever the number is given to next
            raise LineNotInServiceError(f"the line {acc.show(msisdn)} is closed: a roaming cap has no use on it",
                                        details={"field": "amount", "status": "closed"})
    acc.conn.execute(
        table_of(RoamingCap).insert().values(
            cap_id=new_id("cap"), msisdn=msisdn, amount_minor=minor, currency=currency if minor is not None else None,
            set_at=acc.now, set_by=acc.actor,
        )
    )
    acc.audit("roaming_cap.set", "roaming_cap", msisdn=msisdn, reason=reason)
    return RoamingCapOut(amount=money_text(minor, currency), currency=currency if minor is not None else None, set_at=acc.now, set_by=acc.actor)


# ---- chat ----------------------------------------------------------------------------------------------
def chat(acc: Access, assistant: Assistant | None, message: str, *, language: str | None = None) -> ChatOut:
    msisdn = acc.own_msisdn()
    if not message.strip():
        raise InvalidInputError([Problem("request", None, "message", "empty message")], what="chat")
    if assistant is None:
        raise AssistantUnavailableError("the assistant is not available yet: no trained assistant in this home")
    acc.audit("chat.message", "chat", msisdn=msisdn, reason=OWN_CHAT)
    answer = assistant.reply(message, msisdn=msisdn, language=language)
    if isinstance(answer, str):
        answer = ChatReply(answer)
    elif isinstance(answer, dict):
        answer = ChatReply(str(answer.get("text") or answer.get("reply") or ""), answer.get("intent"), answer.get("language"))
    return ChatOut(reply=str(getattr(answer, "text", "")), intent=getattr(answer, "intent", None), language=getattr(answer, "language", language))


OWN_CHAT = "own chat"
