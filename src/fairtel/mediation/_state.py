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

The ledger is guarded as the database file is: once made, the home says so (``<home>/ledger.id``, written when the
ledger is made, or first opened by a fairtel that writes it), and a ledger missing from a home that had one (that
file, key segments in ``keys/``, or usage parts an ingest wrote in the lake) is refused (``ledger_missing``), never
made again empty: an empty ledger would take again, and charge again, every record sent again. It also lists the
usage parts each ingest committed to the lake (``lake_parts``), so a reader of a period finds a part that is gone
(a lake lost, not restored, its volume not mounted, a partial copy) and refuses (``lake_incomplete``,
``check_lake_complete``) instead of rating or billing less than was taken. A part removed on purpose (retention)
leaves a mark (``<lake>/.removed/usage/period=P/<part>``, ``part_removed``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fairtel.core.errors import ConflictError, FairtelError, InboxUnwritableError

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
-- the usage parts committed to the lake (lake/usage/period=P/<part>.parquet), by the file whose ingest wrote them
-- (records: rows in the part when written; null for a part listed from a ledger of an earlier version)
CREATE TABLE IF NOT EXISTS lake_parts (
    period TEXT NOT NULL,
    part TEXT NOT NULL,
    records INTEGER,
    content_hash TEXT,
    PRIMARY KEY (period, part)
);
-- the files a watch ingested and has not reported yet (its line for the file, or its table with --once): a run
-- stopped in between leaves them here, and the next watch reports them with the counts of that ingest
CREATE TABLE IF NOT EXISTS unreported (
    content_hash TEXT PRIMARY KEY
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
        if (conn.execute("SELECT NOT EXISTS (SELECT 1 FROM lake_parts)").fetchone()[0]
                and conn.execute("SELECT EXISTS (SELECT 1 FROM files)").fetchone()[0]):
            _list_parts(conn)  # a ledger of an earlier version: its files' parts, as they name them
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


_PERIOD_DIR = re.compile(r"period=(\d{4}-\d{2})")


def _lake_part(path: str) -> tuple[str, str] | None:
    """(period, part) of a usage part's path as the ledger names it (absolute when written: the home may have moved
    since, so only its last two names count)."""
    p = Path(path)
    m = _PERIOD_DIR.fullmatch(p.parent.name)
    return (m.group(1), p.name.removesuffix(".parquet")) if m and p.name.endswith(".parquet") else None


def _list_parts(conn: sqlite3.Connection) -> None:
    for digest, parts in conn.execute("SELECT content_hash, parts FROM files").fetchall():
        for found in filter(None, map(_lake_part, json.loads(parts or "[]"))):
            conn.execute("INSERT OR IGNORE INTO lake_parts VALUES (?, ?, NULL, ?)", (*found, digest))


def _rows_of(path: str) -> int | None:
    try:
        import pyarrow.parquet as pq

        return int(pq.read_metadata(path).num_rows)
    except (OSError, ValueError):
        return None


LEDGER = "state.sqlite"
LEDGER_MARK = "ledger.id"  # in the home: the ledger was made (when, where); a missing ledger is then refused
# the names ingests give their usage parts (the file's content hash; held sessions flushed)
_INGESTED_PART = re.compile(r"(?:[0-9a-f]{24}|flush-[0-9a-f]{18})\.parquet")


class LedgerMissingError(FairtelError):
    """The home had a mediation ledger and it is gone: refused, never made again empty (records sent again would
    be charged twice)."""

    code = "ledger_missing"


class LakeIncompleteError(FairtelError):
    """Usage parts the ledger says an ingest committed are not in the lake: rating or billing the period would
    charge less than was taken."""

    code = "lake_incomplete"


def _had_ledger(home: Path) -> str | None:
    """What shows that ``home`` had a ledger (None: nothing, a new home)."""
    mark = home / LEDGER_MARK
    if mark.is_file():
        try:
            made = json.loads(mark.read_text(encoding="utf-8")).get("made_at", "?")
        except (OSError, ValueError, AttributeError):
            made = "?"
        return f"{mark} says it was made ({made})"
    keys = home / "mediation" / "keys"
    if keys.is_dir() and any(p.suffix == ".npy" for p in keys.iterdir()):
        return f"the home holds its record keys ({keys})"
    usage = home / "lake" / "usage"
    if usage.is_dir():
        for d in sorted(usage.glob("period=*")):
            found = next((p for p in sorted(d.iterdir()) if _INGESTED_PART.fullmatch(p.name)), None) if d.is_dir() else None
            if found is not None:
                return f"the lake holds usage parts ingests wrote ({found.relative_to(home)})"
    return None


def _mark_ledger(home: Path) -> None:
    """``<home>/ledger.id``: the home has a ledger (written once, through a synced temporary file and a rename)."""
    mark = home / LEDGER_MARK
    if mark.exists():
        return
    tmp = home / f".{LEDGER_MARK}.{os.getpid()}.tmp"
    note = {"ledger": f"mediation/{LEDGER}", "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": socket.gethostname()}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(note) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, mark)
    dir_fd = os.open(home, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _missing_ledger(home: Path, evidence: str) -> LedgerMissingError:
    path = home / "mediation" / LEDGER
    return LedgerMissingError(
        f"the mediation ledger is missing: {path} (the files and records already taken); {evidence}, so it was "
        "removed, lost or its volume is not mounted; nothing was made in its place, as an empty ledger would take "
        "again, and charge again, every record sent again. Restore it from the home's backup (`fairtel backup`; "
        "the ledger, the lake and the database of one backup together) / 中介台账缺失：请从本目录的备份恢复该文件，"
        "不会新建空台账（否则重发的话单会被重复计费）",
        details={"file": str(path), "evidence": evidence})


def _removed_mark(lake_dir: Path, period: str, part: str) -> Path:
    return lake_dir / ".removed" / "usage" / f"period={period}" / part


def part_removed(lake_dir: Path, period: str, part: str) -> None:
    """Mark a usage part removed on purpose (retention): ``check_lake_complete`` no longer asks for it."""
    mark = _removed_mark(lake_dir, period, part)
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.touch()


def missing_lake_parts(lake_dir: Path, periods: Iterable[str] | None = None) -> dict[str, list[tuple[str, int | None]]]:
    """The usage parts of ``periods`` (all: None) the home's ledger (``<lake_dir>/../mediation/state.sqlite``) says
    an ingest committed and the lake does not hold (nor marks removed): period -> [(part, records)]. One query of
    the ledger (read only, no lock) and one listing per period; no part is read. No ledger: nothing to compare."""
    lake_dir = Path(lake_dir)
    path = lake_dir.parent / "mediation" / LEDGER
    if not path.is_file():
        return {}
    wanted = None if periods is None else sorted(set(periods))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            try:
                if wanted is None:
                    rows = conn.execute("SELECT period, part, records FROM lake_parts").fetchall()
                else:
                    rows = conn.execute(f"SELECT period, part, records FROM lake_parts WHERE period IN "
                                        f"({','.join('?' * len(wanted))})", wanted).fetchall()
            except sqlite3.OperationalError:  # a ledger of an earlier version, not upgraded yet: its files' parts
                rows = [(*found, None) for (parts,) in conn.execute("SELECT parts FROM files")
                        for found in filter(None, map(_lake_part, json.loads(parts or "[]")))
                        if wanted is None or found[0] in wanted]
        finally:
            conn.close()
    except sqlite3.Error:  # a ledger being made, or not one: nothing to compare
        return {}
    listed: dict[str, set[str]] = {}
    out: dict[str, list[tuple[str, int | None]]] = {}
    for period, part, records in rows:
        if period not in listed:
            d = lake_dir / "usage" / f"period={period}"
            gone = _removed_mark(lake_dir, period, "x").parent
            listed[period] = ({n.removesuffix(".parquet") for n in os.listdir(d) if n.endswith(".parquet")}
                              if d.is_dir() else set()) | (set(os.listdir(gone)) if gone.is_dir() else set())
        if part not in listed[period]:
            out.setdefault(period, []).append((part, records))
    return {p: sorted(v) for p, v in sorted(out.items())}


def check_lake_complete(lake_dir: Path, periods: Iterable[str] | None = None) -> None:
    """``LakeIncompleteError`` naming each period and its missing parts when the lake lacks usage parts the ledger
    says were committed (``missing_lake_parts``)."""
    missing = missing_lake_parts(lake_dir, periods)
    if not missing:
        return
    said = []
    for period, parts in missing.items():
        known = [n for _, n in parts if n is not None]
        records = f", {sum(known):,} records" if len(known) == len(parts) else ""
        names = ", ".join(f"usage/period={period}/{p}.parquet" for p, _ in parts[:3])
        said.append(f"{period}: {len(parts)} part(s){records} missing ({names}{', …' if len(parts) > 3 else ''})")
    raise LakeIncompleteError(
        f"the lake {lake_dir} lacks usage the mediation ledger says was taken: {'; '.join(said)}. Rating or billing "
        "the period now would charge less than was taken. Mount the lake's volume, or restore the home (its lake, "
        "ledger and database together) from its backup (checked first with `fairtel backup --verify`) / 数据湖缺少已入账的话单分片："
        "请挂载或从备份恢复后再计费",
        details={"lake": str(lake_dir), "missing": {p: [n for n, _ in v] for p, v in missing.items()}})


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
    # when the ingest was registered (ISO 8601, UTC): to the microsecond, so that a reader can tell it from an instant
    # in the same second (a bill issued then); a row of an earlier version says the second only
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
            if not (root / LEDGER).exists() and (evidence := _had_ledger(home)) is not None:
                raise _missing_ledger(home, evidence)
            conn = sqlite3.connect(root / LEDGER, isolation_level=None, timeout=60)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.executescript(SCHEMA)
                _upgrade(conn)
                _mark_ledger(home)
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
        self.record_parts(rec.parts, rec.content_hash)

    def mark_unreported(self, content_hash: str) -> None:
        """The file ``content_hash`` waits for its report (a watch's ingest, in the transaction that commits it)."""
        self.conn.execute("INSERT OR IGNORE INTO unreported VALUES (?)", (content_hash,))

    def is_unreported(self, content_hash: str) -> bool:
        return self.conn.execute("SELECT 1 FROM unreported WHERE content_hash = ?", (content_hash,)).fetchone() is not None

    def unreported(self) -> list[FileRecord]:
        """The files a watch ingested and never reported (a run stopped in between), in the order of their ingest."""
        rows = self.conn.execute("SELECT f.content_hash FROM unreported u JOIN files f USING (content_hash)"
                                 " ORDER BY f.seq").fetchall()
        return [rec for (h,) in rows if (rec := self.done(h)) is not None]

    def reported(self, content_hashes: Iterable[str]) -> None:
        """Those files' reports are out: no later run reports them again."""
        with self.transaction() as c:
            c.executemany("DELETE FROM unreported WHERE content_hash = ?", [(h,) for h in content_hashes])

    def record_parts(self, parts: Iterable[str], content_hash: str | None) -> None:
        """The usage parts an ingest commits (paths), with their rows, in the transaction that commits them."""
        self.conn.executemany("INSERT OR REPLACE INTO lake_parts VALUES (?, ?, ?, ?)",
                              [(*found, _rows_of(p), content_hash) for p in parts if (found := _lake_part(p))])

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
