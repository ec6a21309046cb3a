"""Engines: SQLite (the default, a file under the home) or PostgreSQL, configured the same way everywhere."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url


def connect(url: str, *, schema: str | None = None, **engine_options: Any) -> Engine:
    """An engine for ``url``.

    SQLite gets foreign keys enforced, WAL journaling (readers do not block the writer) and a busy timeout.
    On PostgreSQL, ``schema`` puts every table (and Alembic's version table) in that schema through the
    connection's ``search_path``, so two deployments or test runs can share one database; and every session
    runs in UTC, whatever the server, the database or the client's ``PGTZ`` says.
    """
    parsed = make_url(url)
    options = dict(engine_options)
    if parsed.get_backend_name() == "postgresql" and schema:
        args = dict(options.pop("connect_args", {}))
        args["options"] = f"{args.get('options', '')} -csearch_path={schema}".strip()
        options["connect_args"] = args
    engine = create_engine(parsed, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _postgresql_utc, insert=True)
    return engine


def _postgresql_utc(dbapi_connection: Any, _record: Any) -> None:
    """Put the session in UTC. Timestamps read back through the schema's types are UTC either way, but
    a textual query, a date cast or a ``date_trunc`` works in the session's zone, which otherwise comes
    from the server, the database or the client's ``PGTZ`` (a startup parameter that wins over
    ``-c TimeZone`` in the connection options, hence a ``SET`` once connected). Committed at once: a
    ``SET`` inside a transaction that is rolled back is undone, and the pool rolls back every checkin."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET TIME ZONE 'UTC'")
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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # see _sqlite_begin
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if cursor.execute("PRAGMA database_list").fetchone()[2]:  # a file, not :memory:
            _wal(cursor)
    finally:
        cursor.close()


WAL_WAIT_S = 30.0  # as long as busy_timeout


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
