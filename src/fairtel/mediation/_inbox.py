"""``watch``: an inbox directory polled for files. A file moves to ``done/`` or ``failed/`` only after its
results are committed; a crash in between leaves it in the inbox, and the next pass finds it already
ingested (a no-op) and moves it, reporting the counts of that ingest when ``after`` (online rating) had not taken
it yet. Files still being written should arrive under a hidden or ``.tmp``/``.part``
name and be renamed when complete (a rename is atomic); a file whose size or mtime changed since the last
poll waits for the next one. A single pass (``once``) applies the same check: a file modified less than ``settle``
seconds ago (the poll interval unless told) is looked at again once it is that old, and taken only if its size and
mtime did not change meanwhile; one still changing is left in the inbox for the next run, and said so. The pass
looks at such files every ``SETTLE_STEP_S``, so it waits no longer than the youngest unchanged file needs. A file whose
records end in one cut short (a ``truncated`` reject: the file was still being written, or was cut in transfer) is
never filed as complete: what it held is committed, and the file goes to ``failed/`` with a ``.error.txt`` saying
so, instead of ``done/``. A watch holds the home's mediation lock from its start to its end, and the inbox's
own lock (``INBOX/.fairtel-watch/lock``, ``inbox_lock``): two processes never take the files of one inbox, whatever
homes they serve. An inbox, ``done/`` or ``failed/`` it cannot write is refused before any file is taken.

A file's arrival (``FileReport.arrived_at``, the start of online rating's timeliness) is the earliest durable
evidence of it: its modification time when the watch first saw it, or the time mediation first ingested it
(a run stopped before it rated the file), whichever is earlier, and never later than the moment this watch
first saw it. The files ready in a pass are taken in that order, ties by name: online rating draws allowances in
the order it is handed the files, so a charge never depends on what the files are called."""

from __future__ import annotations

import errno
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fairtel.core.errors import InboxFileGoneError, InboxUnwritableError
from fairtel.core.settings import Settings
from fairtel.mediation._ingest import (
    FileReport,
    Progress,
    Status,
    _Quiet,
    _Session,
    content_hash,
    ingest_session,
)
from fairtel.mediation._state import LEDGER, FileRecord, MediationState, inbox_lock, mediation_lock

SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")
TRUNCATED = "truncated"  # the reject reason of a file's last record cut short (``_validate.Reason.TRUNCATED``)


def cut_short(rep: FileReport, reasons: dict[str, int] | None = None, prev: FileRecord | None = None) -> str | None:
    """Why a file must not be filed as complete in ``done/`` (None when it may): its records end in one cut short,
    so the file was still being written when it was read, or was cut in transfer. What it held is committed; the
    complete file, put back in the inbox, is read again, its records read before counted as duplicates.
    ``reasons``: the file's rejects by reason when ``rep`` does not carry them (a file found already ingested);
    ``prev``: the ledger's record of such a file's ingest, whose counts are given (the report's are all 0)."""
    if rep.status not in (Status.INGESTED, Status.ALREADY) or not (reasons or rep.reasons).get(TRUNCATED):
        return None
    n = prev if prev is not None and rep.status == Status.ALREADY else rep
    return (f"{TRUNCATED}: {Path(rep.file).name} ends in a record cut short (read {n.read}, accepted "
            f"{n.accepted}, rejected {n.rejected}, duplicate {n.duplicate}; the records before the cut are "
            f"committed): it was still being written when it was read, or was cut in transfer. Put the complete "
            f"file back in the inbox (under a .tmp name, renamed when complete): the records already read count as "
            f"duplicates and the rest are read")


MOVED_TO_FAILED = "moved to failed/"  # begins what the message of a file not failed, yet filed in failed/, adds


def went_to_failed(rep: FileReport) -> bool:
    """Whether a file ingested (or found already ingested) was filed in ``failed/`` all the same, not ``done/``
    (``cut_short``: its records are committed, its last one cut short); its message says why. A failed file
    (``Status.FAILED``) goes there too, and is not one of these."""
    return rep.status != Status.FAILED and f"{MOVED_TO_FAILED}: " in rep.message


