"""Erasure of one subscriber's personal data at their request (the subscriber withdrew consent or closed the
account): what goes is found (``plan``) and removed (``apply_in_database``, ``apply_in_files``).

Only a closed line (the register says ``closed`` and knows since when) with no matter open may be erased. A matter
open is what retention keeps a line's data for (``fairtel.store._retention.open_matters``: a complaint not settled,
a finding neither resolved nor dismissed, a fraud case open) and also a trouble ticket not closed, a fraud case of
``<home>/fraud/cases.jsonl`` still open, usage rated and in no bill run's snapshot or not rated yet (``unbilled``:
held usage, late usage), and an adjustment no bill line carries yet (``pending_adjustments``). Otherwise the plan is
refused with its reasons and nothing is changed.

What goes:

- the customer's name (``customers.name``) becomes ``NAME_ERASED``, unless another line of the customer is not
  closed or has a matter open (its name is still needed there);
- the line's region (``subscribers.region``) is emptied;
- the subscriber's words of every complaint of the line (``complaints.text`` becomes ``COMPLAINT_REMOVED``, as
  retention leaves them), the summary and the agents' notes of every ticket of the line (``CONVERSATION_REMOVED``,
  notes set to NULL), the comments of its survey answers;
- the line's number wherever an agent's note on a complaint holds it (any complaint's, another subscriber's too):
  a note keeps a token in the number's place (``care.tokenise_note``) and ``complaint_note_numbers`` the number; its
  rows go (``store._complaints.forget_note_numbers``), and every reader is shown ``care.NOTE_NUMBER_ERASED`` there,
  whatever their role;
- the outbox's messages to the line (``<home>/outbox/messages.jsonl``) and its rows of the retention call list
  (``<home>/outbox/retention.csv``).

What stays, and why (``KEPT``): the number itself (``subscribers.msisdn``: it ties the issued bills, adjustments and
ledgers to the line; it is shown only in pseudonymised or masked form to the roles that do not need it), the issued
bills and bill lines, the adjustments (billing and tax duty); the usage and rated detail, the bill snapshot, the
rejects files, the consent events and the decided fraud cases until retention removes them (disputes, consent proof,
fraud prevention); the ledgers the database keeps append-only (migration 0021: ``adjustments``, ``loyalty_points``,
``subscriber_plans``, ``line_status_history``, ``complaint_events`` (their notes too), ``roaming_caps``,
``marketing_preferences``: an opt-out stays honoured); the access audit (its subjects are pseudonyms). An agent's
note on a complaint (``complaint_events.note``) is free text, stored with ID-card and bank-card numbers and e-mail
addresses masked (``care.mask_note``) and phone numbers as tokens (their numbers forgotten as above); a name written
there stays, as the database refuses any UPDATE of the ledger (0021) and an erasure able to rewrite it would leave
the ledger rewritable by the application's account (the notes written before 0025 had their numbers turned into
tokens once, by that migration, not by erasure). The raw usage files a watch filed in its inbox's ``done/`` and
``failed/`` are outside the home, unknown to it: ``fairtel retention apply --inbox`` removes them after
``rejects_days``. On SQLite the erased words leave the files too: connections zero what they delete
(``secure_delete``) and the command checkpoints the write-ahead log after the apply
(``store._engine.sqlite_checkpoint``). The
conversation log (``<home>/care/turns-*.jsonl``) keeps neither text nor number: nothing of the line is in it.

Usage is unbilled only when a bill may still charge it: a value-added charge the consent gate refused (no
subscription, unconfirmed, a price mismatch, a suspended provider, before the line's activation...) is on no bill and
never will be, and nothing can release it (``store._retention.never_billable``); it does not hold an erasure back. It
stays in the lake as evidence until retention removes the period's usage detail. Nor does a record rated after its
bill run that a rerate charged (an entry of the adjustments ledger names it: until a bill carries the entry, the
entry holds the erasure back) or settled with no entry (priced at nothing, ``RERATE_SETTLED``).

Erasure is idempotent: what is already erased is not counted again, and a second apply changes nothing. The
database's changes are one transaction (the access-audit row with them); the outbox and the call list are rewritten
after it through a synced temporary file and a rename, so a run cut short is finished by the next one.

Two applies at once (a scheduled run and an operator, a retry of a slow run) take turns: ``erasure_lock`` is held from
the plan to the last file, the database transaction locks the line's register row before planning
(``lock_line``, PostgreSQL) or begins ``IMMEDIATE`` (SQLite), so the second plans from what the first left, finds
nothing left to erase and records no access-audit row.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, and_, func, or_, select, update

from fairtel.core.time import require_aware
from fairtel.store._lake import Lake
from fairtel.store._retention import (
    COMPLAINT_REMOVED,
    CONVERSATION_REMOVED,
    OPEN_COMPLAINT,
    _period_files,
    _read,
    _record_keys,
    held_decisions,
    not_yet_billed,
    open_matters,
    rewrite_lines,
    run_lock,
    undecided,
)
from fairtel.store._schema import (
    Adjustment,
    Bill,
    BillLine,
    Complaint,
    ComplaintEvent,
    ConsentEvent,
    Customer,
    LineStatusHistory,
    LoyaltyEntry,
    MarketingPreference,
    RoamingCap,
    Subscriber,
    SubscriberPlan,
    Survey,
    TicketNote,
    TroubleTicket,
    table_of,
)

NAME_ERASED = "[erased at the subscriber's request]"
OUTBOX_FILE = "messages.jsonl"  # in ``<home>/outbox``
RETENTION_LIST_FILE = "retention.csv"  # in ``<home>/outbox``
FRAUD_CASES_FILE = "cases.jsonl"  # in ``<home>/fraud``
_TMP_SUFFIX = ".erasure.tmp"

# what stays of an erased line, table → why (the plan counts the line's rows of each)
KEPT: dict[str, str] = {
    "bills": "issued bills: billing and tax duty",
    "bill_lines": "lines of the issued bills: billing and tax duty",
    "adjustments": "billing duty; append-only (0021)",
    "consent_events": "consent proof of charged services, until retention removes them",
    "complaint_events": "a complaint's history, agents' notes (ID-card numbers and e-mail addresses masked, phone numbers kept as tokens) included; append-only (0021)",
    "marketing_preferences": "an opt-out stays honoured; append-only (0021)",
    "loyalty_points": "append-only (0021)",
    "subscriber_plans": "append-only (0021)",
    "line_status_history": "append-only (0021)",
    "roaming_caps": "append-only (0021)",
    "access_audit": "the record of every access; its subjects are pseudonyms",
}


@dataclass(frozen=True)
class ErasurePlan:
    msisdn: str
    now: datetime
    refused: tuple[str, ...]  # why the line may not be erased (empty: it may)
    customer_id: str | None = None
    name: bool = False  # the customer's name goes
    name_kept: str | None = None  # why the customer's name stays although the line is erased
    region: bool = False
    complaints: tuple[str, ...] = ()  # complaint ids whose words go
    tickets: tuple[str, ...] = ()  # ticket ids whose summary or notes go
    ticket_notes: int = 0
    surveys: tuple[str, ...] = ()  # survey ids whose comment goes
    outbox: tuple[Path, int] | None = None  # (file, messages to the line)
    call_list: tuple[Path, int] | None = None  # (file, rows of the line)
    kept: Mapping[str, int] = field(default_factory=dict)  # table → the line's rows that stay
    note_numbers: int = 0  # tokens of complaint notes standing for the number, whose number goes
    home_country: str | None = None  # the numbering notes written before 0025 are read by (None: mainland China's)

    @property
    def empty(self) -> bool:
        return not (self.name or self.region or self.complaints or self.tickets or self.surveys or self.outbox
                    or self.call_list or self.note_numbers)

    def summary(self) -> dict[str, Any]:
        """What the plan erases and keeps, with counts and ids; the number is the caller's to show or not."""
        return {
            "now": self.now.isoformat(),
            "erasable": not self.refused,
            "refused": list(self.refused),
            "erase": {
                "customer_name": self.name,
                "customer_name_kept": self.name_kept,
                "region": self.region,
                "complaint_texts": list(self.complaints),
                "ticket_conversations": list(self.tickets),
                "ticket_notes": self.ticket_notes,
                "complaint_note_numbers": self.note_numbers,
                "survey_comments": list(self.surveys),
                "outbox_messages": self.outbox[1] if self.outbox else 0,
                "retention_list_rows": self.call_list[1] if self.call_list else 0,
            },
            "kept": {table: {"rows": self.kept.get(table, 0), "why": why} for table, why in KEPT.items()},
            "nothing_left": self.empty,
        }

    def words(self) -> str:
        """What the plan erases, in one sentence for the access audit: kinds, counts and ids, no personal data."""
        parts: list[str] = []
        if self.name:
            parts.append("the customer's name")
        if self.region:
            parts.append("the line's region")
        if self.complaints:
            parts.append(f"the words of {len(self.complaints)} complaints ({', '.join(self.complaints)})")
        if self.tickets:
            parts.append(f"the conversations of {len(self.tickets)} tickets ({', '.join(self.tickets)}; "
                         f"{self.ticket_notes} notes)")
        if self.surveys:
            parts.append(f"the comments of {len(self.surveys)} survey answers")
        if self.note_numbers:
            parts.append(f"the number where {self.note_numbers} tokens of complaint notes stand for it")
        if self.outbox:
            parts.append(f"{self.outbox[1]} outbox messages")
        if self.call_list:
            parts.append(f"{self.call_list[1]} rows of the retention call list")
        text = "erases " + "; ".join(parts) if parts else "erases nothing (already erased)"
        if self.name_kept:
            text += f"; keeps the customer's name: {self.name_kept}"
        return text + "; keeps bills, bill lines, adjustments, consent events and the append-only ledgers"


