"""Online rating takes the register's changes line by line (``OnlineRater.update_register`` with the lines
``store.register_changes`` names) instead of reading every line's plans and state again each pass, and rates as a
register read whole would: a plan changed mid-month applies from the next period (次月生效), a line suspended since
then has its value-added charges refused, a new line is rated. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._home import home_gate, home_lines, home_plans
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.engines import OnlineRater
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, import_consent_events, import_subscribers, plan_timeline, store_catalog, suspend_line
from fairtel.store._subscribers import register_changes, register_version

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
MARCH, APRIL = "2026-03", "2026-04"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"
SUSPENDED = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A home whose lines A and B are on basic-39 since 2025, each with a confirmed music subscription."""
    if request.param == "sqlite":
        monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)
        admin, schema = None, ""
    else:
        url: str = request.getfixturevalue("postgres_url")
        schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        monkeypatch.setenv("FAIRTEL_DATABASE_URL", f"{url}?options=-csearch_path%3D{schema}")
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    events = tmp_path / "consent.jsonl"
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    events.write_text("".join(
        f'{{"event":"{e}","subscription_id":"s-{m}","msisdn":"{m}","offer_id":"vas-music-10",'
        f'"at":"{(t0 + timedelta(minutes=i)).isoformat()}","channel":"sms"}}\n'
        for m in (A, B) for i, e in enumerate(("ordered", "confirmed"))), encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, _register(tmp_path / "feb.csv", "basic-39"), now=datetime(2026, 2, 20, tzinfo=CN))
        import_consent_events(conn, events)
    app.close()
    try:
        yield home
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _register(path: Path, plan_a: str, *rows: str) -> Path:
    path.write_text(f"{HEADER}\n{A},c1,{plan_a},2025-01-01T00:00:00+08:00,active,zh,sh\n"
                    f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n" + "".join(f"{r}\n" for r in rows),
                    encoding="utf-8")
    return path


def _record(rid: str, msisdn: str, at: datetime, *, vas: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    base = {"record_id": rid, "source": "sw1", "msisdn": msisdn, "started_at": at.astimezone(UTC), "parts": 1,
            "incomplete": False}
    if vas:
        return row | base | {"kind": "vas", "offer_id": "vas-music-10", "amount_minor": 1000, "currency": "CNY"}
    return row | base | {"kind": "voice", "direction": "out", "peer": "8613912345678", "duration_s": 600}


def _rated(home: Path) -> dict[str, tuple[str | None, int, str | None]]:
    frame = pl.concat([pl.read_parquet(sorted((home / "lake" / "rated" / f"period={p}").glob("*.parquet")))
                       for p in (MARCH, APRIL)], how="diagonal_relaxed")
    return {r["record_id"]: (r["plan_id"], r["amount_minor"], r["verdict"]) for r in frame.iter_rows(named=True)}


def test_the_register_changes_taken_line_by_line_rate_as_the_register_read_whole(home: Path, tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=home))
    catalog = load_catalog(default_catalog_path())
    with app.db.connect() as conn:
        since = register_version(conn)  # before the whole read: a change made in between is read again
    rater = OnlineRater(app.settings, catalog=catalog, subscribers=home_plans(app), gate=home_gate(app, catalog))
    with app.db.connect() as conn:
        assert register_changes(conn, since=since) == (since, [])  # nothing changed: nothing to take

    # A moves to payg on 15 March (in force from April), B is suspended from 10 March, C is a new line
    with app.db.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "mar.csv", "payg", f"{C},c3,payg,2026-03-01T00:00:00+08:00,active,zh,sh"),
                           now=datetime(2026, 3, 15, tzinfo=CN))
        who = AuditAs("fraud1", "fraud_analyst", Pseudonymizer("k" * 32, domain="msisdn"), reason="case 1")
        assert suspend_line(conn, B, at=SUSPENDED, audit=who, reason="case 1") == "suspended"
    with app.db.connect() as conn:
        since, changed = register_changes(conn, since=since)
        assert changed == [A, B, C]
        plans = pl.from_arrow(plan_timeline(conn, msisdns=changed))
    assert isinstance(plans, pl.DataFrame)
    rater.update_register(changed, plans, lines=home_lines(app).filter(pl.col("msisdn").is_in(changed)))

    # what a register read whole gives
    assert rater.subscribers.sort("msisdn", "effective_from").equals(home_plans(app).sort("msisdn", "effective_from"))
    fresh = home_gate(app, catalog)
    assert rater.gate.lines.sort("msisdn").equals(fresh.lines.sort("msisdn"))  # type: ignore[union-attr]

    usage = [_record("a-march", A, datetime(2026, 3, 20, 10, tzinfo=CN)), _record("a-april", A, datetime(2026, 4, 7, 10, tzinfo=CN)),
             _record("c-march", C, datetime(2026, 3, 20, 10, tzinfo=CN)),
             _record("a-vas", A, datetime(2026, 3, 12, tzinfo=UTC), vas=True),
             _record("b-vas", B, datetime(2026, 3, 12, tzinfo=UTC), vas=True)]
    parts = [app.lake.write("usage", p, pa.Table.from_pylist([r for r in usage if r["started_at"].astimezone(CN).strftime("%Y-%m") == p],
                                                            schema=CLEAN_USAGE_SCHEMA), part="f1") for p in (MARCH, APRIL)]
    result = rater.rate_file("f1", parts, arrived_at=datetime(2026, 4, 8, tzinfo=CN))
    assert result.unrated == 0
    rated = _rated(home)
    assert rated["a-march"] == ("basic-39", 0, None)  # the March call under March's plan, within its minutes
    assert rated["a-april"][0] == "payg" and rated["a-april"][1] > 0
    assert rated["c-march"][0] == "payg" and rated["c-march"][1] > 0  # the new line is rated
    assert rated["a-vas"] == ("basic-39", 1000, "consented")
    assert rated["b-vas"] == ("basic-39", 0, "line_suspended")  # charged while B was suspended: refused
    app.close()


def test_plans_of_a_line_not_named_as_changed_are_refused(home: Path) -> None:
    app = bootstrap(load_settings(home=home))
    rater = OnlineRater(app.settings, catalog=load_catalog(default_catalog_path()), subscribers=home_plans(app))
    with pytest.raises(ValueError, match=B):
        rater.update_register([A], home_plans(app))
    # a line that left the register: its plans go with it
    rater.update_register([B], home_plans(app).filter(pl.col("msisdn") == "none"))
    assert rater.subscribers["msisdn"].to_list() == [A]
    app.close()
