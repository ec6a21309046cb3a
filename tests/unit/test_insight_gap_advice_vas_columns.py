"""Plan advice over usage without the offer of its value-added records (`fairtel advise` and the demo read the
lake's usage without its offer, amount and currency columns) priced every value-added charge at nothing while
saying they were in ("value-added services you confirmed included"), so that what it said a subscriber paid on
their own plan was less than their bill. Now such charges are left out and the result, its notes and its notices
say so; with the columns they are priced as the bill prices them."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.insight import advise
from fairtel.insight._advice import notice_text
from fairtel.rating._vas import price_only_gate

CATALOG = load_catalog(default_catalog_path())
NOW = datetime(2026, 11, 20, tzinfo=UTC)
MSISDN = "8613800000100"


def _usage(*, with_vas_columns: bool) -> pl.DataFrame:
    at = datetime(2026, 9, 3, 3, tzinfo=UTC)
    rows: list[dict[str, object]] = [
        {
            "record_id": "c1",
            "source": "t",
            "msisdn": MSISDN,
            "kind": "voice",
            "direction": "out",
            "peer": "8613912345678",
            "duration_s": 600,
            "started_at": at,
        },
        {
            "record_id": "v1",
            "source": "t",
            "msisdn": MSISDN,
            "kind": "vas",
            "started_at": at,
            "offer_id": "vas-news-5",
            "amount_minor": 500,
            "currency": "CNY",
        },
    ]
    frame = pl.DataFrame(
        rows,
        schema_overrides={"started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64, "amount_minor": pl.Int64},
    )
    return frame if with_vas_columns else frame.drop("offer_id", "amount_minor", "currency")


SUBS = pl.DataFrame({"msisdn": [MSISDN], "plan_id": ["basic-39"]})


def _current(result_costs: pl.DataFrame) -> int:
    return int(result_costs.filter(pl.col("plan_id") == "basic-39")["total_minor"].sum())


def test_value_added_charges_are_priced_when_the_usage_carries_them() -> None:
    result = advise(_usage(with_vas_columns=True), CATALOG, SUBS, months=None, gate=price_only_gate, now=NOW)
    assert result.vas_priced and result.vas_missing == ()
    assert _current(result.costs) == 3900 + 500  # the fee and the offer's charge, as on the bill


def test_without_the_columns_they_are_left_out_and_said_to_be() -> None:
    result = advise(_usage(with_vas_columns=False), CATALOG, SUBS, months=None, gate=price_only_gate, now=NOW)
    assert not result.vas_priced and result.vas_missing == ("offer_id",)
    assert _current(result.costs) == 3900
    assert any("value-added charges left out" in n and "has no offer_id column" in n for n in result.notes())
    row = result.advice.row(0, named=True)
    assert "leaves out value-added services" in notice_text(row, CATALOG, "en", vas_priced=result.vas_priced)
    assert "不含增值业务费用" in notice_text(row, CATALOG, "zh", vas_priced=result.vas_priced)


def test_usage_without_value_added_records_needs_no_such_columns() -> None:
    usage = _usage(with_vas_columns=False).filter(pl.col("kind") != "vas")
    result = advise(usage, CATALOG, SUBS, months=None, gate=price_only_gate, now=NOW)
    assert result.vas_priced and result.vas_missing == ()