ERASURE_LOCK = "erasure.lock"  # in the lake's lock directory: one ``privacy erase --apply`` of a home at a time


def erasure_lock(lake: Lake) -> contextlib.AbstractContextManager[None]:
    """The lock a ``fairtel privacy erase --apply`` holds from its plan to its last file (``run_lock``): a second
    apply (of the same line or another) waits for the first to end, then plans what is left."""
    from fairtel.core.commits import LOCK_DIR

    return run_lock(lake.root / LOCK_DIR / ERASURE_LOCK, "`fairtel privacy erase --apply`")


def lock_line(conn: Connection, msisdn: str) -> None:
    """Lock the line's register row (``SELECT ... FOR UPDATE``) for ``conn``'s transaction, before its plan is made:
    on PostgreSQL another transaction erasing the line waits for this one's commit and then plans from what it left
    (read committed: each statement sees what was committed before it). SQLite has no row locks: its transaction
    is begun ``IMMEDIATE`` instead (``store._engine.writer``), which takes the database's write lock up front."""
    s = table_of(Subscriber)
    conn.execute(select(s.c.msisdn).where(s.c.msisdn == msisdn).with_for_update())


def plan(conn: Connection, msisdn: str, *, now: datetime, lake: Lake | None = None, home: Path | None = None,
         outbox_dir: Path | None = None, home_country: str | None = None) -> ErasurePlan:
    """What erasing ``msisdn`` removes (nothing is changed), or why it is refused. The lake is looked at for
    unbilled usage when given; the files of ``home`` (open fraud cases) and of ``outbox_dir`` (default
    ``<home>/outbox``) when given. ``home_country``: the operator's, by whose numbering a number written in a note
    before 0025 is read (``None``: mainland China's)."""
    now = require_aware(now, "now")
    s = table_of(Subscriber)
    line = conn.execute(select(s.c.customer_id, s.c.status, s.c.closed_at, s.c.region)
                        .where(s.c.msisdn == msisdn)).first()
    if line is None:
        return ErasurePlan(msisdn, now, ("the line is not in the register",))
    matters = open_matters(conn)
    refused = _refusals(conn, msisdn, line, matters, lake=lake, home=home)
    kept = _kept(conn, msisdn)
    if refused:
        return ErasurePlan(msisdn, now, tuple(refused), customer_id=line.customer_id, kept=kept)
    name, name_kept = _name(conn, msisdn, line.customer_id, matters)
    c, t, n, v = table_of(Complaint), table_of(TroubleTicket), table_of(TicketNote), table_of(Survey)
    complaints = tuple(sorted(r for (r,) in conn.execute(
        select(c.c.complaint_id).where(c.c.msisdn == msisdn, c.c.text != COMPLAINT_REMOVED))))
    ticket_ids = [r for (r,) in conn.execute(select(t.c.ticket_id).where(t.c.msisdn == msisdn))]
    with_notes: dict[str, int] = {}
    for chunk in _chunks(sorted(ticket_ids)):
        for tid, count in conn.execute(select(n.c.ticket_id, func.count()).where(n.c.ticket_id.in_(chunk),
                                                                                 n.c.note.is_not(None))
                                       .group_by(n.c.ticket_id)):
            with_notes[tid] = int(count)
    worded = {r for (r,) in conn.execute(select(t.c.ticket_id).where(t.c.msisdn == msisdn,
                                                                      t.c.summary != CONVERSATION_REMOVED))}
    tickets = tuple(sorted(worded | set(with_notes)))
    surveys = tuple(sorted(r for (r,) in conn.execute(
        select(v.c.survey_id).where(v.c.msisdn == msisdn, v.c.comment.is_not(None)))))
    from fairtel.store._complaints import count_note_numbers

    note_numbers = count_note_numbers(conn, msisdn, home_country=home_country)
    out_dir = outbox_dir if outbox_dir is not None else (home / "outbox" if home is not None else None)
    outbox = call_list = None
    if out_dir is not None:
        outbox = _count(out_dir / OUTBOX_FILE, _message_of(msisdn))
        call_list = _count(out_dir / RETENTION_LIST_FILE, _call_row_of(msisdn, out_dir / RETENTION_LIST_FILE))
    return ErasurePlan(
        msisdn, now, (), customer_id=line.customer_id, name=name, name_kept=name_kept,
        region=line.region is not None, complaints=complaints, tickets=tickets,
        ticket_notes=sum(with_notes.values()), surveys=surveys, outbox=outbox, call_list=call_list, kept=kept,
        note_numbers=note_numbers, home_country=home_country)