def _file_away(path: Path, rep: FileReport, done: Path, failed: Path, prev: FileRecord | None = None) -> None:
    """Moves a handled file to ``done/``, or to ``failed/`` beside a ``<name>.error.txt`` saying why when it failed
    or ends cut short (``cut_short``; its report says so in its message). ``prev``: the state's record of the
    ingest of a file found already ingested, whose rejects say whether it ends cut short (and whose counts it
    gives). The reason is written first (under a hidden name, then renamed), and the file moved after it: a run
    stopped in between leaves the file in the inbox, taken again by the next run, never a file in ``failed/``
    without its reason."""
    reasons = _reasons(prev) if prev is not None and rep.status == Status.ALREADY and not rep.reasons else None
    why = rep.message if rep.status == Status.FAILED else cut_short(rep, reasons, prev)
    if why is None:
        _move(path, done)
        return
    if rep.status != Status.FAILED:
        why_moved = f"{MOVED_TO_FAILED}: {why}"
        rep.message = f"{rep.message}; {why_moved}" if rep.message else why_moved
    target = _target(path, failed)
    _write_reason(target, why)
    _move(path, failed, target)


def _error_file(filed: Path) -> Path:
    """Where the reason of a file filed in ``failed/`` is written."""
    return filed.with_name(filed.name + ".error.txt")


def _write_reason(filed: Path, why: str) -> None:
    """``<filed>.error.txt`` saying ``why``, whole or not at all (a hidden name, synced, then renamed)."""
    error = _error_file(filed)
    tmp = error.with_name(f".{error.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            with suppress(OSError):
                os.fchmod(fh.fileno(), 0o600)  # it may quote the file's lines
            fh.write(why + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, error)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink()
        raise _unwritable(filed.parent, exc) from None


def inbox_files(inbox: Path) -> list[Path]:
    """The files in ``inbox`` (hidden ones and those still being written left out), by name: ``watch`` takes the
    ones ready in arrival order."""
    return sorted(
        p for p in inbox.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(SKIP_SUFFIXES)
    )


def _target(path: Path, target_dir: Path) -> Path:
    """Where ``path`` goes in ``target_dir`` (made when missing): its name, or ``<stem>.<n><suffix>`` when taken."""
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(target_dir, exc) from None
    target = target_dir / path.name
    n = 1
    while target.exists():
        target = target_dir / f"{path.stem}.{n}{path.suffix}"
        n += 1
    return target


def _move(path: Path, target_dir: Path, target: Path | None = None) -> Path:
    target = target if target is not None else _target(path, target_dir)
    try:
        os.replace(path, target)
    except FileNotFoundError:
        if not target_dir.is_dir() or path.exists():
            raise
        raise InboxFileGoneError(
            f"{path}: the file left the inbox before it could be moved to {target_dir.name}/ (another process took "
            f"or removed it); what this watch made of it is committed in its home: find what else takes files "
            f"from {path.parent}", details={"file": str(path)}) from None
    except OSError as exc:
        raise _unwritable(target_dir, exc) from None
    # raw usage (every subscriber's number) kept in done/ or failed/: readable by the watch's owner only, as the home's
    # own files are, whatever mode the feed dropped it with
    with suppress(OSError):
        os.chmod(target, 0o600)
    fd = os.open(target_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def _unwritable(directory: Path, exc: OSError | None = None) -> InboxUnwritableError:
    if exc is not None and exc.strerror:
        why = exc.strerror
    else:
        try:
            why = "read-only file system" if os.statvfs(directory).f_flag & os.ST_RDONLY else "no write permission"
        except OSError:
            why = "no write permission"
    return InboxUnwritableError(
        f"{directory}: the watch cannot write it ({why}): files would be ingested and rated but never moved to "
        f"done/ or failed/; make it a directory writable by the user fairtel runs as (uid {os.getuid()})",
        details={"directory": str(directory)})


def check_inbox(inbox: Path) -> None:
    """Refuse an inbox whose files could not be moved out, before any is taken: the inbox must be writable, and
    ``done/`` and ``failed/`` too when they exist (else they are made in the inbox when first needed):
    ``InboxUnwritableError`` naming the directory."""
    for directory in (inbox, inbox / "done", inbox / "failed"):
        if directory is not inbox and not directory.exists() and not directory.is_symlink():
            continue  # made in the inbox, checked writable above
        if not directory.is_dir():
            raise _unwritable(directory, OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)))
        if not os.access(directory, os.W_OK | os.X_OK):
            raise _unwritable(directory)


@contextmanager
def watching(inbox: Path, *, home: Path, holder: str) -> Iterator[None]:
    """The inbox checked (``check_inbox``) and its lock held (``inbox_lock``) until the block ends."""
    check_inbox(inbox)
    with inbox_lock(inbox, home=home, holder=holder):
        yield


