"""Megaline best-plan advice (../shared/data/plans/megaline), cross-checked with Megaline's published rules.

1. fairtel: the importer (calls rounded up to minutes, a user-month's data as one record), the packaged
   Megaline catalog and ``fairtel.insight.advise``, which prices every user-month under both plans with the
   rating engine;
2. an independent computation of Megaline's billing rules in plain Polars, straight from the CSV files: per
   user and month, minutes = Σ ceil(call minutes), messages = count, GB = ceil(Σ MB / 1024); revenue = fee +
   overage × price for each, for both plans (integer cents throughout, no floats for money).

Prints how many user-month-plan totals agree to the cent, the users who would save by switching and the total.

    .venv/bin/python bench/eval_megaline.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl

from fairtel.insight import advise, load_megaline_catalog, read_megaline

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "plans" / "megaline"


def cents(col: str) -> pl.Expr:
    """A decimal string with at most two decimals as integer hundredths."""
    return (pl.col(col).str.strip_chars().cast(pl.Decimal(18, 2)) * 100).cast(pl.Int64)


def independent() -> pl.DataFrame:
    """user_id, month, plan, total_cents by Megaline's published rules."""
    users = pl.read_csv(DATA / "megaline_users.csv", infer_schema=False).select(pl.col("user_id").cast(pl.Int64), "plan")
    plans = pl.read_csv(DATA / "megaline_plans.csv", infer_schema=False)
    calls = pl.read_csv(DATA / "megaline_calls.csv", infer_schema=False).select(
        pl.col("user_id").cast(pl.Int64), pl.col("call_date").str.slice(0, 7).alias("month"),
        ((cents("duration") + 99) // 100).alias("minutes"))  # whole minutes, rounded up
    msgs = pl.read_csv(DATA / "megaline_messages.csv", infer_schema=False).select(
        pl.col("user_id").cast(pl.Int64), pl.col("message_date").str.slice(0, 7).alias("month"))
    web = pl.read_csv(DATA / "megaline_internet.csv", infer_schema=False).select(
        pl.col("user_id").cast(pl.Int64), pl.col("session_date").str.slice(0, 7).alias("month"), cents("mb_used").alias("mb_c"))
    keys = ["user_id", "month"]
    usage = (
        pl.concat([calls.select(keys), msgs.select(keys), web.select(keys)]).unique()
        .join(calls.group_by(keys).agg(pl.col("minutes").sum()), on=keys, how="left")
        .join(msgs.group_by(keys).agg(pl.len().cast(pl.Int64).alias("messages")), on=keys, how="left")
        .join(web.group_by(keys).agg(pl.col("mb_c").sum()), on=keys, how="left")
        .fill_null(0)
        .with_columns(((pl.col("mb_c") + 1024 * 100 - 1) // (1024 * 100)).alias("gb"))  # month's MB up to whole GB
    )
    p = plans.select(
        pl.col("plan_name").alias("plan"),
        cents("usd_monthly_pay").alias("fee"), cents("usd_per_minute").alias("per_min"),
        cents("usd_per_message").alias("per_msg"), cents("usd_per_gb").alias("per_gb"),
        pl.col("minutes_included").cast(pl.Int64), pl.col("messages_included").cast(pl.Int64),
        (pl.col("mb_per_month_included").cast(pl.Int64) // 1024).alias("gb_included"),
    )
    return usage.join(p, how="cross").select(
        *keys, "plan",
        (pl.col("fee") + (pl.col("minutes") - pl.col("minutes_included")).clip(lower_bound=0) * pl.col("per_min")
         + (pl.col("messages") - pl.col("messages_included")).clip(lower_bound=0) * pl.col("per_msg")
         + (pl.col("gb") - pl.col("gb_included")).clip(lower_bound=0) * pl.col("per_gb")).alias("total_cents"),
    ).join(users, on="user_id", how="semi")


def main() -> int:
    # no options (the environment variables in the docstring set the sizes): --help prints the docstring
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    if not DATA.is_dir():
        print(f"Megaline data not found at {DATA}")
        return 1
    t0 = time.perf_counter()
    data = read_megaline(DATA)
    catalog = load_megaline_catalog()
    result = advise(data.usage, catalog, data.subscribers, months=None)
    t_engine = time.perf_counter() - t0
    t1 = time.perf_counter()
    ref = independent()
    t_ref = time.perf_counter() - t1
    ours = result.costs.with_columns(
        (pl.col("msisdn").str.slice(4).cast(pl.Int64)).alias("user_id"), pl.col("period").alias("month"),
        pl.col("plan_id").alias("plan"),
    ).select("user_id", "month", "plan", "total_minor")
    both = ref.join(ours, on=["user_id", "month", "plan"], how="full", coalesce=True)
    agree = both.filter(pl.col("total_cents") == pl.col("total_minor")).height
    print(f"user-month-plan totals: {both.height}; equal to the cent: {agree}; "
          f"only in one computation: {both.filter(pl.col('total_cents').is_null() | pl.col('total_minor').is_null()).height}")
    diff = both.filter(pl.col("total_cents") != pl.col("total_minor"))
    if diff.height:
        print(diff.head(10))
    # the independent advice: per user, total under each plan over the months with usage
    subs = pl.read_csv(DATA / "megaline_users.csv", infer_schema=False).select(pl.col("user_id").cast(pl.Int64), pl.col("plan").alias("current"))
    per = ref.group_by("user_id", "plan").agg(pl.col("total_cents").sum()).join(subs, on="user_id")
    cur = per.filter(pl.col("plan") == pl.col("current")).select("user_id", pl.col("total_cents").alias("paid"))
    best = per.group_by("user_id").agg(pl.col("total_cents").min().alias("best"))
    ind = cur.join(best, on="user_id").with_columns((pl.col("paid") - pl.col("best")).alias("saving"))
    ind_savers = ind.filter(pl.col("saving") > 0)
    s = result.summary()
    print(f"fairtel advise: {s['subscribers']} users with usage in {len(s['periods'])} months; "
          f"{s['would_save']} would have saved by switching, {s['total_saving']} {s['currency']} in all "
          f"({t_engine:.1f} s)")
    for m in s["moves"]:
        print(f"  {m['from']} → {m['to']}: {m['subscribers']} users, {m['saving']} {s['currency']}")
    print(f"independent Polars: {ind_savers.height} would save, {ind_savers['saving'].sum() / 100:.2f} USD ({t_ref:.1f} s)")
    same = ind_savers.height == s["would_save"] and int(ind_savers["saving"].sum()) == s["total_saving_minor"]
    print("advice agrees with the independent computation" if same and not diff.height else "MISMATCH")
    return 0 if same and not diff.height else 1


if __name__ == "__main__":
    sys.exit(main())
