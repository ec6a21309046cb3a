"""The lake's readers of the datasets an engine run commits together (``rated`` with ``unrated``) read them as
one run: after a run killed between its two swaps (a real kill, in a child process), a scan, the file list or
a DuckDB query finish the commit first instead of returning the new lines beside the previous unrated records;
without a pending commit no lock is taken, and a commit in flight is waited for."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.commits import journal_path, period_lock, rating_lock_name
from fairtel.engines._commit import commit
from fairtel.store import Lake

P = "2026-03"
DATASETS = ("rated", "unrated")

# the child: a run "new" of both datasets, killed (``os._exit``, no cleanup) at its second exchange, the
# unrated records', after the lines went in
CHILD = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import fairtel.engines._commit as commit_module
    sys.path.insert(0, sys.argv[2])
    from test_store_gap_lake_commit import stage

    lake = Path(sys.argv[1])
    real, calls = commit_module.exchange, []

    def killed(a, b):
        calls.append(1)
        if len(calls) == 2:
            os._exit(9)
        return real(a, b)

    commit_module.exchange = killed
    commit_module.commit(lake, "period=2026-03", stage(lake, "new"), [])
    sys.exit(0)
""")


def stage(lake: Path, run: str) -> list[tuple[Path, Path]]:
    """One run's staged parts of both datasets (each row names the run), as an engine stages them."""
    swaps = []
    for dataset in DATASETS:
        staging = lake / dataset / f".period={P}.{run}.staging"
        staging.mkdir(parents=True)
        rows = 3 if dataset == "rated" else 2
        pq.write_table(pa.table({"record_id": [f"{run}-{i}" for i in range(rows)], "run": [run] * rows}),
                       staging / "part-00000.parquet")
        swaps.append((staging, lake / dataset / f"period={P}"))
    return swaps


def _committed(lake: Path, run: str) -> None:
    with period_lock(lake, P):
        commit(lake, rating_lock_name(P), stage(lake, run), [])


@pytest.fixture
def crashed(tmp_path: Path) -> Path:
    """A lake whose period holds run "old", then a run "new" killed between its rated and unrated swaps."""
    lake = tmp_path / "lake"
    _committed(lake, "old")
    done = subprocess.run([sys.executable, "-c", CHILD, str(lake), str(Path(__file__).parent)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr
    assert journal_path(lake, rating_lock_name(P)).exists()
    # on disk, the new lines already beside the previous run's unrated records: the state readers must not see
    on_disk = {d: set(pq.read_table(sorted((lake / d / f"period={P}").glob("*.parquet"))).column("run").to_pylist())
               for d in DATASETS}
    assert on_disk == {"rated": {"new"}, "unrated": {"old"}}
    return lake


def test_a_scan_after_a_run_killed_between_its_swaps_reads_one_runs_pair(crashed: Path) -> None:
    lake = Lake(crashed)
    assert set(lake.scan("unrated", periods=[P]).column("run").to_pylist()) == {"new"}
    assert set(lake.scan("rated").column("run").to_pylist()) == {"new"}
    assert not journal_path(crashed, rating_lock_name(P)).exists()
    assert not list((crashed / "unrated").glob(".period=*"))  # the staging went in, none is left behind


@pytest.mark.parametrize("read", ["files", "parts", "periods", "sql"])
def test_every_reader_of_the_lake_finishes_the_pending_commit_first(crashed: Path, read: str) -> None:
    lake = Lake(crashed)
    if read == "files":
        files = lake.files("unrated", periods=[P])
        runs = set(pq.read_table(files).column("run").to_pylist())
    elif read == "parts":
        lake.parts("unrated", P)
        runs = set(pq.read_table(crashed / "unrated" / f"period={P}").column("run").to_pylist())
    elif read == "periods":
        assert lake.periods("unrated") == [P]
        runs = set(pq.read_table(crashed / "unrated" / f"period={P}").column("run").to_pylist())
    else:
        got = lake.sql("select r.run as rated, u.run as unrated from rated r cross join unrated u")
        runs = set(got.column("rated").to_pylist()) | set(got.column("unrated").to_pylist())
    assert runs == {"new"}
    assert not journal_path(crashed, rating_lock_name(P)).exists()


def _in_thread(fn: object) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)  # type: ignore[operator]
    t.start()
    return t, out


def test_a_read_without_a_pending_commit_takes_no_lock(tmp_path: Path) -> None:
    """The period's lock held all along (a batch run rating it): a read of the committed lines does not wait."""
    lake_dir = tmp_path / "lake"
    _committed(lake_dir, "old")
    with period_lock(lake_dir, P):
        t, out = _in_thread(lambda: Lake(lake_dir).scan("rated").num_rows)
        t.join(timeout=10)
        assert not t.is_alive() and out == [3]


def test_a_read_waits_for_a_commit_in_flight(tmp_path: Path) -> None:
    """A journal written and the lock held (the swaps under way): the reader waits for the holder, then reads
    what it committed."""
    lake_dir = tmp_path / "lake"
    _committed(lake_dir, "old")
    with period_lock(lake_dir, P):
        journal_path(lake_dir, rating_lock_name(P)).write_text('{"run": "x", "swaps": []}', encoding="utf-8")
        t, out = _in_thread(lambda: Lake(lake_dir).scan("unrated").num_rows)
        time.sleep(0.5)
        assert t.is_alive()  # waiting for the lock
        journal_path(lake_dir, rating_lock_name(P)).unlink()  # the holder's swaps done
    t.join(timeout=10)
    assert not t.is_alive() and out == [2]


def test_reads_of_other_datasets_never_wait_for_the_rating_lock(tmp_path: Path) -> None:
    """A pending commit of the rated lines does not hold up a read of another dataset (a bill run's)."""
    lake_dir = tmp_path / "lake"
    Lake(lake_dir).write("billed", P, pa.table({"x": [1]}), part="p")
    with period_lock(lake_dir, P):
        journal_path(lake_dir, rating_lock_name(P)).write_text('{"run": "x", "swaps": []}', encoding="utf-8")
        t, out = _in_thread(lambda: Lake(lake_dir).scan("billed", columns=["x"]).num_rows)
        t.join(timeout=10)
        assert not t.is_alive() and out == [1]
