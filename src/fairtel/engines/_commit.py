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
  records; whoever takes the lock next (a rerun, the online rater, a reader of the features) finds the journal
  and swaps in the rest before anything else, so the datasets of a period always come from one run.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

LOCK_DIR = "rating_log"
MANIFEST = "_batch.json"
JOURNAL = ".commit.json"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def period_lock(lake: Path, period: str) -> AbstractContextManager[None]:
    """Hold the rating lock of ``period`` (waits for the holder)."""
    return lock(lake, rating_lock_name(period))


def features_lock(lake: Path, period: str) -> AbstractContextManager[None]:
    """Hold the feature pass's lock of ``period`` (waits for the holder)."""
    return lock(lake, features_lock_name(period))


def rating_lock_name(period: str) -> str:
    return f"period={period}"


def features_lock_name(period: str) -> str:
    return f"features-period={period}"


@contextmanager
def lock(lake: Path, name: str) -> Iterator[None]:
    """Hold the lock ``name`` of the home's rating (waits for the holder), a commit that a crash interrupted
    under it finished first (``finish_commit``)."""
    path = lake / LOCK_DIR / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        finish_commit(lake, name)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def period_locks(lake: Path, periods: Iterable[str]) -> Iterator[ExitStack]:
    """The locks of several periods, taken in order (so two holders never wait for each other); more can be
    taken later with ``stack.enter_context(period_lock(...))``."""
    with ExitStack() as stack:
        for p in sorted(set(periods)):
            stack.enter_context(period_lock(lake, p))
        yield stack


def _renameat2() -> object | None:
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # pragma: no cover - a C library without it
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_EXCHANGE = _renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swap the directories ``a`` and ``b`` in one step; False where the system cannot (the caller falls back)."""
    if _EXCHANGE is None:  # pragma: no cover
        return False
    if _EXCHANGE(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:  # type: ignore[operator]
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # pragma: no cover - a file system without it
        return False
    raise OSError(err, os.strerror(err), str(a))


def swap_in(staging: Path, final: Path) -> None:
    """Make ``staging`` the directory ``final`` (an empty one when nothing was staged), atomically where the
    system can; the previous parts are removed afterwards."""
    old = _swap(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _swap(staging: Path, final: Path) -> Path | None:
    """``swap_in`` without removing the previous parts: where they are now (None: there were none)."""
    staging.mkdir(parents=True, exist_ok=True)
    if final.exists() and exchange(staging, final):
        return staging  # now the previous parts
    old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
    if final.exists():  # pragma: no cover - only where the exchange is not available
        os.replace(final, old)
    os.replace(staging, final)
    return old


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


def journal_path(lake: Path, name: str) -> Path:
    return lake / LOCK_DIR / f"{name}{JOURNAL}"


def finish_commit(lake: Path, name: str) -> bool:
    """Swap in what a commit under the lock ``name`` staged and did not swap in before it was interrupted (the
    caller holds the lock); True when there was such a commit. A dataset whose period holds the run's manifest
    went in already (its staging path holds the previous parts, removed here)."""
    journal = journal_path(lake, name)
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    run = str(data["run"])
    for staging_name, final_name in data["swaps"]:
        staging, final = lake / staging_name, lake / final_name
        if run_of(final) == run:
            shutil.rmtree(staging, ignore_errors=True)
        elif run_of(staging) == run:
            swap_in(staging, final)
    journal.unlink()
    return True


def pending_commit(lake: Path, name: str) -> bool:
    """Whether a commit under the lock ``name`` is between its first and last swap (or was interrupted there)."""
    return journal_path(lake, name).exists()


def run_of(directory: Path) -> str | None:
    """The name of the run whose parts ``directory`` holds (None: none recorded)."""
    found = read_manifest(directory)
    return None if found is None else found[0]


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
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(directory: Path) -> tuple[str, frozenset[str]] | None:
    """(run, usage part names) of the batch run whose lines ``directory`` holds, if it wrote a manifest."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return str(data["run"]), frozenset(data["usage"])
