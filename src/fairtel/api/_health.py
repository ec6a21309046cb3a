"""Whether this server can answer: the health check a load balancer or monitor polls, and ``fairtel serve``'s
check before it starts. The database is asked (``SELECT 1``, through the pool, waited for at most
``READY_TIMEOUT_S``): a server whose database is gone answers 503 ``database_unavailable``, as every other
endpoint would, instead of "ok". A SQLite file removed under the server is said to be missing, not answered from
the removed file by the connections still open on it.

An outage is logged once when it is first met (by a check or by a request, ``note_unavailable``), and once more when
a check finds the database back (the ``fairtel.api`` logger, a warning and an info line)."""

from __future__ import annotations

import logging
import threading
import weakref
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from fairtel.api._deps import Svc
from fairtel.api._error_words import language_of
from fairtel.api._errors import DATABASE_RETRY_AFTER_S, ErrorOut, error_response
from fairtel.core.errors import DatabaseUnavailableError, FairtelError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from fairtel.api._services import Services
    from fairtel.bootstrap import App

READY_TIMEOUT_S = 2.0  # a database slower than this to answer SELECT 1 counts as unavailable
FRESH_S = 1.0  # a check that succeeded this recently answers the next one (a monitor polling every few ms)

_lock = threading.Lock()
# per engine: the check under way (one at a time: a hung database does not pile up waiting threads), and when one last
# succeeded (``time.monotonic``)
_pending: weakref.WeakKeyDictionary[Engine, Future[None]] = weakref.WeakKeyDictionary()
_fresh: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
# per SQLite engine: the file (device, inode) its connections were opened on
_files: weakref.WeakKeyDictionary[Engine, tuple[int, int]] = weakref.WeakKeyDictionary()
# the databases (``describe``) found unavailable and not yet found back, with what was said of them
_down: dict[str, str] = {}

log = logging.getLogger("fairtel.api")


def note_unavailable(problem: DatabaseUnavailableError) -> None:
    """Log ``problem`` (a database that cannot be used; a busy one is not an outage) as a warning, once per outage of
    its database: each request of an outage answers 503, the log says it began and, later, that it ended."""
    if problem.code != "database_unavailable":
        return
    where = str(problem.details.get("database") or "")
    with _lock:
        _fresh.clear()  # no check's success from before it answers for the database now
        if where in _down:
            return
        _down[where] = problem.message
    log.warning("%s; answering 503 database_unavailable until it is back", problem.message)


def _note_available(where: str) -> None:
    with _lock:
        was = _down.pop(where, None)
        _down.pop("", None)  # an outage met by a request whose error did not name its database
    if was is not None:
        log.info("database available again (%s)", where)


def _sqlite_file(engine: Engine) -> Path | None:
    """The file a SQLite engine opens; None for a server database or one in memory."""
    url = engine.url
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def _check_file(engine: Engine, where: str | None = None, *, made: bool = False) -> None:
    """A SQLite file removed under the server: its pooled connections would go on reading and writing the removed
    file, which nothing sees again. They are closed, and the database is unavailable until a file is back there
    (restored: new connections open it). A file not seen yet is missing only when ``made`` (the engine was migrated:
    its file was there); else the first connection makes it, as SQLite does."""
    path = _sqlite_file(engine)
    if path is None:
        return
    try:
        found = path.stat()
    except FileNotFoundError:
        with _lock:
            seen = engine in _files
        if not (seen or made):
            return
        engine.dispose()
        with _lock:
            _files.pop(engine, None)
            _fresh.pop(engine, None)
        from fairtel.store._engine import describe

        named = where or describe(engine.url)
        raise DatabaseUnavailableError(f"database unavailable ({named}): the database file is missing",
                                       details={"database": named}) from None
    identity = (found.st_dev, found.st_ino)
    with _lock:
        known = _files.get(engine)
        _files[engine] = identity
    if known is not None and known != identity:  # another file now (restored from a backup): open it anew
        engine.dispose()
        with _lock:
            _fresh.pop(engine, None)


