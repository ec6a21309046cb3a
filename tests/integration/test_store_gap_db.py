"""The store where SQLite and PostgreSQL used to disagree, or where concurrent writers or re-sent events
were mishandled: session time zone, concurrent catalog loads, 64-bit loyalty points, currency codes,
consent evidence."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError

from fairtel.core.money import UnknownCurrencyError
from fairtel.store import (
    CatalogVersion,
    LoyaltyEntry,
    RoamingCap,
    StoredCatalog,
    connect,
    consent_events_for,
    import_consent_events,
    migrate,
    store_catalog,
)
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import table_of

AT = datetime(2026, 2, 1, tzinfo=UTC)


# --- PostgreSQL sessions run in UTC ------------------------------------------------------------------


@pytest.mark.postgres
def test_postgresql_sessions_run_in_utc_whatever_the_client_or_server_says(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client in Shanghai (PGTZ, which wins over connection options) and a server default elsewhere.
    monkeypatch.setenv("PGTZ", "Asia/Shanghai")
    engine = connect(postgres_url, connect_args={"options": "-c TimeZone=America/Los_Angeles"})
    instant = "CAST('2026-01-31T20:00:00Z' AS timestamptz)"  # already 1 February in Shanghai
    try:
        for _ in range(2):  # the second round reuses the pooled connection, rolled back at checkin
            with engine.connect() as conn:
                assert conn.scalar(text("SHOW TimeZone")) == "UTC"
                assert conn.scalar(text(f"SELECT {instant}")).utcoffset() == timedelta(0)
                assert conn.scalar(text(f"SELECT CAST({instant} AS date)")) == date(2026, 1, 31)
                assert conn.scalar(text(f"SELECT date_trunc('month', {instant})")) == datetime(2026, 1, 1, tzinfo=UTC)
                conn.rollback()
    finally:
        engine.dispose()


# --- catalog versions under concurrency --------------------------------------------------------------


def _store_in_own_transaction(engine: Engine, toml_text: str) -> StoredCatalog:
    with engine.begin() as conn:
        return store_catalog(conn, toml_text)


def test_two_sessions_storing_the_same_catalog_at_once_both_succeed(engine: Engine) -> None:
    toml_text = '[operator]\nname = "A"\n'
    with engine.connect() as first, ThreadPoolExecutor(max_workers=1) as pool:
        first.begin()
        mine = store_catalog(first, toml_text)
        theirs = pool.submit(_store_in_own_transaction, engine, toml_text)
        time.sleep(0.5)
        assert not theirs.done()  # it waits for this transaction: the two really overlap
        first.commit()
        other = theirs.result(timeout=60)
    assert mine.created and not other.created
    assert other.version_id == mine.version_id and other.sha256 == mine.sha256
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(table_of(CatalogVersion))) == 1


# --- loyalty points are 64-bit -----------------------------------------------------------------------


def _entry(entry_id: str, points: int) -> dict[str, Any]:
    return {"entry_id": entry_id, "msisdn": "8613800138000", "kind": "earn", "points": points,
            "reason": "migration of a corporate balance", "booked_at": AT}


def test_loyalty_points_past_32_bits_are_kept_and_the_migration_keeps_old_entries(blank_engine: Engine) -> None:
    before = ScriptDirectory.from_config(alembic_config()).get_revision("0007").down_revision
    assert isinstance(before, str)
    migrate(blank_engine, revision=before)
    t = table_of(LoyaltyEntry)
    with blank_engine.begin() as conn:
        conn.execute(t.insert(), _entry("lp_old", 7))
    migrate(blank_engine)
    with blank_engine.begin() as conn:
        conn.execute(t.insert(), _entry("lp_big", 5_000_000_000))
    with blank_engine.connect() as conn:
        assert dict(conn.execute(select(t.c.entry_id, t.c.points)).all()) == {"lp_old": 7, "lp_big": 5_000_000_000}
    with pytest.raises(IntegrityError), blank_engine.begin() as conn:  # the table's checks survived
        conn.execute(t.insert(), _entry("lp_zero", 0))


# --- currency codes ----------------------------------------------------------------------------------


def _cap(cap_id: str, currency: str) -> dict[str, Any]:
    return {"cap_id": cap_id, "msisdn": "8613800138000", "amount_minor": 5000, "currency": currency,
            "set_at": AT, "set_by": "agent-1"}


@pytest.mark.parametrize("currency", ["EU", "cny", "EURO", "E1R", " EU"])
def test_a_currency_that_is_not_three_capital_letters_is_refused(engine: Engine, currency: str) -> None:
    with pytest.raises(StatementError) as caught, engine.begin() as conn:
        conn.execute(table_of(RoamingCap).insert(), _cap("cap_bad", currency))
    assert isinstance(caught.value.orig, UnknownCurrencyError)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(table_of(RoamingCap))) == 0


def test_currencies_read_back_as_written_on_both_databases(engine: Engine) -> None:
    t = table_of(RoamingCap)
    with engine.begin() as conn:
        conn.execute(t.insert(), _cap("cap_ok", "CNY"))
        # a row written around the type (as before the check): PostgreSQL pads it to "EU "
        conn.execute(text("INSERT INTO roaming_caps (cap_id, msisdn, amount_minor, currency, set_at, set_by) "
                          "VALUES ('cap_old', '8613800138000', 100, 'EU', :at, 'agent-1')"), {"at": AT.replace(tzinfo=None)})
    with engine.connect() as conn:
        assert dict(conn.execute(select(t.c.cap_id, t.c.currency)).all()) == {"cap_ok": "CNY", "cap_old": "EU"}


# --- consent evidence is content -------------------------------------------------------------------


def _line(evidence: object, *, event: str = "confirmed", at: str = "2026-02-01T10:00:00+08:00") -> str:
    return json.dumps({"event": event, "subscription_id": "sub-1", "msisdn": "8613800138000",
                       "offer_id": "vas-music-10", "at": at, "channel": "sms", "evidence": evidence})


def test_an_event_resent_with_other_evidence_is_a_conflict_not_a_duplicate(engine: Engine, tmp_path: Path) -> None:
    first = tmp_path / "a.jsonl"
    first.write_text("\n".join([
        _line({"sms_id": "m-1", "reply": "Y"}),
        _line({"reply": "Y", "sms_id": "m-1"}),  # the same evidence, keys in another order: a duplicate
        _line({"sms_id": "m-2", "reply": "Y"}),  # same event, other proof: a conflict
    ]) + "\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_consent_events(conn, first)
    assert (report.accepted, report.duplicate, report.rejected) == (1, 1, 1)
    assert [(p.line, p.code) for p in report.problems] == [(3, "conflict")]

    resent = {
        "true.jsonl": _line({"sms_id": "m-1", "reply": True}),  # true is not "Y"
        "more.jsonl": _line({"sms_id": "m-1", "reply": "Y", "n": 1}),  # more evidence is other evidence
        "none.jsonl": _line(None),
        "same.jsonl": _line({"reply": "Y", "sms_id": "m-1"}),  # as recorded
        "next.jsonl": _line({"sms_id": "m-1"}, event="cancelled", at="2026-02-03T10:00:00+08:00"),
    }
    counts: dict[str, tuple[int, int, int, list[str]]] = {}
    for name, line in resent.items():
        (tmp_path / name).write_text(line + "\n", encoding="utf-8")
        with engine.begin() as conn:
            r = import_consent_events(conn, tmp_path / name)
        counts[name] = (r.accepted, r.duplicate, r.rejected, [p.code for p in r.problems])
    assert counts == {
        "true.jsonl": (0, 0, 1, ["conflict"]),
        "more.jsonl": (0, 0, 1, ["conflict"]),
        "none.jsonl": (0, 0, 1, ["conflict"]),
        "same.jsonl": (0, 1, 0, []),
        "next.jsonl": (1, 0, 0, []),
    }
    with engine.connect() as conn:
        stored = consent_events_for(conn, "8613800138000")
    assert [(e.event, e.evidence) for e in stored] == [
        ("confirmed", {"sms_id": "m-1", "reply": "Y"}), ("cancelled", {"sms_id": "m-1"}),
    ]


def test_evidence_with_a_number_too_large_for_json_is_rejected_on_its_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(_line({"amount": 1e300}).replace("1e+300", "1e400") + "\n"
                    + _line({"sms_id": "m-1"}, event="ordered", at="2026-02-01T09:59:00+08:00") + "\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_consent_events(conn, path)
    assert (report.accepted, report.rejected) == (1, 1)
    assert [(p.line, p.code) for p in report.problems] == [(1, "bad_json")]
