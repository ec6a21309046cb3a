"""One subscriber's burst of requests sent at once took every database connection of the server: everyone was
answered 503 for as long as it lasted, and the audit rows of the requests that failed were dropped ("could not be
written") when the audit writer found no connection either.

A caller now has at most ``MAX_IN_FLIGHT`` requests under way; one more is answered 429 at once, with
``Retry-After``, before it takes a connection, and other callers are served meanwhile. The audit writer tries
again when the pool had no connection for it in time, rather than drop the rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fairtel_seed import BOB, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import exc, select

from fairtel.api import ApiOptions, _auditlog, _subscriptions, create_app
from fairtel.api._auditlog import AuditLog
from fairtel.api._errors import RateLimitedError
from fairtel.api._services import Services
from fairtel.store import AccessAudit, access_row
from fairtel.store._schema import table_of

ORDER = "/api/v1/me/subscriptions"
CAP = 8  # ``_guard.MAX_IN_FLIGHT``


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[tuple[Services, TestClient]]:
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)
    with TestClient(app, raise_server_exceptions=False) as client:
        services = app.state.services
        assert isinstance(services, Services)
        yield services, client


def _login(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def test_a_callers_requests_past_the_cap_are_429_at_once_and_others_are_served(
        api: tuple[Services, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    services, client = api
    alice, bob = _login(client, "alice"), _login(client, "bob")
    release = threading.Event()
    real = _subscriptions.subscriptions
    waiting = [0]
    lock = threading.Lock()

    def slow(acc: Any, catalog: Any, msisdn: str) -> Any:
        if acc.principal.username == "alice":
            with lock:
                waiting[0] += 1
            release.wait(timeout=60)  # a request that holds its connection a long while
        return real(acc, catalog, msisdn)

    monkeypatch.setattr(_subscriptions, "subscriptions", slow)
    answers: list[Any] = []

    def ask() -> None:
        r = client.get(ORDER, headers=alice)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=ask) for _ in range(CAP)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while waiting[0] < CAP and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting[0] == CAP
        for _ in range(3):
            started = time.monotonic()
            r = client.get(ORDER, headers=alice)
            assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited", r.text
            assert r.headers["retry-after"] == "1" and time.monotonic() - started < 5
        served = client.get(ORDER, headers=bob)  # another caller is served meanwhile
        assert served.status_code == 200 and all(s["subscription_id"] != "sub-a1" for s in served.json()), served.text
        assert client.get("/api/v1/subscribers/" + BOB, headers=bob).status_code == 200
    finally:
        release.set()
        for t in threads:
            t.join(timeout=60)
    assert [r.status_code for r in answers] == [200] * CAP, [r.text for r in answers]
    assert waiting[0] == CAP  # the ones refused never reached the route
    from fairtel.api._deps import in_flight
    from fairtel.api._guard import MAX_IN_FLIGHT

    assert in_flight(services).under_way("user:alice") == 0 and MAX_IN_FLIGHT == CAP
    assert client.get(ORDER, headers=alice).status_code == 200


def test_a_refused_or_failed_request_leaves_its_place() -> None:
    from fairtel.api._guard import InFlight

    counts = InFlight(2)
    counts.enter("user:a")
    counts.enter("user:a")
    with pytest.raises(RateLimitedError) as refused:
        counts.enter("user:a")
    assert refused.value.details["retry_after_s"] == 1
    counts.enter("user:b")  # callers are counted apart
    counts.leave("user:a")
    counts.enter("user:a")
    assert (counts.under_way("user:a"), counts.under_way("user:b")) == (2, 1)
    unlimited = InFlight(0)
    for _ in range(100):
        unlimited.enter("user:a")


class _CrowdedPool:
    """An engine whose pool has no connection to give for its first ``crowded`` asks."""

    def __init__(self, engine: Any, crowded: int) -> None:
        self.engine, self.crowded = engine, crowded

    def begin(self) -> Any:
        if self.crowded:
            self.crowded -= 1
            raise exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00")
        return self.engine.begin()


def test_the_audit_writer_keeps_rows_through_a_crowded_pool(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_auditlog, "POOL_RETRIES", (0.01, 0.01, 0.01), raising=False)
    crowded = _CrowdedPool(seeded.engine, 2)
    log = AuditLog(lambda: crowded)  # type: ignore[arg-type, return-value]
    row = access_row(actor="alice", role="subscriber", action="subscription.confirm_code_rejected",
                     resource="subscription/sub-crowded", subject_msisdn_pseudonym=None, reason="failed: input_invalid")
    try:
        log.write([row], timeout=30)
    finally:
        log.close()
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        assert conn.scalar(select(t.c.action).where(t.c.resource == "subscription/sub-crowded")) == "subscription.confirm_code_rejected"
    assert crowded.crowded == 0
