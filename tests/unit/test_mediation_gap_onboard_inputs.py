"""What an operator's first files bring: switch clocks in the operator's zone (or another one named), field-map
times in a daylight-saving gap or overlap, negative millisecond durations, compressed files, and a quoted value
holding a line break. Every record stays accounted for: read = accepted + rejected + duplicate."""

from __future__ import annotations

import bz2
import gzip
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, ingest_files, readers


def ast_line(uniqueid: str, answer: str) -> str:
    return ('"""" <client1>","client1","6789","default","PJSIP/client1-00000002","PJSIP/client2-00000003","Dial",'
            f'"PJSIP/client2","{answer}","{answer}","{answer}","31","13","ANSWERED","DOCUMENTATION","","{uniqueid}",""'
            ',2\n')


MASTER = ast_line("1690325492.2", "2026-07-01 10:00:00") + ast_line("1690325531.5", "2026-07-01 11:00:00")


def settings(home: Path, **kw: object) -> Settings:
    return Settings(home=home, batch_size=1000, **kw)  # type: ignore[arg-type]


def lake(home: Path) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for part in (home / "lake" / "usage").glob("period=*/*.parquet"):
        t = pq.read_table(part, columns=["record_id", "started_at"]).to_pylist()
        out.update({r["record_id"]: r["started_at"] for r in t})
    return out


def rejects(rep: FileReport) -> list[dict[str, object]]:
    assert rep.rejects_file is not None
    return [json.loads(line) for line in Path(rep.rejects_file).read_text(encoding="utf-8").splitlines()]


def accounted(rep: FileReport) -> None:
    assert rep.read == rep.accepted + rep.rejected + rep.duplicate, rep


# --- switch clocks ----------------------------------------------------------------------------------------------

def test_switch_times_are_read_on_the_operators_clock(tmp_path: Path) -> None:
    f = tmp_path / "Master.csv"
    f.write_text(MASTER)
    home = tmp_path / "home"
    [rep] = ingest_files([f], settings=settings(home, timezone="Europe/Berlin"))
    assert (rep.format, rep.accepted) == ("asterisk-csv", 2)
    assert lake(home)["1690325492.2-2"] == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # 10:00 CEST


def test_a_switch_on_another_clock_is_read_in_the_zone_named(tmp_path: Path) -> None:
    f = tmp_path / "Master.csv"
    f.write_text(MASTER)
    home = tmp_path / "home"
    [rep] = ingest_files([f], settings=settings(home, timezone="Europe/Berlin"), timezone="UTC")
    assert rep.accepted == 2
    assert lake(home)["1690325492.2-2"] == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    f2 = tmp_path / "fs.csv"  # a FreeSWITCH file told by its header, and its format named
    f2.write_text("caller_id_name,caller_id_number,destination_number,context,start_stamp,answer_stamp,end_stamp,"
                  "duration,billsec,hangup_cause,uuid,bleg_uuid,accountcode\n"
                  '"A","1000","1001","default","2026-07-01 12:00:00","2026-07-01 12:00:00","2026-07-01 12:01:00",'
                  '"60","60","NORMAL_CLEARING","a1b2c3d4-0000-0000-0000-000000000001","",""\n')
    [rep2] = ingest_files([f2], settings=settings(home, timezone="Europe/Berlin"), fmt="freeswitch-csv",
                          timezone="Asia/Tokyo")
    assert rep2.accepted == 1, rep2
    assert lake(home)["a1b2c3d4-0000-0000-0000-000000000001"] == datetime(2026, 7, 1, 3, 0, tzinfo=UTC)


# --- field maps: daylight saving, negative milliseconds ----------------------------------------------------------

FIELDMAP = """[input]
delimiter = ";"
header = true
timezone = "Europe/Berlin"
timestamp_format = "%Y-%m-%d %H:%M:%S"
[fields]
record_id = "id"
msisdn = "a"
peer = "b"
kind = { value = "voice" }
direction = { value = "out" }
started_at = "t"
duration_s = { column = "ms", unit = "ms" }
"""


