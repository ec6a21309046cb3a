"""The outer layer every request passes: a request id, limits on body size and rate, security headers."""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fairtel.api._errors import RateLimitedError, RequestTooLargeError, error_body, status_for
from fairtel.api._services import Services, client_key
from fairtel.core.errors import FairtelError, InvalidInputError, Problem
from fairtel.privacy import has_number

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
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = request_id_for(headers.get("x-request-id", ""))
        scope.setdefault("state", {})["request_id"] = request_id
        limit = self.services.options.max_body_bytes

        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            length = 0
        try:
            if length > limit:
                raise RequestTooLargeError(f"request body over {limit} bytes")
            _refuse_repeated_parameters(scope)
            client = (scope.get("client") or ("?", 0))[0]
            self.services.limiter.check(f"ip:{client_key(client)}")
        except FairtelError as exc:
            await self._refuse(send, exc, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLargeError(f"request body over {limit} bytes")
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-request-id", request_id.encode())]
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)

    @staticmethod
    async def _refuse(send: Send, exc: FairtelError, request_id: str) -> None:
        body = json.dumps(error_body(exc.code, exc.message, exc.details or None)).encode()
        headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
        if isinstance(exc, RateLimitedError):
            headers.append((b"retry-after", str(exc.details.get("retry_after_s", 1)).encode()))
        start: dict[str, Any] = {"type": "http.response.start", "status": status_for(exc.code), "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})


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
