"""Engines: SQLite (the default, a file under the home) or PostgreSQL, configured the same way everywhere."""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import URL, Connection, Engine, ExceptionContext, make_url

from fairtel.core.errors import DatabaseUnavailableError, FileSystemError

POOL_RECYCLE_S = 1800  # a server connection is replaced after this long, before a firewall or proxy drops it idle
LOCK_WAIT_S = 30.0  # how long a statement waits for a lock another transaction holds, by default


def connect(url: str, *, schema: str | None = None, home: Path | None = None, lock_wait_s: float | None = None,
            **engine_options: Any) -> Engine:
    """An engine for ``url``.

    A statement waits at most ``lock_wait_s`` (default ``LOCK_WAIT_S``, 30 s) for a lock another transaction holds:
    SQLite's ``busy_timeout``, PostgreSQL's ``lock_timeout`` (a row lock, ``FOR UPDATE``, a table lock, an advisory
    lock), set for every connection of the engine. Past it the statement fails, and ``unavailable`` makes the error
    ``DatabaseBusyError`` (``database_busy``) naming the operation, instead of a request or a command hanging for as
    long as the other transaction runs. 0 waits without end (PostgreSQL) or not at all (SQLite): not for production.

    SQLite gets foreign keys enforced, WAL journaling (readers do not block the writer) and the busy timeout. Its
    file is made only for a new home: once the engine has opened it, or once the home beside it has its id
    (``home.id``, written when the home first opened its database), the file is opened as it is (``mode=rw``) and a
    file missing is ``DatabaseUnavailableError`` naming it (``SqliteFileGuard``), never made anew and empty.
    ``home``: the home the database serves, whose ``home.id`` says so (by default the directory holding the file,
    as for the home's own ``fairtel.db``; given, a SQLite file outside the home is guarded the same way).
    On PostgreSQL, ``schema`` puts every table (and Alembic's version table) in that schema through the
    connection's ``search_path``, so two deployments or test runs can share one database; and every session
    runs in UTC, whatever the server, the database or the client's ``PGTZ`` says. A server database's pooled
    connections are tested before each use (``pool_pre_ping``) and replaced after ``POOL_RECYCLE_S``: after a
    server restart the first request gets a fresh connection, not the dead one. An error of the engine carries
    the database it came from, without its password, for ``unavailable``, and never the statement's parameters
    (``hide_parameters``): they hold numbers, names and ids, and an unexpected error's text goes whole to a log
    or a terminal. SQLite connections also overwrite what they delete (``secure_delete``, see
    ``_sqlite_pragmas``).
    """
    parsed = make_url(url)
    wait_ms = _lock_wait_ms(LOCK_WAIT_S if lock_wait_s is None else lock_wait_s)
    options = dict(engine_options)
    options["hide_parameters"] = True  # never to be turned off: see above
    if parsed.get_backend_name() == "postgresql" and schema:
        args = dict(options.pop("connect_args", {}))
        args["options"] = f"{args.get('options', '')} -csearch_path={schema}".strip()
        options["connect_args"] = args
    if parsed.get_backend_name() != "sqlite":
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_recycle", POOL_RECYCLE_S)
    engine = create_engine(parsed, **options)
    where = describe(parsed)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_ms=wait_ms))
        event.listen(engine, "begin", _sqlite_begin)
        path = sqlite_file(parsed)
        if path is not None:
            guard = SqliteFileGuard(path, where, home=None if home is None else Path(home).absolute())
            event.listen(engine, "do_connect", guard.open)
            event.listen(engine, "connect", guard.opened)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", functools.partial(_postgresql_session, lock_wait_ms=wait_ms), insert=True)

    file = sqlite_file(parsed)

    def _name_database(context: ExceptionContext) -> BaseException | None:
        if context.sqlalchemy_exception is not None:  # (None for an error that is not the driver's)
            setattr(context.sqlalchemy_exception, _WHERE, where)
        if file is not None and _read_only(context.original_exception):
            return read_only_file(file, where, context.original_exception)
        if isinstance(context.sqlalchemy_exception, exc.IntegrityError):
            from fairtel.store._logins import login_name_taken  # (the schema, loaded only for this rare path)

            return login_name_taken(context.original_exception)
        return None

    event.listen(engine, "handle_error", _name_database)
    return engine


# SQLite's primary result code SQLITE_READONLY: the file (or the directory its journal goes in) cannot be written,
# a read-only volume or missing rights, met by the switch to WAL when the database is opened or by the first write
_READONLY_SQLITE = 8


