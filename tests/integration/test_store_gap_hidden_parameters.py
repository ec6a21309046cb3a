"""A database error never carries the statement's parameters (numbers, names) into its text, a log or a traceback
(``store._engine.connect`` builds every engine with ``hide_parameters``); SQLite connections zero what they delete
(``secure_delete``), whatever the library's build default."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest
from sqlalchemy import event, exc, text

from fairtel.store._engine import connect

NUMBER = "8613912345678"
NAME = "Zhang Wei"


def test_an_unexpected_database_error_names_no_parameter(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE lines (msisdn TEXT PRIMARY KEY, name TEXT)"))
            conn.execute(text("INSERT INTO lines VALUES (:m, :n)"), {"m": NUMBER, "n": NAME})
        log = logging.getLogger("fairtel.test")
        with caplog.at_level(logging.DEBUG):
            for statement in ("SELECT * FROM missing_table WHERE msisdn IN (:m, :n)",  # a fault of the schema
                              "INSERT INTO lines VALUES (:m, :n)"):  # a constraint
                with pytest.raises(exc.DBAPIError) as raised, engine.begin() as conn:
                    conn.execute(text(statement), {"m": NUMBER, "n": NAME})
                log.exception("unexpected", exc_info=raised.value)
                whole = "".join(traceback.format_exception(raised.value)) + repr(raised.value) + caplog.text
                assert "[SQL:" in whole  # the statement, to be found and fixed
                assert NUMBER not in whole and NAME not in whole
                assert "hidden due to hide_parameters" in str(raised.value)
    finally:
        engine.dispose()


def test_sqlite_zeroes_what_it_deletes_whatever_its_build_default(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'db.sqlite'}")

    def build_without(dbapi_connection: object, _record: object) -> None:  # a library built with it off
        dbapi_connection.execute("PRAGMA secure_delete=OFF")  # type: ignore[attr-defined]

    event.listen(engine, "connect", build_without, insert=True)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        engine.dispose()


def test_a_postgresql_error_names_no_parameter_either(postgres_url: str) -> None:
    engine = connect(postgres_url)
    try:
        with pytest.raises(exc.DBAPIError) as raised, engine.connect() as conn:
            conn.execute(text("SELECT * FROM fairtel_no_such_table WHERE msisdn = :m AND name = :n"),
                         {"m": NUMBER, "n": NAME})
        whole = "".join(traceback.format_exception(raised.value))
        assert "fairtel_no_such_table" in whole and NUMBER not in whole and NAME not in whole
    finally:
        engine.dispose()
