"""Subscribers: import the operator's CSV (upsert by msisdn) and read them back."""

from __future__ import annotations

import csv
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from fairtel.core.contracts import SUBSCRIBER_FIELDS, Language, SubscriberStatus
from fairtel.core.errors import Problem
from fairtel.core.time import utc_now
from fairtel.store._report import (
    MSISDN_RE,
    ImportReport,
    chunks,
    dialect_insert,
    has_undecodable,
    parse_instant,
    text_problem,
)
from fairtel.store._schema import Customer, Subscriber, table_of

OPTIONAL_FIELDS = frozenset({"region"})
# beyond the contract's columns: when a closed line left service (its last month's fee is pro-rated to it)
EXTRA_FIELDS = ("closed_at",)
REQUIRED_FIELDS = tuple(f for f in SUBSCRIBER_FIELDS if f not in OPTIONAL_FIELDS)
_STATUSES = frozenset(s.value for s in SubscriberStatus)
_LANGUAGES = frozenset(s.value for s in Language)


@dataclass(frozen=True, slots=True)
class SubscriberRecord:
    msisdn: str
    customer_id: str
    plan_id: str
    activated_at: datetime
    status: str
    language: str
    region: str | None
    closed_at: datetime | None = None
    suspended_at: datetime | None = None


def import_subscribers(
    conn: Connection,
    path: Path | str,
    *,
    known_plans: Collection[str] | None = None,
    chunk_size: int = 2000,
) -> ImportReport:
    """Import a subscribers CSV (DESIGN.md contract): new numbers are added, known ones updated.

    Every bad row is reported with file, line and field and left out; the good rows are written. A number
    that appears twice in one file with different values is a problem (which row is right is not ours to
    guess); the same row repeated is counted as a duplicate. With
    ``known_plans`` a plan id outside the catalog is a problem too. Runs inside the caller's transaction.
    """
    path = Path(path)
    report = ImportReport(file=str(path), kind="subscribers")
    good: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}

    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            report.problems.append(Problem(str(path), 1, None, "empty file: expected a header line", "missing_header"))
            return report
        columns = [h.strip() for h in header]
        missing = [f for f in REQUIRED_FIELDS if f not in columns]
        index = {name: i for i, name in enumerate(columns)}
        for name in missing:
            report.problems.append(Problem(str(path), 1, name, "required column is missing from the header", "missing_column"))

        line = reader.line_num
        kept: dict[str, dict[str, Any]] = {}
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a field over the csv module's size limit: this record only
                start, line = line + 1, reader.line_num
                report.read += 1
                report.rejected += 1
                report.problems.append(Problem(str(path), start, None, f"not a CSV record: {exc}", "bad_csv"))
                continue
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            report.read += 1
            if missing:
                report.rejected += 1
                continue
            record, problems = _check_row(str(path), start, row, columns, index, known_plans)
            if record is not None and record["msisdn"] in first_line:
                if not problems and record == kept[record["msisdn"]]:
                    report.duplicate += 1  # the very same subscriber again: nothing to choose between
                    continue
                problems.append(
                    Problem(str(path), start, "msisdn", f"number appears again (first on line {first_line[record['msisdn']]})", "duplicate")
                )
            if problems or record is None:
                report.rejected += 1
                report.problems.extend(problems)
                continue
            first_line[record["msisdn"]] = start
            kept[record["msisdn"]] = record
            good.append(record)

    now = utc_now()
    for chunk in chunks(good, chunk_size):
        _upsert(conn, chunk, now, report)
    report.accepted = len(good)
    return report


def _check_row(
    file: str,
    line: int,
    row: list[str],
    columns: list[str],
    index: dict[str, int],
    known_plans: Collection[str] | None,
) -> tuple[dict[str, Any] | None, list[Problem]]:
    if len(row) != len(columns):
        return None, [Problem(file, line, None, f"expected {len(columns)} fields, found {len(row)}", "column_count")]
    value = {name: row[i].strip() for name, i in index.items() if name in SUBSCRIBER_FIELDS or name in EXTRA_FIELDS}
    problems: list[Problem] = []

    def bad(field: str, message: str, code: str = "bad_value") -> None:
        problems.append(Problem(file, line, field, message, code))

    for name, text in value.items():
        if has_undecodable(text):
            bad(name, "not valid UTF-8", "undecodable")
        elif (why := text_problem(text)) is not None:
            bad(name, why)
    for name in REQUIRED_FIELDS:
        if not value.get(name):
            bad(name, "required value is empty", "missing_field")
    msisdn = value.get("msisdn", "")
    if msisdn and not MSISDN_RE.fullmatch(msisdn):
        bad("msisdn", f"not an E.164 number (7-15 digits, no '+'): {msisdn!r}")
    if value.get("status") and value["status"] not in _STATUSES:
        bad("status", f"{value['status']!r} is not one of {', '.join(sorted(_STATUSES))}")
    if value.get("language") and value["language"] not in _LANGUAGES:
        bad("language", f"{value['language']!r} is not one of {', '.join(sorted(_LANGUAGES))}")
    plan = value.get("plan_id", "")
    if plan and known_plans is not None and plan not in known_plans:
        bad("plan_id", f"plan {plan!r} is not in the catalog", "unknown_plan")
    activated: datetime | None = None
    if value.get("activated_at"):
        activated, why = parse_instant(value["activated_at"])
        if why is not None:
            bad("activated_at", why, "bad_timestamp")
    closed: datetime | None = None
    if value.get("closed_at"):
        closed, why = parse_instant(value["closed_at"])
        if why is not None:
            bad("closed_at", why, "bad_timestamp")
        elif value.get("status") != SubscriberStatus.CLOSED.value:
            bad("closed_at", f"a line that is {value.get('status')!r} has not left service (closed_at is for closed lines)")
        elif activated is not None and closed is not None and closed < activated:
            bad("closed_at", "before the line was activated")
    for name, limit in (("customer_id", 64), ("plan_id", 64), ("region", 64)):
        if len(value.get(name, "")) > limit:
            bad(name, f"longer than {limit} characters")
    if problems:
        return None, problems
    return {
        "msisdn": msisdn,
        "customer_id": value["customer_id"],
        "plan_id": plan,
        "activated_at": activated,
        "status": value["status"],
        "language": value["language"],
        "region": value.get("region") or None,
        "closed_at": closed,
    }, []


