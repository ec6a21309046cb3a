"""Counters (STATE_COLUMNS) recovered from rated lines: what ``rate`` would return as closing state after the
usage those lines came from. Lets rating continue a period that was rated earlier by someone else (a batch run)
without granting an allowance twice or restarting a daily cap."""

from __future__ import annotations

import polars as pl

from fairtel.catalog import Catalog
from fairtel.consent import Verdict, charge_key, subscription_coverage
from fairtel.rating._lines import STATE_COLUMNS, VAS_COUNTER


def state_from_rated(rated: pl.DataFrame | pl.LazyFrame, catalog: Catalog,
                     subscriptions: pl.DataFrame | None = None) -> pl.DataFrame:
    """Allowance counters: the units drawn per (msisdn, allowance_id); daily caps: the minor units charged per
    (msisdn, capped rule, local day), named ``cap:<rule_id>:<YYYY-MM-DD>`` as the kernel names them; value-added
    charges billed: ``vas:<charge key>``. ``subscriptions`` (the gate's projection): a line's subscription is
    keyed as the gate keys it, by the first subscription of its coverage (subscription_coverage), so that a month billed under
    one of two overlapping subscriptions is not billed again under the other."""
    lf = rated.lazy()
    capped = sorted({r.id for p in catalog.plans for r in p.rules if r.daily_cap is not None})
    allowances = lf.filter(pl.col("allowance_id").is_not_null() & (pl.col("allowance_used") > 0)).group_by(
        "msisdn", pl.col("allowance_id").alias("counter")).agg(pl.col("allowance_used").sum().alias("used"))
    caps = lf.filter(pl.col("rule_id").is_in(capped) & (pl.col("amount_minor") > 0)).group_by(
        "msisdn",
        pl.concat_str(pl.lit("cap:"), pl.col("rule_id"), pl.lit(":"),
                      pl.col("started_at").dt.convert_time_zone(catalog.operator.timezone).dt.strftime("%Y-%m-%d"))
        .alias("counter"),
    ).agg(pl.col("amount_minor").sum().alias("used"))
    # charges billed under a subscription: ``vas:<charge key>`` as the kernel names them (an offer included in
    # the plan costs nothing, its lines 0: a repeat of it would cost nothing either, so it is not carried)
    periods = {o.id: str(getattr(o.period, "value", o.period)) for o in catalog.offers}
    billed = lf.filter((pl.col("verdict") == Verdict.CONSENTED.value) & (pl.col("amount_minor") > 0)
                       & pl.col("subscription_id").is_not_null() & pl.col("rule_id").str.starts_with("offer/"))
    if subscriptions is not None and subscriptions.height:
        coverage = subscription_coverage(subscriptions)
        billed = billed.join(coverage.lazy(), on="subscription_id", how="left").with_columns(
            pl.coalesce("coverage_id", "subscription_id").alias("subscription_id"))
    vas = billed.select(
        "msisdn",
        pl.concat_str(pl.lit(VAS_COUNTER), charge_key(
            pl.col("subscription_id"),
            pl.col("rule_id").str.strip_prefix("offer/").replace_strict(periods, default=None, return_dtype=pl.String),
            pl.col("period"), pl.col("started_at"), pl.col("amount_minor"))).alias("counter"),
        pl.lit(1, dtype=pl.Int64).alias("used"),
    ).unique(["msisdn", "counter"])
    out = pl.concat(pl.collect_all([allowances, caps, vas]))
    return out.cast(STATE_COLUMNS).sort("msisdn", "counter")  # type: ignore[arg-type]
