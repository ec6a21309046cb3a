"""Field maps read dates strictly (Arrow's strptime carries 31.02. into March, which would charge a call on a day
it was not made), quote the value the file wrote when they refuse a converted one, say where in the TOML a problem
is, and an integer too large for 64 bits is out of range, not "not an integer"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, ingest_files
from fairtel.mediation.readers._errors import FieldMapError
from fairtel.mediation.readers._fieldmap import load_fieldmap

MAP = """\
[input]
delimiter = ";"
header = true
timezone = "Asia/Shanghai"
timestamp_format = "{fmt}"

[fields]
record_id = "CALLID"
msisdn = "CALLING"
peer = {{ column = "CALLED", replace = ["^00", ""] }}
kind = {{ value = "voice" }}
direction = {{ value = "out" }}
started_at = "START"
duration_s = {{ column = "DUR", unit = "min" }}
"""
HEAD = "CALLID;CALLING;CALLED;START;DUR\n"


def ingest(tmp_path: Path, rows: list[str], fmt: str = "%d.%m.%Y %H:%M:%S") -> tuple[FileReport, list[dict[str, Any]]]:
    (tmp_path / "map.toml").write_text(MAP.format(fmt=fmt), encoding="utf-8")
    data = tmp_path / "sw.csv"
    data.write_text(HEAD + "".join(r + "\n" for r in rows), encoding="utf-8")
    home = tmp_path / "home"
    [rep] = ingest_files([data], settings=Settings(home=home, batch_size=1000), fmt=f"fieldmap:{tmp_path / 'map.toml'}")
    rejects = []
    if rep.rejects_file:
        rejects = [json.loads(line) for line in Path(rep.rejects_file).read_text(encoding="utf-8").splitlines()]
    return rep, rejects


def lake(home: Path) -> dict[str, object]:
    return {r["record_id"]: r["started_at"] for part in (home / "lake" / "usage").glob("period=*/*.parquet")
            for r in pq.read_table(part, columns=["record_id", "started_at"]).to_pylist()}


def test_dates_that_do_not_exist_are_bad_timestamp_not_rolled_over(tmp_path: Path) -> None:
    rep, rejects = ingest(tmp_path, [
        "1;8613800000002;8613912345678;31.02.2026 09:40:00;1",
        "2;8613800000002;8613912345678;29.02.2026 09:40:00;1",
        "3;8613800000002;8613912345678;31.04.2026 00:00:00;1",
        "4;8613800000002;8613912345678;01.01.2026 23:59:60;1",
        "5;8613800000002;8613912345678;28.02.2026 09:40:00;1",
        "6;8613800000002;8613912345678;1.3.2026 9:40:00;1",  # not zero-padded: the same date, read as it is
    ])
    assert (rep.read, rep.accepted, rep.rejected) == (6, 2, 4)
    assert {r["position"]: r["reason"] for r in rejects} == {2: "bad_timestamp", 3: "bad_timestamp",
                                                             4: "bad_timestamp", 5: "bad_timestamp"}
    assert rejects[0]["message"].endswith("'31.02.2026 09:40:00'")  # the file's value
    stored = lake(tmp_path / "home")
    assert sorted(stored) == ["5", "6"]
    assert str(stored["5"]).startswith("2026-02-28 01:40:00")  # 09:40 in Shanghai
    assert str(stored["6"]).startswith("2026-03-01 01:40:00")


def test_a_format_with_an_offset_is_read_strictly_too(tmp_path: Path) -> None:
    rep, rejects = ingest(tmp_path, [
        "1;8613800000002;8613912345678;2026-02-30 10:00:00+0800;1",
        "2;8613800000002;8613912345678;2026-02-28 10:00:00+08:00;1",
    ], fmt="%Y-%m-%d %H:%M:%S%z")
    assert (rep.accepted, rep.rejected) == (1, 1)
    assert [(r["position"], r["reason"]) for r in rejects] == [(2, "bad_timestamp")]
    assert str(lake(tmp_path / "home")["2"]).startswith("2026-02-28 02:00:00")


def test_a_refused_converted_value_is_quoted_as_the_file_wrote_it(tmp_path: Path) -> None:
    _, rejects = ingest(tmp_path, [
        "1;8613800000002;8613912345678;28.02.2026 09:40:00;-1",  # -1 min is -60 s: say -1
        "2;8613800000002;8613912345678;28.02.2026 09:40:00;99999999999999999",  # clamped when scaled: say the file's
        "3;8613800000002;00 852;28.02.2026 09:40:00;1",  # replace gives " 852", refused: say "00 852"
    ])
    by = {r["position"]: (r["reason"], r["message"]) for r in rejects}
    assert by[2] == ("negative", "duration_s: negative: '-1'")
    assert by[3] == ("out_of_range", "duration_s: more than 604800 s in one record: '99999999999999999'")
    assert by[4][0] == "bad_number" and by[4][1].endswith("'00 852'")


@pytest.mark.parametrize(("field", "value", "reason", "message"), [
    ("duration_s", "99999999999999999999999", "out_of_range", "duration_s: more than 604800 s in one record"),
    ("duration_s", "-99999999999999999999999", "negative", "duration_s: negative"),
    ("duration_s", "12x", "bad_value", "duration_s: not an integer"),
])
def test_an_integer_too_large_for_64_bits_is_out_of_range(tmp_path: Path, field: str, value: str, reason: str,
                                                          message: str) -> None:
    data = tmp_path / "u.csv"
    data.write_text("record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
                    f"r1,8613800000002,voice,out,2026-03-01T10:00:00+08:00,{value},8613912345678\n"
                    "r2,8613800000002,voice,out,2026-03-01T10:00:00+08:00,60,8613912345678\n", encoding="utf-8")
    [rep] = ingest_files([data], settings=Settings(home=tmp_path / "home", batch_size=1000))
    [reject] = [json.loads(line) for line in Path(rep.rejects_file or "").read_text(encoding="utf-8").splitlines()]
    assert (reject["reason"], reject["field"]) == (reason, field)
    assert reject["message"] == f"{message}: {value!r}"


def test_a_sequence_number_too_large_for_64_bits_is_out_of_range(tmp_path: Path) -> None:
    data = tmp_path / "u.csv"
    data.write_text("record_id,msisdn,kind,started_at,bytes_down,session_id,seq,final\n"
                    "p1,8613800000002,data,2026-03-01T10:00:00+08:00,5,s1,99999999999999999999999,true\n",
                    encoding="utf-8")
    [rep] = ingest_files([data], settings=Settings(home=tmp_path / "home", batch_size=1000))
    assert rep.reasons == {"out_of_range": 1}


def test_field_map_problems_carry_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    path.write_text('[input]\ndelimiter = ";;"\nheader = true\ntimezon = "UTC"\n\n[fields]\nrecord_id = "A"\n'
                    'msisdn = { column = "B", unit = "ms" }\nkind = { value = "voice" }\n', encoding="utf-8")
    with pytest.raises(FieldMapError) as err:
        load_fieldmap(path)
    got = [(p.line, p.field) for p in err.value.problems]
    assert got == [(2, "input.delimiter"), (4, "input.timezon"), (6, "fields.started_at"), (8, "fields.msisdn")]
    assert f"{path}:4 [input.timezon]: unknown setting" in str(err.value)
    path.write_text("[input]\ndelimiter = ';'\n[fields\n", encoding="utf-8")
    with pytest.raises(FieldMapError) as err:
        load_fieldmap(path)
    [problem] = err.value.problems
    assert problem.line == 3 and "at line" not in problem.message
