"""Projections of the ledger: each subscription's confirmation, chargeable interval and state at an instant.

The state machine, applied to events sorted by time whatever their order in the files:

    ordered ──(confirmed within the window, by the subscriber, through an operator channel)──► confirmed
    ordered / confirmed ──► cancelled | expired

A confirmation is *valid* when an order precedes it, it names the subscriber and offer of that order, it
comes no later than ``confirm_window`` after the order (the edge is inside) and before the subscription
ended. Invalid confirmations are kept and counted, never silently dropped. A subscription is chargeable on
[confirmed_at, ended_at).

A later confirmation of an already confirmed subscription (say, the subscriber accepting a price rise) is a
*re-confirmation*: it needs no new order and is not bound to the order's window (it confirms the subscription,
not the order), but must name the subscription's subscriber and offer and come before it ended. It does not
move ``confirmed_at`` (the chargeable interval still starts at the first); it is listed in ``reconfirmed_at``,
and moves the price the subscriber agreed to (see the gate).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import polars as pl
import pyarrow as pa

from fairtel.consent._ledger import as_events
from fairtel.consent._policy import DEFAULT_POLICY, ConsentPolicy
from fairtel.core.time import require_aware


class ConfirmationStatus(StrEnum):
    VALID = "valid"
    MISSING = "missing"  # no confirmation event at all
    WITHOUT_ORDER = "without_order"  # no order before it
    MISMATCH = "mismatch"  # names another subscriber or offer than the order it would confirm
    OUTSIDE_WINDOW = "outside_window"  # later than the window after the order
    AFTER_END = "after_end"  # the subscription was already cancelled or expired


class SubscriptionState(StrEnum):
    NONE = "none"  # nothing ordered yet at that instant
    ORDERED = "ordered"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


SUBSCRIPTION_SCHEMA: dict[str, pl.DataType] = {
    "subscription_id": pl.String(),
    "msisdn": pl.String(),
    "offer_id": pl.String(),
    "ordered_at": pl.Datetime("us", "UTC"),
    "order_channel": pl.String(),
    "order_evidence": pl.String(),
    "confirmed_at": pl.Datetime("us", "UTC"),
    "confirm_channel": pl.String(),
    "confirm_evidence": pl.String(),
    "confirm_delay_s": pl.Float64(),
    "confirmation": pl.String(),
    "invalid_confirmations": pl.UInt32(),
    "reconfirmed_at": pl.List(pl.Datetime("us", "UTC")),
    "ended_at": pl.Datetime("us", "UTC"),
    "end_reason": pl.String(),
}

_END = ("cancelled", "expired")


def project_subscriptions(events: pl.DataFrame | pa.Table, *, policy: ConsentPolicy = DEFAULT_POLICY) -> pl.DataFrame:
    """One row per subscription (see SUBSCRIPTION_SCHEMA); independent of the events' order in the input."""
    ev = as_events(events).lazy()
    # Deterministic order whatever the input order: time, then event kind, then content.
    ev = ev.sort("subscription_id", "at", "event", "channel", "evidence", nulls_last=True)
    orders = ev.filter(pl.col("event") == "ordered").group_by("subscription_id").agg(
        pl.col("at").first().alias("ordered_at"),
        pl.col("channel").first().alias("order_channel"),
        pl.col("evidence").first().alias("order_evidence"),
        pl.col("msisdn").first().alias("_order_msisdn"),
        pl.col("offer_id").first().alias("_order_offer"),
    )
    # A subscription belongs to the subscriber and offer of its order (of its earliest event, if never ordered):
    # an event under its id that names anyone or anything else cannot confirm it.
    base = (
        ev.group_by("subscription_id")
        .agg(pl.col("msisdn").first().alias("_first_msisdn"), pl.col("offer_id").first().alias("_first_offer"))
        .join(orders.select("subscription_id", "_order_msisdn", "_order_offer"), on="subscription_id", how="left")
        .select(
            "subscription_id",
            pl.coalesce("_order_msisdn", "_first_msisdn").alias("msisdn"),
            pl.coalesce("_order_offer", "_first_offer").alias("offer_id"),
        )
    )
    ends = ev.filter(pl.col("event").is_in(_END)).group_by("subscription_id").agg(
        pl.col("at").first().alias("ended_at"),
        pl.col("event").first().alias("end_reason"),
    )
    window = pl.duration(microseconds=int(policy.confirm_window.total_seconds() * 1_000_000))
    confirms = (
        ev.filter(pl.col("event") == "confirmed")
        .join(orders.select("subscription_id", "ordered_at", "_order_msisdn", "_order_offer"), on="subscription_id", how="left")
        .join(ends.select("subscription_id", "ended_at"), on="subscription_id", how="left")
        .with_columns(
            pl.when(pl.col("ordered_at").is_null() | (pl.col("at") < pl.col("ordered_at")))
            .then(pl.lit(ConfirmationStatus.WITHOUT_ORDER.value))
            .when((pl.col("msisdn") != pl.col("_order_msisdn")) | (pl.col("offer_id") != pl.col("_order_offer")))
            .then(pl.lit(ConfirmationStatus.MISMATCH.value))
            .when(pl.col("at") > pl.col("ordered_at") + window)
            .then(pl.lit(ConfirmationStatus.OUTSIDE_WINDOW.value))
            .when(pl.col("ended_at").is_not_null() & (pl.col("at") >= pl.col("ended_at")))
            .then(pl.lit(ConfirmationStatus.AFTER_END.value))
            .otherwise(pl.lit(ConfirmationStatus.VALID.value))
            .alias("status")
        )
        .with_columns(
            pl.col("at").filter(pl.col("status") == ConfirmationStatus.VALID.value).min().over("subscription_id").alias("_first_valid")
        )
        .with_columns(
            # After the first valid confirmation, a confirmation by the subscriber, of the offer, before the end
            # is a re-confirmation, whenever it comes: the order's window bounds the first confirmation only.
            pl.when(pl.col("_first_valid").is_null() | (pl.col("at") <= pl.col("_first_valid"))
                    | (pl.col("status") != ConfirmationStatus.OUTSIDE_WINDOW.value))
            .then(pl.col("status"))
            .when(pl.col("ended_at").is_not_null() & (pl.col("at") >= pl.col("ended_at")))
            .then(pl.lit(ConfirmationStatus.AFTER_END.value))
            .otherwise(pl.lit(ConfirmationStatus.VALID.value))
            .alias("status")
        )
        # Again after the joins, which need not keep the rows' order: "first" below is the earliest confirmation.
        .sort("subscription_id", "at", "channel", "evidence", nulls_last=True)
        .group_by("subscription_id")
        .agg(
            pl.col("at").filter(pl.col("status") == "valid").first().alias("confirmed_at"),
            pl.col("channel").filter(pl.col("status") == "valid").first().alias("confirm_channel"),
            pl.col("evidence").filter(pl.col("status") == "valid").first().alias("confirm_evidence"),
            pl.col("status").first().alias("_first_status"),
            (pl.col("status") != "valid").sum().cast(pl.UInt32).alias("invalid_confirmations"),
            pl.col("at").filter((pl.col("status") == "valid") & (pl.col("at") > pl.col("_first_valid"))).unique(maintain_order=True)
            .alias("reconfirmed_at"),
        )
    )
    out = (
        base.join(orders, on="subscription_id", how="left")
        .join(confirms, on="subscription_id", how="left")
        .join(ends, on="subscription_id", how="left")
        .with_columns(
            pl.when(pl.col("confirmed_at").is_not_null())
            .then(pl.lit(ConfirmationStatus.VALID.value))
            .otherwise(pl.col("_first_status").fill_null(ConfirmationStatus.MISSING.value))
            .alias("confirmation"),
            ((pl.col("confirmed_at") - pl.col("ordered_at")).dt.total_microseconds() / 1_000_000).alias("confirm_delay_s"),
            pl.col("invalid_confirmations").fill_null(0),
            pl.col("reconfirmed_at").fill_null(pl.lit([], dtype=pl.List(pl.Datetime("us", "UTC")))),
        )
        .select(list(SUBSCRIPTION_SCHEMA))
        .sort("subscription_id")
    )
    return out.collect().cast(SUBSCRIPTION_SCHEMA)  # type: ignore[arg-type]


