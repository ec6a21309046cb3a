"""Megaline: its tables as canonical usage (calls rounded up to minutes, the month's data rounded up to GB),
its plans as a catalog that matches megaline_plans.csv, and `fairtel advise --megaline`."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import typer
from typer.testing import CliRunner

from fairtel.catalog import validate_catalog
from fairtel.cli._insight import register
from fairtel.core.money import Money
from fairtel.insight import advise, load_megaline_catalog, megaline_catalog_path, read_megaline

runner = CliRunner()
LIGHT, HEAVY = 1000, 1001


def write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def megaline_dir(tmp: Path) -> Path:
    """LIGHT (surf) makes 510 calls of 0.10 min in May (510 minutes once rounded), 60 messages and 15.5 GB
    over two sessions; HEAVY (surf) uses 40 GB in May and 1 GB in June."""
    write(tmp / "megaline_users.csv", ["user_id", "first_name", "last_name", "age", "city", "reg_date", "plan", "churn_date"],
          [[LIGHT, "A", "B", 30, "Atlanta, GA MSA", "2018-01-05", "surf", ""],
           [HEAVY, "C", "D", 40, "Boston, MA MSA", "2018-02-01", "surf", "2018-12-01"]])
    write(tmp / "megaline_calls.csv", ["id", "user_id", "call_date", "duration"],
          [[f"{LIGHT}_{i}", LIGHT, "2018-05-03", "0.10"] for i in range(510)] + [[f"{HEAVY}_1", HEAVY, "2018-05-04", "5.00"]])
    write(tmp / "megaline_messages.csv", ["id", "user_id", "message_date"],
          [[f"{LIGHT}_{i}", LIGHT, "2018-05-05"] for i in range(60)])
    write(tmp / "megaline_internet.csv", ["id", "user_id", "session_date", "mb_used"],
          [[f"{LIGHT}_1", LIGHT, "2018-05-06", "7936.00"], [f"{LIGHT}_2", LIGHT, "2018-05-31", "7936.00"],
           [f"{HEAVY}_1", HEAVY, "2018-05-07", str(40 * 1024)], [f"{HEAVY}_2", HEAVY, "2018-06-01", "0.01"]])
    return tmp


def test_catalog_is_valid_and_matches_the_published_plans(shared_dir: Path) -> None:
    assert validate_catalog(megaline_catalog_path()) == []
    catalog = load_megaline_catalog()
    assert catalog.operator.currency == "USD"
    plans = {p.id: p for p in catalog.plans}
    rates = {r.id: r for r in catalog.rates}
    published = pl.read_csv(shared_dir / "data/plans/megaline/megaline_plans.csv", infer_schema=False)
    for row in published.iter_rows(named=True):
        plan = plans[row["plan_name"]]
        assert plan.monthly_fee == Decimal(row["usd_monthly_pay"])
        quantity = {str(a.match.kind): a.quantity for a in plan.allowances}
        assert quantity["voice"] == int(row["minutes_included"]) * 60
        assert quantity["sms"] == int(row["messages_included"])
        assert quantity["data"] == int(row["mb_per_month_included"]) * (1 << 20)
        for kind, column in (("minute", "usd_per_minute"), ("message", "usd_per_message"), ("gb", "usd_per_gb")):
            assert rates[f"{plan.id}-{kind}"].steps[0].rate == Decimal(row[column])


def test_import_applies_megaline_rounding(tmp_path: Path) -> None:
    data = read_megaline(megaline_dir(tmp_path))
    usage = data.usage
    assert data.sessions == 4
    calls = usage.filter((pl.col("kind") == "voice") & (pl.col("msisdn") == "15550001000"))
    assert calls.height == 510 and set(calls["duration_s"].to_list()) == {6}
    month = usage.filter(pl.col("kind") == "data")
    assert month.height == 3  # one record per user-month
    light = month.filter(pl.col("msisdn") == "15550001000")["bytes_down"].item()
    assert light == 2 * 7936 * (1 << 20)
    assert data.periods() == ["2018-05", "2018-06"]
    assert data.subscribers.filter(pl.col("user_id") == HEAVY)["status"].item() == "closed"


def test_engine_bills_like_megaline(tmp_path: Path) -> None:
    data = read_megaline(megaline_dir(tmp_path))
    result = advise(data.usage, load_megaline_catalog(), data.subscribers, months=None)
    cost = {(r["msisdn"], r["period"], r["plan_id"]): r["total_minor"] for r in result.costs.iter_rows(named=True)}
    # LIGHT, May, surf: 510 min (10 over × 0.03) + 60 messages (10 × 0.03) + 15.5 GB → 16 GB (1 × 10) + 20
    assert cost[("15550001000", "2018-05", "surf")] == 2000 + 30 + 30 + 1000
    assert cost[("15550001000", "2018-05", "ultimate")] == 7000
    # HEAVY: 40 GB → surf 20 + 25 × 10, ultimate 70 + 10 × 7; June's 0.01 MB is a whole GB, inside both
    assert cost[("15550001001", "2018-05", "surf")] == 2000 + 25 * 1000
    assert cost[("15550001001", "2018-05", "ultimate")] == 7000 + 10 * 700
    assert cost[("15550001001", "2018-06", "surf")] == 2000
    advice = {r["msisdn"]: r for r in result.advice.iter_rows(named=True)}
    assert not advice["15550001000"]["switch"]
    heavy = advice["15550001001"]
    assert heavy["switch"] and heavy["best_plan"] == "ultimate" and heavy["months"] == 2
    assert heavy["saving_minor"] == (2000 + 25000 + 2000) - (14000 + 7000)


def test_cli_advise_megaline(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    out = tmp_path / "advice.csv"
    res = runner.invoke(app, ["advise", "--megaline", str(megaline_dir(tmp_path)), "--months", "0", "--csv", str(out),
                              "--home", str(tmp_path / "home"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["would_save"] == 1 and doc["currency"] == "USD"
    assert Decimal(doc["total_saving"]) == Money.from_minor(8000, "USD").amount
    assert "Ultimate" in doc["top"][0]["notice"]
    written = pl.read_csv(out)
    assert written.height == 2 and written.filter(pl.col("switch"))["best_plan"].to_list() == ["ultimate"]


def test_real_megaline_tables_are_read_whole(shared_dir: Path) -> None:
    data = read_megaline(shared_dir / "data/plans/megaline")
    kinds = dict(data.usage.group_by("kind").len().iter_rows())
    assert kinds["voice"] == 137_735 and kinds["sms"] == 76_051
    assert data.sessions == 104_825 and data.subscribers.height == 500
    assert set(data.subscribers["plan_id"].to_list()) == {"surf", "ultimate"}
