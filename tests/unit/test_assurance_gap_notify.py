"""Bill-shock and refund SMS: one coherent alert per crossing, in the subscriber's registered language, signed
with the operator's name (not always in Chinese and signed "fairtel"; not two alerts for one call, the lower one
stating a spend far above it as its share of the cap)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from fairtel.assurance import DOMESTIC, bill_shock_findings, bill_shock_messages
from fairtel.catalog import default_catalog_path
from fairtel.cli import app

NOW = datetime(2026, 10, 2, tzinfo=UTC)
DAY = datetime(2026, 9, 10, 2, tzinfo=UTC)
EN, ZH = "8613800138000", "8613900139000"
OPERATOR = {"zh": "示范电信", "en": "Demo Telecom"}


def _rated(msisdn: str, amounts: list[int]) -> pl.DataFrame:
    n = len(amounts)
    return pl.DataFrame(
        {"record_id": [f"r{i}" for i in range(n)], "msisdn": [msisdn] * n, "started_at": [DAY + timedelta(hours=i) for i in range(n)],
         "amount_minor": amounts, "currency": ["CNY"] * n, "kind": ["voice"] * n, "roaming_country": [None] * n},
        schema_overrides={"started_at": pl.Datetime("us", "UTC"), "roaming_country": pl.String()},
    )


def test_one_call_past_two_thresholds_sends_one_alert_stating_the_real_share() -> None:
    found = bill_shock_findings(_rated(EN, [30, 14480]), DOMESTIC, detected_at=NOW)
    assert sorted(f.evidence["threshold_pct"] for f in found) == [80, 100]  # both crossings stay findings
    (msg,) = bill_shock_messages(found, languages={EN: "en"}, sender=OPERATOR, now=NOW)
    assert msg.language == "en" and msg.kind == "bill_shock"
    assert msg.text == ("Demo Telecom: your out-of-plan charges this month have reached 145.10 CNY, 145% of your 100.00 CNY "
                        "limit (past the 100% alert).")
    assert msg.finding_id == next(f.finding_id for f in found if f.evidence["threshold_pct"] == 100)
    (zh,) = bill_shock_messages(found, languages={EN: "zh"}, sender=OPERATOR, now=NOW)
    assert zh.text == "【示范电信】您本月套餐外费用已达145.10元，为100.00元上限的145%（已超过100%提醒线）。"


def test_separate_crossings_each_get_their_alert() -> None:
    found = bill_shock_findings(_rated(ZH, [8000, 1000, 2000]), DOMESTIC, detected_at=NOW)
    msgs = bill_shock_messages(found, languages={ZH: "zh"}, sender=OPERATOR, now=NOW)
    assert [m.text for m in msgs] == ["【示范电信】您本月套餐外费用已达80.00元，为100.00元上限的80%。",
                                      "【示范电信】您本月套餐外费用已达110.00元，为100.00元上限的110%（已超过100%提醒线）。"]


def _operator_dir(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(default_catalog_path(), root / "catalog.toml")
    (root / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{EN},cu1,basic-39,2024-01-01T00:00:00+08:00,active,en,shanghai\n"
        f"{ZH},cu2,basic-39,2024-01-01T00:00:00+08:00,active,zh,shanghai\n", encoding="utf-8")
    (root / "usage").mkdir()
    rows = ["record_id,msisdn,kind,direction,started_at,duration_s,peer"]
    for m in (EN, ZH):  # an SMS abroad (1.00), then a 40-minute call to zone 2 (144.00): past 80 % and 100 % at once
        rows.append(f"s-{m[-4:]},{m},sms,out,2026-09-10T10:00:00+08:00,,12025550123")
        rows.append(f"c-{m[-4:]},{m},voice,out,2026-09-10T11:00:00+08:00,2400,12025550123")
    (root / "usage" / "msc-01.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_assure_tells_each_subscriber_in_their_language_signed_by_the_operator(tmp_path: Path) -> None:
    runner = CliRunner()
    home, op = tmp_path / "home", _operator_dir(tmp_path / "op")
    for args in (["load", str(op)], ["rate", "--period", "2026-09"]):
        result = runner.invoke(app, [*args, "--home", str(home)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["assure", "--home", str(home), "--bill-shock", "domestic", "--refund", "--json"])
    assert result.exit_code == 0, result.output
    sent = [json.loads(line) for line in (home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    by_number = {m["msisdn"]: m for m in sent if m["kind"] == "bill_shock"}
    assert len([m for m in sent if m["kind"] == "bill_shock"]) == 2  # one per subscriber's crossing, not two each
    assert by_number[EN]["language"] == "en" and by_number[EN]["text"].startswith("Demo Telecom: ")
    assert "145.00 CNY, 145% of your 100.00 CNY limit" in by_number[EN]["text"]
    assert by_number[ZH]["language"] == "zh" and by_number[ZH]["text"].startswith("【示范电信】")
    assert not any("fairtel" in m["text"] for m in sent)
