"""Database fixtures for integration tests: every test runs on SQLite and on PostgreSQL.

On PostgreSQL each test gets its own schema (through the connection's ``search_path``), dropped at the end,
so parallel runs against the shared server never see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from fairtel.store import connect, migrate


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def blank_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database (no tables yet)."""
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{tmp_path / 'fairtel.db'}")
        yield engine
        engine.dispose()
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = connect(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = connect(url, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(blank_engine: Engine) -> Engine:
    """An engine on a database migrated to head."""
    return migrate(blank_engine)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """A home's database, for tests that run the command line or build a home: its own SQLite file (in the home), or
    a private schema on PostgreSQL through ``FAIRTEL_DATABASE_URL`` (the schema's name is yielded). A test module
    may define its own ``database`` instead."""
    if request.param == "sqlite":
        monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)
        yield None
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    monkeypatch.setenv("FAIRTEL_DATABASE_URL", f"{url}?options=-csearch_path%3D{schema}")
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
