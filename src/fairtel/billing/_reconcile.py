"""Reconciliation of a period: mediation → rating → billing, tied out figure by figure. Pure: no I/O, no clock.

An auditor's report, reckoned from what the lake and the database hold, never from a bill run's own summary, so that it
can catch a defect of the run: the clean usage records of the period (``usage``), the rated lines (``rated``) and the
records rating left out (``unrated``), the issued bills with their lines (``bills``, as the database keeps them), the
lines each bill was issued from (``billed``, the lake's snapshot of the bills' runs) and those the runs held off the
bills (``held``), and the adjustment entries the bills carry and those issued for the period since (rerating).

For each usage kind and VAS, what is rated is compared with what the bills charge, and the difference is taken apart
into the known differences, each counted record by record: usage held off the bills (by hold reason), VAS charges the
consent gate refused, records rated after their subscriber's bill run (late usage: charged by a rerate, or still
to be), records of subscribers with no bill of the period, and records rated again since their bill (the rerate
corrects them on a later bill). What is left is unexplained. So is a bill whose lines do not add up to its charges,
adjustments or tax, a tax other than its rates give, an adjustment line other than the entry it carries, a bill's
usage lines other than the snapshot it was issued from, and a usage record of the period neither rated nor left
out by rating. Amounts are integer minor units.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from fairtel.billing._model import (
    KEEP_NUMBER_TEXT,
    TAXABLE_KINDS,
    USAGE_KINDS,
    AdjustmentEntry,
    Bill,
    BillingPolicy,
    LineKind,
    issued_policy,
)
from fairtel.billing._run import BILLABLE_VERDICTS

_KEY = ("msisdn", "source", "record_id")
COMPARED_KINDS: tuple[str, ...] = (*USAGE_KINDS, LineKind.VAS.value)
LATE_CODES = ("late-usage", "late-vas")
# the reason codes of the entries a rerate issues for a period (billing's ``encode_reason``)
RERATE_CODES = ("rerate-usage", "rerate-fee", "late-usage", "late-vas", "release-held", "refund-recomputed", "holding-fee",
                "holding-record")
_EXAMPLES = 3


@dataclass(frozen=True)
class KindTie:
    """One kind (voice, sms, data, vas): rated against billed, the difference taken apart. ``repriced``: rated now
    less what the bills charged for the same records (rated again since the bill); ``unexplained`` what is left."""

    kind: str
    rated_lines: int
    rated_records: int
    rated_minor: int
    billed_minor: int
    held_minor: int = 0
    held_records: int = 0
    refused_minor: int = 0
    refused_records: int = 0
    late_minor: int = 0
    late_records: int = 0
    late_charged_records: int = 0  # of the late records, those a rerate entry has charged since
    no_bill_minor: int = 0
    no_bill_records: int = 0
    repriced_minor: int = 0
    repriced_records: int = 0

    @property
    def difference_minor(self) -> int:
        return self.rated_minor - self.billed_minor

    @property
    def explained_minor(self) -> int:
        return self.held_minor + self.refused_minor + self.late_minor + self.no_bill_minor + self.repriced_minor

    @property
    def unexplained_minor(self) -> int:
        return self.difference_minor - self.explained_minor


@dataclass(frozen=True)
class Reconciliation:
    period: str
    currency: str
    usage_records: int
    usage_by_kind: dict[str, int]
    partial_sessions_waiting: int
    rated_records: int
    unrated_by_reason: dict[str, int]
    not_rated: int  # usage records of the period neither rated nor left out by rating
    not_rated_examples: tuple[str, ...]
    kinds: tuple[KindTie, ...]
    bills: int
    bill_lines_by_kind: dict[str, int]  # every line kind: plan_fee, voice, sms, data, vas, tax, adjustment
    charges_minor: int
    tax_minor: int
    adjustments_minor: int
    total_minor: int
    plan_fee_bills: int
    plan_fee_part_month: int  # bills whose fee is pro-rated (fewer days than the period's)
    held_by_reason: dict[str, int]
    adjustments_carried: int
    period_entries: dict[str, dict[str, int]]  # entries issued for the period since: code → count, net, carried
    unexplained: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.unexplained

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period, "currency": self.currency, "ok": self.ok,
            "usage": {"records": self.usage_records, "by_kind": dict(self.usage_by_kind),
                      "partial_sessions_waiting": self.partial_sessions_waiting},
            "rating": {"rated_records": self.rated_records, "unrated_records": sum(self.unrated_by_reason.values()),
                       "unrated_by_reason": dict(self.unrated_by_reason), "not_rated_records": self.not_rated,
                       "not_rated_examples": list(self.not_rated_examples)},
            "rated_vs_billed": [
                {"kind": k.kind, "rated_lines": k.rated_lines, "rated_records": k.rated_records,
                 "rated_minor": k.rated_minor, "billed_minor": k.billed_minor, "difference_minor": k.difference_minor,
                 "explained": {
                     "held": {"records": k.held_records, "amount_minor": k.held_minor},
                     "refused_vas": {"records": k.refused_records, "amount_minor": k.refused_minor},
                     "late": {"records": k.late_records, "amount_minor": k.late_minor,
                              "charged_by_rerate": k.late_charged_records},
                     "no_bill": {"records": k.no_bill_records, "amount_minor": k.no_bill_minor},
                     "rated_again": {"records": k.repriced_records, "amount_minor": k.repriced_minor},
                 },
                 "unexplained_minor": k.unexplained_minor}
                for k in self.kinds],
            "bills": {"count": self.bills, "by_kind_minor": dict(self.bill_lines_by_kind),
                      "charges_minor": self.charges_minor, "tax_minor": self.tax_minor,
                      "adjustments_minor": self.adjustments_minor, "total_minor": self.total_minor,
                      "plan_fee_bills": self.plan_fee_bills, "plan_fee_part_month": self.plan_fee_part_month,
                      "adjustments_carried": self.adjustments_carried},
            "held_by_reason": dict(self.held_by_reason),
            "period_entries": {k: dict(v) for k, v in self.period_entries.items()},
            "unexplained": list(self.unexplained),
        }


def _code(reason: str) -> str:
    return reason.split(" ", 1)[0]


def _keys(frame: pl.DataFrame | None, *extra: str) -> pl.DataFrame:
    """``frame``'s record keys (and ``extra`` columns), typed, source null as empty; an empty frame when none."""
    schema = {c: pl.String() for c in (*_KEY, *extra)}
    if frame is None or frame.height == 0:
        return pl.DataFrame(schema=schema)
    cols = [(pl.col(c).cast(pl.String).fill_null("") if c == "source" else pl.col(c).cast(pl.String))
            if c in frame.columns else pl.lit(None, dtype=pl.String()).alias(c) for c in (*_KEY, *extra)]
    return frame.select(cols)


