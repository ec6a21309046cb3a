"""Plan advice compares what the bills would charge: with the bill run's taxes (``billing.BillingPolicy``) each month
is taxed per kind of charge as on the bill, so a plan heavy in a kind taxed higher can lose its pre-tax lead; and on
a home's bills (``prorate``) every month priced in which a line was in service counts with its plan fee, used or
not (pro-rated at activation and closing), where Megaline's rule counts only the months with usage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl

from fairtel.billing import BillingPolicy
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.time import Period
from fairtel.insight import advise, notice_text

CATALOG = load_catalog(default_catalog_path())
NOW = datetime(2026, 11, 20, tzinfo=UTC)  # September and October have ended
TAX = BillingPolicy(tax_rates={"voice": Decimal("0.09"), "sms": Decimal("0.06"), "data": Decimal("0.06"),
                               "vas": Decimal("0.06"), "plan_fee": Decimal("0.06")})
TALKER, QUIET, BUSY, NEW, LATE, CLOSED = (f"86138000002{i:02d}" for i in range(6))
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


def _call(msisdn: str, month: int, minutes: int) -> dict[str, object]:
    # a weekday (Thursday 3 September, Tuesday 6 October) at 11:00 in Shanghai: peak, 0.19 a minute on pay as you go
    at = datetime(2026, month, {9: 3, 10: 6}[month], 3, tzinfo=UTC)
    return {"record_id": f"{msisdn}-{month}", "source": "t", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "peer": "8613912345678", "duration_s": minutes * 60, "started_at": at}


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64})


def _subs(plans: dict[str, str], activated: dict[str, datetime] | None = None,
          closed: dict[str, datetime] | None = None) -> pl.DataFrame:
    stamp = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        {"msisdn": list(plans), "plan_id": list(plans.values()),
         "activated_at": [(activated or {}).get(m, LONG_AGO) for m in plans],
         "closed_at": [(closed or {}).get(m) for m in plans]},
        schema={"msisdn": pl.String(), "plan_id": pl.String(), "activated_at": stamp, "closed_at": stamp})


def _totals(costs: pl.DataFrame, msisdn: str) -> dict[str, int]:
    mine = costs.filter(pl.col("msisdn") == msisdn).group_by("plan_id").agg(pl.col("total_minor").sum())
    return {p: int(t) for p, t in mine.iter_rows()}


def test_tax_per_kind_can_turn_a_saving_into_a_dearer_plan() -> None:
    # 200 peak minutes a month: pay as you go 38.00 against basic-39's 39.00 (within its 300 minutes) before tax;
    # with calls taxed at 9 % and fees at 6 %: 41.42 against 41.34, pay as you go is the dearer
    usage = _frame([_call(TALKER, 9, 200), _call(TALKER, 10, 200)])
    subs = _subs({TALKER: "basic-39"})
    bare = advise(usage, CATALOG, subs, months=2, now=NOW, prorate=True)
    row = bare.advice.row(0, named=True)
    assert (row["best_plan"], row["switch"], row["saving_minor"]) == ("payg", True, 200)
    assert not bare.tax_rates and bare.summary()["tax_included"] is False

    taxed = advise(usage, CATALOG, subs, months=2, now=NOW, prorate=True, policy=TAX)
    row = taxed.advice.row(0, named=True)
    assert (row["current_plan"], row["best_plan"], row["switch"]) == ("basic-39", "basic-39", False)
    assert row["current_minor"] == 2 * (3900 + 234)
    assert _totals(taxed.costs, TALKER)["payg"] == 2 * (3800 + 342)
    # each month's tax is the bill's: the billing package's rounding per kind of charge
    for r in taxed.costs.iter_rows(named=True):
        by_kind = {"plan_fee": r["fee_minor"], "voice": r["usage_minor"]}
        assert r["tax_minor"] == sum(TAX.tax_on(k, a) for k, a in by_kind.items())
        assert r["total_minor"] == r["fee_minor"] + r["usage_minor"] + r["tax_minor"]
    summary = taxed.summary()
    assert summary["tax_included"] is True and summary["tax_rates"]["voice"] == "0.09"
    assert any("includes tax" in n for n in taxed.notes()) and any("含税" in n for n in taxed.notes("zh"))
    assert "含税" in notice_text(row, CATALOG, "zh", tax_included=True)
    assert "include tax" in notice_text(row, CATALOG, "en", tax_included=True)
    # with the same rates the explanation shows the taxed totals too
    why = taxed.explain(TALKER)
    assert why["tax_included"] is True
    assert {p["plan_id"]: p["total_minor"] for p in why["plans"]}["payg"] == 2 * (3800 + 342)


def test_a_quiet_month_counts_with_its_fee_on_a_homes_bills() -> None:
    # QUIET (pay as you go) called 280 minutes in September (53.20) and not at all in October, which BUSY's usage
    # makes a month priced: on the bills, basic-39 would have charged its fee in October too
    usage = _frame([_call(QUIET, 9, 280), _call(BUSY, 9, 10), _call(BUSY, 10, 10)])
    subs = _subs({QUIET: "payg", BUSY: "payg"})
    home = advise(usage, CATALOG, subs, months=2, now=NOW, prorate=True)
    assert home.periods == ("2026-09", "2026-10")
    row = home.advice.filter(pl.col("msisdn") == QUIET).row(0, named=True)
    assert (row["months"], row["current_minor"], row["switch"]) == (2, 5320, False)
    assert _totals(home.costs, QUIET)["basic-39"] == 2 * 3900
    # Megaline's rule (no ``prorate``): only the months with usage count, and basic-39 saves 14.20 over September
    megaline = advise(usage, CATALOG, subs.select("msisdn", "plan_id"), months=2, now=NOW)
    row = megaline.advice.filter(pl.col("msisdn") == QUIET).row(0, named=True)
    assert (row["months"], row["best_plan"], row["saving_minor"]) == (1, "basic-39", 1420)


def test_months_in_service_follow_activation_and_closing() -> None:
    # NEW activated on 16 October without usage: October's fee for 16 of 31 days; LATE activated in November: no
    # month priced is its; CLOSED closed on 10 September: September's fee for 10 of 30 days, October not at all
    usage = _frame([_call(BUSY, 9, 10), _call(BUSY, 10, 10)])
    october = Period.parse("2026-10", CATALOG.operator.timezone)
    activated = {NEW: datetime(2026, 10, 16, 4, tzinfo=UTC), LATE: datetime(2026, 11, 2, 4, tzinfo=UTC)}
    closed = {CLOSED: datetime(2026, 9, 10, 4, tzinfo=UTC)}
    subs = _subs({BUSY: "payg", NEW: "basic-39", LATE: "basic-39", CLOSED: "basic-39"}, activated, closed)
    status = pl.DataFrame({"msisdn": [CLOSED], "status": ["closed"]})
    result = advise(usage, CATALOG, subs, months=2, now=NOW, prorate=True, line_status=status)
    new = result.costs.filter((pl.col("msisdn") == NEW) & (pl.col("plan_id") == "basic-39"))
    assert new["period"].to_list() == ["2026-10"] and new["fee_minor"].to_list() == [round(3900 * 16 / october.days)]
    assert result.costs.filter(pl.col("msisdn") == LATE).height == 0
    gone = result.costs.filter((pl.col("msisdn") == CLOSED) & (pl.col("plan_id") == "basic-39"))
    assert gone["period"].to_list() == ["2026-09"] and gone["fee_minor"].to_list() == [1300]
    # NEW paid basic-39's pro-rated fee for nothing: pay as you go would have cost nothing
    row = result.advice.filter(pl.col("msisdn") == NEW).row(0, named=True)
    assert (row["best_plan"], row["switch"], row["best_minor"]) == ("payg", True, 0)
    assert result.skipped["msisdn"].to_list() == [CLOSED]
    assert result.summary()["without_advice"] == 1  # LATE: neither in service nor any usage in the months priced


def test_one_lines_usage_with_the_homes_months() -> None:
    # the assistant prices one line's usage alone: the home's months (``usage_months``) make its quiet October count
    usage = _frame([_call(QUIET, 9, 280)])
    subs = _subs({QUIET: "payg"}).select("msisdn", "plan_id", "activated_at")
    alone = advise(usage, CATALOG, subs, months=None, now=NOW, prorate=True)
    assert alone.periods == ("2026-09",) and alone.advice.row(0, named=True)["switch"]
    home = advise(usage, CATALOG, subs, months=None, now=NOW, prorate=True,
                  usage_months=["2026-09", "2026-10", "2026-11"])
    assert home.periods == ("2026-09", "2026-10") and list(home.left_out) == ["2026-11"]
    row = home.advice.row(0, named=True)
    assert (row["months"], row["current_minor"], row["switch"]) == (2, 5320, False)
    assert _totals(home.costs, QUIET)["basic-39"] == 2 * 3900
