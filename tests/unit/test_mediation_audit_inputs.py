"""Awkward input end to end: every record accepted with its true values, or refused with its original bytes,
and the verdict on a record never depending on the records around it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, Status, ingest_files, validate
from fairtel.mediation.readers import RawBatch

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer"
ROW = "r{i},8613800138000,voice,out,2026-11-01T08:00:00+08:00,60,8613900139000"


def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", batch_size=1000)


def ingest_one(tmp_path: Path, name: str, data: bytes, **kw: Any) -> FileReport:
    p = tmp_path / name
    p.write_bytes(data)
    (rep,) = ingest_files([p], settings=settings(tmp_path), **kw)
    assert rep.read == rep.accepted + rep.rejected + rep.duplicate
    return rep


def rejects_of(rep: FileReport) -> list[dict[str, Any]]:
    if rep.rejects_file is None:
        return []
    return [json.loads(line) for line in Path(rep.rejects_file).read_text(encoding="utf-8").splitlines()]


def lake_rows(rep: FileReport) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for part in rep.parts:
        rows.extend(pq.read_table(part).to_pylist())
    return sorted(rows, key=lambda r: r["record_id"])


def original(reject: dict[str, Any]) -> bytes:
    if "raw" in reject:
        return str(reject["raw"]).encode("utf-8")
    return base64.b64decode(reject["raw_base64"])


# --- rejects keep the original bytes --------------------------------------------------------------------------


def test_a_gb18030_switch_line_refused_by_validation_keeps_its_original_bytes(tmp_path: Path) -> None:
    """An Asterisk line written in GB18030 (a Chinese caller name) that validation refuses: the reject holds
    the line's own bytes, not a UTF-8 rendering with replacement characters."""
    fields = ['"张三" <1001>', "1001", "6789", "default", "PJSIP/a-1", "PJSIP/b-2", "Dial", "PJSIP/b",
              "2023-07-26 01:51:32", "2023-07-26 01:51:50", "2023-07-26 01:52:04", "31", "{billsec}", "ANSWERED",
              "DOCUMENTATION", "", "1690325492.{n}", "", "{n}"]
    template = ",".join(f'"{f}"' if not f.startswith('"') else '"' + f.replace('"', '""') + '"' for f in fields)
    good = template.format(billsec="13", n=1).encode("gb18030")
    bad = template.format(billsec="thirteen", n=2).encode("gb18030")
    rep = ingest_one(tmp_path, "Master.csv", good + b"\n" + bad + b"\n", fmt="asterisk-csv")
    assert (rep.accepted, rep.rejected) == (1, 1)
    (reject,) = rejects_of(rep)
    assert reject["position"] == 2 and reject["reason"] == "bad_value" and reject["field"] == "duration_s"
    assert original(reject) == bad


def test_a_gb18030_jsonl_line_refused_by_validation_keeps_its_original_bytes(tmp_path: Path) -> None:
    good = {"record_id": "a", "msisdn": "1", "kind": "sms", "direction": "in", "started_at": "2026-01-01T00:00:00Z",
            "cell_id": "北京海淀"}
    bad = dict(good, record_id="b", started_at="2026-01-01T00:00:00")  # no offset
    body = "\n".join(json.dumps(d, ensure_ascii=False) for d in (good, bad)).encode("gb18030") + b"\n"
    rep = ingest_one(tmp_path, "u.jsonl", body, fmt="jsonl")
    assert (rep.accepted, rep.rejected) == (1, 1)
    (reject,) = rejects_of(rep)
    assert reject["reason"] == "bad_timestamp"
    assert original(reject) == body.split(b"\n")[1]
    assert lake_rows(rep)[0]["cell_id"] == "北京海淀"


# --- a record's verdict does not depend on its batch ------------------------------------------------------------

STARTS = [
    "2026-11-01T08:00:00+08:00", "2026-11-01 08:00:00+08:00", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00.5Z",
    "2026-11-01T08:00:00.123456+08:00", "2026-11-01T08:00:00+0800", "2026-11-01T08:00:00+08",
    "2026-11-01T08:00Z", "2026-11-01T08Z", "2026-11-01 08Z", "2026-11-01T08:00:00.1234567Z",
    "2026-11-01t00:00:00z", "2026-11-01T08:00:00 +08:00", "2026-11-1T00:00:00Z", "2026-11-01T00:00:00UTC",
    " 2026-11-01T00:00:00Z ", "2026-11-01T00:00:00", "2026-11-01", "2026-02-30T00:00:00Z", "2026-11-01T24:00:00Z",
    "2026-11-01T00:00:00+24:00", "1793491200", "yesterday",
]


