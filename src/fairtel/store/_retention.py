"""Data retention: what the home no longer needs to keep, found (``plan``) and removed (``apply``).

Four kinds, each with its own period (``Settings.retention``, docs/operations.md#data-retention):

- **usage detail**: the lake's clean usage and rated records (``usage``, ``rated``, ``unrated``) of a period that
  ended more than ``usage_months`` ago and whose bills were issued. What billing, tax and disputes need stays:
  bills and bill lines, the bill run's snapshot (``billed``, ``bills``), held usage (``held_usage``), adjustments.
  The records of a line are kept when the line has a matter still open (a complaint, a finding, a fraud case) or
  has no bill for the period, and so is a record rated but in no bill run's snapshot (``not_yet_billed``: late
  usage, usage held off the bill), which billing may still charge, release or write off. A value-added charge the
  consent gate refused is in no snapshot either, but no bill will ever charge it (``never_billable``): it goes with
  its period like a billed record (the line's matter open, an assurance finding say, keeps it);
- **rejects**: mediation's rejects files (the original records it refused) written more than ``rejects_days`` ago;
- **filed inbox files**: the files a ``fairtel watch`` of an inbox named to the run (``inboxes``) filed in its
  ``done/`` and ``failed/`` (the raw usage files as received, full numbers in them, and the ``.error.txt`` beside a
  failed one) more than ``rejects_days`` ago, as the rejects: both are mediation's raw input, kept to correct and
  resend a feed; the records themselves are in the lake (usage detail). An inbox is outside the home and the home
  does not know it: each run names it, and it must be one a watch has taken (``INBOX/.fairtel-watch``);
- **consent events** of the VAS subscriptions that ended more than ``consent_months`` ago
  (``fairtel.consent.archivable``), except those of a line with a matter open;
- **conversations**: the summary (the conversation carried from the assistant) and the agents' notes of a
  trouble ticket closed more than ``transcript_months`` ago; the ticket stays (category, status, dates), its
  words are replaced by ``CONVERSATION_REMOVED``. A line with a matter open keeps them;
- **bill snapshot detail**: the lake's ``billed`` records (the rated lines each bill was issued from) of a period
  that ended more than ``billed_months`` ago (never before its usage detail's ``usage_months``); the bills, bill
  lines and the ``bills`` dataset stay, and so do the records of a line with a matter open;
- **complaint words**: the subscriber's words (``complaints.text``) of a complaint settled more than
  ``complaint_months`` ago become ``COMPLAINT_REMOVED``; the complaint stays (category, dates, outcome, its
  history in ``complaint_events``) for the KPIs. A line with a matter open keeps them;
- **survey comments**: the comment of an NPS answer given more than ``survey_comment_months`` ago is emptied; the
  score stays for the NPS history;
- **outbox messages**: the messages of ``<home>/outbox/messages.jsonl`` (SMS texts with amounts, codes and
  numbers) made more than ``outbox_days`` ago, except those to a line with a matter open;
- **decided fraud cases**: the cases of ``<home>/fraud/cases.jsonl`` (their evidence holds numbers) decided
  (confirmed or a false alarm) more than ``fraud_case_months`` ago, except those about a line with a matter open;
  the decisions (``decisions.jsonl``) stay;
- **retention call list**: ``<home>/outbox/retention.csv`` written more than ``retention_list_days`` ago.

Removal is idempotent and safe to cut short: a lake part is rewritten whole or not at all (the same part name,
through a temporary file and a rename) under the period's rating lock, a rejects file is unlinked, a JSON Lines
file is rewritten through a synced temporary file and a rename (given up and tried again when a writer changed it
meanwhile), the database's changes are one transaction. Running again after a crash removes what is left, and a run with nothing left to
remove changes nothing. One ``fairtel retention apply`` of a home at a time (``retention_lock``, held from its plan to
its last file): a second one waits, then plans what the first left.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Connection, delete, select, update

from fairtel.core.commits import lock, rating_lock_name
from fairtel.core.settings import RetentionSettings
from fairtel.core.time import Period, require_aware
from fairtel.store._lake import Lake
from fairtel.store._schema import (
    AccessAudit,
    Bill,
    Complaint,
    ConsentEvent,
    Finding,
    FraudCase,
    Subscriber,
    Survey,
    TicketNote,
    TroubleTicket,
    table_of,
)

DETAIL_DATASETS = ("usage", "rated", "unrated")  # the usage detail of a period; ``billed``/``bills`` are the bill's
REJECTS_SUFFIX = ".rejects.jsonl"
INBOX_FILED = ("done", "failed")  # the subdirectories of an inbox a watch files its files in
WATCHED_MARK = ".fairtel-watch"  # in an inbox a watch has taken (its lock, ``mediation._state.INBOX_LOCK``)
CONVERSATION_REMOVED = "[conversation removed under the data retention policy]"
COMPLAINT_REMOVED = "[complaint text removed under the data retention policy]"
SNAPSHOT_DATASET = "billed"  # the bill run's snapshot: removed after ``billed_months``, never before the detail
OUTBOX_FILE = "messages.jsonl"  # in ``<home>/outbox``
RETENTION_LIST_FILE = "retention.csv"  # in ``<home>/outbox``: the churn warning's call list
FRAUD_CASES_FILE = "cases.jsonl"  # in ``<home>/fraud``
_TMP_SUFFIX = ".retention.tmp"
OPEN_COMPLAINT = ("opened", "acknowledged", "reopened")  # the complaint lifecycle before it is settled
OPEN_FINDING = ("open", "confirmed")  # a finding not yet resolved nor dismissed
OPEN_FRAUD_CASE = ("open",)
_CHUNK = 500  # values per IN (...) list


RETENTION_LOCK = "retention.lock"  # in the lake's lock directory: one ``retention apply`` of a home at a time


@contextlib.contextmanager
def run_lock(path: Path, what: str) -> Iterator[None]:
    """Hold the lock file ``path`` (``flock``, exclusive) for the whole of a run of ``what``, from its plan to its
    last file: a second run waits for the first (a line on stderr says so and names the holder written into the
    file), then plans what is left, so that its access-audit row and its summary say what it removes and not what
    the first removed. The lock dies with its process (``kill -9`` included)."""
    import fcntl
    import socket
    import sys

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                found = json.loads(path.read_bytes()[:4096] or b"null")
                if isinstance(found, dict):
                    holder = (f" (pid {found.get('pid', '?')}, host {found.get('host', '?')}, "
                              f"since {found.get('since', '?')})")
            with contextlib.suppress(OSError, ValueError):
                print(f"waiting for another {what} of this home{holder} to end", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        note = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds")}
        with contextlib.suppress(OSError):  # unnamed, the lock holds all the same
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(note).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def retention_lock(lake: Lake) -> contextlib.AbstractContextManager[None]:
    """The lock a ``fairtel retention apply`` holds from its plan to its last file (``run_lock``)."""
    from fairtel.core.commits import LOCK_DIR

    return run_lock(lake.root / LOCK_DIR / RETENTION_LOCK, "`fairtel retention apply`")


def months_before(instant: datetime, months: int) -> datetime:
    """``instant`` moved back ``months`` calendar months (the day clamped to the month's last)."""
    import calendar

    total = instant.year * 12 + instant.month - 1 - months
    year, month = divmod(total, 12)
    day = min(instant.day, calendar.monthrange(year, month + 1)[1])
    return instant.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class PeriodDetail:
    """A period's usage detail: the records retention removes per dataset, and those it keeps."""

    period: str
    removable: Mapping[str, int]  # dataset → records
    kept_records: int
    kept_lines: int  # lines whose records stay: a matter open, or no bill for the period


@dataclass(frozen=True)
class RetentionPlan:
    now: datetime
    policy: RetentionSettings
    open_matters: Mapping[str, tuple[str, ...]]  # msisdn → the matters open about it (``complaint ID``, ...)
    detail: tuple[PeriodDetail, ...]
    waiting: tuple[tuple[str, str], ...]  # (period, why its detail stays although old enough)
    rejects: tuple[tuple[Path, int, datetime], ...]  # (file, records, written at)
    consent: Mapping[str, datetime]  # subscription id → when it ended
    consent_events: int
    tickets: Mapping[str, datetime]  # ticket id → when it was settled
    ticket_notes: int
    kept_consent: int = 0  # subscriptions past retention kept for a matter open about their line
    kept_tickets: int = 0  # tickets past retention kept for a matter open about their line
    snapshot: tuple[tuple[str, int, int], ...] = ()  # (period, ``billed`` records removed, records kept)
    complaints: Mapping[str, datetime] = field(default_factory=dict)  # complaint id → when it was settled
    kept_complaints: int = 0
    surveys: Mapping[str, datetime] = field(default_factory=dict)  # survey id → when it was answered
    kept_surveys: int = 0
    outbox: tuple[Path, int, datetime | None] | None = None  # (file, messages removed, the oldest made)
    kept_outbox: int = 0
    fraud_cases: Mapping[str, datetime] = field(default_factory=dict)  # case id → when it was decided
    kept_fraud_cases: int = 0
    fraud_file: Path | None = None
    retention_list: tuple[Path, int, datetime] | None = None  # (file, rows, written at)
    inbox_files: tuple[tuple[Path, datetime], ...] = ()  # (file in an inbox's done/ or failed/, filed at)
    _lines: Mapping[str, frozenset[str]] = field(default_factory=dict, repr=False)  # period → lines kept
    # period → the held records released or written off then (``held_decisions``): no longer waiting for a bill
    _decided: Mapping[str, frozenset[str]] = field(default_factory=dict, repr=False)

    @property
    def detail_records(self) -> int:
        return sum(sum(p.removable.values()) for p in self.detail)

    @property
    def snapshot_records(self) -> int:
        return sum(n for _, n, _ in self.snapshot)

    @property
    def empty(self) -> bool:
        return not (self.detail_records or self.rejects or self.consent or self.tickets or self.snapshot_records
                    or self.complaints or self.surveys or self.outbox or self.fraud_cases or self.retention_list
                    or self.inbox_files)

    def summary(self) -> dict[str, Any]:
        """What the plan removes per kind, with counts and the oldest date; no number in it."""
        detail_periods = [p for p in self.detail if sum(p.removable.values())]
        kept = [p for p in self.detail if p.kept_records]
        return {
            "now": self.now.isoformat(),
            "policy": self.policy.model_dump(),
            "usage_detail": {
                "records": self.detail_records,
                "periods": [{"period": p.period, "records": dict(p.removable)} for p in detail_periods],
                "oldest": detail_periods[0].period if detail_periods else None,
                "kept": [{"period": p.period, "records": p.kept_records, "lines": p.kept_lines} for p in kept],
                "waiting": [{"period": k, "reason": why} for k, why in self.waiting],
            },
            "rejects": {
                "files": len(self.rejects),
                "records": sum(n for _, n, _ in self.rejects),
                "oldest": min(at for *_, at in self.rejects).isoformat() if self.rejects else None,
            },
            "consent": {
                "subscriptions": len(self.consent),
                "events": self.consent_events,
                "oldest": min(self.consent.values()).isoformat() if self.consent else None,
                "kept_for_open_matters": self.kept_consent,
            },
            "conversations": {
                "tickets": len(self.tickets),
                "notes": self.ticket_notes,
                "oldest": min(self.tickets.values()).isoformat() if self.tickets else None,
                "kept_for_open_matters": self.kept_tickets,
            },
            "billed_snapshot": {
                "records": self.snapshot_records,
                "periods": [{"period": k, "records": n} for k, n, _ in self.snapshot if n],
                "oldest": next((k for k, n, _ in self.snapshot if n), None),
                "kept": [{"period": k, "records": kept} for k, _, kept in self.snapshot if kept],
            },
            "complaints": {
                "complaints": len(self.complaints),
                "oldest": min(self.complaints.values()).isoformat() if self.complaints else None,
                "kept_for_open_matters": self.kept_complaints,
            },
            "survey_comments": {
                "comments": len(self.surveys),
                "oldest": min(self.surveys.values()).isoformat() if self.surveys else None,
                "kept_for_open_matters": self.kept_surveys,
            },
            "outbox": {
                "messages": self.outbox[1] if self.outbox else 0,
                "oldest": self.outbox[2].isoformat() if self.outbox and self.outbox[2] else None,
                "kept_for_open_matters": self.kept_outbox,
            },
            "fraud_cases": {
                "cases": len(self.fraud_cases),
                "oldest": min(self.fraud_cases.values()).isoformat() if self.fraud_cases else None,
                "kept_for_open_matters": self.kept_fraud_cases,
            },
            "retention_list": {
                "files": 1 if self.retention_list else 0,
                "rows": self.retention_list[1] if self.retention_list else 0,
                "written": self.retention_list[2].isoformat() if self.retention_list else None,
            },
            "inbox_files": {
                "files": len(self.inbox_files),
                "inboxes": sorted({str(path.parent.parent) for path, _ in self.inbox_files}),
                "oldest": min(at for _, at in self.inbox_files).isoformat() if self.inbox_files else None,
            },
            "open_matters": {
                "lines": len(self.open_matters),
                "matters": sorted({m for ms in self.open_matters.values() for m in ms}),
            },
        }

    def words(self) -> str:
        """What the plan removes and keeps, in one sentence for the access audit (no number in it)."""
        parts: list[str] = []
        for p in self.detail:
            if sum(p.removable.values()):
                counts = ", ".join(f"{ds} {n}" for ds, n in p.removable.items() if n)
                parts.append(f"usage detail of {p.period} ({counts} records)")
        if self.rejects:
            parts.append(f"{len(self.rejects)} rejects files ({sum(n for _, n, _ in self.rejects)} records) "
                         f"older than {self.policy.rejects_days} days: "
                         + ", ".join(path.name for path, *_ in self.rejects))
        if self.consent:
            parts.append(f"{self.consent_events} consent events of {len(self.consent)} subscriptions ended more "
                         f"than {self.policy.consent_months} months ago")
        if self.tickets:
            parts.append(f"the conversations of {len(self.tickets)} tickets closed more than "
                         f"{self.policy.transcript_months} months ago ({', '.join(sorted(self.tickets))})")
        for key, n, _ in self.snapshot:
            if n:
                parts.append(f"the bill snapshot detail of {key} ({n} billed records)")
        if self.complaints:
            parts.append(f"the words of {len(self.complaints)} complaints settled more than "
                         f"{self.policy.complaint_months} months ago ({', '.join(sorted(self.complaints))})")
        if self.surveys:
            parts.append(f"the comments of {len(self.surveys)} survey answers older than "
                         f"{self.policy.survey_comment_months} months")
        if self.outbox:
            parts.append(f"{self.outbox[1]} outbox messages older than {self.policy.outbox_days} days")
        if self.fraud_cases:
            parts.append(f"{len(self.fraud_cases)} fraud cases decided more than {self.policy.fraud_case_months} "
                         f"months ago ({', '.join(sorted(self.fraud_cases))})")
        if self.retention_list:
            parts.append(f"the retention call list ({self.retention_list[1]} rows) older than "
                         f"{self.policy.retention_list_days} days")
        if self.inbox_files:
            parts.append(f"{len(self.inbox_files)} files an inbox's watch filed more than {self.policy.rejects_days} "
                         f"days ago ({', '.join(sorted({str(p.parent.parent) for p, _ in self.inbox_files}))})")
        text = "removes " + "; ".join(parts) if parts else "removes nothing past its retention period"
        kept = sum(p.kept_records for p in self.detail)
        if kept:
            text += f"; keeps {kept} usage records past retention of lines with a matter open or without a bill"
        held = ([f"the consent events of {self.kept_consent} subscriptions"] if self.kept_consent else []) + (
            [f"the conversations of {self.kept_tickets} tickets"] if self.kept_tickets else []) + (
            [f"the words of {self.kept_complaints} complaints"] if self.kept_complaints else []) + (
            [f"the comments of {self.kept_surveys} survey answers"] if self.kept_surveys else []) + (
            [f"{self.kept_outbox} outbox messages"] if self.kept_outbox else []) + (
            [f"{self.kept_fraud_cases} fraud cases"] if self.kept_fraud_cases else [])
        kept_snapshot = sum(k for *_, k in self.snapshot)
        if kept_snapshot:
            held.append(f"{kept_snapshot} billed records")
        if held:
            text += f"; keeps {' and '.join(held)} past retention, of lines with a matter open"
        return text


def open_matters(conn: Connection) -> dict[str, tuple[str, ...]]:
    """msisdn → the matters still open about the line: complaints not settled, findings neither resolved nor
    dismissed, fraud cases open. Their line's data stays whatever its age."""
    out: dict[str, list[str]] = {}
    c, f, k = table_of(Complaint), table_of(Finding), table_of(FraudCase)
    queries = (
        ("complaint", select(c.c.msisdn, c.c.complaint_id).where(c.c.lifecycle.in_(OPEN_COMPLAINT))),
        ("finding", select(f.c.msisdn, f.c.finding_id).where(f.c.status.in_(OPEN_FINDING), f.c.msisdn.is_not(None))),
        ("fraud case", select(k.c.msisdn, k.c.case_id).where(k.c.status.in_(OPEN_FRAUD_CASE))),
    )
    for kind, query in queries:
        for msisdn, matter in conn.execute(query):
            out.setdefault(msisdn, []).append(f"{kind} {matter}")
    return {m: tuple(sorted(v)) for m, v in out.items()}


def _period_files(lake: Lake, dataset: str, period: str) -> list[tuple[str, Path]]:
    """The parts of a period as they are on disk now: (part name, path), hidden temporary files left out."""
    directory = lake.part_path(dataset, period, "x").parent
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    return [(n.removesuffix(".parquet"), directory / n) for n in names
            if n.endswith(".parquet") and not n.startswith(".")]


def _record_keys(table: pa.Table) -> pa.Array | pa.ChunkedArray:
    source = pc.fill_null(table.column("source").cast(pa.string()), "")
    return pc.binary_join_element_wise(source, table.column("record_id").cast(pa.string()), "\x1f")


def _read(path: Path, columns: Iterable[str]) -> pa.Table:
    names = pq.read_schema(path).names
    return pq.read_table(path, columns=[c for c in columns if c in names])


HELD_RELEASE_ACTION, HELD_WRITE_OFF_ACTION = "held_usage.release", "held_usage.write_off"


def held_decision_resource(period: str, source: str, record_id: str) -> str:
    """The access-audit resource naming one held record's release or write-off (`fairtel bill release`): an id, so
    that a long record id and the number stay out of it."""
    from fairtel.core.ids import stable_id

    return f"held_usage/{period}/{stable_id('held', source, record_id)}"


def held_decisions(conn: Connection, period: str) -> dict[str, str]:
    """The release and write-off decisions recorded about held usage of ``period``: resource → action."""
    a = table_of(AccessAudit)
    rows = conn.execute(select(a.c.resource, a.c.action).where(
        a.c.action.in_([HELD_RELEASE_ACTION, HELD_WRITE_OFF_ACTION]), a.c.resource.like(f"held_usage/{period}/%")))
    return {r.resource: r.action for r in rows}


def undecided(pending: pa.Array, decided: Collection[str], period: str) -> pa.Array:
    """The record keys of ``pending`` (``not_yet_billed``: source and record id) whose held record was neither released
    nor written off (``decided``: ``held_decisions``' resources): a written-off record will never be billed, and a
    release is charged through an adjustment, so neither waits for a bill any more."""
    if not decided or not len(pending):
        return pending
    keep = [key for key in pending.to_pylist()
            if held_decision_resource(period, *str(key).split("\x1f", 1)) not in decided]
    return pa.array(keep, pa.string())


def never_billable(table: pa.Table) -> pa.Array | pa.ChunkedArray:
    """True for the rated lines no bill will ever charge whatever is decided later: a value-added charge the consent
    gate refused (``kind`` ``vas``, its ``verdict`` not a billable one, ``billing.BILLABLE_VERDICTS``: no or an
    unconfirmed subscription, after its cancellation, a price mismatch or rise, a duplicate, an unknown offer, a
    suspended provider, a line closed, suspended or not yet activated when charged). The bill run leaves such a
    charge off every bill and a rerate never bills it late (``billing.charge_late_vas``: a charge refused as rated
    stays refused), and ``fairtel bill release`` has nothing to release (it is no held usage): it waits for no bill.
    Held usage (``HOLD_REASONS``) is not among them: a release may still charge it. A table without ``kind`` or
    ``verdict`` has none."""
    if not {"kind", "verdict"} <= set(table.column_names):
        return pa.array([False] * table.num_rows, pa.bool_())
    from fairtel.billing._run import BILLABLE_VERDICTS

    vas = pc.fill_null(pc.equal(table.column("kind").cast(pa.string()), "vas"), False)
    billable = pc.fill_null(pc.is_in(table.column("verdict").cast(pa.string()),
                                     value_set=pa.array(sorted(BILLABLE_VERDICTS), pa.string())), False)
    return pc.and_(vas, pc.invert(billable))


def not_yet_billed(lake: Lake, period: str) -> pa.Array:
    """The records (``source``, ``record_id`` joined) rated for ``period`` that no bill run's snapshot holds: rated
    after the period's bills (late usage) or held off them; billing may still charge, release or write them off. A
    value-added charge the consent gate refused (``never_billable``) is not among them: no bill waits for it."""
    def keys(dataset: str, *, refused: bool = False) -> set[str]:
        out: set[str] = set()
        for _, path in _period_files(lake, dataset, period):
            table = _read(path, ("source", "record_id", *(("kind", "verdict") if refused else ())))
            if {"source", "record_id"} <= set(table.column_names):
                if refused:
                    table = table.filter(pc.invert(never_billable(table)))
                out.update(v for v in _record_keys(table).to_pylist() if v is not None)
        return out

    return pa.array(sorted(keys("rated", refused=True) - keys("billed")), pa.string())


def _kept_mask(table: pa.Table, kept: Collection[str], pending: pa.Array) -> pa.ChunkedArray | pa.Array:
    """The records that stay: those of the ``kept`` lines, and those ``pending`` (``not_yet_billed``). A table
    without lines or records is kept whole."""
    if "msisdn" not in table.column_names or not {"source", "record_id"} <= set(table.column_names):
        return pa.array([True] * table.num_rows)
    mask = pc.fill_null(pc.is_in(table.column("msisdn"), value_set=pa.array(sorted(kept), pa.string())), False)
    if len(pending):
        mask = pc.or_(mask, pc.fill_null(pc.is_in(_record_keys(table), value_set=pending), False))
    return mask


def plan(conn: Connection, lake: Lake, rejects_dir: Path, policy: RetentionSettings, *, now: datetime,
         timezone: str, home: Path | None = None, inboxes: Sequence[Path] = ()) -> RetentionPlan:
    """What retention removes at ``now`` (nothing is changed). The files of ``home`` (the outbox, the fraud cases,
    the retention call list) are looked at when it is given; the files filed in ``done/`` and ``failed/`` of each
    of ``inboxes`` (``inbox_filed``)."""
    now = require_aware(now, "now")
    filed = [f for inbox in inboxes for f in inbox_filed(inbox, policy, now=now)]
    matters = open_matters(conn)
    detail, waiting, lines, decided = _detail(conn, lake, policy, now=now, timezone=timezone, protected=matters)
    consent, events, kept_consent = _consent(conn, policy, now=now, protected=matters)
    tickets, notes, kept_tickets = _tickets(conn, policy, now=now, protected=matters)
    complaints, kept_complaints = _complaints(conn, policy, now=now, protected=matters)
    surveys, kept_surveys = _surveys(conn, policy, now=now, protected=matters)
    outbox: tuple[Path, int, datetime | None] | None = None
    fraud: dict[str, datetime] = {}
    kept_outbox = kept_fraud = 0
    fraud_file: Path | None = None
    call_list: tuple[Path, int, datetime] | None = None
    if home is not None:
        outbox, kept_outbox = _outbox(home / "outbox" / OUTBOX_FILE, policy, now=now, protected=matters)
        fraud_file = home / "fraud" / FRAUD_CASES_FILE
        fraud, kept_fraud = _fraud_cases(home / "fraud", policy, now=now, protected=matters)
        call_list = _retention_list(home / "outbox" / RETENTION_LIST_FILE, policy, now=now)
    return RetentionPlan(
        now=now, policy=policy, open_matters=matters, detail=tuple(detail), waiting=tuple(waiting),
        rejects=tuple(_rejects(rejects_dir, policy, now=now)), consent=consent, consent_events=events,
        tickets=tickets, ticket_notes=notes, kept_consent=kept_consent, kept_tickets=kept_tickets, _lines=lines,
        _decided=decided,
        snapshot=tuple(_snapshot(lake, policy, now=now, timezone=timezone, protected=matters)),
        complaints=complaints, kept_complaints=kept_complaints, surveys=surveys, kept_surveys=kept_surveys,
        outbox=outbox, kept_outbox=kept_outbox, fraud_cases=fraud, kept_fraud_cases=kept_fraud,
        fraud_file=fraud_file, retention_list=call_list, inbox_files=tuple(filed),
    )


def _filed_at(st: os.stat_result) -> float:
    """When a watch filed a file: the last change of its inode (a rename into ``done/`` makes one), never earlier
    than its contents' last change. Its modification time alone is the file's as it arrived, which may be long
    before (a feed resent with its original times)."""
    return max(st.st_mtime, st.st_ctime)


def inbox_filed(inbox: Path, policy: RetentionSettings, *, now: datetime) -> list[tuple[Path, datetime]]:
    """The files a watch filed in ``inbox``'s ``done/`` and ``failed/`` more than ``rejects_days`` ago (regular files
    only, hidden ones and links left alone), by name. ``InvalidInputError`` naming ``--inbox`` for a directory no
    watch has taken (no ``WATCHED_MARK`` in it): its ``done/`` is nobody's to clear."""
    from fairtel.core.errors import InvalidInputError, Problem

    inbox = Path(inbox)
    if not (inbox / WATCHED_MARK).is_dir():
        raise InvalidInputError([Problem("command line", None, "--inbox",
                                         f"{inbox} is not an inbox a `fairtel watch` has taken (no {WATCHED_MARK} in it)")],
                                what="retention")
    horizon = now.timestamp() - policy.rejects_days * 86400
    out: list[tuple[Path, datetime]] = []
    for sub in INBOX_FILED:
        directory = inbox / sub
        if directory.is_symlink() or not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.name.startswith("."):
                continue
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            at = _filed_at(st)
            if at <= horizon:
                out.append((path, datetime.fromtimestamp(at, UTC)))
    return out


def snapshot_horizon(now: datetime, policy: RetentionSettings) -> datetime:
    """The end a period must have reached for its bill snapshot detail to go: ``billed_months`` ago, and never
    later than its usage detail's horizon (the snapshot tells which rated records were billed)."""
    return months_before(now, max(policy.billed_months, policy.usage_months))


def _snapshot(lake: Lake, policy: RetentionSettings, *, now: datetime, timezone: str,
              protected: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    kept = frozenset(protected)
    for key in sorted(lake.periods(SNAPSHOT_DATASET)):
        if snapshot_horizon(now, policy) < Period.parse(key, timezone).end:
            continue
        removed = keep = 0
        for _, path in _period_files(lake, SNAPSHOT_DATASET, key):
            table = _read(path, ("msisdn", "source", "record_id"))
            mask = _kept_mask(table, kept, pa.array([], pa.string()))
            k = int(pc.sum(mask).as_py() or 0)
            removed += table.num_rows - k
            keep += k
        out.append((key, removed, keep))
    return out


def _complaints(conn: Connection, policy: RetentionSettings, *, now: datetime,
                protected: Mapping[str, Any]) -> tuple[dict[str, datetime], int]:
    c = table_of(Complaint)
    horizon = months_before(now, policy.complaint_months)
    rows = conn.execute(select(c.c.complaint_id, c.c.msisdn, c.c.closed_at)
                        .where(c.c.lifecycle.not_in(OPEN_COMPLAINT), c.c.closed_at.is_not(None),
                               c.c.closed_at <= horizon, c.c.text != COMPLAINT_REMOVED)).all()
    return _unprotected(rows, protected)


def _surveys(conn: Connection, policy: RetentionSettings, *, now: datetime,
             protected: Mapping[str, Any]) -> tuple[dict[str, datetime], int]:
    s = table_of(Survey)
    horizon = months_before(now, policy.survey_comment_months)
    rows = conn.execute(select(s.c.survey_id, s.c.msisdn, s.c.answered_at)
                        .where(s.c.comment.is_not(None), s.c.answered_at <= horizon)).all()
    return _unprotected(rows, protected)


def _unprotected(rows: Sequence[Any], protected: Mapping[str, Any]) -> tuple[dict[str, datetime], int]:
    """(id, msisdn, instant) rows: id → instant of those whose line has no matter open, and how many were kept."""
    out = {r[0]: r[2] for r in rows if r[1] not in protected}
    return out, len(rows) - len(out)


def _instant(value: Any) -> datetime | None:
    """An RFC 3339 text as an aware instant; None when it is not one (such a row is kept)."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _outbox_goes(line: bytes, horizon: datetime, protected: Mapping[str, Any]) -> tuple[bool, bool, datetime | None]:
    """Whether an outbox line goes, whether it is kept only for a matter open, and when it was made."""
    try:
        row = json.loads(line)
    except ValueError:
        return False, False, None
    if not isinstance(row, dict):
        return False, False, None
    made = _instant(row.get("created_at"))
    if made is None or made > horizon:
        return False, False, made
    if row.get("msisdn") in protected:
        return False, True, made
    return True, False, made


def _outbox(path: Path, policy: RetentionSettings, *, now: datetime,
            protected: Mapping[str, Any]) -> tuple[tuple[Path, int, datetime | None] | None, int]:
    if not path.is_file():
        return None, 0
    horizon = now - timedelta(days=policy.outbox_days)
    removed = kept = 0
    oldest: datetime | None = None
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        goes, held, made = _outbox_goes(line, horizon, protected)
        kept += held
        if goes:
            removed += 1
            oldest = made if oldest is None or (made is not None and made < oldest) else oldest
    return ((path, removed, oldest) if removed else None), kept


def _fraud_cases(root: Path, policy: RetentionSettings, *, now: datetime,
                 protected: Mapping[str, Any]) -> tuple[dict[str, datetime], int]:
    from fairtel.fraud._cases import CaseFiles, CaseStatus

    files = CaseFiles(root)
    if not files.cases_path.is_file():
        return {}, 0
    horizon = months_before(now, policy.fraud_case_months)
    out: dict[str, datetime] = {}
    kept = 0
    for case in files.load():
        decided = case.decided
        if decided is None or case.status == CaseStatus.OPEN or decided.at > horizon:
            continue
        if any(m in protected for m in (case.subject, *case.related)):
            kept += 1
            continue
        out[case.case_id] = decided.at
    return out, kept


def _retention_list(path: Path, policy: RetentionSettings, *, now: datetime) -> tuple[Path, int, datetime] | None:
    if not path.is_file():
        return None
    written = path.stat().st_mtime
    if written > now.timestamp() - policy.retention_list_days * 86400:
        return None
    with path.open("rb") as f:
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return path, max(rows - 1, 0), datetime.fromtimestamp(written, UTC)  # the header is no row


def _detail(conn: Connection, lake: Lake, policy: RetentionSettings, *, now: datetime, timezone: str,
            protected: Mapping[str, Any]) -> tuple[list[PeriodDetail], list[tuple[str, str]], dict[str, frozenset[str]],
                                                   dict[str, frozenset[str]]]:
    periods = sorted({k for ds in DETAIL_DATASETS for k in lake.periods(ds)})
    decided: dict[str, frozenset[str]] = {}
    b = table_of(Bill)
    register = {r for (r,) in conn.execute(select(table_of(Subscriber).c.msisdn))}
    out: list[PeriodDetail] = []
    waiting: list[tuple[str, str]] = []
    lines: dict[str, frozenset[str]] = {}
    for key in periods:
        ends = Period.parse(key, timezone).end
        if months_before(now, policy.usage_months) < ends:
            continue  # ended less than ``usage_months`` ago
        billed = {r for (r,) in conn.execute(select(b.c.msisdn).where(b.c.period == key))}
        if not billed:
            waiting.append((key, "no bill issued for the period"))
            continue
        kept = frozenset(set(protected) | (register - billed))
        lines[key] = kept
        removable: dict[str, int] = {}
        kept_records = 0
        kept_lines: set[str] = set()
        decided[key] = frozenset(held_decisions(conn, key))
        pending = undecided(not_yet_billed(lake, key), decided[key], key)
        for ds in DETAIL_DATASETS:
            n = 0
            for _, path in _period_files(lake, ds, key):
                table = _read(path, ("msisdn", "source", "record_id"))
                mask = _kept_mask(table, kept, pending)
                keep = int(pc.sum(mask).as_py() or 0)
                n += table.num_rows - keep
                kept_records += keep
                if keep and "msisdn" in table.column_names:
                    kept_lines.update(v for v in table.filter(mask).column("msisdn").to_pylist() if v)
            removable[ds] = n
        out.append(PeriodDetail(key, removable, kept_records, len(kept_lines)))
    return out, waiting, lines, decided


def _rejects(rejects_dir: Path, policy: RetentionSettings, *, now: datetime) -> list[tuple[Path, int, datetime]]:
    if not rejects_dir.is_dir():
        return []
    horizon = now.timestamp() - policy.rejects_days * 86400
    out: list[tuple[Path, int, datetime]] = []
    for path in sorted(rejects_dir.iterdir()):
        # hidden ones are an ingest's files in flight: never touched
        if path.name.startswith(".") or not path.name.endswith(REJECTS_SUFFIX) or not path.is_file():
            continue
        written = path.stat().st_mtime
        if written <= horizon:
            with path.open("rb") as f:
                records = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            out.append((path, records, datetime.fromtimestamp(written, UTC)))
    return out


def _consent(conn: Connection, policy: RetentionSettings, *, now: datetime,
             protected: Mapping[str, Any]) -> tuple[dict[str, datetime], int, int]:
    from fairtel.consent import ConsentPolicy, archivable, project_subscriptions
    from fairtel.store._consent import consent_ledger

    ledger = consent_ledger(conn)
    if ledger.num_rows == 0:
        return {}, 0, 0
    rule = ConsentPolicy(retention_months=policy.consent_months)
    ended = archivable(project_subscriptions(ledger, policy=rule), now, policy=rule)
    out: dict[str, datetime] = {}
    kept = 0
    for row in ended.iter_rows(named=True):
        if row["msisdn"] in protected:
            kept += 1
            continue
        out[row["subscription_id"]] = row["ended_at"]
    ids = pa.array(sorted(out), pa.string())
    events = int(pc.sum(pc.is_in(ledger.column("subscription_id"), value_set=ids)).as_py() or 0) if out else 0
    return out, events, kept


def _tickets(conn: Connection, policy: RetentionSettings, *, now: datetime,
             protected: Mapping[str, Any]) -> tuple[dict[str, datetime], int, int]:
    t, n = table_of(TroubleTicket), table_of(TicketNote)
    horizon = months_before(now, policy.transcript_months)
    rows = conn.execute(select(t.c.ticket_id, t.c.msisdn, t.c.resolved_at, t.c.summary)
                        .where(t.c.status == "closed", t.c.resolved_at.is_not(None), t.c.resolved_at <= horizon)).all()
    with_notes = {r for (r,) in conn.execute(select(n.c.ticket_id).where(n.c.note.is_not(None)).distinct())}
    out: dict[str, datetime] = {}
    kept = 0
    for r in rows:
        if r.summary == CONVERSATION_REMOVED and r.ticket_id not in with_notes:
            continue  # done before
        if r.msisdn in protected:
            kept += 1
            continue
        out[r.ticket_id] = r.resolved_at
    notes = 0
    for chunk in _chunks(sorted(out)):
        notes += len(conn.execute(select(n.c.note_id).where(n.c.ticket_id.in_(chunk), n.c.note.is_not(None))).all())
    return out, notes, kept


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def apply_in_database(conn: Connection, planned: RetentionPlan) -> None:
    """The plan's database changes, in ``conn``'s transaction: consent events deleted, conversations, complaint
    words and survey comments removed. A complaint reopened since the plan keeps its words."""
    e, t, n = table_of(ConsentEvent), table_of(TroubleTicket), table_of(TicketNote)
    c, s = table_of(Complaint), table_of(Survey)
    # a plan made field by field (the ledgers' own tests) may name only the kinds it is about
    for chunk in _chunks(sorted(getattr(planned, "complaints", {}))):
        conn.execute(update(c).where(c.c.complaint_id.in_(chunk), c.c.lifecycle.not_in(OPEN_COMPLAINT))
                     .values(text=COMPLAINT_REMOVED))
    for chunk in _chunks(sorted(getattr(planned, "surveys", {}))):
        conn.execute(update(s).where(s.c.survey_id.in_(chunk)).values(comment=None))
    for chunk in _chunks(sorted(planned.consent)):
        conn.execute(delete(e).where(e.c.subscription_id.in_(chunk)))
    for chunk in _chunks(sorted(planned.tickets)):
        conn.execute(update(t).where(t.c.ticket_id.in_(chunk)).values(summary=CONVERSATION_REMOVED))
        conn.execute(update(n).where(n.c.ticket_id.in_(chunk)).values(note=None))


def rewrite_lines(path: Path, goes: Callable[[bytes], bool], *, tmp_suffix: str = _TMP_SUFFIX,
                  again: str = "run `fairtel retention apply` again", who: str = "retention") -> int:
    """``path`` (JSON Lines or CSV rows) rewritten without the lines that go: through a synced temporary file
    (``tmp_suffix``, the rewriter's own) and a rename, the directory synced. A writer that changed the file meanwhile
    (an append, a rewrite) wins: the rewrite is made again from the file as it is then; after five tries a
    ``ConflictError`` says what to do (``again``). Returns the lines removed."""
    for stale in path.parent.glob(f".{path.name}.*{tmp_suffix}"):  # a run killed mid-rewrite
        with contextlib.suppress(OSError):
            stale.unlink()
    for _ in range(5):
        try:
            lock = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0
        try:
            # a writer that takes turns by ``flock`` (the outbox) waits while the file is rewritten, and then finds
            # it renamed and opens the new one: its append cannot fall between this read and the rename
            fcntl.flock(lock, fcntl.LOCK_EX)
            removed = _rewrite_once(path, goes, tmp_suffix)
        finally:
            os.close(lock)
        if removed is not None:
            return removed
    from fairtel.core.errors import ConflictError

    raise ConflictError(f"{path.name} kept changing while {who} rewrote it; {again}", details={"file": str(path)})


def _rewrite_once(path: Path, goes: Callable[[bytes], bool], tmp_suffix: str) -> int | None:
    """One try of ``rewrite_lines``: the lines removed, or None when another writer changed the file meanwhile."""
    from fairtel.core.commits import fsync_dir

    try:
        before = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    lines = data.splitlines(keepends=True)
    kept = [line for line in lines if not (line.strip() and goes(line.rstrip(b"\r\n")))]
    if len(kept) == len(lines):
        return 0
    tmp = path.with_name(f".{path.name}.{os.getpid()}{tmp_suffix}")
    with tmp.open("wb") as fh:
        for line in kept:
            fh.write(line if line.endswith(b"\n") else line + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, before.st_mode & 0o777)
    now = path.stat()
    if (now.st_ino, now.st_size, now.st_mtime_ns) != (before.st_ino, before.st_size, before.st_mtime_ns):
        tmp.unlink()
        return None
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return len(lines) - len(kept)


def apply_in_files(lake: Lake, planned: RetentionPlan) -> dict[str, int]:
    """The plan's changes to the lake and the home's files: each lake part of a period rewritten without the records
    retention removes (removed when none is left), under the period's rating lock, the usage detail first and the
    bill snapshot after it (a run cut short never leaves rated records without the snapshot that says they were
    billed); the rejects files and an old retention call list unlinked; the outbox and the fraud cases rewritten
    without the messages and cases that go; the files an inbox's watch filed unlinked. Returns what was removed:
    ``records`` (lake detail), ``snapshot`` (lake ``billed`` records), ``rejects`` (files), ``outbox`` (messages),
    ``fraud_cases``, ``retention_lists`` and ``inbox_files``."""
    from fairtel.core.commits import fsync_dir

    records = 0
    for detail in planned.detail:
        if not sum(detail.removable.values()):
            continue
        kept = planned._lines.get(detail.period, frozenset())
        with lock(lake.root, rating_lock_name(detail.period)):  # no rating or bill run of the period meanwhile
            # as the period is now, under its lock; the decisions as planned (an audit row is never taken back)
            pending = undecided(not_yet_billed(lake, detail.period),
                                getattr(planned, "_decided", {}).get(detail.period, frozenset()), detail.period)
            for ds in DETAIL_DATASETS:
                for part, path in _period_files(lake, ds, detail.period):
                    table = pq.read_table(path)
                    mask = _kept_mask(table, kept, pending)
                    keep = int(pc.sum(mask).as_py() or 0)
                    if keep == table.num_rows:
                        continue
                    records += table.num_rows - keep
                    if keep:
                        lake.write(ds, detail.period, table.filter(mask), part=part)
                    else:
                        lake.delete_part(ds, detail.period, part)
    removed = 0
    for path, *_ in planned.rejects:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    if removed:
        fsync_dir(planned.rejects[0][0].parent)
    snapshot = 0
    protected = frozenset(planned.open_matters)
    for key, n, _ in planned.snapshot:
        if not n:
            continue
        with lock(lake.root, rating_lock_name(key)):
            for part, path in _period_files(lake, SNAPSHOT_DATASET, key):
                table = pq.read_table(path)
                mask = _kept_mask(table, protected, pa.array([], pa.string()))
                keep = int(pc.sum(mask).as_py() or 0)
                if keep == table.num_rows:
                    continue
                snapshot += table.num_rows - keep
                if keep:
                    lake.write(SNAPSHOT_DATASET, key, table.filter(mask), part=part)
                else:
                    lake.delete_part(SNAPSHOT_DATASET, key, part)
    messages = 0
    if planned.outbox is not None:
        horizon = planned.now - timedelta(days=planned.policy.outbox_days)
        messages = rewrite_lines(planned.outbox[0], lambda line: _outbox_goes(line, horizon, planned.open_matters)[0])
    cases = 0
    if planned.fraud_cases and planned.fraud_file is not None:
        def case_goes(line: bytes) -> bool:
            try:
                row = json.loads(line)
            except ValueError:
                return False
            return isinstance(row, dict) and row.get("case_id") in planned.fraud_cases

        cases = rewrite_lines(planned.fraud_file, case_goes)
    lists = 0
    if planned.retention_list is not None:
        path = planned.retention_list[0]
        horizon_ts = planned.now.timestamp() - planned.policy.retention_list_days * 86400
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime <= horizon_ts:  # not written again since the plan
                path.unlink()
                fsync_dir(path.parent)
                lists = 1
    filed = 0
    touched: set[Path] = set()
    for path, _at in planned.inbox_files:
        with contextlib.suppress(FileNotFoundError):
            st = path.lstat()
            horizon_ts = planned.now.timestamp() - planned.policy.rejects_days * 86400
            if stat.S_ISREG(st.st_mode) and _filed_at(st) <= horizon_ts:  # not filed again since the plan
                path.unlink()
                filed += 1
                touched.add(path.parent)
    for directory in sorted(touched):
        fsync_dir(directory)
    return {"records": records, "rejects": removed, "snapshot": snapshot, "outbox": messages,
            "fraud_cases": cases, "retention_lists": lists, "inbox_files": filed}
