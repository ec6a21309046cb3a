"""Subscribers, their bills and itemised lines (with “why this charge”), roaming caps and chat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import InvalidOperation
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, LargeBinary, Table, exists, func, literal, select

from fairtel.api._access import Access
from fairtel.api._bills import BILL_COLUMNS, IssuedBill, read_bill
from fairtel.api._errors import AssistantUnavailableError
from fairtel.api._explain import explain_line
from fairtel.api._paging import Page, decode_after, encode_after, fetch_page, money_text, slice_page
from fairtel.api._services import Assistant, ChatReply
from fairtel.catalog import Catalog
from fairtel.core.errors import InvalidInputError, NotFoundError, PermissionDeniedError, Problem
from fairtel.core.ids import new_id
from fairtel.core.money import Money
from fairtel.core.time import Period
from fairtel.privacy import Permission, Role
from fairtel.store import Bill, Lake, RoamingCap, Subscriber
from fairtel.store._care import PlanInForce, plan_in_force, plan_spells
from fairtel.store._schema import SubscriberPlan, table_of


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
    activated_at: datetime
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
    subscription_id: str | None
    why: dict[str, str] = Field(description="Why this charge, in English (en) and Chinese (zh).")


class UsagePage(Page[UsageLineOut]):
    period: str
    total: str | None = None
    currency: str | None = None


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
        activated_at=r.activated_at,
        view=acc.view(r.msisdn).value,
    )


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


_ORDER_FUNCTION = "fairtel_pseudonym_order"


def _pseudonym_order(acc: Access, msisdn: ColumnElement[Any]) -> ColumnElement[bytes]:
    """The digest each number's pseudonym is cut from, computed by the database: rows sorted by it are sorted
    by pseudonym, with no per-request pass over every subscriber in Python. PostgreSQL builds the HMAC from
    its own SHA-256; SQLite calls the pseudonymiser, registered on the request's connection."""
    conn = acc.conn
    if conn.dialect.name == "postgresql":
        inner, outer = acc.pseudonyms.msisdn_pads()
        blob = LargeBinary()
        inside = func.sha256(literal(inner, blob).op("||", return_type=blob)(func.convert_to(msisdn, "UTF8")), type_=blob)
        return func.sha256(literal(outer, blob).op("||", return_type=blob)(inside), type_=blob)
    raw = conn.connection.driver_connection
    raw.create_function(_ORDER_FUNCTION, 1, acc.pseudonyms.msisdn_digest, deterministic=True)  # type: ignore[union-attr]
    return func.fairtel_pseudonym_order(msisdn, type_=LargeBinary())


