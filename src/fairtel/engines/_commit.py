"""What the local engine and the online rater share to replace or extend a period safely: a per-period lock in
the home, an atomic exchange of two directories, and the batch run's manifest.

- The **lock** (``rating_log/period=P.lock``, ``flock``) is held by the batch run from listing the period's
  usage to swapping its lines in, and by the online rater around each commit and its recovery: the two never
  write one period at once, two batch runs of a period wait for each other, and recovery never takes another
  process's commit in flight for a leftover. A lock dies with its process (``kill -9`` included).
- The **exchange** (``renameat2(RENAME_EXCHANGE)``) swaps the staged directory with the period in one step, so
  a reader (or a crash) sees the old set of parts or the new one, never a missing period.
- The **manifest** (``rated/period=P/_batch.json``, swapped in with the lines): a name for the batch run and
  the usage parts it rated, so online rating knows which files the batch run already charged and that its
  counters must be read again from the lines.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

LOCK_DIR = "rating_log"
MANIFEST = "_batch.json"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def period_lock(lake: Path, period: str) -> AbstractContextManager[None]:
    """Hold the rating lock of ``period`` (waits for the holder)."""
    return lock(lake, f"period={period}")


@contextmanager
def lock(lake: Path, name: str) -> Iterator[None]:
    """Hold the lock ``name`` of the home's rating (waits for the holder)."""
    path = lake / LOCK_DIR / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
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
    staging.mkdir(parents=True, exist_ok=True)
    if final.exists() and exchange(staging, final):
        shutil.rmtree(staging, ignore_errors=True)  # now the previous parts
        return
    old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
    if final.exists():  # pragma: no cover - only where the exchange is not available
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(lake: Path, datasets: Iterable[str], period: str) -> None:
    """Remove the staging, spill and old directories a killed run of ``period`` left (under its lock)."""
    for dataset in datasets:
        for p in (lake / dataset).glob(f".period={period}.*"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


def write_manifest(directory: Path, usage: Iterable[Path]) -> None:
    """The batch run's manifest in ``directory`` (the rated lines' staging): a new run name and the usage parts
    rated."""
    directory.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"run": uuid.uuid4().hex, "usage": sorted(p.name for p in usage)}).encode()
    with (directory / MANIFEST).open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def read_manifest(directory: Path) -> tuple[str, frozenset[str]] | None:
    """(run, usage part names) of the batch run whose lines ``directory`` holds, if it wrote a manifest."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return str(data["run"]), frozenset(data["usage"])
