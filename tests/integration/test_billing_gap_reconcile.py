"""`fairtel bill reconcile --period P`: an auditor's tie-out of a period, usage records → rated lines → bills, each
figure reckoned from the lake and the database (not from a bill run's summary), every difference between rated and
billed explained (held, refused, late, unbilled, rated again) or named, with exit status 1 when one is not. There was
no such report: each figure was in another command's output, gone with the terminal."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, B, P, as_json, cli, invoke, open_app, rec, runner

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period

home = base.home  # three subscribers, four March records (A: HK call 3.00 + one in the allowance; B: 0.57 + SMS 0.10)


def test_a_period_ties_out_and_a_late_record_is_explained(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    out = as_json(home, "bill", "reconcile", "--period", P)
    assert out["ok"] is True and out["unexplained"] == []
    assert out["usage"] == {"records": 4, "by_kind": {"sms": 1, "voice": 3}, "partial_sessions_waiting": 0}
    assert out["rating"]["rated_records"] == 4 and out["rating"]["not_rated_records"] == 0
    kinds = {k["kind"]: k for k in out["rated_vs_billed"]}
    assert (kinds["voice"]["rated_minor"], kinds["voice"]["billed_minor"], kinds["voice"]["difference_minor"]) == (357, 357, 0)
    assert (kinds["sms"]["rated_minor"], kinds["sms"]["billed_minor"]) == (10, 10)
    bills = out["bills"]
    # fees 39.00 + 19 × 16/31 = 9.81; usage 3.00 + 0.57 + 0.10; untaxed
    assert bills["count"] == 3 and bills["by_kind_minor"] == {"plan_fee": 4881, "sms": 10, "voice": 357}
    assert (bills["charges_minor"], bills["tax_minor"], bills["total_minor"]) == (5248, 0, 5248)
    assert bills["plan_fee_bills"] == 2 and bills["plan_fee_part_month"] == 1
    assert "every difference is explained" in invoke(home, "bill", "reconcile", "--period", P).stdout

    # a call of B ingested and rated after the bills: late usage, a known difference until a rerate charges it
    app = open_app(home)
    app.lake.write("usage", P, pa.Table.from_pylist([rec("v9", B, duration_s=60)], schema=CLEAN_USAGE_SCHEMA), part="t9")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    out = as_json(home, "bill", "reconcile", "--period", P)
    voice = next(k for k in out["rated_vs_billed"] if k["kind"] == "voice")
    assert out["ok"] is True and voice["difference_minor"] == 19 and voice["unexplained_minor"] == 0
    assert voice["explained"]["late"] == {"records": 1, "amount_minor": 19, "charged_by_rerate": 0}
    as_json(home, "rerate", "--period", P)
    out = as_json(home, "bill", "reconcile", "--period", P)
    voice = next(k for k in out["rated_vs_billed"] if k["kind"] == "voice")
    assert voice["explained"]["late"]["charged_by_rerate"] == 1
    assert out["period_entries"]["late-usage"] == {"entries": 1, "net_minor": 19, "carried": 0, "pending": 1}


def test_a_bill_line_gone_from_the_database_is_an_unexplained_difference(home: Path, tmp_path: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    app = open_app(copy)
    with app.db.begin() as conn:
        bill_id = conn.scalar(text("SELECT bill_id FROM bills WHERE msisdn = :m"), {"m": A})
        gone = conn.execute(text("DELETE FROM bill_lines WHERE bill_id = :b AND kind = 'voice' AND amount_minor > 0"),
                            {"b": bill_id}).rowcount
    app.close()
    assert gone == 1
    result = runner.invoke(cli(), ["bill", "reconcile", "--period", P, "--home", str(copy), "--json"])
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert out["ok"] is False
    voice = next(k for k in out["rated_vs_billed"] if k["kind"] == "voice")
    assert (voice["rated_minor"], voice["billed_minor"], voice["unexplained_minor"]) == (357, 57, 300)
    said = " ".join(out["unexplained"])
    assert f"bill {bill_id}: its charge lines add up to 3900, the bill charges 4200" in said
    assert f"bill {bill_id}: its voice lines charge 0, the lines it was issued from 300" in said
    table = runner.invoke(cli(), ["bill", "reconcile", "--period", P, "--home", str(copy)])
    assert table.exit_code == 1 and "UNEXPLAINED" in table.stdout
    # the home itself still ties out
    assert as_json(home, "bill", "reconcile", "--period", P)["ok"] is True
