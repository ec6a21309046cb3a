"""Frames for the churn warning from an operator directory (docs/formats.md), without a home.

Reads ``subscribers.csv`` (its optional ``customer_since``, when the current customer's holding of a line that
moved to them with its activation kept began, as the register's ``holder_since``), ``complaints.jsonl``,
``consent/*.jsonl`` and the usage files in canonical Parquet (``usage/*.parquet``). Usage in other layouts (CSV,
JSON Lines, switch formats) needs mediation: ``fairtel load DIR`` puts every feed in a home, and the commands read
the home instead.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.time import parse_rfc3339, utc_now

_USAGE = ("record_id", "source", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down",
          "peer", "roaming_country")


def _instant(col: str) -> pl.Expr:
    return pl.col(col).str.to_datetime(time_zone="UTC", time_unit="us")


# The instants of a subscribers file (docs/formats.md): ``activated_at`` is required, the others may be empty.
# ``customer_since`` (an owner change, 过户: since when the row's customer holds a line that moved to them with its
# activation kept) is read as the register keeps it, ``holder_since``; a file may give it under that name instead.
_SUBSCRIBER_INSTANTS = ("activated_at", "closed_at", "suspended_at", "customer_since", "holder_since")
_HOLDING_NAMES = ("customer_since", "holder_since")
# RFC 3339 with its offset, as ``parse_rfc3339`` takes it (a naive time is refused, not read as UTC)
_RFC3339 = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
            r"([Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$")


def _why_not_instant(text: str) -> str:
    try:
        parse_rfc3339(text)
    except FairtelError as exc:
        return exc.message
    return f"outside the range of instants that can be read (UTC years 1-9999): {text!r}"


def _subscriber_instants(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    """``frame`` with each of its instant columns read as UTC timestamps, an empty value as null. Raises
    ``InvalidInputError`` naming the file, line and field of every value that is not an RFC 3339 timestamp with
    its offset, and of every empty ``activated_at`` (one record a line: the header is line 1)."""
    problems: list[Problem] = []
    if "activated_at" not in frame.columns:
        problems.append(Problem(str(path), 1, "activated_at", "required column is missing", "missing_field"))
    parsed: list[pl.Expr] = []
    for col in (c for c in _SUBSCRIBER_INSTANTS if c in frame.columns):
        text = pl.col(col).str.strip_chars()
        text = pl.when(text == "").then(None).otherwise(text)
        value = (
            pl.when(text.str.contains(_RFC3339))
            .then(text.str.replace(r"^(.{10})[Tt ]", "${1}T").str.replace(r"[Zz]$", "+00:00"))
            .otherwise(None)
            .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", time_zone="UTC", time_unit="us", strict=False)
        )
        checked = frame.select(text.alias("text"), value.alias("value")).with_row_index("i")
        bad = checked.filter(pl.col("text").is_not_null() & pl.col("value").is_null())
        problems += [Problem(str(path), i + 2, col, _why_not_instant(t), "bad_timestamp")
                     for i, t in bad.select("i", "text").iter_rows()]
        if col == "activated_at":
            empty = checked.filter(pl.col("text").is_null())["i"]
            problems += [Problem(str(path), i + 2, col, "required value is empty", "missing_field") for i in empty]
        parsed.append(value.alias(col))
    problems += _holding_problems(frame.with_columns(parsed), path)
    if problems:
        problems.sort(key=lambda p: (p.line or 0, _SUBSCRIBER_INSTANTS.index(p.field or "activated_at")))
        raise InvalidInputError(problems, what=str(path))
    out = frame.with_columns(parsed)
    # the frames downstream (churn, advice) read the holding's start as ``holder_since``
    return out.rename({"customer_since": "holder_since"}) if "customer_since" in out.columns else out


def _holding_problems(frame: pl.DataFrame, path: Path) -> list[Problem]:
    """The problems of the owner-change column of a parsed ``frame``: both names given (which one holds is not
    known), or a holding that begins before the line's activation or after now (the register refuses the same
    rows: docs/formats.md)."""
    given = [c for c in _HOLDING_NAMES if c in frame.columns]
    if len(given) > 1:
        return [Problem(str(path), 1, "holder_since", "give one of customer_since and holder_since, not both",
                        "invalid")]
    if not given or "activated_at" not in frame.columns:
        return []
    col, now = given[0], utc_now()
    checked = frame.select(pl.col(col).alias("since"), pl.col("activated_at")).with_row_index("i")
    early = checked.filter(pl.col("since") < pl.col("activated_at"))
    late = checked.filter(pl.col("since") > now)
    return ([Problem(str(path), i + 2, col, "before the line was activated", "invalid") for i in early["i"]]
            + [Problem(str(path), i + 2, col, f"in the future (after {now.isoformat()})", "invalid")
               for i in late["i"]])


def read_subscribers_csv(path: Path) -> pl.DataFrame:
    """The subscribers file, every field as text but its instants (``activated_at``, and ``closed_at``,
    ``suspended_at`` and ``customer_since`` when the file has them), which are UTC timestamps; an empty optional
    instant is null. ``customer_since`` comes out as ``holder_since``, the name the churn warning and plan advice
    read: a line that moved to another customer with its activation kept is scored from that instant."""
    if not path.is_file():
        raise NotFoundError(f"{path}: subscribers file not found")
    frame = pl.read_csv(path, infer_schema=False)
    return _subscriber_instants(frame, path)


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
