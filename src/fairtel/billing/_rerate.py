"""Rerating: after a tariff correction, what each billed record should have cost, issued as adjustment entries.

The comparison is per usage record: what it was billed (the snapshot of the issued bill) plus the rerate
entries already issued for it, against what it costs now. A difference becomes one append-only entry (a
debit or a credit, tax included as the policy says) whose id is derived from the period, the record and how
many entries the record already has: issuing the same entries twice is impossible, and a second rerate with
the same tariff finds nothing left to correct. So the subscriber pays each record exactly once, at its
current price.

The bill taxes each kind once, on the kind's total; so an entry's tax is what its difference changes in that
total's tax (the kind's running total, from what was billed plus earlier corrections), not the difference
taxed and rounded on its own, which would drift from the bill by a rounding per record. The entries of a
bill thus add up to what a bill issued under the corrected tariff would differ by, tax included. The rates are
those the bill was issued under (``policies``, from ``issued_policy``), not today's: a VAT change after the bill
run is not a correction of the bill.

An entry's ``reason`` is a code and parameters (``encode_reason``), which a statement words in its language.

A record is compared only in the bill's currency and under the plan it was billed on: usage rated again under
another plan (the subscriber changed plan after the period) is not a tariff correction and is left as billed.

Only usage (voice, SMS, data) and plan fees are rerated. A VAS charge costs its offer's price under a consent
verdict; it is corrected by charge assurance's refunds, which would otherwise be paid twice. A consented VAS charge
that no bill holds (rated after its subscriber's bill was issued) is charged once (``charge_late_vas``) and never
compared again: not at a changed price, not when consent is withdrawn later (assurance's refunds do that). One held
off the bill (a previous customer's, made before an owner change in the period) is never charged late.

Usage a refund gave back is rerated like any other: each record's entry brings it to its new price, and the
refund is charge assurance's to recompute. Charge assurance refunds usage charged past a spending cap as adjustments
naming the records of their finding; what the cap lets through depends on the prices of every charge in its scope,
the records before the cap included, which a tariff correction moves. So a rerate gives each record its whole
difference, and ``fairtel assure --refund`` then recomputes the part past the cap on the charges as rerated (the
ledger's entries) and refunds what it grew by or takes back what it shrank by: the subscriber pays
``min(rerated charges, cap)`` whichever runs first. Cutting a record's credit by a refund here instead would fix the
refund at the amount reckoned from the old prices: a cut that moved the cap's crossing onto other records, or a
rerate run before the refund, would return more or less than the rerated charges past the cap. What the refunds took
out of the bill is taken out of the base the corrections are taxed on.

An owner change (过户: the line's current customer's holding, ``holder_since``, began inside the period) learnt after
the bill of its month was issued left that bill charging the previous customer's part of the month to the current
one. A rerate (given the ``holdings``) brings it to what the bill run would issue now: each usage record and VAS
charge on the bill made before the change is credited whole (reason ``holding-record``; it is then held
``before_holding``, as the bill run holds it), and the plan fee is priced again by the days from the change
(``holding-fee``), each once, with the same ids and counts as any correction.

A plan fee (``rerate_fees``) is compared per bill: what the bill charged for its plan (plus the fee corrections
already issued) against the plan's current monthly fee pro-rated by the same days in service as the bill's fee
line, so a correction of the fee reaches a part-month bill in the same proportion. The entry names the bill
and the period but no record, and its id counts the bill's earlier fee corrections, as for records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

import polars as pl
import pyarrow as pa

from fairtel.billing._model import (
    HOLDING_CODES,
    KEEP_NUMBER_TEXT,
    USAGE_KINDS,
    Account,
    AdjustmentEntry,
    AdjustmentKind,
    Bill,
    BillingPolicy,
    LineKind,
    decode_reason,
    encode_reason,
    issued_policy,
)
from fairtel.billing._run import (
    BILLABLE_VERDICTS,
    HOLD_REASONS,
    changed_hands_in,
    fee_days,
    fee_parts,
    kept_number_days,
    normalise_rated,
    plan_fee_minor,
)
from fairtel.catalog import Catalog
from fairtel.core.errors import CurrencyMismatchError, NotFoundError
from fairtel.core.ids import stable_id
from fairtel.core.money import Money
from fairtel.core.time import Period, require_aware, zone

_KEY = ["msisdn", "source", "record_id"]


class Holding(NamedTuple):
    """When a line's current customer began to hold it, inside the period (an owner change: ``changed_hands_in``),
    and that instant's day on the operator's clock (``YYYY-MM-DD``), as a correction's reason names it."""

    since: datetime
    day: str


def holdings_of(accounts: Iterable[Account], period: Period) -> dict[str, Holding]:
    """msisdn → ``Holding`` of the accounts whose line moved to its current customer during ``period``."""
    out = {}
    for acct in accounts:
        since = changed_hands_in(acct, period)
        if since is not None:
            out[acct.msisdn] = Holding(since, since.astimezone(zone(period.tz)).date().isoformat())
    return out

RecordKey = tuple[str, str, str]
"""(msisdn, source, record_id); a source "" in a refund's records stands for any source."""


@dataclass(frozen=True, slots=True)
class RecordChange:
    """One record whose price changed: amounts in minor units before tax, rules as ``a+b`` when it has pieces."""

    msisdn: str
    source: str
    record_id: str
    kind: str
    old_minor: int
    new_minor: int
    old_rule: str
    new_rule: str


@dataclass(frozen=True, slots=True)
class Settled:
    """A record no bill of the period holds (rated after the bill run) that a rerate priced and issued no entry for:
    ``free``, it costs nothing (drawn from an allowance; an offer the plan includes), or ``refused``, a VAS charge the
    consent gate refuses. It is not unbilled: there is nothing to charge, and a later rerate prices it again (a
    tariff change that makes it cost something issues its entry then)."""

    msisdn: str
    source: str
    record_id: str
    kind: str
    amount_minor: int  # what it was priced at, before tax
    outcome: str  # ``free`` or ``refused``


