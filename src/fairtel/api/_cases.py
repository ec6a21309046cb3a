"""Work queues: charge-assurance findings, fraud cases, complaints, and the agents' assignments to them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow.parquet as pq
from pydantic import BaseModel, Field
from sqlalchemy import and_, select, update

from fairtel.api._access import OWN_DATA, Access
from fairtel.api._paging import Page, fetch_page, money_text
from fairtel.assurance import Finding, FindingKind, FindingStatus, dismiss, refund
from fairtel.assurance._finding import minor_to_decimal
from fairtel.care import ComplaintStatus, resolve_due, status_from_store
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from fairtel.core.money import Money
from fairtel.privacy import Permission, Role, replace_numbers_in
from fairtel.store import Adjustment as AdjustmentRow
from fairtel.store import (
    AgentAssignment,
    AuditAs,
    Complaint,
    FraudCase,
    Lake,
    Subscriber,
    get_complaint,
    move_complaint,
    open_complaint,
)
from fairtel.store import Finding as FindingRow
from fairtel.store._report import dialect_insert
from fairtel.store._schema import COMPLAINT_LIFECYCLE, COMPLAINT_STATUSES, table_of


def _scrub(acc: Access, value: Any) -> Any:
    """Numbers inside evidence and notes are shown the way the principal may see numbers: in text however they
    are written (``138-0013-8000``), in the keys of evidence, and given as integers."""
    return replace_numbers_in(value, lambda digits: acc.show(digits) or "")


# ---- findings ------------------------------------------------------------------------------------------
class FindingOut(BaseModel):
    finding_id: str
    kind: str
    msisdn: str | None
    subscription_id: str | None
    record_ids: list[str]
    amount: str | None
    currency: str | None
    status: str
    evidence: dict[str, Any]
    detected_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


class Resolve(BaseModel):
    reason: str | None = Field(None, max_length=500)


class AdjustmentOut(BaseModel):
    adjustment_id: str
    kind: str
    amount: str
    currency: str
    reason: str


class ResolutionOut(BaseModel):
    finding: FindingOut
    adjustment: AdjustmentOut | None


def _finding_out(acc: Access, r: Any) -> FindingOut:
    return FindingOut(
        finding_id=r.finding_id, kind=r.kind, msisdn=acc.show(r.msisdn), subscription_id=r.subscription_id,
        record_ids=[_scrub(acc, str(rid)) for rid in r.record_ids or []], amount=money_text(r.amount_minor, r.currency), currency=r.currency,
        status=r.status, evidence=_scrub(acc, dict(r.evidence or {})), detected_at=r.detected_at, resolved_at=r.resolved_at,
        resolved_by=acc.login_name(r.resolved_by), resolution=_scrub(acc, r.resolution),
    )


def list_findings(
    acc: Access, *, status: str | None = None, kind: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[FindingOut]:
    acc.require(Permission.FINDING_READ)
    t = table_of(FindingRow)
    q = select(t).order_by(t.c.detected_at.desc(), t.c.finding_id)
    if status:
        q = q.where(t.c.status == status)
    if kind:
        q = q.where(t.c.kind == kind)
    rows, nxt = fetch_page(acc.conn, q, limit=limit, cursor=cursor)
    acc.audit_list("finding.list", "findings", (r.msisdn for r in rows), reason=f"findings queue ({len(rows)} rows)")
    return Page(items=[_finding_out(acc, r) for r in rows], next_cursor=nxt)


def _finding_row(acc: Access, finding_id: str) -> Any:
    t = table_of(FindingRow)
    r = acc.conn.execute(select(t).where(t.c.finding_id == finding_id)).first()
    if r is None:
        raise NotFoundError(f"no finding {finding_id}")
    return r


def get_finding(acc: Access, finding_id: str) -> FindingOut:
    acc.require(Permission.FINDING_READ)
    r = _finding_row(acc, finding_id)
    acc.audit("finding.read", f"finding/{finding_id}", msisdn=r.msisdn, reason="findings queue")
    return _finding_out(acc, r)


def _as_finding(r: Any) -> Finding:
    try:
        kind = FindingKind(r.kind)
    except ValueError as exc:
        raise ConflictError(f"findings of kind {r.kind} are not resolved through the queue") from exc
    return Finding(
        finding_id=r.finding_id, kind=kind, msisdn=r.msisdn, record_ids=tuple(r.record_ids or ()), subscription_id=r.subscription_id,
        amount=minor_to_decimal(r.amount_minor, r.currency), currency=r.currency, detected_at=r.detected_at, evidence=dict(r.evidence or {}),
        status=FindingStatus(r.status),
    )


def refund_finding(acc: Access, finding_id: str, *, reason: str | None = None) -> ResolutionOut:
    """Resolve with a refund: an adjustment row (append-only) and the finding's resolution."""
    acc.require(Permission.FINDING_RESOLVE)
    r = _finding_row(acc, finding_id)
    adj, res = refund(_as_finding(r), by=acc.actor, reason=reason, now=acc.now)
    minor = Money(adj.amount, adj.currency).to_minor()
    acc.conn.execute(
        table_of(AdjustmentRow).insert().values(
            adjustment_id=adj.adjustment_id, kind="refund", msisdn=adj.msisdn, bill_id=None, finding_id=finding_id, amount_minor=minor,
            currency=adj.currency, reason=adj.reason, created_at=adj.created_at, created_by=adj.created_by,
        )
    )
    _close(acc, finding_id, res.status.value, res.resolved_at, res.resolved_by, f"refunded: {res.reason}")
    acc.audit("finding.refund", f"finding/{finding_id}", msisdn=r.msisdn, reason=res.reason)
    return ResolutionOut(
        finding=_finding_out(acc, _finding_row(acc, finding_id)),
        adjustment=AdjustmentOut(adjustment_id=adj.adjustment_id, kind="refund", amount=str(adj.amount), currency=adj.currency, reason=adj.reason),
    )


