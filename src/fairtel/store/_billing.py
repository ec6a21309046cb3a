"""Bills and the adjustments ledger in the database.

Issued bills are immutable: ``issue_bills`` inserts a bill and its lines once and never touches them again
(a bill already issued is reported, not rewritten). Adjustments are append-only: ``record_adjustments`` adds
entries whose id is new and ignores the others. An entry is pending until a bill line carries it; the unique
index on ``bill_lines.adjustment_id`` makes carrying it twice impossible.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from fairtel.billing import AdjustmentEntry, AdjustmentKind, Bill, BillLine, BillRun, LineKind
from fairtel.core.errors import ConflictError
from fairtel.store._report import chunks, dialect_insert
from fairtel.store._schema import Adjustment, Subscriber, table_of
from fairtel.store._schema import Bill as BillRow
from fairtel.store._schema import BillLine as BillLineRow

_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class IssueReport:
    """What ``issue_bills`` did: bills inserted, and bills of the run found already issued (left unchanged)."""

    issued: list[str]
    already_issued: list[str]
    adjustments_carried: int


def issued_bills(conn: Connection, period: str, *, msisdns: Collection[str] | None = None) -> dict[str, str]:
    """msisdn → bill_id of the bills issued for ``period`` (of some subscribers only, when given)."""
    t = table_of(BillRow)
    query = select(t.c.msisdn, t.c.bill_id).where(t.c.period == period)
    if msisdns is None:
        return {r.msisdn: r.bill_id for r in conn.execute(query)}
    out: dict[str, str] = {}
    for chunk in chunks(sorted(set(msisdns)), _CHUNK):
        out.update({r.msisdn: r.bill_id for r in conn.execute(query.where(t.c.msisdn.in_(chunk)))})
    return out


def issued_runs(conn: Connection, period: str) -> set[str]:
    """The ids of the bill runs whose bills of ``period`` are committed: only their lake parts are bills."""
    t = table_of(BillRow)
    return {r for r in conn.scalars(select(t.c.run_id).where(t.c.period == period, t.c.run_id.is_not(None)).distinct())}


def issue_bills(conn: Connection, run: BillRun, *, catalog_version_id: int | None = None) -> IssueReport:
    """Insert the run's bills that are not issued yet, with their lines, in the caller's transaction."""
    bills_t, lines_t = table_of(BillRow), table_of(BillLineRow)
    existing = set(issued_bills(conn, run.period, msisdns=[b.msisdn for b in run.bills]).values())
    new = [b for b in run.bills if b.bill_id not in existing]
    bill_rows = [
        {"bill_id": b.bill_id, "msisdn": b.msisdn, "period": b.period, "issued_at": b.issued_at, "catalog_version_id": catalog_version_id,
         "currency": b.currency, "subtotal_minor": b.subtotal_minor, "tax_minor": b.tax_minor, "total_minor": b.total_minor,
         "run_id": b.run_id, "plan_id": b.plan_id}
        for b in new
    ]
    line_rows = [
        {"bill_id": b.bill_id, "line_no": ln.line_no, "kind": ln.kind.value, "description": ln.description, "rule_id": ln.rule_id,
         "quantity": ln.quantity, "unit": ln.unit, "amount_minor": ln.amount_minor, "currency": ln.currency,
         "allowance_id": ln.allowance_id, "adjustment_id": ln.adjustment_id}
        for b in new for ln in b.lines
    ]
    try:
        for chunk in chunks(bill_rows, _CHUNK):
            conn.execute(bills_t.insert(), chunk)
        for chunk in chunks(line_rows, _CHUNK):
            conn.execute(lines_t.insert(), chunk)
    except IntegrityError as exc:  # another run issued some of them, or carried one of the adjustments, meanwhile
        raise ConflictError(f"bills of {run.period} changed while this run was issuing them: run it again ({exc.orig})") from None
    carried = sum(1 for r in line_rows if r["adjustment_id"] is not None)
    return IssueReport([b.bill_id for b in new], sorted(b.bill_id for b in run.bills if b.bill_id in existing), carried)


def _bill_from(row: Any, lines: Sequence[Any]) -> Bill:
    out = tuple(
        BillLine(r.line_no, LineKind(r.kind), r.description, int(r.amount_minor), r.currency, rule_id=r.rule_id,
                 quantity=r.quantity, unit=r.unit, allowance_id=r.allowance_id, adjustment_id=r.adjustment_id)
        for r in sorted(lines, key=lambda r: r.line_no)
    )
    adjusted = sum(ln.amount_minor for ln in out if ln.kind is LineKind.ADJUSTMENT)
    return Bill(row.bill_id, row.msisdn, row.period, row.plan_id, row.currency, row.issued_at, row.run_id or "", out,
                int(row.subtotal_minor) - adjusted, adjusted, int(row.tax_minor))


def get_bill(conn: Connection, bill_id: str) -> Bill | None:
    bills_t, lines_t = table_of(BillRow), table_of(BillLineRow)
    row = conn.execute(select(bills_t).where(bills_t.c.bill_id == bill_id)).first()
    if row is None:
        return None
    return _bill_from(row, conn.execute(select(lines_t).where(lines_t.c.bill_id == bill_id)).all())


def bills_of_period(conn: Connection, period: str) -> list[Bill]:
    """Every bill issued for ``period``, in msisdn order, with its lines."""
    bills_t, lines_t = table_of(BillRow), table_of(BillLineRow)
    rows = conn.execute(select(bills_t).where(bills_t.c.period == period).order_by(bills_t.c.msisdn)).all()
    by_bill: dict[str, list[Any]] = {}
    for r in conn.execute(select(lines_t).join(bills_t, bills_t.c.bill_id == lines_t.c.bill_id).where(bills_t.c.period == period)):
        by_bill.setdefault(r.bill_id, []).append(r)
    return [_bill_from(r, by_bill.get(r.bill_id, [])) for r in rows]


def _entry(r: Any) -> AdjustmentEntry:
    return AdjustmentEntry(
        adjustment_id=r.adjustment_id, kind=AdjustmentKind(r.kind), msisdn=r.msisdn, amount_minor=int(r.amount_minor),
        currency=r.currency, reason=r.reason, created_at=r.created_at, created_by=r.created_by, bill_id=r.bill_id,
        finding_id=r.finding_id, period=r.period, source=r.source, record_id=r.record_id, rule_id=r.rule_id,
        old_amount_minor=r.old_amount_minor, new_amount_minor=r.new_amount_minor,
    )


def record_adjustments(conn: Connection, entries: Iterable[AdjustmentEntry]) -> list[str]:
    """Append entries to the ledger; an entry whose id is already there is skipped. Returns the ids this call added,
    in id order: those the database inserted (``INSERT ... ON CONFLICT DO NOTHING RETURNING``), never those another
    writer added meanwhile (a look before inserting would miss an entry committed in between, and the caller would
    count a refund as posted, and tell the subscriber, twice)."""
    t = table_of(Adjustment)
    todo = {e.adjustment_id: e for e in entries}
    if not todo:
        return []
    rows: list[dict[str, Any]] = [
        {"adjustment_id": e.adjustment_id, "kind": e.kind.value, "msisdn": e.msisdn, "bill_id": e.bill_id, "finding_id": e.finding_id,
         "amount_minor": e.amount_minor, "currency": e.currency, "reason": e.reason, "created_at": e.created_at,
         "created_by": e.created_by, "period": e.period, "source": e.source, "record_id": e.record_id, "rule_id": e.rule_id,
         "old_amount_minor": e.old_amount_minor, "new_amount_minor": e.new_amount_minor}
        for _, e in sorted(todo.items())
    ]
    insert = (dialect_insert(conn, t).on_conflict_do_nothing(index_elements=[t.c.adjustment_id])
              .returning(t.c.adjustment_id))
    added: list[str] = []
    for chunk in chunks(rows, _CHUNK):
        added.extend(str(i) for i in conn.execute(insert, chunk).scalars())
    return sorted(added)


def pending_adjustments(conn: Connection, *, msisdns: Collection[str] | None = None) -> list[AdjustmentEntry]:
    """Entries no bill line carries yet, oldest first."""
    t, lines_t = table_of(Adjustment), table_of(BillLineRow)
    query = (
        select(t)
        .outerjoin(lines_t, lines_t.c.adjustment_id == t.c.adjustment_id)
        .where(lines_t.c.adjustment_id.is_(None))
        .order_by(t.c.created_at, t.c.adjustment_id)
    )
    if msisdns is None:
        return [_entry(r) for r in conn.execute(query)]
    out: list[AdjustmentEntry] = []
    for chunk in chunks(sorted(set(msisdns)), _CHUNK):
        out.extend(_entry(r) for r in conn.execute(query.where(t.c.msisdn.in_(chunk))))
    return sorted(out, key=lambda e: (e.created_at, e.adjustment_id))


def pending_adjustments_between(conn: Connection, first: str, last: str) -> list[AdjustmentEntry]:
    """``pending_adjustments`` of the numbers ``first`` to ``last`` (both included: one range of the index, as a bill
    run reads a chunk of the register), oldest first."""
    t, lines_t = table_of(Adjustment), table_of(BillLineRow)
    query = (
        select(t)
        .outerjoin(lines_t, lines_t.c.adjustment_id == t.c.adjustment_id)
        .where(lines_t.c.adjustment_id.is_(None), t.c.msisdn >= first, t.c.msisdn <= last)
        .order_by(t.c.created_at, t.c.adjustment_id)
    )
    return [_entry(r) for r in conn.execute(query)]


def pending_in_other_currency(conn: Connection, currency: str, *, period: str) -> AdjustmentEntry | None:
    """The oldest entry no bill line carries yet that is not in ``currency``, of a line of the register with no bill
    of ``period`` issued: what a bill run of ``period`` would be given and refuse, found before it bills anything."""
    t, lines_t, bills_t = table_of(Adjustment), table_of(BillLineRow), table_of(BillRow)
    s = table_of(Subscriber)
    query = (
        select(t)
        .outerjoin(lines_t, lines_t.c.adjustment_id == t.c.adjustment_id)
        .where(lines_t.c.adjustment_id.is_(None), t.c.currency != currency,
               t.c.msisdn.in_(select(s.c.msisdn)),
               ~t.c.msisdn.in_(select(bills_t.c.msisdn).where(bills_t.c.period == period)))
        .order_by(t.c.created_at, t.c.adjustment_id)
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else _entry(row)


def bill_periods(conn: Connection, bill_ids: Collection[str]) -> dict[str, str]:
    """The period of each of ``bill_ids`` that is an issued bill (``bill_id`` → ``YYYY-MM``)."""
    b = table_of(BillRow)
    out: dict[str, str] = {}
    for chunk in chunks(sorted(set(bill_ids)), _CHUNK):
        out.update((r.bill_id, r.period) for r in conn.execute(select(b.c.bill_id, b.c.period).where(b.c.bill_id.in_(chunk))))
    return out


def rerate_entries(conn: Connection, period: str) -> list[AdjustmentEntry]:
    """The rerate entries issued for ``period``, oldest first: those naming a record, and the plan-fee ones
    (no record, the amounts before and after)."""
    t = table_of(Adjustment)
    query = (
        select(t)
        .where(t.c.period == period, or_(t.c.record_id.is_not(None), t.c.old_amount_minor.is_not(None)))
        .order_by(t.c.created_at, t.c.adjustment_id)
    )
    return [_entry(r) for r in conn.execute(query)]


def adjustments_by_id(conn: Connection, adjustment_ids: Iterable[str]) -> dict[str, AdjustmentEntry]:
    """adjustment_id → its entry, of those given that the ledger holds."""
    t = table_of(Adjustment)
    out: dict[str, AdjustmentEntry] = {}
    for chunk in chunks(sorted(set(adjustment_ids)), _CHUNK):
        out.update((r.adjustment_id, _entry(r)) for r in conn.execute(select(t).where(t.c.adjustment_id.in_(chunk))))
    return out


def adjustments_of(conn: Connection, msisdn: str) -> list[AdjustmentEntry]:
    """Every entry of one subscriber, oldest first."""
    t = table_of(Adjustment)
    return [_entry(r) for r in conn.execute(select(t).where(t.c.msisdn == msisdn).order_by(t.c.created_at, t.c.adjustment_id))]
