"""A SQLite home whose database file was removed is not made anew, empty, by the next command (the server's gate
already answered 503 for it): once the home has made its database (``home.id`` beside it), or the engine has opened
the file, SQLite opens it as it is (``mode=rw``) and a file missing is ``database_unavailable`` naming it. A new
home still makes its database on first use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.core.errors import DatabaseUnavailableError
from fairtel.store import connect, migrate

runner = CliRunner()
ENV = {"FAIRTEL_ENVIRONMENT": "test", "FAIRTEL_SECRET_KEY": "test-secret-key-0123456789abcdef"}


def _run(home: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = runner.invoke(app, ["--home", str(home), *args, "--json"], env=ENV)
    out = res.stdout.strip()
    return res.exit_code, json.loads(out) if out.startswith("{") else {"output": res.output, "exc": repr(res.exception)}


def test_a_command_on_a_home_whose_database_file_was_removed_fails_and_makes_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    database = home / "fairtel.db"
    code, out = _run(home, "merchants", "list")  # a new home: its database is made on first use
    assert code == 0 and out == {"suspensions": []}, out
    assert database.is_file() and (home / "home.id").is_file()

    for f in home.glob("fairtel.db*"):
        f.unlink()
    code, out = _run(home, "merchants", "list")
    assert code == 2, out
    error = out["error"]
    assert error["code"] == "database_unavailable", out
    assert "the database file is missing" in error["message"] and str(database) in error["message"], error
    assert error["details"]["file"] == str(database)
    assert not list(home.glob("fairtel.db*"))  # no empty database made in its place

    code, out = _run(home, "merchants", "suspend", "sp-x", "--reason", "fraud")  # a writing command neither
    assert code == 2 and out["error"]["code"] == "database_unavailable", out
    assert not list(home.glob("fairtel.db*"))


def test_an_engine_that_opened_its_file_does_not_make_it_again(tmp_path: Path) -> None:
    """Outside a home too (a database URL of its own): a file the engine opened, then removed under it, is missing
    to every new connection, not made anew."""
    database = tmp_path / "elsewhere" / "fairtel.db"
    database.parent.mkdir()
    engine = migrate(connect(f"sqlite:///{database}"))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one() == 0
        engine.dispose()
        for f in database.parent.glob("fairtel.db*"):
            f.unlink()
        with pytest.raises(DatabaseUnavailableError, match="the database file is missing"), engine.connect():
            pass
        assert not database.exists()
    finally:
        engine.dispose()


def test_a_new_database_file_is_still_made(tmp_path: Path) -> None:
    database = tmp_path / "new.db"
    engine = migrate(connect(f"sqlite:///{database}"))
    try:
        assert database.is_file()
    finally:
        engine.dispose()
