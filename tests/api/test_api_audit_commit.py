"""A request's audit rows (and its changes) are committed before it answers, whether it used a transaction or
was answered from the bill cache through the audit's group commit; and what the caches keep stays correct."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, PASSWORD, Seeded, auth, seed
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fairtel.api import Access, ApiOptions, Services, create_app
from fairtel.api._auditlog import AuditLog
from fairtel.store import AccessAudit, PlainNumberInAuditError, access_row
from fairtel.store._schema import table_of


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, TestClient, dict[str, str]]]:
    seeded = seed(tmp_path_factory.mktemp("home"))
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0))
    with TestClient(app, raise_server_exceptions=False) as client:
        tokens = {}
        for user in ("alice", "agent1"):
            r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
            tokens[user] = r.json()["access_token"]
        yield seeded, client, tokens
    seeded.engine.dispose()


def services(client: TestClient) -> Services:
    svc = client.app.state.services  # type: ignore[attr-defined]
    assert isinstance(svc, Services)
    return svc


def audit_rows(seeded: Seeded, actor: str, action: str | None = None) -> int:
    t = table_of(AccessAudit)
    q = select(func.count()).select_from(t).where(t.c.actor == actor)
    if action:
        q = q.where(t.c.action == action)
    with seeded.engine.connect() as conn:
        return int(conn.scalar(q) or 0)


def test_a_cached_bill_is_still_audited_on_every_read(home: tuple[Seeded, TestClient, dict[str, str]]) -> None:
    seeded, client, tokens = home
    svc = services(client)
    before, hits = audit_rows(seeded, "alice", "bill.read"), svc.bills.hits
    for _ in range(3):
        r = client.get("/api/v1/me/bills/2026-10", headers=auth(tokens["alice"]))
        assert r.status_code == 200
        bill = r.json()
        assert bill["bill_id"] == BILL_A and bill["total"] == "53.50"
        assert sum(Decimal(line["amount"]) for line in bill["lines"]) == Decimal(bill["total"])
    assert svc.bills.hits >= hits + 2, "the second and third reads come from memory"
    assert audit_rows(seeded, "alice", "bill.read") == before + 3


def test_a_read_whose_audit_cannot_be_committed_shows_no_data(home: tuple[Seeded, TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    _seeded, client, tokens = home
    client.get("/api/v1/me/bills/2026-10", headers=auth(tokens["alice"]))  # now cached

    def refuse(_rows: Any) -> Future[None]:
        failed: Future[None] = Future()
        failed.set_exception(OSError("disk full"))
        return failed

    monkeypatch.setattr(services(client).audit_log, "submit", refuse)
    r = client.get("/api/v1/me/bills/2026-10", headers=auth(tokens["alice"]))
    assert r.status_code == 500 and "bill-a" not in r.text


def test_a_change_is_committed_before_the_answer(home: tuple[Seeded, TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the transaction used to commit after the response was sent, so a failed commit still
    answered 200 (and data whose audit row was then lost had already left)."""
    _seeded, client, tokens = home
    real_end = Access.end

    def failing_end(self: Access, error: BaseException | None = None) -> None:
        if error is None and self.in_transaction:
            real_end(self, RuntimeError("commit failed"))
            raise RuntimeError("commit failed")
        real_end(self, error)

    monkeypatch.setattr(Access, "end", failing_end)
    r = client.put("/api/v1/me/roaming-cap", json={"amount": "77.00"}, headers=auth(tokens["alice"]))
    assert r.status_code == 500
    monkeypatch.undo()
    cap = client.get("/api/v1/me/roaming-cap", headers=auth(tokens["alice"])).json()
    assert cap["amount"] != "77.00", "the change was rolled back, and the client was not told it succeeded"


def test_a_period_without_a_bill_is_asked_again(home: tuple[Seeded, TestClient, dict[str, str]]) -> None:
    seeded, client, tokens = home
    assert client.get("/api/v1/me/bills/2026-09", headers=auth(tokens["alice"])).status_code == 404
    assert seeded.issue("2026-09")["bills"] == 3  # a bill run after the first read: plan fees only
    r = client.get("/api/v1/me/bills/2026-09", headers=auth(tokens["alice"]))
    assert r.status_code == 200 and r.json()["total"] == "39.00" and [line["kind"] for line in r.json()["lines"]] == ["plan_fee"]


def test_an_agent_reads_a_cached_bill_only_while_handling_the_customer(home: tuple[Seeded, TestClient, dict[str, str]]) -> None:
    seeded, client, tokens = home
    client.get(f"/api/v1/bills/{BILL_A}", headers=auth(tokens["alice"]))  # cached by the owner's read
    assert client.get(f"/api/v1/bills/{BILL_A}", headers=auth(tokens["agent1"])).status_code == 404  # no assignment: answered as no such bill
    taken = client.post("/api/v1/complaints/cmp-1/take", headers=auth(tokens["agent1"]))
    assert taken.status_code == 200, taken.text
    before = audit_rows(seeded, "agent1", "bill.read")
    r = client.get(f"/api/v1/bills/{BILL_A}/lines", headers=auth(tokens["agent1"]))
    assert r.status_code == 200 and [line["kind"] for line in r.json()] == ["plan_fee", "voice", "voice", "data", "vas"]
    assert audit_rows(seeded, "agent1", "bill.read") == before + 1


def test_group_commit_writes_every_row_and_fails_only_a_bad_one(tmp_path: Path) -> None:
    engine = seed(tmp_path / "home").engine
    log = AuditLog(lambda: engine)
    good = [access_row(actor=f"user{i}", role="admin", action="t.read", resource="r") for i in range(40)]
    bad = dict(good[0], subject_msisdn_pseudonym=ALICE)  # a plain number: refused by the store
    futures: list[Future[None]] = []
    lock = threading.Lock()

    def submit(rows: list[dict[str, Any]]) -> None:
        f = log.submit(rows)
        with lock:
            futures.append(f)

    threads = [threading.Thread(target=submit, args=([row],)) for row in [*good, bad]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = [f.exception(timeout=30) for f in futures]
    log.close()
    assert sum(e is None for e in outcomes) == 40
    assert [type(e) for e in outcomes if e is not None] == [PlainNumberInAuditError]
    assert log.rows_written == 40 and log.commits <= 41
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(table_of(AccessAudit)).where(table_of(AccessAudit).c.action == "t.read")) == 40
    log.write([access_row(actor="late", role="admin", action="t.read", resource="r")])  # a closed log starts again
    assert log.rows_written == 41
    engine.dispose()


def test_a_repeated_parameter_is_refused(home: tuple[Seeded, TestClient, dict[str, str]]) -> None:
    """Regression (found by schemathesis): ``?action=a&action=b`` was answered with the last value only."""
    _seeded, client, tokens = home
    r = client.get("/api/v1/me/usage?kind=voice&kind=sms", headers=auth(tokens["alice"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "input_invalid" and "kind" in r.text
    assert client.get("/api/v1/me/usage?kind=voice&limit=5", headers=auth(tokens["alice"])).status_code == 200
