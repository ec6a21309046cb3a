"""Administration: searching the access audit, users and API keys."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import Connection, false, select

from fairtel.api._access import Access
from fairtel.api._paging import Page, fetch_page
from fairtel.api._users import (
    UserInfo,
    active_user,
    create_api_key,
    create_user,
    list_users,
    revoke_api_key,
    set_disabled,
)
from fairtel.core.errors import FairtelError, InvalidInputError, Problem
from fairtel.core.time import require_aware
from fairtel.privacy import Permission
from fairtel.privacy._numbers import MAX_DIGITS, msisdn_problem, number_digits
from fairtel.store import AccessAudit, Subscriber, login_named
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
    """Who looked at or changed whose data, newest first. ``msisdn`` (or a number given as ``subject``), however
    written, is read as the register's number(s) it means (:func:`searched_numbers`: with or without its country
    code, in groups, after ``+``), each pseudonymised before it is searched; an
    ``actor`` named by a number is searched as the audit records it (its login pseudonym) and as rows written
    before that recorded it, and such names are shown as their pseudonyms."""
    acc.require(Permission.AUDIT_READ)
    t = table_of(AccessAudit)
    q = select(t).order_by(t.c.at.desc(), t.c.audit_id.desc())
    if actor:  # as written, as the audit names it, and as a login attempt under a name no login has is kept
        q = q.where(t.c.actor.in_(sorted({actor, acc.pseudonyms.login(actor), acc.pseudonyms.login_keyed(actor)})))
    if not msisdn and subject and _NUMBER_AS_WRITTEN.fullmatch(subject.strip()) and number_digits(subject):
        msisdn = subject  # a number given as the subject (a pseudonym is a letter and 20 characters)
    numbers = searched_numbers(acc.conn, msisdn) if msisdn else []
    subjects = [acc.pseudonyms.msisdn(n) for n in numbers] if msisdn else [subject] if subject else []
    if msisdn or subject:
        q = q.where(t.c.subject_msisdn_pseudonym.in_(subjects) if subjects else false())
    if action:
        q = q.where(t.c.action.like(action.replace("*", "%")))
    if since:
        q = q.where(t.c.at >= require_aware(since, "since"))
    if until:
        q = q.where(t.c.at < require_aware(until, "until"))
    rows, nxt = fetch_page(acc.conn, q, limit=limit, cursor=cursor)
    # a search by a subscriber is a look at that subscriber: it is recorded with their pseudonym (each of them,
    # when the number written could be any of several lines)
    reason = f"audit search ({len(rows)} rows{_searched(acc, actor=actor, action=action, since=since, until=until, cursor=cursor)})"
    if numbers:
        acc.audit_list("audit.search", "access_audit", numbers, reason=reason)
    else:
        acc.audit("audit.search", "access_audit", subject=None if msisdn else subject or None, reason=reason)
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


def _searched(acc: Access, *, actor: str | None, action: str | None, since: datetime | None, until: datetime | None,
              cursor: str | None) -> str:
    """What an audit search asked for besides its subject (kept as the rows' subject): the actor as the audit names
    them (a name holding a number: its pseudonym), the actions, the time range, and whether it was a next page."""
    asked = []
    if actor:
        asked.append(f"actor {acc.pseudonyms.login(actor)[:64]}")
    if action:
        asked.append(f"action {action[:64]}")
    if since:
        asked.append(f"since {since.isoformat()}")
    if until:
        asked.append(f"until {until.isoformat()}")
    if cursor:
        asked.append("a next page")
    return "; " + ", ".join(asked) if asked else ""


# A number as people write it: digits in groups, with spaces or dashes (``138 0013 8000``, ``138-0013-8000``),
# perhaps in brackets or full-width, after a ``+`` or an international ``00``.
_NUMBER_AS_WRITTEN = re.compile(r"[+\uff0b]?[\d \u00a0\u3000()\-\u2010-\u2015\u2212\uff0d]+")
_COUNTRY_CODES = range(1, 1000)  # E.164 country codes: 1 to 3 digits, none starting with 0


def searched_numbers(conn: Connection, written: str) -> list[str]:
    """The subscriber numbers (E.164 digits, as the register keeps them) an audit search by ``written`` means.

    A number written in full (``8613800138000``, ``+86 138 0013 8000``, ``0086 138-0013-8000``) is that number.
    One written as dialled at home (``13800138000``, ``0138 0013 8000`` with a trunk 0) lacks its country code,
    which no setting names: it means the register's lines whose number is a country code followed by it (any
    of them, when lines of several countries end so). A line the register knows by exactly the digits written
    is that line alone; digits no line's number ends in are searched as written (a number the register does not
    hold, a peer's, may still be a subject)."""
    text = written.strip()
    digits = number_digits(text) if _NUMBER_AS_WRITTEN.fullmatch(text) else None
    if digits is None:
        raise InvalidInputError([Problem("request", None, "msisdn", "not a subscriber number: write its digits, "
                                         "from the country code (8613800138000) or as dialled at home (13800138000)")],
                                what="audit search")
    if text[0] in "+\uff0b":  # written from the country code
        return [digits]
    if digits.startswith("00"):  # the international prefix, then the country code
        return [digits[2:]]
    s = table_of(Subscriber)
    exact = [digits] if msisdn_problem(digits) is None else []
    if exact and conn.execute(select(s.c.msisdn).where(s.c.msisdn == digits)).first() is not None:
        return exact
    national = digits.removeprefix("0")  # a trunk prefix is dialled at home only
    candidates = [n for cc in _COUNTRY_CODES if len(n := f"{cc}{national}") <= MAX_DIGITS]
    found = sorted(conn.scalars(select(s.c.msisdn).where(s.c.msisdn.in_(candidates)))) if candidates else []
    return found or exact


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
    """A new login, recorded with the pseudonym of the line a subscriber login names (a search by that subscriber
    finds who gave their line a login). A refused one (a second login for a line that has one, ``create_user``)
    is on record too, with that pseudonym."""
    acc.require(Permission.USER_ADMIN)
    try:
        u = create_user(acc.conn, body.username, body.password, body.role, msisdn=body.msisdn)
    except FairtelError:
        acc.audit("user.create", f"user/{acc.pseudonyms.login(body.username)}", msisdn=body.msisdn, reason=f"role {body.role}")
        raise
    acc.audit("user.create", f"user/{u.username}", msisdn=u.msisdn, reason=f"role {u.role.value}")
    return _user_out(acc, u)


