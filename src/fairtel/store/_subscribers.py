"""Subscribers: import the operator's CSV (upsert by msisdn) and read them back, with each line's plan history.

A plan change takes effect from the start of the next billing period after the register learns it (the practice
of the operators fairtel serves: a change made in March applies from April), unless the file says from when
(``plan_since``): a period is then rated and billed under the plan the line was on in it.

Every write to a line (its row or its plan history) is noted in the register's change log (``register_changes``),
so that a reader that keeps the register in memory (online rating) reads again only the lines that changed.

A line whose number the import gives to a new holder (a later ``activated_at``) or to another customer (a changed
``customer_id``) has all its subscriber logins in use disabled in the same transaction: a login made for the earlier
holder would otherwise open the new holder's account. The import's report counts them
(``SubscriberImportReport.logins_disabled``) and names the lines by their last digits only. A line moved to
another customer with its ``activated_at`` kept (an owner change) is dated: ``subscribers.holder_since`` (the
file's ``customer_since``, else the import's instant) bounds what the new customer reads and what their bills carry.

Every change of a line's status (a new line, a suspension, a line brought back into service, closed, or its number
activated again for a new holder) is a row of the line's status history (``line_status_history``, append-only):
the register keeps only the current state, and rating reads from the history the suspensions that ended
(``suspension_windows``), so that usage made during one is held even when rated after the line came back.

A line the file says is closed has its VAS subscriptions ended in the consent ledger in the same transaction: a
``cancelled`` event of each still running at the closing, dated then, by the system (reason ``line_closed``; see
``store._consent.end_closed_lines``). The same file imported again adds none; a line opened again later has no
subscription running, and orders and confirms again whatever value-added service it wants."""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import BigInteger, func, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from fairtel.catalog import SUSPENSION_REASONS
from fairtel.core.contracts import SUBSCRIBER_FIELDS, Language, SubscriberStatus
from fairtel.core.errors import Problem
from fairtel.core.time import DEMO_TIMEZONE, Period, require_aware, utc_now
from fairtel.mediation.readers._delimited import decode_line
from fairtel.privacy._numbers import msisdn_problem
from fairtel.privacy._roles import Role
from fairtel.store._consent import closing_instants, end_closed_lines
from fairtel.store._report import (
    ImportReport,
    chunks,
    dialect_insert,
    has_undecodable,
    parse_instant,
    text_problem,
)
from fairtel.store._schema import (
    MSISDN,
    Base,
    Customer,
    LineStatusHistory,
    Subscriber,
    SubscriberPlan,
    User,
    table_of,
)

OPTIONAL_FIELDS = frozenset({"region"})
# beyond the contract's columns: when a closed line left service (its last month's fee is pro-rated to it), and
# from when a line's new plan applies (the first period starting at or after it; default: the next period), and
# since when a suspended line has been suspended (default: since the register learnt it), and since when a line
# the file brings back into service from a suspension is back (default: since the register learnt it)
EXTRA_FIELDS = ("closed_at", "plan_since", "suspended_at", "resumed_at", "customer_since", "suspension_reason")
REQUIRED_FIELDS = tuple(f for f in SUBSCRIBER_FIELDS if f not in OPTIONAL_FIELDS)
_STATUSES = frozenset(s.value for s in SubscriberStatus)
_LANGUAGES = frozenset(s.value for s in Language)


class RegisterChange(Base):
    """The register's change log (migration 0012): for each line, the newest committed change to its row or its
    plan history, as a ``version`` numbered in commit order (``note_register_changes``). Every writer of
    ``subscribers`` and ``subscriber_plans`` notes what it wrote here: a change it did not note is not seen by a
    reader that keeps the register in memory until that reader reads it whole again."""

    __tablename__ = "register_changes"

    msisdn: Mapped[str] = mapped_column(MSISDN, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, index=True)


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
    # since when the current customer holds the line, when later than ``activated_at`` (None: since it)
    holder_since: datetime | None = None


@dataclass(slots=True)
class SubscriberImportReport(ImportReport):
    """An import's report (``ImportReport``) with the subscriber logins it disabled: those in use on lines the file
    gave to a new holder or another customer. ``notes`` says so in words, naming each line by its last four digits
    only (the report is printed and kept)."""

    logins_disabled: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self, *, max_problems: int | None = None) -> dict[str, Any]:
        return {**ImportReport.to_dict(self, max_problems=max_problems), "logins_disabled": self.logins_disabled,
                "notes": list(self.notes)}


# the magic numbers of the compressed files a register export is often sent as
_COMPRESSED = ((b"\x1f\x8b", "gzip-compressed"), *((b"BZh%d" % level, "bzip2-compressed") for level in range(1, 10)),
               (b"PK\x03\x04", "ZIP"), (b"\xfd7zXZ", "xz-compressed"), (b"\x28\xb5\x2f\xfd", "zstd-compressed"))


