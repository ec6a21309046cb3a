"""Logins and audit searches on record in the access audit.

A login attempt (``LoginAudit.log_in``, what ``POST /auth/token`` and the console's login go through) writes one
row: succeeded, failed, or refused by the rate limits (those at most once a minute per client, with their count).
The login is named as the audit names actors; a name no login has only by its keyed pseudonym; a subscriber
login's row carries the line's pseudonym; the password is never kept. An audit search records what it searched
for: actor, actions, time range, beside its row count."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, NotAuthenticatedError, RateLimitedError, create_app
from fairtel.api._access import LoginAudit
from fairtel.api._services import Services
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of

TOKEN = "POST /api/v1/auth/token"


@pytest.fixture(scope="module")
def services(seeded: Seeded) -> Iterator[Services]:
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0, login_attempts_per_minute=3))
    with TestClient(app):
        yield app.state.services


def logins(svc: Services) -> LoginAudit:
    return LoginAudit(svc.pseudonyms, connect=svc.app.db.connect, write=svc.audit_log.write)


def rows_since(seeded: Seeded, audit_id: int) -> list[Any]:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(t).where(t.c.audit_id > audit_id).order_by(t.c.audit_id)))


def last_id(seeded: Seeded) -> int:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return int(conn.scalar(select(t.c.audit_id).order_by(t.c.audit_id.desc()).limit(1)) or 0)


def key(seeded: Seeded) -> str:
    return seeded.settings.secret_key.get_secret_value()


def test_a_successful_and_a_failed_login_are_recorded_with_client_and_outcome(services: Services, seeded: Seeded) -> None:
    audit = logins(services)
    before = last_id(seeded)
    who = audit.log_in(services.check_login, client="203.0.113.7", username="alice", password=PASSWORD, resource=TOKEN,
                       request_id="req-login-1")
    assert who.username == "alice"
    with pytest.raises(NotAuthenticatedError):
        audit.log_in(services.check_login, client="203.0.113.8", username="alice", password="not-her-password",
                     resource=TOKEN)
    ok, failed = rows_since(seeded, before)
    line = Pseudonymizer(key(seeded))(ALICE)
    assert (ok.action, ok.actor, ok.role, ok.resource, ok.subject_msisdn_pseudonym, ok.request_id) == (
        "login.succeeded", "alice", "subscriber", TOKEN, line, "req-login-1")
    assert ok.reason == "succeeded; from 203.0.113.7"
    assert (failed.action, failed.actor, failed.subject_msisdn_pseudonym) == ("login.failed", "alice", line)
    assert "from 203.0.113.8" in failed.reason and "wrong username or password" in failed.reason
    assert all("not-her-password" not in str(tuple(r)) and PASSWORD not in str(tuple(r)) for r in (ok, failed))


def test_a_name_no_login_has_is_kept_as_its_keyed_pseudonym(services: Services, seeded: Seeded, client: TestClient,
                                                             tokens: dict[str, str]) -> None:
    """A password typed into the name field, or a number, is never kept as typed; a search by it finds the row."""
    audit = logins(services)
    before = last_id(seeded)
    typed = "Tr0ub4dor&3-typed-as-a-name"
    with pytest.raises(NotAuthenticatedError):
        audit.log_in(services.check_login, client="198.51.100.1", username=typed, password="x", resource=TOKEN)
    (row,) = rows_since(seeded, before)
    assert row.actor == Pseudonymizer(key(seeded), domain="login")(typed) and row.role == "none"
    assert row.subject_msisdn_pseudonym is None and typed not in str(tuple(row))
    found = client.get("/api/v1/audit", params={"actor": typed, "action": "login.*"}, headers=auth(tokens["admin1"]))
    assert [r["audit_id"] for r in found.json()["items"]] == [row.audit_id]


def test_rate_limited_attempts_are_recorded_once_a_minute_per_client_with_their_count(services: Services, seeded: Seeded) -> None:
    audit = logins(services)
    before = last_id(seeded)
    for _ in range(3):  # the limit: 3 a minute for a name
        with pytest.raises(NotAuthenticatedError):
            audit.log_in(services.check_login, client="192.0.2.50", username="bob", password="guess", resource=TOKEN)
    for _ in range(4):
        with pytest.raises(RateLimitedError):
            audit.log_in(services.check_login, client="192.0.2.50", username="bob", password="guess", resource=TOKEN)
    rows = rows_since(seeded, before)
    assert [r.action for r in rows] == ["login.failed"] * 3 + ["login.rate_limited"]
    assert rows[-1].actor == "bob" and rows[-1].role == "subscriber" and "from 192.0.2.50" in rows[-1].reason

    # once the quiet minute is over, the next refused attempt is a row saying how many went unrecorded meanwhile
    quick = LoginAudit(services.pseudonyms, connect=services.app.db.connect, write=services.audit_log.write, quiet_s=0.0)
    before = last_id(seeded)
    with pytest.raises(RateLimitedError):
        quick.log_in(services.check_login, client="192.0.2.50", username="bob", password="guess", resource=TOKEN)
    (row,) = rows_since(seeded, before)
    assert row.action == "login.rate_limited" and "too many attempts" in row.reason


def test_the_count_of_unrecorded_refusals_is_carried_by_the_next_row(services: Services, seeded: Seeded) -> None:
    clock = LoginAudit(services.pseudonyms, connect=services.app.db.connect, write=services.audit_log.write, quiet_s=3600.0)

    def refuse(client: str, username: str) -> Any:
        raise RateLimitedError("too many requests; slow down", details={"retry_after_s": 20})

    before = last_id(seeded)
    for _ in range(5):
        with pytest.raises(RateLimitedError):
            clock.log_in(refuse, client="2001:db8::1", username="agent1", password="x", resource=TOKEN)
    with pytest.raises(RateLimitedError):  # another address of the same /64: the same client
        clock.log_in(refuse, client="2001:db8::2", username="agent1", password="x", resource=TOKEN)
    (row,) = rows_since(seeded, before)
    assert "retry after 20 s" in row.reason and row.role == "agent"
    clock._limited = {k: (v[0] - 7200, v[1]) for k, v in clock._limited.items()}  # two hours on
    with pytest.raises(RateLimitedError):
        clock.log_in(refuse, client="2001:db8::3", username="agent1", password="x", resource=TOKEN)
    (row,) = rows_since(seeded, row.audit_id)
    assert "5 more refused so from this client since the last such row" in row.reason


def test_an_audit_search_records_what_it_searched_for(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    before = last_id(seeded)
    r = client.get("/api/v1/audit", params={"actor": "agent1", "action": "bill.*", "since": "2026-10-01T00:00:00+08:00",
                                            "until": "2026-11-01T00:00:00+08:00"}, headers=auth(tokens["admin1"]))
    assert r.status_code == 200, r.text
    (row,) = [x for x in rows_since(seeded, before) if x.action == "audit.search"]
    assert row.reason == (f"audit search ({len(r.json()['items'])} rows; actor agent1, action bill.*, "
                          "since 2026-10-01T00:00:00+08:00, until 2026-11-01T00:00:00+08:00)")
    before = last_id(seeded)
    client.get("/api/v1/audit", params={"actor": "8613800138000"}, headers=auth(tokens["admin1"]))
    (row,) = [x for x in rows_since(seeded, before) if x.action == "audit.search"]
    assert "8613800138000" not in row.reason
    assert f"actor {Pseudonymizer(key(seeded), domain='login')('8613800138000')}" in row.reason
