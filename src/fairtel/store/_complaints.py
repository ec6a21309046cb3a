"""Complaints over their lifecycle: open, move (checked by ``fairtel.care``'s transition rules), read the
history, escalate the overdue ones. Each write appends to ``complaint_events`` and to the access audit in
the caller's transaction.

The ``complaints`` row keeps, beside the lifecycle status, the coarse ``status`` (open, in_progress,
closed) that readers predating the lifecycle use and may still change (a take or a close through the
API). A row whose coarse status no longer matches its lifecycle, or that has no events at all (stored
before the lifecycle was), is read with the events its status implies, marked ``recorded=False``; the
next move through this module writes them before its own event.

A reopening gives the complaint a new resolution deadline, counted from the reopening under the policy given
(the operator's ``[sla]`` setting), and a fresh escalation level: ``due_at`` and ``escalation_level`` are
those of the current term. ``opened_at`` stays when it was first opened, and the history keeps every term's
deadline: the ``opened`` and ``reopened`` events record the deadline they set (``complaint_events.due_at``),
and a reopening the deadline and escalation level it replaced (``previous_due_at``,
``previous_escalation_level``). Events recorded before the events kept deadlines have none: the readers
here infer them (:func:`_with_deadlines`). Notes are the writer's text only.

A phone number in a note is not kept in the note: the history holds a token in its place (``care.tokenise_note``,
keyed by the home's secret key through ``AuditAs.pseudonym``) and ``complaint_note_numbers`` the number, until the
subscriber is erased (:func:`forget_note_numbers`). :func:`get_complaint` gives each note back with its numbers, each
spelt as the agent wrote it (its digits as typed: ``13800138000``, ``015123456789``, as notes read before tokens; the
table keeps the E.164 number, the marker how it was written), shown by role by whoever reads it, or
``care.NOTE_NUMBER_ERASED`` where the number is forgotten. A note written after the erasure that names the number
again keeps ``care.NOTE_NUMBER_ERASED`` in its place (:func:`_token_of`: the erasure is found by its access-audit row,
filed under the number's keyed pseudonym), until the register gives the number to a new holding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, update
from sqlalchemy.engine import Connection, Row

from fairtel.care import (
    DEFAULT_SLA,
    NOTE_NUMBER_ERASED,
    ComplaintCategory,
    ComplaintEvent,
    ComplaintStatus,
    Escalation,
    SlaPolicy,
    note_token,
    note_tokens,
    parse_category,
    resolve_due,
    resolve_note,
    sla_state,
    status_from_store,
    store_status,
    tokenise_note,
    transition,
)
from fairtel.care import Complaint as LifecycleComplaint
from fairtel.care._complaints import NOTE_NUMBER_PREFIX
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from fairtel.core.ids import new_id
from fairtel.core.time import require_aware
from fairtel.kpi import ComplaintFact
from fairtel.privacy import e164_of, number_in_id, replace_numbers_in_id
from fairtel.store._audit import record_access
from fairtel.store._report import dialect_insert
from fairtel.store._schema import (
    AccessAudit,
    Adjustment,
    Complaint,
    ComplaintNoteNumber,
    Finding,
    Subscriber,
    table_of,
)
from fairtel.store._schema import ComplaintEvent as ComplaintEventRow

UNRECORDED = "unrecorded"  # the actor of an event implied by a complaint's status but never written
IMPORT_ACTOR = "import"  # the actor of the events an operator's complaints file gave (``fairtel care import-complaints``)
LINK_COLUMNS = ("finding_id", "adjustment_id", "conversation_id")
_OPENINGS = frozenset({ComplaintStatus.OPENED.value, ComplaintStatus.REOPENED.value})
_VERBS = {
    ComplaintStatus.ACKNOWLEDGED: "acknowledge",
    ComplaintStatus.RESOLVED: "resolve",
    ComplaintStatus.CLOSED: "close",
    ComplaintStatus.REOPENED: "reopen",
}


# Writes a complaint's access-audit row in place of this module: (action, complaint id, the subscriber's number).
AuditHook = Callable[[str, str, str], None]


@dataclass(frozen=True, slots=True)
class AuditAs:
    """Who writes: ``actor`` goes into the complaint's history and, with ``role``, into the access audit,
    whose subject is ``pseudonym(msisdn)`` (a ``fairtel.privacy.Pseudonymizer``).

    ``record``: writes each access-audit row instead (the API's, through the request's audit: its request id, the
    API key a request was made with, numbers kept as pseudonyms). Without it the row is written here, in the
    caller's transaction, with the number a complaint id holds kept as its pseudonym (``replace_numbers_in_id``,
    by the numbering of the operator's ``home_country``; ``None``: mainland China's) and the reason as given."""

    actor: str
    role: str
    pseudonym: Callable[[str], str]
    reason: str | None = None
    record: AuditHook | None = None
    home_country: str | None = None


@dataclass(frozen=True, slots=True)
class ComplaintHistoryEntry:
    seq: int | None  # None: implied by the complaint's status, not written yet
    kind: str  # status | escalation
    status: str  # the lifecycle status after the event
    at: datetime
    actor: str
    note: str | None
    recorded: bool = True
    due_at: datetime | None = None  # an opening or a reopening: the resolution deadline it set (inferred if not recorded)
    previous_due_at: datetime | None = None  # a reopening: the deadline it replaced, when recorded
    previous_escalation_level: int | None = None  # a reopening: the escalation level it reset, when recorded


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    complaint_id: str
    msisdn: str
    category: str
    channel: str
    text: str
    status: str  # the lifecycle status
    store_status: str  # the coarse status
    opened_at: datetime
    closed_at: datetime | None  # when last settled (resolved, or closed without a resolution)
    due_at: datetime  # the current term's resolution deadline: from the opening, or from the latest reopening
    first_due_at: datetime  # the deadline set when it was first opened
    escalation_level: int  # the current term's
    finding_id: str | None
    adjustment_id: str | None
    conversation_id: str | None
    history: tuple[ComplaintHistoryEntry, ...]

    def lifecycle(self) -> LifecycleComplaint:
        """The care package's view: the status events only."""
        events = tuple(ComplaintEvent(ComplaintStatus(e.status), e.at, e.actor, e.note, e.due_at)
                       for e in self.history if e.kind == "status")
        links = {k: v for k in LINK_COLUMNS if (v := getattr(self, k)) is not None}
        return LifecycleComplaint(self.complaint_id, self.msisdn, _category(self.category), self.channel, self.text,
                                  events, links)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EscalatedComplaint:
    complaint_id: str
    status: str
    due_at: datetime
    from_level: int
    to_level: int


