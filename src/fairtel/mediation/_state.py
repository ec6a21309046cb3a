"""Mediation's own durable state under ``<home>/mediation/``: one SQLite file (stdlib ``sqlite3``, WAL,
synchronous=FULL) holding the file registry, the in-flight journal, the committed dedup segments, the
partial records waiting for the rest of their session, the sessions emitted (remembered for a few partial
timeouts, see ``_partials``) and the newest record time seen per source; plus the segment files themselves in
``keys/`` and an exclusive lock so two processes never ingest into one home.

The lock (``mediation/lock``, ``flock``) is held by an ingest for its files, and by a watch from its start to its
end (``mediation_lock``): a second watch of the home, or an ingest while a watch runs, fails at once naming the
holder (written into the lock file while it is held) instead of taking turns with it between passes, so a home
never has two online raters. The watch's own ingest sessions, in the thread that holds it, use its hold.

Commit protocol (crash safety): a file's lake parts and rejects go to temporary files while its content hash
is computed; once the hash is known the file is journalled as in flight (committed on its own), and its
parts, rejects file and key segments end up under names derived from the hash, each written to a temporary
name, synced and renamed; finally ONE transaction registers the file, its segments, its partial records and
watermarks, and clears the journal entry. Whatever a crash leaves behind is found on the next start
(``recover``): the parts, rejects and segments of journalled files are deleted, as are segment files no row
names and every temporary file, and the file is simply ingested again, giving the same rows under the same
names.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fairtel.core.errors import ConflictError, InboxUnwritableError

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    content_hash TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    format TEXT,
    source TEXT,
    read INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    duplicate INTEGER NOT NULL,
    held INTEGER NOT NULL,
    emitted INTEGER NOT NULL,
    rejects_file TEXT,
    parts TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inflight (
    content_hash TEXT PRIMARY KEY,
    part_name TEXT NOT NULL,
    rejects_file TEXT,
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS key_segments (
    name TEXT PRIMARY KEY,
    keys INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partials (
    source TEXT NOT NULL,
    record_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    seq INTEGER,
    final INTEGER,
    arrival INTEGER NOT NULL,
    started_us INTEGER NOT NULL,
    msisdn TEXT NOT NULL,
    kind TEXT NOT NULL,
    direction TEXT,
    duration_s INTEGER,
    bytes_up INTEGER,
    bytes_down INTEGER,
    peer TEXT,
    offer_id TEXT,
    amount_minor INTEGER,
    currency TEXT,
    roaming_country TEXT,
    cell_id TEXT,
    imei TEXT,
    imsi TEXT,
    vpmn TEXT,
    apn TEXT,
    wholesale_charge_units INTEGER,
    wholesale_charge_decimals INTEGER,
    wholesale_charge_currency TEXT,
    PRIMARY KEY (source, record_id)
);
CREATE INDEX IF NOT EXISTS partials_session ON partials (source, session_id);
-- partial sessions emitted, each until its source's newest record time is _partials._DONE_REMEMBERED timeouts
-- past its latest part (last_us: null only in a database from before it was kept, with no watermark to go by)
CREATE TABLE IF NOT EXISTS sessions_done (
    source TEXT NOT NULL,
    session_id TEXT NOT NULL,
    last_us INTEGER,
    PRIMARY KEY (source, session_id)
);
-- the parts of the sessions emitted (number and record id), for _partials._REMEMBERED timeouts past the latest
CREATE TABLE IF NOT EXISTS partials_emitted (
    source TEXT NOT NULL,
    record_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    seq INTEGER,
    last_us INTEGER NOT NULL,
    PRIMARY KEY (source, record_id)
);
CREATE INDEX IF NOT EXISTS partials_emitted_session ON partials_emitted (source, session_id, seq);
CREATE INDEX IF NOT EXISTS partials_emitted_age ON partials_emitted (source, last_us);
CREATE TABLE IF NOT EXISTS watermarks (
    source TEXT PRIMARY KEY,
    newest_us INTEGER NOT NULL
);
"""