def _refusals(conn: Connection, msisdn: str, line: Any, matters: Mapping[str, tuple[str, ...]], *,
              lake: Lake | None, home: Path | None) -> list[str]:
    out: list[str] = []
    if line.status != "closed":
        out.append(f"the line is {line.status}, not closed: close it in the register first")
    elif line.closed_at is None:
        out.append("the line is closed but the register does not say since when")
    out.extend(f"{m} is open" for m in matters.get(msisdn, ()))
    t = table_of(TroubleTicket)
    out.extend(f"ticket {tid} is {status}" for tid, status in conn.execute(
        select(t.c.ticket_id, t.c.status).where(t.c.msisdn == msisdn, t.c.status != "closed")
        .order_by(t.c.ticket_id)))
    if home is not None:
        out.extend(f"fraud case {case} is open" for case in _open_case_files(home / "fraud", msisdn))
    from fairtel.store._billing import pending_adjustments

    pending = pending_adjustments(conn, msisdns=[msisdn])
    if pending:
        out.append(f"{len(pending)} adjustments no bill carries yet ({', '.join(e.adjustment_id for e in pending)})")
    if lake is not None:
        out.extend(_unbilled(lake, msisdn, conn))
    return out


def _open_case_files(root: Path, msisdn: str) -> list[str]:
    from fairtel.fraud._cases import CaseFiles, CaseStatus

    files = CaseFiles(root)
    if not files.cases_path.is_file():
        return []
    return sorted(case.case_id for case in files.load()
                  if case.status == CaseStatus.OPEN and msisdn in (case.subject, *case.related))


