"""Suspicious value-added providers: signals per provider, a score, a ranking with its evidence, and the
suspension list the consent gate honours.

Signals are shares of a provider's subscriptions (or charges), so large and small providers compare:
machine-speed confirmations, replayed confirmation evidence, orders at night (operator's time zone),
cancellations soon after confirming, complaints per subscription, and the share of its charges that had no
valid consent. The score is their weighted sum; the weights are part of the policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from fairtel.assurance._confirmations import offer_providers, shared_evidence
from fairtel.consent import ConfirmationStatus, Verdict, code_verified
from fairtel.core.time import DEMO_TIMEZONE

SIGNALS = (
    "machine_speed_share",
    "replayed_evidence_share",
    "night_order_share",
    "quick_cancel_share",
    "complaint_rate",
    "unconsented_share",
)
_UNCONSENTED = [Verdict.NO_SUBSCRIPTION.value, Verdict.NOT_CONFIRMED.value, Verdict.AFTER_CANCELLATION.value,
               Verdict.LINE_CLOSED.value]


@dataclass(frozen=True, slots=True)
class MerchantPolicy:
    machine_speed_s: float = 3.0
    generic_min_providers: int = 3
    complaint_categories: tuple[str, ...] = ("vas", "unexplained_charge")
    night_from_hour: int = 0
    night_to_hour: int = 6
    quick_cancel: timedelta = timedelta(hours=24)
    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "machine_speed_share": 3.0,
            "replayed_evidence_share": 2.0,
            "night_order_share": 1.0,
            "quick_cancel_share": 1.0,
            "complaint_rate": 2.0,
            "unconsented_share": 3.0,
        }
    )
    suspend_score: float = 1.0
    min_subscriptions: int = 20
    tz: str = DEMO_TIMEZONE


def rank_merchants(
    subscriptions: pl.DataFrame,
    offers: pl.DataFrame,
    *,
    gated: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
    complaints: pl.DataFrame | None = None,
    policy: MerchantPolicy = MerchantPolicy(),
) -> pl.DataFrame:
    """One row per provider, best-scoring (most suspicious) first: provider_id, subscriptions, charges,
    each signal, score and rank. ``offers`` is ``fairtel.consent.offers_frame(...)``; ``complaints`` has one
    row per complaint with provider_id or offer_id, or only msisdn (and category: those in
    ``complaint_categories`` count against each provider that subscribed or charged that number)."""
    prov = offer_providers(offers)
    s = subscriptions.join(prov, on="offer_id", how="inner")
    local_hour = pl.col("ordered_at").dt.convert_time_zone(policy.tz).dt.hour()
    if policy.night_from_hour <= policy.night_to_hour:
        night = (local_hour >= policy.night_from_hour) & (local_hour < policy.night_to_hour)
    else:
        night = (local_hour >= policy.night_from_hour) | (local_hour < policy.night_to_hour)
    confirmed = pl.col("confirmation") == ConfirmationStatus.VALID.value
    quick_us = int(policy.quick_cancel.total_seconds() * 1_000_000)
    replayed = pl.lit(False)
    if events is not None and events.height:
        shared = shared_evidence(events, offers, generic_min_providers=policy.generic_min_providers)
        replay_subs = shared.select(pl.col("subscriptions").explode().alias("subscription_id")).unique()
        s = s.with_columns(pl.col("subscription_id").is_in(replay_subs["subscription_id"].implode()).alias("_replayed"))
        replayed = pl.col("_replayed")
    # subscriptions projected without the evidence (an older caller's frame) prove no code was given back
    verified = code_verified() if {"confirm_evidence", "order_evidence"} <= set(s.columns) else pl.lit(False)
    per = s.group_by("provider_id").agg(
        pl.len().alias("subscriptions"),
        confirmed.sum().alias("confirmed"),
        # a confirmation that gave back the code sent to the phone is a person's at any speed
        (confirmed & (pl.col("confirm_delay_s") < policy.machine_speed_s) & ~verified).sum().alias("_fast"),
        (confirmed & replayed).sum().alias("_replayed_n"),
        night.fill_null(False).sum().alias("_night"),
        pl.col("ordered_at").is_not_null().sum().alias("_orders"),
        (
            confirmed
            & (pl.col("end_reason") == "cancelled")
            & ((pl.col("ended_at") - pl.col("confirmed_at")).dt.total_microseconds() < quick_us)
        ).sum().alias("_quick"),
    )
    per = per.with_columns(
        (pl.col("_fast") / pl.col("confirmed")).fill_nan(0).fill_null(0).alias("machine_speed_share"),
        (pl.col("_replayed_n") / pl.col("confirmed")).fill_nan(0).fill_null(0).alias("replayed_evidence_share"),
        (pl.col("_night") / pl.col("_orders")).fill_nan(0).fill_null(0).alias("night_order_share"),
        (pl.col("_quick") / pl.col("confirmed")).fill_nan(0).fill_null(0).alias("quick_cancel_share"),
    )
    if gated is not None and gated.height:
        ch = gated.filter(pl.col("provider_id").is_not_null()).group_by("provider_id").agg(
            pl.len().alias("charges"),
            pl.col("verdict").is_in(_UNCONSENTED).sum().alias("unconsented_charges"),
        )
    else:
        ch = pl.DataFrame(schema={"provider_id": pl.String(), "charges": pl.UInt32(), "unconsented_charges": pl.UInt32()})
    per = per.join(ch, on="provider_id", how="full", coalesce=True).with_columns(
        pl.col("subscriptions", "charges", "unconsented_charges", "confirmed").fill_null(0),
        (pl.col("unconsented_charges") / pl.col("charges")).fill_nan(0).fill_null(0).alias("unconsented_share"),
    )
    if complaints is not None and complaints.height:
        c = complaints.with_row_index("_complaint")
        named = pl.col("provider_id") if "provider_id" in c.columns else pl.lit(None, dtype=pl.String)
        if "offer_id" in c.columns:
            c = c.with_columns(pl.col("offer_id").cast(pl.String)).join(
                prov.rename({"provider_id": "_offer_provider"}), on="offer_id", how="left"
            )
            named = pl.coalesce(named, pl.col("_offer_provider"))
        c = c.with_columns(named.cast(pl.String).alias("_provider"))
        direct = c.filter(pl.col("_provider").is_not_null()).select("_complaint", pl.col("_provider").alias("provider_id"))
        parts = [direct]
        if "msisdn" in c.columns:
            # Only a number, no provider or offer named (e.g. "a charge I do not recognise"): the complaint
            # counts against every provider that subscribed or charged that number.
            by_number = c.filter(pl.col("_provider").is_null())
            if "offer_id" in c.columns:
                by_number = by_number.filter(pl.col("offer_id").is_null())
            if "category" in c.columns:
                by_number = by_number.filter(pl.col("category").is_in(list(policy.complaint_categories)))
            links = [s.select("msisdn", "provider_id")]
            if gated is not None and gated.height:
                links.append(gated.filter(pl.col("provider_id").is_not_null()).select("msisdn", "provider_id"))
            numbers = by_number.select("_complaint", pl.col("msisdn").cast(pl.String))
            parts.append(numbers.join(pl.concat(links).unique(), on="msisdn", how="inner").drop("msisdn"))
        cc = pl.concat(parts).group_by("provider_id").agg(pl.col("_complaint").n_unique().cast(pl.UInt32).alias("complaints"))
    else:
        cc = pl.DataFrame(schema={"provider_id": pl.String(), "complaints": pl.UInt32()})
    per = per.join(cc, on="provider_id", how="left").with_columns(
        pl.col("complaints").fill_null(0),
    ).with_columns(
        pl.min_horizontal(pl.lit(1.0), (pl.col("complaints") / pl.col("subscriptions")).fill_nan(0).fill_null(0)).alias("complaint_rate"),
        pl.col(SIGNALS[:4]).fill_null(0.0),
    )
    score = sum((pl.col(name) * float(policy.weights.get(name, 0.0)) for name in SIGNALS), pl.lit(0.0))
    return (
        per.with_columns(score.alias("score"))
        .sort(["score", "provider_id"], descending=[True, False])
        .with_row_index("rank", offset=1)
        .select("rank", "provider_id", "score", *SIGNALS, "subscriptions", "confirmed", "charges", "unconsented_charges", "complaints")
    )


def suspension_list(ranking: pl.DataFrame, *, policy: MerchantPolicy = MerchantPolicy()) -> frozenset[str]:
    """Providers an analyst should suspend: score at least ``suspend_score`` over enough subscriptions.
    The list is advice; the gate refuses charges only from providers passed to it as suspended."""
    chosen = ranking.filter(
        (pl.col("score") >= policy.suspend_score)
        & ((pl.col("subscriptions") >= policy.min_subscriptions) | (pl.col("charges") >= policy.min_subscriptions))
    )
    return frozenset(chosen["provider_id"].to_list())


def merchant_evidence(row: Mapping[str, object]) -> str:
    """One line a reviewer reads: the provider's signals as percentages."""
    parts = [f"{name.removesuffix('_share').replace('_', ' ')} {float(row[name]) * 100:.1f}%" for name in SIGNALS if name in row]  # type: ignore[arg-type]
    return f"{row['provider_id']}: score {float(row['score']):.2f}; " + ", ".join(parts)  # type: ignore[arg-type]
