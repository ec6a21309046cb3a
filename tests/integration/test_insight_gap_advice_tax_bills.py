"""`fairtel advise` on a home prices what the bills charge: with FAIRTEL_TAX_RATES each month is taxed as the bill run
taxes it (so "what you paid" is what the issued bills say, tax included, and a plan cheaper only before tax is not
advised), and a month without usage counts with its plan fee, as it is billed. `--explain --language zh` is said in
Chinese throughout."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, cli, open_app, rec

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as fairtel
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import bills_of_period, import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
TALKER, QUIET = "8613800000001", "8613800000002"
MONTHS = ("2026-03", "2026-04")
RATES = '{"voice": "0.09", "plan_fee": "0.06"}'
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TALKER on basic-39 calls 200 peak minutes in March and in April (38.00 on pay as you go, within basic-39's 300
    minutes); QUIET on pay as you go calls 10 minutes in March and none in April. Both months billed with calls taxed
    at 9 % and fees at 6 %."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{TALKER},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                    f"{QUIET},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 2
    weekday = {"2026-03": datetime(2026, 3, 5, 10, tzinfo=CN), "2026-04": datetime(2026, 4, 7, 10, tzinfo=CN)}
    for key, at in weekday.items():
        rows = [rec(f"t-{key}", TALKER, duration_s=200 * 60, started_at=at.astimezone(UTC))]
        if key == "2026-03":
            rows.append(rec(f"q-{key}", QUIET, duration_s=10 * 60, started_at=at.astimezone(UTC)))
        app.lake.write("usage", key, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
        rate_period(app, Period.parse(key), catalog=load_catalog(default_catalog_path()))
    app.close()
    monkeypatch.setenv("FAIRTEL_TAX_RATES", RATES)
    for key in MONTHS:
        result = runner.invoke(cli(), ["bill", "--period", key, "--issue", "--home", str(home), "--json"])
        assert result.exit_code == 0, result.output
    return home


def _billed(home: Path) -> dict[str, int]:
    app = open_app(home)
    try:
        with app.db.connect() as conn:
            bills = [b for key in MONTHS for b in bills_of_period(conn, key)]
    finally:
        app.close()
    out: dict[str, int] = {}
    for b in bills:
        out[b.msisdn] = out.get(b.msisdn, 0) + b.total_minor
    return out


def test_advice_is_priced_as_the_taxed_bills(home: Path) -> None:
    result = runner.invoke(fairtel, ["advise", "--json", "--home", str(home), "--csv", str(home / "advice.csv")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["periods"] == list(MONTHS)
    billed = _billed(home)
    assert billed[TALKER] == 2 * (3900 + 234)
    # before tax pay as you go (38.00 a month) looked 1.00 a month cheaper; taxed, it is 0.08 a month dearer
    assert doc["would_save"] == 0 and doc["top"] == []
    assert doc["tax_included"] is True and doc["tax_rates"] == {"voice": "0.09", "plan_fee": "0.06"}
    assert any("includes tax" in n for n in doc["notes"])
    explain = runner.invoke(fairtel, ["advise", "--explain", TALKER, "--json", "--home", str(home)])
    assert explain.exit_code == 0, explain.output
    why = json.loads(explain.stdout)["explain"]
    totals = {p["plan_id"]: p["total_minor"] for p in why["plans"]}
    assert totals["basic-39"] == billed[TALKER] and totals["payg"] == 2 * (3800 + 342)
    assert why["best_plan"] == "basic-39" and not why["switch"]
    # QUIET's April is billed (nothing on pay as you go, basic-39's fee on basic-39): both months count
    quiet = runner.invoke(fairtel, ["advise", "--explain", QUIET, "--json", "--home", str(home)])
    assert quiet.exit_code == 0, quiet.output
    why = json.loads(quiet.stdout)["explain"]
    assert why["months"] == 2
    totals = {p["plan_id"]: p["total_minor"] for p in why["plans"]}
    assert totals["payg"] == billed[QUIET] == 190 + 17
    assert totals["basic-39"] == 2 * (3900 + 234)


def test_explain_in_chinese_throughout(home: Path) -> None:
    result = runner.invoke(fairtel, ["advise", "--explain", TALKER, "--language", "zh", "--home", str(home)])
    assert result.exit_code == 0, result.output
    text = " ".join(line for line in result.stdout.splitlines() if not line.startswith("pricing months"))
    for english in ("note:", "current plan", "advised", "costs more", "not priced", "each plan over", "priced "):
        assert english not in text, english
    assert "当前套餐" in text and "所有金额均含税" in text and "计算账期 2026-03、2026-04" in text
    assert "basic-39：82.68 CNY；当前套餐，已是可办理套餐中最省钱的" in text
    assert "payg：82.84 CNY；费用更高" in text
    # the whole base's summary too
    result = runner.invoke(fairtel, ["advise", "--language", "zh", "--home", str(home)])
    assert result.exit_code == 0, result.output
    text = " ".join(line for line in result.stdout.splitlines() if not line.startswith("pricing months"))
    assert "subscribers priced" not in text and "note:" not in text and "not advised" not in text
    assert "共 2 位用户按 2026-03、2026-04" in text and "不向 2 位用户建议 senior-19" in text
