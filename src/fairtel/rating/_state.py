"""Counters (STATE_COLUMNS) recovered from rated lines: what ``rate`` would return as closing state after the
usage those lines came from. Lets rating continue a period that was rated earlier by someone else (a batch run)
without granting an allowance twice or restarting a daily cap."""

from __future__ import annotations

import polars as pl

from fairtel.catalog import Catalog
from fairtel.consent import Verdict, charge_key, subscription_coverage
from fairtel.rating._lines import STATE_COLUMNS, VAS_COUNTER, holding_tag


def state_from_rated(rated: pl.DataFrame | pl.LazyFrame, catalog: Catalog,
                     subscriptions: pl.DataFrame | None = None, *,
                     holdings: pl.DataFrame | None = None) -> pl.DataFrame:
    """Allowance counters: the units drawn per (msisdn, allowance_id); daily caps: the minor units charged per
    (msisdn, capped rule, local day), named ``cap:<rule_id>:<YYYY-MM-DD>`` as the kernel names them; value-added
    charges billed: ``vas:<charge key>``. ``subscriptions`` (the gate's projection): a line's subscription is
    keyed as the gate keys it, by the first subscription of its coverage (subscription_coverage), so that a month billed under
    one of two overlapping subscriptions is not billed again under the other. ``holdings`` (the register's ``msisdn``,
    ``holder_since``): a line that moved to a new customer inside the lines' period has the allowance and cap counters
    of the usage made from the change named as the new holding's (``HOLDING_TAG``), as the kernel names them."""
    lf = rated.lazy()
    suffix: pl.Expr | None = None  # the new holding's counters' tag, where a line changed owner
    changes = _changes(holdings)
    if changes is not None:
        since = pl.col("_since")
        # the record's start (a call cut at band changes: its piece's start less the seconds before it)
        record = pl.when(pl.col("kind") == "voice").then(
            pl.col("started_at") - pl.duration(seconds=pl.col("offset").fill_null(0))).otherwise(pl.col("started_at"))
        opened = (pl.col("period").cast(pl.String) + "-01").str.to_datetime("%Y-%m-%d", time_unit="us").dt.replace_time_zone(
            catalog.operator.timezone).dt.convert_time_zone("UTC")
        lf = lf.join(changes.lazy(), on="msisdn", how="left")
        suffix = pl.when(since.is_not_null() & (since > opened) & (record >= since)).then(holding_tag(since)).otherwise(
            pl.lit(""))
    capped = sorted({r.id for p in catalog.plans for r in p.rules if r.daily_cap is not None})
    allowances = lf.filter(pl.col("allowance_id").is_not_null() & (pl.col("allowance_used") > 0)).group_by(
        "msisdn", _tagged(pl.col("allowance_id").cast(pl.String), suffix).alias("counter")).agg(pl.col("allowance_used").sum().alias("used"))
    caps = lf.filter(pl.col("rule_id").is_in(capped) & (pl.col("amount_minor") > 0)).group_by(
        "msisdn",
        _tagged(pl.concat_str(pl.lit("cap:"), pl.col("rule_id"), pl.lit(":"),
                              pl.col("started_at").dt.convert_time_zone(catalog.operator.timezone).dt.strftime("%Y-%m-%d")),
                suffix).alias("counter"),
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


def _changes(holdings: pl.DataFrame | None) -> pl.DataFrame | None:
    """(msisdn, ``_since``) of the lines with an owner change; None: none."""
    if holdings is None or "holder_since" not in holdings.columns:
        return None
    since = pl.col("holder_since")
    dtype = holdings.schema["holder_since"]
    if isinstance(dtype, pl.Datetime):
        since = (since.dt.replace_time_zone("UTC") if dtype.time_zone is None else since.dt.convert_time_zone("UTC"))
    changes = holdings.select(pl.col("msisdn").cast(pl.String), since.cast(pl.Datetime("us", "UTC")).alias("_since")).filter(
        pl.col("_since").is_not_null()).unique("msisdn")
    return changes if changes.height else None


def _tagged(counter: pl.Expr, suffix: pl.Expr | None) -> pl.Expr:
    return counter if suffix is None else counter + suffix
