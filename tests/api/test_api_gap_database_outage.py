"""A database that goes away under a running server, or between ``fairtel serve``'s check and the server's start:
the server starts and keeps serving, every request that needs the database (``/api/v1/health`` included) answers
503 ``database_unavailable`` naming the database without its password, the outage is logged once, and the server
is itself again once the database is back. PostgreSQL is reached through a TCP relay the tests stop (every
connection cut, nothing listening: a stopped server) and start again; a SQLite file is removed and put back."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fairtel_seed import PASSWORD, seed
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from fairtel.api import ApiOptions, create_app
from fairtel.api import _app as api_app
from fairtel.api._health import check_app_database
from fairtel.bootstrap import bootstrap
from fairtel.core.settings import load_settings

SECRET = "pw-Never-Shown-42"
KEY = "test-secret-key-0123456789abcdef"


class Relay:
    """Forwards a local port to PostgreSQL; ``stop`` closes the port and cuts every connection, ``start`` opens the
    same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(50)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                near, _ = listener.accept()
            except OSError:
                return
            try:
                far = socket.create_connection(self.target)
            except OSError:
                near.close()
                continue
            with self._lock:
                self._open += [near, far]
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept: a closed socket alone keeps listening
            self._listener.close()
            self._listener = None
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._open.clear()


@pytest.fixture()
def on_postgres(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Relay, str, Path]]:
    """A seeded home whose database is in a schema of its own, reached through a relay: (relay, URL through the
    relay with a password, home)."""
    from sqlalchemy.engine import make_url

    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    relay = Relay((make_url(postgres_url).host or "127.0.0.1", make_url(postgres_url).port or 5432))
    relay.start()
    try:
        seeded = seed(tmp_path / "home", database_url=f"{postgres_url}?options=-csearch_path%3D{schema}")
        seeded.engine.dispose()
        user = make_url(postgres_url).username
        database = make_url(postgres_url).database
        url = f"postgresql+psycopg://{user}:{SECRET}@127.0.0.1:{relay.port}/{database}?options=-csearch_path%3D{schema}"
        yield relay, url, tmp_path / "home"
    finally:
        relay.stop()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _login(client: TestClient) -> int:
    return client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}).status_code


def _wait_for(what: object, expected: int, *, within_s: float = 20.0) -> int:
    deadline = time.monotonic() + within_s
    while True:
        got = what()  # type: ignore[operator]
        if got == expected or time.monotonic() > deadline:
            return int(got)
        time.sleep(0.2)


def test_a_database_lost_before_the_server_starts_is_503_until_it_is_back(
    on_postgres: tuple[Relay, str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    relay, url, home = on_postgres
    monkeypatch.setattr(api_app, "STARTUP_RETRY_S", 0.2, raising=False)
    settings = load_settings(home=home, database_url=url, environment="test", secret_key=KEY)
    context = bootstrap(settings)
    check_app_database(context)  # as ``fairtel serve`` asks first: the database answers
    api = create_app(settings, options=ApiOptions(rate_per_second=0), app=context)
    relay.stop()  # ... and is gone by the time the server starts
    try:
        with caplog.at_level(logging.INFO, logger="fairtel.api"), TestClient(api, raise_server_exceptions=False) as client:
            down = client.get("/api/v1/health")
            assert down.status_code == 503, down.text
            assert down.headers["Retry-After"].isdigit()
            error = down.json()["error"]
            assert error["code"] == "database_unavailable"
            assert f"127.0.0.1:{relay.port}" in error["message"] and SECRET not in down.text
            assert _login(client) == 503
            warnings = [r for r in caplog.records if r.name == "fairtel.api" and r.levelno == logging.WARNING]
            assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once for the outage, not per request
            assert f"127.0.0.1:{relay.port}" in warnings[0].getMessage() and SECRET not in warnings[0].getMessage()

            relay.start()
            assert _wait_for(lambda: client.get("/api/v1/health").status_code, 200) == 200
            assert _wait_for(lambda: _login(client), 200) == 200
            def said() -> list[str]:
                return [r.getMessage() for r in caplog.records if r.name == "fairtel.api"]

            assert any(m.startswith("database available again") for m in said()), said()
            # the start-up reads are retried on their own clock: wait for them rather than race them
            assert _wait_for(lambda: int("database available: the start-up reads are done" in said()), 1) == 1, said()
    finally:
        context.close()


def test_a_database_lost_while_serving_is_503_and_served_again_once_back(
    on_postgres: tuple[Relay, str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    relay, url, home = on_postgres
    settings = load_settings(home=home, database_url=url, environment="test", secret_key=KEY)
    api = create_app(settings, options=ApiOptions(rate_per_second=0))
    with caplog.at_level(logging.INFO, logger="fairtel.api"), TestClient(api, raise_server_exceptions=False) as client:
        assert client.get("/api/v1/health").status_code == 200
        relay.stop()
        assert _login(client) == 503
        time.sleep(1.1)  # past the time a check's success answers for
        down = client.get("/api/v1/health")
        assert down.status_code == 503 and down.json()["error"]["code"] == "database_unavailable", down.text
        warnings = [r.getMessage() for r in caplog.records if r.name == "fairtel.api" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "database unavailable" in warnings[0], warnings
        relay.start()
        assert _wait_for(lambda: client.get("/api/v1/health").status_code, 200) == 200
        assert _login(client) == 200


def test_a_removed_sqlite_file_is_503_and_not_made_anew(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    seeded = seed(tmp_path / "home")
    seeded.engine.dispose()
    api = create_app(seeded.settings, options=ApiOptions(rate_per_second=0))
    database = seeded.settings.home / "fairtel.db"
    kept = tmp_path / "backup.db"
    with caplog.at_level(logging.INFO, logger="fairtel.api"), TestClient(api, raise_server_exceptions=False) as client:
        assert client.get("/api/v1/health").status_code == 200 and _login(client) == 200
        with sqlite3.connect(database) as source, sqlite3.connect(kept) as copy:
            source.backup(copy)
        for f in database.parent.glob("fairtel.db*"):
            f.unlink()
        down = client.get("/api/v1/health")
        assert down.status_code == 503, down.text
        error = down.json()["error"]
        assert error["code"] == "database_unavailable" and "the database file is missing" in error["message"]
        assert str(database) in error["details"]["database"]
        login = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
        assert login.status_code == 503 and login.json()["error"]["code"] == "database_unavailable", login.text
        assert not database.exists()  # no empty database made in its place
        assert any("the database file is missing" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

        shutil.copyfile(kept, database)  # restored from the backup
        assert client.get("/api/v1/health").status_code == 200
        assert _login(client) == 200
    seeded.app.close()
