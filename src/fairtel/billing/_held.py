"""Held usage: rated, explained, never on a bill until someone releases it.

Usage made at or after a line's suspension (late switch records, roaming records that arrive days later, a cloned
SIM still in flight) is priced like any other and held (``rating.HoldReason``; the bill run's ``held_usage``). The
bill run leaves it off the bill and reports it; a release charges it, once, as a ``debit`` entry of the adjustments
ledger (reason ``release-held``) carried into the subscriber's next bill, as a rerate entry is. A record never
released is never charged. The entry's id is the one a rerate entry of the record gets first, so releasing twice
issues nothing, and a rerate afterwards corrects the released record like a billed one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import pyarrow as pa

from fairtel.billing._model import USAGE_KINDS, AdjustmentEntry, AdjustmentKind, BillingPolicy, LineKind, encode_reason
from fairtel.billing._run import BEFORE_HOLDING, HOLD_REASONS, normalise_rated
from fairtel.core.errors import CurrencyMismatchError
from fairtel.core.ids import stable_id
from fairtel.core.money import Money
from fairtel.core.time import require_aware

KEY = ["msisdn", "source", "record_id"]
HELD_RECORD_COLUMNS: dict[str, pl.DataType] = {
    "msisdn": pl.String(), "source": pl.String(), "record_id": pl.String(), "kind": pl.String(),
    "started_at": pl.Datetime("us", "UTC"), "plan_id": pl.String(), "rules": pl.String(), "quantity": pl.Int64(),
    "unit": pl.String(), "amount_minor": pl.Int64(), "currency": pl.String(), "reason": pl.String(),
}


def held_records(lines: pl.DataFrame | pa.Table) -> pl.DataFrame:
    """Held lines (their ``verdict`` the hold reason) as one row per record (``HELD_RECORD_COLUMNS``): its
    start, the rules that priced it (``a+b`` for pieces), its usage, what it would cost and why it is held; in
    subscriber, start and record order. Usage lines, and the consented VAS charges the bill run holds: the previous
    customer's in the month of an owner change (``BEFORE_HOLDING``)."""
    usage = pl.col("kind").is_in(USAGE_KINDS) & pl.col("verdict").is_in(HOLD_REASONS)
    vas = (pl.col("kind") == LineKind.VAS.value) & (pl.col("verdict") == BEFORE_HOLDING)
    frame = normalise_rated(lines).filter(usage | vas)
    out = frame.with_columns(pl.col("source").fill_null("")).group_by(KEY).agg(
        pl.col("kind").first(), pl.col("started_at").min(), pl.col("plan_id").drop_nulls().first(),
        pl.col("rule_id").drop_nulls().unique().sort().str.join("+").alias("rules"),
        pl.col("quantity").fill_null(0).sum(), pl.col("unit").first(), pl.col("amount_minor").sum(),
        pl.col("currency").first(), pl.col("verdict").drop_nulls().first().alias("reason"),
    )
    return out.select(list(HELD_RECORD_COLUMNS)).cast(HELD_RECORD_COLUMNS).sort("msisdn", "started_at", "source", "record_id")  # type: ignore[arg-type]


@dataclass(frozen=True)
class ReleaseResult:
    period: str
    adjustments: tuple[AdjustmentEntry, ...]  # one debit per released record that costs something
    already: tuple[str, ...]  # ``source/record_id`` of records an entry already charged (released, or charged late)
    free: tuple[str, ...]  # released records that cost nothing (drawn from allowances): no entry to issue


