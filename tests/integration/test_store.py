"""The OLTP store on SQLite and PostgreSQL: migrations, imports (idempotent, line-numbered errors), readers."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from fairtel.privacy import Pseudonymizer
from fairtel.store import (
    ConsentEvent,
    ImportStatus,
    PlainNumberInAuditError,
    Survey,
    access_log,
    consent_events_for,
    consent_ledger,
    count_subscribers,
    current_catalog,
    current_catalog_text,
    current_revision,
    get_subscriber,
    head_revision,
    import_consent_events,
    import_subscribers,
    list_subscribers,
    metadata,
    migrate,
    record_access,
    store_catalog,
)
from fairtel.store._migrate import alembic_config

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- migrations ---------------------------------------------------------------------------------------


def test_migrate_creates_every_table_and_is_idempotent(blank_engine: Engine) -> None:
    assert current_revision(blank_engine) is None
    migrate(blank_engine)
    migrate(blank_engine)  # a second run at head changes nothing and does not fail
    assert current_revision(blank_engine) == head_revision()
    tables = set(inspect(blank_engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


def test_concurrent_first_migrations_both_succeed(blank_engine: Engine) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        engines = list(pool.map(lambda _: migrate(blank_engine), range(3)))
    assert all(e is blank_engine for e in engines)
    assert current_revision(blank_engine) == head_revision()


def _migrate_in_child(url: str) -> str | None:
    return current_revision(migrate(url))


def test_processes_racing_to_create_a_sqlite_database_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    with multiprocessing.get_context("fork").Pool(3) as pool:
        revisions = pool.map(_migrate_in_child, [url] * 3)
    assert revisions == [head_revision()] * 3


def test_migrations_downgrade_to_an_empty_database(engine: Engine) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) & set(metadata.tables) == set()
    migrate(engine)  # and back up again
    assert current_revision(engine) == head_revision()


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, metadata) == []


def test_check_constraints_hold_in_the_database(engine: Engine) -> None:
    row = {"survey_id": "srv_1", "msisdn": "8613800138000", "answered_at": datetime.now(UTC), "channel": "sms"}
    with engine.begin() as conn:
        conn.execute(Survey.__table__.insert(), {**row, "score": 10})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(Survey.__table__.insert(), {**row, "survey_id": "srv_2", "score": 11})


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    row = {"survey_id": "srv_1", "msisdn": "8613800138000", "score": 9, "channel": "sms"}
    with pytest.raises(Exception, match="no time zone"), engine.begin() as conn:
        conn.execute(Survey.__table__.insert(), {**row, "answered_at": datetime(2026, 1, 1, 12, 0)})


# --- subscribers -------------------------------------------------------------------------------------


def test_import_subscribers_reports_every_bad_row_with_line_and_field(engine: Engine, tmp_path: Path) -> None:
    csv = write(
        tmp_path / "subscribers.csv",
        HEADER
        + "8613800138000,cus-1,basic-39,2025-03-01T09:00:00+08:00,active,zh,Shanghai\n"  # 2 ok
        + "8613800138001,cus-1,unlimited-129,2025-04-01T00:00:00Z,suspended,en,\n"  # 3 ok, empty region
        + "+8613800138002,cus-2,basic-39,2025-03-01T09:00:00+08:00,active,zh,Beijing\n"  # 4 msisdn
        + "8613800138003,cus-3,basic-39,2025-03-01 09:00,active,fr,Beijing\n"  # 5 activated_at and language
        + "\n"  # 6 blank: not a record
        + "8613800138004,,payg,2025-03-01T09:00:00+08:00,gone,zh,Beijing\n"  # 7 customer_id and status
        + "8613800138005,cus-5,payg\n"  # 8 column count
        + "8613800138000,cus-9,payg,2025-03-01T09:00:00+08:00,active,zh,Shanghai\n"  # 9 repeated number
        + '8613800138006,cus-6,senior-19,2025-05-01T08:00:00+08:00,active,zh,"Guangzhou, Tianhe"\n',  # 10 ok
    )
    with engine.begin() as conn:
        report = import_subscribers(conn, csv)

    assert (report.read, report.accepted, report.rejected) == (8, 3, 5)
    assert report.read == report.accepted + report.rejected + report.duplicate
    assert report.status is ImportStatus.PARTIAL
    where = sorted((p.line, p.field) for p in report.problems)
    assert where == [
        (4, "msisdn"), (5, "activated_at"), (5, "language"), (7, "customer_id"), (7, "status"), (8, None), (9, "msisdn"),
    ]
    assert all(p.file == str(csv) for p in report.problems)
    assert {p.code for p in report.problems if p.line == 9} == {"duplicate"}

    with engine.connect() as conn:
        first = get_subscriber(conn, "8613800138000")
        assert first is not None
        assert (first.customer_id, first.plan_id, first.language, first.region) == ("cus-1", "basic-39", "zh", "Shanghai")
        assert first.activated_at == datetime(2025, 3, 1, 9, 0, tzinfo=SHANGHAI)
        assert first.activated_at.utcoffset() == timedelta(0)  # read back in UTC
        second = get_subscriber(conn, "8613800138001")
        assert second is not None and second.region is None and second.status == "suspended"
        assert get_subscriber(conn, "8613800138002") is None
        assert count_subscribers(conn) == 3
        assert [s.msisdn for s in list_subscribers(conn, status="active")] == ["8613800138000", "8613800138006"]
        assert [s.msisdn for s in list_subscribers(conn, limit=1, offset=1)] == ["8613800138001"]


def test_import_subscribers_upserts_by_msisdn(engine: Engine, tmp_path: Path) -> None:
    one = write(tmp_path / "a.csv", HEADER + "8613800138000,cus-1,basic-39,2025-03-01T09:00:00+08:00,active,zh,Shanghai\n")
    two = write(
        tmp_path / "b.csv",
        HEADER
        + "8613800138000,cus-1,unlimited-129,2025-03-01T09:00:00+08:00,closed,en,Shanghai\n"
        + "8613800138009,cus-2,payg,2026-01-01T00:00:00+08:00,active,zh,\n",
    )
    with engine.begin() as conn:
        first = import_subscribers(conn, one)
    with engine.begin() as conn:
        second = import_subscribers(conn, two)
    with engine.begin() as conn:
        third = import_subscribers(conn, two)
    assert (first.inserted, first.updated) == (1, 0)
    assert (second.inserted, second.updated, second.accepted) == (1, 1, 2)
    assert (third.inserted, third.updated, third.accepted) == (0, 0, 2)  # same content: nothing rewritten
    with engine.connect() as conn:
        changed = get_subscriber(conn, "8613800138000")
        assert changed is not None and (changed.plan_id, changed.status, changed.language) == ("unlimited-129", "closed", "en")
        assert count_subscribers(conn) == 2


def test_import_subscribers_missing_column_fails_the_file(engine: Engine, tmp_path: Path) -> None:
    csv = write(tmp_path / "s.csv", "msisdn,customer_id,activated_at,status,language\n8613800138000,c,2025-01-01T00:00:00Z,active,zh\n")
    with engine.begin() as conn:
        report = import_subscribers(conn, csv)
    assert report.status is ImportStatus.FAILED
    assert (report.read, report.accepted, report.rejected) == (1, 0, 1)
    assert [(p.line, p.field, p.code) for p in report.problems] == [(1, "plan_id", "missing_column")]
    with engine.connect() as conn:
        assert count_subscribers(conn) == 0


def test_import_subscribers_checks_plans_against_the_catalog(engine: Engine, tmp_path: Path) -> None:
    csv = write(
        tmp_path / "s.csv",
        HEADER
        + "8613800138000,c1,basic-39,2025-01-01T00:00:00Z,active,zh,\n"
        + "8613800138001,c1,gold-999,2025-01-01T00:00:00Z,active,zh,\n",
    )
    with engine.begin() as conn:
        report = import_subscribers(conn, csv, known_plans={"basic-39", "payg"})
    assert (report.accepted, report.rejected) == (1, 1)
    assert [(p.line, p.field, p.code) for p in report.problems] == [(3, "plan_id", "unknown_plan")]


# --- consent -----------------------------------------------------------------------------------------


def consent_line(event: str, at: str, *, sub: str = "sub-1", msisdn: str = "8613800138000", **extra: object) -> str:
    obj = {"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": "vas-music-10", "at": at,
           "channel": "sms", "evidence": {"sms_id": f"{sub}-{event}"}, **extra}
    return json.dumps(obj)


def test_consent_import_is_idempotent_and_reports_bad_lines(engine: Engine, tmp_path: Path) -> None:
    lines = [
        consent_line("ordered", "2026-01-05T21:14:03+08:00"),  # 1
        consent_line("confirmed", "2026-01-05T21:15:40+08:00"),  # 2
        "",  # 3 blank
        "{not json",  # 4
        consent_line("subscribed", "2026-01-05T21:15:40+08:00"),  # 5 event
        consent_line("cancelled", "2026-01-05 21:15"),  # 6 at
        json.dumps({"event": "ordered", "subscription_id": "sub-2", "offer_id": "vas-news-5", "at": "2026-01-06T08:00:00Z", "channel": "fax"}),  # 7 msisdn+channel
        consent_line("ordered", "2026-01-05T13:14:03Z"),  # 8 same instant as line 1: a duplicate
        consent_line("ordered", "2026-01-07T10:00:00+08:00", sub="sub-3", msisdn="8613800138001"),  # 9
        "[1, 2]",  # 10
    ]
    path = write(tmp_path / "consent.jsonl", "\n".join(lines) + "\n")
    with engine.begin() as conn:
        first = import_consent_events(conn, path)
    assert (first.read, first.accepted, first.duplicate, first.rejected) == (9, 3, 1, 5)
    assert sorted((p.line, p.field) for p in first.problems) == [
        (4, None), (5, "event"), (6, "at"), (7, "channel"), (7, "msisdn"), (10, None),
    ]

    with engine.begin() as conn:
        again = import_consent_events(conn, path)
    assert (again.accepted, again.duplicate, again.rejected) == (0, 4, 5)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ConsentEvent)) == 3
        events = consent_events_for(conn, "8613800138000")
    assert [e.event for e in events] == ["ordered", "confirmed"]
    assert events[0].at == datetime(2026, 1, 5, 21, 14, 3, tzinfo=SHANGHAI)
    assert events[0].evidence == {"sms_id": "sub-1-ordered"}
    assert events[0].source == "consent.jsonl"
    assert events[0].recorded_at.tzinfo is not None


def test_consent_event_changed_after_the_fact_is_a_conflict(engine: Engine, tmp_path: Path) -> None:
    original = write(tmp_path / "a.jsonl", consent_line("confirmed", "2026-02-01T10:00:00+08:00") + "\n")
    altered = write(
        tmp_path / "b.jsonl",
        consent_line("confirmed", "2026-02-01T10:00:00+08:00", channel="web") + "\n"
        + consent_line("cancelled", "2026-02-03T10:00:00+08:00") + "\n",
    )
    with engine.begin() as conn:
        import_consent_events(conn, original)
    with engine.begin() as conn:
        report = import_consent_events(conn, altered)
    assert (report.accepted, report.duplicate, report.rejected) == (1, 0, 1)
    assert [(p.line, p.code) for p in report.problems] == [(1, "conflict")]
    with engine.connect() as conn:
        stored = consent_events_for(conn, "8613800138000")
    assert [(e.event, e.channel) for e in stored] == [("confirmed", "sms"), ("cancelled", "sms")]


def test_consent_ledger_as_arrow(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.jsonl",
        "\n".join([
            consent_line("confirmed", "2026-01-02T00:00:00Z", sub="s2", msisdn="8613800138002"),
            consent_line("ordered", "2026-01-01T00:00:00Z", sub="s1"),
        ]),
    )
    with engine.begin() as conn:
        import_consent_events(conn, path)
        everything = consent_ledger(conn)
        one = consent_ledger(conn, msisdns=["8613800138002"])
    assert everything.column("subscription_id").to_pylist() == ["s1", "s2"]  # ordered by time
    assert str(everything.schema.field("at").type) == "timestamp[us, tz=UTC]"
    assert one.column("msisdn").to_pylist() == ["8613800138002"]


# --- catalog versions and the audit -----------------------------------------------------------------


def test_catalog_versions_are_kept_and_the_latest_loaded_is_current(engine: Engine) -> None:
    a, b = '[operator]\nname = "A"\n', '[operator]\nname = "B"\n'
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        assert current_catalog_text(conn) is None
        first = store_catalog(conn, a, now=t0)
        same = store_catalog(conn, a, now=t0 + timedelta(hours=1))
        store_catalog(conn, b, now=t0 + timedelta(hours=2))
        assert current_catalog_text(conn) == b
        back = store_catalog(conn, a, now=t0 + timedelta(hours=3))
        assert current_catalog_text(conn) == a
        current = current_catalog(conn)
    assert first.created and not same.created and not back.created
    assert first.version_id == same.version_id == back.version_id
    assert current is not None and current.loaded_at == t0 and current.activated_at == t0 + timedelta(hours=3)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(metadata.tables["catalog_versions"])) == 2


def test_access_audit_records_pseudonyms_only(engine: Engine) -> None:
    pseudonym = Pseudonymizer("k" * 32)("8613800138000")
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI)
    with engine.begin() as conn:
        first = record_access(conn, actor="agent-7", role="agent", action="read", resource="bills/2026-02",
                              subject_msisdn_pseudonym=pseudonym, reason="complaint cmp_1", request_id="req-1", at=t0)
        second = record_access(conn, actor="agent-7", role="agent", action="read", resource="usage",
                               subject_msisdn_pseudonym=pseudonym, at=t0 + timedelta(minutes=1))
        with pytest.raises(PlainNumberInAuditError):
            record_access(conn, actor="agent-7", role="agent", action="read", resource="usage",
                          subject_msisdn_pseudonym="8613800138000")
    assert second > first
    with engine.connect() as conn:
        log = access_log(conn, subject_msisdn_pseudonym=pseudonym)
        assert access_log(conn, actor="nobody") == []
    assert [r.audit_id for r in log] == [second, first]  # newest first
    assert log[1].at == t0 and log[1].reason == "complaint cmp_1" and log[1].request_id == "req-1"


def test_the_database_refuses_to_rewrite_or_delete_audit_rows(engine: Engine) -> None:
    """Append-only in the database itself, not by convention: the application's account can add rows only."""
    t = metadata.tables["access_audit"]
    with engine.begin() as conn:
        kept = record_access(conn, actor="agent-7", role="agent", action="read", resource="usage",
                             subject_msisdn_pseudonym=Pseudonymizer("k" * 32)("8613800138000"), reason="complaint cmp_1")
    for statement in (t.update().where(t.c.audit_id == kept).values(reason="nothing to see"),
                      t.delete().where(t.c.audit_id == kept), t.delete()):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    with engine.connect() as conn:
        (row,) = access_log(conn, actor="agent-7")
    assert row.audit_id == kept and row.reason == "complaint cmp_1"
