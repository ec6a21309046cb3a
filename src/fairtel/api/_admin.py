"""Administration: searching the access audit, users and API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select

from fairtel.api._access import Access
from fairtel.api._paging import Page, fetch_page
from fairtel.api._users import UserInfo, create_api_key, create_user, list_users, revoke_api_key, set_disabled
from fairtel.core.time import require_aware
from fairtel.privacy import Permission
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of


class AuditOut(BaseModel):
    audit_id: int
    at: datetime
    actor: str
    role: str
    action: str
    resource: str
    subject: str | None = Field(description="The subscriber's keyed pseudonym, never the number.")
    reason: str | None
    request_id: str | None


def search_audit(
    acc: Access,
    *,
    actor: str | None = None,
    msisdn: str | None = None,
    subject: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[AuditOut]:
    """Who looked at or changed whose data, newest first. ``msisdn`` is pseudonymised before it is searched; an
    ``actor`` named by a number is searched as the audit records it (its login pseudonym) and as rows written
    before that recorded it, and such names are shown as their pseudonyms."""
    acc.require(Permission.AUDIT_READ)
    t = table_of(AccessAudit)
    q = select(t).order_by(t.c.at.desc(), t.c.audit_id.desc())
    if actor:
        q = q.where(t.c.actor.in_(sorted({actor, acc.pseudonyms.login(actor)})))
    if subject and subject.lstrip("+").isdigit():  # a number given as the subject: searched (and recorded) by its pseudonym
        msisdn = msisdn or subject.lstrip("+")
    if msisdn:
        subject = acc.pseudonyms.msisdn(msisdn)
    if subject:
        q = q.where(t.c.subject_msisdn_pseudonym == subject)
    if action:
        q = q.where(t.c.action.like(action.replace("*", "%")))
    if since:
        q = q.where(t.c.at >= require_aware(since, "since"))
    if until:
        q = q.where(t.c.at < require_aware(until, "until"))
    rows, nxt = fetch_page(acc.conn, q, limit=limit, cursor=cursor)
    # a search by a subscriber is a look at that subscriber: it is recorded with their pseudonym
    acc.audit("audit.search", "access_audit", subject=subject or None, reason=f"audit search ({len(rows)} rows)")
    return Page(
        items=[
            AuditOut(
                audit_id=r.audit_id, at=r.at, actor=acc.login_name(r.actor) or "", role=r.role, action=r.action, resource=r.resource,
                subject=r.subject_msisdn_pseudonym, reason=r.reason, request_id=r.request_id,
            )
            for r in rows
        ],
        next_cursor=nxt,
    )


class UserOut(BaseModel):
    username: str
    role: str
    msisdn: str | None
    disabled: bool
    created_at: datetime


class NewUser(BaseModel):
    username: str = Field(min_length=2, max_length=63)
    password: str = Field(min_length=10, max_length=256)
    role: str = Field(pattern="^(subscriber|agent|analyst|fraud_analyst|admin)$")
    msisdn: str | None = Field(None, pattern=r"^\d{7,15}$")


class NewApiKey(BaseModel):
    label: str | None = Field(None, max_length=200)


class ApiKeyOut(BaseModel):
    key_id: str
    key: str = Field(description="Shown once: only its hash is kept.")


def _user_out(acc: Access, u: UserInfo) -> UserOut:
    return UserOut(username=u.username, role=u.role.value, msisdn=acc.show(u.msisdn), disabled=u.disabled, created_at=u.created_at)


def users(acc: Access) -> list[UserOut]:
    acc.require(Permission.USER_ADMIN)
    found = list_users(acc.conn)
    acc.audit_list("user.list", "users", (u.msisdn for u in found), reason="user administration")
    return [_user_out(acc, u) for u in found]


def add_user(acc: Access, body: NewUser) -> UserOut:
    acc.require(Permission.USER_ADMIN)
    u = create_user(acc.conn, body.username, body.password, body.role, msisdn=body.msisdn)
    acc.audit("user.create", f"user/{u.username}", msisdn=u.msisdn, reason=f"role {u.role.value}")
    return _user_out(acc, u)


def disable_user(acc: Access, username: str, disabled: bool = True) -> None:
    acc.require(Permission.USER_ADMIN)
    set_disabled(acc.conn, username, disabled)
    acc.audit("user.disable" if disabled else "user.enable", f"user/{acc.pseudonyms.login(username)}", reason="user administration")


def add_api_key(acc: Access, username: str, body: NewApiKey) -> ApiKeyOut:
    acc.require(Permission.USER_ADMIN)
    key_id, key = create_api_key(acc.conn, username, label=body.label)
    acc.audit("api_key.create", f"api_key/{key_id}", reason=f"for {acc.pseudonyms.login(username)}")
    return ApiKeyOut(key_id=key_id, key=key)


def drop_api_key(acc: Access, key_id: str) -> None:
    acc.require(Permission.USER_ADMIN)
    revoke_api_key(acc.conn, key_id)
    acc.audit("api_key.revoke", f"api_key/{key_id}", reason="user administration")