def fieldmap_ingest(tmp_path: Path, rows: list[str]) -> tuple[FileReport, Path]:
    (tmp_path / "map.toml").write_text(FIELDMAP)
    data = tmp_path / "calls.csv"
    data.write_text("id;a;b;t;ms\n" + "".join(f"{r}\n" for r in rows))
    home = tmp_path / "home"
    [rep] = ingest_files([data], settings=settings(home), fmt=f"fieldmap:{tmp_path / 'map.toml'}")
    accounted(rep)
    return rep, home


def test_a_field_map_refuses_a_time_in_the_spring_forward_gap(tmp_path: Path) -> None:
    rep, home = fieldmap_ingest(tmp_path, [
        "m1;8613800138000;8613900139000;2026-03-29 01:59:59;1000",
        "m2;8613800138000;8613900139000;2026-03-29 02:30:00;1000",
        "m3;8613800138000;8613900139000;2026-03-29 03:00:00;1000",
    ])
    assert (rep.accepted, rep.rejected, rep.reasons) == (2, 1, {"bad_timestamp": 1})
    [r] = rejects(rep)
    assert r["position"] == 3 and r["field"] == "started_at"
    assert "no such local time in Europe/Berlin" in str(r["message"]) and "'2026-03-29 02:30:00'" in str(r["message"])
    assert lake(home) == {"m1": datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
                          "m3": datetime(2026, 3, 29, 1, 0, tzinfo=UTC)}


def test_a_field_map_reads_a_repeated_fall_back_time_as_its_first_occurrence(tmp_path: Path) -> None:
    rep, home = fieldmap_ingest(tmp_path, ["m5;8613800138000;8613900139000;2026-10-25 02:30:00;1000"])
    assert rep.accepted == 1
    assert lake(home) == {"m5": datetime(2026, 10, 25, 0, 30, tzinfo=UTC)}  # 02:30 CEST, not CET


def test_negative_milliseconds_are_refused_not_rounded_to_zero(tmp_path: Path) -> None:
    rep, home = fieldmap_ingest(tmp_path, [
        f"m{i};8613800138000;8613900139000;2026-11-20 09:00:00;{ms}"
        for i, ms in enumerate(["-1", "-999", "-1000", "-1001", "0", "1", "1001"])
    ])
    assert (rep.accepted, rep.rejected, rep.reasons) == (3, 4, {"negative": 4})
    assert [(r["position"], r["message"]) for r in rejects(rep)] == [
        (2, "duration_s: negative: '-1'"), (3, "duration_s: negative: '-999'"),
        (4, "duration_s: negative: '-1000'"), (5, "duration_s: negative: '-1001'")]
    durations = {r["record_id"]: r["duration_s"] for part in (home / "lake" / "usage").glob("period=*/*.parquet")
                 for r in pq.read_table(part, columns=["record_id", "duration_s"]).to_pylist()}
    assert durations == {"m4": 0, "m5": 1, "m6": 2}


# --- compressed files ---------------------------------------------------------------------------------------------

def test_a_gzip_switch_file_is_read_as_the_file_it_holds(tmp_path: Path) -> None:
    f = tmp_path / "Master.csv.gz"
    f.write_bytes(gzip.compress((MASTER + "broken,line\n").encode()))
    home = tmp_path / "home"
    [rep] = ingest_files([f], settings=settings(home))
    accounted(rep)
    assert (rep.status, rep.format, rep.read, rep.accepted, rep.rejected) == ("ingested", "asterisk-csv", 3, 2, 1)
    [r] = rejects(rep)
    assert (r["file"], r["position"], r["raw"]) == (str(f), 3, "broken,line")  # a line of the decompressed text
    assert set(lake(home)) == {"1690325492.2-2", "1690325531.5-2"}
    assert not any((home / "mediation" / "unpacked").glob("*"))  # the decompressed copy is gone


def test_gzip_members_joined_and_a_named_format_and_bzip2(tmp_path: Path) -> None:
    lines = MASTER.splitlines(keepends=True)
    f = tmp_path / "Master.csv.gz"
    f.write_bytes(gzip.compress(lines[0].encode()) + gzip.compress(lines[1].encode()))
    b = tmp_path / "other.bz2"
    b.write_bytes(bz2.compress(ast_line("1690325659.8", "2026-07-02 10:00:00").encode()))
    home = tmp_path / "home"
    reps = ingest_files([f, b], settings=settings(home), fmt="asterisk-csv")
    assert [(r.status, r.read, r.accepted) for r in reps] == [("ingested", 2, 2), ("ingested", 1, 1)]
    assert len(lake(home)) == 3


