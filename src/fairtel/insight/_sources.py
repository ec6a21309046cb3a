"""Frames for the churn warning from an operator directory (docs/formats.md), without a home.

Reads ``subscribers.csv``, ``complaints.jsonl``, ``consent/*.jsonl`` and the usage files in canonical
Parquet (``usage/*.parquet``). Usage in other layouts (CSV, JSON Lines, switch formats) needs mediation:
``fairtel load DIR`` puts every feed in a home, and the commands read the home instead.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fairtel.core.errors import NotFoundError

_USAGE = ("record_id", "source", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down",
          "peer", "roaming_country")


def _instant(col: str) -> pl.Expr:
    return pl.col(col).str.to_datetime(time_zone="UTC", time_unit="us")


def read_subscribers_csv(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise NotFoundError(f"{path}: subscribers file not found")
    frame = pl.read_csv(path, infer_schema=False)
    return frame.with_columns(_instant("activated_at").alias("activated_at"))


def read_events_jsonl(paths: list[Path]) -> pl.DataFrame | None:
    frames = [pl.read_ndjson(p, infer_schema_length=None) for p in paths if p.is_file() and p.stat().st_size]
    if not frames:
        return None
    frame = pl.concat(frames, how="diagonal_relaxed")
    return frame.with_columns(_instant("at").alias("at"))


def scan_parquet_usage(directory: Path) -> pl.LazyFrame:
    files = sorted(directory.glob("*.parquet"))
    if not files:
        raise NotFoundError(f"{directory}: no canonical Parquet usage files")
    lf = pl.scan_parquet(files)
    names = lf.collect_schema().names()
    return lf.select([pl.col(c) for c in _USAGE if c in names]).with_columns(
        pl.col("started_at").dt.convert_time_zone("UTC")
    )


def read_operator_dir(directory: str | Path) -> dict[str, pl.DataFrame | pl.LazyFrame | None]:
    """``usage`` (lazy), ``subscribers``, ``complaints`` and ``consent`` of an operator directory."""
    d = Path(directory)
    return {
        "usage": scan_parquet_usage(d / "usage"),
        "subscribers": read_subscribers_csv(d / "subscribers.csv"),
        "complaints": read_events_jsonl([d / "complaints.jsonl"]),
        "consent": read_events_jsonl(sorted((d / "consent").glob("*.jsonl"))),
    }
