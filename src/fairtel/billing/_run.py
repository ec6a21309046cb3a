"""The bill run: rated lines × catalog × accounts × pending adjustments → bills. Pure: no I/O, no clock.

A subscriber in service during the period gets one bill: the plan's monthly fee (pro-rated by days in service
when activated during the period, rounded once), the usage charges (the sum of the rated lines), the VAS
charges the consent gate let through, the tax the policy adds per kind, and every pending adjustment entry
(refunds, credits, rerate debits) carried in. What the caller has already billed (``skip``) is left alone.

Usage is held, not billed, when rating held it (its ``verdict`` is a hold reason: made at or after the line's
suspension, ``line_suspended``; at or after a closed line's ``closed_at``, ``line_closed``; before the line's
``activated_at``, ``before_activation``) or when the account says so now: a suspended account's record that started at
or after its ``suspended_at``, a closed account's at or after its ``closed_at``, any account's before its
``activated_at`` (lines rated before the register knew, or by a version that did not hold); a closed account that does
not say when it closed holds all its usage (``line_closed_undated``). The run returns those lines apart (``BillRun.held``); only a release (an adjustment entry, ``release_held``) ever charges usage held for a
suspension, and usage made after the closing or before the activation is never charged (written off).

The month a line moves to another customer with its activation kept (an owner change, ``holder_since`` inside the
period) is billed to the current customer from the change: the plan fee from its day, usage and consented VAS from its
instant. What the previous customer used before it is held (``before_holding``) and, with the fee of their days,
reported (``BillRun.earlier_holder``, a note): the register keeps no earlier customer to bill it to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl
import pyarrow as pa

from fairtel.billing._model import (
    CHARGE_ORDER,
    KEEP_NUMBER_TEXT,
    TAXABLE_KINDS,
    USAGE_KINDS,
    Account,
    AdjustmentEntry,
    Bill,
    BillingPolicy,
    BillLine,
    LineKind,
    Suspension,
    bill_id_for,
)
from fairtel.catalog import Catalog, Plan
from fairtel.consent import Verdict
from fairtel.core.contracts import SubscriberStatus
from fairtel.core.errors import ConflictError, CurrencyMismatchError, InvalidInputError, NotFoundError, Problem
from fairtel.core.money import Money, minor_units
from fairtel.core.time import Period, require_aware, zone
from fairtel.privacy import mask_msisdn
from fairtel.rating import HoldReason
from fairtel.rating._vas import BEFORE_ACTIVATION, LINE_CLOSED, NOT_RELEASABLE, USAGE_HOLDS

# The rated-line columns billing reads (rating's RATED_COLUMNS has more; absent optional ones are null).
BILLED_INPUT: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "source": pl.String(),
    "line": pl.Int32(),
    "msisdn": pl.String(),
    "period": pl.String(),
    "started_at": pl.Datetime("us", "UTC"),
    "kind": pl.String(),
    "direction": pl.String(),
    "roaming_country": pl.String(),
    "plan_id": pl.String(),
    "rule_id": pl.String(),
    "zone": pl.String(),
    "band": pl.String(),
    "quantity": pl.Int64(),
    "unit": pl.String(),
    "allowance_id": pl.String(),
    "allowance_used": pl.Int64(),
    "charged_quantity": pl.Int64(),
    "amount_minor": pl.Int64(),
    "currency": pl.String(),
    "verdict": pl.String(),
    "subscription_id": pl.String(),
}
_REQUIRED = ("record_id", "msisdn", "period", "started_at", "kind", "rule_id", "amount_minor", "currency")
BILLABLE_VERDICTS = frozenset({Verdict.CONSENTED.value})
LINE_SUSPENDED = HoldReason.LINE_SUSPENDED.value
LINE_CLOSED_UNDATED = "line_closed_undated"
"""Hold reason the bill run gives every usage line of a closed line whose register does not say when it closed (no
``closed_at``): none of its usage can be told to be the subscriber's, so all of it is held, never charged (written off),
until the register is given the closing date. Named apart from ``line_closed`` so that the operator knows the register
is what to fix."""
BEFORE_HOLDING = "before_holding"
"""Hold reason the bill run gives the usage (and consented VAS charges) of a line's month of an owner change (过户: the
register's ``holder_since`` inside the period, the activation kept) made before the change: the previous customer's,
not the current one's. The register keeps only the current customer, so no bill of the number can charge it to the
previous one: it is kept with the run's held lines and reported (``BillRun.earlier_holder``, the run's notes), with the
plan fee of the previous customer's days, to be settled with that customer; never released onto the current
customer's bill, only written off."""
HOLD_REASONS: tuple[str, ...] = (*USAGE_HOLDS, LINE_CLOSED_UNDATED, BEFORE_HOLDING)  # a ``verdict`` that holds a line
# hold reasons of usage that was not the subscriber's (or cannot be told to be): never charged, only written off
NOT_RELEASED: tuple[str, ...] = (*NOT_RELEASABLE, LINE_CLOSED_UNDATED, BEFORE_HOLDING)
def charged(columns: Collection[str]) -> pl.Expr:
    """True for the rated lines a bill may charge (with rated lines whose ``columns`` these are): every line but a
    usage line held off the bill (its ``verdict`` a hold reason, ``HOLD_REASONS``: made after the line's suspension,
    charged only if released; after its closing or before its activation, never charged). For readers that count
    what subscribers are charged: bill shock, churn's usage charges."""
    if "verdict" not in columns or "kind" not in columns:
        return pl.lit(True)
    return ~(pl.col("kind").is_in(USAGE_KINDS) & pl.col("verdict").is_in(HOLD_REASONS)).fill_null(False)


# The columns the snapshot of billed lines adds: which bill and which run each line went into.
SNAPSHOT_COLUMNS: dict[str, pl.DataType] = {**BILLED_INPUT, "bill_id": pl.String(), "run_id": pl.String()}