def _category(value: str) -> ComplaintCategory:
    try:
        return ComplaintCategory(value)
    except ValueError:  # rows written by readers that take any code: the SLA treats them as ``other``
        return ComplaintCategory.OTHER


# -- reading ----------------------------------------------------------------------------------------------
def _row(conn: Connection, complaint_id: str, *, lock: bool = False) -> Row[Any]:
    t = table_of(Complaint)
    q = select(t).where(t.c.complaint_id == complaint_id)
    if lock:
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        raise NotFoundError(f"no complaint {complaint_id}")
    return row


def _stored_events(conn: Connection, complaint_ids: list[str] | Select[Any]) -> dict[str, list[ComplaintHistoryEntry]]:
    """The stored events of the complaints named, or selected by a query of their ids, oldest first."""
    e = table_of(ComplaintEventRow)
    out: dict[str, list[ComplaintHistoryEntry]] = {cid: [] for cid in complaint_ids} if isinstance(complaint_ids, list) else {}
    if isinstance(complaint_ids, list) and not complaint_ids:
        return out
    for r in conn.execute(select(e).where(e.c.complaint_id.in_(complaint_ids)).order_by(e.c.complaint_id, e.c.seq)):
        out.setdefault(r.complaint_id, []).append(ComplaintHistoryEntry(
            r.seq, r.kind, r.status, r.at, r.actor, r.note, True, r.due_at, r.previous_due_at, r.previous_escalation_level))
    return out


