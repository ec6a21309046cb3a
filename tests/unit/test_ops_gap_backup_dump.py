"""The ``pg_dump`` a backup on PostgreSQL prints is the command to run at once: on one line whatever the terminal's
width (a line copied from a wrapped one ran ``pg_dump`` with no host or database), writing the dump beside the
backup and named for it (``DEST.pgdump``, not ``fairtel.pgdump`` in whatever directory the shell is in, replaced by
the next backup's), under ``umask 077`` (the dump holds every subscriber's data)."""

from __future__ import annotations

import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from fairtel.cli import _backup, _ui, app

URL = "postgresql+psycopg://postgres@db.example.internal:5433/walk_ops"


def test_the_dump_goes_beside_the_backup_named_for_it(tmp_path: Path) -> None:
    dest = tmp_path / "backups dir" / "b1"
    database = _backup._database(SimpleNamespace(db_url=URL), dest)
    words = shlex.split(database["dump_command"])
    assert words[0] == "pg_dump" and words[-1] == "walk_ops", words
    assert f"--file={dest}.pgdump" in words, words  # quoted for the shell: the directory has a space
    assert {"--format=custom", "--host=db.example.internal", "--port=5433", "--username=postgres"} <= set(words)


def test_a_url_without_a_user_names_none() -> None:
    words = shlex.split(_backup._database(SimpleNamespace(db_url="postgresql+psycopg://db/x"), Path("/b/b1"))["dump_command"])
    assert words == ["pg_dump", "--format=custom", "--file=/b/b1.pgdump", "--host=db", "--port=5432", "x"]


def test_the_command_is_printed_on_one_line_under_umask_077(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "a-rather-long-directory-name-for-backups" / "fairtel-2026-11-30"
    command = _backup._database(SimpleNamespace(db_url=URL), dest)["dump_command"]

    def backup_home(_settings: Any, _dest: Path, **_: Any) -> dict[str, Any]:
        return {"backup": str(dest), "home": str(tmp_path / "home"), "files": 3, "bytes": 1234,
                "sqlite_databases": 1, "database": {"backend": "postgresql", "revision": "0021"},
                "database_dump": command}

    monkeypatch.setattr(_backup, "backup_home", backup_home)
    monkeypatch.setattr(_ui.console, "_width", 60)  # a narrow terminal: the line must still not wrap
    res = CliRunner().invoke(app, ["backup", str(dest), "--home", str(tmp_path / "home")])
    assert res.exit_code == 0, (res.output, res.exception)
    lines = res.stdout.splitlines()
    assert f"(umask 077 && {command})" in lines, lines  # one whole line, copied as it is
    assert "umask 077" in res.stdout.split(command)[0]
