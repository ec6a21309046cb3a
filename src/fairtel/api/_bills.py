"""Issued bills, cached per server process.

A bill and its lines are inserted once, in one transaction, and never changed (corrections are adjustments
carried into a later bill), so a bill read once can be served again from memory. Only bills that exist are
kept; a period without a bill is asked again each time, so a bill issued later is seen at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from fairtel.store import Bill, BillLine
from fairtel.store._schema import table_of

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
