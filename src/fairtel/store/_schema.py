"""The OLTP schema: one declarative class per table.

Money is ``BigInteger`` minor units plus a ``CHAR(3)`` currency; every timestamp is ``UTCDateTime`` (aware,
stored as UTC). Ledgers (consent events, adjustments, loyalty points, the access audit) are append-only and
issued bills are immutable: the repositories offer no update for them. Closed sets are kept honest with
CHECK constraints rather than native enum types, so adding a value is a one-line migration on both
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fairtel.core.contracts import ConsentChannel, ConsentEventKind, Language, SubscriberStatus
from fairtel.privacy import Role
from fairtel.store._types import BigIntPK, CurrencyCode, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

FINDING_STATUSES = ("open", "confirmed", "resolved", "dismissed")
ADJUSTMENT_KINDS = ("refund", "credit", "debit")
TICKET_STATUSES = ("open", "in_progress", "resolved", "closed")
TICKET_MOVED_TO = ("in_progress", "resolved", "closed")  # the statuses an agent's move leaves a ticket in
COMPLAINT_STATUSES = ("open", "in_progress", "closed")  # coarse: what readers that predate the lifecycle see
COMPLAINT_LIFECYCLE = ("opened", "acknowledged", "resolved", "closed", "reopened")  # fairtel.care.ComplaintStatus
COMPLAINT_EVENT_KINDS = ("status", "escalation")
LOYALTY_KINDS = ("earn", "redeem")
FRAUD_CASE_STATUSES = ("open", "confirmed", "false_alarm")
ASSIGNMENT_KINDS = ("complaint", "ticket", "chat")
MARKETING_CHANNELS = ("api", "web", "app", "phone", "store", "sms", "letter")  # how a subscriber said it
MARKETING_SOURCES = ("subscriber", "agent")  # who recorded it: the subscriber, or an agent on their behalf
MERCHANT_ACTIONS = ("suspend", "lift")  # a provider's billing rights suspended, or the suspension lifted

LOGIN_KEY_INDEX = "uq_users_username_lower"  # a login's name, unique whatever its letter case (migration 0024)
MSISDN = String(15)  # E.164: at most 15 digits, no "+"
ID = String(64)


def one_of(column: str, values: Iterable[str], name: str | None = None) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


def money_pair(prefix: str = "") -> CheckConstraint:
    """An amount and its currency are both present or both absent."""
    amount, currency = f"{prefix}amount_minor", f"{prefix}currency"
    return CheckConstraint(f"({amount} IS NULL) = ({currency} IS NULL)", name=f"{prefix}money_pair")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class Customer(Base):
    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        one_of("status", SubscriberStatus),
        one_of("language", Language),
        # the subscriber list filtered by status, in its keyed order: a page is read from this index from its place
        # on, not by walking the order's index over every line for the few of that status (migration 0023)
        Index("ix_subscribers_status_pseudonym_order", "status", "pseudonym_order"),
    )

    msisdn: Mapped[str] = mapped_column(MSISDN, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    plan_id: Mapped[str] = mapped_column(ID, index=True)
    activated_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]  # when a closed line left service (None: not closed, or not known)
    # since when a suspended line is suspended (as suspended, or as the register learnt it); None otherwise
    suspended_at: Mapped[datetime | None]
    # since when the current customer holds the line, when later than ``activated_at`` (the line moved to another
    # customer, its activation kept: the file's ``customer_since``, else as the register learnt it); None: since
    # ``activated_at``. What the holder reads and what their bill carries begin at the later of the two
    holder_since: Mapped[datetime | None]
    # the line's place in the subscriber list's keyed order (``fairtel.privacy.KeyedOrder``: a tag naming the key,
    # then the line's digest under a key derived from the secret apart from the pseudonyms' own, so it reveals no
    # pseudonym), kept by ``fairtel.api._customers.keep_sort_keys``; None until made
    pseudonym_order: Mapped[bytes | None] = mapped_column(LargeBinary(20), index=True)


class CatalogVersion(Base):
    """Each distinct catalog text ever loaded, kept verbatim; the current one has the latest ``activated_at``."""

    __tablename__ = "catalog_versions"

    version_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    toml_text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime]
    activated_at: Mapped[datetime] = mapped_column(index=True)


class ConsentEvent(Base):
    """The VAS consent ledger (append-only). The natural key makes a re-import add nothing."""

    __tablename__ = "consent_events"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event", "at"),
        Index("ix_consent_events_msisdn_at", "msisdn", "at"),
        one_of("event", ConsentEventKind),
        one_of("channel", ConsentChannel),
    )

    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ID)
    msisdn: Mapped[str] = mapped_column(MSISDN)
    offer_id: Mapped[str] = mapped_column(ID)
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(8))
    evidence: Mapped[Any | None] = mapped_column(JSON)
    recorded_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(255))


class Finding(Base):
    __tablename__ = "findings"
    __table_args__ = (one_of("status", FINDING_STATUSES), money_pair())

    finding_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    msisdn: Mapped[str | None] = mapped_column(MSISDN, index=True)
    subscription_id: Mapped[str | None] = mapped_column(ID)
    record_ids: Mapped[list[str]]
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(CurrencyCode())
    status: Mapped[str] = mapped_column(String(16), index=True)
    evidence: Mapped[dict[str, Any]]
    detected_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(ID)
    resolution: Mapped[str | None] = mapped_column(Text)


class Bill(Base):
    """A bill's summary. Immutable once issued: corrections are adjustments, never edits."""

    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("msisdn", "period"), Index("ix_bills_period", "period"))

    bill_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    msisdn: Mapped[str] = mapped_column(MSISDN)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the operator's time zone
    issued_at: Mapped[datetime]
    catalog_version_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_versions.version_id"))
    currency: Mapped[str] = mapped_column(CurrencyCode())
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    # the bill run that issued it: its snapshot of rated lines in the lake (dataset ``billed``) carries the same id
    run_id: Mapped[str | None] = mapped_column(String(40))
    plan_id: Mapped[str | None] = mapped_column(ID)