RERATE_SETTLED = "rerate_settled"  # the lake's records a rerate settled with no entry (priced at nothing, refused)


def _charged_late(lake: Lake, conn: Connection, period: str) -> set[str]:
    """The record keys (``source``, ``record_id`` joined) of ``period`` that a rerate settled although no bill run's
    snapshot holds them: charged by an entry of the adjustments ledger (a late record; the entry waits for a bill as
    ``pending_adjustments`` says), or priced at nothing or refused with no entry (``RERATE_SETTLED``)."""
    from fairtel.store._billing import rerate_entries

    out = {f"{e.source or ''}\x1f{e.record_id}" for e in rerate_entries(conn, period) if e.record_id is not None}
    for _, path in _period_files(lake, RERATE_SETTLED, period):
        table = _read(path, ("source", "record_id"))
        if {"source", "record_id"} <= set(table.column_names):
            out.update(v for v in _record_keys(table).to_pylist() if v is not None)
    return out


def _unbilled(lake: Lake, msisdn: str, conn: Connection) -> list[str]:
    """The periods with records of the line that no bill carries: rated and in no bill run's snapshot (held or late
    usage), not released or written off (`fairtel bill release`: a decision settles a held record) and not charged
    or settled by a rerate (``_charged_late``), or not rated (``unrated``)."""
    out: list[str] = []
    for key in sorted(set(lake.periods("rated")) | set(lake.periods("unrated"))):
        pending = undecided(not_yet_billed(lake, key), held_decisions(conn, key), key)
        if len(pending) and (late := _charged_late(lake, conn, key)):
            pending = pa.array([k for k in pending.to_pylist() if k not in late], pa.string())
        rated = unrated = 0
        for _, path in _period_files(lake, "rated", key):
            table = _read(path, ("msisdn", "source", "record_id"))
            if not {"msisdn", "source", "record_id"} <= set(table.column_names) or not len(pending):
                continue
            mine = pc.fill_null(pc.equal(table.column("msisdn"), msisdn), False)
            hit = pc.and_(mine, pc.fill_null(pc.is_in(_record_keys(table), value_set=pending), False))
            rated += int(pc.sum(hit).as_py() or 0)
        for _, path in _period_files(lake, "unrated", key):
            table = _read(path, ("msisdn",))
            if "msisdn" in table.column_names:
                unrated += int(pc.sum(pc.fill_null(pc.equal(table.column("msisdn"), msisdn), False)).as_py() or 0)
        if rated:
            out.append(f"{rated} usage records of {key} rated and on no bill (held or late)")
        if unrated:
            out.append(f"{unrated} usage records of {key} not rated")
    return out