@dataclass(frozen=True)
class BillRun:
    """The bills of one run, the rated lines they were built from (``billed``: SNAPSHOT_COLUMNS), the
    adjustment entries they carry, and what was left out and why."""

    period: str
    run_id: str
    issued_at: datetime
    bills: tuple[Bill, ...]
    billed: pl.DataFrame
    refused_vas: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    # usage lines of the billed subscribers held off their bills (SNAPSHOT_COLUMNS, ``verdict`` the hold reason)
    held: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SNAPSHOT_COLUMNS))
    # records of the period rating left out (``rating.UnratedReason`` code → records), on no bill, and how many
    # records of the period the run looked at, rated or not (those of subscribers billed before, ``skip``, aside)
    unrated_by_reason: dict[str, int] = field(default_factory=dict)
    records: int = 0
    # what the previous customers of the lines that changed owner during the period owe for it, on no bill
    # (``_Facts.earlier_holder``: lines, records, usage_minor, fee_days, fee_minor; {} when none)
    earlier_holder: Mapping[str, int] = field(default_factory=dict)

    @property
    def unrated_records(self) -> int:
        return sum(self.unrated_by_reason.values())

    @property
    def held_records(self) -> int:
        return self.held.select(pl.struct("msisdn", "source", "record_id").n_unique()).item() if self.held.height else 0

    @property
    def held_vas_records(self) -> int:
        """Of ``held_records``, the VAS charges (a previous customer's, in the month of an owner change)."""
        vas = self.held.filter(pl.col("kind") == LineKind.VAS.value)
        return vas.select(pl.struct("msisdn", "source", "record_id").n_unique()).item() if vas.height else 0

    @property
    def held_by_reason(self) -> dict[str, int]:
        """Held records per hold reason (``line_suspended``, ``line_closed``, ``before_activation``,
        ``line_closed_undated``)."""
        if not self.held.height:
            return {}
        records = self.held.unique(["msisdn", "source", "record_id"]).group_by("verdict").len()
        return {str(k): int(n) for k, n in sorted(records.iter_rows())}

    @property
    def held_minor(self) -> int:
        return int(self.held["amount_minor"].sum() or 0)

    @property
    def total_minor(self) -> int:
        return sum(b.total_minor for b in self.bills)

    def bill_for(self, msisdn: str) -> Bill | None:
        return next((b for b in self.bills if b.msisdn == msisdn), None)

    def summary(self) -> dict[str, Any]:
        by_kind: dict[str, int] = defaultdict(int)
        for b in self.bills:
            for line in b.lines:
                by_kind[line.kind.value] += line.amount_minor
        held = self.held.group_by("kind").agg(pl.col("amount_minor").sum()) if self.held.height else self.held
        return {"bills": len(self.bills), "total_minor": self.total_minor, "by_kind_minor": dict(sorted(by_kind.items())),
                "refused_vas": self.refused_vas, "held_records": self.held_records, "held_minor": self.held_minor,
                "held_vas_records": self.held_vas_records,
                "held_by_kind_minor": {k: int(v) for k, v in sorted(held.select("kind", "amount_minor").iter_rows())},
                "held_by_reason": self.held_by_reason,
                "held_subscribers": self.held["msisdn"].n_unique() if self.held.height else 0,
                "records": self.records, "unrated_records": self.unrated_records,
                "unrated_by_reason": dict(self.unrated_by_reason), "earlier_holder": dict(self.earlier_holder)}


