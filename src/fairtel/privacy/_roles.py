from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SUBSCRIBER = "subscriber"
    AGENT = "agent"
    ANALYST = "analyst"
    FRAUD_ANALYST = "fraud_analyst"
    ADMIN = "admin"


class Permission(StrEnum):
    OWN_LINES_READ = "own_lines.read"  # a subscriber's own bills, usage, subscriptions
    OWN_CONSENT_WRITE = "own_consent.write"  # order, confirm, cancel own subscriptions
    CUSTOMER_READ = "customer.read"  # personal data of a customer, while handling their ticket or chat
    COMPLAINT_WRITE = "complaint.write"
    FINDING_READ = "finding.read"
    FINDING_RESOLVE = "finding.resolve"
    FRAUD_CASE_READ = "fraud_case.read"
    FRAUD_CASE_DECIDE = "fraud_case.decide"
    AGGREGATE_READ = "aggregate.read"  # KPIs, pseudonymised tables
    RETENTION_READ = "retention.read"
    MERCHANT_SUSPEND = "merchant.suspend"
    AUDIT_READ = "audit.read"
    USER_ADMIN = "user.admin"
    CATALOG_WRITE = "catalog.write"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.SUBSCRIBER: frozenset({Permission.OWN_LINES_READ, Permission.OWN_CONSENT_WRITE}),
    Role.AGENT: frozenset(
        {Permission.CUSTOMER_READ, Permission.COMPLAINT_WRITE, Permission.FINDING_READ, Permission.FINDING_RESOLVE}
    ),
    Role.ANALYST: frozenset(
        {Permission.AGGREGATE_READ, Permission.FINDING_READ, Permission.RETENTION_READ, Permission.MERCHANT_SUSPEND}
    ),
    Role.FRAUD_ANALYST: frozenset(
        {Permission.AGGREGATE_READ, Permission.FRAUD_CASE_READ, Permission.FRAUD_CASE_DECIDE}
    ),
    Role.ADMIN: frozenset(
        {Permission.AUDIT_READ, Permission.USER_ADMIN, Permission.CATALOG_WRITE, Permission.AGGREGATE_READ}
    ),
}


def permissions_of(role: Role) -> frozenset[Permission]:
    return _GRANTS[role]


def can(role: Role, permission: Permission) -> bool:
    return permission in _GRANTS[role]


class View(StrEnum):
    """How a role sees a subscriber number."""

    PLAIN = "plain"
    MASKED = "masked"
    PSEUDONYM = "pseudonym"


def view_of(role: Role, *, own: bool = False, handling: bool = False) -> View:
    """Subscribers see their own numbers; agents see plain numbers only while handling that customer's
    ticket or chat (masked otherwise); analysts, fraud analysts and admins see pseudonyms. Fraud analysts
    deciding a case open the plain number through a separately audited action, not through this view."""
    if role is Role.SUBSCRIBER:
        return View.PLAIN if own else View.MASKED
    if role is Role.AGENT:
        return View.PLAIN if handling else View.MASKED
    return View.PSEUDONYM