def _name(conn: Connection, msisdn: str, customer_id: str, matters: Mapping[str, Any]) -> tuple[bool, str | None]:
    s, cu = table_of(Subscriber), table_of(Customer)
    others = conn.execute(select(s.c.msisdn, s.c.status).where(s.c.customer_id == customer_id,
                                                                s.c.msisdn != msisdn)).all()
    if any(r.status != "closed" for r in others):
        return False, "the customer has another line not closed"
    if any(r.msisdn in matters for r in others):
        return False, "another line of the customer has a matter open"
    name = conn.execute(select(cu.c.name).where(cu.c.customer_id == customer_id)).scalar_one_or_none()
    return name is not None and name != NAME_ERASED, None


def _kept(conn: Connection, msisdn: str) -> dict[str, int]:
    """The line's rows that stay, per table of ``KEPT``."""
    b, bl, c, ce = table_of(Bill), table_of(BillLine), table_of(Complaint), table_of(ComplaintEvent)

    def count(query: Any) -> int:
        return int(conn.execute(query).scalar_one() or 0)

    out = {name: count(select(func.count()).select_from(table_of(model)).where(table_of(model).c.msisdn == msisdn))
           for name, model in (("bills", Bill), ("adjustments", Adjustment), ("consent_events", ConsentEvent),
                               ("marketing_preferences", MarketingPreference), ("loyalty_points", LoyaltyEntry),
                               ("subscriber_plans", SubscriberPlan), ("line_status_history", LineStatusHistory),
                               ("roaming_caps", RoamingCap))}
    out["bill_lines"] = count(select(func.count()).select_from(bl.join(b, b.c.bill_id == bl.c.bill_id))
                              .where(b.c.msisdn == msisdn))
    out["complaint_events"] = count(select(func.count()).select_from(ce.join(c, c.c.complaint_id == ce.c.complaint_id))
                                    .where(c.c.msisdn == msisdn))
    out["access_audit"] = 0  # its rows name pseudonyms: not counted from the number here
    return out