@dataclass(frozen=True)
class RerateResult:
    period: str
    compared: int  # records of billed subscribers found in both ratings, or newly rated
    changes: tuple[RecordChange, ...]
    adjustments: tuple[AdjustmentEntry, ...]
    missing: tuple[str, ...]  # billed records the new rating did not price (left as billed)
    held: tuple[str, ...] = ()  # records no bill holds that are held (never released): not charged
    settled: tuple[Settled, ...] = ()  # records no bill holds and no entry charged, priced at nothing: no entry
    # changed records a refund in the ledger covers ("source/record_id"): their credits are not cut here, charge
    # assurance recomputes the refund on the new charges (``fairtel assure --refund``)
    refunded: tuple[str, ...] = ()
    # billed records made before an owner change in the period that this rerate credited ("source/record_id"): the
    # previous customer's, held ``before_holding`` from now on
    before_holding: tuple[str, ...] = ()

    @property
    def net_minor(self) -> int:
        return sum(a.signed_minor for a in self.adjustments)


def _per_record(lines: pl.DataFrame) -> pl.DataFrame:
    return (
        lines.filter(pl.col("kind").is_in(USAGE_KINDS))
        .with_columns(pl.col("source").fill_null(""))
        .group_by(_KEY)
        .agg(
            pl.col("kind").first(),
            pl.col("amount_minor").sum().alias("amount"),
            pl.col("rule_id").drop_nulls().unique().sort().str.join("+").alias("rules"),
            pl.col("plan_id").drop_nulls().first().alias("plan"),
            pl.col("started_at").min().alias("started"),
            # usage held off the bill: why (null: billable)
            pl.col("verdict").filter(pl.col("verdict").is_in(HOLD_REASONS)).first().alias("held"),
        )
    )


def _refuse_other_currencies(lines: pl.DataFrame, currency: str, what: str) -> None:
    other = lines.filter(pl.col("kind").is_in(USAGE_KINDS) & (pl.col("currency") != currency))["currency"].unique().to_list()
    if other:
        raise CurrencyMismatchError(f"{what} in {', '.join(sorted(other))} cannot be compared with bills in {currency}")


def _billed_plans(old: pl.DataFrame) -> dict[str, str]:
    """msisdn → the plan its billed records were rated under (when the snapshot names exactly one)."""
    plans = old.filter(pl.col("plan").is_not_null()).group_by("msisdn").agg(pl.col("plan").unique())
    return {r["msisdn"]: r["plan"][0] for r in plans.iter_rows(named=True) if len(r["plan"]) == 1}