def dismiss_finding(acc: Access, finding_id: str, *, reason: str) -> ResolutionOut:
    acc.require(Permission.FINDING_RESOLVE)
    r = _finding_row(acc, finding_id)
    res = dismiss(_as_finding(r), reason=reason or "", by=acc.actor, now=acc.now)
    _close(acc, finding_id, res.status.value, res.resolved_at, res.resolved_by, f"dismissed: {res.reason}")
    acc.audit("finding.dismiss", f"finding/{finding_id}", msisdn=r.msisdn, reason=res.reason)
    return ResolutionOut(finding=_finding_out(acc, _finding_row(acc, finding_id)), adjustment=None)


def _close(acc: Access, finding_id: str, status: str, at: datetime, by: str, resolution: str) -> None:
    t = table_of(FindingRow)
    done = acc.conn.execute(
        update(t)
        .where(t.c.finding_id == finding_id, t.c.status.in_(("open", "confirmed")))
        .values(status=status, resolved_at=at, resolved_by=by, resolution=resolution)
    )
    if done.rowcount != 1:
        raise ConflictError(f"finding {finding_id} was resolved meanwhile")


def sync_findings(conn: Any, lake: Lake) -> int:
    """Findings `fairtel assure` wrote to the lake, added to the work queue (once; the queue keeps their status)."""
    files = lake.files("findings")
    added = 0
    t = table_of(FindingRow)
    for f in files:
        for row in pq.read_table(f).to_pylist():
            evidence = row.get("evidence")
            if isinstance(evidence, str):
                try:
                    evidence = json.loads(evidence)
                except json.JSONDecodeError:
                    evidence = {"text": evidence}
            values = {
                "finding_id": row["finding_id"], "kind": row["kind"], "msisdn": row.get("msisdn"), "subscription_id": row.get("subscription_id"),
                "record_ids": list(row.get("record_ids") or []), "amount_minor": row.get("amount_minor"),
                "currency": row.get("currency") if row.get("amount_minor") is not None else None,
                "status": row.get("status") or "open", "evidence": evidence if isinstance(evidence, dict) else {"value": evidence},
                "detected_at": row["detected_at"], "resolved_at": None, "resolved_by": None, "resolution": None,
            }
            added += conn.execute(dialect_insert(conn, t).values(**values).on_conflict_do_nothing()).rowcount or 0
    return added


# ---- fraud cases ---------------------------------------------------------------------------------------
class FraudCaseOut(BaseModel):
    case_id: str
    detector: str
    msisdn: str
    score: float
    status: str
    evidence: dict[str, Any]
    opened_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class Decision(BaseModel):
    status: str = Field(pattern="^(confirmed|false_alarm)$")


