"""Every text reader decides a line's encoding on its own (UTF-8 when valid, else GB18030, else undecodable): a
file mostly in GBK with UTF-8 lines, or mostly UTF-8 with a GBK document, reads every line as written, never as
garbled text. JSON Lines detection looks past a damaged first line."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtel.mediation import FieldMapReader
from fairtel.mediation.readers import Reader, Reject, _delimited, detect
from fairtel.mediation.readers._asterisk import AsteriskCsvReader
from fairtel.mediation.readers._canonical import CsvReader, JsonlReader
from fairtel.mediation.readers._fieldmap import parse_fieldmap
from fairtel.mediation.readers._freeswitch import FreeswitchJsonReader

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer,cell_id"
ROW = "r{i},8613800138000,voice,out,2026-11-01T08:00:00+08:00,60,8613900139000,{cell}"
GBK_CELLS = ["成都基站", "重庆基站", "武汉基站", "西安基站", "南京基站"]
UTF8_CELLS = ["北京基站", "上海基站"]


def read_all(reader: Reader, path: Path, batch_size: int = 1000) -> tuple[list[dict[str, Any]], list[Reject]]:
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for batch in reader.read(path, source="s", batch_size=batch_size):
        rows.extend(batch.table.to_pylist())
        rejects.extend(batch.rejects)
    return rows, rejects


def mixed_csv(header: str = HEADER) -> tuple[bytes, dict[str, str]]:
    """Most lines GBK (so the head of the file is GBK), two lines UTF-8, one line neither."""
    lines = [header.encode()]
    cells: dict[str, str] = {}
    for i, cell in enumerate(GBK_CELLS):
        lines.append(ROW.format(i=i, cell=cell).encode("gb18030"))
        cells[f"r{i}"] = cell
    for i, cell in enumerate(UTF8_CELLS, start=10):
        lines.append(ROW.format(i=i, cell=cell).encode("utf-8"))
        cells[f"r{i}"] = cell
    lines.append(ROW.format(i=20, cell="X").encode().replace(b"X", b"\xff\xfe"))
    return b"\n".join(lines) + b"\n", cells


@pytest.mark.parametrize("quoted", [False, True])  # the fast (Arrow) path, and the line-by-line one
def test_utf8_lines_in_a_mostly_gbk_csv_file_are_read_as_utf8(tmp_path: Path, quoted: bool) -> None:
    data, cells = mixed_csv()
    if quoted:  # a quote inside a value sends the block line by line
        data = data.replace(b",8613900139000,", b',"86139""00139000",')
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    rows, rejects = read_all(CsvReader(), path)
    assert {r["record_id"]: r["cell_id"] for r in rows} == cells  # each line as written, none garbled
    assert [(r.position, r.reason) for r in rejects] == [(9, "undecodable")]
    assert "UTF-8 nor GB18030" in rejects[0].message and rejects[0].raw.endswith(b"\xff\xfe")


def test_a_field_map_without_a_declared_encoding_reads_each_line_in_its_own(tmp_path: Path) -> None:
    fm = parse_fieldmap(tomllib.loads("""
