"""Confirmations that cannot be a person's: too fast after the order, or evidence replayed across
subscriptions. The amount at risk is what was charged under the subscription."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from fairtel.assurance._finding import Finding, FindingKind, build_findings
from fairtel.consent import ConfirmationStatus, code_verified

_MAX_LISTED = 20


def _charged_under(gated: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"subscription_id": pl.String(), "record_ids": pl.List(pl.String()), "amount_minor": pl.Int64(), "currency": pl.String()}
    if gated is None or gated.height == 0:
        return pl.DataFrame(schema=schema)
    return (
        gated.filter(pl.col("billable") & pl.col("subscription_id").is_not_null())
        .group_by("subscription_id")
        .agg(
            pl.col("record_id").sort().alias("record_ids"),
            pl.col("amount_minor").sum(),
            pl.col("currency").first(),
        )
        .cast(schema)  # type: ignore[arg-type]
    )


def machine_speed_findings(
    subscriptions: pl.DataFrame,
    gated: pl.DataFrame | None,
    *,
    max_human_s: float,
    detected_at: datetime,
) -> list[Finding]:
    """A valid confirmation that came less than ``max_human_s`` seconds after the order, unless it proves a person
    gave it: a confirmation that gave back the one-time code its order sent to the subscriber's phone
    (``consent.code_verified``) is a person's at any speed. What exempts it is that proof in its evidence, never
    the channel it came through."""
    # subscriptions projected without the evidence (an older caller's frame) prove no code was given back
    proven = code_verified() if {"confirm_evidence", "order_evidence"} <= set(subscriptions.columns) else pl.lit(False)
    fast = subscriptions.filter(
        (pl.col("confirmation") == ConfirmationStatus.VALID.value) & (pl.col("confirm_delay_s") < max_human_s)
        & ~proven
    )
    if fast.height == 0:
        return []
    rows = fast.join(_charged_under(gated), on="subscription_id", how="left").select(
        "subscription_id", "msisdn", "offer_id", "ordered_at", "confirmed_at", "confirm_delay_s",
        "order_channel", "confirm_channel",
        pl.col("record_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        "amount_minor", "currency",
        pl.lit(max_human_s).alias("threshold_s"),
    )
    return build_findings(
        rows,
        FindingKind.MACHINE_SPEED_CONFIRMATION,
        key=("subscription_id",),
        detected_at=detected_at,
        evidence=("offer_id", "ordered_at", "confirmed_at", "confirm_delay_s", "order_channel", "confirm_channel", "threshold_s"),
    )


def offer_providers(offers: pl.DataFrame) -> pl.DataFrame:
    """offer_id, provider_id: one row per offer, the provider of its latest price version (an offer's
    versions may name different providers; picking any one of them varied from run to run)."""
    order = ["valid_from", "provider_id"] if "valid_from" in offers.columns else ["provider_id"]
    return offers.group_by("offer_id").agg(pl.col("provider_id").sort_by(order, nulls_last=False).last())


def shared_evidence(events: pl.DataFrame, offers: pl.DataFrame | None = None, *, generic_min_providers: int = 3) -> pl.DataFrame:
    """Confirmation evidence used by more than one subscription: evidence, subscriptions (sorted list),
    msisdns (count). A value seen across ``generic_min_providers`` or more providers (offers, without an
    offer book) names a method ("sms-reply:Y"), not a proof, and is not a replay."""
    conf = events.filter((pl.col("event") == "confirmed") & pl.col("evidence").is_not_null() & (pl.col("evidence") != ""))
    if offers is not None:
        conf = conf.join(offer_providers(offers), on="offer_id", how="left")
        owner = pl.coalesce("provider_id", "offer_id")
    else:
        owner = pl.col("offer_id")
    return (
        conf.with_columns(owner.alias("_owner"))
        .group_by("evidence")
        .agg(
            pl.col("subscription_id").unique().sort().alias("subscriptions"),
            pl.col("msisdn").n_unique().alias("msisdns"),
            pl.col("_owner").n_unique().alias("_owners"),
        )
        .filter((pl.col("subscriptions").list.len() > 1) & (pl.col("_owners") < generic_min_providers))
        .drop("_owners")
    )


def replayed_evidence_findings(
    events: pl.DataFrame,
    gated: pl.DataFrame | None,
    *,
    detected_at: datetime,
    offers: pl.DataFrame | None = None,
    generic_min_providers: int = 3,
) -> list[Finding]:
    """A confirmation whose evidence token also confirms another subscription: one finding per
    subscription that used a shared token (a real second confirmation is unique to its order)."""
    shared = shared_evidence(events, offers, generic_min_providers=generic_min_providers).rename({"subscriptions": "_subs"})
    if shared.height == 0:
        return []
    conf = events.filter(pl.col("event") == "confirmed")
    per_sub = (
        conf.join(shared, on="evidence", how="inner")
        # The earliest confirmation; at the same instant the smallest token (the join may reorder rows).
        .sort("subscription_id", "at", "evidence", "msisdn", "offer_id", nulls_last=True)
        .group_by("subscription_id")
        .agg(
            pl.col("msisdn").first(),
            pl.col("offer_id").first(),
            pl.col("evidence").first().alias("token"),
            pl.col("at").first().alias("confirmed_at"),
            pl.col("_subs").first(),
            pl.col("msisdns").first(),
        )
        .with_columns(
            pl.col("_subs").list.len().alias("shared_by"),
            pl.col("_subs").list.set_difference(pl.concat_list("subscription_id")).list.sort().list.head(_MAX_LISTED).alias("other_subscriptions"),
        )
        .join(_charged_under(gated), on="subscription_id", how="left")
        .with_columns(pl.col("record_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .sort("subscription_id")
    )
    return build_findings(
        per_sub,
        FindingKind.REPLAYED_EVIDENCE,
        key=("subscription_id",),
        detected_at=detected_at,
        evidence=("offer_id", "token", "confirmed_at", "shared_by", "msisdns", "other_subscriptions"),
    )
