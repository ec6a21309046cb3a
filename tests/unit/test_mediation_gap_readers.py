"""Readers on input they used to get wrong: GB18030 JSON Lines, NUL bytes in text files, FreeSWITCH JSON cut
or damaged, field-map epochs too large for a timestamp, and quoting the fast CSV path read differently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairtel.mediation import FieldMapReader, UnreadableFileError
from fairtel.mediation.readers import RawBatch, Reader, Reject, detect
from fairtel.mediation.readers._canonical import CsvReader, JsonlReader
from fairtel.mediation.readers._delimited import BlockParser, TextDialect, _Block, detect_encoding
from fairtel.mediation.readers._fieldmap import parse_fieldmap
from fairtel.mediation.readers._freeswitch import FreeswitchCsvReader, FreeswitchJsonReader

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer"
ROW = "r{i},8613800138000,voice,out,2026-11-01T08:00:00+08:00,60,8613900139000"


def read_all(reader: Reader, path: Path, batch_size: int = 1000) -> tuple[list[dict[str, Any]], list[Reject]]:
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for batch in reader.read(path, source="s", batch_size=batch_size):
        assert isinstance(batch, RawBatch)
        rows.extend(batch.table.to_pylist())
        rejects.extend(batch.rejects)
    return rows, rejects


def detected(path: Path) -> str | None:
    reader = detect(path, path.read_bytes()[:65536])
    return None if reader is None else reader.name


# --- 1. GB18030 JSON Lines -------------------------------------------------------------------------------

GBK_RECORD = {"record_id": "g1", "msisdn": "8613800138000", "kind": "data",
              "started_at": "2026-11-01T08:00:00+08:00", "bytes_up": 10, "cell_id": "成都高新基站"}


def test_gb18030_json_lines_with_chinese_on_the_first_line_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "legacy.jsonl"
    second = {**GBK_RECORD, "record_id": "g2", "cell_id": "重庆基站"}
    path.write_bytes("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in (GBK_RECORD, second))
                     .encode("gb18030"))
    assert detected(path) == "jsonl"
    rows, rejects = read_all(JsonlReader(), path)
    assert rejects == []
    assert [(r["record_id"], r["cell_id"]) for r in rows] == [("g1", "成都高新基站"), ("g2", "重庆基站")]


def test_a_gbk_json_line_past_the_head_of_a_utf8_file_is_read_as_gb18030(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    utf8 = {**GBK_RECORD, "record_id": "u1", "cell_id": "北京"}
    filler = "".join(json.dumps({**GBK_RECORD, "record_id": f"f{i}", "cell_id": "c"}) + "\n" for i in range(1000))
    assert len(filler) > 1 << 16  # the GBK line is past the head the encoding is told from
    path.write_bytes((json.dumps(utf8, ensure_ascii=False) + "\n" + filler).encode() +
                     (json.dumps(GBK_RECORD, ensure_ascii=False) + "\n").encode("gb18030") + b'{"record_id": "\xff"}\n')
    rows, rejects = read_all(JsonlReader(), path)
    assert [(r["record_id"], r["cell_id"]) for r in rows if r["cell_id"] != "c"] == [("u1", "北京"), ("g1", "成都高新基站")]
    assert [(r.position, r.reason) for r in rejects] == [(1003, "undecodable")]


# --- 2. NUL bytes ----------------------------------------------------------------------------------------


def test_a_nul_byte_in_the_head_of_a_csv_file_rejects_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    damaged = ROW.format(i=2).replace("voice", "vo\x00ice").encode()
    path.write_bytes(f"{HEADER}\n{ROW.format(i=1)}\n".encode() + damaged + f"\n{ROW.format(i=3)}\n".encode())
    assert detected(path) == "csv"
    rows, rejects = read_all(CsvReader(), path)
    assert [r["record_id"] for r in rows] == ["r1", "r3"]
    assert [(r.position, r.reason, r.raw) for r in rejects] == [(3, "undecodable", damaged)]


def test_a_zero_filled_tail_is_one_reject_not_a_failed_file(tmp_path: Path) -> None:
    """What a crash leaves at the end of a file being written: the records before it are kept."""
    path = tmp_path / "crashed.csv"
    path.write_bytes(f"{HEADER}\n{ROW.format(i=1)}\n{ROW.format(i=2)}\n".encode() + b"\x00" * 4096)
    rows, rejects = read_all(CsvReader(), path)
    assert [r["record_id"] for r in rows] == ["r1", "r2"]
    assert [(r.position, r.reason) for r in rejects] == [(4, "truncated")]


def test_a_nul_byte_in_a_json_line_rejects_only_that_line(tmp_path: Path) -> None:
    path = tmp_path / "nul.jsonl"
    lines = [json.dumps({**GBK_RECORD, "record_id": f"j{i}", "cell_id": "c"}).encode() for i in range(3)]
    lines[1] = lines[1].replace(b'"c"', b'"c\x00"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert detected(path) == "jsonl"
    rows, rejects = read_all(JsonlReader(), path)
    assert [r["record_id"] for r in rows] == ["j0", "j2"]
    assert [(r.position, r.reason, r.raw) for r in rejects] == [(2, "undecodable", lines[1])]


def test_a_nul_byte_in_a_switch_csv_line_rejects_only_that_line(shared_dir: Path, tmp_path: Path) -> None:
    lines = (shared_dir / "samples" / "cdr" / "freeswitch_cdr_csv_Master.csv").read_bytes().splitlines()
    lines[1] = lines[1].replace(b"NORMAL_CLEARING", b"NORMAL\x00CLEARING")
    path = tmp_path / "Master.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert detected(path) == "freeswitch-csv"
    rows, rejects = read_all(FreeswitchCsvReader(), path)
    assert [(r.position, r.reason, r.raw) for r in rejects] == [(2, "undecodable", lines[1])]
    assert len(rows) == len(lines) - 1


@pytest.mark.parametrize("data", [
    (HEADER + "\n" + ROW.format(i=1) + "\n").encode("utf-16-le"),  # UTF-16 without a BOM: NUL in every line
    bytes(range(256)) * 40,  # binary data
    b"\x00\x01\x02 not a usage file",
])
def test_binary_data_and_utf16_are_still_not_text(data: bytes) -> None:
    with pytest.raises(UnreadableFileError, match="not a text file"):
        detect_encoding(data)


# --- 4. FreeSWITCH JSON ----------------------------------------------------------------------------------


def fs_json(uuid: str, billsec: int, note: str = "") -> dict[str, Any]:
    return {
        "core-uuid": "c0",
        "channel_data": {"state": "CS_REPORTING"},
        "variables": {"uuid": uuid, "answer_epoch": "1772330405", "billsec": str(billsec), "note": note},
        "callflow": [{"caller_profile": {"caller_id_number": "8613800138000", "destination_number": "10086"}}],
    }


def test_freeswitch_json_lines_cut_last_line_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cdr.json"
    whole = json.dumps(fs_json("u1", 60))
    cut = json.dumps(fs_json("u3", 61))[:-25]
    path.write_text(whole + "\n" + '{"variables": {"uuid": \n' + cut)
    assert detected(path) == "freeswitch-json"
    rows, rejects = read_all(FreeswitchJsonReader(), path)
    assert [r["record_id"] for r in rows] == ["u1"]
    assert [(r.position, r.reason) for r in rejects] == [(2, "undecodable"), (3, "truncated")]
    assert rejects[1].raw == cut.encode()


def pretty(docs: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(d, indent=2, ensure_ascii=False) + "\n" for d in docs)


def test_freeswitch_json_documents_keep_their_original_bytes(tmp_path: Path) -> None:
    """A GB18030 file: accepted and rejected documents keep the file's own bytes, not text encoded again."""
    path = tmp_path / "cdr.json"
    docs: list[Any] = [fs_json("u1", 60, "成都"), "重庆", fs_json("u3", 62, "北京")]  # a string is no call record
    originals = [json.dumps(d, indent=2, ensure_ascii=False).encode("gb18030") for d in docs]
    path.write_bytes(b"\n".join(originals) + b"\n")
    rows, rejects = read_all(FreeswitchJsonReader(), path)
    assert [r["record_id"] for r in rows] == ["u1", "u3"]
    assert [r["_raw"] for r in rows] == [originals[0], originals[2]]
    assert [(r.reason, r.raw) for r in rejects] == [("bad_value", originals[1])]