# After SCHEMA (its tables exist by then): the columns a database of an earlier version lacks, added in one
# transaction, then the indexes on them (which SCHEMA cannot create on such a table). A session emitted before its
# time was kept is given its source's newest record time, an upper bound of its latest part's: it is forgotten no
# sooner than it would have been.
_UPGRADES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sessions_done", "last_us", (
        "ALTER TABLE sessions_done ADD COLUMN last_us INTEGER",
        "UPDATE sessions_done SET last_us = (SELECT w.newest_us FROM watermarks w WHERE w.source = sessions_done.source)",
    )),
    # the optional clean usage columns (``CLEAN_USAGE_OPTIONAL``): parts held before them have none
    *((("partials", column, (f"ALTER TABLE partials ADD COLUMN {column} {kind}",)) for column, kind in (
        ("imsi", "TEXT"), ("vpmn", "TEXT"), ("apn", "TEXT"), ("wholesale_charge_units", "INTEGER"),
        ("wholesale_charge_decimals", "INTEGER"), ("wholesale_charge_currency", "TEXT")))),
)
_AGE_INDEX = "CREATE INDEX IF NOT EXISTS sessions_done_age ON sessions_done (source, last_us)"


def _upgrade(conn: sqlite3.Connection) -> None:
    """Brings a state database of an earlier version up to SCHEMA, all or nothing (a crash midway leaves the
    earlier version, upgraded again on the next open)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, steps in _UPGRADES:
            if column in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
                continue
            for sql in steps:
                conn.execute(sql)
        conn.execute(_AGE_INDEX)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@dataclass(frozen=True, slots=True)
class FileRecord:
    content_hash: str
    name: str
    format: str | None
    source: str | None
    read: int
    accepted: int
    rejected: int
    duplicate: int
    held: int
    emitted: int
    rejects_file: str | None
    parts: list[str]
    ingested_at: str


class LockedError(ConflictError):
    """The home's mediation is held by another process (or thread)."""

    code = "mediation_locked"


@dataclass(slots=True)
class _Hold:
    thread: int
    depth: int


_HOLDS: dict[Path, _Hold] = {}  # the homes whose lock a ``mediation_lock`` of this process holds
_HOLDS_GUARD = threading.Lock()


def _lock_file(home: Path) -> Path:
    root = home / "mediation"
    root.mkdir(parents=True, exist_ok=True)
    return root / "lock"


def _holder(fd: int) -> dict[str, Any] | None:
    """What the lock's holder wrote into the lock file (None: nothing readable, an older holder)."""
    try:
        found = json.loads(os.pread(fd, 4096, 0) or b"null")
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _describe(home: Path, holder: dict[str, Any] | None) -> str:
    if holder is None:
        return f"another process is ingesting into {home}"
    return (f"mediation of {home} is held by {holder.get('holder', 'another process')} (pid {holder.get('pid')}, "
            f"since {holder.get('since')})")


