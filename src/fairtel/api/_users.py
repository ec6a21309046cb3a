"""Users and API keys: made by an admin (or `fairtel users add`), checked on every request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from fairtel.api._errors import LineChangedHandsError, NotAuthenticatedError
from fairtel.api._security import DUMMY_HASH, Principal, api_key_hash, hash_password, new_api_key, verify_password
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from fairtel.core.ids import new_id
from fairtel.core.time import utc_now
from fairtel.privacy import Role, has_number
from fairtel.store import ApiKey, Subscriber, User, login_named
from fairtel.store._report import dialect_insert
from fairtel.store._schema import LineStatusHistory, RevokedToken, table_of

USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,62}")
MIN_PASSWORD = 10
LOGIN_PER_LINE_INDEX = "uq_users_msisdn_subscriber_in_use"  # store._schema.User


@dataclass(frozen=True, slots=True)
class UserInfo:
    username: str
    role: Role
    msisdn: str | None
    disabled: bool
    created_at: datetime


SURROUNDING_SPACE = "a space before or after the name: a login's name is letters, digits or . _ @ - only, with no space"


def create_user(
    conn: Connection, username: str, password: str, role: Role | str, *, msisdn: str | None = None
) -> UserInfo:
    """A new login. A subscriber names their own line (which must exist); other roles name none.

    A name holding a phone number (``13800138000``, ``138-0013-8000``, ``13800138000@mail.example``) is refused:
    the name is recorded in the access audit and shown to analysts beside what its user did (``resolved_by``,
    ``decided_by``), where a number must never be.

    A line has at most one subscriber login in use: a second one bound to a number that has one already is
    refused (409 ``conflict``). Whoever made it could otherwise read that subscriber's bills and usage in clear,
    on record as the subscriber reading their own data (``one_login_per_line``)."""
    problems: list[Problem] = []
    known = _role(role)
    if known is None:
        problems.append(Problem("user", None, "role", f"one of {', '.join(r.value for r in Role)}, not {str(role)!r}"))
    if username != username.strip():  # the login form ignores them; a name holding them is refused (API and CLI)
        problems.append(Problem("user", None, "username", SURROUNDING_SPACE))
    elif not USERNAME_RE.fullmatch(username):
        problems.append(Problem("user", None, "username", "2-63 letters, digits or . _ @ -, starting with a letter or digit"))
    elif has_number(username):
        problems.append(Problem("user", None, "username", "must not hold a phone number (7 or more digits together): "
                                                          "the name is shown in the access audit and the work queues"))
    if len(password) < MIN_PASSWORD:
        problems.append(Problem("user", None, "password", f"at least {MIN_PASSWORD} characters"))
    elif "\x00" in password:  # scrypt would read it only up to the NUL (``verify_password``)
        problems.append(Problem("user", None, "password", "must not hold a NUL character"))
    if known is Role.SUBSCRIBER:
        if not msisdn:
            problems.append(Problem("user", None, "msisdn", "a subscriber login names its own number"))
        elif conn.scalar(select(Subscriber.msisdn).where(Subscriber.msisdn == msisdn)) is None:
            problems.append(Problem("user", None, "msisdn", f"no subscriber {msisdn}"))
    elif msisdn and known is not None:
        problems.append(Problem("user", None, "msisdn", "only subscriber logins name a number"))
    if problems or known is None:
        raise InvalidInputError(problems, what="user")
    role = known
    t = table_of(User)
    if conn.scalar(select(t.c.username).where(t.c.username == username)) is not None:
        raise ConflictError(f"user {username} exists already")
    if role is Role.SUBSCRIBER and msisdn:
        one_login_per_line(conn, msisdn)
    now = utc_now()
    values = {"username": username, "password_hash": hash_password(password), "role": role.value, "msisdn": msisdn,
              "disabled": False, "created_at": now}
    with _one_login_held(conn, username):
        conn.execute(t.insert().values(**values))
    return UserInfo(username, role, msisdn, False, now)


def _role(role: Role | str) -> Role | None:
    """The role named, None when there is no such role."""
    try:
        return Role(role)
    except ValueError:
        return None


def one_login_per_line(conn: Connection, msisdn: str, *, besides: str | None = None) -> None:
    """Refuse a subscriber login for ``msisdn`` (a new one, or ``besides`` enabled again) when the line has one
    in use already (not disabled).

    The line's register row is locked first (``FOR UPDATE``: PostgreSQL holds it until the transaction ends, so
    a second request for the same line waits and then sees the first's login; SQLite's writing transaction holds
    the database already), so two logins made at once for one line are decided one after the other.
    An index holds it too (``_one_login_held``): the partial unique index on ``users (msisdn) WHERE role =
    'subscriber' AND NOT disabled`` refuses a second login in use written by any path (migration 0017); both
    give the same ``conflict``."""
    s, t = table_of(Subscriber), table_of(User)
    conn.execute(select(s.c.msisdn).where(s.c.msisdn == msisdn).with_for_update())
    query = select(t.c.username).where(t.c.role == Role.SUBSCRIBER.value, t.c.msisdn == msisdn, t.c.disabled.is_(False))
    if besides is not None:
        query = query.where(t.c.username != besides)
    if conn.scalar(query.limit(1)) is not None:
        raise _line_has_login()


def _line_has_login() -> ConflictError:
    return ConflictError(
        "this line has a subscriber login already: a line has one login in use, its subscriber's "
        "(disable that one first if the line changed hands)",
        details={"field": "msisdn"},
    )


@contextmanager
def _one_login_held(conn: Connection, username: str) -> Iterator[None]:
    """Write a login inside a savepoint, turning the database's refusal into the error the checks above give: the
    partial unique index on ``users (msisdn) WHERE role = 'subscriber' AND NOT disabled`` (a second login in use
    for one line, written past ``one_login_per_line``) or the primary key (a name taken meanwhile). The savepoint
    keeps the transaction usable (PostgreSQL aborts it on an error), so the refusal can still be audited in it."""
    try:
        with conn.begin_nested():
            yield
    except IntegrityError as exc:
        text = str(exc.orig)
        if LOGIN_PER_LINE_INDEX in text or "users.msisdn" in text:
            raise _line_has_login() from None
        if "pk_users" in text or "users.username" in text:
            raise ConflictError(f"user {username} exists already") from None
        raise


def _login_row(conn: Connection, username: str) -> Any:
    """The login with, for a subscriber's, when their line's current holding began (the register's
    ``activated_at``, and its ``holder_since`` when the line moved to another customer with its activation kept;
    null for a line the register does not hold) and whether the line was in service before it (a status recorded
    from an earlier instant: an earlier holding), in one read."""
    if "\x00" in username:  # no login's name holds one (PostgreSQL could not even compare it): no such login
        return None
    t, s, h = table_of(User), table_of(Subscriber), table_of(LineStatusHistory)
    earlier = exists().where(h.c.msisdn == t.c.msisdn, h.c.since < s.c.activated_at)
    return conn.execute(
        select(t.c.username, t.c.password_hash, t.c.role, t.c.msisdn, t.c.disabled, t.c.created_at,
               s.c.activated_at.label("line_activated_at"), s.c.holder_since.label("line_holder_since"),
               earlier.label("earlier_holding"))
        .select_from(t.outerjoin(s, s.c.msisdn == t.c.msisdn))
        .where(t.c.username == username)
    ).first()


def before_holding(row: Any) -> bool:
    """Whether a subscriber login was made before its line's current activation while the line had an earlier
    holding: the number was closed and activated again since (a new holder, as rating reads a later
    ``activated_at``), so the login is an earlier holder's and opens nothing. A login made at or after the
    activation is the current holder's, and so is one made ahead of a line's first activation (a line the
    register adds with a future ``activated_at`` and no status before it: nobody held it before). A login made
    before the line moved to its current customer (``holder_since``: another customer held it then) is the
    earlier customer's as well."""
    if row.role != Role.SUBSCRIBER.value or row.line_activated_at is None or row.created_at is None:
        return False
    if row.line_holder_since is not None and _utc(row.created_at) < _utc(row.line_holder_since):
        return True
    return bool(_utc(row.created_at) < _utc(row.line_activated_at) and row.earlier_holding)


