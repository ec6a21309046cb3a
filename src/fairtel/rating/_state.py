"""Counters (STATE_COLUMNS) recovered from rated lines: what ``rate`` would return as closing state after the
usage those lines came from. Lets rating continue a period that was rated earlier by someone else (a batch run)
without granting an allowance twice or restarting a daily cap."""

from __future__ import annotations

import polars as pl

from fairtel.catalog import Catalog
from fairtel.rating._lines import STATE_COLUMNS


def state_from_rated(rated: pl.DataFrame | pl.LazyFrame, catalog: Catalog) -> pl.DataFrame:
    """Allowance counters: the units drawn per (msisdn, allowance_id); daily caps: the minor units charged per
    (msisdn, capped rule, local day), named ``cap:<rule_id>:<YYYY-MM-DD>`` as the kernel names them."""
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
    out = pl.concat(pl.collect_all([allowances, caps]))
    return out.cast(STATE_COLUMNS).sort("msisdn", "counter")  # type: ignore[arg-type]
