"""Unexplained charges: every VAS charge the consent gate refused becomes a finding with its evidence."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from fairtel.assurance._finding import Finding, FindingIds, FindingKind, build_findings
from fairtel.assurance._refunds import RESUBSCRIBED_REASON, RESUBSCRIBED_REASON_ZH
from fairtel.consent import OfferPeriod, Verdict

_KIND_OF_VERDICT: dict[str, FindingKind] = {
    Verdict.NO_SUBSCRIPTION.value: FindingKind.UNCONSENTED_CHARGE,
    Verdict.NOT_CONFIRMED.value: FindingKind.UNCONSENTED_CHARGE,
    Verdict.PRICE_RAISED.value: FindingKind.UNCONSENTED_CHARGE,  # consented at a lower price only
    Verdict.BEFORE_ACTIVATION.value: FindingKind.UNCONSENTED_CHARGE,  # consented by the number's previous holder
    # consented by the line's previous customer, charged after the owner change (holder_since)
    Verdict.PREVIOUS_HOLDER.value: FindingKind.UNCONSENTED_CHARGE,
    Verdict.AFTER_CANCELLATION.value: FindingKind.CHARGE_AFTER_CANCELLATION,
    # a closed line ends every subscription on it; a suspended one holds them (the verdict is in the evidence)
    Verdict.LINE_CLOSED.value: FindingKind.CHARGE_AFTER_CANCELLATION,
    Verdict.LINE_SUSPENDED.value: FindingKind.CHARGE_AFTER_CANCELLATION,
    Verdict.DUPLICATE_CHARGE.value: FindingKind.DUPLICATE_CHARGE,
    Verdict.PRICE_MISMATCH.value: FindingKind.PRICE_MISMATCH,
    Verdict.UNKNOWN_OFFER.value: FindingKind.UNKNOWN_OFFER_CHARGE,
}
_EVIDENCE = (
    "verdict", "offer_id", "provider_id", "started_at", "period", "charged_minor", "price_minor",
    "duplicate_of", "billed_under_subscription", "reason", "reason_zh", "source",
)


def _billed_under(gated: pl.DataFrame) -> pl.DataFrame:
    """``billed_under_subscription``, with the ``reason`` in English and Chinese, for a monthly fee refused as
    a duplicate of the month billed under another subscription to the same offer (the subscriber subscribed
    again within the month): the charge billed is the one consented with the same ``charge_key``. Null
    otherwise, e.g. for a charge sent twice under one subscription."""
    if "charge_key" not in gated.columns or "offer_period" not in gated.columns:
        return gated.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in ("billed_under_subscription", "reason", "reason_zh"))
    billed = gated.filter(pl.col("verdict") == Verdict.CONSENTED.value).select(
        pl.col("charge_key").cast(pl.String), pl.col("subscription_id").cast(pl.String).alias("_under")
    ).unique("charge_key", keep="first")
    again = (
        (pl.col("verdict") == Verdict.DUPLICATE_CHARGE.value)
        & (pl.col("offer_period") == OfferPeriod.MONTHLY.value)
        & (pl.col("_under") != pl.col("subscription_id"))
    ).fill_null(False)
    return (
        gated.with_columns(pl.col("charge_key").cast(pl.String))
        .join(billed, on="charge_key", how="left", maintain_order="left")
        .with_columns(
            pl.when(again).then(pl.col("_under")).alias("billed_under_subscription"),
            pl.when(again).then(pl.lit(RESUBSCRIBED_REASON)).alias("reason"),
            pl.when(again).then(pl.lit(RESUBSCRIBED_REASON_ZH)).alias("reason_zh"),
        )
        .drop("_under")
    )


def charge_findings(gated: pl.DataFrame, *, detected_at: datetime) -> list[Finding]:
    """One finding per refused charge (the output of ``fairtel.consent.gate_vas``).

    The amount at risk is what the provider claimed, except for a price mismatch where it is the
    difference from the catalog price (negative when the provider under-charged). A monthly fee charged again
    under a second subscription in a month already billed names, in its evidence, the subscription the month
    was billed under and the reason (``reason``, ``reason_zh``: 当月退订后再次订购同一业务，当月不重复收取月功能费).
    """
    src = pl.col("source") if "source" in gated.columns else pl.lit(None, dtype=pl.String)
    base = _billed_under(gated).filter(pl.col("verdict").is_in(list(_KIND_OF_VERDICT))).select(
        "record_id",
        src.alias("source"),
        "msisdn",
        "offer_id",
        "provider_id",
        "subscription_id",
        "verdict",
        "period",
        "started_at",
        "duplicate_of",
        "billed_under_subscription",
        "reason",
        "reason_zh",
        pl.col("amount_minor").alias("charged_minor"),
        "price_minor",
        pl.col("currency"),
        pl.concat_list(pl.col("record_id")).alias("record_ids"),
        pl.when(pl.col("verdict") == Verdict.PRICE_MISMATCH.value)
        .then(
            pl.when(pl.col("currency") == pl.col("offer_currency"))
            .then(pl.col("amount_minor") - pl.col("price_minor"))
            .otherwise(pl.col("amount_minor"))
        )
        .otherwise(pl.col("amount_minor"))
        .alias("amount_minor"),
    )
    out: list[Finding] = []
    for verdict, kind in _KIND_OF_VERDICT.items():
        part = base.filter(pl.col("verdict") == verdict)
        if part.height:
            out.extend(
                build_findings(
                    part, kind, key=("source", "record_id"), detected_at=detected_at, evidence=_EVIDENCE
                )
            )
    return out


REFUSED_ON_BILL = "refused_on_bill"
"""The verdict a ``refused_on_bill_findings`` finding names: refused on its issued bill, consented by the ledger now."""


def refused_on_bill_findings(gated: pl.DataFrame, keys: set[tuple[str, str, str]], *, detected_at: datetime,
                             ids: FindingIds = FindingIds()) -> list[Finding]:
    """One finding (``unconsented_charge``, verdict ``refused_on_bill``) per charge of ``gated`` that the consent gate
    consents now but that its issued bill did not charge (``keys``: (msisdn, source, record_id) of the charges that
    were in the lake when their bill was issued and are not on it): a confirmation or order recorded after the bill,
    dated before the charge. A rerate never bills such a charge; it is raised for an operator's review, under an id
    of its own (keyed on the verdict too), so that a finding of the charge closed as not billed before does not hide
    it."""
    if not keys or gated.height == 0:
        return []
    src = pl.col("source").cast(pl.String).fill_null("") if "source" in gated.columns else pl.lit("")
    wanted = pl.DataFrame(sorted(keys), schema={"msisdn": pl.String(), "_src": pl.String(), "record_id": pl.String()},
                          orient="row")
    part = (gated.filter(pl.col("verdict") == Verdict.CONSENTED.value)
            .with_columns(pl.col("msisdn").cast(pl.String), pl.col("record_id").cast(pl.String), src.alias("_src"))
            .join(wanted, on=["msisdn", "_src", "record_id"], how="semi")
            .select("record_id", pl.col("_src").alias("source"), "msisdn", "offer_id", "provider_id", "subscription_id",
                    pl.lit(REFUSED_ON_BILL).alias("verdict"), "period", "started_at",
                    pl.col("amount_minor").alias("charged_minor"), "price_minor", "currency",
                    pl.concat_list(pl.col("record_id")).alias("record_ids"), "amount_minor"))
    return build_findings(part, FindingKind.UNCONSENTED_CHARGE, key=("source", "record_id", "verdict"),
                          detected_at=detected_at, evidence=_EVIDENCE, ids=ids)
