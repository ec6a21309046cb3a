"""A statement waits a bounded time for a lock another transaction holds (``connect(lock_wait_s=...)``, 30 s by
default: SQLite's ``busy_timeout``, PostgreSQL's ``lock_timeout``), then fails as ``database_busy`` naming the
operation that waited, instead of hanging for as long as the other transaction runs. A migrator still waits for
another's migration however long it runs. Two connections, SQLite and PostgreSQL. Before: PostgreSQL waited without
end (``lock_timeout`` 0) and the wait could not be set."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import exc, text, update
from sqlalchemy.engine import Engine

from fairtel.store import Customer, Subscriber, connect, migrate
from fairtel.store._engine import DatabaseBusyError, unavailable, writer
from fairtel.store._migrate import _LOCK_KEY
from fairtel.store._schema import table_of

T0 = datetime(2025, 1, 1, tzinfo=UTC)
LINE = "8613800000031"
WAIT_S = 0.5

Engines = Callable[..., Engine]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engines(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engines]:
    """Engines on one database (as many as asked, each with its own options), migrated, with one line."""
    made: list[Engine] = []
    if request.param == "sqlite":
        url, schema, admin = f"sqlite:///{tmp_path / 'fairtel.db'}", None, None
    else:
        url, schema = request.getfixturevalue("postgres_url"), f"fairtel_test_{uuid.uuid4().hex[:16]}"
        admin = connect(url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def make(**options: object) -> Engine:
        engine = connect(url, schema=schema, **options)  # type: ignore[arg-type]
        made.append(engine)
        return engine

    first = migrate(make())
    with first.begin() as conn:
        conn.execute(table_of(Customer).insert().values(customer_id="c1", created_at=T0))
        conn.execute(table_of(Subscriber).insert().values(
            msisdn=LINE, customer_id="c1", plan_id="payg", activated_at=T0, status="active", language="zh",
            region=None, updated_at=T0))
    try:
        yield make
    finally:
        for engine in made:
            engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def test_the_wait_is_bounded_by_default(engines: Engines) -> None:
    engine = engines()
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        else:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "30s"
    with engines(lock_wait_s=2.5).connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2_500
        else:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "2500ms"


def test_a_write_waiting_past_the_bound_fails_as_busy_naming_the_operation(engines: Engines) -> None:
    holder, waiter = writer(engines()), writer(engines(lock_wait_s=WAIT_S))
    s = table_of(Subscriber)
    with holder.begin() as held:
        held.execute(update(s).where(s.c.msisdn == LINE).values(region="sh"))  # holds the row (and SQLite's database)
        started = time.monotonic()
        with pytest.raises(exc.OperationalError) as caught, waiter.begin() as conn:
            conn.execute(update(s).where(s.c.msisdn == LINE).values(region="bj"))
        waited = time.monotonic() - started
    assert WAIT_S * 0.8 <= waited < WAIT_S + 5
    busy = unavailable(caught.value)
    assert isinstance(busy, DatabaseBusyError) and busy.code == "database_busy"
    # SQLite's writer waits when it begins (BEGIN IMMEDIATE), PostgreSQL's on the row
    operation = "BEGIN IMMEDIATE" if holder.dialect.name == "sqlite" else "UPDATE subscribers"
    assert busy.details["operation"] == operation
    assert f"during {operation}" in busy.message and LINE not in busy.message
    with waiter.begin() as conn:  # the lock gone, the same write goes through
        conn.execute(update(s).where(s.c.msisdn == LINE).values(region="bj"))


def test_a_migrator_waits_for_another_s_migration_past_the_bound(engines: Engines) -> None:
    holder, second = engines(), engines(lock_wait_s=0.2)
    if holder.dialect.name != "postgresql":
        pytest.skip("SQLite migrators wait on the database's write lock, as any writer")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(second)
        except BaseException as error:  # reported below
            errors.append(error)

    with holder.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})  # a migration under way
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(1.5)
        assert thread.is_alive() and not errors  # still waiting, well past its 0.2 s
    thread.join(10)
    assert not thread.is_alive() and not errors
    with second.connect() as conn:  # and its own statements are bounded again
        assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "200ms"