def _holding_of(row: Any) -> datetime | None:
    """When a subscriber login's holding of its line began (the later of the line's ``activated_at`` and its
    ``holder_since``); None for staff."""
    if row.role != Role.SUBSCRIBER.value or row.line_activated_at is None:
        return None
    since = _utc(row.line_activated_at)
    return since if row.line_holder_since is None else max(since, _utc(row.line_holder_since))


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def line_changed_hands() -> LineChangedHandsError:
    return LineChangedHandsError(
        "this login was made before the line's current activation: the number changed hands (or was closed and "
        "activated again) since, so it no longer opens the line; an administrator must issue a new login to whoever "
        "holds the line now", details={"field": "msisdn"})


def authenticate(conn: Connection, username: str, password: str) -> Principal:
    """Who logs in with ``username`` and ``password``; ``NotAuthenticatedError`` for a wrong name or password or a
    disabled login, ``LineChangedHandsError`` (checked after the password) for a subscriber login made before its
    line's current activation."""
    # a login's name is matched whatever its letter case ("ALICE" reaches "Alice": names are unique so, 0024)
    stored = login_named(conn, username)
    row = None if stored is None else _login_row(conn, stored)
    ok = verify_password(password, row.password_hash if row is not None else DUMMY_HASH)
    if row is None or not ok or row.disabled:
        raise NotAuthenticatedError("wrong username or password")
    if before_holding(row):
        raise line_changed_hands()
    return Principal(row.username, Role(row.role), row.msisdn, via="password", holding_from=_holding_of(row))