def import_subscribers(
    conn: Connection,
    path: Path | str,
    *,
    known_plans: Collection[str] | None = None,
    chunk_size: int = 2000,
    timezone: str | None = None,
    now: datetime | None = None,
) -> SubscriberImportReport:
    """Import a subscribers CSV (DESIGN.md contract): new numbers are added, known ones updated.

    Every bad row is reported with file, line and field and left out; the good rows are written. A number
    that appears twice in one file with different values is a problem (which row is right is not ours to
    guess); the same row repeated is counted as a duplicate. With
    ``known_plans`` a plan id outside the catalog is a problem too. Runs inside the caller's transaction.

    Each new line and each plan change is written to the plan history (``subscriber_plans``): a new line is on
    its plan from its activation; a changed plan applies from the start of the billing period after ``now``
    (default: the clock), on the operator's clock ``timezone`` (default: that of the home's current catalog),
    or, when the row has a ``plan_since`` instant, from the first period starting at or after it. The register
    (``subscribers.plan_id``) keeps the latest plan, a change not yet in force included.
    """
    path = Path(path)
    report = SubscriberImportReport(file=str(path), kind="subscribers")
    good: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    now = now or utc_now()

    with path.open("rb") as raw:
        head = raw.read(4)
    packed = next((name for magic, name in _COMPRESSED if head.startswith(magic)), None)
    if packed is not None:  # its bytes are no CSV text: one problem, not one per column the header lacks
        report.problems.append(Problem(str(path), None, None, f"a {packed} file, not CSV text: decompress it first",
                                       "compressed_file"))
        return report
    with path.open("rb") as fh:
        reader = csv.reader(_text_lines(fh))
        header = next(reader, None)
        if header is None:
            report.problems.append(Problem(str(path), 1, None, "empty file: expected a header line", "missing_header"))
            return report
        columns = [h.strip() for h in header]
        missing = [f for f in REQUIRED_FIELDS if f not in columns]
        index = {name: i for i, name in enumerate(columns)}
        for name in missing:
            report.problems.append(Problem(str(path), 1, name, "required column is missing from the header", "missing_column"))
        # a column named twice: which of its values is the subscriber's is not ours to guess, so no row is read
        twice = sorted({name for name in columns if name and columns.count(name) > 1}, key=columns.index)
        for name in twice:
            where = ", ".join(str(i + 1) for i, c in enumerate(columns) if c == name)
            report.problems.append(Problem(str(path), 1, name, f"header names a column twice (columns {where})",
                                           "duplicate_column"))
        unusable = [*missing, *twice]  # a header no row can be read by

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
            if unusable:
                report.rejected += 1
                continue
            record, problems = _check_row(str(path), start, row, columns, index, known_plans, now=now)
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

    good = _check_resumes(conn, str(path), good, first_line, now, report)
    tz = timezone or _operator_timezone(conn)
    written: list[str] = []
    handed: set[str] = set()
    moved: dict[str, bool] = {}
    raised: list[str] = []
    for chunk in chunks(good, chunk_size):
        written += _upsert(conn, chunk, now, report, tz, handed, moved, raised)
    _disable_line_logins(conn, handed, report)
    _end_closed_subscriptions(conn, good, now, report)
    _note_moved(moved, now, report)
    _note_raised(raised, first_line, str(path), report)
    note_register_changes(conn, written)  # last: see there
    report.accepted = len(good)
    return report


def _text_lines(raw: Any) -> Iterator[str]:
    """The lines of the binary file ``raw`` as text, each decoded on its own as usage is (UTF-8 when it is valid,
    else GB18030: a register exported on a Chinese Windows is GBK); a line that is neither keeps its bytes as
    surrogate escapes, so that its row is refused as undecodable, naming the field. A UTF-8 byte-order mark at the
    start is dropped."""
    for number, line in enumerate(raw):
        if number == 0 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        text = decode_line(line)
        yield line.decode("utf-8", errors="surrogateescape") if text is None else text


def _check_row(
    file: str,
    line: int,
    row: list[str],
    columns: list[str],
    index: dict[str, int],
    known_plans: Collection[str] | None,
    *,
    now: datetime | None = None,
) -> tuple[dict[str, Any] | None, list[Problem]]:
    if len(row) != len(columns):
        return None, [Problem(file, line, None, f"expected {len(columns)} fields, found {len(row)}", "column_count")]
    value = {name: row[i].strip() for name, i in index.items() if name in SUBSCRIBER_FIELDS or name in EXTRA_FIELDS}
    problems: list[Problem] = []

    def bad(field: str, message: str, code: str = "bad_value") -> None:
        problems.append(Problem(file, line, field, message, code))

    for name, text in value.items():
        if has_undecodable(text):
            bad(name, "neither UTF-8 nor GB18030", "undecodable")
        elif (why := text_problem(text)) is not None:
            bad(name, why)
    for name in REQUIRED_FIELDS:
        if not value.get(name):
            bad(name, "required value is empty", "missing_field")
    msisdn = value.get("msisdn", "")
    if msisdn and (why := msisdn_problem(msisdn)) is not None:
        bad("msisdn", why)
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
    def instant(field: str, status: SubscriberStatus | None = None, meaning: str = "") -> datetime | None:
        """The optional instant ``field``: a valid RFC 3339 instant, not before the activation, and (``status``)
        only on a line of that status (``meaning``: what the status means, for the message)."""
        text = value.get(field)
        if not text:
            return None
        at, why = parse_instant(text)
        if why is not None:
            bad(field, why, "bad_timestamp")
        elif status is not None and value.get("status") != status.value:
            bad(field, f"a line that is {value.get('status')!r} {meaning} ({field} is for {status.value} lines)")
        elif activated is not None and at is not None and at < activated:
            bad(field, "before the line was activated")
        return at

    closed = instant("closed_at", SubscriberStatus.CLOSED, "has not left service")
    suspended = instant("suspended_at", SubscriberStatus.SUSPENDED, "is not suspended")
    resumed = instant("resumed_at", SubscriberStatus.ACTIVE, "is not back in service")
    # why a suspended line is suspended (catalog.SUSPENSION_REASONS): what a plan's suspension policy charges for it
    why_suspended = value.get("suspension_reason") or None
    if why_suspended is not None and why_suspended not in SUSPENSION_REASONS:
        bad("suspension_reason", f"{why_suspended!r} is not one of {', '.join(SUSPENSION_REASONS)}")
    elif why_suspended is not None and value.get("status") != SubscriberStatus.SUSPENDED.value:
        bad("suspension_reason", f"a line that is {value.get('status')!r} is not suspended (suspension_reason is for "
            "suspended lines)")
    plan_since = instant("plan_since")
    # since when the row's customer holds the line (an owner change: the line moved to them, its activation kept)
    customer_since = instant("customer_since")
    if customer_since is not None and now is not None and customer_since > now:
        bad("customer_since", f"in the future (after {now.isoformat()})")
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
        "plan_since": plan_since,
        "suspended_at": suspended,
        "resumed_at": resumed,
        "customer_since": customer_since,
        "suspension_reason": why_suspended,
    }, []


