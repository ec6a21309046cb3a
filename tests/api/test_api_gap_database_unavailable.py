"""A database that cannot be reached answers 503 ``database_unavailable`` with ``Retry-After``, naming the
database without its password, on every path that needs it (a request's transaction, a login, an account
looked up); a query's own error stays a 500."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fairtel_seed import PASSWORD, Seeded, auth
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from fairtel.api import ApiOptions, create_app
from fairtel.api._services import Services
from fairtel.store import connect

SECRET = "pw-Never-Shown-42"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@pytest.fixture()
def api(seeded: Seeded) -> Iterator[tuple[FastAPI, TestClient]]:
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0, user_cache_s=3600))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield app, c


def _go_down(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the API at a PostgreSQL server that is not there (as after a crash), as ``connect`` would."""
    port = _closed_port()
    dead = connect(f"postgresql+psycopg://fairtel:{SECRET}@127.0.0.1:{port}/billing", connect_args={"connect_timeout": 2})
    services = app.state.services
    assert isinstance(services, Services)
    monkeypatch.setitem(services.app.__dict__, "db", dead)
    return f"postgresql+psycopg://fairtel@127.0.0.1:{port}/billing"


def _assert_unavailable(r: object, where: str) -> None:
    assert r.status_code == 503, r.text  # type: ignore[attr-defined]
    assert r.headers["Retry-After"].isdigit()  # type: ignore[attr-defined]
    error = r.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "database_unavailable"
    assert where in error["message"] and error["details"]["database"] == where
    assert SECRET not in r.text  # type: ignore[attr-defined]


def test_request_transaction_on_a_lost_database_is_503(api: tuple[FastAPI, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    app, client = api
    token = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}).json()["access_token"]
    assert client.get("/api/v1/me/subscriptions", headers=auth(token)).status_code == 200  # the account is cached now
    where = _go_down(app, monkeypatch)
    _assert_unavailable(client.get("/api/v1/me/subscriptions", headers=auth(token)), where)
    _assert_unavailable(client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-news-5"}, headers=auth(token)), where)


def test_login_on_a_lost_database_is_503(api: tuple[FastAPI, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    app, client = api
    where = _go_down(app, monkeypatch)
    _assert_unavailable(client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}), where)


def test_a_query_error_is_still_a_fault(api: tuple[FastAPI, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing table is the code's fault, not an outage to be retried."""
    app, client = api
    token = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}).json()["access_token"]
    services = app.state.services
    assert isinstance(services, Services)

    def broken(*_a: object, **_k: object) -> None:
        with services.app.db.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr("fairtel.api._subscriptions.subscriptions", broken)
    r = client.get("/api/v1/me/subscriptions", headers=auth(token))
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert "Retry-After" not in r.headers


def test_a_request_failed_by_the_database_is_audited_with_our_code_not_the_librarys() -> None:
    """The failure audit names ``database_unavailable`` (a lost connection) or ``internal_error`` (any other
    database error), never the library's own error code."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from fairtel.api._access import Access

    acc = Access.__new__(Access)  # only the audit rows a request recorded matter here
    acc._pending, acc._refused = [], None
    acc._recorded = [{"reason": "own bill", "subject_msisdn_pseudonym": "p1"}]
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    assert [r["reason"] for r in acc.failure_audit(lost)] == ["own bill (failed: database_unavailable)"]
    acc._recorded = [{"reason": "own bill", "subject_msisdn_pseudonym": "p1"}]
    broken = ProgrammingError("SELECT nope", {}, Exception("no such table: nope"))
    assert [r["reason"] for r in acc.failure_audit(broken)] == ["own bill (failed: internal_error)"]
