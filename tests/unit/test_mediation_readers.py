"""Canonical readers (CSV, JSON Lines, Parquet) and the TOML field map: positions, raw bytes, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.mediation import FieldMapError, FieldMapReader, UnreadableFileError, load_fieldmap
from fairtel.mediation.readers import Reader, Reject, detect
from fairtel.mediation.readers._canonical import CsvReader, JsonlReader, ParquetReader
from fairtel.mediation.readers._fieldmap import parse_fieldmap

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer"
ROW = "r{i},8613800138000,voice,out,2026-11-01T08:00:00+08:00,60,8613900139000"


def read(reader: Reader, path: Path, batch_size: int = 1000) -> tuple[list[dict[str, Any]], list[Reject], list[Any]]:
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    batches = []
    for b in reader.read(path, source="s", batch_size=batch_size):
        assert b.table.column("_pos").type == pa.int64()
        rows.extend(b.table.to_pylist())
        rejects.extend(b.rejects)
        batches.append(b)
    return rows, rejects, batches


def test_csv_positions_are_physical_lines_with_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    p = tmp_path / "u.csv"
    lines = [HEADER, ROW.format(i=1), "", ROW.format(i=2), "\t", ROW.format(i=3)]
    p.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    rows, rejects, batches = read(CsvReader(), p)
    assert [r["_pos"] for r in rows] == [2, 4, 6]
    assert [(r.position, r.reason) for r in rejects] == [(5, "column_count")]
    assert rows[0]["record_id"] == "r1" and rows[0]["duration_s"] == "60"
    assert batches[0].raw_of([4])[0] == ROW.format(i=2).encode()


def test_csv_wrong_column_counts_and_truncated_tail(tmp_path: Path) -> None:
    p = tmp_path / "u.csv"
    p.write_text("\n".join([HEADER, ROW.format(i=1), "r2,1,voice", ROW.format(i=3) + ",extra", "r4,861,voice,ou"]))
    rows, rejects, _ = read(CsvReader(), p)
    assert [r["_pos"] for r in rows] == [2]
    assert [(r.position, r.reason) for r in rejects] == [(3, "column_count"), (4, "column_count"), (5, "truncated")]
    assert rejects[2].raw == b"r4,861,voice,ou"


def test_csv_gb18030_file_is_detected_and_bad_bytes_rejected(tmp_path: Path) -> None:
    p = tmp_path / "gbk.csv"
    good = ROW.format(i=1).replace("8613900139000", "8613900139000") + "\n"
    body = (HEADER + ",cell_id\n").encode() + (good.rstrip("\n") + ",基站一\n").encode("gb18030") + \
        (ROW.format(i=2) + ",\xff\n").encode("latin-1").replace(b"\xc3\xbf", b"\xff")
    p.write_bytes(body)
    rows, rejects, _ = read(CsvReader(), p)
    assert rows[0]["cell_id"] == "基站一"
    assert [(r.position, r.reason) for r in rejects] == [(3, "undecodable")]
    assert rejects[0].raw.endswith(b",\xff")


def test_a_gbk_line_past_the_head_of_a_utf8_file_is_read_as_gb18030(tmp_path: Path) -> None:
    """The encoding is told from the head of a file; a Chinese switch's GBK line further on is still read (as
    the switch readers read it), not refused as undecodable. Only a line that is neither stays undecodable."""
    p = tmp_path / "late-gbk.csv"
    filler = "".join(ROW.format(i=i) + ",\n" for i in range(10, 4010)).encode()  # far past the 64 KiB head
    late = (ROW.format(i=2) + ",成都基站\n").encode("gb18030")
    neither = (ROW.format(i=3) + ",\xff\n").encode("latin-1").replace(b"\xc3\xbf", b"\xff")
    p.write_bytes((HEADER + ",cell_id\n").encode() + filler + late + neither)
    assert len(filler) > 1 << 16
    rows, rejects, _ = read(CsvReader(), p)
    assert [r["cell_id"] for r in rows if r["record_id"] == "r2"] == ["成都基站"]
    assert [(r.position, r.reason) for r in rejects] == [(4003, "undecodable")]


def test_csv_quoted_newline_is_accounted_line_by_line(tmp_path: Path) -> None:
    p = tmp_path / "q.csv"
    p.write_text(HEADER + "\n" + ROW.format(i=1) + '\nr2,8613800138000,voice,out,"2026-11-01\nT08",60,1\n'
                 + ROW.format(i=3) + "\n")
    rows, rejects, _ = read(CsvReader(), p)
    assert [r["_pos"] for r in rows] == [2, 5]
    assert sorted(r.position for r in rejects) == [3, 4]


def test_csv_many_blocks_keep_line_numbers(tmp_path: Path) -> None:
    p = tmp_path / "big.csv"
    n = 20_000
    p.write_text(HEADER + "\n" + "\n".join(ROW.format(i=i) for i in range(n)) + "\n")
    rows, rejects, batches = read(CsvReader(), p, batch_size=1000)  # blocks of at least 256 KiB
    assert len(batches) > 1 and rejects == []
    assert [r["_pos"] for r in rows] == list(range(2, n + 2))
    assert rows[-1]["record_id"] == f"r{n - 1}"


def test_csv_header_without_required_fields_fails_the_file(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("id,number,when\n1,2,3\n")
    with pytest.raises(UnreadableFileError, match="record_id"):
        read(CsvReader(), p)


def test_binary_garbage_is_not_text(tmp_path: Path) -> None:
    p = tmp_path / "garbage.csv"
    p.write_bytes(HEADER.encode() + b"\n" + bytes(range(256)) * 8)
    with pytest.raises(UnreadableFileError, match="not a text file"):
        read(CsvReader(), p)


def test_jsonl_keeps_number_literals_and_rejects_bad_lines(tmp_path: Path) -> None:
    p = tmp_path / "u.jsonl"
    good = {"record_id": "j1", "msisdn": "8613800138000", "kind": "vas", "started_at": "2026-11-01T08:00:00Z",
            "offer_id": "vas-news-5", "currency": "CNY"}
    lines = [json.dumps(good)[:-1] + ', "amount": 5.10}', "", "[1,2]", '{"record_id": {"x": 1}}', "{broken"]
    p.write_text("\n".join(lines))
    rows, rejects, _ = read(JsonlReader(), p)
    assert rows[0]["amount"] == "5.10"  # the literal text, never a float
    assert [(r.position, r.reason) for r in rejects] == [(3, "bad_json"), (4, "bad_value"), (5, "truncated")]
    assert JsonlReader().sniff(p.read_bytes(), p)


def test_parquet_native_columns_and_row_positions(tmp_path: Path) -> None:
    p = tmp_path / "u.parquet"
    t = pa.table({"record_id": ["a", "b", "c"], "msisdn": ["1"] * 3, "kind": ["sms"] * 3,
                  "started_at": pa.array([0, 1, 2], pa.timestamp("s", tz="UTC")), "duration_s": [1, 2, 3],
                  "extra": [1, 2, 3]})
    pq.write_table(t, p, row_group_size=2)
    rows, rejects, _ = read(ParquetReader(), p, batch_size=2)
    assert [r["_pos"] for r in rows] == [1, 2, 3] and rejects == []
    assert "extra" not in rows[0]
    assert detect(p, p.read_bytes()[:100]).name == "parquet"  # type: ignore[union-attr]


def test_damaged_parquet_fails_the_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.parquet"
    p.write_bytes(b"PAR1" + b"\x00" * 100)
    with pytest.raises(UnreadableFileError):
        read(ParquetReader(), p)


FIELDMAP = {
    "input": {"delimiter": ";", "header": True, "timezone": "Asia/Shanghai", "timestamp_format": "%Y/%m/%d %H:%M:%S"},
    "fields": {
        "record_id": {"template": "sw-{uniqueid}"},
        "msisdn": "src",
        "peer": {"column": "dst", "replace": ["^00", ""]},
        "kind": {"value": "voice"},
        "direction": {"value": "out"},
        "started_at": "answer",
        "duration_s": {"column": "billms", "unit": "ms"},
    },
    "filters": [{"column": "disposition", "keep": ["ANSWERED"], "reason": "not_answered"}],
}


def test_fieldmap_maps_any_layout(tmp_path: Path) -> None:
    p = tmp_path / "switch.txt"
    p.write_text("uniqueid;src;dst;answer;billms;disposition\n"
                 "u1;8613800138000;00441234;2026/11/01 08:00:00;60001;ANSWERED\n"
                 "u2;8613800138000;1;2026/11/01 08:00:00;0;NO ANSWER\n"
                 "u3;8613800138000;1;01.11.2026;5;ANSWERED\n")
    reader = FieldMapReader(parse_fieldmap(FIELDMAP, name="test"))
    rows, rejects, _ = read(reader, p)
    assert len(rows) == 1
    r = rows[0]
    assert (r["record_id"], r["peer"], r["kind"], r["duration_s"]) == ("sw-u1", "441234", "voice", "61")
    assert r["started_at"].isoformat() == "2026-11-01T00:00:00+00:00"  # Asia/Shanghai wall clock -> UTC
    assert [(x.position, x.reason) for x in rejects] == [(3, "not_answered"), (4, "bad_timestamp")]
    assert rejects[0].raw.startswith(b"u2;")


def test_fieldmap_reports_every_problem_at_once() -> None:
    bad = {"input": {"delimiter": ";;", "timezone": "Mars/Base"}, "fields": {"colour": 1, "msisdn": {"column": 1, "value": "x"}},
           "filters": [{"column": 1}]}
    with pytest.raises(FieldMapError) as exc:
        parse_fieldmap(bad, name="x", file="x.toml")
    where = {p.field for p in exc.value.problems}
    assert {"input.delimiter", "input.timezone", "fields.colour", "fields.msisdn", "filters[0]",
            "fields.record_id", "fields.kind", "fields.started_at"} <= where


def test_fieldmap_naming_missing_columns_fails_the_file(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("a;b\n1;2\n")
    with pytest.raises(UnreadableFileError, match="uniqueid"):
        read(FieldMapReader(parse_fieldmap(FIELDMAP, name="t")), p)


def test_bundled_cgrates_fieldmap_loads() -> None:
    fm = load_fieldmap("cgrates-partial")
    assert {r.field for r in fm.rules} >= {"record_id", "session_id", "final", "started_at"}
    with pytest.raises(FieldMapError):
        load_fieldmap("no-such-map")


def test_csv_bare_carriage_return_does_not_shift_positions(tmp_path: Path) -> None:
    p = tmp_path / "cr.csv"
    p.write_bytes((HEADER + "\n" + ROW.format(i=1) + "\n" + "r2,8613800138000,voice,out,2026\r,60,1\n"
                   + ROW.format(i=3) + "\n").encode())
    rows, rejects, _ = read(CsvReader(), p)
    assert [r["_pos"] for r in rows] == [2, 4]  # nothing shifted
    assert [(r.position, r.reason) for r in rejects] == [(3, "column_count")]
