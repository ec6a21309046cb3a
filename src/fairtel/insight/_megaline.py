"""Megaline's usage tables as canonical usage records and subscribers, and its two plans as a catalog.

Megaline (a fictional US operator of 2018 teaching data) publishes ``megaline_users.csv`` (user_id, plan,
reg_date, churn_date, ...), ``megaline_calls.csv`` (id, user_id, call_date, duration in minutes),
``megaline_messages.csv`` (id, user_id, message_date) and ``megaline_internet.csv`` (id, user_id,
session_date, mb_used). The import follows Megaline's billing rules:

- a call lasts ``ceil(duration × 60)`` seconds, so that the catalog's 60 s increments round each call up
  to whole minutes exactly as Megaline does (durations have two decimals: whole minutes stay whole);
- a user-month's data sessions become **one** data record of the month's total bytes (1 MB = 2^20 bytes,
  rounded up), because Megaline rounds the month's total megabytes up to whole gigabytes, not each
  session; the catalog's 1 GiB increment then applies to that total;
- the tables have dates and no clock times: every event is placed at 12:00 on its date on the
  America/New_York clock (the catalog's), which keeps it on its date and in its month in every US zone.

Each user gets the number ``1555`` + the user id on 7 digits (``15550001000``), E.164 digits of a
fictional US range; ``user_id`` is kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl

from fairtel.catalog import Catalog, load_catalog
from fairtel.core.errors import InvalidInputError, NotFoundError, Problem

MEGALINE_TIMEZONE = "America/New_York"
MEGALINE_FILES = {
    "users": "megaline_users.csv",
    "calls": "megaline_calls.csv",
    "messages": "megaline_messages.csv",
    "internet": "megaline_internet.csv",
}
MEGALINE_PLANS = ("surf", "ultimate")
BYTES_PER_MB = 1 << 20
_NOON = 12


@dataclass(frozen=True)
class MegalineData:
    """``usage``: canonical clean usage columns (record_id, source, msisdn, kind, direction, started_at,
    duration_s, bytes_up, bytes_down, peer); ``subscribers``: msisdn, user_id, customer_id, plan_id,
    activated_at, status, language, region, churned_on."""

    usage: pl.DataFrame
    subscribers: pl.DataFrame
    sessions: int  # internet sessions read, before they were summed per user-month

    def periods(self) -> list[str]:
        months = self.usage.select(
            pl.col("started_at").dt.convert_time_zone(MEGALINE_TIMEZONE).dt.strftime("%Y-%m").unique().sort()
        )
        return [str(m) for m in months.to_series().to_list()]


def megaline_catalog_path() -> Path:
    """The packaged Megaline catalog (``fairtel/insight/data/megaline.toml``)."""
    res = resources.files("fairtel.insight").joinpath("data/megaline.toml")
    if not res.is_file():
        raise NotFoundError("package data fairtel/insight/data/megaline.toml is missing")
    return Path(str(res))


def load_megaline_catalog() -> Catalog:
    return load_catalog(megaline_catalog_path())


def msisdn_of(user_id: pl.Expr) -> pl.Expr:
    return pl.concat_str(pl.lit("1555"), user_id.cast(pl.String).str.zfill(7))


def _read(directory: Path, what: str, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    path = directory / MEGALINE_FILES[what]
    if not path.is_file():
        raise NotFoundError(f"{path}: Megaline {what} table not found")
    frame = pl.read_csv(path, infer_schema=False)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError([Problem(str(path), 1, c, "column missing") for c in missing], what=str(path))
    frame = frame.select(list(columns))
    typed = frame.with_columns(
        [
            pl.col(c).str.strip_chars().str.to_date("%Y-%m-%d", strict=False) if t == pl.Date()
            else pl.col(c).str.strip_chars().cast(t, strict=False)
            for c, t in columns.items()
            if t != pl.String()
        ]
    )
    problems: list[Problem] = []
    for c, t in columns.items():
        if t == pl.String():
            continue
        bad = typed.with_row_index("_i").filter(pl.col(c).is_null() & frame[c].is_not_null())
        problems += [Problem(str(path), int(i) + 2, c, f"not a {t}: {frame[c][int(i)]!r}") for i in bad["_i"].head(20)]
    if problems:
        raise InvalidInputError(problems, what=str(path))
    return typed


def _noon(day: pl.Expr) -> pl.Expr:
    local = day.cast(pl.Datetime("us")) + pl.duration(hours=_NOON)
    return local.dt.replace_time_zone(MEGALINE_TIMEZONE).dt.convert_time_zone("UTC")


def read_megaline(directory: str | Path) -> MegalineData:
    """Read Megaline's four usage tables from ``directory`` (see the module's docstring for the rules)."""
    d = Path(directory)
    users = _read(d, "users", {"user_id": pl.Int64(), "city": pl.String(), "reg_date": pl.Date(),
                               "plan": pl.String(), "churn_date": pl.Date()})
    unknown = users.with_row_index("_i").filter(~pl.col("plan").is_in(MEGALINE_PLANS))
    if unknown.height:
        raise InvalidInputError(
            [Problem(str(d / MEGALINE_FILES["users"]), int(i) + 2, "plan", f"not a Megaline plan: {p!r}")
             for i, p in zip(unknown["_i"], unknown["plan"], strict=True)], what="megaline users")
    calls = _read(d, "calls", {"id": pl.String(), "user_id": pl.Int64(), "call_date": pl.Date(), "duration": pl.String()})
    messages = _read(d, "messages", {"id": pl.String(), "user_id": pl.Int64(), "message_date": pl.Date()})
    internet = _read(d, "internet", {"id": pl.String(), "user_id": pl.Int64(), "session_date": pl.Date(),
                                     "mb_used": pl.String()})
    # Decimal arithmetic: a two-decimal duration is exact, so ceil(minutes × 60) is too.
    seconds = pl.col("duration").str.strip_chars().cast(pl.Decimal(18, 4)) * 60
    voice = calls.select(
        pl.col("id").alias("record_id"),
        pl.lit("megaline-calls").alias("source"),
        msisdn_of(pl.col("user_id")).alias("msisdn"),
        pl.lit("voice").alias("kind"),
        pl.lit("out").alias("direction"),
        _noon(pl.col("call_date")).alias("started_at"),
        seconds.ceil().cast(pl.Int64).alias("duration_s"),
    )
    sms = messages.select(
        pl.col("id").alias("record_id"),
        pl.lit("megaline-messages").alias("source"),
        msisdn_of(pl.col("user_id")).alias("msisdn"),
        pl.lit("sms").alias("kind"),
        pl.lit("out").alias("direction"),
        _noon(pl.col("message_date")).alias("started_at"),
    )
    month = pl.col("session_date").dt.strftime("%Y-%m")
    data = (
        internet.with_columns(month.alias("_month"), pl.col("mb_used").str.strip_chars().cast(pl.Decimal(18, 2)).alias("_mb"))
        .group_by("user_id", "_month")
        .agg(pl.col("_mb").sum(), pl.col("session_date").max().alias("_last"))
        .select(
            pl.concat_str(pl.lit("internet:"), pl.col("user_id").cast(pl.String), pl.lit(":"), pl.col("_month")).alias("record_id"),
            pl.lit("megaline-internet").alias("source"),
            msisdn_of(pl.col("user_id")).alias("msisdn"),
            pl.lit("data").alias("kind"),
            # the month's last session day keeps the record inside its month
            _noon(pl.col("_last")).alias("started_at"),
            (pl.col("_mb") * BYTES_PER_MB).ceil().cast(pl.Int64).alias("bytes_down"),
        )
    )
    usage = pl.concat([voice, sms, data], how="diagonal_relaxed").with_columns(
        pl.when(pl.col("kind") == "data").then(pl.lit(0, dtype=pl.Int64)).alias("bytes_up"),
        pl.lit(None, dtype=pl.String).alias("peer"),
    )
    usage = usage.select(
        "record_id", "source", "msisdn", "kind", "direction", "started_at",
        pl.col("duration_s").cast(pl.Int64), pl.col("bytes_up").cast(pl.Int64), pl.col("bytes_down").cast(pl.Int64), "peer",
    ).sort("msisdn", "started_at", "source", "record_id")
    subscribers = users.select(
        msisdn_of(pl.col("user_id")).alias("msisdn"),
        pl.col("user_id"),
        pl.col("user_id").cast(pl.String).alias("customer_id"),
        pl.col("plan").alias("plan_id"),
        pl.col("reg_date").cast(pl.Datetime("us")).dt.replace_time_zone(MEGALINE_TIMEZONE)
        .dt.convert_time_zone("UTC").alias("activated_at"),
        pl.when(pl.col("churn_date").is_not_null()).then(pl.lit("closed")).otherwise(pl.lit("active")).alias("status"),
        pl.lit("en").alias("language"),
        pl.col("city").alias("region"),
        pl.col("churn_date").alias("churned_on"),
    ).sort("msisdn")
    return MegalineData(usage=usage, subscribers=subscribers, sessions=internet.height)
