"""``GET /api/v1/health`` asks the database: with the database gone it answered ``{"status": "ok"}`` (a constant)
while every other endpoint answered 503, so a load balancer kept sending traffic to a server that could serve
none. Now 503 ``database_unavailable`` naming the database, with ``Retry-After``; and ``fairtel serve`` refuses to
start on a database it cannot reach with that error and exit status 2, not a start-up traceback (exit 3)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fairtel.api import ApiOptions, create_app
from fairtel.cli import app as cli
from fairtel.core.errors import DatabaseUnavailableError
from fairtel.core.settings import load_settings
from fairtel.store import connect

KEY = "test-secret-key-0123456789abcdef"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when the block ends: nothing listens there


def test_health_answers_503_once_the_database_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(home=tmp_path / "home", environment="test", secret_key=KEY)
    api = create_app(settings, options=ApiOptions(rate_per_second=0))
    with TestClient(api) as client:
        ok = client.get("/api/v1/health")
        assert ok.status_code == 200 and ok.json()["status"] == "ok", ok.text
        # the database goes away under the running server (dropped, its server stopped)
        services = api.state.services
        gone = connect(f"postgresql+psycopg://fairtel@127.0.0.1:{_closed_port()}/gone")
        monkeypatch.setitem(services.app.__dict__, "db", gone)
        down = client.get("/api/v1/health")
        assert down.status_code == 503, down.text
        error = down.json()["error"]
        assert error["code"] == "database_unavailable" and "127.0.0.1" in error["message"], error
        assert down.headers.get("retry-after")
        gone.dispose()


def test_the_check_gives_up_after_its_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import threading

    from fairtel.api import _health

    release = threading.Event()
    monkeypatch.setattr(_health, "_select_one", lambda _engine: release.wait(10))
    engine = connect(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(DatabaseUnavailableError, match=r"no answer to SELECT 1 within 0.2 s"):
            _health.check_database(engine, timeout_s=0.2)
    finally:
        release.set()
        engine.dispose()


def test_serve_on_an_unreachable_database_ends_with_database_unavailable(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://fairtel@127.0.0.1:{_closed_port()}/nosuchdb"
    result = CliRunner().invoke(cli, ["serve", "--home", str(tmp_path / "home"), "--port", str(_closed_port())],
                                env={"FAIRTEL_DATABASE_URL": url})
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert said.startswith("database_unavailable: database unavailable (postgresql+psycopg://fairtel@127.0.0.1:"), said
    assert "Traceback" not in result.output