def _check_resumes(conn: Connection, file: str, rows: list[dict[str, Any]], first_line: dict[str, int], now: datetime,
                   report: ImportReport) -> list[dict[str, Any]]:
    """``rows`` without those whose ``resumed_at`` the register refuses, each reported with its line and field
    (and counted rejected): a resume dated in the future (after ``now``), or on a line that is not suspended (the
    same resume already recorded, from an earlier import of the file, is accepted and changes nothing), or before
    the line's suspension."""
    dated = {r["msisdn"]: r for r in rows if r["resumed_at"] is not None}
    if not dated:
        return rows
    s, h = table_of(Subscriber), table_of(LineStatusHistory)
    stored = {r.msisdn: r for chunk in chunks(sorted(dated), 5000) for r in conn.execute(
        select(s.c.msisdn, s.c.status, s.c.suspended_at, s.c.activated_at).where(s.c.msisdn.in_(chunk)))}
    back = [m for m, r in stored.items() if r.status == SubscriberStatus.ACTIVE.value]
    last = {r.msisdn: (r.status, _aware(r.since)) for chunk in chunks(back, 5000) for r in conn.execute(
        select(h.c.msisdn, h.c.status, h.c.since).where(h.c.msisdn.in_(chunk)).order_by(h.c.msisdn, h.c.since,
                                                                                      h.c.entry_id))}
    refused: set[str] = set()
    for msisdn, row in dated.items():
        resumed, old = row["resumed_at"], stored.get(msisdn)
        why: str | None = None
        if resumed > now:
            why = f"in the future (after {now.isoformat()})"
        elif old is None:
            why = "the line is new to the register: only a suspended line is resumed"
        elif row["activated_at"] > _aware(old.activated_at):
            why = "the number is activated again (a new holder): only a suspended line is resumed"
        elif old.status == SubscriberStatus.SUSPENDED.value:
            if old.suspended_at is not None and resumed < _aware(old.suspended_at):
                why = f"before the line's suspension (suspended since {_aware(old.suspended_at).isoformat()})"
        elif old.status != SubscriberStatus.ACTIVE.value or last.get(msisdn) != (SubscriberStatus.ACTIVE.value, resumed):
            why = f"the line is {old.status}, not suspended: only a suspended line is resumed"
        if why is not None:
            refused.add(msisdn)
            report.problems.append(Problem(file, first_line[msisdn], "resumed_at", why, "bad_value"))
    report.rejected += len(refused)
    return [r for r in rows if r["msisdn"] not in refused]


_FIELDS = ("customer_id", "plan_id", "activated_at", "status", "language", "region", "closed_at")


def _operator_timezone(conn: Connection) -> str:
    """The operator's time zone as the home's current catalog gives it (its billing periods' clock); the demo
    operator's when no catalog is stored or it names none (a catalog is validated before it is stored)."""
    import tomllib

    from fairtel.store._catalog import current_catalog_text

    text = current_catalog_text(conn)
    if text:
        try:
            zone = tomllib.loads(text).get("operator", {}).get("timezone")
        except tomllib.TOMLDecodeError:
            zone = None
        if isinstance(zone, str) and zone:
            return zone
    return DEMO_TIMEZONE


def _first_period_start(instant: datetime, tz: str) -> datetime:
    """The start of the first billing period (on the clock ``tz``) that starts at or after ``instant``: when a
    plan change made or dated then takes effect (as UTC)."""
    period = Period.containing(instant, tz)
    start = period.start if period.start == instant else period.next().start
    return start.astimezone(UTC)


