"""The access audit: who looked at or changed whose data, and why. Append-only; subjects are pseudonyms."""

from __future__ import annotations

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
    """Append one audit entry and return its id. The subject is a ``fairtel.privacy.Pseudonymizer``
    pseudonym; a plain number is refused."""
    subject = subject_msisdn_pseudonym
    if subject is not None and MSISDN_RE.fullmatch(subject.lstrip("+")):
        raise PlainNumberInAuditError("the audit records a subscriber's pseudonym, not the number itself")
    t = table_of(AccessAudit)
    values: dict[str, Any] = {
        "at": require_aware(at) if at is not None else utc_now(),
        "actor": actor,
        "role": str(role),
        "action": action,
        "resource": resource,
        "subject_msisdn_pseudonym": subject,
        "reason": reason,
        "request_id": request_id,
    }
    return int(conn.execute(t.insert().values(**values).returning(t.c.audit_id)).scalar_one())


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
