"""The loyalty ledger the operator kept before the window: points earned from each month's bill, and some spent.

The scheme (``_params``): each month's bill earns ``POINTS_PER_YUAN`` points per whole yuan billed (每消费 1 元积
1 分), credited on the morning of the 1st of the next month as ``账单积分 YYYY-MM`` (``bill points YYYY-MM`` for
an English-speaking subscriber); points expire after ``LOYALTY_MONTHS`` months, so the bills of the last
``LOYALTY_MONTHS`` whole months before the window count (a month in which the line was in service throughout).
A month's bill is the plan's fee and what was spent beyond it: the plan's usual extra spend scaled by the
subscriber's activity, varying month to month. About ``REDEEM_SHARE`` of the subscribers with points spent
some of them once, on a voucher or a data pack, never more than they had then. The ledger holds the entries
(append-only: earn and redeem), one JSON line each, ordered by subscriber and time.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fairtel.synth import _params as P
from fairtel.synth._population import Population, Window

LOYALTY_FILE = "loyalty.jsonl"
_EARN = {"zh": "账单积分 {}", "en": "bill points {}"}
_REDEEM = ({"zh": "话费券", "en": "call credit voucher"}, {"zh": "流量包兑换", "en": "data pack"})


def _month_starts(window: Window, months: int) -> list[tuple[int, int]]:
    """(year, month) of the ``months`` whole months before the window's, oldest first."""
    y, m = window.start.year, window.start.month
    out = []
    for _ in range(months + 1):  # the window's month, then the ones before it
        out.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return list(reversed(out))


def loyalty_rows(rng: np.random.Generator, pop: Population, window: Window) -> pl.DataFrame:
    """The ledger entries: ``entry_id``, ``msisdn``, ``kind`` (earn | redeem), ``points``, ``reason``, ``booked_at``
    (RFC 3339 on the operator's clock)."""
    bounds = _month_starts(window, P.LOYALTY_MONTHS)  # LOYALTY_MONTHS + 1 month starts: the last is the window's month
    starts = np.array([_epoch(y, m, window.tz) for y, m in bounds], dtype=np.int64)
    keys = [f"{y:04d}-{m:02d}" for y, m in bounds[:-1]]
    n, months = pop.n, len(keys)
    fee = np.array([P.PLAN_FEE_YUAN[p] for p in P.PLANS])[pop.plan]
    extra = np.array(P.PLAN_EXTRA_YUAN)[pop.plan]
    # in service throughout the month: activated before it began (a month of activation is billed in part)
    served = pop.activated_at[:, None] < starts[None, :-1]
    spend = rng.gamma(2.0, 0.5, size=(n, months)) * extra[:, None] * pop.activity[:, None]
    earned = np.where(served, np.floor((fee[:, None] + spend) * P.POINTS_PER_YUAN), 0).astype(np.int64)
    # credited on the 1st of the next month, early in the morning
    booked = starts[None, 1:] + 2 * 3600 + rng.integers(0, 3 * 3600, size=(n, months))
    # one redemption for some: in the month after one that earned (never the last: it is spent before the window),
    # of a voucher no larger than the balance then
    balance = np.cumsum(earned, axis=1)
    after = rng.integers(0, max(1, months - 1), n)
    have = balance[np.arange(n), after]
    offers = np.array(P.REDEEM_POINTS, dtype=np.int64)
    chosen = offers[rng.integers(0, len(offers), n)]
    points = np.where(have >= offers[0], np.minimum(chosen, _largest_within(offers, have)), 0)
    redeems = (rng.random(n) < P.REDEEM_SHARE) & (points > 0) & (months > 1)
    spent_at = starts[np.minimum(after + 1, months)] + rng.integers(3 * 86400, 20 * 86400, n)
    what = rng.integers(0, len(_REDEEM), n)
    rows_i, rows_m = np.nonzero(earned > 0)
    msisdn = pl.Series(pop.msisdn.astype(str))
    english = pl.Series(pop.english.astype(bool))
    month = pl.col("month")
    earn = pl.DataFrame({"msisdn": msisdn.gather(rows_i), "english": english.gather(rows_i),
                         "month": pl.Series(keys, dtype=pl.String).gather(rows_m), "points": earned[rows_i, rows_m],
                         "at": booked[rows_i, rows_m]}).select(
        "msisdn", pl.lit("earn").alias("kind"), pl.col("points").cast(pl.Int64),
        pl.when("english").then(pl.format(_EARN["en"], month)).otherwise(pl.format(_EARN["zh"], month)).alias("reason"),
        pl.col("at").cast(pl.Int64), pl.format("pts-{}-{}", "msisdn", month).alias("entry_id"))
    who = np.flatnonzero(redeems)
    voucher = pl.col("what")
    redeem = pl.DataFrame({"msisdn": msisdn.gather(who), "english": english.gather(who), "what": what[who].astype(np.int64),
                           "points": points[who].astype(np.int64), "at": spent_at[who].astype(np.int64)}).select(
        "msisdn", pl.lit("redeem").alias("kind"), "points",
        pl.when("english").then(voucher.replace_strict({i: r["en"] for i, r in enumerate(_REDEEM)}, return_dtype=pl.String))
        .otherwise(voucher.replace_strict({i: r["zh"] for i, r in enumerate(_REDEEM)}, return_dtype=pl.String)).alias("reason"),
        "at", pl.format("pts-{}-r1", "msisdn").alias("entry_id"))
    ledger = pl.concat([earn, redeem]).sort("msisdn", "at", "entry_id")
    return ledger.select(
        "entry_id", "msisdn", "kind", "points", "reason",
        pl.from_epoch("at", time_unit="s").dt.replace_time_zone("UTC").dt.convert_time_zone(window.tz)
        .dt.strftime("%Y-%m-%dT%H:%M:%S%:z").alias("booked_at"),
    )


def _largest_within(offers: np.ndarray, have: np.ndarray) -> np.ndarray:
    """The largest of ``offers`` (ascending) not above each of ``have``; the smallest where none is."""
    idx = np.searchsorted(offers, have, side="right") - 1
    return offers[idx.clip(min=0)]


def _epoch(year: int, month: int, tz: str) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return int(datetime(year, month, 1, tzinfo=ZoneInfo(tz)).timestamp())
