"""Validation of batches holding string or binary views (what a Parquet file written from views reads back as,
or a reader or field map may produce): the views are cast once at the boundary, so checking, rejecting with the
original record and keeping the bytes of partial records all work as with plain strings."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files
from fairtel.mediation._validate import validate
from fairtel.mediation.readers import POS, RAW, RawBatch

ROWS = {
    "record_id": ["r1", "r2", "r3", "p1"],
    "msisdn": ["8613800138000"] * 4,
    "kind": ["data", "data", "bogus", "data"],
    "started_at": ["2026-11-01T08:00:00+08:00"] * 4,
    "bytes_up": ["1", "2", "3", "4"],
    "bytes_down": ["1", "x", "3", "4"],
    "roaming_country": ["HK", None, None, None],
    "session_id": [None, None, None, "s1"],
    "seq": [None, None, None, "1"],
    "final": [None, None, None, "false"],
}


def views() -> pa.Table:
    return pa.table({k: pa.array(v, type=pa.string_view()) for k, v in ROWS.items()})


def test_a_batch_of_string_views_is_checked_and_its_rejects_carry_the_record() -> None:
    table = views().append_column(POS, pa.array([1, 2, 3, 4], type=pa.int64()))
    checked = validate(RawBatch(table), file="f.parquet", source="pgw")
    assert checked.clean.column("record_id").to_pylist() == ["r1", "p1"]
    assert checked.clean.column("roaming_country").to_pylist() == ["HK", None]
    assert [(r.position, r.reason, r.field) for r in checked.rejects] == [(2, "bad_value", "bytes_down"),
                                                                          (3, "bad_kind", "kind")]
    assert json.loads(checked.rejects[0].raw)["bytes_down"] == "x"
    assert checked.raw_of is not None and json.loads(checked.raw_of([1])[0])["record_id"] == "p1"


def test_binary_view_originals_and_dictionaries_of_views_are_read_too() -> None:
    table = views()
    table = table.set_column(table.schema.get_field_index("kind"), "kind",
                             pa.DictionaryArray.from_arrays(pa.array([0, 0, 1, 0], type=pa.int32()),
                                                            pa.array(["data", "bogus"], type=pa.string_view())))
    table = table.append_column(POS, pa.array([1, 2, 3, 4], type=pa.int64()))
    table = table.append_column(RAW, pa.array([b"l1", b"l2", b"l3", b"l4"], type=pa.binary_view()))
    checked = validate(RawBatch(table), file="f", source="pgw")
    assert checked.clean.column("kind").to_pylist() == ["data", "data"]
    assert [(r.reason, r.raw) for r in checked.rejects] == [("bad_value", b"l2"), ("bad_kind", b"l3")]
    assert checked.raw_of is not None and checked.raw_of([1]) == [b"l4"]


def test_a_parquet_file_written_from_views_is_ingested(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    pq.write_table(views(), path)
    assert pq.read_schema(path).field("kind").type == pa.string_view()  # it reads back as views
    [report] = ingest_files([path], settings=Settings(home=tmp_path / "home", batch_size=1000))
    assert report.ok, report.message
    assert (report.read, report.accepted, report.rejected, report.held) == (4, 2, 2, 1)
    assert report.reasons == {"bad_kind": 1, "bad_value": 1}
