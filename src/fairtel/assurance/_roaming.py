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
    """What roaming costs in ``country`` (its roaming zone ``zone``) under ``plan_id``: ``voice`` per minute
    made, ``sms`` per message sent, ``data`` per MiB and ``data_daily_cap``; ``voice_in`` per minute answered and
    ``sms_in`` per message received (0: free; None: not priced by the plan there, or no cap)."""

    country: str
    zone: str
    zone_name: Mapping[str, str]
    currency: str
    voice: Decimal | None
    sms: Decimal | None
    data: Decimal | None
    data_daily_cap: Decimal | None
    voice_in: Decimal | None = None
    sms_in: Decimal | None = None


_PER = {"voice": 60, "sms": 1, "data": 1024 * 1024}  # a minute, a message, a MiB in base units


def _unit_price(rate: Rate, per: int) -> Decimal:
    """The price of ``per`` base units at the rate's first step (its connect fee aside)."""
    step = rate.steps[0]
    return step.rate * Decimal(per) / Decimal(step.rate_unit)


def welcome_prices(catalog: Catalog, plan_id: str, country: str) -> WelcomePrices | None:
    """The roaming prices of ``country`` for ``plan_id`` (calls made and answered, SMS sent and received, data),
    from the catalog; None when the country is at home, no roaming zone prices it, or the plan is unknown."""
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
        # answering a call or receiving an SMS abroad is priced by its own rule (often the same one as making it)
        for direction in (("out", "in") if kind in ("voice", "sms") else ("out",)):
            key = kind if direction == "out" else f"{kind}_in"
            rule = plan.rule_for(kind, direction, None, zone.id) or plan.rule_for(kind, None, None, zone.id)
            if rule is None or rule.rate is None:
                prices[key] = Decimal(0) if rule is not None and rule.free else None
                continue
            prices[key] = _unit_price(catalog.rate(rule.rate), per)
            if kind == "data":
                cap = rule.daily_cap
    return WelcomePrices(country.strip().upper(), zone.id, {"zh": zone.name.zh, "en": zone.name.en},
                         catalog.operator.currency, prices["voice"], prices["sms"], prices["data"], cap,
                         voice_in=prices["voice_in"], sms_in=prices["sms_in"])


_CURRENCY_ZH = {"CNY": "元"}


def _money(amount: Decimal, currency: str, language: str) -> str:
    m = Money(amount, currency).rounded()
    return f"{m.amount}{_CURRENCY_ZH.get(currency, currency)}" if language == "zh" else f"{m.amount} {currency}"


def _made_and_received(made: Decimal | None, received: Decimal | None, unit: tuple[str, str], words: dict[str, str],
                        currency: str, language: str) -> str | None:
    """One price line for calls (or SMS): made and received at one price, or each at its own, or received free.
    ``words``: zh_both, zh_made, zh_received, en_both, en_made, en_received (the labels)."""
    zh = language == "zh"
    per = unit[0] if zh else unit[1]

    def priced(label: str, amount: Decimal) -> str:
        money = _money(amount, currency, language)
        return f"{label}{money}/{per}" if zh else f"{label} {money}/{per}"

    lang = "zh" if zh else "en"
    if made is None and received is None:
        return None
    if made is None:
        assert received is not None
        return priced(words[f"{lang}_received"], received) if received else None
    if received is not None and received == made and made:
        return priced(words[f"{lang}_both"], made)
    line = priced(words[f"{lang}_made"], made)
    if received is None:
        return line
    if not received:
        return f"{line}（{words['zh_received']}免费）" if zh else f"{line} ({words['en_received'].lower()} free)"
    return f"{line}，{priced(words['zh_received'], received)}" if zh else f"{line}, {priced(words['en_received'].lower(), received)}"


_VOICE_WORDS = {"zh_both": "拨打及接听电话", "zh_made": "拨打电话", "zh_received": "接听电话",
                "en_both": "Calls made and answered", "en_made": "Calls made", "en_received": "Calls answered"}
_SMS_WORDS = {"zh_both": "发送及接收短信", "zh_made": "发短信", "zh_received": "接收",
              "en_both": "SMS sent and received", "en_made": "SMS sent", "en_received": "Received"}


def welcome_text(prices: WelcomePrices, *, language: str, sender: str) -> str:
    """The welcome SMS (zh or en): the country, then each price the plan has there. Calls are priced as made
    and as answered (answering a call abroad is usually charged too), SMS as sent and as received."""
    zh = language == "zh"
    parts: list[str] = []
    voice = _made_and_received(prices.voice, prices.voice_in, ("分钟", "min"), _VOICE_WORDS, prices.currency, language)
    sms = _made_and_received(prices.sms, prices.sms_in, ("条", "SMS"), _SMS_WORDS, prices.currency, language)
    parts.extend(p for p in (voice, sms) if p is not None)
    if prices.data is not None:
        money = _money(prices.data, prices.currency, language)
        parts.append(f"上网{money}/MB" if zh else f"Data {money}/MB")
    if prices.data_daily_cap is not None:
        cap = _money(prices.data_daily_cap, prices.currency, language)
        parts.append(f"每日上网费用最高{cap}" if zh else f"data charged at most {cap} a day")
    zone = prices.zone_name["zh" if zh else "en"]
    country = country_name(prices.country, "zh" if zh else "en")  # 日本 / Japan, not JP
    if zh:
        listed = "，".join(parts) if parts else "请查询资费"
        return f"【{sender}】欢迎来到{country}（{zone}）。您的套餐在当地的漫游资费：{listed}。"
    listed = "; ".join(parts) if parts else "see our price list"
    return f"{sender}: welcome to {country} ({zone}). Roaming prices of your plan there: {listed}."