def _with_deadlines(history: list[ComplaintHistoryEntry], current: datetime) -> list[ComplaintHistoryEntry]:
    """The entries as shown, each opening and reopening with the deadline it set: the one recorded on it, else
    the one the next reopening recorded it replaced, else the one in force before it (a reopening recorded
    before events kept deadlines, or a status changed outside the lifecycle, kept it), else ``current``, the
    row's (which nothing has changed since)."""
    openings = [i for i, e in enumerate(history) if e.kind == "status" and e.status in _OPENINGS]
    dues: list[datetime | None] = [history[i].due_at for i in openings]
    for k in range(len(openings) - 1, 0, -1):  # what a reopening replaced, or kept, was its predecessor's
        if dues[k - 1] is None:
            later = history[openings[k]]
            dues[k - 1] = later.previous_due_at if later.due_at is not None else dues[k]
    for k in range(len(openings)):
        if dues[k] is None:
            dues[k] = dues[k - 1] if k and dues[k - 1] is not None else current
    due_of = dict(zip(openings, dues, strict=True))
    return [replace(e, due_at=due_of[i]) if i in due_of else e for i, e in enumerate(history)]


def _record(row: Row[Any], stored: list[ComplaintHistoryEntry], policy: SlaPolicy) -> ComplaintRecord:
    history = list(stored)
    if not any(e.kind == "status" for e in history):
        history.insert(0, ComplaintHistoryEntry(None, "status", ComplaintStatus.OPENED.value, row.opened_at, UNRECORDED,
                                                "opened before the lifecycle was recorded", recorded=False))
    current = status_from_store(row.status, ComplaintStatus(row.lifecycle))
    last = next(e for e in reversed(history) if e.kind == "status")
    if last.status != current.value:
        at = row.closed_at if current is ComplaintStatus.CLOSED and row.closed_at is not None else history[-1].at
        history.append(ComplaintHistoryEntry(None, "status", current.value, max(at, history[-1].at), UNRECORDED,
                                             f"status {row.status} set outside the lifecycle", recorded=False))
    due = row.due_at if row.due_at is not None else resolve_due(row.category, row.opened_at, policy)
    history = _with_deadlines(history, due)
    first_due = next(e.due_at for e in history if e.due_at is not None)  # the opening's
    return ComplaintRecord(
        complaint_id=row.complaint_id, msisdn=row.msisdn, category=row.category, channel=row.channel, text=row.text,
        status=current.value, store_status=row.status, opened_at=row.opened_at, closed_at=row.closed_at, due_at=due,
        first_due_at=first_due, escalation_level=row.escalation_level, finding_id=row.finding_id, adjustment_id=row.adjustment_id,
        conversation_id=row.conversation_id, history=tuple(history),
    )


def get_complaint(conn: Connection, complaint_id: str, *, policy: SlaPolicy = DEFAULT_SLA) -> ComplaintRecord:
    """A complaint with its history, oldest event first; its notes with the numbers they hold, each the table of note
    numbers still knows spelt as the agent wrote it (``care.resolve_note``; ``care.NOTE_NUMBER_ERASED`` once its
    subscriber is erased)."""
    row = _row(conn, complaint_id)
    rec = _record(row, _stored_events(conn, [complaint_id])[complaint_id], policy)
    tokens = set().union(*(note_tokens(e.note) for e in rec.history))
    if not tokens:
        return rec
    known = note_numbers(conn, tokens)
    return replace(rec, history=tuple(replace(e, note=resolve_note(e.note, known)) for e in rec.history))


def note_numbers(conn: Connection, tokens: set[str]) -> dict[str, str]:
    """The numbers the table still knows for ``tokens`` (token → number); a forgotten one is not there."""
    t = table_of(ComplaintNoteNumber)
    out: dict[str, str] = {}
    wanted = sorted(tokens)
    for i in range(0, len(wanted), 500):
        out.update((r.token, r.number) for r in conn.execute(
            select(t.c.token, t.c.number).where(t.c.token.in_(wanted[i:i + 500]))))
    return out


