"""``create_app(settings)``: the REST API as a FastAPI application."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fairtel import __version__
from fairtel.api._cases import sync_findings
from fairtel.api._customers import keep_sort_keys, list_order
from fairtel.api._errors import install_error_handlers
from fairtel.api._guard import Guard
from fairtel.api._health import router as health_router
from fairtel.api._routes import router
from fairtel.api._services import ApiOptions, Assistant, Services, find_assistant
from fairtel.bootstrap import App, bootstrap
from fairtel.core.errors import ConfigError
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
) -> FastAPI:
    """The API over the home ``settings`` names. Outside development a default secret is refused here.

    ``assistant`` overrides the care package's (found through ``fairtel.care.load_assistant`` when present).
    ``app``: the stores already built from these same settings (a command serving its own home); built from
    other settings it is refused, since the services would use its settings and the rest of the API these.
    ``progress`` is told each slow step as it begins (loading the assistant's model now, reading the lake's findings
    when the server starts): ``fairtel serve`` says what it is doing before it listens."""
    step = progress or (lambda _what: None)
    if app is not None and app.settings != settings:
        differ = sorted(name for name in type(settings).model_fields
                        if getattr(app.settings, name, None) != getattr(settings, name))
        raise ConfigError("create_app: the app was built from other settings than the ones given (they differ in "
                          f"{', '.join(differ) or 'their type'}); pass the app's own settings, or no app")
    settings.check_secrets()
    context = app or bootstrap(settings)
    if assistant is None and (settings.models_dir / "intents.joblib").is_file():  # what ``find_assistant`` loads
        step("loading the assistant's intent model")
    services = Services(context, options=options or ApiOptions(), assistant=assistant or find_assistant(settings, context))

    @asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        step("reading the findings in the usage lake")
        with context.db.begin() as conn:  # migrates on first use; then the findings `fairtel assure` left in the lake
            sync_findings(conn, context.lake)
        step("ordering the subscriber list")
        with context.db.begin() as conn:  # every line's place in the subscriber list (all again after a new secret)
            keep_sort_keys(conn, list_order(services.pseudonyms))
        # Everything loaded so far (modules, catalog, models) lives as long as the server: keep it out of the
        # collector's full passes, which would otherwise walk it all (~0.1 s) now and then, mid-request.
        gc.collect()
        gc.freeze()
        yield
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
    # the health check first: it asks the database (``_health``), and answers in place of any other route of its path
    api.include_router(health_router)
    api.include_router(router)
    api.add_middleware(Guard, services=services)
    return api
