"""Stable error codes mapped to HTTP statuses, in this one place.

Every failure the API reports is a ``FairtelError`` (or is turned into one here) and reaches the client as
``{"error": {"code", "message", "details"?}}`` with the status ``STATUS_OF_CODE`` gives its code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from fairtel.api._error_words import (
    ENGLISH,
    MESSAGES,
    language_headers,
    language_of,
    message_in,
    problem_in,
    roles_words,
    validation_words,
)
from fairtel.api._error_words import (
    problem_words as problem_words,  # the words of a model's own check, as they were here
)
from fairtel.core.errors import FairtelError, InvalidInputError, NotAvailableError, PermissionDeniedError, Problem
from fairtel.privacy import Permission, Role, can
from fairtel.store._engine import unavailable


class NotAuthenticatedError(FairtelError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    code = "not_authenticated"


class LineChangedHandsError(PermissionDeniedError):
    """A subscriber login made before its line's current activation: the number was closed and activated again
    (a new holder, or the same line re-opened) since, so the login no longer opens it. An administrator issues a
    new login to whoever holds the line now."""

    code = "line_changed_hands"


class RateLimitedError(FairtelError):
    code = "rate_limited"


class RequestTooLargeError(FairtelError):
    code = "request_too_large"


class AssistantUnavailableError(NotAvailableError):
    code = "assistant_unavailable"


class NoAssignmentError(PermissionDeniedError):
    """An agent asked for a customer's data without handling that customer's ticket, complaint or chat."""

    code = "assignment_required"


STATUS_OF_CODE: dict[str, int] = {
    "not_authenticated": 401,
    "permission_denied": 403,
    "assignment_required": 403,
    "line_changed_hands": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "finding_resolution_invalid": 409,
    "line_not_in_service": 409,
    "merchant_suspended": 409,
    "request_too_large": 413,
    "input_invalid": 422,
    "catalog_invalid": 422,
    "consent_event_invalid": 422,
    "currency_mismatch": 422,
    "time_invalid": 422,
    "time_naive": 422,
    "already_subscribed": 409,
    "rate_limited": 429,
    "config_invalid": 500,
    "not_available": 503,
    "assistant_unavailable": 503,
    "catalog_missing": 503,
    "database_unavailable": 503,
    "ledger_missing": 503,  # the home's mediation ledger is missing: restore it (fairtel backup --verify, then restore)
    "lake_incomplete": 503,  # the lake lacks usage parts the ledger says were taken (an unmounted volume)
    "database_busy": 503,
    "database_schema_newer": 503,  # migrated by a newer fairtel: this one must be upgraded (no Retry-After)
}
"""Codes not listed are client errors (400); anything that is not a ``FairtelError`` is a 500."""


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable: a client may branch on it (docs/api.md lists them).")
    message: str
    details: dict[str, Any] | None = None


class ErrorOut(BaseModel):
    """The one shape of every error the API answers with."""

    error: ErrorDetail


_ERROR_STATUSES = {
    400: "Bad request",
    401: "Not authenticated: no, a wrong, an expired or a revoked credential",
    403: "Not allowed for this role (or, for an agent, without the customer's case; for a subscriber, a login made before the line changed hands)",
    404: "Not found (or not visible to the caller)",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Invalid input: every problem is listed in `details`",
    429: "Too many requests: retry after `Retry-After` seconds",
    503: "A stage or service this needs is not available yet, the database is unreachable (`database_unavailable`), or another "
         "transaction held it longer than this request waits (`database_busy`): retry after `Retry-After` seconds",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in _ERROR_STATUSES.items()
}
"""Documented on every operation, so clients (and schema checks) know each error's shape."""


def status_for(code: str) -> int:
    return STATUS_OF_CODE.get(code, 400)


def error_body(code: str, message: str, details: dict[str, Any] | None = None, *, language: str = ENGLISH) -> dict[str, Any]:
    """The one shape of an error answer; its message in ``language`` (``message_in``), and so each of its problems'
    (``problem_in``), its code and the problems' fields as they are."""
    said = message_in(language, code, message)
    roles = (details or {}).get("roles")
    if code in _REFUSALS and isinstance(roles, list) and roles:  # who may, in the caller's language
        said = f"{said}: {roles_words(language, roles)}" if language == ENGLISH else f"{said}{roles_words(language, roles)}"
    problems = (details or {}).get("problems")
    if isinstance(problems, list) and language != ENGLISH:
        told = [{**p, "message": problem_in(language, p["message"])} if isinstance(p, dict) and isinstance(p.get("message"), str)
                else p for p in problems]
        details = {**(details or {}), "problems": told}
    return {"error": {"code": code, "message": said, **({"details": details} if details else {})}}


