"""Plan advice prices only billing months that have ended on the operator's clock (a month still running holds
part of a month's usage against a whole month's fee), says which months it left out and why, and advises nothing
to closed or suspended lines or to lines with an open or confirmed fraud case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from fairtel.billing import PeriodNotEndedError
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import NotFoundError
from fairtel.insight import advise

CATALOG = load_catalog(default_catalog_path())
AT = datetime(2026, 11, 20, tzinfo=UTC)  # 2026-11 has not ended on the operator's clock (Asia/Shanghai)
USER, CLOSED, SUSPENDED, FRAUD, OLD_CASE = (f"86138000001{i:02d}" for i in range(5))


def _records(msisdn: str, month: int, *, minutes: int = 0, sms: int = 0) -> list[dict[str, object]]:
    at = datetime(2026, month, 3, 3, tzinfo=UTC)  # 11:00 in Shanghai
    rows: list[dict[str, object]] = []
    if minutes:
        rows.append(
            {"kind": "voice", "direction": "out", "peer": "8613912345678", "duration_s": minutes * 60, "started_at": at}
        )
    for i in range(sms):
        rows.append(
            {"kind": "sms", "direction": "out", "peer": "8613912345678", "started_at": at + timedelta(minutes=i)}
        )
    return [{"record_id": f"{msisdn}-{month}-{i}", "source": "t", "msisdn": msisdn, **r} for i, r in enumerate(rows)]


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64})


def _usage(*msisdns: str) -> pl.DataFrame:
    # 280 minutes a month in September and October: basic-39 (39.00) is cheaper than payg (43.40); in the
    # November so far, one SMS: 0.10 on payg against basic-39's whole fee
    return _frame(
        [
            r
            for m in msisdns
            for r in _records(m, 9, minutes=280) + _records(m, 10, minutes=280) + _records(m, 11, sms=1)
        ]
    )


def test_a_month_not_ended_is_not_priced_and_the_notes_say_why() -> None:
    subs = pl.DataFrame({"msisdn": [USER], "plan_id": ["basic-39"]})
    result = advise(_usage(USER), CATALOG, subs, months=3, now=AT)
    assert result.periods == ("2026-09", "2026-10")
    assert set(result.costs["period"].to_list()) == {"2026-09", "2026-10"}
    row = result.advice.row(0, named=True)
    # priced over a partial November, payg looked 30.10 cheaper; over the ended months basic-39 is the cheapest
    assert (row["best_plan"], row["switch"], row["months"], row["last_period"]) == ("basic-39", False, 2, "2026-10")
    assert row["current_minor"] == 7800
    assert list(result.left_out) == ["2026-11"] and result.left_out["2026-11"].code == "not_ended"
    notes = " | ".join(result.notes())
    assert "priced 2026-09, 2026-10" in notes and "left out 2026-11" in notes and "has not ended" in notes
    summary = result.summary()
    assert [x["period"] for x in summary["left_out"]] == ["2026-11"]
    assert summary["left_out"][0]["zh"] and summary["left_out"][0]["en"]
    # all months: still only those ended
    assert advise(_usage(USER), CATALOG, subs, months=None, now=AT).periods == ("2026-09", "2026-10")
    # once November has ended, it is priced
    later = advise(_usage(USER), CATALOG, subs, months=3, now=datetime(2026, 12, 2, tzinfo=UTC))
    assert later.periods == ("2026-09", "2026-10", "2026-11") and not later.left_out


def test_an_until_not_ended_is_refused() -> None:
    subs = pl.DataFrame({"msisdn": [USER], "plan_id": ["basic-39"]})
    for months in (3, None):
        with pytest.raises(PeriodNotEndedError) as caught:
            advise(_usage(USER), CATALOG, subs, months=months, until="2026-11", now=AT)
        assert caught.value.code == "period_not_ended" and "2026-11" in str(caught.value)
    ok = advise(_usage(USER), CATALOG, subs, months=1, until="2026-10", now=AT)
    assert ok.periods == ("2026-10",)
    assert {k: w.code for k, w in ok.left_out.items()} == {"2026-09": "outside_months", "2026-11": "not_ended"}


def test_closed_suspended_and_fraud_lines_are_advised_nothing_and_counted() -> None:
    everyone = [USER, CLOSED, SUSPENDED, FRAUD, OLD_CASE]
    subs = pl.DataFrame(
        {"msisdn": everyone, "plan_id": ["payg"] * 5, "status": ["active", "closed", "suspended", "active", "active"]}
    )
    cases = pl.DataFrame({"msisdn": [FRAUD, OLD_CASE], "period": ["2026-10", "2026-07"]})
    status = subs.select("msisdn", "status")  # the register's line states
    result = advise(_usage(*everyone), CATALOG, subs, months=3, now=AT, line_status=status, fraud_cases=cases)
    skipped = dict(result.skipped.select("msisdn", "reason").iter_rows())
    assert skipped == {CLOSED: "line_closed", SUSPENDED: "line_suspended", FRAUD: "fraud_case"}
    # a case before the months priced does not stop advice; the others have no advice row (no notice)
    assert sorted(result.advice["msisdn"].to_list()) == [USER, OLD_CASE]
    assert sorted(result.savers()["msisdn"].to_list()) == [USER, OLD_CASE]
    assert result.advice.filter(pl.col("msisdn") == USER)["switch"].to_list() == [True]  # payg → basic-39
    summary = result.summary()
    assert summary["lines"] == 5 and summary["subscribers"] == 2
    assert {x["code"]: x["lines"] for x in summary["skipped"]} == {
        "fraud_case": 1,
        "line_closed": 1,
        "line_suspended": 1,
    }
    assert (
        summary["subscribers"] + sum(x["lines"] for x in summary["skipped"]) + summary["without_advice"]
        == summary["lines"]
    )
    assert "advised nothing" in " | ".join(result.notes())
    # explained, the line's months are priced but no plan is advised, each saying why
    why = result.explain(SUSPENDED)
    assert why["skipped"]["code"] == "line_suspended" and not why["switch"]
    assert not any(p["advised"] for p in why["plans"])
    assert all("line_suspended" in [r["code"] for r in p["reasons"]] for p in why["plans"] if not p["current"])
    with pytest.raises(NotFoundError):
        result.explain("8613999999999")
