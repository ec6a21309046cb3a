"""Invariants of billing (Hypothesis): bill lines and statement lines sum to the bill total, pro-rating never
exceeds the monthly fee, rerating with the same tariff is a no-op and corrections are never charged twice,
adjustments never change an issued bill's stored rows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fairtel.billing import (
    Account,
    AdjustmentEntry,
    AdjustmentKind,
    BillingPolicy,
    build_statement,
    prorated_fee_minor,
    rerate_differences,
    run_bills,
)
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.time import Period
from fairtel.rating import rate
from fairtel.store import Bill, BillLine, connect, issue_bills, migrate, record_adjustments
from fairtel.store._schema import table_of

CATALOG = load_catalog(default_catalog_path())
MSISDNS = ("8613800000001", "8613800000002", "8613800000003", "8613800000004")
PLANS = ("basic-39", "unlimited-129", "payg", "senior-19")
PERIOD = Period.parse("2026-03")
START = PERIOD.start.astimezone(UTC)
NOW = datetime(2026, 4, 2, tzinfo=UTC)
RULES = {"voice": ("basic-39/voice-domestic", "intl/voice-intl-1"), "sms": ("basic-39/sms-domestic",), "data": ("basic-39/data-home",),
         "vas": ("offer/vas-music-10",)}
UNITS = {"voice": "second", "sms": "message", "data": "byte", "vas": "item"}


@st.composite
def rated_lines(draw: st.DrawFn, period: str = PERIOD.key) -> pl.DataFrame:
    n = draw(st.integers(0, 30))
    rows = []
    for i in range(n):
        kind = draw(st.sampled_from(["voice", "voice", "sms", "data", "vas"]))
        rows.append({
            "record_id": f"r{i}", "source": "sw", "line": 0, "msisdn": draw(st.sampled_from(MSISDNS)), "period": period,
            "started_at": START + timedelta(seconds=draw(st.integers(0, 31 * 86400 - 1))), "kind": kind,
            "rule_id": draw(st.sampled_from(RULES[kind])), "quantity": draw(st.integers(0, 10**6)), "unit": UNITS[kind],
            "allowance_id": draw(st.sampled_from([None, "basic-39/voice"])) if kind == "voice" else None,
            "amount_minor": draw(st.integers(0, 50_000)), "currency": "CNY",
            "verdict": draw(st.sampled_from(["consented", "no_subscription"])) if kind == "vas" else None,
        })
    schema = {"record_id": pl.String(), "source": pl.String(), "line": pl.Int32(), "msisdn": pl.String(), "period": pl.String(),
              "started_at": pl.Datetime("us", "UTC"), "kind": pl.String(), "rule_id": pl.String(), "quantity": pl.Int64(),
              "unit": pl.String(), "allowance_id": pl.String(), "amount_minor": pl.Int64(), "currency": pl.String(),
              "verdict": pl.String()}
    return pl.DataFrame(rows, schema=schema)


accounts = st.lists(
    st.builds(Account, st.sampled_from(MSISDNS), st.sampled_from(PLANS),
              st.integers(-40 * 86400, 35 * 86400).map(lambda s: START + timedelta(seconds=s)),
              st.sampled_from(["active", "active", "suspended", "closed"])),
    max_size=4, unique_by=lambda a: a.msisdn,
)


@st.composite
def adjustments(draw: st.DrawFn) -> list[AdjustmentEntry]:
    n = draw(st.integers(0, 5))
    return [
        AdjustmentEntry(f"adj_{i}", draw(st.sampled_from(list(AdjustmentKind))), draw(st.sampled_from(MSISDNS)),
                        draw(st.integers(1, 20_000)), "CNY", "test", NOW, "prop",
                        period=draw(st.sampled_from([None, "2026-02", "2026-03"])))
        for i in range(n)
    ]


policies = st.builds(BillingPolicy, st.dictionaries(
    st.sampled_from(["plan_fee", "voice", "sms", "data", "vas"]),
    st.decimals(min_value=0, max_value=Decimal("0.25"), places=3, allow_nan=False, allow_infinity=False), max_size=5))


@settings(max_examples=60, deadline=None)
@given(rated_lines(), accounts, adjustments(), policies)
def test_bill_and_statement_lines_sum_to_the_bill_total(lines: pl.DataFrame, accts: list[Account],
                                                        adjs: list[AdjustmentEntry], policy: BillingPolicy) -> None:
    run = run_bills(lines, CATALOG, accts, period=PERIOD, issued_at=NOW, run_id="p", adjustments=adjs, policy=policy)
    for bill in run.bills:
        assert sum(ln.amount_minor for ln in bill.lines) == bill.total_minor
        st_ = build_statement(bill, run.billed, catalog=CATALOG, language="en")
        assert st_.total_minor == bill.total_minor
        assert [ln.line_no for ln in bill.lines] == list(range(1, len(bill.lines) + 1))
    carried = [i for b in run.bills for i in b.adjustment_ids]
    assert len(carried) == len(set(carried))  # no entry carried twice
    billed_amount = int(run.billed["amount_minor"].sum() or 0)
    assert billed_amount == sum(b.amount_of("voice", "sms", "data", "vas") for b in run.bills)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**7), st.integers(-86400 * 40, 86400 * 40), st.integers(1, 86400 * 5))
def test_prorating_never_exceeds_the_fee_and_never_grows_with_later_activation(fee: int, offset: int, later: int) -> None:
    at = START + timedelta(seconds=offset)
    amount, days = prorated_fee_minor(fee, at, PERIOD)
    assert 0 <= amount <= fee and 0 <= days <= PERIOD.days
    if days == PERIOD.days:
        assert amount == fee
    if days == 0:
        assert amount == 0
    later_amount, later_days = prorated_fee_minor(fee, at + timedelta(seconds=later), PERIOD)
    assert later_amount <= amount and later_days <= days


@st.composite
def usage(draw: st.DrawFn) -> pl.DataFrame:
    rows = []
    for i in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["voice", "voice", "sms", "data"]))
        rows.append({
            "record_id": f"u{i}", "source": "sw", "msisdn": draw(st.sampled_from(MSISDNS)), "kind": kind,
            "direction": "out" if kind != "data" else None,
            "started_at": START + timedelta(seconds=draw(st.integers(0, 31 * 86400 - 1))),
            "duration_s": draw(st.integers(0, 4000)) if kind == "voice" else None,
            "bytes_up": draw(st.integers(0, 3 * 1024**3)) if kind == "data" else None, "bytes_down": 0 if kind == "data" else None,
            "peer": draw(st.sampled_from(["8613912345678", "85261234567", "4420123456"])) if kind != "data" else None,
        })
    return pl.DataFrame(rows)


SUBS = dict(zip(MSISDNS, PLANS, strict=True))
ACCOUNTS = [Account(m, p, START - timedelta(days=30)) for m, p in SUBS.items()]


@settings(max_examples=25, deadline=None)
@given(usage())
def test_rerate_with_the_same_tariff_is_a_no_op(records: pl.DataFrame) -> None:
    run = run_bills(rate(records, CATALOG, SUBS, period=PERIOD).rated, CATALOG, ACCOUNTS, period=PERIOD, issued_at=NOW, run_id="p")
    again = rate(records.sample(fraction=1.0, shuffle=True, seed=1), CATALOG, SUBS, period=PERIOD).rated
    res = rerate_differences(run.billed, again, period=PERIOD.key, bills={b.msisdn: b.bill_id for b in run.bills},
                             currency="CNY", created_at=NOW)
    assert res.adjustments == () and res.missing == ()


@settings(max_examples=60, deadline=None)
@given(rated_lines(), st.lists(st.integers(-3000, 3000), min_size=30, max_size=30))
def test_corrections_bring_every_record_to_its_new_price_exactly_once(lines: pl.DataFrame, shifts: list[int]) -> None:
    old = lines.filter(pl.col("kind") != "vas")
    new = old.with_columns(
        (pl.col("amount_minor") + pl.Series(shifts[: old.height], dtype=pl.Int64)).clip(lower_bound=0).alias("amount_minor"))
    bills = {m: f"bill_{m}" for m in MSISDNS}
    first = rerate_differences(old, new, period=PERIOD.key, bills=bills, currency="CNY", created_at=NOW)
    charged = dict(zip(old["record_id"], old["amount_minor"], strict=True))
    for a in first.adjustments:
        assert a.record_id is not None and a.old_amount_minor == charged[a.record_id]
        charged[a.record_id] += a.signed_minor  # no tax: the entry is exactly the difference
    assert charged == dict(zip(new["record_id"], new["amount_minor"], strict=True))
    second = rerate_differences(old, new, period=PERIOD.key, bills=bills, currency="CNY", created_at=NOW, prior=first.adjustments)
    assert second.adjustments == ()


_periods = (f"{y:04d}-{m:02d}" for y, m in itertools.product(range(2000, 2100), range(1, 13)))


@cache
def _engine() -> Engine:
    return migrate(connect("sqlite://"))


def _rows(engine: Engine, period: str) -> list[Any]:
    b, ln = table_of(Bill), table_of(BillLine)
    with engine.connect() as conn:
        bills = [tuple(r) for r in conn.execute(select(b).where(b.c.period == period).order_by(b.c.bill_id))]
        lines = [tuple(r) for r in conn.execute(
            select(ln).join(b, b.c.bill_id == ln.c.bill_id).where(b.c.period == period).order_by(ln.c.bill_id, ln.c.line_no))]
    return bills + lines


@settings(max_examples=25, deadline=None)
@given(rated_lines(), adjustments(), st.integers(0, 10**6))
def test_adjustments_never_change_an_issued_bills_stored_rows(lines: pl.DataFrame, adjs: list[AdjustmentEntry], salt: int) -> None:
    engine = _engine()
    period = next(_periods)
    per = Period.parse(period)
    lines = lines.with_columns(pl.lit(period).alias("period"),
                               pl.lit(per.start.astimezone(UTC)).dt.cast_time_unit("us").alias("started_at"))
    accts = [Account(m, p, per.start - timedelta(days=1)) for m, p in SUBS.items()]
    run = run_bills(lines, CATALOG, accts, period=per, issued_at=NOW, run_id=f"run-{period}")
    with engine.begin() as conn:
        issue_bills(conn, run)
    before = _rows(engine, period)
    assert before
    entries = [AdjustmentEntry(f"{a.adjustment_id}_{period}_{salt}", a.kind, a.msisdn, a.amount_minor, "CNY", "prop", NOW, "prop",
                               bill_id=run.bills[0].bill_id, period=period) for a in adjs]
    with engine.begin() as conn:
        record_adjustments(conn, entries)
        issue_bills(conn, run_bills(lines, CATALOG, accts, period=per, issued_at=NOW, run_id="again", adjustments=entries))
    assert _rows(engine, period) == before
