"""A record that starts later than the moment of ingest plus a tolerance (7 days unless told otherwise) is refused as
``future_timestamp``, naming the field and the value as written: a switch clock a year ahead would otherwise file
usage under a period that is never billed. The 2000..2099 bound stays ``bad_timestamp``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files, validate
from fairtel.mediation._validate import FUTURE_TOLERANCE_S
from fairtel.mediation.readers import RawBatch

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ROW: dict[str, Any] = {"record_id": "r1", "msisdn": "8613800138000", "kind": "voice", "direction": "out",
                       "started_at": "2026-11-27T11:00:00Z", "duration_s": "60", "peer": "8613900139000"}


def _batch(rows: list[dict[str, Any]]) -> RawBatch:
    cols = {f: pa.array([r.get(f) for r in rows], pa.string()) for f in USAGE_FIELDS}
    cols["_pos"] = pa.array(range(1, len(rows) + 1), pa.int64())
    return RawBatch(pa.table(cols))


def test_records_past_the_tolerance_are_refused_and_those_within_it_kept() -> None:
    rows = [
        ROW,
        ROW | {"record_id": "edge", "started_at": "2026-12-04T12:00:00Z"},  # exactly now + 7 days: kept
        ROW | {"record_id": "ahead", "started_at": "2026-12-04T12:00:01Z"},
        ROW | {"record_id": "y2099", "started_at": "2099-12-31T23:00:00+08:00"},
        ROW | {"record_id": "y2100", "started_at": "2100-01-01T00:00:00Z"},
    ]
    v = validate(_batch(rows), file="f.csv", source="feed", now=NOW)
    assert sorted(v.clean.column("record_id").to_pylist()) == ["edge", "r1"]
    by_id = {rows[r.position - 1]["record_id"]: r for r in v.rejects}
    assert {k: (r.reason, r.field) for k, r in by_id.items()} == {
        "ahead": ("future_timestamp", "started_at"), "y2099": ("future_timestamp", "started_at"),
        "y2100": ("bad_timestamp", "started_at")}
    msg = by_id["y2099"].message
    assert "2026-11-27T12:00Z" in msg and "7 days" in msg and "'2099-12-31T23:00:00+08:00'" in msg
    assert len(v.clean) + len(v.rejects) == len(rows)


def test_the_tolerance_can_be_set() -> None:
    rows = [ROW | {"record_id": "in2h", "started_at": "2026-11-27T14:00:00Z"}]
    assert validate(_batch(rows), file="f", source="s", now=NOW).clean.num_rows == 1
    v = validate(_batch(rows), file="f", source="s", now=NOW, future_tolerance_s=3600)
    assert [(r.reason, "3600 s" in r.message) for r in v.rejects] == [("future_timestamp", True)]
    assert FUTURE_TOLERANCE_S == 7 * 86400


def test_ingest_refuses_a_record_dated_next_year(tmp_path: Path) -> None:
    ahead = datetime.now(UTC) + timedelta(days=400)
    path = tmp_path / "usage.csv"
    path.write_text("record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
                    "f1,8613800138000,voice,out,2026-11-01T08:00:00+08:00,60,8613900139000\n"
                    f"f2,8613800138000,voice,out,{ahead:%Y-%m-%dT%H:%M:%S}+00:00,60,8613900139000\n",
                    encoding="utf-8")
    [rep] = ingest_files([path], settings=Settings(home=tmp_path / "home", batch_size=1000))
    assert (rep.read, rep.accepted, rep.rejected, rep.duplicate) == (2, 1, 1, 0)
    assert rep.reasons == {"future_timestamp": 1}
