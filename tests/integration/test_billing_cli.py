"""`fairtel bill`, `fairtel bill statement` and `fairtel rerate` on a home (SQLite + lake), end to end."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import _billing
from fairtel.cli._home import home_subscribers
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
P = "2026-03"
TEXT = default_catalog_path().read_text(encoding="utf-8")
runner = CliRunner()


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    _billing.register(app)
    return app


def rec(rid: str, msisdn: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, 5, 10, tzinfo=CN).astimezone(UTC), "peer": "8613912345678",
                  "parts": 1, "incomplete": False} | kw


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n"
        f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n"
        f"{C},c3,senior-19,2026-03-16T12:00:00+08:00,active,zh,sh\n",
        encoding="utf-8",
    )
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 3
    rows = [rec("v1", A, duration_s=61, peer="85261234567"), rec("v2", A, duration_s=600),
            rec("v3", B, duration_s=125), rec("s1", B, kind="sms", duration_s=None)]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    return home


def invoke(home: Path, *args: str) -> Any:
    result = runner.invoke(cli(), [*args, "--home", str(home)])
    assert result.exit_code == 0, result.output
    return result


def as_json(home: Path, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(invoke(home, *args, "--json").stdout)
    return out


def open_app(home: Path) -> App:
    return bootstrap(load_settings(home=home))


def test_preview_issue_reissue_statement_rerate(home: Path) -> None:
    preview = as_json(home, "bill", "--period", P)
    assert preview["mode"] == "preview" and preview["bills"] == 3 and preview["already_issued"] == 0
    # fees 39 + 0 + 19 × 16/31 (9.81); usage: HK call 3.00, payg 3 min × 0.19 + SMS 0.10
    assert Decimal(preview["total"]) == Decimal("39.00") + Decimal("9.81") + Decimal("3.00") + Decimal("0.57") + Decimal("0.10")
    app = open_app(home)
    assert app.lake.files("bills") == []  # a preview writes nothing

    issued = as_json(home, "bill", "--period", P, "--issue")
    assert issued["bills"] == 3 and issued["total"] == preview["total"]
    assert len(app.lake.files("bills", periods=[P])) == 1 and len(app.lake.files("billed", periods=[P])) == 1

    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 0 and again["already_issued"] == 3
    assert any("already issued" in n for n in again["notes"])
    assert len(app.lake.files("bills", periods=[P])) == 1

    statement = invoke(home, "bill", "statement", A, "--period", P).stdout
    rows = list(csv.reader(io.StringIO(statement)))
    assert rows[0][0] == "类别"  # the subscriber's language
    assert sum(Decimal(r[9]) for r in rows[1:-1]) == Decimal(rows[-1][9]) == Decimal("42.00")
    assert "852****4567" in statement and "85261234567" not in statement
    html = invoke(home, "bill", "statement", A, "--period", P, "--format", "html", "--lang", "en").stdout
    assert "Total due" in html and "42.00" in html

    # a tariff correction: calls to HK/MO/TW 1.20 a minute instead of 1.50
    with app.db.begin() as conn:
        store_catalog(conn, TEXT.replace('rate = "1.50", rate_unit = "60s"', 'rate = "1.20", rate_unit = "60s"'))
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 1 and rr["credits"] == 1 and rr["net"] == "-0.60"
    assert rr["sample"][0]["record_id"] == "v1" and rr["sample"][0]["old"] == "3.00" and rr["sample"][0]["new"] == "2.40"
    rr2 = as_json(home, "rerate", "--period", P)
    assert rr2["adjustments_issued"] == 0 and rr2["records_changed"] == 0

    # the issued statement is unchanged; April's bill carries the credit
    assert invoke(home, "bill", "statement", A, "--period", P).stdout == statement
    april = as_json(home, "bill", "--period", "2026-04", "--issue")
    assert april["adjustments_carried"] == 1
    april_a = next(b for b in april["sample"] if b["msisdn"] == A)
    assert april_a["adjustments"] == "-0.60" and april_a["total"] == "38.40"
    st = invoke(home, "bill", "statement", A, "--period", "2026-04", "--lang", "en").stdout
    assert "Credit: rerate 2026-03" in st
    app.close()


def test_errors_are_reported_with_codes(home: Path) -> None:
    result = runner.invoke(cli(), ["rerate", "--period", P, "--home", str(home), "--json"])
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["code"] == "conflict"  # nothing billed yet
    result = runner.invoke(cli(), ["bill", "statement", A, "--period", P, "--home", str(home)])
    assert result.exit_code == 2 and "not_found" in result.output
    result = runner.invoke(cli(), ["bill", "--home", str(home)])
    assert result.exit_code == 2 and "--period" in result.output


def test_rerate_prices_each_record_under_the_plan_its_bill_was_issued_on(home: Path, tmp_path: Path) -> None:
    """A subscriber who moved to another plan after the period: rerating that period with an unchanged tariff
    issues nothing and leaves nothing aside (the usage is priced under the billed plan, not the new one)."""
    as_json(home, "bill", "--period", P, "--issue")
    moved = tmp_path / "moved.csv"
    moved.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                     f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,en,sh\n", encoding="utf-8")
    app = open_app(home)
    with app.db.begin() as conn:
        import_subscribers(conn, moved)
    assert home_subscribers(app).filter(pl.col("msisdn") == B)["plan_id"].to_list() == ["basic-39"]
    app.close()
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 0 and rr["records_changed"] == 0
    assert rr["not_rerated"] == 0 and rr["records_compared"] == 4, rr