def _upsert(conn: Connection, rows: list[dict[str, Any]], now: datetime, report: ImportReport, tz: str,
            handed: set[str], moved: dict[str, bool] | None = None, raised: list[str] | None = None) -> list[str]:
    """Insert new numbers, update changed ones; a row identical to what is stored is left untouched. A new number
    and a changed plan each add a row to the plan history, and so does a ``plan_since`` that the history does not
    say yet (the register's plan dated back to a period that was under another). Returns the numbers written.

    Each stored line the file gives to a new holder (a later ``activated_at``) or another customer is put in
    ``handed``: its subscriber logins are disabled. A line moved to another customer with its activation kept (an
    owner change) is held by the new customer from the row's ``customer_since`` when it gives one, else from
    ``now`` (as the register learnt it), never from before the previous customer's holding began
    (``holder_since``, else its activation: an earlier ``customer_since`` is raised to it, and the line put in
    ``raised``); it is put in ``moved`` (msisdn → whether the file dated it). A later ``activated_at`` (the
    number given to a new holder) begins a new holding: ``holder_since`` is cleared. A line whose customer is
    unchanged keeps its ``holder_since``."""
    subscribers = table_of(Subscriber)
    stored = {
        r.msisdn: r
        for r in conn.execute(
            select(subscribers.c.msisdn, subscribers.c.suspended_at, subscribers.c.holder_since,
                   *(subscribers.c[f] for f in _FIELDS)).where(
                subscribers.c.msisdn.in_([r["msisdn"] for r in rows])
            )
        )
    }
    spells = _spells_of(conn, [r["msisdn"] for r in rows if r["plan_since"] is not None and r["msisdn"] in stored])
    changed = []
    history: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    for row in rows:
        plan_since, given_since = row["plan_since"], row["suspended_at"]
        r = {k: v for k, v in row.items()
             if k not in ("plan_since", "suspended_at", "resumed_at", "customer_since", "suspension_reason")}
        old = stored.get(r["msisdn"])
        plan_from: datetime | None = None
        if old is None:
            plan_from = r["activated_at"]
        elif old.plan_id != r["plan_id"] or plan_since is not None:
            plan_from = _effective_from(old.activated_at, r["activated_at"], plan_since, now, tz)
            if old.plan_id == r["plan_id"] and _holds(spells.get(r["msisdn"], []), r["plan_id"], plan_from):
                plan_from = None  # the history says so already (this file imported before, say)
        if old is None:
            report.inserted += 1
        elif (plan_from is not None or any(getattr(old, f) != r[f] for f in _FIELDS)
              or (given_since is not None and old.suspended_at != given_since)):
            report.updated += 1
        else:
            continue
        if old is not None and (r["activated_at"] > old.activated_at or old.customer_id != r["customer_id"]):
            handed.add(r["msisdn"])
        if plan_from is not None:
            history.append({"msisdn": r["msisdn"], "plan_id": r["plan_id"], "effective_from": plan_from,
                            "recorded_at": now})
        # a line the file says is suspended is suspended since the file's ``suspended_at`` when it gives one, else
        # since the register learnt it (or since it was suspended here), and no longer once the file says otherwise
        suspended = r["status"] == SubscriberStatus.SUSPENDED.value
        kept = old is not None and old.status == SubscriberStatus.SUSPENDED.value
        since = (given_since or (old.suspended_at if kept and old is not None else now)) if suspended else None
        changed.append({**r, "updated_at": now, "suspended_at": since,
                        "holder_since": _holder_since(old, r, row["customer_since"], now, moved, raised)})
        statuses += _status_rows(old, r, since, now, resumed=row["resumed_at"], reason=row.get("suspension_reason"))
    if not changed:
        return []

    customers = table_of(Customer)
    ins = dialect_insert(conn, customers).on_conflict_do_nothing()
    conn.execute(ins, [{"customer_id": c, "created_at": now} for c in sorted({r["customer_id"] for r in changed})])

    ins = dialect_insert(conn, subscribers)
    stmt = ins.on_conflict_do_update(
        index_elements=[subscribers.c.msisdn],
        set_={c: getattr(ins.excluded, c) for c in (*_FIELDS, "updated_at", "suspended_at", "holder_since")},
    )
    conn.execute(stmt, changed)
    if history:
        conn.execute(table_of(SubscriberPlan).insert(), history)
    if statuses:
        conn.execute(table_of(LineStatusHistory).insert(), statuses)
    return [r["msisdn"] for r in changed]


def _holder_since(old: Any, new: dict[str, Any], given: datetime | None, now: datetime,
                  moved: dict[str, bool] | None, raised: list[str] | None = None) -> datetime | None:
    """Since when the customer of ``new`` holds the line, when later than its ``activated_at`` (None: since it):
    a new line or a number activated again begins a holding with its activation; a line moved to another customer
    with its activation kept is theirs from ``given`` (the file's ``customer_since``) or else ``now``, and never from
    before the previous holding began (the previous customer's records stay theirs): a ``given`` earlier than that
    is raised to it, and the line put in ``raised`` (the import says so); otherwise it is kept."""
    if old is None or new["activated_at"] > _aware(old.activated_at):
        return None
    kept = None if old.holder_since is None else _aware(old.holder_since)
    if old.customer_id == new["customer_id"]:
        return kept
    since = given if given is not None else now
    floor = max(_aware(new["activated_at"]), kept) if kept is not None else _aware(new["activated_at"])
    if moved is not None:
        moved[new["msisdn"]] = given is not None
    if given is not None and given < floor and raised is not None:
        raised.append(new["msisdn"])
    return max(since, floor)


def _note_moved(moved: dict[str, bool], now: datetime, report: SubscriberImportReport) -> None:
    """Say in ``report`` which lines moved to another customer with their activation kept, and from when the new
    customer holds each (naming the lines by their last four digits only)."""
    for dated, how in ((True, "from the file's customer_since"),
                       (False, f"from this import ({now.isoformat()}: as the register learnt it; give customer_since "
                               "to date it)")):
        lines = sorted(m for m, d in moved.items() if d is dated)
        if not lines:
            continue
        shown = ", ".join(f"…{m[-4:]}" for m in lines[:10]) + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")
        report.notes.append(
            f"{len(lines)} line(s) moved to another customer with their activation kept ({shown}): the new customer "
            f"holds the line {how}; what they read and what their bills carry begin then, the earlier records "
            "stay the previous customer's")


def _note_raised(raised: list[str], first_line: Mapping[str, int], file: str, report: SubscriberImportReport) -> None:
    """Say in ``report`` how many rows gave a ``customer_since`` earlier than the line's previous holding began (its
    ``holder_since``, else its activation), which the import raised to that start, and the first such line of the
    file: the new customer's holding cannot begin inside the previous customer's."""
    if not raised:
        return
    first = min(first_line[m] for m in raised)
    report.notes.append(
        f"{len(raised)} row(s) gave a customer_since earlier than the line's previous holding began (first at {file} "
        f"line {first}, field customer_since): the new customer holds the line from the start of the previous "
        "holding instead (its holder_since, else its activation), as the previous customer's records stay theirs; "
        "correct the file's customer_since if the change of holder was dated wrong")