def disable_user(acc: Access, username: str, disabled: bool = True) -> None:
    acc.require(Permission.USER_ADMIN)
    username = login_named(acc.conn, username) or username  # the login the name reaches, as at the login form
    set_disabled(acc.conn, username, disabled)
    acc.audit("user.disable" if disabled else "user.enable", f"user/{acc.pseudonyms.login(username)}", reason="user administration")


def add_api_key(acc: Access, username: str, body: NewApiKey) -> ApiKeyOut:
    """A key for a system acting as ``username``; a subscriber login gets none (``create_api_key``). The row
    carries the pseudonym of the line the login names, if any, the attempt for a subscriber's login included:
    a search by that subscriber finds it."""
    acc.require(Permission.USER_ADMIN)
    username = login_named(acc.conn, username) or username  # the login the name reaches, as at the login form
    owner = active_user(acc.conn, username)
    line = owner.msisdn if owner is not None else None
    reason = f"for {acc.pseudonyms.login(username)}"
    try:
        key_id, key = create_api_key(acc.conn, username, label=body.label)
    except FairtelError:
        acc.audit("api_key.create", f"user/{acc.pseudonyms.login(username)}", msisdn=line, reason=reason)
        raise
    acc.audit("api_key.create", f"api_key/{key_id}", msisdn=line, reason=reason)
    return ApiKeyOut(key_id=key_id, key=key)


def drop_api_key(acc: Access, key_id: str) -> None:
    acc.require(Permission.USER_ADMIN)
    revoke_api_key(acc.conn, key_id)
    acc.audit("api_key.revoke", f"api_key/{key_id}", reason="user administration")
