"""Roaming usage with no welcome notice: on arriving in a country the subscriber must be told its prices.

A *visit* starts with the first usage record in a country after a record elsewhere (home or another
country); with ``trip_gap`` (a *trip*, as ``fairtel watch --rate`` sends the notices), with the first roaming
record in a country after none there for ``trip_gap``. It is covered by a notice for the same subscriber and
country sent after the previous record (in that country, for a trip) and no later than ``grace`` after the
visit's first record; the first visit in the data looks back ``lookback``.

``welcome_prices`` and ``welcome_text`` make the notice itself: the prices of the country's roaming zone for
the subscriber's plan, from the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import polars as pl

from fairtel.assurance._finding import Finding, FindingIds, FindingKind, build_findings
from fairtel.catalog import Catalog, Rate
from fairtel.core.money import Money
from fairtel.rating._countries import country_name

TRIP_GAP = timedelta(days=7)
"""A trip: roaming in a country after none there for this long (the default of ``watch --rate``)."""


def welcome_findings(
    usage: pl.DataFrame,
    notices: pl.DataFrame,
    *,
    detected_at: datetime,
    grace: timedelta = timedelta(minutes=30),
    lookback: timedelta = timedelta(hours=24),
    trip_gap: timedelta | None = None,
    ids: FindingIds = FindingIds(),
) -> list[Finding]:
    """``usage``: record_id, msisdn, started_at, roaming_country (null at home).
    ``notices``: msisdn, country, sent_at. ``trip_gap``: visits are trips (see the module), as the notices
    ``watch --rate`` sends are; None: a visit ends at any record elsewhere."""
    u = usage.select(
        "record_id", "msisdn", pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
        pl.col("roaming_country").replace("", None).str.to_uppercase(),
    ).sort("msisdn", "started_at", "record_id")
    if trip_gap is not None:
        u = u.filter(pl.col("roaming_country").is_not_null()).with_columns(
            pl.col("started_at").shift(1).over("msisdn", "roaming_country").alias("_prev_at"))
        arrives = pl.col("_prev_at").is_null() | (pl.col("started_at") - pl.col("_prev_at") > trip_gap)
        # each record's trip, numbered per subscriber and country
        u = u.with_columns(arrives.cum_sum().over("msisdn", "roaming_country").alias("_visit"))
    else:
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
    visit_records = u.filter(pl.col("roaming_country").is_not_null()).group_by("msisdn", "roaming_country", "_visit").agg(
        pl.col("record_id").sort().alias("record_ids"))
    rows = (
        missing.select("msisdn", "_visit", "roaming_country", pl.col("started_at").alias("visit_started_at"),
                       pl.col("sent_at").alias("last_notice_at"))
        .join(visit_records, on=["msisdn", "roaming_country", "_visit"], how="left")
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


# ---- the welcome notice ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WelcomePrices:
    """What roaming costs in ``country`` (its roaming zone ``zone``) under ``plan_id``: ``voice`` per minute,
    ``sms`` per message, ``data`` per MiB and ``data_daily_cap`` (None: not priced by the plan there, or no cap)."""

    country: str
    zone: str
    zone_name: Mapping[str, str]
    currency: str
    voice: Decimal | None
    sms: Decimal | None
    data: Decimal | None
    data_daily_cap: Decimal | None


_PER = {"voice": 60, "sms": 1, "data": 1024 * 1024}  # a minute, a message, a MiB in base units


def _unit_price(rate: Rate, per: int) -> Decimal:
    """The price of ``per`` base units at the rate's first step (its connect fee aside)."""
    step = rate.steps[0]
    return step.rate * Decimal(per) / Decimal(step.rate_unit)


def welcome_prices(catalog: Catalog, plan_id: str, country: str) -> WelcomePrices | None:
    """The roaming prices of ``country`` for ``plan_id`` (outgoing calls, SMS, data), from the catalog; None when
    the country is at home, no roaming zone prices it, or the plan is unknown."""
    from fairtel.core.errors import NotFoundError

    try:
        zone = catalog.roaming_zone_of(country)
        plan = catalog.plan(plan_id)
    except NotFoundError:
        return None
    if zone is None:
        return None
    prices: dict[str, Decimal | None] = {}
    cap: Decimal | None = None
    for kind, per in _PER.items():
        rule = plan.rule_for(kind, "out", None, zone.id) or plan.rule_for(kind, None, None, zone.id)
        if rule is None or rule.rate is None:
            prices[kind] = Decimal(0) if rule is not None and rule.free else None
            continue
        prices[kind] = _unit_price(catalog.rate(rule.rate), per)
        if kind == "data":
            cap = rule.daily_cap
    return WelcomePrices(country.strip().upper(), zone.id, {"zh": zone.name.zh, "en": zone.name.en},
                         catalog.operator.currency, prices["voice"], prices["sms"], prices["data"], cap)


_CURRENCY_ZH = {"CNY": "元"}


def _money(amount: Decimal, currency: str, language: str) -> str:
    m = Money(amount, currency).rounded()
    return f"{m.amount}{_CURRENCY_ZH.get(currency, currency)}" if language == "zh" else f"{m.amount} {currency}"


def welcome_text(prices: WelcomePrices, *, language: str, sender: str) -> str:
    """The welcome SMS (zh or en): the country, then each price the plan has there."""
    zh = language == "zh"
    parts: list[str] = []
    for kind, zh_unit, en_unit in (("voice", "分钟", "min"), ("sms", "条", "SMS"), ("data", "MB", "MB")):
        value = getattr(prices, kind)
        if value is None:
            continue
        money = _money(value, prices.currency, language)
        label = {"voice": ("拨打电话", "Calls"), "sms": ("短信", "SMS"), "data": ("上网", "Data")}[kind]
        parts.append(f"{label[0]}{money}/{zh_unit}" if zh else f"{label[1]} {money}/{en_unit}")
    if prices.data_daily_cap is not None:
        cap = _money(prices.data_daily_cap, prices.currency, language)
        parts.append(f"上网每日最多收取{cap}" if zh else f"data charged at most {cap} a day")
    zone = prices.zone_name["zh" if zh else "en"]
    country = country_name(prices.country, "zh" if zh else "en")  # 日本 / Japan, not JP
    if zh:
        listed = "，".join(parts) if parts else "请查询资费"
        return f"【{sender}】欢迎来到{country}（{zone}）。您的套餐在当地的漫游资费：{listed}。"
    listed = "; ".join(parts) if parts else "see our price list"
    return f"{sender}: welcome to {country} ({zone}). Roaming prices of your plan there: {listed}."
