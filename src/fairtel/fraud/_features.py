"""Per-line and per-caller fraud features for one period, computed from clean usage in one Polars plan.

Everything here is a group-by over frames: no Python loop touches a subscriber. The usage is read once per
chunk of subscribers (a hash of the msisdn picks the chunk), so memory follows the chunk, not the period;
the few aggregates that cross subscribers (the devices several lines shared, international callers) are small
and computed over the whole period. A line's own features, and the devices it counts in ``sims_per_imei``, are
those of its current holding (from its activation, or a later owner change).

What the columns mean is documented in docs/fraud.md ("Features"); detectors read them by name.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from fairtel.core.time import DEMO_TIMEZONE

if TYPE_CHECKING:
    from fairtel.catalog import Catalog

# The columns of clean usage (CLEAN_USAGE_SCHEMA) the features read; the others are never loaded.
USAGE_COLUMNS: tuple[str, ...] = (
    "record_id", "source", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down",
    "peer", "roaming_country", "cell_id", "imei",
)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How the features read the usage. ``tz`` decides what a night, an office hour and a day are."""

    tz: str = DEMO_TIMEZONE
    domestic_zone: str = "domestic"
    premium_zone: str = "intl-premium"
    short_call_s: int = 5  # "short": an outgoing call shorter than this (unanswered attempts included)
    brief_call_s: int = 30  # "brief": shorter than this
    one_ring_max_s: int = 3  # an incoming call this short (0 = not answered) is a "one-ring" call
    night_hours: tuple[int, int] = (0, 6)  # local [start, end)
    office_hours: tuple[int, int] = (9, 18)  # local [start, end), Monday to Friday


@dataclass(frozen=True, slots=True)
class FraudFeatures:
    """``lines``: one row per served msisdn; ``callers``: one row per international number that called in;
    ``callbacks``: outgoing calls to an international number that had rung the same line with a one-ring call.
    ``config``: the reading they were computed with (None when not known, as for tables read back from a
    lake), so that the detectors' reasons state the durations that were actually counted."""

    lines: pl.DataFrame
    callers: pl.DataFrame
    callbacks: pl.DataFrame
    config: FeatureConfig | None = None


# ------------------------------------------------------------------------------------------------ zones
def _zone_of(catalog: Catalog, config: FeatureConfig) -> tuple[pl.Expr, pl.Expr]:
    """(maybe international, zone): a cheap prefix test that keeps every number outside the domestic zone,
    and the catalog's longest-prefix zone, which is only evaluated on the numbers the test kept."""
    peer = pl.col("peer")
    domestic = catalog.zone(config.domestic_zone).prefixes
    # A longer prefix of another zone may sit inside a domestic one ("8613..." for a special range).
    inner = [p for p, z in catalog.prefix_table() if z != config.domestic_zone and any(p.startswith(d) for d in domestic)]
    maybe_intl = ~pl.any_horizontal([peer.str.starts_with(d) for d in domestic]) if domestic else pl.lit(True)
    if inner:
        maybe_intl = maybe_intl | pl.any_horizontal([peer.str.starts_with(p) for p in inner])
    return maybe_intl & peer.is_not_null(), catalog.zone_expr(peer)


def _local(config: FeatureConfig) -> list[pl.Expr]:
    local = pl.col("started_at").dt.convert_time_zone(config.tz)
    hour = local.dt.hour()
    n0, n1 = config.night_hours
    o0, o1 = config.office_hours
    night = (hour >= n0) & (hour < n1) if n0 <= n1 else (hour >= n0) | (hour < n1)
    return [
        local.dt.date().alias("_day"),
        night.alias("_night"),
        ((hour >= o0) & (hour < o1) & (local.dt.weekday() <= 5)).alias("_office"),
    ]


@functools.cache
def country_timezone(country: str) -> str | None:
    """The one IANA time zone of ``country`` (ISO 3166 alpha-2) in the time zone database's ``zone.tab`` (JP:
    Asia/Tokyo, FR: Europe/Paris); ``None`` when it lists several (US, RU, CN: which clock a record was made on is
    not known from the country alone) or none, or without the file."""
    import zoneinfo
    from importlib import resources
    from pathlib import Path

    texts = [Path(base, "zone.tab") for base in zoneinfo.TZPATH]
    for where in (*texts, None):
        try:
            found = resources.files("tzdata").joinpath("zoneinfo", "zone.tab") if where is None else where
            text = found.read_text(encoding="utf-8")
        except (OSError, ModuleNotFoundError):
            continue
        zones = [f[2] for f in (line.split("\t") for line in text.splitlines() if not line.startswith("#"))
                 if len(f) >= 3 and f[0] == country.upper()]
        return zones[0] if len(zones) == 1 else None
    return None


