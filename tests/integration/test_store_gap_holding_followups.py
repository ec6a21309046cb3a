"""Follow-ups in the store of an owner change and of the consent and outbox checks:

- the assistant's port (``StoreCareData.line``) gives ``LineFacts`` the line's activation and the owner change,
  so ``LineFacts.holding_from`` (and what wraps the port) dates the current customer's holding;
- the consent import into the database refuses an event dated before 2000 or well after the import (a clock
  reset, a date typed ahead), naming file, line and field, as the file reader does;
- a rewrite of a JSON Lines file (retention, erasure) waits for a writer that holds the file's ``flock`` (the
  outbox), so an append cannot fall between the rewrite's read and its rename.

Before: ``LineFacts`` from the store had no dates (``holding_from`` None), the database import took 2099 and 1970,
and a rewrite did not wait."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.store import StoreCareData, connect, import_consent_events, import_subscribers, migrate
from fairtel.store._retention import rewrite_lines

HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since"
A = "8613800000011"
OLD = "2023-01-23T17:02:19+08:00"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}"))
    yield e
    e.dispose()


def _register(path: Path, row: str) -> Path:
    path.write_text(f"{HEADER}\n{row}\n", encoding="utf-8")
    return path


def test_the_assistants_line_facts_date_the_current_holding(engine: Engine, tmp_path: Path) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "1.csv", f"{A},cu-1,payg,{OLD},active,zh,sh,"), now=now)
        import_subscribers(conn, _register(tmp_path / "2.csv", f"{A},cu-9,payg,{OLD},active,zh,sh,2026-10-15T00:00:00+08:00"),
                           now=now)
    port = StoreCareData(engine, tmp_path / "lake", load_catalog(default_catalog_path()), clock=lambda: now)
    facts = port.line(A)
    assert facts is not None
    assert facts.activated_at == datetime(2023, 1, 23, 9, 2, 19, tzinfo=UTC)
    assert facts.holding_from == datetime(2026, 10, 14, 16, 0, tzinfo=UTC)


def _event(at: str, n: int) -> str:
    return json.dumps({"event": "ordered", "subscription_id": f"sub-{n}", "msisdn": A, "offer_id": "vas-music-10",
                       "at": at, "channel": "app"})


def test_the_database_import_refuses_events_dated_before_2000_or_ahead_of_the_import(engine: Engine, tmp_path: Path) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([_event("2026-03-01T10:00:00+08:00", 1), _event("2099-01-01T00:00:00Z", 2),
                               _event("1970-01-01T00:00:00Z", 3), _event(soon, 4)]) + "\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_consent_events(conn, path)
    assert report.read == 4 and report.accepted == 2 and report.rejected == 2
    assert report.read == report.accepted + report.rejected + report.duplicate
    assert sorted((p.line, p.field) for p in report.problems) == [(2, "at"), (3, "at")]
    assert all(p.file == str(path) for p in report.problems)
    texts = {p.line: p.message for p in report.problems}
    assert "later than the moment of import" in texts[2] and "before 2000-01-01" in texts[3]


def test_a_rewrite_waits_for_a_writer_holding_the_files_lock(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_bytes(b'{"id": 1}\n{"id": 2}\n')
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a sender in the middle of its append
    done = threading.Event()
    removed: list[int] = []

    def rewrite() -> None:
        removed.append(rewrite_lines(path, lambda line: line == b'{"id": 1}'))
        done.set()

    worker = threading.Thread(target=rewrite)
    worker.start()
    try:
        assert not done.wait(0.5), "the rewrite went ahead while a writer held the file"
        with path.open("ab") as fh:  # the sender's append lands before the rewrite reads the file
            fh.write(b'{"id": 3}\n')
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    worker.join(10)
    assert done.is_set() and removed == [1]
    assert path.read_bytes() == b'{"id": 2}\n{"id": 3}\n'