def _disable_line_logins(conn: Connection, handed: set[str], report: SubscriberImportReport) -> None:
    """Disable the subscriber logins in use on the lines of ``handed``, counted in ``report`` with a note naming the
    lines by their last four digits. All of them: the register learns of a new holder late, dated back, so a login
    made after the new activation may still be the earlier holder's (made before the import told of the change),
    and which one is the new holder's is not known here; an administrator enables or issues the new holder's."""
    if not handed:
        return
    t = table_of(User)
    disabled: list[str] = []
    for chunk in chunks(sorted(handed), 5000):
        rows = conn.execute(select(t.c.username, t.c.msisdn).where(
            t.c.role == Role.SUBSCRIBER.value, t.c.disabled.is_(False), t.c.msisdn.in_(chunk))).all()
        names = [r.username for r in rows]
        if names:
            conn.execute(update(t).where(t.c.username.in_(names)).values(disabled=True))
            disabled += sorted({r.msisdn for r in rows})
            report.logins_disabled += len(names)
    if report.logins_disabled:
        shown = ", ".join(f"…{m[-4:]}" for m in disabled[:10]) + (f" and {len(disabled) - 10} more" if len(disabled) > 10 else "")
        report.notes.append(
            f"{report.logins_disabled} subscriber login(s) disabled on {len(disabled)} line(s) given to a new holder "
            f"or another customer ({shown}): a login made for the earlier holder no longer opens the line; an "
            "administrator issues the new holder a login")


def _end_closed_subscriptions(conn: Connection, rows: list[dict[str, Any]], now: datetime,
                              report: SubscriberImportReport) -> None:
    """End in the consent ledger the VAS subscriptions of the lines the file says are closed (``end_closed_lines``):
    each still running at the closing gets a ``cancelled`` event dated then (the row's ``closed_at``; without one,
    since when the status history says the line is closed, which is when the register learnt it), by the system. A
    line closed earlier and listed again, or a file imported again, adds nothing; a closing dated after ``now`` ends
    nothing yet (the ledger holds no event ahead of its time: an import after the date ends them). ``report.notes``
    counts the events, naming no line."""
    closings = closing_instants(conn, [r["msisdn"] for r in rows if r["status"] == SubscriberStatus.CLOSED.value])
    ended = end_closed_lines(conn, {m: at for m, at in closings.items() if at <= now}, recorded_at=now)
    if ended:
        report.notes.append(f"{ended} VAS subscription(s) ended in the consent ledger as their lines closed "
                            "(cancelled, reason line_closed, at each line's closing): a line opened again needs a "
                            "new order and confirmation for any value-added service")


