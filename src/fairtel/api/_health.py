"""Whether this server can answer: the health check a load balancer or monitor polls, and ``fairtel serve``'s
check before it starts. The database is asked (``SELECT 1``, through the pool, waited for at most
``READY_TIMEOUT_S``): a server whose database is gone answers 503 ``database_unavailable``, as every other
endpoint would, instead of "ok"."""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from fastapi import APIRouter
from pydantic import BaseModel

from fairtel.api._deps import Svc
from fairtel.api._errors import ErrorOut
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


def check_database(engine: Engine, *, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Raise ``DatabaseUnavailableError`` (naming the database, never its password) unless ``engine``'s database
    answers ``SELECT 1`` within ``timeout_s``. A check already under way is waited for rather than another begun."""
    import time

    from fairtel.store._engine import describe, unavailable

    now = time.monotonic()
    with _lock:
        last = _fresh.get(engine)
        if last is not None and now - last < FRESH_S:
            return
        asking = _pending.get(engine)
        if asking is None or asking.done():
            asking = _pending[engine] = _ask(engine)
    where = describe(engine.url)
    try:
        asking.result(timeout=timeout_s)
    except FutureTimeout:
        raise DatabaseUnavailableError(f"database unavailable ({where}): no answer to SELECT 1 within {timeout_s:g} s",
                                       details={"database": where}) from None
    except FairtelError:
        raise
    except Exception as exc:  # any failure to answer SELECT 1 is a database that cannot serve
        problem = unavailable(exc)
        if problem is None:
            text = " ".join(str(exc).split("\n", 1)[0].split()) or type(exc).__name__
            problem = DatabaseUnavailableError(f"database unavailable ({where}): {text}", details={"database": where})
        raise problem from None
    with _lock:
        _fresh[engine] = time.monotonic()


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
    check_database(engine)


class Health(BaseModel):
    status: str
    version: str


router = APIRouter(prefix="/api/v1")


def ready(services: Services) -> Health:
    """The answer of ``GET /api/v1/health``: ok with the version once the database answers; else
    ``DatabaseUnavailableError`` (503 ``database_unavailable``, with ``Retry-After``)."""
    from fairtel import __version__

    check_database(services.app.db)
    return Health(status="ok", version=__version__)


@router.get("/health", tags=["system"], operation_id="health", summary="Whether the server can answer: its database included",
            responses={503: {"model": ErrorOut, "description": "The database did not answer (database_unavailable)"}})
def health(svc: Svc) -> Health:
    """200 ``{"status": "ok", "version"}`` once the database answers ``SELECT 1`` (within 2 s); 503
    ``database_unavailable`` naming the database, with ``Retry-After``, when it does not. No login needed."""
    return ready(svc)