class RetryLater(Exception):
    """Raised by a watch's ``after`` that cannot run now for a reason that passes (the database restarting):
    its files stay in the inbox and are taken again on the next pass, instead of the watch ending. The message
    says why, in one line."""


RETRY_MAX_S = 60.0  # the longest wait between passes while ``after`` asks to retry later (doubling from interval)
STOP_POLL_S = 0.2  # how often a waiting watch looks at ``stop``
SETTLE_STEP_S = 0.1  # ``once``: how often files not yet settled are looked at again


AFTER_FILES = 32  # files ingested and waiting for ``after`` at most (ingest never runs further ahead)
AFTER_RECORDS = 1_000_000  # accepted records handed to one ``after`` call at most (unless one file holds more)


def lake_records(rep: FileReport) -> int:
    """The records a file put in the lake, from its parts' footers: what ``after`` will read of it (a file found
    already ingested reports no counts of its own, and may be the largest of all after a crash)."""
    try:
        return sum(pq.ParquetFile(part).metadata.num_rows for part in rep.parts)
    except (OSError, pa.ArrowInvalid):
        return rep.accepted  # unreadable here: ``after`` will say why


After = Callable[[Sequence[FileReport]], Collection[str] | None]
# a file handed to ``after``: where it is, its report, and for a file found already ingested, the state's record of
# that ingest (reported in its place when ``after`` says it took the file for the first time)
_Handed = tuple[Path, FileReport, FileRecord | None]


class _Committer:
    """Runs ``after`` on ingested files in a thread of its own (so that the next file is ingested meanwhile),
    then moves them to done/. ``after`` gets every file waiting when it is free, in arrival order, up to
    ``records`` accepted records (at least one file): a slow ``after`` (online rating, whose cost per call
    barely depends on its size) takes more files at once instead of falling behind. Until ``after`` is done a
    file stays in the inbox: a crash before leaves it there, and the next pass finds it already ingested and
    runs ``after`` again; when ``after`` says it took such a file for the first time (``fresh``), the file is
    reported with the counts of that ingest, which the run that made it never reported."""

    def __init__(self, after: After, done: Path, handled: list[FileReport],
                 on_file: Callable[[FileReport], None] | None, depth: int = AFTER_FILES,
                 records: int = AFTER_RECORDS, failed: Path | None = None,
                 told: Callable[[FileReport], None] | None = None) -> None:
        self.after, self.done, self.handled, self.on_file = after, done, handled, on_file
        self.told = told
        self.failed = failed if failed is not None else done.parent / "failed"
        self.records = records
        self.queue: queue.Queue[_Handed | None] = queue.Queue(maxsize=depth)
        self.pending: set[Path] = set()
        self.error: BaseException | None = None
        # ``after`` asked to retry later: the files given to it since stay in the inbox (``put_back``)
        self.deferred: RetryLater | None = None
        self.put_back: list[_Handed] = []
        self.committed = 0  # calls of ``after`` that went through
        self.idle = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="fairtel-watch-commit", daemon=True)
        self.thread.start()

    def put(self, path: Path, rep: FileReport, record: FileRecord | None = None) -> None:
        self.check()
        self.pending.add(path)
        self.queue.put((path, rep, record))  # blocks while ``depth`` files wait: ingest never runs far ahead

    def _batches(self) -> Iterator[list[_Handed]]:
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
                    fresh = self.after([rep for _, rep, _ in batch])
                    self.committed += 1
                    for path, rep, record in batch:
                        if record is not None and fresh is not None and rep.content_hash in fresh:
                            rep = _first_ingest_report(rep, record)
                        _file_away(path, rep, self.done, self.failed, record)
                        self.handled.append(rep)
                        if self.on_file is not None:
                            self.on_file(rep)
                        if self.told is not None:
                            self.told(rep)
                except RetryLater as exc:  # nothing of the batch committed: its files stay for the next pass
                    self.deferred = exc
                except BaseException as exc:  # reported by the watch loop; the files stay in the inbox
                    self.error = exc
            if self.error is None and self.deferred is not None:
                self.put_back.extend(batch)
            with self.idle:
                for path, _, _ in batch:
                    self.pending.discard(path)
                self.idle.notify_all()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def settle(self) -> tuple[RetryLater, list[_Handed]] | None:
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