def _visited_night(catalog: Catalog, config: FeatureConfig) -> pl.Expr:
    """Whether a call was made at night on the clock of where it was made: the visited country's for a record made
    while roaming in a country of the catalog's roaming zones with one time zone, else the operator's (``tz``)."""
    n0, n1 = config.night_hours

    def night(hour: pl.Expr) -> pl.Expr:
        return (hour >= n0) & (hour < n1) if n0 <= n1 else (hour >= n0) | (hour < n1)

    at = pl.col("started_at")
    country = pl.col("roaming_country").str.to_uppercase()
    chain: Any = None
    for c in sorted({c.upper() for z in catalog.roaming_zones for c in z.countries}):
        tz = country_timezone(c)
        if tz is None or tz == config.tz:
            continue
        hour = night(at.dt.convert_time_zone(tz).dt.hour())
        chain = pl.when(country == c).then(hour) if chain is None else chain.when(country == c).then(hour)
    home = night(at.dt.convert_time_zone(config.tz).dt.hour())
    return home if chain is None else chain.otherwise(home)


def _prepare(usage: pl.LazyFrame) -> pl.LazyFrame:
    names = usage.collect_schema().names()
    missing = [c for c in USAGE_COLUMNS if c not in names]
    lf = usage.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing) if missing else usage
    return lf.select(USAGE_COLUMNS)


def _distinct_records(lf: pl.LazyFrame) -> pl.LazyFrame:
    """``lf`` with each record once: a record repeated under its dedup key (source, record_id) on the same line
    counts once, the first copy kept. Ingest drops such copies, but usage handed to the features directly
    (a file loaded twice, a feed that resends) would count a call twice toward the evidence.

    Only the counting plans need it (a distinct count is the same with or without copies), and it is a
    filter on the first occurrence of the key rather than a ``unique``, which took about twice the time and
    memory of this filter on the streaming engine. The line is part of the key so that the features do not depend
    on how the lines are split into chunks or buckets. A row without a record_id names no record and is kept.
    """
    rid = pl.col("record_id")
    return lf.filter(rid.is_null() | pl.struct("msisdn", "source", "record_id").is_first_distinct())


# ------------------------------------------------------------------------------------------------ lines
# Distinct counts are taken from unique (line, value) pairs, then counted: ``n_unique`` inside a grouped
# aggregation is several times slower on the streaming engine than hashing the pairs once.
def _line_plans(lf: pl.LazyFrame, config: FeatureConfig) -> list[pl.LazyFrame]:
    kind, direction, dur = pl.col("kind"), pl.col("direction"), pl.col("duration_s").fill_null(0)
    vo_cond = (kind == "voice") & (direction == "out")
    lf = lf.with_columns(vo_cond.alias("_vo"), ((kind == "voice") & (direction == "in")).alias("_vi"), *_local(config))
    vo, vi = pl.col("_vo"), pl.col("_vi")
    answered = dur.filter(vo & (dur > 0))
    main = _distinct_records(lf).group_by("msisdn").agg(
        vo.sum().alias("calls_out"),
        (vo & (dur > 0)).sum().alias("calls_out_answered"),
        vi.sum().alias("calls_in"),
        ((kind == "sms") & (direction == "out")).sum().alias("sms_out"),
        ((kind == "sms") & (direction == "in")).sum().alias("sms_in"),
        (kind == "data").sum().alias("data_sessions"),
        (pl.col("bytes_up").fill_null(0) + pl.col("bytes_down").fill_null(0)).filter(kind == "data").sum().alias("data_bytes"),
        (vo & (dur < config.short_call_s)).sum().alias("_short"),
        (vo & (dur < config.brief_call_s)).sum().alias("_brief"),
        answered.mean().alias("mean_out_duration_s"),
        answered.median().alias("median_out_duration_s"),
        (vo & pl.col("_night")).sum().alias("_night_out"),
        (vo & pl.col("_office")).sum().alias("_office_out"),
        pl.col("started_at").min().alias("first_at"),
    )
    # A record without the other party (a withheld caller id) names no number: it is no distinct callee or caller.
    known = pl.col("peer").is_not_null()
    out_pairs = lf.filter(vo & known).select("msisdn", "peer").unique()
    in_pairs = lf.filter(kind.is_in(["voice", "sms"]) & (direction == "in") & known).select("msisdn", "peer", vi).unique()
    callees = out_pairs.group_by("msisdn").agg(pl.len().alias("distinct_callees"))
    callers = in_pairs.filter(pl.col("_vi")).group_by("msisdn").agg(pl.len().alias("distinct_callers"))
    # how many of the numbers a line called also called or texted it in the period
    back = (
        out_pairs.join(in_pairs.select("msisdn", "peer").unique(), on=["msisdn", "peer"], how="semi")
        .group_by("msisdn")
        .agg(pl.len().alias("callees_calling_back"))
    )
    cells = lf.select("msisdn", "cell_id").drop_nulls().unique().group_by("msisdn").agg(pl.len().alias("distinct_cells"))
    imeis = lf.select("msisdn", "imei").drop_nulls().unique().group_by("msisdn").agg(pl.len().alias("distinct_imeis"))
    days = (
        lf.select("msisdn", "_day", pl.col("roaming_country").is_not_null().alias("_roam")).unique()
        .group_by("msisdn")
        .agg(pl.col("_day").n_unique().alias("active_days"), pl.col("_day").filter(pl.col("_roam")).n_unique().alias("roaming_days"))
    )
    return [main, callees, callers, back, cells, imeis, days]