[input]
header = true
[fields]
record_id = "record_id"
msisdn = "msisdn"
kind = "kind"
direction = "direction"
started_at = "started_at"
duration_s = "duration_s"
peer = "peer"
cell_id = "cell_id"
"""), name="mixed")
    data, cells = mixed_csv()
    path = tmp_path / "mixed.txt"
    path.write_bytes(data)
    rows, rejects = read_all(FieldMapReader(fm), path)
    assert {r["record_id"]: r["cell_id"] for r in rows} == cells
    assert [r.reason for r in rejects] == ["undecodable"]


def test_a_gbk_header_line_is_read_as_gb18030_and_a_utf8_header_as_utf8(tmp_path: Path) -> None:
    for encoding in ("gb18030", "utf-8"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes((HEADER + ",备注\n").encode(encoding) + (ROW.format(i=1, cell="c") + ",好\n").encode(encoding))
        rows, rejects = read_all(CsvReader(), path)
        assert rejects == [] and [r["cell_id"] for r in rows] == ["c"]


def test_utf8_lines_in_a_mostly_gbk_json_lines_file_are_read_as_utf8(tmp_path: Path) -> None:
    base = {"record_id": "", "msisdn": "8613800138000", "kind": "data", "started_at": "2026-11-01T08:00:00+08:00",
            "bytes_down": 100}
    lines, cells = [], {}
    for i, cell in enumerate(GBK_CELLS):
        lines.append(json.dumps({**base, "record_id": f"g{i}", "cell_id": cell}, ensure_ascii=False).encode("gb18030"))
        cells[f"g{i}"] = cell
    for i, cell in enumerate(UTF8_CELLS):
        lines.append(json.dumps({**base, "record_id": f"u{i}", "cell_id": cell}, ensure_ascii=False).encode())
        cells[f"u{i}"] = cell
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows, rejects = read_all(JsonlReader(), path)
    assert rejects == []
    assert {r["record_id"]: r["cell_id"] for r in rows} == cells
    assert [r["_raw"] for r in rows] == lines  # the original bytes, whatever their encoding


def test_the_switch_readers_decide_per_line_too(tmp_path: Path) -> None:
    line = ('"{name} <1001>","1001","13800138000","from-internal","SIP/1001-1","SIP/2-2","Dial","SIP/2","2026-11-01 '
            '08:00:00","2026-11-01 08:00:05","2026-11-01 08:01:05","65","60","ANSWERED","DOCUMENTATION","","{u}",'
            '"","{n}"')
    raws = [line.format(name=n, u=f"u{i}", n=i).encode("gb18030") for i, n in enumerate(["张三", "李四", "王五"])]
    raws.append(line.format(name="赵六", u="u9", n=9).encode())
    path = tmp_path / "Master.csv"
    path.write_bytes(b"\n".join(raws) + b"\n")
    rows, rejects = read_all(AsteriskCsvReader(), path)
    assert rejects == [] and [r["_raw"] for r in rows] == raws


def fs_doc(uuid: str, cell: str) -> dict[str, Any]:
    return {"core-uuid": "c0", "variables": {"uuid": uuid, "caller_id_number": "1001", "destination_number": f"会议{cell}",
                                             "answer_epoch": "1762000000", "billsec": "60", "cell": cell},
            "callflow": [{"caller_profile": {"caller_id_name": cell}}]}


def test_a_gbk_document_in_a_utf8_freeswitch_file_garbles_neither(tmp_path: Path) -> None:
    """UTF-8 documents around one written in GBK: each document is read as written and keeps its own bytes."""
    docs = [fs_doc("u1", "北京"), fs_doc("u2", "成都"), fs_doc("u3", "上海"), fs_doc("u4", "重庆")]
    encodings = ["utf-8", "gb18030", "utf-8", "gb18030"]
    originals = [json.dumps(d, indent=2, ensure_ascii=False).encode(e) for d, e in zip(docs, encodings, strict=True)]
    path = tmp_path / "cdr.json"
    path.write_bytes(b"\n".join(originals) + b"\n")
    reader = detect(path, path.read_bytes())
    assert reader is not None and reader.name == "freeswitch-json"
    rows, rejects = read_all(FreeswitchJsonReader(), path)
    assert rejects == []
    assert [r["record_id"] for r in rows] == ["u1", "u2", "u3", "u4"]
    assert [r["_raw"] for r in rows] == originals  # each document's own bytes, in its own encoding
    assert [r["peer"] for r in rows] == ["会议北京", "会议成都", "会议上海", "会议重庆"]  # none garbled


def test_a_utf8_document_in_a_gbk_freeswitch_file_is_read_as_utf8(tmp_path: Path) -> None:
    docs = [fs_doc("g1", "成都"), fs_doc("u2", "北京"), fs_doc("g3", "武汉"), fs_doc("g4", "西安")]
    encodings = ["gb18030", "utf-8", "gb18030", "gb18030"]
    originals = [json.dumps(d, indent=2, ensure_ascii=False).encode(e) for d, e in zip(docs, encodings, strict=True)]
    path = tmp_path / "cdr.json"
    path.write_bytes(b"\n".join(originals).replace(b'"cell": "\xe5\x8c\x97\xe4\xba\xac"', b'"cell": "\xff"') + b"\n")
    rows, rejects = read_all(FreeswitchJsonReader(), path)
    assert [r["record_id"] for r in rows] == ["g1", "g3", "g4"]  # u2 holds a byte that is neither: refused alone
    assert [r["peer"] for r in rows] == ["会议成都", "会议武汉", "会议西安"]
    assert [r["_raw"] for r in rows] == [originals[0], originals[2], originals[3]]
    assert [r.reason for r in rejects] == ["undecodable"] and b"\xff" in rejects[0].raw


# --- as_utf8 is decode_line applied to every line --------------------------------------------------------

LINES = st.sampled_from([
    b"plain ascii,1,2", "成都基站,1".encode("gb18030"), "北京基站,2".encode(), "武汉".encode("gb18030"),
    "上海".encode(), b"", b"\xff\xfe,3", "中".encode("gb18030"), "é,4".encode(), "é,4".encode("gb18030"),
])


@settings(max_examples=200, deadline=None)
@given(st.lists(LINES, max_size=12), st.booleans())
def test_as_utf8_is_each_line_decoded_on_its_own(lines: list[bytes], ended: bool) -> None:
    data = b"\n".join(lines) + (b"\n" if ended and lines else b"")
    decoded = [_delimited.decode_line(line) for line in data.split(b"\n")]
    expected = None if None in decoded else "\n".join(t for t in decoded if t is not None).encode()
    assert _delimited.as_utf8(data) == expected


# --- JSON Lines detection -------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [b'{"record_id": "r0", "kind": "sms", "msisdn": ', b"\x00\x00garbage", b"[1, 2]"])
def test_json_lines_with_a_damaged_first_line_are_still_json_lines(tmp_path: Path, first: bytes) -> None:
    record = {"record_id": "r1", "msisdn": "8613800138000", "kind": "sms", "direction": "out",
              "started_at": "2026-11-01T08:00:00+08:00", "peer": "8613900139000"}
    path = tmp_path / "u.jsonl"
    path.write_bytes(first + b"\n" + json.dumps(record).encode() + b"\n" +
                     json.dumps({**record, "record_id": "r2"}).encode() + b"\n")
    assert JsonlReader().sniff(path.read_bytes(), path)
    reader = detect(path, path.read_bytes())
    assert reader is not None and reader.name == "jsonl"
    rows, rejects = read_all(reader, path)
    assert [r["record_id"] for r in rows] == ["r1", "r2"] and [r.position for r in rejects] == [1]


def test_lines_that_are_no_canonical_record_are_not_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_bytes(b'{"a": 1}\n[1]\nnot json\n{"record_id": "x"}\n')
    assert not JsonlReader().sniff(path.read_bytes(), path)


def test_a_csv_header_naming_an_extra_column_in_gbk_is_canonical_csv(tmp_path: Path) -> None:
    path = tmp_path / "gbk-header.csv"
    path.write_bytes((HEADER + ",备注\n" + ROW.format(i=1, cell="成都") + ",无\n").encode("gb18030"))
    reader = detect(path, path.read_bytes())
    assert reader is not None and reader.name == "csv"
    rows, rejects = read_all(reader, path)
    assert rejects == [] and [r["cell_id"] for r in rows] == ["成都"]
