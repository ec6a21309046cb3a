"""A rerate corrects every record, refunded or not, and the refund of usage past a cap is recomputed.

Usage past an EU roaming cap is billed, then refunded by `fairtel assure --refund`; a later tariff cut credits each
record its whole difference, and the next `assure --refund` takes back what the refund gave beyond the usage now
past the cap, so the subscriber pays ``min(rerated charges, cap)``. A rerate with an unchanged tariff issues
nothing, and a rerate run again issues nothing more."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
from typer.testing import CliRunner

from fairtel.billing import AdjustmentKind, rerate_differences
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli

CN = timezone(timedelta(hours=8))
M = "8613900000009"
P = "2026-09"
runner = CliRunner()


def _ft(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, [*args, "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _operator(tmp_path: Path) -> Path:
    op = tmp_path / "op"
    (op / "consent").mkdir(parents=True)
    (op / "usage").mkdir()
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{M},c1,basic-39,2025-01-01T00:00:00+08:00,active,en,cq\n", encoding="utf-8")
    (op / "consent" / "e.jsonl").write_text("", encoding="utf-8")
    # eleven days of France data, 100 MiB a day: each day capped at 60.00 by the roaming rule's daily cap
    (op / "usage" / "sep.jsonl").write_text("".join(
        json.dumps({"record_id": f"ri{d}", "source": "pgw", "msisdn": M, "kind": "data",
                    "started_at": f"2026-09-{d}T12:00:00+08:00", "bytes_up": 0, "bytes_down": 104857600,
                    "roaming_country": "FR"}) + "\n"
        for d in range(10, 21)), encoding="utf-8")
    return op


def test_rerate_after_a_cap_refund_corrects_every_record_and_assure_takes_back_the_excess(tmp_path: Path) -> None:
    op, home = _operator(tmp_path), tmp_path / "h"
    _ft(home, "load", str(op))
    _ft(home, "rate", "--period", P)
    billed = _ft(home, "bill", "--period", P, "--issue")
    assert billed["by_kind"]["data"] == "660.00"
    assured = _ft(home, "assure", "--bill-shock", "eu_data_roaming", "--rate", "CNY=0.125", "--refund")
    assert assured["refund"]["amount"] == {"CNY": "260.00"}  # usage past the cap of 400.00 (50.00 EUR)
    past = [f for f in assured["findings"] if f["kind"] == "usage_past_cap"]
    assert [f["record_ids"] for f in past] == [["ri16", "ri17", "ri18", "ri19", "ri20"]]

    # the tariff the bill was issued under: nothing to correct, the refund notwithstanding
    same = _ft(home, "rerate", "--period", P, "--catalog", str(op / "catalog.toml"))
    assert same["adjustments_issued"] == 0 and same["net"] == "0.00"

    cat50 = tmp_path / "cat50.toml"
    cat50.write_text((op / "catalog.toml").read_text(encoding="utf-8").replace('daily_cap = "60.00"', 'daily_cap = "50.00"'),
                     encoding="utf-8")
    cut = _ft(home, "rerate", "--period", P, "--catalog", str(cat50))
    # every record is corrected to its new price (11 × 10.00); the refund is charge assurance's to recompute: usage
    # now 550.00 under the cap of 400.00 is 150.00 past it, so 110.00 of the 260.00 refunded is taken back
    assert cut["credits"] == 11 and cut["debits"] == 0 and cut["net"] == "-110.00"
    # the five records the refund covers changed price: the output counts them and says how to recompute it
    assert cut["records_refunded_before"] == 5
    assert any("fairtel assure --refund" in n for n in cut["notes"])
    assert _ft(home, "assure", "--bill-shock", "eu_data_roaming", "--rate", "CNY=0.125", "--refund")["refunds"] == 0
    again = _ft(home, "rerate", "--period", P, "--catalog", str(cat50))
    assert again["adjustments_issued"] == 0 and again["net"] == "0.00"


def _lines(amounts: list[int]) -> pl.DataFrame:
    return pl.DataFrame([
        {"record_id": f"r{i}", "source": "pgw", "line": 0, "msisdn": M, "period": P,
         "started_at": datetime(2026, 9, 10 + i, tzinfo=UTC), "kind": "data", "plan_id": "basic-39",
         "rule_id": "roam/data-roam-3", "quantity": 100, "unit": "MiB", "amount_minor": amount, "currency": "CNY"}
        for i, amount in enumerate(amounts)
    ])


def test_a_refund_does_not_cut_the_credits_of_its_records() -> None:
    now = datetime(2026, 10, 2, 9, tzinfo=CN)
    old, new = _lines([6000] * 5), _lines([5000] * 5)
    group = tuple((M, "", f"r{i}") for i in (2, 3, 4))  # a refund naming its records without their source

    def rerate(rerated: pl.DataFrame, prior: Any = ()) -> Any:
        return rerate_differences(old, rerated, period=P, bills={M: "bill_1"}, currency="CNY", created_at=now,
                                  prior=prior, refunded={group: 2500})

    first = rerate(new)
    # every record is credited its whole difference (10.00 each): the refund is recomputed by charge assurance
    credits = {a.record_id: a.amount_minor for a in first.adjustments}
    assert all(a.kind is AdjustmentKind.CREDIT for a in first.adjustments)
    assert credits == {f"r{i}": 1000 for i in range(5)} and first.net_minor == -5000
    assert first.refunded == ("pgw/r2", "pgw/r3", "pgw/r4")  # changed, covered by the refund: it is recomputed
    assert rerate(new, first.adjustments).adjustments == ()  # run again: nothing more
    lower = _lines([4000] * 5)
    second = rerate(lower, first.adjustments)
    credits = {a.record_id: a.amount_minor for a in second.adjustments}
    assert credits == {f"r{i}": 1000 for i in range(5)} and second.net_minor == -5000
    assert rerate(lower, (*first.adjustments, *second.adjustments)).adjustments == ()
    # no refund: every record credited its difference
    plain = rerate_differences(old, new, period=P, bills={M: "bill_1"}, currency="CNY", created_at=now)
    assert plain.net_minor == -5000 and plain.refunded == ()