def _aware(at: datetime) -> datetime:
    """A stored instant as aware UTC (SQLite returns the UTC wall clock without its zone)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


REGISTER_SOURCE = "register"  # a status the register file gave (``import_subscribers``)
SUSPEND_SOURCE = "line_suspend"  # a line suspended on a confirmed case's decision (``suspend_line``)


def _status_rows(old: Any, new: dict[str, Any], suspended_since: datetime | None, now: datetime, *,
                 resumed: datetime | None = None, reason: str | None = None) -> list[dict[str, Any]]:
    """The status history rows an import's write of ``new`` over the stored row ``old`` (None: a new line) adds: a
    new line, or a number activated again (a new holder), active from its activation; then, when its status changed
    (or a suspension or closing was dated anew), the new status from when the file says (``suspended_since``,
    ``closed_at``), else from when the register learnt it (``now``); a line brought back into service, from
    ``resumed`` when the file dates the resume (``resumed_at``), else from ``now``."""
    status, msisdn = new["status"], new["msisdn"]
    rows: list[tuple[str, datetime]] = []
    again = old is None or new["activated_at"] > old.activated_at
    if again:
        rows.append((SubscriberStatus.ACTIVE.value, new["activated_at"]))
    was = SubscriberStatus.ACTIVE.value if again else old.status
    if status == SubscriberStatus.SUSPENDED.value:
        if was != status or (old is not None and old.suspended_at != suspended_since):
            rows.append((status, suspended_since or now))
    elif status == SubscriberStatus.CLOSED.value:
        if was != status or (old is not None and old.closed_at != new["closed_at"]):
            rows.append((status, new["closed_at"] or now))
    elif was != status:
        rows.append((status, resumed or now))
    # a suspension's row says why when the file does (``suspension_reason``; None: not said)
    return [{"msisdn": msisdn, "status": st, "since": at, "recorded_at": now, "source": REGISTER_SOURCE,
             "reason": reason if st == SubscriberStatus.SUSPENDED.value else None} for st, at in rows]


def _spells_of(conn: Connection, msisdns: list[str]) -> dict[str, list[tuple[datetime, str]]]:
    """The plan timeline (``plan_timeline``) of each of ``msisdns``: (effective_from, plan_id) in time order."""
    if not msisdns:
        return {}
    out: dict[str, list[tuple[datetime, str]]] = {}
    for row in plan_timeline(conn, msisdns=msisdns).to_pylist():
        out.setdefault(row["msisdn"], []).append((row["effective_from"], row["plan_id"]))
    return out


def _holds(spells: list[tuple[datetime, str]], plan: str, since: datetime) -> bool:
    """Whether the timeline ``spells`` has the line on ``plan`` from ``since`` on, and on no other after."""
    before = [p for s, p in spells if s <= since]
    return bool(before) and before[-1] == plan and all(p == plan for s, p in spells if s > since)


def _effective_from(was_activated: datetime, activated: datetime, plan_since: datetime | None, now: datetime,
                    tz: str) -> datetime:
    """From when a line's new plan applies: the first period starting at or after ``plan_since`` when the file
    gives it; from its activation when the number was activated again since (a new holder's line is on its
    plan from the start); else from the next period after the register learnt the change (``now``)."""
    if plan_since is not None:
        return _first_period_start(plan_since, tz)
    if activated > was_activated:
        return activated
    return Period.containing(now, tz).next().start.astimezone(UTC)


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
        holder_since=row.holder_since,
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


PLAN_TIMELINE_SCHEMA = pa.schema([("msisdn", pa.string()), ("plan_id", pa.string()),
                                  ("effective_from", pa.timestamp("us", tz="UTC"))])
PLANS_IN_FORCE_SCHEMA = pa.schema([("msisdn", pa.string()), ("plan_id", pa.string())])


def _changed(conn: Connection, msisdns: Collection[str] | None = None,
             between: tuple[str, str] | None = None) -> pl.DataFrame:
    """The plans (msisdn, plan_id, effective_from) of the lines that changed plan, each in force from its
    ``effective_from`` until the line's next row, in number and time order. A history row recorded later replaces,
    from its own ``effective_from`` on, what the rows recorded before it said (a change dated back with
    ``plan_since`` replaces one still pending, and two changes learnt in one period leave the last).

    Every other line has one history row, whose plan is the register's (the import keeps them so), or none: it is
    on the register's plan throughout, and read from the register. Only the lines with several rows are read and
    resolved here (a window query over the whole history took several times as long on SQLite: seconds for every
    300 000 lines).

    A line's timeline starts at its activation (``holding_plans``): the rows before it are a number's earlier
    holder's, or were before a corrected activation."""
    h = table_of(SubscriberPlan)
    s = table_of(Subscriber)
    several = select(h.c.msisdn).group_by(h.c.msisdn).having(func.count() > 1)
    if msisdns is not None:  # those lines' rows alone, by the index, not a grouping of the whole history
        several = several.where(h.c.msisdn.in_(list(msisdns)))
    if between is not None:  # the lines numbered first..last (a range of the index)
        several = several.where(h.c.msisdn >= between[0], h.c.msisdn <= between[1])
    rows = select(h.c.msisdn, h.c.plan_id, h.c.effective_from, h.c.recorded_at, h.c.plan_change_id).where(
        h.c.msisdn.in_(several))
    # a row holds until the earliest start among the rows recorded after it, when that is not after its own
    later = pl.col("effective_from").cum_min(reverse=True).shift(-1).over("msisdn")
    resolved = (_frame(conn, rows).sort("msisdn", "recorded_at", "plan_change_id").with_columns(later.alias("_later"))
                .filter(pl.col("_later").is_null() | (pl.col("effective_from") < pl.col("_later")))
                .select("msisdn", "plan_id", "effective_from").sort("msisdn", "effective_from"))
    activated = _frame(conn, select(s.c.msisdn, s.c.activated_at).where(s.c.msisdn.in_(several)))
    return holding_plans(resolved, activated)


def handed_over(conn: Connection, lines: Mapping[str, datetime]) -> list[str]:
    """The numbers among ``lines`` (msisdn → its current ``activated_at``) that were held before that activation
    (a plan history row from before it: a number closed and activated again, 号码回收, or an activation corrected
    later), in number order."""
    h = table_of(SubscriberPlan)
    out: set[str] = set()
    for chunk in chunks(sorted(lines), 500):
        out.update(r.msisdn for r in conn.execute(select(h.c.msisdn, h.c.effective_from).where(h.c.msisdn.in_(chunk)))
                   if r.effective_from < lines[r.msisdn])
    return sorted(out)


def holding_plans(timeline: pl.DataFrame, activated: pl.DataFrame) -> pl.DataFrame:
    """``timeline`` (msisdn, plan_id, effective_from; in number and time order) from each line's activation on
    (``activated``: msisdn, activated_at): the plan in force at the activation is in force from it, the rows before
    it are dropped. A number closed and activated again for a new holder in the middle of a period is on the new
    holder's plan for that period, not on the one its earlier holder was on at the period's start."""
    at = timeline.join(activated.select("msisdn", "activated_at"), on="msisdn", how="left", maintain_order="left")
    early = (pl.col("effective_from") <= pl.col("activated_at")).fill_null(False)
    last_early = early & ~early.shift(-1).over("msisdn").fill_null(False)
    return at.filter(~early | last_early).select(
        "msisdn", "plan_id",
        pl.when(last_early).then(pl.col("activated_at")).otherwise(pl.col("effective_from")).alias("effective_from"))


def _register(conn: Connection, *columns: str, msisdns: Collection[str] | None = None) -> pl.DataFrame:
    """The register's ``columns`` (of every line, or of ``msisdns``) as a frame."""
    s = table_of(Subscriber)
    query = select(*(s.c[c] for c in columns))
    if msisdns is not None:
        query = query.where(s.c.msisdn.in_(list(msisdns)))
    return _frame(conn, query)


