"""A statement speaks its reader's language throughout: rerate reasons are stored as a code and parameters and
worded in zh or en (reasons stored as English sentences are shown as stored), roaming countries by name, SMS as
sent / received, the issue time on the operator's clock; data in the binary units it is counted in; a total below
zero as a credit balance. And the bill itself leaves out usage lines that neither used nor charged anything."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl

from fairtel.billing import (
    Account,
    AdjustmentEntry,
    AdjustmentKind,
    LineKind,
    build_statement,
    charge_late_vas,
    format_quantity,
    rerate_differences,
    rerate_fees,
    run_bills,
    statement_csv,
    statement_html,
)
from fairtel.billing._model import decode_reason, encode_reason
from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
P, NEXT = "2026-03", "2026-04"
CATALOG = load_catalog(default_catalog_path())
ISSUED = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
ACCOUNTS = [Account(A, "basic-39", datetime(2025, 1, 1, tzinfo=CN)), Account(B, "payg", datetime(2025, 1, 1, tzinfo=CN))]
GIB = 1024**3


def line(rid: str, kind: str, amount: int, msisdn: str = A, **kw: Any) -> dict[str, Any]:
    unit = {"voice": "second", "sms": "message", "data": "byte", "vas": "item"}[kind]
    return {"record_id": rid, "source": "sw", "line": 0, "msisdn": msisdn, "period": P,
            "started_at": datetime(2026, 3, 3, 10, tzinfo=CN).astimezone(UTC), "kind": kind, "direction": "out",
            "roaming_country": None, "plan_id": "basic-39" if msisdn == A else "payg", "rule_id": f"basic-39/{kind}-domestic",
            "zone": "domestic", "quantity": 60, "unit": unit, "allowance_id": None, "allowance_used": None,
            "amount_minor": amount, "currency": "CNY", "verdict": None, "subscription_id": None} | kw


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"roaming_country": pl.String(), "allowance_id": pl.String(),
                                                "allowance_used": pl.Int64(), "verdict": pl.String(),
                                                "subscription_id": pl.String()}, infer_schema_length=None)


MARCH = frame([
    line("v1", "voice", 300, rule_id="roam/voice-roam-1", roaming_country="HK", zone=None),
    line("u1", "data", 500, quantity=5 * 1024**2, rule_id="roam/data-roam-world", roaming_country="ZZ", zone=None),
    line("s1", "sms", 10, quantity=1),
    line("d1", "data", 0, quantity=2148532224, rule_id="basic-39/data-home", allowance_id="basic-39/data",
         allowance_used=2148532224, zone=None),
    *(line(f"z{i}", "voice", 0, quantity=0, rule_id="basic-39/voice-domestic") for i in range(6)),  # 0 seconds
    line("p1", "voice", 300, msisdn=B, rule_id="payg/voice-domestic-peak"),
])


def march() -> Any:
    return run_bills(MARCH, CATALOG, ACCOUNTS, period=P, issued_at=ISSUED, run_id="r1")


def april_entries() -> list[AdjustmentEntry]:
    """The corrections of March: basic-39's fee 39.00 → 35.00, B's call 3.00 → 2.40, a call of A rated after the
    bill (1.50) and a consented VAS charge of A rated after it (5.00)."""
    run = march()
    bills = {b.msisdn: b.bill_id for b in run.bills}
    text = default_catalog_path().read_text(encoding="utf-8")
    at = text.index("monthly_fee = ", text.index('id = "basic-39"'))
    cheaper, problems = parse_catalog(text[:at] + 'monthly_fee = "35.00"' + text[text.index("\n", at):])
    assert cheaper is not None, problems
    fees = rerate_fees(run.bills, cheaper, period=P, created_at=ISSUED)
    rerated = pl.concat([
        MARCH.filter(pl.col("record_id") != "p1"),
        frame([line("p1", "voice", 240, msisdn=B, rule_id="payg/voice-domestic-peak"),
               line("v9", "voice", 150, rule_id="basic-39/voice-domestic")]),
    ])
    usage = rerate_differences(run.billed, rerated, period=P, bills=bills, currency="CNY", created_at=ISSUED)
    vas = frame([line("m1", "vas", 500, quantity=1, rule_id="offer/vas-music-10", verdict="consented",
                      subscription_id="sub-1", direction=None, zone=None)])
    late = charge_late_vas(run.billed, vas, period=P, bills=bills, currency="CNY", created_at=ISSUED)
    return [*fees.adjustments, *usage.adjustments, *late.adjustments]


def april() -> Any:
    return run_bills(MARCH.head(0), CATALOG, ACCOUNTS, period=NEXT, issued_at=ISSUED, run_id="r2", adjustments=april_entries())


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_rerate_reasons_are_stored_as_codes_and_worded_in_the_statements_language() -> None:
    codes = sorted((e.msisdn, (decode_reason(e.reason) or ("",))[0]) for e in april_entries())
    assert codes == [(A, "late-usage"), (A, "late-vas"), (A, "rerate-fee"), (B, "rerate-usage")]
    run = april()
    a, b = run.bill_for(A), run.bill_for(B)
    assert a is not None and b is not None
    zh = statement_csv(build_statement(a, run.billed, catalog=CATALOG, language="zh"))
    adjustments = [r[11] for r in rows(zh) if r[0] == "调整"]
    assert len(adjustments) == 3
    for word in ("rerate", "record", "monthly fee", "late VAS", "Credit", "Debit", "credit", "debit"):
        assert not any(word in text for text in adjustments), (word, adjustments)
    plan_zh = CATALOG.plan("basic-39").name.in_language("zh")
    assert f"减免：2026-03 重新计费：套餐月费 {plan_zh} 39.00 → 35.00 元" in adjustments
    assert any(t.startswith("补收：2026-03 出账后补计：话单 v9 国内主叫 1.50 元") for t in adjustments), adjustments
    assert any(t.startswith("补收：2026-03 出账后补收：增值业务 ") and "订购 sub-1" in t for t in adjustments), adjustments
    en = statement_csv(build_statement(a, run.billed, catalog=CATALOG, language="en"))
    assert "Credit: rerate 2026-03: monthly fee Basic 39 39.00 → 35.00 CNY" in en
    assert "Debit: rated after the bill 2026-03: record v9 Domestic calls 1.50 CNY" in en
    b_zh = statement_csv(build_statement(b, run.billed, catalog=CATALOG, language="zh"))
    assert "减免：2026-03 重新计费：话单 p1 " in b_zh and "3.00 → 2.40 元" in b_zh


def test_a_reason_stored_as_an_english_sentence_is_shown_as_stored() -> None:
    legacy = AdjustmentEntry("adj_old", AdjustmentKind.CREDIT, A, 1000, "CNY",
                             "rerate 2026-03: monthly fee basic-39 39.00 → 29.00 CNY", ISSUED, "rerate", period=P,
                             rule_id="basic-39", old_amount_minor=3900, new_amount_minor=2900)
    run = run_bills(MARCH.head(0), CATALOG, ACCOUNTS[:1], period=NEXT, issued_at=ISSUED, run_id="r2", adjustments=[legacy])
    st = build_statement(run.bills[0], run.billed, catalog=CATALOG, language="zh")
    assert st.lines[-1].description == "减免：rerate 2026-03: monthly fee basic-39 39.00 → 29.00 CNY"
    assert decode_reason(legacy.reason) is None


def test_a_reason_cut_short_by_the_bill_line_is_not_read_wrong() -> None:
    reason = encode_reason("rerate-usage", "CNY", period=P, record="r" * 40, old="3.00", new="2.40", rule="x/" + "y" * 120,
                           old_rule="x/" + "z" * 120)
    assert len(reason) <= 190 and decode_reason(reason) is not None  # the optional rules give way, not the amounts
    assert decode_reason(reason[:-2]) is None  # cut inside the currency: not a reason any more
    assert decode_reason(encode_reason("late-usage", "CNY", period=P, record="a b=c", new="1.50")) == (
        "late-usage", {"period": P, "record": "a b=c", "new": "1.50", "currency": "CNY"})


def test_roaming_countries_sms_directions_and_data_read_in_the_statements_language() -> None:
    run = march()
    a = run.bill_for(A)
    assert a is not None
    zh = rows(statement_csv(build_statement(a, run.billed, catalog=CATALOG, language="zh")))
    by_record = {r[5] + r[11]: r for r in zh}
    texts = [r[11] for r in zh]
    assert any("漫游（中国香港）" in t for t in texts), texts
    assert any("漫游（未知国家或地区）" in t for t in texts), texts
    assert not any(t.endswith((" HK", " ZZ")) or "漫游 HK" in t for t in texts)
    sms = next(r for r in zh if r[0] == "短信")
    assert sms[3] == "发送"
    assert next(r for r in zh if r[0] == "通话")[3] == "主叫"
    data = [r for r in zh if r[0] == "上网"]
    assert {r[5] for r in data} == {"2.00 GiB", "5.00 MiB"} and any(r[8] == "2.00 GiB" for r in data), by_record
    en = rows(statement_csv(build_statement(a, run.billed, catalog=CATALOG, language="en")))
    assert next(r for r in en if r[0] == "SMS")[3] == "sent"
    assert any("roaming (Hong Kong)" in r[11] for r in en)
    # the amounts still add up to the bill, to the cent
    assert sum(Decimal(r[9]) for r in zh[1:-1]) == Decimal(zh[-1][9]) == Decimal(a.total_minor) / 100


def test_quantities_of_data_are_named_in_binary_units() -> None:
    assert format_quantity(2148532224, "byte", "zh") == "2.00 GiB"
    assert format_quantity(10 * GIB, "byte", "en") == "10.00 GiB"
    assert format_quantity(1536 * 1024, "byte", "en") == "1.50 MiB"
    assert format_quantity(2048, "byte", "en") == "2.00 KiB"
    assert format_quantity(999, "byte", "en") == "999 B"


def test_the_issue_time_is_on_the_operators_clock_in_the_statements_language() -> None:
    run = march()
    a = run.bill_for(A)
    assert a is not None
    zh = statement_html(build_statement(a, run.billed, catalog=CATALOG, language="zh"))
    en = statement_html(build_statement(a, run.billed, catalog=CATALOG, language="en"))
    assert "<th>出账时间</th><td>2026年4月1日 09:00</td>" in zh
    assert "<th>Issued</th><td>1 April 2026, 09:00</td>" in en
    assert "T01:00" not in zh + en and "+00:00" not in zh + en


def test_a_total_below_zero_reads_as_a_credit_balance() -> None:
    run = april()
    b = run.bill_for(B)
    assert b is not None and b.total_minor == -60
    zh = build_statement(b, run.billed, catalog=CATALOG, language="zh")
    csv_rows = rows(statement_csv(zh))
    assert csv_rows[-1][0] == "本期结余" and csv_rows[-1][9] == "-0.60"  # the row still sums the rows above it
    assert sum(Decimal(r[9]) for r in csv_rows[1:-1]) == Decimal("-0.60")
    html = statement_html(zh)
    assert "本期应付" not in html and "<tr><th>本期结余</th><td>0.60 元</td></tr>" in html
    en = statement_html(build_statement(b, run.billed, catalog=CATALOG, language="en"))
    assert "Total due" not in en and "<tr><th>Credit balance</th><td>0.60 CNY</td></tr>" in en
    a = run.bill_for(A)
    assert a is not None and a.total_minor > 0
    assert "<tr><th>本期应付</th>" in statement_html(build_statement(a, run.billed, catalog=CATALOG, language="zh"))


def test_usage_that_used_and_charged_nothing_is_itemised_but_not_a_bill_line() -> None:
    run = march()
    a = run.bill_for(A)
    assert a is not None
    usage = [(ln.rule_id, ln.quantity, ln.amount_minor, ln.allowance_id) for ln in a.lines if ln.kind is LineKind.VOICE]
    assert ("basic-39/voice-domestic", 0, 0, None) not in usage  # six calls of 0 seconds: nothing to bill
    assert ("roam/voice-roam-1", 60, 300, None) in usage
    data = [(ln.amount_minor, ln.allowance_id) for ln in a.lines if ln.kind is LineKind.DATA]
    assert (0, "basic-39/data") in data  # an allowance draw stays: it shows what the plan covered
    st = build_statement(a, run.billed, catalog=CATALOG, language="zh")
    assert sum(1 for ln in st.lines if ln.section == "voice" and ln.quantity == 0) == 6  # the statement lists every call
