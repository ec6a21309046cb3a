"""Ingest on input it used to get wrong: files of blank lines, NUL bytes and GB18030 JSON Lines end to end,
and parts of a partial session that share a sequence number under different record ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, ingest_files

PARTS = "record_id,source,msisdn,kind,started_at,bytes_up,bytes_down,session_id,seq,final\n"


def settings(home: Path) -> Settings:
    return Settings(home=home, batch_size=1000, partial_timeout_s=3600)


def lake(home: Path) -> list[dict[str, Any]]:
    files = list((home / "lake" / "usage").glob("period=*/*.parquet"))
    if not files:
        return []
    cur = duckdb.execute(f"SELECT * FROM read_parquet({[str(f) for f in files]}) ORDER BY record_id")
    cols = [d[0] for d in cur.description or ()]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def rejected(report: FileReport) -> list[dict[str, Any]]:
    assert report.rejects_file is not None
    return [json.loads(line) for line in Path(report.rejects_file).read_text().splitlines()]


def adds_up(r: FileReport) -> bool:
    return r.read == r.accepted + r.rejected + r.duplicate


# --- 3. blank files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [None, "csv", "jsonl", "freeswitch-json"])
@pytest.mark.parametrize("body", [b"\n", b"\r\n\r\n  \t\n", b"\xef\xbb\xbf\n\n", b"\n" * 100_000])
def test_a_file_of_blank_lines_is_empty(tmp_path: Path, body: bytes, fmt: str | None) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(body)
    [r] = ingest_files([path], settings=settings(tmp_path / "h"), fmt=fmt)
    assert (r.status, r.read, r.rejected) == ("empty", 0, 0)
    assert "blank" in r.message


def test_a_blank_head_before_a_record_is_not_empty(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    record = {"record_id": "r1", "msisdn": "8613800138000", "kind": "sms", "direction": "out",
              "started_at": "2026-11-01T08:00:00+08:00", "peer": "10086"}
    path.write_bytes(b"\n" * 70_000 + json.dumps(record).encode() + b"\n")
    [r] = ingest_files([path], settings=settings(tmp_path / "h"), fmt="jsonl")
    assert (r.status, r.read, r.accepted) == ("ingested", 1, 1)


# --- 1 and 2, end to end ---------------------------------------------------------------------------------


def test_gb18030_json_lines_and_a_nul_line_are_ingested_without_naming_the_format(tmp_path: Path) -> None:
    path = tmp_path / "legacy.jsonl"
    records = [{"record_id": f"g{i}", "msisdn": "8613800138000", "kind": "data", "bytes_up": 10,
                "started_at": "2026-11-01T08:00:00+08:00", "cell_id": "成都基站"} for i in range(3)]
    lines = [json.dumps(r, ensure_ascii=False).encode("gb18030") for r in records]
    lines[1] = lines[1].replace(b'"g1"', b'"g\x001"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    [r] = ingest_files([path], settings=settings(tmp_path / "h"))
    assert (r.status, r.format, r.read, r.accepted, r.rejected) == ("ingested", "jsonl", 3, 2, 1)
    assert [(x["position"], x["reason"]) for x in rejected(r)] == [(2, "undecodable")]
    assert [(x["record_id"], x["cell_id"]) for x in lake(tmp_path / "h")] == [("g0", "成都基站"), ("g2", "成都基站")]


# --- 5. two parts with one sequence number ---------------------------------------------------------------


def part(rid: str, seq: int, final: bool, minute: int, up: int = 10, down: int = 100) -> str:
    return (f"{rid},pgw,8613800138000,data,2026-11-01T08:{minute:02d}:00+08:00,{up},{down},s1,{seq},"
            f"{'true' if final else 'false'}\n")


def test_a_second_part_with_a_taken_sequence_number_is_refused_and_the_session_completes(tmp_path: Path) -> None:
    home = tmp_path / "h"
    clash = part("p2b", 2, False, 11, 7, 70)
    f = tmp_path / "a.csv"
    f.write_text(PARTS + part("p1", 1, False, 0) + part("p2", 2, False, 10) + clash + part("p2", 2, False, 10)
                 + part("p3", 3, True, 20))
    [r] = ingest_files([f], settings=settings(home))
    assert (r.read, r.accepted, r.rejected, r.duplicate, r.held, r.emitted) == (5, 3, 1, 1, 0, 1)
    assert adds_up(r) and r.reasons == {"conflicting_part": 1}
    [refused] = rejected(r)
    assert (refused["position"], refused["field"], refused["raw"]) == (4, "seq", clash.rstrip("\n"))
    assert "p2" in refused["message"] and "p2b" in refused["message"]
    [rec] = lake(home)
    assert (rec["record_id"], rec["parts"], rec["incomplete"]) == ("p1", 3, False)
    assert (rec["bytes_up"], rec["bytes_down"]) == (30, 300)  # p1 + p2 + p3: the refused part is not summed


def test_a_taken_sequence_number_in_a_later_file_is_refused_and_a_corrected_resend_is_read(tmp_path: Path) -> None:
    home = tmp_path / "h"
    a = tmp_path / "a.csv"
    a.write_text(PARTS + part("p1", 1, False, 0) + part("p2", 2, False, 10))
    b = tmp_path / "b.csv"
    b.write_text(PARTS + part("p3", 2, True, 20, 5, 50))  # numbered 2 by mistake
    c = tmp_path / "c.csv"
    c.write_text(PARTS + part("p3", 3, True, 20, 5, 50))  # sent again, numbered right
    ra, rb, rc = ingest_files([a, b, c], settings=settings(home))
    assert (ra.held, ra.emitted) == (2, 0)
    assert (rb.read, rb.accepted, rb.rejected, rb.duplicate, rb.emitted) == (1, 0, 1, 0, 0)
    assert rb.reasons == {"conflicting_part": 1}
    assert (rc.read, rc.accepted, rc.duplicate, rc.emitted) == (1, 1, 0, 1)  # the refused part claimed no key
    [rec] = lake(home)
    assert (rec["record_id"], rec["parts"], rec["incomplete"], rec["bytes_up"]) == ("p1", 3, False, 25)


def test_the_part_kept_is_the_first_and_the_stitched_record_does_not_depend_on_how_files_are_cut(
        tmp_path: Path) -> None:
    lines = [part("p1", 1, False, 0), part("p2x", 2, False, 12, 3, 30), part("p2", 2, False, 10),
             part("p3", 3, True, 20)]
    records = []
    for cut in (4, 2, 1, 3):  # one file, or the same lines in two files cut after line `cut`
        home = tmp_path / f"h{cut}"
        files = []
        for i, chunk in enumerate((lines[:cut], lines[cut:])):
            if chunk:
                files.append(tmp_path / f"{cut}-{i}.csv")
                files[-1].write_text(PARTS + "".join(chunk))
        reports = ingest_files(files, settings=settings(home))
        assert all(adds_up(r) for r in reports)
        assert [x["raw"].split(",")[0] for r in reports if r.rejects_file for x in rejected(r)] == ["p2"]
        [rec] = lake(home)
        records.append(rec)
    assert all(rec == records[0] for rec in records)
    assert (records[0]["record_id"], records[0]["bytes_up"], records[0]["parts"]) == ("p1", 23, 3)