def verdicts(starts: list[str]) -> list[Any]:
    rows = [dict(zip(HEADER.split(","), ROW.format(i=i).split(","), strict=True)) | {"started_at": s}
            for i, s in enumerate(starts)]
    table = pa.table({k: pa.array([r[k] for r in rows], pa.string()) for k in HEADER.split(",")})
    table = table.append_column("_pos", pa.array(range(1, len(rows) + 1), pa.int64()))
    v = validate(RawBatch(table), file="f.csv", source="s")
    clean = {r["_pos"]: r["started_at"] for r in v.clean.to_pylist()}
    refused = {r.position: r.reason for r in v.rejects}
    assert len(clean) + len(refused) == len(rows)
    return [clean.get(i + 1, refused.get(i + 1)) for i in range(len(rows))]


@pytest.mark.parametrize("start", STARTS)
def test_a_start_time_gets_the_same_verdict_alone_and_beside_a_bad_one(start: str) -> None:
    """Arrow's fast cast takes a clean batch; a batch with one unreadable time is parsed row by row. Both must
    say the same of every record: accepted at the same instant, or refused."""
    (alone,) = verdicts([start])
    assert verdicts([start, "not a time"])[0] == alone
    assert verdicts(["2026-11-01T08:00:00", start])[1] == alone
    assert verdicts([start, "2026-02-30T00:00:00Z", start])[0::2] == [alone, alone]


def test_the_row_by_row_path_keeps_the_fast_paths_instants_in_a_large_batch() -> None:
    starts = [f"2026-11-{d:02d}T{h:02d}:{m:02d}Z" for d in range(1, 29) for h in range(24) for m in (0, 30)]
    fast = verdicts(starts)
    assert all(not isinstance(v, str) for v in fast)
    mixed = verdicts([*starts[:700], "2026-02-30T00:00:00Z", *starts[700:]])
    assert mixed[:700] + mixed[701:] == fast and mixed[700] == "bad_timestamp"


def test_every_text_arrows_cast_reads_has_the_shape_the_row_by_row_path_casts() -> None:
    """The row-by-row path casts only texts of ``_ISO_ZONED``'s shape with Arrow; a text Arrow reads outside
    that shape would be accepted in a clean batch and judged by the lenient parser beside a bad one."""
    import itertools
    import re

    from fairtel.mediation._validate import _ISO_ZONED

    shape = re.compile(_ISO_ZONED)
    target = pa.timestamp("us", tz="UTC")
    dates = ["2026-01-01", "2026-1-01", "20260101", "2026-01", "2026-02-30", "12026-01-01", "2026-001"]
    seps = ["T", " ", "t", "", "_"]
    times = ["", "00", "0", "00:00", "0000", "00:00:00", "000000", "00:00:00.", "00:00:00.1", "00:00:00.123456",
             "00:00:00.1234567", "00:00:00,5", "24:00:00", "23:59:60", "00:00.5"]
    zones = ["", "Z", "z", "+08", "+0800", "+08:00", "-08:00", "+8", "+08:0", "+080", "+08:00:00", " Z", "UTC", "-00"]
    read = 0
    for text in map("".join, itertools.product(dates, seps, times, zones)):
        try:
            pa.array([text]).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        read += 1
        assert shape.match(text), text
    assert read > 50


# --- a quoted value with a line break ----------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["peer", "note"])
def test_a_quoted_value_holding_a_line_break_refuses_the_record_instead_of_cutting_the_value(
        tmp_path: Path, column: str) -> None:
    """docs/formats.md: a value may not contain a line break, and such a record is refused as column_count.
    The first half of the record has every field when the value is in the last column; it must not be
    accepted with the value cut at the line end."""
    header = HEADER if column == "peer" else HEADER + ",note"
    broken = ROW.format(i=2).replace(",8613900139000", ',"86139\n00139000"') if column == "peer" else \
        ROW.format(i=2) + ',"called back,\nno answer"'
    tail = "" if column == "peer" else ",ok"
    body = "\n".join([header, ROW.format(i=1) + tail, broken, ROW.format(i=3) + tail]) + "\n"
    rep = ingest_one(tmp_path, "u.csv", body.encode())
    assert [r["record_id"] for r in lake_rows(rep)] == ["r1", "r3"]
    rejects = rejects_of(rep)
    assert [(r["position"], r["reason"]) for r in rejects] == [(3, "column_count"), (4, "column_count")]
    assert "\n".join(original(r).decode() for r in rejects) == broken