def plan_timeline(conn: Connection, *, msisdns: Collection[str] | None = None) -> pa.Table:
    """Every line's plans (``PLAN_TIMELINE_SCHEMA``), in number and time order: one row per plan a line is on
    from ``effective_from`` until its next row (a change not yet in force included, so a console can show it); a
    line that never changed plan, on its register plan since its activation. Online rating takes this whole, and
    rates each record under the row in force for its period."""
    changed = _changed(conn, msisdns)
    unchanged = (_register(conn, "msisdn", "plan_id", "activated_at", msisdns=msisdns)
                 .rename({"activated_at": "effective_from"}).join(changed.select("msisdn"), on="msisdn", how="anti"))
    return pl.concat([unchanged, changed]).sort("msisdn", "effective_from").to_arrow().cast(PLAN_TIMELINE_SCHEMA)


def plans_in_force(conn: Connection, *, at: datetime) -> pa.Table:
    """The plan each line of the register is on for a billing period starting ``at`` (``PLANS_IN_FORCE_SCHEMA``,
    one row per line, in number order): its latest plan in force by then, or, for a line activated during or after
    it, its first. A period is rated and billed, and rated again later, under these plans."""
    picked = _in_force(_changed(conn), at)
    unchanged = _register(conn, "msisdn", "plan_id").join(picked.select("msisdn"), on="msisdn", how="anti")
    return pl.concat([unchanged, picked]).sort("msisdn").to_arrow().cast(PLANS_IN_FORCE_SCHEMA)


def _in_force(changed: pl.DataFrame, at: datetime) -> pl.DataFrame:
    """(msisdn, plan_id): of the lines that changed plan (``_changed``), the plan each is on for a billing period
    starting ``at``: its latest in force by then, or, for a line activated during or after it, its first."""
    at = require_aware(at, "at").astimezone(UTC)
    due = pl.col("effective_from") <= at
    # in time order within each line: the last row in force by ``at``, else (none yet) the first
    return changed.group_by("msisdn", maintain_order=True).agg(
        pl.when(due.any()).then(pl.col("plan_id").filter(due).last()).otherwise(pl.col("plan_id").first()))


def register_numbers(conn: Connection) -> pl.Series:
    """Every number of the register, in number order (a column of strings: what a run over the whole register keeps
    of it while it reads the lines themselves a range at a time, ``lines_in_force``)."""
    s = table_of(Subscriber)
    return _frame(conn, select(s.c.msisdn).order_by(s.c.msisdn))["msisdn"].cast(pl.String)


def lines_in_force(conn: Connection, *, at: datetime, first: str | None = None, last: str | None = None,
                   msisdns: Collection[str] | None = None) -> list[tuple[SubscriberRecord, str]]:
    """The register's lines numbered ``first`` to ``last`` (both included: one range of the index, as a bill run reads
    a chunk of the register), or those among ``msisdns``, in number order, each with the plan it is on for a billing
    period starting ``at`` (``plans_in_force``'s, read for those lines alone)."""
    if msisdns is not None:
        out: list[tuple[SubscriberRecord, str]] = []
        for chunk in chunks(sorted(set(msisdns)), 2000):
            out.extend(_lines_in_force(conn, at, Subscriber.msisdn.in_(chunk), msisdns=chunk))
        return out
    if first is None or last is None:
        raise ValueError("lines_in_force: give first and last, or msisdns")
    return _lines_in_force(conn, at, (Subscriber.msisdn >= first) & (Subscriber.msisdn <= last), between=(first, last))


def _lines_in_force(conn: Connection, at: datetime, where: Any, *, msisdns: Collection[str] | None = None,
                    between: tuple[str, str] | None = None) -> list[tuple[SubscriberRecord, str]]:
    records = [_record(r) for r in conn.execute(select(table_of(Subscriber)).where(where).order_by(Subscriber.msisdn))]
    if not records:
        return []
    picked = _in_force(_changed(conn, msisdns, between), at)
    plans = dict(zip(picked["msisdn"].to_list(), picked["plan_id"].to_list(), strict=True))
    return [(r, plans.get(r.msisdn, r.plan_id)) for r in records]


def note_register_changes(conn: Connection, msisdns: Collection[str]) -> None:
    """Note a change to each of ``msisdns`` in the register's change log, all under one new version, the newest
    yet. A writer calls it last in its transaction, after its own writes: on PostgreSQL the log's lock, held from
    here to the commit, makes the versions follow the commits (a reader that sees version v has seen every change
    numbered below it, and one made later gets a higher number), and taken last it never waits while holding it;
    SQLite writes one transaction at a time."""
    names = sorted(set(msisdns))
    if not names:
        return
    t = table_of(RegisterChange)
    if conn.dialect.name == "postgresql":  # conflicts with itself and with writes, not with reads
        conn.execute(sql_text(f"LOCK TABLE {t.name} IN SHARE ROW EXCLUSIVE MODE"))
    version = int(conn.scalar(select(func.max(t.c.version))) or 0) + 1
    ins = dialect_insert(conn, t)
    stmt = ins.on_conflict_do_update(index_elements=[t.c.msisdn], set_={"version": ins.excluded.version})
    for chunk in chunks(names, 5000):
        conn.execute(stmt, [{"msisdn": m, "version": version} for m in chunk])


def register_version(conn: Connection) -> int:
    """The newest version in the register's change log (0: none yet), one look-up in its index. A reader that
    keeps the register in memory reads this before reading the register whole, then asks ``register_changes``
    from it: a change committed in between is read again, never missed."""
    t = table_of(RegisterChange)
    return int(conn.scalar(select(func.max(t.c.version))) or 0)


REGISTER_CHANGES_MOST = 10_000  # above this many changed lines, reading the register whole costs less


