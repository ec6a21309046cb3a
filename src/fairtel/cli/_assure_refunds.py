"""`fairtel assure --refund`: the findings of a run put in the database's work queue, and the automatic
refunds posted to the adjustments ledger that billing carries into the next bill.

Idempotent by construction: a refund's adjustment id is derived from its finding id (or its charge's), never from
the tax it gives back (the API's refund endpoint derives the same one), the ledger ignores an id it already holds,
and a finding already resolved or dismissed in the queue (by this command or by an analyst through the API) is left
as it is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from fairtel.assurance import (
    Finding,
    FindingKind,
    FindingStatus,
    RecordKey,
    RefundAdjustment,
    RefundPolicy,
    Resolution,
    any_source,
    decide_refunds,
    record_keys,
)
from fairtel.assurance._refunds import RECOMPUTED_CODE, all_billed, recomputed_id
from fairtel.billing import AdjustmentEntry, AdjustmentKind
from fairtel.billing._model import encode_reason
from fairtel.bootstrap import App
from fairtel.core.money import Money

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

ACTOR = "assure"
ROLE = "system"
_CHUNK = 2000
_BILLABLE = "consented"  # the consent gate's verdict for a charge billing may bill


@dataclass(frozen=True, slots=True)
class ChargeEvidence:
    """What fairtel's own rating and billing did with the records of some findings, by (msisdn, source, record id)
    and by (msisdn, "", record id) for a finding that does not name its source (``any_source``).

    ``billed`` maps a record to the issued bill that charged it (None: charged outside fairtel, by the
    operator's own billing); ``refused`` are records the consent gate refused, never billed (a key of any
    source: every record with that id was refused)."""

    billed: dict[RecordKey, str | None] = field(default_factory=dict)
    refused: frozenset[RecordKey] = frozenset()

    def bill_of(self, keys: Iterable[RecordKey]) -> str | None:
        """The first issued bill that charged one of ``keys``."""
        return next((b for b in (self.billed.get(k) for k in keys) if b), None)


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    synced: int  # findings added to the database's queue
    posted: list[RefundAdjustment]  # refunds new to the ledger
    already_refunded: int  # findings refunded earlier (by this command or through the API)
    not_billed: int  # findings closed without money moving: the gate refused the charge
    closed_before: int  # findings an analyst had resolved or dismissed
    pending: int  # findings left for an analyst, or charges not billed yet (usage past a cap: until billed)
    languages: dict[str, str] = field(default_factory=dict)
    # refunds of usage past a cap taken back in part, new to the ledger: a rerate lowered the charges past the cap
    taken_back: list[AdjustmentEntry] = field(default_factory=list)
    # refund SMS of refunds an earlier run posted, queued by this one: that run stopped before it queued them
    told_late: int = 0


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def charge_evidence(app: App, records: Collection[RecordKey], *, outside_billing: bool) -> ChargeEvidence:
    """Which of ``records`` ((msisdn, source, record id) keys, ``record_keys``) reached an issued bill, and which
    the consent gate refused.

    A record is matched on its subscriber, source and id: record ids are unique per source only, so another
    switch's record with the same id, even the same subscriber's, is never taken for it. A key without a source
    ("") matches the subscriber's records with that id from any source. The lake's ``billed`` dataset holds the
    lines of every bill run; only the part written by the run that issued a bill counts (a failed run's part is
    not a bill). With ``outside_billing`` (an operator directory), a record fairtel never rated is taken as
    charged by the operator's own billing."""
    from sqlalchemy import select

    from fairtel.store import Bill as BillRow
    from fairtel.store._schema import table_of

    wanted = sorted(set(records))
    if not wanted:
        return ChargeEvidence()
    pairs = sorted({(m, r) for m, _, r in wanted})
    keys = pl.LazyFrame({"msisdn": [m for m, _ in pairs], "record_id": [r for _, r in pairs]},
                        schema={"msisdn": pl.String(), "record_id": pl.String()})

    def keyed(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.join(keys, on=["msisdn", "record_id"], how="semi").with_columns(pl.col("source").fill_null(""))

    billed: dict[RecordKey, str | None] = {}
    files = app.lake.files("billed")
    if files:
        lines = (
            keyed(pl.scan_parquet(files))
            .select("msisdn", "source", "record_id", "bill_id", "run_id")
            .unique()
            .sort("msisdn", "source", "record_id", "bill_id", "run_id")
            .collect()
        )
        runs: dict[str, str | None] = {}
        t = table_of(BillRow)
        with app.db.connect() as conn:
            for chunk in _chunks(sorted(set(lines["bill_id"].to_list()))):
                runs.update({r.bill_id: r.run_id for r in conn.execute(select(t.c.bill_id, t.c.run_id).where(t.c.bill_id.in_(chunk)))})
        # A record in two issued bills is shown under the first bill by id, on every run; a key of any source
        # under the first bill of any of its sources' records.
        for msisdn, source, record_id, bill_id, run_id in lines.iter_rows():
            if bill_id in runs and runs[bill_id] == run_id:
                billed.setdefault((msisdn, source, record_id), bill_id)
                billed.setdefault((msisdn, "", record_id), bill_id)
    # a charge rated after its bill was issued is billed by a rerate entry on that bill (late usage and late VAS
    # charges): the entry names the record
    from fairtel.store import Adjustment

    a = table_of(Adjustment)
    asked = set(pairs)
    with app.db.connect() as conn:
        for chunk in _chunks(sorted({r for _, r in pairs})):
            rows = conn.execute(
                select(a.c.msisdn, a.c.source, a.c.record_id, a.c.bill_id)
                .where(a.c.record_id.in_(chunk), a.c.bill_id.is_not(None), a.c.new_amount_minor > 0)
                .order_by(a.c.bill_id)
            )
            for msisdn, source, record_id, bill_id in rows:
                if (msisdn, record_id) in asked:
                    billed.setdefault((msisdn, source or "", record_id), bill_id)
                    billed.setdefault((msisdn, "", record_id), bill_id)
    refused: set[RecordKey] = set()
    rated_keys: set[RecordKey] = set()
    files = app.lake.files("rated")
    if files:
        scan = pl.scan_parquet(files)
        if "verdict" in scan.collect_schema().names():
            rated = keyed(scan).select("msisdn", "source", "record_id", "verdict").collect()
            own = set(rated.select("msisdn", "source", "record_id").iter_rows())
            said_no = set(rated.filter(pl.col("verdict").fill_null("") != _BILLABLE).select("msisdn", "source", "record_id").iter_rows())
            said_yes = own - said_no
            refused = {k for k in said_no if k not in billed}
            # any source: refused when every record of the subscriber with that id was refused and none billed
            refused |= {any_source(k) for k in refused} - {any_source(k) for k in said_yes} - set(billed)
            rated_keys = own | {any_source(k) for k in own}
    if outside_billing:
        for k in wanted:
            if k not in rated_keys and k not in billed:
                billed[k] = None
    return ChargeEvidence(billed, frozenset(refused))


def _queue_state(conn: Connection, finding_ids: Sequence[str]) -> tuple[dict[str, str], set[str]]:
    """The queue's status of each finding, and the findings the ledger already holds a refund for."""
    from sqlalchemy import select

    from fairtel.store import Adjustment as AdjustmentRow
    from fairtel.store import Finding as FindingRow
    from fairtel.store._schema import table_of

    ft, at = table_of(FindingRow), table_of(AdjustmentRow)
    status: dict[str, str] = {}
    refunded: set[str] = set()
    for chunk in _chunks(sorted(finding_ids)):
        status.update({r.finding_id: r.status for r in conn.execute(select(ft.c.finding_id, ft.c.status).where(ft.c.finding_id.in_(chunk)))})
        refunded.update(
            str(r) for r in conn.scalars(select(at.c.finding_id).where(at.c.finding_id.in_(chunk), at.c.kind == AdjustmentKind.REFUND.value))
        )
    return status, refunded


def _close(conn: Connection, res: Resolution, text: str | None = None) -> bool:
    """Record the resolution of a finding still open; ``text``: what the queue says of it (default: how and why)."""
    from sqlalchemy import update

    from fairtel.store import Finding as FindingRow
    from fairtel.store._schema import table_of

    t = table_of(FindingRow)
    done = conn.execute(
        update(t)
        .where(t.c.finding_id == res.finding_id, t.c.status.in_((FindingStatus.OPEN.value, FindingStatus.CONFIRMED.value)))
        .values(status=res.status.value, resolved_at=res.resolved_at, resolved_by=res.resolved_by,
                resolution=text or f"{res.resolution}: {res.reason}")
    )
    return done.rowcount == 1


def queue_findings(app: App) -> int:
    """Findings the lake holds, added to the database's work queue once (the queue keeps their status)."""
    from fairtel.api._cases import sync_findings

    with app.db.begin() as conn:
        return sync_findings(conn, app.lake)


def _ledger_holds(conn: Connection, adjustment_ids: Collection[str]) -> set[str]:
    """Which of ``adjustment_ids`` the ledger holds already (a charge refunded through another finding about it)."""
    from sqlalchemy import select

    from fairtel.store import Adjustment as AdjustmentRow
    from fairtel.store._schema import table_of

    t = table_of(AdjustmentRow)
    held: set[str] = set()
    for chunk in _chunks(sorted(adjustment_ids)):
        held.update(str(i) for i in conn.scalars(select(t.c.adjustment_id).where(t.c.adjustment_id.in_(chunk))))
    return held


def rerated_past_cap(app: App, findings: Sequence[Finding]) -> dict[str, int]:
    """The part past the cap (minor units, before tax) of the charges of each ``usage_past_cap`` finding as the
    ledger's rerate entries left them, for the findings a rerate corrected charges of (finding id → amount): read
    from the home as the API's refund reads it (``api._cases.rerated_past_cap``)."""
    from fairtel.api._cases import rerated_past_cap as reckon

    if not app.lake.files("rated"):
        return {}
    with app.db.connect() as conn:
        return reckon(conn, app.lake, findings)


def post_refunds(
    app: App,
    findings: Sequence[Finding],
    *,
    outside_billing: bool,
    now: datetime,
    policy: RefundPolicy = RefundPolicy(),
) -> RefundOutcome:
    """Queue the findings (the lake holds them already), decide the automatic refunds and post them.

    Each refund gives back what the subscriber paid for the charge: the charge and the tax the bill that charged
    it charged on it, at that bill's rates (``api._cases.refund_taxes``, as the API's refund reckons it; a part no
    issued bill of fairtel's charged gives none), refunds of one bill taking their shares in turn. Everything the
    database records (adjustments, resolutions, audit rows) is written in one transaction.

    Usage past a cap is refunded once a bill charged every record of it (before, it stays pending), and on the
    charges as rerated (``rerated_past_cap``): a rerate that raised them refunds the rise, one that lowered them
    below what was refunded takes the difference back, with the tax the refund gave back on it (a debit naming the
    finding, reason ``refund-recomputed``), so the subscriber pays the rerated charges up to the cap whichever of
    the rerate and the refund came first."""
    from fairtel.api._cases import refund_entry, refund_taxes, refunded_charges
    from fairtel.assurance import refunded_text
    from fairtel.assurance._refunds import refund_remaining, refundable_amount
    from fairtel.billing import BillingPolicy
    from fairtel.privacy import Pseudonymizer
    from fairtel.store import access_row, get_subscriber, record_accesses, record_adjustments

    synced = queue_findings(app)
    past_cap = rerated_past_cap(app, findings)
    findings = [replace(f, amount=Money.from_minor(past_cap[f.finding_id], f.currency or "").amount) if f.finding_id in past_cap else f
                for f in findings]
    with app.db.connect() as conn:
        status, refunded = _queue_state(conn, [f.finding_id for f in findings])
    fresh: list[Finding] = []
    grown: list[Finding] = []  # refunded before: what its amount grew by since (late usage past a cap) is refunded
    closed_before = 0
    for f in findings:
        queued = FindingStatus(status.get(f.finding_id, f.status.value))
        if f.finding_id in refunded:
            auto = f.kind in policy.automatic or (f.kind is FindingKind.USAGE_PAST_CAP and policy.refund_usage_past_cap)
            if auto and queued is FindingStatus.RESOLVED and (refundable_amount(f) > 0 or f.finding_id in past_cap):
                grown.append(replace(f, status=FindingStatus.OPEN))
            continue
        if queued in (FindingStatus.RESOLVED, FindingStatus.DISMISSED):
            closed_before += 1
            continue
        fresh.append(replace(f, status=queued))
    # every finding's records: a charge's decide whether it is refunded; every refund names the bill that charged it
    evidence = charge_evidence(app, [k for f in (*fresh, *grown) for k in record_keys(f)], outside_billing=outside_billing)
    decisions = decide_refunds(fresh, policy=policy, billed_records=evidence.billed, refused_records=evidence.refused, by=ACTOR, now=now)
    by_finding = {f.finding_id: f for f in fresh}
    refunds: dict[str, RefundAdjustment] = {}
    pseudonym = Pseudonymizer(app.settings.secret_key.get_secret_value(), domain="msisdn")
    posted: list[RefundAdjustment] = []
    not_billed = 0
    before = 0  # charges refunded in full before, through another finding about them
    languages: dict[str, str] = {}
    with app.db.begin() as conn:
        audit: list[dict[str, Any]] = []
        entries: list[AdjustmentEntry] = []
        to_refund = [by_finding[res.finding_id] for res in decisions.resolutions if res.adjustment_id is not None]
        taxes = refund_taxes(conn, app.lake, [*to_refund, *grown], current=BillingPolicy(tax_rates=app.settings.tax_rates))
        # net of what the ledger took back of refunds (``refund-recomputed`` debits): ``refunded_charges``, ``refund_taxes``
        ledger = refunded_charges(conn, {f.msisdn for f in (*to_refund, *grown) if f.msisdn}, app.lake)
        held = _ledger_holds(conn, {res.adjustment_id for res in decisions.resolutions if res.adjustment_id})

        def reckon(f: Finding) -> RefundAdjustment | None:
            """The refund of what remains of ``f``'s charge, with its tax (None: refunded in full before)."""
            adj = refund_remaining(f, ledger=ledger, taxes=taxes, by=ACTOR, now=now, held=held.__contains__)
            if adj is not None:
                held.add(adj.adjustment_id)
            return adj

        for res in decisions.resolutions:
            f = by_finding[res.finding_id]
            adj = None if res.adjustment_id is None else reckon(f)
            if res.adjustment_id is not None and adj is None:
                text = f"refunded: {res.reason} (refunded before: {ledger.last(f)})"
                if _close(conn, res, text):
                    before += 1
                    audit.append(access_row(actor=ACTOR, role=ROLE, action="finding.resolve", resource=f"finding/{res.finding_id}"[:255],
                                            subject_msisdn_pseudonym=None if f.msisdn is None else pseudonym(f.msisdn),
                                            reason="automatic resolution: refunded before", at=now))
                continue
            if adj is not None:
                res = replace(res, adjustment_id=adj.adjustment_id)
            done = _close(conn, res) if adj is None else _close(conn, res, refunded_text(res.reason, adj))
            if not done:
                continue  # resolved meanwhile (through the API): its decision stands
            msisdn = f.msisdn
            if adj is None:
                not_billed += 1
            else:
                refunds[adj.adjustment_id] = adj
                entries.append(refund_entry(adj, bill_id=evidence.bill_of(record_keys(f))))
            audit.append(
                access_row(actor=ACTOR, role=ROLE, action="finding.resolve" if adj is None else "finding.refund",
                           resource=f"finding/{res.finding_id}"[:255], subject_msisdn_pseudonym=None if msisdn is None else pseudonym(msisdn),
                           reason=f"automatic resolution: {res.resolution}" if adj is None else "automatic refund", at=now)
            )
        taken_back: list[AdjustmentEntry] = []

        def take_back(f: Finding) -> AdjustmentEntry | None:
            """The entry taking back what was refunded for ``f``'s charge beyond its part past the cap now."""
            cur, already = f.currency or "", ledger.minor(f)
            due = Money(refundable_amount(f), cur).to_minor()
            if f.msisdn is None or due >= already:
                return None
            adj_id = recomputed_id(f, already, due)
            if adj_id in _ledger_holds(conn, [adj_id]):
                return None
            back = already - due
            tax = taxes.give(f, back)
            ledger.add(f, -back, adj_id)
            amounts = (str(Money.from_minor(already, cur).amount), str(Money.from_minor(due, cur).amount))
            return AdjustmentEntry(
                adjustment_id=adj_id, kind=AdjustmentKind.DEBIT, msisdn=f.msisdn, amount_minor=back + tax, currency=cur,
                reason=encode_reason(RECOMPUTED_CODE, cur, period=str(f.evidence.get("period") or ""), old=amounts[0], new=amounts[1]),
                created_at=now, created_by=ACTOR, finding_id=f.finding_id, old_amount_minor=0, new_amount_minor=back,
            )

        for f in grown:
            if f.kind is FindingKind.USAGE_PAST_CAP and not all_billed(f, evidence.billed):
                continue  # its bill has not charged all of it yet: refunded with that bill's tax once it has
            adj = reckon(f)
            if adj is None:
                back = take_back(f) if f.finding_id in past_cap else None
                if back is not None:
                    taken_back.append(back)
                    entries.append(back)
                    audit.append(access_row(actor=ACTOR, role=ROLE, action="finding.refund", resource=f"finding/{f.finding_id}"[:255],
                                            subject_msisdn_pseudonym=None if f.msisdn is None else pseudonym(f.msisdn),
                                            reason="automatic refund recomputed on the rerated charges: part taken back", at=now))
                continue
            refunds[adj.adjustment_id] = adj
            entries.append(refund_entry(adj, bill_id=evidence.bill_of(record_keys(f))))
            audit.append(access_row(actor=ACTOR, role=ROLE, action="finding.refund", resource=f"finding/{f.finding_id}"[:255],
                                    subject_msisdn_pseudonym=None if f.msisdn is None else pseudonym(f.msisdn),
                                    reason="automatic refund of what its amount grew by", at=now))
        added = set(record_adjustments(conn, entries))
        record_accesses(conn, audit)
        for adj_id in sorted(added & set(refunds)):
            adj = refunds[adj_id]
            posted.append(adj)
            if adj.msisdn not in languages:
                sub = get_subscriber(conn, adj.msisdn)
                if sub is not None:
                    languages[adj.msisdn] = str(sub.language)
    return RefundOutcome(
        synced=synced, posted=posted, already_refunded=len(findings) - len(fresh) - closed_before + before, not_billed=not_billed,
        closed_before=closed_before, pending=len(decisions.pending), languages=languages,
        taken_back=[e for e in taken_back if e.adjustment_id in added],
    )


def untold_refunds(app: App, *, now: datetime, skip: Collection[str] = ()) -> tuple[list[RefundAdjustment], dict[str, str]]:
    """The refunds this command posted (``created_by`` ``assure``) whose SMS may be missing from the outbox, with
    the language each of their subscribers registered: a run stopped after its refunds' commit and before its
    outbox write leaves them refunded, so no later run posts them again. Each is read back from its ledger entry
    (the charge, the tax given back, the reason): ``refund_messages`` derives the message id from the refund's,
    so queueing one the outbox holds already sends nothing.

    Only refunds no bill line carries yet (erasure refuses a line with such an entry, so no erased line's message
    is written again) and made within ``outbox_days`` of ``now`` (retention removes older messages: those must not
    come back); ``skip``: adjustment ids left out (those this run posted, told already)."""
    from sqlalchemy import select

    from fairtel.store import Adjustment as AdjustmentRow
    from fairtel.store import get_subscriber
    from fairtel.store._schema import BillLine as BillLineRow
    from fairtel.store._schema import table_of

    t, lines = table_of(AdjustmentRow), table_of(BillLineRow)
    since = now - timedelta(days=app.settings.retention.outbox_days)
    query = (
        select(t)
        .outerjoin(lines, lines.c.adjustment_id == t.c.adjustment_id)
        .where(lines.c.adjustment_id.is_(None), t.c.kind == AdjustmentKind.REFUND.value, t.c.created_by == ACTOR,
               t.c.finding_id.is_not(None), t.c.created_at >= since)
        .order_by(t.c.created_at, t.c.adjustment_id)
    )
    skipped = set(skip)
    out: list[RefundAdjustment] = []
    languages: dict[str, str] = {}
    with app.db.connect() as conn:
        for r in conn.execute(query).all():
            if r.adjustment_id in skipped:
                continue
            paid = Money.from_minor(int(r.amount_minor), r.currency).amount
            # the charge before tax (``refund_entry``): what it gives back beyond is the tax
            charge = paid if r.old_amount_minor is None else Money.from_minor(int(r.old_amount_minor), r.currency).amount
            out.append(RefundAdjustment(
                adjustment_id=r.adjustment_id, finding_id=r.finding_id, msisdn=r.msisdn, amount=paid, currency=r.currency,
                reason=r.reason, created_at=r.created_at, created_by=r.created_by, tax=max(paid - charge, Decimal(0)),
            ))
            if r.msisdn not in languages:
                sub = get_subscriber(conn, r.msisdn)
                if sub is not None:
                    languages[r.msisdn] = str(sub.language)
    return out, languages
