"""The register's change log: every write to a line (its row or its plan history) is noted under a version that
follows the commits, so that online rating asks which lines changed since it read the register (one look-up in an
index when none did) instead of reading every line's plans and state again each pass. Before, nothing told a
reader whether the register had changed. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from fairtel.catalog import default_catalog_path
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, import_subscribers, plan_timeline, store_catalog, suspend_line
from fairtel.store._schema import table_of
from fairtel.store._subscribers import RegisterChange, register_changes, register_lines, register_version

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"


def _register(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def _import(engine: Engine, path: Path, now: datetime) -> None:
    with engine.begin() as conn:
        import_subscribers(conn, path, now=now, timezone="Asia/Shanghai")


def test_a_change_names_its_lines_and_an_unchanged_register_names_none(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        assert register_version(conn) == 0 and register_changes(conn, since=0) == (0, [])
    a = f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh"
    b = f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh"
    _import(engine, _register(tmp_path / "r1.csv", a, b), datetime(2026, 2, 20, tzinfo=CN))
    with engine.connect() as conn:
        v1, lines = register_changes(conn, since=0)
        assert lines == [A, B] and v1 == register_version(conn) > 0

    # the same file again writes nothing, and so notes nothing
    _import(engine, _register(tmp_path / "r1.csv", a, b), datetime(2026, 2, 21, tzinfo=CN))
    with engine.connect() as conn:
        assert register_changes(conn, since=v1) == (v1, [])

    # a plan change made mid-March (in force from April): A alone, and its plans read alone are its plans
    _import(engine, _register(tmp_path / "r2.csv", a.replace("basic-39", "payg"), b), datetime(2026, 3, 15, tzinfo=CN))
    with engine.connect() as conn:
        v2, lines = register_changes(conn, since=v1)
        assert lines == [A] and v2 > v1
        mine = plan_timeline(conn, msisdns=lines).to_pylist()
        whole = [r for r in plan_timeline(conn).to_pylist() if r["msisdn"] == A]
    assert mine == whole
    assert [(r["plan_id"], r["effective_from"]) for r in mine] == [
        ("basic-39", datetime(2024, 12, 31, 16, tzinfo=UTC)), ("payg", datetime(2026, 3, 31, 16, tzinfo=UTC))]

    # a suspension (a confirmed fraud case) and a line added by a file
    with engine.begin() as conn:
        who = AuditAs("fraud1", "fraud_analyst", Pseudonymizer("k" * 32, domain="msisdn"), reason="case 1")
        assert suspend_line(conn, B, at=datetime(2026, 3, 10, tzinfo=UTC), audit=who, reason="case 1") == "suspended"
    with engine.connect() as conn:
        v3, lines = register_changes(conn, since=v2)
        assert lines == [B] and v3 > v2
    _import(engine, _register(tmp_path / "r3.csv", f"{C},c3,payg,2026-03-01T00:00:00+08:00,active,zh,sh"),
            datetime(2026, 3, 16, tzinfo=CN))
    # a line closed by a file; asked from an older version, every line changed since is named once
    _import(engine, _register(tmp_path / "r4.csv", a.replace("basic-39", "payg").replace("active", "closed")),
            datetime(2026, 3, 17, tzinfo=CN))
    with engine.connect() as conn:
        v4, lines = register_changes(conn, since=v2)
        assert lines == [A, B, C] and v4 == register_version(conn) > v3
        states = register_lines(conn, lines)
    assert states.columns == ["msisdn", "status", "activated_at", "closed_at", "suspended_at", "updated_at"]
    assert states.schema["suspended_at"] == pl.Datetime("us", "UTC")
    assert {r["msisdn"]: (r["status"], r["suspended_at"]) for r in states.iter_rows(named=True)} == {
        A: ("closed", None), B: ("suspended", datetime(2026, 3, 10, tzinfo=UTC)), C: ("active", None)}


def test_more_changes_than_asked_for_say_read_the_register_whole(engine: Engine, tmp_path: Path) -> None:
    rows = [f"86138000000{i:02d},c{i},payg,2025-01-01T00:00:00+08:00,active,zh,sh" for i in range(12)]
    _import(engine, _register(tmp_path / "r.csv", *rows), datetime(2026, 2, 20, tzinfo=CN))
    with engine.connect() as conn:
        version = register_version(conn)
        assert register_changes(conn, since=0, most=11) == (version, None)
        assert register_changes(conn, since=0, most=12)[1] == sorted(r.split(",")[0] for r in rows)
        assert register_lines(conn, []).height == 0
        # a log that holds less than the version asked from began again (a database restored): read whole
        assert register_changes(conn, since=version + 5) == (version, None)


def _who() -> AuditAs:
    return AuditAs("fraud1", "fraud_analyst", Pseudonymizer("k" * 32, domain="msisdn"), reason="case 1")


def test_versions_follow_the_commits(engine: Engine, tmp_path: Path) -> None:
    """A writer's version is taken under the log's lock, held to its commit: a second writer waits, and gets the
    higher number, so that a reader that saw it has seen the first. Readers do not wait."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    _import(engine, _register(tmp_path / "r.csv", f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh",
                              f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh"), datetime(2026, 2, 20, tzinfo=CN))
    with engine.connect() as conn:
        v0 = register_version(conn)
    first = engine.connect()
    tx = first.begin()
    assert suspend_line(first, A, at=datetime(2026, 3, 1, tzinfo=UTC), audit=_who(), reason="case 1") == "suspended"
    done = threading.Event()

    def second() -> None:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            suspend_line(conn, B, at=datetime(2026, 2, 1, tzinfo=UTC), audit=_who(), reason="case 2")
        done.set()

    worker = threading.Thread(target=second)
    worker.start()
    try:
        assert not done.wait(1.0)  # waits for the first writer's commit
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL statement_timeout = '5s'"))
            assert register_changes(conn, since=v0) == (v0, [])  # not blocked, and nothing committed yet
        tx.commit()
    finally:
        first.close()
        worker.join(30)
    assert done.is_set()
    with engine.connect() as conn:
        assert register_changes(conn, since=v0)[1] == [A, B]
        t = table_of(RegisterChange)
        versions = dict(conn.execute(select(t.c.msisdn, t.c.version)).all())
    assert v0 < versions[A] < versions[B]