def _sum(frame: pl.DataFrame, column: str = "amount") -> int:
    return int(frame[column].sum() or 0) if frame.height else 0


def _amounts(frame: pl.DataFrame | None) -> pl.DataFrame:
    """Per record and kind: the amount (minor units) and the first verdict."""
    schema = {"msisdn": pl.String(), "source": pl.String(), "record_id": pl.String(), "kind": pl.String(),
              "amount": pl.Int64(), "verdict": pl.String(), "lines": pl.UInt32()}
    if frame is None or frame.height == 0:
        return pl.DataFrame(schema=schema)
    base = _keys(frame, "kind", "verdict").with_columns(
        pl.col("kind").cast(pl.String),
        (frame["amount_minor"].cast(pl.Int64).fill_null(0) if "amount_minor" in frame.columns
         else pl.lit(0, dtype=pl.Int64())).alias("amount"))
    return (base.group_by(*_KEY, "kind")
            .agg(pl.col("amount").sum(), pl.col("verdict").first(), pl.len().alias("lines"))
            .select(list(schema)).cast(schema))  # type: ignore[arg-type]


def reconcile(
    *,
    period: str,
    currency: str,
    days_in_period: int,
    usage: pl.DataFrame | None,
    rated: pl.DataFrame | None,
    unrated: pl.DataFrame | None,
    bills: Sequence[Bill],
    billed: pl.DataFrame | None,
    held: pl.DataFrame | None,
    carried: Mapping[str, AdjustmentEntry],
    period_entries: Iterable[AdjustmentEntry] = (),
    carried_in: Mapping[str, str] | None = None,
    tax_rates: Mapping[str, Mapping[str, Decimal]] | None = None,
    policy: BillingPolicy | None = None,
    partial_sessions_waiting: int = 0,
) -> Reconciliation:
    """The reconciliation of ``period``.

    ``usage``: the lake's clean usage records of the period (msisdn, source, record_id, kind); ``rated``: its rated
    lines; ``unrated``: the records rating left out (with ``reason``); ``bills``: the period's issued bills, lines as
    the database keeps them; ``billed``/``held``: the lines their runs billed and held (SNAPSHOT_COLUMNS, of the
    issued runs only); ``carried``: adjustment id → entry, for the entries the bills carry (those absent are
    unexplained); ``period_entries``: the entries issued for the period after its bills (rerate), with
    ``carried_in`` (adjustment id → the period of the bill that carries it, when one does); ``tax_rates``: bill id →
    the rates it was issued with (else its tax lines tell, ``issued_policy``); ``partial_sessions_waiting``: partial
    sessions of the period mediation still holds (told, not a difference: the period's usage is the lake's)."""
    policy = policy or BillingPolicy()
    tax_rates = tax_rates or {}
    carried_in = carried_in or {}
    problems: list[str] = []

    # mediation → rating: every clean record of the period rated or left out by rating
    use = _keys(usage, "kind").unique(list(_KEY))
    usage_by_kind = {str(k): int(n) for k, n in sorted(use.group_by("kind").len().iter_rows())} if use.height else {}
    rated_lines = _amounts(rated)
    left = _keys(unrated, "reason").unique(list(_KEY), keep="first")
    seen = pl.concat([rated_lines.select(_KEY), left.select(_KEY)]).unique()
    missing = use.join(seen, on=list(_KEY), how="anti").sort(list(_KEY)) if use.height else use
    examples = tuple(f"{s}/{r}" if s else str(r) for s, r in missing.select("source", "record_id").head(_EXAMPLES).iter_rows())
    if missing.height:
        problems.append(f"{missing.height} usage record(s) of {period} in the lake are neither rated nor left out by "
                        f"rating, e.g. {', '.join(examples)}: on no bill (`fairtel rate --period {period}`)")
    unrated_by_reason = ({str(r): int(n) for r, n in sorted(left.group_by("reason").len().iter_rows())}
                         if left.height else {})

    # the bills as the database keeps them: each adds up, is taxed at its rates, carries its entries as they are
    by_kind: dict[str, int] = defaultdict(int)
    charges = tax = adjusted = total = fee_bills = part_month = carried_count = 0
    line_usage: dict[tuple[str, str], int] = {}
    bill_of: dict[str, tuple[str, str]] = {}
    for bill in bills:
        bill_of[bill.msisdn] = (bill.bill_id, bill.run_id)
        kinds: dict[str, int] = defaultdict(int)
        for ln in bill.lines:
            kinds[ln.kind.value] += ln.amount_minor
            by_kind[ln.kind.value] += ln.amount_minor
        charges += bill.charges_minor
        tax += bill.tax_minor
        adjusted += bill.adjustments_minor
        total += bill.total_minor
        lines_charged = sum(v for k, v in kinds.items() if k not in (LineKind.TAX, LineKind.ADJUSTMENT))
        if lines_charged != bill.charges_minor:
            problems.append(f"bill {bill.bill_id}: its charge lines add up to {lines_charged}, the bill charges "
                            f"{bill.charges_minor} (a line missing or changed)")
        if kinds.get(LineKind.TAX, 0) != bill.tax_minor:
            problems.append(f"bill {bill.bill_id}: its tax lines add up to {kinds.get(LineKind.TAX, 0)}, the bill's tax "
                            f"is {bill.tax_minor}")
        rates = tax_rates.get(bill.bill_id)
        taxes = (BillingPolicy(tax_rates=dict(rates), tax_rounding=policy.tax_rounding) if rates is not None
                 else issued_policy(bill, policy))
        owed = sum(taxes.tax_on(kind, kinds.get(kind, 0)) for kind in TAXABLE_KINDS)
        if owed != bill.tax_minor:
            problems.append(f"bill {bill.bill_id}: tax {bill.tax_minor}, its charges at its rates give {owed}")
        for ln in bill.lines:
            if ln.kind is LineKind.PLAN_FEE and ln.description.startswith(KEEP_NUMBER_TEXT):
                continue  # a keep-number fee (停机保号): the bill's plan fee is pro-rated, counted by its own line
            if ln.kind is LineKind.PLAN_FEE:
                fee_bills += 1
                part_month += (ln.quantity or 0) < days_in_period
            elif ln.kind is LineKind.ADJUSTMENT:
                carried_count += 1
                entry = carried.get(ln.adjustment_id or "")
                if entry is None:
                    problems.append(f"bill {bill.bill_id}: adjustment line {ln.line_no} carries no entry of the ledger "
                                    f"({ln.adjustment_id or 'none named'})")
                elif entry.signed_minor != ln.amount_minor or entry.msisdn != bill.msisdn:
                    problems.append(f"bill {bill.bill_id}: adjustment line {ln.line_no} is {ln.amount_minor}, its entry "
                                    f"{entry.adjustment_id} {entry.signed_minor}")
        for kind in COMPARED_KINDS:
            line_usage[(bill.bill_id, kind)] = kinds.get(kind, 0)

    # the snapshot each bill was issued from against its lines
    bill_ids = pl.DataFrame([(m, b, r) for m, (b, r) in bill_of.items()],
                            schema={"msisdn": pl.String(), "bill_id": pl.String(), "run_id": pl.String()}, orient="row")
    snap = _amounts(None)
    if billed is not None and billed.height:
        own = billed.join(bill_ids, on=["msisdn", "bill_id", "run_id"], how="semi")
        snap = _amounts(own)
        have = {(str(b), str(k)): int(v) for b, k, v in own.group_by("bill_id", "kind")
                .agg(pl.col("amount_minor").cast(pl.Int64).sum()).iter_rows()}
    else:
        have = {}
    for (bill_id, kind), amount in sorted(line_usage.items()):
        if amount != have.get((bill_id, kind), 0):
            problems.append(f"bill {bill_id}: its {kind} lines charge {amount}, the lines it was issued from "
                            f"{have.get((bill_id, kind), 0)}")
    held_keys = pl.DataFrame(schema={**{c: pl.String() for c in _KEY}, "reason": pl.String()})
    if held is not None and held.height:
        held_keys = _keys(held.join(bill_ids, on=["msisdn", "bill_id", "run_id"], how="semi"), "verdict").rename(
            {"verdict": "reason"}).unique(list(_KEY), keep="first")
    held_by_reason = ({str(r): int(n) for r, n in sorted(held_keys.group_by("reason").len().iter_rows())}
                      if held_keys.height else {})

    entries = list(period_entries)
    late_charged = {(e.msisdn, e.source or "", e.record_id) for e in entries
                    if e.record_id is not None and _code(e.reason) in LATE_CODES}

    # rated against billed, record by record
    with_bill = set(bill_of)
    r = rated_lines.join(snap.select(*_KEY, "kind", pl.col("amount").alias("billed")), on=[*_KEY, "kind"], how="full",
                         coalesce=True)
    r = r.join(held_keys.with_columns(pl.lit(True).alias("is_held")), on=list(_KEY), how="left")
    ties = []
    for kind in COMPARED_KINDS:
        k = r.filter(pl.col("kind") == kind)
        rated_part = k.filter(pl.col("amount").is_not_null())
        in_snap = k.filter(pl.col("billed").is_not_null())
        rest = rated_part.filter(pl.col("billed").is_null())
        held_k = rest.filter(pl.col("is_held").fill_null(False))
        rest = rest.filter(~pl.col("is_held").fill_null(False))
        refused = (rest.filter(~pl.col("verdict").is_in(list(BILLABLE_VERDICTS)).fill_null(True))
                   if kind == LineKind.VAS else rest.clear())
        rest = rest.join(refused.select(_KEY), on=list(_KEY), how="anti")
        late = rest.filter(pl.col("msisdn").is_in(list(with_bill)))
        no_bill = rest.filter(~pl.col("msisdn").is_in(list(with_bill)))
        moved = in_snap.with_columns((pl.col("amount").fill_null(0) - pl.col("billed")).alias("delta"))
        moved = moved.filter(pl.col("delta") != 0)
        charged_late = sum(1 for key in late.select(_KEY).iter_rows() if key in late_charged)
        ties.append(KindTie(
            kind=kind, rated_lines=int(rated_part["lines"].sum() or 0) if rated_part.height else 0,
            rated_records=rated_part.height, rated_minor=_sum(rated_part),
            billed_minor=sum(v for (_, kd), v in line_usage.items() if kd == kind),
            held_minor=_sum(held_k), held_records=held_k.height, refused_minor=_sum(refused),
            refused_records=refused.height, late_minor=_sum(late), late_records=late.height,
            late_charged_records=charged_late, no_bill_minor=_sum(no_bill), no_bill_records=no_bill.height,
            repriced_minor=_sum(moved, "delta"), repriced_records=moved.height))
    for t in ties:
        if t.unexplained_minor:
            problems.append(f"{t.kind}: rated {t.rated_minor}, billed {t.billed_minor}; {t.unexplained_minor} of the "
                            "difference is not explained by held, refused, late, unbilled or rated-again usage")

    summary: dict[str, dict[str, int]] = {}
    for e in entries:
        row = summary.setdefault(_code(e.reason), {"entries": 0, "net_minor": 0, "carried": 0, "pending": 0})
        row["entries"] += 1
        row["net_minor"] += e.signed_minor
        row["carried" if e.adjustment_id in carried_in else "pending"] += 1

    return Reconciliation(
        period=period, currency=currency, usage_records=use.height, usage_by_kind=usage_by_kind,
        partial_sessions_waiting=partial_sessions_waiting,
        rated_records=rated_lines.select(_KEY).unique().height, unrated_by_reason=unrated_by_reason,
        not_rated=missing.height, not_rated_examples=examples, kinds=tuple(ties), bills=len(bills),
        bill_lines_by_kind=dict(sorted(by_kind.items())), charges_minor=charges, tax_minor=tax,
        adjustments_minor=adjusted, total_minor=total, plan_fee_bills=fee_bills, plan_fee_part_month=part_month,
        held_by_reason=held_by_reason, adjustments_carried=carried_count,
        period_entries=dict(sorted(summary.items())), unexplained=tuple(problems))
