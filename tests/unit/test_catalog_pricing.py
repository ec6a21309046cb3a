"""price_steps: CGRateS rate-step semantics, checked on the CGRateS tutorial tariff plan and by properties."""

from __future__ import annotations

import csv
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtel.catalog import (
    MaxCostStrategy,
    Rate,
    RateStep,
    Unit,
    default_catalog_path,
    load_catalog,
    parse_catalog,
    parse_quantity,
    price_breakdown,
    price_steps,
)
from fairtel.core.money import Rounding

CGRATES_ROUNDING = {"*up": Rounding.UP, "*down": Rounding.DOWN, "*middle": Rounding.HALF_UP}


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return [r for r in csv.reader(f) if r and not r[0].startswith("#")]


def tutorial_rates(shared: Path, *, cgrates_increments: bool) -> dict[str, Rate]:
    """Rates of the CGRateS tutorial, keyed by DestinationRate id (which adds rounding and max cost)."""
    tp = shared / "samples" / "cdr" / "cgrates_tutorial_tp"
    steps: dict[str, list[RateStep]] = {}
    for rid, fee, rate, unit, inc, start in _rows(tp / "Rates.csv"):
        kind = Unit.SECOND if unit.endswith("s") else Unit.MESSAGE
        steps.setdefault(rid, []).append(RateStep(
            parse_quantity(start, kind), Decimal(rate), parse_quantity(unit, kind), parse_quantity(inc, kind),
            Decimal(fee),
        ))
    out: dict[str, Rate] = {}
    for dr_id, _dest, rid, method, decimals, max_cost, strategy in _rows(tp / "DestinationRates.csv"):
        first = steps[rid][0]
        unit = Unit.SECOND if first.rate_unit == 60 or rid.endswith("PER_SEC") else Unit.MESSAGE
        out[dr_id] = Rate(
            dr_id, unit, tuple(sorted(steps[rid], key=lambda s: s.group_interval_start)), CGRATES_ROUNDING[method],
            int(decimals), Decimal(max_cost) if Decimal(max_cost) > 0 else None,
            MaxCostStrategy.DISCONNECT if strategy == "*disconnect" else MaxCostStrategy.FREE,
            increment_decimals=5 if cgrates_increments else None,  # CGRateS general.rounding_decimals
        )
    return out


def test_cgrates_tutorial_numbers(shared_dir: Path) -> None:
    # The CGRateS tutorial's own checks for 1001 → 1002 (RT_20CNT: 0.4 connect, 0.2 the first minute in one
    # block, then 0.1 a minute by the second): 2m10s costs 0.7169 and 2m costs 0.7002. CGRateS rounds each
    # one-second increment to 5 decimals (0.00167), which is where the extra 0.0002 comes from.
    compat = tutorial_rates(shared_dir, cgrates_increments=True)
    assert price_steps(compat["DR_1002_20CNT"], 130) == Decimal("0.7169")
    assert price_steps(compat["DR_1002_20CNT"], 120) == Decimal("0.7002")
    # exact arithmetic, rounded once: 0.4 + 0.2 + 70 × 0.1/60 = 0.71666… → *up → 0.7167
    exact = tutorial_rates(shared_dir, cgrates_increments=False)
    assert price_steps(exact["DR_1002_20CNT"], 130) == Decimal("0.7167")
    assert price_steps(exact["DR_1002_20CNT"], 120) == Decimal("0.7000")
    # the first minute is one block: 45 s costs as much as 60 s
    assert price_steps(exact["DR_1001_10CNT"], 45) == price_steps(exact["DR_1001_10CNT"], 60) == Decimal("0.3")
    assert price_steps(exact["DR_1001_10CNT"], 61) == Decimal("0.3009")  # 0.3 + 0.05/60, rounded up
    # DR_1003_MAXCOST_DISC: one cent a second, cut at 0.12
    cap = exact["DR_1003_MAXCOST_DISC"]
    assert price_steps(cap, 10) == Decimal("0.1")
    assert price_steps(cap, 12) == Decimal("0.12")
    b = price_breakdown(cap, 3600)
    assert b.amount == Decimal("0.12") and b.capped and b.unrounded == Decimal("36")
    assert cap.max_cost_strategy is MaxCostStrategy.DISCONNECT
    assert price_steps(exact["DR_SMS"], 3) == Decimal("0.03")