def _ingested_at(prev: FileRecord) -> datetime | None:
    try:
        at = datetime.fromisoformat(prev.ingested_at)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _first_ingest(session: _Session, rep: FileReport) -> datetime | None:
    """When mediation first ingested the file ``rep`` reports as already ingested, from its state (a run
    stopped after the ingest left that there)."""
    if rep.content_hash is None or rep.status != Status.ALREADY:  # ingested now: later than first seen
        return None
    prev = session.state.done(rep.content_hash)
    return None if prev is None else _ingested_at(prev)


NAMES_PER_QUERY = 500  # file names looked up in the mediation state at once (SQLite's limit on parameters)


def _ingested_before(session: _Session, paths: Sequence[Path]) -> dict[Path, datetime]:
    """When mediation first ingested those of ``paths`` it ingested before, under the same name (a run stopped
    after the ingest, before it rated the file and moved it): the state knows a file by its content, so a file
    whose name the state holds is hashed to tell it from other contents under that name. Files first ingested
    under another name are ordered by their modification time (their ingest still counts for their arrival)."""
    named: set[str] = set()
    names = [str(p) for p in paths]
    for i in range(0, len(names), NAMES_PER_QUERY):
        chunk = names[i:i + NAMES_PER_QUERY]
        rows = session.state.conn.execute(  # one scan for the pass, and only when files are ready
            f"SELECT DISTINCT name FROM files WHERE name IN ({','.join('?' * len(chunk))})", chunk)
        named.update(name for (name,) in rows)
    out: dict[Path, datetime] = {}
    for path in paths:
        if str(path) not in named:
            continue
        try:
            prev = session.state.done(content_hash(path))
        except OSError:  # gone or unreadable: its ingest says so
            continue
        if prev is not None and (at := _ingested_at(prev)) is not None:
            out[path] = at
    return out


def _first_ingest_report(rep: FileReport, prev: FileRecord, *, why: str | None = None) -> FileReport:
    """The report of a file found already ingested that ``after`` took for the first time, or that the run which
    ingested it never reported (``why`` says so): the counts of its ingest, as a file this watch ingested is
    reported."""
    message = (f"ingested at {prev.ingested_at} and left unrated (a run stopped before rating it); rated now"
               if why is None else why)
    if rep.format_requested is not None or rep.source_requested is not None:
        message += f" ({rep.message})"
    return FileReport(
        file=rep.file, format=prev.format, format_requested=rep.format_requested,
        source_requested=rep.source_requested, read=prev.read, accepted=prev.accepted, rejected=prev.rejected,
        duplicate=prev.duplicate, status=Status.INGESTED, message=message, source=prev.source,
        content_hash=rep.content_hash, held=prev.held, emitted=prev.emitted, reasons=_reasons(prev),
        rejects_file=prev.rejects_file, parts=list(prev.parts), arrived_at=rep.arrived_at)


