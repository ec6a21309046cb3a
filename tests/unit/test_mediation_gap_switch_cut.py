"""A switch CSV whose last line is cut off (a Master.csv copied while the switch was still writing it) must not be
read with a cut record id: the whole file, arriving later, would then hold the same call under its whole id and
it would be charged twice. The cut line is ``truncated``, as in canonical CSV, also when too few columns are left
(not ``column_count``), and a terminated line whose quote never closes is ``column_count``."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files
from fairtel.mediation.readers import Reject, get_reader

SAMPLES = Path("samples") / "cdr"
ASTERISK = "asterisk_cdr_csv_Master_lab.csv"
FREESWITCH = "freeswitch_cdr_csv_Master.csv"
STOCK_LINE = ('"acct","8613800138001","8613900139001","default","""Bob"" <8613800138001>","SIP/a-1","SIP/b-2","Dial",'
              '"SIP/b","2026-03-01 23:59:50","","2026-03-01 23:59:59","9","9","BUSY","DOCUMENTATION",'
              '"1772380790.9",""')


def read(fmt: str, path: Path) -> tuple[list[dict[str, object]], list[Reject]]:
    rows: list[dict[str, object]] = []
    rejects: list[Reject] = []
    for batch in get_reader(fmt).read(path, source="t", batch_size=4):
        rows.extend(batch.table.to_pylist())
        rejects.extend(batch.rejects)
    return rows, rejects


def lake_ids(home: Path) -> list[str]:
    return sorted(r for part in (home / "lake" / "usage").glob("period=*/*.parquet")
                  for r in pq.read_table(part, columns=["record_id"]).column("record_id").to_pylist())


def test_asterisk_last_line_cut_inside_the_uniqueid_is_truncated(shared_dir: Path, tmp_path: Path) -> None:
    data = (shared_dir / SAMPLES / ASTERISK).read_bytes()
    cut = tmp_path / "Master.csv"
    cut.write_bytes(data[:700])  # the walk's cut: line 3 ends inside "1690325659.8"
    rows, rejects = read("asterisk-csv", cut)
    assert [r["record_id"] for r in rows] == ["1690325492.2-2", "1690325531.5-4"]
    assert [(r.position, r.reason) for r in rejects] == [(3, "truncated")]
    assert "quoted value" in rejects[0].message and rejects[0].raw == data[:700].split(b"\n")[2]


def test_a_cut_asterisk_file_then_the_whole_one_charge_each_call_once(shared_dir: Path, tmp_path: Path) -> None:
    whole = shared_dir / SAMPLES / ASTERISK
    cut = tmp_path / "Master.csv"
    cut.write_bytes(whole.read_bytes()[:700])
    home = tmp_path / "home"
    first, second = ingest_files([cut, whole], settings=Settings(home=home, batch_size=1000))
    assert (first.read, first.accepted, first.rejected, first.duplicate) == (3, 2, 1, 0)
    assert first.reasons == {"truncated": 1}
    assert (second.read, second.accepted, second.rejected, second.duplicate) == (14, 12, 0, 2)
    ids = lake_ids(home)
    assert len(ids) == len(set(ids)) == 14  # 14 calls, each once
    assert "1690325659.8-6" in ids and not any(i.startswith("169032565") and "." not in i for i in ids)


def test_freeswitch_last_line_cut_inside_the_uuid_is_truncated(shared_dir: Path, tmp_path: Path) -> None:
    whole = shared_dir / SAMPLES / FREESWITCH
    data = whole.read_bytes()
    cut = tmp_path / "Master.csv"
    cut.write_bytes(data[: data.index(b"b9d0a33e") + 12])  # ",b9d0a33e-4c1": 11 columns, enough for the old check
    rows, rejects = read("freeswitch-csv", cut)
    assert [r["record_id"] for r in rows] == ["d80e22e0-4c15-11ea-97a0-9dd79410affb"]
    assert [(r.position, r.reason) for r in rejects] == [(2, "truncated")]
    assert "11 of 15 fields" in rejects[0].message
    home = tmp_path / "home"
    first, second = ingest_files([cut, whole], settings=Settings(home=home, batch_size=1000))
    assert (first.accepted, first.rejected) == (1, 1)
    assert second.read == second.accepted + second.rejected + second.duplicate
    ids = lake_ids(home)
    assert [i for i in ids if i.startswith("b9d0a33e")] == ["b9d0a33e-4c15-11ea-978a-9dd79410affb"]


@pytest.mark.parametrize(("fmt", "sample"), [("asterisk-csv", ASTERISK), ("freeswitch-csv", FREESWITCH)])
def test_a_cut_last_line_with_too_few_columns_is_truncated_not_column_count(shared_dir: Path, tmp_path: Path,
                                                                            fmt: str, sample: str) -> None:
    lines = (shared_dir / SAMPLES / sample).read_bytes().split(b"\n")
    short = tmp_path / "short.csv"
    short.write_bytes(b"\n".join(lines[:2]) + b"\n" + lines[2][:60])  # the walk's repro 12: 60 bytes, no line end
    rows, rejects = read(fmt, short)
    assert len(rows) == 2
    assert [(r.position, r.reason) for r in rejects] == [(3, "truncated")]
    ended = tmp_path / "ended.csv"  # the same short line with its line end is a line with too few columns
    ended.write_bytes(b"\n".join(lines[:2]) + b"\n" + lines[2][:60].replace(b'"', b"") + b"\n")
    _, rejects = read(fmt, ended)
    assert [(r.position, r.reason) for r in rejects] == [(3, "column_count")]


def test_an_unterminated_asterisk_line_is_read_only_when_it_shows_it_is_whole(shared_dir: Path,
                                                                            tmp_path: Path) -> None:
    lines = (shared_dir / SAMPLES / ASTERISK).read_bytes().split(b"\n")
    third = lines[2]
    assert third.endswith(b',"",6')  # cdr_custom's stock template ends with the unquoted sequence
    whole_line = tmp_path / "a.csv"
    whole_line.write_bytes(b"\n".join(lines[:3]))  # all 19 columns, but "6" may have been "61"
    rows, rejects = read("asterisk-csv", whole_line)
    assert len(rows) == 2 and [(r.position, r.reason) for r in rejects] == [(3, "truncated")]
    assert "(sequence)" in rejects[0].message
    ended = tmp_path / "b.csv"
    ended.write_bytes(b"\n".join(lines[:3]) + b"\n")
    rows, rejects = read("asterisk-csv", ended)
    assert rejects == [] and rows[2]["record_id"] == "1690325659.8-6"
    stock = tmp_path / "c.csv"  # cdr_csv: the last value (userfield, not read) closes its quote: a whole line
    stock.write_text(STOCK_LINE, encoding="utf-8")
    rows, rejects = read("asterisk-csv", stock)
    assert rejects == [] and rows[0]["record_id"] == "1772380790.9"


def test_a_terminated_line_whose_quote_never_closes_is_column_count(shared_dir: Path, tmp_path: Path) -> None:
    lines = (shared_dir / SAMPLES / ASTERISK).read_bytes().split(b"\n")
    broken = lines[2][: lines[2].index(b"1690325659") + 6]  # ends inside the uniqueid's quotes
    path = tmp_path / "Master.csv"
    path.write_bytes(b"\n".join([lines[0], broken, lines[1]]) + b"\n")
    rows, rejects = read("asterisk-csv", path)
    assert [r["record_id"] for r in rows] == ["1690325492.2-2", "1690325531.5-4"]
    assert [(r.position, r.reason) for r in rejects] == [(2, "column_count")]
    assert "runs past the line end" in rejects[0].message
