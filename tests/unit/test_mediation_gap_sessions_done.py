"""The memory of emitted partial sessions is bounded: a session is forgotten four partial timeouts (of record time)
after its latest part, its parts two; both tables are in the state schema from the start, and a state database
of an earlier version is brought up to it. What is forgotten is never charged twice: a part older than the memory
is refused (``late_part``), while a late file within it is still charged."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import duckdb

from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, ingest_files
from fairtel.mediation._state import MediationState

HEADER = "record_id,source,msisdn,kind,started_at,bytes_up,bytes_down,session_id,seq,final\n"
HOUR_US = 3600 * 1_000_000


def part(rid: str, seq: int, final: bool, hour: int, minute: int = 0, sid: str = "s1", day: int = 1) -> str:
    return (f"{rid},pgw,8613800138000,data,2026-11-{day:02d}T{hour:02d}:{minute:02d}:00+08:00,10,100,{sid},{seq},"
            f"{'true' if final else 'false'}\n")


def plain(rid: str, hour: int, minute: int = 0, day: int = 1) -> str:
    return f"{rid},pgw,8613800138000,data,2026-11-{day:02d}T{hour:02d}:{minute:02d}:00+08:00,1,1,,,\n"


def ingest(home: Path, path: Path, *lines: str) -> FileReport:
    path.write_text(HEADER + "".join(lines))
    [report] = ingest_files([path], settings=Settings(home=home, batch_size=1000, partial_timeout_s=3600))
    assert report.ok, report.message
    return report


def rows(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "mediation" / "state.sqlite") as conn:
        return conn.execute(sql).fetchall()


def charged(home: Path) -> list[str]:
    files = [str(f) for f in (home / "lake" / "usage").glob("period=*/*.parquet")]
    return [r for r, in duckdb.execute(f"SELECT record_id FROM read_parquet({files}) ORDER BY record_id").fetchall()]


def test_emitted_sessions_are_forgotten_four_timeouts_after_their_latest_part(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ingest(home, tmp_path / "a.csv", part("p1", 1, False, 8), part("p2", 2, True, 8, 10))
    assert rows(home, "SELECT source, session_id FROM sessions_done") == [("pgw", "s1")]
    ingest(home, tmp_path / "b.csv", plain("n1", 12, 9))  # 3 h 59 min past the latest part (08:10)
    assert rows(home, "SELECT session_id FROM sessions_done") == [("s1",)]
    assert rows(home, "SELECT * FROM partials_emitted") == []  # its parts, two timeouts past: forgotten already
    ingest(home, tmp_path / "c.csv", plain("n2", 12, 11))  # four timeouts past it
    assert rows(home, "SELECT * FROM sessions_done") == []


def test_a_resend_older_than_every_memory_is_refused_not_charged_again(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ingest(home, tmp_path / "a.csv", part("p1", 1, False, 8), part("p2", 2, True, 8, 10))
    ingest(home, tmp_path / "b.csv", plain("n1", 13))
    assert rows(home, "SELECT * FROM sessions_done") == [] and charged(home) == ["n1", "p1"]
    rd = ingest(home, tmp_path / "d.csv", part("p2-resent", 2, True, 8, 10))
    assert (rd.read, rd.accepted, rd.rejected, rd.held, rd.emitted) == (1, 0, 1, 0, 0)
    [refused] = [json.loads(line) for line in Path(rd.rejects_file or "").read_text().splitlines()]
    assert (refused["reason"], refused["field"]) == ("late_part", "session_id")
    assert "more than 4 timeouts of 3600 s older" in refused["message"] and "p2-resent" in refused["message"]
    assert charged(home) == ["n1", "p1"]  # the session is charged once


def test_a_session_never_seen_arriving_within_the_memory_is_still_charged(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ingest(home, tmp_path / "a.csv", plain("n1", 13))
    late = ingest(home, tmp_path / "late.csv", part("q1", 1, False, 9, 30, sid="s9"))  # 3.5 timeouts old
    assert (late.accepted, late.rejected, late.emitted) == (1, 0, 1)  # timed out at once, flagged incomplete
    assert charged(home) == ["n1", "q1"]
    older = ingest(home, tmp_path / "older.csv", part("q2", 1, False, 8, 30, sid="s8"))  # 4.5: past every memory
    assert (older.accepted, older.rejected, older.reasons) == (0, 1, {"late_part": 1})


def test_both_tables_are_in_the_schema_before_any_session_is_emitted(tmp_path: Path) -> None:
    with MediationState.open(tmp_path) as state:
        columns = {t: [r[1] for r in state.conn.execute(f"PRAGMA table_info({t})")]
                   for t in ("sessions_done", "partials_emitted")}
    assert columns == {"sessions_done": ["source", "session_id", "last_us"],
                       "partials_emitted": ["source", "record_id", "session_id", "seq", "last_us"]}


def test_a_state_database_of_an_earlier_version_is_upgraded_and_then_pruned(tmp_path: Path) -> None:
    home = tmp_path / "h"
    (home / "mediation").mkdir(parents=True)
    newest = 1_793_000_000 * 1_000_000
    with sqlite3.connect(home / "mediation" / "state.sqlite") as conn:  # sessions_done as it was: no time
        conn.execute("CREATE TABLE sessions_done (source TEXT NOT NULL, session_id TEXT NOT NULL, "
                     "PRIMARY KEY (source, session_id))")
        conn.execute("CREATE TABLE watermarks (source TEXT PRIMARY KEY, newest_us INTEGER NOT NULL)")
        conn.executemany("INSERT INTO sessions_done VALUES (?, ?)", [("pgw", "old1"), ("sw9", "old2")])
        conn.execute("INSERT INTO watermarks VALUES ('pgw', ?)", (newest,))
    with MediationState.open(home):
        pass
    # given its source's newest record time (no sooner forgotten than before); a source with none keeps it
    assert sorted(rows(home, "SELECT session_id, last_us FROM sessions_done")) == [("old1", newest), ("old2", None)]
    assert rows(home, "SELECT name FROM sqlite_master WHERE name = 'sessions_done_age'") == [("sessions_done_age",)]
    with MediationState.open(home):  # once only
        pass
    ingest(home, tmp_path / "a.csv", plain("n1", 8, day=20))  # far past it
    assert rows(home, "SELECT session_id FROM sessions_done") == [("old2",)]