def _reasons(prev: FileRecord) -> dict[str, int]:
    """The file's rejects by reason, from its rejects file (which also holds parts of other files' sessions it
    refused: those name their own file)."""
    if not prev.rejects_file:
        return {}
    out: dict[str, int] = {}
    try:
        with open(prev.rejects_file, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row.get("file") == prev.name:
                    out[row["reason"]] = out.get(row["reason"], 0) + 1
    except (OSError, ValueError, KeyError, AttributeError):
        return {}
    return dict(sorted(out.items()))


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
    after: After | None = None,
    on_retry: Callable[[str], None] | None = None,
    settle: float | None = None,
    mark_reported: bool = True,
) -> list[FileReport]:
    """Polls ``inbox`` every ``interval`` seconds (one pass with ``once``); returns the reports of the files
    it handled. A failed file goes to failed/ with a ``<name>.error.txt`` beside it saying why. ``after``
    (online rating) runs on each ingested or already-ingested file, in a thread beside the ingest, before the
    file moves to done/. When ``after`` raises ``RetryLater`` (the database unreachable), its files stay in the
    inbox and the next pass takes them again (found already ingested, rated then); the pass ends there, the
    reason goes to ``on_retry`` (else ``report``'s notes) in one line, and passes wait longer each time, up to
    ``RETRY_MAX_S``, until ``after`` goes through. Any other error of ``after`` ends the watch. ``stop`` is
    looked at before each file and while waiting: the watch ends at the next file, once ``after`` is done with
    the files handed to it. The files ready in a pass are ingested and handed to ``after`` in arrival order
    (``FileReport.arrived_at``; a file given back, at the arrival it was given with), ties by name. ``after`` may
    return the content hashes of the files it took for the first time: a file found already ingested among them
    (a run stopped after its ingest, before ``after`` took it) is reported with the counts of that ingest, as
    ingested, like a file given back. Holds the home's mediation lock from start to end (``mediation_lock``; the caller may
    hold it already): a second watch of the home fails at once (``LockedError`` naming this one) rather than
    taking turns with it between passes, so two watches never rate one home; and the inbox's own lock
    (``watching``: the inbox checked writable first, ``InboxUnwritableError``), so no process of another home
    takes its files meanwhile. A file taken from the inbox under the watch ends it (``InboxFileGoneError``).

    ``once`` takes only files that stayed unchanged for ``settle`` seconds (``interval`` unless given), as polling
    does: a file modified more recently is looked at again once it is that old, and left in the inbox when its
    size or mtime changed meanwhile (said on ``on_retry``, else ``report``'s notes). A file whose records end in one
    cut short (``cut_short``) goes to failed/ with its ``.error.txt``, its committed records reported, never to
    done/.

    Every file's counts are reported once: a file a watch ingests waits in the ledger for its report (its
    ``on_file`` call, after which it is marked reported; with ``mark_reported`` False the caller marks the files
    once it has shown them, ``files_reported``). A run stopped in between leaves it waiting, and the next watch
    reports it with the counts of that ingest: a file still in the inbox when it takes it again (not as
    ``already_ingested`` with none), one already filed in ``done/`` or ``failed/`` before anything else, saying
    which ingest it was. A file in ``failed/`` found without its ``.error.txt`` is given one."""
    progress = report or _Quiet()
    settle_s = interval if settle is None else settle
    retried = on_retry or progress.note
    done, failed = inbox / "done", inbox / "failed"
    handled: list[FileReport] = []
    seen: dict[Path, tuple[int, int]] = {}
    first_seen: dict[Path, datetime] = {}
    retries = committed = 0  # passes in a row that ``after`` asked to retry later; its calls that went through
    left: tuple[RetryLater, list[_Handed]] | None = None
    # the files given back by ``after``, for their next pass: their reports (and the state's record of an ingest
    # by an earlier run)
    earlier: dict[Path, tuple[FileReport, FileRecord | None]] = {}
    with mediation_lock(settings.home, holder=f"a watch of {inbox}"), \
            watching(inbox, home=settings.home, holder=f"a watch of {inbox}"), ExitStack() as marks:
        told = marks.enter_context(_Marks(settings.home)) if mark_reported else None
        # what a run stopped before reporting it left: files it ingested and filed away, reported first
        for rep in _reports_left(settings.home, inbox):
            handled.append(rep)
            if on_file is not None:
                on_file(rep)
            if told is not None:
                told(rep)
        committer = None if after is None else _Committer(after, done, handled, on_file, failed=failed, told=told)
        try:
            while True:
                with ExitStack() as pass_:
                    ready: list[Path] = []
                    recent: dict[Path, tuple[int, int]] = {}  # ``once``: modified less than ``settle`` s ago
                    looked = time.time()
                    for path in inbox_files(inbox):
                        if committer is not None and path in committer.pending:
                            continue
                        try:
                            st = path.stat()
                        except FileNotFoundError:
                            continue
                        first_seen.setdefault(path, _arrival(st))
                        sig = (st.st_size, st.st_mtime_ns)
                        if once:
                            if looked - st.st_mtime < settle_s:  # may still be written: looked at again below
                                recent[path] = sig
                                continue
                        elif seen.get(path) != sig:  # still changing, or new: look again next poll
                            seen[path] = sig
                            continue
                        ready.append(path)
                    if recent:
                        ready.extend(_settled(recent, settle_s, stop, retried))
                    if stop is not None and stop():
                        ready = []
                    # one mediation session for the files of this pass, opened when one is ready
                    session = pass_.enter_context(ingest_session(settings, report=progress)) if ready else None
                    if session is not None:
                        session.unreported = True  # each file ingested waits for its report in the ledger
                    arrival = {} if session is None else _arrivals(session, ready, first_seen, earlier)
                    for path in sorted(ready, key=lambda p: (arrival[p], p.name)):
                        if stop is not None and stop():
                            break
                        if committer is not None and committer.deferred is not None:  # the rest: the next pass
                            break
                        assert session is not None
                        seen.pop(path, None)
                        rep = session.ingest(path, fmt=fmt, source=source, progress=progress)
                        arrived = first_seen.pop(path)
                        if (ingested := _first_ingest(session, rep)) is not None:
                            arrived = min(arrived, ingested)
                        given = earlier.pop(path, None)
                        record = None
                        if given is not None and rep.status == Status.ALREADY and rep.content_hash == given[0].content_hash:
                            rep, record = given  # given back by ``after``: reported once, as this watch ingested it
                        else:
                            rep.arrived_at = arrived.isoformat()
                            if rep.status == Status.ALREADY and rep.content_hash is not None:
                                record = session.state.done(rep.content_hash)
                                if record is not None and session.state.is_unreported(rep.content_hash):
                                    # a run stopped before its report (rated or not): reported now, with its counts
                                    rep = _first_ingest_report(rep, record, why=_unreported_why(record))
                                elif committer is None:
                                    record = None
                        if rep.status != Status.FAILED and committer is not None:
                            committer.put(path, rep, record)
                            continue
                        if record is None and rep.status == Status.ALREADY and rep.content_hash is not None:
                            record = session.state.done(rep.content_hash)
                        _file_away(path, rep, done, failed, record)
                        handled.append(rep)
                        if on_file is not None:
                            on_file(rep)
                        if told is not None:
                            told(rep)
                wait = interval
                if committer is not None:
                    committer.check()
                    if committer.committed != committed:  # ``after`` went through since: no backing off
                        committed, retries = committer.committed, 0
                    if not once and (deferred := committer.settle()) is not None:
                        reason, back = deferred
                        for path, rep, record in back:  # complete already: taken again at once on the next pass
                            earlier[path] = (rep, record)
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


