"""A period of the usage lake may hold parts written before the optional clean usage columns (imsi, vpmn, apn,
the wholesale charge) beside parts written with them: the Polars scans over usage parts read both, in either
order (a part that lacks a column is null there; one that has more is not refused)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fairtel.cli._rating import _find
from fairtel.core.contracts import CLEAN_USAGE_OPTIONAL, CLEAN_USAGE_SCHEMA
from fairtel.engines._online import _read
from fairtel.store import Lake

OLD = pa.schema([f for f in CLEAN_USAGE_SCHEMA if f.name not in CLEAN_USAGE_OPTIONAL])


def _table(rid: str) -> pa.Table:
    row = {f.name: None for f in CLEAN_USAGE_SCHEMA} | {
        "record_id": rid,
        "source": "sw1",
        "msisdn": "8613800138000",
        "kind": "data",
        "bytes_down": 10,
        "started_at": datetime(2026, 1, 2, 3, tzinfo=UTC),
        "parts": 1,
        "incomplete": False,
        "vpmn": "HKGPP",
    }
    return pa.Table.from_pylist([row], schema=CLEAN_USAGE_SCHEMA)


def test_polars_scans_read_old_and_new_parts_in_either_order(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    for old_name, new_name in (("a", "b"), ("d", "c")):  # the old part listed first, then last
        old = lake.part_path("usage", "2026-01", old_name)
        old.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(_table(f"o{old_name}").select(OLD.names).cast(OLD), old)
        lake.write("usage", "2026-01", _table(f"n{new_name}"), part=new_name)
    files = lake.files("usage", periods=["2026-01"])
    for order in (files, files[::-1]):
        assert _read([order]).height == 4
    assert _find(lake, "usage", "oa", None, "2026-01").height == 1
    assert _find(lake, "usage", "nb", None, "2026-01").height == 1
