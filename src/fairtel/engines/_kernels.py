"""The kernels as an engine applies them to one group of whole subscribers (or of peers, or of devices).

Each function takes and returns Polars frames and calls the domain kernel unchanged; the engines differ only
in where the groups come from. Outputs are brought to types every engine can store (``normalise``: no
unsigned integers, UTC microsecond timestamps), so the local and Spark lakes hold the same columns.

The fraud features are per line except two aggregates that cross subscribers. Both are still computed by
``compute_features``, on a grouping where they are local:

- ``callers`` (per international number calling in) on groups of *peers*: every incoming call of a peer
  lands in one group;
- ``sims_per_imei`` (per line: the most lines seen in one of its devices) on groups of *devices*: each group
  gives the exact count for its devices, and a line's value is the largest over the groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period
from fairtel.rating import RATED_COLUMNS, UNRATED_COLUMNS, rate

if TYPE_CHECKING:
    from fairtel.catalog import Catalog
    from fairtel.fraud import FeatureConfig, FraudFeatures
    from fairtel.rating import VasGate

# The clean-usage columns rating reads (CLEAN_USAGE_SCHEMA); the others are never loaded.
RATING_USAGE_COLUMNS: tuple[str, ...] = (
    "record_id", "source", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down",
    "peer", "offer_id", "amount_minor", "currency", "roaming_country",
)
OUT = "_out"  # which output a row of a tagged frame belongs to
SIMS = "sims_per_imei"
Schema = dict[str, pl.DataType]


def normalise_type(dtype: pl.DataType) -> pl.DataType:
    if dtype.is_unsigned_integer() or dtype in (pl.Int8, pl.Int16):
        return pl.Int64()
    if dtype == pl.Float32:
        return pl.Float64()
    if isinstance(dtype, pl.Datetime):
        return pl.Datetime("us", "UTC")
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    return dtype


def normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with storable types: signed integers, doubles, UTC microsecond timestamps, plain strings."""
    target = {c: normalise_type(t) for c, t in frame.schema.items()}
    return frame if target == dict(frame.schema) else frame.cast(target)  # type: ignore[arg-type]