def _chunks(values: list[str], size: int = 500) -> Any:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def apply_in_database(conn: Connection, planned: ErasurePlan) -> None:
    """The plan's database changes, in ``conn``'s transaction. Each statement names the line and leaves what is
    already erased as it is, so running it twice changes nothing; a complaint reopened since the plan keeps its
    words (the plan is made in the same transaction by ``fairtel privacy erase``)."""
    if planned.refused:
        from fairtel.core.errors import ConflictError

        raise ConflictError("the line may not be erased: " + "; ".join(planned.refused),
                            details={"reasons": list(planned.refused)})
    m = planned.msisdn
    s, cu = table_of(Subscriber), table_of(Customer)
    c, t, n, v = table_of(Complaint), table_of(TroubleTicket), table_of(TicketNote), table_of(Survey)
    if planned.name and planned.customer_id is not None:
        conn.execute(update(cu).where(cu.c.customer_id == planned.customer_id,
                                      or_(cu.c.name.is_(None), cu.c.name != NAME_ERASED))
                     .values(name=NAME_ERASED))
    if planned.region:
        conn.execute(update(s).where(s.c.msisdn == m, s.c.region.is_not(None)).values(region=None))
    for chunk in _chunks(list(planned.complaints)):
        conn.execute(update(c).where(c.c.complaint_id.in_(chunk), c.c.msisdn == m,
                                     c.c.lifecycle.not_in(OPEN_COMPLAINT), c.c.text != COMPLAINT_REMOVED)
                     .values(text=COMPLAINT_REMOVED))
    for chunk in _chunks(list(planned.tickets)):
        conn.execute(update(t).where(t.c.ticket_id.in_(chunk), t.c.msisdn == m, t.c.status == "closed",
                                     t.c.summary != CONVERSATION_REMOVED).values(summary=CONVERSATION_REMOVED))
        closed = select(t.c.ticket_id).where(t.c.ticket_id.in_(chunk), t.c.msisdn == m, t.c.status == "closed")
        conn.execute(update(n).where(and_(n.c.ticket_id.in_(closed), n.c.note.is_not(None))).values(note=None))
    for chunk in _chunks(list(planned.surveys)):
        conn.execute(update(v).where(v.c.survey_id.in_(chunk), v.c.msisdn == m, v.c.comment.is_not(None))
                     .values(comment=None))
    if planned.note_numbers:
        from fairtel.store._complaints import forget_note_numbers

        forget_note_numbers(conn, m, home_country=planned.home_country)


def _message_of(msisdn: str) -> Callable[[bytes], bool]:
    def goes(line: bytes) -> bool:
        try:
            row = json.loads(line)
        except ValueError:
            return False
        return isinstance(row, dict) and row.get("msisdn") == msisdn

    return goes


def _call_row_of(msisdn: str, path: Path) -> Callable[[bytes], bool]:
    """A row of the retention call list (CSV with a header naming ``msisdn``) that is the line's."""
    column: int | None = None
    with (contextlib.suppress(OSError, StopIteration, UnicodeDecodeError, csv.Error),
          path.open(encoding="utf-8", newline="") as fh):
        header = next(csv.reader(fh))
        column = header.index("msisdn") if "msisdn" in header else None

    def goes(line: bytes) -> bool:
        if column is None:
            return False
        try:
            row = next(csv.reader(io.StringIO(line.decode("utf-8"))))
        except (UnicodeDecodeError, StopIteration, csv.Error):
            return False
        return len(row) > column and row[column] == msisdn

    return goes


def _count(path: Path, goes: Callable[[bytes], bool]) -> tuple[Path, int] | None:
    if not path.is_file():
        return None
    n = sum(1 for line in path.read_bytes().splitlines() if line.strip() and goes(line))
    return (path, n) if n else None


def _rewrite(path: Path, goes: Callable[[bytes], bool]) -> int:
    """``path`` rewritten without the lines that go, as retention rewrites its files (``rewrite_lines``)."""
    return rewrite_lines(path, goes, tmp_suffix=_TMP_SUFFIX, who="the erasure",
                         again="run `fairtel privacy erase --apply` again")


def apply_in_files(planned: ErasurePlan) -> dict[str, int]:
    """The plan's changes to the home's files, after the database's: the outbox without the messages to the line,
    the retention call list without its rows. Returns what was removed (``outbox``, ``retention_list``)."""
    if planned.refused:
        return {"outbox": 0, "retention_list": 0}
    messages = _rewrite(planned.outbox[0], _message_of(planned.msisdn)) if planned.outbox else 0
    rows = 0
    if planned.call_list:
        path = planned.call_list[0]
        rows = _rewrite(path, _call_row_of(planned.msisdn, path))
    return {"outbox": messages, "retention_list": rows}