def _intl_plan(lf: pl.LazyFrame, config: FeatureConfig, maybe_intl: pl.Expr, zone: pl.Expr,
               visited_night: pl.Expr | None = None) -> pl.LazyFrame:
    """International voice only (a small share of the records), with the catalog zone of each peer and whether it
    was made at night where it was made (``_visited_night``; the operator's clock without it)."""
    return (
        _distinct_records(lf.filter((pl.col("kind") == "voice") & maybe_intl))
        .with_columns(zone.alias("zone"), *_local(config))
        .with_columns((pl.col("_night") if visited_night is None else visited_night).alias("_visited_night"))
        .filter(pl.col("zone") != config.domestic_zone)
    )


def _intl_line_plan(intl: pl.LazyFrame, config: FeatureConfig) -> pl.LazyFrame:
    out = intl.filter(pl.col("direction") == "out")
    prem = pl.col("zone") == config.premium_zone
    dur = pl.col("duration_s").fill_null(0)
    return out.group_by("msisdn").agg(
        pl.len().alias("intl_calls_out"),
        prem.sum().alias("premium_calls"),
        (dur.filter(prem).sum() / 60.0).alias("premium_minutes"),
        pl.col("peer").filter(prem).n_unique().alias("premium_numbers"),
        (prem & pl.col("_visited_night")).sum().alias("_premium_night"),
        (prem & pl.col("roaming_country").is_not_null()).sum().alias("premium_roaming_calls"),
        pl.col("started_at").filter(prem).min().alias("premium_first_at"),
        pl.col("started_at").filter(prem).max().alias("premium_last_at"),
    )


def _callbacks_plan(intl: pl.LazyFrame, config: FeatureConfig) -> pl.LazyFrame:
    rings = (
        intl.filter((pl.col("direction") == "in") & (pl.col("duration_s").fill_null(0) <= config.one_ring_max_s))
        .group_by("msisdn", "peer")
        .agg(pl.col("started_at").min().alias("rung_at"))
    )
    outs = intl.filter(pl.col("direction") == "out").select(
        "msisdn", "peer", "record_id", "source", "started_at", "duration_s", "zone", "roaming_country"
    )
    return outs.join(rings, on=["msisdn", "peer"], how="inner").filter(pl.col("started_at") > pl.col("rung_at"))


