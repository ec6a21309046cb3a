"""Issued bills, cached per server process.

A bill and its lines are inserted once, in one transaction, and never changed (corrections are adjustments
carried into a later bill), so a bill read once can be served again from memory. Only bills that exist are
kept; a period without a bill is asked again each time, so a bill issued later is seen at once. The corrections
issued for a bill since (``bill_corrections``) are read each time: the ledger grows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from fairtel.api._paging import money_text
from fairtel.billing._model import HOLDING_CODES
from fairtel.billing._statement import reason_words
from fairtel.catalog import Catalog
from fairtel.store import Bill, BillLine
from fairtel.store._schema import Adjustment, table_of

BILL_COLUMNS = ("bill_id", "msisdn", "period", "issued_at", "currency", "subtotal_minor", "tax_minor", "total_minor")
LINE_COLUMNS = ("line_no", "kind", "description", "rule_id", "quantity", "unit", "amount_minor", "currency", "allowance_id")


@dataclass(frozen=True, slots=True)
class IssuedBill:
    bill: Any  # a row with BILL_COLUMNS
    lines: tuple[Any, ...]  # rows with LINE_COLUMNS, by line_no


def read_bill(conn: Connection, *, bill_id: str | None = None, msisdn: str | None = None, period: str | None = None) -> IssuedBill | None:
    """A bill (by id, or by number and period) with its lines, in one query."""
    b, ln = table_of(Bill), table_of(BillLine)
    query = (
        select(*(b.c[c] for c in BILL_COLUMNS), *(ln.c[c].label(f"l_{c}") for c in LINE_COLUMNS))
        .select_from(b.outerjoin(ln, ln.c.bill_id == b.c.bill_id))
        .order_by(ln.c.line_no)
    )
    if bill_id is not None:
        query = query.where(b.c.bill_id == bill_id)
    else:
        query = query.where(b.c.msisdn == msisdn, b.c.period == period)
    rows = conn.execute(query).all()
    if not rows:
        return None
    return IssuedBill(bill=_part(rows[0], BILL_COLUMNS, ""), lines=tuple(_part(r, LINE_COLUMNS, "l_") for r in rows if r.l_line_no is not None))


def _part(row: Any, columns: Sequence[str], prefix: str) -> SimpleNamespace:
    """The named values of one part of a joined row, read like a row of its own."""
    m = row._mapping
    return SimpleNamespace(**{c: m[f"{prefix}{c}"] for c in columns})


class IssuedBills:
    """A least-recently-used map of bill id → ``IssuedBill`` and (msisdn, period) → bill id; thread-safe."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._by_id: OrderedDict[str, IssuedBill] = OrderedDict()
        self._by_period: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(
        self, connect: Callable[[], Connection], *, bill_id: str | None = None, msisdn: str | None = None, period: str | None = None
    ) -> IssuedBill | None:
        """The bill from memory, or read on the connection ``connect()`` gives (and kept)."""
        with self._lock:
            key = bill_id if bill_id is not None else self._by_period.get((str(msisdn), str(period)))
            found = self._by_id.get(key) if key is not None else None
            if found is not None:
                self._by_id.move_to_end(key)  # type: ignore[arg-type]
                self.hits += 1
                return found
            self.misses += 1
        bill = read_bill(connect(), bill_id=bill_id, msisdn=msisdn, period=period)
        if bill is not None and self.maxsize > 0:
            self._keep(bill)
        return bill

    def _keep(self, bill: IssuedBill) -> None:
        with self._lock:
            bid = bill.bill.bill_id
            self._by_id[bid] = bill
            self._by_id.move_to_end(bid)
            self._by_period[(bill.bill.msisdn, bill.bill.period)] = bid
            while len(self._by_id) > self.maxsize:
                _old_id, old = self._by_id.popitem(last=False)
                self._by_period.pop((old.bill.msisdn, old.bill.period), None)


class BillCorrectionOut(BaseModel):
    """An entry issued since the bill to correct it (an owner change learnt after it: what it charged of the days
    before the change, the previous customer's, credited). The bill stays as issued; the entry is carried into a later
    bill, so the bill's total and its itemised usage differ by it."""

    adjustment_id: str
    kind: str = Field(description="credit (a later bill deducts it) or debit (a later bill adds it).")
    amount: str = Field(description="What the entry adds to a later bill: negative for a credit, tax included.")
    currency: str
    reason: str = Field(description="Why, in English: e.g. line transferred to you on 2026-03-10: charges before that "
                                    "date credited (…).")
    reason_zh: str = Field(description="Why, in Chinese.")
    created_at: datetime
    carried_in: str | None = Field(None, description="The period of the bill that carried it; null until one does.")


def bill_corrections(conn: Connection, bill_id: str, catalog_for: Callable[[], Catalog | None]) -> list[BillCorrectionOut]:
    """The owner-change corrections issued for bill ``bill_id`` (rerate entries with a ``holding-*`` reason), oldest
    first, each worded in English and Chinese (``catalog_for()``, read only when there is one, names what a reason
    names; None: the reason as stored)."""
    a, ln, b = table_of(Adjustment), table_of(BillLine), table_of(Bill)
    query = (
        select(a.c.adjustment_id, a.c.kind, a.c.amount_minor, a.c.currency, a.c.reason, a.c.created_at,
               b.c.period.label("carried_in"))
        .select_from(a.outerjoin(ln, ln.c.adjustment_id == a.c.adjustment_id).outerjoin(b, b.c.bill_id == ln.c.bill_id))
        .where(a.c.bill_id == bill_id, or_(*(a.c.reason.like(f"{code} %") for code in sorted(HOLDING_CODES))))
        .order_by(a.c.created_at, a.c.adjustment_id)
    )
    rows = conn.execute(query).all()
    catalog = catalog_for() if rows else None
    out = []
    for r in rows:
        signed = r.amount_minor if r.kind == "debit" else -r.amount_minor

        def words(lang: str, reason: str = r.reason) -> str:
            return reason_words(reason, catalog=catalog, language=lang) if catalog is not None else reason

        out.append(BillCorrectionOut(
            adjustment_id=r.adjustment_id, kind=r.kind, amount=money_text(signed, r.currency) or "0", currency=r.currency,
            reason=words("en"), reason_zh=words("zh"), created_at=r.created_at, carried_in=r.carried_in))
    return out