_REFUSALS = frozenset({"permission_denied"})


def roles_holding(needs: list[str]) -> list[str]:
    """The roles holding any one of the permissions ``needs`` names (a refusal's ``details.needs``), in the order
    the roles are declared: who may do what was refused."""
    wanted = {p for p in Permission if p.value in needs}
    return [r.value for r in Role if any(can(r, p) for p in wanted)]


def problem_out(problem: Problem) -> dict[str, Any]:
    """One problem of an ``InvalidInputError`` as the API answers it: the field it is about (empty when it is about
    no one field) and what is wrong, the shape a request's own validation answers with too."""
    return {"field": problem.field or "", "message": problem.message}


def error_details(exc: FairtelError) -> dict[str, Any]:
    """``exc.details`` as the API answers them: an invalid input's problems as objects (``problem_out``), not the
    text the command line prints. Every other 422 (``time_invalid``, ``currency_mismatch``, ...) carries the same
    list, of its one problem: the field its details name (empty when none) and its message. A refusal naming the
    permissions it needs (``needs``) names the roles holding one of them too (``roles``): who may."""
    if isinstance(exc, InvalidInputError):
        return {**exc.details, "problems": [problem_out(p) for p in exc.problems]}
    needs = exc.details.get("needs")
    if exc.code in _REFUSALS and isinstance(needs, list) and "roles" not in exc.details:
        return {**exc.details, "roles": roles_holding([str(n) for n in needs])}
    if status_for(exc.code) == 422 and "problems" not in exc.details:
        field = exc.details.get("field")
        return {**exc.details, "problems": [{"field": field if isinstance(field, str) else "", "message": exc.message}]}
    return exc.details


def error_response(exc: FairtelError, *, headers: dict[str, str] | None = None, language: str = ENGLISH) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message, error_details(exc), language=language), status_code=status_for(exc.code),
                        headers={**(headers or {}), **language_headers(language)})


def _answer(code: str, message: str, details: dict[str, Any] | None, status: int, request: Request,
            headers: Mapping[str, str] | None = None) -> JSONResponse:
    language = language_of(request.headers)
    return JSONResponse(error_body(code, message, details, language=language), status_code=status,
                        headers={**(headers or {}), **language_headers(language)})


DATABASE_RETRY_AFTER_S = 5
"""What a client is told to wait before retrying when the database is unreachable: long enough for a pooled
connection to be replaced or a restarting server to come back, short enough for a person at a page."""
DATABASE_BUSY_RETRY_AFTER_S = 1
"""... and when it was busy: the transaction in the way has most likely ended by then."""

_HTTP_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def _problem_of(error: Any) -> dict[str, str]:
    """One problem of a request's own validation: the field (its dotted place in the body, query or path) and the
    message. A body that is not JSON is about the body: the place in it where reading stopped is in the message."""
    if error.get("type") == "json_invalid":
        loc = error.get("loc", ())
        where = f" at character {loc[-1]}" if len(loc) > 1 else ""
        return {"field": "body", "message": f"not valid JSON: {error.get('ctx', {}).get('error', 'cannot be read')}{where}"}
    return {"field": problem_place(error), "message": validation_words(error)}


def problem_place(error: Any) -> str:
    """The field a problem of a request's own validation is about: its dotted place in the body, query or path
    (``items.0.name``), without the part it came in."""
    return ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))


