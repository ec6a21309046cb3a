"""``rate``: clean usage × catalog × subscribers → rated lines. Pure (no I/O), vectorised with Polars.

The kernel is partitioned by subscriber: every counter (allowances, daily caps) is per subscriber, so rating
any set of whole subscribers gives the same lines as rating them inside a larger batch. The steps:

1. each record's situation: plan (from the subscriber), kind, direction, destination zone (longest prefix of
   ``peer``), roaming zone (``roaming_country``), time band at its start;
2. a call whose rule or allowances depend on the band is cut where the band changes (``_split_bands``);
3. the distinct situations are resolved against the catalog (``_resolve``) and joined back;
4. lines are ordered by subscriber, start, source, record id and offset (never by input order), billed units
   are computed per rate step, allowances are drawn with running sums per subscriber and allowance, and
   the rest is priced in exact integers and rounded once per line (``_steps``);
5. daily caps, then the output: one line per allowance a piece drew from and one for its charged rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta

import polars as pl
import pyarrow as pa

from fairtel.catalog import Catalog
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.money import minor_units
from fairtel.core.time import Period
from fairtel.rating._lines import (
    RATED_COLUMNS,
    STATE_COLUMNS,
    UNRATED_COLUMNS,
    RatingResult,
    Unit,
    UnratedReason,
    empty,
)
from fairtel.rating._resolve import (
    DIRECTIONS,
    KINDS,
    Dimensions,
    band_jumps,
    key_table,
    seconds_to_band_change,
)
from fairtel.rating._steps import billed_units
from fairtel.rating._vas import VasGate, apply_gate, no_gate

_INPUT: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "source": pl.String(),
    "msisdn": pl.String(),
    "kind": pl.String(),
    "direction": pl.String(),
    "started_at": pl.Datetime("us", "UTC"),
    "duration_s": pl.Int64(),
    "bytes_up": pl.Int64(),
    "bytes_down": pl.Int64(),
    "peer": pl.String(),
    "offer_id": pl.String(),
    "amount_minor": pl.Int64(),
    "currency": pl.String(),
    "roaming_country": pl.String(),
}
_REQUIRED = ("record_id", "msisdn", "kind", "started_at")
_UNIT_OF_KIND = {"voice": Unit.SECOND.value, "sms": Unit.MESSAGE.value, "data": Unit.BYTE.value, "vas": Unit.ITEM.value}
# a record's pieces are consumed at the record's start, so batches cut in time never reorder them
_ORDER = ["msisdn", "_t0", "source", "record_id", "offset"]


def _as_frame(data: pl.DataFrame | pa.Table, what: str) -> pl.DataFrame:
    frame = data if isinstance(data, pl.DataFrame) else pl.from_arrow(data)
    if not isinstance(frame, pl.DataFrame):  # pragma: no cover - a Table always becomes a frame
        raise InvalidInputError([Problem(what, None, None, "not a table")], what=what)
    return frame


def normalise_usage(usage: pl.DataFrame | pa.Table) -> pl.DataFrame:
    """The usage columns rating reads, typed; optional ones absent from the input are null."""
    frame = _as_frame(usage, "usage")
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise InvalidInputError([Problem("usage", None, c, "column missing") for c in missing], what="usage")
    ts = frame.schema["started_at"]
    if not isinstance(ts, pl.Datetime) or ts.time_zone is None:
        raise InvalidInputError([Problem("usage", None, "started_at", "must be a time-zone-aware timestamp")], what="usage")
    cols = [
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in _INPUT.items()
        if c != "started_at"
    ]
    cols.append(pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    return frame.select(cols).with_columns(pl.col("source").fill_null("")).select(list(_INPUT))


def normalise_subscribers(subscribers: pl.DataFrame | pa.Table | Mapping[str, str]) -> pl.DataFrame:
    if isinstance(subscribers, Mapping):
        frame = pl.DataFrame({"msisdn": list(subscribers.keys()), "plan_id": list(subscribers.values())},
                             schema={"msisdn": pl.String(), "plan_id": pl.String()})
    else:
        frame = _as_frame(subscribers, "subscribers")
        missing = [c for c in ("msisdn", "plan_id") if c not in frame.columns]
        if missing:
            raise InvalidInputError([Problem("subscribers", None, c, "column missing") for c in missing], what="subscribers")
        frame = frame.select(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String))
    dup = frame.filter(pl.col("msisdn").is_duplicated())["msisdn"].unique().sort().head(5).to_list()
    if dup:
        raise InvalidInputError([Problem("subscribers", None, "msisdn", f"number listed twice: {m}") for m in dup],
                                what="subscribers")
    return frame


def _period_of(period: Period | str, catalog: Catalog) -> Period:
    tz = catalog.operator.timezone
    return Period.parse(period, tz) if isinstance(period, str) else Period(period.year, period.month, tz)


def _check_period(usage: pl.DataFrame, period: Period) -> None:
    start = pl.lit(period.start.astimezone(UTC)).dt.cast_time_unit("us")
    end = pl.lit(period.end.astimezone(UTC)).dt.cast_time_unit("us")
    outside = usage.filter((pl.col("started_at") < start) | (pl.col("started_at") >= end))
    if outside.height:
        examples = ", ".join(outside["record_id"].head(3).to_list())
        raise InvalidInputError(
            [Problem("usage", None, "started_at", f"{outside.height} record(s) outside period {period.key} ({examples})")],
            what="usage",
        )


def _situations(lines: pl.DataFrame, dims: Dimensions) -> pl.DataFrame:
    """The code columns ``_p _k _d _z _r _b`` and the packed ``_key`` of each line (``Dimensions.key_expr``);
    ``zone``, ``roaming_zone`` and ``band`` stay as enums for the output."""
    cat = dims.catalog
    # numbers read as ``Catalog.zone_for`` reads them: a leading "+" or "00", spaces and dashes dropped
    number = pl.col("peer").str.strip_chars().str.replace_all(" ", "", literal=True).str.replace_all("-", "", literal=True)
    e164 = (pl.when(number.str.starts_with("+")).then(number.str.slice(1))
            .when(number.str.starts_with("00")).then(number.str.slice(2)).otherwise(number))
    zone = cat.zone_expr(e164).cast(pl.Enum(dims.zones))
    countries = cat.country_table()
    fallback = next((z.id for z in cat.roaming_zones if z.fallback), None)
    abroad = pl.col("roaming_country").is_not_null() & (pl.col("roaming_country") != "")
    roaming = pl.when(abroad).then(
        pl.col("roaming_country").str.to_uppercase().replace_strict(countries, default=fallback, return_dtype=pl.String)
    ).cast(pl.Enum(dims.roaming))
    return lines.with_columns(
        pl.when(pl.col("kind").is_in(["voice", "sms"])).then(zone).alias("zone"),
        roaming.alias("roaming_zone"),
        cat.band_expr("started_at").cast(pl.Enum(dims.bands)).alias("band"),
        pl.col("plan_id").cast(pl.Enum(dims.plans)).to_physical().alias("_p"),
        pl.col("kind").cast(pl.Enum(KINDS)).to_physical().alias("_k"),
        pl.col("direction").replace_strict({d: i for i, d in enumerate(DIRECTIONS)}, default=len(DIRECTIONS),
                                           return_dtype=pl.Int64).alias("_d"),
    ).with_columns(
        pl.col("zone").to_physical().fill_null(len(dims.zones)).alias("_z"),
        pl.col("roaming_zone").to_physical().fill_null(len(dims.roaming)).alias("_r"),
        pl.col("band").to_physical().alias("_b"),
    ).with_columns(dims.key_expr()).drop("peer", "roaming_country", "direction", "kind", "plan_id", "_p", "_d", "_z", "_r")


def _split_bands(lines: pl.DataFrame, dims: Dimensions) -> pl.DataFrame:
    """Cut calls whose pricing depends on the band where the band changes.

    Rule: a call is priced in each band it crosses. The pieces share the call's unit positions (``offset``),
    so a first-minute step or the connect fee applies once, to the call's first piece; a piece's last increment
    rounded up runs on into the next band (``_carry_rounding``, once the rates are known).
    Pieces are found on the catalog's local wall clock.
    """
    voice = KINDS.index("voice")
    keys = lines.filter(pl.col("_k") == voice)["_key"].unique().to_list()
    sensitive = [k for k in keys if dims.band_sensitive(k)]
    if not sensitive:
        return lines
    # where the clocks jump over a band change, from the first start to the end of the longest call
    first, last, longest = lines.select(
        pl.col("started_at").min().alias("a"), pl.col("started_at").max().alias("b"),
        pl.col("_qty").filter(pl.col("_k") == voice).max().alias("q"),
    ).row(0)
    jumps = [] if first is None else band_jumps(dims.catalog, first, last + timedelta(seconds=longest or 0))
    to_change = seconds_to_band_change(dims.catalog, pl.col("started_at"), jumps=jumps)
    crossing = (pl.col("_key").is_in(sensitive) & (pl.col("_qty") > to_change)).fill_null(False)
    mask = lines.select(crossing).to_series()
    if not mask.any():
        return lines
    keep = lines.filter(~mask)
    todo = lines.filter(mask)
    pieces = []
    while todo.height:
        todo = todo.with_columns(to_change.alias("_left"))
        ends = pl.col("_qty") <= pl.col("_left")
        pieces.append(todo.filter(ends).drop("_left"))
        cut = todo.filter(~ends)
        pieces.append(cut.with_columns(pl.col("_left").alias("_qty")).drop("_left"))
        todo = cut.with_columns(
            (pl.col("started_at") + pl.duration(seconds=pl.col("_left"))).alias("started_at"),
            (pl.col("offset") + pl.col("_left")).alias("offset"),
            (pl.col("_qty") - pl.col("_left")).alias("_qty"),
        ).drop("_left")
    nb = dims.sizes[5]
    split = pl.concat(pieces).with_columns(
        dims.catalog.band_expr("started_at").cast(pl.Enum(dims.bands)).alias("band"),
    ).with_columns(
        (pl.col("_key") - pl.col("_key") % nb + pl.col("band").to_physical().cast(pl.Int64)).alias("_key"),
        pl.col("band").to_physical().alias("_b"),
        pl.len().over("_row").cast(pl.Int32).alias("_pieces"),
    )
    return pl.concat([keep, split.select(keep.columns)])


def _carry_rounding(lines: pl.DataFrame, table: pl.DataFrame, dims: Dimensions) -> pl.DataFrame:
    """Each piece of a cut call starts where the pieces before it were billed up to (CGRateS removes what a span
    rounded up to its increment overlaps of the next ones), or at its band change if later; it covers the call up
    to the next piece's start, and a piece left with nothing is dropped. Walked record by record."""
    cut = lines.filter(pl.col("_pieces") > 1)
    if cut.height == 0:
        return lines
    rates = table["rate_id"].to_list()
    out = []
    for (_,), group in cut.sort("_row", "offset").group_by(["_row"], maintain_order=True):
        rows = group.to_dicts()
        end = rows[-1]["offset"] + rows[-1]["_qty"]
        reach, starts = 0, []
        for r in rows:
            start = min(max(r["offset"], reach), end)
            own = max(r["offset"] + r["_qty"] - start, 0)
            rate = rates[r["_ki"]]
            used = own if rate is None else sum(b for _, b in billed_units(dims.rates[rate], start, own))
            starts.append(start)
            reach = start + used
        kept = []
        for i, r in enumerate(rows):
            span = (starts[i + 1] if i + 1 < len(rows) else end) - starts[i]
            if span > 0:
                kept.append(r | {"started_at": r["started_at"] + timedelta(seconds=starts[i] - r["offset"]),
                                 "offset": starts[i], "_qty": span})
        out.extend(r | {"_pieces": len(kept)} for r in kept)
    moved = pl.DataFrame(out, schema=lines.schema)
    return pl.concat([lines.filter(pl.col("_pieces") == 1), moved])


