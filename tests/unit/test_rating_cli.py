"""`fairtel rate`, `fairtel quote` and `fairtel explain` against a home directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.store import Lake, import_consent_events, import_subscribers

runner = CliRunner()
CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"


def rec(rid: str, msisdn: str, kind: str, day: int, **kw: Any) -> dict[str, Any]:
    row = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": kind, "direction": "out",
                  "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "parts": 1,
                  "incomplete": False} | kw


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{A},c1,senior-19,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n", encoding="utf-8")
    consent = tmp_path / "consent.jsonl"
    consent.write_text("\n".join(json.dumps(e) for e in [
        {"event": "ordered", "subscription_id": "s1", "msisdn": B, "offer_id": "vas-music-10",
         "at": "2026-03-01T10:00:00+08:00", "channel": "sms"},
        {"event": "confirmed", "subscription_id": "s1", "msisdn": B, "offer_id": "vas-music-10",
         "at": "2026-03-01T10:01:00+08:00", "channel": "sms"},
    ]) + "\n", encoding="utf-8")
    with bootstrap(load_settings(home=h)) as application, application.db.begin() as conn:
        import_subscribers(conn, subs)
        import_consent_events(conn, consent)
    lake = Lake(h / "lake")
    files = [
        [rec("a1", A, "voice", 2, duration_s=99 * 60, peer="8613912345678"),
         rec("b1", B, "voice", 2, duration_s=61, peer="8613912345678")],
        [rec("a2", A, "voice", 3, duration_s=150, peer="8613912345678"),
         rec("b2", B, "vas", 3, offer_id="vas-music-10", amount_minor=1000, currency="CNY"),
         rec("b3", B, "vas", 3, offer_id="vas-horoscope-6", amount_minor=600, currency="CNY"),
         rec("x1", "8613800000099", "sms", 3, peer="8613912345678")],
    ]
    for i, rows in enumerate(files):
        lake.write("usage", "2026-03", pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part=f"f{i}")
    return h


def rated_files(home: Path) -> list[Path]:
    return sorted((home / "lake" / "rated").glob("period=2026-03/*.parquet"))


@pytest.mark.parametrize("batch", [None, 2])
def test_rate_writes_the_period_and_a_rerun_replaces_it(home: Path, batch: int | None) -> None:
    args = ["rate", "--period", "2026-03", "--home", str(home), "--json"] + (["--batch-size", str(batch)] if batch else [])
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    totals = json.loads(first.stdout)
    assert totals["records"] == 6 and totals["unrated"] == 1 and totals["unrated_by_reason"] == {"unknown_subscriber": 1}
    # a2: 0.30 (one of its 3 minutes left in the allowance), b1: 0.38, b2: 10.00, b3: refused by the gate
    assert totals["amount"] == "10.68"
    lines = pl.read_parquet(rated_files(home))
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.stdout)["amount"] == "10.68"
    relines = pl.read_parquet(rated_files(home))
    assert relines.height == lines.height == 6  # a2 is two lines, x1 is unrated
    assert relines.sort("record_id", "line").equals(lines.sort("record_id", "line"))
    verdicts = dict(zip(relines["record_id"], relines["verdict"], strict=True))
    assert verdicts["b2"] == "consented" and verdicts["b3"] == "no_subscription"
    assert not list((home / "lake" / "rated").glob(".*"))  # no staging left behind
    unrated = pl.read_parquet(sorted((home / "lake" / "unrated").glob("period=2026-03/*.parquet")))
    assert unrated["record_id"].to_list() == ["x1"]


def test_explain_reads_the_lake(home: Path) -> None:
    assert runner.invoke(app, ["rate", "--period", "2026-03", "--home", str(home)]).exit_code == 0
    zh = runner.invoke(app, ["explain", "a2", "--home", str(home)])  # the subscriber speaks zh
    assert zh.exit_code == 0, zh.output
    assert "套餐：关爱老人套餐 19 元" in zh.stdout and "合计：0.30 元" in zh.stdout
    en = runner.invoke(app, ["explain", "a2", "--home", str(home), "--lang", "en", "--json"])
    data = json.loads(en.stdout)
    assert data["total"] == "0.30" and data["lines"][0]["allowance_id"] == "senior-19/voice"
    assert data["record"]["duration_s"] == 150
    missing = runner.invoke(app, ["explain", "x1", "--home", str(home), "--json"])
    assert missing.exit_code == 2 and "unknown_subscriber" in missing.stdout


def test_quote_from_stdin() -> None:
    records = [
        {"record_id": "q1", "kind": "voice", "direction": "out", "started_at": "2026-03-03T10:00:00+08:00",
         "duration_s": 95, "peer": "85261234567"},
        {"record_id": "q2", "kind": "voice", "direction": "out", "started_at": "2026-03-03T10:00:00+08:00",
         "duration_s": 95, "peer": "8613912345678", "plan_id": "basic-39"},
        {"record_id": "q3", "kind": "voice", "direction": "out", "started_at": "2026-03-03T10:00:00+08:00",
         "duration_s": 95, "peer": "8613912345678", "plan_id": "basic-39", "allowance_used": {"basic-39/voice": 0}},
    ]
    result = runner.invoke(app, ["quote"], input=json.dumps(records))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [(q["record_id"], q["amount"], q["currency"], q["rule"]) for q in out] == [
        ("q1", "3.00", "CNY", "intl/voice-intl-1"),  # payg by default: 2 minutes at 1.50
        ("q2", "0.30", "CNY", "basic-39/voice-domestic"),  # no plan state: no allowance consumed
        ("q3", "0.00", "CNY", "basic-39/voice-domestic"),  # a fresh period's allowance covers it
    ]
    single = runner.invoke(app, ["quote", "--plan", "senior-19"], input=json.dumps(records[1] | {"plan_id": None}))
    assert json.loads(single.stdout)[0]["rule"] == "senior-19/voice-domestic"


def test_quote_reports_bad_records(tmp_path: Path) -> None:
    result = runner.invoke(app, ["quote"], input=json.dumps([{"record_id": "bad", "kind": "voice"}]))
    assert result.exit_code == 1
    assert json.loads(result.stdout)[0]["error"]["code"] == "input_invalid"
    garbage = runner.invoke(app, ["quote"], input="{not json")
    assert garbage.exit_code == 2 and "input_invalid" in garbage.stdout


def test_rate_without_usage_empties_the_period(home: Path) -> None:
    assert runner.invoke(app, ["rate", "--period", "2026-03", "--home", str(home)]).exit_code == 0
    assert rated_files(home)
    empty = runner.invoke(app, ["rate", "--period", "2026-04", "--home", str(home), "--json"])
    assert empty.exit_code == 0 and json.loads(empty.stdout)["records"] == 0
    assert rated_files(home)  # another period is left alone
