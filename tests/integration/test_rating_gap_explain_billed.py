"""`fairtel explain` of a billed record agrees with its statement after the period was rated again. Bill, cut the
allowance, rerate (a debit for the record), then `fairtel rate` the period again: explain read the new rated lines and
said "合计：0.75 元 … 已补收 0.75 元 … 更正后本话单计：0.75 元" while the statement shows the call at 0.00 (drawn from the
allowance). It explains now from what the bill was issued from: 0.00 as billed, then the correction, then 0.75.

And `fairtel bill statement` for a number with no bill says why (no such subscriber; the period billed without a bill
for the line) instead of always asking to run the bill run first."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import TEXT, A, P, as_json, invoke, open_app

from fairtel.cli import app as fairtel
from fairtel.store import store_catalog

home = base.home  # A (basic-39, 300 domestic minutes) made v2, a 10-minute domestic call, drawn from the minutes
runner = CliRunner()


def _explain(home: Path, *args: str) -> Any:
    out = runner.invoke(fairtel, ["explain", "v2", "--home", str(home), *args])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout) if "--json" in args else out.stdout


def test_a_billed_record_is_explained_as_billed_after_the_period_is_rated_again(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    app = open_app(home)
    with app.db.begin() as conn:  # the allowance cut to 5 minutes: v2 now pays its second 5 minutes at 0.15
        store_catalog(conn, TEXT.replace('quantity = "300min"', 'quantity = "5min"', 1))
    app.close()
    rr = as_json(home, "rerate", "--period", P)
    assert [(s["record_id"], s["old"], s["new"]) for s in rr["sample"]] == [("v2", "0.00", "0.75")]
    assert runner.invoke(fairtel, ["rate", "--period", P, "--home", str(home)]).exit_code == 0  # v2 rated at 0.75 now

    statement = list(csv.reader(io.StringIO(invoke(home, "bill", "statement", A, "--period", P).stdout)))
    assert [r[9] for r in statement if r[2] == "通话" and r[4].startswith("86139")] == ["0.00"]
    zh = _explain(home, "--lang", "zh")
    assert "合计：0.00 元" in zh  # as the statement shows it (was 0.75, the new rating's)
    # what of its tariff changed, not a note of any change; the billed pricing (the 300 minutes) stays first
    assert "资费：按出账时适用的资费计算；此后本话单适用的资费已调整：套餐内额度“" in zh and "”现为 5 分钟" in zh
    assert "（此后资费已调整）" not in zh and "300 分钟" in zh.split("合计")[0]
    assert "本话单由 0.00 元改为 0.75 元（现按计费规则“国内主叫”计价），将在下期账单中补收 0.75 元" in zh
    assert "更正后本话单计：0.75 元\n重新计费后的计价：" in zh
    # then as the record is priced now: half of it drawn from the 5 minutes, half charged at 0.15
    again = zh.split("重新计费后的计价：")[1]
    assert "额度共 5 分钟" in again and "计费 5 分钟 × 0.15 元/分钟 = 0.75 元" in again
    en = _explain(home, "--lang", "en")
    assert "Total: 0.00 CNY" in en and "note:" not in en
    data = _explain(home, "--json")
    assert data["total_minor"] == 0 and data["earlier_tariff"] is True
    assert [(c["old_minor"], c["new_minor"]) for c in data["corrections"]] == [(0, 75)]


def test_while_the_rated_lines_are_the_billed_charge_they_are_explained(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    data = _explain(home, "--json")
    assert data["total_minor"] == 0 and data["lines"][0]["allowance_before"] is not None  # the rated line's detail
    assert "此前已用" in _explain(home, "--lang", "zh")


def _statement_error(home: Path, msisdn: str) -> str:
    result = runner.invoke(fairtel, ["bill", "statement", msisdn, "--period", P, "--home", str(home)])
    assert result.exit_code != 0
    return result.output


def test_a_statement_of_no_bill_says_why(home: Path) -> None:
    before = _statement_error(home, A)
    assert "not_found" in before and f"run `fairtel bill --period {P} --issue` first" in before
    as_json(home, "bill", "--period", P, "--issue")
    stranger = _statement_error(home, "8613899999999")
    assert "not a subscriber" in stranger and "--issue" not in stranger  # was: run the bill run first
    app = open_app(home)
    late = Path(app.settings.home) / "late.csv"
    late.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    "8613800000009,c9,payg,2026-04-10T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    from fairtel.store import import_subscribers

    with app.db.begin() as conn:
        assert import_subscribers(conn, late).accepted == 1
    app.close()
    after = _statement_error(home, "8613800000009")  # activated in April: March is billed, without it
    assert "though the period's bills are issued" in after and "--issue" not in after