CODE_STEP = "sms_code"
"""The second step a subscriber takes in the operator's own channels: the order sends a one-time code to the
subscriber's phone (an SMS that restates the offer's terms) and the confirmation gives it back. The order's
evidence holds ``second_step: {method, challenge_id, salt, code_sha256}`` (never the code), the confirmation's
``second_step: {method, challenge_id, code_verified: true}`` once the code given matched."""


def code_verified() -> pl.Expr:
    """Whether each subscription's (first valid) confirmation gave back the one-time code its own order sent: the
    confirmation's evidence says the code matched, for the challenge the order's evidence issued. A person read the
    code on the subscriber's phone and typed it: whatever the delay, such a confirmation is not a machine's.
    Evidence that is not a JSON object (``sms-reply:Y``, a provider's token) never counts."""
    confirm_challenge = pl.col("confirm_evidence").str.json_path_match("$.second_step.challenge_id")
    order_challenge = pl.col("order_evidence").str.json_path_match("$.second_step.challenge_id")
    return (
        (pl.col("confirm_evidence").str.json_path_match("$.second_step.code_verified") == "true")
        & (pl.col("confirm_evidence").str.json_path_match("$.second_step.method") == CODE_STEP)
        & pl.col("order_evidence").str.json_path_match("$.second_step.code_sha256").is_not_null()
        & (confirm_challenge == order_challenge)
    ).fill_null(False)


def chargeable_intervals(subscriptions: pl.DataFrame) -> pl.DataFrame:
    """[chargeable_from, chargeable_until) per validly confirmed subscription; until is null while open."""
    return subscriptions.filter(pl.col("confirmation") == ConfirmationStatus.VALID.value).select(
        "subscription_id",
        "msisdn",
        "offer_id",
        pl.col("confirmed_at").alias("chargeable_from"),
        pl.col("ended_at").alias("chargeable_until"),
    )


