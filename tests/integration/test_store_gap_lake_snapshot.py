"""What the lake's readers return is one state of it, whatever commits land while they read: a DuckDB
connection's views are a snapshot of the parts when it opened, held open until it closes (a later commit is not
seen, and removing the parts it replaced never makes a query fail); a scan reads the parts it listed, not the
next run's under the same names; and reads racing a stream of commits never fail nor mix two runs."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.commits import period_lock, rating_lock_name
from fairtel.engines._commit import commit
from fairtel.store import Lake

P = "2026-03"
RUNS_QUERY = "select r.run as rated, u.run as unrated, count(*) as n from rated r cross join unrated u group by all"


def _commit_run(lake: Path, run: str, *, parts: int = 1, rows: int = 2) -> None:
    """A run of ``rated`` (``parts`` parts of ``rows`` rows) and ``unrated`` (one row), committed as an engine
    does; every row names the run."""
    swaps = []
    for dataset, n_parts, n_rows in (("rated", parts, rows), ("unrated", 1, 1)):
        staging = lake / dataset / f".period={P}.{run}.staging"
        staging.mkdir(parents=True)
        for i in range(n_parts):
            pq.write_table(pa.table({"record_id": [f"{run}-{i}-{j}" for j in range(n_rows)], "run": [run] * n_rows}),
                           staging / f"part-{i:05d}.parquet")
        swaps.append((staging, lake / dataset / f"period={P}"))
    with period_lock(lake, P):
        commit(lake, rating_lock_name(P), swaps, [])


def test_a_connection_keeps_the_lake_as_it_was_when_it_opened(tmp_path: Path) -> None:
    _commit_run(tmp_path, "old", parts=2)
    lake = Lake(tmp_path)
    with lake.duckdb() as con:
        before = con.sql(RUNS_QUERY).fetchall()
        assert before == [("old", "old", 4)]
        _commit_run(tmp_path, "new", parts=1, rows=5)  # the previous parts removed from the disk
        assert not list((tmp_path / "rated").glob(".period=*"))
        assert con.sql(RUNS_QUERY).fetchall() == before
        assert con.sql("select period, count(*) from rated group by all").fetchall() == [(P, 4)]
    assert lake.sql(RUNS_QUERY).to_pylist() == [{"rated": "new", "unrated": "new", "n": 5}]


def test_parts_removed_while_a_connection_is_open_stay_readable_to_it(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write("billed", "2026-01", pa.table({"x": [1, 2]}), part="a")
    lake.write("billed", "2026-02", pa.table({"x": [3]}), part="a")
    with lake.duckdb() as con:
        assert lake.delete_part("billed", "2026-01", "a")
        shutil.rmtree(tmp_path / "billed" / "period=2026-02")
        assert con.sql("select period, sum(x) from billed group by all order by period").fetchall() == [
            ("2026-01", 3), ("2026-02", 3)]
    assert lake.datasets() == []


def test_a_scan_reads_the_parts_it_listed_not_the_next_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run committed between the reading of the first part and the second (the new run's parts have the same
    names): the scan returns the previous run's lines, all of them."""
    _commit_run(tmp_path, "old", parts=2)
    read = pq.read_table
    landed: list[bool] = []

    def read_then_commit(*args: object, **kwargs: object) -> pa.Table:
        out = read(*args, **kwargs)
        if not landed:
            landed.append(True)
            _commit_run(tmp_path, "new", parts=2)
        return out

    monkeypatch.setattr(pq, "read_table", read_then_commit)
    got = Lake(tmp_path).scan("rated", periods=[P])
    assert landed
    assert sorted(got.column("record_id").to_pylist()) == ["old-0-0", "old-0-1", "old-1-0", "old-1-1"]


def test_reads_racing_a_stream_of_commits_never_fail_nor_mix_two_runs(tmp_path: Path) -> None:
    _commit_run(tmp_path, "r0")
    stop = threading.Event()
    errors: list[BaseException] = []
    committed = [0]

    def writer() -> None:
        try:
            while not stop.is_set():
                committed[0] += 1
                _commit_run(tmp_path, f"r{committed[0]}", parts=1 + committed[0] % 3)
        except BaseException as exc:  # reported below
            errors.append(exc)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    lake, reads = Lake(tmp_path), 0
    try:
        while reads < 40 or committed[0] < 10:
            rows = lake.sql(RUNS_QUERY).to_pylist()
            assert len(rows) == 1 and rows[0]["rated"] == rows[0]["unrated"], rows
            scanned = lake.scan("rated").column("run").to_pylist()
            assert len(set(scanned)) == 1 and len(scanned) == 2 * (1 + int(scanned[0][1:]) % 3)
            reads += 1
            assert reads < 2000 and not errors
    finally:
        stop.set()
        t.join(timeout=30)
    assert not errors
