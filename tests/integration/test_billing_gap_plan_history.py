"""A line that changes plan mid-month: the change takes effect from the next billing period (or from the period the
register's ``plan_since`` names), so each period is rated, billed and rerated under the plan the line was on in it,
online rating included. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as fairtel_app
from fairtel.cli._home import home_gate, home_plans, home_subscribers
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.engines import OnlineRater
from fairtel.store import (
    Customer,
    Subscriber,
    SubscriberPlan,
    current_revision,
    head_revision,
    import_subscribers,
    migrate,
    plan_timeline,
    plans_in_force,
    store_catalog,
)
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import table_of

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
MARCH, APRIL = "2026-03", "2026-04"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"
TEXT = default_catalog_path().read_text(encoding="utf-8")
runner = CliRunner()


def register(path: Path, plan_a: str, *, plan_since: str | None = None) -> Path:
    """The register with line A on ``plan_a`` (B stays on payg throughout)."""
    since = ",plan_since" if plan_since is not None else ""
    tail = f",{plan_since}" if plan_since is not None else ""
    path.write_text(f"{HEADER}{since}\n"
                    f"{A},c1,{plan_a},2025-01-01T00:00:00+08:00,active,zh,sh{tail}\n"
                    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh{',' if tail else ''}\n", encoding="utf-8")
    return path


def call(rid: str, msisdn: str, at: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": at.astimezone(UTC), "peer": "8613912345678", "duration_s": 600, "parts": 1,
                  "incomplete": False}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """The home's database: its own SQLite file, or a private schema on PostgreSQL (``FAIRTEL_DATABASE_URL``, as
    the commands read it)."""
    if request.param == "sqlite":
        monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)
        yield None
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = f"{url}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("FAIRTEL_DATABASE_URL", database_url)
    try:
        yield database_url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def home(tmp_path: Path, database: str | None) -> Path:
    """A home whose line A was on basic-39 since 2025 and moved to payg on 15 March 2026 (the register learnt it
    then); a 10-minute domestic call of A's on 5 March and on 7 April (both weekdays, 10:00), one of B's in March."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        report = import_subscribers(conn, register(tmp_path / "feb.csv", "basic-39"),
                                    now=datetime(2026, 2, 20, 9, tzinfo=CN))
        assert report.inserted == 2
    with app.db.begin() as conn:
        report = import_subscribers(conn, register(tmp_path / "mar.csv", "payg"), now=datetime(2026, 3, 15, 12, tzinfo=CN))
        assert report.updated == 1
    app.lake.write("usage", MARCH, pa.Table.from_pylist(
        [call("m1", A, datetime(2026, 3, 5, 10, tzinfo=CN)), call("m2", B, datetime(2026, 3, 5, 10, tzinfo=CN))],
        schema=CLEAN_USAGE_SCHEMA), part="t1")
    app.lake.write("usage", APRIL, pa.Table.from_pylist([call("a1", A, datetime(2026, 4, 7, 10, tzinfo=CN))],
                                                        schema=CLEAN_USAGE_SCHEMA), part="t1")
    app.close()
    return home