ERASE_ACTION = "subscriber.erase"  # the access-audit action of ``fairtel privacy erase --apply``


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _token_of(conn: Connection, e164: str, pseudonym: Callable[[str], str]) -> tuple[str, bool]:
    """The token a new note keeps ``e164`` under, and whether the number may be known (``False``: its subscriber was
    erased, and the note keeps ``care.NOTE_NUMBER_ERASED`` in its place).

    An erasure keeps no number: what it keeps is its access-audit row (``ERASE_ACTION``), filed, as every row, under
    the keyed pseudonym of the number (``pseudonym``, the one the audit is written with), which is how the number is
    recognised here without being kept in clear. A number erased in the line's current holding (the register's
    ``activated_at``, or ``holder_since`` when later, is before the latest erasure, or the register no longer holds
    the line) is not known again: the note holds it as erased, and no row is written (one would give the number back
    to the notes written before the erasure too, as they hold the same token). A number the register gave to a
    holding that began after its erasure (a new holder of a recycled number, or the line activated again) is the
    new holding's: kept under a token keyed by the number and the erasure's instant, never the erased notes' one.
    Without a key (a writer given none, ``pseudonym`` making no pseudonym) the number is kept as before."""
    keyed = note_token(e164, pseudonym)
    subject = pseudonym(e164)
    if not subject:
        return keyed, True
    a = table_of(AccessAudit)
    erased_at = conn.execute(select(func.max(a.c.at)).where(
        a.c.subject_msisdn_pseudonym == subject, a.c.action == ERASE_ACTION)).scalar_one_or_none()
    if erased_at is None:
        return keyed, True
    erased_at = _aware(erased_at)
    s = table_of(Subscriber)
    line = conn.execute(select(s.c.activated_at, s.c.holder_since).where(s.c.msisdn == e164)).first()
    if line is not None:
        held_since = max(_aware(at) for at in (line.activated_at, line.holder_since) if at is not None)
        if held_since > erased_at:
            return note_token(f"{e164}@{erased_at.isoformat()}", pseudonym), True
    return keyed, False


def _keep_note(conn: Connection, note: str | None, audit: AuditAs) -> str | None:
    """``note`` as the history keeps it: each phone number replaced by its token's marker, the token's number put in
    the table of note numbers (once: a token stands for one number); a number whose subscriber was erased
    (``_token_of``) replaced by ``care.NOTE_NUMBER_ERASED``, its number kept nowhere."""
    if not note:
        return note
    decided: dict[str, tuple[str, bool]] = {}

    def token(e164: str) -> str:
        if e164 not in decided:
            decided[e164] = _token_of(conn, e164, audit.pseudonym)
        return decided[e164][0]

    text, numbers = tokenise_note(note, token, home_country=audit.home_country)
    erased = sorted(t for t, known in decided.values() if not known)
    if erased:
        marker = re.compile(rf"{re.escape(NOTE_NUMBER_PREFIX)}(?:{'|'.join(map(re.escape, erased))})(?:/[A-J]+)?\]")
        text = marker.sub(NOTE_NUMBER_ERASED, text)
        numbers = {t: n for t, n in numbers.items() if t not in erased}
    if numbers:
        t = table_of(ComplaintNoteNumber)
        conn.execute(dialect_insert(conn, t).on_conflict_do_nothing(),
                     [{"token": k, "number": v} for k, v in sorted(numbers.items())])
    return text


def _note_number_rows(conn: Connection, msisdn: str, home_country: str | None) -> list[str]:
    """The tokens of the table's rows that are ``msisdn``: kept as E.164 (notes since 0025) or as written in a note
    before (``13800138000``, ``013800138000``), by the numbering of the operator's ``home_country``."""
    t = table_of(ComplaintNoteNumber)
    tail = msisdn[-7:]  # every spelling of the number ends with its last digits
    out: list[str] = []
    for token, number in conn.execute(select(t.c.token, t.c.number).where(t.c.number.like(f"%{tail}"))):
        if number == msisdn or e164_of(number, home_country=home_country) == msisdn \
                or number_in_id(number, subject=msisdn, home_country=home_country) == msisdn:
            out.append(token)
    return sorted(out)