def test_step_arithmetic_by_hand() -> None:
    rate = Rate("r", Unit.SECOND, (
        RateStep(0, Decimal("0.8"), 60, 30, Decimal("0.5")),
        RateStep(60, Decimal("0.4"), 60, 10),
    ), Rounding.HALF_UP, 2)
    assert price_steps(rate, 0) == 0  # nothing used, no connect fee
    assert price_steps(rate, 1) == Decimal("0.90")  # 0.5 + one 30 s block at 0.8/min
    assert price_steps(rate, 31) == Decimal("1.30")  # two blocks
    b = price_breakdown(rate, 75)  # 60 s in step 0, 15 s → two 10 s blocks in step 1
    assert [(c.step, c.units, c.billed_units) for c in b.charges] == [(0, 60, 60), (1, 15, 20)]
    assert b.amount == Decimal("1.43")  # 0.5 + 0.8 + 20 × 0.4/60 = 1.4333…
    assert b.billed_units == 80
    with pytest.raises(TypeError):
        price_steps(rate, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        price_steps(rate, -1)


@pytest.mark.parametrize(("rounding", "expected"), [
    (Rounding.UP, "0.02"), (Rounding.DOWN, "0.01"), (Rounding.HALF_UP, "0.02"), (Rounding.HALF_EVEN, "0.02"),
])
def test_rounding_once(rounding: Rounding, expected: str) -> None:
    # 1 MiB at 15.36 CNY per GiB is 0.015 exactly: the rounding method decides
    rate = Rate("d", Unit.BYTE, (RateStep(0, Decimal("15.36"), 1024**3, 1024**2),), rounding, 2)
    assert price_steps(rate, 1024**2) == Decimal(expected)


def test_demo_catalog_prices() -> None:
    c = load_catalog(default_catalog_path())
    assert price_steps(c.rate("voice-dom-015"), 61) == Decimal("0.30")  # two started minutes
    assert price_steps(c.rate("sms-dom-010"), 1) == Decimal("0.10")
    assert price_steps(c.rate("data-dom-3-gib"), 1024**3) == Decimal("3.00")
    premium = c.rate("voice-intl-premium")
    assert price_steps(premium, 61) == Decimal("20.00")  # 2.00 + 12.00 + one 30 s block at 12/min
    assert price_steps(premium, 3 * 3600) == Decimal("200.00")  # cut at max cost


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
    return Rate("p", Unit.SECOND, tuple(steps), draw(st.sampled_from(list(Rounding))), draw(st.integers(0, 4)),
                max_cost, draw(st.sampled_from(list(MaxCostStrategy))),
                increment_decimals=draw(st.none() | st.integers(0, 6)))


@settings(max_examples=300, deadline=None)
@given(rates(), st.integers(0, 20_000), st.integers(0, 20_000))
def test_price_is_monotone_and_capped(rate: Rate, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    p_lo, p_hi = price_steps(rate, lo), price_steps(rate, hi)
    assert Decimal(0) <= p_lo <= p_hi
    if rate.max_cost is not None:
        assert p_hi <= rate.max_cost
    assert price_steps(rate, Decimal(hi)) == p_hi  # int and Decimal quantities agree


def test_docs_worked_example_prices() -> None:
    """The table under the worked example of docs/catalog.md, recomputed from the example itself."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "catalog.md").read_text(encoding="utf-8")
    c, _ = parse_catalog(re.findall(r"```toml\n(.*?)```", text, flags=re.S)[0])
    assert c is not None
    plan = c.plan("smart-59")
    tue_10, tue_2330 = datetime(2026, 3, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), datetime(
        2026, 3, 3, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    rows = [  # (when, number, seconds, rule, amount) as the docs table states them
        (tue_10, "8613912345678", 61, "smart-59/voice", "0.30"),
        (tue_2330, "8613912345678", 61, "smart-59/voice-night", "0.20"),
        (tue_10, "85261234567", 95, "smart-59/voice-hk", "2.72"),
        (tue_10, "8821234567", 7200, "smart-59/voice-premium", "100.00"),
    ]
    for when, number, seconds, rule_id, amount in rows:
        rule = plan.rule_for("voice", "out", c.zone_for(number).id, None, c.band_at(when).id)
        assert rule is not None and rule.id == rule_id and rule.rate is not None
        assert price_steps(c.rate(rule.rate), seconds) == Decimal(amount)
        assert f"`{rule_id}`" in text and f"| {amount} |" in text
    data = plan.rule_for("data", None, None, c.roaming_zone_for("HK").id, "peak")
    assert data is not None and data.id == "roam/data-1" and data.rate is not None
    assert price_steps(c.rate(data.rate), 5 * 1024**2) == Decimal("5.00")
