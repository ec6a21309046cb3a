"""Where an ingest's work happens: Arrow's buffers come from the bulk memory pool while an ingest runs (the
default pool is back afterwards), and the lake writer encodes a file's last row groups on its own thread once
it is told no more rows are coming, writing the same parts it would have written in ``close``."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import Settings
from fairtel.mediation import _ingest, _output, ingest_files
from fairtel.mediation._output import PartWriter
from fairtel.mediation.readers._base import bulk_default_pool, bulk_pool

CSV = """record_id,source,msisdn,kind,direction,started_at,duration_s,peer
r1,sw1,8613800000001,voice,out,2026-11-02T10:00:00+08:00,60,8613900000001
r2,sw1,8613800000002,sms,out,2026-11-02T10:01:00+08:00,,8613900000002
"""


def test_ingest_takes_arrow_buffers_from_the_bulk_pool_and_gives_the_default_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = pa.default_memory_pool()
    seen: list[str] = []
    validate = _ingest.validate

    def watching(*args: object, **kwargs: object) -> object:
        seen.append(pa.default_memory_pool().backend_name)
        return validate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_ingest, "validate", watching)
    f = tmp_path / "usage.csv"
    f.write_text(CSV)
    rep = ingest_files([f], settings=Settings(home=tmp_path / "home"))[0]
    assert (rep.read, rep.accepted, rep.rejected) == (2, 2, 0)
    assert seen and set(seen) == {bulk_pool().backend_name}
    assert pa.default_memory_pool().backend_name == before.backend_name


def test_the_default_pool_comes_back_when_the_last_of_overlapping_ingests_ends() -> None:
    before = pa.default_memory_pool().backend_name
    first = bulk_default_pool()
    first.__enter__()
    with bulk_default_pool():
        assert pa.default_memory_pool().backend_name == bulk_pool().backend_name
    assert pa.default_memory_pool().backend_name == bulk_pool().backend_name  # the first still runs
    first.__exit__(None, None, None)
    assert pa.default_memory_pool().backend_name == before


def _rows(n: int, start: int, days: list[int]) -> pa.Table:
    base = int(datetime(2026, 11, 30, tzinfo=ZoneInfo("UTC")).timestamp()) * 1_000_000
    cols: dict[str, pa.Array] = {}
    for f in CLEAN_USAGE_SCHEMA:
        if f.name == "record_id":
            cols[f.name] = pa.array([f"r{start + i}" for i in range(n)])
        elif f.name in ("source", "msisdn", "kind"):
            cols[f.name] = pa.array(["x"] * n)
        elif f.name == "started_at":
            cols[f.name] = pa.array([base + d * 86400 * 1_000_000 for d in days], f.type)
        elif f.name == "parts":
            cols[f.name] = pa.array([1] * n, pa.int32())
        elif f.name == "incomplete":
            cols[f.name] = pa.array([False] * n)
        else:
            cols[f.name] = pa.nulls(n, f.type)
    return pa.table(cols, schema=CLEAN_USAGE_SCHEMA)


def test_drain_encodes_the_last_row_groups_on_the_writer_thread_with_the_same_parts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_output, "ROW_GROUP_ROWS", 100)
    rng = np.random.default_rng(5)
    batches = [_rows(30, 30 * b, rng.choice([0, 1], size=30, p=[0.7, 0.3]).tolist()) for b in range(9)]
    flushed_on: list[str] = []
    flush = PartWriter._flush

    def recording(self: PartWriter, period: int) -> None:
        flushed_on.append(threading.current_thread().name)
        flush(self, period)

    monkeypatch.setattr(PartWriter, "_flush", recording)
    out = {}
    for drained in (False, True):
        flushed_on.clear()
        w = PartWriter(tmp_path / str(drained), "part", "UTC", durable=False)
        for t in batches:
            w.write(t)
        if drained:
            w.drain()
        paths = w.close()
        out[drained] = [(p.relative_to(tmp_path / str(drained)), p.read_bytes()) for p in paths]
        if drained:
            assert flushed_on and set(flushed_on) == {"fairtel-parts"}  # nothing left for close to encode
        else:
            assert threading.current_thread().name in flushed_on  # close encoded the last row groups
    assert out[True] == out[False]  # byte for byte the same parts
    assert len(out[True]) == 2
    rows = sum(pq.ParquetFile(tmp_path / "True" / p).metadata.num_rows for p, _ in out[True])
    assert rows == 270
