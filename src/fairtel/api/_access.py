"""Who may see whose data, decided and recorded in one place for the API and the console alike.

``Access`` is made once per request. Every service function asks it first (``require``, ``open_subject``),
shows numbers through it (``show``: plain, masked or pseudonym by role) and records what was read or changed
in the access audit (``audit``), in the same transaction as the read or change itself. A request that fails
(refused, nothing found, a conflict) keeps none of its changes but keeps its audit rows, marked failed, and a
refused attempt to open a subscriber is recorded as such (``failure_audit``): probing is on record too.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from fairtel.api._errors import LineChangedHandsError, NoAssignmentError, NotAuthenticatedError, RateLimitedError
from fairtel.api._security import Principal
from fairtel.care import DEFAULT_SLA, SlaPolicy
from fairtel.core.errors import FairtelError, NotFoundError, PermissionDeniedError
from fairtel.core.ids import new_id
from fairtel.core.time import DEMO_TIMEZONE, Period, utc_now
from fairtel.privacy import (
    Permission,
    Pseudonymizer,
    Role,
    can,
    has_number,
    mask_msisdn,
    pseudonymise_numbers,
    view_of,
)
from fairtel.privacy._numbers import e164_of, number_digits, replace_numbers_in_id
from fairtel.privacy._roles import View
from fairtel.store import AgentAssignment, Subscriber, User, access_row, record_accesses
from fairtel.store._schema import table_of

if TYPE_CHECKING:
    from fairtel.api._bills import IssuedBills
    from fairtel.store import Lake

T = TypeVar("T")
OWN_DATA = "own data"
ACCESS_DENIED = "access.denied"
# Refusals worth a row even when no subscriber was named: someone asked for what their role may not see.
_REFUSALS = frozenset({"permission_denied", "assignment_required"})
DEFAULT_ASSIGNMENT_TTL = timedelta(hours=2)
# What ``Pseudonymizer(domain="login")`` makes: "u" and 20 characters of its alphabet. Its digits may read as a
# number, so a name already in this form is not pseudonymised again.
_LOGIN_PSEUDONYM = re.compile(r"u[0-9a-hjkmnp-tv-z]{20}")
# A subscriber number as people write it (as ``_admin`` reads an audit search by number): digits, a leading ``+``,
# spaces, dashes or brackets between groups.
_NUMBER_AS_WRITTEN = re.compile(r"[+\uff0b]?[\d \u00a0\u3000()\-\u2010-\u2015\u2212\uff0d]+")


class Pseudonyms:
    """The keyed pseudonyms of numbers and customer ids, memoised (the same few numbers recur). ``home_country``:
    the operator's home country (``Settings.home_country``), whose numbering plan reads the numbers written as
    dialled at home in free text (``Access.hide_numbers``); ``None``: mainland China's."""

    def __init__(self, key: str, *, home_country: str | None = None) -> None:
        self.home_country = home_country
        self._msisdn = Pseudonymizer(key, domain="msisdn")
        self._customer = Pseudonymizer(key, domain="customer")
        self.msisdn = lru_cache(maxsize=65536)(self._msisdn.__call__)
        self.customer = lru_cache(maxsize=65536)(self._customer.__call__)
        self.msisdn_digest = self._msisdn.digest  # sorts as ``msisdn`` does (a list in pseudonym order)
        self.msisdn_pads = self._msisdn.hmac_pads
        # a ledger id (an adjustment's) as those who do not see the line's number read it: some are derived from the
        # number without a key (a care credit's from its bill's id), so as stored they could be walked back to it
        self.ledger = lru_cache(maxsize=4096)(Pseudonymizer(key, domain="ledger").__call__)
        self._login = Pseudonymizer(key, domain="login")
        self.login = lru_cache(maxsize=4096)(self._login_name)
        # any name as its keyed pseudonym, number or not: a name typed at a login that no login has (a
        # password typed into the wrong field, say) is recorded so, never as typed
        self.login_keyed = lru_cache(maxsize=4096)(self._login.__call__)

    def _login_name(self, username: str) -> str:
        """A login's name as the audit records it and others read it: a name holding a number (a login named by
        its phone number, made before such names were refused) becomes its keyed pseudonym (``u…``, unlinkable
        to the number's own ``p…``); other names, and such a pseudonym itself, stay as they are."""
        if _LOGIN_PSEUDONYM.fullmatch(username) or not has_number(username):
            return username
        return self._login(username)