def count_note_numbers(conn: Connection, msisdn: str, *, home_country: str | None = None) -> int:
    """How many tokens of notes stand for ``msisdn`` (what its erasure forgets)."""
    return len(_note_number_rows(conn, msisdn, home_country))


def forget_note_numbers(conn: Connection, msisdn: str, *, home_country: str | None = None) -> int:
    """Forget ``msisdn`` wherever a note on a complaint holds it (any complaint's, any subscriber's): its rows of the
    table of note numbers deleted, so that every reader is shown ``care.NOTE_NUMBER_ERASED`` there from now on. The
    notes themselves are not changed (the history is append-only: they hold tokens, never the number). Returns how
    many tokens were forgotten."""
    tokens = _note_number_rows(conn, msisdn, home_country)
    t = table_of(ComplaintNoteNumber)
    for i in range(0, len(tokens), 500):
        conn.execute(t.delete().where(t.c.token.in_(tokens[i:i + 500])))
    return len(tokens)


# -- writing ----------------------------------------------------------------------------------------------
def _audit(conn: Connection, audit: AuditAs, action: str, complaint_id: str, msisdn: str, at: datetime) -> None:
    if audit.record is not None:
        audit.record(action, complaint_id, msisdn)
        return
    shown = replace_numbers_in_id(complaint_id, audit.pseudonym, subject=msisdn, home_country=audit.home_country)
    record_access(conn, actor=audit.actor, role=audit.role, action=action, resource=f"complaint/{shown}"[:255],
                  subject_msisdn_pseudonym=audit.pseudonym(msisdn), reason=audit.reason, at=at)


def _implied(history: tuple[ComplaintHistoryEntry, ...]) -> list[ComplaintHistoryEntry]:
    """The events a complaint's status implies, to be written as they are known: without a deadline (the one
    shown for them is inferred, and stays inferred the same way)."""
    return [replace(e, due_at=None) for e in history if not e.recorded]


def _append(conn: Connection, complaint_id: str, entries: list[ComplaintHistoryEntry]) -> None:
    if not entries:
        return
    e = table_of(ComplaintEventRow)
    seq = int(conn.execute(select(func.coalesce(func.max(e.c.seq), 0)).where(e.c.complaint_id == complaint_id)).scalar_one())
    conn.execute(e.insert(), [
        {"complaint_id": complaint_id, "seq": seq + n, "kind": x.kind, "status": x.status, "at": x.at,
         "actor": x.actor[:64], "note": x.note, "due_at": x.due_at, "previous_due_at": x.previous_due_at,
         "previous_escalation_level": x.previous_escalation_level}
        for n, x in enumerate(entries, start=1)
    ])


def _check_link(conn: Connection, model: type[Finding] | type[Adjustment], column: str, value: str, msisdn: str) -> None:
    t = table_of(model)
    row = conn.execute(select(t.c.msisdn).where(t.c[column] == value)).first()
    if row is None:
        raise NotFoundError(f"no {column.removesuffix('_id')} {value}")
    if row.msisdn is not None and row.msisdn != msisdn:
        raise ConflictError(f"{column.removesuffix('_id')} {value} is about another line than the complaint",
                            details={column: value})