def _acquire(home: Path, *, wait: bool, holder: str, keeps: bool) -> int:
    """The lock taken, the holder written into it. Taken by another: LockedError at once, unless ``wait`` and the
    holder lets it go after its files (an ingest; a watch keeps it until stopped), waited for then, said on
    stderr naming the holder."""
    fd = os.open(_lock_file(home), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _holder(fd)
            if not wait or (other is not None and other.get("keeps")):
                raise LockedError(_describe(home, other)) from None
            with contextlib.suppress(OSError, ValueError):  # on stderr: stdout may carry a command's JSON
                print(f"waiting for the mediation lock: {_describe(home, other)}", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        note = {"holder": holder, "pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"), "keeps": keeps}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(note).encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def ingest_running(home: Path) -> str | None:
    """Who ingests into ``home`` at this moment, an ingest or a watch in another process ("an ingest (pid 4711,
    since T)"); None: no one. The lock decides (a holder killed leaves its words in the file, and is no one): it is
    tried shared without waiting, and only when a holder's words are there to name it (an instant's hold, in
    which another process asking the lock without waiting would be refused as by an ingest)."""
    path = Path(home) / "mediation" / "lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # never ingested into, or not readable: no one to name
        return None
    try:
        holder = _holder(fd)
        if holder is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return (f"{holder.get('holder', 'another process')} (pid {holder.get('pid')}, host "
                    f"{holder.get('host', '?')}, since {holder.get('since')})")
        return None
    finally:
        os.close(fd)  # releases a shared hold taken


def _release(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)  # no holder to name any more
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _held_here(home: Path) -> _Hold | None:
    """This thread's ``mediation_lock`` of ``home``, if it holds one."""
    with _HOLDS_GUARD:
        hold = _HOLDS.get(home.resolve())
    return hold if hold is not None and hold.thread == threading.get_ident() else None


@contextmanager
def mediation_lock(home: Path, *, holder: str = "a watch", wait: bool = False) -> Iterator[None]:
    """Hold the home's mediation lock until the block ends: no other process ingests into the home, nor rates it
    online, meanwhile; the ingest sessions this thread opens inside the block use this hold (a watch holds it
    from its start to its end, its passes inside). Held by another: ``LockedError`` naming the holder, at once
    (``wait``: waits for an ingest to end, not for a watch). Taken again inside the block by the same thread, it
    is the same hold. ``holder``: how another process's error names this one."""
    home = Path(home)
    hold = _held_here(home)
    if hold is not None:
        hold.depth += 1
        try:
            yield
        finally:
            hold.depth -= 1
        return
    fd = _acquire(home, wait=wait, holder=holder, keeps=True)
    key = home.resolve()
    with _HOLDS_GUARD:
        _HOLDS[key] = _Hold(threading.get_ident(), 1)
    try:
        yield
    finally:
        with _HOLDS_GUARD:
            del _HOLDS[key]
        _release(fd)


# in a watched inbox, a hidden directory (never taken for a usage file, nor listed among the inbox's files) holding
# the lock file
INBOX_LOCK = Path(".fairtel-watch", "lock")
_INBOX_HOLDS: dict[Path, _Hold] = {}  # the inboxes whose lock an ``inbox_lock`` of this process holds


def _describe_inbox(inbox: Path, holder: dict[str, Any] | None) -> str:
    if holder is None:
        return (f"the inbox {inbox} is taken by another process ({inbox / INBOX_LOCK} is held): one process "
                "takes the files of an inbox; stop the other one, or give this one an inbox of its own")
    return (f"the inbox {inbox} is taken by {holder.get('holder', 'another process')} on host "
            f"{holder.get('host', '?')} (pid {holder.get('pid')}, home {holder.get('home', '?')}, since "
            f"{holder.get('since')}): one process takes the files of an inbox, or a file would be charged once per "
            "home; stop that one, or give this one an inbox of its own")


@contextmanager
def inbox_lock(inbox: Path, *, home: Path, holder: str, keeps: bool = True,
               only_if_watched: bool = False) -> Iterator[bool]:
    """Hold the inbox's own lock (``INBOX/.fairtel-watch/lock``, ``flock``, naming host, pid and home) until the
    block ends: whatever home another process serves, it cannot watch the inbox, nor ingest from it, meanwhile.
    The home's mediation lock alone let two homes sharing one database and one inbox both take a file (charged in
    each) and take the others' files from under each other. Held by another: ``LockedError`` naming it, at once.
    ``only_if_watched`` (an ingest): a directory never watched (no lock file) is not locked, nor written to; the
    block gets whether it holds the lock. Taken again inside the block by the same thread, it is the same hold."""
    inbox = Path(inbox)
    key = inbox.resolve()
    with _HOLDS_GUARD:
        hold = _INBOX_HOLDS.get(key)
    if hold is not None and hold.thread == threading.get_ident():
        hold.depth += 1
        try:
            yield True
        finally:
            hold.depth -= 1
        return
    path = inbox / INBOX_LOCK
    if only_if_watched and not path.exists():
        yield False
        return
    try:
        if not only_if_watched:
            path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        if not only_if_watched:
            raise InboxUnwritableError(
                f"{inbox}: cannot create the inbox's lock {INBOX_LOCK} ({exc.strerror or exc}): make the inbox "
                "writable by the user fairtel runs as (files move from it to done/ and failed/)",
                details={"inbox": str(inbox)}) from None
        try:  # a read-only copy of a watched inbox: a lock can still be taken through a read-only descriptor
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            yield False
            return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(_describe_inbox(inbox, _holder(fd)), details={"inbox": str(inbox)}) from None
        note = {"holder": holder, "host": socket.gethostname(), "pid": os.getpid(), "home": str(Path(home).resolve()),
                "since": datetime.now(UTC).isoformat(timespec="seconds"), "keeps": keeps}
        with contextlib.suppress(OSError):  # read-only descriptor: the lock holds, unnamed
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(note).encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    with _HOLDS_GUARD:
        _INBOX_HOLDS[key] = _Hold(threading.get_ident(), 1)
    try:
        yield True
    finally:
        with _HOLDS_GUARD:
            del _INBOX_HOLDS[key]
        _release(fd)


class MediationState:
    """Open with ``MediationState.open(home)``; holds the home's lock until closed (or uses this thread's
    ``mediation_lock`` of the home)."""

    def __init__(self, root: Path, conn: sqlite3.Connection, lock_fd: int | None) -> None:
        self.root = root
        self.conn = conn
        self._lock_fd = lock_fd
        self.keys_dir = root / "keys"

    @classmethod
    @contextmanager
    def open(cls, home: Path, *, wait: bool = True) -> Iterator[MediationState]:
        root = home / "mediation"
        root.mkdir(parents=True, exist_ok=True)
        (root / "keys").mkdir(exist_ok=True)
        fd = None if _held_here(home) is not None else _acquire(home, wait=wait, holder="an ingest", keeps=False)
        try:
            conn = sqlite3.connect(root / "state.sqlite", isolation_level=None, timeout=60)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.executescript(SCHEMA)
                _upgrade(conn)
                yield cls(root, conn, fd)
            finally:
                conn.close()
        finally:
            if fd is not None:
                _release(fd)

    # --- transactions -----------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- files ------------------------------------------------------------------------------------------
    def done(self, content_hash: str) -> FileRecord | None:
        row = self.conn.execute(
            "SELECT content_hash, name, format, source, read, accepted, rejected, duplicate, held, emitted,"
            " rejects_file, parts, ingested_at FROM files WHERE content_hash = ?", (content_hash,)
        ).fetchone()
        if row is None:
            return None
        return FileRecord(
            content_hash=row[0], name=row[1], format=row[2], source=row[3], read=row[4], accepted=row[5],
            rejected=row[6], duplicate=row[7], held=row[8], emitted=row[9], rejects_file=row[10],
            parts=json.loads(row[11]), ingested_at=row[12],
        )

    def next_seq(self) -> int:
        (n,) = self.conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM files").fetchone()
        return int(n)

    def register(self, rec: FileRecord, seq: int) -> None:
        self.conn.execute(
            "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (rec.content_hash, seq, rec.name, rec.format, rec.source, rec.read, rec.accepted, rec.rejected,
             rec.duplicate, rec.held, rec.emitted, rec.rejects_file, json.dumps(rec.parts), rec.ingested_at),
        )

    # --- journal ----------------------------------------------------------------------------------------
    def journal(self, content_hash: str, part_name: str, rejects_file: str | None) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO inflight VALUES (?,?,?,?)",
                      (content_hash, part_name, rejects_file, datetime.now(UTC).isoformat()))

    def unjournal(self, content_hash: str) -> None:
        self.conn.execute("DELETE FROM inflight WHERE content_hash = ?", (content_hash,))

    def inflight(self) -> list[tuple[str, str, str | None]]:
        return [(r[0], r[1], r[2]) for r in self.conn.execute("SELECT content_hash, part_name, rejects_file FROM inflight")]

    # --- segments ---------------------------------------------------------------------------------------
    def segments(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM key_segments ORDER BY rowid")]

    def add_segments(self, segs: list[tuple[str, int]]) -> None:
        self.conn.executemany("INSERT INTO key_segments VALUES (?,?)", segs)

    def replace_segments(self, removed: list[str], added: tuple[str, int]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM key_segments WHERE name = ?", [(n,) for n in removed])
            c.execute("INSERT INTO key_segments VALUES (?,?)", added)

    # --- watermarks -------------------------------------------------------------------------------------
    def watermarks(self) -> dict[str, int]:
        return {s: int(v) for s, v in self.conn.execute("SELECT source, newest_us FROM watermarks")}

    def set_watermarks(self, marks: dict[str, int]) -> None:
        self.conn.executemany(
            "INSERT INTO watermarks VALUES (?, ?) ON CONFLICT(source) DO UPDATE SET newest_us ="
            " MAX(newest_us, excluded.newest_us)", list(marks.items()))

    def stats(self) -> dict[str, Any]:
        c = self.conn
        return {
            "files": c.execute("SELECT COUNT(*) FROM files").fetchone()[0],
            "keys": c.execute("SELECT COALESCE(SUM(keys), 0) FROM key_segments").fetchone()[0],
            "segments": c.execute("SELECT COUNT(*) FROM key_segments").fetchone()[0],
            "held_parts": c.execute("SELECT COUNT(*) FROM partials").fetchone()[0],
            "held_sessions": c.execute("SELECT COUNT(*) FROM (SELECT DISTINCT source, session_id FROM partials)").fetchone()[0],
        }
