"""Two erasures of one line at once: the second waits for the first, finds nothing left and records no row.

``fairtel privacy erase --apply`` plans and applies in one transaction. Begun ``DEFERRED`` on SQLite, a second run
that read its plan while the first was writing could not write after the first committed and failed
``database_busy``; on PostgreSQL it planned from what the first had not committed yet and recorded a second
``subscriber.erase`` row claiming the erasure. Here the first erasure is committed by another transaction while the
command reads its plan (held at its scan of the lake): the command must wait for it, exit 0, say nothing is left
and record no row."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app as cli
from fairtel.core.settings import load_settings
from fairtel.store._engine import connect, writer
from fairtel.store._erasure import apply_in_database, plan
from fairtel.store._retention import COMPLAINT_REMOVED
from fairtel.store._schema import AccessAudit, Complaint, Customer, Subscriber, table_of

GONE = "8613900000031"
runner = CliRunner()


def _seed(conn: Any) -> None:
    at = datetime.now(UTC) - timedelta(days=400)
    conn.execute(table_of(Customer).insert(), [{"customer_id": "c-1", "name": "Zhang Wei", "segment": "consumer",
                                                "created_at": at}])
    conn.execute(table_of(Subscriber).insert(), [
        {"msisdn": GONE, "customer_id": "c-1", "plan_id": "basic-39", "activated_at": at, "status": "closed",
         "language": "zh", "region": "cq", "updated_at": at, "closed_at": at + timedelta(days=300),
         "suspended_at": None}])
    conn.execute(table_of(Complaint).insert().values(
        complaint_id="cmp-31", msisdn=GONE, category="unexplained_charge", opened_at=at, closed_at=at,
        status="closed", channel="chat", text="Zhang Wei, call me on 13911112222", lifecycle="closed",
        escalation_level=0))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
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


def _home(tmp_path: Path, url: str | None) -> tuple[Path, Engine]:
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home, database_url=url))
    try:
        with app.db.begin() as conn:
            _seed(conn)
    finally:
        app.close()
    return home, connect(url) if url else connect(f"sqlite:///{home / 'fairtel.db'}")


def _erase(home: Path, url: str | None, out: dict[str, Any]) -> None:
    env = {"FAIRTEL_CONFIG": os.devnull, **({"FAIRTEL_DATABASE_URL": url} if url else {})}
    result = runner.invoke(cli, ["privacy", "erase", GONE, "--apply", "--by", "dpo-2", "--home", str(home), "--json"],
                           env=env)
    out.update(code=result.exit_code, stdout=result.stdout, error=repr(result.exception))


def test_a_second_erasure_waits_for_the_first_and_records_nothing(tmp_path: Path, database: str | None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtel.store._erasure as erasure

    home, engine = _home(tmp_path, database)
    reading, first_done = threading.Event(), threading.Event()

    def slow_lake(lake: Any, msisdn: str, conn: Any) -> list[str]:
        # the command is reading its plan (the lake's scan is the slow part of it): the first erasure commits now
        reading.set()
        assert first_done.wait(60)
        return []

    monkeypatch.setattr(erasure, "_unbilled", slow_lake)
    second: dict[str, Any] = {}
    thread = threading.Thread(target=_erase, args=(home, database, second))
    try:
        thread.start()
        assert reading.wait(60)
        with writer(engine).begin() as conn:  # the first erasure, committed while the second plans
            planned = plan(conn, GONE, now=datetime.now(UTC))
            assert planned.refused == () and planned.region and planned.complaints == ("cmp-31",)
            apply_in_database(conn, planned)
    finally:
        first_done.set()
        thread.join(timeout=90)
    try:
        assert not thread.is_alive()
        assert second["code"] == 0, (second["stdout"], second["error"])
        out = json.loads(second["stdout"])
        assert out["nothing_left"] is True and out["applied"]["audit_request_id"] is None
        a, s, c = table_of(AccessAudit), table_of(Subscriber), table_of(Complaint)
        with engine.connect() as conn:
            assert conn.execute(select(a.c.reason).where(a.c.action == "subscriber.erase")).all() == []
            assert conn.execute(select(s.c.region).where(s.c.msisdn == GONE)).scalar_one() is None
            assert conn.execute(select(c.c.text).where(c.c.complaint_id == "cmp-31")).scalar_one() == COMPLAINT_REMOVED
    finally:
        engine.dispose()