def _caller_plan(intl: pl.LazyFrame, config: FeatureConfig) -> pl.LazyFrame:
    inc = intl.filter(pl.col("direction") == "in")
    dur = pl.col("duration_s").fill_null(0)
    ring = dur <= config.one_ring_max_s
    return inc.group_by("peer").agg(
        pl.first("zone"),
        pl.len().alias("calls"),
        pl.col("msisdn").n_unique().alias("targets"),
        ring.sum().alias("one_ring_calls"),
        pl.col("msisdn").filter(ring).n_unique().alias("one_ring_targets"),
        dur.mean().alias("mean_duration_s"),
        pl.col("started_at").min().alias("first_at"),
        pl.col("started_at").max().alias("last_at"),
    ).with_columns(
        (pl.col("one_ring_calls") / pl.col("calls")).alias("one_ring_share"),
        ((pl.col("last_at") - pl.col("first_at")).dt.total_seconds() / 3600.0).alias("span_hours"),
    )


_UTC = pl.Datetime("us", "UTC")


def _device_pairs_plan(lf: pl.LazyFrame) -> pl.LazyFrame:
    """(imei, msisdn, last_at): each device and line seen together, and when the line was last seen in it (UTC)."""
    at = pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return lf.filter(pl.col("imei").is_not_null()).group_by("imei", "msisdn").agg(at.max().alias("last_at"))