def rerate_differences(
    billed: pl.DataFrame | pa.Table,
    rerated: pl.DataFrame | pa.Table,
    *,
    period: str,
    bills: Mapping[str, str],
    currency: str,
    created_at: datetime,
    prior: Iterable[AdjustmentEntry] = (),
    policy: BillingPolicy | None = None,
    policies: Mapping[str, BillingPolicy] | None = None,
    created_by: str = "rerate",
    held: Collection[tuple[str, str, str]] = (),
    refunded: Mapping[tuple[RecordKey, ...], int] | None = None,
    holdings: Mapping[str, Holding] | None = None,
    kept_refunds: Mapping[tuple[RecordKey, ...], int] | None = None,
    record_credits: Mapping[RecordKey, int] | None = None,
) -> RerateResult:
    """Adjustment entries that bring each billed record to its rerated price.

    ``billed``: the period's snapshot of billed lines; ``rerated``: the same period rated again (rating's
    RATED_COLUMNS), in the order the billed lines were rated in (``billing._order.draw_order``: else an unchanged
    tariff moves allowance draws between records and issues pairs of entries); ``bills``: msisdn → the bill of the period each correction refers to (subscribers without
    one are not compared); ``prior``: the rerate entries already issued for the period. A record the new
    rating did not price is left as billed and listed in ``missing``; a record priced now but absent from the
    bill (late usage) is charged. ``policies``: msisdn → the tax policy its bill was issued under
    (``issued_policy``); a subscriber it does not name is taxed under ``policy``.

    Held usage is never charged here: a record no bill holds and no entry charged yet is left out (listed in
    ``held``) when the new rating holds it (``rating.HoldReason``) or ``held`` names it (msisdn, source, record_id:
    held by its bill run, or by the rating stored then), so that neither a rerun of rating after the line came back
    into service nor a tariff change bills it. A released record (its release entry is in ``prior``) is compared as
    a billed one: a tariff change corrects it. A billed record is compared whatever the new rating says of it.

    ``refunded``: the records of each refund the ledger holds for the subscribers (msisdn, source, record_id; a
    source "" matches any), in the order its finding names them, → what it refunded before tax (minor units, the
    bill's currency). What a refund took out of the bill is taken out of the base the corrections are taxed on; the
    records it covered are corrected in full (the refund is recomputed by charge assurance, not cut here);
    ``RerateResult.refunded`` lists the changed records a refund covers, whose refund is due to be recomputed.

    ``holdings``: msisdn → its current customer's holding when it began inside the period (``holdings_of``). A billed
    record of such a line made before it is the previous customer's: priced at nothing, whatever the rating says, so
    its entry credits what the bill charged for it (reason ``holding-record``), once (``before_holding``), less what
    was given back of it already: by the refunds of ``kept_refunds`` (those of ``refunded`` charge assurance does not
    recompute: every kind but usage past a cap, whose refund is recomputed on the rerated charges) and by the entries
    naming it that no rerate issued, ``record_credits`` (record → what they gave back, tax included: a customer care credit).
    Its price is then what was given back, so a later rerate finds nothing more to credit.
    """
    require_aware(created_at, "created_at")
    policy = policy or BillingPolicy()
    policies = policies or {}
    held_before = {(m, s or "", r) for m, s, r in held}
    billed_msisdns = list(bills)
    billed_lines = normalise_rated(billed).filter(pl.col("msisdn").is_in(billed_msisdns))
    rerated_lines = normalise_rated(rerated).filter(pl.col("msisdn").is_in(billed_msisdns))
    _refuse_other_currencies(billed_lines, currency, "billed lines")
    _refuse_other_currencies(rerated_lines, currency, "rerated lines")
    old = _per_record(billed_lines)
    new = _per_record(rerated_lines)

    shift: dict[tuple[str, str, str], int] = defaultdict(int)
    count: dict[tuple[str, str, str], int] = defaultdict(int)
    for p in prior:
        if p.period != period or p.record_id is None or p.old_amount_minor is None or p.new_amount_minor is None:
            continue
        if p.currency != currency:
            raise CurrencyMismatchError(f"rerate entry {p.adjustment_id} is in {p.currency}, bills are in {currency}")
        key = (p.msisdn, p.source or "", p.record_id)
        shift[key] += p.new_amount_minor - p.old_amount_minor
        count[key] += 1

    # A record rated now under another plan than its bill's is not comparable: leave it as billed.
    plans = _billed_plans(old)
    other_plan = new.filter(
        pl.col("plan").is_not_null()
        & (pl.col("plan") != pl.col("msisdn").replace_strict(plans, default=None, return_dtype=pl.String()))
    )
    new = new.join(other_plan, on=_KEY, how="anti")
    # an owner change the bill did not know: the billed records made before it are the previous customer's, at nothing
    holdings = holdings or {}
    theirs: set[RecordKey] = set()
    if holdings:
        since = pl.DataFrame([(m, h.since) for m, h in holdings.items()],
                             schema={"msisdn": pl.String(), "_since": pl.Datetime("us", "UTC")}, orient="row")
        earlier = old.join(since, on="msisdn", how="inner").filter(pl.col("started") < pl.col("_since")).drop("_since")
        if earlier.height:
            theirs = set(earlier.select(_KEY).iter_rows())
            new = pl.concat([new.join(earlier.select(_KEY), on=_KEY, how="anti"),
                             earlier.with_columns(pl.lit(0, dtype=new.schema["amount"]).alias("amount"),
                                                 pl.lit(None, dtype=pl.String()).alias("held")).select(new.columns)])

    # What each bill charged per kind of usage, with the corrections already issued: the base of its tax.
    charged: dict[tuple[str, str], int] = defaultdict(int)
    for r in old.group_by("msisdn", "kind").agg(pl.col("amount").sum()).iter_rows(named=True):
        charged[(r["msisdn"], r["kind"])] += int(r["amount"])
    if shift:
        moved = pl.DataFrame([(*k, v) for k, v in shift.items()], schema=[*_KEY, "moved"], orient="row")
        kinds = pl.concat([old, new]).select(*_KEY, "kind").unique(_KEY)
        for r in moved.join(kinds, on=_KEY, how="inner").group_by("msisdn", "kind").agg(pl.col("moved").sum()).iter_rows(named=True):
            charged[(r["msisdn"], r["kind"])] += int(r["moved"])

    joined = new.join(old, on=_KEY, how="left", suffix="_old").sort(_KEY)  # one order: each entry's tax share
    missing = old.join(new, on=_KEY, how="anti")
    priced: dict[RecordKey, tuple[int, int, str]] = {}  # the records compared: (before, after, kind)
    for row in joined.iter_rows(named=True):
        key = (row["msisdn"], row["source"], row["record_id"])
        if not (row["amount_old"] is None and key not in shift and (row["held"] is not None or key in held_before)):
            priced[key] = (int(row["amount_old"] or 0) + shift.get(key, 0), int(row["amount"]), row["kind"])
    given_back = _refunds_given_back(priced, refunded or {})
    for (msisdn, kind), minor in given_back.items():
        charged[(msisdn, kind)] -= minor  # the bill's tax base, less what refunds took out of it
    if theirs:  # the previous customer's records are credited what is still charged of them, never what was given back
        mine = {k: (v[0], v[2]) for k, v in priced.items() if k in theirs}
        refunds_of = _refunds_per_record({k: v[0] for k, v in mine.items()}, kept_refunds or {})
        back = _given_back(mine, refunds=kept_refunds or {}, credited=record_credits or {}, base=charged, policies=policies,
                           policy=policy)
        for k, minor in back.items():
            before, _, kind = priced[k]
            priced[k] = (before, minor, kind)
            charged[(k[0], kind)] -= max(minor - refunds_of.get(k, 0), 0)  # what a credit took out of the tax base
    changes: list[RecordChange] = []
    entries: list[AdjustmentEntry] = []
    kept_held: list[str] = []
    settled: list[Settled] = []
    credited: list[str] = []
    for row in joined.iter_rows(named=True):
        key = (row["msisdn"], row["source"], row["record_id"])
        if key not in priced:
            kept_held.append(f"{row['source']}/{row['record_id']}")  # held, never released: not ours to charge
            continue
        before, after, _ = priced[key]
        if before == after:
            if row["amount_old"] is None and key not in count:  # late usage that costs nothing: priced, not unbilled
                settled.append(Settled(*key, row["kind"], after, "free"))
            continue
        change = RecordChange(*key, row["kind"], before, after, row["rules_old"] or "", row["rules"] or "")
        changes.append(change)
        delta = after - before
        base = (row["msisdn"], row["kind"])
        taxes = policies.get(row["msisdn"], policy)
        tax = taxes.tax_on(row["kind"], charged[base] + delta) - taxes.tax_on(row["kind"], charged[base])
        charged[base] += delta
        taxed = delta + tax
        if taxed == 0:
            continue
        money = (str(Money.from_minor(before, currency).amount), str(Money.from_minor(after, currency).amount))
        if key in theirs:  # the previous customer's, on the current one's bill: credited (what is still charged)
            reason = encode_reason("holding-record", currency, period=period, since=holdings[row["msisdn"]].day,
                                   record=row["record_id"], old=str(Money.from_minor(before - after, currency).amount),
                                   given=money[1] if after else None, kind="usage", rule=change.old_rule)
            credited.append(f"{row['source']}/{row['record_id']}")
        elif row["amount_old"] is None and key not in shift:  # a record the bill does not hold: rated after it
            reason = encode_reason("late-usage", currency, period=period, record=row["record_id"], new=money[1],
                                   rule=change.new_rule)
        else:
            reason = encode_reason("rerate-usage", currency, period=period, record=row["record_id"], old=money[0],
                                   new=money[1], rule=change.new_rule,
                                   old_rule=change.old_rule if change.old_rule != change.new_rule else None)
        entries.append(AdjustmentEntry(
            adjustment_id=stable_id("adj", "rerate", period, *key, count.get(key, 0)),
            kind=AdjustmentKind.DEBIT if taxed > 0 else AdjustmentKind.CREDIT,
            msisdn=row["msisdn"],
            amount_minor=abs(taxed),
            currency=currency,
            reason=reason,
            created_at=created_at,
            created_by=created_by,
            bill_id=bills[row["msisdn"]],
            period=period,
            source=row["source"],
            record_id=row["record_id"],
            rule_id=(change.new_rule or None) and change.new_rule[:128],
            old_amount_minor=before,
            new_amount_minor=after,
        ))
    return RerateResult(
        period=period,
        compared=joined.height - len(kept_held),
        changes=tuple(changes),
        adjustments=tuple(entries),
        missing=tuple(f"{r['source']}/{r['record_id']}" for r in missing.sort(_KEY).iter_rows(named=True)),
        held=tuple(kept_held),
        settled=tuple(settled),
        refunded=_refunded_changes(changes, refunded or {}),
        before_holding=tuple(credited),
    )


