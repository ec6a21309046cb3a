"""Each line's status through time is kept (``line_status_history``, migration 0016), on SQLite and on PostgreSQL:
the register (``subscribers``) keeps only a line's current state, so a suspension ended by a reactivation was
forgotten. The migration backfills what the register knew; every import and every suspension on a case's decision
adds rows; ``suspension_windows`` reads the suspensions that ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from fairtel.store import (
    AuditAs,
    Customer,
    LineStatusHistory,
    Subscriber,
    current_revision,
    head_revision,
    import_subscribers,
    migrate,
    suspend_line,
    suspension_windows,
)
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import table_of

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T = datetime(2026, 3, 1, tzinfo=UTC)
A, B, C, D, E = (f"861380000000{i}" for i in range(1, 6))
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at,suspended_at\n"
WHO = AuditAs("analyst1", "fraud_analyst", lambda m: f"p-{m[-4:]}", reason="fraud case 1")


def _history(engine: Engine) -> list[tuple[str, str, datetime, str]]:
    h = table_of(LineStatusHistory)
    with engine.connect() as conn:
        rows = conn.execute(select(h.c.msisdn, h.c.status, h.c.since, h.c.source).order_by(h.c.entry_id)).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_the_migration_backfills_the_register_and_its_downgrade_drops_the_table(blank_engine: Engine) -> None:
    with blank_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0015")
        conn.execute(table_of(Customer).insert(), [{"customer_id": "c1", "created_at": T0}])
        base = {
            "customer_id": "c1",
            "plan_id": "payg",
            "activated_at": T0,
            "language": "zh",
            "region": None,
            "closed_at": None,
            "suspended_at": None,
        }
        conn.execute(
            table_of(Subscriber).insert(),
            [
                base | {"msisdn": A, "status": "active", "updated_at": T},
                base | {"msisdn": B, "status": "suspended", "suspended_at": T + timedelta(days=1), "updated_at": T},
                base | {"msisdn": C, "status": "suspended", "updated_at": T + timedelta(days=2)},  # since when: unknown
                base | {"msisdn": D, "status": "closed", "closed_at": T + timedelta(days=3), "updated_at": T},
                base | {"msisdn": E, "status": "closed", "updated_at": T + timedelta(days=4)},  # when: unknown
            ],
        )
    assert "line_status_history" not in inspect(blank_engine).get_table_names()
    migrate(blank_engine)
    assert current_revision(blank_engine) == head_revision() >= "0016"
    insp = inspect(blank_engine)
    assert {c["name"] for c in insp.get_columns("line_status_history")} == {
        "entry_id",
        "msisdn",
        "status",
        "since",
        "recorded_at",
        "source",
        "reason",  # why a suspension's line was suspended (0026)
    }
    assert "ix_line_status_history_msisdn_since" in {i["name"] for i in insp.get_indexes("line_status_history")}
    assert sorted(_history(blank_engine)) == sorted(
        [
            *((m, "active", T0, "backfill") for m in (A, B, C, D, E)),
            (B, "suspended", T + timedelta(days=1), "backfill"),
            (C, "suspended", T + timedelta(days=2), "backfill"),  # when the register last changed it
            (D, "closed", T + timedelta(days=3), "backfill"),
            (E, "closed", T + timedelta(days=4), "backfill"),
        ]
    )
    with blank_engine.connect() as conn:
        assert suspension_windows(conn).height == 0  # suspensions in force are the register's, not listed
    with pytest.raises(IntegrityError), blank_engine.begin() as conn:  # the CHECK holds on both databases
        conn.execute(
            table_of(LineStatusHistory).insert().values(msisdn=A, status="barred", since=T, recorded_at=T, source="x")
        )
    with blank_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0015")
    assert "line_status_history" not in inspect(blank_engine).get_table_names()
    migrate(blank_engine)  # and up again
    assert len(_history(blank_engine)) == 9


def _file(tmp_path: Path, name: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_every_status_change_is_a_row_and_ended_suspensions_are_windows(engine: Engine, tmp_path: Path) -> None:
    a0 = "2025-01-01T00:00:00Z"
    day = [T + timedelta(days=i) for i in range(20)]
    with engine.begin() as conn:
        first = _file(
            tmp_path,
            "1.csv",
            f"{A},c1,payg,{a0},active,zh,,,",
            f"{B},c2,payg,{a0},active,zh,,,",
            f"{C},c3,payg,{a0},active,zh,,,",
        )
        assert import_subscribers(conn, first, now=day[0]).inserted == 3
        # A suspended from the date the file gives; C closed; B suspended on a case's decision
        second = _file(
            tmp_path,
            "2.csv",
            f"{A},c1,payg,{a0},suspended,zh,,,{day[2].isoformat()}",
            f"{C},c3,payg,{a0},closed,zh,,{day[3].isoformat()},",
        )
        assert import_subscribers(conn, second, now=day[4]).updated == 2
        assert suspend_line(conn, B, at=day[5], audit=WHO, reason="confirmed SIM box") == "suspended"
        again = import_subscribers(conn, second, now=day[6])  # the same file again: nothing new
        assert again.updated == 0
        # A and B back in service (when the register learnt it); C's number activated again for a new holder
        third = _file(
            tmp_path,
            "3.csv",
            f"{A},c1,payg,{a0},active,zh,,,",
            f"{B},c2,payg,{a0},active,zh,,,",
            f"{C},c9,payg,{day[9].isoformat()},active,zh,,,",
        )
        assert import_subscribers(conn, third, now=day[10]).updated == 3
        # A suspended again, still suspended: not a window yet
        fourth = _file(tmp_path, "4.csv", f"{A},c1,payg,{a0},suspended,zh,,,")
        assert import_subscribers(conn, fourth, now=day[12]).updated == 1
    assert _history(engine) == [
        (A, "active", T0, "register"),
        (B, "active", T0, "register"),
        (C, "active", T0, "register"),
        (A, "suspended", day[2], "register"),
        (C, "closed", day[3], "register"),
        (B, "suspended", day[5], "line_suspend"),
        (A, "active", day[10], "register"),
        (B, "active", day[10], "register"),
        (C, "active", day[9], "register"),
        (A, "suspended", day[12], "register"),
    ]
    with engine.connect() as conn:
        assert suspension_windows(conn).rows() == [(A, day[2], day[10]), (B, day[5], day[10])]
        assert suspension_windows(conn, [B, C]).rows() == [(B, day[5], day[10])]
        assert suspension_windows(conn, [C]).height == 0
