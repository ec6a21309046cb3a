"""Work queues: charge-assurance findings, fraud cases, complaints, and the agents' assignments to them."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import polars as pl
import pyarrow.parquet as pq
from pydantic import BaseModel, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection

from fairtel.api._access import OWN_DATA, Access, in_holding
from fairtel.api._money import WIDEST_MINOR, amount_problem, parse_amount
from fairtel.api._paging import Page, fetch_page, money_text
from fairtel.assurance import (
    CHARGE_KINDS,
    BillTaxBase,
    ChargedRecord,
    Finding,
    FindingKind,
    FindingStatus,
    RecordKey,
    RefundAdjustment,
    RefundPolicy,
    RefundTaxes,
    ResolutionError,
    any_source,
    decide_refunds,
    dismiss,
    record_keys,
    refunded_text,
)
from fairtel.assurance._finding import minor_to_decimal
from fairtel.assurance._notify import Outbox, Sender
from fairtel.assurance._refunds import (
    RECOMPUTED_CODE,
    RefundedCharges,
    all_billed,
    refund_reason,
    refund_remaining,
    refundable_amount,
)
from fairtel.billing import TAXABLE_KINDS, AdjustmentEntry, AdjustmentKind, BillingPolicy, LineKind
from fairtel.billing import Bill as BillModel
from fairtel.billing._model import care_credit_reason, decode_reason, issued_policy
from fairtel.billing._statement import reason_words
from fairtel.care import ComplaintStatus, resolve_due, status_from_store
from fairtel.catalog import Catalog
from fairtel.core.errors import (
    ConflictError,
    InvalidInputError,
    NotAvailableError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
)
from fairtel.core.ids import stable_id
from fairtel.core.money import AMOUNT_DIGITS, Money, amount_pattern
from fairtel.core.reasons import refund_reason_in
from fairtel.fraud import CaseQueue, CaseStatus, InvalidTransitionError, pseudonymised_evidence
from fairtel.fraud import FraudCase as Case
from fairtel.kpi._complaint_report import APPEAL_CHANNEL
from fairtel.privacy import Permission, Role, e164_of, hide_identity_numbers, replace_numbers_in, replace_numbers_in_id
from fairtel.privacy._roles import View
from fairtel.store import Adjustment as AdjustmentRow
from fairtel.store import (
    AgentAssignment,
    AuditAs,
    Bill,
    Complaint,
    FraudCase,
    Lake,
    Subscriber,
    TroubleTicket,
    get_bill,
    get_complaint,
    move_complaint,
    open_complaint,
    record_adjustments,
    suspend_line,
)
from fairtel.store import Finding as FindingRow
from fairtel.store._care import record_refunds
from fairtel.store._report import dialect_insert
from fairtel.store._schema import COMPLAINT_LIFECYCLE, COMPLAINT_STATUSES, table_of


def _scrub(acc: Access, value: Any) -> Any:
    """Numbers inside evidence and notes are shown the way the principal may see numbers: in text however they
    are written (``138-0013-8000``), in the keys of evidence, and given as integers."""
    # every run of digits, also inside an id: a switch's id may carry the caller's number joined by "_" or letters
    # (FreeSWITCH ``call_<number>_…``), so ids are not spared here (a sequence id reads masked, as a number would)
    return replace_numbers_in(value, lambda digits: acc.show(digits) or "")


def shown_text(acc: Access, text: str | None) -> str | None:
    """Free text (a complaint's words and notes, a ticket's notes) with its numbers shown as ``_scrub`` shows them, each
    read as the register keeps numbers first (``privacy.e164_of``, by the numbering of the operator's home country): a number
    written as dialled at home (``13415320161``) is the subscriber's ``8613415320161``, plain to the agent handling
    them and the same pseudonym as theirs to others; any other number (a third party's) masked to agents and
    subscribers, as ``86139****5678``, and pseudonymised to other roles. ID-card and bank-card numbers are hidden.
    The one rule for every piece of free text the API shows. Not for evidence, whose fields hold E.164 numbers
    already."""
    if text is None:
        return None
    home = getattr(acc.pseudonyms, "home_country", None)
    return str(replace_numbers_in(text, lambda digits: acc.show(e164_of(digits, home_country=home)) or ""))


def _home(acc: Access) -> str | None:
    return getattr(acc.pseudonyms, "home_country", None)


def shown_id(acc: Access, identifier: str | None, msisdn: str | None) -> str | None:
    """An id a system outside fairtel made (an imported complaint ``cmp-8613800138000-01``, a consent order
    ``ord-8613800138000-0917``) as this principal may read it: a number it holds (``privacy.number_in_id``: its
    subscriber's, ``msisdn``, or a mobile number of the home numbering plan) shown as the principal may see that
    number, masked or pseudonymised; as stored to whoever sees that number plainly. Other ids read as stored."""
    if identifier is None:
        return None
    return replace_numbers_in_id(identifier, lambda n: None if acc.view(n) is View.PLAIN else acc.show(n),
                                 subject=msisdn, home_country=_home(acc))


def audited_text(acc: Access, text: str, msisdn: str | None) -> str:
    """A resource or reason bound for the audit with the numbers the ids in it hold (``shown_id``) kept as their
    pseudonyms; the audit then keeps every other number in it as its pseudonym too (``Access.hide_numbers``)."""
    return replace_numbers_in_id(text, acc.pseudonyms.msisdn, subject=msisdn, home_country=_home(acc))


# ---- findings ------------------------------------------------------------------------------------------
NOT_BILLED = "not_billed"
_BILLABLE = "consented"  # the consent gate's verdict for a charge billing may bill
# Evidence that names a record (the charge a duplicate repeats): shown as the finding's record ids are.
_RECORD_ID_KEYS = frozenset({"duplicate_of"})


class FindingOut(BaseModel):
    finding_id: str
    kind: str
    msisdn: str | None
    subscription_id: str | None
    record_ids: list[str] = Field(description="As stored to the agent handling the subscriber; to others with the numbers in them "
                                              "shown as the reader may see numbers.")
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
    amount: str = Field(description="What the subscriber gets back, tax included.")
    currency: str
    reason: str = Field(description="Why, as the statement words it (in English): a care credit `customer care credit (<the agent's "
                                    "words>)`, a refund charge assurance's sentence; never the code billing stores it in.")
    reason_zh: str = Field(description="The same in Chinese, as the Chinese statement words it.")
    tax: str | None = Field(None, description="The part of `amount` that is the tax the bill that charged the charge charged on it "
                                              "(`0.00` when no bill of fairtel's charged it); null for a refund that does not record it "
                                              "(posted by an earlier version, or by hand).")


class ResolutionOut(BaseModel):
    finding: FindingOut
    adjustment: AdjustmentOut | None = Field(description="The refund carrying the money back, if any.")
    outcome: str = Field(description="refunded (this request posted the adjustment), refunded_before (the charge's refund was "
                                     "posted earlier, through another finding about it: no money moved now), not_billed (the consent "
                                     "gate refused the charge and no bill carried it: closed, no money moved) or dismissed.")


def _record_id(acc: Access, record_id: str, *, plain: bool) -> str:
    """A record id as this principal may read it. A record id is the switch's, not personal data, unless it holds
    a number (an Asterisk channel ``SIP/8613800138000-…``): a reader who sees the finding's subscriber plainly (the
    agent handling them) reads it as stored, so as to look the record up; to others the numbers in it read as
    they may see numbers (masked, or pseudonymised: the same id reads the same in every response)."""
    return record_id if plain else str(_scrub(acc, record_id))


def _finding_out(acc: Access, r: Any) -> FindingOut:
    plain = r.msisdn is not None and acc.view(r.msisdn) is View.PLAIN
    evidence = dict(r.evidence or {})
    ids = {k: v for k, v in evidence.items() if k in _RECORD_ID_KEYS and isinstance(v, str)}
    shown = _scrub(acc, {k: v for k, v in evidence.items() if k not in ids})
    shown.update({k: _record_id(acc, v, plain=plain) for k, v in ids.items()})
    return FindingOut(
        finding_id=r.finding_id, kind=r.kind, msisdn=acc.show(r.msisdn), subscription_id=shown_id(acc, r.subscription_id, r.msisdn),
        record_ids=[_record_id(acc, str(rid), plain=plain) for rid in r.record_ids or []], amount=money_text(r.amount_minor, r.currency),
        currency=r.currency, status=r.status, evidence=shown, detected_at=r.detected_at, resolved_at=r.resolved_at,
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


def _to_resolve(acc: Access, finding_id: str) -> tuple[Any, Finding]:
    """A finding still open, and its row. An agent resolves one only while handling its subscriber, as they move
    that customer's complaints: a refund is posted to the customer's account and a dismissal closes their case."""
    acc.require(Permission.FINDING_RESOLVE)
    r = _finding_row(acc, finding_id)
    if r.msisdn is not None:
        acc.open_subject(r.msisdn)
    f = _as_finding(r)
    if f.status in (FindingStatus.RESOLVED, FindingStatus.DISMISSED):
        raise ResolutionError(f"finding {finding_id} is already {f.status.value}")
    return r, f


@dataclass(frozen=True, slots=True)
class ChargeTrace:
    """What fairtel's rating and billing did with some charges' records, keyed as ``record_keys`` keys them (each
    record under its own key and its ``any_source`` key): ``billed`` maps a record to the issued bill that charged
    it; ``refused`` are records the consent gate refused that no bill charged."""

    billed: dict[RecordKey, str | None]
    refused: frozenset[RecordKey]

    def bill_of(self, keys: Collection[RecordKey]) -> str | None:
        """The first issued bill that charged one of ``keys``."""
        return next((b for b in (self.billed.get(k) for k in keys) if b), None)


def _lake_rows(lake: Lake, dataset: str, wanted: pl.LazyFrame, columns: tuple[str, ...]) -> pl.DataFrame | None:
    """The rows of ``dataset`` about the ``wanted`` (msisdn, record id) pairs, with their source ("" when none);
    None when the dataset holds none of ``columns``."""
    files = lake.files(dataset)
    if not files:
        return None
    scan = pl.scan_parquet(files)
    names = set(scan.collect_schema().names())
    if not {"msisdn", "record_id", *columns} <= names:
        return None
    source = pl.col("source").fill_null("") if "source" in names else pl.lit("", dtype=pl.String)
    return (
        scan.join(wanted, on=["msisdn", "record_id"], how="semi")
        .select("msisdn", source.alias("source"), "record_id", *columns)
        .unique()
        .sort("msisdn", "source", "record_id", *columns)
        .collect()
    )


def charge_trace(conn: Connection, lake: Lake, keys: Collection[RecordKey]) -> ChargeTrace:
    """Which of ``keys`` reached an issued bill, and which the consent gate refused: read as ``fairtel assure
    --refund`` reads them in a home. A record is billed when the lake's ``billed`` lines written by the run that
    issued a bill hold it (a failed run's lines are no bill), or a rerate entry on a bill charged it (a charge rated
    after its bill); refused when rating gave it another verdict than ``consented`` and no bill charged it. Records
    are matched on subscriber, source and id: another switch's record with the same id is never taken for it."""
    pairs = sorted({(m, r) for m, _, r in keys})
    if not pairs:
        return ChargeTrace({}, frozenset())
    wanted = pl.LazyFrame({"msisdn": [m for m, _ in pairs], "record_id": [r for _, r in pairs]},
                          schema={"msisdn": pl.String(), "record_id": pl.String()})
    billed: dict[RecordKey, str | None] = {}
    lines = _lake_rows(lake, "billed", wanted, ("bill_id", "run_id"))
    if lines is not None and lines.height:
        b = table_of(Bill)
        bill_ids = sorted({str(x) for x in lines["bill_id"].to_list() if x is not None})
        runs = {row.bill_id: row.run_id for row in conn.execute(select(b.c.bill_id, b.c.run_id).where(b.c.bill_id.in_(bill_ids)))}
        for msisdn, source, record_id, bill_id, run_id in lines.iter_rows():
            if bill_id in runs and runs[bill_id] == run_id:
                billed.setdefault((msisdn, source, record_id), bill_id)
                billed.setdefault((msisdn, "", record_id), bill_id)
    a = table_of(AdjustmentRow)
    asked = set(pairs)
    rerated = conn.execute(
        select(a.c.msisdn, a.c.source, a.c.record_id, a.c.bill_id)
        .where(a.c.record_id.in_(sorted({r for _, r in pairs})), a.c.bill_id.is_not(None), a.c.new_amount_minor > 0)
        .order_by(a.c.bill_id)
    )
    for msisdn, source, record_id, bill_id in rerated:
        if (msisdn, record_id) in asked:
            billed.setdefault((msisdn, source or "", record_id), bill_id)
            billed.setdefault((msisdn, "", record_id), bill_id)
    refused: set[RecordKey] = set()
    rated = _lake_rows(lake, "rated", wanted, ("verdict",))
    if rated is not None:
        own = {(m, s, r) for m, s, r, _ in rated.iter_rows()}
        said_no = {(m, s, r) for m, s, r, v in rated.iter_rows() if (v or "") != _BILLABLE}
        refused = {k for k in said_no if k not in billed}
        # any source: refused when every record of the subscriber with that id was refused and none billed
        refused |= {any_source(k) for k in refused} - {any_source(k) for k in own - said_no} - set(billed)
    return ChargeTrace(billed, frozenset(refused))


def _issued_rates(lake: Lake, bills: Collection[BillModel]) -> dict[str, dict[str, Decimal]]:
    """bill id → the tax rates the bill was issued with, as its run's part of the lake's ``bills`` dataset keeps them
    (a bill whose part was written before they were kept is not named)."""
    runs = {b.run_id for b in bills if b.run_id}
    wanted = {b.bill_id for b in bills}
    out: dict[str, dict[str, Decimal]] = {}
    for f in lake.files("bills", periods=sorted({b.period for b in bills})):
        if f.stem not in runs or "tax_rates" not in pq.read_schema(f).names:
            continue
        for row in pq.read_table(f, columns=["bill_id", "tax_rates"]).to_pylist():
            if row["bill_id"] in wanted and row["tax_rates"] is not None:
                out[row["bill_id"]] = {k: Decimal(v) for k, v in json.loads(row["tax_rates"]).items()}
    return out


def _in_chunks(items: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _grown_records(lake: Lake | None, found: dict[str, Finding]) -> dict[str, Finding]:
    """``found`` (findings as the queue holds them) with the records their latest run wrote to the lake's
    ``findings`` added: a queue row written before it grew names fewer records than its refund covered."""
    if lake is None or not found:
        return found
    latest: dict[str, list[str]] = {}
    wanted = sorted(found)
    for path in lake.files("findings"):
        for row in pq.read_table(path, columns=["finding_id", "record_ids"], filters=[("finding_id", "in", wanted)]).to_pylist():
            latest[row["finding_id"]] = [str(x) for x in (row.get("record_ids") or [])]
    out = dict(found)
    for fid, records in latest.items():
        f = found[fid]
        more = tuple(r for r in records if r not in f.record_ids)
        if more:
            out[fid] = replace(f, record_ids=(*f.record_ids, *more))
    return out


def _ledger_refunds(conn: Connection, msisdns: Collection[str], lake: Lake | None = None) -> list[tuple[str, Finding | None, int, str]]:
    """What the ledger refunded for ``msisdns``, entry by entry, oldest first: each refund naming a finding, and each
    refund of usage past a cap taken back in part (a debit naming the finding, reason ``refund-recomputed``), as
    (finding id, the finding as the queue holds it: None for a kind this version does not know or a finding the queue
    does not hold, the charge before tax, entry id). A refund's charge is its ``old_amount_minor`` (a refund posted
    before it was kept gave no tax back: its amount); a take-back's is what it took back (``new_amount_minor -
    old_amount_minor``), below zero. With ``lake``, a finding names the records its latest run found too
    (``_grown_records``): its refund covered them."""
    a, ft = table_of(AdjustmentRow), table_of(FindingRow)
    taken_back = and_(a.c.kind == AdjustmentKind.DEBIT.value, a.c.reason.like(f"{RECOMPUTED_CODE} %"))
    rows = sorted((r for chunk in _in_chunks(sorted(msisdns)) for r in conn.execute(
        select(a.c.finding_id, a.c.kind, a.c.amount_minor, a.c.old_amount_minor, a.c.new_amount_minor, a.c.created_at, a.c.adjustment_id)
        .where(or_(a.c.kind == AdjustmentKind.REFUND.value, taken_back), a.c.msisdn.in_(chunk), a.c.finding_id.is_not(None))
    )), key=lambda r: (r.created_at, r.adjustment_id))
    found: dict[str, Finding] = {}
    for chunk in _in_chunks(sorted({r.finding_id for r in rows})):
        for r in conn.execute(select(ft).where(ft.c.finding_id.in_(chunk))):
            try:
                found[r.finding_id] = _as_finding(r)
            except ConflictError:  # a kind this version does not know: its records cannot be told
                continue
    found = _grown_records(lake, found)
    out: list[tuple[str, Finding | None, int, str]] = []
    for r in rows:
        if r.kind == AdjustmentKind.REFUND.value:
            minor = int(r.amount_minor if r.old_amount_minor is None else r.old_amount_minor)
        else:
            minor = -int((r.new_amount_minor or 0) - (r.old_amount_minor or 0))
        out.append((str(r.finding_id), found.get(r.finding_id), minor, str(r.adjustment_id)))
    return out


def _earlier_refunds(conn: Connection, msisdns: Collection[str]) -> list[tuple[Finding, int]]:
    """The refunds the ledger holds for ``msisdns`` that name a finding the queue holds, oldest first: each finding
    and the charge refunded before tax (``_ledger_refunds``: a take-back below zero)."""
    return [(f, minor) for _, f, minor, _ in _ledger_refunds(conn, msisdns) if f is not None]


def refunded_charges(conn: Connection, msisdns: Collection[str], lake: Lake | None = None) -> RefundedCharges:
    """The refunds the ledger holds for ``msisdns``, oldest first, each with the records its finding names and the
    charge it refunded before tax (``old_amount_minor``; a refund posted before it was kept: its amount), less what
    was taken back of them (a ``refund-recomputed`` debit naming the finding): what a charge was refunded before,
    whatever finding and path refunded it (``assurance.RefundedCharges``). With ``lake``, a finding that grew names
    the records its latest run found (``_grown_records``)."""
    out = RefundedCharges()
    for _, f, minor, adjustment_id in _ledger_refunds(conn, msisdns, lake):
        if f is not None:
            out.add(f, minor, adjustment_id)
    # a VAS charge an owner change's correction credited (a rerate's ``holding-record`` entry: the previous customer's)
    # was given back to the line as a refund would: no refund pays it again (usage is in its rerated charges)
    a = table_of(AdjustmentRow)
    for chunk in _in_chunks(sorted(msisdns)):
        for e in conn.execute(select(a.c.adjustment_id, a.c.msisdn, a.c.source, a.c.record_id, a.c.currency, a.c.reason,
                                     a.c.old_amount_minor, a.c.new_amount_minor)
                              .where(a.c.msisdn.in_(chunk), a.c.kind == AdjustmentKind.CREDIT.value,
                                     a.c.record_id.is_not(None), a.c.reason.like("holding-record %"))
                              .order_by(a.c.created_at, a.c.adjustment_id)):
            decoded = decode_reason(e.reason)
            if decoded is not None and decoded[1].get("kind") == "vas" and e.old_amount_minor is not None:
                out.refunds.append((e.adjustment_id, e.currency, ((e.msisdn, e.source or "", e.record_id),),
                                    int(e.old_amount_minor) - int(e.new_amount_minor or 0), e.adjustment_id))
    return out


def refund_taxes(conn: Connection, lake: Lake | None, findings: Sequence[Finding], *, current: BillingPolicy | None = None) -> RefundTaxes:
    """What refunds of ``findings`` give back in tax (``assurance.RefundTaxes``): read from the issued bills that
    charged their records, as ``fairtel assure --refund`` and ``POST /findings/{id}/refund`` both reckon it.

    A record is charged by an issued bill through the lake's ``billed`` lines the run that issued it wrote, and
    through the entries issued on that bill for it since (a rerate, a late charge); matched on subscriber, source
    and id (any source for a finding that names none). Each bill is reckoned at the rates it was issued with (its
    run's part of the ``bills`` dataset; a bill issued before they were kept: ``billing.issued_policy``, with
    ``current`` the rates now), from what it charged per kind plus the corrections issued on it, less the refunds
    the ledger already holds for its subscriber. Without the lake nothing can be told: no tax."""
    taxes = RefundTaxes()
    msisdns = sorted({f.msisdn for f in findings if f.msisdn})
    if lake is None or not msisdns:
        return taxes
    earlier = _earlier_refunds(conn, msisdns)
    every = [*findings, *(f for f, _ in earlier)]
    a = table_of(AdjustmentRow)
    entries = [e for chunk in _in_chunks(msisdns) for e in conn.execute(
        select(a.c.msisdn, a.c.source, a.c.record_id, a.c.bill_id, a.c.old_amount_minor, a.c.new_amount_minor)
        .where(a.c.msisdn.in_(chunk), a.c.bill_id.is_not(None), a.c.kind != AdjustmentKind.REFUND.value,
               a.c.old_amount_minor.is_not(None), a.c.new_amount_minor.is_not(None))
    )]
    pairs = sorted({(m, r) for f in every for m, _, r in record_keys(f)} | {(e.msisdn, e.record_id) for e in entries if e.record_id})
    if not pairs:
        return taxes
    wanted = pl.LazyFrame({"msisdn": [m for m, _ in pairs], "record_id": [r for _, r in pairs]},
                          schema={"msisdn": pl.String(), "record_id": pl.String()})
    kinds: dict[RecordKey, str] = {}
    rated = _lake_rows(lake, "rated", wanted, ("kind",))
    for m, src, r, kind in [] if rated is None else rated.iter_rows():
        kinds.setdefault((m, src, r), kind)
    # what each record came to on each issued bill: its billed lines, then the entries issued on the bill for it
    charged: dict[RecordKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    lines = _lake_rows(lake, "billed", wanted, ("line", "kind", "amount_minor", "bill_id", "run_id"))
    if lines is not None and lines.height:
        b = table_of(Bill)
        bill_ids = sorted({str(x) for x in lines["bill_id"].to_list() if x is not None})
        runs = {row.bill_id: row.run_id for chunk in _in_chunks(bill_ids)
                for row in conn.execute(select(b.c.bill_id, b.c.run_id).where(b.c.bill_id.in_(chunk)))}
        for m, src, r, _, kind, minor, bill_id, run_id in lines.iter_rows():
            if bill_id in runs and runs[bill_id] == run_id:
                kinds[(m, src, r)] = kind
                charged[(m, src, r)][bill_id] += int(minor or 0)
    shifts: dict[str, dict[RecordKey | None, int]] = defaultdict(lambda: defaultdict(int))  # bill → record (None: its fee) → shift
    for e in entries:
        key = None if e.record_id is None else (e.msisdn, e.source or "", e.record_id)
        shifts[e.bill_id][key] += e.new_amount_minor - e.old_amount_minor
        if key is not None:
            charged[key][e.bill_id] += e.new_amount_minor - e.old_amount_minor
    by_pair: dict[tuple[str, str], list[RecordKey]] = defaultdict(list)
    for k in sorted(charged):
        by_pair[(k[0], k[2])].append(k)
    for f in every:
        if f.finding_id in taxes.records:
            continue
        records: list[ChargedRecord] = []
        for m, src, r in record_keys(f):
            for key in ([(m, src, r)] if src else by_pair.get((m, r), [])):
                kind = kinds.get(key)
                if kind is None:
                    continue
                records.extend(ChargedRecord(r, bill_id, kind, minor) for bill_id, minor in sorted(charged.get(key, {}).items()))
        taxes.records[f.finding_id] = records
    # each bill the records are on: its rates, and what it taxed per kind with the corrections issued on it since
    bills = [b for b in (get_bill(conn, i) for i in sorted({c.bill_id for rs in taxes.records.values() for c in rs})) if b is not None]
    rates = _issued_rates(lake, bills)
    for bill in bills:
        bill_id = bill.bill_id
        if bill_id in rates:
            bill = replace(bill, tax_rates=rates[bill_id])
        base = {kind: bill.amount_of(kind) for kind in TAXABLE_KINDS}
        for key, shift in shifts.get(bill_id, {}).items():
            kind = LineKind.PLAN_FEE.value if key is None else kinds.get(key)
            if kind in base:
                base[kind] += shift
        taxes.bills[bill_id] = BillTaxBase(issued_policy(bill, current), base)
    taxes.taken_before(earlier)
    return taxes


def rerated_past_cap(conn: Connection, lake: Lake, findings: Sequence[Finding]) -> dict[str, int]:
    """The part past the cap (minor units, before tax) of the charges of each ``usage_past_cap`` finding as the
    ledger's rerate entries left them, for the findings a rerate corrected charges of (finding id → amount): what
    ``fairtel assure --refund`` and ``POST /findings/{id}/refund`` refund for it.

    A finding is reckoned on the charges as rating stored them: its amount is the subscriber's spend in the cap's
    scope for the period less the cap. A rerate moves that spend by what it brought each record in the scope to,
    the records before the cap included (a cut there moves the cap's crossing onto records the finding did not name):
    each record's last entry (``new_amount_minor``) against what rating stored it at. The scope is the preset's the
    finding names (``assurance.PRESETS``: kinds, roaming only); a cap of no preset (a subscriber's own, counted
    from when they set it) is reckoned on the records the finding names alone. The part past the cap is never
    below zero."""
    from fairtel.assurance._billshock import PRESETS

    capped = [f for f in findings if f.kind is FindingKind.USAGE_PAST_CAP and f.msisdn and f.currency
              and f.amount is not None and f.evidence.get("period")]
    files = lake.files("rated")
    if not capped or not files:
        return {}
    t = table_of(AdjustmentRow)
    last: dict[tuple[str, str, str, str], tuple[tuple[Any, str], str, int]] = {}  # (msisdn, source, record, period)
    for chunk in _in_chunks(sorted({f.msisdn for f in capped if f.msisdn})):
        rows = conn.execute(
            select(t.c.msisdn, t.c.source, t.c.record_id, t.c.period, t.c.currency, t.c.new_amount_minor, t.c.created_at,
                   t.c.adjustment_id)
            .where(t.c.msisdn.in_(chunk), t.c.record_id.is_not(None), t.c.period.is_not(None),
                   t.c.kind != AdjustmentKind.REFUND.value, t.c.old_amount_minor.is_not(None), t.c.new_amount_minor.is_not(None))
        )
        for e in rows:
            key, at = (e.msisdn, e.source or "", e.record_id, e.period), (e.created_at, e.adjustment_id)
            if key not in last or at > last[key][0]:
                last[key] = (at, e.currency, int(e.new_amount_minor))
    if not last:
        return {}
    pairs = sorted({(m, r) for m, _, r, _ in last} | {(f.msisdn or "", r) for f in capped for r in f.record_ids})
    wanted = pl.LazyFrame({"msisdn": [m for m, _ in pairs], "record_id": [r for _, r in pairs]},
                          schema={"msisdn": pl.String(), "record_id": pl.String()})
    scan = pl.scan_parquet(files)
    names = set(scan.collect_schema().names())
    if not {"msisdn", "record_id", "kind", "amount_minor", "currency"} <= names:
        return {}
    line = [pl.col("line")] if "line" in names else []
    roaming = pl.col("roaming_country").fill_null("") if "roaming_country" in names else pl.lit("")
    source = pl.col("source").fill_null("") if "source" in names else pl.lit("", dtype=pl.String)
    stored = (
        scan.join(wanted, on=["msisdn", "record_id"], how="semi")
        .select("msisdn", source.alias("source"), "record_id", *line, "kind", roaming.alias("roaming"), "amount_minor", "currency")
        .unique()
        .group_by("msisdn", "source", "record_id")
        .agg(pl.col("kind").first(), (pl.col("roaming") != "").any().alias("roaming"),
             pl.col("amount_minor").sum().alias("amount"), pl.col("currency").first())
        .collect()
    )
    rated = {(m, s, r): (kind, bool(roam), int(amount or 0), cur) for m, s, r, kind, roam, amount, cur in stored.iter_rows()}
    out: dict[str, int] = {}
    for f in capped:
        policy = PRESETS.get(str(f.evidence.get("policy", "")))
        kinds = None if policy is None or policy.kinds is None else set(policy.kinds)
        roaming_only = policy is not None and policy.roaming_only
        named = {(f.msisdn, rid) for rid in f.record_ids}
        moved, found = 0, False
        for (m, src, rid, period), (_, cur, new) in last.items():
            stored_as = rated.get((m, src, rid))
            if m != f.msisdn or period != f.evidence["period"] or cur != f.currency or stored_as is None:
                continue
            kind, roam, amount, _ = stored_as
            if policy is None and (m, rid) not in named:
                continue  # a cap of no preset (the subscriber's own): its scope is told by its records alone
            if (kinds is not None and kind not in kinds) or (roaming_only and not roam):
                continue
            moved += new - amount
            found = True
        if found:
            out[f.finding_id] = max(0, Money(f.amount or Decimal(0), f.currency or "").to_minor() + moved)
    return out


def finding_now(conn: Connection, lake: Lake, f: Finding) -> Finding:
    """``f`` (as the queue holds it) as charge assurance finds it now, as ``fairtel assure --refund`` refunds it: the
    records and amount its latest run wrote to the lake's ``findings`` (the queue keeps those it was first queued
    with, and late usage past a cap makes a finding grow), on the charges as rerated (``rerated_past_cap``)."""
    latest: dict[str, Any] | None = None
    for path in lake.files("findings"):
        rows = pq.read_table(path, filters=[("finding_id", "=", f.finding_id)]).to_pylist()
        if rows:
            latest = rows[-1]
    if latest is not None and latest.get("amount_minor") is not None and latest.get("currency") == f.currency:
        f = replace(f, record_ids=tuple(latest.get("record_ids") or f.record_ids), amount=minor_to_decimal(latest["amount_minor"], f.currency),
                    evidence=_evidence_of(latest.get("evidence")))
    past = rerated_past_cap(conn, lake, [f])
    if f.finding_id in past:
        f = replace(f, amount=Money.from_minor(past[f.finding_id], f.currency or "").amount)
    return f


def _trace(acc: Access, f: Finding) -> ChargeTrace:
    if acc.lake is None:
        raise NotAvailableError("whether the charge reached a bill is read from the lake, which this request was not given: "
                                "nothing was refunded")
    return charge_trace(acc.conn, acc.lake, record_keys(f))


def _refund_of(acc: Access, *, finding_id: str | None = None, adjustment_id: str | None = None) -> Any:
    t = table_of(AdjustmentRow)
    # by id, whatever its kind: a charge given back before by an owner change's credit names that entry
    q = select(t).where(t.c.kind == AdjustmentKind.REFUND.value, t.c.finding_id == finding_id) if finding_id is not None \
        else select(t).where(t.c.adjustment_id == adjustment_id)
    return acc.conn.execute(q.order_by(t.c.created_at, t.c.adjustment_id)).first()


def _adjustment_out(r: Any, catalog: Catalog | None = None) -> AdjustmentOut:
    tax = None
    if r.old_amount_minor is not None and r.new_amount_minor is not None:
        tax = money_text(r.amount_minor - abs(r.new_amount_minor - r.old_amount_minor), r.currency)
    return AdjustmentOut(adjustment_id=r.adjustment_id, kind=r.kind, amount=money_text(r.amount_minor, r.currency) or "", currency=r.currency,
                         reason=_reason_in(r.reason, catalog, "en"), reason_zh=_reason_in(r.reason, catalog, "zh"), tax=tax)


def _reason_in(reason: str, catalog: Catalog | None, language: str) -> str:
    """An adjustment's stored reason as its bill line words it in ``language`` (``reason_words``): a code and its
    parameters (a care credit) worded, a refund's sentence as charge assurance wrote it or in Chinese. Without the
    catalog (none stored), a coded reason is shown by the words its writer gave, or else as stored."""
    decoded = decode_reason(reason)
    if decoded is None:
        return refund_reason_in(reason, language)
    if catalog is not None:
        return reason_words(reason, catalog=catalog, language=language)
    return decoded[1].get("note", reason)


def refund_entry(adj: RefundAdjustment, *, bill_id: str | None) -> AdjustmentEntry:
    """The ledger entry of a refund, naming the bill that charged it (when fairtel issued it). ``amount_minor`` is what
    it gives back, tax included; ``old_amount_minor`` the charge before tax, ``new_amount_minor`` 0 (the charge as
    it stands now), so that the tax in it is ``amount_minor - old_amount_minor``."""
    return AdjustmentEntry(
        adjustment_id=adj.adjustment_id, kind=AdjustmentKind.REFUND, msisdn=adj.msisdn, amount_minor=Money(adj.amount, adj.currency).to_minor(),
        currency=adj.currency, reason=adj.reason, created_at=adj.created_at, created_by=adj.created_by, bill_id=bill_id, finding_id=adj.finding_id,
        old_amount_minor=Money(adj.charge, adj.currency).to_minor(), new_amount_minor=0,
    )


def _tell_refund(acc: Access, adj: RefundAdjustment, outbox: Outbox | None, sender: Sender | None) -> None:
    """The refund SMS to the subscriber (as ``fairtel assure --refund`` sends it), in their registered language: a
    call back to a Wangiri number was promised the outcome. Its id is the refund's, so it is sent once."""
    from fairtel.assurance._notify import DEFAULT_SENDER, refund_messages
    from fairtel.store import get_subscriber

    if outbox is None:
        return
    sub = get_subscriber(acc.conn, adj.msisdn)
    languages = {} if sub is None else {adj.msisdn: str(sub.language)}
    outbox.send(refund_messages([adj], languages=languages, sender=sender or DEFAULT_SENDER, now=acc.now))


# who posts the refunds of a ``fairtel assure --refund`` run (``cli._assure_refunds.ACTOR``): that command tells its own
# refunds again when a run stopped before its outbox write
ASSURE_ACTOR = "assure"


def _tell_refunds_again(acc: Access, finding_id: str, outbox: Outbox | None, sender: Sender | None) -> None:
    """The SMS of the refunds of ``finding_id`` posted through the API, queued again: a request stopped after its
    ledger write and before its outbox write left the finding refunded, so its retry is refused (409) and posts
    nothing. ``refund_messages`` derives a message id from its refund's, so the outbox skips one it holds already.
    Each is read back from its ledger entry (``refund_entry``: the charge before tax, the amount with the tax); only
    refunds no bill line carries yet (erasure refuses a line with such an entry: no erased line's message comes back)."""
    from fairtel.store._schema import BillLine as BillLineRow

    if outbox is None:
        return
    t, lines = table_of(AdjustmentRow), table_of(BillLineRow)
    rows = acc.conn.execute(
        select(t).outerjoin(lines, lines.c.adjustment_id == t.c.adjustment_id)
        .where(t.c.kind == AdjustmentKind.REFUND.value, t.c.finding_id == finding_id, t.c.created_by != ASSURE_ACTOR,
               lines.c.adjustment_id.is_(None))
        .order_by(t.c.created_at, t.c.adjustment_id)).all()
    for r in rows:
        paid = Money.from_minor(int(r.amount_minor), r.currency).amount
        charge = paid if r.old_amount_minor is None else Money.from_minor(int(r.old_amount_minor), r.currency).amount
        _tell_refund(acc, RefundAdjustment(
            adjustment_id=r.adjustment_id, finding_id=finding_id, msisdn=r.msisdn, amount=paid, currency=r.currency, reason=r.reason,
            created_at=r.created_at, created_by=r.created_by, tax=max(paid - charge, Decimal(0))), outbox, sender)


def refund_finding(acc: Access, finding_id: str, *, reason: str | None = None, outbox: Outbox | None = None,
                   sender: Sender | None = None) -> ResolutionOut:
    """Resolve with a refund, decided as ``fairtel assure --refund`` decides it in a home, so that the two never
    disagree. A charge is refunded only once an issued bill carried it: an adjustment (append-only) for the next
    bill, naming the bill that charged it. A charge the consent gate refused, which no bill carried, is closed
    ``not_billed`` with no money moving; one that may still be billed is refused (409) until a bill carries it.
    Usage past a cap is refunded once an issued bill charged every one of its records (``all_billed``; refused
    with 409 until then), on the charges as rerated (``finding_now``). Money moves once: a finding refunded
    already is refused (409) unless its amount grew since (late usage past a cap, a rerate that raised its
    charges), when what it grew by is refunded, once; a charge refunded through another finding about it closes
    this one with that refund (``refunded_before``). Other findings (a confirmation made at machine speed) are
    refunded as the agent decides.

    A refund gives back what the subscriber paid for the charge: the charge and the tax the bill that charged it
    charged on it, at that bill's rates (``refund_taxes``, ``assurance.refund_remaining``, as ``fairtel assure
    --refund`` reckons it); a part no issued bill charged gives no tax back. With ``outbox``, a refund posted is told
    to the subscriber by SMS (``sender``: the operator's name), as ``fairtel assure --refund`` tells it; a retry
    refused because the finding was refunded already queues its refunds' SMS again (``_tell_refunds_again``: the
    outbox keeps one message per refund)."""
    acc.require(Permission.FINDING_RESOLVE)
    r = _finding_row(acc, finding_id)
    if r.msisdn is not None:
        acc.open_subject(r.msisdn)
    f = _as_finding(r)
    earlier = _refund_of(acc, finding_id=finding_id)
    if f.status is FindingStatus.DISMISSED or (f.status is FindingStatus.RESOLVED and earlier is None):
        raise ResolutionError(f"finding {finding_id} is already {f.status.value}")
    if acc.lake is not None:
        f = finding_now(acc.conn, acc.lake, f)
    ledger = refunded_charges(acc.conn, [f.msisdn] if f.msisdn else [], acc.lake)
    grown = False
    if earlier is not None:  # refunded before: only what its amount grew by since is refunded
        if f.currency is None or Money(refundable_amount(f), f.currency).to_minor() <= ledger.minor(f):
            said = f"is already {f.status.value}" if f.status is FindingStatus.RESOLVED else "was refunded already"
            _tell_refunds_again(acc, finding_id, outbox, sender)  # the SMS a request stopped before its outbox write owes
            raise ResolutionError(f"finding {finding_id} {said} ({earlier.adjustment_id})", details={"adjustment_id": earlier.adjustment_id})
        grown = f.status is FindingStatus.RESOLVED
        f = replace(f, status=FindingStatus.OPEN)
    bill_id = None
    if f.kind in CHARGE_KINDS or f.kind is FindingKind.USAGE_PAST_CAP:
        trace = _trace(acc, f)
        if f.kind in CHARGE_KINDS and not grown:
            decided = decide_refunds([f], policy=RefundPolicy(automatic=frozenset({f.kind})), billed_records=trace.billed,
                                     refused_records=trace.refused, by=acc.actor, now=acc.now)
            closed = next((res for res in decided.resolutions if res.resolution == NOT_BILLED), None)
            if closed is not None:
                text = f"{closed.resolution}: {closed.reason}"
                _close(acc, finding_id, closed.status.value, closed.resolved_at, closed.resolved_by, text)
                acc.audit("finding.resolve", f"finding/{finding_id}", msisdn=r.msisdn, reason=text)
                return ResolutionOut(finding=_finding_out(acc, _finding_row(acc, finding_id)), adjustment=None, outcome=NOT_BILLED)
        bill_id = trace.bill_of(record_keys(f))
        if f.kind is FindingKind.USAGE_PAST_CAP and not all_billed(f, trace.billed):
            unbilled = sum(1 for k in record_keys(f) if k not in trace.billed)
            raise ResolutionError(f"finding {finding_id} is not billed yet: usage past a cap is refunded once an issued bill charged all "
                                  f"its records ({unbilled} of {len(f.record_ids)} not billed yet), with the tax that bill charged on them",
                                  details={"billed": False, "records_not_billed": unbilled})
        if f.kind in CHARGE_KINDS and not any(k in trace.billed for k in record_keys(f)):
            raise ResolutionError(f"finding {finding_id}: no issued bill has carried its charge yet, so there is nothing to refund; "
                                  "it is refunded once a bill carries it", details={"billed": False})
    elif f.record_ids and acc.lake is not None:
        bill_id = charge_trace(acc.conn, acc.lake, record_keys(f)).bill_of(record_keys(f))  # the bill that charged it
    # a charge is refunded once in total, whatever finding names it: only what was not refunded before is refunded
    already = ledger.minor(f)
    if not grown and already > 0 and f.currency is not None and Money(refundable_amount(f), f.currency).to_minor() <= already:
        last = ledger.last(f)
        text = f"refunded: {reason or refund_reason(f)} (refunded before: {last})"
        _close(acc, finding_id, FindingStatus.RESOLVED.value, acc.now, acc.actor, text)
        acc.audit("finding.resolve", f"finding/{finding_id}", msisdn=r.msisdn, reason=text)
        return ResolutionOut(finding=_finding_out(acc, _finding_row(acc, finding_id)),
                             adjustment=_adjustment_out(_refund_of(acc, adjustment_id=last)), outcome="refunded_before")
    adj = refund_remaining(f, ledger=ledger, taxes=refund_taxes(acc.conn, acc.lake, [f]), by=acc.actor, now=acc.now, reason=reason,
                           held=lambda adjustment_id: _refund_of(acc, adjustment_id=adjustment_id) is not None)
    if adj is None:
        raise ResolutionError(f"finding {finding_id} has nothing to refund")
    posted = record_adjustments(acc.conn, [refund_entry(adj, bill_id=bill_id)])
    if grown:  # resolved when it was refunded first: it stays so, its refund grows
        acc.audit("finding.refund", f"finding/{finding_id}", msisdn=r.msisdn, reason=f"{adj.reason} (what its amount grew by)")
    else:
        _close(acc, finding_id, FindingStatus.RESOLVED.value, acc.now, acc.actor, refunded_text(adj.reason, adj))
        acc.audit("finding.refund", f"finding/{finding_id}", msisdn=r.msisdn, reason=adj.reason)
    if posted:
        _tell_refund(acc, adj, outbox, sender)
    carried = _refund_of(acc, adjustment_id=adj.adjustment_id)
    return ResolutionOut(finding=_finding_out(acc, _finding_row(acc, finding_id)), adjustment=_adjustment_out(carried),
                         outcome="refunded" if posted else "refunded_before")


def dismiss_finding(acc: Access, finding_id: str, *, reason: str) -> ResolutionOut:
    r, f = _to_resolve(acc, finding_id)
    res = dismiss(f, reason=reason or "", by=acc.actor, now=acc.now)
    _close(acc, finding_id, res.status.value, res.resolved_at, res.resolved_by, f"dismissed: {res.reason}")
    acc.audit("finding.dismiss", f"finding/{finding_id}", msisdn=r.msisdn, reason=res.reason)
    return ResolutionOut(finding=_finding_out(acc, _finding_row(acc, finding_id)), adjustment=None, outcome="dismissed")


def _close(acc: Access, finding_id: str, status: str, at: datetime, by: str, resolution: str) -> None:
    t = table_of(FindingRow)
    done = acc.conn.execute(
        update(t)
        .where(t.c.finding_id == finding_id, t.c.status.in_(("open", "confirmed")))
        .values(status=status, resolved_at=at, resolved_by=by, resolution=resolution)
    )
    if done.rowcount != 1:
        raise ConflictError(f"finding {finding_id} was resolved meanwhile")


# ---- credits: an agent gives back a disputed or goodwill charge ------------------------------------------
CREDIT_REASON_MIN = 3
_CREDITED = (AdjustmentKind.CREDIT.value, AdjustmentKind.REFUND.value)


DECIMAL_TEXT = amount_pattern(WIDEST_MINOR)
"""A money input as the API takes it (``_money``): a decimal string in plain digits (``"3.50"``), never a JSON
number; at most the bill's currency's minor digits, checked once the bill is read."""


class NewCredit(BaseModel):
    # served as what it is read as (a string of that pattern): a client made from the schema sends no number
    amount: Annotated[Decimal, WithJsonSchema({"type": "string", "pattern": DECIMAL_TEXT, "examples": ["3.50"]})] = Field(
        gt=0, max_digits=14, description="What the subscriber gets back, tax included, in the bill's "
                            "currency (a decimal string, at most its minor units: `\"3.50\"`; a JSON number is refused).")
    reason: str = Field(min_length=CREDIT_REASON_MIN, max_length=180, description="Why, in words: carried into the next "
                        "bill's line and the audit (numbers in it kept there as their pseudonyms).")
    record_id: str | None = Field(None, min_length=1, max_length=255, description="The charge (a usage record the bill "
                                  "charged) it gives back; leave out for a credit against the bill as a whole.")
    source: str | None = Field(None, max_length=255, description="The switch the record came from, when two share its id.")
    complaint_id: str | None = Field(None, min_length=1, max_length=40, description="The complaint it settles (same line): "
                                     "named in the audit; `POST /complaints/{id}/resolve` with `refund` links it.")
    idempotency_key: str | None = Field(None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                                        description="The same key posts the credit once, however often the request is sent "
                                        "(left out: the same bill, record, amount, reason and complaint post it once).")

    @field_validator("amount", mode="before")
    @classmethod
    def _decimal_string(cls, value: Any) -> Any:
        """A decimal string (``"3.50"``), as every money field of the API: never a JSON number, which a client may
        have computed in binary floating point."""
        if value is None:  # null is no number: the amount was left empty
            raise PydanticCustomError("decimal_type", 'required: a decimal string such as "12.50"')
        if not isinstance(value, str):
            number = isinstance(value, int | float) and not isinstance(value, bool)
            raise PydanticCustomError("decimal_type", 'a decimal string, e.g. "3.50"' + (", not a JSON number" if number else ""))
        if amount_problem(value, None) is not None:  # what the schema says: no exponent, sign or spaces either
            raise PydanticCustomError("decimal_parsing",  # pydantic's own words first: the console words them in the reader's language
                                      f'Input should be a valid decimal in plain digits, e.g. "3.50" (no sign, spaces or '
                                      f'exponent; at most {AMOUNT_DIGITS} digits before the point)')
        return value

    @field_validator("reason")
    @classmethod
    def _in_words(cls, value: str) -> str:
        text = value.strip()
        if sum(c.isalpha() for c in text) < CREDIT_REASON_MIN:
            raise ValueError(f"say why in words: at least {CREDIT_REASON_MIN} letters")
        return text


class CreditOut(BaseModel):
    adjustment: AdjustmentOut
    bill_id: str
    record_id: str | None
    outcome: str = Field(description="credited (this request posted it) or credited_before (a retried request: the "
                                     "credit the same key posted, no money moved now).")
    remaining: str = Field(description="What may still be credited against the bill (or the record), after this credit.")


def _credited_before(acc: Access, bill_id: str, record_id: str | None, source: str | None) -> int:
    """Minor units the ledger gave back against ``bill_id``: every entry naming it, net (credits and refunds less
    debits: a rerate that raised a charge of the bill added to it); with ``record_id``, against that record of it:
    the credits naming it that are no rerate entry (``_record_charged`` counts those), and the refunds of findings
    naming it (a refund covering several records counts its share)."""
    a = table_of(AdjustmentRow)
    if record_id is None:
        rows = acc.conn.execute(select(a.c.kind, a.c.amount_minor).where(a.c.bill_id == bill_id)).all()
        return sum(int(r.amount_minor) if r.kind in _CREDITED else -int(r.amount_minor) for r in rows)
    q = select(a.c.amount_minor).where(a.c.bill_id == bill_id, a.c.kind.in_(_CREDITED), a.c.record_id == record_id,
                                       a.c.old_amount_minor.is_(None))
    if source is not None:
        q = q.where(or_(a.c.source == source, a.c.source.is_(None)))
    total = int(sum(acc.conn.execute(q).scalars()))
    bill = get_bill(acc.conn, bill_id)
    for refund in record_refunds(acc.conn, bill.msisdn if bill else "", record_id, source=source,
                                 period=bill.period if bill else None):
        total += -(-refund.amount_minor // max(1, refund.records))
    return total


def _record_charged(acc: Access, bill: BillModel, record_id: str, source: str | None) -> int:
    """What ``bill`` charged for a usage record, tax included at the rate the bill charged its kind (its lines in the
    lake's ``billed`` dataset written by the run that issued it, and the entries issued on it for the record since);
    0 when the bill did not charge it."""
    if acc.lake is None:
        raise NotAvailableError("what the bill charged for a record is read from the lake, which this request was not given: "
                                "nothing was credited")
    wanted = pl.LazyFrame({"msisdn": [bill.msisdn], "record_id": [record_id]}, schema={"msisdn": pl.String(), "record_id": pl.String()})
    lines = _lake_rows(acc.lake, "billed", wanted, ("kind", "amount_minor", "bill_id", "run_id"))
    per_kind: dict[str, int] = defaultdict(int)
    for _, src, _, kind, minor, bill_id, run_id in [] if lines is None else lines.iter_rows():
        if bill_id == bill.bill_id and run_id == bill.run_id and (source is None or src == source):
            per_kind[str(kind)] += int(minor or 0)
    a = table_of(AdjustmentRow)
    for e in acc.conn.execute(select(a.c.source, a.c.old_amount_minor, a.c.new_amount_minor).where(
            a.c.bill_id == bill.bill_id, a.c.record_id == record_id, a.c.kind != AdjustmentKind.REFUND.value,
            a.c.old_amount_minor.is_not(None), a.c.new_amount_minor.is_not(None))):
        if source is None or (e.source or "") == source:
            kind = next(iter(per_kind), None)
            if kind is not None:
                per_kind[kind] += e.new_amount_minor - e.old_amount_minor
    rates = _issued_rates(acc.lake, [bill]).get(bill.bill_id)
    policy = issued_policy(replace(bill, tax_rates=rates) if rates is not None else bill)
    return max(0, sum(m + policy.tax_on(k, m) for k, m in per_kind.items() if m > 0))


def credit_id(bill_id: str, record_id: str | None, source: str | None, key: str) -> str:
    """The ledger id of a credit: the same request (its key) always names the same entry, so it is posted once."""
    return stable_id("adj", "care-credit", bill_id, source or "", record_id or "", key)


def post_credit(acc: Access, bill_id: str, body: NewCredit, *, catalog: Catalog | None = None) -> CreditOut:
    """An agent handling the customer gives back a disputed or goodwill charge: a credit entry of the adjustments
    ledger against an issued bill (or a usage record it charged), carried into the next bill as other adjustments
    are. Never more than the bill charged (for the record: what it charged for it, tax included), less what was
    credited or refunded against it before (409 otherwise, with what remains). The amount is a decimal in the bill's
    currency, kept in minor units. A retried request posts nothing again (``idempotency_key``, or the same bill,
    record, amount, reason and complaint); the same key with another amount or bill is refused (409). Audited
    (``adjustment.credit``) with the reason and the complaint."""
    acc.require(Permission.COMPLAINT_WRITE)
    bill = get_bill(acc.conn, bill_id)
    if bill is None:
        raise NotFoundError(f"no bill {bill_id}")
    why = audited_text(acc, acc.open_subject(bill.msisdn), bill.msisdn)
    c = None
    if body.complaint_id is not None:
        c = _complaint_row(acc, body.complaint_id)
        if c.msisdn != bill.msisdn:
            raise InvalidInputError([Problem("request", None, "complaint_id", "the complaint is about another line than the bill")],
                                    what="credit")
    minor = Money(parse_amount(body.amount, bill.currency, what="credit"), bill.currency).to_minor()  # its minor digits
    # two credits of one line are decided one after the other (PostgreSQL: a row lock; SQLite: the request's
    # transaction holds the write lock): the second reads the first once it committed, so together they never pass
    # what may be credited
    sub = table_of(Subscriber)
    acc.conn.execute(select(sub.c.msisdn).where(sub.c.msisdn == bill.msisdn).with_for_update())
    key = body.idempotency_key or "|".join((str(minor), body.reason, body.complaint_id or ""))
    adjustment_id = credit_id(bill_id, body.record_id, body.source, key)
    a = table_of(AdjustmentRow)
    held = acc.conn.execute(select(a).where(a.c.adjustment_id == adjustment_id)).first()
    if held is not None:
        if held.amount_minor != minor or held.bill_id != bill_id:
            raise ConflictError(f"idempotency key used before for another credit ({held.adjustment_id})",
                                details={"adjustment_id": held.adjustment_id})
        return CreditOut(adjustment=_adjustment_out(held, catalog), bill_id=bill_id, record_id=held.record_id, outcome="credited_before",
                         remaining=money_text(_credit_room(acc, bill, body), bill.currency) or "0")
    room = _credit_room(acc, bill, body)
    if minor > room:
        what = f"record {body.record_id} on bill {bill_id}" if body.record_id else f"bill {bill_id}"
        raise ConflictError(f"{money_text(minor, bill.currency)} {bill.currency} is more than may still be credited against {what}: "
                            f"{money_text(room, bill.currency)} {bill.currency}",
                            details={"field": "amount", "remaining": money_text(room, bill.currency)})
    reason = hide_identity_numbers(body.reason)
    entry = AdjustmentEntry(  # the reason a code the statement words in the reader's language, the agent's words its note
        adjustment_id=adjustment_id, kind=AdjustmentKind.CREDIT, msisdn=bill.msisdn, amount_minor=minor, currency=bill.currency,
        reason=care_credit_reason(reason, bill.currency, complaint=body.complaint_id, record=body.record_id), created_at=acc.now,
        created_by=acc.actor, bill_id=bill_id, source=body.source if body.record_id else None,
        record_id=body.record_id,  # no period: the entry corrects no rating (rerates and releases key on period and record)
    )
    posted = record_adjustments(acc.conn, [entry])
    acc.audit("adjustment.credit", f"bill/{bill_id}", msisdn=bill.msisdn,
              reason=f"{why}: credit {money_text(minor, bill.currency)} {bill.currency} {adjustment_id}"
                     + (f" record {body.record_id}" if body.record_id else "")
                     + (f" complaint {audited_text(acc, c.complaint_id, bill.msisdn)}" if c is not None else "") + f": {reason}")
    row = acc.conn.execute(select(a).where(a.c.adjustment_id == adjustment_id)).one()
    return CreditOut(adjustment=_adjustment_out(row, catalog), bill_id=bill_id, record_id=body.record_id,
                     outcome="credited" if posted else "credited_before",
                     remaining=money_text(_credit_room(acc, bill, body), bill.currency) or "0")


def _credit_room(acc: Access, bill: BillModel, body: NewCredit) -> int:
    """What may still be credited against the bill, or the record: the least of the two."""
    room = max(0, bill.total_minor - _credited_before(acc, bill.bill_id, None, None))
    if body.record_id is not None:
        charged = _record_charged(acc, bill, body.record_id, body.source)
        if charged == 0:
            raise NotFoundError(f"bill {bill.bill_id} charged nothing for record {body.record_id}", details={"field": "record_id"})
        room = min(room, max(0, charged - _credited_before(acc, bill.bill_id, body.record_id, body.source)))
    return room


_SYNC_CHUNK = 500  # findings a statement adds


def _evidence_of(value: Any) -> dict[str, Any]:
    """A finding's evidence as the lake holds it (a JSON object, or text written as such), as the queue keeps it."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = {"text": value}
    return value if isinstance(value, dict) else {"value": value}


def sync_findings(conn: Any, lake: Lake) -> int:
    """Findings `fairtel assure` wrote to the lake, added to the work queue (once; the queue keeps their status).
    A finding the queue holds already takes the records, amount and evidence its latest run wrote (usage past a
    cap grows as late usage arrives: the queue shows, and a refund reads, what it covers now); its status and
    resolution stay as they are. Returns how many the queue did not hold yet: the rows the insert returns (a
    driver's row count of an ``INSERT ... ON CONFLICT DO NOTHING`` is not to be trusted: psycopg gives -1 for it)."""
    t = table_of(FindingRow)
    values: dict[str, dict[str, Any]] = {}
    latest: dict[str, dict[str, Any]] = {}
    for f in lake.files("findings"):
        for row in pq.read_table(f).to_pylist():
            latest[row["finding_id"]] = row
            if row["finding_id"] in values:  # the first written stands, as it did when it was queued
                continue
            values[row["finding_id"]] = {
                "finding_id": row["finding_id"], "kind": row["kind"], "msisdn": row.get("msisdn"), "subscription_id": row.get("subscription_id"),
                "record_ids": list(row.get("record_ids") or []), "amount_minor": row.get("amount_minor"),
                "currency": row.get("currency") if row.get("amount_minor") is not None else None,
                "status": row.get("status") or "open", "evidence": _evidence_of(row.get("evidence")),
                "detected_at": row["detected_at"], "resolved_at": None, "resolved_by": None, "resolution": None,
            }
    rows = list(values.values())
    insert = dialect_insert(conn, t).on_conflict_do_nothing().returning(t.c.finding_id)
    added = 0
    for i in range(0, len(rows), _SYNC_CHUNK):
        added += len(conn.execute(insert, rows[i : i + _SYNC_CHUNK]).all())
    _grow_findings(conn, latest)
    return added


def _grow_findings(conn: Any, latest: dict[str, dict[str, Any]]) -> None:
    """The queue's rows brought to the records, amount and evidence of their finding's latest lake row where the
    finding grew (it names every record the row names, and more: late usage past a cap): the status, resolution
    and who decided stay. A row the lake holds otherwise (the same records told again) keeps what it held."""
    t = table_of(FindingRow)
    ids = sorted(latest)
    for i in range(0, len(ids), _SYNC_CHUNK):
        held = conn.execute(select(t.c.finding_id, t.c.record_ids, t.c.amount_minor, t.c.currency, t.c.evidence)
                            .where(t.c.finding_id.in_(ids[i : i + _SYNC_CHUNK]))).all()
        for r in held:
            row = latest[r.finding_id]
            records, amount = list(row.get("record_ids") or []), row.get("amount_minor")
            currency = row.get("currency") if amount is not None else None
            if amount is None or (r.currency is not None and currency != r.currency):
                continue  # a row without an amount, or in another currency, tells nothing of how it grew
            held_records = [str(x) for x in (r.record_ids or [])]
            if not set(held_records) < set(records):
                continue  # not grown: the queue keeps what it held
            evidence = {**(r.evidence if isinstance(r.evidence, dict) else {}), **_evidence_of(row.get("evidence"))}
            conn.execute(update(t).where(t.c.finding_id == r.finding_id)
                         .values(record_ids=records, amount_minor=amount, currency=currency, evidence=evidence))


# ---- fraud cases ---------------------------------------------------------------------------------------
# A case is decided in its ``fraud_cases`` row, by the API and the command line alike: the row still open is the
# one decided, in one statement, so a case is never decided twice; the row's history holds the decision as the
# command line's queue records it (``fairtel.fraud.Decision``), and ``fairtel fraud`` copies it into the home's
# case files, where its queue and the training labels read it.
class ReasonOut(BaseModel):
    """One condition the detector found held, in words (``fairtel.fraud.Reason``)."""

    code: str
    en: str
    zh: str
    value: float | None = Field(None, description="What was measured (null: missing, which a model may find telling).")
    threshold: float | None = Field(None, description="What it was measured against, if anything.")


class FraudCaseOut(BaseModel):
    case_id: str
    detector: str
    msisdn: str
    score: float = Field(description="The detector's score, 0 to 1, as computed (not rounded).")
    status: str
    period: str | None = Field(None, description="The billing period (`YYYY-MM`) the detector looked at; null for a case "
                                                 "stored without one.")
    reasons: list[ReasonOut] = Field(default_factory=list, description="Why the detector opened the case, in words, in "
                                     "both languages (numbers in them as the reader may see numbers); empty for a case "
                                     "stored without them (its `evidence` holds the measurements).")
    evidence: dict[str, Any]
    opened_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None = Field(None, description="The deciding analyst's note, numbers as their pseudonyms; null while open "
                                               "or decided without one.")
    line: str | None = Field(None, description="Answering a decision that suspended the line: `suspended`, or why nothing "
                                               "changed (`already_suspended`, `closed`, `not_registered`). Listed: for a "
                                               "case decided with a suspension, the line's status in the register now "
                                               "(`suspended`, `active` once brought back into service, `closed`, or "
                                               "`not_registered`); null otherwise.")


class Decision(BaseModel):
    status: str = Field(pattern="^(confirmed|false_alarm)$")
    note: str | None = Field(None, max_length=500, description="Why; a number in it is kept as its pseudonym (in the case's "
                                                              "history and the audit).")
    suspend: bool = Field(False, description="With `confirmed`, on a SIM-box or scam line: suspend the line.")


REVEAL_MIN_CHARACTERS = 5  # besides spaces
REVEAL_MIN_LETTERS = 3  # letters of any script: 核实来电 and "call back" alike


def reveal_reason(text: str) -> str:
    """Why a plain number is revealed, without surrounding spaces: words, not spaces or punctuation (``'     '``,
    ``'.....'``, ``'12345'`` say nothing to a reader of the audit). At least 5 characters besides spaces, 3 of
    them letters (Chinese characters count as letters); ``ValueError`` otherwise."""
    reason = text.strip()
    shown = [c for c in reason if not c.isspace()]
    if len(shown) < REVEAL_MIN_CHARACTERS or sum(c.isalpha() for c in shown) < REVEAL_MIN_LETTERS:
        raise ValueError(f"say why the number is needed, in words: at least {REVEAL_MIN_CHARACTERS} characters besides "
                         f"spaces, {REVEAL_MIN_LETTERS} of them letters")
    return reason


class Reveal(BaseModel):
    reason: str = Field(min_length=5, max_length=500, description="Why the plain number is needed, in words (at least 5 "
                        "characters besides spaces, 3 of them letters); kept in the audit, numbers as their pseudonyms.")

    @field_validator("reason")
    @classmethod
    def _in_words(cls, value: str) -> str:
        return reveal_reason(value)


class RevealOut(BaseModel):
    case_id: str
    msisdn: str


def _related(r: Any) -> list[str]:
    """The other subscribers a case names (those who called a Wangiri number back), as stored: numbers."""
    evidence = r.evidence if isinstance(r.evidence, dict) else {}
    return [str(m) for m in evidence.get("related") or () if m]


def _reasons(acc: Access, evidence: dict[str, Any]) -> list[ReasonOut]:
    """The case's reasons as the detector worded them; an entry that is not one (a row written by hand) is left out."""
    out = []
    for r in evidence.get("reasons") or ():
        if not isinstance(r, dict) or not r.get("en"):
            continue
        value, threshold = r.get("value"), r.get("threshold")
        out.append(ReasonOut(
            code=str(r.get("code") or ""), en=str(_scrub(acc, str(r["en"]))), zh=str(_scrub(acc, str(r.get("zh") or r["en"]))),
            value=float(value) if isinstance(value, int | float) else None,
            threshold=float(threshold) if isinstance(threshold, int | float) else None,
        ))
    return out


def _last_decision(evidence: dict[str, Any]) -> dict[str, Any] | None:
    history = evidence.get("history")
    last = history[-1] if isinstance(history, list) and history else None
    return last if isinstance(last, dict) else None


def _case_out(acc: Access, r: Any, *, lines: dict[str, str] | None = None) -> FraudCaseOut:
    """``lines``: the register status of the lines whose case was decided with a suspension (``_suspended_lines``)."""
    evidence = dict(r.evidence or {})
    if acc.view(r.msisdn) is not View.PLAIN:
        evidence = pseudonymised_evidence(evidence)  # the line's holding to the month, as the subscriber list dates it
    if "status" in evidence:  # the row's status is the case's (a copy written before a decision may lag)
        evidence["status"] = r.status
    decided = _last_decision(evidence) if r.status != CaseStatus.OPEN.value else None
    note = decided.get("note") if decided is not None else None
    line = None
    if lines is not None and decided is not None and decided.get("suspend"):
        line = lines.get(r.msisdn, "not_registered")
    period = evidence.get("period")
    return FraudCaseOut(
        case_id=r.case_id, detector=r.detector, msisdn=acc.show(r.msisdn) or "", score=float(r.score), status=r.status,
        period=str(period) if period else None, reasons=_reasons(acc, evidence),
        evidence=_scrub(acc, evidence), opened_at=r.opened_at, decided_by=acc.login_name(r.decided_by), decided_at=r.decided_at,
        note=str(_scrub(acc, str(note))) if note else None, line=line,
    )


def _suspended_lines(conn: Connection, rows: Sequence[Any]) -> dict[str, str]:
    """The register status now of the lines of the cases among ``rows`` decided with a suspension."""
    wanted = {r.msisdn for r in rows if r.status == CaseStatus.CONFIRMED.value
              and (_last_decision(dict(r.evidence or {})) or {}).get("suspend")}
    if not wanted:
        return {}
    s = table_of(Subscriber)
    return {m: st for m, st in conn.execute(select(s.c.msisdn, s.c.status).where(s.c.msisdn.in_(sorted(wanted))))}


PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def list_fraud_cases(
    acc: Access, *, status: str | None = None, detector: str | None = None, period: str | None = None, limit: int = 50,
    cursor: str | None = None,
) -> Page[FraudCaseOut]:
    """The queue, highest score first; ``period`` (``YYYY-MM``) keeps the cases of that period. The audit has a row for
    each subscriber on the page: a case's subject and the subscribers it names (a Wangiri case's callers back), whose
    pseudonyms the page shows."""
    acc.require(Permission.FRAUD_CASE_READ)
    if period is not None and not re.fullmatch(PERIOD_PATTERN, period):
        raise InvalidInputError([Problem("request", None, "period", "a period is YYYY-MM, e.g. 2026-09")], what="fraud cases")
    t = table_of(FraudCase)
    q = select(t).order_by(t.c.score.desc(), t.c.case_id)
    if status:
        q = q.where(t.c.status == status)
    if detector:
        q = q.where(t.c.detector == detector)
    if period:  # the case's period is in its evidence, as the detectors wrote it
        q = q.where(t.c.evidence["period"].as_string() == period)
    rows, nxt = fetch_page(acc.conn, q, limit=limit, cursor=cursor)
    acc.audit_list("fraud_case.list", "fraud_cases", (m for r in rows for m in (r.msisdn, *_related(r))),
                   reason=f"fraud queue ({len(rows)} rows)")
    lines = _suspended_lines(acc.conn, rows)
    return Page(items=[_case_out(acc, r, lines=lines) for r in rows], next_cursor=nxt)


def _case_row(acc: Access, case_id: str) -> Any:
    t = table_of(FraudCase)
    r = acc.conn.execute(select(t).where(t.c.case_id == case_id)).first()
    if r is None:
        raise NotFoundError(f"no fraud case {case_id}")
    return r


def _as_case(r: Any) -> Case:
    """The open case of a row, as the command line's queue holds it (its detector, subject and kind decide whether a
    decision may suspend the line); a row inserted with less evidence is read from its columns."""
    evidence = dict(r.evidence or {})
    try:
        return Case.from_dict({**evidence, "case_id": r.case_id, "detector": r.detector, "subject": r.msisdn, "score": r.score,
                               "period": evidence.get("period", ""), "opened_at": r.opened_at})
    except (KeyError, ValueError, TypeError) as exc:
        raise ConflictError(f"fraud case {r.case_id} cannot be decided here: {exc}") from None


def decide_fraud_case(acc: Access, case_id: str, status: str, *, note: str | None = None, suspend: bool = False) -> FraudCaseOut:
    """Confirm an open case or mark it a false alarm, with a note, under the rules of ``fairtel fraud decide``:
    ``suspend`` on a confirmed SIM-box or scam line suspends it in the subscriber register (``line.suspend``,
    audited with the case and the note). The decision goes into the row's history; numbers in the note are
    kept as their pseudonyms. A case decided already, here or on the command line, is refused (409)."""
    acc.require(Permission.FRAUD_CASE_DECIDE)
    r = _case_row(acc, case_id)
    if r.status != CaseStatus.OPEN.value:
        by = acc.login_name(r.decided_by)
        raise ConflictError(f"fraud case {case_id} is already {r.status}" + (f" (by {by})" if by else ""),
                            details={"status": r.status, "decided_by": by})
    said = acc.hide_numbers(note) if note and note.strip() else None
    try:
        decision, suspension = CaseQueue([_as_case(r)]).decide(case_id, status, by=acc.actor, at=acc.now, note=said, suspend=suspend)
    except InvalidTransitionError as exc:  # a suspension the case cannot justify: a conflict with the case, as a decided one is
        raise ConflictError(exc.message, details=exc.details) from None
    evidence = dict(r.evidence or {})
    evidence.update(status=decision.outcome.value, history=[*(evidence.get("history") or []), decision.to_dict()])
    t = table_of(FraudCase)
    done = acc.conn.execute(
        update(t).where(t.c.case_id == case_id, t.c.status == CaseStatus.OPEN.value)
        .values(status=decision.outcome.value, decided_by=decision.by, decided_at=decision.at, evidence=evidence)
    )
    if done.rowcount != 1:
        raise ConflictError(f"fraud case {case_id} was decided meanwhile")
    acc.audit("fraud_case.decide", f"fraud_case/{case_id}", msisdn=r.msisdn, reason=decision.summary())
    related = _related(r)
    if related:  # the answer shows them (pseudonymised), as the queue does
        acc.audit_list("fraud_case.read", f"fraud_case/{case_id}", related, reason="named by the decided case")
    line = None
    if suspension is not None:
        line = suspend_line(acc.conn, suspension.msisdn, at=acc.now, audit=_audit_as(acc, f"fraud case {case_id}"),
                            reason=suspension.audit_reason(decision.note))
    return _case_out(acc, _case_row(acc, case_id)).model_copy(update={"line": line})


def require_reveal(acc: Access, case_id: str) -> None:
    """Whether the caller may reveal a case's number, asked before anything they sent is read: a refusal is on
    record (``access.denied``) with the pseudonym of the case's subscriber."""
    with refusals_about(acc, case_subject, case_id):
        acc.require(Permission.FRAUD_CASE_DECIDE)


def reveal_fraud_number(acc: Access, case_id: str, reason: str) -> RevealOut:
    """The plain number of a case (to block it, or call the subscriber): a separate action, always audited with its
    reason (in words: ``reveal_reason``)."""
    require_reveal(acc, case_id)
    try:
        why = reveal_reason(reason)
    except ValueError as exc:
        raise InvalidInputError([Problem("request", None, "reason", str(exc))], what="reveal") from None
    r = _case_row(acc, case_id)
    acc.audit("fraud_case.reveal_number", f"fraud_case/{case_id}", msisdn=r.msisdn, reason=why)
    return RevealOut(case_id=case_id, msisdn=r.msisdn)


# ---- refusals of a role, about one subscriber -----------------------------------------------------------
@contextmanager
def refusals_about(acc: Access, subject: Callable[[Access, str], str | None], object_id: str) -> Iterator[None]:
    """A refusal of the caller's role (403) raised inside, on a route about one object of one subscriber (a
    fraud case, a complaint, a ticket, a finding), is recorded with that subscriber's pseudonym: the refused row
    is then found by a search by that subscriber. The answer is the same whether the object exists or not."""
    try:
        yield
    except PermissionDeniedError as exc:
        if not acc.refused_subject:
            acc.refused_about(subject(acc, object_id), exc)
        raise


def _subject_of(acc: Access, model: Any, key: str, object_id: str) -> str | None:
    t = table_of(model)
    found = acc.conn.scalar(select(t.c.msisdn).where(t.c[key] == object_id))
    return None if found is None else str(found)


def case_subject(acc: Access, case_id: str) -> str | None:
    return _subject_of(acc, FraudCase, "case_id", case_id)


def complaint_subject(acc: Access, complaint_id: str) -> str | None:
    """The subscriber of the complaint named, by its id as stored or as the caller reads it (``_find_complaint``)."""
    try:
        r = _find_complaint(acc, complaint_id)
    except ConflictError:
        return None
    return None if r is None else str(r.msisdn)


def ticket_subject(acc: Access, ticket_id: str) -> str | None:
    return _subject_of(acc, TroubleTicket, "ticket_id", ticket_id)


def finding_subject(acc: Access, finding_id: str) -> str | None:
    return _subject_of(acc, FindingRow, "finding_id", finding_id)


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
    adjustment_id: str | None = Field(description="The refund that settled it, if any: as stored to whoever sees the line's number, else a keyed pseudonym (``x…``).")
    conversation_id: str | None
    text: str | None = Field(description="The complaint's words: shown to the subscriber and to the agent handling it.")


# Where a complaint was made: the console's and the app's own channels, the hotline (the care command line's and the
# operator's imported files' default) and the regulator (an appeal, 申诉: ``kpi.APPEAL_CHANNEL``, which the complaint
# KPIs count appeals by): a complaint the regulator transferred is filed at the desk as one.
COMPLAINT_CHANNELS: tuple[str, ...] = ("web", "app", "phone", "hotline", "store", "chat", "email", APPEAL_CHANNEL)
CHANNEL_PATTERN = "^(" + "|".join(COMPLAINT_CHANNELS) + ")$"
# The channels a subscriber files through themselves (the console and the app); the others are the desk's: a call to
# the hotline, a visit to a store, an appeal the regulator transferred (申诉), which only the desk files as one.
SUBSCRIBER_CHANNELS: tuple[str, ...] = ("web", "app")
SUBSCRIBER_DEFAULT_CHANNEL = "web"
AGENT_DEFAULT_CHANNEL = "hotline"  # a customer's complaint an agent records came, unless said otherwise, by a call


class NewComplaint(BaseModel):
    category: str = Field(min_length=2, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")
    text: str = Field(min_length=1, max_length=4000)
    msisdn: str | None = Field(None, pattern=r"^\d{7,15}$", description="For agents: the customer's number (required). A subscriber "
                               "leaves it out or gives their own; another line's is refused (403 `permission_denied`).")
    channel: str | None = Field(None, pattern=CHANNEL_PATTERN, description="Where it was made: " + ", ".join(COMPLAINT_CHANNELS)
                                + f" (`{APPEAL_CHANNEL}`: lodged with the regulator and transferred to the operator, an appeal, "
                                "申诉, as `fairtel kpi complaints` counts it). A subscriber files through "
                                + " or ".join(SUBSCRIBER_CHANNELS) + f" (default `{SUBSCRIBER_DEFAULT_CHANNEL}`; another "
                                "channel is refused, 422 field `channel`); an agent's default is "
                                f"`{AGENT_DEFAULT_CHANNEL}`.")
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
    due_at: datetime | None = Field(None, description="An opening or a reopening: the resolution deadline it set (inferred "
                                    "for events recorded before deadlines were kept).")


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
        complaint_id=shown_id(acc, r.complaint_id, r.msisdn) or "", msisdn=acc.show(r.msisdn) or "", category=r.category, status=r.status, lifecycle=lifecycle,
        channel=r.channel, opened_at=r.opened_at, closed_at=r.closed_at, due_at=due, overdue=lifecycle not in SETTLED and acc.now > due,
        escalation_level=r.escalation_level, finding_id=r.finding_id, conversation_id=r.conversation_id,
        adjustment_id=r.adjustment_id if r.adjustment_id is None or acc.view(r.msisdn) is View.PLAIN
        else acc.pseudonyms.ledger(r.adjustment_id),
        text=shown_text(acc, r.text) if sees_text and r.text else None,  # ID and card numbers never shown
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
        since = acc.holding_from(acc.own_msisdn())
        if since is not None:  # the complaints of their holding, not an earlier holder's of the number
            q = q.where(t.c.opened_at >= since)
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
    The store writes the ``opened`` event; the access is audited here, with the request.

    ``msisdn`` is the customer's number an agent files for. A subscriber may leave it out or give their own; another
    line's number is refused (403 ``permission_denied``, on record as a refused access to that line), not ignored:
    the complaint would otherwise land on a line the subscriber did not mean. Words that are only spaces say
    nothing to act on and are refused (422, field ``text``); the words are stored without surrounding spaces.

    ``channel``: a subscriber files through ``SUBSCRIBER_CHANNELS`` only (a hotline call, a store visit or an appeal
    the regulator transferred is the desk's to record, and an appeal counts in the regulator's figures): another is
    refused (422, field ``channel``). Left out, it is ``web`` for a subscriber and ``hotline`` for an agent."""
    if acc.role is Role.SUBSCRIBER:
        msisdn = acc.own_msisdn()
        if body.msisdn and body.msisdn != msisdn:
            try:
                acc.open_subject(body.msisdn)  # refused: remembered for the audit, as any attempt at another line
            except PermissionDeniedError as exc:
                raise PermissionDeniedError(
                    "a subscriber files complaints about their own line only: leave msisdn out, or give your own number",
                    details={"field": "msisdn"},
                ) from exc
        channel = body.channel or SUBSCRIBER_DEFAULT_CHANNEL
        if channel not in SUBSCRIBER_CHANNELS:
            raise InvalidInputError([Problem(
                "request", None, "channel",
                f"a subscriber files through {' or '.join(SUBSCRIBER_CHANNELS)}, not {channel!r}: a call to the hotline, "
                "a store visit or an appeal the regulator transferred is recorded by the desk")], what="complaint")
    else:
        acc.require(Permission.COMPLAINT_WRITE)
        if not body.msisdn:
            raise InvalidInputError([Problem("request", None, "msisdn", "the customer's number is required")], what="complaint")
        msisdn = body.msisdn
        channel = body.channel or AGENT_DEFAULT_CHANNEL
    text = body.text.strip()
    if not text:
        raise InvalidInputError([Problem("request", None, "text", "say what went wrong: the text is empty")], what="complaint")
    if acc.conn.scalar(select(table_of(Subscriber).c.msisdn).where(table_of(Subscriber).c.msisdn == msisdn)) is None:
        # a number that is no customer's: on record as a refused access to it, so that asking which numbers are
        # customers is traced to whoever asked, as a refused attempt at a customer's data is
        acc.refused_about(msisdn, _NotACustomer("no such subscriber"))
        raise NotFoundError("no such subscriber")
    links = {"finding_id": body.finding_id} if body.finding_id else None
    rec = open_complaint(acc.conn, msisdn=msisdn, category=body.category, text=text, at=acc.now, audit=None,
                         channel=channel, links=links, policy=acc.sla)
    acc.audit("complaint.create", audited_text(acc, f"complaint/{rec.complaint_id}", msisdn), msisdn=msisdn,
              reason=OWN_DATA if acc.role is Role.SUBSCRIBER else "recorded by agent: the filing agent handles the customer")
    if acc.role is Role.AGENT:
        acc.assign(msisdn, kind="complaint", reference_id=rec.complaint_id)
    return _complaint_out(acc, _complaint_row(acc, rec.complaint_id))


class _NotACustomer(PermissionDeniedError):
    """What the audit names a complaint filed for a number that is no customer's (the request answers 404)."""

    code = "not_a_subscriber"


def _complaint_row(acc: Access, complaint_id: str) -> Any:
    r = _find_complaint(acc, complaint_id)
    if r is None:
        raise NotFoundError(f"no complaint {complaint_id}")
    return r


# A number as an id shows it to a reader who may not see it plainly (``shown_id``): a keyed pseudonym, or masked.
_SHOWN_NUMBER = re.compile(r"p[0-9a-hjkmnp-tv-z]{20}|\d*\*{4,}\d*")


def _find_complaint(acc: Access, complaint_id: str) -> Any:
    """The complaint named by ``complaint_id`` as stored, or as this principal reads it (``shown_id``: the number it
    holds masked or pseudonymised), so that whoever reads a complaint on the desk can act on it by the id they read;
    ``None`` when there is none. An id as shown that two complaints read alike (masked numbers that differ only in
    their hidden digits) is a conflict: the caller is told to take it by another way, never given either. A
    subscriber reads their own complaints' ids as stored, and names them so."""
    t = table_of(Complaint)
    r = acc.conn.execute(select(t).where(t.c.complaint_id == complaint_id)).first()
    if (r is not None and acc.role is Role.SUBSCRIBER and r.msisdn == acc.principal.msisdn
            and not in_holding(acc.holding_from(r.msisdn), r.opened_at)):
        return None  # an earlier holder's complaint of the subscriber's number: not theirs
    if r is not None or acc.role is Role.SUBSCRIBER or not _SHOWN_NUMBER.search(complaint_id):
        return r
    like, at = [], 0
    for m in _SHOWN_NUMBER.finditer(complaint_id):
        like.append(_like_literal(complaint_id[at:m.start()]))
        like.append("%" if m.group(0).startswith("p") else m.group(0).replace("*", "_"))
        at = m.end()
    like.append(_like_literal(complaint_id[at:]))
    found = [c for c in acc.conn.execute(select(t).where(t.c.complaint_id.like("".join(like), escape="\\")))
             if shown_id(acc, c.complaint_id, c.msisdn) == complaint_id]
    if len(found) > 1:
        raise ConflictError(f"complaint {complaint_id} as shown names {len(found)} complaints: take it by the customer's "
                            "complaint list once handling them", details={"complaint_id": complaint_id})
    return found[0] if found else None


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _audit_as(acc: Access, reason: str) -> AuditAs:
    """The complaint store's audit rows written through the request's audit (``Access.audit``): with its request id,
    the API key a request was made with, and the number a complaint id holds kept as its pseudonym."""

    def record(action: str, complaint_id: str, msisdn: str) -> None:
        acc.audit(action, audited_text(acc, f"complaint/{complaint_id}", msisdn), msisdn=msisdn,
                  reason=audited_text(acc, reason, msisdn))

    return AuditAs(acc.actor, acc.role.value, acc.pseudonyms.msisdn, reason=reason, record=record, home_country=_home(acc))


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
    Taking an opened or reopened complaint acknowledges it. Taken again by the agent holding it, it answers their
    assignment as it stands: never a second one on the same complaint."""
    acc.require(Permission.COMPLAINT_WRITE)
    r = _complaint_row(acc, complaint_id)
    lifecycle = _lifecycle_of(r)
    if lifecycle == ComplaintStatus.CLOSED.value:
        raise ConflictError(f"complaint {complaint_id} is closed: reopen it first", details={"from": lifecycle})
    aid = _own_assignment_on(acc, r.complaint_id)
    if aid is None:
        others = _other_handlers(acc, r.complaint_id)
        aid = acc.assign(r.msisdn, kind="complaint", reference_id=r.complaint_id)
        if others:  # a colleague takes over (the customer called back, a supervisor passed it on): allowed, and on record
            acc.audit("complaint.take", audited_text(acc, f"complaint/{r.complaint_id}", r.msisdn), msisdn=r.msisdn,
                      reason=f"taken while handled by {', '.join(others)}")
    if lifecycle in (ComplaintStatus.OPENED.value, ComplaintStatus.REOPENED.value):
        move_complaint(acc.conn, r.complaint_id, ComplaintStatus.ACKNOWLEDGED, at=acc.now,
                       audit=_audit_as(acc, f"complaint {r.complaint_id}"), policy=acc.sla)
    return _assignment(acc, aid)


def _own_assignment_on(acc: Access, complaint_id: str) -> str | None:
    """The agent's own live assignment resting on the complaint (they filed it for the caller, or took it before):
    taking it again answers that one rather than opening a second."""
    t = table_of(AgentAssignment)
    found = acc.conn.execute(
        select(t.c.assignment_id).where(t.c.reference_kind == "complaint", t.c.reference_id == complaint_id,
                                        t.c.agent == acc.principal.username, t.c.released_at.is_(None), t.c.expires_at > acc.now)
        .order_by(t.c.started_at.desc()).limit(1)
    ).scalar()
    return None if found is None else str(found)


def _other_handlers(acc: Access, complaint_id: str) -> list[str]:
    """The other agents whose live assignment rests on the complaint, as the audit names logins."""
    t = table_of(AgentAssignment)
    agents = acc.conn.execute(
        select(t.c.agent).where(t.c.reference_kind == "complaint", t.c.reference_id == complaint_id, t.c.agent != acc.principal.username,
                                t.c.released_at.is_(None), t.c.expires_at > acc.now)
        .order_by(t.c.started_at)
    ).scalars().all()
    return list(dict.fromkeys(acc.login_name(str(a)) or "" for a in agents))


def _not_closed(r: Any, to: ComplaintStatus) -> Any:
    """``r``, unless it is closed: a closed complaint is only reopened (409, as the lifecycle refuses it), told before
    whether the caller handles its customer (closing it ended the assignments resting on it; every agent reads the
    desk's statuses anyway), so that a move sent again reads as the conflict it is."""
    if _lifecycle_of(r) == ComplaintStatus.CLOSED.value:
        raise ConflictError(f"complaint {r.complaint_id} is closed: cannot become {to.value} (reopen it first)",
                            details={"from": ComplaintStatus.CLOSED.value, "to": to.value})
    return r


def resolve_complaint(acc: Access, complaint_id: str, *, note: str | None = None, refund: str | None = None) -> ComplaintOut:
    """Settle a complaint, with what was done and, if it was refunded, the refund adjustment."""
    _require_staff(acc)
    r = _not_closed(_complaint_row(acc, complaint_id), ComplaintStatus.RESOLVED)
    return _move(acc, r, ComplaintStatus.RESOLVED, _staff_reason(acc, r.msisdn), note=note, refund=refund)


def close_complaint(acc: Access, complaint_id: str, *, note: str | None = None) -> ComplaintOut:
    """Close a complaint: the assignments resting on it end with it (``end_assignments``), so the customer's data
    is no longer open through a complaint that is settled."""
    _require_staff(acc)
    r = _not_closed(_complaint_row(acc, complaint_id), ComplaintStatus.CLOSED)
    out = _move(acc, r, ComplaintStatus.CLOSED, _staff_reason(acc, r.msisdn), note=note)
    if end_assignments(acc, "complaint", r.complaint_id):
        out = _complaint_out(acc, _complaint_row(acc, r.complaint_id))  # as the closer may see it now
    return out


def end_assignments(acc: Access, kind: str, reference_id: str) -> int:
    """End the live assignments resting on a complaint or ticket (``kind``) that was closed: the agents' access to
    the customer through it ends now rather than when it would have expired. Each is released (``released_at``) and
    audited as a release (``assignment.release``, "case closed"); an assignment through another case of the same
    customer stays. Returns how many ended."""
    t = table_of(AgentAssignment)
    rows = acc.conn.execute(
        select(t.c.assignment_id, t.c.agent, t.c.msisdn)
        .where(t.c.reference_kind == kind, t.c.reference_id == reference_id, t.c.released_at.is_(None), t.c.expires_at > acc.now)
        .order_by(t.c.started_at, t.c.assignment_id)
    ).all()
    for r in rows:
        if acc.role is Role.AGENT and r.agent == acc.principal.username:
            acc.release(r.assignment_id)  # the agent's own: their view of the customer is read again
            continue
        acc.conn.execute(update(t).where(t.c.assignment_id == r.assignment_id, t.c.released_at.is_(None)).values(released_at=acc.now))
        acc.audit("assignment.release", audited_text(acc, f"{kind}/{reference_id}", r.msisdn), msisdn=r.msisdn,
                  reason=audited_text(acc, f"{kind} {reference_id} closed: assignment of {acc.login_name(r.agent)} ended", r.msisdn))
    return len(rows)


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
    if acc.role is Role.AGENT and _lifecycle_of(r) == ComplaintStatus.CLOSED.value and r.msisdn not in acc.assignments():
        # closing it ended the assignments resting on it: the agent reopening it (the customer called back) takes it
        acc.assign(r.msisdn, kind="complaint", reference_id=r.complaint_id)
    return _move(acc, r, ComplaintStatus.REOPENED, _staff_reason(acc, r.msisdn), note=note)


def _own_complaint_row(acc: Access, complaint_id: str) -> Any:
    """A subscriber's own complaint; another line's is not found (its existence is not confirmed), and the attempt
    is on record as a refused access to that line (``access.denied`` with its subscriber's pseudonym)."""
    acc.own_msisdn()
    r = _complaint_row(acc, complaint_id)
    try:
        acc.open_subject(r.msisdn)
    except PermissionDeniedError:
        raise NotFoundError(f"no complaint {complaint_id}") from None
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
    rec = get_complaint(acc.conn, r.complaint_id, policy=acc.sla)
    acc.audit("complaint.history", audited_text(acc, f"complaint/{r.complaint_id}", r.msisdn), msisdn=r.msisdn,
              reason=audited_text(acc, reason, r.msisdn))
    events = [ComplaintEventOut(seq=e.seq, kind=e.kind, status=e.status, at=e.at, actor=acc.login_name(e.actor) or "", note=shown_text(acc, e.note),
                                recorded=e.recorded, due_at=e.due_at) for e in rec.history]
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


def assignments_on(acc: Access, msisdn: str) -> list[AssignmentOut]:
    """The agent's live assignments to one customer, whose page they are on (that read is audited already)."""
    if acc.role is not Role.AGENT:
        return []
    t = table_of(AgentAssignment)
    ids = acc.conn.execute(
        select(t.c.assignment_id)
        .where(t.c.agent == acc.principal.username, t.c.msisdn == msisdn, t.c.expires_at > acc.now, t.c.released_at.is_(None))
        .order_by(t.c.started_at.desc(), t.c.assignment_id)
    ).scalars().all()
    return [_assignment(acc, str(i)) for i in ids]


def release_assignment(acc: Access, assignment_id: str) -> None:
    acc.require(Permission.CUSTOMER_READ)
    acc.release(assignment_id)
