"""A token lives no longer than tokens are issued for: one signed with the right key but stretched (a forged
``exp`` ten years out, or an ``iat`` in the future) is refused, whatever its signature."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from fairtel.api._errors import NotAuthenticatedError
from fairtel.api._security import Principal, TokenSigner
from fairtel.privacy import Role

KEY = "a-secret-key-for-tests-0123456789"
NOW = datetime(2026, 11, 27, 8, tzinfo=UTC)


def _resigned(signer: TokenSigner, token: str, **claims: int) -> str:
    payload = token.partition(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(claims)
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{body}.{signer._sign(body)}"


def test_a_token_as_issued_is_accepted() -> None:
    signer = TokenSigner(KEY)
    token = signer.issue(Principal("ops", Role.ADMIN), now=NOW)
    assert signer.verify(token, now=NOW + timedelta(hours=1)).username == "ops"


def test_a_stretched_token_is_refused() -> None:
    signer = TokenSigner(KEY)
    token = signer.issue(Principal("ops", Role.ADMIN), now=NOW)
    iat = int(NOW.timestamp())
    long_lived = _resigned(signer, token, exp=iat + 10 * 365 * 86400)
    with pytest.raises(NotAuthenticatedError, match="not valid"):
        signer.verify(long_lived, now=NOW + timedelta(hours=1))
    future = _resigned(signer, token, iat=iat + 86400, exp=iat + 86400 + 3600)
    with pytest.raises(NotAuthenticatedError, match="not valid"):
        signer.verify(future, now=NOW)
    backwards = _resigned(signer, token, exp=iat - 1)
    with pytest.raises(NotAuthenticatedError):
        signer.verify(backwards, now=NOW - timedelta(hours=1))
