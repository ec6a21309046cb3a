"""The consent gate: a value-added charge is billable only under a confirmed subscription that covers its
time, at the catalog price, once per billing period for monthly offers, and from a provider not suspended.

Pure function over frames: rating calls it with the period's VAS records; assurance reads its verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum

import polars as pl

from fairtel.consent._offer import OfferBook, offers_frame
from fairtel.consent._projection import ConfirmationStatus
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.time import DEMO_TIMEZONE


class Verdict(StrEnum):
    """Why a VAS charge is or is not billable. Stable codes: stored with rated lines and findings."""

    CONSENTED = "consented"
    NO_SUBSCRIPTION = "no_subscription"
    NOT_CONFIRMED = "not_confirmed"
    AFTER_CANCELLATION = "after_cancellation"
    PRICE_MISMATCH = "price_mismatch"
    PRICE_RAISED = "price_raised"  # the price rose after the subscriber confirmed: a new confirmation is needed
    DUPLICATE_CHARGE = "duplicate_charge"
    UNKNOWN_OFFER = "unknown_offer"
    MERCHANT_SUSPENDED = "merchant_suspended"


GATE_REQUIRED = ("record_id", "msisdn", "offer_id", "started_at", "amount_minor", "currency")
GATE_COLUMNS = (
    "subscription_id", "verdict", "billable", "provider_id", "price_minor", "offer_currency", "offer_period",
    "period", "duplicate_of", "charge_key",
)


def charge_key(subscription_id: pl.Expr, offer_period: pl.Expr, period: pl.Expr, started_at: pl.Expr,
               amount_minor: pl.Expr) -> pl.Expr:
    """What a subscription may be charged for once: the billing period (``YYYY-MM``) of a monthly offer, the
    instant and amount of a use otherwise (an identical use sent again is the same use)."""
    return (
        pl.when(offer_period == "monthly")
        .then(pl.concat_str(subscription_id, pl.lit("|"), period))
        .otherwise(pl.concat_str(subscription_id, pl.lit("|"),
                                 started_at.dt.convert_time_zone("UTC").dt.epoch("us").cast(pl.String),
                                 pl.lit("|"), amount_minor.cast(pl.String)))
    )
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAR = datetime(9999, 1, 1, tzinfo=UTC)


def _check_columns(frame: pl.DataFrame, needed: Iterable[str], what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InvalidInputError([Problem(what, None, c, "column missing") for c in missing], what=what)


def gate_vas(
    vas_records: pl.DataFrame,
    subscriptions: pl.DataFrame,
    offers: OfferBook | pl.DataFrame,
    *,
    suspended: Iterable[str] = (),
    tz: str = DEMO_TIMEZONE,
) -> pl.DataFrame:
    """Add ``subscription_id``, ``verdict``, ``billable`` (and the offer's price, the billing ``period`` in
    ``tz``, ``duplicate_of`` and the ``charge_key`` a charge uses up) to each VAS record; rows keep their input
    order. Of two charges with one key the earlier is billed; with an ``arrival`` column (integers: the file
    each came in, say) the one that arrived first, then the earlier.

    ``subscriptions`` is ``project_subscriptions(...)``; ``offers`` maps offer ids to offers (or is
    ``offers_frame(...)``). When several validly confirmed subscriptions cover a charge, the one confirmed
    first takes it, so a second subscription to the same offer cannot bill the same month twice.
    """
    _check_columns(vas_records, GATE_REQUIRED, "vas_records")
    _check_columns(subscriptions, ("subscription_id", "msisdn", "offer_id", "ordered_at", "confirmed_at", "ended_at", "confirmation"), "subscriptions")
    book = offers if isinstance(offers, pl.DataFrame) else offers_frame(offers)
    suspended_ids = sorted(set(suspended))

    recs = vas_records.drop([c for c in GATE_COLUMNS if c in vas_records.columns]).with_row_index("_row")
    if recs.schema["started_at"] == pl.Null:
        recs = recs.with_columns(pl.col("started_at").cast(pl.Datetime("us", "UTC")))
    keyed = recs.select(
        "_row",
        *(pl.col(c).cast(pl.String) for c in ("record_id", "msisdn", "offer_id")),
        pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("_t"),
        pl.col("amount_minor").cast(pl.Int64),
        pl.col("currency").cast(pl.String),
        (pl.col("arrival").cast(pl.Int64) if "arrival" in recs.columns else pl.lit(0, dtype=pl.Int64)).alias("_arrival"),
    )

    # The price version in force at the charge's time.
    versions = book.with_columns(pl.col("valid_from").fill_null(_EPOCH).dt.cast_time_unit("us")).sort("valid_from")
    priced = keyed.sort("_t").join_asof(
        versions, left_on="_t", right_on="valid_from", by="offer_id", strategy="backward", check_sortedness=False
    ).drop("valid_from")

    # Every subscription of the same subscriber and offer is a candidate; rank them for this charge.
    subs = subscriptions.select(
        "subscription_id", "msisdn", "offer_id", "ordered_at",
        pl.when(pl.col("confirmation") == ConfirmationStatus.VALID.value).then(pl.col("confirmed_at")).alias("_from"),
        pl.col("ended_at").fill_null(_FAR).alias("_until"),
        pl.col("ended_at").is_not_null().alias("_ended"),
    )
    pairs = priced.select("_row", "msisdn", "offer_id", "_t", "price_minor", "amount_minor").join(subs, on=["msisdn", "offer_id"], how="inner")
    # The price the subscriber confirmed: the version in force at the confirmation. A charge at a higher price
    # is not covered by it (a price rise needs a new confirmation, e.g. a new subscription); a lower one is. (A
    # charge at another price than the one in force is a price mismatch, whatever was confirmed.)
    confirmed_price = (
        pairs.select("_row", "subscription_id", "offer_id", pl.col("_from").fill_null(_EPOCH).dt.cast_time_unit("us").alias("_at"))
        .sort("_at")
        .join_asof(versions.select("offer_id", "valid_from", pl.col("price_minor").alias("_agreed")),
                   left_on="_at", right_on="valid_from", by="offer_id", strategy="backward", check_sortedness=False)
        .select("_row", "subscription_id", "_agreed")
    )
    pairs = pairs.join(confirmed_price, on=["_row", "subscription_id"], how="left")
    raised = (pl.col("_agreed").is_not_null() & pl.col("price_minor").is_not_null() & (pl.col("price_minor") > pl.col("_agreed"))
              & (pl.col("amount_minor") == pl.col("price_minor")))
    pairs = pairs.with_columns(
        pl.when(pl.col("_from").is_not_null() & (pl.col("_from") <= pl.col("_t")) & (pl.col("_t") < pl.col("_until")) & raised)
        .then(pl.lit(3))
        .when(pl.col("_from").is_not_null() & (pl.col("_from") <= pl.col("_t")) & (pl.col("_t") < pl.col("_until")))
        .then(pl.lit(0))
        .when(pl.col("_from").is_not_null() & pl.col("_ended") & (pl.col("_until") <= pl.col("_t")) & (pl.col("_from") < pl.col("_until")))
        .then(pl.lit(1))
        .when(pl.col("ordered_at").is_not_null() & (pl.col("ordered_at") <= pl.col("_t")))
        .then(pl.lit(2))
        .otherwise(pl.lit(9))
        .alias("_rank")
    ).filter(pl.col("_rank") < 9)
    # Covering: the earliest confirmed. Not covering: the most recently ordered (ties: the ended one).
    best = pairs.with_columns(
        (pl.col("_rank") != 0).alias("_cov"),
        pl.when(pl.col("_rank") == 0)
        .then(pl.col("_from").dt.epoch("us"))
        .otherwise(-pl.col("ordered_at").fill_null(_EPOCH).dt.epoch("us"))
        .alias("_k"),
    )
    best = best.sort("_row", "_cov", "_k", "_rank", "subscription_id").unique("_row", keep="first").select(
        "_row", "subscription_id", "_rank"
    )

    g = priced.join(best, on="_row", how="left").with_columns(
        pl.col("_t").dt.convert_time_zone(tz).dt.strftime("%Y-%m").alias("period")
    )
    verdict = (
        pl.when(pl.col("offer_id").is_null() | pl.col("provider_id").is_null())
        .then(pl.lit(Verdict.UNKNOWN_OFFER.value))
        .when(pl.col("_rank").is_null())
        .then(pl.lit(Verdict.NO_SUBSCRIPTION.value))
        .when(pl.col("_rank") == 1)
        .then(pl.lit(Verdict.AFTER_CANCELLATION.value))
        .when(pl.col("_rank") == 2)
        .then(pl.lit(Verdict.NOT_CONFIRMED.value))
        .when(pl.col("_rank") == 3)
        .then(pl.lit(Verdict.PRICE_RAISED.value))
        .when(pl.col("provider_id").is_in(suspended_ids))
        .then(pl.lit(Verdict.MERCHANT_SUSPENDED.value))
        .when(
            pl.col("amount_minor").is_null()
            | pl.col("currency").is_null()
            | (pl.col("amount_minor") != pl.col("price_minor"))
            | (pl.col("currency") != pl.col("offer_currency"))
        )
        .then(pl.lit(Verdict.PRICE_MISMATCH.value))
    )
    g = g.with_columns(verdict.alias("verdict"), pl.when(pl.col("_rank") != 9).then(pl.col("subscription_id")).alias("subscription_id"))

    # Once per subscription per period (monthly), once per use (per_use); identical re-sent uses are one.
    ok = g.filter(pl.col("verdict").is_null())
    group_key = charge_key(pl.col("subscription_id"), pl.col("offer_period"), pl.col("period"), pl.col("_t"),
                           pl.col("amount_minor")).alias("_dup")
    ok = ok.with_columns(group_key).sort("_dup", "_arrival", "_t", "record_id", "_row").with_columns(
        pl.col("record_id").first().over("_dup").alias("_first"),
        (pl.int_range(pl.len()).over("_dup") > 0).alias("_again"),
    )
    dup = ok.select(
        "_row",
        pl.when(pl.col("_again")).then(pl.lit(Verdict.DUPLICATE_CHARGE.value)).otherwise(pl.lit(Verdict.CONSENTED.value)).alias("_v2"),
        pl.when(pl.col("_again")).then(pl.col("_first")).alias("duplicate_of"),
        pl.col("_dup").alias("charge_key"),
    )
    g = g.join(dup, on="_row", how="left").with_columns(pl.coalesce("verdict", "_v2").alias("verdict"))
    g = g.with_columns((pl.col("verdict") == Verdict.CONSENTED.value).alias("billable")).select(
        "_row", *GATE_COLUMNS
    )
    return recs.join(g, on="_row", how="left").sort("_row").drop("_row")
