"""A Parquet usage file whose count column holds a value no int64 can: a float at or above 2**63 (1e19), a whole
float above 2**53, NaN or infinity, or a uint64 above int64's range. Only that record is refused, naming the
field; the file's other records are read.

Before: the whole file failed as ``internal_error`` (a safe Arrow cast refused the batch), with no row or field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, ingest_files


def settings(home: Path) -> Settings:
    return Settings(home=home, batch_size=1000, partial_timeout_s=3600)


def rejected(report: FileReport) -> list[dict[str, Any]]:
    assert report.rejects_file is not None
    return [json.loads(line) for line in Path(report.rejects_file).read_text().splitlines()]


def write(path: Path, durations: pa.Array) -> Path:
    n = len(durations)
    pq.write_table(pa.table({
        "record_id": [f"pq-{i}" for i in range(n)],
        "source": ["msc-01"] * n,
        "msisdn": ["8613800138000"] * n,
        "kind": ["voice"] * n,
        "direction": ["out"] * n,
        "started_at": ["2026-11-01T08:00:00+08:00"] * n,
        "peer": ["8613900139000"] * n,
        "duration_s": durations,
    }), path)
    return path


@pytest.mark.parametrize(("durations", "reason"), [
    (pa.array([1e19, 61.0]), "out_of_range"),
    (pa.array([2.0**55, 61.0]), "out_of_range"),
    (pa.array([-1e19, 61.0]), "negative"),
    (pa.array([float("nan"), 61.0]), "bad_value"),
    (pa.array([float("inf"), 61.0]), "bad_value"),
    (pa.array([2**64 - 1, 61], pa.uint64()), "out_of_range"),
])
def test_a_count_no_int64_holds_refuses_that_record_only(tmp_path: Path, durations: pa.Array, reason: str) -> None:
    path = write(tmp_path / "usage.parquet", durations)
    [r] = ingest_files([path], settings=settings(tmp_path / "h"))
    assert (r.status, r.read, r.accepted, r.rejected) == ("ingested", 2, 1, 1), r.message
    [bad] = rejected(r)
    assert (bad["position"], bad["reason"], bad["field"]) == (1, reason, "duration_s")

