"""After ``fairtel privacy erase --apply`` on SQLite the erased words are in no byte of the database's files: not in
the write-ahead log (``<db>-wal``, which keeps old page images until a checkpoint, and which a server's open
connections keep from being emptied at the command's close), not in the file's free pages or cells. The erase
checkpoints the log (``store._engine.sqlite_checkpoint``) and SQLite zeroes what it deletes (``secure_delete``)."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from fairtel.cli import app as cli
from fairtel.store._schema import Complaint, Customer, Subscriber, TicketNote, TroubleTicket, table_of

GONE = "8613900000021"
WORDS = "Qiao Xiaoling, call me back on 13911117777 about the roaming bill"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _home(tmp_path: Path) -> Path:
    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings

    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    at = NOW - timedelta(days=400)
    try:
        with app.db.begin() as conn:
            conn.execute(table_of(Customer).insert().values(customer_id="c-1", name="Qiao Xiaoling", segment="consumer",
                                                            created_at=at))
            conn.execute(table_of(Subscriber).insert().values(
                msisdn=GONE, customer_id="c-1", plan_id="basic-39", activated_at=at, status="closed", language="zh",
                region="cq", updated_at=at, closed_at=NOW - timedelta(days=30), suspended_at=None))
            conn.execute(table_of(Complaint).insert().values(
                complaint_id="cmp-21", msisdn=GONE, category="unexplained_charge", opened_at=at, closed_at=at,
                status="closed", channel="chat", text=WORDS, lifecycle="closed", escalation_level=0))
            conn.execute(table_of(TroubleTicket).insert().values(
                ticket_id="tkt-21", msisdn=GONE, region="cq", category="no_signal", priority=2, status="closed",
                opened_at=at, resolved_at=at, summary=WORDS))
            conn.execute(table_of(TicketNote).insert().values(ticket_id="tkt-21", noted_at=at, author="agent1",
                                                              status="closed", note=WORDS))
    finally:
        app.close()
    return home


def _bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.glob("fairtel.db*")) if p.is_file())


def test_erased_words_leave_the_log_and_the_free_pages_while_a_server_holds_the_database(tmp_path: Path) -> None:
    home = _home(tmp_path)
    needles = (WORDS.encode(), b"Qiao Xiaoling", b"13911117777")
    assert all(n in _bytes(home) for n in needles)  # the words are there to be erased
    # an idle connection, as a running server's pool holds: the command's close is then not the last one, which
    # would have checkpointed the log by itself
    server = sqlite3.connect(home / "fairtel.db")
    try:
        server.execute("SELECT count(*) FROM complaints").fetchone()
        result = CliRunner().invoke(cli, ["privacy", "erase", GONE, "--apply", "--by", "dpo-1", "--home", str(home)],
                                    env={"FAIRTEL_CONFIG": os.devnull})
        assert result.exit_code == 0, result.output
        assert "complaint texts: erased 1" in result.stdout
        left = _bytes(home)
        assert [n for n in needles if n in left] == []
        wal = home / "fairtel.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0
        # the server reads the erased state
        assert server.execute("SELECT name FROM customers WHERE customer_id = 'c-1'").fetchone()[0] != "Qiao Xiaoling"
    finally:
        server.close()