def _refunded_changes(changes: Iterable[RecordChange], refunded: Mapping[tuple[RecordKey, ...], int]) -> tuple[str, ...]:
    """The changed records (``source/record_id``) one of the ledger's refunds covers (a source "" matches any)."""
    covered = {(m, s, r) for keys in refunded for m, s, r in keys}
    return tuple(
        f"{c.source}/{c.record_id}" for c in changes
        if (c.msisdn, c.source, c.record_id) in covered or (c.msisdn, "", c.record_id) in covered
    )


def _refunds_given_back(
    priced: Mapping[RecordKey, tuple[int, int, str]], refunded: Mapping[tuple[RecordKey, ...], int],
) -> dict[tuple[str, str], int]:
    """What refunds took out of the bill's charges of the records ``priced`` (record → (before, after, kind)), per
    (msisdn, kind): each refund spread from the last of its records back over what each was charged, as the refund's
    tax was reckoned (a source "" in a refund's records matches any). The records' credits are not cut: the refund is
    recomputed on the rerated charges by charge assurance."""
    given_back: dict[tuple[str, str], int] = defaultdict(int)
    for k, take in _refunds_per_record({k: v[0] for k, v in priced.items()}, refunded).items():
        given_back[(k[0], priced[k][2])] += take
    return dict(given_back)


def _refunds_per_record(
    charged: Mapping[RecordKey, int], refunded: Mapping[tuple[RecordKey, ...], int],
) -> dict[RecordKey, int]:
    """What refunds gave back of each record of ``charged`` (record → what it was charged, before tax): each refund
    spread from the last of its records back over what each was charged (a source "" in a refund's records matches
    any), never more than a record was charged."""
    by_id: dict[tuple[str, str], list[RecordKey]] = defaultdict(list)
    for key in charged:
        by_id[(key[0], key[2])].append(key)
    out: dict[RecordKey, int] = defaultdict(int)
    left = {k: max(v, 0) for k, v in charged.items()}  # what refunds have not taken of each record yet
    for keys, minor in refunded.items():
        found = list(dict.fromkeys(k for m, s, r in keys for k in by_id.get((m, r), ()) if not s or k[1] == s))
        back = int(minor)
        for k in reversed(found):
            if back <= 0:
                break
            take = min(back, left[k])
            out[k] += take
            left[k] -= take
            back -= take
    return dict(out)


def _given_back(
    charged: Mapping[RecordKey, tuple[int, str]], *, refunds: Mapping[tuple[RecordKey, ...], int],
    credited: Mapping[RecordKey, int], base: Mapping[tuple[str, str], int], policies: Mapping[str, BillingPolicy],
    policy: BillingPolicy,
) -> dict[RecordKey, int]:
    """What was already given back of each record of ``charged`` (record → (what it is charged now, before tax, its
    kind)) before tax, never more than it is charged: by ``refunds`` (a refund's records → its charge before tax,
    spread as ``_refunds_per_record``) and by the entries naming the record that no rerate issued (``credited``:
    record → what they gave back, tax included, such as a customer care credit: its part before tax is the record's
    share of the charge plus the tax it added to its kind's total, ``base``, on the bill)."""
    out = _refunds_per_record({k: v[0] for k, v in charged.items()}, refunds)
    for key, taxed in credited.items():
        found = [k for k in charged if k[0] == key[0] and k[2] == key[2] and (not key[1] or k[1] == key[1])]
        if not found or taxed <= 0:
            continue
        k = found[0]
        charge, kind = charged[k]
        if charge <= 0:
            continue
        total = base.get((k[0], kind), charge)
        share = policies.get(k[0], policy).tax_on(kind, total) - policies.get(k[0], policy).tax_on(kind, total - charge)
        before_tax = int((Decimal(taxed) * charge / (charge + max(share, 0))).to_integral_value(ROUND_HALF_UP))
        out[k] = out.get(k, 0) + before_tax
    return {k: min(v, max(charged[k][0], 0)) for k, v in out.items() if v > 0}


@dataclass(frozen=True, slots=True)
class FeeChange:
    """One bill whose plan fee changed: ``days`` in service of the period, amounts in minor units before tax."""

    msisdn: str
    bill_id: str
    plan_id: str
    days: int
    old_minor: int
    new_minor: int