def register_changes(conn: Connection, *, since: int,
                     most: int = REGISTER_CHANGES_MOST) -> tuple[int, list[str] | None]:
    """The lines of the register that changed (their row or their plans) after version ``since``, in number order,
    and the version to ask from next time: one look-up in the log's index when nothing changed. None instead of
    the lines when more than ``most`` changed (a bulk import), or when the log holds less than ``since`` (it began
    again: a database restored, say): the caller reads the register whole, after this call (the version returned
    covers every change it then reads)."""
    version = register_version(conn)
    if version == since:
        return since, []
    if version < since:
        return version, None
    t = table_of(RegisterChange)
    rows = conn.execute(select(t.c.msisdn, t.c.version).where(t.c.version > since).limit(most + 1)).all()
    if len(rows) > most:
        return version, None
    return max(version, *(r.version for r in rows)), sorted(r.msisdn for r in rows)


LINE_COLUMNS = ("msisdn", "status", "activated_at", "closed_at", "suspended_at", "updated_at")


def register_lines(conn: Connection, msisdns: Collection[str]) -> pl.DataFrame:
    """The register rows (``LINE_COLUMNS``: each line's state and since when) of ``msisdns``, by the primary key:
    what the consent gate reads of the lines ``register_changes`` names."""
    s = table_of(Subscriber)
    return pl.concat([_frame(conn, select(*(s.c[c] for c in LINE_COLUMNS)).where(s.c.msisdn.in_(chunk)))
                      for chunk in chunks(sorted(set(msisdns)), 5000) or [[]]])


SUSPENSION_WINDOW_COLUMNS = ("msisdn", "suspended_from", "suspended_until")


def suspension_windows(conn: Connection, msisdns: Collection[str] | None = None) -> pl.DataFrame:
    """The suspensions that ended (``SUSPENSION_WINDOW_COLUMNS``: a line suspended from ``suspended_from`` until
    ``suspended_until``, when it was brought back into service or closed), of every line ever suspended or of
    ``msisdns``, in number and time order, from the line status history (``line_status_history``): a run of
    ``suspended`` rows, in ``since`` order, lasts until the line's next row of another status. A suspension still
    in force is the register's (``suspended_at``), not listed here. Rating holds the usage dated inside one
    (``rating._vas.line_holds``) even when it is rated after the line came back."""
    h = table_of(LineStatusHistory)
    ever = select(h.c.msisdn).where(h.c.status == SubscriberStatus.SUSPENDED.value)
    if msisdns is not None:
        ever = ever.where(h.c.msisdn.in_(sorted(set(msisdns))))
    rows = _frame(conn, select(h.c.msisdn, h.c.status, h.c.since, h.c.entry_id).where(h.c.msisdn.in_(ever.distinct())))
    if rows.height == 0:
        return pl.DataFrame(schema={"msisdn": pl.String(), "suspended_from": pl.Datetime("us", "UTC"),
                                    "suspended_until": pl.Datetime("us", "UTC")})
    suspended = pl.col("status") == SubscriberStatus.SUSPENDED.value
    runs = (rows.sort("msisdn", "since", "entry_id")
            .with_columns((pl.col("status") != pl.col("status").shift(1).over("msisdn")).fill_null(True)
                          .cum_sum().alias("_run"))
            .group_by("msisdn", "_run", maintain_order=True)
            .agg(pl.col("status").first(), pl.col("since").first().alias("suspended_from"))
            .with_columns(pl.col("suspended_from").shift(-1).over("msisdn").alias("suspended_until")))
    return (runs.filter(suspended & (pl.col("suspended_until") > pl.col("suspended_from")).fill_null(False))
            .select(*SUSPENSION_WINDOW_COLUMNS))


def _frame(conn: Connection, query: Any) -> pl.DataFrame:
    """The query's rows as a frame (timestamps as UTC), straight from the driver's cursor: a register may list
    millions of lines, and a result row object per line would cost more than the query itself."""
    raw = conn.execute(query).cursor
    assert raw is not None
    names = [d[0] for d in raw.description]
    rows = raw.fetchall()
    instants = {"effective_from", "recorded_at", "activated_at", "closed_at", "suspended_at", "updated_at", "since"}
    schema = [(n, None if n in instants else (pl.Int64() if n in ("plan_change_id", "entry_id") else pl.String()))
              for n in names]
    frame = pl.DataFrame(rows, schema=schema, orient="row", infer_schema_length=None)
    return frame.with_columns(_utc(frame, n) for n in names if n in instants)


def _utc(frame: pl.DataFrame, name: str) -> pl.Expr:
    """A timestamp column as UTC microseconds, from the driver's aware values or SQLite's text of the UTC wall
    clock (what ``UTCDateTime`` stores there)."""
    col, dtype = pl.col(name), frame.schema[name]
    if dtype == pl.Null():  # no row, or no value
        return col.cast(pl.Datetime("us", "UTC"))
    if dtype == pl.String():
        return col.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us").dt.replace_time_zone("UTC")
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return col.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
    return col.dt.convert_time_zone("UTC").dt.cast_time_unit("us")


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
    conn.execute(table_of(LineStatusHistory).insert().values(msisdn=msisdn, status=SubscriberStatus.SUSPENDED.value,
                                                             since=at, recorded_at=at, source=SUSPEND_SOURCE,
                                                             reason="fraud"))
    who = audit.pseudonym(msisdn)
    record_access(conn, actor=audit.actor, role=audit.role, action="line.suspend", resource=f"subscriber/{who}",
                  subject_msisdn_pseudonym=who, reason=reason[:255], at=at)
    note_register_changes(conn, [msisdn])  # last: see there
    return "suspended"
