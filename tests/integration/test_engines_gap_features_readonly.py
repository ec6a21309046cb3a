"""``read_features`` by a reader that cannot write the lake (the API or an analyst running as another OS user, a
read-only mount): with a feature pass's commit left pending (killed between its swaps) it takes no lock, which
it could not (the lock file is not its own to open for writing), finishes nothing and reads the three tables of
the pending run where its journal puts them: what the period holds once the commit is finished.

As in ``test_store_gap_lake_readonly``, the lack of access is real in one test (the lake made read-only and
read by a child process that, run as root, first gives up the capabilities that let root write anyway); the
other holds the feature lock all along, as a pass in the middle of its swaps does."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fairtel.engines._select as select
from fairtel.core.commits import exchange, features_lock, features_lock_name, journal_path
from fairtel.engines import read_features
from fairtel.engines._commit import _write_manifest, commit

sys.path.insert(0, str(Path(__file__).parent))
from test_store_gap_lake_readonly import read_only_tree, read_without_write_access

P = "2026-03"
TABLES = {"fraud_lines": "msisdn", "fraud_callers": "peer", "fraud_callbacks": "record_id"}


def _stage(lake: Path, run: str) -> list[tuple[Path, Path]]:
    """One pass's staged tables, each row naming the pass."""
    swaps = []
    for dataset, key in TABLES.items():
        staging = lake / dataset / f".period={P}.{run}.staging"
        staging.mkdir(parents=True)
        columns: dict[str, list[object]] = {key: [f"{run}-{i}" for i in range(2)], "run": [run] * 2}
        if dataset == "fraud_callbacks":
            columns |= {"msisdn": ["8613800000001"] * 2, "started_at": [1, 2]}
        pq.write_table(pa.table(columns), staging / "part-00000.parquet")
        swaps.append((staging, lake / dataset / f"period={P}"))
    return swaps


@pytest.fixture
def crashed(tmp_path: Path) -> Path:
    """Pass "old" committed, then pass "new" killed after swapping in ``fraud_lines`` only."""
    lake = tmp_path / "lake"
    with features_lock(lake, P):
        commit(lake, features_lock_name(P), _stage(lake, "old"), [])
    swaps = _stage(lake, "new")
    for staging, _ in swaps:
        _write_manifest(staging, "run-new", [])
    journal_path(lake, features_lock_name(P)).write_text(json.dumps(
        {"run": "run-new", "swaps": [[str(s.relative_to(lake)), str(f.relative_to(lake))] for s, f in swaps]}),
        encoding="utf-8")
    assert exchange(*swaps[0])
    on_disk = {d: set(pq.read_table(lake / d / f"period={P}").column("run").to_pylist()) for d in TABLES}
    assert on_disk == {"fraud_lines": {"new"}, "fraud_callers": {"old"}, "fraud_callbacks": {"old"}}
    return lake


def _runs(lake: Path) -> dict[str, list[str]]:
    features = read_features(lake, P)
    return {n: sorted(set(getattr(features, n)["run"].to_list())) for n in ("lines", "callers", "callbacks")}


NEW = {"lines": ["new"], "callers": ["new"], "callbacks": ["new"]}


@contextmanager
def _held(lake: Path) -> Iterator[None]:
    """The feature lock held as by a pass swapping its tables in."""
    fd = os.open(lake / "rating_log" / f"{features_lock_name(P)}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_a_reader_that_cannot_write_reads_the_pending_pass_without_the_lock(crashed: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "can_finish", lambda lake: False, raising=False)
    out: list[object] = []

    def reader() -> None:
        try:
            out.append(_runs(crashed))
        except BaseException as exc:  # reported below
            out.append(exc)

    with _held(crashed):
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(timeout=30)
        assert not t.is_alive(), "the reader waited for the feature lock"
    assert out == [NEW]
    assert journal_path(crashed, features_lock_name(P)).exists()  # left to a process that may finish it


def test_a_reader_that_may_write_finishes_the_pending_pass_first(crashed: Path) -> None:
    assert _runs(crashed) == NEW
    assert not journal_path(crashed, features_lock_name(P)).exists()
    assert not list(crashed.glob("fraud_*/.period=*"))


CHILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from test_engines_gap_features_readonly import _runs

    lake = Path(sys.argv[1])
    assert not os.access(lake / "rating_log", os.W_OK), "the child can still write the lake"
    print(json.dumps(_runs(lake)))
""")


@pytest.fixture
def read_only(crashed: Path) -> Iterator[Path]:
    """The crashed lake, every file and directory of it read-only."""
    with read_only_tree(crashed) as lake:
        yield lake


def test_a_reader_without_write_access_reads_the_pending_pass_and_does_not_fail(read_only: Path) -> None:
    assert read_without_write_access(CHILD, read_only, Path(__file__).parent) == NEW
    assert journal_path(read_only, features_lock_name(P)).exists()