def list_subscribers(
    acc: Access, *, status: str | None = None, plan_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[SubscriberOut]:
    """Agents see masked numbers, analysts pseudonyms; nobody gets a plain list, nor one in the numbers' order
    (where a row stands would tell the range of its number): the list is in pseudonym order, paged by the
    last row's place in it."""
    acc.require(Permission.CUSTOMER_READ, Permission.AGGREGATE_READ)
    after = decode_after(cursor)
    t = table_of(Subscriber)
    order = _pseudonym_order(acc, t.c.msisdn).label("order_key")
    q = select(t.c.msisdn, t.c.customer_id, t.c.plan_id, t.c.status, t.c.language, t.c.region, t.c.activated_at, order).order_by(order)
    if status:
        q = q.where(t.c.status == status)
    if plan_id:  # the lines on the plan now, as the list shows them (not those only changing to it)
        q = q.where(_plan_now_column(t, acc.now) == plan_id)
    if after is not None:
        q = q.where(order > after)
    rows = acc.conn.execute(q.limit(limit + 1)).all()
    rows, nxt = rows[:limit], (encode_after(bytes(rows[limit - 1].order_key)) if len(rows) > limit else None)
    acc.audit_list("subscriber.list", "subscribers", (r.msisdn for r in rows),
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


def billing_available(acc: Access) -> bool:
    return bool(acc.conn.scalar(select(exists().where(table_of(Bill).c.bill_id.is_not(None)))))


def list_bills(acc: Access, msisdn: str, *, limit: int = 24, cursor: str | None = None) -> Page[BillOut]:
    reason = acc.open_subject(msisdn)
    t = table_of(Bill)
    q = select(*(t.c[c] for c in BILL_COLUMNS)).where(t.c.msisdn == msisdn).order_by(t.c.period.desc())
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


def _lines_out(bill: IssuedBill) -> list[BillLineOut]:
    return [
        BillLineOut(
            line_no=r.line_no, kind=r.kind, description=r.description, rule_id=r.rule_id, quantity=r.quantity, unit=r.unit,
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
    # named by period with the subject's pseudonym, not by its id: an unkeyed hash of the number, which anyone
    # reading the audit could recompute for every number of a range
    acc.audit("bill.read", f"bill/{r.period}", msisdn=r.msisdn, reason=reason)
    return _bill_out(acc, r, _lines_out(found) if with_lines else None)


def bill_for_period(acc: Access, msisdn: str, period: str) -> BillOut:
    reason = acc.open_subject(msisdn)
    key = Period.parse(period).key
    found = _issued(acc, msisdn=msisdn, period=key)
    acc.audit("bill.read", f"bill/{key}", msisdn=msisdn, reason=reason)
    if found is None:
        raise NotFoundError(f"no bill for {key}")
    return _bill_out(acc, found.bill, _lines_out(found))


# ---- itemised usage (rated lines in the lake) ----------------------------------------------------------
_USAGE_COLS = (
    "record_id", "line", "msisdn", "started_at", "kind", "direction", "zone", "roaming_zone", "band", "roaming_country", "quantity",
    "unit", "allowance_id", "allowance_used", "charged_quantity", "amount_minor", "currency", "rule_id", "rate_id", "capped",
    "throttled", "verdict", "subscription_id",
)


def usage_periods(lake: Lake) -> list[str]:
    return lake.periods("rated")


def _rated_rows(lake: Lake, msisdn: str, period: str, kind: str | None) -> list[dict[str, Any]]:
    files = lake.files("rated", periods=[period])
    rows: list[dict[str, Any]] = []
    for f in files:
        present = set(pq.read_schema(f).names)
        cols = [c for c in _USAGE_COLS if c in present]
        table = pq.read_table(f, columns=cols, filters=[("msisdn", "=", msisdn)])
        if kind:
            table = table.filter(pc.equal(table["kind"], kind))
        rows.extend(table.to_pylist())
    rows.sort(key=lambda r: (r["started_at"], r["record_id"], r.get("line") or 0))
    return rows


def usage_lines(
    acc: Access, lake: Lake, msisdn: str, *, period: str | None = None, kind: str | None = None, limit: int = 100, cursor: str | None = None,
    catalog: Catalog | None = None,
) -> UsagePage:
    """The rated lines of a period, each with “why this charge” in both languages (named from ``catalog``)."""
    reason = acc.open_subject(msisdn)
    periods = usage_periods(lake)
    key = Period.parse(period).key if period else (periods[-1] if periods else "")
    acc.audit("usage.read", f"usage/{key or 'none'}", msisdn=msisdn, reason=reason)
    if not periods:
        return UsagePage(items=[], period=key, available=False, note="rating has not run yet: no rated lines in the lake")
    rows = _rated_rows(lake, msisdn, key, kind) if key in periods else []
    total = sum(int(r.get("amount_minor") or 0) for r in rows)
    currency = next((r["currency"] for r in rows if r.get("currency")), None)
    part, nxt = slice_page(rows, limit=limit, cursor=cursor)
    items = [
        UsageLineOut(
            record_id=r["record_id"], line=int(r.get("line") or 0), started_at=r["started_at"], kind=r["kind"],
            direction=r.get("direction"), zone=r.get("zone"), band=r.get("band"), roaming_country=r.get("roaming_country"),
            quantity=r.get("quantity"), unit=r.get("unit"), allowance_id=r.get("allowance_id"), allowance_used=r.get("allowance_used"),
            charged_quantity=r.get("charged_quantity"), amount=money_text(r.get("amount_minor") or 0, r.get("currency") or currency or "CNY") or "0",
            currency=r.get("currency") or currency or "", rule_id=r.get("rule_id"), rate_id=r.get("rate_id"), verdict=r.get("verdict"),
            subscription_id=r.get("subscription_id"), why=explain_line(r, catalog),
        )
        for r in part
    ]
    return UsagePage(items=items, next_cursor=nxt, period=key, total=money_text(total, currency), currency=currency)


# ---- roaming cap ---------------------------------------------------------------------------------------
def roaming_cap(acc: Access, msisdn: str) -> RoamingCapOut:
    reason = acc.open_subject(msisdn)
    t = table_of(RoamingCap)
    r = acc.conn.execute(
        select(t.c.amount_minor, t.c.currency, t.c.set_at, t.c.set_by).where(t.c.msisdn == msisdn).order_by(t.c.set_at.desc(), t.c.cap_id.desc()).limit(1)
    ).first()
    acc.audit("roaming_cap.read", "roaming_cap", msisdn=msisdn, reason=reason)
    if r is None:
        return RoamingCapOut(amount=None, currency=None, set_at=None, set_by=None)
    return RoamingCapOut(amount=money_text(r.amount_minor, r.currency), currency=r.currency, set_at=r.set_at, set_by=acc.login_name(r.set_by))


def set_roaming_cap(acc: Access, msisdn: str, amount: str | None, currency: str) -> RoamingCapOut:
    """A subscriber sets (or, with no amount, removes) their own cap; an agent may do it for them while handling them."""
    if acc.role is Role.SUBSCRIBER:
        acc.require(Permission.OWN_CONSENT_WRITE)
    reason = acc.open_subject(msisdn)
    minor: int | None = None
    if amount is not None and str(amount).strip():
        try:
            money = Money.of(str(amount).strip(), currency)  # a string: Money refuses '1_000' and non-ASCII digits
            minor = money.to_minor()
        except (InvalidOperation, ValueError, ArithmeticError) as exc:
            raise InvalidInputError([Problem("request", None, "amount", f"not an amount in {currency}: {amount!r}")], what="roaming cap") from exc
        if minor < 0 or minor > 100_000_00:
            raise InvalidInputError([Problem("request", None, "amount", "between 0 and 100000")], what="roaming cap")
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