_FIELDS = ("customer_id", "plan_id", "activated_at", "status", "language", "region", "closed_at")


def _upsert(conn: Connection, rows: list[dict[str, Any]], now: datetime, report: ImportReport) -> None:
    """Insert new numbers, update changed ones; a row identical to what is stored is left untouched."""
    subscribers = table_of(Subscriber)
    stored = {
        r.msisdn: r
        for r in conn.execute(
            select(subscribers.c.msisdn, subscribers.c.suspended_at, *(subscribers.c[f] for f in _FIELDS)).where(
                subscribers.c.msisdn.in_([r["msisdn"] for r in rows])
            )
        )
    }
    changed = []
    for r in rows:
        old = stored.get(r["msisdn"])
        if old is None:
            report.inserted += 1
        elif any(getattr(old, f) != r[f] for f in _FIELDS):
            report.updated += 1
        else:
            continue
        # a line the file says is suspended is suspended since the register learnt it (or since it was suspended
        # here), and no longer once the file says otherwise
        suspended = r["status"] == SubscriberStatus.SUSPENDED.value
        kept = old is not None and old.status == SubscriberStatus.SUSPENDED.value
        since = (old.suspended_at if kept and old is not None else now) if suspended else None
        changed.append({**r, "updated_at": now, "suspended_at": since})
    if not changed:
        return

    customers = table_of(Customer)
    ins = dialect_insert(conn, customers).on_conflict_do_nothing()
    conn.execute(ins, [{"customer_id": c, "created_at": now} for c in sorted({r["customer_id"] for r in changed})])

    ins = dialect_insert(conn, subscribers)
    stmt = ins.on_conflict_do_update(
        index_elements=[subscribers.c.msisdn],
        set_={c: getattr(ins.excluded, c) for c in (*_FIELDS, "updated_at", "suspended_at")},
    )
    conn.execute(stmt, changed)


def _record(row: Any) -> SubscriberRecord:
    return SubscriberRecord(
        msisdn=row.msisdn,
        customer_id=row.customer_id,
        plan_id=row.plan_id,
        activated_at=row.activated_at,
        status=row.status,
        language=row.language,
        region=row.region,
        closed_at=row.closed_at,
        suspended_at=row.suspended_at,
    )


def get_subscriber(conn: Connection, msisdn: str) -> SubscriberRecord | None:
    row = conn.execute(select(table_of(Subscriber)).where(Subscriber.msisdn == msisdn)).first()
    return None if row is None else _record(row)


def list_subscribers(
    conn: Connection,
    *,
    status: str | None = None,
    plan_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SubscriberRecord]:
    """Subscribers in msisdn order, optionally filtered; ``limit``/``offset`` page through them."""
    query = select(table_of(Subscriber)).order_by(Subscriber.msisdn)
    if status is not None:
        query = query.where(Subscriber.status == status)
    if plan_id is not None:
        query = query.where(Subscriber.plan_id == plan_id)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [_record(r) for r in conn.execute(query)]


def count_subscribers(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(Subscriber)) or 0)


def suspend_line(conn: Connection, msisdn: str, *, at: datetime, audit: Any, reason: str) -> str:
    """Suspend an active line (a confirmed SIM-box or scam case): its status becomes ``suspended``, audited
    (``audit``: a ``store.AuditAs``: who, in which role, and the keyed pseudonym of the number). Returns what
    happened: ``suspended``, or why nothing changed: ``already_suspended``, ``closed``, ``not_registered``."""
    from fairtel.store._audit import record_access

    sub = get_subscriber(conn, msisdn)
    if sub is None:
        return "not_registered"
    if sub.status == SubscriberStatus.SUSPENDED.value:
        return "already_suspended"
    if sub.status != SubscriberStatus.ACTIVE.value:
        return sub.status
    t = table_of(Subscriber)
    conn.execute(t.update().where(t.c.msisdn == msisdn).values(status=SubscriberStatus.SUSPENDED.value, suspended_at=at,
                                                                updated_at=at))
    who = audit.pseudonym(msisdn)
    record_access(conn, actor=audit.actor, role=audit.role, action="line.suspend", resource=f"subscriber/{who}",
                  subject_msisdn_pseudonym=who, reason=reason[:255], at=at)
    return "suspended"
