"""Roaming usage with no welcome notice: on arriving in a country the subscriber must be told its prices.

A *visit* starts with the first usage record in a country after a record elsewhere (home or another
country). It is covered by a notice for the same subscriber and country sent after the previous record and
no later than ``grace`` after the visit's first record; the first visit in the data looks back ``lookback``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from fairtel.assurance._finding import Finding, FindingIds, FindingKind, build_findings


def welcome_findings(
    usage: pl.DataFrame,
    notices: pl.DataFrame,
    *,
    detected_at: datetime,
    grace: timedelta = timedelta(minutes=30),
    lookback: timedelta = timedelta(hours=24),
    ids: FindingIds = FindingIds(),
) -> list[Finding]:
    """``usage``: record_id, msisdn, started_at, roaming_country (null at home).
    ``notices``: msisdn, country, sent_at."""
    u = usage.select(
        "record_id", "msisdn", pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
        pl.col("roaming_country").replace("", None).str.to_uppercase(),
    ).sort("msisdn", "started_at", "record_id")
    u = u.with_columns(
        pl.col("roaming_country").shift(1).over("msisdn").alias("_prev_country"),
        pl.col("started_at").shift(1).over("msisdn").alias("_prev_at"),
        (pl.int_range(pl.len()).over("msisdn") == 0).alias("_first"),
    )
    arrives = pl.col("roaming_country").is_not_null() & (
        pl.col("_first") | pl.col("_prev_country").is_null() | (pl.col("_prev_country") != pl.col("roaming_country")))
    # each record's visit (numbered per subscriber), carried by the visit's first record: its record id alone
    # may name another record of the subscriber too (two switches may number records alike)
    u = u.with_columns(arrives.cum_sum().over("msisdn").alias("_visit"))
    starts = u.filter(arrives).with_columns(
        pl.coalesce("_prev_at", pl.col("started_at") - lookback).alias("_window_from"),
        (pl.col("started_at") + grace).alias("_window_to"),
    )
    if starts.height == 0:
        return []
    n = notices.select(
        "msisdn",
        pl.col("country").str.to_uppercase().alias("roaming_country"),
        pl.col("sent_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
    ).sort("sent_at")
    matched = starts.sort("_window_to").join_asof(
        n, left_on="_window_to", right_on="sent_at", by=["msisdn", "roaming_country"], strategy="backward", check_sortedness=False
    )
    missing = matched.filter(pl.col("sent_at").is_null() | (pl.col("sent_at") < pl.col("_window_from")))
    if missing.height == 0:
        return []
    # each visit's records, for the amount of evidence a reviewer needs
    visit_records = u.filter(pl.col("roaming_country").is_not_null()).group_by("msisdn", "_visit").agg(
        pl.col("record_id").sort().alias("record_ids"))
    rows = (
        missing.select("msisdn", "_visit", "roaming_country", pl.col("started_at").alias("visit_started_at"),
                       pl.col("sent_at").alias("last_notice_at"))
        .join(visit_records, on=["msisdn", "_visit"], how="left")
        .with_columns(
            pl.lit(None, dtype=pl.String).alias("subscription_id"),
            pl.lit(None, dtype=pl.Int64).alias("amount_minor"),
            pl.lit(None, dtype=pl.String).alias("currency"),
            pl.col("record_ids").list.len().alias("records_in_visit"),
            pl.col("record_ids").list.head(50),
        )
        .sort("msisdn", "visit_started_at")
    )
    return build_findings(
        rows,
        FindingKind.ROAMING_WITHOUT_WELCOME,
        key=("msisdn", "roaming_country", "visit_started_at"),
        detected_at=detected_at,
        evidence=("roaming_country", "visit_started_at", "last_notice_at", "records_in_visit"),
        ids=ids,
    )
