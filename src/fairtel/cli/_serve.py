"""`fairtel serve`: the REST API and the web console; `fairtel users`: logins and API keys."""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, table
from fairtel.core.errors import ConfigError, ConflictError, FairtelError
from fairtel.core.settings import SECRET_FILE, Environment, Settings

HomeOpt = Annotated[Path | None, typer.Option("--home", help="fairtel home (default: FAIRTEL_HOME or ./var).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


SERVING_MARK = "serving.lock"
"""The file in the home that every ``fairtel serve`` of the home holds (a shared ``flock``, ``serving_home``) from
before it reads the home's key until it stops. A command that must not run under a server (``fairtel privacy
adopt-key``: a running server would go on with the old key) takes it alone (``unserved``). The lock is the marker,
not the file: a server killed leaves the file behind and holds nothing."""


class HomeServedError(ConflictError):
    """A command that must not run under a server of the home (``unserved``) while one runs: its own code, so that a
    script tells "stop the server first" from any other state conflict."""

    code = "home_served"


def _mark(home: Path) -> int:
    return os.open(Path(home) / SERVING_MARK, os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def serving_home(home: Path) -> Iterator[None]:
    """Hold ``home``'s serving mark, shared, for the block: any number of servers of the home hold it together. While
    a command holds it alone (a key adoption under way), refused at once (``conflict``) naming it."""
    fd = _mark(home)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError(f"the home {Path(home).absolute()} is taken by a key adoption (fairtel privacy "
                                "adopt-key) under way: serve it once that has ended",
                                details={"home": str(Path(home).absolute())}) from None
        yield
    finally:
        os.close(fd)  # releases the hold


@contextmanager
def unserved(home: Path, *, what: str) -> Iterator[None]:
    """Hold ``home``'s serving mark alone for the block, so that no server starts on the home meanwhile. A server
    running on the home (``serving_home``): refused at once (``HomeServedError``, ``home_served``), telling to stop
    every ``fairtel serve`` of the home first, in English and in Chinese. ``what``: the command, as the refusal names
    it."""
    where = Path(home).absolute()
    fd = _mark(home)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HomeServedError(f"a server (fairtel serve) is running on the home {where} (it holds "
                                  f"{where / SERVING_MARK}): stop every server of the home first, then run {what} "
                                  f"again / 该系统目录正由服务进程（fairtel serve）使用：请先停止该目录的所有服务进程，再运行 {what}",
                                  details={"home": str(where), "held": str(where / SERVING_MARK),
                                           "stop": "fairtel serve", "command": what}) from None
        yield
    finally:
        os.close(fd)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a host name (or "" / "0.0.0.0"-like): it may be reached from elsewhere
        return False


def exposure_warning(settings: Settings, host: str) -> str | None:
    """What to tell an operator serving the development environment on an address others can reach; None when
    the server stays on this machine or runs as test or production (where ``check_secrets`` refused a missing
    secret already). Warned, not refused: the key is never a public one (with none set, it is the home's own
    random ``secret.key``), so tokens cannot be forged nor pseudonyms reversed, and refusing would only stop a
    container or a test machine reached from outside. What development still leaves out (a secret the operator
    chose and keeps, session cookies marked Secure over plain http) a shared server needs: the warning says so."""
    if settings.environment is not Environment.DEVELOPMENT or is_loopback(host):
        return None
    keyed = "pseudonyms are" if settings.token_key is not None else "tokens and pseudonyms are"  # FAIRTEL_TOKEN_KEY signs tokens
    key = (f"{keyed} keyed by {settings.home.absolute() / SECRET_FILE} (no FAIRTEL_SECRET_KEY "
           "set): keep that file with the home and in its backups" if settings.secret_is_home_key
           else "FAIRTEL_SECRET_KEY is set")
    return (f"WARNING: serving the development environment on {host or 'every address'}, reachable from other "
            f"machines: {key}; session cookies are sent without the Secure flag over plain http. For a shared "
            "server set FAIRTEL_ENVIRONMENT=production and FAIRTEL_SECRET_KEY, and serve behind TLS.")


def say(step: str) -> None:
    """One line of what ``fairtel serve`` is doing, as it begins (plain text: the lines are read as they come)."""
    console.print(step, highlight=False, markup=False, soft_wrap=True)


def served_url(host: str, port: int) -> str:
    """The address the server is reached at, as a browser takes it (an IPv6 address in brackets)."""
    name = host.strip().strip("[]")
    return f"http://[{name}]:{port}/" if ":" in name else f"http://{name}:{port}/"


def probe_url(host: str, port: int) -> str:
    """Where this machine asks whether the server answers: every address (``0.0.0.0``, ``::``, ``""``) is asked on
    loopback, any other address as bound."""
    name = host.strip().strip("[]")
    if name in ("", "0.0.0.0"):
        name = "127.0.0.1"
    elif name == "::":
        name = "::1"
    return served_url(name, port) + "api/v1/health"


def address_in_use(host: str, port: int) -> str | None:
    """Why ``host``:``port`` cannot be bound now (the system's words), or None when it can. Asked before loading, so
    a port another server holds is said at once; it also keeps that server's answers from being taken for ours."""
    import socket

    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host.strip().strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed one's port is free
            sock.bind(address)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


ACCESS_LOGGER = "fairtel.access"  # one JSON object per line: each request answered, each unexpected error
UNMATCHED = "unmatched"  # the route of a request no route took: its path (which may hold a number) is never logged
# (``fairtel.api._metrics.UNMATCHED``: the access log and the metrics label a request alike, ``route_label``)


def log_config(level: str) -> dict[str, Any]:
    """Uvicorn's logging, with fairtel's own loggers written beside its lines (each worker process applies it): a
    database lost while serving, and found back, is said in the server's log, not only in the 503s answered. The
    access log (``ACCESS_LOGGER``, written by ``AccessLog``) goes to stderr as it is, one JSON object a line."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["fairtel"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    config["formatters"]["fairtel_json"] = {"format": "%(message)s"}
    config["handlers"]["fairtel_json"] = {"formatter": "fairtel_json", "class": "logging.StreamHandler",
                                          "stream": "ext://sys.stderr"}
    config["loggers"][ACCESS_LOGGER] = {"handlers": ["fairtel_json"], "level": level.upper(), "propagate": False}
    return config


def redact(text: str) -> str:
    """``text`` with every phone, ID-card or bank-card number in it masked (``fairtel.privacy.mask_msisdn``): for
    an error's words and traceback, which may quote a value (a statement's parameters never: the engines hide them)."""
    from fairtel.privacy import mask_msisdn, replace_numbers

    return replace_numbers(text, mask_msisdn)


class AccessLog:
    """Pure ASGI, outermost: one line per request answered in ``ACCESS_LOGGER`` at INFO, a JSON object with the
    instant (``ts``, UTC), ``method``, the template of the route that took it (``route``: ``/api/v1/bills/{period}``,
    the mount's path for a file of the console's ``/static``, ``UNMATCHED`` when none did: ``route_label``; never
    the path itself nor its query, which may hold numbers), ``status``, the duration (``ms``) and ``request_id``
    (the answer's ``X-Request-ID``, as the access audit records it). An error the application did not answer itself
    is logged here at ERROR, with the request id and its traceback, numbers masked (``redact``) and the request's
    own values left out (``request_values``), and not again by the API's guard nor by the server: the client had its
    500 already (given here when nothing was answered yet). The answer without an ``X-Request-ID`` (a 500 the
    server's error handler wrote) gets the id."""

    def __init__(self, app: Any, logger: Any = None) -> None:
        import logging

        self.app = app
        self.log = logger if logger is not None else logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import json
        import time

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from fairtel.api._guard import FAULTS_LOGGED

        began = time.perf_counter()
        status, request_id, started, finished = 500, None, False, False
        scope.setdefault("state", {})[FAULTS_LOGGED] = True  # a fault's one record is ours: the API's guard logs none

        async def noting(message: Any) -> None:
            nonlocal status, request_id, started, finished
            if message["type"] == "http.response.start":
                started, status = True, int(message["status"])
                headers = list(message.get("headers", []))
                request_id = next((v.decode("latin-1") for k, v in headers if k.lower() == b"x-request-id"), None)
                if request_id is None and (request_id := self._state_id(scope)) is not None:
                    message["headers"] = [*headers, (b"x-request-id", request_id.encode("latin-1"))]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, noting)
        except Exception as exc:  # the application's own 500 was answered (Starlette re-raises it to be logged)
            self._failed(scope, request_id or self._state_id(scope), exc)
            if not started:  # in the caller's language, as the API's own errors (``fairtel.api._error_words``)
                from fairtel.api._error_words import language_headers, language_of
                from fairtel.api._errors import error_body

                asked = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
                language = language_of(asked)
                body = json.dumps(error_body("internal_error", "an unexpected error; it has been logged", language=language),
                                  ensure_ascii=False, separators=(",", ":")).encode("utf-8")
                await send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"),
                    *[(k.lower().encode(), v.encode()) for k, v in language_headers(language).items()],
                    *([(b"x-request-id", request_id.encode("latin-1"))] if request_id else [])]})
                await send({"type": "http.response.body", "body": body})
                status = 500
            elif not finished:
                raise  # half an answer: the server ends the connection
        finally:
            if self.log.isEnabledFor(20):  # INFO
                self.log.info(self._line("request", scope, request_id or self._state_id(scope), status=status,
                                         ms=round((time.perf_counter() - began) * 1000, 1)))

    @staticmethod
    def _state_id(scope: Any) -> str | None:
        state = scope.get("state")
        found = state.get("request_id") if isinstance(state, dict) else None
        return found if isinstance(found, str) else None

    @staticmethod
    def _line(event: str, scope: Any, request_id: str | None, **fields: Any) -> str:
        import json
        from datetime import UTC, datetime

        from fairtel.api._metrics import route_label

        return json.dumps({"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event,
                           "method": scope.get("method", "GET"), "route": route_label(scope),
                           **fields, "request_id": request_id}, ensure_ascii=False, separators=(",", ":"))

    def _failed(self, scope: Any, request_id: str | None, exc: BaseException) -> None:
        """The one record of a fault (the API's guard answered it and logs nothing): its words and traceback with
        numbers masked and the request's own values (``request_values``) left out of every line that is not code."""
        import traceback

        values = request_values(scope)
        first = (str(exc).splitlines() or [""])[0]
        lines = "".join(traceback.format_exception(exc)).splitlines(keepends=True)
        # a frame's lines ("  File ...", its source) are the code's, not data: only the errors' own words are scrubbed
        told = "".join(line if line.startswith(" ") else leave_out(line, values) for line in lines)
        self.log.error(self._line("unexpected_error", scope, request_id, error=type(exc).__name__,
                                  message=redact(leave_out(first, values))[:500], traceback=redact(told)))


