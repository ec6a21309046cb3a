"""Unexplained charges: every VAS charge the consent gate refused becomes a finding with its evidence."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from fairtel.assurance._finding import Finding, FindingKind, build_findings
from fairtel.consent import Verdict

_KIND_OF_VERDICT: dict[str, FindingKind] = {
    Verdict.NO_SUBSCRIPTION.value: FindingKind.UNCONSENTED_CHARGE,
    Verdict.NOT_CONFIRMED.value: FindingKind.UNCONSENTED_CHARGE,
    Verdict.PRICE_RAISED.value: FindingKind.UNCONSENTED_CHARGE,  # consented at a lower price only
    Verdict.BEFORE_ACTIVATION.value: FindingKind.UNCONSENTED_CHARGE,  # consented by the number's previous holder
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
    "duplicate_of", "source",
)


def charge_findings(gated: pl.DataFrame, *, detected_at: datetime) -> list[Finding]:
    """One finding per refused charge (the output of ``fairtel.consent.gate_vas``).

    The amount at risk is what the provider claimed, except for a price mismatch where it is the
    difference from the catalog price (negative when the provider under-charged).
    """
    src = pl.col("source") if "source" in gated.columns else pl.lit(None, dtype=pl.String)
    base = gated.filter(pl.col("verdict").is_in(list(_KIND_OF_VERDICT))).select(
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
