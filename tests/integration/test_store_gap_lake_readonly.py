"""A reader that cannot write the lake (the API or an analyst running as another OS user, a read-only mount)
cannot finish a commit left pending (a run killed between its rated and unrated swaps): it reads the pending
run's datasets where they are now, the period or its staging directory, which is what every other reader sees
once the commit is finished. It never fails for want of access, never waits, and never reads the new lines
beside the previous run's unrated records.

The lack of access is real in one test: the lake is made read-only (chmod) and read by a child process, which
when the tests run as root first gives up the capabilities that let root write anyway. The others say it with
``Lake(read_only=True)``, which is what ``os.access`` decides otherwise."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import test_store_gap_lake_commit as base
from test_store_gap_lake_commit import DATASETS, P, stage

import fairtel.store._lake as lake_module
from fairtel.core.commits import journal_path, rating_lock_name
from fairtel.engines._commit import _write_manifest
from fairtel.store import Lake

crashed = base.crashed  # the fixture: run "old" committed, run "new" killed between its rated and unrated swaps
READS = ("scan", "files", "parts", "periods", "datasets", "sql")


def _runs(lake: Lake, read: str) -> set[str]:
    """The runs one read of ``rated`` and ``unrated`` returns (``parts`` and ``periods``: through the files
    their names lead to)."""
    if read == "scan":
        return {r for d in DATASETS for r in lake.scan(d, periods=[P]).column("run").to_pylist()}
    if read == "files":
        return {r for d in DATASETS for r in pq.read_table(lake.files(d)).column("run").to_pylist()}
    if read == "parts":
        return {r for d in DATASETS for r in pq.read_table(lake.files(d, periods=[P])).column("run").to_pylist()
                if lake.parts(d, P) == ["part-00000"]}
    if read == "periods":
        assert all(lake.periods(d) == [P] for d in DATASETS)
        return {r for d in DATASETS for r in lake.scan(d).column("run").to_pylist()}
    if read == "datasets":
        assert lake.datasets() == ["rated", "unrated"]
        return {r for d in DATASETS for r in lake.scan(d).column("run").to_pylist()}
    got = lake.sql("select r.run as rated, u.run as unrated from rated r cross join unrated u")
    return set(got.column("rated").to_pylist()) | set(got.column("unrated").to_pylist())


@pytest.mark.parametrize("read", READS)
def test_a_reader_that_cannot_write_reads_the_pending_run_whole_without_a_lock(crashed: Path, read: str) -> None:
    """The period's lock held all along (its holder in the middle of the swaps): the reader neither waits nor
    fails."""
    out: list[object] = []

    def reader() -> None:
        try:
            out.append(_runs(Lake(crashed, read_only=True), read))
        except BaseException as exc:  # reported below
            out.append(exc)

    with _held(crashed):
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(timeout=30)
        assert not t.is_alive(), "the reader waited for the lock"
    assert out == [{"new"}]
    assert journal_path(crashed, rating_lock_name(P)).exists()  # left to a process that may finish it


@contextmanager
def _held(lake: Path) -> Iterator[None]:
    """The period's lock held as by a run swapping its datasets in (``period_lock`` would finish the commit)."""
    fd = os.open(lake / "rating_log" / f"{rating_lock_name(P)}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# the child: reads the read-only lake as a reader without write access does, and prints what it read
CHILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from test_store_gap_lake_readonly import READS, _runs
    from fairtel.store import Lake

    lake = Path(sys.argv[1])
    assert not os.access(lake / "rating_log", os.W_OK), "the child can still write the lake"
    print(json.dumps({read: sorted(_runs(Lake(lake), read)) for read in READS}))
""")


def _without_root_powers() -> None:
    """Run in the child before it starts: root's capabilities to write (and read) whatever the permissions say
    removed, so that a read-only directory is read-only to it too."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, out of the bounding set
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "cannot drop a capability")


@contextmanager
def read_only_tree(root: Path) -> Iterator[Path]:
    """``root``, every file and directory of it read-only (restored afterwards, for the clean-up)."""
    paths = [root, *root.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    for p in reversed(paths):
        os.chmod(p, modes[p] & ~0o222)
    try:
        yield root
    finally:
        for p in paths:
            os.chmod(p, modes[p])


def read_without_write_access(child: str, lake: Path, tests_dir: Path) -> object:
    """What the Python source ``child`` prints as JSON, run in a process that may not write ``lake`` (argv: the
    lake, then ``tests_dir`` for its imports); skips where the system refuses to drop root's powers."""
    try:
        done = subprocess.run([sys.executable, "-c", child, str(lake), str(tests_dir)],
                              capture_output=True, text=True, timeout=120, preexec_fn=_without_root_powers)
    except subprocess.SubprocessError as exc:  # pragma: no cover - a system that refuses to drop them
        pytest.skip(f"cannot run a reader without write access here: {exc}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def read_only(crashed: Path) -> Iterator[Path]:
    """The crashed lake, every file and directory of it read-only."""
    with read_only_tree(crashed) as lake:
        yield lake


def test_a_reader_without_write_access_to_the_lake_reads_the_pending_run_and_does_not_fail(read_only: Path) -> None:
    assert read_without_write_access(CHILD, read_only, Path(__file__).parent) == {read: ["new"] for read in READS}
    assert journal_path(read_only, rating_lock_name(P)).exists()


def test_a_reader_refused_the_lock_after_all_reads_as_the_journal_says(crashed: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``os.access`` says yes, the lock says no (a lock file of another user): no error either."""
    def refused(lake: Path, names: object) -> list[str]:
        raise PermissionError(errno.EACCES, "Permission denied", str(lake))

    monkeypatch.setattr(lake_module, "finish_pending", refused)
    assert _runs(Lake(crashed), "sql") == {"new"}


def test_a_period_only_the_pending_commit_brings_is_read_from_its_staging(tmp_path: Path) -> None:
    """The first run of a period, killed between its swaps: the lines went in, the unrated records are only in
    the staging directory."""
    lake_dir = tmp_path / "lake"
    swaps = stage(lake_dir, "new")
    for staging, _ in swaps:
        _write_manifest(staging, "run-new", [])
    journal = journal_path(lake_dir, rating_lock_name(P))
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({"run": "run-new", "swaps": [[str(s.relative_to(lake_dir)), str(f.relative_to(lake_dir))]
                                                               for s, f in swaps]}), encoding="utf-8")
    (rated_staging, rated), _ = swaps
    os.replace(rated_staging, rated)
    assert not (lake_dir / "unrated" / f"period={P}").exists()

    lake = Lake(lake_dir, read_only=True)
    assert lake.periods("unrated") == [P]
    assert lake.datasets() == ["rated", "unrated"]
    assert lake.scan("unrated").num_rows == 2
    assert _runs(lake, "sql") == {"new"}


def test_a_connection_of_a_reader_that_cannot_write_outlives_the_commit_finished_meanwhile(crashed: Path) -> None:
    """Its views hold the run's unrated records in the staging directory; a writer then finishes the commit
    (the staging swapped in, the previous records removed): the connection reads on, the same rows."""
    query = "select r.run as rated, u.run as unrated, count(*) as n from rated r cross join unrated u group by all"
    with Lake(crashed, read_only=True).duckdb() as con:
        before = con.sql(query).fetchall()
        assert before == [("new", "new", 6)]
        Lake(crashed).scan("unrated")  # a reader that may: finishes the commit
        assert not journal_path(crashed, rating_lock_name(P)).exists()
        assert not list((crashed / "unrated").glob(".period=*"))
        assert con.sql(query).fetchall() == before
