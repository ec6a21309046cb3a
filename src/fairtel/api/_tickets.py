"""The agents' side of trouble tickets: the hand-offs and fault reports the assistant opens.

An agent lists the queue (numbers masked until they handle the customer, as on the complaint desk), takes a
ticket, which opens that customer to them under an assignment of kind ``ticket`` (and starts work on an open
one), reads the whole conversation it carries (a page of its turns at a time if asked) led by what the subscriber
asked for first, and resolves or closes it with a note, or notes it without a move. Closing a ticket ends the
assignments resting on it (the customer is no longer open through it), as closing a complaint does. Notes are
entries of their own (who, when, the move), for agents only: a subscriber sees their own tickets, never the notes.
Analysts, fraud analysts and admins see the queue through pseudonyms, never the words. Every read, move and note is
audited with the subscribers it names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from fairtel.api._access import OWN_DATA, Access
from fairtel.api._cases import end_assignments, refusals_about, shown_text, ticket_subject
from fairtel.api._paging import Page, fetch_page
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from fairtel.privacy import Permission, Role, hide_identity_numbers
from fairtel.store import AgentAssignment
from fairtel.store._care import (
    HANDOFF,
    NOTE_MAX,
    TICKET_UNSETTLED,
    TicketNoteEntry,
    add_ticket_note,
    move_ticket,
    ticket_notes,
    ticket_text,
)
from fairtel.store._schema import TroubleTicket, table_of

TICKET = "ticket"  # the kind of assignment taking a ticket starts
QUEUE = "ticket queue"


class TicketOut(BaseModel):
    ticket_id: str
    msisdn: str | None = Field(description="Plain to its subscriber and to the agent handling them, masked to other agents, "
                                           "a pseudonym to other staff.")
    kind: str = Field(description="handoff (the subscriber asked for a person in chat) or fault (a fault report).")
    category: str
    priority: int = Field(description="1 urgent (no service, no signal), 2 normal.")
    status: str = Field(description="open, in_progress, resolved or closed.")
    region: str | None
    opened_at: datetime
    resolved_at: datetime | None
    conversation_id: str | None = Field(description="The chat it came from.")
    reported: str | None = Field(description="What the subscriber reported (a fault's description): to the subscriber and the "
                                             "agent handling them only.")
    asked_first: str | None = Field(None, description="A hand-off's: what the subscriber asked for first in the conversation "
                                                      "(to the subscriber and the agent handling them only).")
    first_intent: str | None = Field(None, description="A hand-off's: the intent the assistant took that first request for "
                                                       "(bill_inquiry, charge_explain, ...), when it recorded one.")


class TurnOut(BaseModel):
    who: str = Field(description="subscriber or assistant")
    text: str


class NoteOut(BaseModel):
    note_id: int
    status: str | None = Field(description="The status the move it came with left the ticket in (in_progress, resolved, "
                                           "closed); null for a note made without a move.")
    by: str = Field(description="The agent who wrote it.")
    at: datetime
    note: str


class TranscriptOut(BaseModel):
    ticket: TicketOut
    turns: list[TurnOut] = Field(description="The conversation the hand-off carries, oldest first, from turn `turns_from` "
                                             "(empty for a fault report, whose words are in `ticket.reported`).")
    turn_count: int = Field(description="How many turns the conversation has in all.")
    turns_from: int = Field(description="The index (from 0) of the first turn in `turns`.")
    next_turns_from: int | None = Field(description="Where the next page of turns starts; null on the last.")
    notes: list[NoteOut] = Field(description="What agents wrote on it, each move and each note, oldest first: agents only.")


class TicketNote(BaseModel):
    note: str | None = Field(None, max_length=NOTE_MAX, description="What was done.")


class TicketNoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=NOTE_MAX, description="What the agent notes (for the agents only).")


def _kind(category: str) -> str:
    return "handoff" if category == HANDOFF else "fault"


def _ticket_out(acc: Access, r: Any) -> TicketOut:
    sees_words = r.msisdn is not None and (
        (acc.role is Role.SUBSCRIBER and r.msisdn == acc.principal.msisdn) or (acc.role is Role.AGENT and r.msisdn in acc.assignments()))
    text = ticket_text(hide_identity_numbers(r.summary or ""), r.category)  # ID and card numbers never shown
    return TicketOut(
        ticket_id=r.ticket_id, msisdn=acc.show(r.msisdn), kind=_kind(r.category), category=r.category, priority=r.priority,
        status=r.status, region=r.region, opened_at=r.opened_at, resolved_at=r.resolved_at, conversation_id=text.conversation_id,
        reported=(text.reported or None) if sees_words else None, asked_first=text.asked_first if sees_words else None,
        first_intent=text.first_intent,
    )


def _row(acc: Access, ticket_id: str) -> Any:
    t = table_of(TroubleTicket)
    r = acc.conn.execute(select(t).where(t.c.ticket_id == ticket_id)).first()
    if r is None:
        raise NotFoundError(f"no ticket {ticket_id}")
    return r


def list_tickets(
    acc: Access, *, status: str | None = None, kind: str | None = None, unsettled: bool = False, limit: int = 50,
    cursor: str | None = None,
) -> Page[TicketOut]:
    """The queue, urgent first, then oldest first (a subscriber: their own tickets, newest first). ``unsettled``:
    open and in-progress tickets only."""
    t = table_of(TroubleTicket)
    if acc.role is Role.SUBSCRIBER:
        q = select(t).where(t.c.msisdn == acc.own_msisdn()).order_by(t.c.opened_at.desc(), t.c.ticket_id)
        reason = OWN_DATA
    else:
        acc.require(Permission.COMPLAINT_WRITE, Permission.AGGREGATE_READ)
        q = select(t).order_by(t.c.priority, t.c.opened_at, t.c.ticket_id)
        reason = QUEUE
    if status:
        q = q.where(t.c.status == status)
    if unsettled:
        q = q.where(t.c.status.in_(TICKET_UNSETTLED))
    if kind:
        q = q.where(t.c.category == HANDOFF) if kind == "handoff" else q.where(t.c.category != HANDOFF)
    rows, nxt = fetch_page(acc.conn, q, limit=limit, cursor=cursor)
    acc.audit_list("ticket.list", "tickets", [acc.principal.msisdn, *(r.msisdn for r in rows)], reason=reason)
    return Page(items=[_ticket_out(acc, r) for r in rows], next_cursor=nxt)


class AssignmentOut(BaseModel):
    assignment_id: str
    msisdn: str
    reference_kind: str
    reference_id: str
    started_at: datetime
    expires_at: datetime
    ticket: TicketOut


def take_ticket(acc: Access, ticket_id: str) -> AssignmentOut:
    """An agent takes a ticket: from now until the assignment expires they may open that customer's data and
    read the conversation. Taking an open ticket starts work on it (in progress); a closed one is refused."""
    acc.require(Permission.COMPLAINT_WRITE)
    r = _row(acc, ticket_id)
    if r.status == "closed":
        raise ConflictError(f"ticket {ticket_id} is closed", details={"from": r.status})
    if r.msisdn is None:
        raise ConflictError(f"ticket {ticket_id} names no line: there is no customer to open")
    aid = acc.assign(r.msisdn, kind=TICKET, reference_id=ticket_id)
    if r.status == "open":
        move_ticket(acc.conn, ticket_id, "in_progress", at=acc.now, actor=acc.actor)
    acc.audit("ticket.take", f"ticket/{ticket_id}", msisdn=r.msisdn, reason=f"{TICKET} {ticket_id}")
    a = table_of(AgentAssignment)
    row = acc.conn.execute(select(a).where(a.c.assignment_id == aid)).one()
    return AssignmentOut(assignment_id=aid, msisdn=acc.show(row.msisdn) or "", reference_kind=row.reference_kind,
                         reference_id=row.reference_id, started_at=row.started_at, expires_at=row.expires_at,
                         ticket=_ticket_out(acc, _row(acc, ticket_id)))


def _handled(acc: Access, ticket_id: str) -> tuple[Any, str]:
    """A ticket the agent may read and move: they handle its customer (``open_subject``: the refusal is audited).
    A role that may not read customers is refused naming the ticket's subscriber too (``refusals_about``), on the
    console's ticket page as on the API's routes."""
    with refusals_about(acc, ticket_subject, ticket_id):
        acc.require(Permission.CUSTOMER_READ)
    r = _row(acc, ticket_id)
    if r.msisdn is None:
        raise ConflictError(f"ticket {ticket_id} names no line")
    return r, acc.open_subject(r.msisdn)


def ticket_transcript(acc: Access, ticket_id: str, *, turns_from: int = 0, turns_limit: int | None = None) -> TranscriptOut:
    """The conversation a ticket carries, whole (or ``turns_limit`` turns from ``turns_from``), and the agents' notes:
    the agent handling its customer only (audited)."""
    if turns_from < 0 or (turns_limit is not None and turns_limit < 1):
        raise InvalidInputError([Problem("request", None, "turns_from" if turns_from < 0 else "turns_limit",
                                         "at least 0" if turns_from < 0 else "at least 1")], what="ticket")
    r, why = _handled(acc, ticket_id)
    text = ticket_text(hide_identity_numbers(r.summary or ""), r.category)  # ID and card numbers never shown
    acc.audit("ticket.transcript", f"ticket/{ticket_id}", msisdn=r.msisdn, reason=why)
    end = len(text.turns) if turns_limit is None else min(len(text.turns), turns_from + turns_limit)
    return TranscriptOut(
        ticket=_ticket_out(acc, r),
        turns=[TurnOut(who="subscriber" if t.who == "user" else "assistant", text=t.text) for t in text.turns[turns_from:end]],
        turn_count=len(text.turns), turns_from=turns_from, next_turns_from=end if end < len(text.turns) else None,
        notes=[_note_out(acc, n) for n in ticket_notes(acc.conn, ticket_id)],
    )


def _note_out(acc: Access, n: TicketNoteEntry) -> NoteOut:
    return NoteOut(note_id=n.note_id, status=n.status, by=acc.login_name(n.author) or "", at=n.noted_at,
                   note=shown_text(acc, n.note) or "")  # a third party's number masked, ID and card numbers never shown


def note_ticket(acc: Access, ticket_id: str, note: str) -> NoteOut:
    """An agent's note on a ticket without moving it: the agent handling its customer only (audited). Kept as an entry
    of its own, beside the moves, for the agents."""
    r, why = _handled(acc, ticket_id)
    entry = add_ticket_note(acc.conn, ticket_id, note, at=acc.now, actor=acc.actor)
    acc.audit("ticket.note", f"ticket/{ticket_id}", msisdn=r.msisdn, reason=why)
    return _note_out(acc, entry)


def resolve_ticket(acc: Access, ticket_id: str, *, note: str | None = None) -> TicketOut:
    return _settle(acc, ticket_id, "resolved", note)


def close_ticket(acc: Access, ticket_id: str, *, note: str | None = None) -> TicketOut:
    """Close a ticket: the assignments resting on it end with it (``end_assignments``), as a closed complaint's do,
    so the customer's data is no longer open through a ticket that is settled."""
    out = _settle(acc, ticket_id, "closed", note)
    if end_assignments(acc, TICKET, ticket_id):
        out = _ticket_out(acc, _row(acc, ticket_id))  # as the closer may see it now
    return out


def _settle(acc: Access, ticket_id: str, to: str, note: str | None) -> TicketOut:
    """Resolve or close a ticket with a note (an entry of the ticket's notes, for the next agent: the subscriber
    sees the status, not the note): the agent handling its customer only. A closed ticket moves no more (409),
    told before whether the caller handles its customer (closing it ended the assignments resting on it), so that
    a move sent again reads as the conflict it is."""
    with refusals_about(acc, ticket_subject, ticket_id):
        acc.require(Permission.CUSTOMER_READ)
    if _row(acc, ticket_id).status == "closed":
        raise ConflictError(f"ticket {ticket_id} is closed: it cannot be {to.replace('_', ' ')}",
                            details={"from": "closed", "to": to})
    r, why = _handled(acc, ticket_id)
    after = move_ticket(acc.conn, ticket_id, to, at=acc.now, actor=acc.actor, note=note)
    acc.audit(f"ticket.{'resolve' if to == 'resolved' else 'close'}", f"ticket/{ticket_id}", msisdn=r.msisdn, reason=why)
    return _ticket_out(acc, after)
