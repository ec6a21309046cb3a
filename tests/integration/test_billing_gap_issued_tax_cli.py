"""`fairtel rerate` taxes each correction at the rates its bill was issued with: a change of FAIRTEL_TAX_RATES (a VAT
change, or a shell without the variable) between the bill run and the rerate does not reach corrections of the
bills issued before it. And `fairtel bill statement` takes the number as people type it (+86 138-0000-0001)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import _billing
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
P = "2026-03"
TEXT = default_catalog_path().read_text(encoding="utf-8")
PEAK = 'steps = [{ rate = "0.19", rate_unit = "60s", increment = "60s" }]'
runner = CliRunner()


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    _billing.register(app)
    return app


def call(rid: str, msisdn: str, day: int) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "peer": "8613912345678",
                  "duration_s": 60, "parts": 1, "incomplete": False}


def as_json(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli(), [*args, "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """B (pay as you go) made three peak calls of a minute in March (3 × 0.19); March was billed with calls taxed at
    9 %: 0.57 + 0.05 tax."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n"
        f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n",
        encoding="utf-8",
    )
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 2
    rows = [call("d1", B, 3), call("d2", B, 4), call("d3", B, 5)]  # Tuesday to Thursday, 10:00: peak
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    monkeypatch.setenv("FAIRTEL_TAX_RATES", '{"voice": "0.09", "plan_fee": "0.06"}')
    issued = as_json(home, "bill", "--period", P, "--issue")
    b = next(x for x in issued["sample"] if x["msisdn"] == B)
    assert (b["charges"], b["tax"]) == ("0.57", "0.05")
    return home


def _correct_peak_rate(home: Path) -> None:
    """The peak rate of pay as you go corrected from 0.19 to 0.29 a minute: each call costs 0.10 more."""
    assert PEAK in TEXT
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, TEXT.replace(PEAK, PEAK.replace('"0.19"', '"0.29"')))
    app.close()


@pytest.mark.parametrize("rates_now", [None, '{"voice": "0.20"}'], ids=["variable-unset", "vat-changed"])
def test_corrections_are_taxed_at_the_rates_the_bill_was_issued_with(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     rates_now: str | None) -> None:
    if rates_now is None:
        monkeypatch.delenv("FAIRTEL_TAX_RATES")
    else:
        monkeypatch.setenv("FAIRTEL_TAX_RATES", rates_now)
    _correct_peak_rate(home)
    rr = as_json(home, "rerate", "--period", P)
    # the bill taxed 0.57 of calls at 9 % (0.05); corrected, 0.87 taxes 0.08: each 0.10 adds its 0.01 of tax
    # (0.67 → 0.06, 0.77 → 0.07, 0.87 → 0.08), whatever the rates are now
    assert sorted((s["record_id"], s["amount"]) for s in rr["sample"]) == [("d1", "0.11"), ("d2", "0.11"), ("d3", "0.11")]
    assert rr["net"] == "0.33"


def test_the_bills_part_keeps_the_rates_a_bill_was_taxed_at(home: Path) -> None:
    app = bootstrap(load_settings(home=home))
    (part,) = app.lake.files("bills", periods=[P])
    rows = pl.read_parquet(part).select("msisdn", "tax_rates").sort("msisdn").rows()
    app.close()
    # A's bill has no call and so no voice tax line: the rate it would have taxed calls at is kept all the same
    assert [(m, json.loads(r)) for m, r in rows] == [(A, {"plan_fee": "0.06", "voice": "0.09"}),
                                                     (B, {"plan_fee": "0.06", "voice": "0.09"})]


@pytest.mark.parametrize("typed", [f"+{B}", "+86 138 0000 0002", "+86-138-0000-0002", f" {B} "])
def test_a_statement_is_found_by_the_number_as_people_type_it(home: Path, typed: str) -> None:
    result = runner.invoke(cli(), ["bill", "statement", typed, "--period", P, "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("Total due,") and "0.62" in result.stdout.splitlines()[-1]