def open_complaint(
    conn: Connection,
    *,
    msisdn: str,
    category: ComplaintCategory | str,
    text: str,
    at: datetime,
    audit: AuditAs | None,
    channel: str = "chat",
    links: Mapping[str, str] | None = None,
    complaint_id: str | None = None,
    policy: SlaPolicy = DEFAULT_SLA,
) -> ComplaintRecord:
    """Store a new complaint (``opened``) with its deadline and links (``finding_id``, ``adjustment_id``,
    ``conversation_id``; a finding or refund must exist and be about the same line). ``audit`` None: the
    caller records the access itself."""
    require_aware(at, "opened_at")
    cat = category if isinstance(category, ComplaintCategory) else parse_category(category)
    given = dict(links or {})
    unknown = sorted(set(given) - set(LINK_COLUMNS))
    if unknown:
        raise InvalidInputError([Problem("complaint", None, k, f"not a link; one of {', '.join(LINK_COLUMNS)}") for k in unknown],
                                what="complaint")
    if given.get("finding_id"):
        _check_link(conn, Finding, "finding_id", given["finding_id"], msisdn)
    if given.get("adjustment_id"):
        _check_link(conn, Adjustment, "adjustment_id", given["adjustment_id"], msisdn)
    cid = complaint_id or new_id("cmp")
    opened = ComplaintStatus.OPENED
    due = resolve_due(cat.value, at, policy)
    conn.execute(table_of(Complaint).insert().values(
        complaint_id=cid, msisdn=msisdn, category=cat.value, opened_at=at, closed_at=None, status=store_status(opened),
        channel=channel[:16], text=text, lifecycle=opened.value, due_at=due, escalation_level=0,
        **{k: (given.get(k) or None) for k in LINK_COLUMNS},
    ))
    by = audit.actor if audit is not None else channel
    _append(conn, cid, [ComplaintHistoryEntry(None, "status", opened.value, at, by, None, due_at=due)])
    if audit is not None:
        _audit(conn, audit, "complaint.create", cid, msisdn, at)
    return get_complaint(conn, cid, policy=policy)


def move_complaint(
    conn: Connection,
    complaint_id: str,
    to: ComplaintStatus | str,
    *,
    at: datetime,
    audit: AuditAs,
    note: str | None = None,
    refund: str | None = None,
    policy: SlaPolicy = DEFAULT_SLA,
) -> ComplaintRecord:
    """One lifecycle move (acknowledged, resolved, closed, reopened). A move the lifecycle does not allow
    (a closed complaint can only be reopened) is a ConflictError naming both statuses. ``refund``: the
    adjustment that settles a resolution (only with ``resolved``). A reopening starts a new term: a
    resolution deadline counted from ``at`` under ``policy`` (the operator's setting) and escalation level
    0; its event records the new deadline, and the deadline and level it replaced."""
    target = ComplaintStatus(to)
    if target is ComplaintStatus.OPENED:
        raise ConflictError(f"complaint {complaint_id} exists: it can be reopened, not opened",
                            details={"to": target.value})
    if refund is not None and target is not ComplaintStatus.RESOLVED:
        raise InvalidInputError([Problem("complaint", None, "refund", "a refund settles a resolution only")], what="complaint")
    row = _row(conn, complaint_id, lock=True)
    before = _record(row, _stored_events(conn, [complaint_id])[complaint_id], policy)
    after = transition(before.lifecycle(), target, at=at, by=audit.actor, note=note)  # the rules live in care
    if refund is not None:
        _check_link(conn, Adjustment, "adjustment_id", refund, row.msisdn)
    values: dict[str, Any] = {"lifecycle": target.value, "status": store_status(target), "closed_at": after.resolved_at}
    note_kept = _keep_note(conn, after.events[-1].note, audit)  # masked by care, its numbers kept apart
    event = ComplaintHistoryEntry(None, "status", target.value, at, audit.actor, note_kept)
    if target is ComplaintStatus.REOPENED:
        values["due_at"] = resolve_due(row.category, at, policy)
        values["escalation_level"] = 0
        event = replace(event, due_at=values["due_at"], previous_due_at=before.due_at,
                        previous_escalation_level=before.escalation_level)
    elif row.due_at is None:
        values["due_at"] = before.due_at
    _append(conn, complaint_id, [*_implied(before.history), event])
    if refund is not None:
        values["adjustment_id"] = refund
    t = table_of(Complaint)
    conn.execute(update(t).where(t.c.complaint_id == complaint_id).values(**values))
    _audit(conn, audit, f"complaint.{_VERBS[target]}", complaint_id, row.msisdn, at)
    return get_complaint(conn, complaint_id, policy=policy)