class BillLine(Base):
    """A line of an issued bill. A line carrying an adjustment names it, and an adjustment is carried into one
    bill line at most (the unique index): an entry can never be applied twice."""

    __tablename__ = "bill_lines"
    __table_args__ = (Index("uq_bill_lines_adjustment_id", "adjustment_id", unique=True),)

    bill_id: Mapped[str] = mapped_column(ForeignKey("bills.bill_id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))  # plan_fee, voice, sms, data, vas, roaming, tax, ...
    description: Mapped[str] = mapped_column(String(200))
    rule_id: Mapped[str | None] = mapped_column(String(128))  # the tariff rule that priced it
    quantity: Mapped[int | None] = mapped_column(BigInteger)
    unit: Mapped[str | None] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CurrencyCode())
    allowance_id: Mapped[str | None] = mapped_column(String(128))
    adjustment_id: Mapped[str | None] = mapped_column(ForeignKey("adjustments.adjustment_id"))


class Adjustment(Base):
    """Refunds, credits and debits (append-only). ``amount_minor`` is positive; ``kind`` gives the direction."""

    __tablename__ = "adjustments"
    __table_args__ = (
        one_of("kind", ADJUSTMENT_KINDS),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_adjustments_period_record", "period", "record_id"),
    )

    adjustment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    msisdn: Mapped[str] = mapped_column(MSISDN, index=True)
    bill_id: Mapped[str | None] = mapped_column(ForeignKey("bills.bill_id"))
    finding_id: Mapped[str | None] = mapped_column(ForeignKey("findings.finding_id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CurrencyCode())
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(ID)
    # a rerate entry: the period and usage record it corrects, the rule pricing it now, amounts before tax
    period: Mapped[str | None] = mapped_column(String(7))
    source: Mapped[str | None] = mapped_column(String(255))
    record_id: Mapped[str | None] = mapped_column(String(255))
    rule_id: Mapped[str | None] = mapped_column(String(128))
    old_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    new_amount_minor: Mapped[int | None] = mapped_column(BigInteger)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        one_of("status", COMPLAINT_STATUSES),
        one_of("lifecycle", COMPLAINT_LIFECYCLE),
        CheckConstraint("escalation_level >= 0", name="escalation_level"),
    )

    complaint_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    msisdn: Mapped[str] = mapped_column(MSISDN, index=True)
    category: Mapped[str] = mapped_column(String(48), index=True)  # e.g. unexplained_charge
    opened_at: Mapped[datetime] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # The lifecycle (fairtel.care.ComplaintStatus); ``status`` keeps its coarse meaning beside it, and
    # ``closed_at`` is when the complaint was last settled (resolved, or closed without a resolution).
    lifecycle: Mapped[str] = mapped_column(String(16), server_default="opened")
    due_at: Mapped[datetime | None] = mapped_column(index=True)  # the category's resolution deadline
    escalation_level: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    finding_id: Mapped[str | None] = mapped_column(ForeignKey("findings.finding_id"), index=True)
    adjustment_id: Mapped[str | None] = mapped_column(ForeignKey("adjustments.adjustment_id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ID, index=True)


class ComplaintEvent(Base):
    """A complaint's history (append-only): each lifecycle move and each escalation, numbered from 1. An
    opening or a reopening records the resolution deadline it set (``due_at``), and a reopening the deadline
    and escalation level it replaced; events recorded before deadlines were kept here have none (readers
    infer them: ``fairtel.store._complaints``)."""

    __tablename__ = "complaint_events"
    __table_args__ = (one_of("kind", COMPLAINT_EVENT_KINDS), one_of("status", COMPLAINT_LIFECYCLE))

    complaint_id: Mapped[str] = mapped_column(ForeignKey("complaints.complaint_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # the status after the event
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(ID)
    note: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column()  # an opening or a reopening: the resolution deadline it set
    previous_due_at: Mapped[datetime | None] = mapped_column()  # a reopening: the deadline it replaced
    previous_escalation_level: Mapped[int | None] = mapped_column(SmallInteger)  # a reopening: the level it reset


class ComplaintNoteNumber(Base):
    """A phone number an agent's note on a complaint holds (``complaint_events.note`` keeps its token instead:
    ``care.tokenise_note``). The erasure of a subscriber deletes their number's rows, after which every note shows
    ``care.NOTE_NUMBER_ERASED`` where the number stood (migration 0025)."""

    __tablename__ = "complaint_note_numbers"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), index=True)  # E.164, or digits as written (notes before 0025)


class Survey(Base):
    """One NPS answer."""

    __tablename__ = "surveys"
    __table_args__ = (CheckConstraint("score BETWEEN 0 AND 10", name="score_0_10"),)

    survey_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    msisdn: Mapped[str] = mapped_column(MSISDN, index=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    answered_at: Mapped[datetime] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)


class TroubleTicket(Base):
    __tablename__ = "trouble_tickets"
    __table_args__ = (one_of("status", TICKET_STATUSES),)

    ticket_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    msisdn: Mapped[str | None] = mapped_column(MSISDN, index=True)
    region: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(48))  # no_signal, slow_data, dropped_calls, ...
    priority: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(index=True)
    resolved_at: Mapped[datetime | None]
    summary: Mapped[str] = mapped_column(Text)


class TicketNote(Base):
    """What agents wrote on a trouble ticket (append-only), apart from its ``summary`` (what the assistant carried
    from the subscriber): one entry per move (``status``: the status it left the ticket in) or per note alone
    (``status`` None), with who wrote it and when. Agents' words: never shown to the subscriber."""

    __tablename__ = "ticket_notes"
    __table_args__ = (
        one_of("status", TICKET_MOVED_TO),
        Index("ix_ticket_notes_ticket_id_noted_at", "ticket_id", "noted_at"),
    )

    note_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("trouble_tickets.ticket_id"))
    noted_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(ID)  # the login (as the audit names it)
    status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class LoyaltyEntry(Base):
    """The loyalty points ledger (append-only); the balance is the sum of earns minus redemptions."""

    __tablename__ = "loyalty_points"
    __table_args__ = (
        one_of("kind", LOYALTY_KINDS),
        CheckConstraint("points > 0", name="points_positive"),
    )

    entry_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    msisdn: Mapped[str] = mapped_column(MSISDN, index=True)
    kind: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(BigInteger)  # 64-bit: one entry moving a large balance passes 2^31
    reason: Mapped[str] = mapped_column(String(200))
    booked_at: Mapped[datetime]


class FraudCase(Base):
    __tablename__ = "fraud_cases"
    __table_args__ = (one_of("status", FRAUD_CASE_STATUSES),)

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    detector: Mapped[str] = mapped_column(String(48), index=True)
    msisdn: Mapped[str] = mapped_column(MSISDN, index=True)
    score: Mapped[float] = mapped_column(Double)  # a model score, not money
    status: Mapped[str] = mapped_column(String(16), index=True)
    evidence: Mapped[dict[str, Any]]
    opened_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(ID)
    decided_at: Mapped[datetime | None]


SUBSCRIBER_LOGIN_IN_USE = "role = 'subscriber' AND NOT disabled"


class User(Base):
    """A login. A line has at most one subscriber login in use (not disabled): the partial unique index holds it
    in the database, whatever path writes the row (migration 0017). Two logins never differ only in letter case
    ("Alice" and "alice"): a unique index on ``lower(username)`` holds it (migration 0024; a name is letters,
    digits and ``. _ @ -`` of ASCII, whose NFKC case fold, ``login_key``, is its lower case)."""

    __tablename__ = "users"
    __table_args__ = (
        one_of("role", Role),
        Index(LOGIN_KEY_INDEX, func.lower(text("username")), unique=True),
        Index(
            "uq_users_msisdn_subscriber_in_use",
            "msisdn",
            unique=True,
            sqlite_where=text(SUBSCRIBER_LOGIN_IN_USE),
            postgresql_where=text(SUBSCRIBER_LOGIN_IN_USE),
        ),
    )

    username: Mapped[str] = mapped_column(ID, primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    msisdn: Mapped[str | None] = mapped_column(MSISDN, index=True)  # set for subscribers: their own line
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class ApiKey(Base):
    """Only a hash of the key is kept; the key itself is shown once, when it is made."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username"), index=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AgentAssignment(Base):
    """An agent handling one customer's ticket, complaint or chat, until ``expires_at`` (or ``released_at``).

    Agents see a customer's personal data only under a live assignment; the reference says which case it was,
    so every read under it can be traced back to a reason."""

    __tablename__ = "agent_assignments"
    __table_args__ = (
        one_of("reference_kind", ASSIGNMENT_KINDS),
        Index("ix_agent_assignments_agent_msisdn", "agent", "msisdn"),
    )

    assignment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agent: Mapped[str] = mapped_column(ID)
    msisdn: Mapped[str] = mapped_column(MSISDN)
    reference_kind: Mapped[str] = mapped_column(String(16))
    reference_id: Mapped[str] = mapped_column(ID)
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    released_at: Mapped[datetime | None]


class RoamingCap(Base):
    """A subscriber's spending cap while roaming (append-only: the latest row is in force; a null amount
    removes the cap)."""

    __tablename__ = "roaming_caps"
    __table_args__ = (money_pair(),)

    cap_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    msisdn: Mapped[str] = mapped_column(MSISDN, index=True)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(CurrencyCode())
    set_at: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(ID)


class AccessAudit(Base):
    """Who looked at or changed whose data, and why (append-only). Subjects are pseudonyms, never numbers."""

    __tablename__ = "access_audit"

    audit_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(ID, index=True)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(255))
    subject_msisdn_pseudonym: Mapped[str | None] = mapped_column(String(32), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(ID)


class RevokedToken(Base):
    """A signed bearer token ended before its expiry (logout), by its id (``jti``). Kept until ``expires_at``,
    when the token is refused for its age anyway; every server process reads these, so a logout holds in all."""

    __tablename__ = "revoked_tokens"

    token_id: Mapped[str] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(ID, index=True)
    revoked_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)



class SubscriberPlan(Base):
    """A line's plan history (append-only): from ``effective_from`` on, the line is on ``plan_id``, as the register
    learnt at ``recorded_at``. A line's first row is its activation; a plan change takes effect from a period's
    start, never in the middle of one. A row recorded later overrides, from its ``effective_from`` on, what the
    rows recorded before it said (``store.plan_timeline``)."""

    __tablename__ = "subscriber_plans"
    __table_args__ = (Index("ix_subscriber_plans_msisdn_effective_from", "msisdn", "effective_from"),)

    plan_change_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    msisdn: Mapped[str] = mapped_column(ForeignKey("subscribers.msisdn"))
    plan_id: Mapped[str] = mapped_column(ID)
    effective_from: Mapped[datetime]
    recorded_at: Mapped[datetime]


class MerchantSuspension(Base):
    """A value-added provider's billing rights suspended or the suspension lifted (append-only): ``action`` at
    ``at`` by ``actor``, and why. A provider is suspended from a ``suspend`` entry until the ``lift`` after it;
    its VAS charges dated in between are refused by the consent gate (``store.merchant_windows``)."""

    __tablename__ = "merchant_suspensions"
    __table_args__ = (
        one_of("action", MERCHANT_ACTIONS),
        Index("ix_merchant_suspensions_provider_id_at", "provider_id", "at"),
    )

    entry_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(ID)
    action: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(ID)  # the login or OS user who did it (as the audit names them)
    reason: Mapped[str | None] = mapped_column(Text)



class LineStatusHistory(Base):
    """Each line's status through time (append-only): ``status`` from ``since`` on, until the line's next row (in
    ``since`` order), as the register learnt it at ``recorded_at`` from ``source`` (``register``: an import of the
    register file; ``line_suspend``: a confirmed fraud case's decision; ``backfill``: what the register said when
    the history began, migration 0016). The register (``subscribers``) keeps only a line's current state; rating
    reads from here the suspensions that ended (``store.suspension_windows``), so that usage made during one is
    held even when it is rated after the line was brought back into service."""

    __tablename__ = "line_status_history"
    __table_args__ = (
        one_of("status", SubscriberStatus),
        Index("ix_line_status_history_msisdn_since", "msisdn", "since"),
    )

    entry_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    msisdn: Mapped[str] = mapped_column(MSISDN)
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime]
    recorded_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    # why a ``suspended`` row's line was suspended (catalog.SUSPENSION_REASONS: ``requested``, 停机保号; ``arrears``;
    # ``fraud``), when the register file (``suspension_reason``) or the decision said; NULL: not said (migration 0026)
    reason: Mapped[str | None] = mapped_column(String(16))


class HomeBinding(Base):
    """The home this database serves (one row, ``slot`` 1): the id kept in the home (``<home>/home.id``), where it
    was and on which host when it was bound. The ledger of files and records already taken lives in the home
    (``mediation/state.sqlite``), so a second home on the database (a mistyped or unmounted ``FAIRTEL_HOME``, a
    second host) would take those files again and charge them twice: a home whose id is not this one's is refused
    (``home_mismatch``) unless adopted on purpose (``fairtel home adopt``)."""

    __tablename__ = "home_binding"
    __table_args__ = (CheckConstraint("slot = 1", name="one_row"),)

    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    home_id: Mapped[str] = mapped_column(String(64))
    home_path: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(255))
    bound_at: Mapped[datetime]


class MarketingPreference(Base):
    """A line's say on marketing based on automated profiling (PIPL Art. 24): one row per change (append-only:
    the latest row, by ``changed_at`` then ``pref_id``, is in force; a line without a row has not refused).
    ``source`` says who recorded it (the subscriber, or an agent on their behalf), ``channel`` how they said it."""

    __tablename__ = "marketing_preferences"
    __table_args__ = (
        Index("ix_marketing_preferences_msisdn_changed_at", "msisdn", "changed_at"),
        one_of("channel", MARKETING_CHANNELS),
        one_of("source", MARKETING_SOURCES),
    )

    pref_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    msisdn: Mapped[str] = mapped_column(MSISDN)
    opted_out: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str] = mapped_column(ID)


metadata = Base.metadata


def table_of(model: type[Base]) -> Table:
    """The Core ``Table`` of a mapped class (typed, for Core statements in the repositories)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