LEFT_OUT = "<request value>"


def request_values(scope: Any) -> list[str]:
    """What a request carried that an error's words may quote: its path as typed, its query, each query parameter's
    and path parameter's value (a name, a plan, a customer's words: personal data without a number in it too); the
    longest first, so a value inside another is not left half."""
    from urllib.parse import parse_qsl, unquote

    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    path = str(scope.get("path", ""))
    found = {path, query, unquote(query), *(v for _k, v in parse_qsl(query, keep_blank_values=True))}
    found.update(str(v) for v in (scope.get("path_params") or {}).values())
    return sorted((v for v in found if len(v.strip()) >= MIN_LEFT_OUT and v != "/"), key=len, reverse=True)


MIN_LEFT_OUT = 3  # a shorter value ("1", "en") is no one's data, and left out it would blank the words around it


def leave_out(text: str, values: list[str]) -> str:
    for value in values:
        text = text.replace(value, LEFT_OUT)
    return text


def logged_from_environment() -> Any:
    """``fairtel.web._factory.from_environment`` behind ``AccessLog``: each worker process's application."""
    from fairtel.web._factory import from_environment

    return AccessLog(from_environment())


def announce_when_serving(
    host: str, port: int, stop: threading.Event, ready: Callable[[], None], *, interval: float = 0.1
) -> bool:
    """Call ``ready`` once the server answers its health check on ``host``:``port`` (a connection alone is not it: with
    several workers the socket is bound before any worker has loaded), unless ``stop`` is set first. Proxies set in
    the environment are not used: the question is for this machine's own server. True when ``ready`` was called."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = probe_url(host, port)
    while not stop.is_set():
        try:
            with opener.open(url, timeout=2) as answer:
                if answer.status == 200:
                    ready()
                    return True
        except (OSError, ValueError):  # not listening yet (refused, reset, timed out), or not answering yet
            pass
        stop.wait(interval)
    return False


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        ctx: typer.Context,
        home: HomeOpt = None,
        host: Annotated[str | None, typer.Option("--host", help="Address to bind (default: FAIRTEL_API_HOST, 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option("--port", help="Port (default: FAIRTEL_API_PORT, 8000).")] = None,
        rate_limit: Annotated[float, typer.Option("--rate-limit", help="Requests per second per client; 0 turns the limit off.")] = 50.0,
        workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes.")] = 1,
        trusted_proxy: Annotated[list[str] | None, typer.Option(
            "--trusted-proxy",
            help="Address of a reverse proxy whose X-Forwarded-For names the client (repeatable). Without one the "
                 "header is ignored: any client could otherwise pick the address the login and request limits count.")] = None,
    ) -> None:
        """Serve the REST API (/api/v1, OpenAPI at /api/v1/openapi.json) and the web console (/)."""
        import uvicorn

        from fairtel.cli._context import home_of
        from fairtel.core.settings import load_settings, secure_home

        # the home's serving mark: held from before its key is read until the server stops
        with ExitStack() as held:
            try:
                where = load_settings(home=home_of(ctx, home)).home
                secure_home(where)  # a new home made, owner-only, before its mark is put in it (as bootstrapping does)
                held.enter_context(serving_home(where))
                context = app_for(ctx, home)
                settings = context.settings
                settings.check_secrets()
                # the database before anything is loaded or bound: one it cannot reach ends the command with
                # database_unavailable (exit status 2), as every other command, not with the server's failed start-up
                from fairtel.api._health import check_app_database

                check_app_database(context)
            except FairtelError as exc:
                raise fail(exc) from None
            bind_host, bind_port = host or settings.api_host, port or settings.api_port
            if (warning := exposure_warning(settings, bind_host)) is not None:
                err_console.print(warning, highlight=False, markup=False)
            if (taken := address_in_use(bind_host, bind_port)) is not None:  # said now, not after loading for a while
                raise fail(ConfigError(f"cannot serve on {served_url(bind_host, bind_port)}: {taken} (another server "
                                       "listens there?); choose another --port or stop that server"))
            forwarded, proxies = bool(trusted_proxy), ",".join(trusted_proxy or ()) or None
            # The address is printed once the server answers there, not before it has loaded (tens of seconds with an
            # assistant's model): someone opening it at once would find nothing listening. Until then, each step.
            url = served_url(bind_host, bind_port)
            serving = threading.Event()
            watcher = threading.Thread(
                target=announce_when_serving, name="fairtel-serve-ready", daemon=True,
                args=(bind_host, bind_port, serving, lambda: say(f"fairtel console ready at {url} (API: /api/v1, home {settings.home})")),
            )
            try:
                if workers == 1:
                    say("loading the API and the console")
                    from fairtel.api import ApiOptions
                    from fairtel.web import create_console

                    web = create_console(settings, options=ApiOptions(rate_per_second=rate_limit), app=context, progress=say)
                    say("starting the server")
                    watcher.start()
                    uvicorn.run(AccessLog(web), host=bind_host, port=bind_port, log_level=settings.log_level.lower(), access_log=False,
                                log_config=log_config(settings.log_level), proxy_headers=forwarded, forwarded_allow_ips=proxies)
                else:  # each process builds its own application from the environment
                    os.environ["FAIRTEL_HOME"] = str(settings.home)
                    os.environ["FAIRTEL_SERVE_RATE_LIMIT"] = str(rate_limit)
                    say(f"starting {workers} server processes: each loads the API, the console and the assistant")
                    watcher.start()
                    uvicorn.run(
                        "fairtel.cli._serve:logged_from_environment", factory=True, host=bind_host, port=bind_port, workers=workers,
                        log_level=settings.log_level.lower(), access_log=False, timeout_worker_healthcheck=60,
                        log_config=log_config(settings.log_level),
                        proxy_headers=forwarded, forwarded_allow_ips=proxies,
                    )
            finally:
                serving.set()  # stopped (or never started): nothing more to announce
                # the database's connections closed: SQLite's write-ahead log, old pages of erased words in it, is
                # checkpointed and removed by the last one
                context.close()

    users = typer.Typer(help="Logins for people and API keys for systems.", no_args_is_help=True)

    @users.command("add")
    def add(
        ctx: typer.Context,
        username: Annotated[str, typer.Argument(help="The login name; not a phone number, nor holding one (it is shown in the access audit).")],
        role: Annotated[str, typer.Option("--role", help="subscriber, agent, analyst, fraud_analyst or admin.")],
        msisdn: Annotated[str | None, typer.Option("--msisdn", help="A subscriber's own number.")] = None,
        password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Add a login. The password is read from standard input (--password-stdin) or asked for."""
        from fairtel.api import create_user
        from fairtel.cli._audit import audit_change

        password = sys.stdin.readline().rstrip("\r\n") if password_stdin else typer.prompt("password", hide_input=True, confirmation_prompt=True)
        try:
            with app_for(ctx, home) as context, context.db.begin() as conn:
                user = create_user(conn, username, password, role, msisdn=msisdn)
                # as the API records it (``user.create``), in the same transaction: no login without its row
                audit_change(ctx, context, conn, action="user.create", resource=f"user/{user.username}",
                             msisdn=user.msisdn, reason=f"role {user.role.value}")
        except (FairtelError, ValueError) as exc:
            err = exc if isinstance(exc, FairtelError) else FairtelError(str(exc))
            raise fail(err, as_json=as_json) from exc
        result = {"username": user.username, "role": user.role.value, "msisdn": user.msisdn}
        if as_json:
            print_json(result)
        else:
            console.print(f"added {user.username} ({user.role.value})", highlight=False)

    @users.command("list")
    def list_(ctx: typer.Context, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
        """The logins (numbers masked)."""
        from fairtel.api import list_users
        from fairtel.privacy import mask_msisdn

        with app_for(ctx, home) as context, context.db.connect() as conn:
            rows = list_users(conn)
        data = [{"username": u.username, "role": u.role.value, "msisdn": mask_msisdn(u.msisdn) if u.msisdn else None, "disabled": u.disabled} for u in rows]
        if as_json:
            print_json(data)
            return
        console.print(table("users", ["username", "role", "msisdn", "disabled"],  # staff logins have no line
                            [[d["username"], d["role"], d["msisdn"] or "", "yes" if d["disabled"] else ""] for d in data]))

    @users.command("key")
    def key(
        ctx: typer.Context,
        username: Annotated[str, typer.Argument(help="The user the system acts as.")],
        label: Annotated[str | None, typer.Option("--label", help="What the key is for.")] = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Make an API key for a system; it is printed once, only its hash is kept."""
        from fairtel.api import create_api_key
        from fairtel.cli._audit import audit_change, login_pseudonym

        try:
            with app_for(ctx, home) as context, context.db.begin() as conn:
                key_id, secret = create_api_key(conn, username, label=label)
                # as the API records it (``api_key.create``), in the same transaction: no key without its row
                audit_change(ctx, context, conn, action="api_key.create", resource=f"api_key/{key_id}",
                             reason=f"for {login_pseudonym(context, username)}")
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from exc
        if as_json:
            print_json({"key_id": key_id, "key": secret})
        else:
            console.print(f"{key_id}: {secret}\n(send it as the X-API-Key header; it is not shown again)", highlight=False)

    app.add_typer(users, name="users")