class Reveal(BaseModel):
    reason: str = Field(min_length=5, max_length=500)


class RevealOut(BaseModel):
    case_id: str
    msisdn: str


def _case_out(acc: Access, r: Any) -> FraudCaseOut:
    return FraudCaseOut(
        case_id=r.case_id, detector=r.detector, msisdn=acc.show(r.msisdn) or "", score=float(r.score), status=r.status,
        evidence=_scrub(acc, dict(r.evidence or {})), opened_at=r.opened_at, decided_by=acc.login_name(r.decided_by), decided_at=r.decided_at,
    )


def list_fraud_cases(
    acc: Access, *, status: str | None = None, detector: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[FraudCaseOut]:
    acc.require(Permission.FRAUD_CASE_READ)
    t = table_of(FraudCase)
    q = select(t).order_by(t.c.score.desc(), t.c.case_id)
    if status:
        q = q.where(t.c.status == status)
    if detector:
        q = q.where(t.c.detector == detector)
    rows, nxt = fetch_page(acc.conn, q, limit=limit, cursor=cursor)
    acc.audit_list("fraud_case.list", "fraud_cases", (r.msisdn for r in rows), reason=f"fraud queue ({len(rows)} rows)")
    return Page(items=[_case_out(acc, r) for r in rows], next_cursor=nxt)


def _case_row(acc: Access, case_id: str) -> Any:
    t = table_of(FraudCase)
    r = acc.conn.execute(select(t).where(t.c.case_id == case_id)).first()
    if r is None:
        raise NotFoundError(f"no fraud case {case_id}")
    return r


def decide_fraud_case(acc: Access, case_id: str, status: str) -> FraudCaseOut:
    acc.require(Permission.FRAUD_CASE_DECIDE)
    r = _case_row(acc, case_id)
    if r.status != "open":
        raise ConflictError(f"fraud case {case_id} is already {r.status}")
    t = table_of(FraudCase)
    acc.conn.execute(update(t).where(t.c.case_id == case_id).values(status=status, decided_by=acc.actor, decided_at=acc.now))
    acc.audit("fraud_case.decide", f"fraud_case/{case_id}", msisdn=r.msisdn, reason=status)
    return _case_out(acc, _case_row(acc, case_id))


def reveal_fraud_number(acc: Access, case_id: str, reason: str) -> RevealOut:
    """The plain number of a case (to block it, or call the subscriber): a separate action, always audited with its reason."""
    acc.require(Permission.FRAUD_CASE_DECIDE)
    r = _case_row(acc, case_id)
    acc.audit("fraud_case.reveal_number", f"fraud_case/{case_id}", msisdn=r.msisdn, reason=reason)
    return RevealOut(case_id=case_id, msisdn=r.msisdn)


# ---- complaints and assignments ------------------------------------------------------------------------
# Who moves a complaint: an agent while handling its customer (``open_subject``), or an admin, who supervises
# the desk through pseudonyms (never the words or the plain number). A subscriber files and reads their own
# complaints and may reopen their own resolved one (a closed complaint is reopened by the operator only).
SUPERVISION = "complaint supervision"
SETTLED = (ComplaintStatus.RESOLVED.value, ComplaintStatus.CLOSED.value)


class ComplaintOut(BaseModel):
    complaint_id: str
    msisdn: str
    category: str
    status: str = Field(description="Coarse: open, in_progress or closed (kept for clients predating the lifecycle).")
    lifecycle: str = Field(description="opened, acknowledged, resolved, closed or reopened.")
    channel: str
    opened_at: datetime
    closed_at: datetime | None = Field(description="When last settled (resolved, or closed without a resolution).")
    due_at: datetime = Field(description="The resolution deadline its category set when it was opened.")
    overdue: bool = Field(description="Not settled and past `due_at` at the time of the request.")
    escalation_level: int = Field(description="0 none, 1 supervisor, 2 manager (raised by `fairtel care escalate`).")
    finding_id: str | None
    adjustment_id: str | None = Field(description="The refund that settled it, if any.")
    conversation_id: str | None
    text: str | None = Field(description="The complaint's words: shown to the subscriber and to the agent handling it.")


class NewComplaint(BaseModel):
    category: str = Field(min_length=2, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")
    text: str = Field(min_length=1, max_length=4000)
    msisdn: str | None = Field(None, pattern=r"^\d{7,15}$", description="For agents: the customer's number.")
    channel: str = Field("web", pattern=r"^(web|app|phone|store|chat|email)$")
    finding_id: str | None = Field(None, min_length=1, max_length=40, description="The finding it is about (same line).")


class ResolveComplaint(BaseModel):
    note: str | None = Field(None, max_length=2000, description="What was done.")
    refund: str | None = Field(None, min_length=1, max_length=40, description="The refund adjustment that settles it (same line).")


class ComplaintNote(BaseModel):
    note: str | None = Field(None, max_length=2000)


class ComplaintEventOut(BaseModel):
    seq: int | None = Field(description="null: implied by a status set outside the lifecycle, not written yet.")
    kind: str = Field(description="status or escalation")
    status: str = Field(description="The lifecycle status after the event.")
    at: datetime
    actor: str
    note: str | None
    recorded: bool


class ComplaintHistoryOut(BaseModel):
    complaint: ComplaintOut
    events: list[ComplaintEventOut]


class AssignmentOut(BaseModel):
    assignment_id: str
    msisdn: str
    reference_kind: str
    reference_id: str
    started_at: datetime
    expires_at: datetime


def _lifecycle_of(r: Any) -> str:
    """The lifecycle status of a row, reading a coarse status changed outside the lifecycle as the store does."""
    return status_from_store(r.status, ComplaintStatus(r.lifecycle)).value


def _complaint_out(acc: Access, r: Any) -> ComplaintOut:
    sees_text = acc.role is Role.SUBSCRIBER or r.msisdn in acc.assignments()
    lifecycle = _lifecycle_of(r)
    due = r.due_at if r.due_at is not None else resolve_due(r.category, r.opened_at, acc.sla)
    return ComplaintOut(
        complaint_id=r.complaint_id, msisdn=acc.show(r.msisdn) or "", category=r.category, status=r.status, lifecycle=lifecycle,
        channel=r.channel, opened_at=r.opened_at, closed_at=r.closed_at, due_at=due, overdue=lifecycle not in SETTLED and acc.now > due,
        escalation_level=r.escalation_level, finding_id=r.finding_id, adjustment_id=r.adjustment_id, conversation_id=r.conversation_id,
        text=r.text if sees_text else None,
    )


def _where_lifecycle(t: Any, lifecycle: str) -> Any:
    """Rows whose lifecycle status (as ``_lifecycle_of`` reads it) is ``lifecycle``."""
    if lifecycle == "opened":
        return and_(t.c.status == "open", t.c.lifecycle == "opened")
    if lifecycle == "reopened":
        return and_(t.c.status == "open", t.c.lifecycle != "opened")
    if lifecycle == "acknowledged":
        return t.c.status == "in_progress"
    if lifecycle == "resolved":
        return and_(t.c.status == "closed", t.c.lifecycle == "resolved")
    return and_(t.c.status == "closed", t.c.lifecycle != "resolved")


def list_complaints(
    acc: Access, *, status: str | None = None, lifecycle: str | None = None, category: str | None = None, limit: int = 50, cursor: str | None = None,
) -> Page[ComplaintOut]:
    t = table_of(Complaint)
    q = select(t).order_by(t.c.opened_at.desc(), t.c.complaint_id)
    if acc.role is Role.SUBSCRIBER:
        q = q.where(t.c.msisdn == acc.own_msisdn())
        reason = OWN_DATA
    else:
        acc.require(Permission.COMPLAINT_WRITE, Permission.AGGREGATE_READ)
        reason = "complaint desk"
    if status:
        if status not in COMPLAINT_STATUSES:
            raise InvalidInputError([Problem("query", None, "status", f"one of {', '.join(COMPLAINT_STATUSES)}")], what="request")
        q = q.where(t.c.status == status)
    if lifecycle:
        if lifecycle not in COMPLAINT_LIFECYCLE:
            raise InvalidInputError([Problem("query", None, "lifecycle", f"one of {', '.join(COMPLAINT_LIFECYCLE)}")], what="request")
        q = q.where(_where_lifecycle(t, lifecycle))
    if category:
        q = q.where(t.c.category == category)
    rows, nxt = fetch_page(acc.conn, q, limit=limit, cursor=cursor)
    acc.audit_list("complaint.list", "complaints", [acc.principal.msisdn, *(r.msisdn for r in rows)], reason=reason)
    return Page(items=[_complaint_out(acc, r) for r in rows], next_cursor=nxt)


def file_complaint(acc: Access, body: NewComplaint) -> ComplaintOut:
    """A subscriber complains about their own line; an agent records a customer's complaint (and so handles it).
    The store writes the ``opened`` event; the access is audited here, with the request."""
    if acc.role is Role.SUBSCRIBER:
        msisdn = acc.own_msisdn()
    else:
        acc.require(Permission.COMPLAINT_WRITE)
        if not body.msisdn:
            raise InvalidInputError([Problem("request", None, "msisdn", "the customer's number is required")], what="complaint")
        msisdn = body.msisdn
    if acc.conn.scalar(select(table_of(Subscriber).c.msisdn).where(table_of(Subscriber).c.msisdn == msisdn)) is None:
        raise NotFoundError("no such subscriber")
    links = {"finding_id": body.finding_id} if body.finding_id else None
    rec = open_complaint(acc.conn, msisdn=msisdn, category=body.category, text=body.text, at=acc.now, audit=None,
                         channel=body.channel, links=links, policy=acc.sla)
    acc.audit("complaint.create", f"complaint/{rec.complaint_id}", msisdn=msisdn,
              reason=OWN_DATA if acc.role is Role.SUBSCRIBER else "recorded by agent")
    if acc.role is Role.AGENT:
        acc.assign(msisdn, kind="complaint", reference_id=rec.complaint_id)
    return _complaint_out(acc, _complaint_row(acc, rec.complaint_id))


def _complaint_row(acc: Access, complaint_id: str) -> Any:
    t = table_of(Complaint)
    r = acc.conn.execute(select(t).where(t.c.complaint_id == complaint_id)).first()
    if r is None:
        raise NotFoundError(f"no complaint {complaint_id}")
    return r


def _audit_as(acc: Access, reason: str) -> AuditAs:
    return AuditAs(acc.actor, acc.role.value, acc.pseudonyms.msisdn, reason=reason)


def _staff_reason(acc: Access, msisdn: str) -> str:
    """Why a member of staff may move this customer's complaint: an agent handling them, or an admin supervising."""
    if acc.role is Role.ADMIN:
        return SUPERVISION
    return acc.open_subject(msisdn)


def _require_staff(acc: Access) -> None:
    if acc.role is not Role.ADMIN:
        acc.require(Permission.COMPLAINT_WRITE)


def _move(acc: Access, r: Any, to: ComplaintStatus, reason: str, *, note: str | None = None, refund: str | None = None) -> ComplaintOut:
    move_complaint(acc.conn, r.complaint_id, to, at=acc.now, audit=_audit_as(acc, reason), note=note or None, refund=refund,
                   policy=acc.sla)
    return _complaint_out(acc, _complaint_row(acc, r.complaint_id))


def take_complaint(acc: Access, complaint_id: str) -> AssignmentOut:
    """An agent takes a complaint: from now until the assignment expires they may open that customer's data.
    Taking an opened or reopened complaint acknowledges it."""
    acc.require(Permission.COMPLAINT_WRITE)
    r = _complaint_row(acc, complaint_id)
    lifecycle = _lifecycle_of(r)
    if lifecycle == ComplaintStatus.CLOSED.value:
        raise ConflictError(f"complaint {complaint_id} is closed: reopen it first", details={"from": lifecycle})
    aid = acc.assign(r.msisdn, kind="complaint", reference_id=complaint_id)
    if lifecycle in (ComplaintStatus.OPENED.value, ComplaintStatus.REOPENED.value):
        move_complaint(acc.conn, complaint_id, ComplaintStatus.ACKNOWLEDGED, at=acc.now, audit=_audit_as(acc, f"complaint {complaint_id}"),
                       policy=acc.sla)
    return _assignment(acc, aid)


def resolve_complaint(acc: Access, complaint_id: str, *, note: str | None = None, refund: str | None = None) -> ComplaintOut:
    """Settle a complaint, with what was done and, if it was refunded, the refund adjustment."""
    _require_staff(acc)
    r = _complaint_row(acc, complaint_id)
    return _move(acc, r, ComplaintStatus.RESOLVED, _staff_reason(acc, r.msisdn), note=note, refund=refund)


def close_complaint(acc: Access, complaint_id: str, *, note: str | None = None) -> ComplaintOut:
    _require_staff(acc)
    r = _complaint_row(acc, complaint_id)
    return _move(acc, r, ComplaintStatus.CLOSED, _staff_reason(acc, r.msisdn), note=note)


def reopen_complaint(acc: Access, complaint_id: str, *, note: str | None = None) -> ComplaintOut:
    """Staff reopen a resolved or closed complaint; a subscriber reopens their own resolved one (not satisfied)."""
    if acc.role is Role.SUBSCRIBER:
        r = _own_complaint_row(acc, complaint_id)
        if _lifecycle_of(r) != ComplaintStatus.RESOLVED.value:
            raise ConflictError(f"complaint {complaint_id} is {_lifecycle_of(r)}: a subscriber reopens a resolved complaint only",
                                details={"from": _lifecycle_of(r), "to": ComplaintStatus.REOPENED.value})
        return _move(acc, r, ComplaintStatus.REOPENED, OWN_DATA, note=note)
    _require_staff(acc)
    r = _complaint_row(acc, complaint_id)
    return _move(acc, r, ComplaintStatus.REOPENED, _staff_reason(acc, r.msisdn), note=note)


def _own_complaint_row(acc: Access, complaint_id: str) -> Any:
    """A subscriber's own complaint; another line's is not found (its existence is not confirmed)."""
    r = _complaint_row(acc, complaint_id)
    if r.msisdn != acc.own_msisdn():
        raise NotFoundError(f"no complaint {complaint_id}")
    return r


def complaint_history(acc: Access, complaint_id: str) -> ComplaintHistoryOut:
    """A complaint and its events, oldest first: its subscriber, the agent handling it, or an admin (numbers in
    notes shown as the reader may see numbers)."""
    if acc.role is Role.SUBSCRIBER:
        r = _own_complaint_row(acc, complaint_id)
        reason = OWN_DATA
    else:
        _require_staff(acc)
        r = _complaint_row(acc, complaint_id)
        reason = _staff_reason(acc, r.msisdn)
    rec = get_complaint(acc.conn, complaint_id, policy=acc.sla)
    acc.audit("complaint.history", f"complaint/{complaint_id}", msisdn=r.msisdn, reason=reason)
    events = [ComplaintEventOut(seq=e.seq, kind=e.kind, status=e.status, at=e.at, actor=acc.login_name(e.actor) or "", note=_scrub(acc, e.note),
                                recorded=e.recorded) for e in rec.history]
    return ComplaintHistoryOut(complaint=_complaint_out(acc, r), events=events)


def _assignment(acc: Access, assignment_id: str) -> AssignmentOut:
    t = table_of(AgentAssignment)
    r = acc.conn.execute(select(t).where(t.c.assignment_id == assignment_id)).first()
    if r is None:
        raise NotFoundError(f"no assignment {assignment_id}")
    return AssignmentOut(
        assignment_id=r.assignment_id, msisdn=acc.show(r.msisdn) or "", reference_kind=r.reference_kind, reference_id=r.reference_id,
        started_at=r.started_at, expires_at=r.expires_at,
    )


def my_assignments(acc: Access) -> list[AssignmentOut]:
    acc.require(Permission.CUSTOMER_READ)
    t = table_of(AgentAssignment)
    rows = acc.conn.execute(
        select(t.c.assignment_id, t.c.msisdn)
        .where(t.c.agent == acc.principal.username, t.c.expires_at > acc.now, t.c.released_at.is_(None))
        .order_by(t.c.started_at.desc())
    ).all()
    # the numbers of the customers handled: a read of personal data like any list, audited per subscriber
    acc.audit_list("assignment.list", "assignments", [r.msisdn for r in rows], reason="the agent's own assignments")
    return [_assignment(acc, r.assignment_id) for r in rows]


def release_assignment(acc: Access, assignment_id: str) -> None:
    acc.require(Permission.CUSTOMER_READ)
    acc.release(assignment_id)
