"""The outer layer every request passes: a request id, limits on body size and rate, security headers, and the
checks of what a request carries that hold for every route (no NUL character in any text, a JSON body that is
UTF-8, not nested past ``MAX_JSON_DEPTH``, with no key twice)."""

from __future__ import annotations

import email.message
import html
import itertools
import json
import logging
import re
import secrets
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote_plus

from starlette.routing import Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fairtel.api._error_words import CHINESE, MESSAGES, language_headers, language_of
from fairtel.api._errors import (
    ASKED_METHOD,
    RateLimitedError,
    RequestTooLargeError,
    api_template,
    error_body,
    error_details,
    methods_at,
    path_parameter_holding,
    status_for,
)
from fairtel.api._services import Services, client_key
from fairtel.core.errors import FairtelError, InvalidInputError, Problem
from fairtel.privacy import has_number

log = logging.getLogger("fairtel.api")
FAULTS_LOGGED = "fairtel.faults_logged"
"""A key of a request's ``state``: set by a server's access log that records a fault itself (``fairtel serve``)."""
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ID_PREFIX = secrets.token_hex(4)  # this process; a counter numbers its requests (cheaper than random bytes each)
_ids = itertools.count(1)
_RECORDED_ID_LENGTH = 64  # the audit's request id: ours, "~", then as much of the caller's as fits
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    # The console runs no script and embeds nothing: anything else a page might be made to load is refused. A
    # ``<base>`` injected into a page would re-point every relative link and form, so base-uri is closed too
    # (it does not fall back to default-src, nor do form-action and frame-ancestors).
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; object-src 'none'; "
                                 b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


MAX_IN_FLIGHT = 8
"""Requests of one caller (a login, or an API key's login) under way at once; past them, 429 at once. The
database's connections are few (a server database's pool: 5, and 10 more for a moment), and a request holds one
until it answers: a caller sending dozens at once would hold them all and keep everyone else waiting, then
failing. A person's browser opens about six connections to a site; a system sends its requests a few at a time."""
IN_FLIGHT_RETRY_AFTER_S = 1


class InFlight:
    """Requests under way per caller (``enter`` and ``leave``, in memory: one server process). One over ``limit``
    is refused (``RateLimitedError``, 429 with ``Retry-After``) before it takes anything, a connection least of
    all. ``limit`` 0: no limit."""

    def __init__(self, limit: int = MAX_IN_FLIGHT) -> None:
        self.limit = limit
        self._under_way: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, key: str) -> None:
        with self._lock:
            n = self._under_way.get(key, 0)
            if self.limit > 0 and n >= self.limit:
                raise RateLimitedError(f"{n} requests of yours are under way already (at most {self.limit} at once); "
                                       "send the next when one has answered",
                                       details={"retry_after_s": IN_FLIGHT_RETRY_AFTER_S, "in_flight_limit": self.limit})
            self._under_way[key] = n + 1

    def leave(self, key: str) -> None:
        with self._lock:
            n = self._under_way.get(key, 0) - 1
            if n > 0:
                self._under_way[key] = n
            else:
                self._under_way.pop(key, None)

    def under_way(self, key: str) -> int:
        with self._lock:
            return self._under_way.get(key, 0)