def release_held(
    held: pl.DataFrame,
    *,
    period: str,
    currency: str,
    created_at: datetime,
    created_by: str,
    bills: Mapping[str, str] | None = None,
    billed: pl.DataFrame | pa.Table | None = None,
    prior: Iterable[AdjustmentEntry] = (),
    policy: BillingPolicy | None = None,
    policies: Mapping[str, BillingPolicy] | None = None,
    records: Collection[tuple[str, str, str]] | None = None,
) -> ReleaseResult:
    """Debit entries that charge the held records ``records`` (msisdn, source, record_id; None: every one in
    ``held``), each once.

    ``held``: ``held_records(...)`` of the period. ``bills``: msisdn → its bill of the period, when issued (the
    entry names it; without one it names the period alone and waits, as every correction of a period does, for a
    bill of a later period). ``billed``: the bills' snapshot of billed lines, the base of each kind's tax;
    ``prior``: the entries already issued for the period's records: a record with one is charged already and is
    never charged again. Each entry is the record's amount plus what it adds to the tax of its kind on the
    subscriber's bill (at the rates the bill was issued with, ``policies``; else ``policy``)."""
    require_aware(created_at, "created_at")
    policy = policy or BillingPolicy()
    policies = policies or {}
    bills = bills or {}
    rows = held.with_columns(pl.col("source").fill_null(""))
    if records is not None:
        wanted = pl.DataFrame(sorted(set(records)), schema=dict.fromkeys(KEY, pl.String()), orient="row")
        rows = rows.join(wanted, on=KEY, how="semi")
    other = rows.filter(pl.col("currency") != currency)["currency"].unique().to_list()
    if other:
        raise CurrencyMismatchError(f"held usage in {', '.join(sorted(other))} cannot be billed in {currency}")

    kinds = {tuple(k[:3]): k[3] for k in rows.select(*KEY, "kind").iter_rows()}
    charged: dict[tuple[str, str], int] = defaultdict(int)  # (msisdn, kind) → what the bill taxed, and corrections since
    if billed is not None:
        old = normalise_rated(billed).with_columns(pl.col("source").fill_null(""))
        for m, k, a in old.filter(pl.col("kind").is_in(USAGE_KINDS)).group_by("msisdn", "kind").agg(
                pl.col("amount_minor").sum()).iter_rows():
            charged[(m, k)] += int(a)
        kinds.update({tuple(k[:3]): k[3] for k in old.select(*KEY, "kind").unique(KEY).iter_rows()})
    done: set[tuple[str, str, str]] = set()
    for p in prior:
        if p.period != period or p.record_id is None:
            continue
        key = (p.msisdn, p.source or "", p.record_id)
        done.add(key)
        kind = kinds.get(key)
        if kind is not None and p.old_amount_minor is not None and p.new_amount_minor is not None:
            charged[(p.msisdn, kind)] += p.new_amount_minor - p.old_amount_minor

    entries: list[AdjustmentEntry] = []
    already: list[str] = []
    free: list[str] = []
    for row in rows.sort("msisdn", "started_at", "source", "record_id").iter_rows(named=True):
        key = (row["msisdn"], row["source"], row["record_id"])
        name = f"{row['source']}/{row['record_id']}"
        if key in done:
            already.append(name)
            continue
        amount = int(row["amount_minor"])
        if amount <= 0:
            free.append(name)
            continue
        kind = row["kind"]
        taxes = policies.get(row["msisdn"], policy)
        base = (row["msisdn"], kind)
        tax = taxes.tax_on(kind, charged[base] + amount) - taxes.tax_on(kind, charged[base])
        charged[base] += amount
        entries.append(AdjustmentEntry(
            adjustment_id=stable_id("adj", "rerate", period, *key, 0),
            kind=AdjustmentKind.DEBIT,
            msisdn=row["msisdn"],
            amount_minor=amount + tax,
            currency=currency,
            reason=encode_reason("release-held", currency, period=period, record=row["record_id"],
                                 amount=str(Money.from_minor(amount, currency).amount), rule=row["rules"] or None,
                                 hold=row["reason"]),
            created_at=created_at,
            created_by=created_by,
            bill_id=bills.get(row["msisdn"]),
            period=period,
            source=row["source"],
            record_id=row["record_id"],
            rule_id=(row["rules"] or None) and str(row["rules"])[:128],
            old_amount_minor=0,
            new_amount_minor=amount,
        ))
    return ReleaseResult(period, tuple(entries), tuple(already), tuple(free))