@dataclass(frozen=True)
class FeeRerateResult:
    period: str
    compared: int  # bills whose fee was compared
    changes: tuple[FeeChange, ...]
    adjustments: tuple[AdjustmentEntry, ...]
    missing: tuple[str, ...]  # bills left as billed: their plan is no longer in the catalog, or their days are unknown

    @property
    def net_minor(self) -> int:
        return sum(a.signed_minor for a in self.adjustments)


def rerate_fees(
    bills: Iterable[Bill],
    catalog: Catalog,
    *,
    period: str,
    created_at: datetime,
    accounts: Mapping[str, Account] | None = None,
    prior: Iterable[AdjustmentEntry] = (),
    policy: BillingPolicy | None = None,
    created_by: str = "rerate",
) -> FeeRerateResult:
    """Adjustment entries that bring each bill's plan fee to the plan's current monthly fee.

    ``bills``: the issued bills of ``period``, each under the plan it names (a plan changed since is not a
    correction of this period). The current fee is pro-rated by the days of the bill's fee line; a bill
    without one (its plan had no fee) takes the days from ``accounts`` as the bill run did, and is left as
    billed (listed in ``missing``) when its account is not given. ``prior``: the rerate entries already issued
    for the period; the fee ones (naming no record) are counted as already corrected. Each bill's tax is reckoned
    at the rates it was issued under (``issued_policy``; ``policy``: the rates now, for a bill that cannot tell).
    An account of ``accounts`` that moved to its current customer during the period (``changed_hands_in``) after its
    bill counted more days is priced by its days from the change (``fee_days``), as the bill run prices it now: the
    entry crediting the previous customer's days has reason ``holding-fee``.
    """
    require_aware(created_at, "created_at")
    policy = policy or BillingPolicy()
    currency = catalog.operator.currency
    per = Period.parse(period, catalog.operator.timezone)
    accounts = accounts or {}

    shift: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    for p in prior:
        if p.period != period or p.record_id is not None or p.old_amount_minor is None or p.new_amount_minor is None:
            continue
        if p.currency != currency:
            raise CurrencyMismatchError(f"rerate entry {p.adjustment_id} is in {p.currency}, bills are in {currency}")
        shift[p.msisdn] += p.new_amount_minor - p.old_amount_minor
        count[p.msisdn] += 1

    compared = 0
    changes: list[FeeChange] = []
    entries: list[AdjustmentEntry] = []
    missing: list[str] = []
    holdings = holdings_of(accounts.values(), per)
    corrected = {p.msisdn for p in prior  # bills whose fee an owner change's correction has brought to its days already
                 if p.period == period and p.record_id is None and (decode_reason(p.reason) or ("",))[0] == "holding-fee"}
    for bill in sorted(bills, key=lambda b: b.msisdn):
        if bill.period != period:
            continue
        if bill.currency != currency:
            raise CurrencyMismatchError(f"bill {bill.bill_id} is in {bill.currency}, the catalog in {currency}")
        try:
            plan = catalog.plan(bill.plan_id) if bill.plan_id else None
        except NotFoundError:
            plan = None
        if plan is None:
            missing.append(bill.bill_id)
            continue
        fee_lines = [ln for ln in bill.lines if ln.kind is LineKind.PLAN_FEE]
        # days the bill charged a keep-number fee for instead of the plan fee (停机保号): its line of its own
        kept_billed = sum(ln.quantity or 0 for ln in fee_lines if ln.description.startswith(KEEP_NUMBER_TEXT))
        full = plan_fee_minor(plan, currency)
        if fee_lines:
            days = sum(ln.quantity or 0 for ln in fee_lines)
            billed = sum(ln.amount_minor for ln in fee_lines)
            if not days:
                missing.append(bill.bill_id)
                continue
        else:  # the plan had no fee when billed: the days in service are the account's, as the bill run counted them
            billed = 0
            acct = accounts.get(bill.msisdn)
            if full and acct is None:
                missing.append(bill.bill_id)
                continue
            days = fee_days(acct, per) if full and acct is not None else 0
        # an owner change in the period the bill did not know: the fee is the current customer's from the change's day,
        # as the bill run prices it now (the previous customer's days are not theirs)
        holding = holdings.get(bill.msisdn)
        moved = False
        if holding is not None and fee_lines:
            now_days = fee_days(accounts[bill.msisdn], per)
            moved = now_days < days and bill.msisdn not in corrected
            days = min(days, now_days)
        compared += 1
        before = billed + shift.get(bill.msisdn, 0)
        # the days wholly suspended under the plan's suspension policy as the bill run counts them now (the account's
        # suspensions), else as the bill counted them: the plan fee for the rest, the keep-number fee for those
        acct = accounts.get(bill.msisdn)
        kept = kept_number_days(acct, plan, per) if acct is not None else kept_billed
        after = sum(fee_parts(plan, currency, days, kept, per))
        if before == after:
            continue
        changes.append(FeeChange(bill.msisdn, bill.bill_id, plan.id, days, before, after))
        delta = after - before
        taxes = issued_policy(bill, policy)
        tax = taxes.tax_on(LineKind.PLAN_FEE, before + delta) - taxes.tax_on(LineKind.PLAN_FEE, before)
        taxed = delta + tax
        if taxed == 0:
            continue
        money = (str(Money.from_minor(before, currency).amount), str(Money.from_minor(after, currency).amount))
        span = None if days == per.days else f"{days}/{per.days}"
        entries.append(AdjustmentEntry(
            adjustment_id=stable_id("adj", "rerate-fee", period, bill.msisdn, count.get(bill.msisdn, 0)),
            kind=AdjustmentKind.DEBIT if taxed > 0 else AdjustmentKind.CREDIT,
            msisdn=bill.msisdn,
            amount_minor=abs(taxed),
            currency=currency,
            reason=(encode_reason("holding-fee", currency, period=period, since=holding.day, old=money[0], new=money[1],
                                  plan=plan.id, days=span) if moved and holding is not None
                    else encode_reason("rerate-fee", currency, period=period, plan=plan.id, old=money[0], new=money[1],
                                       days=span)),
            created_at=created_at,
            created_by=created_by,
            bill_id=bill.bill_id,
            period=period,
            rule_id=plan.id,
            old_amount_minor=before,
            new_amount_minor=after,
        ))
    return FeeRerateResult(period, compared, tuple(changes), tuple(entries), tuple(missing))


