"""Writers at the same moment on the default SQLite database: each waits its turn and succeeds.

A request reads before it writes (the subscriber, then the complaint and its audit rows). Begun DEFERRED, its
transaction holds a read snapshot when it comes to write; if another request committed in between, SQLite
refuses the upgrade at once ("database is locked"), without waiting on its busy timeout, so two of four
subscribers filing at the same moment were answered 503. A request's transaction now takes the write lock
when it begins and waits for it. A lock held longer than the wait is the database being busy, not
unavailable: ``database_busy``, with ``Retry-After``."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from fairtel.api import ApiOptions, create_app, create_user
from fairtel.api._cases import NewComplaint, file_complaint
from fairtel.api._security import Principal
from fairtel.api._services import Services
from fairtel.privacy import Role
from fairtel.store import Complaint, _engine, connect
from fairtel.store._schema import table_of

FILERS = {"alice": ALICE, "bob": BOB, "carol": CAROL}


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[tuple[Services, TestClient, dict[str, str]]]:
    with seeded.engine.begin() as conn:
        create_user(conn, "carol", PASSWORD, "subscriber", msisdn=CAROL)
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)
    with TestClient(app, raise_server_exceptions=False) as client:
        tokens = {}
        for user in FILERS:
            r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[user] = r.json()["access_token"]
        services = app.state.services
        assert isinstance(services, Services)
        yield services, client, tokens


def _complaints(services: Services) -> int:
    with services.app.db.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table_of(Complaint))) or 0)


def test_subscribers_filing_at_the_same_moment_all_succeed(api: tuple[Services, TestClient, dict[str, str]]) -> None:
    services, client, tokens = api
    before = _complaints(services)
    filers = [user for user in FILERS for _ in range(3)]  # nine requests, three per line
    rounds = 4
    answers: list[Any] = []
    lock = threading.Lock()

    def file(user: str, gate: threading.Barrier) -> None:
        gate.wait()
        r = client.post("/api/v1/complaints", json={"category": "billing_error", "text": f"charged twice ({user})"},
                        headers=auth(tokens[user]))
        with lock:
            answers.append(r)

    for _ in range(rounds):
        gate = threading.Barrier(len(filers))
        threads = [threading.Thread(target=file, args=(user, gate)) for user in filers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    refused = [(r.status_code, r.text) for r in answers if r.status_code != 201]
    assert not refused, refused
    assert len(answers) == rounds * len(filers)
    assert _complaints(services) == before + rounds * len(filers)


def test_a_write_after_a_read_waits_for_the_writer_that_came_between(api: tuple[Services, TestClient, dict[str, str]]) -> None:
    """The interleaving that failed, made certain: one request has begun (and read), another files a complaint
    meanwhile; the first then writes. The second waits for the first's lock instead of making the first fail."""
    services, _client, _tokens = api
    alice = Principal(username="alice", role=Role.SUBSCRIBER, msisdn=ALICE)
    bob = Principal(username="bob", role=Role.SUBSCRIBER, msisdn=BOB)
    first = services.new_access(alice)
    first.conn.execute(select(func.count()).select_from(table_of(Complaint))).scalar()  # begun, and read

    done: list[str] = []
    failed: list[BaseException] = []

    def second() -> None:
        try:
            with services.access(bob) as acc:
                done.append(file_complaint(acc, NewComplaint(category="price", text="too dear")).complaint_id)
        except BaseException as exc:  # reported by the assertions below
            failed.append(exc)

    t = threading.Thread(target=second)
    t.start()
    t.join(timeout=1.0)
    waiting = t.is_alive()  # the second request waits for the first's transaction
    try:
        filed = file_complaint(first, NewComplaint(category="billing_error", text="charged twice"))
    except OperationalError as exc:  # before: "database is locked", at once
        first.end(exc)
        t.join(timeout=60)
        pytest.fail(f"the first request could not write after another committed: {exc}")
    first.end()
    services.audit_log.write(first.take_pending_audit())
    t.join(timeout=60)
    assert waiting and not t.is_alive()
    assert not failed, failed
    assert filed.complaint_id and len(done) == 1 and done[0] != filed.complaint_id


def test_a_lock_held_past_the_wait_is_busy_not_unavailable(api: tuple[Services, TestClient, dict[str, str]]) -> None:
    services, client, tokens = api
    engine = services.app.db
    database = engine.url.database
    assert database is not None and Path(database).is_file()

    def short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=200")  # after the engine's own 30 s

    event.listen(engine, "connect", short_wait)
    engine.dispose()  # new connections, with the short wait
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        r = client.post("/api/v1/complaints", json={"category": "price", "text": "too dear"}, headers=auth(tokens["alice"]))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        event.remove(engine, "connect", short_wait)
        engine.dispose()
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["code"] == "database_busy", error
    assert "unavailable" not in error["message"] and "locked" in error["message"]
    assert r.headers["Retry-After"].isdigit()
    # and the line is free again: the same request succeeds
    again = client.post("/api/v1/complaints", json={"category": "price", "text": "too dear"}, headers=auth(tokens["alice"]))
    assert again.status_code == 201, again.text


def test_a_lock_timeout_is_told_apart_from_an_unusable_database(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    holder = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=50")
            with pytest.raises(OperationalError) as caught:
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    problem = _engine.unavailable(caught.value)
    assert isinstance(problem, _engine.DatabaseBusyError) and problem.code == "database_busy"
    assert "busy" in problem.message and "unavailable" not in problem.message
    assert problem.details["database"].endswith("x.db")
    # a file that cannot be opened is still unavailable
    missing = connect(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    with pytest.raises(OperationalError) as unopened:
        missing.connect()
    gone = _engine.unavailable(unopened.value)
    assert gone is not None and gone.code == "database_unavailable"


@pytest.mark.postgres
def test_a_postgresql_lock_timeout_is_busy_not_unavailable(postgres_url: str) -> None:
    key = int.from_bytes(os.urandom(6), "big")
    holder, waiter = connect(postgres_url), connect(postgres_url)
    try:
        with holder.connect() as held:
            held.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            with waiter.connect() as conn, pytest.raises(OperationalError) as caught:
                conn.execute(text("SET lock_timeout = '100ms'"))
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            held.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        holder.dispose()
        waiter.dispose()
    problem = _engine.unavailable(caught.value)
    assert isinstance(problem, _engine.DatabaseBusyError) and problem.code == "database_busy", caught.value
    assert "lock timeout" in problem.message and "unavailable" not in problem.message
