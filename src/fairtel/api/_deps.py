"""Request dependencies: who is asking, and the per-request ``Access`` (one transaction)."""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from fairtel.api._access import Access
from fairtel.api._errors import NotAuthenticatedError
from fairtel.api._guard import InFlight
from fairtel.api._security import SEEN_COOKIE, Principal, idle_refusal, last_seen
from fairtel.api._services import Services
from fairtel.core.time import utc_now

T = TypeVar("T")
log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A key made by an admin for a system.")


# The dependencies are coroutines: they run on the event loop with no thread hop, and go to the thread pool
# only for database work (an account not looked up lately; the commit of a request's transaction or audit).
async def services(request: Request) -> Services:
    return _services_of(request)


def _services_of(request: Request) -> Services:
    svc = request.app.state.services
    assert isinstance(svc, Services)
    return svc


_in_flight: weakref.WeakKeyDictionary[Services, InFlight] = weakref.WeakKeyDictionary()
_in_flight_lock = threading.Lock()


def in_flight(svc: Services) -> InFlight:
    """The server's count of requests under way per caller (``InFlight``), at most ``max_in_flight`` of the
    server's options each (``ApiOptions.max_in_flight``)."""
    with _in_flight_lock:
        counts = _in_flight.get(svc)
        if counts is None:
            counts = _in_flight[svc] = InFlight(svc.options.max_in_flight)
        return counts


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


class IdlePolicy(Protocol):
    """How long a console session may go unused, and the clock it is judged by (the console's ``SessionPolicy``)."""

    @property
    def idle(self) -> timedelta: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


def console_sessions(request: Request, svc: Services) -> tuple[timedelta, datetime]:
    """The idle timeout of console sessions and now: the console's own (``app.state.console_sessions``, which the
    console sets where it is served), else the settings' ``console_idle_minutes`` on the real clock."""
    policy: IdlePolicy | None = getattr(request.app.state, "console_sessions", None)
    if policy is None:
        return timedelta(minutes=svc.settings.console_idle_minutes), utc_now()
    return policy.idle, policy.clock()


def check_console_idle(request: Request, svc: Services, token: str) -> None:
    """Refuse a console session's token sent as a bearer when its session has gone unused for the idle timeout
    (``idle_refusal``), as the console itself would: its last use is what the request's signed ``fairtel_seen``
    cookie says, else its login. The request does not move its last use. A forged or expired token is refused by
    ``verify`` as it always was; an API client's token passes."""
    claims = svc.signer.verify(token)
    if claims.session is None:
        return
    idle, now = console_sessions(request, svc)
    refused = idle_refusal(claims, last_seen(svc.signer.derive, token, request.cookies.get(SEEN_COOKIE)), idle=idle, now=now)
    if refused is not None:
        raise refused


async def principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    key: Annotated[str | None, Security(_api_key)] = None,
) -> Principal:
    svc = _services_of(request)
    if creds is not None and creds.credentials:
        check_console_idle(request, svc, creds.credentials)
        who = svc.cached_principal_from_token(creds.credentials)
        if who is None:
            who = await run_in_threadpool(svc.principal_from_token, creds.credentials)
    elif key:
        who = await run_in_threadpool(svc.principal_from_api_key, key)
    else:
        raise NotAuthenticatedError("log in first: send a bearer token or an API key")
    svc.limiter.check(f"user:{who.username}")
    request.state.principal = who
    return who


async def access(request: Request, who: Annotated[Principal, Depends(principal)]) -> AsyncIterator[Access]:
    """The request's ``Access``; its transaction (if it opened one) commits, and its audit rows are durable,
    before the response is sent (the dependency's "function" scope below). A caller with ``MAX_IN_FLIGHT``
    requests under way is answered 429 at once, before this one takes a connection (``InFlight``)."""
    svc = _services_of(request)
    counts, key = in_flight(svc), f"user:{who.username}"
    counts.enter(key)
    try:
        acc = svc.new_access(who, request_id=request_id(request))
        route = request.scope.get("route")
        acc.resource_hint = f"{request.method} {getattr(route, 'path', '?')}"  # the template: never the path, which may hold a number
        try:
            yield acc
        except BaseException as exc:
            if acc.in_transaction:
                await run_in_threadpool(acc.end, exc)
            failed = acc.failure_audit(exc)
            if failed:  # a refused or failed read is on record too (it answers no data, so its own failure is logged, not raised)
                try:
                    await asyncio.wrap_future(svc.audit_log.submit(failed))
                except Exception:
                    log.exception("the audit rows of a failed request could not be written")
            raise
        if acc.in_transaction:
            await run_in_threadpool(acc.end)
        pending = acc.take_pending_audit()
        if pending:
            await asyncio.wrap_future(svc.audit_log.submit(pending))
    finally:
        counts.leave(key)


async def served(acc: Access, fn: Callable[[], T]) -> T:
    """``fn()`` on the event loop when it can answer from memory (no thread hop), else in the thread pool."""
    done, result = acc.try_offline(fn)
    if done:
        return result  # type: ignore[return-value]
    return await run_in_threadpool(fn)


Svc = Annotated[Services, Depends(services)]
# "function" scope: the transaction (and its audit rows) commits before the response is sent, not after,
# so no one receives data whose access was not recorded and no client is told of a change that did not commit.
Acc = Annotated[Access, Depends(access, scope="function")]
Who = Annotated[Principal, Depends(principal)]
BearerToken = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
