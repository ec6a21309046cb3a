"""The lake writer: periods of a batch in the operator's time zone, row filtering, and row groups gathered
from small batches without reordering a row."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.mediation import _output
from fairtel.mediation._output import PartWriter, filter_rows, periods_of, split_periods

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Apia", "UTC"]


@pytest.mark.parametrize("tz", ZONES)
def test_split_periods_agrees_with_the_calendar(tz: str) -> None:
    rng = np.random.default_rng(len(tz))
    zone = ZoneInfo(tz)
    edges = [int(datetime(y, m, 1, tzinfo=zone).timestamp()) * 1_000_000 for y in (2020, 2026) for m in range(1, 13)]
    cases = [
        np.array([e + d for e in edges for d in (-1, 0, 1)], dtype=np.int64),  # every month boundary
        (1_793_462_400 + rng.integers(0, 3600, 500)) * 1_000_000,  # one period
        (946_684_800 + rng.integers(0, 86400 * 365 * 30, 5000)) * 1_000_000,  # thirty years
    ]
    for us in cases:
        arr = pa.array(us, pa.timestamp("us", tz="UTC"))
        want = periods_of(arr, tz)
        periods, index = split_periods(arr, tz)
        got = np.full(len(us), periods[0]) if index is None else np.array(periods)[index]
        assert (got == want).all()
        assert periods == sorted(set(want.tolist()))


def test_filter_rows_is_table_filter() -> None:
    t = pa.table({"a": [1, 2, None, 4], "b": ["x", None, "z", "w"]}).slice(0, 4)
    mask = np.array([True, False, True, True])
    assert filter_rows(t, mask).equals(t.filter(pa.array(mask)))
    assert filter_rows(t, np.ones(4, dtype=bool)) is t


def clean_rows(n: int, start: int, day_of: list[int]) -> pa.Table:
    base = int(datetime(2026, 11, 30, tzinfo=ZoneInfo("UTC")).timestamp()) * 1_000_000
    cols: dict[str, pa.Array] = {}
    for f in CLEAN_USAGE_SCHEMA:
        if f.name == "record_id":
            cols[f.name] = pa.array([f"r{start + i}" for i in range(n)])
        elif f.name in ("source", "msisdn", "kind"):
            cols[f.name] = pa.array(["x"] * n)
        elif f.name == "started_at":
            cols[f.name] = pa.array([base + d * 86400 * 1_000_000 for d in day_of], f.type)
        elif f.name == "parts":
            cols[f.name] = pa.array([1] * n, pa.int32())
        elif f.name == "incomplete":
            cols[f.name] = pa.array([False] * n)
        else:
            cols[f.name] = pa.nulls(n, f.type)
    return pa.table(cols, schema=CLEAN_USAGE_SCHEMA)


def test_part_writer_gathers_batches_into_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_output, "ROW_GROUP_ROWS", 100)
    w = PartWriter(tmp_path, "part", "UTC", durable=False)
    rng = np.random.default_rng(3)
    written = []
    for b in range(12):
        days = rng.choice([0, 1], size=30, p=[0.8, 0.2]).tolist()  # Nov 30 or Dec 1
        t = clean_rows(30, 30 * b, days)
        written.append(t)
        w.write(t)
    paths = w.close()
    assert [p.parent.name for p in paths] == ["period=2026-11", "period=2026-12"]
    everything = pa.concat_tables(written)
    for p in paths:
        f = pq.ParquetFile(p)
        sizes = [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)]
        assert max(sizes) <= 100 + 30 and f.num_row_groups < 12  # gathered, never more than a batch over
        month = 11 if p.parent.name.endswith("11") else 12
        want = everything.filter(pc.equal(pc.month(everything.column("started_at")), month))
        assert f.read().column("record_id").to_pylist() == want.column("record_id").to_pylist()