@dataclass(frozen=True)
class LateVasResult:
    period: str
    adjustments: tuple[AdjustmentEntry, ...]  # one debit per consented VAS charge no bill holds
    refused: tuple[str, ...]  # ``source/record_id`` of VAS charges no bill holds that a consent gate refused: never billed
    # the charges no bill holds that were decided without an entry: refused (those above), or costing nothing
    settled: tuple[Settled, ...] = ()
    # ``source/record_id`` of charges no bill holds that are held (``held``: the previous customer's in the month of
    # an owner change): not charged, not settled, left to their hold
    held: tuple[str, ...] = ()
    # one credit per consented VAS charge on a bill made before an owner change in the period (``holdings``): the
    # previous customer's, held ``before_holding`` from now on
    credits: tuple[AdjustmentEntry, ...] = ()
    # ``source/record_id`` of charges their issued bill did not charge (``on_bill_refused``) that the consent gate
    # would consent now: never billed late, left for an operator's review (among ``refused`` too)
    reconsented: tuple[str, ...] = ()


def charge_late_vas(
    billed: pl.DataFrame | pa.Table,
    rerated: pl.DataFrame | pa.Table,
    *,
    period: str,
    bills: Mapping[str, str],
    currency: str,
    created_at: datetime,
    prior: Iterable[AdjustmentEntry] = (),
    stored: pl.DataFrame | pa.Table | None = None,
    policy: BillingPolicy | None = None,
    policies: Mapping[str, BillingPolicy] | None = None,
    created_by: str = "rerate",
    held: Collection[tuple[str, str, str]] = (),
    holdings: Mapping[str, Holding] | None = None,
    refunded: Mapping[tuple[RecordKey, ...], int] | None = None,
    record_credits: Mapping[RecordKey, int] | None = None,
    on_bill_refused: Collection[tuple[str, str, str]] = (),
) -> LateVasResult:
    """Adjustment entries that charge, once, the consented VAS charges of billed subscribers that their bill of
    ``period`` does not hold: rated after the bill run, which never reopens an issued bill.

    ``billed``: the period's snapshot of billed lines; ``rerated``: the period rated again under the consent gate
    as it stands (rating's RATED_COLUMNS, with ``verdict``); ``bills``: msisdn → the bill of the period the charge
    belongs on (subscribers without one are left to their first bill run); ``prior``: the rerate entries already
    issued for the period: a charge that has one is never charged again, whatever its price or verdict now.
    ``stored``: the period's rated lines as rating stored them; a charge refused there is not billed even when
    the gate consents now (a charge the gate refused is never billed late, and charge assurance may have closed
    its finding as never billed). Rating stored again since (`fairtel rate` after a consent event) says what the gate
    says now, so ``on_bill_refused`` carries what the bill itself did: (msisdn, source, record_id) of the charges that
    were in the lake when their bill was issued and that it did not charge (refused on it, or left unrated): never
    billed late either; those the gate consents now are listed apart (``LateVasResult.reconsented``) for an
    operator's review. Each entry is a debit of the charge plus what it adds to the bill's VAS tax (the
    bill taxed its VAS charges once, on their total: the base is that total plus the late charges before this
    one, in record order), naming the bill, the period and the record; its id is the one a rerate entry of the
    record gets, so issuing it twice is impossible. ``policies``: msisdn → the tax policy its bill was issued
    under (``issued_policy``); a subscriber it does not name is taxed under ``policy``. ``held``: (msisdn, source,
    record_id) of the charges held off the bills (by their runs: a previous customer's, made before an owner change in
    the period, ``before_holding``): never charged late onto the bill of the number's current customer, nor settled.
    ``holdings`` (``holdings_of``): the lines whose current customer's holding began inside the period; a VAS charge
    their bill holds that was made before it is the previous customer's: credited whole, tax included, once
    (``LateVasResult.credits``, reason ``holding-record``), before the late charges are taxed, less what was given
    back of it already: by a refund of ``refunded`` (a refund's records → its charge before tax, as
    ``rerate_differences`` takes them) or an entry naming it that no rerate issued (``record_credits``: record → what it gave
    back, tax included; a customer care credit). A charge given back whole has nothing left to credit; the entry of
    one given back in part credits the rest (``old_amount_minor`` what the bill charged, ``new_amount_minor`` what was
    given back), taxed on the bill's VAS charges less what was given back of them.
    """
    require_aware(created_at, "created_at")
    policy = policy or BillingPolicy()
    policies = policies or {}
    billable = list(BILLABLE_VERDICTS)
    msisdns = list(bills)
    vas_kind = pl.col("kind") == LineKind.VAS.value
    old = normalise_rated(billed).filter(pl.col("msisdn").is_in(msisdns)).with_columns(pl.col("source").fill_null(""))
    new = (normalise_rated(rerated).filter(vas_kind & pl.col("msisdn").is_in(msisdns))
           .with_columns(pl.col("source").fill_null("")).unique(_KEY, keep="first").sort(_KEY))
    other = new.filter(pl.col("currency") != currency)["currency"].unique().to_list()
    if other:
        raise CurrencyMismatchError(f"rerated VAS charges in {', '.join(sorted(other))} cannot be billed in {currency}")

    charged: dict[str, int] = defaultdict(int)  # msisdn → the VAS charges its bill taxed, and late ones since
    for r in old.filter(vas_kind).group_by("msisdn").agg(pl.col("amount_minor").sum()).iter_rows(named=True):
        charged[r["msisdn"]] += int(r["amount_minor"])
    vas_keys = set(new.select(_KEY).iter_rows()) | set(old.filter(vas_kind).select(_KEY).iter_rows())
    done: set[tuple[str, str, str]] = set()
    for p in prior:
        if p.period != period or p.record_id is None:
            continue
        key = (p.msisdn, p.source or "", p.record_id)
        done.add(key)
        if key in vas_keys and p.old_amount_minor is not None and p.new_amount_minor is not None:
            charged[p.msisdn] += p.new_amount_minor - p.old_amount_minor

    credits: list[AdjustmentEntry] = []
    holdings = {m: h for m, h in (holdings or {}).items() if m in bills}
    # what was given back already of each VAS charge of those bills (refunds, care credits), before tax: not credited
    # again; and the bills' VAS charges less it, the base the credits are taxed on
    on_bills = {(r["msisdn"], r["source"], r["record_id"]): (int(r["amount_minor"]), LineKind.VAS.value)
                for r in old.filter(vas_kind & pl.col("msisdn").is_in(list(holdings))).group_by(_KEY)
                .agg(pl.col("amount_minor").sum()).iter_rows(named=True)} if holdings else {}
    back = _given_back(on_bills, refunds=refunded or {}, credited=record_credits or {},
                       base={(m, LineKind.VAS.value): v for m, v in charged.items()}, policies=policies, policy=policy)
    base: dict[str, int] = defaultdict(int, charged)
    for k, minor in back.items():
        base[k[0]] -= minor
    for m, holding in sorted(holdings.items()):
        theirs = (old.filter(vas_kind & (pl.col("msisdn") == m)).group_by(_KEY).agg(
            pl.col("started_at").min(), pl.col("amount_minor").sum(), pl.col("rule_id").drop_nulls().first())
            .filter(pl.col("started_at") < holding.since).sort(_KEY))
        for row in theirs.iter_rows(named=True):
            key = (row["msisdn"], row["source"], row["record_id"])
            amount = int(row["amount_minor"])
            given = back.get(key, 0)
            owed = amount - given  # what is still charged of it
            if key in done or owed <= 0:
                continue
            taxes = policies.get(m, policy)
            tax = taxes.tax_on(LineKind.VAS, base[m]) - taxes.tax_on(LineKind.VAS, base[m] - owed)
            base[m] -= owed
            charged[m] -= owed
            credits.append(AdjustmentEntry(
                adjustment_id=stable_id("adj", "rerate", period, *key, 0),
                kind=AdjustmentKind.CREDIT,
                msisdn=m,
                amount_minor=owed + tax,
                currency=currency,
                reason=encode_reason("holding-record", currency, period=period, since=holding.day,
                                     record=row["record_id"], old=str(Money.from_minor(owed, currency).amount),
                                     given=str(Money.from_minor(given, currency).amount) if given else None,
                                     kind="vas", rule=row["rule_id"] or None),
                created_at=created_at,
                created_by=created_by,
                bill_id=bills[m],
                period=period,
                source=row["source"],
                record_id=row["record_id"],
                rule_id=(row["rule_id"] or None) and str(row["rule_id"])[:128],
                old_amount_minor=amount,
                new_amount_minor=given,
            ))
    charged_before = pl.DataFrame(sorted(done), schema=dict.fromkeys(_KEY, pl.String()), orient="row")
    late = new.join(old.select(_KEY).unique(), on=_KEY, how="anti").join(charged_before, on=_KEY, how="anti")
    refused_before: set[tuple[str, str, str]] = set()
    if stored is not None:
        kept = normalise_rated(stored).filter(vas_kind).with_columns(pl.col("source").fill_null(""))
        refused_before = set(kept.filter(~pl.col("verdict").is_in(billable).fill_null(True)).select(_KEY).iter_rows())
    held_keys = {(m, s or "", r) for m, s, r in held}
    # charges that were in the lake when their bill was issued and that it did not charge: refused on that bill (at
    # 0.00 on its statement, perhaps a finding closed as never billed); what the gate says now does not bill them
    refused_on_bill = {(m, s or "", r) for m, s, r in on_bill_refused}
    reconsented: list[str] = []
    entries: list[AdjustmentEntry] = []
    refused: list[str] = []
    settled: list[Settled] = []
    kept_held: list[str] = []
    for row in late.iter_rows(named=True):
        key = (row["msisdn"], row["source"], row["record_id"])
        amount = int(row["amount_minor"])
        if key in held_keys:  # not the bill's customer's to pay (a previous customer's): left to its hold
            kept_held.append(f"{row['source']}/{row['record_id']}")
            continue
        if key in refused_on_bill and row["verdict"] in BILLABLE_VERDICTS:
            reconsented.append(f"{row['source']}/{row['record_id']}")
        if row["verdict"] not in BILLABLE_VERDICTS or key in refused_before or key in refused_on_bill:
            refused.append(f"{row['source']}/{row['record_id']}")
            settled.append(Settled(*key, LineKind.VAS.value, amount, "refused"))
            continue
        if amount <= 0:  # an offer the plan includes: nothing owed
            settled.append(Settled(*key, LineKind.VAS.value, amount, "free"))
            continue
        taxes = policies.get(row["msisdn"], policy)
        tax = taxes.tax_on(LineKind.VAS, charged[row["msisdn"]] + amount) - taxes.tax_on(LineKind.VAS, charged[row["msisdn"]])
        charged[row["msisdn"]] += amount
        money = Money.from_minor(amount, currency).amount
        entries.append(AdjustmentEntry(
            adjustment_id=stable_id("adj", "rerate", period, *key, 0),
            kind=AdjustmentKind.DEBIT,
            msisdn=row["msisdn"],
            amount_minor=amount + tax,
            currency=currency,
            reason=encode_reason("late-vas", currency, period=period, record=row["record_id"], rule=str(row["rule_id"] or ""),
                                 amount=str(money), subscription=row["subscription_id"]),
            created_at=created_at,
            created_by=created_by,
            bill_id=bills[row["msisdn"]],
            period=period,
            source=row["source"],
            record_id=row["record_id"],
            rule_id=(row["rule_id"] or None) and str(row["rule_id"])[:128],
            old_amount_minor=0,
            new_amount_minor=amount,
        ))
    return LateVasResult(period, tuple(entries), tuple(refused), tuple(settled), tuple(kept_held), tuple(credits),
                         tuple(reconsented))


