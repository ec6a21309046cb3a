"""A home refused for not being the one its database serves (a mistyped ``FAIRTEL_HOME`` or ``--home``) is refused
before anything is made: no directory is left behind (it was made, empty and owner-only, before the refusal). And a
SQLite database outside the home (``FAIRTEL_DATABASE_URL``) is guarded as the home's own ``fairtel.db`` is: once
the home has its id, a missing file is ``database_unavailable``, never made anew and empty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_core_gap_home_binding import database_url  # noqa: F401 (a fixture)
from tests.integration.test_ingest_cli import fixtures
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.core.errors import DatabaseUnavailableError, HomeMismatchError
from fairtel.core.settings import load_settings
from fairtel.store import connect

runner = CliRunner()
FAIRTEL = str(Path(sys.executable).parent / "fairtel")


def _run(home: Path, *args: str) -> tuple[int, dict[str, Any]]:
    res = runner.invoke(app, ["--home", str(home), *args, "--json"])
    out = res.stdout.strip()
    return res.exit_code, json.loads(out) if out.startswith(("{", "[")) else {"output": res.output, "exc": repr(res.exception)}


@pytest.mark.usefixtures("database_url")
def test_a_mistyped_home_is_refused_and_not_made(tmp_path: Path) -> None:
    home, typo = tmp_path / "home", tmp_path / "hmoe"
    files = [str(f) for f in fixtures(tmp_path / "in")]
    code, out = _run(home, "ingest", *files)
    assert code == 0, out
    code, out = _run(typo, "ingest", *files)
    assert code == 2 and out["error"]["code"] == "home_mismatch", out
    assert not typo.exists()  # refused before it was made
    done = subprocess.run([FAIRTEL, "users", "list", "--home", str(typo)], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "FAIRTEL_CONFIG": os.devnull})
    assert done.returncode == 2 and "home_mismatch" in done.stderr + done.stdout, done
    assert not typo.exists()
    with bootstrap(load_settings(home=typo)) as fapp, pytest.raises(HomeMismatchError):
        fapp.db.connect()
    assert not typo.exists()


@pytest.mark.usefixtures("database_url")
def test_a_new_home_on_a_new_database_is_made_as_before(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    code, out = _run(home, "ingest", *map(str, fixtures(tmp_path / "in")))
    assert code == 0, out
    assert (home / "home.id").is_file() and (home.stat().st_mode & 0o777) == 0o700


def test_a_sqlite_database_outside_the_home_is_never_made_anew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "databases" / "fairtel.db"
    db.parent.mkdir()
    monkeypatch.setenv("FAIRTEL_DATABASE_URL", f"sqlite:///{db}")
    home = tmp_path / "home"
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.connect():
        pass
    assert (home / "home.id").is_file() and db.is_file()
    db.unlink()  # removed, or its volume not mounted
    with bootstrap(load_settings(home=home)) as fapp, pytest.raises(DatabaseUnavailableError, match="missing"):
        fapp.db.connect()
    assert not db.exists()  # nothing made in its place
    code, out = _run(home, "ingest", *map(str, fixtures(tmp_path / "in")))
    assert code == 2 and out["error"]["code"] == "database_unavailable", out
    assert not db.exists()


def test_connect_looks_for_the_home_id_in_the_home_given(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / "home.id").write_text("0123\n", encoding="utf-8")
    file = elsewhere / "fairtel.db"
    engine = connect(f"sqlite:///{file}", home=home)
    try:
        with pytest.raises(DatabaseUnavailableError, match=str(home)):
            engine.connect()
    finally:
        engine.dispose()
    assert not file.exists()
    engine = connect(f"sqlite:///{file}")  # without a home: the directory of the file (nothing there, so made)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()
    assert file.exists()