def _read_only(error: BaseException | None) -> bool:
    return isinstance(error, sqlite3.Error) and (getattr(error, "sqlite_errorcode", 0) & 0xFF) == _READONLY_SQLITE


def read_only_file(path: Path, where: str, error: BaseException) -> FileSystemError:
    """SQLite's "attempt to write a readonly database" on the file ``path`` as the ``file_system_error`` error
    naming it (and its directory, where SQLite writes its journal and WAL beside it) and what to do."""
    return FileSystemError(
        f"{path}: the database file cannot be written ({' '.join(str(error).split())}): the file or its directory "
        f"{path.parent} is read-only (a volume mounted or remounted read-only after a disk error?) or not writable by "
        "this user; make both writable, or use another home",
        details={"path": str(path), "database": where, "operation": "writing the database"})


def _lock_wait_ms(seconds: float) -> int:
    if not seconds >= 0:  # NaN too
        raise ValueError(f"lock_wait_s is a number of seconds, 0 or more, got {seconds!r}")
    return round(seconds * 1000)


_WHERE = "fairtel_database"  # the attribute ``connect``'s engines set on their errors: ``describe(url)``

HOME_ID_FILE = "home.id"  # ``fairtel.bootstrap``'s: a home holding it has made its database already


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite ``url`` opens; None for a server database, one in memory, or one given as a SQLite URI."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    if str(parsed.query.get("uri", "")).lower() in ("true", "1"):
        return None
    return Path(name).absolute()


class SqliteFileGuard:
    """A SQLite database file is made once, by the first opening of a new home's database (which migrates it and
    writes the home's ``home.id`` beside it). After that a missing file was removed (or its volume is not mounted),
    and SQLite, asked to open it, would make a new, empty one in its place: every command would then meet missing
    tables, or migrate the empty file and take the home for a new one. So the file is opened as it is (``mode=rw``:
    SQLite makes none) once this engine has opened it or the home beside it has its id, and a file missing then is
    ``DatabaseUnavailableError`` naming it (the server's gate says the same, ``fairtel.api._health``)."""

    def __init__(self, path: Path, where: str, *, home: Path | None = None) -> None:
        self.path = path
        self.where = where
        self.home = path.parent if home is None else home  # where the home's id says the file was made
        self._seen = False  # a connection of this engine opened the file

    def _made(self) -> bool:
        return self._seen or (self.home / HOME_ID_FILE).is_file()

    def open(self, _dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        """``do_connect``: the file opened without making it, once it was made; the connection made by the driver."""
        if not self.path.exists():
            if not self._made():
                return  # a new home: SQLite makes the file, the migrations its tables
            raise self.missing()
        cargs[0] = f"{self.path.as_uri()}?mode=rw"
        cparams["uri"] = True

    def opened(self, _dbapi_connection: Any, _record: Any) -> None:
        self._seen = True

    def missing(self) -> DatabaseUnavailableError:
        home = self.home
        made = (f"made before by the home {home} (it has its {HOME_ID_FILE})" if (home / HOME_ID_FILE).is_file()
                else "opened before by this process")
        return DatabaseUnavailableError(
            f"database unavailable ({self.where}): the database file is missing: {self.path}, {made}, was removed or "
            "its volume is not mounted; nothing was made in its place. Restore the file from the home's backup "
            "(`fairtel backup`)",
            details={"database": self.where, "file": str(self.path)})


def describe(url: str | URL) -> str:
    """The database ``url`` names, fit for a message: backend, user, host, port and name, without the password
    or the query (which may carry one; a host given there, a socket directory, is said after the name)."""
    parsed = make_url(url)
    bare = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database)
    text = bare.render_as_string(hide_password=False)
    host = parsed.query.get("host")
    return f"{text} on {host if isinstance(host, str) else ','.join(host)}" if host and not parsed.host else text


