"""The previous customer's consented VAS charge of the month of an owner change (过户), held by the bill run
(``before_holding``), is a held record like their usage: `fairtel bill held` lists it with its amount (the list's
count and amount are the bill run's), `fairtel bill release --record … --write-off` writes it off, `fairtel explain`
words it as held, never its code; a held record written off is not advised again on a rerun of the bill run; and the
statement gives a charge refused as the previous customer's subscription (``previous_holder``) one reason, not "no
confirmed subscription" beside it.

The home is ``test_billing_gap_owner_change_late``'s: line A moves from c1 to c9 on 10 March; c1's call of the 5th and
music charge of the 3rd (10.00, consented) are held.

Before: `bill held` listed c1's call alone (0 of the 10.00 held), the write-off of the music charge answered
``not_found``, `explain` printed ``before_holding`` and no held sentence, a rerun advised writing off a record already
written off, and the statement said "no confirmed subscription covers this charge" of c1's confirmed music pack."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import A, as_json, invoke, runner
from test_billing_gap_owner_change_late import P, _call, _usage, _vas, home

from fairtel.cli import app as fairtel

__all__ = ["home"]


def test_bill_held_lists_the_held_vas_charge_with_the_bill_run_s_count_and_amount(home: Path) -> None:
    run = as_json(home, "bill", "--period", P, "--issue")
    listed = as_json(home, "bill", "held", "--period", P)
    amounts = {r["record_id"]: r["amount"] for r in listed["held"]}
    assert amounts.get("c1-music") == "10.00", amounts
    assert listed["records"] == run["held_records"] == 2
    assert listed["amount"] == run["held"] == "13.00"  # the call 3.00 and the music pack 10.00


def test_the_held_vas_charge_is_written_off_by_record_and_not_released(home: Path) -> None:
    invoke(home, "bill", "--period", P, "--issue")
    refused = runner.invoke(fairtel, ["bill", "release", "--period", P, "--record", "c1-music", "--by", "eng1",
                                    "--home", str(home)])
    assert refused.exit_code != 0 and "write it off" in refused.output, refused.output
    out = as_json(home, "bill", "release", "--period", P, "--record", "c1-music", "--write-off", "--by", "eng1")
    assert out["records"] == 1 and out["amount"] == "10.00", out
    status = {r["record_id"]: r["status"] for r in as_json(home, "bill", "held", "--period", P)["held"]}
    assert status["c1-music"] == "written_off" and status["c1-call"] == "pending", status


def _explain(home: Path, *args: str) -> str:
    result = runner.invoke(fairtel, ["explain", "c1-music", *args, "--home", str(home)])
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def test_explain_says_the_previous_customer_s_vas_charge_is_held(home: Path) -> None:
    invoke(home, "bill", "--period", P, "--issue")
    en, zh = _explain(home, "--lang", "en"), _explain(home, "--lang", "zh")
    for text in (en, zh):
        assert "before_holding" not in text, text
    assert "Held, not billed" in en and "previous customer" in en, en
    assert "不计费" in zh and "原机主" in zh, zh
    assert json.loads(_explain(home, "--json"))["held"] == "before_holding"


def test_a_rerun_does_not_advise_writing_off_what_was_written_off(home: Path) -> None:
    invoke(home, "bill", "--period", P, "--issue")
    _usage(home, "t2", [_call("c1-late", A, 6)])  # c1's, rated after the bill run: held
    assert as_json(home, "bill", "--period", P)["held_late_records"] == 1
    invoke(home, "bill", "release", "--period", P, "--msisdn", A, "--write-off", "--by", "eng1")
    again = as_json(home, "bill", "--period", P)
    assert again["held_late_records"] == 0, again
    assert not any("--write-off" in n for n in again["notes"]), again["notes"]


def test_the_statement_gives_the_previous_customer_s_subscription_one_reason(home: Path) -> None:
    _usage(home, "t2", [_vas("c1-music-after", "vas-music-10", 1000, 15)])  # after the change: previous_holder
    invoke(home, "bill", "--period", P, "--issue")
    en = invoke(home, "bill", "statement", A, "--period", P, "--lang", "en").stdout
    zh = invoke(home, "bill", "statement", A, "--period", P, "--lang", "zh").stdout
    music_en = next(ln for ln in en.splitlines() if "2026-03-15" in ln)
    music_zh = next(ln for ln in zh.splitlines() if "2026-03-15" in ln)
    assert "previous customer" in music_en and "no confirmed subscription" not in music_en, music_en
    assert "原机主" in music_zh and "没有已确认的订购" not in music_zh, music_zh


def test_bill_held_lists_the_held_vas_charge_before_the_period_is_issued(home: Path) -> None:
    preview = as_json(home, "bill", "--period", P)
    listed = as_json(home, "bill", "held", "--period", P)
    assert {r["record_id"]: r["reason"] for r in listed["held"]} == {"c1-call": "before_holding",
                                                                      "c1-music": "before_holding"}
    assert listed["amount"] == preview["held"] == "13.00", (listed, preview["held"])
