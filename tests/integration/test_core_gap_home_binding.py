"""The database records the home it serves (``home_binding``, the id in ``<home>/home.id``): the ledger of the
files already taken lives in the home, so a mistyped or unmounted ``FAIRTEL_HOME`` (a new, empty home) on a
populated database took again, and charged again, the files the real home had billed. Such a home is refused
(``home_mismatch``, naming both homes and what to do) before anything is ingested; the home restored from a
backup carries its id and opens the database; ``fairtel home adopt`` moves the database to a home on purpose."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.integration.test_ingest_cli import fixtures, lake_rows
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.store import connect

runner = CliRunner()


def home_id(home: Path) -> str | None:
    path = home / "home.id"
    return path.read_text().strip() if path.is_file() else None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """One database outside every home (a SQLite file beside them, or a PostgreSQL schema of its own)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        monkeypatch.setenv("FAIRTEL_DATABASE_URL", url)
        yield url
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = connect(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("FAIRTEL_DATABASE_URL", url)
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _run(home: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = runner.invoke(app, ["--home", str(home), *args, "--json"])
    out = res.stdout.strip()
    return res.exit_code, json.loads(out) if out.startswith("{") else {"output": res.output, "exc": repr(res.exception)}


def test_a_new_home_on_a_database_serving_another_is_refused(database_url: str, tmp_path: Path) -> None:
    home, typo = tmp_path / "home", tmp_path / "deep" / "a" / "b"
    files = fixtures(tmp_path / "in")
    code, out = _run(home, "ingest", *map(str, files))
    assert code == 0, out
    taken = lake_rows(home)
    assert taken

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for f in files:
        (inbox / f.name).write_bytes(f.read_bytes())
    for args in (["ingest", *map(str, files)], ["watch", str(inbox), "--once"]):
        code, out = _run(typo, *args)
        assert code == 2, (args, out)
        error = out["error"]
        assert error["code"] == "home_mismatch", error
        message = error["message"]
        assert str(typo.resolve()) in message and str(home.resolve()) in message, message
        assert home_id(home) is not None
        assert str(home_id(home)) in message and "fairtel home adopt" in message, message
        assert lake_rows(typo) == [] and not (typo / "mediation").exists()  # nothing taken, nothing charged again
        assert home_id(typo) is None
    assert sorted(p.name for p in inbox.iterdir()) == sorted(f.name for f in files)  # left for the right home

    # the right home: the files are known, nothing charged twice
    code, out = _run(home, "watch", str(inbox), "--once")
    assert code == 0, out
    assert {f["status"] for f in out["files"]} == {"already_ingested"}
    assert lake_rows(home) == taken


def test_a_restored_home_keeps_its_id_and_adopt_moves_the_database(database_url: str, tmp_path: Path) -> None:
    home, copy, other = tmp_path / "home", tmp_path / "restored", tmp_path / "other"
    files = fixtures(tmp_path / "in")
    code, out = _run(home, "ingest", *map(str, files))
    assert code == 0, out
    code, out = _run(home, "backup", str(copy))
    assert code == 0, out
    assert out["home_id"] == home_id(home) == home_id(copy)

    # the restored home, the home itself gone, is the home the database serves: the files are recognised
    home.rename(tmp_path / "lost")
    code, out = _run(copy, "ingest", *map(str, files))
    assert code == 0, out
    assert {f["status"] for f in out["files"]} == {"already_ingested"}
    assert lake_rows(copy) == lake_rows(tmp_path / "lost")
    (tmp_path / "lost").rename(home)

    # a deliberate move to another home, then the first one is refused
    code, out = _run(other, "ingest", *map(str, files))
    assert code == 2 and out["error"]["code"] == "home_mismatch", out
    code, out = _run(other, "home", "adopt")
    assert code == 0, out
    assert out["home_id"] == home_id(other) and out["before"]["home_id"] == home_id(home), out
    code, out = _run(other, "ingest", *map(str, files))
    assert code == 0, out
    code, out = _run(home, "ingest", *map(str, files))
    assert code == 2 and out["error"]["code"] == "home_mismatch", out
    assert str(other.resolve()) in out["error"]["message"]


def test_homes_with_their_own_database_never_clash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default: each home its own SQLite database, bound to it on first use."""
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)
    files = fixtures(tmp_path / "in")
    for name in ("one", "two"):
        code, out = _run(tmp_path / name, "ingest", *map(str, files))
        assert code == 0, out
        assert {f["status"] for f in out["files"]} == {"ingested"}
    assert home_id(tmp_path / "one") != home_id(tmp_path / "two")