def test_an_archive_fails_as_compressed_file_even_with_a_format(tmp_path: Path) -> None:
    z = tmp_path / "Master.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Master.csv", MASTER)
    home = tmp_path / "home"
    for fmt in (None, "asterisk-csv", "csv"):
        [rep] = ingest_files([z], settings=settings(home), fmt=fmt)
        assert rep.status == "failed" and rep.read == 0, rep
        assert rep.message.startswith("compressed_file: ") and "unzip Master.zip" in rep.message
    assert lake(home) == {}


def test_a_gzip_file_cut_short_fails_and_is_not_registered(tmp_path: Path) -> None:
    whole = gzip.compress((MASTER * 50).encode())
    f = tmp_path / "Master.csv.gz"
    f.write_bytes(whole[: len(whole) // 2])
    home = tmp_path / "home"
    [rep] = ingest_files([f], settings=settings(home))
    assert rep.status == "failed" and rep.message.startswith("compressed_file: ") and "cut short" in rep.message
    f.write_bytes(whole)  # the complete file, under the same name: read in full
    [again] = ingest_files([f], settings=settings(home))
    assert (again.status, again.read, again.accepted, again.duplicate) == ("ingested", 100, 2, 98)


def test_compression_is_told_by_its_first_bytes() -> None:
    assert readers.compression(gzip.compress(b"x")) == "gzip"
    assert readers.compression(bz2.compress(b"x")) == "bzip2"
    assert readers.compression(b"PK\x03\x04rest") == "zip"
    for plain in (b"PAR1", b"record_id,msisdn\n", b"\x61\x82\x01\x00", b"\x1f\x8b"):
        assert readers.compression(plain) is None


def test_unpacked_refuses_a_zip(tmp_path: Path) -> None:
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.csv", "x")
    with pytest.raises(readers.CompressedFileError), readers.unpacked(z, tmp_path / "scratch"):
        pass


# --- a quoted value holding a line break ----------------------------------------------------------------------------

def test_the_line_a_quoted_value_runs_on_to_says_which_line_it_continues(tmp_path: Path) -> None:
    (tmp_path / "map.toml").write_text(FIELDMAP.replace('duration_s = { column = "ms", unit = "ms" }',
                                                        'duration_s = { column = "ms", unit = "ms" }\ncell_id = "c"'))
    data = tmp_path / "calls.csv"
    data.write_bytes(
        "id;a;b;t;ms;c\r\n"
        "1001;8613800138000;8613900139000;2026-11-20 09:00:00;1000;北京\r\n"
        '1002;8613800138001;8613900139001;2026-11-20 09:01:00;1000;"多行\r\n'
        '备注"\r\n'
        "1003;8613800138002;8613900139002;2026-11-20 09:02:00;1000;上海\r\n"
        '1004;8613800138003;8613900139003;2026-11-20 09:03:00;1000;"一\r\n'
        "二\r\n"
        '三"\r\n'
        '1005;8613800138004;8613900139004;2026-11-20 09:04:00;1000;"never closed\r\n'
        "1006;8613800138005;8613900139005;2026-11-20 09:05:00;1000;广州\r\n".encode("gbk"))
    [rep] = ingest_files([data], settings=settings(tmp_path / "home"), fmt=f"fieldmap:{tmp_path / 'map.toml'}")
    accounted(rep)
    assert (rep.read, rep.accepted, rep.rejected) == (9, 3, 6)
    got = [(r["position"], r["message"]) for r in rejects(rep)]
    assert [p for p, _ in got] == [3, 4, 6, 7, 8, 9]
    msgs = dict(got)
    assert "closes on line 4" in str(msgs[3]) and "lines 3-4 are one record" in str(msgs[3])
    assert str(msgs[4]).startswith("continues line 3:") and "lines 3-4" in str(msgs[4])
    assert "closes on line 8" in str(msgs[6])
    assert str(msgs[7]).startswith("continues line 6:") and str(msgs[8]).startswith("continues line 6:")
    # a quote never closed, followed by a record of its own: that record is read, not taken for a continuation
    assert msgs[9] == "a quoted value runs past the line end (a value may not hold a line break)"