def _shared_devices_plan(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The pairs (``_device_pairs_plan``) of the devices seen with more than one line: the only ones whose count
    depends on other lines (a device of one line counts one SIM)."""
    pairs = _device_pairs_plan(lf)
    shared = pairs.group_by("imei").agg(pl.len().alias("_lines")).filter(pl.col("_lines") > 1)
    return pairs.join(shared.select("imei"), on="imei", how="semi")


def _sims_plan(own: pl.LazyFrame, shared: pl.LazyFrame, subs: pl.LazyFrame | None) -> pl.LazyFrame:
    """msisdn, ``sims_per_imei`` of the lines of ``own`` (their device pairs, ``_device_pairs_plan``): over the
    devices a line was seen in during its current holding (``subs``' ``_holding_from``: its activation, or a later
    owner change; the whole period without it), the most lines seen in one of them from the start of that holding,
    the line itself included. ``shared``: the pairs of every line of the devices several lines shared
    (``_shared_devices_plan``); a device it does not hold was this line's alone.

    A device the previous customer of a line used before an owner change (or an earlier holder of a recycled number)
    is not the current holder's, and the SIMs a device of theirs carried before their holding began are no sign of
    a SIM-box of theirs; a line seen in the device since then counts, whoever holds it."""
    since = (subs.select("msisdn", "_holding_from") if subs is not None
             else own.select("msisdn").unique().with_columns(pl.lit(None, dtype=_UTC).alias("_holding_from")))
    start = pl.col("_holding_from")
    held = (own.select("imei", "msisdn", pl.col("last_at").cast(_UTC))
            .join(since, on="msisdn", how="left")
            .filter(start.is_null() | (pl.col("last_at") >= start)))
    others = shared.select("imei", pl.col("msisdn").alias("_other"), pl.col("last_at").cast(_UTC).alias("_other_last"))
    seen = pl.col("_other").is_not_null() & (start.is_null() | (pl.col("_other_last") >= start))
    return (
        held.join(others, on="imei", how="left")
        .group_by("msisdn", "imei")
        .agg(pl.col("_other").filter(seen).n_unique().alias("_sims"))
        .group_by("msisdn")
        .agg(pl.max_horizontal(pl.col("_sims"), pl.lit(1, dtype=pl.UInt32)).max().alias("sims_per_imei"))
    )


def _finish(lines: pl.LazyFrame, subscribers: pl.LazyFrame | None) -> pl.LazyFrame:
    if subscribers is not None:
        lines = lines.join(subscribers, on="msisdn", how="left")
    else:
        lines = lines.with_columns(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias(c)
                                   for c in ("activated_at", "_holding_from"))
    zero = [
        "distinct_callees", "distinct_callers", "distinct_cells", "distinct_imeis", "roaming_days",
        "callees_calling_back", "intl_calls_out", "premium_calls", "premium_minutes", "premium_numbers",
        "_premium_night", "premium_roaming_calls", "callbacks_to_one_ring", "premium_callbacks",
    ]
    days = pl.max_horizontal(pl.col("active_days"), pl.lit(1))
    calls_out = pl.col("calls_out")

    def share(num: str | pl.Expr, den: pl.Expr) -> pl.Expr:
        n = pl.col(num) if isinstance(num, str) else num
        return pl.when(den > 0).then(n / den).otherwise(0.0)

    # the ages are the current holding's: from the activation, or from a later owner change (``_subscriber_frame``)
    age = (pl.col("first_at") - pl.col("_holding_from")).dt.total_seconds() / 86400.0
    premium_age = (pl.col("premium_first_at") - pl.col("_holding_from")).dt.total_seconds() / 86400.0
    return (
        lines.with_columns(pl.col(c).fill_null(0) for c in zero)
        .with_columns(pl.col("sims_per_imei").fill_null(0))
        .with_columns(
            (calls_out / days).alias("calls_out_per_day"),
            (pl.col("sms_out") + pl.col("sms_in")).truediv(days).alias("sms_per_day"),
            (pl.col("data_sessions") / days).alias("data_sessions_per_day"),
            (calls_out / (pl.col("calls_in") + 1)).alias("out_in_ratio"),
            share("distinct_callees", calls_out).alias("callee_diversity"),
            share("callees_calling_back", pl.col("distinct_callees")).alias("callback_share"),
            share("_short", calls_out).alias("short_call_share"),
            share("_brief", calls_out).alias("brief_call_share"),
            share("_night_out", calls_out).alias("night_share"),
            share("_office_out", calls_out).alias("office_hours_share"),
            share("intl_calls_out", calls_out).alias("intl_share"),
            share("_premium_night", pl.col("premium_calls")).alias("premium_night_share"),
            age.alias("line_age_days"),
            premium_age.alias("premium_line_age_days"),
            # when the holding began with an owner change (later than the activation): the rules' reasons say a
            # line's age is its new holder's, not a new line's
            pl.when(pl.col("_holding_from") > pl.col("activated_at")).then(pl.col("_holding_from"))
            .otherwise(None).alias("holder_since"),
        )
        .drop("_short", "_brief", "_night_out", "_office_out", "_premium_night", "_holding_from")
        .sort("msisdn")
    )


def _instant(column: str, dtype: pl.DataType) -> pl.Expr:
    """``column`` of the subscribers (of type ``dtype``: RFC 3339 text or an aware timestamp) as a UTC instant."""
    if dtype == pl.Null:
        return pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    if dtype == pl.String:
        at = pl.col(column).str.replace(r"[Zz]$", "+00:00").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_zone="UTC"
        )
    elif isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        raise ValueError(f"subscribers.{column} has no time zone")
    else:
        at = pl.col(column).dt.convert_time_zone("UTC")
    return at.dt.cast_time_unit("us")


def _subscriber_frame(subscribers: pl.DataFrame | pl.LazyFrame | None) -> pl.LazyFrame | None:
    """One row per number: msisdn, ``activated_at`` and ``_holding_from`` (UTC), where its current holding began: its
    activation, or its ``holder_since`` when the subscribers give a later one (the line moved to another customer
    with its activation kept, an owner change: the new customer's records, and the line's age to them, begin then)."""
    if subscribers is None:
        return None
    lf = subscribers.lazy()
    schema = lf.collect_schema()
    at = _instant("activated_at", schema["activated_at"])
    since = (pl.max_horizontal(at, _instant("holder_since", schema["holder_since"])) if "holder_since" in schema
             else at)
    # One row per number. A number listed twice (a recycled number's old and new holder) is as new as its
    # latest activation: the line in use now is the one activated last. ("first" took whichever row the file
    # or the engine happened to put first.)
    return lf.select(pl.col("msisdn").cast(pl.String), at.alias("activated_at"), since.alias("_holding_from")
                     ).group_by("msisdn").agg(pl.col("activated_at").max(), pl.col("_holding_from").max())


def holding_starts(subscribers: pl.DataFrame | pl.LazyFrame) -> dict[str, datetime]:
    """msisdn → when its current holding began (aware, UTC), from ``subscribers`` (msisdn, activated_at,
    holder_since?): the line's latest activation, or a later owner change. What ``label_from_cases`` takes as
    ``holding_from``: a case opened before it is an earlier holder's, or the previous customer's."""
    subs = _subscriber_frame(subscribers)
    assert subs is not None
    rows = subs.select("msisdn", "_holding_from").collect().iter_rows()
    return {m: at for m, at in rows if at is not None}


def _current_holding(lf: pl.LazyFrame, subs: pl.LazyFrame | None) -> pl.LazyFrame:
    """``lf`` without the records dated before their line's current holding (``subs``: one row per number, its
    ``_holding_from``: its latest activation, or a later owner change): a recycled number's earlier holder's
    records, or the previous customer's of a line that changed owner, are not the current holder's, so they are
    neither counted in its features nor read as the start of its use (``line_age_days``). Lines ``subs`` does not
    name, and all lines without ``subs``, keep every record."""
    if subs is None:
        return lf
    since = subs.select("msisdn", "_holding_from")
    start = pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return (lf.join(since, on="msisdn", how="left", maintain_order="left")
            .filter(pl.col("_holding_from").is_null() | (start >= pl.col("_holding_from")))
            .drop("_holding_from"))


def _operator_config(catalog: Catalog) -> FeatureConfig:
    """The default reading of the usage: on the operator's own clock (the catalog's time zone), as the engines do."""
    return FeatureConfig(tz=catalog.operator.timezone)


@dataclass(frozen=True)
class CrossFeatures:
    """The aggregates that cross subscribers: per international caller (``callers``) and the devices seen with
    more than one line (``devices``: imei, msisdn, last_at, when the line was last seen in the device), from which
    each line's ``sims_per_imei`` is counted over its own holding."""

    callers: pl.DataFrame
    devices: pl.DataFrame