class Guard:
    """Pure ASGI (no per-request task switching): cheap enough for every request."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "HEAD":  # every answer without its body, whoever sends it (a refusal here too)
            send = _bodiless(send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = request_id_for(headers.get("x-request-id", ""))
        scope.setdefault("state", {})["request_id"] = request_id
        limit = self.services.options.max_body_bytes
        api = str(scope.get("path", "")).startswith("/api/")

        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            length = 0
        try:
            if length > limit:
                raise RequestTooLargeError(f"request body over {limit} bytes")
            if api:
                _refuse_repeated_parameters(scope)
                _refuse_nul_in_url(scope)
            client = (scope.get("client") or ("?", 0))[0]
            self.services.limiter.check(f"ip:{client_key(client)}")
        except FairtelError as exc:
            await self._refuse(send, exc, request_id, language_of(headers))
            return
        if scope.get("method") == "OPTIONS" and (allowed := methods_at(scope["app"], scope) if "app" in scope else []):
            # what the path answers, to anyone (the API's schema says as much); no CORS: no Access-Control-* header.
            # Answered before routing: the route the path takes is named here, for the access log and the metrics
            _name_route(scope)
            await send({"type": "http.response.start", "status": 204, "headers": [
                (b"allow", ", ".join(allowed).encode()), (b"x-request-id", request_id.encode()), *SECURITY_HEADERS]})
            await send({"type": "http.response.body", "body": b""})
            return
        # HEAD is GET without the body (``_bodiless``): the route, its login and permission checks and its answer's
        # headers are the GET's, so a HEAD tells no one more than the GET would. The server's own scope keeps HEAD
        # (it sends no body for it); what the router notes in the copy (the route taken) is brought back.
        inner = {**scope, "method": "GET"} if scope.get("method") == "HEAD" else scope
        head = _Head() if inner is not scope else None
        if head is not None:
            scope["state"][ASKED_METHOD] = "HEAD"  # what a 405 names: the method sent, not the GET it is routed as
            send = _withholding(send, head)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLargeError(f"request body over {limit} bytes")
            return message

        inner_receive: Receive = limited_receive
        if api and scope.get("method") in _WITH_BODY:
            # the body read whole here (at most ``limit`` bytes, chunked or not) and checked before any route reads it
            try:
                body, more = await _read_body(receive, limit)
                if more is None:  # the client went away
                    return
                if body:
                    _check_body(headers.get("content-type", ""), body, login=str(scope["path"]).endswith(LOGIN_PATH))
            except FairtelError as exc:
                await self._refuse(send, exc, request_id, language_of(headers))
                return
            inner_receive = _replay(body, receive)

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                extra = [(b"x-request-id", request_id.encode())]
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        answering = _HEAD.set(head)  # seen by the routes (``withhold_body``): their threads run in a copy of this context
        try:
            await self.app(inner, inner_receive, send_with_headers)
        except Exception as exc:
            if started:
                raise
            # a fault: answered here, with the request id a caller reports it by and the headers of every answer.
            # Under ``fairtel serve`` its one record is the access log's (with the request id, the route template and
            # the traceback, the request's own values left out), which marks the request's state (``FAULTS_LOGGED``):
            # nothing is logged here then. Served otherwise, a line names the request, the route template and the kind
            # of error (its own text may hold the request's data: the server's traceback follows, as for any fault)
            if not scope["state"].get(FAULTS_LOGGED):
                route = inner.get("route")
                log.error("request %s (%s %s) failed: %s; answered 500 internal_error", request_id, scope.get("method"),
                          getattr(route, "path", "?"), type(exc).__name__)
            said: list[tuple[bytes, bytes]] = []
            if not api and "text/html" in headers.get("accept", ""):  # a browser at a console page: a page, in both languages
                body, kind = _fault_page(request_id), b"text/html; charset=utf-8"
            else:
                language = language_of(headers)
                message = f"an unexpected error; it has been logged (request {request_id})"
                if language == CHINESE:
                    message = f"{MESSAGES['internal_error'][1]}如需协助，请提供请求编号 {request_id}。"
                body = _compact({"error": {"code": "internal_error", "message": message}})
                kind = b"application/json"
                said = [(k.lower().encode(), v.encode()) for k, v in language_headers(language).items()]
            await send_with_headers({"type": "http.response.start", "status": 500,
                                     "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *said]})
            await send_with_headers({"type": "http.response.body", "body": body})
            raise  # the server logs its traceback; the outer error handler sees the answer sent and sends none
        finally:
            _HEAD.reset(answering)
            if inner is not scope:
                scope.update({k: inner[k] for k in _ROUTED_KEYS if k in inner})
            if "route" not in scope and "endpoint" in scope:  # a plain route (the schema's): named as an API route is
                _name_route(scope)

    @staticmethod
    async def _refuse(send: Send, exc: FairtelError, request_id: str, language: str) -> None:
        body = _compact(error_body(exc.code, exc.message, error_details(exc) or None, language=language))
        headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode()), *SECURITY_HEADERS,
                                              *((k.lower().encode(), v.encode()) for k, v in language_headers(language).items())]
        if isinstance(exc, RateLimitedError):
            headers.append((b"retry-after", str(exc.details.get("retry_after_s", 1)).encode()))
        start: dict[str, Any] = {"type": "http.response.start", "status": status_for(exc.code), "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})


_ROUTED_KEYS = ("route", "endpoint", "path_params")
"""What the router notes in a request's scope: a HEAD's, noted in its GET copy, is brought back for the access log."""


class _Template(NamedTuple):
    """A route as the access log and the metrics read it (its ``path`` template), for a request no router took."""

    path: str


def _name_route(scope: Scope) -> None:
    """Note in ``scope`` the route its path takes, for the access log and the metrics to name the request by (they
    read ``route.path``, as the router notes an API route): for an OPTIONS, answered before routing, the first
    template of the API's schema taking the path, or at a console page (or the static files), the first route of
    the application taking it, which names its GET too (``/customers/{msisdn}``, never the number); for a plain
    route (the schema's own), the route that answered (``endpoint``)."""
    app = scope.get("app")
    if app is None:
        return
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for route in getattr(app.router, "routes", ()):
            if getattr(route, "endpoint", None) is endpoint and isinstance(getattr(route, "path", None), str):
                scope["route"] = route
                return
        return
    if str(scope.get("path", "")).startswith("/api/"):
        template = api_template(app, str(scope["path"]))
        if template is not None:
            scope["route"] = _Template(template)
        return
    path = str(scope.get("path", ""))
    for template, regex in _page_templates(app):  # a console page (or the static files), in the router's order
        if regex.match(path):
            scope["route"] = _Template(template)
            return


def _page_templates(app: Any) -> list[tuple[str, re.Pattern[str]]]:
    """The path template of every route of ``app`` (an included router's each, under its prefix; a mount's path
    and whatever is below it), compiled as the router matches it; read once per application."""
    known: list[tuple[str, re.Pattern[str]]] | None = getattr(app.state, "page_templates", None)
    if known is None:
        known = []

        def add(routes: Any, prefix: str) -> None:
            for route in routes:
                inner = getattr(route, "original_router", None)  # a router included whole (its routes are kept in it)
                if inner is not None:
                    context = getattr(route, "include_context", None)
                    add(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
                elif isinstance(route, Mount):
                    known.append((prefix + route.path, re.compile(f"^{re.escape(prefix + route.path)}(/|$)")))
                elif isinstance(getattr(route, "path", None), str):
                    known.append((prefix + route.path, compile_path(prefix + route.path)[0]))

        add(app.router.routes, "")
        app.state.page_templates = known
    return known


class _Head:
    """A HEAD under way: ``withheld`` once its route answered without making the body a GET would carry
    (``withhold_body``), so its length is not known and not told."""

    withheld = False


_HEAD: ContextVar[_Head | None] = ContextVar("fairtel_head", default=None)


def withhold_body() -> bool:
    """Whether the request is a HEAD, noting that its route will not make the body (call it only then): a route
    whose answer is costly to make, or whose making is recorded as a disclosure (a data export), answers a HEAD
    with the GET's status and headers only. Its ``Content-Length`` is then left out (it would be the length of
    what was not made)."""
    head = _HEAD.get()
    if head is None:
        return False
    head.withheld = True
    return True


def _withholding(send: Send, head: _Head) -> Send:
    """``send`` for a HEAD: a ``Content-Length`` dropped from the answer's headers once its route withheld the body."""

    async def withholding(message: Message) -> None:
        if message["type"] == "http.response.start" and head.withheld:
            message = {**message, "headers": [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"]}
        await send(message)

    return withholding


def _bodiless(send: Send) -> Send:
    """``send`` for a HEAD: every message as it is (the status, the headers, ``Content-Length`` among them), each
    body part empty."""

    async def bodiless(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return bodiless


def _fault_page(request_id: str) -> bytes:
    """The page a browser gets for an unexpected error behind a console page (not the API's JSON): what happened
    and what to do, in Chinese and English (the reader's language may be what failed to be read), with the request
    id to quote; no script, no style sheet to load."""
    rid = html.escape(request_id)
    return (
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>系统出错 / Something went wrong</title>"
        "</head><body><main><h1>系统出错</h1><p>系统出错，未能完成您的请求；错误已记录，请稍后再试。如需协助，请提供请求编号 "
        f"<code>{rid}</code>。</p><p><a href=\"/\">返回首页</a></p>"
        "<h2 lang=\"en\">Something went wrong</h2><p lang=\"en\">Something went wrong on our side and the request was not "
        f"done; it has been logged. Try again later. If you need help, quote request <code>{rid}</code>.</p>"
        "<p lang=\"en\"><a href=\"/\">Back to the start page</a></p></main></body></html>"
    ).encode()


def _compact(body: dict[str, Any]) -> bytes:
    """An error body as the API's other answers write JSON: compact, UTF-8."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGIN_PATH = "/auth/token"
"""The login route: a NUL in its form fields is a failed login (401, audited as any), not a 422."""
MAX_JSON_DEPTH = 32
"""Arrays and objects inside one another in a request body: no route's input comes near it."""
MAX_JSON_INT_DIGITS = 30
"""Digits of a whole number in a request body: no route's input comes near it (money is a decimal string)."""


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool | None]:
    """The whole body (``RequestTooLargeError`` once it passes ``limit`` bytes, whether or not a length was
    announced); ``None`` for ``more`` when the client went away before sending it all."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestTooLargeError(f"request body over {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive giving ``body`` once, then what the client sends next (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _invalid(where: str, field: str, message: str) -> InvalidInputError:
    return InvalidInputError([Problem(where, None, field, message)], what="request")


_NUL = "a NUL character (\\u0000) is not allowed in any text"


def _refuse_nul_in_url(scope: Scope) -> None:
    """No text of a request may hold a NUL character (PostgreSQL stores none, and no name, id or words of the API
    hold one): a path parameter holding one is refused naming it, as a query parameter (``input_invalid``)."""
    path = str(scope.get("path", ""))
    problems: list[Problem] = []
    if "\x00" in path:
        app = scope.get("app")
        name = path_parameter_holding(app, path, "\x00") if app is not None else None
        problems.append(Problem("path", None, name or "path", _NUL))
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                problems.append(Problem("query", None, name.replace("\x00", "\\u0000"), _NUL))
    if problems:
        raise InvalidInputError(problems, what="request")


def _check_body(content_type: str, body: bytes, *, login: bool) -> None:
    """A JSON body (no content type, ``application/json``, ``application/*+json``: what the routes read as JSON)
    must be UTF-8 JSON, nested at most ``MAX_JSON_DEPTH`` deep, its whole numbers at most ``MAX_JSON_INT_DIGITS``
    digits, no object naming a key twice (which one a filter in front of the API would read is anyone's guess:
    for money above all), and no text holding a NUL; a form's fields hold no NUL (but the login's, which fails as
    any wrong login does). Anything else is the route's to read."""
    kind = email.message.Message()
    kind["content-type"] = content_type
    maintype, subtype = kind.get_content_maintype(), kind.get_content_subtype()
    if not content_type or (maintype == "application" and (subtype == "json" or subtype.endswith("+json"))):
        _check_json(body)
    elif maintype == "application" and subtype == "x-www-form-urlencoded" and not login:
        text = body.decode("latin-1")
        problems = [Problem("body", None, name, _NUL) for name, value in parse_qsl(text, keep_blank_values=True)
                    if "\x00" in name or "\x00" in value]
        if problems:
            raise InvalidInputError(problems, what="request")


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _LongIntegerError(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise _LongIntegerError(text)
    return int(text)


def _check_json(body: bytes) -> None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid("body", "body", f"the body is not UTF-8: byte {exc.start} (0x{body[exc.start]:02x}) is not") from None
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_int=_integer)
    except _DuplicateKeyError as exc:
        raise _invalid("body", _printable(exc.key), "given more than once in one object: send each key once") from None
    except _LongIntegerError:
        raise _invalid("body", "body", f"a whole number of more than {MAX_JSON_INT_DIGITS} digits") from None
    except json.JSONDecodeError as exc:
        raise _invalid("body", "body", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
                                       f"(character {exc.pos})") from None
    except RecursionError:
        raise _invalid("body", "body", f"nested more than {MAX_JSON_DEPTH} deep") from None
    except ValueError as exc:  # e.g. a number Python will not read
        raise _invalid("body", "body", f"not valid JSON: {exc}"[:200]) from None
    problems: list[Problem] = []
    for field, message in _walk(value):
        problems.append(Problem("body", None, field, message))
        if message.startswith("nested"):
            break
    if problems:
        raise InvalidInputError(problems, what="request")


def _printable(text: str) -> str:
    return text.replace("\x00", "\\u0000")[:100]


def _walk(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """The problems of a parsed body: texts (keys and values) holding a NUL, each by its dotted path, and nesting
    past ``MAX_JSON_DEPTH``."""
    if isinstance(value, dict | list):
        if depth >= MAX_JSON_DEPTH:
            yield "body", f"nested more than {MAX_JSON_DEPTH} deep"
            return
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                yield _printable(name), _NUL
                continue
            yield from _walk(item, name, depth + 1)
    elif isinstance(value, str) and "\x00" in value:
        yield _printable(path) or "body", _NUL


def _refuse_repeated_parameters(scope: Scope) -> None:
    """No API parameter is a list: a repeated one (``?action=a&action=b``) is refused, not silently cut to
    its last value (which a filter in front of the API might have read as the first)."""
    query: bytes = scope.get("query_string", b"")
    if b"&" not in query or not str(scope.get("path", "")).startswith("/api/"):
        return
    names = [unquote_plus(part.partition("=")[0]) for part in query.decode("latin-1").split("&") if part]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInputError([Problem("query", None, n, "given more than once") for n in repeated], what="request")


def request_id_for(given: str) -> str:
    """The id of a request, as its audit rows record it and the ``X-Request-ID`` of its answer tells: the server's
    own (unique: this process and a counter), then ``~`` and the caller's ``X-Request-ID`` when they sent one.

    The caller's id cannot stand alone: it may be any other request's id (which would mix two requests' rows in
    the audit), or a phone number (the audit holds none). So it follows the server's, cut to what the column
    holds, and one holding a number (``13800138000``, ``req-138-0013-8000``) or outside ``[A-Za-z0-9._-]{1,64}``
    is not kept at all."""
    own = f"{_ID_PREFIX}{next(_ids):08x}"
    if given and _REQUEST_ID.fullmatch(given) and not has_number(given):
        return f"{own}~{given[: _RECORDED_ID_LENGTH - len(own) - 1]}"
    return own
