"""A watch survives its database going away: ``after`` (online rating) that cannot reach the database asks the
watch to try again later, the files stay in the inbox and the next pass takes them (found already ingested),
each reported and rated once; the rater's register state is left as it was by a read that failed; pooled
PostgreSQL connections are tested before use, so a server restart costs no request; and ``watch --rate``
against a database that goes down and comes back carries on, rating every file once."""

from __future__ import annotations

import csv
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from tests.integration.test_ingest_cli import fixtures

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli._mediation import _online_rating, _retrying
from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.settings import Settings, load_settings
from fairtel.mediation import FileReport, Status, ingest_files, watch
from fairtel.mediation._inbox import RetryLater
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, connect, import_consent_events, import_subscribers, store_catalog, suspend_line

A, B = "8613800000001", "8613800000002"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"


def _wait_for(check: Any, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


# --- the watch's handling of ``RetryLater`` (no database needed) ------------------------------------------------

def test_files_given_back_are_taken_again_on_the_next_pass_and_reported_once(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    files = fixtures(inbox)
    calls: list[list[str]] = []
    down = threading.Event()
    down.set()
    retries: list[str] = []
    reported: list[FileReport] = []

    def after(reports: Sequence[FileReport]) -> None:
        calls.append([Path(r.file).name for r in reports])
        if down.is_set():
            if len(calls) >= 3:  # the database back after a few tries
                down.clear()
            raise RetryLater("database unavailable (test): connection refused")

    stop = threading.Event()
    out: list[FileReport] = []
    t = threading.Thread(target=lambda: out.extend(watch(
        inbox, settings=Settings(home=home), interval=0.05, after=after, on_file=reported.append,
        on_retry=retries.append, stop=stop.is_set)), daemon=True)
    t.start()
    try:
        _wait_for(lambda: (inbox / "done").is_dir() and len(list((inbox / "done").iterdir())) == len(files))
    finally:
        stop.set()
        t.join(30)
    assert not t.is_alive()
    assert retries and all("database unavailable (test): connection refused; " in m and "stay" in m for m in retries)
    assert all("\n" not in m for m in retries)  # one line each
    # three refusals, then every file handed over once more and taken, each once
    assert len(calls) > 3 and sorted(n for c in calls[3:] for n in c) == sorted(f.name for f in files)
    # reported once each, as this watch ingested them (not as "already ingested" by the pass that took them again)
    assert sorted(Path(r.file).name for r in out) == sorted(f.name for f in files)
    assert [r.file for r in out] == [r.file for r in reported]
    by = {Path(r.file).name: r for r in out}
    assert by["switch-a.csv"].status == Status.INGESTED and by["switch-a.csv"].read == 5
    assert not [p for p in inbox.iterdir() if p.is_file()]


def test_another_error_of_after_still_ends_the_watch(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    fixtures(inbox)

    def after(reports: Sequence[FileReport]) -> None:
        raise ValueError("a broken catalog")

    with pytest.raises(ValueError, match="a broken catalog"):
        watch(inbox, settings=Settings(home=home), interval=0.05, after=after, stop=lambda: False)
    assert not (inbox / "done").exists()


def test_a_single_pass_that_had_to_leave_files_says_so(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    files = fixtures(inbox)

    def after(reports: Sequence[FileReport]) -> None:
        raise RetryLater("database unavailable (test): connection refused")

    with pytest.raises(RetryLater, match=r"connection refused; \d+ files? stays? in the inbox"):
        watch(inbox, settings=Settings(home=home), once=True, after=after)
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == sorted(f.name for f in files)


# --- the rater's hook: a failed read changes nothing ----------------------------------------------------------

def _rec(rid: str, msisdn: str, at: datetime, *, vas: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(USAGE_FIELDS, "")
    base = {"record_id": rid, "source": "sw1", "msisdn": msisdn, "started_at": at.isoformat()}
    if vas:
        return row | base | {"kind": "vas", "offer_id": "vas-music-10", "amount": "10.00", "currency": "CNY"}
    return row | base | {"kind": "voice", "direction": "out", "peer": "8613912345678", "duration_s": "60"}


def _usage(path: Path, *records: dict[str, Any]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=USAGE_FIELDS)
        w.writeheader()
        w.writerows(records)
    return path


def test_a_register_read_that_fails_is_taken_again_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The register's version read, then its plans failing: the next call must take the same change (the line
    suspended), not skip it as seen."""
    t0 = datetime.now(UTC) - timedelta(hours=2)
    app = bootstrap(load_settings(home=tmp_path / "home"))
    (tmp_path / "r.csv").write_text(f"{HEADER}\n{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                                    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text("".join(
        f'{{"event":"{e}","subscription_id":"s-{B}","msisdn":"{B}","offer_id":"vas-music-10",'
        f'"at":"{(t0 - timedelta(days=3, minutes=-i)).isoformat()}","channel":"sms"}}\n'
        for i, e in enumerate(("ordered", "confirmed"))), encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, tmp_path / "r.csv")
        import_consent_events(conn, tmp_path / "c.jsonl")
    import fairtel.store as store

    real = store.plan_timeline
    failing = {"n": 0}

    def plan_timeline(conn: Any, **kw: Any) -> Any:
        if kw.get("msisdns") and failing["n"] == 0:
            failing["n"] += 1
            raise OperationalError("SELECT plans", {}, Exception("server closed the connection unexpectedly"))
        return real(conn, **kw)

    monkeypatch.setattr(store, "plan_timeline", plan_timeline)
    after = _online_rating(app, quiet=True)
    after(ingest_files([_usage(tmp_path / "f1.csv", _rec("b1", B, t0, vas=True))], settings=app.settings))
    with app.db.begin() as conn:
        who = AuditAs("fraud1", "fraud_analyst", Pseudonymizer("k" * 32, domain="msisdn"), reason="case 1")
        assert suspend_line(conn, B, at=t0 + timedelta(minutes=30), audit=who, reason="case 1") == "suspended"
    f2 = ingest_files([_usage(tmp_path / "f2.csv", _rec("b2", B, t0 + timedelta(hours=1), vas=True))],
                      settings=app.settings)
    with pytest.raises(OperationalError):
        after(f2)
    assert failing["n"] == 1
    after(f2)  # the database back: the same change taken
    lake = tmp_path / "home" / "lake"
    out = pl.concat([pl.read_parquet(f) for d in ("rated", "unrated") for f in sorted((lake / d).rglob("o-*.parquet"))],
                    how="diagonal_relaxed")
    assert out.filter(pl.col("record_id") == "b1")["verdict"].to_list() == ["consented"]
    assert out.filter(pl.col("record_id") == "b2")["verdict"].to_list() == ["line_suspended"]
    app.close()


def test_the_rating_hook_asks_to_retry_on_a_lost_connection_only() -> None:
    def lost(reports: Sequence[FileReport]) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"),
                               connection_invalidated=True)

    def broken(reports: Sequence[FileReport]) -> None:
        raise ValueError("not a database matter")

    with pytest.raises(RetryLater, match="database unavailable"):
        _retrying(lost)([])
    with pytest.raises(ValueError):
        _retrying(broken)([])


# --- PostgreSQL ---------------------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_pooled_connections_survive_a_server_side_disconnect(postgres_url: str) -> None:
    """A restart ends every server backend: the pool's connection is dead, and must not reach the next query."""
    engine = connect(postgres_url)
    admin = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:  # only this engine's own backend, not the shared database's others
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        _wait_for(lambda: not _alive(admin, pid), 10)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
        admin.dispose()


def _alive(engine: Any, pid: int) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar_one())


class _Proxy:
    """A TCP proxy in front of PostgreSQL that can be taken down (every connection cut, new ones refused) and
    brought back on the same port: a database restart, seen from the client."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()

    def up(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self) -> None:
        assert self.listener is not None
        with suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone leaves it listening
        self.listener.close()
        self.listener = None
        with self.lock:
            for c in self.conns:
                with suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
                c.close()
            self.conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for s in (a, b):
                with suppress(OSError):
                    s.close()


@pytest.fixture
def pg_home(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """A home on a schema of its own, with the catalog and line A; yields it, the URL through a proxy (its port
    is put in at the test) and the schema."""
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home, database_url=url))
    (tmp_path / "r.csv").write_text(f"{HEADER}\n{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, tmp_path / "r.csv")
    app.close()
    try:
        yield home, url, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.postgres
def test_watch_rate_carries_on_through_a_database_restart(pg_home: tuple[Path, str, str], tmp_path: Path) -> None:
    home, url, _ = pg_home
    from sqlalchemy.engine import make_url

    direct = make_url(url)
    proxy = _Proxy((direct.host or "127.0.0.1", direct.port or 5432))
    proxy.up()
    through = direct.set(host="127.0.0.1", port=proxy.port, password="not-a-real-secret")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    t0 = datetime.now(UTC) - timedelta(hours=2)
    files = [_usage(tmp_path / f"f{i}.csv", _rec(f"r{i}", A, t0 + timedelta(minutes=i))) for i in range(1, 4)]
    env = {**os.environ, "FAIRTEL_DATABASE_URL": through.render_as_string(hide_password=False)}
    err = (tmp_path / "watch.err").open("w+", encoding="utf-8")
    watcher = subprocess.Popen([str(Path(sys.executable).with_name("fairtel")), "--home", str(home), "watch",
                                str(inbox), "--rate", "--json", "--interval", "0.2"],
                               stdout=subprocess.PIPE, stderr=err, env=env, text=True)
    try:
        os.replace(files[0], inbox / files[0].name)
        _wait_for(lambda: (inbox / "done" / "f1.csv").exists() or watcher.poll() is not None)
        assert watcher.poll() is None
        proxy.down()  # the database restarting: connections cut, new ones refused
        for f in files[1:]:
            os.replace(f, inbox / f.name)
        _wait_for(lambda: "database unavailable" in Path(err.name).read_text() or watcher.poll() is not None)
        time.sleep(0.5)
        assert watcher.poll() is None, Path(err.name).read_text()
        assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["f2.csv", "f3.csv"]  # waiting, not lost
        proxy.up()
        _wait_for(lambda: len(list((inbox / "done").iterdir())) == 3 or watcher.poll() is not None)
        assert watcher.poll() is None, Path(err.name).read_text()
        watcher.send_signal(signal.SIGTERM)
        out, _ = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        if proxy.listener is not None:
            proxy.down()
    stderr = Path(err.name).read_text()
    assert watcher.returncode == 0, stderr
    assert "Traceback" not in stderr
    message = next(line for line in stderr.splitlines() if "database unavailable" in line)
    assert f"127.0.0.1:{proxy.port}" in message and "not-a-real-secret" not in stderr
    lines = [json.loads(line) for line in out.splitlines()]
    assert [Path(o["file"]).name for o in lines[:-1]] == ["f1.csv", "f2.csv", "f3.csv"]
    assert all(o["status"] == "ingested" and o["read"] == 1 for o in lines[:-1])
    assert lines[-1]["summary"]["files"] == 3 and lines[-1]["summary"]["failed"] == 0
    log = [json.loads(line) for line in (home / "lake" / "rating_log" / "online.jsonl").read_text().splitlines()]
    rated = [f["file"] for e in log for f in e["files"]]
    assert sorted(rated) == sorted(o["content_hash"] for o in lines[:-1])  # each once: none lost, none doubled
    rows = pl.concat([pl.read_parquet(f) for f in (home / "lake" / "rated").rglob("o-*.parquet")])
    assert sorted(rows["record_id"].to_list()) == ["r1", "r2", "r3"]
