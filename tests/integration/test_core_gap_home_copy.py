"""A copied home (``cp -r``, a backup restored beside the home) carries the home's id, so the database took it for
the home it serves: the copy's ledger, taken at one moment, did not know the files the home took after, and would
take and charge them again. While the home the database is bound at is still there on this host with that id, a
copy at another path is refused (``home_mismatch``, naming both); a home moved (the old path gone, or holding
another id) keeps its binding; ``fairtel home adopt`` moves the database to the copy on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.integration.test_core_gap_home_binding import _run, database_url, home_id
from tests.integration.test_ingest_cli import fixtures, lake_rows

__all__ = ["database_url"]  # the fixture, one database outside every home (SQLite and PostgreSQL)


def test_a_copy_of_a_home_beside_it_is_refused_and_the_home_is_not(database_url: str, tmp_path: Path) -> None:
    home, copy = tmp_path / "home", tmp_path / "copy"
    files = fixtures(tmp_path / "in")
    code, out = _run(home, "ingest", *map(str, files))
    assert code == 0, out
    shutil.copytree(home, copy)
    assert home_id(copy) == home_id(home) is not None
    taken = lake_rows(copy)

    code, out = _run(copy, "ingest", *map(str, files))
    assert code == 2 and out["error"]["code"] == "home_mismatch", out
    message, details = out["error"]["message"], out["error"]["details"]
    assert f"this home {copy.resolve()} is a copy of it" in message and str(home.resolve()) in message, message
    assert "fairtel home adopt" in message and "remove the copy's home.id" in message, message
    assert details["copy_of"] == details["database_home_path"] == str(home.resolve())
    assert details["home"] == str(copy.resolve()) and details["home_id"] == home_id(home)
    assert lake_rows(copy) == taken  # nothing taken by the copy

    code, out = _run(home, "ingest", *map(str, files))  # the home itself is unaffected
    assert code == 0 and {f["status"] for f in out["files"]} == {"already_ingested"}, out

    # the copy adopted on purpose: the database is the copy's, and the home left behind is now the copy
    code, out = _run(copy, "home", "adopt")
    assert code == 0 and out["before"]["home_path"] == str(home.resolve()), out
    code, out = _run(copy, "ingest", *map(str, files))
    assert code == 0 and {f["status"] for f in out["files"]} == {"already_ingested"}, out
    code, out = _run(home, "ingest", *map(str, files))
    assert code == 2 and out["error"]["details"]["copy_of"] == str(copy.resolve()), out


def test_a_moved_or_restored_home_whose_old_place_is_gone_keeps_the_database(database_url: str, tmp_path: Path) -> None:
    home, moved, restored = tmp_path / "home", tmp_path / "moved", tmp_path / "restored"
    files = fixtures(tmp_path / "in")
    code, out = _run(home, "ingest", *map(str, files))
    assert code == 0, out
    code, out = _run(home, "backup", str(tmp_path / "backup"))
    assert code == 0, out

    home.rename(moved)  # a move; the old path then holds another home, with an id of its own
    home.mkdir()
    (home / "home.id").write_text("another\n", encoding="utf-8")
    code, out = _run(moved, "ingest", *map(str, files))
    assert code == 0 and {f["status"] for f in out["files"]} == {"already_ingested"}, out

    shutil.rmtree(moved)  # the home lost, its backup put back at another path
    shutil.copytree(tmp_path / "backup", restored)
    code, out = _run(restored, "ingest", *map(str, files))
    assert code == 0 and {f["status"] for f in out["files"]} == {"already_ingested"}, out


def test_a_copy_with_its_own_database_is_a_home_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default SQLite database lives in the home and is copied with it: nothing is shared. The home's own
    database named from outside it (FAIRTEL_DATABASE_URL) is shared with a copy, which is refused."""
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)
    home, copy, shared = tmp_path / "home", tmp_path / "copy", tmp_path / "shared"
    files = fixtures(tmp_path / "in")
    code, out = _run(home, "ingest", *map(str, files))
    assert code == 0, out
    shutil.copytree(home, copy)
    code, out = _run(copy, "ingest", *map(str, files))
    assert code == 0 and {f["status"] for f in out["files"]} == {"already_ingested"}, out

    shutil.copytree(home, shared)
    monkeypatch.setenv("FAIRTEL_DATABASE_URL", f"sqlite:///{home / 'fairtel.db'}")
    code, out = _run(shared, "ingest", *map(str, files))
    assert code == 2 and out["error"]["details"]["copy_of"] == str(home.resolve()), out
