"""``fairtel privacy erase`` on a home whose operator is not in mainland China forgets the line's number written in
an agent's note before 0025 as dialled at home, by the home's numbering (``settings.home_country``, passed to the
erasure's ``plan``). Migration 0025 kept such a number as written (``0151 2345 6789`` → ``015123456789``: it has no
country); read by mainland China's numbering, the erasure of ``4915123456789`` did not find it, and every reader went
on reading the erased subscriber's number in another subscriber's complaint. The human output counts the numbers it
forgets. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.care import NOTE_NUMBER_ERASED
from fairtel.cli import app as cli
from fairtel.core.settings import load_settings
from fairtel.store import get_complaint, migrate
from fairtel.store._engine import connect
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import Complaint, ComplaintEvent, ComplaintNoteNumber, Customer, Subscriber, table_of

GONE, LIVE = "4915123456789", "4916098765432"  # as the register keeps them
# written before 0025 by an agent in Germany, on the live line's complaint: the erased line's number and a third
# party's, each as dialled at home
NOTE = "rang her brother on 0151 2345 6789, then 0170 1112 2233 (a neighbour), ticket cmp-0000099 on 2026-10-03"
runner = CliRunner()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The home's database URL: None (its own SQLite file) or a fresh PostgreSQL schema, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = connect(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def env(database: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no fairtel.toml
    for name in ("FAIRTEL_CONFIG", "FAIRTEL_COUNTRY", "FAIRTEL_TIMEZONE", "FAIRTEL_HOME", "FAIRTEL_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return {"FAIRTEL_CONFIG": os.devnull, "FAIRTEL_COUNTRY": "DE",
            **({"FAIRTEL_DATABASE_URL": database} if database else {})}


def _seed(conn: Any) -> None:
    at = datetime.now(UTC) - timedelta(days=400)
    conn.execute(table_of(Customer).insert(), [
        {"customer_id": c, "name": n, "segment": "consumer", "created_at": at} for c, n in (("c-1", "A"), ("c-2", "B"))])
    conn.execute(table_of(Subscriber).insert(), [
        {"msisdn": m, "customer_id": c, "plan_id": "basic-39", "activated_at": at, "status": status, "language": "en",
         "region": "BE", "updated_at": at, "closed_at": at + timedelta(days=300) if status == "closed" else None,
         "suspended_at": None}
        for m, c, status in ((GONE, "c-1", "closed"), (LIVE, "c-2", "active"))])
    conn.execute(table_of(Complaint).insert().values(
        complaint_id="cmp-1", msisdn=LIVE, category="billing_error", opened_at=at, closed_at=at, status="closed",
        channel="chat", text="charged twice", lifecycle="closed", escalation_level=0))
    conn.execute(table_of(ComplaintEvent).insert(), [
        {"complaint_id": "cmp-1", "seq": 1, "kind": "status", "status": "opened", "at": at, "actor": "web",
         "note": None},
        {"complaint_id": "cmp-1", "seq": 2, "kind": "status", "status": "closed", "at": at, "actor": "agent1",
         "note": NOTE}])


@pytest.fixture
def home(tmp_path: Path, database: str | None, env: dict[str, str]) -> Iterator[tuple[Path, Engine]]:
    """A home in Germany whose database holds a note written before 0025, turned into tokens by the migration."""
    home = tmp_path / "home"
    settings = load_settings(home=home, database_url=database, country="DE")
    assert settings.home_country == "DE"
    with bootstrap(settings) as fapp:
        assert fapp.db is not None  # the database made (migrated on first use) and bound to the home
    engine = connect(database) if database else connect(f"sqlite:///{home / 'fairtel.db'}")
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0024")
        with engine.begin() as conn:
            _seed(conn)
        migrate(engine)
        yield home, engine
    finally:
        engine.dispose()


def _erase(home: Path, env: dict[str, str], *args: str) -> str:
    result = runner.invoke(cli, ["privacy", "erase", GONE, *args, "--home", str(home)], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def _numbers(engine: Engine) -> list[str]:
    n = table_of(ComplaintNoteNumber)
    with engine.connect() as conn:
        return sorted(conn.execute(select(n.c.number)).scalars())


def _note(engine: Engine) -> tuple[str, str]:
    """The note as stored and as read back."""
    e = table_of(ComplaintEvent)
    with engine.connect() as conn:
        stored = conn.execute(select(e.c.note).where(e.c.complaint_id == "cmp-1", e.c.seq == 2)).scalar_one()
        (shown,) = [x.note for x in get_complaint(conn, "cmp-1").history if x.note]
    return stored, shown


def test_an_older_note_s_number_written_as_dialled_at_home_is_forgotten(
    home: tuple[Path, Engine], env: dict[str, str]
) -> None:
    where, engine = home
    stored, shown = _note(engine)
    assert stored.count("[tel:") == 2 and "2345" not in stored and "1112" not in stored
    assert _numbers(engine) == ["015123456789", "017011122233"]  # kept as written: the migration has no country
    assert shown == NOTE.replace("0151 2345 6789", "015123456789").replace("0170 1112 2233", "017011122233")

    planned = json.loads(_erase(where, env, "--plan", "--json"))
    assert planned["erase"]["complaint_note_numbers"] == 1, planned
    assert "numbers in agents' notes on complaints: would erase 1" in _erase(where, env, "--plan")

    applied = json.loads(_erase(where, env, "--apply", "--by", "dpo-1", "--json"))
    assert applied["erase"]["complaint_note_numbers"] == 1, applied
    assert _numbers(engine) == ["017011122233"]  # the neighbour's number, not the erased line's, still known
    after, shown = _note(engine)
    assert after == stored  # the ledger is not rewritten: it never held the number
    assert shown == (f"rang her brother on {NOTE_NUMBER_ERASED}, then 017011122233 (a neighbour), ticket cmp-0000099 "
                     "on 2026-10-03")

    # nothing left: a second run forgets nothing more
    again = json.loads(_erase(where, env, "--plan", "--json"))
    assert again["erase"]["complaint_note_numbers"] == 0 and again["nothing_left"] is True, again
