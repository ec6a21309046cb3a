"""A Parquet usage file whose integer field (duration_s, bytes_up, bytes_down, seq) is a float column. A whole value
the column's type holds exactly is that integer (60.0 is 60, -0.0 is 0); every other value refuses its record,
naming file, row and field: a fraction (60.5), NaN, an infinity, a value out of the field's range (1e20), and a
whole value at or above the magnitude where the float type stops holding every integer (2**53 for float64, 2**24
for float32), since the writer's integer may have been rounded to it (2**53 + 1 is stored as 2**53). Every record
is accepted, rejected or a duplicate, and the counts add up.

Before: a float64 ``seq`` of 2**53 or 2**53 + 2, and a float32 byte count of 2**24 or 2**30, were accepted as
whatever integer the rounded float happened to be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, ingest_files

NAN, INF = float("nan"), float("inf")


def ingest(tmp_path: Path, field: str, values: pa.Array) -> tuple[FileReport, list[dict[str, Any]], list[Any]]:
    """One file, one record per value (plus one good record), the float column under test as ``field``."""
    n = len(values)
    kind = "data" if field.startswith("bytes") else "voice"
    cols: dict[str, Any] = {
        "record_id": [f"r{i}" for i in range(n)],
        "source": ["pgw-01"] * n,
        "msisdn": ["8613800138000"] * n,
        "kind": [kind] * n,
        "direction": ["out"] * n,
        "started_at": ["2026-11-01T08:00:00+08:00"] * n,
        "peer": ["8613900139000"] * n,
    }
    if kind == "voice" and field != "duration_s":
        cols["duration_s"] = pa.array([60] * n, pa.int64())
    if field == "seq":  # each record a whole one-part session: stitched at once, nothing held
        cols["session_id"] = [f"s{i}" for i in range(n)]
        cols["final"] = [True] * n
    cols[field] = values
    path = tmp_path / f"{field}.parquet"
    pq.write_table(pa.table(cols), path)
    [report] = ingest_files([path], settings=Settings(home=tmp_path / "h", batch_size=1000, partial_timeout_s=3600))
    assert report.status == "ingested", report.message
    assert report.read == n == report.accepted + report.rejected + report.duplicate
    rejects = ([json.loads(line) for line in Path(report.rejects_file).read_text().splitlines()]
               if report.rejects_file else [])
    for r in rejects:
        assert r["file"] == str(path) and r["field"] == field
    lake = sorted((tmp_path / "h" / "lake" / "usage").glob("period=*/*.parquet"))
    clean = pa.concat_tables([pq.read_table(p) for p in lake]).sort_by("record_id") if lake else None
    accepted = [] if clean is None or field == "seq" else list(zip(clean.column("record_id").to_pylist(),
                                                  clean.column(field).to_pylist(),
                                                  strict=True))
    return report, rejects, accepted


@pytest.mark.parametrize("field", ["duration_s", "bytes_down"])
def test_each_float_value_of_a_count_is_accepted_exactly_or_refused_with_a_reason(tmp_path: Path, field: str) -> None:
    values = pa.array([60.0, 60.5, NAN, INF, -INF, 1e20, -0.0, 2.0**53, 2.0**53 + 2], pa.float64())
    report, rejects, accepted = ingest(tmp_path, field, values)
    assert accepted == [("r0", 60), ("r6", 0)]
    assert [(r["position"], r["reason"]) for r in rejects] == [
        (2, "bad_value"), (3, "bad_value"), (4, "bad_value"), (5, "bad_value"),
        (6, "out_of_range"), (8, "out_of_range"), (9, "out_of_range")]
    assert (report.accepted, report.rejected, report.duplicate) == (2, 7, 0)


def test_a_float_seq_beyond_exact_integers_is_refused(tmp_path: Path) -> None:
    # seq has no range of its own below int64: only the float's precision can refuse 2**53
    values = pa.array([60.0, 60.5, NAN, INF, 1e20, -0.0, 2.0**53 - 1, 2.0**53, 2.0**53 + 2, 2.0**60], pa.float64())
    report, rejects, _ = ingest(tmp_path, "seq", values)  # parts numbered from 60 wait for their session's others
    assert [(r["position"], r["reason"]) for r in rejects] == [
        (2, "bad_value"), (3, "bad_value"), (4, "bad_value"), (5, "out_of_range"),
        (8, "bad_value"), (9, "bad_value"), (10, "bad_value")]
    assert all("2**53" in r["message"] for r in rejects if r["position"] >= 8)
    assert (report.accepted, report.rejected) == (3, 7)


def test_a_float32_count_is_exact_only_below_two_to_the_24(tmp_path: Path) -> None:
    # 16777217 written as float32 is stored as 16777216.0: the count read would be one byte short
    values = pa.array([60.0, 2.0**24 - 1, 2.0**24, 16777217.0, 2.0**30], pa.float32())
    report, rejects, accepted = ingest(tmp_path, "bytes_down", values)
    assert accepted == [("r0", 60), ("r1", 2**24 - 1)]
    assert [(r["position"], r["reason"]) for r in rejects] == [(3, "bad_value"), (4, "bad_value"), (5, "bad_value")]
    assert all("2**24" in r["message"] for r in rejects)
    assert (report.accepted, report.rejected) == (2, 3)