def state_expr(at: pl.Expr, *, policy: ConsentPolicy = DEFAULT_POLICY) -> pl.Expr:
    """The state of each subscription row at the instants ``at`` (an expression over the same rows).

    An order left unconfirmed past its window has lapsed: it reads as ``expired`` from the window's end.
    """
    window = pl.duration(microseconds=int(policy.confirm_window.total_seconds() * 1_000_000))
    lapsed_at = pl.when(pl.col("confirmed_at").is_null()).then(pl.col("ordered_at") + window)
    return (
        pl.when(pl.col("ended_at").is_not_null() & (at >= pl.col("ended_at")))
        .then(pl.col("end_reason"))
        .when(pl.col("confirmed_at").is_not_null() & (at >= pl.col("confirmed_at")))
        .then(pl.lit(SubscriptionState.CONFIRMED.value))
        .when(lapsed_at.is_not_null() & (at > lapsed_at))
        .then(pl.lit(SubscriptionState.EXPIRED.value))
        .when(pl.col("ordered_at").is_not_null() & (at >= pl.col("ordered_at")))
        .then(pl.lit(SubscriptionState.ORDERED.value))
        .otherwise(pl.lit(SubscriptionState.NONE.value))
    )


def states_at(subscriptions: pl.DataFrame, at: datetime, *, policy: ConsentPolicy = DEFAULT_POLICY) -> pl.DataFrame:
    """Each subscription's state at one instant: subscription_id, msisdn, offer_id, state, chargeable."""
    instant = pl.lit(require_aware(at, "at")).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return subscriptions.select(
        "subscription_id",
        "msisdn",
        "offer_id",
        state_expr(instant, policy=policy).alias("state"),
    ).with_columns((pl.col("state") == SubscriptionState.CONFIRMED.value).alias("chargeable"))


def archivable(subscriptions: pl.DataFrame, now: datetime, *, policy: ConsentPolicy = DEFAULT_POLICY) -> pl.DataFrame:
    """Subscriptions whose retention has run out: ended more than ``retention_months`` before ``now``.

    Their events may be moved to an archive by the store; the ledger itself never edits or deletes.
    """
    instant = pl.lit(require_aware(now, "now")).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return subscriptions.filter(
        pl.col("ended_at").is_not_null()
        & (pl.col("ended_at").dt.offset_by(f"{policy.retention_months}mo") <= instant)
    ).select("subscription_id", "msisdn", "offer_id", "ended_at")


LINE_CLOSED = "line_closed"
"""Why a subscription ended when its line was closed: the reason in the evidence of the ``cancelled`` event the
register's import appends for it (``ends_at_closing``)."""
CLOSING_SOURCE = "system:line_closed"
"""The source of those events: the system, not the subscriber, an agent or a provider's feed."""


def closing_evidence() -> dict[str, str]:
    """The evidence of a ``cancelled`` event appended because the subscription's line was closed."""
    return {"reason": LINE_CLOSED, "by": "system"}


def ends_at_closing(subscriptions: pl.DataFrame, closings: pl.DataFrame, *,
                    policy: ConsentPolicy = DEFAULT_POLICY) -> pl.DataFrame:
    """The subscriptions a closing of their line ends (``subscription_id``, ``msisdn``, ``offer_id``, ``at``), from
    the projected ``subscriptions`` and ``closings`` (``msisdn``, ``closed_at``: when each closed line left service).

    Closing a line ends every subscription of its number still running then: confirmed, or ordered and waiting for
    its confirmation (an order that lapsed unconfirmed, or a subscription already ended, needs nothing). Each ends
    at the closing instant, or at its order when it was ordered after it (an end never precedes the subscription's
    order). A subscription whose ledger already ends it by then is left as it is, so that the same closing, learnt
    again (the register imported again), ends nothing twice. A line re-activated later starts with none: any
    value-added service is ordered, confirmed and paid again."""
    empty = pl.DataFrame(schema={"subscription_id": pl.String(), "msisdn": pl.String(), "offer_id": pl.String(),
                                 "at": pl.Datetime("us", "UTC")})
    if subscriptions.height == 0 or closings.height == 0:
        return empty
    closed = closings.select(pl.col("msisdn").cast(pl.String),
                             pl.col("closed_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("_closed"))
    at = pl.max_horizontal("_closed", "ordered_at")
    running = state_expr(pl.col("_end"), policy=policy).is_in(
        [SubscriptionState.ORDERED.value, SubscriptionState.CONFIRMED.value])
    return (subscriptions.filter(pl.col("ordered_at").is_not_null())
            .join(closed, on="msisdn", how="inner")
            .with_columns(at.alias("_end"))
            .filter((pl.col("ended_at").is_null() | (pl.col("ended_at") > pl.col("_end"))) & running)
            .select("subscription_id", "msisdn", "offer_id", pl.col("_end").alias("at"))
            .sort("msisdn", "subscription_id")
            .cast(empty.schema))
