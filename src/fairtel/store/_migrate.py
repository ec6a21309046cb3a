"""Alembic, configured in code: the migrations ship inside the package, no alembic.ini at run time."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from fairtel.core.errors import FairtelError, HomeMismatchError
from fairtel.store._engine import connect, describe

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_IN_PROCESS = threading.Lock()
_LOCK_KEY = 0x66616972_74656C  # "fairtel": the advisory lock PostgreSQL migrations take
_BIND_KEY = _LOCK_KEY + 1  # the one binding the database to its home
_HOME_ID_FILE = "home.id"  # where a home keeps its id (``fairtel.bootstrap.HOME_ID_FILE``)


class SchemaNewerError(FairtelError):
    """The database was migrated by a newer fairtel: its schema revision is not one this fairtel ships. Nothing is
    read or written (this fairtel does not know the tables); upgrading fairtel is the way out, never a downgrade
    of the database by an older one."""

    code = "database_schema_newer"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine_or_url: Engine | str, *, revision: str = "head") -> Engine:
    """Upgrade the database to ``revision`` (default: head). Safe to call on every start: a database
    already at head is left as it is. Returns the engine (made from the URL when one is given)."""
    engine = connect(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    # One migrator at a time: in this process (Alembic's context is process-global) and across processes
    # (SQLite: the write lock taken by BEGIN IMMEDIATE; PostgreSQL: an advisory lock). The others wait,
    # then find the database at head and do nothing.
    with _IN_PROCESS, engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # a migrator waits for another's migration however long it runs (then finds the database at head), not
                # the lock wait of ``connect``; the migration's own statements wait as long as any other's
                bounded = conn.scalar(text("SELECT current_setting('lock_timeout')"))
                conn.execute(text("SET LOCAL lock_timeout = 0"))
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                conn.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": bounded})
            cfg = alembic_config(conn)
            _refuse_unknown_revisions(conn, ScriptDirectory.from_config(cfg), engine)
            command.upgrade(cfg, revision)
    return engine


def _refuse_unknown_revisions(conn: Connection, script: ScriptDirectory, engine: Engine) -> None:
    """Raise ``SchemaNewerError`` when the database is at a revision this package does not ship: a newer fairtel
    migrated it (Alembic would only say it "can't locate revision")."""
    unknown: list[str] = []
    for rev in MigrationContext.configure(conn).get_current_heads():
        try:
            if script.get_revision(rev) is None:
                unknown.append(rev)
        except CommandError:
            unknown.append(rev)
    if unknown:
        head = script.get_current_head()
        raise SchemaNewerError(f"{describe(engine.url)}: the database schema (revision {', '.join(unknown)}) is newer "
                               f"than this fairtel (head {head}): upgrade fairtel")


@dataclass(frozen=True, slots=True)
class HomeBound:
    """The home a database serves (``home_binding``): its id, where it was and on which host when last bound."""

    home_id: str
    home_path: str
    host: str
    bound_at: datetime


def bound_home(engine: Engine) -> HomeBound | None:
    """The home the database serves, None when it serves none yet (new, or migrated from before 0018)."""
    from fairtel.store._schema import HomeBinding, table_of

    t = table_of(HomeBinding)
    with engine.connect() as conn:
        row = conn.execute(select(t.c.home_id, t.c.home_path, t.c.host, t.c.bound_at)).first()
    return None if row is None else HomeBound(*row)


def bind_home(engine: Engine, *, home_id: str, home_path: str, host: str, replace: bool = False) -> HomeBound:
    """Bind the database to the home ``home_id`` when it serves none yet (or ``replace``: a deliberate move), and
    keep its path and host current when it is that home's. Returns the binding in force: another home's when the
    database serves another (the caller refuses), also one bound meanwhile by another process (binds are taken one
    at a time). A copy of the home it serves, at another path while that home is still there, is refused
    (``HomeMismatchError``, see ``_refuse_a_copy``)."""
    from fairtel.store._schema import HomeBinding, table_of

    t = table_of(HomeBinding)
    mine = {"home_id": home_id, "home_path": home_path, "host": host}
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BIND_KEY})
            row = conn.execute(select(t.c.home_id, t.c.home_path, t.c.host, t.c.bound_at)).first()
            now = datetime.now(UTC)
            if row is None:
                conn.execute(insert(t).values(slot=1, bound_at=now, **mine))
                return HomeBound(bound_at=now, **mine)
            found = HomeBound(*row)
            if found.home_id != home_id and not replace:
                return found
            if (found.home_id, found.home_path, found.host) == (home_id, home_path, host):
                return found
            if not replace and found.home_id == home_id:
                _refuse_a_copy(engine, found, home_path=home_path, host=host)
            conn.execute(update(t).where(t.c.slot == 1).values(bound_at=now, **mine))
            return HomeBound(bound_at=now, **mine)


def _refuse_a_copy(engine: Engine, found: HomeBound, *, home_path: str, host: str) -> None:
    """Refuse a home that carries the database's home id at another path on this host while the home the database
    was bound at is still there with that id: it is a copy of that home (``cp -r``, a backup restored beside it),
    and its ledger, copied at one moment, would take again the files the other home takes after. A home moved (the
    old path gone, or holding another id now), mounted at another path (the same directory under another name),
    or opened from another host (whose directories cannot be seen from here) keeps its binding, path and host
    brought up to date."""
    if found.host != host or _database_in(engine, Path(home_path)):
        return
    theirs, ours = Path(found.home_path) / _HOME_ID_FILE, Path(home_path) / _HOME_ID_FILE
    try:
        if theirs.read_text(encoding="utf-8").strip() != found.home_id or os.path.samefile(theirs, ours):
            return
    except OSError:  # gone (a move), or not readable from here: nothing says it is still in use
        return
    raise HomeMismatchError(
        f"the database {describe(engine.url)} serves the home {found.home_id} at {found.home_path} (host "
        f"{found.host}, bound {found.bound_at:%Y-%m-%d %H:%M:%S}), and that home is still there with the same id: "
        f"this home {home_path} is a copy of it. The ledger of the files already taken is each home's own, so files "
        f"billed there would be taken and charged again from here. Use the home at {found.home_path}; to give a copy "
        "its own database, give it its own FAIRTEL_DATABASE_URL and remove the copy's home.id (a new id is made); "
        "to move the database to this home on purpose, stop every process of the other home and run "
        "`fairtel home adopt` with this home (so too for a restore drill beside the live home, on a restored copy "
        "of its database: `fairtel home adopt` with the drill's home and its own FAIRTEL_DATABASE_URL)",
        details={"database": describe(engine.url), "database_home_id": found.home_id,
                 "database_home_path": found.home_path, "home": home_path, "home_id": found.home_id,
                 "copy_of": found.home_path})


def _database_in(engine: Engine, home: Path) -> bool:
    """Whether the database is the home's own (a SQLite file inside it, copied along with a copied home, or one in
    memory): no other home uses it, so a copy of a home on it is a home of its own, not a second one on a shared
    database."""
    if engine.url.get_backend_name() != "sqlite":
        return False
    database = engine.url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return True
    return Path(database.removeprefix("file:").split("?")[0]).resolve().is_relative_to(home)


def autogenerate_revision(message: str, *, rev_id: str, scratch_url: str = "sqlite://") -> None:
    """Write a new migration from the difference between ``_schema.py`` and head (development only):
    migrates a scratch database to head, compares, writes ``migrations/versions/<rev_id>_<message>.py``."""
    engine = migrate(connect(scratch_url))
    with engine.begin() as conn:
        command.revision(alembic_config(conn), message=message, autogenerate=True, rev_id=rev_id)
    engine.dispose()
