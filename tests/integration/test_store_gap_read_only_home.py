"""A home's SQLite database on a read-only volume: SQLite refuses the switch to WAL when the file is opened, or
the first write, with "attempt to write a readonly database"; that is the ``file_system_error`` error naming the
file, not a raw driver error. The read-only volume is stood in for by opening the file read-only (``mode=ro``),
which SQLite answers the same way (a read-only mount cannot be made here, nor a file made unwritable to root).
Before: ``sqlalchemy.exc.OperationalError`` with a traceback, which ``unavailable`` did not recognise either."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from fairtel.core.errors import FileSystemError
from fairtel.store._engine import connect


def _read_only(engine: Any, db: Path) -> None:
    def open_read_only(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        cargs[0] = f"{db.as_uri()}?mode=ro"
        cparams["uri"] = True

    event.listen(engine, "do_connect", open_read_only)


@pytest.mark.parametrize("wal", [False, True], ids=["opening", "writing"])
def test_a_read_only_database_file_is_a_file_system_error_naming_it(tmp_path: Path, wal: bool) -> None:
    db = tmp_path / "fairtel.db"
    made = sqlite3.connect(db)
    made.execute("CREATE TABLE t (x INTEGER)")
    if wal:  # already in WAL: the opening reads, the first write fails
        made.execute("PRAGMA journal_mode=WAL")
    made.commit()
    made.close()
    engine = connect(f"sqlite:///{db}")
    _read_only(engine, db)
    try:
        with pytest.raises(FileSystemError) as caught, engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        engine.dispose()
    assert caught.value.code == "file_system_error"
    assert str(db) in caught.value.message and "read-only" in caught.value.message
    assert caught.value.details["path"] == str(db)


def test_reading_a_read_only_database_still_works(tmp_path: Path) -> None:
    db = tmp_path / "fairtel.db"
    made = sqlite3.connect(db)
    made.execute("PRAGMA journal_mode=WAL")
    made.execute("CREATE TABLE t (x INTEGER)")
    made.execute("INSERT INTO t VALUES (7)")
    made.commit()
    made.close()
    engine = connect(f"sqlite:///{db}")
    _read_only(engine, db)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT x FROM t")).scalar_one() == 7
    finally:
        engine.dispose()
