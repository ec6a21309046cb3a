"""How a period's datasets in the usage lake change hands safely, for the engines that write them and the lake's
readers alike (both stand on this module, neither on the other): a per-period lock in the home, an atomic
exchange of two directories, the run's manifest and the journal of a commit of several datasets.

- The **lock** (``<lake>/rating_log/<name>.lock``, ``flock``): ``period=P`` for rating, ``features-period=P``
  for the fraud feature pass. It dies with its process (``kill -9`` included). Its holder (command, pid, host,
  since) is written into the file while held, so that a run waiting for it says on stderr whom it waits for.
- The **exchange** (``renameat2(RENAME_EXCHANGE)``) swaps a staged directory with the period in one step.
- The **manifest** (``<dataset>/period=P/_batch.json``): the name of the run whose parts the period holds.
- **Atomic writes** (``write_parquet``, ``fsync_dir``): a file written to a hidden name, fsynced, renamed over
  its final name and the rename fsynced, so a reader or a crash never sees half of it.
- The **journal** (``<lake>/rating_log/<name>.commit.json``): a commit of several datasets between its first
  and last swap, or interrupted there. Once it is written the run is committed: whoever takes the lock next
  swaps the rest in first (``lock`` does), so a reader that finds a journal takes and releases the lock
  (``finish_pending``) before it reads: it never sees one dataset of the new run beside another of the
  previous run. A reader that cannot write the lake (``can_finish``: a read-only mount, another OS user)
  cannot finish it: it reads each dataset of the run where it is now, the period or its staging directory,
  whichever holds the run's manifest (``read_journal``, ``run_at``), which is what the period holds once the
  commit is finished. The run's directories are never removed while its journal exists.

The engines' side (staging, writing the journal, the swaps of a run) is in ``fairtel.engines._commit``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

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


def lock_title(name: str) -> str:
    """How a waiting run names the lock ``name``: "the rating lock of 2026-09"."""
    for prefix, what in (("features-period=", "the feature pass's lock of "), ("period=", "the rating lock of ")):
        if name.startswith(prefix):
            return what + name.removeprefix(prefix)
    return f"the lock {name}"


def _command() -> str:
    """This process's command as a holder names it: the program and its subcommand ("fairtel rate"), the options
    left out (a value may be a secret)."""
    words = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"]
    for word in sys.argv[1:]:
        if word.startswith("-") or len(words) == 3:
            break
        words.append(word)
    return " ".join(words)


def _say(message: str) -> None:
    """A line on stderr (stdout may carry a command's JSON)."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr, flush=True)


def describe_holder(path: Path) -> str | None:
    """Who holds the lock file ``path``, as its holder wrote it ("fairtel rate (pid 4711, host h, since T)"); None
    when it holds nothing readable (free, an older version's holder, or one between taking it and writing). Text
    for a person only: nothing decides on it (the ``flock`` does)."""
    try:
        found = json.loads(path.read_bytes()[:4096] or b"null")
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict):
        return None
    return (f"{found.get('holder') or 'another process'} (pid {found.get('pid', '?')}, host {found.get('host', '?')}, "
            f"since {found.get('since', '?')})")