def _select_one(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1").scalar()


def _ask(engine: Engine) -> Future[None]:
    """``_select_one`` on a thread of its own, a daemon: one stuck on a database that never answers (a network that
    drops packets) neither holds up the process's exit nor a worker the server needs."""
    answer: Future[None] = Future()

    def run() -> None:
        try:
            _select_one(engine)
        except BaseException as exc:
            answer.set_exception(exc)
        else:
            answer.set_result(None)

    threading.Thread(target=run, name="fairtel-health", daemon=True).start()
    return answer


def check_database(engine: Engine, *, timeout_s: float = READY_TIMEOUT_S, migrated: bool = False) -> None:
    """Raise ``DatabaseUnavailableError`` (naming the database, never its password) unless ``engine``'s database
    answers ``SELECT 1`` within ``timeout_s``. A check already under way is waited for rather than another begun.
    ``migrated``: the engine's database was made and migrated (``App.db``), so a SQLite file missing was removed."""
    import time

    from fairtel.store._engine import describe, unavailable

    where = describe(engine.url)
    try:
        _check_file(engine, where, made=migrated)
    except DatabaseUnavailableError as missing:
        note_unavailable(missing)
        raise
    now = time.monotonic()
    with _lock:
        last = _fresh.get(engine)
        if last is not None and now - last < FRESH_S:
            return
        asking = _pending.get(engine)
        if asking is None or asking.done():
            asking = _pending[engine] = _ask(engine)
    try:
        asking.result(timeout=timeout_s)
    except FutureTimeout:
        problem: FairtelError = DatabaseUnavailableError(
            f"database unavailable ({where}): no answer to SELECT 1 within {timeout_s:g} s", details={"database": where})
    except FairtelError as exc:
        problem = exc
    except Exception as exc:  # any failure to answer SELECT 1 is a database that cannot serve
        found = unavailable(exc)
        if found is None:
            text = " ".join(str(exc).split("\n", 1)[0].split()) or type(exc).__name__
            found = DatabaseUnavailableError(f"database unavailable ({where}): {text}", details={"database": where})
        problem = found
    else:
        with _lock:
            _fresh[engine] = time.monotonic()
        _note_available(where)
        return
    if isinstance(problem, DatabaseUnavailableError):
        note_unavailable(problem)
    raise problem from None


def check_app_database(app: App) -> None:
    """``check_database`` of a home's database, made ready first (connected and migrated, ``App.db``): what ``fairtel
    serve`` asks before it starts the server, so that a database it cannot reach ends it with
    ``database_unavailable`` (exit status 2), not a failed start-up's traceback."""
    from fairtel.store._engine import unavailable

    try:
        engine = app.db
    except FairtelError:
        raise
    except Exception as exc:
        problem = unavailable(exc)
        if problem is None:
            raise
        raise problem from None
    check_database(engine, migrated=True)


class DatabaseFileGate:
    """Pure ASGI, inside the guard: on SQLite, a request that comes while the database file is missing is answered 503
    ``database_unavailable`` at once. Let through, it would open a connection, and SQLite would make a new, empty
    file there, which the request would meet as missing tables (a 500) and which later checks would take for the
    database. The static files and ``/metrics`` (which reports the database down) pass."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.services.app.__dict__.get("db")  # none before the first use: nothing opened to lose yet
        if scope["type"] == "http" and engine is not None and not str(scope.get("path", "")).startswith(_UNGATED):
            try:
                _check_file(engine, made=True)
            except DatabaseUnavailableError as problem:
                note_unavailable(problem)
                asked = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
                answer = error_response(problem, headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)}, language=language_of(asked))
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


_UNGATED = ("/static/", "/metrics")


class Health(BaseModel):
    status: str
    version: str


router = APIRouter(prefix="/api/v1")


def ready(services: Services) -> Health:
    """The answer of ``GET /api/v1/health``: ok with the version once the database answers; else
    ``DatabaseUnavailableError`` (503 ``database_unavailable``, with ``Retry-After``)."""
    from fairtel import __version__

    check_database(services.app.db, migrated=True)
    return Health(status="ok", version=__version__)


@router.get("/health", tags=["system"], operation_id="health", summary="Whether the server can answer: its database included",
            responses={503: {"model": ErrorOut, "description": "The database did not answer (database_unavailable)"}})
def health(svc: Svc) -> Health:
    """200 ``{"status": "ok", "version"}`` once the database answers ``SELECT 1`` (within 2 s); 503
    ``database_unavailable`` naming the database, with ``Retry-After``, when it does not. No login needed."""
    return ready(svc)