def normalise_rated(rated: pl.DataFrame | pa.Table) -> pl.DataFrame:
    """Rated lines with the columns billing reads, typed; optional columns absent from the input are null."""
    frame = rated if isinstance(rated, pl.DataFrame) else pl.from_arrow(rated)
    assert isinstance(frame, pl.DataFrame)
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise InvalidInputError([Problem("rated", None, c, "column missing") for c in missing], what="rated lines")
    cols = []
    for name, dtype in BILLED_INPUT.items():
        if name not in frame.columns:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
        elif name == "started_at":
            cols.append(pl.col(name).dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
        else:
            cols.append(pl.col(name).cast(dtype))
    return frame.select(cols)


def prorated_fee_minor(fee_minor: int, activated_at: datetime, period: Period,
                       closed_at: datetime | None = None) -> tuple[int, int]:
    """(fee, days in service) for a plan of monthly ``fee_minor`` activated at ``activated_at`` (and, for a
    closed line, closed at ``closed_at``).

    Days are counted on the period's clock: a day is in service when any instant of it is, from ``activated_at``
    up to (not including) ``closed_at``. So the activation day counts, even when activated at its last minute, and so
    does the closing day, unless the line closed at its first instant (local 00:00): closed at 00:00 on the 4th, the
    line was last in service on the 3rd; closed at 00:00 on the 1st, it had no day of the month. A line closed no
    later than it was activated has none. The fee is ``fee × days / days in period``, rounded half-up once, so it
    never exceeds the monthly fee.
    """
    require_aware(activated_at, "activated_at")
    if closed_at is not None:
        require_aware(closed_at, "closed_at")
    if activated_at >= period.end or (closed_at is not None and (closed_at <= period.start or closed_at <= activated_at)):
        return 0, 0
    tz = zone(period.tz)
    first = 1 if activated_at < period.start else activated_at.astimezone(tz).day
    # the last day in service is the local day of the last instant before the closing
    last = (period.days if closed_at is None or closed_at >= period.end
            else (closed_at - _INSTANT).astimezone(tz).day)
    days = max(0, last - first + 1)
    return fee_for_days(fee_minor, days, period), days


def fee_for_days(fee_minor: int, days: int, period: Period) -> int:
    """The monthly ``fee_minor`` for ``days`` of ``period`` in service: whole for the whole period, else
    ``fee × days / days in period`` rounded half-up once. Rerating a fee pro-rates it by the same days."""
    if days >= period.days:
        return fee_minor
    if days <= 0:
        return 0
    return int((Decimal(fee_minor) * days / Decimal(period.days)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def changed_hands_in(acct: Account, period: Period) -> datetime | None:
    """The instant the line moved to its current customer (``holder_since``, later than its activation: an owner
    change, 过户) when that falls inside ``period`` after its start, else None. Such a period is split: the current
    customer's bill covers it from the change, what came before is the previous customer's. A period that ended by
    the change is wholly the previous customer's (its bill is theirs); one that began at or after it, the current
    customer's."""
    since = acct.holder_since
    if since is None or since <= acct.activated_at or not period.start < since < period.end:
        return None
    return since


def fee_days(acct: Account, period: Period) -> int:
    """The days of ``period`` the account owes its plan fee for: from activation (in the month of an owner change,
    from the day of the change: ``changed_hands_in``), and for a closed line up to its ``closed_at``; a closed line
    that does not say when it closed owes none."""
    closed = acct.status == SubscriberStatus.CLOSED
    if closed and acct.closed_at is None:
        return 0
    start = changed_hands_in(acct, period) or acct.activated_at
    return prorated_fee_minor(1, start, period, acct.closed_at if closed else None)[1]


def kept_number_days(acct: Account, plan: Plan, period: Period) -> int:
    """Of the days ``fee_days`` counts, those wholly inside a suspension the plan charges its keep-number fee for
    instead of the plan fee (停机保号: ``plan.suspension``, a suspension whose reason it ``applies_to``), on the period's
    clock: a day the line was in service at any instant owes the plan fee, and so does a day of a suspension for
    another reason (arrears, 欠费停机) or for none the register said. 0 under the default policy."""
    policy = plan.suspension
    if not policy.active or not acct.suspensions:
        return 0
    closed = acct.status == SubscriberStatus.CLOSED
    if closed and acct.closed_at is None:
        return 0
    start = changed_hands_in(acct, period) or acct.activated_at
    end = acct.closed_at if closed and acct.closed_at is not None else period.end
    windows = [(s.since, s.until or period.end) for s in acct.suspensions if s.reason in policy.applies_to]
    if not windows:
        return 0
    tz = zone(period.tz)
    kept = 0
    for d in range(1, period.days + 1):
        lo = datetime(period.year, period.month, d, tzinfo=tz)
        hi = datetime(period.year, period.month, d + 1, tzinfo=tz) if d < period.days else period.end
        # a day of the fee's days (the line held by its customer, not closed) wholly suspended for a reason the policy names
        if lo.astimezone(UTC) >= start and hi <= end and any(a <= lo and hi <= b for a, b in windows):
            kept += 1
    return kept


def suspensions_of(history: Iterable[tuple[str, str, datetime, str | None]]) -> dict[str, tuple[Suspension, ...]]:
    """msisdn → its suspensions, from its line status history rows (msisdn, status, since, reason), each line's in
    ``since`` order: a run of ``suspended`` rows lasts until the line's next row of another status (None: in force),
    and is for the reason its first row gives (None: not said)."""
    rows: dict[str, list[tuple[str, datetime, str | None]]] = defaultdict(list)
    for msisdn, status, since, reason in history:
        rows[msisdn].append((status, since, reason))
    out: dict[str, tuple[Suspension, ...]] = {}
    for msisdn, seen in rows.items():
        found: list[Suspension] = []
        current: Suspension | None = None
        for status, since, reason in seen:
            if status == SubscriberStatus.SUSPENDED.value:
                if current is None:
                    current = Suspension(since, None, reason)
            elif current is not None:
                if since > current.since:
                    found.append(replace(current, until=since))
                current = None
        if current is not None:
            found.append(current)
        if found:
            out[msisdn] = tuple(found)
    return out


def fee_parts(plan: Plan, currency: str, days: int, kept: int, period: Period) -> tuple[int, int]:
    """(plan fee, keep-number fee) of a bill whose line owes ``days`` of fee, ``kept`` of them wholly suspended under
    the plan's suspension policy (``kept_number_days``): the monthly fee pro-rated by the other days, and the
    keep-number fee by those, each rounded half-up once (``fee_for_days``)."""
    kept = min(max(kept, 0), days)
    keep = plan.suspension.keep_number_fee
    keep_full = 0 if keep is None else int(keep.scaleb(minor_units(currency)))
    return fee_for_days(plan_fee_minor(plan, currency), days - kept, period), fee_for_days(keep_full, kept, period)


def earlier_holder_days(acct: Account, period: Period) -> int:
    """In the month of an owner change (``changed_hands_in``), the days of ``period`` the previous customer held the
    line: from its activation (or the period's start) to the day before the change, on the period's clock (the day
    of the change is the current customer's); 0 in any other period, or when the line had closed by then."""
    since = changed_hands_in(acct, period)
    if since is None or (acct.status == SubscriberStatus.CLOSED and acct.closed_at is None):
        return 0  # a closed line without its closing date owes no fee, for neither customer
    local = since.astimezone(zone(period.tz))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    closed = acct.closed_at if acct.status == SubscriberStatus.CLOSED and acct.closed_at is not None else None
    until = day if closed is None else min(day, closed)
    return prorated_fee_minor(1, acct.activated_at, period, until)[1]


def snapshot_mismatches(bills: Iterable[Bill], billed: pl.DataFrame) -> list[str]:
    """The ids of the bills whose snapshot of billed lines (SNAPSHOT_COLUMNS) does not add up to their usage
    and VAS lines, in amount and quantity per kind: a snapshot lost or never written. Compared with such a
    snapshot, every billed record would look unbilled and be charged again."""
    kinds = [*USAGE_KINDS, LineKind.VAS.value]
    have: dict[tuple[str, str], tuple[int, int]] = {}
    if billed.height:
        sums = (billed.filter(pl.col("kind").is_in(kinds))
                .group_by("bill_id", "kind")
                .agg(pl.col("amount_minor").sum().alias("amount"), pl.col("quantity").fill_null(0).sum().alias("quantity")))
        have = {(r["bill_id"], r["kind"]): (int(r["amount"]), int(r["quantity"])) for r in sums.iter_rows(named=True)}
    out = []
    for bill in bills:
        want: dict[str, tuple[int, int]] = {}
        for line in bill.lines:
            if line.kind in kinds:
                amount, quantity = want.get(line.kind, (0, 0))
                want[line.kind] = (amount + line.amount_minor, quantity + (line.quantity or 0))
        for kind in kinds:
            if want.get(kind, (0, 0)) != have.get((bill.bill_id, kind), (0, 0)):
                out.append(bill.bill_id)
                break
    return sorted(out)


def plan_fee_minor(plan: Plan, currency: str) -> int:
    """The plan's monthly fee in minor units of ``currency`` (the catalog keeps it exact to them)."""
    return int(plan.monthly_fee.scaleb(minor_units(currency)))


def _period(period: Period | str, catalog: Catalog) -> Period:
    tz = catalog.operator.timezone
    return Period.parse(period, tz) if isinstance(period, str) else Period(period.year, period.month, tz)


_SINCE_ALWAYS = datetime(1, 1, 1, tzinfo=UTC)
_INSTANT = timedelta(microseconds=1)  # the finest step of the clocks fairtel keeps (microseconds)
HOLD = "_hold"  # the column ``held_usage`` adds: why a usage line is held (null: billable)


def closed_undated(accounts: Iterable[Account]) -> list[str]:
    """The numbers of the closed accounts whose register does not say when they closed (no ``closed_at``)."""
    return sorted(a.msisdn for a in accounts if a.status == SubscriberStatus.CLOSED and a.closed_at is None)


def held_usage(usage: pl.DataFrame, accounts: Iterable[Account], *, period: Period | None = None) -> pl.DataFrame:
    """``usage`` (rated usage lines) with ``_hold``: why each line is held off the bill, or null. A line rating held
    (its ``verdict`` one of ``HOLD_REASONS``), and every line of a record that started before its account's
    ``activated_at`` (``before_activation``), at or after a closed account's ``closed_at`` (``line_closed``), or at or
    after a suspended account's ``suspended_at`` (any record, when the account does not say since when). A closed
    account that does not say when it closed holds every record made after its activation (``LINE_CLOSED_UNDATED``,
    whatever rating said of the record: rating dates such a closing at the register's last change of the line). A
    record is held whole: its start is its first line's (a call cut at a band change starts where its first piece
    does). With ``period`` (the period the lines are of), a record of the month of an owner change made before it
    (``changed_hands_in``) is the previous customer's: held ``BEFORE_HOLDING``, whatever else holds it but its being
    made before the activation."""
    hold = pl.when(pl.col("verdict").is_in(HOLD_REASONS)).then(pl.col("verdict"))
    windows = [
        (a.msisdn, a.activated_at,
         (a.closed_at or _SINCE_ALWAYS) if a.status == SubscriberStatus.CLOSED else None,
         (a.suspended_at or _SINCE_ALWAYS) if a.status == SubscriberStatus.SUSPENDED else None,
         a.status == SubscriberStatus.CLOSED and a.closed_at is None,
         None if period is None else changed_hands_in(a, period))
        for a in accounts
    ]
    if windows and usage.height:
        since = pl.DataFrame(windows, schema={"msisdn": pl.String(), "_active": pl.Datetime("us", "UTC"),
                                              "_closed": pl.Datetime("us", "UTC"), "_since": pl.Datetime("us", "UTC"),
                                              "_undated": pl.Boolean(), "_holder": pl.Datetime("us", "UTC")},
                             orient="row")
        usage = usage.join(since, on="msisdn", how="left", maintain_order="left")
        start = pl.col("started_at").min().over("msisdn", "source", "record_id")
        before = start < pl.col("_active")
        now_held = (pl.when(before).then(pl.lit(BEFORE_ACTIVATION))
                    .when(start >= pl.col("_closed")).then(pl.lit(LINE_CLOSED))
                    .when(start >= pl.col("_since")).then(pl.lit(LINE_SUSPENDED)))
        activation = before.fill_null(False) | (hold == BEFORE_ACTIVATION).fill_null(False)
        earlier = ~activation & (start < pl.col("_holder")).fill_null(False)
        undated = pl.col("_undated").fill_null(False) & ~activation
        reason = (pl.when(earlier).then(pl.lit(BEFORE_HOLDING))
                  .when(undated).then(pl.lit(LINE_CLOSED_UNDATED)).otherwise(pl.coalesce(hold, now_held)))
        return usage.with_columns(reason.alias(HOLD)).drop("_active", "_closed", "_since", "_undated", "_holder")
    return usage.with_columns(hold.alias(HOLD))


def _usage_lines(lines: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Per subscriber, the billed lines summed per kind, rule, allowance and unit."""
    if lines.height == 0:
        return {}
    grouped = (
        lines.group_by("msisdn", "kind", "rule_id", "allowance_id", "unit")
        .agg(pl.col("quantity").sum().alias("quantity"), pl.col("amount_minor").sum().alias("amount_minor"))
        .sort("msisdn", "rule_id", "allowance_id", nulls_last=True)
    )
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in grouped.iter_rows(named=True):
        out[row["msisdn"]].append(row)
    for rows in out.values():
        rows.sort(key=lambda r: (CHARGE_ORDER.get(r["kind"], 99), r["rule_id"] or "", r["allowance_id"] is None, r["allowance_id"] or ""))
    return out


def _describe_usage(row: dict[str, Any]) -> str:
    if row["kind"] == LineKind.VAS:
        text = f"VAS {str(row['rule_id']).split('/', 1)[-1]}"
    else:
        text = f"{row['kind']} {row['rule_id']}"
    if row["allowance_id"]:
        text += f" (allowance {row['allowance_id']})"
    return text[:200]


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def run_bills(
    rated: pl.DataFrame | pa.Table,
    catalog: Catalog,
    accounts: Iterable[Account],
    *,
    period: Period | str,
    issued_at: datetime,
    run_id: str,
    adjustments: Iterable[AdjustmentEntry] = (),
    policy: BillingPolicy | None = None,
    skip: Collection[str] = (),
    unrated: pl.DataFrame | pa.Table | None = None,
    bill_periods: Mapping[str, str] | None = None,
) -> BillRun:
    """Bill every account in service during ``period`` except those in ``skip`` (already billed).

    ``rated``: the period's rated lines (rating's RATED_COLUMNS). ``adjustments``: the entries not yet
    carried into any bill; an entry correcting a period is carried only into a later period's bill, and an entry of
    an earlier holder of a number (``bill_periods``: the period of each bill the entries name) into none.
    Usage lines of every kind are billed (allowance draws as zero-amount lines) but those held (``held_usage``:
    made at or after the line's suspension, at or after its closing, before its activation), which the run returns
    apart (``BillRun.held``); VAS lines only with a billable verdict. A closed account pays the plan fee for the
    days of the period it was in service when it says when it closed (``closed_at``), else none; its usage up to
    its closing and its adjustments are billed, usage made after it is held, never charged; a closed account with no
    ``closed_at`` has all its usage held (``LINE_CLOSED_UNDATED``), and the run's notes name how many such lines.
    ``unrated``: the period's records rating left out (rating's UNRATED_COLUMNS: no rule, no plan...). No bill holds
    them; the run counts them by reason (``BillRun.unrated_by_reason``) among the period's records it looked at
    (``BillRun.records``), so that whoever issues the bills is told what is on none of them.

    The whole run in one piece; ``run_bills_chunked`` gives the same bills, snapshot, held lines, counts and notes a
    chunk of subscribers at a time, in bounded memory.
    """
    per = _period(period, catalog)
    require_aware(issued_at, "issued_at")
    lines = normalise_rated(rated)
    other = lines.filter(pl.col("currency") != catalog.operator.currency)["currency"].unique().to_list()
    if other:  # refused before the adjustments are looked at, as ever
        raise CurrencyMismatchError(f"rated lines in {', '.join(sorted(other))} cannot be billed in {catalog.operator.currency}")
    by_msisdn = {a.msisdn: a for a in accounts}
    setup = _Setup.of(catalog, period=per, issued_at=issued_at, run_id=run_id, adjustments=adjustments,
                      policy=policy, skip=skip, bill_periods=bill_periods)
    run, facts = _bill_chunk(setup, lines, by_msisdn, unrated)
    facts.raise_problems(setup)
    return replace(run, notes=tuple(facts.notes(setup)))


@dataclass
class _Setup:
    """What every chunk of a run shares: its parameters and the adjustment entries due this period, per number."""

    catalog: Catalog
    per: Period
    currency: str
    issued_at: datetime
    run_id: str
    policy: BillingPolicy
    skipped: set[str]
    # per number, the entries not correcting this period or a later one, with their place among ``adjustments``
    adjustments: dict[str, list[tuple[Any, AdjustmentEntry]]]
    bill_periods: Mapping[str, str]

    @classmethod
    def of(cls, catalog: Catalog, *, period: Period | str, issued_at: datetime, run_id: str,
           adjustments: Iterable[AdjustmentEntry], policy: BillingPolicy | None, skip: Collection[str],
           bill_periods: Mapping[str, str] | None) -> _Setup:
        per = _period(period, catalog)
        require_aware(issued_at, "issued_at")
        due = _due(enumerate(adjustments), catalog.operator.currency, per)
        return cls(catalog, per, catalog.operator.currency, issued_at, run_id, policy or BillingPolicy(), set(skip),
                   due, bill_periods or {})

    def pending(self, accounts_by: Mapping[str, Account], facts: _Facts,
                loaded: tuple[Mapping[str, list[tuple[Any, AdjustmentEntry]]], Mapping[str, str]] | None = None,
                ) -> dict[str, list[AdjustmentEntry]]:
        """The entries the bills of ``accounts_by`` carry; those of an earlier holder of a number go to ``facts``.
        ``loaded``: the entries due (``_due``) and the bills' periods read for these accounts alone, in place of the
        run's."""
        tz = self.catalog.operator.timezone
        due, periods = loaded if loaded is not None else (self.adjustments, self.bill_periods)
        pending: dict[str, list[AdjustmentEntry]] = defaultdict(list)
        for msisdn in accounts_by.keys() & due.keys():
            acct = accounts_by[msisdn]
            for place, adj in due[msisdn]:
                if _earlier_holders(adj, acct, tz, periods):
                    facts.earlier(place, adj)
                else:
                    pending[msisdn].append(adj)
        return pending


def _due(adjustments: Iterable[tuple[Any, AdjustmentEntry]], currency: str,
         per: Period) -> dict[str, list[tuple[Any, AdjustmentEntry]]]:
    """Per number, the entries (each with its place, which orders the run's examples) a bill of ``per`` may carry:
    not those correcting ``per`` or a later period. One in another currency than the bills' refuses the run."""
    due: dict[str, list[tuple[Any, AdjustmentEntry]]] = defaultdict(list)
    for place, adj in adjustments:
        if adj.currency != currency:
            raise CurrencyMismatchError(f"adjustment {adj.adjustment_id} is in {adj.currency}, bills are in {currency}")
        if adj.period is not None and adj.period >= per.key:
            continue  # it corrects this period or a later one: the next period's bill carries it
        due[adj.msisdn].append((place, adj))
    return due


@dataclass
class _Facts:
    """What a run's notes and refusals are made of, counted chunk by chunk: each chunk holds whole subscribers, so
    counts add up, and an example (the first number in order) is the least of the chunks' examples."""

    wrong_period: int = 0
    currencies: set[str] = field(default_factory=set)
    plan_problems: list[Problem] = field(default_factory=list)
    unknown: int = 0
    unknown_first: str | None = None
    not_yet: int = 0
    not_yet_first: str | None = None
    unbilled_records: int = 0
    unbilled_numbers: int = 0
    unbilled_first: str | None = None
    undated_numbers: int = 0
    undated_records: int = 0
    undated_first: str | None = None
    earlier_count: int = 0
    earlier_numbers: set[str] = field(default_factory=set)
    earlier_net_minor: int = 0
    # (place among the adjustments given: their index, or (created_at, id) when read a chunk at a time; id)
    earlier_first: tuple[Any, str] | None = None
    # lines that changed owner during the period (过户): what their previous customers owe for it, on no bill
    holder_lines: int = 0
    holder_first: str | None = None
    holder_records: int = 0
    holder_minor: int = 0  # usage and consented VAS made before the change, before tax
    holder_days: int = 0
    holder_fee_minor: int = 0  # the plan fee of the previous customers' days, before tax

    def earlier_holder(self) -> dict[str, int]:
        """What the previous customers of the lines that changed owner during the period owe for it, on no bill:
        ``lines``, ``records`` (usage and consented VAS made before the change), ``usage_minor`` (what those cost),
        ``fee_days`` and ``fee_minor`` (their plan fee for the days before the change), before tax; {} when none."""
        if not self.holder_lines:
            return {}
        return {"lines": self.holder_lines, "records": self.holder_records, "usage_minor": self.holder_minor,
                "fee_days": self.holder_days, "fee_minor": self.holder_fee_minor}

    def earlier(self, place: Any, adj: AdjustmentEntry) -> None:
        """Count an entry of an earlier holder of a number: left pending, not carried."""
        self.earlier_count += 1
        self.earlier_numbers.add(adj.msisdn)
        self.earlier_net_minor += adj.signed_minor
        if self.earlier_first is None or place < self.earlier_first[0]:
            self.earlier_first = (place, adj.adjustment_id)

    def add(self, other: _Facts) -> None:
        for name in ("wrong_period", "unknown", "not_yet", "unbilled_records", "unbilled_numbers", "undated_numbers",
                     "undated_records", "holder_lines", "holder_records", "holder_minor", "holder_days",
                     "holder_fee_minor"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("unknown_first", "not_yet_first", "unbilled_first", "undated_first", "holder_first"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None and (mine is None or theirs < mine):
                setattr(self, name, theirs)
        self.currencies |= other.currencies
        self.plan_problems.extend(other.plan_problems)
        self.earlier_count += other.earlier_count
        self.earlier_numbers |= other.earlier_numbers
        self.earlier_net_minor += other.earlier_net_minor
        if other.earlier_first is not None and (self.earlier_first is None or other.earlier_first < self.earlier_first):
            self.earlier_first = other.earlier_first

    @property
    def refused(self) -> bool:
        return bool(self.wrong_period or self.currencies or self.plan_problems)

    def raise_problems(self, setup: _Setup) -> None:
        """Refuse the run as the whole run refuses it: lines in another currency, else every problem at once."""
        if self.currencies:
            raise CurrencyMismatchError(f"rated lines in {', '.join(sorted(self.currencies))} cannot be billed in {setup.currency}")
        problems = []
        if self.wrong_period:
            problems.append(Problem("rated", None, "period", f"{self.wrong_period} line(s) of another period than {setup.per.key}"))
        problems.extend(self.plan_problems)
        if problems:
            raise InvalidInputError(problems, what=f"bill run {setup.per.key}")

    def notes(self, setup: _Setup) -> list[str]:
        per, currency = setup.per, setup.currency
        notes: list[str] = []
        if self.unknown:
            notes.append(f"{self.unknown} subscriber(s) with rated lines but no account left unbilled, e.g. {self.unknown_first}")
        if self.earlier_first is not None:
            net = Money.from_minor(self.earlier_net_minor, currency)
            notes.append(
                f"{self.earlier_count} adjustment(s) of {len(self.earlier_numbers)} number(s) left pending, not carried "
                f"({net.amount} {currency} net): each corrects a bill or usage of an earlier holder of a number that "
                f"changed hands since (issued before the current holding began, at the line's activation or its move to "
                f"another customer, or for a period before it), so the current holder is not charged or credited for "
                f"it; settle it with that customer, e.g. {self.earlier_first[1]}")
        if self.not_yet:  # usage before the activation the register holds: a wrong activation date or misrouted usage
            notes.append(f"{self.not_yet} subscriber(s) with rated lines but activated after {per.key} left unbilled, "
                         f"e.g. {self.not_yet_first}")
        if self.unbilled_records:  # a line closed before the period with only usage made since: held, on no bill, never charged
            notes.append(f"{self.unbilled_records} held usage record(s) of {self.unbilled_numbers} subscriber(s) with no bill "
                         f"this period (made after the line closed or before it was activated) left unbilled, e.g. "
                         f"{self.unbilled_first}")
        if self.undated_numbers:  # the register is what to fix: the usage made before the closing is the subscriber's
            notes.append(f"{self.undated_numbers} closed line(s) have no closing date in the subscriber register (closed_at), "
                         f"e.g. {self.undated_first}: all {self.undated_records} usage record(s) of theirs in {per.key} are "
                         f"held, never charged ({LINE_CLOSED_UNDATED}), and no plan fee is billed; to bill what was used "
                         "before the closing, give the register their closed_at (`fairtel load`) before issuing the period")
        if self.holder_lines:  # the register keeps the current customer only: the previous one's part is on no bill
            fee, used = (Money.from_minor(m, currency).amount for m in (self.holder_fee_minor, self.holder_minor))
            notes.append(
                f"{self.holder_lines} line(s) moved to another customer during {per.key} with their activation kept "
                f"(owner change, holder_since), e.g. {mask_msisdn(self.holder_first or '')}: each bill is the current customer's, from the "
                f"change (plan fee pro-rated from its day, usage and VAS from its instant); the previous customers' part "
                f"of {per.key} is on no bill, not charged to anyone: plan fee for {self.holder_days} day(s) ({fee} "
                f"{currency}) and {self.holder_records} usage/VAS record(s) made before the change ({used} {currency}, "
                f"held as {BEFORE_HOLDING}, `fairtel bill held --period {per.key}`), before tax; settle it with those "
                "customers")
        return notes


def _bill_chunk(setup: _Setup, lines: pl.DataFrame, accounts_by: Mapping[str, Account],
                unrated: pl.DataFrame | pa.Table | None,
                loaded: tuple[Mapping[str, list[tuple[Any, AdjustmentEntry]]], Mapping[str, str]] | None = None,
                ) -> tuple[BillRun, _Facts]:
    """The bills of the accounts ``accounts_by`` from their rated lines ``lines`` (normalised), and the facts the
    run's notes and refusals are made of. ``lines`` and ``unrated`` may name numbers no account holds: those are
    counted, never billed. ``loaded``: these accounts' adjustment entries due and their bills' periods, read for
    this chunk (``_Setup.pending``), else the run's."""
    per, currency, skipped = setup.per, setup.currency, setup.skipped
    facts = _Facts()
    pending = setup.pending(accounts_by, facts, loaded)
    facts.wrong_period = lines.filter(pl.col("period") != per.key).height
    facts.currencies = set(lines.filter(pl.col("currency") != currency)["currency"].unique().to_list())

    usage = held_usage(lines.filter(pl.col("kind").is_in(USAGE_KINDS)), accounts_by.values(), period=per)
    held = usage.filter(pl.col(HOLD).is_not_null()).with_columns(pl.col(HOLD).alias("verdict")).drop(HOLD)
    usage = usage.filter(pl.col(HOLD).is_null()).drop(HOLD)
    vas = lines.filter(pl.col("kind") == LineKind.VAS)
    refused = vas.filter(~pl.col("verdict").is_in(list(BILLABLE_VERDICTS)).fill_null(True))
    consented = vas.filter(pl.col("verdict").is_in(list(BILLABLE_VERDICTS)).fill_null(False))
    # the month of an owner change: the previous customer's consented charges (made before the change) are theirs,
    # not the current customer's; kept with the held lines, as their usage is
    changes = {m: at for m, a in accounts_by.items() if (at := changed_hands_in(a, per)) is not None}
    if changes and consented.height:
        change = pl.DataFrame(list(changes.items()), schema={"msisdn": pl.String(), "_holder": pl.Datetime("us", "UTC")},
                              orient="row")
        consented = consented.join(change, on="msisdn", how="left", maintain_order="left")
        theirs = (pl.col("started_at") < pl.col("_holder")).fill_null(False)
        held = pl.concat([held, consented.filter(theirs).drop("_holder").with_columns(pl.lit(BEFORE_HOLDING).alias("verdict"))])
        consented = consented.filter(~theirs).drop("_holder")
    billable = pl.concat([usage, consented])
    unknown = sorted(set(billable["msisdn"].unique().to_list()) - set(accounts_by))
    if unknown:
        facts.unknown, facts.unknown_first = len(unknown), unknown[0]

    with_lines = set(billable["msisdn"].unique().to_list())
    with_held = set(held["msisdn"].unique().to_list())
    to_bill = []
    not_yet: list[str] = []
    for msisdn, acct in sorted(accounts_by.items()):
        if msisdn in skipped:
            continue
        if acct.activated_at >= per.end:
            if msisdn in with_lines or msisdn in with_held:
                not_yet.append(msisdn)
            continue
        in_service = acct.closed_at is not None and acct.closed_at > per.start  # closed at its start: no day of it
        if acct.status == SubscriberStatus.CLOSED and not in_service and msisdn not in with_lines and not pending.get(msisdn):
            continue
        try:
            plan = setup.catalog.plan(acct.plan_id)
        except NotFoundError:
            facts.plan_problems.append(Problem("subscribers", None, "plan_id",
                                               f"{msisdn}: plan {acct.plan_id!r} is not in the catalog"))
            continue
        to_bill.append((acct, plan))
    if not_yet:
        facts.not_yet, facts.not_yet_first = len(not_yet), not_yet[0]

    billed_msisdns = [a.msisdn for a, _ in to_bill]
    bills: list[Bill] = []
    if not facts.refused:  # a refused run is refused whole: its bills are never built
        billable = billable.filter(pl.col("msisdn").is_in(billed_msisdns))
        by_msisdn = _usage_lines(billable)
        bills = [_bill_one(acct, plan, per, by_msisdn.get(acct.msisdn, []), pending.get(acct.msisdn, []),
                           currency=currency, policy=setup.policy, issued_at=setup.issued_at, run_id=setup.run_id)
                 for acct, plan in to_bill]
    else:
        billed_msisdns = []
        billable = billable.head(0)

    ids = pl.DataFrame({"msisdn": billed_msisdns, "bill_id": [b.bill_id for b in bills]},
                       schema={"msisdn": pl.String(), "bill_id": pl.String()})
    snapshot = billable.join(ids, on="msisdn", how="inner").with_columns(pl.lit(setup.run_id).alias("run_id"))
    snapshot = snapshot.sort("msisdn", "started_at", "source", "record_id", "line").select(list(SNAPSHOT_COLUMNS))
    kept = (held.join(ids, on="msisdn", how="inner").with_columns(pl.lit(setup.run_id).alias("run_id"))
            .sort("msisdn", "started_at", "source", "record_id", "line").select(list(SNAPSHOT_COLUMNS)))
    unbilled = held.filter(~pl.col("msisdn").is_in([*billed_msisdns, *skipped, *not_yet])
                           & (pl.col("verdict") != LINE_CLOSED_UNDATED))  # those have a note of their own
    if unbilled.height:
        facts.unbilled_first = unbilled.sort("msisdn")["msisdn"][0]
        facts.unbilled_records = unbilled.select(pl.struct("msisdn", "source", "record_id").n_unique()).item()
        facts.unbilled_numbers = unbilled["msisdn"].n_unique()
    undated = held.filter((pl.col("verdict") == LINE_CLOSED_UNDATED) & ~pl.col("msisdn").is_in(list(skipped)))
    if undated.height:
        numbers = sorted(set(undated["msisdn"].to_list()))
        facts.undated_numbers, facts.undated_first = len(numbers), numbers[0]
        facts.undated_records = undated.select(pl.struct("msisdn", "source", "record_id").n_unique()).item()
    _count_earlier_holders(facts, setup, to_bill if bills else [], kept)
    left_out, records = _left_out(lines, unrated, skipped)
    run = BillRun(per.key, setup.run_id, setup.issued_at, tuple(bills), snapshot,
                  refused_vas=refused.filter(pl.col("msisdn").is_in(billed_msisdns)).height, held=kept,
                  unrated_by_reason=left_out, records=records, earlier_holder=facts.earlier_holder())
    return run, facts


def _count_earlier_holders(facts: _Facts, setup: _Setup, billed: Sequence[tuple[Account, Plan]],
                           kept: pl.DataFrame) -> None:
    """Count, in ``facts``, what the previous customers of the billed lines that changed owner during the period (过户,
    ``changed_hands_in``) used and owe for their days of it: their usage and consented VAS charges made before the
    change (held ``BEFORE_HOLDING``, ``kept``) and their plan fee for the days before it. No bill charges it."""
    per = setup.per
    theirs = kept.filter(pl.col("verdict") == BEFORE_HOLDING)
    for acct, plan in billed:
        if changed_hands_in(acct, per) is None:
            continue
        days = earlier_holder_days(acct, per)
        mine = theirs.filter(pl.col("msisdn") == acct.msisdn)
        if not days and not mine.height:
            continue
        facts.holder_lines += 1
        if facts.holder_first is None or acct.msisdn < facts.holder_first:
            facts.holder_first = acct.msisdn
        facts.holder_days += days
        facts.holder_fee_minor += fee_for_days(plan_fee_minor(plan, setup.currency), days, per)
        if mine.height:
            facts.holder_records += mine.select(pl.struct("source", "record_id").n_unique()).item()
            facts.holder_minor += int(mine["amount_minor"].sum() or 0)


DEFAULT_CHUNK = 5_000  # subscribers per chunk of a chunked bill run
AdjustmentsFor = Callable[[Sequence[str]], tuple[Iterable[AdjustmentEntry], Mapping[str, str]]]
"""``adjustments_for(numbers)``: the entries no bill carries yet of ``numbers`` (a chunk's accounts, sorted) and the
period of each bill they name (``bill_periods``)."""


class ChunkedBillRun:
    """A bill run a chunk of subscribers at a time (``run_bills_chunked``): ``chunks()`` yields one ``BillRun`` per
    chunk (its bills, snapshot and held lines, in number order, as the whole run's would be), and the run's totals,
    report (``summary``) and ``notes`` are those of the whole run once every chunk has been yielded. A run refused
    (lines in another currency, of another period, an account on a plan the catalog lacks) raises at the end of
    ``chunks()``, as the whole run does before issuing anything, naming every problem; no chunk is yielded after the
    first problem is found, so a caller that commits only once ``chunks()`` has ended commits nothing of it."""

    def __init__(self, setup: _Setup, numbers: Sequence[str] | pl.Series, chunk_size: int,
                 accounts_for: Callable[[Sequence[str]], Iterable[Account]],
                 rated_for: Callable[[Sequence[str]], pl.DataFrame | pa.Table | None],
                 unrated_for: Callable[[Sequence[str]], pl.DataFrame | pa.Table | None] | None,
                 sample: int, adjustments_for: AdjustmentsFor | None = None) -> None:
        if chunk_size < 1:
            raise InvalidInputError([Problem("bill run", None, "chunk_size", f"at least 1, got {chunk_size}")],
                                    what="bill run")
        self.period, self.run_id, self.issued_at = setup.per.key, setup.run_id, setup.issued_at
        self._setup, self._numbers, self._size = setup, numbers, chunk_size
        self._accounts_for, self._rated_for, self._unrated_for = accounts_for, rated_for, unrated_for
        self._adjustments_for = adjustments_for
        self._facts = _Facts()
        self._done = False
        self._started = False
        self._sample_size = sample
        self.sample: list[Bill] = []  # the first bills, in number order
        self.bills = 0
        self.total_minor = 0
        self.adjustments_carried = 0
        self.refused_vas = 0
        self.records = 0
        self.unrated_by_reason: dict[str, int] = {}
        self._by_kind: dict[str, int] = defaultdict(int)
        self._held: dict[str, int] = defaultdict(int)
        self._held_by_kind: dict[str, int] = defaultdict(int)
        self._held_by_reason: dict[str, int] = defaultdict(int)

    def chunks(self) -> Iterator[BillRun]:
        if self._started:
            raise ConflictError("a chunked bill run is read once: start another run")
        self._started = True
        numbers = self._numbers
        for at in range(0, len(numbers), self._size):
            part = numbers[at:at + self._size]
            chunk: Sequence[str] = part.to_list() if isinstance(part, pl.Series) else part
            accounts_by = {a.msisdn: a for a in self._accounts_for(chunk)}
            loaded = None
            if self._adjustments_for is not None:  # this chunk's entries alone, placed as the whole run orders them
                entries, periods = self._adjustments_for(sorted(accounts_by))
                loaded = (_due((((a.created_at, a.adjustment_id), a) for a in entries if a.msisdn in accounts_by),
                               self._setup.currency, self._setup.per), periods)
            wanted = list(chunk)
            rated = self._rated_for(chunk)
            lines = normalise_rated(rated) if rated is not None else pl.DataFrame(schema=BILLED_INPUT)
            lines = lines.filter(pl.col("msisdn").is_in(wanted))
            unrated = self._unrated_for(chunk) if self._unrated_for is not None else None
            if unrated is not None:
                frame = pl.from_arrow(unrated) if isinstance(unrated, pa.Table) else unrated
                assert isinstance(frame, pl.DataFrame)
                if "msisdn" in frame.columns:  # a record naming no number is on no chunk, as the whole run counts none
                    unrated = frame.filter(pl.col("msisdn").cast(pl.String).is_in(wanted))
            run, facts = _bill_chunk(self._setup, lines, accounts_by, unrated, loaded)
            was_refused = self._facts.refused
            self._facts.add(facts)
            if self._facts.refused:
                continue  # the run will be refused: count the other problems, yield nothing more
            if not was_refused:
                self._count(run)
                yield run
        self._facts.raise_problems(self._setup)
        self._done = True

    def _count(self, run: BillRun) -> None:
        for bill in run.bills:
            self.total_minor += bill.total_minor
            self.adjustments_carried += len(bill.adjustment_ids)
            for line in bill.lines:
                self._by_kind[line.kind.value] += line.amount_minor
            if len(self.sample) < self._sample_size:
                self.sample.append(bill)
        self.bills += len(run.bills)
        self.refused_vas += run.refused_vas
        self.records += run.records
        for reason, n in run.unrated_by_reason.items():
            self.unrated_by_reason[reason] = self.unrated_by_reason.get(reason, 0) + n
        if run.held.height:
            self._held["records"] += run.held_records
            self._held["vas"] += run.held_vas_records
            self._held["minor"] += run.held_minor
            self._held["subscribers"] += run.held["msisdn"].n_unique()
            for kind, minor in run.held.group_by("kind").agg(pl.col("amount_minor").sum()).iter_rows():
                self._held_by_kind[kind] += int(minor)
            for reason, n in run.held_by_reason.items():
                self._held_by_reason[reason] += n

    def _finished(self) -> None:
        if not self._done:
            raise ConflictError("a chunked bill run's totals are known once all its chunks are read")

    @property
    def notes(self) -> tuple[str, ...]:
        self._finished()
        return tuple(self._facts.notes(self._setup))

    def summary(self) -> dict[str, Any]:
        """``BillRun.summary`` of the whole run."""
        self._finished()
        return {"bills": self.bills, "total_minor": self.total_minor, "by_kind_minor": dict(sorted(self._by_kind.items())),
                "refused_vas": self.refused_vas, "held_records": self._held["records"], "held_minor": self._held["minor"],
                "held_vas_records": self._held["vas"],
                "held_by_kind_minor": dict(sorted(self._held_by_kind.items())),
                "held_by_reason": dict(sorted(self._held_by_reason.items())),
                "held_subscribers": self._held["subscribers"],
                "records": self.records, "unrated_records": sum(self.unrated_by_reason.values()),
                "unrated_by_reason": dict(sorted(self.unrated_by_reason.items())),
                "earlier_holder": self._facts.earlier_holder()}


def run_bills_chunked(
    rated_for: Callable[[Sequence[str]], pl.DataFrame | pa.Table | None],
    catalog: Catalog,
    accounts_for: Callable[[Sequence[str]], Iterable[Account]],
    *,
    numbers: Iterable[str] | pl.Series,
    period: Period | str,
    issued_at: datetime,
    run_id: str,
    chunk_size: int = DEFAULT_CHUNK,
    adjustments: Iterable[AdjustmentEntry] = (),
    policy: BillingPolicy | None = None,
    skip: Collection[str] = (),
    unrated_for: Callable[[Sequence[str]], pl.DataFrame | pa.Table | None] | None = None,
    bill_periods: Mapping[str, str] | None = None,
    sample: int = 20,
    adjustments_for: AdjustmentsFor | None = None,
) -> ChunkedBillRun:
    """``run_bills`` a chunk of ``chunk_size`` subscribers at a time, in number order, so that a run holds one chunk's
    lines and bills whatever the size of the register: the same bills, snapshot, held lines, totals and notes.

    ``numbers``: every number the run may meet (the register's, and those the period's rated and unrated lines name,
    so that lines of a number no account holds are counted as the whole run counts them), as strings or one column
    of them (``pl.Series``, kept as such: the run holds no Python string per number). ``accounts_for(chunk)``: the
    accounts of a chunk of numbers (sorted); ``rated_for(chunk)`` and ``unrated_for(chunk)``: their rated lines and
    the records rating left out (lines of other numbers are ignored). The other arguments are ``run_bills``'s;
    ``sample``: how many of the first bills ``ChunkedBillRun.sample`` keeps.

    ``adjustments_for(numbers)``, in place of ``adjustments`` and ``bill_periods``: the pending entries of a chunk's
    accounts (of other numbers are ignored) and the period of each bill they name, read when the chunk is billed, so
    that the run never holds the whole register's entries. The bills and notes are those of a run given every entry
    oldest first (by ``created_at``, then id) with ``adjustments``; an entry in another currency refuses the run when
    its chunk is billed (a caller that must refuse before billing anything checks first)."""
    adjustments = list(adjustments)
    if adjustments_for is not None and (adjustments or bill_periods):
        raise InvalidInputError([Problem("bill run", None, "adjustments",
                                         "give the entries as adjustments or adjustments_for, not both")],
                                what="bill run")
    setup = _Setup.of(catalog, period=period, issued_at=issued_at, run_id=run_id, adjustments=adjustments,
                      policy=policy, skip=skip, bill_periods=bill_periods)
    # a column of strings is kept as one (a run over millions of lines), not as a Python string per number
    ordered: Sequence[str] | pl.Series = (numbers.cast(pl.String).drop_nulls().unique().sort()
                                          if isinstance(numbers, pl.Series) else sorted(set(numbers)))
    return ChunkedBillRun(setup, ordered, chunk_size, accounts_for, rated_for, unrated_for, sample, adjustments_for)


_RECORD = ("msisdn", "source", "record_id")


def _left_out(lines: pl.DataFrame, unrated: pl.DataFrame | pa.Table | None,
              skipped: Collection[str]) -> tuple[dict[str, int], int]:
    """(unrated records by reason, records of the period) among the subscribers not billed before (``skipped``): the
    records rating left out, each counted once, and every record the rated lines or the unrated ones name (a call
    cut at band changes may have a piece rated and be left out for another)."""
    keys = lines.select([pl.col(c).cast(pl.String) for c in _RECORD])
    frame = pl.from_arrow(unrated) if isinstance(unrated, pa.Table) else unrated
    if frame is None or not isinstance(frame, pl.DataFrame) or frame.height == 0:
        return {}, keys.unique().height
    missing = [c for c in ("record_id", "msisdn", "reason") if c not in frame.columns]
    if missing:
        raise InvalidInputError([Problem("unrated", None, c, "column missing") for c in missing], what="unrated records")
    frame = frame.select([pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, dtype=pl.String()).alias(c)
                          for c in (*_RECORD, "reason")])
    frame = frame.filter(~pl.col("msisdn").is_in(list(skipped))).unique(list(_RECORD), keep="first", maintain_order=True)
    by_reason = {str(r): int(n) for r, n in sorted(frame.group_by("reason").len().iter_rows())}
    return by_reason, pl.concat([keys, frame.select(list(_RECORD))]).unique().height


def _earlier_holders(adj: AdjustmentEntry, acct: Account, tz: str, bill_periods: Mapping[str, str]) -> bool:
    """Whether ``adj`` is an earlier holder's of the number ``acct`` holds now (a number closed and activated again
    for someone else: a later ``activated_at``; or the line moved to another customer with its activation kept: a
    later ``holder_since``): it corrects a period that ended by the start of the current holding (a rerate entry
    names it; a credit or refund names the bill, whose period ``bill_periods`` gives), or was issued before that
    start. Carrying it would charge or credit the holder for what was not theirs."""
    since = acct.holding_from
    period = adj.period or (None if adj.bill_id is None else bill_periods.get(adj.bill_id))
    if period is not None and Period.parse(period, tz).end <= since:
        return True
    return adj.created_at < since


def _bill_one(
    acct: Account,
    plan: Plan,
    per: Period,
    usage: list[dict[str, Any]],
    pending: list[AdjustmentEntry],
    *,
    currency: str,
    policy: BillingPolicy,
    issued_at: datetime,
    run_id: str,
) -> Bill:
    out: list[BillLine] = []

    def add(kind: LineKind, description: str, amount: int, **extra: Any) -> None:
        out.append(BillLine(len(out) + 1, kind, description[:200], amount, currency, **extra))

    charge_by_kind: dict[str, int] = defaultdict(int)
    fee_full = plan_fee_minor(plan, currency)
    days = fee_days(acct, per) if fee_full else 0
    # days wholly suspended at the subscriber's request (停机保号) under a plan that charges a keep-number fee for them
    kept = kept_number_days(acct, plan, per) if days else 0
    fee, keep = fee_parts(plan, currency, days, kept, per)
    if days - kept:  # a line closed before the period (billed for late usage or adjustments) has no fee line
        served = days - kept
        text = f"Monthly fee {plan.id}" + (f", {served} of {per.days} days" if served != per.days else "")
        add(LineKind.PLAN_FEE, text, fee, rule_id=plan.id, quantity=served, unit="day")
        charge_by_kind[LineKind.PLAN_FEE] += fee
    if kept:  # its own line, taxed as the plan fee
        add(LineKind.PLAN_FEE, f"{KEEP_NUMBER_TEXT} {plan.id}, {kept} of {per.days} days suspended", keep,
            rule_id=plan.id, quantity=kept, unit="day")
        charge_by_kind[LineKind.PLAN_FEE] += keep
    for row in usage:
        if not row["amount_minor"] and not row["quantity"] and not row["allowance_id"]:
            continue  # nothing used and nothing charged (calls of 0 seconds): the statement lists them, the bill need not
        add(LineKind(row["kind"]), _describe_usage(row), int(row["amount_minor"]), rule_id=row["rule_id"],
            quantity=row["quantity"], unit=row["unit"], allowance_id=row["allowance_id"])
        charge_by_kind[row["kind"]] += int(row["amount_minor"])
    tax = 0
    for kind in TAXABLE_KINDS:
        t = policy.tax_on(kind, charge_by_kind.get(kind, 0))
        if t:
            add(LineKind.TAX, f"Tax on {kind} {_percent(policy.tax_rate(kind))}", t, rule_id=f"tax/{kind}")
            tax += t
    adjusted = 0
    for adj in sorted(pending, key=lambda a: (a.created_at, a.adjustment_id)):
        add(LineKind.ADJUSTMENT, f"{adj.kind.value}: {adj.reason}", adj.signed_minor, rule_id=adj.rule_id,
            adjustment_id=adj.adjustment_id)
        adjusted += adj.signed_minor
    return Bill(bill_id_for(acct.msisdn, per.key), acct.msisdn, per.key, plan.id, currency, issued_at, run_id, tuple(out),
                sum(charge_by_kind.values()), adjusted, tax, tax_rates=dict(policy.tax_rates))