def _order(lines: pl.DataFrame, data: pl.DataFrame) -> pl.DataFrame:
    """Subscriber, record start, then source, record id and offset: never the input order. The string
    tie-breakers are only needed (and only fetched) when two records of a subscriber start together."""
    lines = lines.sort("_m", "_t0", "_row", "offset")  # _row: provisional tie-break
    same = (pl.col("_m") == pl.col("_m").shift(1)) & (pl.col("_t0") == pl.col("_t0").shift(1)) & (
        pl.col("_row") != pl.col("_row").shift(1))
    if not lines.select(same.any()).item():
        return lines
    ties = lines.with_columns(data["source"].gather(lines["_row"]).alias("_s"), data["record_id"].gather(lines["_row"]).alias("_id"))
    return ties.sort("_m", "_t0", "_s", "_id", "offset").drop("_s", "_id")


def _params(lines: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """The situation's rule, steps and allowance slots on each line, gathered by ``_ki``."""
    cols = [c for c in table.columns if c not in ("_key", "rule_id", "rate_id")]
    return lines.with_columns(
        [pl.lit(table[c]).gather(pl.col("_ki")).alias(c) for c in cols]
        + [pl.lit(table["rate_id"].is_not_null()).gather(pl.col("_ki")).alias("_hasrate")]
    )


def _bill_and_draw(lines: pl.DataFrame, slots: int, steps: int, opening: pl.DataFrame | None) -> pl.DataFrame:
    """Billed units per step, allowance draws in time order, then the charged amount rounded once."""
    hi = pl.col("offset") + pl.col("_qty")
    billed = []
    for s in range(steps):
        lo = pl.max_horizontal(pl.col("offset"), pl.col(f"_st{s}"))
        top = pl.min_horizontal(hi, pl.col(f"_en{s}").fill_null(hi))
        units = (top - lo).clip(lower_bound=0)
        billed.append(((units + pl.col(f"_inc{s}") - 1) // pl.col(f"_inc{s}") * pl.col(f"_inc{s}")).alias(f"_b{s}"))
    lines = lines.with_columns(billed).with_columns(pl.sum_horizontal([f"_b{s}" for s in range(steps)]).alias("_billed"))
    lines = lines.with_columns(
        pl.when(pl.col("_hasrate")).then(pl.col("_billed")).otherwise(pl.col("_qty")).alias("_demand"),
        pl.lit(False).alias("throttled"),
    ).with_columns(pl.col("_demand").alias("_left"))
    for j in range(slots):
        a = f"_a{j}"
        has = pl.col(a).is_not_null()
        lines = lines.with_columns(pl.when(has).then(pl.col("_left")).otherwise(0).alias("_d"))
        if opening is not None and opening.height:
            lines = lines.join(opening.rename({"_ac": a, "used": "_open"}), on=["_m", a], how="left", maintain_order="left")
            lines = lines.with_columns(pl.col("_open").fill_null(0))
        else:
            lines = lines.with_columns(pl.lit(0, dtype=pl.Int64).alias("_open"))
        before = pl.col("_d").cum_sum().over("_m", a) - pl.col("_d") + pl.col("_open")
        lines = lines.with_columns(before.alias(f"_before{j}")).with_columns(
            pl.when(~has)
            .then(0)
            .when(pl.col(f"_aq{j}").is_null())
            .then(pl.col("_d"))
            .otherwise(pl.min_horizontal(pl.col("_d"), pl.col(f"_aq{j}") - pl.col(f"_before{j}")).clip(lower_bound=0))
            .alias(f"_draw{j}")
        ).with_columns(
            (pl.col("_left") - pl.col(f"_draw{j}")).alias("_left"),
            (pl.col("throttled") | (has & (pl.col(f"_before{j}") + pl.col(f"_draw{j}") > pl.col(f"_at{j}"))).fill_null(False)).alias("throttled"),
        ).drop("_d", "_open")
    drawn = pl.sum_horizontal([pl.col(f"_draw{j}") for j in range(slots)]) if slots else pl.lit(0, dtype=pl.Int64)
    lines = lines.with_columns(drawn.alias("_drawn"))

    # charged units per step: the allowances took the line's first billed units
    numerator = pl.lit(0, dtype=pl.Int64)
    taken = pl.lit(0, dtype=pl.Int64)
    for s in range(steps):
        take = pl.min_horizontal((pl.col("_drawn") - taken).clip(lower_bound=0), pl.col(f"_b{s}"))
        numerator = numerator + (pl.col(f"_b{s}") - take) * pl.col(f"_num{s}")
        taken = taken + pl.col(f"_b{s}")
    connect = (pl.col("offset") == 0) & (pl.col("_drawn") == 0) & (pl.col("_qty") > 0)
    numerator = numerator + pl.when(connect).then(pl.col("_cf")).otherwise(0)
    lines = lines.with_columns((numerator * pl.col("_rf")).alias("_n"))
    q = pl.col("_n") // pl.col("_den")
    r = pl.col("_n") % pl.col("_den")
    up = (
        pl.when(pl.col("_rmode") == 0).then(r > 0)
        .when(pl.col("_rmode") == 2).then(2 * r >= pl.col("_den"))
        .when(pl.col("_rmode") == 3).then((2 * r > pl.col("_den")) | ((2 * r == pl.col("_den")) & (q % 2 == 1)))
        .otherwise(False)
    )
    amount = (q + up.cast(pl.Int64)) * pl.col("_mf")
    capped = pl.col("_maxc").is_not_null() & (amount > pl.col("_maxc"))
    return lines.with_columns(
        pl.when(~pl.col("_hasrate")).then(0).when(capped).then(pl.col("_maxc")).otherwise(amount).alias("amount_minor"),
        (pl.col("_hasrate") & capped).alias("capped"),
        (pl.col("_demand") - pl.col("_drawn")).alias("charged_quantity"),
    )


def _cap_cut_calls(lines: pl.DataFrame) -> pl.DataFrame:
    """A call cut at band changes costs at most its rates' max cost in all: each piece, in offset order, costs at
    most what its rate's cap leaves after the pieces before it."""
    amounts = lines["amount_minor"].to_list()
    flags = lines["capped"].to_list()
    spent: dict[int, int] = {}
    for i, (row, maxc) in enumerate(zip(lines["_row"].to_list(), lines["_maxc"].to_list(), strict=True)):
        before = spent.get(row, 0)
        if maxc is not None and amounts[i] > max(maxc - before, 0):
            amounts[i], flags[i] = max(maxc - before, 0), True
        spent[row] = before + amounts[i]
    return lines.with_columns(pl.Series("amount_minor", amounts, dtype=pl.Int64), pl.Series("capped", flags))


def _daily_caps(
    lines: pl.DataFrame, table: pl.DataFrame, tz: str, opening: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply rules' daily caps in time order; returns the lines and the cap counters they moved (by ``_m``)."""
    idx = lines.with_row_index("_i").filter(pl.col("_cap").is_not_null() & (pl.col("amount_minor") > 0))
    if idx.height == 0:
        return lines, pl.DataFrame(schema={"_m": lines.schema["_m"], "counter": pl.String(), "used": pl.Int64()})
    idx = idx.select(
        "_i", "_m", "_cap", "amount_minor",
        pl.concat_str(pl.lit("cap:"), pl.lit(table["rule_id"]).gather(pl.col("_ki")), pl.lit(":"),
                      pl.col("started_at").dt.convert_time_zone(tz).dt.strftime("%Y-%m-%d")).alias("counter"),
    )
    if opening is not None and opening.height:
        idx = idx.join(opening, on=["_m", "counter"], how="left", maintain_order="left")
        idx = idx.with_columns(pl.col("used").fill_null(0).alias("_open")).drop("used")
    else:
        idx = idx.with_columns(pl.lit(0, dtype=pl.Int64).alias("_open"))
    before = pl.col("amount_minor").cum_sum().over("_m", "counter") - pl.col("amount_minor") + pl.col("_open")
    idx = idx.with_columns(
        pl.min_horizontal(pl.col("amount_minor"), (pl.col("_cap") - before).clip(lower_bound=0)).alias("_new")
    )
    amounts = lines["amount_minor"].scatter(idx["_i"], idx["_new"])
    flags = lines["capped"].scatter(idx["_i"], idx["_new"] < idx["amount_minor"])
    moved = idx.group_by("_m", "counter").agg(pl.col("_new").sum().alias("used"))
    return lines.with_columns(amounts, flags), moved


def _explode_parts(lines: pl.DataFrame, slots: int) -> pl.DataFrame:
    """One output line per allowance a piece drew from, then one for its charged rest (or the whole piece
    when nothing was drawn). Only pieces with several parts are exploded."""
    charged_part = (pl.col("charged_quantity") > 0) | (pl.col("_drawn") == 0)
    count = pl.lit(0, dtype=pl.Int64)
    ranks: list[pl.Expr] = []
    for j in range(slots):
        ranks.append(count.alias(f"_rank{j}"))
        count = count + (pl.col(f"_draw{j}") > 0).cast(pl.Int64)
    lines = lines.with_columns((count + charged_part.cast(pl.Int64)).alias("_parts"), *ranks)
    single = lines.filter(pl.col("_parts") == 1).with_columns(pl.lit(0, dtype=pl.Int64).alias("_part"))
    multi = lines.filter(pl.col("_parts") > 1)
    if multi.height:
        multi = multi.with_columns(pl.int_ranges(0, pl.col("_parts")).alias("_part")).explode("_part")
    lines = pl.concat([single, multi]) if multi.height else single

    def pick(prefix: str) -> pl.Expr:
        out: pl.Expr = pl.lit(None)
        for j in reversed(range(slots)):
            out = pl.when((pl.col(f"_draw{j}") > 0) & (pl.col(f"_rank{j}") == pl.col("_part"))).then(pl.col(f"{prefix}{j}")).otherwise(out)
        return out

    is_charge = ((pl.col("_part") == pl.col("_parts") - 1) & charged_part) if slots else pl.lit(True)
    # usage each part covers: allowance parts first, in slot order, the charged part the rest
    share: pl.Expr = pl.lit(None, dtype=pl.Int64)
    for j in reversed(range(slots)):
        before_j = pl.sum_horizontal([pl.col(f"_draw{i}") for i in range(j)]) if j else pl.lit(0, dtype=pl.Int64)
        part_qty = pl.min_horizontal(pl.col(f"_draw{j}"), (pl.col("_qty") - before_j).clip(lower_bound=0))
        share = pl.when((pl.col(f"_draw{j}") > 0) & (pl.col(f"_rank{j}") == pl.col("_part"))).then(part_qty).otherwise(share)
    charged_share = (pl.col("_qty") - pl.col("_drawn")).clip(lower_bound=0)
    return lines.with_columns(
        pl.when(is_charge).then(None).otherwise(pick("_a")).cast(pl.Int32).alias("_aid"),
        pl.when(is_charge).then(None).otherwise(pick("_before")).cast(pl.Int64).alias("allowance_before"),
        pl.when(is_charge).then(0).otherwise(pick("_draw")).cast(pl.Int64).alias("allowance_used"),
        pl.when(is_charge).then(pl.col("charged_quantity")).otherwise(0).alias("charged_quantity"),
        pl.when(is_charge).then(pl.col("amount_minor")).otherwise(0).alias("amount_minor"),
        pl.when(is_charge).then(pl.col("capped")).otherwise(False).alias("capped"),
        pl.when(is_charge).then(charged_share).otherwise(share).alias("quantity"),
    )


def _line_numbers(lines: pl.DataFrame) -> pl.DataFrame:
    """``line`` counts a record's output lines in order; only split records need a window."""
    lines = lines.with_columns(pl.col("_part").cast(pl.Int32).alias("line"))
    multi = lines.with_row_index("_i").filter(pl.col("_pieces") > 1)
    if multi.height == 0:
        return lines
    numbered = multi.sort("_row", "offset", "_part").select(
        "_i", pl.int_range(pl.len()).over("_row").cast(pl.Int32).alias("line"))
    return lines.with_columns(lines["line"].scatter(numbered["_i"], numbered["line"]))


def _closing(lines: pl.DataFrame, slots: int, caps: pl.DataFrame, opening: pl.DataFrame | None,
             dims: Dimensions) -> pl.DataFrame:
    """Counters after this batch, keyed by ``_m`` (mapped back to msisdn by the caller)."""
    names = pl.lit(pl.Series(dims.allowances, dtype=pl.String))
    moved = [
        lines.filter(pl.col(f"_draw{j}") > 0).group_by("_m", f"_a{j}").agg(pl.col(f"_draw{j}").sum().alias("used"))
        .select("_m", names.gather(pl.col(f"_a{j}")).alias("counter"), "used")
        for j in range(slots)
    ]
    frames = [*moved, caps]
    if opening is not None:
        frames.append(opening.select("_m", "counter", "used"))
    state = pl.concat([f.select("_m", pl.col("counter").cast(pl.String), pl.col("used").cast(pl.Int64)) for f in frames])
    return state.group_by("_m", "counter").agg(pl.col("used").sum())


def _rate_vas(vas: pl.DataFrame, catalog: Catalog, gate: VasGate, period: str) -> pl.DataFrame:
    if vas.height == 0:
        return empty(RATED_COLUMNS)
    vas = vas.sort("msisdn", "started_at", "source", "record_id")
    verdicts = apply_gate(gate, vas.select("record_id", "source", "msisdn", "offer_id", "started_at", "amount_minor", "currency"))
    currency = catalog.operator.currency
    prices = {o.id: int(o.price.scaleb(minor_units(currency))) for o in catalog.offers}
    included = [(p.id, o) for p in catalog.plans for o in p.included_offers]
    inc = pl.DataFrame({"plan_id": [p for p, _ in included], "offer_id": [o for _, o in included]},
                       schema={"plan_id": pl.String(), "offer_id": pl.String()}).with_columns(pl.lit(True).alias("_included"))
    vas = pl.concat([vas.drop("amount_minor", "currency"), verdicts], how="horizontal").join(
        inc, on=["plan_id", "offer_id"], how="left", maintain_order="left")
    price = pl.col("offer_id").replace_strict(prices, default=None, return_dtype=pl.Int64)
    billed = pl.col("billable") & price.is_not_null() & pl.col("_included").is_null()
    out = vas.with_columns(
        pl.lit(0, dtype=pl.Int32).alias("line"),
        pl.lit(period).alias("period"),
        pl.when(pl.col("_included")).then(pl.concat_str(pl.lit("included/"), pl.col("offer_id")))
        .otherwise(pl.concat_str(pl.lit("offer/"), pl.col("offer_id"))).alias("rule_id"),
        pl.lit(0, dtype=pl.Int64).alias("offset"),
        pl.lit(1, dtype=pl.Int64).alias("quantity"),
        pl.lit(Unit.ITEM.value).alias("unit"),
        pl.when(billed).then(1).otherwise(0).cast(pl.Int64).alias("charged_quantity"),
        pl.when(billed).then(price).otherwise(0).cast(pl.Int64).alias("amount_minor"),
        pl.lit(currency).alias("currency"),
        pl.lit(False).alias("capped"),
        pl.lit(False).alias("throttled"),
    )
    return out.select([pl.col(c) if c in out.columns else pl.lit(None).alias(c) for c in RATED_COLUMNS]).cast(
        RATED_COLUMNS  # type: ignore[arg-type]
    )


def _unrated(frame: pl.DataFrame, reason: pl.Expr, period: str) -> pl.DataFrame:
    return frame.select(
        "record_id", "source", "msisdn", pl.lit(period).alias("period"), "started_at", "kind",
        pl.col("plan_id").cast(pl.String), reason.alias("reason"),
    ).cast(UNRATED_COLUMNS)  # type: ignore[arg-type]


def _reason(plans: tuple[str, ...]) -> pl.Expr:
    return (
        pl.when(pl.col("plan_id").is_null()).then(pl.lit(UnratedReason.UNKNOWN_SUBSCRIBER.value))
        .when(~pl.col("plan_id").is_in(plans)).then(pl.lit(UnratedReason.UNKNOWN_PLAN.value))
        .when(~pl.col("kind").is_in([*KINDS, "vas"])).then(pl.lit(UnratedReason.UNKNOWN_KIND.value))
        .when(pl.col("kind").is_in(KINDS) & (pl.col("_qty").is_null() | (pl.col("_qty") < 0)))
        .then(pl.lit(UnratedReason.MISSING_QUANTITY.value))
    )


_QUANTITY = (
    pl.when(pl.col("kind") == "voice").then(pl.col("duration_s"))
    .when(pl.col("kind") == "sms").then(pl.lit(1, dtype=pl.Int64))
    .when(pl.col("kind") == "data").then(
        pl.when(pl.col("bytes_up").is_null() & pl.col("bytes_down").is_null()).then(None)
        .otherwise(pl.col("bytes_up").fill_null(0) + pl.col("bytes_down").fill_null(0))
    )
)


def rate(
    usage: pl.DataFrame | pa.Table,
    catalog: Catalog,
    subscribers: pl.DataFrame | pa.Table | Mapping[str, str],
    *,
    period: Period | str,
    gate: VasGate | None = None,
    opening_state: pl.DataFrame | None = None,
    allowances: bool = True,
) -> RatingResult:
    """Rate one billing period's usage of some subscribers.

    ``subscribers``: msisdn → plan_id (a frame with both columns, or a mapping). ``gate``: the consent gate
    for VAS records (default: nothing billable). ``opening_state``: counters (STATE_COLUMNS) from usage of the
    same period rated before. ``allowances=False`` prices usage as if the plan had none (quotes).
    Every record must start inside ``period`` (on the catalog's clock).
    """
    per = _period_of(period, catalog)
    dims = Dimensions.of(catalog)
    data = normalise_usage(usage)
    _check_period(data, per)
    subs = normalise_subscribers(subscribers)
    data = data.join(subs, on="msisdn", how="left").with_row_index("_row")
    data = data.with_columns(_QUANTITY.alias("_qty")).with_columns(_reason(dims.plans).alias("_reason"))
    unrated = [_unrated(data.filter(pl.col("_reason").is_not_null()), pl.col("_reason"), per.key)]
    rated_vas = _rate_vas(data.filter(pl.col("_reason").is_null() & (pl.col("kind") == "vas")), catalog,
                          gate or no_gate, per.key)

    lines = data.select("_row", "msisdn", "started_at", "kind", "direction", "peer", "roaming_country", "plan_id", "_qty",
                        "_reason").filter(pl.col("_reason").is_null() & pl.col("kind").is_in(KINDS)).drop("_reason")
    # the subscriber as an integer when every number is plain digits (faster windows), else the string
    as_int = lines["msisdn"].cast(pl.Int64, strict=False)
    numeric = as_int.null_count() == 0 and not lines["msisdn"].str.starts_with("0").any()
    key_of = (lambda e: e.cast(pl.Int64)) if numeric else (lambda e: e)
    lines = lines.with_columns(
        key_of(pl.col("msisdn")).alias("_m"), pl.col("started_at").alias("_t0"),
        pl.lit(0, dtype=pl.Int64).alias("offset"), pl.lit(1, dtype=pl.Int32).alias("_pieces"),
    ).drop("msisdn")
    lines = _split_bands(_situations(lines, dims), dims)

    keys = lines["_key"].unique().sort()
    table, slots, steps = key_table(dims, keys.to_list())
    if not allowances:
        table = table.drop([c for c in table.columns if c.startswith(("_a", "_aq", "_at"))])
        slots = 0
    lines = lines.with_columns(pl.col("_key").replace_strict(keys, pl.Series(range(len(keys)), dtype=pl.Int64)).alias("_ki"))
    no_rule = pl.lit(table["rule_id"].is_null()).gather(pl.col("_ki"))
    missing = lines.filter(no_rule)
    if missing.height:
        unrated.append(_unrated(data[missing["_row"].unique().sort()].with_columns(), pl.lit(UnratedReason.NO_RULE.value), per.key))
        lines = lines.filter(~no_rule)
    lines = _carry_rounding(lines, table, dims)

    opening = None
    if opening_state is not None:
        opening = opening_state.select(list(STATE_COLUMNS)).cast(STATE_COLUMNS).select(  # type: ignore[arg-type]
            key_of(pl.col("msisdn")).alias("_m"), "counter", "used",
            pl.col("counter").replace_strict(dims.allowances, pl.Series(range(len(dims.allowances)), dtype=pl.Int32),
                                             default=None).alias("_ac"),
        )
    lines = _params(_order(lines, data), table)
    lines = _bill_and_draw(lines, slots, steps, None if opening is None else opening.filter(pl.col("_ac").is_not_null()).select("_m", "_ac", "used"))
    too_large = pl.col("_maxu").is_not_null() & (pl.col("_billed") > pl.col("_maxu"))
    if lines.select(too_large.any()).item():
        bad = lines.filter(too_large)["_row"].unique().sort()
        unrated.append(_unrated(data[bad], pl.lit(UnratedReason.QUANTITY_TOO_LARGE.value), per.key))
        lines = lines.filter(~pl.col("_row").is_in(bad.implode()))
    lines = _cap_cut_calls(lines)
    lines, caps = _daily_caps(lines, table, catalog.operator.timezone, opening)
    closing = _closing(lines, slots, caps, opening, dims)
    lines = _line_numbers(_explode_parts(lines, slots))

    row = pl.col("_row")
    names = pl.lit(pl.Series(dims.allowances, dtype=pl.String))
    rated = lines.select(
        *(pl.lit(data[c]).gather(row).alias(c) for c in ("record_id", "source", "msisdn")),
        "line", pl.lit(per.key).alias("period"), "started_at",
        *(pl.lit(data[c]).gather(row).alias(c) for c in ("kind", "direction", "roaming_country", "plan_id")),
        pl.lit(table["rule_id"]).gather(pl.col("_ki")).alias("rule_id"),
        pl.lit(table["rate_id"]).gather(pl.col("_ki")).alias("rate_id"),
        "zone", "roaming_zone", "band", "offset", "quantity",
        pl.lit(pl.Series(list(_UNIT_OF_KIND.values()))).gather(pl.col("_k")).alias("unit"),
        names.gather(pl.col("_aid")).alias("allowance_id"),
        "allowance_before", "allowance_used", "charged_quantity", "amount_minor",
        pl.lit(catalog.operator.currency).alias("currency"), "capped", "throttled",
        pl.lit(None, dtype=pl.String).alias("verdict"), pl.lit(None, dtype=pl.String).alias("subscription_id"),
    ).select(list(RATED_COLUMNS)).cast(RATED_COLUMNS)  # type: ignore[arg-type]

    state = closing.select(
        (pl.col("_m").cast(pl.String) if numeric else pl.col("_m")).alias("msisdn"), "counter", "used"
    ).sort("msisdn", "counter")
    return RatingResult(
        pl.concat([rated, rated_vas]),
        pl.concat(unrated).sort("msisdn", "started_at", "source", "record_id"),
        state.cast(STATE_COLUMNS),  # type: ignore[arg-type]
    )