def holding_start(activated_at: datetime, holder_since: datetime | None) -> datetime:
    """When the current customer's holding of a line began: the later of the register's ``activated_at`` and its
    ``holder_since`` (the line moved to another customer with its activation kept; None: never), aware."""
    def aware(at: datetime) -> datetime:
        return at if at.tzinfo is not None else at.replace(tzinfo=UTC)

    since = aware(activated_at)
    return since if holder_since is None else max(since, aware(holder_since))


def in_holding(since: datetime | None, at: datetime | None) -> bool:
    """Whether a record dated ``at`` belongs to a holding that began at ``since`` (None: no bound, staff)."""
    if since is None:
        return True
    if at is None:
        return False
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)) >= since


class NeedsDatabase(Exception):
    """Raised by ``Access.conn`` inside ``Access.try_offline``: the work needs the database after all."""


class Access:
    """One request's view of the data: who asks, and the transaction their reads and changes share.

    The transaction (``begin()``, e.g. ``engine.begin``) is opened on first use of ``conn`` and ended by
    ``end``: committed with the request's audit rows, or rolled back on an error. A request answered from
    memory (an issued bill) opens none; its audit rows are then left for the caller to commit before it
    answers (``take_pending_audit``, ``AuditLog``)."""

    def __init__(
        self,
        *,
        principal: Principal,
        pseudonyms: Pseudonyms,
        begin: Callable[[], AbstractContextManager[Connection]],
        request_id: str | None = None,
        now: datetime | None = None,
        bills: IssuedBills | None = None,
        sla: SlaPolicy = DEFAULT_SLA,
        lake: Lake | None = None,
        tz: str = DEMO_TIMEZONE,
    ) -> None:
        self.principal = principal
        self.pseudonyms = pseudonyms
        self.request_id = request_id
        self.now = now or utc_now()
        self.bills = bills
        self.sla = sla  # the operator's complaint deadlines (settings ``sla``), for complaints opened or read
        self.lake = lake  # the home's lake: what rating and billing did with a charge, for a refund to go by
        self.tz = tz  # the operator's time zone (settings ``timezone``): the billing periods a holding's bills are of
        self._holding: dict[str, datetime | None] = {}
        self._begin = begin
        self._tx: AbstractContextManager[Connection] | None = None
        self._conn: Connection | None = None
        self._assigned: dict[str, str] | None = None
        self._pending: list[dict[str, Any]] = []
        self._recorded: list[dict[str, Any]] = []  # every audit row of the request, kept if it fails
        self._refused: tuple[str, str] | None = None  # (msisdn, code) of a subject ``open_subject`` refused
        self._offline = False
        self.resource_hint: str | None = None  # what was asked (e.g. the route), for rows of refused requests

    @property
    def conn(self) -> Connection:
        """The request's transaction (opened now if not yet); pending audit rows join it."""
        if self._conn is None:
            if self._offline:
                raise NeedsDatabase
            tx = self._begin()
            self._conn = tx.__enter__()
            self._tx = tx
            self._flush_into(self._conn)
        return self._conn

    @property
    def in_transaction(self) -> bool:
        return self._tx is not None

    def end(self, error: BaseException | None = None) -> None:
        """Commit the transaction with its audit rows, or roll it back when ``error`` ended the request."""
        tx, conn = self._tx, self._conn
        self._tx = self._conn = None
        if tx is None:
            return
        if error is not None:
            tx.__exit__(type(error), error, error.__traceback__)
            return
        try:
            assert conn is not None
            self._flush_into(conn)
        except BaseException as exc:
            tx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        tx.__exit__(None, None, None)

    def take_pending_audit(self) -> list[dict[str, Any]]:
        """The audit rows no transaction took: the caller commits them (``AuditLog``) before answering."""
        rows, self._pending = self._pending, []
        return rows

    def commit_then_read(self) -> None:
        """Commit now what the request recorded and changed (its audit rows with it: kept as they are if the
        request fails later, not recorded again), then go on reading only: the transaction ``conn`` opens from
        here takes no write lock (on SQLite it begins ``DEFERRED``, a snapshot taken at its first read, that
        keeps no writer waiting; elsewhere a transaction as any other). For a long read (an export) made after
        its audit row is on record; the request writes nothing after it."""
        engine = self.conn.engine  # the request's transaction, opened now if it was not
        self.end()
        self._recorded = []
        reader = engine.execution_options(sqlite_begin="DEFERRED")
        self._begin = reader.begin

    def try_offline(self, fn: Callable[[], T]) -> tuple[bool, T | None]:
        """Run ``fn`` if it can answer without opening the database: (True, its result); else (False, None),
        with anything it recorded undone, so that it can be run again where blocking is allowed."""
        if self._conn is not None:
            return False, None
        mark, recorded, self._offline = len(self._pending), len(self._recorded), True
        try:
            return True, fn()
        except NeedsDatabase:
            del self._pending[mark:]
            del self._recorded[recorded:]
            return False, None
        finally:
            self._offline = False

    def _flush_into(self, conn: Connection) -> None:
        if self._pending:
            record_accesses(conn, self._pending)
            self._pending = []

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def actor(self) -> str:
        """Who acts, as the audit and the records others read (``resolved_by``, ``decided_by``, a complaint's
        history) name them: never a number a login was named by (``Pseudonyms.login``)."""
        return self.pseudonyms.login(self.principal.username)

    def login_name(self, username: str | None) -> str | None:
        """A login's name as this principal may read it: their own as it is, another's through
        ``Pseudonyms.login`` (rows written before names holding numbers were pseudonymised are shown so too)."""
        if username is None or username == self.principal.username:
            return username
        return self.pseudonyms.login(username)

    def require(self, *permissions: Permission) -> None:
        """Allowed when the role holds any one of ``permissions``."""
        if not any(can(self.role, p) for p in permissions):
            wanted = " or ".join(p.value for p in permissions)
            raise PermissionDeniedError(f"role {self.role.value} may not do this (needs {wanted})", details={"needs": [p.value for p in permissions]})

    # --- subjects ----------------------------------------------------------------------------------------
    def assignments(self) -> dict[str, str]:
        """The agent's live assignments: msisdn → why (e.g. ``complaint cmp_…``)."""
        if self._assigned is None:
            assigned: dict[str, str] = {}
            if self.role is Role.AGENT:
                t = table_of(AgentAssignment)
                rows = self.conn.execute(
                    select(t.c.msisdn, t.c.reference_kind, t.c.reference_id)
                    .where(t.c.agent == self.principal.username, t.c.expires_at > self.now, t.c.released_at.is_(None))
                    .order_by(t.c.started_at)
                )
                for r in rows:
                    assigned[r.msisdn] = f"{r.reference_kind} {r.reference_id}"
            self._assigned = assigned  # only once read: ``try_offline`` may stop the read half-way
        return self._assigned

    def open_subject(self, msisdn: str) -> str:
        """Check that the principal may see this subscriber's personal data; returns why (for the audit).

        A subscriber may open only their own line, an agent only a customer whose case they are handling;
        other roles never open a subscriber's plain data. A refusal is remembered for ``failure_audit``. ``msisdn``
        may be written as a person writes it (``line_of``): a subscriber's own number written as dialled at home is
        theirs, and a refused probe of another's line is on record under that line's pseudonym, however written."""
        msisdn = self.line_of(msisdn)
        if self.role is Role.SUBSCRIBER:
            if self.principal.msisdn != msisdn:
                raise self._refuse(msisdn, PermissionDeniedError("a subscriber sees only their own data"))
            return OWN_DATA
        if self.role is Role.AGENT:
            reason = self.assignments().get(msisdn)
            if reason is None:
                raise self._refuse(msisdn, NoAssignmentError(
                    "take the customer's complaint or ticket first: agents see a customer's data only while handling it"))
            return reason
        raise self._refuse(msisdn, PermissionDeniedError(f"role {self.role.value} sees subscribers only through pseudonyms"))

    def line_of(self, written: str) -> str:
        """A subscriber's number as a caller wrote it (a path's ``/subscribers/{msisdn}``, a body's field) as the
        register keeps it, E.164 digits, so that it is read, compared and audited as that line's:
        ``+86 138 0013 8000`` and ``008613800138000`` are ``8613800138000``, and so is ``13800138000`` (dialled at
        home, by the numbering plan of ``Pseudonyms.home_country``, as ``hide_numbers`` reads free text). A number
        written from its country code (a ``+``) is that number; digits the register holds as they are, a line's.
        Anything that is not a number is returned as it is (it names no line)."""
        text = written.strip()
        digits = number_digits(text) if text and _NUMBER_AS_WRITTEN.fullmatch(text) else None
        if digits is None:
            return written
        if text[0] in "+\uff0b":
            return digits
        line = e164_of(digits, home_country=self.pseudonyms.home_country)
        if line == digits:
            return line
        s = table_of(Subscriber)  # digits a line of the register is known by are that line, in whatever country
        if self.conn.execute(select(s.c.msisdn).where(s.c.msisdn == digits)).first() is not None:
            return digits
        return line

    def _refuse(self, msisdn: str, error: PermissionDeniedError) -> PermissionDeniedError:
        self._refused = (msisdn, error.code)
        return error

    def refused_about(self, msisdn: str | None, error: PermissionDeniedError) -> PermissionDeniedError:
        """Name the subscriber a refusal of the role was about (the subject of the case or ticket asked for), so
        that its ``access.denied`` row carries their pseudonym and a search by that subscriber finds it. A
        subject ``open_subject`` refused already stays the one named."""
        if msisdn and self._refused is None:
            self._refused = (msisdn, error.code)
        return error

    @property
    def refused_subject(self) -> bool:
        """Whether a subscriber's data was refused in this request (``open_subject``, ``refused_about``)."""
        return self._refused is not None

    def own_msisdn(self) -> str:
        if self.role is not Role.SUBSCRIBER or not self.principal.msisdn:
            raise PermissionDeniedError("only a subscriber login has its own line")
        return self.principal.msisdn

    def holding_from(self, msisdn: str) -> datetime | None:
        """From when a subscriber's records are theirs: the instant their holding of the line began, the register's
        ``activated_at`` (a number closed and activated again, for a new holder or not, has a later one; rating
        holds usage before it as ``before_activation`` and takes consent given before it as a previous holder's),
        or its ``holder_since`` when later (the line moved to another customer with its activation kept: what
        was before the move is the previous customer's).
        A subscriber reads only what is dated at or after it; None for staff, who read the line's whole record,
        and for a line the register does not hold. Read once per request."""
        if self.role is not Role.SUBSCRIBER:
            return None
        if msisdn == self.principal.msisdn and self.principal.holding_from is not None:
            return self.principal.holding_from  # read with the login: no read of its own (a bill answered from memory)
        if msisdn not in self._holding:
            s = table_of(Subscriber)
            row = self.conn.execute(select(s.c.activated_at, s.c.holder_since).where(s.c.msisdn == msisdn)).first()
            self._holding[msisdn] = None if row is None or row.activated_at is None else holding_start(
                row.activated_at, row.holder_since)
        return self._holding[msisdn]

    def holding_period(self, msisdn: str) -> str | None:
        """The first billing period (``YYYY-MM``, on the operator's clock) of the subscriber's holding
        (``holding_from``): the bills of earlier periods, which ended before it, are an earlier holder's."""
        since = self.holding_from(msisdn)
        return None if since is None else Period.containing(since, self.tz).key

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
    def hide_numbers(self, text: str) -> str:
        """``text`` with every number in it, however written (``+86 138-0013-8000``, ``13800138000``), replaced by
        the keyed pseudonym of its E.164 form, the one the audit files its subscriber under, and ID-card and
        bank-card numbers hidden: free text bound for the audit. A run of digits inside an id (``fnd_01jd1234567…``,
        ``cmp-0000099``) is the id's. Numbers written as dialled at home are read by the numbering plan of the
        operator's home country (``Pseudonyms.home_country``: ``0151 2345 6789`` is ``4915123456789`` in Germany)."""
        return pseudonymise_numbers(text, self.pseudonyms.msisdn, home_country=self.pseudonyms.home_country)

    def audit(
        self, action: str, resource: str, *, msisdn: str | None = None, reason: str | None = None, subject: str | None = None
    ) -> None:
        """Record a read or change of personal data: in the request's transaction when it has one, otherwise
        committed (with other requests' rows) before the request answers. If the request fails, its changes are
        undone but its rows are kept, marked failed (``failure_audit``). ``subject`` is a pseudonym already
        (when ``msisdn`` is not given); numbers in ``reason`` (free text) are kept as pseudonyms, never plain."""
        self._keep([self._audit_row(action, resource, msisdn=msisdn, reason=reason, subject=subject)])

    def _audit_row(self, action: str, resource: str, *, msisdn: str | None, reason: str | None, subject: str | None) -> dict[str, Any]:
        if msisdn is not None:  # the subject's number in an id, as their home dials it too (``0151…`` in Germany)
            def in_id(text: str) -> str:
                return replace_numbers_in_id(text, self.pseudonyms.msisdn, subject=msisdn, home_country=self.pseudonyms.home_country)

            resource, reason = in_id(resource), None if reason is None else in_id(reason)
        return self._row(action, resource, subject if msisdn is None else self.pseudonyms.msisdn(msisdn), reason)

    def commit_refusal(self, error: FairtelError, action: str, resource: str, *, msisdn: str, reason: str) -> FairtelError:
        """Record a refused attempt that must count at once, whatever becomes of the request (a wrong one-time
        code, which the next attempt counts): its row, marked failed as ``failure_audit`` marks the rows of a
        failed request, commits now with the request's transaction, before ``error`` is answered. A count of such
        rows taken in the next request's transaction, under the same lock, sees it; no failure later in this
        request, nor a group commit the server could not make, loses it. For a request that changed nothing yet:
        what it recorded so far commits with the row (and is not recorded again when ``error`` is raised).
        Returns ``error``, for the caller to raise."""
        row = self._audit_row(action, resource, msisdn=msisdn, reason=reason, subject=None)
        row = dict(row, reason=f"{row['reason']} (failed: {error.code})" if row["reason"] else f"failed: {error.code}")
        record_accesses(self.conn, [row])  # the request's transaction, opened now if it was not
        self.end()
        self._recorded = []
        return error

    def audit_list(self, action: str, resource: str, msisdns: Iterable[str | None], *, reason: str) -> None:
        """Record the read of a list of personal records (a page of subscribers, complaints, findings, cases): one
        row for each subscriber in it, with their pseudonym, so that a subscriber's trail in the audit shows
        every list they were read in; a list naming nobody writes one row without a subject. The rows are as
        many as the subscribers on the page, bounded by the page size (at most ``MAX_LIMIT``), and are written
        in one statement."""
        subjects: list[str | None] = list(dict.fromkeys(self.pseudonyms.msisdn(m) for m in msisdns if m))
        self._keep([self._row(action, resource, subject, reason) for subject in subjects or [None]])

    def _row(self, action: str, resource: str, subject: str | None, reason: str | None) -> dict[str, Any]:
        return access_row(
            actor=self.actor,
            role=self.role.value,
            action=action,
            resource=self.hide_numbers(resource)[:255],  # e.g. a user named by their number
            subject_msisdn_pseudonym=subject,
            reason=self.marked_via(None if reason is None else self.hide_numbers(reason)),
            request_id=self.request_id,
            at=self.now,
        )

    def marked_via(self, reason: str | None) -> str | None:
        """``reason`` with, for a request made with an API key, the key it was made through: a system acting as
        a login is told apart from the person (the key's id is the system's, never scrubbed as free text)."""
        if self.principal.via != "api_key":
            return reason
        via = f"via api_key {self.principal.key_id or '?'}"
        return f"{reason} ({via})" if reason else via

    def _keep(self, rows: list[dict[str, Any]]) -> None:
        self._recorded.extend(rows)
        if self._conn is not None:
            record_accesses(self._conn, rows)
        else:
            self._pending.extend(rows)

    def failure_audit(self, error: BaseException) -> list[dict[str, Any]]:
        """The audit rows to keep when the request failed with ``error`` (its transaction rolled back, its pending
        rows dropped): what it recorded, marked failed, and a row for a subject it was refused or a refusal of
        its role. The caller commits them (``AuditLog``); the request's changes are not kept."""
        self._pending = []
        if not isinstance(error, Exception):  # cancelled, interrupted: nothing was answered
            return []
        if isinstance(error, SQLAlchemyError):  # its ``code`` is the library's (``e3q8``), not ours
            from fairtel.store._engine import unavailable

            error = unavailable(error) or Exception("internal_error")
        code = str(getattr(error, "code", "") or "internal_error")
        rows = [dict(r, reason=f"{r['reason']} (failed: {code})" if r["reason"] else f"failed: {code}") for r in self._recorded]
        refused_subject = None if self._refused is None else self.pseudonyms.msisdn(self._refused[0])
        if self._refused is not None and all(r["subject_msisdn_pseudonym"] != refused_subject for r in rows):
            rows.append(self._denied_row(refused_subject, self._refused[1], code))
        elif not rows and code in _REFUSALS:
            rows.append(self._denied_row(None, code, code))
        self._recorded = []
        return rows

    def _denied_row(self, subject: str | None, refusal: str, answered: str) -> dict[str, Any]:
        reason = f"refused: {refusal}" + (f", answered {answered}" if answered != refusal else "")
        return access_row(
            actor=self.actor, role=self.role.value, action=ACCESS_DENIED, resource=(self.resource_hint or "subscriber")[:255],
            subject_msisdn_pseudonym=subject, reason=self.marked_via(reason), request_id=self.request_id, at=self.now,
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


# --- logins ----------------------------------------------------------------------------------------------
LOGIN_SUCCEEDED = "login.succeeded"
LOGIN_FAILED = "login.failed"
LOGIN_RATE_LIMITED = "login.rate_limited"
NO_ROLE = "none"  # the role of a login attempt under a name no login has
_LIMITED_QUIET_S = 60.0  # refused (rate-limited) attempts from one client: one row a minute, with their count


class LoginAudit:
    """Login attempts on record in the access audit, the API's and the console's alike: each one that succeeded
    (``login.succeeded``), was refused for a wrong name or password or a disabled login (``login.failed``), or
    was refused unchecked because its client or its name tried too often (``login.rate_limited``).

    A row names the login as the audit names the actors of other rows (``Pseudonyms.login``); a name no login has
    is kept as its keyed pseudonym only (``Pseudonyms.login_keyed``: it may be a password typed in the wrong
    field, or a number), and a search by that name finds it. Its role is the login's (``none``: no such login);
    its subject, a subscriber login's line, so that a subscriber's trail shows the guesses at their password. The
    reason says the outcome and the client address. The password is never recorded, nor anything derived from it.

    A rate-limited attempt costs its sender nothing, so each one is not a row: the first from a client address
    (an IPv6 /64 is one client) is, then at most one a minute from that address, saying how many were refused
    since the last. Rows are committed (``write``) before the answer: no token without its row."""

    def __init__(
        self,
        pseudonyms: Pseudonyms,
        *,
        connect: Callable[[], AbstractContextManager[Connection]],
        write: Callable[[Sequence[dict[str, Any]]], None],
        quiet_s: float = _LIMITED_QUIET_S,
    ) -> None:
        self.pseudonyms = pseudonyms
        self._connect = connect
        self._write = write
        self._quiet_s = quiet_s
        self._limited: dict[str, tuple[float, int]] = {}  # client → (when its last row was written, refused since)
        self._lock = threading.Lock()

    def log_in(
        self,
        check: Callable[[str, str], Callable[[], None]],
        *,
        client: str,
        username: str,
        password: str,
        resource: str,
        request_id: str | None = None,
    ) -> Principal:
        """Check a login with ``check(client, username)`` (the rate limits, ``Services.check_login``: raises
        ``RateLimitedError``, or returns what to call on success), then its password; record the attempt and
        return who logged in, or raise what refused it (``RateLimitedError``, ``NotAuthenticatedError``, ``LineChangedHandsError``)."""
        from fairtel.api._users import authenticate  # not at import: the users' module is the API's

        try:
            succeeded = check(client, username)
        except RateLimitedError as exc:
            self._rate_limited(exc, client=client, username=username, resource=resource, request_id=request_id)
            raise
        refused: NotAuthenticatedError | LineChangedHandsError | None = None
        with self._connect() as conn:  # closed before the row is written: a reader open on SQLite holds up writers
            try:
                who: Principal | None = authenticate(conn, username, password)
            except (NotAuthenticatedError, LineChangedHandsError) as exc:
                who, refused = None, exc
            if who is not None:
                outcome = "succeeded"
            elif isinstance(refused, LineChangedHandsError):
                outcome = "refused: the login was made before the line's current activation (line_changed_hands)"
            else:
                outcome = "refused: wrong username or password, or the login is disabled"
            row = self._row(conn, LOGIN_SUCCEEDED if who is not None else LOGIN_FAILED, username, client=client,
                            resource=resource, request_id=request_id, outcome=outcome)
        self._write([row])
        if who is None:
            assert refused is not None
            raise refused
        succeeded()
        return who

    def _rate_limited(self, exc: RateLimitedError, *, client: str, username: str, resource: str, request_id: str | None) -> None:
        from fairtel.api._services import client_key  # the limiter's own notion of a client (an IPv6 /64)

        key, now = client_key(client), time.monotonic()
        with self._lock:
            last, refused = self._limited.get(key, (None, 0))
            if last is not None and now - last < self._quiet_s:
                self._limited[key] = (last, refused + 1)
                return
            self._limited[key] = (now, 0)
            if len(self._limited) > 100_000:  # forget clients quiet for long
                self._limited = {k: v for k, v in self._limited.items() if now - v[0] < self._quiet_s}
        wait = exc.details.get("retry_after_s")
        outcome = "refused unchecked: too many attempts" + (f" (retry after {wait} s)" if wait else "")
        if refused:
            outcome += f"; {refused} more refused so from this client since the last such row"
        with self._connect() as conn:
            row = self._row(conn, LOGIN_RATE_LIMITED, username, client=client, resource=resource, request_id=request_id,
                            outcome=outcome)
        self._write([row])

    def _row(self, conn: Connection, action: str, username: str, *, client: str, resource: str, request_id: str | None,
             outcome: str) -> dict[str, Any]:
        from fairtel.store import login_named

        t = table_of(User)
        # the login the typed name reaches whatever its letter case ("ALICE" is alice's attempt, as authenticate
        # finds it); a name holding a NUL is no login's (login_named: None): kept as its keyed pseudonym
        stored = login_named(conn, username)
        known = None if stored is None else conn.execute(select(t.c.role, t.c.msisdn).where(t.c.username == stored)).first()
        if known is None or stored is None:
            actor, role, subject = self.pseudonyms.login_keyed(username), NO_ROLE, None
        else:
            actor, role = self.pseudonyms.login(stored), str(known.role)
            subject = self.pseudonyms.msisdn(known.msisdn) if known.msisdn else None
        return access_row(
            actor=actor[:64], role=role, action=action, resource=resource[:255], subject_msisdn_pseudonym=subject,
            reason=f"{outcome}; from {client[:100]}", request_id=request_id,
        )
