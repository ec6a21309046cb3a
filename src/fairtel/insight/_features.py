"""Churn features and labels per subscriber, from the operator's own data, at a cut-off date.

Windows (local days on the operator's clock), for a cut ``T``:

    observation [T - observation_days, T)  →  lead [T, T + lead_days)  →  label [T + lead, T + lead + label_days)

Features use only records before ``T``; the label uses only the label window, which begins ``lead_days``
after the cut, so a warning raised at ``T`` leaves that long to act and nothing after ``T`` leaks in.

Label (usage-based, because a subscriber file's status has no date): a subscriber churns at ``T`` when their
activity in the label window (calls, messages and data sessions per day) falls below ``drop`` times their
activity in the observation window; no activity at all (usage stopped, line closed) is the extreme case.
Only subscribers activated before the observation window ends and active in its last week are eligible:
the others have already gone, or have nothing to compare with.

A number's data is its current holder's from the line's ``activated_at`` on, or from its ``holder_since`` when the
subscribers give a later one (the line moved to another customer with its activation kept, an owner change):
usage, complaints, consent events and charges dated before it are an earlier holder's, no feature or label reads
them, and tenure is counted from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import cast

import polars as pl

from fairtel.core.time import NaiveTimeError, zone

DAILY_COLUMNS = ("events", "voice_out", "voice_in", "voice_s", "sms_out", "data_n", "data_mb", "intl_out", "roaming")


@dataclass(frozen=True, slots=True)
class ChurnWindow:
    observation_days: int = 28
    lead_days: int = 14
    label_days: int = 14
    drop: float = 0.5
    recent_days: int = 7  # eligibility: some activity in the last days of the observation window

    def __post_init__(self) -> None:
        if self.observation_days < 14 or self.observation_days % 7:
            raise ValueError("observation_days must be a multiple of 7, at least 14")
        if self.label_days < 1 or self.lead_days < 0 or not 0 < self.drop < 1:
            raise ValueError("label_days >= 1, lead_days >= 0 and 0 < drop < 1")

    @property
    def weeks(self) -> int:
        return self.observation_days // 7

    @property
    def horizon(self) -> int:
        """Days after a cut until its label is known."""
        return self.lead_days + self.label_days


@dataclass(frozen=True)
class Activity:
    """Usage reduced to what the features need: ``daily`` (msisdn, day, DAILY_COLUMNS) and ``contacts``
    (msisdn, day, peer, distinct per day), with the first and last day seen."""

    daily: pl.DataFrame
    contacts: pl.DataFrame
    first_day: date
    last_day: date
    tz: str


def _local_day(col: str, tz: str) -> pl.Expr:
    return pl.col(col).dt.convert_time_zone(tz).dt.date()


def _utc_instant(frame: pl.DataFrame, column: str) -> pl.Expr:
    """``column`` of ``frame`` as an aware UTC instant (microseconds); a column with no value at all (``Null``,
    as an all-empty column reads) is a null instant, a naive timestamp is refused."""
    dtype = frame.schema[column]
    if dtype == pl.Null:
        return pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
        raise NaiveTimeError(f"{column} must be a time-zone-aware timestamp, got {dtype}")
    return pl.col(column).dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def holding_row_start(subscribers: pl.DataFrame) -> pl.Expr:
    """Where the holding of each row of ``subscribers`` begins (UTC): its ``activated_at``, or its ``holder_since``
    when the frame has one and it is later (the line moved to another customer with its activation kept, an owner
    change, 过户: the new customer's holding begins then, not at the number's activation)."""
    start = _utc_instant(subscribers, "activated_at")
    if "holder_since" in subscribers.columns:
        start = pl.max_horizontal(start, _utc_instant(subscribers, "holder_since"))
    return start


def holding_start(subscribers: pl.DataFrame) -> pl.DataFrame:
    """msisdn and ``_holding_from`` (UTC): where each line's current holding begins (``holding_row_start``), the
    latest of its rows (a number listed twice, a recycled number's earlier and current holder, is its current
    holder's)."""
    return subscribers.select(pl.col("msisdn").cast(pl.String), holding_row_start(subscribers).alias("_holding_from")
                              ).group_by("msisdn").agg(pl.col("_holding_from").max())


def in_holding(frame: pl.DataFrame | pl.LazyFrame, subscribers: pl.DataFrame | None, column: str) -> pl.LazyFrame:
    """``frame`` without its rows whose ``column`` (an aware instant) is before their line's current holding
    (``holding_start``); a line ``subscribers`` does not name, or all lines without them, keep every row."""
    lf = frame.lazy()
    if subscribers is None or "activated_at" not in subscribers.columns:
        return lf
    at = pl.col(column).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return (lf.with_columns(pl.col("msisdn").cast(pl.String))
            .join(holding_start(subscribers).lazy(), on="msisdn", how="left", maintain_order="left")
            .filter(pl.col("_holding_from").is_null() | (at >= pl.col("_holding_from"))).drop("_holding_from"))


def activity(usage: pl.DataFrame | pl.LazyFrame, tz: str, subscribers: pl.DataFrame | None = None) -> Activity:
    """Daily per-subscriber counts and the daily contacts, from clean usage (CLEAN_USAGE_SCHEMA columns).
    ``subscribers`` (msisdn, activated_at, holder_since?): a record dated before its line's current holding (its
    activation, or a later owner change) is an earlier holder's of the number and is left out (``in_holding``)."""
    lf = in_holding(usage, subscribers, "started_at")
    names = lf.collect_schema().names()

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in names else pl.lit(None, dtype=dtype)

    base = lf.select(
        pl.col("msisdn").cast(pl.String),
        pl.col("kind").cast(pl.String),
        col("direction", pl.String()).alias("direction"),
        _local_day("started_at", tz).alias("day"),
        col("duration_s", pl.Int64()).alias("duration_s"),
        (col("bytes_up", pl.Int64()).fill_null(0) + col("bytes_down", pl.Int64()).fill_null(0)).alias("bytes"),
        col("peer", pl.String()).alias("peer"),
        col("roaming_country", pl.String()).alias("roaming_country"),
    ).filter(pl.col("kind").is_in(["voice", "sms", "data"]))
    voice, sms, data = (pl.col("kind") == k for k in ("voice", "sms", "data"))
    out = pl.col("direction") == "out"
    intl = voice & out & pl.col("peer").is_not_null() & ~pl.col("peer").str.starts_with("86")
    abroad = pl.col("roaming_country").is_not_null() & (pl.col("roaming_country") != "")
    daily = (
        base.group_by("msisdn", "day")
        .agg(
            pl.len().cast(pl.Int64).alias("events"),
            (voice & out).sum().cast(pl.Int64).alias("voice_out"),
            (voice & ~out).sum().cast(pl.Int64).alias("voice_in"),
            pl.col("duration_s").filter(voice).sum().cast(pl.Int64).alias("voice_s"),
            (sms & out).sum().cast(pl.Int64).alias("sms_out"),
            data.sum().cast(pl.Int64).alias("data_n"),
            (pl.col("bytes").filter(data).sum() / 1e6).alias("data_mb"),
            intl.sum().cast(pl.Int64).alias("intl_out"),
            abroad.any().cast(pl.Int64).alias("roaming"),
        )
        .sort("msisdn", "day")  # a fixed order makes float sums reproducible
        .collect()
    )
    contacts = (
        base.filter(pl.col("peer").is_not_null() & (voice | sms)).select("msisdn", "day", "peer").unique()
        .sort("msisdn", "day", "peer").collect()
    )
    if daily.height == 0:
        today = date(1970, 1, 1)
        return Activity(daily, contacts, today, today, tz)
    return Activity(daily, contacts, cast(date, daily["day"].min()), cast(date, daily["day"].max()), tz)


def _days(a: date, b: date) -> pl.Expr:
    return pl.col("day").is_between(a, b, closed="left")


def cut_instant(cut: date, tz: str) -> datetime:
    """The instant a cut day begins in the operator's zone ``tz``, in UTC."""
    return datetime(cut.year, cut.month, cut.day, tzinfo=zone(tz)).astimezone(UTC)


def in_utc(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``column`` as an aware UTC timestamp (an aware timestamp in any zone is converted; naive is refused)."""
    dtype = frame.schema[column]
    if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
        raise NaiveTimeError(f"{column} must be a time-zone-aware timestamp, got {dtype}")
    return frame.with_columns(pl.col(column).dt.convert_time_zone("UTC").dt.cast_time_unit("us"))


def _held_days(act: Activity, frame: pl.DataFrame, subscribers: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (msisdn, day, …) without the days before its line's activation day (local): an ``Activity``
    built without the subscribers still holds an earlier holder's days of a recycled number."""
    since = holding_start(subscribers).select(
        "msisdn", pl.col("_holding_from").dt.convert_time_zone(act.tz).dt.date().alias("_since_day"))
    return (frame.join(since, on="msisdn", how="left", maintain_order="left")
            .filter(pl.col("_since_day").is_null() | (pl.col("day") >= pl.col("_since_day"))).drop("_since_day"))


def eligible(act: Activity, subscribers: pl.DataFrame, cut: date, window: ChurnWindow) -> pl.DataFrame:
    """msisdn of subscribers activated before ``cut`` with activity in the window's last ``recent_days``."""
    recent = _held_days(act, act.daily.filter(_days(cut - timedelta(days=window.recent_days), cut)), subscribers)
    recent = recent.select("msisdn").unique()
    start = cut_instant(cut, act.tz)
    held = holding_start(subscribers).filter(pl.col("_holding_from") < start)
    return recent.join(held, on="msisdn", how="inner").select("msisdn").sort("msisdn")


def churn_labels(act: Activity, subscribers: pl.DataFrame, cut: date, window: ChurnWindow) -> pl.DataFrame:
    """msisdn, ``churned`` (0/1), ``obs_rate`` and ``label_rate`` (events a day) for the eligible subscribers
    at ``cut``. The label window must lie inside the data (checked by the caller with ``label_known``)."""
    who = eligible(act, subscribers, cut, window)
    obs0 = cut - timedelta(days=window.observation_days)
    lab0 = cut + timedelta(days=window.lead_days)
    lab1 = lab0 + timedelta(days=window.label_days)
    # a subscriber whose holding began inside the observation window is compared with the days it had
    since = holding_start(subscribers).select(
        "msisdn", pl.col("_holding_from").dt.convert_time_zone(act.tz).dt.date().alias("_since")
    )
    obs = _held_days(act, act.daily.filter(_days(obs0, cut)), subscribers).group_by("msisdn").agg(
        pl.col("events").sum().alias("_obs"))
    lab = act.daily.filter(_days(lab0, lab1)).group_by("msisdn").agg(pl.col("events").sum().alias("_lab"))
    frame = who.join(obs, on="msisdn", how="left").join(lab, on="msisdn", how="left").join(since, on="msisdn", how="left")
    obs_days = (pl.lit(cut) - pl.max_horizontal(pl.col("_since"), pl.lit(obs0))).dt.total_days().clip(lower_bound=1)
    return frame.select(
        "msisdn",
        (pl.col("_obs").fill_null(0) / obs_days).alias("obs_rate"),
        (pl.col("_lab").fill_null(0) / window.label_days).alias("label_rate"),
    ).with_columns(
        (pl.col("label_rate") < window.drop * pl.col("obs_rate")).cast(pl.Int64).alias("churned")
    )


def label_known(act: Activity, cut: date, window: ChurnWindow) -> bool:
    return cut + timedelta(days=window.horizon - 1) <= act.last_day


def _weekly_trend(daily: pl.DataFrame, obs0: date, weeks: int, metric: str) -> pl.Expr:
    """Least-squares slope of the weekly totals over the observation weeks, relative to the weekly mean."""
    week = ((pl.col("day") - pl.lit(obs0)).dt.total_days() // 7).cast(pl.Float64)
    centre = (weeks - 1) / 2
    denom = sum((w - centre) ** 2 for w in range(weeks))
    slope = ((week - centre) * pl.col(metric)).sum() / denom
    mean = pl.col(metric).sum() / weeks
    return (slope / (mean + 1.0)).alias(f"{metric}_trend")


def churn_features(
    act: Activity,
    subscribers: pl.DataFrame,
    cut: date,
    window: ChurnWindow,
    *,
    complaints: pl.DataFrame | None = None,
    consent: pl.DataFrame | None = None,
    charges: pl.DataFrame | None = None,
    monthly_fee: dict[str, float] | None = None,
    minor_per_major: int = 100,
) -> pl.DataFrame:
    """One row per eligible subscriber at ``cut``: usage levels and weekly trends, recency, distinct contacts,
    complaints, VAS consent events, charges, tenure and plan. Only data before ``cut`` is read.

    ``subscribers``: msisdn, plan_id, activated_at (aware), optionally language, region and holder_since (aware:
    since when the current customer holds a line that moved to them with its activation kept; tenure and every
    record read count from it).
    ``complaints``: msisdn, at, category. ``consent``: msisdn, event, at. ``charges``: msisdn, started_at,
    amount_minor (rated lines), ``minor_per_major`` minor units to a major one. ``monthly_fee``: plan_id → fee
    in major units. Money here is a model feature (a float), never an amount that is billed.
    """
    tz = act.tz
    who = eligible(act, subscribers, cut, window)
    obs0 = cut - timedelta(days=window.observation_days)
    start = cut_instant(cut, tz)
    obs_start = cut_instant(obs0, tz)
    n_days = window.observation_days
    daily = _held_days(act, act.daily.filter(_days(obs0, cut)).join(who, on="msisdn", how="semi"), subscribers)
    half = cut - timedelta(days=14)
    last_week = cut - timedelta(days=7)
    usage = daily.group_by("msisdn").agg(
        *(pl.col(c).sum().truediv(n_days).alias(f"{c}_per_day") for c in ("events", "voice_out", "voice_in", "sms_out", "data_n", "data_mb")),
        (pl.col("voice_s").sum() / 60 / n_days).alias("minutes_per_day"),
        (pl.col("intl_out").sum() / (pl.col("voice_out").sum() + 1)).alias("intl_share"),
        pl.col("roaming").sum().alias("roaming_days"),
        (pl.col("day").n_unique() / n_days).alias("active_days_share"),
        (pl.lit(cut) - pl.col("day").max()).dt.total_days().alias("days_since_last_use"),
        (pl.lit(cut) - pl.col("day").filter(pl.col("voice_out") > 0).max()).dt.total_days().alias("days_since_last_call"),
        (pl.lit(cut) - pl.col("day").filter(pl.col("data_n") > 0).max()).dt.total_days().alias("days_since_last_data"),
        (pl.col("events").filter(pl.col("day") >= last_week).sum() * window.weeks / (pl.col("events").sum() + 1))
        .alias("last_week_vs_mean"),
        _weekly_trend(daily, obs0, window.weeks, "events"),
        _weekly_trend(daily, obs0, window.weeks, "voice_out"),
        _weekly_trend(daily, obs0, window.weeks, "voice_s"),
        _weekly_trend(daily, obs0, window.weeks, "data_mb"),
    ).rename({"voice_s_trend": "minutes_trend"})
    contacts = _held_days(act, act.contacts.filter(_days(obs0, cut)).join(who, on="msisdn", how="semi"), subscribers)
    peers = contacts.group_by("msisdn").agg(
        pl.col("peer").n_unique().alias("distinct_peers"),
        pl.col("peer").filter(pl.col("day") >= half).n_unique().alias("_late"),
        pl.col("peer").filter(pl.col("day") < half).n_unique().alias("_early"),
    ).select("msisdn", "distinct_peers", ((pl.col("_late") + 1) / (pl.col("_early") + 1)).alias("peers_trend"))
    subs = subscribers.with_columns(pl.col("msisdn").cast(pl.String))
    # tenure is the current customer's: from the start of their holding (``holding_row_start``), not the number's
    profile = subs.select(
        "msisdn",
        pl.col("plan_id").cast(pl.String),
        ((pl.lit(start) - holding_row_start(subs)).dt.total_days()).alias("tenure_days"),
        *(pl.col(c).cast(pl.String) for c in ("language", "region") if c in subs.columns),
    )
    frame = who.join(profile, on="msisdn", how="left").join(usage, on="msisdn", how="left").join(peers, on="msisdn", how="left")
    fees = monthly_fee or {}
    frame = frame.with_columns(
        pl.col("plan_id").replace_strict(fees, default=None, return_dtype=pl.Float64).alias("monthly_fee"),
        pl.col("distinct_peers").fill_null(0),
        pl.col("peers_trend").fill_null(1.0),
    )
    # a complaint, a consent event or a charge before the line's activation is an earlier holder's
    if complaints is not None and complaints.height:
        c = in_holding(complaints, subscribers, "at").collect().filter((pl.col("at") < start) & (pl.col("at") >= start - timedelta(days=2 * n_days)))
        agg = c.group_by(pl.col("msisdn").cast(pl.String)).agg(
            pl.len().cast(pl.Int64).alias("complaints"),
            (pl.lit(start) - pl.col("at").max()).dt.total_days().alias("days_since_complaint"),
            pl.col("category").sort_by("at", "category").last().cast(pl.String).alias("last_complaint"),
            *(
                (pl.col("category") == cat).sum().cast(pl.Int64).alias(f"complaints_{cat}")
                for cat in ("price", "network", "billing", "service", "vas")
            ),
        )
        frame = frame.join(agg, on="msisdn", how="left").with_columns(
            pl.col("complaints").fill_null(0),
            *(pl.col(f"complaints_{cat}").fill_null(0) for cat in ("price", "network", "billing", "service", "vas")),
        )
    if consent is not None and consent.height:
        past = in_holding(consent, subscribers, "at").collect().filter(pl.col("at") < start)
        agg = past.group_by(pl.col("msisdn").cast(pl.String)).agg(
            ((pl.col("event") == "cancelled") & (pl.col("at") >= obs_start)).sum().cast(pl.Int64).alias("vas_cancelled"),
            ((pl.col("event") == "confirmed") & (pl.col("at") >= obs_start)).sum().cast(pl.Int64).alias("vas_confirmed"),
            ((pl.col("event") == "confirmed").sum().cast(pl.Int64)
             - pl.col("event").is_in(["cancelled", "expired"]).sum().cast(pl.Int64)).clip(lower_bound=0).alias("vas_active"),
        )
        frame = frame.join(agg, on="msisdn", how="left").with_columns(
            pl.col(c).fill_null(0) for c in ("vas_cancelled", "vas_confirmed", "vas_active")
        )
    if charges is not None and charges.height:
        ch = in_holding(charges, subscribers, "started_at").collect().filter((pl.col("started_at") < start) & (pl.col("started_at") >= obs_start))
        agg = ch.group_by(pl.col("msisdn").cast(pl.String)).agg(
            (pl.col("amount_minor").sum() / minor_per_major * 30 / n_days).alias("usage_charges_per_month"),
        )
        frame = frame.join(agg, on="msisdn", how="left").with_columns(pl.col("usage_charges_per_month").fill_null(0.0))
    return frame.sort("msisdn")
