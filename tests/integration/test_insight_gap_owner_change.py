"""Churn features, the retention list's fraud skips and plan advice after an owner change (过户): the register moves
a line to another customer with its ``activated_at`` kept and dates the change (``subscribers.holder_since``). The
new customer's tenure starts then, and the previous customer's usage, complaints and fraud case are not theirs.

Before: insight bounded a holding by ``activated_at`` alone. The new customer of a line held for a year had a
year's tenure, the previous customer's complaint, calls and fraud case (the line left off the retention list),
and plan advice priced the previous customer's months and usage."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from owner_change_seed import CHANGE, CN, KEPT, MOVED, owner_changed, utc
from test_billing_cli import rec

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.insight import ChurnWindow, advise, churn_features
from fairtel.insight._churn_warning import fraud_lines, retention_skips
from fairtel.insight._features import activity


def _at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CN).astimezone(UTC)


@pytest.fixture(scope="module")
def subscribers(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Both lines active since 2025 for customers c1 and c2; on 10 March 2026 the register moves MOVED to customer
    c9, its activation kept. The frame is the register's, read back with each line's ``holder_since``."""
    rows = owner_changed(tmp_path_factory.mktemp("owner-change"), first_import=_at(1, 1), second_import=_at(3, 12))
    frame = pl.DataFrame(
        [(r.msisdn, r.plan_id, utc(r.activated_at), utc(r.holder_since), r.language, r.region, r.status) for r in rows],
        schema={"msisdn": pl.String, "plan_id": pl.String, "activated_at": pl.Datetime("us", "UTC"),
                "holder_since": pl.Datetime("us", "UTC"), "language": pl.String, "region": pl.String,
                "status": pl.String}, orient="row")
    assert frame.filter(pl.col("msisdn") == MOVED)["holder_since"].item() == CHANGE.astimezone(UTC)
    assert frame.filter(pl.col("msisdn") == KEPT)["holder_since"].item() is None
    return frame


def _usage() -> pl.DataFrame:
    """A call a day from 1 February to 31 March on each line: on MOVED the previous customer's until the change."""
    rows = []
    for m in (MOVED, KEPT):
        day = datetime(2026, 2, 1, 10, tzinfo=CN)
        while day < datetime(2026, 4, 1, tzinfo=CN):
            rows.append(rec(f"{m}-{day:%m%d}", m, started_at=day.astimezone(UTC), duration_s=120))
            day += timedelta(days=1)
    return pl.DataFrame(rows, schema=pl.Schema(CLEAN_USAGE_SCHEMA))


def _features(subscribers: pl.DataFrame, **extra: pl.DataFrame) -> dict[str, dict[str, object]]:
    tz = "Asia/Shanghai"
    act = activity(_usage(), tz, subscribers)
    feats = churn_features(act, subscribers, date(2026, 4, 1), ChurnWindow(), **extra)
    return {r["msisdn"]: r for r in feats.iter_rows(named=True)}


def test_the_new_customers_tenure_starts_at_the_owner_change(subscribers: pl.DataFrame) -> None:
    feats = _features(subscribers)
    assert feats[MOVED]["tenure_days"] == 22  # 10 March to 1 April, not the line's 15 months
    assert feats[KEPT]["tenure_days"] == (datetime(2026, 4, 1, tzinfo=CN) - datetime(2025, 1, 1, tzinfo=CN)).days


def test_the_previous_customers_calls_and_complaints_are_not_the_new_ones(subscribers: pl.DataFrame) -> None:
    complaints = pl.DataFrame({"msisdn": [MOVED, KEPT], "at": [_at(3, 5), _at(3, 5)], "category": ["price"] * 2},
                              schema={"msisdn": pl.String, "at": pl.Datetime("us", "UTC"), "category": pl.String})
    feats = _features(subscribers, complaints=complaints)
    assert feats[MOVED]["complaints"] == 0 and feats[KEPT]["complaints"] == 1
    # the observation window is 4 March to 31 March: 22 days of the new customer's, 28 of the kept line's
    assert feats[MOVED]["active_days_share"] == pytest.approx(22 / 28)
    assert feats[KEPT]["active_days_share"] == pytest.approx(1.0)


def test_a_fraud_case_of_the_previous_customer_keeps_no_one_off_the_retention_list(subscribers: pl.DataFrame) -> None:
    cases = pl.DataFrame({"msisdn": [MOVED, KEPT], "status": ["confirmed", "confirmed"],
                          "opened_at": [_at(3, 3), _at(3, 3)]},
                         schema={"msisdn": pl.String, "status": pl.String, "opened_at": pl.Datetime("us", "UTC")})
    assert fraud_lines(cases, subscribers).to_list() == [KEPT]
    skips = retention_skips(subscribers, cases, _at(4, 1, 0))
    assert skips["msisdn"].to_list() == [KEPT]
    later = cases.with_columns(pl.lit(_at(3, 20)).alias("opened_at"))  # one of the new customer's still counts
    assert fraud_lines(later, subscribers).to_list() == [MOVED, KEPT]


def test_plan_advice_prices_the_new_customers_months_alone(subscribers: pl.DataFrame) -> None:
    catalog = load_catalog(default_catalog_path())
    subs = subscribers.select("msisdn", "plan_id", "activated_at", "holder_since")
    result = advise(_usage(), catalog, subs, months=None, prorate=True, now=_at(4, 2), at=_at(4, 2))
    costs = result.costs.filter(pl.col("plan_id") == "payg")
    moved = {r["period"]: r for r in costs.filter(pl.col("msisdn") == MOVED).iter_rows(named=True)}
    kept = {r["period"]: r for r in costs.filter(pl.col("msisdn") == KEPT).iter_rows(named=True)}
    assert sorted(kept) == ["2026-02", "2026-03"]
    assert sorted(moved) == ["2026-03"]  # February was the previous customer's
    # March's usage is the new customer's calls alone: priced as the same usage without the earlier customer's
    theirs = _usage().filter((pl.col("msisdn") == MOVED) & (pl.col("started_at") >= CHANGE))
    alone = advise(theirs, catalog, subs.drop("holder_since").filter(pl.col("msisdn") == MOVED), months=None,
                   prorate=True, now=_at(4, 2), at=_at(4, 2)).costs
    expected = alone.filter((pl.col("plan_id") == "payg") & (pl.col("period") == "2026-03"))["usage_minor"].item()
    assert 0 < moved["2026-03"]["usage_minor"] == expected < kept["2026-03"]["usage_minor"]
    # on a plan with a fee, the month of the change is counted by the new customer's days, as an activation is
    basic = result.costs.filter((pl.col("plan_id") == "basic-39") & (pl.col("period") == "2026-03"))
    fee = dict(zip(basic["msisdn"].to_list(), basic["fee_minor"].to_list(), strict=True))
    assert fee[KEPT] == 3900 and fee[MOVED] < fee[KEPT]