def escalate_overdue(
    conn: Connection, *, now: datetime, audit: AuditAs, policy: SlaPolicy = DEFAULT_SLA
) -> list[EscalatedComplaint]:
    """Raise every unsettled complaint to the escalation level its deadlines call for at ``now``: one
    ``escalation`` event per level gained (supervisor, then manager); a complaint already at that level is
    left alone, so running this again changes nothing. The most urgent first."""
    require_aware(now, "now")
    t = table_of(Complaint)
    rows = conn.execute(select(t).where((t.c.status != "closed") & (t.c.opened_at <= now))
                        .order_by(t.c.opened_at, t.c.complaint_id).with_for_update()).all()
    stored = _stored_events(conn, [r.complaint_id for r in rows])
    out: list[EscalatedComplaint] = []
    for row in rows:
        rec = _record(row, stored[row.complaint_id], policy)
        if rec.status in (ComplaintStatus.RESOLVED.value, ComplaintStatus.CLOSED.value):
            continue
        if rec.history[-1].at > now:  # judged at an instant its own history has passed: not ours to rewrite
            continue
        state = sla_state(rec.lifecycle(), now, policy, due_at=rec.due_at)
        level = int(state.escalation)
        if level <= rec.escalation_level:
            continue
        steps = [ComplaintHistoryEntry(None, "escalation", rec.status, now, audit.actor,
                                       f"escalated to {Escalation(n).name.lower()} (level {n}); resolution due "
                                       f"{rec.due_at.isoformat(timespec='minutes')}")
                 for n in range(rec.escalation_level + 1, level + 1)]
        _append(conn, row.complaint_id, [*_implied(rec.history), *steps])
        conn.execute(update(t).where(t.c.complaint_id == row.complaint_id).values(
            escalation_level=level, lifecycle=rec.status, due_at=rec.due_at))
        _audit(conn, audit, "complaint.escalate", row.complaint_id, row.msisdn, now)
        out.append(EscalatedComplaint(row.complaint_id, rec.status, rec.due_at, rec.escalation_level, level))
    return sorted(out, key=lambda e: (-e.to_level, e.due_at, e.complaint_id))


# -- the indicators' view -----------------------------------------------------------------------------------
def complaint_facts(
    conn: Connection, *, start: datetime | None = None, end: datetime | None = None, policy: SlaPolicy = DEFAULT_SLA
) -> list[ComplaintFact]:
    """The complaints a period [start, end) is about, for ``fairtel.kpi``: those opened in it and those
    reopened in it, each once, with its resolution terms (each term's deadline as its history records it);
    every complaint when both bounds are None. Give the facts to ``kpi.compute_kpis`` (or ``complaint_rates``
    and ``sla_attainment``) with the same ``start`` and ``end``: a complaint counts in the per-million rate
    of the period it was opened, and each term in the SLA attainment of the period it began."""
    t, e = table_of(Complaint), table_of(ComplaintEventRow)
    chosen: ColumnElement[bool] = true()
    if start is not None or end is not None:
        opened: list[ColumnElement[bool]] = []
        reopened = [e.c.kind == "status", e.c.status == ComplaintStatus.REOPENED.value]
        if start is not None:
            require_aware(start, "start")
            opened.append(t.c.opened_at >= start)
            reopened.append(e.c.at >= start)
        if end is not None:
            require_aware(end, "end")
            opened.append(t.c.opened_at < end)
            reopened.append(e.c.at < end)
        chosen = or_(and_(*opened), t.c.complaint_id.in_(select(e.c.complaint_id).where(*reopened)))
    rows = conn.execute(select(t).where(chosen).order_by(t.c.opened_at, t.c.complaint_id)).all()
    stored = _stored_events(conn, select(t.c.complaint_id).where(chosen))  # a query, not a list of every id
    out: list[ComplaintFact] = []
    for row in rows:
        events = stored.get(row.complaint_id, [])
        rec = _record(row, events, policy)
        # imported as it stood, with no outcome, and not moved since: whether it was settled in time is not known
        unknown = row.closed_at is None and bool(events) and all(e.actor == IMPORT_ACTOR for e in events)
        out.append(ComplaintFact(rec.complaint_id, rec.category, rec.channel, rec.opened_at, rec.closed_at, rec.due_at,
                                 terms=rec.lifecycle().terms(policy), outcome_known=not unknown))
    return out