# PostgreSQL states that say the server went away or cannot take the connection yet: connection exceptions,
# an administrator's or a crash's shutdown, a server starting up, too many connections
_TRANSIENT_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def connection_lost(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached or the connection to it broke (a server
    restarting, a network fault): an error that passes, where trying again later is right. A query's own error
    (a constraint, a missing table, a lock held too long) is not one."""
    if isinstance(error, exc.DisconnectionError | exc.TimeoutError):  # the pool's: no connection to be had
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:  # the dialect took the error for a lost connection
        return True
    if not isinstance(error, exc.OperationalError) or not type(error.orig).__module__.startswith("psycopg"):
        return False
    state = getattr(error.orig, "sqlstate", None)
    # no state: the client's own error (refused, closed, lost while connecting or reading)
    return state is None or str(state).startswith(_TRANSIENT_STATES)


# PostgreSQL state classes of a database that cannot be used at all: connection exceptions, login refused, no such
# database, an administrator's or a crash's shutdown, insufficient resources (disk full, too many connections)
_UNUSABLE_STATES = ("08", "28", "3D", "57P", "53")
# SQLite's primary result codes of the same: I/O error, disk full, cannot open the file
_UNUSABLE_SQLITE = frozenset({10, 13, 14})
# A lock not had in time: SQLite busy or locked (another connection held the database past the busy timeout);
# PostgreSQL lock_not_available (``lock_timeout``, ``NOWAIT``), deadlock_detected, serialization_failure
_BUSY_SQLITE = frozenset({5, 6})
_BUSY_STATES = ("55P03", "40P01", "40001")


class DatabaseBusyError(DatabaseUnavailableError):
    """The database is there and working, but another transaction held a lock this one needed for longer than it
    waits (``busy_timeout`` on SQLite, ``lock_timeout`` on PostgreSQL: ``connect``'s ``lock_wait_s``), or the two
    deadlocked: the request may be tried again at once. Not an outage: its code is its own. The message and
    ``details["operation"]`` name the statement that waited (``UPDATE subscribers``, ``SELECT ... FOR UPDATE from
    subscribers``, ``BEGIN IMMEDIATE``), never its values."""

    code = "database_busy"


def _busy(error: BaseException) -> bool:
    if not isinstance(error, exc.DBAPIError):
        return False
    orig = error.orig
    if isinstance(orig, sqlite3.Error):
        return (getattr(orig, "sqlite_errorcode", 0) & 0xFF) in _BUSY_SQLITE
    state = getattr(orig, "sqlstate", None)
    return state is not None and str(state).startswith(_BUSY_STATES)


# PostgreSQL insufficient_privilege: the login may connect but not use fairtel's tables (a role without grants,
# a read-only role meeting a migration): the database cannot be used as configured, whatever the statement
_PRIVILEGE_STATES = ("42501",)


def _unusable(error: BaseException) -> bool:
    if connection_lost(error):
        return True
    if isinstance(error, exc.DBAPIError) and str(getattr(error.orig, "sqlstate", "") or "").startswith(_PRIVILEGE_STATES):
        return True
    if not isinstance(error, exc.OperationalError):
        return False
    orig = error.orig
    if isinstance(orig, sqlite3.Error):
        return (getattr(orig, "sqlite_errorcode", 0) & 0xFF) in _UNUSABLE_SQLITE
    state = getattr(orig, "sqlstate", None)
    return state is None or str(state).startswith(_UNUSABLE_STATES)


def unavailable(error: BaseException) -> DatabaseUnavailableError | None:
    """``error`` as a ``DatabaseUnavailableError`` naming the database (never its password), when it says the
    database could not be used at all: a lost or refused connection, a database that does not exist, a login
    refused, a server shutting down or out of room, a SQLite file that cannot be opened. A lock not had in time
    (a SQLite database locked past its busy timeout, a PostgreSQL lock timeout or deadlock) is the subclass
    ``DatabaseBusyError`` (``database_busy``): the database works, another transaction was in the way. None for
    any other error (a query's own, such as a missing table, is a fault to be seen whole)."""
    busy = _busy(error)
    if not busy and not _unusable(error):
        return None
    where = getattr(error, _WHERE, None)
    cause = error.orig if isinstance(error, exc.DBAPIError) and error.orig is not None else error
    text = " ".join(str(cause).split("\n", 1)[0].split()) or type(cause).__name__
    details: dict[str, Any] = {"database": where} if where else {}
    if busy:
        operation = _operation(getattr(error, "statement", None))
        during = f" during {operation}" if operation else ""
        if operation:
            details["operation"] = operation
        return DatabaseBusyError(f"database busy{f' ({where})' if where else ''}: {text}{during}; another transaction "
                                 "held it longer than this one waits: try again", details=details)
    return DatabaseUnavailableError(f"database unavailable{f' ({where})' if where else ''}: {text}", details=details)


_NAME = r'"?[\w$]+"?(?:\."?[\w$]+"?)?'
_WRITE = re.compile(rf"\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+({_NAME})", re.IGNORECASE)
_READ = re.compile(rf"\s*(?:WITH\b.*?\)\s*)?SELECT\b.*?\bFROM\s+({_NAME})", re.IGNORECASE | re.DOTALL)


def _operation(statement: str | None) -> str | None:
    """What a statement did, fit for a message: its verb and table (``UPDATE subscribers``, ``SELECT ... FOR UPDATE
    from subscribers``), or its first words (``BEGIN IMMEDIATE``, ``ALTER TABLE users``); never its values (its
    parameters are apart from it, and a literal in it stays out)."""
    if not statement or not statement.strip():
        return None
    if found := _WRITE.match(statement):
        return f"{' '.join(found[1].upper().split())} {found[2].replace(chr(34), '')}"
    if found := _READ.match(statement):
        locking = " FOR UPDATE" if re.search(r"\bFOR\s+(NO\s+KEY\s+)?UPDATE\b", statement, re.IGNORECASE) else ""
        return f"SELECT ...{locking} from {found[1].replace(chr(34), '')}"
    words = [found[0] for w in statement.split()[:3] if (found := re.match(r"[A-Za-z_][\w.]*", w))]
    return " ".join(words)[:60] or None


def writer(engine: Engine) -> Engine:
    """``engine`` for transactions that read and then write. On SQLite they begin ``IMMEDIATE``: the write lock
    is taken, waiting on the busy timeout, when the transaction begins. Begun ``DEFERRED``, a transaction that has
    read holds a snapshot; when it comes to write after another connection committed, SQLite refuses the upgrade
    at once ("database is locked") without waiting, as waiting could not make that snapshot current. Other
    databases: ``engine`` itself (their writers wait on row locks)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def _postgresql_session(dbapi_connection: Any, _record: Any, *, lock_wait_ms: int) -> None:
    """Put the session in UTC, and bound its lock waits (``lock_timeout``, see ``connect``). Timestamps read back
    through the schema's types are UTC either way, but a textual query, a date cast or a ``date_trunc`` works in the
    session's zone, which otherwise comes from the server, the database or the client's ``PGTZ`` (a startup
    parameter that wins over ``-c TimeZone`` in the connection options, hence a ``SET`` once connected). Committed
    at once: a ``SET`` inside a transaction that is rolled back is undone, and the pool rolls back every checkin."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET TIME ZONE 'UTC'")
            cursor.execute(f"SET lock_timeout = {int(lock_wait_ms)}")
        finally:
            cursor.close()
    finally:
        dbapi_connection.autocommit = autocommit


_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def _sqlite_begin(conn: Connection) -> None:
    """SQLAlchemy, not the driver, starts SQLite transactions, so DDL is transactional too (the driver's
    own handling leaves it outside). ``execution_options(sqlite_begin="IMMEDIATE")`` takes the write
    lock up front: a second writer waits for the first instead of failing half-way."""
    mode = str(conn.get_execution_options().get("sqlite_begin", "DEFERRED")).upper()
    if mode not in _BEGIN_MODES:
        raise ValueError(f"sqlite_begin must be one of {sorted(_BEGIN_MODES)}, got {mode!r}")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int = round(LOCK_WAIT_S * 1000)) -> None:
    """Foreign keys, the busy timeout (``connect``'s ``lock_wait_s``), WAL, and ``secure_delete``: what is deleted or overwritten (an erased name, a
    complaint's words) is overwritten with zeros in the file, not left in its free pages or cells, whatever the
    SQLite library's own default (it is a build option; many builds have it on already). Its cost is writing the
    zeros on the pages a statement changes anyway: 500,000 inserts then an update and a delete of a third of them ran
    within the run-to-run noise with it on and off."""
    dbapi_connection.isolation_level = None  # see _sqlite_begin
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA secure_delete=ON")
        if cursor.execute("PRAGMA database_list").fetchone()[2]:  # a file, not :memory:
            _wal(cursor)
    finally:
        cursor.close()


def sqlite_checkpoint(engine: Engine) -> bool | None:
    """Copy a SQLite database's write-ahead log into its file and empty the log (``wal_checkpoint(TRUNCATE)``), after
    a change that removed personal data (an erasure, a retention run): until then the old pages, the removed words in
    them, stay in ``<db>-wal`` beside the file. Waits for readers as long as the busy timeout. True when the log was
    copied whole and emptied; False when a reader still held it past the timeout (the next checkpoint, at the latest
    the last connection's close, empties it); None for a database that is not a SQLite file."""
    if engine.dialect.name != "sqlite" or sqlite_file(engine.url) is None:
        return None
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            cursor.close()
    finally:
        raw.close()
    return not busy


WAL_WAIT_S = LOCK_WAIT_S  # as long as the default busy_timeout


def _wal(cursor: Any) -> None:
    """Switch to WAL, waiting while another connection holds the database. SQLite can answer the switch with
    "database is locked" at once, without its busy handler, while another process is creating the database
    or its WAL (seen with three processes migrating a new file at the same moment), so wait and try again."""
    deadline = time.monotonic() + WAL_WAIT_S
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)
