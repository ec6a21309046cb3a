"""The access audit: who looked at or changed whose data, and why. Append-only; subjects are pseudonyms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from fairtel.core.errors import FairtelError
from fairtel.core.time import require_aware, utc_now
from fairtel.store._report import MSISDN_RE
from fairtel.store._schema import AccessAudit, table_of


class PlainNumberInAuditError(FairtelError):
    """The audit is read by auditors who must not learn numbers from it: pass the keyed pseudonym."""

    code = "audit_plain_number"


@dataclass(frozen=True, slots=True)
class AccessRecord:
    audit_id: int
    at: datetime
    actor: str
    role: str
    action: str
    resource: str
    subject_msisdn_pseudonym: str | None
    reason: str | None
    request_id: str | None


def access_row(
    *,
    actor: str,
    role: str,
    action: str,
    resource: str,
    subject_msisdn_pseudonym: str | None = None,
    reason: str | None = None,
    request_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One audit entry's values, checked: the subject is a ``fairtel.privacy.Pseudonymizer`` pseudonym;
    a plain number is refused."""
    subject = subject_msisdn_pseudonym
    if subject is not None and MSISDN_RE.fullmatch(subject.lstrip("+")):
        raise PlainNumberInAuditError("the audit records a subscriber's pseudonym, not the number itself")
    return {
        "at": require_aware(at) if at is not None else utc_now(),
        "actor": actor,
        "role": str(role),
        "action": action,
        "resource": resource,
        "subject_msisdn_pseudonym": subject,
        "reason": reason,
        "request_id": request_id,
    }


def record_access(
    conn: Connection,
    *,
    actor: str,
    role: str,
    action: str,
    resource: str,
    subject_msisdn_pseudonym: str | None = None,
    reason: str | None = None,
    request_id: str | None = None,
    at: datetime | None = None,
) -> int:
    """Append one audit entry and return its id (see ``access_row``)."""
    values = access_row(
        actor=actor, role=role, action=action, resource=resource, subject_msisdn_pseudonym=subject_msisdn_pseudonym,
        reason=reason, request_id=request_id, at=at,
    )
    t = table_of(AccessAudit)
    return int(conn.execute(t.insert().values(**values).returning(t.c.audit_id)).scalar_one())


def record_accesses(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Append entries made by ``access_row``, in one statement; returns how many."""
    if not rows:
        return 0
    for row in rows:  # rows may come from many callers: check each again
        subject = row.get("subject_msisdn_pseudonym")
        if subject is not None and MSISDN_RE.fullmatch(str(subject).lstrip("+")):
            raise PlainNumberInAuditError("the audit records a subscriber's pseudonym, not the number itself")
    conn.execute(table_of(AccessAudit).insert(), [dict(r) for r in rows])
    return len(rows)


def access_log(
    conn: Connection,
    *,
    actor: str | None = None,
    subject_msisdn_pseudonym: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> list[AccessRecord]:
    """Audit entries, newest first."""
    t = table_of(AccessAudit)
    query = select(t).order_by(t.c.at.desc(), t.c.audit_id.desc()).limit(limit)
    if actor is not None:
        query = query.where(t.c.actor == actor)
    if subject_msisdn_pseudonym is not None:
        query = query.where(t.c.subject_msisdn_pseudonym == subject_msisdn_pseudonym)
    if since is not None:
        query = query.where(t.c.at >= require_aware(since))
    return [AccessRecord(**{f.name: getattr(r, f.name) for f in fields(AccessRecord)}) for r in conn.execute(query)]
