"""``watch``: an inbox directory polled for files. A file moves to ``done/`` or ``failed/`` only after its
results are committed; a crash in between leaves it in the inbox, and the next pass finds it already
ingested (a no-op) and moves it. Files still being written should arrive under a hidden or ``.tmp``/``.part``
name and be renamed when complete (a rename is atomic); a file whose size or mtime changed since the last
poll waits for the next one. A watch holds the home's mediation lock from its start to its end."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fairtel.core.settings import Settings
from fairtel.mediation._ingest import FileReport, Progress, Status, _Quiet, ingest_session
from fairtel.mediation._state import mediation_lock

SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")


def inbox_files(inbox: Path) -> list[Path]:
    return sorted(
        p for p in inbox.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(SKIP_SUFFIXES)
    )


def _move(path: Path, target_dir: Path) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    n = 1
    while target.exists():
        target = target_dir / f"{path.stem}.{n}{path.suffix}"
        n += 1
    os.replace(path, target)
    fd = os.open(target_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


AFTER_FILES = 32  # files ingested and waiting for ``after`` at most (ingest never runs further ahead)
AFTER_RECORDS = 1_000_000  # accepted records handed to one ``after`` call at most (unless one file holds more)


def lake_records(rep: FileReport) -> int:
    """The records a file put in the lake, from its parts' footers: what ``after`` will read of it (a file found
    already ingested reports no counts of its own, and may be the largest of all after a crash)."""
    try:
        return sum(pq.ParquetFile(part).metadata.num_rows for part in rep.parts)
    except (OSError, pa.ArrowInvalid):
        return rep.accepted  # unreadable here: ``after`` will say why


class _Committer:
    """Runs ``after`` on ingested files in a thread of its own (so that the next file is ingested meanwhile),
    then moves them to done/. ``after`` gets every file waiting when it is free, in arrival order, up to
    ``records`` accepted records (at least one file): a slow ``after`` (online rating, whose cost per call
    barely depends on its size) takes more files at once instead of falling behind. Until ``after`` is done a
    file stays in the inbox: a crash before leaves it there, and the next pass finds it already ingested and
    runs ``after`` again."""

    def __init__(self, after: Callable[[Sequence[FileReport]], None], done: Path, handled: list[FileReport],
                 on_file: Callable[[FileReport], None] | None, depth: int = AFTER_FILES,
                 records: int = AFTER_RECORDS) -> None:
        self.after, self.done, self.handled, self.on_file = after, done, handled, on_file
        self.records = records
        self.queue: queue.Queue[tuple[Path, FileReport] | None] = queue.Queue(maxsize=depth)
        self.pending: set[Path] = set()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="fairtel-watch-commit", daemon=True)
        self.thread.start()

    def put(self, path: Path, rep: FileReport) -> None:
        self.check()
        self.pending.add(path)
        self.queue.put((path, rep))  # blocks while ``depth`` files wait: ingest never runs far ahead

    def _batches(self) -> Iterator[list[tuple[Path, FileReport]]]:
        """The waiting files, in turn: each batch as many as have arrived, up to ``records`` records."""
        nxt, have = self.queue.get(), True
        while nxt is not None:
            batch, n = [nxt], lake_records(nxt[1])
            have = False
            while True:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None or n + (m := lake_records(item[1])) > self.records:
                    nxt, have = item, True  # the end, or the next batch's first file
                    break
                batch.append(item)
                n += m
            yield batch
            if not have:
                nxt = self.queue.get()

    def _run(self) -> None:
        for batch in self._batches():
            if self.error is None:
                try:
                    self.after([rep for _, rep in batch])
                    for path, rep in batch:
                        _move(path, self.done)
                        self.handled.append(rep)
                        if self.on_file is not None:
                            self.on_file(rep)
                except BaseException as exc:  # reported by the watch loop; the files stay in the inbox
                    self.error = exc
            for path, _ in batch:
                self.pending.discard(path)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.check()


def watch(
    inbox: Path,
    *,
    settings: Settings,
    interval: float = 5.0,
    once: bool = False,
    fmt: str | None = None,
    source: str | None = None,
    report: Progress | None = None,
    on_file: Callable[[FileReport], None] | None = None,
    stop: Callable[[], bool] | None = None,
    after: Callable[[Sequence[FileReport]], None] | None = None,
) -> list[FileReport]:
    """Polls ``inbox`` every ``interval`` seconds (one pass with ``once``); returns the reports of the files
    it handled. A failed file goes to failed/ with a ``<name>.error.txt`` beside it saying why. ``after``
    (online rating) runs on each ingested or already-ingested file, in a thread beside the ingest, before the
    file moves to done/. Holds the home's mediation lock from start to end (``mediation_lock``; the caller may
    hold it already): a second watch of the home fails at once (``LockedError`` naming this one) rather than
    taking turns with it between passes, so two watches never rate one home."""
    progress = report or _Quiet()
    done, failed = inbox / "done", inbox / "failed"
    handled: list[FileReport] = []
    seen: dict[Path, tuple[int, int]] = {}
    first_seen: dict[Path, datetime] = {}
    with mediation_lock(settings.home, holder=f"a watch of {inbox}"):
        committer = None if after is None else _Committer(after, done, handled, on_file)
        try:
            while True:
                with ExitStack() as pass_:
                    session = None  # one mediation session for the files of this pass, opened at the first ready one
                    for path in inbox_files(inbox):
                        if committer is not None and path in committer.pending:
                            continue
                        try:
                            st = path.stat()
                        except FileNotFoundError:
                            continue
                        first_seen.setdefault(path, datetime.now(UTC))
                        sig = (st.st_size, st.st_mtime_ns)
                        if not once and seen.get(path) != sig:  # still changing, or new: look again next poll
                            seen[path] = sig
                            continue
                        seen.pop(path, None)
                        if session is None:
                            session = pass_.enter_context(ingest_session(settings, report=progress))
                        rep = session.ingest(path, fmt=fmt, source=source, progress=progress)
                        rep.arrived_at = first_seen.pop(path).isoformat()
                        if rep.status == Status.FAILED:
                            moved = _move(path, failed)
                            moved.with_name(moved.name + ".error.txt").write_text(rep.message + "\n", encoding="utf-8")
                        elif committer is not None:
                            committer.put(path, rep)
                            continue
                        else:
                            _move(path, done)
                        handled.append(rep)
                        if on_file is not None:
                            on_file(rep)
                if committer is not None:
                    committer.check()
                if once or (stop is not None and stop()):
                    break
                time.sleep(interval)
        finally:
            if committer is not None:
                committer.close()  # ``after`` done with every file handed to it, under the lock
    return handled