def late_vas_charged(prior: Iterable[AdjustmentEntry], period: str) -> set[tuple[str, str, str]]:
    """(msisdn, source, record_id) of the VAS charges an earlier rerate of ``period`` charged late (a ``late-vas``
    debit naming the record): billed, as a bill's lines are."""
    return {(p.msisdn, p.source or "", p.record_id) for p in prior
            if p.period == period and p.record_id is not None and p.kind is AdjustmentKind.DEBIT
            and (decode_reason(p.reason) or ("",))[0] == "late-vas"}


def late_charged_first(ordered: pl.DataFrame, billed: pl.DataFrame, charged: Collection[tuple[str, str, str]], *,
                       arrival: str) -> pl.DataFrame:
    """``ordered`` (usage with ``billing._order.draw_order``'s ``arrival`` ordinal) with the records ``charged``
    (``late_vas_charged``: charged late by an earlier rerate) rated after those the bills hold (``billed``: their
    snapshot) and before every other record on no bill, each group in its order. Of two charges of one month of a
    monthly offer, the one a late-VAS entry billed keeps the month, as one on the bill does: an earlier-dated charge
    arriving after it is its duplicate, never charged too."""
    if not charged or ordered.height == 0:
        return ordered
    key = pl.DataFrame(sorted(charged), schema=dict.fromkeys(_KEY, pl.String()), orient="row").rename({"source": "_src"})
    on_bill = (billed.select(pl.col("msisdn").cast(pl.String), pl.col("source").cast(pl.String).fill_null("").alias("_src"),
                             pl.col("record_id").cast(pl.String)).unique())
    top = int(ordered.select(pl.col(arrival).max().fill_null(0).cast(pl.Int64)).item()) + 1
    frame = (ordered.with_columns(pl.col("source").cast(pl.String).fill_null("").alias("_src"))
             .join(on_bill.with_columns(pl.lit(True).alias("_on_bill")), on=["msisdn", "_src", "record_id"], how="left",
                   maintain_order="left")
             .join(key.with_columns(pl.lit(True).alias("_charged")), on=["msisdn", "_src", "record_id"], how="left",
                   maintain_order="left"))
    ordinal = (pl.when(pl.col("_on_bill").fill_null(False)).then(pl.col(arrival))
               .when(pl.col("_charged").fill_null(False)).then(pl.col(arrival) + top)
               .otherwise(pl.col(arrival) + 2 * top))
    return frame.with_columns(ordinal.rank("dense").cast(pl.Int64).sub(1).alias(arrival)).drop("_src", "_on_bill", "_charged")