def http_words(status: int, detail: str, method: str, allowed: str | None) -> str:
    """The English message of an error the HTTP layer raised (the router's 404 and 405, a body it cannot read): a
    sentence saying what happened, never the path asked for (it may hold a number or a name). A detail the code
    that raised it gave (not the status's bare phrase, ``Not Found``) is kept as it is."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if detail and detail != phrase:
        return detail
    if status == 404:
        return "no such path: nothing here answers it (GET /api/v1/openapi.json lists every path of the API)"
    if status == 405:
        if allowed:
            return f"this path does not answer {method}; it answers {allowed}"
        return f"this path does not answer {method}: the Allow header lists the methods it does"
    code = _HTTP_CODES.get(status, "http_error")
    return MESSAGES.get(code, MESSAGES["http_error"])[0]


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def api_paths(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """The API's path templates as its OpenAPI schema serves them (every route under ``/api/v1``), each compiled
    as the router matches it, with the methods it answers; read once per application."""
    return [(regex, methods) for _, regex, methods in _templates(app)]


def _templates(app: Any) -> list[tuple[str, re.Pattern[str], frozenset[str]]]:
    known: list[tuple[str, re.Pattern[str], frozenset[str]]] | None = getattr(app.state, "api_templates", None)
    if known is None:
        known = []
        for template, operations in app.openapi().get("paths", {}).items():
            regex, _, _ = compile_path(template)
            known.append((template, regex, frozenset(m.upper() for m in operations if m in _METHODS)))
        app.state.api_templates = known
    return known


def api_template(app: Any, path: str) -> str | None:
    """The template of the first API route whose path takes ``path`` (``/api/v1/subscribers/{msisdn}/bills``),
    whatever its methods, as the router would try them; None when none does."""
    for template, regex, _ in _templates(app):
        if regex.match(path):
            return template
    return None


ASKED_METHOD = "fairtel.asked_method"
"""A key of a request's ``state``: the method the client sent, where the guard hands the routes another (a HEAD is
routed as its GET)."""


def asked_method(request: Request) -> str:
    """The method the client sent (``ASKED_METHOD``; else the request's own)."""
    state = request.scope.get("state")
    asked = state.get(ASKED_METHOD) if isinstance(state, dict) else None
    return asked if isinstance(asked, str) else request.method


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the request's path answers (``Allow`` of a 405): ``methods_at``."""
    return methods_at(request.app, request.scope)


_ROUTED = ("GET", "POST", "PUT", "PATCH", "DELETE")


def methods_at(app: Any, scope: Any) -> list[str]:
    """The methods ``app`` answers at the path of ``scope``, each route asked as the router asks it (API routes and
    the console's alike): HEAD wherever GET is (a GET without its body), OPTIONS wherever any is (the ``Allow``
    of its 204); none for a path no route takes."""
    from starlette.routing import Match, Mount

    found: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Mount):  # the static files: read only
            if route.matches({**scope, "method": "GET"})[0] is Match.FULL:
                found.update(("GET", "HEAD"))
            continue
        found.update(m for m in _ROUTED if route.matches({**scope, "method": m})[0] is Match.FULL)
    if "GET" in found:
        found.add("HEAD")
    if found:
        found.add("OPTIONS")
    return sorted(found)


def path_parameter_holding(app: Any, path: str, text: str) -> str | None:
    """The name of the path parameter whose value holds ``text``, by the first route of ``path`` whose parameter
    does (None: no route's)."""
    for regex, _ in api_paths(app):
        found = regex.match(path)
        if found is not None:
            for name, value in found.groupdict().items():
                if text in value:
                    return name
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves the API in one shape."""

    async def fairtel_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FairtelError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.code == "not_authenticated" else None
        if exc.code == "rate_limited":
            headers = {"Retry-After": str(exc.details.get("retry_after_s", 1))}
        elif exc.code == "database_unavailable":
            headers = {"Retry-After": str(DATABASE_RETRY_AFTER_S)}
        elif exc.code == "database_busy":
            headers = {"Retry-After": str(DATABASE_BUSY_RETRY_AFTER_S)}
        return error_response(exc, headers=headers, language=language_of(request.headers))

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        """A lost or refused connection (the server restarting, a network fault) is ``database_unavailable``,
        a lock not had in time ``database_busy``: 503s the client may retry; any other database error is a fault,
        answered and logged as one."""
        assert isinstance(exc, SQLAlchemyError)
        problem = unavailable(exc)
        if problem is None:
            raise exc
        return await fairtel_error(request, problem)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [_problem_of(e) for e in exc.errors()]
        return _answer("input_invalid", f"{len(problems)} problem(s) in the request", {"problems": problems}, 422, request)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405 and str(request.scope.get("path", "")).startswith("/api/"):  # the router names the first route of the path only: every route of it is told
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        allowed = next((v for k, v in (headers or {}).items() if k.lower() == "allow"), None)
        words = http_words(exc.status_code, str(exc.detail or ""), asked_method(request), allowed)
        return _answer(code, words, None, exc.status_code, request, headers)

    async def unexpected(request: Request, _exc: Exception) -> JSONResponse:
        return _answer("internal_error", "an unexpected error; it has been logged", None, 500, request)

    app.add_exception_handler(FairtelError, fairtel_error)
    app.add_exception_handler(SQLAlchemyError, database_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
