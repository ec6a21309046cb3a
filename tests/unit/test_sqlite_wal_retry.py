"""Switching a new SQLite file to WAL waits out a transient "database is locked" (which SQLite can return
without calling its busy handler while another process creates the database), and gives up on anything else
or after the wait."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fairtel.store import _engine


class _Cursor:
    """Answers the WAL switch with the given errors first, then succeeds."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        self.calls = 0

    def execute(self, sql: str) -> None:
        assert sql == "PRAGMA journal_mode=WAL"
        self.calls += 1
        if self.errors:
            raise sqlite3.OperationalError(self.errors.pop(0))


def test_locked_then_free_is_retried() -> None:
    cursor = _Cursor(["database is locked", "database is locked"])
    _engine._wal(cursor)
    assert cursor.calls == 3


def test_other_errors_are_not_retried() -> None:
    cursor = _Cursor(["disk I/O error"])
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _engine._wal(cursor)
    assert cursor.calls == 1


def test_gives_up_after_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_engine, "WAL_WAIT_S", 0.05)
    cursor = _Cursor(["database is locked"] * 1000)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _engine._wal(cursor)
    assert 1 < cursor.calls < 1000


def test_a_real_file_ends_in_wal(tmp_path: Path) -> None:
    engine = _engine.connect(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
