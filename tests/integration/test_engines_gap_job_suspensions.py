"""The Spark job (``python -m fairtel.engines._job rate``) rates a home's period as ``fairtel rate`` does on one
machine when it is handed the two database inputs the local engine reads besides the register and the consent
ledger: the providers' suspensions (``merchant_suspensions``: a suspended provider's VAS charges dated inside a
suspension are refused) and the lines' status history (``line_status_history``: usage dated inside a suspension that
ended stays held). Both are exported to files next to the register (``write_merchant_suspensions``,
``write_line_suspensions``) and the job's rated lines and unrated records equal the local engine's, column for
column; with the register's ``closed_at`` and ``activated_at`` the usage after a line closed or before it was
activated is held as the local engine holds it.

Before, the job had no way to learn of either: the suspended provider's charge was billed as ``consented`` and the
usage made while the line was suspended was priced to be billed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.errors import InvalidInputError
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.engines._job import (
    line_suspensions,
    merchant_suspensions,
    write_line_suspensions,
    write_merchant_suspensions,
)
from fairtel.store import (
    AuditAs,
    import_consent_events,
    import_subscribers,
    lift_merchant,
    merchant_windows,
    store_catalog,
    suspend_line,
    suspend_merchant,
    suspension_windows,
)

CN = timezone(timedelta(hours=8))
A, B, C, D = "8613800000001", "8613800000002", "8613800000003", "8613800000004"
P = "2026-03"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at\n"
REGISTER_COLUMNS = ("msisdn", "plan_id", "activated_at", "status", "closed_at", "suspended_at", "updated_at")


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC)


def _row(rid: str, msisdn: str, at: datetime, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": at, "duration_s": 120, "peer": "8613912345678", "parts": 1, "incomplete": False} | extra


def _vas(rid: str, at: datetime) -> dict[str, Any]:
    return _row(rid, A, at, source="spgw", kind="vas", direction=None, duration_s=None, peer=None,
                offer_id="vas-ringtone-2", amount_minor=200, currency="CNY")


def _register(path: Path, b: str) -> Path:
    """A and B in service since 2025 (B as ``b``), C activated on 10 March, D closed on 20 March."""
    path.write_text(
        HEADER
        + f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh,\n"
        + f"{B},c2,payg,2025-01-01T00:00:00+08:00,{b},en,sh,\n"
        + f"{C},c3,payg,2026-03-10T12:00:00+08:00,active,en,sh,\n"
        + f"{D},c4,payg,2025-01-01T00:00:00+08:00,closed,en,sh,2026-03-20T12:00:00+08:00\n",
        encoding="utf-8",
    )
    return path


USAGE = [
    _vas("r-before", _at(5)),  # sp-melody suspended from the 10th noon to the 20th noon
    _vas("r-during", _at(12)),
    _vas("r-after", _at(25)),
    _row("b-before", B, _at(5)),  # B suspended from the 8th noon, back in service on the 15th noon
    _row("b-during", B, _at(12)),
    _row("b-after", B, _at(16)),
    _row("c-before", C, _at(5)),  # C activated on the 10th noon
    _row("c-after", C, _at(12)),
    _row("d-before", D, _at(15)),  # D closed on the 20th noon
    _row("d-after", D, _at(25)),
]
EXPECTED = {"r-before": "consented", "r-during": "merchant_suspended", "r-after": "consented",
            "b-during": "line_suspended", "c-before": "before_activation", "d-after": "line_closed"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    events = [
        {"event": "ordered", "subscription_id": "s1", "msisdn": A, "offer_id": "vas-ringtone-2",
         "at": "2026-02-25T10:00:00+08:00", "channel": "sms", "evidence": "s1:ordered"},
        {"event": "confirmed", "subscription_id": "s1", "msisdn": A, "offer_id": "vas-ringtone-2",
         "at": "2026-02-25T10:05:00+08:00", "channel": "sms", "evidence": "s1:confirmed"},
    ]
    (tmp_path / "consent.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        assert import_subscribers(conn, _register(tmp_path / "s1.csv", "active"), now=_at(1)).accepted == 4
        assert import_consent_events(conn, tmp_path / "consent.jsonl").accepted == 2
        who = AuditAs("analyst1", "fraud_analyst", lambda m: f"p-{m[-4:]}", reason="fraud case 1")
        assert suspend_line(conn, B, at=_at(8, 12), audit=who, reason="confirmed SIM box") == "suspended"
        assert import_subscribers(conn, _register(tmp_path / "s2.csv", "active"), now=_at(15, 12)).updated == 1
        suspend_merchant(conn, "sp-melody", at=_at(10, 12), actor="ops1", reason="fee stealing")
        lift_merchant(conn, "sp-melody", at=_at(20, 12), actor="ops1", reason="cleared")
    app.lake.write("usage", P, pa.Table.from_pylist(USAGE, schema=CLEAN_USAGE_SCHEMA), part="f1")
    app.close()
    return home


@pytest.fixture
def spark() -> Iterator[None]:
    pytest.importorskip("pyspark")
    from fairtel.engines import spark_session

    # the job's own session call finds this one (few shuffle partitions: the period is ten records)
    session = spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"})
    yield
    session.stop()


def _read(lake: Path, dataset: str) -> pl.DataFrame:
    files = sorted((lake / dataset / f"period={P}").glob("*.parquet"))
    frame = pl.read_parquet(files) if files else pl.DataFrame()
    return frame.sort(frame.columns, nulls_last=True) if frame.height else frame


@pytest.mark.slow
def test_the_job_rates_as_the_local_engine_with_the_suspensions_exported(
        home: Path, spark: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fairtel.cli._home import home_subscribers
    from fairtel.cli._rating import rate_period
    from fairtel.engines._job import main

    catalog = load_catalog(default_catalog_path())
    period = Period.parse(P, catalog.operator.timezone)
    app = bootstrap(load_settings(home=home))
    local = rate_period(app, period, catalog=catalog)
    # what the driver exports from the database, next to each other
    export = tmp_path / "export"
    export.mkdir()
    home_subscribers(app, REGISTER_COLUMNS, period=period).write_parquet(export / "subscribers.parquet")
    with app.db.connect() as conn:
        merchants = write_merchant_suspensions(export / "merchant-suspensions.parquet", merchant_windows(conn))
        lines = write_line_suspensions(export / "line-suspensions.parquet", suspension_windows(conn))
    app.close()

    cluster = tmp_path / "cluster"
    shutil.copytree(home / "lake" / "usage", cluster / "lake" / "usage")
    monkeypatch.setenv("FAIRTEL_HOME", str(cluster))
    assert main(["rate", "--period", P, "--lake", (cluster / "lake").resolve().as_uri(),
                 "--catalog", str(default_catalog_path()), "--subscribers", str(export / "subscribers.parquet"),
                 "--consent", str(tmp_path / "consent.jsonl"), "--merchant-suspensions", str(merchants),
                 "--line-suspensions", str(lines)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    rated = _read(home / "lake", "rated")
    verdicts = dict(rated.filter(pl.col("line") == 0).select("record_id", "verdict").iter_rows())
    assert {r: v for r, v in verdicts.items() if v is not None} == EXPECTED
    assert_frame_equal(_read(cluster / "lake", "rated"), rated, check_exact=True)
    assert_frame_equal(_read(cluster / "lake", "unrated"), _read(home / "lake", "unrated"), check_exact=True)
    for key in ("records", "lines", "unrated", "amount_minor", "by_kind", "unrated_by_reason"):
        assert summary[key] == local[key], key


def test_the_exported_files_read_back_as_the_store_gives_them(home: Path, tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=home))
    with app.db.connect() as conn:
        merchants, windows = merchant_windows(conn), suspension_windows(conn)
    app.close()
    assert merchants == {"sp-melody": ((_at(10, 12), _at(20, 12)),)}
    assert windows.rows() == [(B, _at(8, 12), _at(15, 12))]
    for suffix in (".parquet", ".csv"):
        m = write_merchant_suspensions(tmp_path / f"m{suffix}", merchants)
        w = write_line_suspensions(tmp_path / f"w{suffix}", windows)
        read = (lambda p: pl.read_csv(p, infer_schema=False)) if suffix == ".csv" else pl.read_parquet
        assert merchant_suspensions(read(m), str(m)) == merchants
        assert_frame_equal(line_suspensions(read(w), str(w)), windows.sort("msisdn", "suspended_from"))


def test_a_bad_suspension_file_names_the_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "merchant-suspensions.csv"
    bad.write_text("provider_id,suspended_at,lifted_at\n"
                   "sp-melody,2026-03-10T12:00:00+08:00,\n"
                   "sp-streamly,2026-03-10 12:00:00,\n"
                   ",2026-03-10T12:00:00+08:00,2026-03-09T12:00:00+08:00\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as caught:
        merchant_suspensions(pl.read_csv(bad, infer_schema=False), str(bad))
    told = [str(p) for p in caught.value.problems]
    assert f"{bad}:3 [suspended_at]: '2026-03-10 12:00:00' has no UTC offset (+08:00, Z)" in told
    assert f"{bad}:4 [provider_id]: missing" in told
    no_column = tmp_path / "line-suspensions.csv"
    no_column.write_text("msisdn,suspended_from\n8613800000002,2026-03-08T12:00:00+08:00\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as caught:
        line_suspensions(pl.read_csv(no_column, infer_schema=False), str(no_column))
    assert [p.field for p in caught.value.problems] == ["suspended_until"]