def cli_json(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(fairtel_app, [*args, "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def rated(home: Path, period: str) -> dict[str, tuple[str, int]]:
    frame = pl.read_parquet(sorted((home / "lake" / "rated" / f"period={period}").glob("*.parquet")))
    return {r["record_id"]: (r["plan_id"], r["amount_minor"]) for r in frame.iter_rows(named=True)}


def bill_of(out: dict[str, Any], msisdn: str) -> dict[str, Any]:
    return next(b for b in out["sample"] if b["msisdn"] == msisdn)


def test_a_plan_changed_mid_month_applies_from_the_next_period(home: Path) -> None:
    app = bootstrap(load_settings(home=home))
    # the console shows the latest plan; the period's rating and billing the one in force then
    assert home_subscribers(app).filter(pl.col("msisdn") == A)["plan_id"].to_list() == ["payg"]
    for key, plan in ((MARCH, "basic-39"), (APRIL, "payg")):
        frame = home_subscribers(app, ("msisdn", "plan_id", "status"), period=Period.parse(key))
        assert frame.columns == ["msisdn", "plan_id", "status"]
        assert dict(frame.select("msisdn", "plan_id").iter_rows()) == {A: plan, B: "payg"}
    app.close()

    cli_json(home, "rate", "--period", MARCH)
    cli_json(home, "rate", "--period", APRIL)
    march, april = rated(home, MARCH), rated(home, APRIL)
    assert march["m1"] == ("basic-39", 0)  # within basic-39's minutes, as the line was in March
    assert march["m2"][0] == "payg"
    assert april["a1"][0] == "payg" and april["a1"][1] == march["m2"][1] > 0  # payg's price for the same call

    march_bills = cli_json(home, "bill", "--period", MARCH, "--issue")
    a = bill_of(march_bills, A)
    assert a["plan_id"] == "basic-39" and a["charges"] == "39.00" and a["total"] == "39.00"
    april_bills = cli_json(home, "bill", "--period", APRIL, "--issue")
    a = bill_of(april_bills, A)
    assert a["plan_id"] == "payg" and a["charges"] == a["total"] == bill_of(march_bills, B)["charges"]

    # rerating March after the change is no tariff correction: nothing to adjust
    for key in (MARCH, APRIL):
        rr = cli_json(home, "rerate", "--period", key)
        assert rr["adjustments_issued"] == 0 and rr["records_changed"] == 0 and rr["fees_changed"] == 0, rr
        assert rr["records_compared"] == (2 if key == MARCH else 1)


def test_plan_since_dates_the_change_back_to_the_period_it_names(home: Path, tmp_path: Path) -> None:
    """An operator correcting the register: A's payg applies from March (the first period starting at or after
    ``plan_since``), replacing the change pending for April."""
    app = bootstrap(load_settings(home=home))
    fix = register(tmp_path / "fix.csv", "payg", plan_since="2026-03-01T00:00:00+08:00")
    with app.db.begin() as conn:
        # the register says payg already (pending for April): the date is news all the same
        assert import_subscribers(conn, fix, now=datetime(2026, 3, 20, tzinfo=CN)).updated == 1
    with app.db.begin() as conn:
        assert import_subscribers(conn, fix, now=datetime(2026, 3, 21, tzinfo=CN)).updated == 0  # and only once
    assert dict(home_subscribers(app, period=Period.parse(MARCH)).iter_rows()) == {A: "payg", B: "payg"}
    assert dict(home_subscribers(app, period=Period.parse(APRIL)).iter_rows()) == {A: "payg", B: "payg"}
    assert dict(home_subscribers(app, period=Period.parse("2026-02")).iter_rows()) == {A: "basic-39", B: "payg"}
    app.close()
    cli_json(home, "rate", "--period", MARCH)
    assert rated(home, MARCH)["m1"][0] == "payg"
    assert bill_of(cli_json(home, "bill", "--period", MARCH), A)["plan_id"] == "payg"


def test_online_rating_charges_a_record_of_the_old_period_under_the_old_plan(home: Path) -> None:
    """A March record arriving after the change (made on the 15th, in force from April) is rated under basic-39;
    an April record of the same file under payg."""
    app = bootstrap(load_settings(home=home))
    catalog = load_catalog(default_catalog_path())
    plans = home_plans(app)
    assert plans.filter(pl.col("msisdn") == A)["plan_id"].to_list() == ["basic-39", "payg"]
    rater = OnlineRater(app.settings, catalog=catalog, subscribers=plans, gate=home_gate(app, catalog))
    parts = [app.lake.write("usage", MARCH, pa.Table.from_pylist([call("late", A, datetime(2026, 3, 31, 10, tzinfo=CN))],
                                                                 schema=CLEAN_USAGE_SCHEMA), part="late"),
             app.lake.write("usage", APRIL, pa.Table.from_pylist([call("now", A, datetime(2026, 4, 8, 10, tzinfo=CN))],
                                                                 schema=CLEAN_USAGE_SCHEMA), part="now")]
    result = rater.rate_file("f1", parts, arrived_at=datetime(2026, 4, 8, 11, tzinfo=CN))
    assert result.lines == 2 and sorted(result.periods) == [MARCH, APRIL]
    assert rated(home, MARCH) == {"late": ("basic-39", 0)}
    late = rated(home, APRIL)["now"]
    assert late[0] == "payg" and late[1] > 0
    app.close()


# --- the store ----------------------------------------------------------------------------------------------


def test_plan_history_in_the_store(engine: Engine, tmp_path: Path) -> None:
    def in_force(key: str) -> dict[str, str]:
        with engine.connect() as conn:
            t = plans_in_force(conn, at=Period.parse(key, "Europe/London").start)
        return dict(zip(t["msisdn"].to_pylist(), t["plan_id"].to_pylist(), strict=True))

    with engine.begin() as conn:
        store_catalog(conn, TEXT.replace('timezone = "Asia/Shanghai"', 'timezone = "Europe/London"', 1))
        import_subscribers(conn, register(tmp_path / "a.csv", "basic-39"), now=datetime(2026, 3, 1, tzinfo=UTC))
        # learnt at 23:30 on 31 March in London (the catalog's clock): April is the next period, not May
        import_subscribers(conn, register(tmp_path / "b.csv", "payg"), now=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
        # a new line activated mid-April: on its plan from its activation
        (tmp_path / "c.csv").write_text(f"{HEADER}\n8613800000003,c3,senior-19,2026-04-16T12:00:00+08:00,active,zh,sh\n",
                                        encoding="utf-8")
        import_subscribers(conn, tmp_path / "c.csv", now=datetime(2026, 4, 20, tzinfo=UTC))
        # the same file again writes nothing
        again = import_subscribers(conn, register(tmp_path / "b.csv", "payg"), now=datetime(2026, 4, 21, tzinfo=UTC))
        assert (again.inserted, again.updated) == (0, 0)
        rows = conn.execute(select(table_of(SubscriberPlan)).order_by("plan_change_id")).all()
    assert [(r.msisdn, r.plan_id) for r in rows] == [(A, "basic-39"), (B, "payg"), (A, "payg"), ("8613800000003", "senior-19")]
    assert rows[2].effective_from == datetime(2026, 4, 1, tzinfo=UTC) - timedelta(hours=1)  # London's BST
    assert rows[3].effective_from == datetime(2026, 4, 16, 4, tzinfo=UTC)
    assert in_force(MARCH) == {A: "basic-39", B: "payg", "8613800000003": "senior-19"}
    assert in_force(APRIL) == {A: "payg", B: "payg", "8613800000003": "senior-19"}
    with engine.connect() as conn:
        timeline = plan_timeline(conn, msisdns=[A]).to_pylist()
    assert [(r["plan_id"], r["effective_from"]) for r in timeline] == [
        ("basic-39", datetime(2024, 12, 31, 16, tzinfo=UTC)), ("payg", datetime(2026, 3, 31, 23, tzinfo=UTC))]
    # plan_since: from the first period starting at or after it (a period's very start is that period)
    (tmp_path / "d.csv").write_text(f"{HEADER},plan_since\n"
                                    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,2026-05-10T09:00:00+01:00\n"
                                    f"{B},c2,senior-19,2025-01-01T00:00:00+08:00,active,en,sh,2026-04-30T23:00:00Z\n",
                                    encoding="utf-8")
    with engine.begin() as conn:
        assert import_subscribers(conn, tmp_path / "d.csv", now=datetime(2026, 4, 25, tzinfo=UTC)).updated == 2
    assert in_force(APRIL) == {A: "payg", B: "payg", "8613800000003": "senior-19"}
    assert in_force("2026-05") == {A: "payg", B: "senior-19", "8613800000003": "senior-19"}
    assert in_force("2026-06") == {A: "basic-39", B: "senior-19", "8613800000003": "senior-19"}


def test_plan_since_is_checked_with_file_line_and_field(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"{HEADER},plan_since\n"
                    f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh,2026-03-01\n"
                    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh,2024-12-01T00:00:00+08:00\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_subscribers(conn, path)
    assert report.rejected == 2
    assert [(p.file, p.line, p.field) for p in report.problems] == [(str(path), 2, "plan_since"), (str(path), 3, "plan_since")]
    assert "before the line was activated" in report.problems[1].message


def test_migration_backfills_the_history_from_the_register(blank_engine: Engine) -> None:
    migrate(blank_engine, revision="0009")
    updated = datetime(2026, 5, 2, 3, 4, 5, tzinfo=UTC)
    activated = datetime(2025, 1, 1, tzinfo=CN)
    with blank_engine.begin() as conn:
        conn.execute(table_of(Customer).insert(), [{"customer_id": "c1", "created_at": updated}])
        conn.execute(table_of(Subscriber).insert(), [
            {"msisdn": m, "customer_id": "c1", "plan_id": p, "activated_at": activated, "status": "active",
             "language": "zh", "region": None, "updated_at": updated}
            for m, p in ((A, "basic-39"), (B, "payg"))])
    migrate(blank_engine)
    assert current_revision(blank_engine) == head_revision() >= "0010"  # later migrations may follow 0010
    with blank_engine.connect() as conn:
        rows = conn.execute(select(table_of(SubscriberPlan)).order_by("msisdn")).all()
        t = plans_in_force(conn, at=Period.parse(MARCH).start)
    assert [(r.msisdn, r.plan_id, r.effective_from, r.recorded_at) for r in rows] == [
        (A, "basic-39", activated, updated), (B, "payg", activated, updated)]
    assert t.to_pylist() == [{"msisdn": A, "plan_id": "basic-39"}, {"msisdn": B, "plan_id": "payg"}]
    with blank_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0009")
        assert conn.execute(text("SELECT count(*) FROM subscribers")).scalar() == 2
    assert current_revision(blank_engine) == "0009"

