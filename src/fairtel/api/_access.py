"""Who may see whose data, decided and recorded in one place for the API and the console alike.

``Access`` is made once per request. Every service function asks it first (``require``, ``open_subject``),
shows numbers through it (``show``: plain, masked or pseudonym by role) and records what was read or changed
in the access audit (``audit``), in the same transaction as the read or change itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from fairtel.api._errors import NoAssignmentError
from fairtel.api._security import Principal
from fairtel.core.errors import NotFoundError, PermissionDeniedError
from fairtel.core.ids import new_id
from fairtel.core.time import utc_now
from fairtel.privacy import Permission, Pseudonymizer, Role, can, mask_msisdn, view_of
from fairtel.privacy._roles import View
from fairtel.store import AgentAssignment, record_access
from fairtel.store._schema import table_of

OWN_DATA = "own data"
DEFAULT_ASSIGNMENT_TTL = timedelta(hours=2)


class Pseudonyms:
    """The keyed pseudonyms of numbers and customer ids, memoised (the same few numbers recur)."""

    def __init__(self, key: str) -> None:
        self._msisdn = Pseudonymizer(key, domain="msisdn")
        self._customer = Pseudonymizer(key, domain="customer")
        self.msisdn = lru_cache(maxsize=65536)(self._msisdn.__call__)
        self.customer = lru_cache(maxsize=65536)(self._customer.__call__)


@dataclass
class Access:
    principal: Principal
    conn: Connection
    pseudonyms: Pseudonyms
    request_id: str | None = None
    now: datetime = field(default_factory=utc_now)
    _assigned: dict[str, str] | None = field(default=None, repr=False)

    @property
    def role(self) -> Role:
        return self.principal.role

    def require(self, *permissions: Permission) -> None:
        """Allowed when the role holds any one of ``permissions``."""
        if not any(can(self.role, p) for p in permissions):
            wanted = " or ".join(p.value for p in permissions)
            raise PermissionDeniedError(f"role {self.role.value} may not do this (needs {wanted})", details={"needs": [p.value for p in permissions]})

    # --- subjects ----------------------------------------------------------------------------------------
    def assignments(self) -> dict[str, str]:
        """The agent's live assignments: msisdn → why (e.g. ``complaint cmp_…``)."""
        if self._assigned is None:
            self._assigned = {}
            if self.role is Role.AGENT:
                t = table_of(AgentAssignment)
                rows = self.conn.execute(
                    select(t.c.msisdn, t.c.reference_kind, t.c.reference_id)
                    .where(t.c.agent == self.principal.username, t.c.expires_at > self.now, t.c.released_at.is_(None))
                    .order_by(t.c.started_at)
                )
                for r in rows:
                    self._assigned[r.msisdn] = f"{r.reference_kind} {r.reference_id}"
        return self._assigned

    def open_subject(self, msisdn: str) -> str:
        """Check that the principal may see this subscriber's personal data; returns why (for the audit).

        A subscriber may open only their own line, an agent only a customer whose case they are handling;
        other roles never open a subscriber's plain data."""
        if self.role is Role.SUBSCRIBER:
            if self.principal.msisdn != msisdn:
                raise PermissionDeniedError("a subscriber sees only their own data")
            return OWN_DATA
        if self.role is Role.AGENT:
            reason = self.assignments().get(msisdn)
            if reason is None:
                raise NoAssignmentError("open the customer's complaint, ticket or chat first: agents see a customer's data only while handling it")
            return reason
        raise PermissionDeniedError(f"role {self.role.value} sees subscribers only through pseudonyms")

    def own_msisdn(self) -> str:
        if self.role is not Role.SUBSCRIBER or not self.principal.msisdn:
            raise PermissionDeniedError("only a subscriber login has its own line")
        return self.principal.msisdn

    def view(self, msisdn: str) -> View:
        if self.role is Role.SUBSCRIBER:
            return view_of(self.role, own=self.principal.msisdn == msisdn)
        return view_of(self.role, handling=msisdn in self.assignments())

    def show(self, msisdn: str | None) -> str | None:
        """A number as this principal may see it."""
        if msisdn is None:
            return None
        v = self.view(msisdn)
        if v is View.PLAIN:
            return msisdn
        if v is View.MASKED:
            return mask_msisdn(msisdn)
        return self.pseudonyms.msisdn(msisdn)

    def show_customer(self, customer_id: str, msisdn: str) -> str:
        return customer_id if self.view(msisdn) is View.PLAIN else self.pseudonyms.customer(customer_id)

    # --- audit -------------------------------------------------------------------------------------------
    def audit(self, action: str, resource: str, *, msisdn: str | None = None, reason: str | None = None) -> None:
        record_access(
            self.conn,
            actor=self.principal.username,
            role=self.role.value,
            action=action,
            resource=resource[:255],
            subject_msisdn_pseudonym=None if msisdn is None else self.pseudonyms.msisdn(msisdn),
            reason=reason,
            request_id=self.request_id,
            at=self.now,
        )

    # --- assignments -------------------------------------------------------------------------------------
    def assign(self, msisdn: str, *, kind: str, reference_id: str, ttl: timedelta = DEFAULT_ASSIGNMENT_TTL) -> str:
        """Record that this agent handles ``msisdn``'s case until ``now + ttl``; returns the assignment id."""
        if self.role is not Role.AGENT:
            raise PermissionDeniedError("only agents take customer cases")
        assignment_id = new_id("asg")
        self.conn.execute(
            table_of(AgentAssignment).insert().values(
                assignment_id=assignment_id,
                agent=self.principal.username,
                msisdn=msisdn,
                reference_kind=kind,
                reference_id=reference_id,
                started_at=self.now,
                expires_at=self.now + ttl,
                released_at=None,
            )
        )
        self._assigned = None
        self.audit("assignment.start", f"{kind}/{reference_id}", msisdn=msisdn, reason=f"{kind} {reference_id}")
        return assignment_id

    def release(self, assignment_id: str) -> None:
        t = table_of(AgentAssignment)
        row = self.conn.execute(
            select(t.c.msisdn, t.c.reference_kind, t.c.reference_id).where(
                t.c.assignment_id == assignment_id, t.c.agent == self.principal.username, t.c.released_at.is_(None)
            )
        ).first()
        if row is None:
            raise NotFoundError(f"no open assignment {assignment_id} of yours")
        self.conn.execute(update(t).where(t.c.assignment_id == assignment_id).values(released_at=self.now))
        self._assigned = None
        self.audit("assignment.release", f"{row.reference_kind}/{row.reference_id}", msisdn=row.msisdn, reason="released")