def _settled(recent: dict[Path, tuple[int, int]], settle_s: float, stop: Callable[[], bool] | None,
             say: Callable[[str], None]) -> list[Path]:
    """Of files modified less than ``settle_s`` seconds ago (their size and mtime when first looked at), those
    whose size and mtime did not change until each is that old; the others are left in the inbox, said in one
    line. Looks every ``SETTLE_STEP_S``: the pass goes on as soon as each file is old enough or has changed, not
    after a wait fixed in advance (a file that changes is left at once, whatever the others)."""
    # each file's deadline: its mtime plus the settle time, never further off than the settle time (an mtime
    # ahead of this machine's clock)
    now = time.time()
    due = {path: now + max(0.0, min(settle_s, sig[1] / 1e9 + settle_s - now)) for path, sig in recent.items()}
    ready: list[Path] = []
    changing: list[Path] = []
    while due:
        now = time.time()
        for path in sorted(due):
            try:
                st = path.stat()
            except FileNotFoundError:
                del due[path]
                continue
            if (st.st_size, st.st_mtime_ns) != recent[path]:
                changing.append(path)
                del due[path]
            elif now >= due[path]:
                ready.append(path)
                del due[path]
        if not due or (stop is not None and stop()):
            break
        _pause(max(0.0, min(SETTLE_STEP_S, min(due.values()) - time.time())), stop)
    if changing:
        names = ", ".join(p.name for p in sorted(changing))
        say(f"{len(changing)} {'file' if len(changing) == 1 else 'files'} still being written left in the inbox "
            f"for the next run ({names}): changed within the last {settle_s:g} s")
    return ready


def _arrivals(session: _Session, paths: Sequence[Path], first_seen: dict[Path, datetime],
              earlier: dict[Path, tuple[FileReport, FileRecord | None]]) -> dict[Path, datetime]:
    """When each of ``paths`` arrived, as the watch will record it: a file given back by ``after``, when it was
    given with; any other, the earlier of its first sight (``_arrival``) and mediation's first ingest of it."""
    out: dict[Path, datetime] = {}
    fresh = []
    for path in paths:
        back = earlier.get(path)
        if back is not None and back[0].arrived_at is not None:
            out[path] = datetime.fromisoformat(back[0].arrived_at)
        else:
            fresh.append(path)
            out[path] = first_seen[path]
    for path, ingested in _ingested_before(session, fresh).items():
        out[path] = min(out[path], ingested)
    return out


def _staying(reason: RetryLater, files: Sequence[_Handed]) -> str:
    return f"{reason}; {len(files)} {'file stays' if len(files) == 1 else 'files stay'} in the inbox"