def cross_features(
    usage: pl.LazyFrame | pl.DataFrame, *, catalog: Catalog, config: FeatureConfig | None = None, streaming: bool = True,
) -> CrossFeatures:
    """``CrossFeatures`` of a whole period, in one pass over ``usage``. A caller's counts are the whole period's:
    each of its calls rang whoever held the line then (docs/fraud.md, "A line that changed hands")."""
    cfg = config or _operator_config(catalog)
    engine: Literal["streaming", "auto"] = "streaming" if streaming else "auto"
    lf = _prepare(usage.lazy())
    maybe_intl, zone = _zone_of(catalog, cfg)
    callers, devices = pl.collect_all([_caller_plan(_intl_plan(lf, cfg, maybe_intl, zone), cfg),
                                       _shared_devices_plan(lf)], engine=engine)
    return CrossFeatures(callers, devices)


def device_sims(pairs: pl.DataFrame, *, subscribers: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """msisdn, ``sims_per_imei`` from ``pairs`` (imei, msisdn, last_at: every line seen in each of a group of whole
    devices, and when it was last seen in it), exact for these devices: ``compute_features``' value when a line's
    devices are spread over several groups is the largest of its groups'. ``subscribers`` (msisdn, activated_at,
    holder_since?): each line counts only the devices of its current holding, and in them the lines seen since that
    holding began."""
    lf = pairs.lazy().select("imei", "msisdn", pl.col("last_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    return _sims_plan(lf, lf, _subscriber_frame(subscribers)).collect().sort("msisdn")


def device_pairs(usage: pl.LazyFrame | pl.DataFrame, *,
                 subscribers: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """(imei, msisdn, last_at): each device and line seen together in ``usage``, and when the line was last seen in
    it (UTC), as the engines pair them to count ``sims_per_imei``: what ``detect`` takes as ``devices`` to name a
    SIM-box case's device and the other lines in it. ``subscribers`` (msisdn, activated_at, holder_since?): a line is
    paired only with what it was seen in during its current holding (a previous customer's records, or an earlier
    holder's of a recycled number, pair no device with the line), ``last_at`` the last time within it."""
    lf = _current_holding(_prepare(usage.lazy()), _subscriber_frame(subscribers))
    return _device_pairs_plan(lf).collect().sort("imei", "msisdn")


def compute_features(
    usage: pl.LazyFrame | pl.DataFrame,
    *,
    catalog: Catalog,
    subscribers: pl.DataFrame | pl.LazyFrame | None = None,
    config: FeatureConfig | None = None,
    chunks: int = 1,
    streaming: bool = True,
    cross: CrossFeatures | None = None,
) -> FraudFeatures:
    """The features of every line and of every international caller in ``usage`` (one period of clean usage,
    CLEAN_USAGE_SCHEMA; missing optional columns read as null).

    ``subscribers`` (msisdn, activated_at, holder_since?) gives the line age and bounds each line's features to its
    current holding: a record dated before the line's (latest) ``activated_at`` is an earlier holder's of a recycled
    number, and one dated before a later ``holder_since`` the previous customer's of a line that changed owner with
    its activation kept; either is left out of that line's features, and the ages count from the holding's start.
    ``sims_per_imei`` counts the devices of the line's current holding, and in each the lines seen since it began;
    the callers' table counts every call of the period (each rang whoever held the line then);
    without it the ages are null and every record counts. ``chunks``
    splits the lines into that many groups by a hash of the msisdn, one scan of the usage each, to bound
    memory on large periods. ``cross``: the two aggregates that cross subscribers (``cross_features``),
    computed over the whole period; with it, ``usage`` may be any group of whole subscribers and the lines'
    features are exact (a caller's and a device's counts come from ``cross``, not from the group). Without
    ``config``, days, nights and office hours are read on the catalog operator's clock.
    """
    cfg = config or _operator_config(catalog)
    if chunks < 1:
        raise ValueError("chunks must be at least 1")
    engine: Literal["streaming", "auto"] = "streaming" if streaming else "auto"
    lf = _prepare(usage.lazy())
    subs = _subscriber_frame(subscribers)
    maybe_intl, zone = _zone_of(catalog, cfg)
    cross = cross or cross_features(usage, catalog=catalog, config=cfg, streaming=streaming)
    lf = _current_holding(lf, subs)
    callers, shared = cross.callers, cross.devices.lazy()
    line_parts: list[pl.DataFrame] = []
    callback_parts: list[pl.DataFrame] = []
    for i in range(chunks):
        part = lf if chunks == 1 else lf.filter(pl.col("msisdn").hash(seed=0) % chunks == i)
        intl = _intl_plan(part, cfg, maybe_intl, zone, _visited_night(catalog, cfg))
        plans = _line_plans(part, cfg)
        sims_plan = _sims_plan(_device_pairs_plan(part), shared, subs)
        *frames, intl_lines, callbacks, sims = pl.collect_all(
            [*plans, _intl_line_plan(intl, cfg), _callbacks_plan(intl, cfg), sims_plan], engine=engine)
        per_line_cb = callbacks.group_by("msisdn").agg(
            pl.len().alias("callbacks_to_one_ring"),
            (pl.col("zone") == cfg.premium_zone).sum().alias("premium_callbacks"),
        )
        joined = frames[0].lazy()
        for extra in [*frames[1:], intl_lines, per_line_cb, sims]:
            joined = joined.join(extra.lazy(), on="msisdn", how="left")
        line_parts.append(_finish(joined, subs).collect())
        callback_parts.append(callbacks)
    lines = pl.concat(line_parts).sort("msisdn") if len(line_parts) > 1 else line_parts[0]
    cbs = pl.concat(callback_parts) if len(callback_parts) > 1 else callback_parts[0]
    return FraudFeatures(
        lines=lines,
        callers=callers.sort("peer"),
        callbacks=cbs.sort("started_at", "msisdn", "record_id"),
        config=cfg,
    )


def premium_calls(
    usage: pl.LazyFrame | pl.DataFrame, *, catalog: Catalog, config: FeatureConfig | None = None,
    msisdns: Collection[str] | None = None, subscribers: pl.DataFrame | pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """The outgoing calls to the premium zone in ``usage`` (of ``msisdns`` only, when given), each record once:
    msisdn, source, record_id, started_at, peer, duration_s, roaming_country; by line and start. The calls an
    IRSF case is about (its evidence names them; a confirmed case on a victim's line refunds them). ``subscribers``
    (msisdn, activated_at, holder_since?): only the calls of each line's current holding, as its features count
    them: a call its previous customer made before an owner change is not the case's, nor refunded to its holder."""
    cfg = config or _operator_config(catalog)
    lf = _current_holding(_prepare(usage.lazy()), _subscriber_frame(subscribers))
    if msisdns is not None:
        lf = lf.filter(pl.col("msisdn").is_in(list(msisdns)))
    maybe_intl, zone = _zone_of(catalog, cfg)
    out = (
        _distinct_records(lf.filter((pl.col("kind") == "voice") & (pl.col("direction") == "out") & maybe_intl))
        .with_columns(zone.alias("zone"))
        .filter(pl.col("zone") == cfg.premium_zone)
        .select("msisdn", "source", "record_id", "started_at", "peer", "duration_s", "roaming_country")
        .sort("msisdn", "started_at", "record_id")
    )
    return out.collect()
