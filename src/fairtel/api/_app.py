"""``create_app(settings)``: the REST API as a FastAPI application."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError

from fairtel import __version__
from fairtel.api._cases import sync_findings
from fairtel.api._customers import keep_sort_keys, list_order
from fairtel.api._errors import install_error_handlers
from fairtel.api._guard import Guard
from fairtel.api._health import DatabaseFileGate, log, note_unavailable
from fairtel.api._health import router as health_router
from fairtel.api._metrics import CONTENT_TYPE, CountRequests, Metrics, MetricsAccess, ProductCounts, exposition
from fairtel.api._routes import router
from fairtel.api._services import ApiOptions, Assistant, HomeAssistant, Services
from fairtel.bootstrap import App, bootstrap
from fairtel.core.errors import ConfigError, DatabaseUnavailableError, FairtelError
from fairtel.core.settings import Settings

DESCRIPTION = """fairtel's REST API. Log in at `POST /api/v1/auth/token` (form fields `username`, `password`) and send
`Authorization: Bearer <token>` (`POST /api/v1/auth/logout` ends it), or send a system's `X-API-Key`. Errors always read
`{"error": {"code", "message", "details"}}` with a stable `code`; see docs/api.md."""


def create_app(
    settings: Settings,
    *,
    options: ApiOptions | None = None,
    assistant: Assistant | None = None,
    app: App | None = None,
    progress: Callable[[str], None] | None = None,
    metrics: MetricsAccess | None = None,
) -> FastAPI:
    """The API over the home ``settings`` names. Outside development a default secret is refused here.

    ``assistant`` overrides the home's (``HomeAssistant``: the care assistant of ``<home>/models/intents.joblib``,
    loaded when the server starts and looked at again while it runs, so that a model made later is taken up).
    ``app``: the stores already built from these same settings (a command serving its own home); built from
    other settings it is refused, since the services would use its settings and the rest of the API these.
    ``progress`` is told each slow step as it begins (loading the assistant's model now, reading the lake's findings
    when the server starts): ``fairtel serve`` says what it is doing before it listens.
    ``metrics``: who may read ``GET /metrics`` (default: ``MetricsAccess.from_environment``, ``FAIRTEL_METRICS_TOKEN``).

    A database gone when the server starts does not stop it: the start-up reads are tried again every
    ``STARTUP_RETRY_S`` until they succeed, and meanwhile every request needing the database, ``/api/v1/health``
    included, answers 503 ``database_unavailable``."""
    step = progress or (lambda _what: None)
    if app is not None and app.settings != settings:
        differ = sorted(name for name in type(settings).model_fields
                        if getattr(app.settings, name, None) != getattr(settings, name))
        raise ConfigError("create_app: the app was built from other settings than the ones given (they differ in "
                          f"{', '.join(differ) or 'their type'}); pass the app's own settings, or no app")
    settings.check_secrets()
    access = metrics or MetricsAccess.from_settings(settings)
    context = app or bootstrap(settings)
    # without an assistant given, the home's: its model loaded now when there is one (a model that cannot be loaded
    # stops the start), then followed while the server runs (a model made or replaced later is taken up)
    home_assistant = None if assistant is not None else HomeAssistant(settings, context)
    if home_assistant is not None:
        if home_assistant.path.is_file():
            step("loading the assistant's intent model")
        home_assistant.load_now()
    services = Services(context, options=options or ApiOptions(), assistant=assistant, home_assistant=home_assistant)

    def start_up(tell: Callable[[str], None] = step) -> None:
        tell("reading the findings in the usage lake")
        with context.db.begin() as conn:  # migrates on first use; then the findings `fairtel assure` left in the lake
            sync_findings(conn, context.lake)
        tell("ordering the subscriber list")
        with context.db.begin() as conn:  # every line's place in the subscriber list (all again after a new secret)
            keep_sort_keys(conn, list_order(services.pseudonyms))

    async def start_up_when_back() -> None:
        while True:
            await asyncio.sleep(STARTUP_RETRY_S)
            try:
                await asyncio.to_thread(start_up, lambda _what: None)  # the steps were said at the start
            except Exception as exc:
                if _outage(exc) is None:
                    log.exception("the start-up reads failed once the database was back")
                    return
                continue
            log.info("database available: the start-up reads are done")
            return

    @asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        later: asyncio.Task[None] | None = None
        try:
            start_up()
        except Exception as exc:
            problem = _outage(exc)
            if problem is None:
                raise
            note_unavailable(problem)
            step(f"{problem.message}: serving anyway (503 database_unavailable) and reading again every "
                 f"{STARTUP_RETRY_S:g} s until it is back")
            later = asyncio.create_task(start_up_when_back())
        # Everything loaded so far (modules, catalog, models) lives as long as the server: keep it out of the
        # collector's full passes, which would otherwise walk it all (~0.1 s) now and then, mid-request.
        gc.collect()
        gc.freeze()
        yield
        if later is not None:
            later.cancel()
            with suppress(asyncio.CancelledError):
                await later
        services.close()  # the audit rows still queued are committed first
        if app is None:
            context.close()

    api = FastAPI(
        title="fairtel",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; the console works offline
        redoc_url=None,
        lifespan=lifespan,
    )
    api.state.services = services
    install_error_handlers(api)
    _log_outages(api)
    # the health check first: it asks the database (``_health``), and answers in place of any other route of its path
    api.include_router(health_router)
    api.include_router(router)
    counted, counts = Metrics(), ProductCounts()

    def read_metrics(request: Request) -> Response:  # a thread of its own: the database check may wait
        headers = {k.lower(): v for k, v in request.headers.items()}
        access.check(request.client.host if request.client else None, headers)
        return Response(exposition(services, counted, counts), media_type=CONTENT_TYPE)

    # outside the API's schema: plain text for a monitor, read without a login (docs/operations.md)
    api.add_api_route("/metrics", read_metrics, methods=["GET"], include_in_schema=False)
    api.add_middleware(DatabaseFileGate, services=services)
    api.add_middleware(Guard, services=services)
    api.add_middleware(CountRequests, metrics=counted)  # outermost: a request the guard refuses is counted too
    return api


STARTUP_RETRY_S = 5.0
"""How often the start-up reads are tried again while the database that was gone when the server started is not back."""


def _outage(exc: BaseException) -> DatabaseUnavailableError | None:
    """``exc`` as the database outage it says (lost, refused, missing); None for any other failure."""
    from fairtel.store._engine import unavailable

    if isinstance(exc, DatabaseUnavailableError):
        return exc
    return unavailable(exc) if isinstance(exc, SQLAlchemyError) else None


def _log_outages(api: FastAPI) -> None:
    """The error handlers, each database outage a request meets logged once (``note_unavailable``) before it is
    answered 503: the answer alone would leave the server's log silent about it."""
    for kind in (FairtelError, SQLAlchemyError):
        answer = api.exception_handlers[kind]

        async def noted(request: Request, exc: Exception, answer: Any = answer) -> Response:
            if (problem := _outage(exc)) is not None:
                note_unavailable(problem)
            result: Response = await answer(request, exc)
            return result

        api.exception_handlers[kind] = noted
