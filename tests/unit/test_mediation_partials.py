"""Partial records: stitched in order, out of order, across files, on timeout, late parts; never dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files, is_complete

HEADER = "record_id,source,msisdn,kind,started_at,bytes_up,bytes_down,session_id,seq,final\n"


def part(rid: str, sid: str, seq: int | str, final: bool, minute: int, up: int = 10, down: int = 100,
         hour: int = 8) -> str:
    return (f"{rid},pgw,8613800138000,data,2026-11-01T{hour:02d}:{minute:02d}:00+08:00,{up},{down},{sid},{seq},"
            f"{'true' if final else 'false'}\n")


def lake(home: Path) -> list[dict[str, Any]]:
    files = list((home / "lake" / "usage").glob("period=*/*.parquet"))
    if not files:
        return []
    cur = duckdb.execute(f"SELECT * FROM read_parquet({[str(f) for f in files]}) ORDER BY record_id")
    cols = [d[0] for d in cur.description or ()]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def settings(home: Path, timeout: int = 3600) -> Settings:
    return Settings(home=home, batch_size=1000, partial_timeout_s=timeout)


def write(path: Path, *lines: str) -> Path:
    path.write_text(HEADER + "".join(lines))
    return path


def test_in_order_parts_stitch_into_one_record(tmp_path: Path) -> None:
    home = tmp_path / "h"
    f = write(tmp_path / "a.csv", part("p1", "s1", 1, False, 0), part("p2", "s1", 2, False, 10, 5, 50),
              part("p3", "s1", 3, True, 20, 1, 1))
    r = ingest_files([f], settings=settings(home))[0]
    assert (r.read, r.accepted, r.held, r.emitted) == (3, 3, 0, 1)
    [rec] = lake(home)
    assert (rec["record_id"], rec["parts"], rec["incomplete"]) == ("p1", 3, False)
    assert (rec["bytes_up"], rec["bytes_down"]) == (16, 151)
    assert rec["started_at"] == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # the earliest part, 08:00 +08:00


def test_out_of_order_across_files_waits_for_the_gap(tmp_path: Path) -> None:
    home = tmp_path / "h"
    s = settings(home)
    a = write(tmp_path / "a.csv", part("p3", "s1", 3, True, 20), part("p1", "s1", 1, False, 0))
    r1 = ingest_files([a], settings=s)[0]
    assert (r1.held, r1.emitted) == (2, 0)  # final seen, but seq 2 is missing
    b = write(tmp_path / "b.csv", part("p2", "s1", 2, False, 10))
    r2 = ingest_files([b], settings=s)[0]
    assert (r2.held, r2.emitted) == (0, 1)
    [rec] = lake(home)
    assert (rec["record_id"], rec["parts"], rec["incomplete"], rec["bytes_down"]) == ("p1", 3, False, 300)


def test_timeout_is_measured_in_record_time_and_flags_incomplete(tmp_path: Path) -> None:
    home = tmp_path / "h"
    s = settings(home, timeout=3600)
    a = write(tmp_path / "a.csv", part("p1", "s1", 1, False, 0, hour=8))
    ingest_files([a], settings=s)
    assert lake(home) == []
    b = write(tmp_path / "b.csv", part("q1", "s2", 1, False, 30, hour=8))  # 30 min later: still waiting
    assert ingest_files([b], settings=s)[0].emitted == 0
    c = write(tmp_path / "c.csv", part("x1", "s3", 1, True, 1, hour=9))  # 61 min after p1
    rc = ingest_files([c], settings=s)[0]
    assert rc.emitted == 2  # x1 (complete) and s1 (timed out); s2 still waits
    recs = {r["record_id"]: r for r in lake(home)}
    assert recs["p1"]["incomplete"] is True and recs["x1"]["incomplete"] is False
    late = write(tmp_path / "d.csv", part("p2", "s1", 2, True, 59, hour=8))  # the rest of s1, too late
    rd = ingest_files([late], settings=s, flush_partials=True)
    assert (rd[0].held, rd[0].emitted) == (1, 0)  # a fragment of an emitted session waits like any other
    assert rd[1].emitted == 2  # the flush: p2 and s2
    recs = {r["record_id"]: r for r in lake(home)}
    assert recs["p2"]["incomplete"] is True and recs["p2"]["parts"] == 1  # a fragment, never dropped
    assert recs["q1"]["incomplete"] is True  # flushed
    assert sum(r["parts"] for r in recs.values()) == 4


def test_duplicate_parts_are_duplicates(tmp_path: Path) -> None:
    home = tmp_path / "h"
    f = write(tmp_path / "a.csv", part("p1", "s1", 1, False, 0), part("p1", "s1", 1, False, 0),
              part("p2", "s1", 2, True, 1))
    r = ingest_files([f], settings=settings(home))[0]
    assert (r.accepted, r.duplicate, r.emitted) == (2, 1, 1)
    assert lake(home)[0]["parts"] == 2


@pytest.mark.parametrize(
    ("seqs", "finals", "complete"),
    [([1, 2, 3], [3], True), ([0, 1], [1], True), ([1, 3], [3], False), ([2, 3], [3], False),
     ([1, 2], [], False), ([None, None], [None], True), ([1, 2, 3], [2], False)],
)
def test_completeness_rule(seqs: list[int | None], finals: list[int | None], complete: bool) -> None:
    from fairtel.mediation._partials import _COLS

    def row(seq: int | None, final: bool) -> tuple[Any, ...]:
        values: dict[str, Any] = dict.fromkeys(_COLS)
        values.update(seq=seq, final=int(final), started_us=0, arrival=0)
        return tuple(values[c] for c in _COLS)

    parts = [row(s, s in finals) for s in seqs]
    assert is_complete(parts) is complete


def test_cgrates_partial_sample_stitches_into_one_call(shared_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "h"
    files = sorted((shared_dir / "samples" / "cdr" / "cgrates_partial_csv").glob("*.csv"))
    reports = ingest_files(files, settings=settings(home, timeout=6 * 3600), fmt="fieldmap:cgrates-partial",
                           flush_partials=True)
    assert [r.read for r in reports[:3]] == [2, 1, 1]
    recs = lake(home)
    assert len(recs) == 3  # one stitched call, one complete call, one lone partial
    stitched = next(r for r in recs if r["parts"] == 2)
    assert stitched["duration_s"] == 65 + 15 and stitched["msisdn"] == "4986517174963"
    assert stitched["peer"] == "4986517174964"
    complete = next(r for r in recs if r["incomplete"] is False)
    assert complete["duration_s"] == 74