def test_a_damaged_freeswitch_document_rejects_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "cdr.json"
    parts = [pretty([fs_json(f"u{i}", 59 + i)]) for i in range(1, 5)]
    parts[1] = parts[1].replace('"billsec": "61"', '"billsec" "61"')  # a colon lost in the second document
    text = "".join(parts)
    path.write_text(text[:-30])  # and the file cut inside the last one
    rows, rejects = read_all(FreeswitchJsonReader(), path)
    assert [r["record_id"] for r in rows] == ["u1", "u3"]
    lines = text.splitlines()
    opens = [i + 1 for i, line in enumerate(lines) if line == "{"]
    assert [(r.position, r.reason) for r in rejects] == [(opens[1], "undecodable"), (opens[3], "truncated")]
    assert b'"u2"' in rejects[0].raw and b'"u3"' not in rejects[0].raw
    assert rejects[0].raw == parts[1].strip().encode()
    assert rejects[1].raw == text[len("".join(parts[:3])) : -30].strip().encode()


def test_freeswitch_json_array_items_keep_their_own_lines_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "cdr.json"
    text = "[\n" + json.dumps(fs_json("u1", 60)) + ",\n" + json.dumps(fs_json("u2", 61)) + "\n]\n"
    path.write_text(text)
    rows, rejects = read_all(FreeswitchJsonReader(), path)
    assert rejects == []
    assert [(r["record_id"], r["_pos"], r["_raw"]) for r in rows] == [
        ("u1", 2, json.dumps(fs_json("u1", 60)).encode()), ("u2", 3, json.dumps(fs_json("u2", 61)).encode())]


