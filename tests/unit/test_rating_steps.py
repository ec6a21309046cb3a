"""Rate steps in the kernel: exact integer arithmetic that agrees with the catalog's ``price_steps``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtel.catalog import (
    Catalog,
    Match,
    MaxCostStrategy,
    Name,
    Operator,
    Plan,
    PricingRule,
    Rate,
    RateStep,
    Unit,
    Zone,
    default_catalog_path,
    load_catalog,
    price_breakdown,
    price_steps,
)
from fairtel.core.contracts import UsageKind
from fairtel.core.money import Rounding
from fairtel.rating import UnratedReason, charge_line, compile_rate, rate

CN = timezone(timedelta(hours=8))
A = "8613800000001"


def calls(*durations: int, peer: str = "8613912345678") -> pl.DataFrame:
    rows: list[dict[str, Any]] = [
        {"record_id": f"c{i}", "source": "t", "msisdn": A, "kind": "voice", "direction": "out",
         "started_at": datetime(2026, 3, 3, 10, 0, tzinfo=CN).astimezone(UTC) + timedelta(minutes=i),
         "duration_s": d, "peer": peer}
        for i, d in enumerate(durations)
    ]
    return pl.DataFrame(rows)


def one_rate_catalog(r: Rate, currency: str = "CNY") -> Catalog:
    n = Name("x", "x")
    rule = PricingRule("p/voice", Match(UsageKind.VOICE), r.id)
    return Catalog(Operator("t", n, currency, "Asia/Shanghai"), (Zone("any", n, (), True),), (), (), (r,),
                   (Plan("p", n, Decimal(0), (), (rule,)),), ())


def amounts(catalog: Catalog, usage: pl.DataFrame, plan: str = "p") -> list[Decimal]:
    res = rate(usage, catalog, {A: plan}, period="2026-03")
    assert res.unrated.height == 0
    out = res.rated.sort("record_id").group_by("record_id", maintain_order=True).agg(pl.col("amount_minor").sum())
    return [Decimal(v).scaleb(-2) for v in out["amount_minor"]]


def test_demo_rates_through_the_kernel() -> None:
    c = load_catalog(default_catalog_path())
    # payg, peak: 0.19 per started minute
    assert amounts(c, calls(0, 1, 60, 61, 3600), "payg") == [Decimal("0.00"), Decimal("0.19"), Decimal("0.19"),
                                                            Decimal("0.38"), Decimal("11.40")]
    # premium range: 2.00 connect, 12.00 the first minute, then 30 s blocks, cut at 200.00
    assert amounts(c, calls(61, 95, 3 * 3600, peer="8821234567"), "payg") == [
        Decimal("20.00"), Decimal("26.00"), Decimal("200.00")]


def test_capped_flag_and_connect_fee_once() -> None:
    c = load_catalog(default_catalog_path())
    res = rate(calls(3 * 3600, 10, peer="8821234567"), c, {A: "payg"}, period="2026-03")
    rows = {r["record_id"]: r for r in res.rated.to_dicts()}
    assert rows["c0"]["capped"] and rows["c0"]["amount_minor"] == 20000
    assert not rows["c1"]["capped"] and rows["c1"]["amount_minor"] == 1400  # 2.00 + 12.00


@pytest.mark.parametrize(("rounding", "expected"), [
    (Rounding.UP, 2), (Rounding.DOWN, 1), (Rounding.HALF_UP, 2), (Rounding.HALF_EVEN, 2), (Rounding.FLOOR, 1),
])
def test_rounding_once_per_line(rounding: Rounding, expected: int) -> None:
    # 90 s at 0.01 per 60 s, billed by the second: 0.015 exactly, rounded once by the rate's method
    r = Rate("r", Unit.SECOND, (RateStep(0, Decimal("0.01"), 60, 1),), rounding, 2)
    res = rate(calls(90), one_rate_catalog(r), {A: "p"}, period="2026-03")
    assert res.rated["amount_minor"].to_list() == [expected]


def test_half_even_rounds_to_even() -> None:
    # 150 s at 0.01/60 s by the second = 0.025 → 0.02 (even); half-up gives 0.03
    even = Rate("r", Unit.SECOND, (RateStep(0, Decimal("0.01"), 60, 1),), Rounding.HALF_EVEN, 2)
    up = Rate("r", Unit.SECOND, (RateStep(0, Decimal("0.01"), 60, 1),), Rounding.HALF_UP, 2)
    assert amounts(one_rate_catalog(even), calls(150)) == [Decimal("0.02")]
    assert amounts(one_rate_catalog(up), calls(150)) == [Decimal("0.03")]


def test_cgrates_increment_rounding() -> None:
    # the CGRateS tutorial's RT_20CNT (0.4 connect, 0.2 first minute, then 0.1/min by the second), to cents:
    # each 1 s increment costs 0.00167 after CGRateS' 5-decimal rounding, so 2m10s = 0.4+0.2+70×0.00167 = 0.7169
    steps = (RateStep(0, Decimal("0.2"), 60, 60, Decimal("0.4")), RateStep(60, Decimal("0.1"), 60, 1))
    compat = Rate("rt20", Unit.SECOND, steps, Rounding.UP, 2, increment_decimals=5)
    exact = Rate("rt20", Unit.SECOND, steps, Rounding.UP, 2)
    assert amounts(one_rate_catalog(compat), calls(130)) == [price_steps(compat, 130)] == [Decimal("0.72")]
    assert amounts(one_rate_catalog(exact), calls(130, 120)) == [Decimal("0.72"), Decimal("0.70")]
    line = charge_line(compile_rate(compat, "CNY"), quantity=130)
    assert line.unrounded == Decimal("0.7169") and line.billed == 130


def test_too_large_for_exact_integers_is_not_rated() -> None:
    r = Rate("r", Unit.SECOND, (RateStep(0, Decimal("99999.99"), 1, 1),), Rounding.UP, 2)
    compiled = compile_rate(r, "CNY")
    res = rate(calls(compiled.max_units + 1, 5), one_rate_catalog(r), {A: "p"}, period="2026-03")
    assert res.unrated["reason"].to_list() == [UnratedReason.QUANTITY_TOO_LARGE.value]
    assert res.rated["record_id"].to_list() == ["c1"]


@st.composite
def rates(draw: st.DrawFn) -> Rate:
    n = draw(st.integers(1, 3))
    steps = []
    start = 0
    for i in range(n):
        increment = draw(st.sampled_from([1, 6, 10, 30, 60]))
        steps.append(RateStep(
            start, Decimal(draw(st.integers(0, 500))) / 100, draw(st.sampled_from([1, 60, 1024])), increment,
            Decimal(draw(st.integers(0, 100))) / 100 if i == 0 else Decimal(0),
        ))
        start += increment * draw(st.integers(1, 20))
    max_cost = draw(st.none() | st.integers(1, 5000).map(lambda x: Decimal(x) / 100))
    return Rate("p", Unit.SECOND, tuple(steps), draw(st.sampled_from(list(Rounding))), draw(st.integers(0, 2)),
                max_cost, draw(st.sampled_from(list(MaxCostStrategy))),
                increment_decimals=draw(st.none() | st.integers(0, 6)))


@settings(max_examples=60, deadline=None)
@given(r=rates(), durations=st.lists(st.integers(0, 5000), min_size=1, max_size=8))
def test_kernel_agrees_with_price_steps(r: Rate, durations: list[int]) -> None:
    assert amounts(one_rate_catalog(r), calls(*durations)) == [price_steps(r, d) for d in durations]


@settings(max_examples=200, deadline=None)
@given(r=rates(), quantity=st.integers(0, 5000))
def test_reference_line_agrees_with_price_breakdown(r: Rate, quantity: int) -> None:
    line = charge_line(compile_rate(r, "CNY"), quantity=quantity)
    b = price_breakdown(r, quantity)
    assert Decimal(line.amount_minor).scaleb(-2) == b.amount
    assert line.billed == b.billed_units
    assert line.capped == b.capped
