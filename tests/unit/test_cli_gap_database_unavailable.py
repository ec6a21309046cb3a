"""A database that cannot be reached or used ends a command with ``database_unavailable`` naming it (never its
password), exit status 2 like other errors, as JSON under ``--json``: no traceback."""

from __future__ import annotations

import json
import socket
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from fairtel.cli import main

SECRET = "pw-Never-Shown-42"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def _run(monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> int:
    monkeypatch.setenv("FAIRTEL_DATABASE_URL", url)
    monkeypatch.setattr(sys, "argv", ["fairtel", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return int(exit_.value.code or 0)


def test_unreachable_database_is_a_json_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    port = _closed_port()
    (tmp_path / "inbox").mkdir()
    code = _run(monkeypatch, f"postgresql+psycopg://fairtel:{SECRET}@127.0.0.1:{port}/billing",
                "--home", str(tmp_path / "home"), "watch", str(tmp_path / "inbox"), "--rate", "--once", "--json")
    out, err = capsys.readouterr()
    assert code == 2
    error = json.loads(out)["error"]
    assert error["code"] == "database_unavailable"
    assert f"postgresql+psycopg://fairtel@127.0.0.1:{port}/billing" in error["message"]
    assert "refused" in error["message"].lower()
    assert SECRET not in out + err and "Traceback" not in err


def test_unreachable_database_in_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    port = _closed_port()
    code = _run(monkeypatch, f"postgresql+psycopg://fairtel:{SECRET}@127.0.0.1:{port}/billing?password={SECRET}",
                "--home", str(tmp_path / "home"), "kpi")
    out, err = capsys.readouterr()
    assert code == 2
    text = " ".join(err.split())
    assert text.startswith("database_unavailable: database unavailable (postgresql+psycopg://fairtel@127.0.0.1:"), err
    assert SECRET not in out + err and "Traceback" not in err


@pytest.mark.postgres
def test_missing_database_is_said(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    name = f"fairtel_missing_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_url).set(database=name, password=SECRET).render_as_string(hide_password=False)
    code = _run(monkeypatch, url, "--home", str(tmp_path / "home"), "kpi", "--json")
    out, err = capsys.readouterr()
    assert code == 2
    error = json.loads(out)["error"]
    assert error["code"] == "database_unavailable"
    assert f'database "{name}" does not exist' in error["message"] and f"/{name}" in error["details"]["database"]
    assert SECRET not in out + err