def test_bytes_neither_utf8_nor_gb18030_spoil_only_their_document(tmp_path: Path) -> None:
    path = tmp_path / "cdr.json"
    text = pretty([fs_json("u1", 60, "成都"), fs_json("u2", 61, "MARK"), fs_json("u3", 62)])
    path.write_bytes(text.encode().replace(b"MARK", b"\xff\xfe"))
    rows, rejects = read_all(FreeswitchJsonReader(), path)
    assert [(r["record_id"], r["_raw"].decode()) for r in rows] == [
        ("u1", json.dumps(fs_json("u1", 60, "成都"), indent=2, ensure_ascii=False)),
        ("u3", json.dumps(fs_json("u3", 62), indent=2))]
    assert [r.reason for r in rejects] == ["undecodable"] and b"\xff\xfe" in rejects[0].raw


# --- 6. field-map epochs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "wraps"), [
    ("epoch", 18_446_744_073_709 + 1_772_330_406),  # x 10**6 wraps around 2**64 to 2026-03-01
    ("epoch_ms", 18_446_744_073_709_551 + 1_772_330_406_000),  # x 10**3 the same
])
def test_an_epoch_too_large_for_a_timestamp_is_refused_not_wrapped(tmp_path: Path, fmt: str, wraps: int) -> None:
    fmap = parse_fieldmap({"input": {"timestamp_format": fmt},
                           "fields": {"record_id": 0, "msisdn": 1, "kind": {"value": "sms"},
                                      "direction": {"value": "out"}, "peer": 1, "started_at": 2}}, name="t")
    ok = 1_772_330_405 * (1 if fmt == "epoch" else 1000)
    path = tmp_path / "e.csv"
    path.write_text(f"r1,8613800138000,{ok}\nr2,8613800138000,{wraps}\nr3,8613800138000,-{wraps}\n")
    rows, rejects = read_all(FieldMapReader(fmap), path)
    assert [r["record_id"] for r in rows] == ["r1"]
    assert [(r.position, r.reason, r.field) for r in rejects] == [(2, "bad_timestamp", "started_at"),
                                                                   (3, "bad_timestamp", "started_at")]
    assert rejects[0].raw == f"r2,8613800138000,{wraps}".encode()


# --- 7. quoting the fast CSV path read differently -------------------------------------------------------


def test_a_quote_inside_a_value_then_a_quoted_value_left_open_is_read_as_line_by_line(tmp_path: Path) -> None:
    """``x"y,"z,w``: the quote in ``x"y`` is text, ``"z,w`` opens a value its line never closes. Line by line
    that is a refused line; Arrow's parser used to take the value on to the end of the block."""
    path = tmp_path / "q.csv"
    bad = ROW.format(i=2).replace(",8613900139000", ',86139"00139000,"z,w')
    path.write_text(f"{HEADER},cell_id\n{ROW.format(i=1)},c1\n{bad}\n")
    rows, rejects = read_all(CsvReader(), path)
    assert [r["record_id"] for r in rows] == ["r1"]
    assert [(r.position, r.reason, r.raw) for r in rejects] == [(3, "column_count", bad.encode())]


def _normalised(batch: RawBatch) -> tuple[list[dict[str, Any]], list[tuple[int, str, bytes]]]:
    rows = [{k: (None if v == "" else v) for k, v in r.items()} for r in batch.table.to_pylist()]  # "" is absent
    return rows, [(r.position, r.reason, r.raw) for r in batch.rejects]


QUOTED = [b'x"y,"z', b'x"y,"z,w', b'"a",b,"c"', b'"a""b",,"c"', b'a,"b,c",d', b'x",y,"z', b'1,2,3', b',,',
          b'"",x,y', b'""""', b'"ab"c,d,e', b'x,x",",', b'\xe4\xb8\xad,"\xe6\x96\x87",z']


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.sampled_from(QUOTED), min_size=1, max_size=8),
       ends=st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=8, max_size=8), trailing=st.booleans())
def test_quoted_blocks_read_fast_match_the_line_by_line_reading(lines: list[bytes], ends: list[bytes],
                                                                 trailing: bool) -> None:
    body = b"".join(line + end for line, end in zip(lines, ends, strict=False))
    if not trailing:
        body = body.removesuffix(b"\n").removesuffix(b"\r")
    parser = BlockParser("f.csv", ["a", "b", "c"], ["a", "b", "c"], TextDialect(header=False), "utf-8")
    block = _Block(body, 1, True, body.count(b"\n"))  # the file's last block, as the fast path sees it
    got = parser(block)
    assert got.table.column("_pos").type == pa.int64()
    assert _normalised(got) == _normalised(parser._slow(block))
