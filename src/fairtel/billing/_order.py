"""The order a rerate rates a period's usage in: the one its bills' lines were rated in.

Which record draws an allowance (and which one a daily cap stops) depends on the order records are rated in.
A batch run rates a period in time order; online rating rates each file as it arrives, each subscriber's
records ordered by the file they came in before their start, with the counters carried from file to file. A
rerate that rated online-rated usage in time order would move allowance draws from one record to another and
issue debit/credit pairs under an unchanged tariff (where the rates differ by band, with a net that is not
zero). So each record gets an arrival ordinal (``rate(..., arrival=...)``), from what the lake records:

* the usage parts the batch run under the bills rated (its manifest): 0, in time order, first;
* a part of a file rated online after that batch run (or with none): the file's position in the rating log
  (commits in sequence, the files of a commit in the order they were rated);
* a billed record found in neither: 0, in time order (rated by the batch run the bill was issued under when
  that is not today's, or by one from before manifests; else its place is assumed, and ``UNPLACED`` says so);
* a record no bill holds (usage rated after the bill run, or not rated then): after every billed record of
  its subscriber, in log order, then those the log does not name. Whatever arrived after a bill never takes
  an allowance from a record the bill charged, as online rating would not let it either.

The batch run "under the bills" is the one whose lines the period held when the bill run read them (``pins``,
recorded by the run); a later batch run that replaced the period (a closing run after the bills) changes
nothing here: a file rated online counts as online for a bill pinned to the batch run (or none) its commit
carried on from. A bill whose run recorded none is taken to be under the period's batch run now.

Counters are per subscriber, so each subscriber's ordinals need only be right among its own records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

ARRIVAL = "_arrival"  # the column ``draw_order`` adds: pass it to ``rate(..., arrival=ARRIVAL)``
UNPLACED = "_unplaced"  # and this one: a billed record whose rating the lake does not record (put in time order)
PART = "_part"  # the column naming the usage part (file name) each record was read from
_KEY = ["msisdn", "source", "record_id"]


@dataclass(frozen=True)
class RatedOrder:
    """What the lake says about how a period's usage was rated.

    ``batch``: the batch run whose lines the period holds (None: none), named as online rating names it;
    ``batch_parts``: the usage parts (file names) it rated; ``online``: (usage part, batch run its commit carried
    on from) of each file rated online with usage in the period, in the order they were rated."""

    batch: str | None = None
    batch_parts: frozenset[str] = frozenset()
    online: tuple[tuple[str, str | None], ...] = ()


def draw_order(usage: pl.DataFrame, billed: pl.DataFrame, order: RatedOrder,
               pins: Mapping[str, str | None] | None = None) -> pl.DataFrame:
    """``usage`` (with ``PART``) with an ``ARRIVAL`` ordinal on each record (see the module's docstring), and
    ``UNPLACED``: whether the record is billed but neither a batch run nor an online commit the lake records rated
    it (no manifest names its part, no commit its file), so that its place was assumed (time order, first).

    ``billed``: the records the bills hold (``msisdn``, ``source``, ``record_id``; a snapshot of billed lines
    will do); ``pins``: msisdn → the batch run its bill's lines were on when the bill was issued (None: no batch
    run); a subscriber it does not name is taken to be under ``order.batch``."""
    pins = pins or {}
    n = len(order.online)
    logged = pl.DataFrame(
        {PART: [p for p, _ in order.online], "_pos": list(range(1, n + 1)), "_under": [b for _, b in order.online]},
        schema={PART: pl.String(), "_pos": pl.Int64(), "_under": pl.String()},
    ).unique(PART, keep="first", maintain_order=True)
    held = (billed.select(pl.col("msisdn").cast(pl.String), pl.col("source").cast(pl.String).fill_null(""),
                          pl.col("record_id").cast(pl.String))
            .unique().with_columns(pl.lit(True).alias("_billed")))
    pinned = pl.DataFrame({"msisdn": list(pins), "_pin": list(pins.values()), "_pinned": [True] * len(pins)},
                          schema={"msisdn": pl.String(), "_pin": pl.String(), "_pinned": pl.Boolean()})
    frame = (usage.with_columns(pl.col("source").cast(pl.String).fill_null("").alias("_src"))
             .join(held.rename({"source": "_src"}), on=["msisdn", "_src", "record_id"], how="left")
             .join(logged, on=PART, how="left")
             .join(pinned, on="msisdn", how="left"))
    pin = pl.when(pl.col("_pinned").fill_null(False)).then(pl.col("_pin")).otherwise(pl.lit(order.batch, dtype=pl.String()))
    current = pin.eq_missing(pl.lit(order.batch, dtype=pl.String()))
    online = pl.col("_pos").is_not_null() & (current | pl.col("_under").eq_missing(pin))
    on_bill = (pl.when(current & pl.col(PART).is_in(sorted(order.batch_parts))).then(0)
               .when(online).then(pl.col("_pos"))
               .otherwise(0))
    after = pl.when(pl.col("_pos").is_not_null()).then(n + pl.col("_pos")).otherwise(2 * n + 1)
    ordinal = pl.when(pl.col("_billed").fill_null(False)).then(on_bill).otherwise(after)
    # rated by the batch run under the bill: one it was issued under before today's, today's when its manifest
    # names the part, or one from before manifests (which named no part)
    by_batch = pin.is_not_null() & (~current | pl.lit(not order.batch_parts) | pl.col(PART).is_in(sorted(order.batch_parts)))
    return frame.with_columns(
        ordinal.cast(pl.Int64).rank("dense").cast(pl.Int64).sub(1).alias(ARRIVAL),
        (pl.col("_billed").fill_null(False) & ~online & ~by_batch).alias(UNPLACED),
    ).drop("_src", "_billed", "_pos", "_under", "_pin", "_pinned")


def logged_parts(files: Sequence[tuple[str, Sequence[str] | None, Sequence[str], str | None]], period: str,
                 ) -> tuple[tuple[str, str | None], ...]:
    """``RatedOrder.online`` from the files of the rating log in the order they were rated, each (file, its usage
    part names or None, its periods, the batch run its commit carried on from in ``period``): the files with usage
    in ``period``. A file whose parts the log does not name has mediation's: the first 24 characters of its
    content hash (``<hash[:24]>.parquet`` in each period's directory)."""
    out: list[tuple[str, str | None]] = []
    for file, parts, periods, batch in files:
        if period not in periods:
            continue
        for part in parts if parts is not None else [f"{file[:24]}.parquet"]:
            out.append((part, batch))
    return tuple(out)
