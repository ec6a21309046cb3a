"""Request dependencies: who is asking, and the per-request ``Access`` (one transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from fairtel.api._access import Access
from fairtel.api._errors import NotAuthenticatedError
from fairtel.api._security import Principal
from fairtel.api._services import Services

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A key made by an admin for a system.")


def services(request: Request) -> Services:
    svc = request.app.state.services
    assert isinstance(svc, Services)
    return svc


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    key: Annotated[str | None, Security(_api_key)] = None,
) -> Principal:
    svc = services(request)
    if creds is not None and creds.credentials:
        who = svc.principal_from_token(creds.credentials)
    elif key:
        who = svc.principal_from_api_key(key)
    else:
        raise NotAuthenticatedError("log in first: send a bearer token or an API key")
    svc.limiter.check(f"user:{who.username}")
    request.state.principal = who
    return who


def access(request: Request, who: Annotated[Principal, Depends(principal)]) -> Iterator[Access]:
    with services(request).access(who, request_id=request_id(request)) as acc:
        yield acc


Svc = Annotated[Services, Depends(services)]
Acc = Annotated[Access, Depends(access)]
Who = Annotated[Principal, Depends(principal)]