def test_a_last_line_cut_inside_a_quoted_value_is_truncated(tmp_path: Path) -> None:
    body = "\n".join([HEADER, ROW.format(i=1), ROW.format(i=2).replace(",8613900139000", ',"86139')])
    rep = ingest_one(tmp_path, "u.csv", body.encode())
    assert [r["record_id"] for r in lake_rows(rep)] == ["r1"]
    assert [(r["position"], r["reason"]) for r in rejects_of(rep)] == [(3, "truncated")]


# --- a header naming one field twice ----------------------------------------------------------------------------


def test_a_header_naming_a_field_twice_in_other_case_fails_the_file_with_a_clear_reason(tmp_path: Path) -> None:
    body = HEADER + ",RECORD_ID\n" + ROW.format(i=1) + ",x\n"
    rep = ingest_one(tmp_path, "u.csv", body.encode())
    assert rep.status == Status.FAILED
    assert rep.message.startswith("file_unreadable:") and "record_id" in rep.message and "line 1" in rep.message


# --- a BOM inside the file ---------------------------------------------------------------------------------------


def test_a_bom_opening_a_csv_line_inside_the_file_does_not_become_part_of_the_record_id(tmp_path: Path) -> None:
    """Two exports joined end to end: the second's BOM opens a line. The record keeps its own id, so a resend
    of it is recognised as a duplicate."""
    body = (HEADER + "\r\n" + ROW.format(i=1) + "\r\n").encode() + b"\xef\xbb\xbf" + \
        (ROW.format(i=2) + "\r\n" + ROW.format(i=2) + "\r\n").encode()
    rep = ingest_one(tmp_path, "u.csv", body)
    assert (rep.accepted, rep.rejected, rep.duplicate) == (2, 0, 1)
    assert [r["record_id"] for r in lake_rows(rep)] == ["r1", "r2"]


def test_a_bom_opening_a_jsonl_line_inside_the_file_is_not_a_bad_line(tmp_path: Path) -> None:
    rec = {"record_id": "a", "msisdn": "1", "kind": "sms", "direction": "in", "started_at": "2026-01-01T00:00:00Z"}
    body = (json.dumps(rec) + "\n").encode() + b"\xef\xbb\xbf" + (json.dumps(rec | {"record_id": "b"}) + "\n").encode()
    rep = ingest_one(tmp_path, "u.jsonl", body)
    assert (rep.accepted, rep.rejected) == (2, 0)
    assert [r["record_id"] for r in lake_rows(rep)] == ["a", "b"]


# --- field map units ------------------------------------------------------------------------------------------


def test_a_field_map_volume_too_large_to_scale_is_refused_not_wrapped_to_zero(tmp_path: Path) -> None:
    """2**34 GiB is 2**64 bytes: int64 arithmetic would wrap it to 0 bytes, and the record would be accepted."""
    fmap = tmp_path / "gw.toml"
    fmap.write_text(
        '[input]\nheader = true\n\n[fields]\nrecord_id = "id"\nmsisdn = "msisdn"\nkind = { value = "data" }\n'
        'started_at = "start"\nbytes_down = { column = "down", unit = "GiB" }\n'
        'duration_s = { column = "hours", unit = "h" }\n', encoding="utf-8")
    body = ("id,msisdn,start,down,hours\n"
            "a,8613800138000,2026-11-01T08:00:00+08:00,2,1\n"
            "b,8613800138000,2026-11-01T08:00:00+08:00,17179869184,1\n"
            "c,8613800138000,2026-11-01T08:00:00+08:00,1,2562047788015216\n")
    rep = ingest_one(tmp_path, "gw.csv", body.encode(), fmt=f"fieldmap:{fmap}")
    rows = lake_rows(rep)
    assert [(r["record_id"], r["bytes_down"], r["duration_s"]) for r in rows] == [("a", 2 << 30, 3600)]
    assert [(r["position"], r["reason"], r["field"]) for r in rejects_of(rep)] == [
        (3, "out_of_range", "bytes_down"), (4, "out_of_range", "duration_s")]
