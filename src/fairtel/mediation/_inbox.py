"""``watch``: an inbox directory polled for files. A file moves to ``done/`` or ``failed/`` only after its
results are committed; a crash in between leaves it in the inbox, and the next pass finds it already
ingested (a no-op) and moves it. Files still being written should arrive under a hidden or ``.tmp``/``.part``
name and be renamed when complete (a rename is atomic); a file whose size or mtime changed since the last
poll waits for the next one. A watch holds the home's mediation lock from its start to its end.

A file's arrival (``FileReport.arrived_at``, the start of online rating's timeliness) is the earliest durable
evidence of it: its modification time when the watch first saw it, or the time mediation first ingested it
(a run stopped before it rated the file), whichever is earlier, and never later than the moment this watch
first saw it."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fairtel.core.settings import Settings
from fairtel.mediation._ingest import FileReport, Progress, Status, _Quiet, _Session, ingest_session
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


class RetryLater(Exception):
    """Raised by a watch's ``after`` that cannot run now for a reason that passes (the database restarting):
    its files stay in the inbox and are taken again on the next pass, instead of the watch ending. The message
    says why, in one line."""


RETRY_MAX_S = 60.0  # the longest wait between passes while ``after`` asks to retry later (doubling from interval)
STOP_POLL_S = 0.2  # how often a waiting watch looks at ``stop``


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
        # ``after`` asked to retry later: the files given to it since stay in the inbox (``put_back``)
        self.deferred: RetryLater | None = None
        self.put_back: list[tuple[Path, FileReport]] = []
        self.committed = 0  # calls of ``after`` that went through
        self.idle = threading.Condition()
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
            if self.error is None and self.deferred is None:
                try:
                    self.after([rep for _, rep in batch])
                    self.committed += 1
                    for path, rep in batch:
                        _move(path, self.done)
                        self.handled.append(rep)
                        if self.on_file is not None:
                            self.on_file(rep)
                except RetryLater as exc:  # nothing of the batch committed: its files stay for the next pass
                    self.deferred = exc
                except BaseException as exc:  # reported by the watch loop; the files stay in the inbox
                    self.error = exc
            if self.error is None and self.deferred is not None:
                self.put_back.extend(batch)
            with self.idle:
                for path, _ in batch:
                    self.pending.discard(path)
                self.idle.notify_all()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def settle(self) -> tuple[RetryLater, list[tuple[Path, FileReport]]] | None:
        """After a pass: when ``after`` asked to retry later, wait until every file handed over is given back
        (the later ones skipped unseen), then clear the request for the next pass; returns it with the files
        given back, in the order they came. None when ``after`` took every file."""
        if self.deferred is None:
            return None
        with self.idle:  # (the thread gone: nothing more comes back)
            self.idle.wait_for(lambda: not self.pending or not self.thread.is_alive())
        self.check()
        out, self.deferred = self.deferred, None
        back, self.put_back = self.put_back, []
        return out, back

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.check()


def _arrival(st: os.stat_result) -> datetime:
    """When a file arrived, as far as the watch can tell on first seeing it: its modification time (a file
    renamed in keeps the time it was completed; one that lay in the inbox while no watch ran, the time it was
    put there), unless that is later than now (a clock ahead elsewhere)."""
    now = datetime.now(UTC)
    return min(now, datetime.fromtimestamp(st.st_mtime, UTC))


def _first_ingest(session: _Session, rep: FileReport) -> datetime | None:
    """When mediation first ingested the file ``rep`` reports as already ingested, from its state (a run
    stopped after the ingest left that there)."""
    if rep.content_hash is None or rep.status != Status.ALREADY:  # ingested now: later than first seen
        return None
    prev = session.state.done(rep.content_hash)
    if prev is None:
        return None
    try:
        at = datetime.fromisoformat(prev.ingested_at)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _pause(seconds: float, stop: Callable[[], bool] | None) -> None:
    """Sleep ``seconds``, or less when ``stop`` says so meanwhile."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if stop is not None and stop():
            return
        time.sleep(min(left, STOP_POLL_S) if stop is not None else left)


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
    on_retry: Callable[[str], None] | None = None,
) -> list[FileReport]:
    """Polls ``inbox`` every ``interval`` seconds (one pass with ``once``); returns the reports of the files
    it handled. A failed file goes to failed/ with a ``<name>.error.txt`` beside it saying why. ``after``
    (online rating) runs on each ingested or already-ingested file, in a thread beside the ingest, before the
    file moves to done/. When ``after`` raises ``RetryLater`` (the database unreachable), its files stay in the
    inbox and the next pass takes them again (found already ingested, rated then); the pass ends there, the
    reason goes to ``on_retry`` (else ``report``'s notes) in one line, and passes wait longer each time, up to
    ``RETRY_MAX_S``, until ``after`` goes through. Any other error of ``after`` ends the watch. ``stop`` is
    looked at before each file and while waiting: the watch ends at the next file, once ``after`` is done with
    the files handed to it. Holds the home's mediation lock from start to end (``mediation_lock``; the caller may
    hold it already): a second watch of the home fails at once (``LockedError`` naming this one) rather than
    taking turns with it between passes, so two watches never rate one home."""
    progress = report or _Quiet()
    retried = on_retry or progress.note
    done, failed = inbox / "done", inbox / "failed"
    handled: list[FileReport] = []
    seen: dict[Path, tuple[int, int]] = {}
    first_seen: dict[Path, datetime] = {}
    retries = committed = 0  # passes in a row that ``after`` asked to retry later; its calls that went through
    left: tuple[RetryLater, list[tuple[Path, FileReport]]] | None = None
    earlier: dict[Path, FileReport] = {}  # the reports of files given back by ``after``, for their next pass
    with mediation_lock(settings.home, holder=f"a watch of {inbox}"):
        committer = None if after is None else _Committer(after, done, handled, on_file)
        try:
            while True:
                with ExitStack() as pass_:
                    session = None  # one mediation session for the files of this pass, opened at the first ready one
                    for path in inbox_files(inbox):
                        if stop is not None and stop():
                            break
                        if committer is not None:
                            if committer.deferred is not None:  # the rest waits for the next pass
                                break
                            if path in committer.pending:
                                continue
                        try:
                            st = path.stat()
                        except FileNotFoundError:
                            continue
                        first_seen.setdefault(path, _arrival(st))
                        sig = (st.st_size, st.st_mtime_ns)
                        if not once and seen.get(path) != sig:  # still changing, or new: look again next poll
                            seen[path] = sig
                            continue
                        seen.pop(path, None)
                        if session is None:
                            session = pass_.enter_context(ingest_session(settings, report=progress))
                        rep = session.ingest(path, fmt=fmt, source=source, progress=progress)
                        arrived = first_seen.pop(path)
                        if (ingested := _first_ingest(session, rep)) is not None:
                            arrived = min(arrived, ingested)
                        prev = earlier.pop(path, None)
                        if prev is not None and rep.status == Status.ALREADY and rep.content_hash == prev.content_hash:
                            rep = prev  # given back by ``after``: reported once, as this watch ingested it
                        else:
                            rep.arrived_at = arrived.isoformat()
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
                wait = interval
                if committer is not None:
                    committer.check()
                    if committer.committed != committed:  # ``after`` went through since: no backing off
                        committed, retries = committer.committed, 0
                    if not once and (deferred := committer.settle()) is not None:
                        reason, back = deferred
                        for path, rep in back:  # complete already: taken again at once on the next pass
                            earlier[path] = rep
                            with suppress(OSError):
                                st = path.stat()
                                seen[path] = (st.st_size, st.st_mtime_ns)
                        wait = min(max(interval, STOP_POLL_S) * 2**retries, max(RETRY_MAX_S, interval))
                        retries += 1
                        retried(f"{_staying(reason, back)}; trying again in {wait:g} s")
                if once or (stop is not None and stop()):
                    break
                _pause(wait, stop)
        finally:
            if committer is not None:
                committer.close()  # ``after`` done with every file handed to it, under the lock
                left = committer.settle()
    if left is not None:  # the watch ends with files ``after`` could not take: they wait for the next run
        if once:
            raise RetryLater(_staying(*left)) from left[0]
        retried(f"{_staying(*left)} for the next run")
    return handled


def _staying(reason: RetryLater, files: Sequence[tuple[Path, FileReport]]) -> str:
    return f"{reason}; {len(files)} {'file stays' if len(files) == 1 else 'files stay'} in the inbox"