@contextmanager
def held(path: Path, title: str) -> Iterator[int]:
    """Hold the lock file ``path`` (``flock``, exclusive) until the block ends, its holder (command, pid, host,
    since) written into it meanwhile. Held by another: a line on stderr names ``title`` and the holder, and this
    waits for it (the lock dies with its process, ``kill -9`` included, so a killed holder's is taken at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    taken = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(path)
            _say(f"waiting for {title} held by {holder or f'another process ({path} is locked)'}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        taken = True
        note = {"holder": _command(), "pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds")}
        with contextlib.suppress(OSError):  # unnamed, the lock holds all the same
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(note).encode(), 0)
        yield fd
    finally:
        if taken:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # no holder to name any more
        os.close(fd)  # releases the lock


@contextmanager
def lock(lake: Path, name: str) -> Iterator[None]:
    """Hold the lock ``name`` of the home's rating (waits for the holder, naming it on stderr: ``held``), a
    commit that a crash interrupted under it finished first (``finish_commit``)."""
    with held(lake / LOCK_DIR / f"{name}.lock", lock_title(name)):
        finish_commit(lake, name)
        yield


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
    old = swap(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def swap(staging: Path, final: Path, *, by: Callable[[Path, Path], bool] | None = None) -> Path | None:
    """``swap_in`` without removing the previous parts: where they are now (None: there were none). ``by``: the
    exchange to use (default ``exchange``)."""
    staging.mkdir(parents=True, exist_ok=True)
    if final.exists() and (by or exchange)(staging, final):
        return staging  # now the previous parts
    old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
    if final.exists():  # pragma: no cover - only where the exchange is not available
        os.replace(final, old)
    os.replace(staging, final)
    return old


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


@dataclass(frozen=True)
class Journal:
    """A pending commit: ``run`` and its ``swaps`` (period directory -> staging directory, relative to the lake)."""

    run: str
    swaps: dict[str, str]


def read_journal(lake: Path, name: str) -> Journal | None:
    """The commit pending under the lock ``name`` (None: none): its run and, for each period it replaces, the
    staging directory holding the run's parts until it is swapped in."""
    try:
        data = json.loads(journal_path(lake, name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return Journal(str(data["run"]), {str(Path(final)): str(Path(staging)) for staging, final in data["swaps"]})


def can_finish(lake: Path) -> bool:
    """Whether this process may finish a commit pending in ``lake`` (take its lock, swap, remove the journal):
    write access to ``rating_log/``, as ``os.access`` tells it (a read-only mount, a lake of another OS user)."""
    return os.access(lake / LOCK_DIR, os.W_OK | os.X_OK)


# what a process without write access to the lake gets when it tries to take a lock or swap
NO_WRITE_ACCESS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


@contextmanager
def shared_lock(lake: Path, name: str) -> Iterator[bool]:
    """For a reader that cannot write the lake: the lock ``name`` held shared, once its holder is done, so that
    no commit under it moves a directory meanwhile; True when held (False: the lock file cannot be opened, and
    nothing is waited for)."""
    try:
        fd = os.open(lake / LOCK_DIR / f"{name}.lock", os.O_RDONLY)
    except OSError:
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield True
    finally:
        os.close(fd)


def pending_commit(lake: Path, name: str) -> bool:
    """Whether a commit under the lock ``name`` is between its first and last swap (or was interrupted there)."""
    return journal_path(lake, name).exists()


def pending_commits(lake: Path) -> list[str]:
    """The names of the locks under which a commit is pending (one directory listing; none most of the time)."""
    try:
        found = os.listdir(lake / LOCK_DIR)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(f.removesuffix(JOURNAL) for f in found if f.endswith(JOURNAL) and not f.startswith("."))


def finish_pending(lake: Path, names: Iterable[str]) -> list[str]:
    """For a reader of the lake: each lock of ``names`` under which a commit is pending taken and released, so
    that the commit is finished (by this reader, after a crash) or waited for (one in flight) before the read;
    returns the names it took. A name without a pending commit costs one ``stat``, and no lock is taken."""
    took = []
    for name in sorted(set(names)):
        if pending_commit(lake, name):
            with lock(lake, name):
                took.append(name)
    return took


def run_of(directory: Path) -> str | None:
    """The name of the run whose parts ``directory`` holds (None: none recorded)."""
    found = read_manifest(directory)
    return None if found is None else found[0]


def run_at(dir_fd: int) -> str | None:
    """``run_of`` the directory open as ``dir_fd`` (wherever it has been moved since it was opened)."""
    try:
        fd = os.open(MANIFEST, os.O_RDONLY, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        return str(json.loads(fh.read())["run"])


def read_manifest(directory: Path) -> tuple[str, frozenset[str]] | None:
    """(run, usage part names) of the batch run whose lines ``directory`` holds, if it wrote a manifest."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return str(data["run"]), frozenset(data["usage"])


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (a rename into it, say) durable; nothing where the file system
    cannot open or sync a directory."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_parquet(path: Path, table: pa.Table, *, compression: str = "zstd") -> Path:
    """``table`` as Parquet at ``path``, whole or not at all: written to a hidden temporary name in the same
    directory, fsynced, renamed over ``path``, the rename fsynced. Writing the same path again replaces it."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as fh:
            pq.write_table(table, fh, compression=compression)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path