def active_user(conn: Connection, username: str) -> Principal | None:
    """The login in use (None: none, or disabled); a subscriber login made before its line's current activation is
    marked so (``Principal.before_holding``): it is refused where it is used (``line_changed_hands``)."""
    row = _login_row(conn, username)
    if row is None or row.disabled:
        return None
    return Principal(row.username, Role(row.role), row.msisdn, before_holding=before_holding(row), holding_from=_holding_of(row))


def list_users(conn: Connection) -> list[UserInfo]:
    t = table_of(User)
    rows = conn.execute(select(t.c.username, t.c.role, t.c.msisdn, t.c.disabled, t.c.created_at).order_by(t.c.username))
    return [UserInfo(r.username, Role(r.role), r.msisdn, r.disabled, r.created_at) for r in rows]


def set_disabled(conn: Connection, username: str, disabled: bool) -> None:
    """Disable or enable a login; a subscriber login is enabled again only while its line has no other in use."""
    t = table_of(User)
    if not disabled:
        row = conn.execute(select(t.c.role, t.c.msisdn).where(t.c.username == username)).first()
        if row is not None and row.role == Role.SUBSCRIBER.value and row.msisdn:
            one_login_per_line(conn, row.msisdn, besides=username)
    with _one_login_held(conn, username):
        changed = conn.execute(update(t).where(t.c.username == username).values(disabled=disabled)).rowcount
    if changed == 0:
        raise NotFoundError(f"no user {username}")


def create_api_key(conn: Connection, username: str, *, label: str | None = None) -> tuple[str, str]:
    """(key_id, key). The key is returned once and only its hash is kept. A key is for a system, acting as a
    staff login: a subscriber login gets none (409 ``conflict``)."""
    user = active_user(conn, username)
    if user is None:
        raise NotFoundError(f"no active user {username}")
    if user.role is Role.SUBSCRIBER:
        raise ConflictError(
            "API keys are for systems, not subscriber logins: a subscriber signs in with their password",
            details={"field": "username", "role": user.role.value},
        )
    key = new_api_key()
    key_id = new_id("key")
    conn.execute(
        table_of(ApiKey).insert().values(
            key_id=key_id, key_hash=api_key_hash(key), username=username, label=label, created_at=utc_now(), revoked_at=None
        )
    )
    return key_id, key


def revoke_api_key(conn: Connection, key_id: str) -> None:
    t = table_of(ApiKey)
    done = conn.execute(update(t).where(t.c.key_id == key_id, t.c.revoked_at.is_(None)).values(revoked_at=utc_now()))
    if done.rowcount == 0:
        raise NotFoundError(f"no live API key {key_id}")


def principal_for_api_key(conn: Connection, key: str) -> Principal:
    """Who a key acts as. A key of a subscriber login (made before such keys were refused) is not valid: a
    subscriber signs in with their password."""
    k, u = table_of(ApiKey), table_of(User)
    row = conn.execute(
        select(u.c.username, u.c.role, u.c.msisdn, u.c.disabled, k.c.key_id)
        .join(k, k.c.username == u.c.username)
        .where(k.c.key_hash == api_key_hash(key), k.c.revoked_at.is_(None))
    ).first()
    if row is None or row.disabled or row.role == Role.SUBSCRIBER.value:
        raise NotAuthenticatedError("the API key is not valid")
    return Principal(row.username, Role(row.role), row.msisdn, via="api_key", key_id=row.key_id)


def revoke_token(conn: Connection, token_id: str, *, username: str, expires_at: datetime) -> None:
    """Record that the token ``token_id`` was ended (logout); tokens past their expiry need no row, so theirs go."""
    t = table_of(RevokedToken)
    now = utc_now()
    conn.execute(
        dialect_insert(conn, t)
        .values(token_id=token_id, username=username, revoked_at=now, expires_at=expires_at)
        .on_conflict_do_nothing()
    )
    conn.execute(delete(t).where(t.c.expires_at <= now))


def revoked_token_ids(conn: Connection, username: str) -> dict[str, datetime]:
    """The user's tokens ended before their expiry and not expired yet: token id → when it expires."""
    t = table_of(RevokedToken)
    rows = conn.execute(select(t.c.token_id, t.c.expires_at).where(t.c.username == username, t.c.expires_at > utc_now()))
    return {r.token_id: r.expires_at for r in rows}
