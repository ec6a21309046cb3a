"""What the engines (local and Spark) and the online rater share to replace or extend a period safely: a
per-period lock in the home, an atomic exchange of two directories, the run's manifest and a journal that makes
the several datasets of one run (``rated`` with ``unrated``, the three ``fraud_*``) go in together.

- The **lock** (``rating_log/period=P.lock``, ``flock``) is held by the batch run from listing the period's
  usage to swapping its lines in, and by the online rater around each commit and its recovery: the two never
  write one period at once, two batch runs of a period wait for each other, and recovery never takes another
  process's commit in flight for a leftover. The feature pass holds its own (``features-period=P.lock``), so
  that it never waits for rating nor rating for it. A lock dies with its process (``kill -9`` included).
- The **exchange** (``renameat2(RENAME_EXCHANGE)``) swaps a staged directory with the period in one step, so
  a reader (or a crash) sees the old set of parts or the new one, never a missing period.
- The **manifest** (``<dataset>/period=P/_batch.json``, in every dataset a run writes, swapped in with its
  parts): a name for the run and the usage parts it read. Online rating reads the one in ``rated`` to know
  which files the batch run already charged and that its counters must be read again from the lines; the same
  name in each dataset tells which run each one's parts come from.
- The **journal** (``rating_log/<lock>.commit.json``, written once every dataset is staged, removed once every
  one is swapped in): the run and its (staging, period) pairs. One exchange per dataset cannot swap two
  directories at once, so a crash between two of them would leave new lines beside the previous run's unrated
  records; whoever takes the lock next (a rerun, the online rater, a reader of the features or of the lake)
  finds the journal and swaps in the rest before anything else, so the datasets of a period always come from
  one run. A reader of the lake that cannot write it reads the run where the journal says it is (the period
  or its staging directory, which are not removed while the journal exists) instead.
- The **previous parts** are removed as soon as the run is swapped in: the lake's ``scan`` holds the parts it
  listed open until it has read them, and a DuckDB connection of the lake until it closes, so their removal
  never fails those reads (their disk space comes back when the last of them closes the parts).

The lock, the exchange, the manifest and the journal's recovery are in ``fairtel.core.commits`` (the lake's
readers in ``fairtel.store`` use them too); this module writes a run's journal and swaps its datasets in.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

# the lock, the exchange, the manifest and the journal are shared with the lake's readers (``fairtel.store``),
# which finish a pending commit before they read a period
from fairtel.core.commits import (
    JOURNAL,
    LOCK_DIR,
    MANIFEST,
    exchange,
    features_lock,
    features_lock_name,
    finish_commit,
    fsync_dir,
    journal_path,
    lock,
    pending_commit,
    period_lock,
    rating_lock_name,
    read_manifest,
    run_of,
    swap,
    swap_in,
)

__all__ = [
    "JOURNAL",
    "LOCK_DIR",
    "MANIFEST",
    "commit",
    "exchange",
    "features_lock",
    "features_lock_name",
    "finish_commit",
    "journal_path",
    "lock",
    "pending_commit",
    "period_lock",
    "period_locks",
    "rating_lock_name",
    "read_manifest",
    "remove_leftovers",
    "run_of",
    "swap_in",
    "write_manifest",
]


@contextmanager
def period_locks(lake: Path, periods: Iterable[str]) -> Iterator[ExitStack]:
    """The locks of several periods, taken in order (so two holders never wait for each other); more can be
    taken later with ``stack.enter_context(period_lock(...))``."""
    with ExitStack() as stack:
        for p in sorted(set(periods)):
            stack.enter_context(period_lock(lake, p))
        yield stack


def _swap(staging: Path, final: Path) -> Path | None:
    """``swap`` by this module's ``exchange`` (looked up at each call, so that a test can stand in for it)."""
    return swap(staging, final, by=exchange)


def commit(lake: Path, name: str, swaps: Sequence[tuple[Path, Path]], usage: Iterable[Path]) -> str:
    """Swap each staged directory in for its period (``swaps``: (staging, final) pairs under ``lake``), all of
    them or, after a crash, all of them once the lock ``name`` (which the caller holds) is next taken. Writes the
    run's manifest (a new run name and the ``usage`` parts read) into each staging directory first; returns the
    run's name. Before the journal is written a failure removes the staging directories (the period keeps the
    previous run's parts); after it, the rest is swapped in (here, or by the lock's next holder)."""
    run = uuid.uuid4().hex
    names = sorted(p.name for p in usage)
    journal = journal_path(lake, name)
    try:
        for staging, _ in swaps:
            _write_manifest(staging, run, names)
        _write_atomic(journal, json.dumps({
            "run": run, "swaps": [[str(s.relative_to(lake)), str(f.relative_to(lake))] for s, f in swaps],
        }).encode())
    except BaseException:
        for staging, _ in swaps:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        olds = [_swap(staging, final) for staging, final in swaps]
        journal.unlink()
    except BaseException:
        with contextlib.suppress(Exception):  # left to the lock's next holder when it fails here too
            finish_commit(lake, name)
        raise
    for old in olds:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return run


def remove_leftovers(lake: Path, datasets: Iterable[str], period: str) -> None:
    """Remove the staging, spill and old directories a killed run of ``period`` left (under its lock)."""
    for dataset in datasets:
        for p in (lake / dataset).glob(f".period={period}.*"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


def write_manifest(directory: Path, usage: Iterable[Path]) -> str:
    """A run's manifest in ``directory`` (a staging directory): a new run name, returned, and the usage parts
    read. ``commit`` writes one into each directory it swaps in."""
    run = uuid.uuid4().hex
    _write_manifest(directory, run, sorted(p.name for p in usage))
    return run


def _write_manifest(directory: Path, run: str, usage: Sequence[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"run": run, "usage": list(usage)}).encode()
    with (directory / MANIFEST).open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_atomic(path: Path, data: bytes) -> None:
    """``data`` at ``path``, whole or not at all: written to a hidden name, fsynced, renamed, the rename fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