def empty_usage(columns: Sequence[str] = tuple(CLEAN_USAGE_SCHEMA.names)) -> pl.DataFrame:
    frame = pl.from_arrow(CLEAN_USAGE_SCHEMA.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.select(list(columns))


# ------------------------------------------------------------------------------------------------- rating
def rate_group(
    usage: pl.DataFrame, *, catalog: Catalog, period: Period | str, gate: VasGate | None,
    subscribers: pl.DataFrame | None = None, coded: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rated, unrated) of one group of whole subscribers. ``subscribers``: the register's rows of the group
    (msisdn, plan_id, and holder_since when a line changed owner: allowances are then counted per holding, ``rate``);
    without them, the group's rows carry the subscriber's ``plan_id`` (null when unknown) and perhaps
    ``holder_since``. ``coded``: the catalog's names in the rated lines as enums (``rate``), for ``write_part``."""
    if subscribers is None:
        holder = [c for c in ("holder_since",) if c in usage.columns]
        subscribers = usage.select("msisdn", "plan_id", *holder).filter(pl.col("plan_id").is_not_null()).unique("msisdn")
        usage = usage.drop("plan_id", *holder)
    result = rate(usage, catalog, subscribers, period=period, gate=gate, closing_state=False, coded=coded)
    return result.rated, result.unrated


SUMMARY_COLUMNS: Schema = {"what": pl.String(), "key": pl.String(), "records": pl.Int64(), "amount_minor": pl.Int64()}
RATING_OUTPUTS: tuple[Schema, Schema, Schema] = (dict(RATED_COLUMNS), dict(UNRATED_COLUMNS), SUMMARY_COLUMNS)


def rating_summary(rated: pl.DataFrame, unrated: pl.DataFrame) -> pl.DataFrame:
    """Counts of one group, to be added up over groups (they partition the subscribers, hence the records):
    rated records and amount per kind, unrated records per reason, lines and unrated rows. A rated record's
    lines are numbered from 0, so its line 0 counts it (a distinct count of (source, record_id) pairs cost a
    tenth of the kernel's time)."""
    # lazily: an eager select or grouping first copies every column of a frame in several chunks into one
    kinds = rated.lazy().group_by("kind").agg(
        (pl.col("line") == 0).sum().cast(pl.Int64).alias("records"), pl.col("amount_minor").sum()
    ).select(pl.lit("kind").alias("what"), pl.col("kind").alias("key"), "records", "amount_minor").collect()
    reasons = unrated.lazy().group_by("reason").len("records").select(
        pl.lit("reason").alias("what"), pl.col("reason").alias("key"), "records", pl.lit(0).alias("amount_minor")).collect()
    totals = pl.DataFrame({"what": ["lines", "unrated"], "key": ["", ""], "records": [rated.height, unrated.height],
                           "amount_minor": [0, 0]})
    return pl.concat([f.cast(SUMMARY_COLUMNS) for f in (kinds, reasons, totals)])  # type: ignore[arg-type]


def add_summary(summary: pl.DataFrame) -> tuple[int, int, dict[str, tuple[int, int]], dict[str, int]]:
    """(lines, unrated, by kind, by reason) from the summaries of every group."""
    total = summary.group_by("what", "key").agg(pl.col("records").sum(), pl.col("amount_minor").sum())
    rows = {(w, k): (int(n), int(a)) for w, k, n, a in total.iter_rows()}
    by_kind = {k: v for (w, k), v in rows.items() if w == "kind"}
    by_reason = {k: v[0] for (w, k), v in rows.items() if w == "reason"}
    return rows.get(("lines", ""), (0, 0))[0], rows.get(("unrated", ""), (0, 0))[0], by_kind, by_reason


# ------------------------------------------------------------------------------------------------- features
HOLDING = ("activated_at", "holder_since")  # a line's activation and its current customer's holding, when later


def _subscribers_of(usage: pl.DataFrame) -> pl.DataFrame | None:
    if "activated_at" not in usage.columns:
        return None
    columns = [c for c in HOLDING if c in usage.columns]
    return usage.select("msisdn", *columns).filter(pl.col("activated_at").is_not_null()).unique("msisdn")


def feature_group(
    usage: pl.DataFrame, *, catalog: Catalog, config: FeatureConfig, subscribers: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(lines, callbacks) of one group of whole subscribers. ``sims_per_imei`` in ``lines`` counts only this
    group's lines; ``merge_sims`` replaces it with the value over every line (``sims_group``, per group of devices).
    ``subscribers`` (msisdn, activated_at, holder_since?): without them, the rows may carry the subscriber's
    ``activated_at`` and ``holder_since``. The kernel counts a line's records, and its age, from the later of the
    two."""
    from fairtel.fraud import compute_features

    subs = subscribers if subscribers is not None else _subscribers_of(usage)
    found = compute_features(usage.drop(*HOLDING, strict=False), catalog=catalog, subscribers=subs, config=config)
    return normalise(found.lines), normalise(found.callbacks)


def caller_group(incoming: pl.DataFrame, *, catalog: Catalog, config: FeatureConfig) -> pl.DataFrame:
    """``callers`` of one group of peers, from (at least) every incoming call of those peers."""
    from fairtel.fraud import compute_features

    return normalise(compute_features(incoming, catalog=catalog, config=config).callers)


def sims_group(pairs: pl.DataFrame, *, catalog: Catalog, config: FeatureConfig) -> pl.DataFrame:
    """(msisdn, sims_per_imei) over one group of whole devices: exact for these devices. ``pairs``: imei, msisdn,
    last_at (each device and line seen together, and when the line was last seen in it), with the subscriber's ``activated_at`` and ``holder_since`` on each row when they are
    known (a number the register lists twice on two rows): each line then counts only the devices of its current
    holding, and in them the lines seen since it began (``device_sims``). ``catalog`` and ``config`` are those of the
    other feature groups; the count reads neither."""
    from fairtel.fraud import device_sims

    holding = [c for c in HOLDING if c in pairs.columns]
    subs = (pairs.select("msisdn", *holding).filter(pl.col("activated_at").is_not_null())
            if "activated_at" in holding else None)
    found = device_sims(pairs.select("imei", "msisdn", "last_at").unique(["imei", "msisdn"]), subscribers=subs)
    return normalise(found.select("msisdn", SIMS))


def merge_sims(lines: pl.DataFrame, sims: pl.DataFrame) -> pl.DataFrame:
    """``lines`` with ``sims_per_imei`` taken from the per-device groups (largest value per line)."""
    best = sims.group_by("msisdn").agg(pl.col(SIMS).max())
    out = lines.drop(SIMS).join(best, on="msisdn", how="left", maintain_order="left")
    return out.with_columns(pl.col(SIMS).fill_null(0)).select(lines.columns)


def feature_schemas(catalog: Catalog, config: FeatureConfig) -> dict[str, Schema]:
    """The normalised schemas of the three feature tables, from the kernel itself on an empty input."""
    from fairtel.fraud import USAGE_COLUMNS as FEATURE_USAGE_COLUMNS
    from fairtel.fraud import compute_features

    subs = pl.DataFrame(schema={"msisdn": pl.String(), "activated_at": pl.Datetime("us", "UTC")})
    found = compute_features(empty_usage(FEATURE_USAGE_COLUMNS), catalog=catalog, subscribers=subs, config=config)
    return {name: dict(normalise(getattr(found, name)).schema) for name in ("lines", "callers", "callbacks")}


def normalise_features(found: FraudFeatures) -> FraudFeatures:
    from fairtel.fraud import FraudFeatures

    return FraudFeatures(lines=normalise(found.lines), callers=normalise(found.callers),
                         callbacks=normalise(found.callbacks), config=found.config)


# ------------------------------------------------------------------------------------------------- tagging
def tagged_schema(outputs: Sequence[Schema]) -> Schema:
    """One frame for several outputs of a group function (a grouped map returns a single table): a tag
    column, then every output's columns under the prefix ``o<i>_``."""
    schema: Schema = {OUT: pl.Int32()}
    for i, cols in enumerate(outputs):
        schema.update({f"o{i}_{c}": normalise_type(t) for c, t in cols.items()})
    return schema


def tag(frames: Sequence[pl.DataFrame], outputs: Sequence[Schema]) -> pl.DataFrame:
    schema = tagged_schema(outputs)
    parts = []
    for i, frame in enumerate(frames):
        renamed = frame.select([pl.col(c).alias(f"o{i}_{c}") for c in outputs[i]])
        parts.append(renamed.with_columns(pl.lit(i, dtype=pl.Int32).alias(OUT)))
    out = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame(schema=schema)
    return out.select([pl.col(c) if c in out.columns else pl.lit(None).alias(c) for c in schema]).cast(schema)  # type: ignore[arg-type]


def untag(frame: pl.DataFrame, index: int, output: Schema) -> pl.DataFrame:
    rows = frame.filter(pl.col(OUT) == index)
    return rows.select([pl.col(f"o{index}_{c}").alias(c) for c in output])
