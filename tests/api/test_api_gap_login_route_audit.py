"""Logins through the API and the console are in the access audit (``login.succeeded``, ``login.failed``,
``login.rate_limited``, with the client address and the request id, never the password); tokens are signed by
``FAIRTEL_TOKEN_KEY`` when set, so replacing it ends every token and leaves the pseudonyms, and a search of the
audit by number, as they were."""

from __future__ import annotations

from typing import Any

from fairtel_seed import ALICE, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.api._security import Principal, TokenSigner
from fairtel.privacy import Role
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of
from fairtel.web import create_console

OWN_PAGE = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}


def rows_after(seeded: Seeded, audit_id: int, action_prefix: str = "login.") -> list[Any]:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(t).where(t.c.audit_id > audit_id, t.c.action.like(f"{action_prefix}%"))
                                 .order_by(t.c.audit_id)))


def last_id(seeded: Seeded) -> int:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return int(conn.scalar(select(t.c.audit_id).order_by(t.c.audit_id.desc()).limit(1)) or 0)


def test_api_logins_are_audited_whatever_their_outcome(seeded: Seeded) -> None:
    before = last_id(seeded)
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0, login_attempts_per_minute=2))
    with TestClient(app) as c:
        ok = c.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}, headers={"X-Request-ID": "login-req-1"})
        assert ok.status_code == 200
        for _ in range(2):
            assert c.post("/api/v1/auth/token", data={"username": "alice", "password": "wrong-guess"}).status_code == 401
        assert c.post("/api/v1/auth/token", data={"username": "alice", "password": "wrong-guess"}).status_code == 429
    rows = rows_after(seeded, before)
    assert [r.action for r in rows] == ["login.succeeded", "login.failed", "login.failed", "login.rate_limited"]
    assert all(r.actor == "alice" and r.resource == "POST /api/v1/auth/token" and "from testclient" in r.reason
               and "wrong-guess" not in r.reason for r in rows)
    assert rows[0].request_id == ok.headers["x-request-id"] and rows[0].subject_msisdn_pseudonym is not None


def test_console_logins_are_audited(seeded: Seeded) -> None:
    before = last_id(seeded)
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        assert c.post("/login", data={"username": "agent1", "password": "nope-nope"}, headers=OWN_PAGE).status_code == 401
        r = c.post("/login", data={"username": "agent1", "password": PASSWORD}, headers=OWN_PAGE, follow_redirects=False)
        assert r.status_code == 303
    rows = rows_after(seeded, before)
    assert [(r.action, r.actor, r.role, r.resource) for r in rows] == [
        ("login.failed", "agent1", "agent", "POST /login"), ("login.succeeded", "agent1", "agent", "POST /login")]


def test_a_new_token_key_ends_the_tokens_and_keeps_the_audit_searchable_by_number(seeded: Seeded) -> None:
    first = seeded.settings.model_copy(update={"token_key": SecretStr("first-token-key-0123456789")})
    second = seeded.settings.model_copy(update={"token_key": SecretStr("second-token-key-0123456789")})
    with TestClient(create_app(first, options=ApiOptions(rate_per_second=0))) as c:
        admin = c.post("/api/v1/auth/token", data={"username": "admin1", "password": PASSWORD}).json()["access_token"]
        alice = c.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}).json()["access_token"]
        assert c.get("/api/v1/me", headers=auth(alice)).status_code == 200
        before = c.get("/api/v1/audit", params={"msisdn": ALICE, "limit": 500}, headers=auth(admin)).json()["items"]
    assert before  # her own read, her login
    with TestClient(create_app(second, options=ApiOptions(rate_per_second=0))) as c:
        assert c.get("/api/v1/me", headers=auth(alice)).status_code == 401  # issued under the replaced key
        admin = c.post("/api/v1/auth/token", data={"username": "admin1", "password": PASSWORD}).json()["access_token"]
        after = c.get("/api/v1/audit", params={"msisdn": ALICE, "limit": 500}, headers=auth(admin)).json()["items"]
    assert {r["audit_id"] for r in before} <= {r["audit_id"] for r in after}


def test_a_home_without_a_token_key_signs_with_its_secret_as_before(seeded: Seeded) -> None:
    token = TokenSigner(seeded.settings.secret_key.get_secret_value()).issue(Principal("alice", Role.SUBSCRIBER, ALICE))
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        assert c.get("/api/v1/me", headers=auth(token)).status_code == 200
