"""``rate``: clean usage × catalog × subscribers → rated lines. Pure (no I/O), vectorised with Polars.

The kernel is partitioned by subscriber: every counter (allowances, daily caps) is per subscriber, so rating
any set of whole subscribers gives the same lines as rating them inside a larger batch. The steps:

1. each record's situation as small integer codes: plan (from the subscriber), kind, direction, destination
   zone (longest prefix of ``peer``, looked up once per distinct leading digits; a peer that is not a number,
   such as ``&`` or ``client2``, gets a code of its own, never the fallback zone), roaming zone (once per
   distinct country, as ``Catalog.roaming_zone_of`` places it: a record abroad that no roaming zone prices is
   left unrated as ``no_roaming_zone``, never priced as at home), time band at its start (one time-zone
   conversion);
2. a call whose rule or allowances depend on the band is cut where the band changes (``_split_bands``); once
   the rates are known, each piece starts where the one before was billed up to (``_carry_rounding``);
3. the distinct situations are resolved against the catalog (``_resolve``) and joined back;
4. lines are ordered by subscriber, start, source, record id and offset (never by input order; one sorted
   128-bit key carries the permutation), billed units are computed per rate step, allowances are drawn with
   running sums per subscriber and allowance (one integer group key), and the rest is priced in exact
   integers and rounded once per line (``_steps``);
5. daily caps, then the output: one line per allowance a piece drew from and one for its charged rest. Names
   (plan, kind, zone, band, rule...) are produced from the codes at the end; only the record's own strings
   (record id, source, roaming country) are gathered from the input;
6. a record of a suspended line starting at or after its suspension is priced like any other (so its amount is
   known and explained) and held: its lines' ``verdict`` is ``line_suspended`` and billing leaves them off the bill
   until released. So is a record starting at or after a closed line's ``closed_at`` (``line_closed``) or before a
   line's ``activated_at`` (``before_activation``): not the subscriber's usage, never released, only written off.
   The instants travel with the subscriber rows (one join of the lines the register restricts, ``line_holds``),
   and the record's start is compared with them once (``hold_reason``).

``tests/unit/_rating_reference.py`` keeps the first, plainer form of this kernel; ``test_rating_fast.py`` checks
that both give the same lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa

from fairtel.catalog import Catalog
from fairtel.catalog._bands import DAY, WEEK
from fairtel.consent import Verdict
from fairtel.core.errors import InvalidInputError, NotFoundError, Problem
from fairtel.core.money import minor_units
from fairtel.core.time import Period
from fairtel.rating._lines import (
    HOLDING_TAG,
    RATED_COLUMNS,
    STATE_COLUMNS,
    UNRATED_COLUMNS,
    VAS_COUNTER,
    RatingResult,
    Unit,
    UnratedReason,
    empty,
    holding_tag,
)
from fairtel.rating._resolve import (
    DIRECTIONS,
    KINDS,
    Dimensions,
    band_change_table,
    band_jumps,
    key_table,
    offset_spread,
    seconds_to_band_change,
    utc_offset_seconds,
)
from fairtel.rating._vas import (
    BEFORE_ACTIVATION,
    HOLD_WINDOW,
    VasGate,
    apply_gate,
    gate_lines,
    hold_reason,
    line_holds,
    no_gate,
)

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
PEER_NOT_A_NUMBER = UnratedReason.PEER_NOT_A_NUMBER.value
"""Unrated reason: a voice or SMS record whose other party is not a number (``Catalog.is_number``: ``&``,
``client2``, ``anonymous``) under a plan whose price depends on the destination zone. It has no digits to match
a zone with, so it is not priced in the fallback zone of unmatched numbers (often the dearest)."""
NO_ROAMING_ZONE = UnratedReason.NO_ROAMING_ZONE.value
"""Unrated reason: a voice, SMS or data record made abroad (``roaming_country``, not the operator's own country)
in a country no roaming zone lists, under a catalog with no fallback roaming zone. Priced as at home it would
charge domestic prices, or draw domestic allowances, for usage the visited network bills the operator for."""
# the rated lines' columns that ``rate(coded=True)`` gives as enums: values named by the catalog, a few each
CODED_COLUMNS = ("kind", "direction", "period", "plan_id", "rule_id", "rate_id", "zone", "roaming_zone", "band", "unit",
                 "allowance_id", "currency")
_UNIT_OF_KIND = {"voice": Unit.SECOND.value, "sms": Unit.MESSAGE.value, "data": Unit.BYTE.value, "vas": Unit.ITEM.value}
# a record's pieces are consumed at the record's start, so batches cut in time never reorder them
_ORDER = ["msisdn", "_t0", "source", "record_id", "offset"]


def _as_frame(data: pl.DataFrame | pa.Table, what: str) -> pl.DataFrame:
    frame = data if isinstance(data, pl.DataFrame) else pl.from_arrow(data)
    if not isinstance(frame, pl.DataFrame):  # pragma: no cover - a Table always becomes a frame
        raise InvalidInputError([Problem(what, None, None, "not a table")], what=what)
    return frame


def normalise_usage(usage: pl.DataFrame | pa.Table, arrival: str | None = None) -> pl.DataFrame:
    """The usage columns rating reads, typed; optional ones absent from the input are null. ``arrival``: a
    column kept as ``_f`` (a non-negative integer, never null)."""
    frame = _as_frame(usage, "usage")
    missing = [c for c in (*_REQUIRED, *([arrival] if arrival else [])) if c not in frame.columns]
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
    out = frame.select(cols).with_columns(pl.col("source").fill_null("")).select(list(_INPUT))
    if arrival is None:
        return out
    f = frame[arrival].cast(pl.Int64)
    if f.null_count() or (f.len() and f.min() < 0):  # type: ignore[operator]
        raise InvalidInputError([Problem("usage", None, arrival, "arrival must be a non-negative integer")], what="usage")
    return out.with_columns(f.alias("_f"))


def normalise_subscribers(
    subscribers: pl.DataFrame | pa.Table | Mapping[str, str], *, period: Period | None = None,
) -> pl.DataFrame:
    """The register as (msisdn, plan_id) strings; a number listed twice is an error (which plan would rate it?).

    A frame with an ``effective_from`` column (aware instants; null: since always) is a plan history: a row for
    each plan a line is on from that instant until its next row. With ``period`` each line's row in force for it
    is kept (the latest in force by the period's start; for a line activated during the period, its first);
    without, the rows are kept as (msisdn, plan_id, effective_from), a number listed twice for one instant being
    the error.

    An optional ``holder_since`` column (an owner change, 过户: when the line's current customer began to hold it;
    aware instants, or naive ones read as the UTC wall clock; null: none) is kept as UTC microseconds: ``rate``
    counts allowances and caps per holding (``_rate_holdings``)."""
    if isinstance(subscribers, Mapping):
        frame = pl.DataFrame({"msisdn": list(subscribers.keys()), "plan_id": list(subscribers.values())},
                             schema={"msisdn": pl.String(), "plan_id": pl.String()})
    else:
        frame = _as_frame(subscribers, "subscribers")
        missing = [c for c in ("msisdn", "plan_id") if c not in frame.columns]
        if missing:
            raise InvalidInputError([Problem("subscribers", None, c, "column missing") for c in missing], what="subscribers")
        if "effective_from" in frame.columns:
            return _plans_in_force(frame, period)
        frame = frame.select(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String), *_holder(frame))
    if frame["msisdn"].n_unique() == frame.height:  # one hashing pass; the examples only when needed
        return frame
    dup = frame.filter(pl.col("msisdn").is_duplicated())["msisdn"].unique().sort().head(5).to_list()
    if dup:
        raise InvalidInputError([Problem("subscribers", None, "msisdn", f"number listed twice: {m}") for m in dup],
                                what="subscribers")
    return frame


_SINCE_ALWAYS = datetime(1, 1, 1, tzinfo=UTC)
HOLDER_SINCE = "holder_since"
_INSTANT = pl.Datetime("us", "UTC")


def _holder(frame: pl.DataFrame) -> list[pl.Expr]:
    """The register's optional ``holder_since`` as UTC microseconds (none: no such column)."""
    dtype = frame.schema.get(HOLDER_SINCE)
    if dtype is None:
        return []
    column = pl.col(HOLDER_SINCE)
    if dtype == pl.Null():
        return [column.cast(_INSTANT)]
    if not isinstance(dtype, pl.Datetime):
        raise InvalidInputError([Problem("subscribers", None, HOLDER_SINCE, f"must be a timestamp, got {dtype}")],
                                what="subscribers")
    if dtype.time_zone is None:  # the UTC wall clock, as the store keeps it
        return [column.dt.cast_time_unit("us").dt.replace_time_zone("UTC")]
    return [column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")]


def _plans_in_force(frame: pl.DataFrame, period: Period | None) -> pl.DataFrame:
    """A plan history's rows (see ``normalise_subscribers``): all of them, or each line's row in force for
    ``period``, in the order given."""
    since = frame.schema["effective_from"]
    if not (since == pl.Null() or (isinstance(since, pl.Datetime) and since.time_zone is not None)):
        raise InvalidInputError([Problem("subscribers", None, "effective_from", "must be a time-zone-aware timestamp")],
                                what="subscribers")
    history = frame.select(
        pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String),
        pl.col("effective_from").cast(pl.Datetime("us", "UTC")).fill_null(_SINCE_ALWAYS), *_holder(frame),
    )
    twice = history.filter(pl.struct("msisdn", "effective_from").is_duplicated())
    if twice.height:
        raise InvalidInputError([Problem("subscribers", None, "msisdn", f"number listed twice from {t}: {m}")
                                 for m, t in twice.select("msisdn", "effective_from").unique().sort("msisdn").head(5).iter_rows()],
                                what="subscribers")
    if period is None:
        return history
    start = period.start.astimezone(UTC)
    due = pl.when(pl.col("effective_from") <= start).then(pl.col("effective_from"))
    return history.with_columns(due.alias("_due")).filter(
        pl.when(pl.col("_due").is_not_null().any().over("msisdn"))
        .then(pl.col("_due") == pl.col("_due").max().over("msisdn"))
        .otherwise(pl.col("effective_from") == pl.col("effective_from").min().over("msisdn"))
    ).select("msisdn", "plan_id", *([HOLDER_SINCE] if HOLDER_SINCE in history.columns else []))


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


def _zone_codes(lines: pl.DataFrame, dims: Dimensions) -> pl.Expr:
    """Destination zone code of each voice/SMS line (``len(zones)``: none; ``Dimensions.no_number``: a peer that
    is not a number). A number's zone depends only on its first ``L`` characters (``Catalog.number_width``), so
    the catalog's lookup runs once per distinct head; so does the test that those characters are digits."""
    cat = dims.catalog
    nz = len(dims.zones)
    longest = cat.number_width
    talk = pl.col("_k") < KINDS.index("data")
    head = pl.col("peer").str.slice(0, longest)
    distinct = lines.select(pl.when(talk).then(head).unique().drop_nulls().alias("_h"))
    # a head of plain digits not starting with 0 is already E.164; any other (a "+" or "00" before the country
    # code, spaces, dashes) is read as ``Catalog.zone_for`` reads it, from the whole number written as E.164
    written = distinct.filter(~pl.col("_h").str.contains(r"^[1-9][0-9]*$"))["_h"]
    if written.len():
        number = pl.col("peer").str.strip_chars().str.replace_all(" ", "", literal=True).str.replace_all("-", "", literal=True)
        e164 = (pl.when(number.str.starts_with("+")).then(number.str.slice(1))
                .when(number.str.starts_with("00")).then(number.str.slice(2)).otherwise(number))
        head = pl.when(head.is_in(written.implode())).then(e164.str.slice(0, longest)).otherwise(head)
        distinct = lines.select(pl.when(talk).then(head).unique().drop_nulls().alias("_h"))
    code = pl.col("_zone").cast(pl.Enum(dims.zones)).to_physical().cast(pl.Int64).fill_null(nz)
    # a head that is not digits is no number (``Catalog.is_number``): no zone, not even the fallback one
    digits = pl.col("_h").str.contains(r"^[0-9]+$")
    zoned = distinct.with_columns(cat.zone_expr("_h").alias("_zone")).select(
        "_h", pl.when(digits).then(code).otherwise(dims.no_number).alias("_z"))
    on_null = pl.select(cat.zone_expr(pl.lit(None, dtype=pl.String)).alias("_zone")).select(code).item()
    found = head.replace_strict(zoned["_h"], zoned["_z"], default=None, return_dtype=pl.Int64).fill_null(on_null)
    return pl.when(talk).then(found).otherwise(nz)


def _roaming_codes(lines: pl.DataFrame, dims: Dimensions) -> pl.Expr:
    """Roaming zone code of each line, resolved once per distinct country value as ``Catalog.roaming_zone_of``
    places it: ``len(roaming)`` at home (no country, or the operator's own when no roaming zone lists it), the
    zone listing the country or the fallback roaming zone, else ``Dimensions.no_roaming_zone`` (left unrated)."""
    cat = dims.catalog
    nr = len(dims.roaming)
    values = lines["roaming_country"].unique().drop_nulls().to_list()
    codes = []
    for value in values:
        try:
            zone = cat.roaming_zone_of(value)
        except NotFoundError:
            codes.append(dims.no_roaming_zone)
        else:
            codes.append(nr if zone is None else dims.roaming.index(zone.id))
    old, new = pl.Series(values, dtype=pl.String), pl.Series(codes, dtype=pl.Int64)
    return pl.col("roaming_country").replace_strict(old, new, default=nr, return_dtype=pl.Int64).fill_null(nr)


def _week_position(catalog: Catalog, lines: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    """The second of the local week at each line's start (``_sow``) and its entry in the band week table (``_wi``),
    from one time-zone conversion; none where the zone keeps one UTC offset over every line's start (a zone
    without daylight saving, or a period between its changes): the wall clock is then the instant moved by it."""
    starts, _ = band_change_table(catalog)
    tz = catalog.operator.timezone
    first, last = lines.select(pl.col("started_at").min().alias("a"), pl.col("started_at").max().alias("b")).row(0)
    if first is not None and first.timestamp() >= 0 and offset_spread(tz, first, last) == 0:
        offset = pl.select(utc_offset_seconds(pl.lit(first).dt.cast_time_unit("us"), tz)).item()
        local = pl.col("started_at").dt.epoch("s") + int(offset)
    else:
        local = pl.col("started_at").dt.convert_time_zone(tz).dt.replace_time_zone(None).dt.epoch("s")
    sow = (local + 3 * DAY) % WEEK  # 1970-01-01 was a Thursday
    idx = pl.lit(pl.Series(starts, dtype=pl.Int64)).search_sorted(pl.col("_sow"), side="right").cast(pl.Int64) - 1
    return sow.alias("_sow"), idx.alias("_wi")


def _situations(lines: pl.DataFrame, dims: Dimensions) -> pl.DataFrame:
    """The code columns ``_z _b`` (zone, band: indices into the catalog's lists, the list's length meaning none;
    the roaming zone's ``_r`` is on the lines already, ``_roaming_codes``), ``_sow``/``_wi`` (where the start falls
    in the band week) and the packed ``_key`` (``Dimensions.key_expr``) of each line."""
    cat = dims.catalog
    band_codes = [dims.bands.index(b) for _, b in cat.band_boundaries()]
    sow, widx = _week_position(cat, lines)
    return lines.with_columns(
        _zone_codes(lines, dims).alias("_z"),
        sow,
    ).with_columns(widx).with_columns(
        pl.lit(pl.Series(band_codes, dtype=pl.Int64)).gather(pl.col("_wi")).alias("_b"),
    ).with_columns(dims.key_expr()).drop("peer", "roaming_country").rename({"_d": "_dir"})


def _split_bands(lines: pl.DataFrame, dims: Dimensions) -> pl.DataFrame:
    """Cut calls whose pricing depends on the band where the band changes.

    Rule: a call is priced in each band it crosses. The pieces share the call's unit positions (``offset``),
    so a first-minute step or the connect fee applies once, to the call's first piece; a piece's last increment
    rounded up runs on into the next band (``_carry_rounding``, once the rates are known).
    Pieces are found on the catalog's local wall clock, as ``Catalog.band_at`` reads it
    (where the clocks go back, the repeated wall times are priced again as they read). Uncut lines come first,
    then the pieces, each record's pieces together in ``offset`` order.
    """
    voice = KINDS.index("voice")
    keys = lines.filter(pl.col("_k") == voice)["_key"].unique().to_list()
    sensitive = [k for k in keys if dims.band_sensitive(k)]
    if not sensitive:
        return lines
    _, changes = band_change_table(dims.catalog)
    to_change_here = pl.lit(pl.Series(changes, dtype=pl.Int64)).gather(pl.col("_wi")) - pl.col("_sow")
    # the wall-clock time to the change is exact unless the zone's offset changes (daylight saving): then a
    # call within that much of it may cross, and the cut below measures the time that really elapses. The
    # last call start is moved on by the longest call, so that the offsets read cover every call to its end.
    first, last, longest = lines.select(
        pl.col("started_at").min().alias("a"), pl.col("started_at").max().alias("b"),
        pl.col("_qty").filter(pl.col("_k") == voice).max().alias("q"),
    ).row(0)
    slack, jumps = 0, []
    if first is not None:
        reach = last + timedelta(seconds=longest or 0)
        slack = offset_spread(dims.catalog.operator.timezone, first, reach)
        # where the clocks jump over a band change (back, or forward over a whole band) the band is read again
        # from the wall time they show: a call across such a jump may cross, or not (a zone that keeps one offset
        # has none, and neither has a period without a jump)
        jumps = band_jumps(dims.catalog, first, reach) if slack else []
    crossing = pl.col("_qty") > to_change_here - slack
    if jumps:
        t0 = pl.col("started_at").dt.epoch("s")
        crossing |= pl.any_horizontal([(t0 < j) & (t0 + pl.col("_qty") > j) for j in jumps])
    mask = lines.select((pl.col("_key").is_in(sensitive) & crossing).fill_null(False)).to_series()
    if not mask.any():
        return lines
    keep = lines.filter(~mask)
    todo = lines.filter(mask)
    to_change = seconds_to_band_change(dims.catalog, pl.col("started_at"), jumps=jumps)
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
        dims.catalog.band_expr("started_at").cast(pl.Enum(dims.bands)).to_physical().cast(pl.Int64).alias("_b"),
    ).with_columns(
        (pl.col("_key") - pl.col("_key") % nb + pl.col("_b")).alias("_key"),
        pl.len().over("_row").cast(pl.Int32).alias("_pieces"),
    ).sort("_row", "offset")
    return pl.concat([keep, split.select(keep.columns)])


_T_BITS = 42  # microseconds from the period's start (a month is < 2^42 µs)


def _order(lines: pl.DataFrame, data: pl.DataFrame, period: Period, subscriber: pl.Series) -> pl.DataFrame:
    """Subscriber, record start, then source, record id and offset: never the input order. With an arrival
    ordinal ``_f`` on the lines, a subscriber's lines are ordered by it before their start: rating files
    together in one call then draws allowances and caps as rating them one after another would.

    Lines are sorted stably on (subscriber rank, arrival, microseconds into the period), so a record's pieces
    keep their ``offset`` order: that key and the line's position are packed into one 128-bit integer whose
    sorted values carry the permutation (sorting one column is much cheaper than sorting a frame). The string
    tie-breakers are only needed (and only fetched) when two records of a subscriber start together.
    ``subscriber``: the ``_m`` of each subscriber row ``_si``."""
    start = int(period.start.astimezone(UTC).timestamp()) * 1_000_000
    position = 1 << 32
    arrival = "_f" in lines.columns
    top = lines.select(pl.col("_f").max() if arrival else pl.lit(0), pl.col("_rank").max()).row(0)
    files, top_rank = int(top[0] or 0) + 1, int(top[1] or 0)
    if lines.height < position and top_rank * files < 2 ** (127 - 32 - _T_BITS - 1):
        # the (subscriber, arrival, start) key in 64 bits when it fits (cheaper), else in 128
        wide = pl.Int64 if top_rank * files < 2 ** (63 - _T_BITS) else pl.Int128
        unit = pl.col("_rank").cast(wide) * files + pl.col("_f").cast(wide) if arrival else pl.col("_rank").cast(wide)
        key = unit * (1 << _T_BITS) + (pl.col("_t0").dt.epoch("us") - start).cast(wide)
        packed = (key.cast(pl.Int128) * pl.lit(position, dtype=pl.Int128) + pl.int_range(pl.len()).cast(pl.Int128)).sort()
        order = lines.select(
            (packed % pl.lit(position, dtype=pl.Int128)).cast(pl.Int64).alias("_pos"),
            (packed // pl.lit(position, dtype=pl.Int128)).cast(wide).alias("_sk"),
        )
        lines = lines.drop("_rank", "_t0")[order["_pos"]]
        same = (order["_sk"] == order["_sk"].shift(1)) & (lines["_row"] != lines["_row"].shift(1))
    else:
        by = ["_rank", *(["_f"] if arrival else []), "_t0"]
        lines = lines.sort(by, maintain_order=True)
        same = (lines["_row"] != lines["_row"].shift(1))
        for c in by:
            same = same & (lines[c] == lines[c].shift(1))
        lines = lines.drop("_rank", "_t0")
    if not same.any():
        return lines.drop("_f", strict=False)
    row = pl.col("_row")
    ties = lines.with_columns(
        pl.lit(subscriber).gather(pl.col("_si")).alias("_m"),
        (pl.col("started_at") - pl.duration(seconds=pl.col("offset"))).alias("_t0"),
        pl.lit(data["source"]).gather(row).alias("_s"), pl.lit(data["record_id"]).gather(row).alias("_id"),
    )
    # stable: two records with the same source and id (possible only outside mediation) keep their input order
    by = ["_m", *(["_f"] if arrival else []), "_t0", "_s", "_id", "offset"]
    return ties.sort(by, maintain_order=True).drop("_m", "_t0", "_s", "_id", *(["_f"] if arrival else []))


def _params(lines: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """The situation's rule, steps and allowance slots on each line, gathered by ``_ki``."""
    cols = [c for c in table.columns if c not in ("_key", "rule_id", "rate_id")]
    return lines.with_columns(
        [pl.lit(table[c]).gather(pl.col("_ki")).alias(c) for c in cols]
        + [pl.lit(table["rate_id"].is_not_null()).gather(pl.col("_ki")).alias("_hasrate")]
    )


def _running_sums(frame: pl.DataFrame, value: str, group: pl.Expr) -> pl.Series:
    """``value``'s running sum within each ``group`` in row order: ``cum_sum().over(group)``, computed by sorting
    one packed integer key (group, row) and one scan with a reset at each group's first row, about four times
    cheaper than the hash grouping of a window. ``value`` is never negative and ``group`` a non-negative integer
    (or null, a group of its own); where the key or the sum could overflow, the window itself."""
    n = frame.height
    top = frame.select(pl.col(value).max().alias("v"), group.max().alias("g")).row(0)
    biggest, groups = int(top[0] or 0), int(top[1] or 0) + 2
    if n == 0 or biggest * n >= 2**62 or groups * n >= 2**62:
        return frame.select(pl.col(value).cum_sum().over(group))[value]
    # nulls first as a group of their own; the row number makes every key distinct, so any sort is stable
    key = (group.cast(pl.Int64).fill_null(-1) + 1) * n + pl.int_range(n, dtype=pl.Int64)
    order = frame.select(key.arg_sort().alias("_o"))["_o"]
    g = frame.select(group.cast(pl.Int64).fill_null(-1).alias("g"), pl.col(value).alias("x"))[order]
    run = g.select(
        (pl.col("x").cum_sum() - pl.when(pl.col("g") != pl.col("g").shift(1, fill_value=-2))
         .then(pl.col("x").cum_sum() - pl.col("x")).forward_fill()).alias(value)
    )[value]
    return pl.zeros(n, dtype=run.dtype, eager=True).alias(value).scatter(order, run)


def _step_billed(offset: pl.Expr, qty: pl.Expr, s: int) -> pl.Expr:
    """Billed units of step ``s`` for the units ``[offset, offset + qty)``: those falling in the step, in whole
    increments from where the line enters it (``_steps.billed_units``)."""
    hi = offset + qty
    lo = pl.max_horizontal(offset, pl.col(f"_st{s}"))
    top = pl.min_horizontal(hi, pl.col(f"_en{s}").fill_null(hi))
    units = (top - lo).clip(lower_bound=0)
    return (units + pl.col(f"_inc{s}") - 1) // pl.col(f"_inc{s}") * pl.col(f"_inc{s}")


def _carry_rounding(lines: pl.DataFrame, table: pl.DataFrame, steps: int) -> pl.DataFrame:
    """Carry each band piece's rounding into the next piece, as CGRateS does (a time span rounded up to its increment
    removes what it now overlaps of the spans after it): a piece starts where the pieces before it were billed up to,
    or at its band change if that is later. A call is then billed its duration rounded once, not once per piece.

    A piece's ``offset`` and ``started_at`` move to its new start and its ``_qty`` becomes the span up to the next
    piece's start (the call's end for the last one), so the pieces still cover the call exactly; a piece left with
    nothing (its band's time all billed before it) is dropped. A piece is billed up to ``offset`` + its billed units
    of its own usage (a rule with no rate: the usage itself). Only cut calls are touched, one vectorised step per
    piece position (a call has few pieces)."""
    idx = lines.select("_row", "_ki", "offset", "_qty", "_pieces", "started_at").with_row_index("_i").filter(pl.col("_pieces") > 1)
    if idx.height == 0:
        return lines
    params = [c for c in table.columns if c.startswith(("_st", "_en", "_inc"))]
    idx = idx.sort("_row", "offset").with_columns(
        *(pl.lit(table[c]).gather(pl.col("_ki")).alias(c) for c in params),
        pl.lit(table["rate_id"].is_not_null()).gather(pl.col("_ki")).alias("_hasrate"),
        pl.int_range(pl.len()).over("_row").alias("_k"),
        (pl.col("offset") + pl.col("_qty")).alias("_end"),  # where the piece's own band time ends
        (pl.col("offset") + pl.col("_qty")).max().over("_row").alias("_call_end"),
    )
    reach = pl.DataFrame(schema={"_row": idx.schema["_row"], "_reach": pl.Int64()})
    starts = []
    for k in range(int(idx["_k"].max() or 0) + 1):  # type: ignore[arg-type]
        turn = idx.filter(pl.col("_k") == k).join(reach, on="_row", how="left").with_columns(
            pl.min_horizontal(pl.max_horizontal(pl.col("offset"), pl.col("_reach").fill_null(0)), pl.col("_call_end"))
            .alias("_s"))
        own = (pl.col("_end") - pl.col("_s")).clip(lower_bound=0)
        billed = pl.sum_horizontal([_step_billed(pl.col("_s"), own, s) for s in range(steps)])
        turn = turn.with_columns(pl.when(pl.col("_hasrate")).then(billed).otherwise(own).alias("_used"))
        starts.append(turn.select("_i", "_row", "_k", "_s"))
        reach = turn.select("_row", (pl.col("_s") + pl.col("_used")).alias("_reach"))
    moved = pl.concat(starts).join(idx.select("_i", "offset", "_call_end", "started_at"), on="_i").sort("_row", "_k")
    if moved.select((pl.col("_s") == pl.col("offset")).all()).item():
        return lines  # no piece was billed beyond its band change
    moved = moved.with_columns(
        (pl.col("_s").shift(-1).over("_row").fill_null(pl.col("_call_end")) - pl.col("_s")).alias("_span"),
        (pl.col("started_at") + pl.duration(seconds=pl.col("_s") - pl.col("offset"))).alias("started_at"),
    ).with_columns((pl.col("_span") > 0).sum().over("_row").cast(pl.Int32).alias("_pieces"))
    pos = moved["_i"]
    out = lines.with_columns(
        lines["offset"].scatter(pos, moved["_s"]),
        lines["_qty"].scatter(pos, moved["_span"]),
        lines["started_at"].scatter(pos, moved["started_at"]),
        lines["_pieces"].scatter(pos, moved["_pieces"]),
    )
    gone = moved.filter(pl.col("_span") <= 0)["_i"]
    if gone.len() == 0:
        return out
    return out.filter(pl.repeat(True, out.height, dtype=pl.Boolean, eager=True).scatter(gone, False))


def _bill_and_draw(
    lines: pl.DataFrame, slots: int, steps: int, opening: pl.DataFrame | None, counters: int
) -> pl.DataFrame:
    """Billed units per step, allowance draws in time order, then the charged amount rounded once. The running
    sums are per (subscriber, allowance), keyed by one integer (``_rank × counters + allowance``); ``opening``:
    the counters already used, by that key (``_g``, ``used``)."""
    billed = [_step_billed(pl.col("offset"), pl.col("_qty"), s).alias(f"_b{s}") for s in range(steps)]
    lines = lines.with_columns(billed).with_columns(pl.sum_horizontal([f"_b{s}" for s in range(steps)]).alias("_billed"))
    lines = lines.with_columns(
        pl.when(pl.col("_hasrate")).then(pl.col("_billed")).otherwise(pl.col("_qty")).alias("_demand"),
        pl.lit(False).alias("throttled"),
    ).with_columns(pl.col("_demand").alias("_left"))
    for j in range(slots):
        a = f"_a{j}"
        has = pl.col(a).is_not_null()
        lines = lines.with_columns(pl.when(has).then(pl.col("_left")).otherwise(0).alias("_d"))
        group = pl.col("_rank").cast(pl.Int64) * counters + pl.col(a).cast(pl.Int64)
        if opening is not None and opening.height:
            # one integer key (the running sum's group), looked up in the opening counters
            found = group.replace_strict(opening["_g"], opening["used"], default=0, return_dtype=pl.Int64)
            lines = lines.with_columns(found.fill_null(0).alias("_open"))
        else:
            lines = lines.with_columns(pl.lit(0, dtype=pl.Int64).alias("_open"))
        before = pl.lit(_running_sums(lines, "_d", group)) - pl.col("_d") + pl.col("_open")
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
    """A call cut at band changes costs at most its rate's ``max_cost`` in all, not in each piece: as CGRateS keeps a
    session's running cost against the max cost of each interval's rate, each piece costs at most what its rate's cap
    leaves after the pieces before it (never below 0). Only cut calls with a capped piece are touched; they are few,
    and their pieces are walked in ``offset`` order, one vectorised step per piece."""
    idx = lines.select("_row", "amount_minor", "_maxc", "_pieces").with_row_index("_i").filter(pl.col("_pieces") > 1)
    if idx.height == 0 or idx["_maxc"].null_count() == idx.height:
        return lines
    # the lines are ordered, a record's pieces together by offset: their position in the record is their turn
    idx = idx.filter(pl.col("_maxc").is_not_null().any().over("_row")).with_columns(
        pl.int_range(pl.len()).over("_row").alias("_k"))
    spent = pl.DataFrame(schema={"_row": idx.schema["_row"], "_spent": pl.Int64()})
    capped = []
    for k in range(int(idx["_k"].max() or 0) + 1):  # type: ignore[arg-type]
        turn = idx.filter(pl.col("_k") == k).join(spent, on="_row", how="left").with_columns(pl.col("_spent").fill_null(0))
        turn = turn.with_columns(
            pl.when(pl.col("_maxc").is_null()).then(pl.col("amount_minor"))
            .otherwise(pl.min_horizontal(pl.col("amount_minor"), (pl.col("_maxc") - pl.col("_spent")).clip(lower_bound=0)))
            .alias("_new"))
        capped.append(turn.select("_i", "amount_minor", "_new"))
        spent = turn.select("_row", (pl.col("_spent") + pl.col("_new")).alias("_spent"))
    done = pl.concat(capped)
    lower = done.filter(pl.col("_new") < pl.col("amount_minor"))
    if lower.height == 0:
        return lines
    return lines.with_columns(lines["amount_minor"].scatter(lower["_i"], lower["_new"]),
                              lines["capped"].scatter(lower["_i"], True))


def _daily_caps(
    lines: pl.DataFrame, table: pl.DataFrame, tz: str, opening: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply rules' daily caps in time order; returns the lines and the cap counters they moved (by ``_m``)."""
    idx = lines.select("_m", "_cap", "amount_minor", "_ki", "started_at").with_row_index("_i").filter(
        pl.col("_cap").is_not_null() & (pl.col("amount_minor") > 0))
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
    when nothing was drawn). Only pieces with several parts are exploded; the single-part lines come first."""
    charged_part = (pl.col("charged_quantity") > 0) | (pl.col("_drawn") == 0)
    count = pl.lit(0, dtype=pl.Int64)
    for j in range(slots):
        count = count + (pl.col(f"_draw{j}") > 0).cast(pl.Int64)
    lines = lines.with_columns((count + charged_part.cast(pl.Int64)).alias("_parts"))
    multi_mask = lines["_parts"] > 1
    if not multi_mask.any():
        return _single_parts(lines, slots, charged_part)
    single = _single_parts(lines.filter(~multi_mask), slots, charged_part)
    multi = _multi_parts(lines.filter(multi_mask), slots, charged_part)
    return pl.concat([single, multi.select(single.columns)])


def _single_parts(lines: pl.DataFrame, slots: int, charged_part: pl.Expr) -> pl.DataFrame:
    """Lines of one part: the charged line, or the one allowance the whole piece drew from."""
    is_charge = charged_part if slots else pl.lit(True)
    aid: pl.Expr = pl.lit(None, dtype=pl.Int32)
    before: pl.Expr = pl.lit(None, dtype=pl.Int64)
    used: pl.Expr = pl.lit(0, dtype=pl.Int64)
    share: pl.Expr = pl.lit(None, dtype=pl.Int64)
    for j in reversed(range(slots)):
        drew = pl.col(f"_draw{j}") > 0
        aid = pl.when(drew).then(pl.col(f"_a{j}")).otherwise(aid)
        before = pl.when(drew).then(pl.col(f"_before{j}")).otherwise(before)
        used = pl.when(drew).then(pl.col(f"_draw{j}")).otherwise(used)
        # the only draw: no allowance part before it
        share = pl.when(drew).then(pl.min_horizontal(pl.col(f"_draw{j}"), pl.col("_qty").clip(lower_bound=0))).otherwise(share)
    charged_share = (pl.col("_qty") - pl.col("_drawn")).clip(lower_bound=0)
    if not slots:
        return lines.with_columns(
            pl.lit(0, dtype=pl.Int64).alias("_part"), pl.lit(None, dtype=pl.Int32).alias("_aid"),
            pl.lit(None, dtype=pl.Int64).alias("allowance_before"), pl.lit(0, dtype=pl.Int64).alias("allowance_used"),
            charged_share.alias("quantity"),
        )
    return lines.with_columns(
        pl.lit(0, dtype=pl.Int64).alias("_part"),
        pl.when(is_charge).then(None).otherwise(aid).cast(pl.Int32).alias("_aid"),
        pl.when(is_charge).then(None).otherwise(before).cast(pl.Int64).alias("allowance_before"),
        pl.when(is_charge).then(0).otherwise(used).cast(pl.Int64).alias("allowance_used"),
        pl.when(is_charge).then(pl.col("charged_quantity")).otherwise(0).alias("charged_quantity"),
        pl.when(is_charge).then(pl.col("amount_minor")).otherwise(0).alias("amount_minor"),
        pl.when(is_charge).then(pl.col("capped")).otherwise(False).alias("capped"),
        pl.when(is_charge).then(charged_share).otherwise(share).alias("quantity"),
    )


def _multi_parts(lines: pl.DataFrame, slots: int, charged_part: pl.Expr) -> pl.DataFrame:
    count = pl.lit(0, dtype=pl.Int64)
    ranks: list[pl.Expr] = []
    for j in range(slots):
        ranks.append(count.alias(f"_rank{j}"))
        count = count + (pl.col(f"_draw{j}") > 0).cast(pl.Int64)
    lines = lines.with_columns(*ranks).with_columns(pl.int_ranges(0, pl.col("_parts")).alias("_part")).explode("_part")

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
    ).drop([f"_rank{j}" for j in range(slots)])


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
    """Counters after this batch, keyed by ``_m`` (mapped back to msisdn by the caller). The draws are summed by
    one integer key (``_rank × counters + allowance``, distinct per subscriber and allowance); the counters are
    named afterwards."""
    counters = len(dims.allowances)
    names = pl.lit(pl.Series(dims.allowances, dtype=pl.String))
    draws = [
        lines.select("_m", (pl.col("_rank").cast(pl.Int64) * counters + pl.col(f"_a{j}").cast(pl.Int64)).alias("_g"),
                     pl.col(f"_draw{j}").alias("_draw")).filter(pl.col("_draw") > 0)
        for j in range(slots)
    ]
    frames: list[pl.DataFrame] = []
    if draws:
        moved = pl.concat(draws).group_by("_g").agg(pl.col("_m").first(), pl.col("_draw").sum().alias("used"))
        frames.append(moved.select("_m", names.gather(pl.col("_g") % counters).alias("counter"), "used"))
    frames.append(caps)
    merge = any(a.startswith("cap:") for a in dims.allowances)
    if opening is not None and opening.height:
        frames.append(opening.select("_m", "counter", "used"))
        merge = True
    state = pl.concat([f.select("_m", pl.col("counter").cast(pl.String), pl.col("used").cast(pl.Int64)) for f in frames])
    # the draws hold one row per (subscriber, allowance), the caps one per (subscriber, cap counter), and the
    # two share no name unless an allowance id starts with "cap:": only opening counters need adding to
    return state.group_by("_m", "counter").agg(pl.col("used").sum()) if merge else state


def _rate_vas(vas: pl.DataFrame, catalog: Catalog, gate: VasGate, period: str,
              opening: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The VAS lines, and the ``vas:`` counters of the charges they billed (msisdn, counter, used). A charge
    whose key the ``opening`` counters (msisdn, counter) hold was billed before: a duplicate."""
    counters = pl.DataFrame(schema={"msisdn": pl.String(), "counter": pl.String(), "used": pl.Int64()})
    if vas.height == 0:
        return empty(RATED_COLUMNS), counters
    vas = vas.sort("msisdn", "started_at", "source", "record_id")
    arrival = [pl.col("_f").alias("arrival")] if "_f" in vas.columns else []
    verdicts = apply_gate(gate, vas.select("record_id", "source", "msisdn", "offer_id", "started_at", "amount_minor",
                                           "currency", *arrival))
    verdicts = pl.concat([vas.select("msisdn"), verdicts], how="horizontal").with_columns(
        pl.concat_str(pl.lit(VAS_COUNTER), pl.col("charge_key")).alias("_counter"))
    if opening is not None and opening.height:
        seen = opening.filter(pl.col("counter").str.starts_with(VAS_COUNTER)).select("msisdn", "counter")
        if seen.height:
            again = verdicts.join(seen, left_on=["msisdn", "_counter"], right_on=["msisdn", "counter"], how="left",
                                  coalesce=False, maintain_order="left")["counter"].is_not_null() & verdicts["billable"]
            verdicts = verdicts.with_columns(
                pl.when(again).then(pl.lit(Verdict.DUPLICATE_CHARGE.value)).otherwise(pl.col("verdict")).alias("verdict"),
                (pl.col("billable") & ~again).alias("billable"),
            )
    if "_hold" in vas.columns:  # a charge on a line whose usage is held is never billable (its own verdict kept)
        on_hold = vas["_hold"].is_not_null() & verdicts["billable"]
        verdicts = verdicts.with_columns(
            pl.when(on_hold).then(pl.lit(vas["_hold"])).otherwise(pl.col("verdict")).alias("verdict"),
            (pl.col("billable") & ~on_hold).alias("billable"),
        )
    counters = verdicts.filter(pl.col("billable") & pl.col("_counter").is_not_null()).select(
        "msisdn", pl.col("_counter").alias("counter"), pl.lit(1, dtype=pl.Int64).alias("used"))
    verdicts = verdicts.drop("msisdn", "charge_key", "_counter")
    currency = catalog.operator.currency
    prices = _offer_prices(vas, catalog, minor_units(currency))
    included = [(p.id, o) for p in catalog.plans for o in p.included_offers]
    inc = pl.DataFrame({"plan_id": [p for p, _ in included], "offer_id": [o for _, o in included]},
                       schema={"plan_id": pl.String(), "offer_id": pl.String()}).with_columns(pl.lit(True).alias("_included"))
    vas = pl.concat([vas.drop("amount_minor", "currency"), verdicts], how="horizontal").join(
        inc, on=["plan_id", "offer_id"], how="left", maintain_order="left")
    vas = vas.with_columns(prices.alias("_price"))
    price = pl.col("_price")
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
    rated = out.select([pl.col(c) if c in out.columns else pl.lit(None).alias(c) for c in RATED_COLUMNS]).cast(
        RATED_COLUMNS  # type: ignore[arg-type]
    )
    return rated, counters


def _offer_prices(vas: pl.DataFrame, catalog: Catalog, digits: int) -> pl.Series:
    """Each VAS record's offer price in minor units, the one in force when the charge was made (null: the catalog
    has no such offer)."""
    if not any(o.price_changes for o in catalog.offers):
        prices = {o.id: int(o.price.scaleb(digits)) for o in catalog.offers}
        return vas.select(pl.col("offer_id").replace_strict(prices, default=None, return_dtype=pl.Int64))["offer_id"]
    versions = pl.DataFrame(
        [(o.id, at or datetime(1970, 1, 1, tzinfo=UTC), int(p.scaleb(digits))) for o in catalog.offers for at, p in o.versions()],
        schema={"offer_id": pl.String(), "_from": pl.Datetime("us", "UTC"), "_price": pl.Int64()}, orient="row",
    ).sort("_from")
    keyed = vas.select(pl.col("offer_id").cast(pl.String),
                       pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("_t"),
                       pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"))
    return keyed.sort("_t").join_asof(versions, left_on="_t", right_on="_from", by="offer_id", strategy="backward",
                                      check_sortedness=False).sort("_i")["_price"]


def _unrated(frame: pl.DataFrame, reason: pl.Expr, period: str) -> pl.DataFrame:
    return frame.select(
        "record_id", "source", "msisdn", pl.lit(period).alias("period"), "started_at", "kind",
        pl.col("plan_id").cast(pl.String), reason.alias("reason"),
    ).cast(UNRATED_COLUMNS)  # type: ignore[arg-type]


def _one_of(expr: pl.Expr, values: tuple[str, ...] | list[str]) -> pl.Expr:
    """``expr.is_in(values)`` (null stays null) for a few short strings: comparisons are several times cheaper
    than the set lookup over a million rows."""
    return pl.any_horizontal(*(expr == v for v in values)) if values else expr.is_in(values)


def _kind_code(kind: pl.Expr) -> pl.Expr:
    """The position of each (rated) kind in ``KINDS``, as the enum's physical code (cheaper than the cast)."""
    code: pl.Expr = pl.lit(None, dtype=pl.Int64)
    for i, k in reversed(list(enumerate(KINDS))):
        code = pl.when(kind == k).then(i).otherwise(code)
    return code.cast(pl.Int64)


# why a record is not rated, from its subscriber's plan code ``_p`` (null: a plan the catalog lacks) and its kind
_REASON = (
    pl.when(pl.col("plan_id").is_null()).then(pl.lit(UnratedReason.UNKNOWN_SUBSCRIBER.value))
    .when(pl.col("_p").is_null()).then(pl.lit(UnratedReason.UNKNOWN_PLAN.value))
    .when(pl.col("kind").is_null() | ~_one_of(pl.col("kind"), [*KINDS, "vas"])).then(pl.lit(UnratedReason.UNKNOWN_KIND.value))
    .when(_one_of(pl.col("kind"), KINDS) & (pl.col("_qty").is_null() | (pl.col("_qty") < 0)))
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


def _subscriber_keys(subs: pl.DataFrame, dims: Dimensions) -> tuple[pl.DataFrame, bool]:
    """Subscribers with their plan code ``_p`` (null: plan not in the catalog), row ``_si``, number as an integer
    ``_mi`` (null if not digits) and the rank ``_rank`` of the number, which orders lines as the number itself
    would; and whether the numbers are plain digits. Plain digits only when the integer gives back the very string
    ("+86..." or "086..." are other subscribers than "86..."), checked on the rows of the subscribers with a plan
    (every line's subscriber is among them): then the rank is the integer's (equal integers, equal ranks),
    else the string's."""
    subs = subs.with_columns(
        pl.col("plan_id").replace_strict(dims.plans, pl.Series(range(len(dims.plans)), dtype=pl.Int64), default=None).alias("_p"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_si"),
        pl.col("msisdn").cast(pl.Int64, strict=False).alias("_mi"),
    )
    planned = subs.filter(pl.col("_p").is_not_null())
    numeric = planned["_mi"].null_count() == 0 and bool((planned["_mi"].cast(pl.String) == planned["msisdn"]).all())
    return subs.with_columns(pl.col("_mi" if numeric else "msisdn").rank("dense").cast(pl.Int64).alias("_rank")), numeric


def _rate_apart(data: pl.DataFrame, early: pl.Series, numeric: bool, catalog: Catalog,
                subscribers: pl.DataFrame | pa.Table | Mapping[str, str], period: Period, gate: VasGate | None,
                opening_state: pl.DataFrame | None, allowances: bool, closing_state: bool,
                register: pl.DataFrame | None) -> RatingResult:
    """``rate`` of ``data`` (normalised usage, its arrival ordinal as ``_f``) whose ``early`` records (voice, SMS
    and data made before their line's activation: an earlier holder's) are priced apart from the others, with
    counters of their own that start empty and are dropped, so they draw nothing from the holder's allowances and
    caps. The lines are in ``rate``'s order (the early ones are a subscriber's first: they start before the rest)."""
    arrival = "_f" if "_f" in data.columns else None
    parts = [rate(data.filter(which), catalog, subscribers, period=period, gate=gate, allowances=allowances,
                  arrival=arrival, register=register, _apart=False,
                  opening_state=opening_state if keep else None, closing_state=closing_state and keep)
             for which, keep in ((early, False), (~early, True))]
    before, rest = parts
    usage = pl.col("kind") != "vas"
    by = pl.col("msisdn").cast(pl.Int64) if numeric else pl.col("msisdn")
    lines = pl.concat([before.rated, rest.rated.filter(usage)]).sort(by, maintain_order=True)
    return RatingResult(
        pl.concat([lines, rest.rated.filter(~usage)]),
        pl.concat([before.unrated, rest.unrated]).sort("msisdn", "started_at", "source", "record_id"),
        rest.closing_state,
    )


def _holder_changes(subs: pl.DataFrame, data: pl.DataFrame, period: Period) -> pl.DataFrame | None:
    """(msisdn, holder_since, ``_tag``) of the lines of ``data`` whose current customer began to hold them inside
    ``period`` (after its start, before its end; a change at or before the start makes the whole period the new
    customer's, one after the end the previous customer's); None: no such line."""
    start = pl.lit(period.start.astimezone(UTC), dtype=_INSTANT)
    end = pl.lit(period.end.astimezone(UTC), dtype=_INSTANT)
    since = pl.col(HOLDER_SINCE)
    changed = subs.filter((since > start) & (since < end))
    if changed.height == 0:
        return None
    changed = changed.filter(pl.col("msisdn").is_in(data["msisdn"].implode()))
    if changed.height == 0:
        return None
    return changed.select("msisdn", HOLDER_SINCE, holding_tag(since).alias("_tag"))


_TAGGED = HOLDING_TAG + r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"


def _rate_holdings(data: pl.DataFrame, changed: pl.DataFrame, subs: pl.DataFrame, catalog: Catalog, period: Period,
                   gate: VasGate | None, opening_state: pl.DataFrame | None, allowances: bool, closing_state: bool,
                   register: pl.DataFrame | None) -> RatingResult:
    """``rate`` of ``data`` (normalised usage, its arrival ordinal as ``_f``) where the lines ``changed`` moved to a
    new customer inside the period (``_holder_changes``): a changed line's voice, SMS and data records made before
    its ``holder_since`` (the previous customer's) and those made from it (the new customer's) are rated apart, each
    holding on allowances, throttle thresholds and daily caps of its own, the new one starting from nothing, as a
    line activated that day does. The previous holding's counters keep their plain names, the new one's are tagged
    (``HOLDING_TAG``), so that counters carried from before the change (online rating) never open the new holding.
    Value-added charges are rated with the new holding's part (they draw no allowance; the gate judges their
    consent). The lines are in ``rate``'s order, a subscriber's previous holding's first."""
    arrival = "_f" if "_f" in data.columns else None
    since = pl.col("msisdn").replace_strict(changed["msisdn"], changed[HOLDER_SINCE], default=None,
                                            return_dtype=_INSTANT)
    before = data.select(((pl.col("started_at") < since) & (pl.col("kind") != "vas")).fill_null(False)).to_series()
    tag = pl.col("msisdn").replace_strict(changed["msisdn"], changed["_tag"], default=None, return_dtype=pl.String)
    plain = ~pl.col("counter").str.starts_with(VAS_COUNTER) & ~pl.col("counter").str.contains(_TAGGED)
    empty_state = pl.DataFrame(schema=STATE_COLUMNS)
    openings = [empty_state, empty_state]
    if opening_state is not None:
        opening = opening_state.select(list(STATE_COLUMNS)).cast(STATE_COLUMNS).with_columns(tag.alias("_tag"))  # type: ignore[arg-type]
        mine = pl.col("_tag").is_not_null()
        current = pl.col("counter").str.ends_with(pl.col("_tag")).fill_null(False)
        previous = mine & plain
        openings = [
            opening.filter(previous).drop("_tag"),
            opening.filter(~previous).select(
                "msisdn", pl.when(mine & current).then(pl.col("counter").str.strip_suffix(pl.col("_tag")))
                .otherwise(pl.col("counter")).alias("counter"), "used"),
        ]
    results = []
    for which, open_with in zip((before, ~before), openings, strict=True):
        if which.any():
            results.append(rate(data.filter(which), catalog, subs, period=period, gate=gate, allowances=allowances,
                                arrival=arrival, register=register, _holdings=False,
                                opening_state=open_with if opening_state is not None else None,
                                closing_state=closing_state))
        else:  # no usage of that holding here: its counters are carried as they are
            results.append(RatingResult(empty(RATED_COLUMNS), empty(UNRATED_COLUMNS), open_with))
    first, later = results
    usage = pl.col("kind") != "vas"
    lines = pl.concat([first.rated, later.rated.filter(usage)])
    lines = lines.sort(_number_order(lines["msisdn"]), maintain_order=True)
    state = empty(STATE_COLUMNS)
    if closing_state:
        # the new holding's counters of the changed lines are named as its own
        late = later.closing_state.with_columns(tag.alias("_tag")).select(
            "msisdn", pl.when(pl.col("_tag").is_not_null() & plain).then(pl.col("counter") + pl.col("_tag"))
            .otherwise(pl.col("counter")).alias("counter"), "used")
        state = pl.concat([first.closing_state.cast(STATE_COLUMNS), late.cast(STATE_COLUMNS)])  # type: ignore[arg-type]
        state = state.sort(_number_order(state["msisdn"]), "counter")
    return RatingResult(
        pl.concat([lines, later.rated.filter(~usage)]),
        pl.concat([first.unrated, later.unrated]).sort("msisdn", "started_at", "source", "record_id"),
        state.cast(STATE_COLUMNS),  # type: ignore[arg-type]
    )


def _number_order(numbers: pl.Series) -> pl.Expr:
    """Subscribers ordered as the kernel orders them: by the number's value when every number is plain digits,
    else by the string."""
    ints = numbers.cast(pl.Int64, strict=False)
    digits = ints.null_count() == 0 and bool((ints.cast(pl.String) == numbers).all())
    return pl.col("msisdn").cast(pl.Int64) if digits else pl.col("msisdn")


def rate(
    usage: pl.DataFrame | pa.Table,
    catalog: Catalog,
    subscribers: pl.DataFrame | pa.Table | Mapping[str, str],
    *,
    period: Period | str,
    gate: VasGate | None = None,
    opening_state: pl.DataFrame | None = None,
    allowances: bool = True,
    closing_state: bool = True,
    arrival: str | None = None,
    register: pl.DataFrame | None = None,
    coded: bool = False,
    _apart: bool = True,
    _holdings: bool = True,
) -> RatingResult:
    """Rate one billing period's usage of some subscribers.

    ``subscribers``: msisdn → plan_id (a frame with both columns, or a mapping), or a plan history (with
    ``effective_from``: each line is rated under its row in force for ``period``). ``gate``: the consent gate
    for VAS records (default: nothing billable). ``opening_state``: counters (STATE_COLUMNS) from usage of the
    same period rated before. ``allowances=False`` prices usage as if the plan had none (quotes).
    ``closing_state=False``: the result's ``closing_state`` is left empty (a batch run over whole subscribers has no
    use for the counters after it; working them out costs a tenth of the kernel).
    ``arrival``: a column of non-negative integers (which file each record came in, say) that orders each
    subscriber's records before their start, so that one call over several files rates them as calls over
    each file in that order, each opening with the counters the one before closed with, would.
    ``register``: the subscriber register's line states (``msisdn``, ``status``, optional ``activated_at``,
    ``closed_at``, ``suspended_at``; default: those the gate carries, ``consent_gate(..., lines=...)``): a record of a
    suspended line starting at or after its ``suspended_at`` (any record, when the register does not say since when)
    is rated and held, its lines' ``verdict`` ``line_suspended`` (``HoldReason``): billing leaves it off the bill
    until someone releases it. A record starting at or after a closed line's ``closed_at`` (any, when the register
    does not say when it closed) is held ``line_closed``, one starting before the line's ``activated_at``
    ``before_activation`` (``rating._vas.line_holds``): neither is ever billed. A value-added charge on a held line
    is never billable. Held usage draws allowances and caps as any usage does, in the
    same order, so that its amount is what the subscriber would pay if it is released; except usage before the
    line's activation (a number's earlier holder, never released): it is priced apart, on allowances and caps of
    its own, so that it takes nothing from the holder's and its counters are not in ``closing_state``.
    Every record must start inside ``period`` (on the catalog's clock).

    An owner change (过户): ``subscribers`` may carry the register's ``holder_since`` (when the line's current customer
    began to hold it; absent or null: no change). For a line whose change falls inside ``period``, the voice, SMS and
    data records made before it are the previous customer's and those made from it the new customer's: each holding
    draws allowances, reaches throttle thresholds and daily caps on counters of its own, the new one from nothing (a
    full allowance, as a line activated that day gets), and its counters in ``closing_state`` are named apart
    (``HOLDING_TAG``; ``opening_state`` read the same way). Such a period comes as strings, whatever ``coded``.

    ``coded=True``: the rated lines' columns named by the catalog (``CODED_COLUMNS``; ``direction`` only when every
    record's is out, in or none) come as ``pl.Enum`` of the values they hold instead of strings, the same values;
    a writer stores them as dictionary pages straight from the codes (``engines.write_part``) instead of hashing
    every string, and no string is gathered. Any other use wants strings (the default). A period whose usage
    before a line's activation is priced apart comes as strings either way.
    """
    per = _period_of(period, catalog)
    dims = Dimensions.of(catalog)
    data = normalise_usage(usage, arrival)
    _check_period(data, per)
    usage_columns = data.columns
    # only the subscribers this usage names are keyed (ranked, joined): a period's buckets each carry a small
    # share of a register that may list millions; ranks among them order lines as among all
    subs = normalise_subscribers(subscribers, period=per)
    if HOLDER_SINCE in subs.columns:
        # an owner change inside the period (过户): each holding draws on counters of its own
        changed = _holder_changes(subs, data, per) if _holdings else None
        subs = subs.drop(HOLDER_SINCE)
        if changed is not None:
            return _rate_holdings(data, changed, subs, catalog, per, gate, opening_state, allowances, closing_state,
                                  register)
    subs, numeric = _subscriber_keys(subs.filter(pl.col("msisdn").is_in(data["msisdn"].implode())), dims)
    # the instants of the lines that restrict usage (suspended, closed, activated: ``line_holds``) ride on the
    # subscriber rows into the records (no join of the usage itself); the records' starts are compared with them
    # once, and lines are marked only when some record is held
    holds = line_holds(register, checked=False) if register is not None else line_holds(gate_lines(gate))
    if holds is not None:
        # a register carried whole (``register_gate``: every active line has an activation instant) is cut to this
        # usage's subscribers first, by a scan of it, rather than hashed whole for the join
        holds = holds.filter(pl.col("msisdn").is_in(subs["msisdn"].implode()))
        subs = subs.join(holds, on="msisdn", how="left", maintain_order="left")
        if subs.select(pl.all_horizontal(pl.col(*HOLD_WINDOW).is_null()).all()).item():
            subs, holds = subs.drop(*HOLD_WINDOW), None
    data = data.join(subs, on="msisdn", how="left").with_row_index("_row")
    data = data.with_columns(_QUANTITY.alias("_qty")).with_columns(_REASON.alias("_reason"))
    if holds is not None:
        data = data.with_columns(hold_reason(pl.col("started_at")).alias("_hold"))
        if data["_hold"].null_count() == data.height:
            data, holds = data.drop("_hold"), None
    if holds is not None and _apart:
        early = data.select(((pl.col("_hold") == BEFORE_ACTIVATION) & (pl.col("kind") != "vas")).fill_null(False))
        if early.to_series().any():
            return _rate_apart(data.select(usage_columns), early.to_series(), numeric, catalog, subscribers, per, gate,
                               opening_state, allowances, closing_state, register)  # strings: its parts' codes differ
    unrated = [_unrated(data.filter(pl.col("_reason").is_not_null()), pl.col("_reason"), per.key)]
    rated_vas, vas_counters = _rate_vas(
        data.filter(pl.col("_reason").is_null() & (pl.col("kind") == "vas")), catalog, gate or no_gate, per.key,
        None if opening_state is None else opening_state.select(pl.col("msisdn").cast(pl.String), pl.col("counter").cast(pl.String)))

    ordinal = ["_f"] if arrival else []
    lines = data.select("_row", "msisdn", "started_at", "kind", "direction", "peer", "roaming_country", "_p", "_si",
                        "_mi", "_rank", "_qty", "_reason", *ordinal).filter(
        pl.col("_reason").is_null() & _one_of(pl.col("kind"), KINDS)).drop("_reason")
    # the subscriber as an integer when every number is plain digits (faster windows), else the string; its
    # rank among the subscribers orders lines and keys the running sums
    key_of = (lambda e: e.cast(pl.Int64)) if numeric else (lambda e: e)
    other_direction = lines.select(
        (pl.col("direction").is_not_null() & ~_one_of(pl.col("direction"), DIRECTIONS)).any()).item()
    # the record's own strings, gathered by row into the lines (ties in ``_order``, the output): copied into
    # one chunk each first, because a gather from a column in several chunks (a bucket read back from several
    # pieces) is several times slower than the copy; only these few columns are worth it
    held = [pl.col("_hold").alias("verdict")] if holds is not None else []
    own = data.select("record_id", "source", "roaming_country", *(["direction"] if other_direction else []), *held).rechunk()
    lines = lines.with_columns(
        (pl.col("_mi") if numeric else pl.col("msisdn")).alias("_m"),
        _kind_code(pl.col("kind")).alias("_k"),
        pl.when(pl.col("direction") == DIRECTIONS[0]).then(0).when(pl.col("direction") == DIRECTIONS[1]).then(1)
        .otherwise(len(DIRECTIONS)).cast(pl.Int64).alias("_d"),
        pl.col("started_at").alias("_t0"),
        pl.lit(0, dtype=pl.Int64).alias("offset"), pl.lit(1, dtype=pl.Int32).alias("_pieces"),
    ).drop("msisdn", "kind", "direction", "_mi").with_columns(_roaming_codes(lines, dims).alias("_r"))
    # usage abroad that no roaming zone prices (the country unlisted, no fallback roaming zone) is not priced as
    # at home: it is left unrated for the catalog to be fixed
    nowhere = pl.col("_r") == dims.no_roaming_zone
    if lines.select(nowhere.any()).item():
        unrated.append(_unrated(data[lines.filter(nowhere)["_row"].sort()], pl.lit(NO_ROAMING_ZONE), per.key))
        lines = lines.filter(~nowhere)
    lines = _split_bands(_situations(lines, dims), dims)

    keys = lines["_key"].unique().sort()
    table, slots, steps = key_table(dims, keys.to_list())
    if not allowances:
        table = table.drop([c for c in table.columns if c.startswith(("_a", "_aq", "_at"))])
        slots = 0
    # keys are sorted and every line's key is among them: its position is its row in the table
    lines = lines.with_columns(pl.lit(keys).search_sorted(pl.col("_key")).cast(pl.Int64).alias("_ki"))
    no_rule = pl.lit(table["rule_id"].is_null()).gather(pl.col("_ki"))
    missing = lines.filter(no_rule)
    if missing.height:
        # a call to no number whose price depends on the destination says so, rather than "no rule"
        no_number = missing["_z"] == dims.no_number
        for which, reason in ((~no_number, UnratedReason.NO_RULE.value), (no_number, PEER_NOT_A_NUMBER)):
            rows = missing.filter(which)["_row"].unique().sort()
            if rows.len():
                unrated.append(_unrated(data[rows], pl.lit(reason), per.key))
        lines = lines.filter(~no_rule)
    lines = _carry_rounding(lines, table, steps)

    opening = None
    if opening_state is not None:
        opening = opening_state.select(list(STATE_COLUMNS)).cast(STATE_COLUMNS).select(  # type: ignore[arg-type]
            key_of(pl.col("msisdn")).alias("_m"), "counter", "used",
            pl.col("counter").replace_strict(dims.allowances, pl.Series(range(len(dims.allowances)), dtype=pl.Int32),
                                             default=None).alias("_ac"),
        )
    subscriber = subs["_mi" if numeric else "msisdn"]
    rank = subs["_rank"]
    lines = _order(lines.select("_row", "_si", "_ki", "_qty", "offset", "_pieces", "started_at", "_rank", "_t0", *ordinal),
                   own, per, subscriber)
    lines = _params(lines, table.with_columns(dims.codes_expr("_key"))).with_columns(
        pl.lit(subscriber).gather(pl.col("_si")).alias("_m"), pl.lit(rank).gather(pl.col("_si")).alias("_rank"))
    opening_keys = None
    if opening is not None:
        ranks = pl.DataFrame({"_m": subscriber, "_rk": rank}).drop_nulls().unique("_m")
        opening_keys = opening.filter(pl.col("_ac").is_not_null()).join(ranks, on="_m", how="inner").select(
            (pl.col("_rk") * len(dims.allowances) + pl.col("_ac").cast(pl.Int64)).alias("_g"), "used")
    lines = _bill_and_draw(lines, slots, steps, opening_keys,
                           len(dims.allowances))
    too_large = pl.col("_maxu").is_not_null() & (pl.col("_billed") > pl.col("_maxu"))
    if lines.select(too_large.any()).item():
        bad = lines.filter(too_large)["_row"].unique().sort()
        unrated.append(_unrated(data[bad], pl.lit(UnratedReason.QUANTITY_TOO_LARGE.value), per.key))
        lines = lines.filter(~pl.col("_row").is_in(bad.implode()))
    lines = _cap_cut_calls(lines)
    lines, caps = _daily_caps(lines, table, catalog.operator.timezone, opening)
    closing = None
    if closing_state:
        closing = pl.concat([_closing(lines, slots, caps, opening, dims),
                             vas_counters.select(key_of(pl.col("msisdn")).alias("_m"), "counter", "used")])
    keep = ["_row", "_si", "_ki", "started_at", "offset", "_qty", "_pieces", "_p", "_k", "_dir", "_z", "_r", "_b",
            "charged_quantity", "_drawn", "amount_minor", "capped", "throttled"]
    keep += [f"{c}{j}" for j in range(slots) for c in ("_a", "_before", "_draw")]
    lines = _line_numbers(_explode_parts(lines.select(keep), slots))

    row = pl.col("_row")

    def coded_as(column: str, values: list[str | None]) -> pl.Series:
        """``values`` as the type of ``column`` in the output: strings, or with ``coded`` an enum of these values
        and of those the VAS lines hold (which join the others)."""
        if not coded:
            return pl.Series(values, dtype=pl.String)
        extra = rated_vas[column].drop_nulls().unique().sort().to_list() if rated_vas.height else []
        return pl.Series(values, dtype=pl.Enum(list(dict.fromkeys([*(v for v in values if v is not None), *extra]))))

    def name(values: tuple[str, ...], code: str, none: bool = True, column: str = "") -> pl.Expr:
        """A code column back to the catalog's names (the code ``len(values)`` is null)."""
        return pl.lit(coded_as(column, [*values, None] if none else list(values))).gather(pl.col(code))

    def constant(column: str, value: str) -> pl.Expr:
        return pl.lit(coded_as(column, [value])).first() if coded else pl.lit(value)

    direction = pl.lit(own["direction"]).gather(row) if other_direction else name(DIRECTIONS, "_dir", column="direction")
    rated = lines.select(
        *(pl.lit(own[c]).gather(row).alias(c) for c in ("record_id", "source")),
        pl.lit(subs["msisdn"]).gather(pl.col("_si")).alias("msisdn"),
        "line", constant("period", per.key).alias("period"), "started_at",
        name(KINDS, "_k", none=False, column="kind").alias("kind"),
        direction.alias("direction"),
        pl.lit(own["roaming_country"]).gather(row).alias("roaming_country"),
        name(dims.plans, "_p", none=False, column="plan_id").alias("plan_id"),
        pl.lit(coded_as("rule_id", table["rule_id"].to_list())).gather(pl.col("_ki")).alias("rule_id"),
        pl.lit(coded_as("rate_id", table["rate_id"].to_list())).gather(pl.col("_ki")).alias("rate_id"),
        # a call to no number priced where the destination does not matter has no zone, as one with none
        pl.lit(coded_as("zone", [*dims.zones, None, None])).gather(pl.col("_z")).alias("zone"),
        name(dims.roaming, "_r", column="roaming_zone").alias("roaming_zone"),
        name(dims.bands, "_b", none=False, column="band").alias("band"),
        "offset", "quantity",
        pl.lit(coded_as("unit", list(_UNIT_OF_KIND.values()))).gather(pl.col("_k")).alias("unit"),
        pl.lit(coded_as("allowance_id", [*dims.allowances])).gather(pl.col("_aid")).alias("allowance_id"),
        "allowance_before", "allowance_used", "charged_quantity", "amount_minor",
        constant("currency", catalog.operator.currency).alias("currency"), "capped", "throttled",
        (pl.lit(own["verdict"]).gather(row) if held else pl.lit(None, dtype=pl.String)).alias("verdict"),
        pl.lit(None, dtype=pl.String).alias("subscription_id"),
    ).select(list(RATED_COLUMNS))
    # the columns not coded as the contract types them (the coded ones are enums of the same values)
    rated = rated.cast({c: t for c, t in RATED_COLUMNS.items()
                        if not (coded and isinstance(rated.schema[c], pl.Enum))})
    if coded:
        rated_vas = rated_vas.cast({c: t for c, t in rated.schema.items() if isinstance(t, pl.Enum)})

    if closing is None:
        state = empty(STATE_COLUMNS)
    else:
        # by subscriber as the lines are ordered (the number's value when every number is plain digits: an
        # integer sort, a few times cheaper than sorting the strings) and counter
        state = closing.sort("_m", "counter").select(
            (pl.col("_m").cast(pl.String) if numeric else pl.col("_m")).alias("msisdn"), "counter", "used")
    return RatingResult(
        pl.concat([rated, rated_vas]),
        pl.concat(unrated).sort("msisdn", "started_at", "source", "record_id"),
        state.cast(STATE_COLUMNS),  # type: ignore[arg-type]
    )