class _Marks:
    """Marks the files a watch reported (``MediationState.reported``), from the watch's thread and the rating
    thread alike: a connection to the ledger of its own, used by one at a time."""

    def __init__(self, home: Path) -> None:
        self.path = home / "mediation" / LEDGER
        self.conn: sqlite3.Connection | None = None
        self.lock = threading.Lock()

    def __enter__(self) -> _Marks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()

    def __call__(self, rep: FileReport) -> None:
        if rep.content_hash is None or rep.status not in (Status.INGESTED, Status.ALREADY):
            return
        with self.lock:
            if self.conn is None:
                if not self.path.exists():  # nothing ingested here yet
                    return
                self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=False)
            self.conn.execute("DELETE FROM unreported WHERE content_hash = ?", (rep.content_hash,))


def files_reported(home: Path, reports: Sequence[FileReport]) -> None:
    """Mark the files of ``reports`` reported, once a watch run with ``mark_reported=False`` has shown them."""
    hashes = [r.content_hash for r in reports
              if r.content_hash is not None and r.status in (Status.INGESTED, Status.ALREADY)]
    if not hashes or not (home / "mediation" / LEDGER).exists():
        return
    with MediationState.open(home) as state:
        state.reported(hashes)


def _unreported_why(prev: FileRecord, filed: str | None = None) -> str:
    where = f" and filed in {filed}/" if filed is not None else ""
    return (f"ingested at {prev.ingested_at}{where} by a run stopped before reporting it; reported now with the "
            f"counts of that ingest")


def _reports_left(home: Path, inbox: Path) -> list[FileReport]:
    """At a watch's start: the reports of the files an earlier watch ingested and filed in ``done/`` or ``failed/``
    (or that left their place) without reporting them, from the ledger, each saying so; a file filed in
    ``failed/`` gets the ``.error.txt`` that run did not write, as does any file found there without one. Files
    still where they were ingested are reported when the pass takes them again."""
    path = home / "mediation" / LEDGER
    if not path.exists():
        return []
    out: list[FileReport] = []
    # read under the watch's mediation lock, on a connection of its own: the pass's session opens the state
    # (recovered, its key segments mapped) only when a file is ready
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        state = MediationState(home / "mediation", conn, None)
        try:
            left = state.unreported()
        except sqlite3.OperationalError:  # a ledger of an earlier version, not opened since: nothing waits
            left = []
        for prev in left:
            where = Path(prev.name)
            if where.exists():
                continue  # taken again by a pass: reported then
            filed = next((d for d in ("done", "failed") if (where.parent / d / where.name).exists()), None)
            rep = _first_ingest_report(FileReport(file=prev.name, content_hash=prev.content_hash, format=prev.format),
                                       prev, why=_unreported_why(prev, filed))
            rep.arrived_at = prev.ingested_at
            why = cut_short(rep)
            if why is not None and (filed == "failed" or filed is None):
                rep.message = f"{rep.message}; {MOVED_TO_FAILED}: {why}"
                if filed == "failed" and not _error_file(where.parent / "failed" / where.name).exists():
                    _write_reason(where.parent / "failed" / where.name, why)
            out.append(rep)
        _reasons_missing(state, inbox / "failed")
    finally:
        conn.close()
    return out


def _reasons_missing(state: MediationState, failed: Path) -> None:
    """Give each file in ``failed`` found without its ``.error.txt`` (a run stopped as it filed the file) one: the
    ledger's counts and reason of a file it ingested, cut short; else that the reason was not kept."""
    if not failed.is_dir():
        return
    for path in sorted(failed.iterdir()):
        if path.name.startswith(".") and path.name.endswith(".error.txt.tmp"):  # a reason cut short by a stop
            with suppress(OSError):
                path.unlink()
            continue
        if (not path.is_file() or path.name.startswith(".") or path.name.endswith(".error.txt")
                or _error_file(path).exists()):
            continue
        try:
            prev = state.done(content_hash(path))
        except OSError:
            continue
        why = None
        if prev is not None:
            rep = FileReport(file=str(path), status=Status.ALREADY, content_hash=prev.content_hash)
            why = cut_short(rep, _reasons(prev), prev)
        if why is None:
            why = (f"{path.name}: the reason it was filed here was not kept (a run stopped as it filed it); put the "
                   f"file back in the inbox to read it again: what was committed of it counts as already ingested")
        _write_reason(path, why)
