"""Partial sessions: repeated sequence numbers held in a state database from before they were refused on arrival
do not hold their session back, and a late part repeating a part of a session already emitted is refused, never
charged a second time (remembered for two timeouts, refused as too late to tell past that)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, _ingest, ingest_files

HEADER = "record_id,source,msisdn,kind,started_at,bytes_up,bytes_down,session_id,seq,final\n"


def part(rid: str, seq: int | str, final: bool | None, minute: int, up: int = 10, down: int = 100, hour: int = 8,
         sid: str = "s1") -> str:
    flag = "" if final is None else ("true" if final else "false")
    return f"{rid},pgw,8613800138000,data,2026-11-01T{hour:02d}:{minute:02d}:00+08:00,{up},{down},{sid},{seq},{flag}\n"


def plain(rid: str, hour: int, minute: int = 0) -> str:
    return f"{rid},pgw,8613800138000,data,2026-11-01T{hour:02d}:{minute:02d}:00+08:00,1,1,,,\n"


def write(path: Path, *lines: str) -> Path:
    path.write_text(HEADER + "".join(lines))
    return path


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


def remembered(home: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "mediation" / "state.sqlite") as conn:
        try:
            return conn.execute("SELECT session_id, seq, record_id FROM partials_emitted ORDER BY seq").fetchall()
        except sqlite3.OperationalError:
            return []


# --- (a) repeats held before they were refused on arrival ------------------------------------------------


def test_a_repeated_number_held_by_an_earlier_version_does_not_hold_the_session_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    a = write(tmp_path / "a.csv", part("p1", 1, False, 0), part("p1b", 1, False, 1, 7, 70))
    with monkeypatch.context() as m:  # as an earlier version held them: no check on arrival
        m.setattr(_ingest, "conflicting_parts", lambda conn, clean: [])
        [ra] = ingest_files([a], settings=settings(home))
    assert (ra.accepted, ra.held) == (2, 2)
    b = write(tmp_path / "b.csv", part("p2", 2, True, 10))
    [rb] = ingest_files([b], settings=settings(home))
    assert (rb.read, rb.accepted, rb.rejected, rb.held, rb.emitted) == (1, 1, 0, 0, 1) and adds_up(rb)
    [rec] = lake(home)
    assert (rec["record_id"], rec["parts"], rec["incomplete"]) == ("p1", 2, False)  # complete, not timed out
    assert (rec["bytes_up"], rec["bytes_down"]) == (20, 200)  # p1 + p2: the repeat is not summed
    assert rb.held_refused == 1
    [refused] = rejected(rb)  # where a person sees it: the file and line it came from, its fields
    assert (Path(refused["file"]).name, refused["position"], refused["reason"], refused["field"]) == (
        "a.csv", 3, "conflicting_part", "seq")
    assert "p1b" in refused["message"] and "p1" in refused["message"]
    assert json.loads(refused["raw"])["record_id"] == "p1b"


# --- (b) a late part of a session already emitted ---------------------------------------------------------


def test_a_late_repeat_of_an_emitted_part_is_refused_not_charged_again(tmp_path: Path) -> None:
    home = tmp_path / "h"
    a = write(tmp_path / "a.csv", part("p1", 1, False, 0), part("p2", 2, True, 10))
    [ra] = ingest_files([a], settings=settings(home))
    assert (ra.held, ra.emitted) == (0, 1)
    b = write(tmp_path / "b.csv", part("p2-resent", 2, True, 10), part("p2", 2, True, 10))
    [rb] = ingest_files([b], settings=settings(home), flush_partials=True)  # nothing held: nothing to flush
    assert (rb.read, rb.accepted, rb.rejected, rb.duplicate, rb.held) == (2, 0, 1, 1, 0) and adds_up(rb)
    [refused] = rejected(rb)
    assert (refused["position"], refused["reason"], refused["field"]) == (2, "conflicting_part", "seq")
    assert "already emitted" in refused["message"] and "p2-resent" in refused["message"]
    assert refused["raw"] == part("p2-resent", 2, True, 10).rstrip("\n")
    [rec] = lake(home)  # one charge for the session, no fragment beside it
    assert (rec["record_id"], rec["parts"], rec["bytes_down"]) == ("p1", 2, 200)


def test_a_late_part_with_a_new_number_is_still_a_fragment(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ingest_files([write(tmp_path / "a.csv", part("p1", 1, False, 0), plain("x", 9, 1))], settings=settings(home))
    [rec] = [r for r in lake(home) if r["record_id"] == "p1"]
    assert rec["incomplete"] is True  # timed out with part 1 only
    b = write(tmp_path / "b.csv", part("p2", 2, True, 30))
    ingest_files([b], settings=settings(home), flush_partials=True)
    recs = {r["record_id"]: r for r in lake(home)}
    assert recs["p2"]["incomplete"] is True and recs["p2"]["parts"] == 1  # usage not charged before: never dropped


def test_emitted_sessions_are_forgotten_past_two_timeouts_and_older_parts_refused_as_late(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ingest_files([write(tmp_path / "a.csv", part("p1", 1, False, 0), part("p2", 2, True, 10))], settings=settings(home))
    assert remembered(home) == [("s1", 1, "p1"), ("s1", 2, "p2")]
    ingest_files([write(tmp_path / "b.csv", plain("n1", 9, 30))], settings=settings(home))
    assert len(remembered(home)) == 2  # 1 h 20 min past the session's last part: still within two timeouts
    ingest_files([write(tmp_path / "c.csv", plain("n2", 10, 11))], settings=settings(home))
    assert remembered(home) == []  # two timeouts past it: forgotten, the memory is bounded
    d = write(tmp_path / "d.csv", part("p2-resent", 2, True, 10), part("p9", 9, True, 30, hour=9, sid="s1"))
    [rd] = ingest_files([d], settings=settings(home))
    assert (rd.read, rd.accepted, rd.rejected) == (2, 1, 1) and adds_up(rd)
    [refused] = rejected(rd)
    assert (refused["position"], refused["reason"], refused["field"]) == (2, "late_part", "session_id")
    assert "no longer remembered" in refused["message"]
    # the session's record is charged once; a recent part under the same session id is read as any other
    assert [r["record_id"] for r in lake(home)] == ["n1", "n2", "p1"] and rd.held == 1