RERATE_CODES = frozenset({"rerate-usage", "late-usage", "rerate-fee", "late-vas", *HOLDING_CODES})  # reasons of the entries a rerate issues


@dataclass(frozen=True, slots=True)
class EarlierRerate:
    """A rerate of a period committed before: the entries it issued (they share the time and author it issued them
    with), and what they add up to."""

    created_at: datetime
    created_by: str
    adjustments: int
    net_minor: int
    debits: int
    credits: int


@dataclass(frozen=True)
class RerateOutcome:
    """What a rerate issued (``issued``: the entries the ledger took from it) and the rerates of the period committed
    before it (``earlier``, latest first). A rerate stopped after its commit and run again issues nothing (every
    correction is in the ledger): its report names the run that issued them rather than reading as "nothing to
    correct"."""

    issued: tuple[AdjustmentEntry, ...]
    earlier: tuple[EarlierRerate, ...]

    @property
    def last(self) -> EarlierRerate | None:
        return self.earlier[0] if self.earlier else None

    def note(self, period: str, currency: str) -> str | None:
        """What the report says when this rerate issued nothing and an earlier one had issued corrections (None
        otherwise): which run (its time, UTC, and author), how many entries, and their net."""
        last = self.last
        if self.issued or last is None:
            return None
        more = f" (and {len(self.earlier) - 1} rerate(s) before it)" if len(self.earlier) > 1 else ""
        return (f"{period} was already rerated by the rerate of {last.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
                f"({last.created_by}), which issued {last.adjustments} adjustment(s): {last.debits} debit(s), "
                f"{last.credits} credit(s), net {Money.from_minor(last.net_minor, currency).amount} {currency}{more}; "
                "nothing more to correct")


def rerate_outcome(issued: Iterable[AdjustmentEntry], ledger: Iterable[AdjustmentEntry]) -> RerateOutcome:
    """The outcome of a rerate that issued ``issued``, given the period's entries the ledger held before it
    (``ledger``: rerate entries, ``store.rerate_entries``), grouped into the rerates that issued them by their time and
    author. Entries another process issued (a release of held usage) are not a rerate's; a reason no code reads
    (written by an earlier version) is taken as a rerate's."""
    runs: dict[tuple[datetime, str], list[AdjustmentEntry]] = defaultdict(list)
    for entry in ledger:
        decoded = decode_reason(entry.reason)
        if decoded is None or decoded[0] in RERATE_CODES:
            runs[(entry.created_at, entry.created_by)].append(entry)
    earlier = [EarlierRerate(at, by, len(done), sum(e.signed_minor for e in done),
                             sum(1 for e in done if e.signed_minor > 0), sum(1 for e in done if e.signed_minor < 0))
               for (at, by), done in runs.items()]
    return RerateOutcome(tuple(issued), tuple(sorted(earlier, key=lambda r: r.created_at, reverse=True)))
