"""`fairtel ingest` and `fairtel watch` end to end: JSON counts, rejects files, no-op re-ingest, inbox moves,
and every shared sample read correctly."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from tests.unit._tap_samples import commercial
from typer.testing import CliRunner

from fairtel.cli import app

runner = CliRunner()
HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer,offer_id,amount,currency\n"


def run(home: Path, *args: str) -> tuple[int, Any]:
    result = runner.invoke(app, ["--home", str(home), *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def lake_rows(home: Path) -> list[tuple[Any, ...]]:
    files = [str(f) for f in (home / "lake" / "usage").glob("period=*/*.parquet")]
    if not files:
        return []
    return duckdb.sql(f"SELECT * FROM read_parquet({files}) ORDER BY source, record_id").fetchall()


def fixtures(d: Path) -> list[Path]:
    d.mkdir()
    a = d / "switch-a.csv"
    a.write_text(HEADER
                 + "a1,8613800138000,voice,out,2026-11-30T23:59:59+08:00,60,8613900139000,,,\n"
                 + "a2,8613800138000,vas,,2026-12-01T00:00:00+08:00,,,vas-luckystar,6.00,CNY\n"
                 + "a3,8613800138000,voice,out,2026-11-01T08:00:00+08:00,-1,8613900139000,,,\n"
                 + "a1,8613800138000,voice,out,2026-11-30T23:59:59+08:00,60,8613900139000,,,\n"
                 + "a4,8613800138000\n")
    b = d / "feed-b.jsonl"
    b.write_text(json.dumps({"record_id": "b1", "msisdn": "8613800138001", "kind": "sms", "direction": "out",
                             "started_at": "2026-11-02T10:00:00+08:00", "peer": "10086"}) + "\n{oops\n")
    c = d / "feed-c.parquet"
    pq.write_table(pa.table({"record_id": ["c1"], "msisdn": ["8613800138002"], "kind": ["data"],
                             "started_at": ["2026-11-03T10:00:00+08:00"], "bytes_down": [1 << 20]}), c)
    return [a, b, c]


def test_ingest_json_counts_rejects_and_periods(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = fixtures(tmp_path / "in")
    code, out = run(home, "ingest", *map(str, files))
    assert code == 0
    by_name = {Path(f["file"]).name: f for f in out["files"]}
    a = by_name["switch-a.csv"]
    assert (a["read"], a["accepted"], a["rejected"], a["duplicate"], a["status"]) == (5, 2, 2, 1, "ingested")
    assert a["reasons"] == {"column_count": 1, "negative": 1}
    assert {Path(p).parent.name for p in a["parts"]} == {"period=2026-11", "period=2026-12"}  # Asia/Shanghai months
    rejects = [json.loads(x) for x in Path(a["rejects_file"]).read_text().splitlines()]
    assert [(r["position"], r["reason"], r["field"]) for r in rejects] == [(4, "negative", "duration_s"), (6, "column_count", None)]
    assert rejects[0]["raw"].startswith("a3,")
    assert (by_name["feed-b.jsonl"]["accepted"], by_name["feed-b.jsonl"]["rejected"]) == (1, 1)
    assert by_name["feed-c.parquet"]["format"] == "parquet"
    rows = lake_rows(home)
    assert len(rows) == 4
    vas = next(r for r in rows if r[0] == "a2")
    assert 600 in vas and "CNY" in vas  # amount_minor and currency


def test_reingest_is_a_noop_that_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = fixtures(tmp_path / "in")
    run(home, "ingest", *map(str, files))
    before = lake_rows(home)
    code, out = run(home, "ingest", str(tmp_path / "in"))
    assert code == 0
    assert {f["status"] for f in out["files"]} == {"already_ingested"}
    assert all("nothing to do" in f["message"] for f in out["files"])
    assert lake_rows(home) == before


def test_unknown_and_empty_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 10)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    code, out = run(home, "ingest", str(junk), str(empty))
    assert code == 1
    st = {Path(f["file"]).name: (f["status"], f["message"]) for f in out["files"]}
    assert st["junk.bin"][0] == "failed" and "format" in st["junk.bin"][1]
    assert st["empty.csv"][0] == "empty"


def test_watch_once_moves_files_after_commit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    inbox = tmp_path / "inbox"
    files = fixtures(inbox)
    (inbox / "garbage.dat").write_bytes(b"\x00\x01\x02 not a usage file")
    (inbox / "arriving.csv.tmp").write_text(HEADER)
    code, out = run(home, "watch", str(inbox), "--once")
    assert code == 1  # one file failed
    assert sorted(p.name for p in (inbox / "done").iterdir()) == sorted(f.name for f in files)
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == ["garbage.dat", "garbage.dat.error.txt"]
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["arriving.csv.tmp"]
    assert len(lake_rows(home)) == 4
    # the same files arriving again are recognised and moved without new records
    for f in (inbox / "done").iterdir():
        (inbox / f.name).write_bytes(f.read_bytes())
    code, out = run(home, "watch", str(inbox), "--once")
    assert {f["status"] for f in out["files"]} == {"already_ingested"}
    assert len(lake_rows(home)) == 4


def test_watch_opens_the_mediation_state_once_per_pass(tmp_path: Path, monkeypatch: Any) -> None:
    """A pass over the inbox ingests its files in one session (the state locked, recovered and its key
    segments mapped once), each file still committed and moved on its own."""
    from fairtel.core.settings import Settings
    from fairtel.mediation import _ingest, watch
    from fairtel.mediation._state import MediationState

    opened: list[Path] = []
    real = MediationState.open.__func__  # type: ignore[attr-defined]

    def counting(cls: type[MediationState], home: Path, **kw: Any) -> Any:
        opened.append(home)
        return real(cls, home, **kw)

    monkeypatch.setattr(_ingest.MediationState, "open", classmethod(counting))
    inbox = tmp_path / "inbox"
    files = fixtures(inbox)
    reps = watch(inbox, settings=Settings(home=tmp_path / "home"), once=True)
    assert len(opened) == 1 and len(reps) == len(files) >= 2
    assert sorted(p.name for p in (inbox / "done").iterdir()) == sorted(f.name for f in files)
    assert len(lake_rows(tmp_path / "home")) == 4
    assert watch(inbox, settings=Settings(home=tmp_path / "home"), once=True) == [] and len(opened) == 1  # nothing ready


def test_every_shared_sample_is_read(shared_dir: Path, tmp_path: Path) -> None:
    cdr = shared_dir / "samples" / "cdr"
    home = tmp_path / "home"
    samples = ["asterisk_cdr_csv_Master_lab.csv", "freeswitch_cdr_csv_Master.csv",
               "freeswitch_mod_json_cdr_FSDev1.json", "synthetic_pgw_cdr.ber", "synthetic_tap3_12_CDZZZAAZZZBB00001.ber"]
    tap = tmp_path / "CDZZZAAZZZBB00001"  # the sample is test data (refused, tap_test_data): read as commercial
    tap.write_bytes(commercial((cdr / samples.pop()).read_bytes()))
    code, out = run(home, "ingest", *(str(cdr / s) for s in samples), str(tap))
    assert code == 0, out
    got = {Path(f["file"]).name: f for f in out["files"]}
    assert got["asterisk_cdr_csv_Master_lab.csv"]["accepted"] == 14
    fs = got["freeswitch_cdr_csv_Master.csv"]
    assert (fs["read"], fs["accepted"], fs["duplicate"]) == (10, 8, 2)  # the repeated uuid
    assert all(f["rejected"] == 0 and f["accepted"] >= 1 for f in got.values())
    code, out = run(home, "ingest", "--format", "fieldmap:cgrates-partial", "--flush-partials",
                    str(cdr / "cgrates_partial_csv"))
    assert code == 0
    durations = duckdb.sql(
        "SELECT duration_s, parts FROM read_parquet('" + str(home / "lake" / "usage" / "*" / "*.parquet") + "')"
        " WHERE msisdn = '4986517174963'").fetchall()
    assert durations == [(80, 2)]


def test_watch_hands_the_files_waiting_to_one_after_call(tmp_path: Path) -> None:
    """While ``after`` (online rating) is busy, the files ingested meanwhile wait; the next call gets all of them
    in arrival order, up to its record limit, and each moves to done/ only after its call returned."""
    import threading

    from fairtel.mediation import FileReport
    from fairtel.mediation._inbox import _Committer

    release = threading.Event()
    calls: list[list[str]] = []
    done_when_called: list[list[str]] = []
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    def after(reps: Sequence[FileReport]) -> None:
        done_when_called.append(sorted(p.name for p in (inbox / "done").glob("*")) if (inbox / "done").exists() else [])
        calls.append([Path(r.file).name for r in reps])
        release.wait(timeout=30)

    handled: list[FileReport] = []
    committer = _Committer(after, inbox / "done", handled, None, records=250)
    names = [f"f{k}.csv" for k in range(6)]
    lake = tmp_path / "lake"
    lake.mkdir()
    for k, name in enumerate(names):
        (inbox / name).write_text("x")
        part = lake / f"{name}.parquet"  # 100 records in the lake; f3 was found already ingested (no counts)
        pq.write_table(pa.table({"record_id": [f"r{i}" for i in range(100)]}), part)
        rep = FileReport(file=str(inbox / name), accepted=0 if k == 3 else 100, parts=[str(part)],
                         status="already_ingested" if k == 3 else "ingested")
        committer.put(inbox / name, rep)
        if k == 0:
            while not calls:  # the first file's call is under way, the others queue behind it
                time.sleep(0.01)
    release.set()
    committer.close()
    assert calls == [["f0.csv"], ["f1.csv", "f2.csv"], ["f3.csv", "f4.csv"], ["f5.csv"]]  # 250 records a call
    assert done_when_called[1] == ["f0.csv"] and done_when_called[2] == ["f0.csv", "f1.csv", "f2.csv"]
    assert [Path(r.file).name for r in handled] == names
    assert sorted(p.name for p in (inbox / "done").iterdir()) == names and committer.pending == set()
