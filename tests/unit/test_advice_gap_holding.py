"""Plan advice on a home's lines prices a recycled number's current holding only: the earlier holder's usage and
fraud cases (dated before the line's activation) neither price its months nor keep the current holder from advice."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.insight import advise

CATALOG = load_catalog(default_catalog_path())
NOW = datetime(2026, 11, 2, tzinfo=UTC)  # 2026-10 has ended on the operator's clock
RECYCLED, KEPT = "8613800000201", "8613800000202"
ACTIVATED = datetime(2026, 10, 15, 2, tzinfo=UTC)  # the current holder of RECYCLED


def _call(msisdn: str, at: datetime, minutes: int, n: int) -> dict[str, object]:
    return {"record_id": f"{msisdn}-{n}", "source": "t", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "peer": "8613912345678", "duration_s": minutes * 60, "started_at": at}


def _usage(*, earlier: bool) -> pl.DataFrame:
    rows = [_call(RECYCLED, datetime(2026, 10, 20, 3, tzinfo=UTC), 5, 3),
            _call(KEPT, datetime(2026, 9, 3, 3, tzinfo=UTC), 280, 4),
            _call(KEPT, datetime(2026, 10, 3, 3, tzinfo=UTC), 280, 5)]
    if earlier:  # the earlier holder of RECYCLED: heavy calls in September and early October
        rows += [_call(RECYCLED, datetime(2026, 9, 3, 3, tzinfo=UTC), 900, 1),
                 _call(RECYCLED, datetime(2026, 10, 3, 3, tzinfo=UTC), 900, 2)]
    return pl.DataFrame(rows, schema_overrides={"started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64})


def _subs() -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [RECYCLED, KEPT], "plan_id": ["payg", "basic-39"],
                         "activated_at": [ACTIVATED, datetime(2025, 1, 1, tzinfo=UTC)]},
                        schema_overrides={"activated_at": pl.Datetime("us", "UTC")})


def test_the_earlier_holders_usage_is_not_priced() -> None:
    mixed = advise(_usage(earlier=True), CATALOG, _subs(), months=None, now=NOW, prorate=True)
    own = advise(_usage(earlier=False), CATALOG, _subs(), months=None, now=NOW, prorate=True)
    assert mixed.costs.equals(own.costs)
    assert mixed.advice.equals(own.advice)
    assert mixed.costs.filter(pl.col("msisdn") == RECYCLED)["period"].unique().to_list() == ["2026-10"]


def test_the_earlier_holders_fraud_cases_do_not_skip_the_current_holder() -> None:
    def skipped(cases: pl.DataFrame) -> dict[str, str]:
        result = advise(_usage(earlier=True), CATALOG, _subs(), months=None, now=NOW, prorate=True, fraud_cases=cases)
        return dict(result.skipped.select("msisdn", "reason").iter_rows())

    # a case of a month that ended before the activation is the earlier holder's; the line that never changed
    # hands is still skipped for its own
    by_month = pl.DataFrame({"msisdn": [RECYCLED, KEPT], "period": ["2026-09", "2026-09"]})
    assert skipped(by_month) == {KEPT: "fraud_case"}
    # in the month of the activation, the instant the case was opened tells the holders apart
    opened = pl.DataFrame({"msisdn": [RECYCLED], "period": ["2026-10"],
                           "opened_at": [datetime(2026, 10, 5, tzinfo=UTC)]},
                          schema_overrides={"opened_at": pl.Datetime("us", "UTC")})
    assert skipped(opened) == {}
    assert skipped(opened.with_columns(pl.lit(datetime(2026, 10, 25, tzinfo=UTC)).alias("opened_at"))) == {
        RECYCLED: "fraud_case"}
