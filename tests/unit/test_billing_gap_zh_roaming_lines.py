"""A roaming line of the statement says where the subscriber was and where the call or SMS went, never the bare
destination zone (国内 after a roaming charge reads "domestic", the opposite of why it costs money); the HTML
totals name CNY 元 for a Chinese reader, as the rest of the Chinese statement does."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl

from fairtel.billing import Account, build_statement, run_bills, statement_csv, statement_html
from fairtel.catalog import default_catalog_path, load_catalog

CN = timezone(timedelta(hours=8))
A = "8613800000001"
P = "2026-09"
CATALOG = load_catalog(default_catalog_path())
ISSUED = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)
ACCOUNTS = [Account(A, "basic-39", datetime(2025, 1, 1, tzinfo=CN))]


def _line(rid: str, kind: str, direction: str | None, rule: str, zone: str | None, amount: int, **kw: Any) -> dict[str, Any]:
    unit = {"voice": "second", "sms": "message", "data": "byte"}[kind]
    return {"record_id": rid, "source": "sw", "line": 0, "msisdn": A, "period": P,
            "started_at": datetime(2026, 9, 18, 12, tzinfo=CN).astimezone(UTC), "kind": kind, "direction": direction,
            "roaming_country": "HK", "plan_id": "basic-39", "rule_id": rule, "zone": zone, "quantity": 59, "unit": unit,
            "allowance_id": None, "allowance_used": None, "amount_minor": amount, "currency": "CNY", "verdict": None,
            "subscription_id": None} | kw


RATED = pl.DataFrame([
    _line("v-out", "voice", "out", "roam/voice-roam-1", "domestic", 99),
    _line("v-in", "voice", "in", "roam/voice-roam-1", "domestic", 99),
    _line("v-hk", "voice", "out", "roam/voice-roam-1", "intl-1", 99),
    _line("s-out", "sms", "out", "roam/sms-roam-1", "domestic", 39, quantity=1),
    _line("s-in", "sms", "in", "roam/sms-in", "domestic", 0, quantity=1),
    _line("d", "data", None, "roam/data-roam-1", None, 100, quantity=1024**2),
    _line("home", "voice", "out", "basic-39/voice-domestic", "domestic", 0, roaming_country=None, quantity=60),
], schema_overrides={"roaming_country": pl.String(), "allowance_id": pl.String(), "allowance_used": pl.Int64(),
                     "verdict": pl.String(), "subscription_id": pl.String(), "direction": pl.String(),
                     "zone": pl.String()}, infer_schema_length=None)


def _texts(language: str) -> dict[str, str]:
    run = run_bills(RATED, CATALOG, ACCOUNTS, period=P, issued_at=ISSUED, run_id="r1")
    bill = run.bill_for(A)
    assert bill is not None
    st = build_statement(bill, run.billed, catalog=CATALOG, language=language)
    rows = list(csv.reader(io.StringIO(statement_csv(st))))[1:]
    html = statement_html(st)
    by = {}
    for line, row in zip(st.lines, rows, strict=False):
        by[f"{line.kind}/{line.direction}/{line.rule_id}/{row[11]}"] = row[11]
        assert row[11] == line.description and line.description in html  # CSV and HTML say the same
    return by


def test_a_roaming_call_says_where_it_went_and_never_the_bare_zone_zh() -> None:
    texts = list(_texts("zh").values())
    assert "港澳台漫游通话 · 漫游（中国香港） · 拨打内地号码" in texts, texts
    assert "港澳台漫游通话 · 漫游（中国香港） · 接听" in texts, texts
    assert "港澳台漫游通话 · 漫游（中国香港） · 拨打港澳台号码" in texts, texts
    assert "港澳台漫游短信 · 漫游（中国香港） · 发往内地号码" in texts, texts
    assert "漫游接收短信免费 · 漫游（中国香港）" in texts, texts
    assert "港澳台漫游流量 · 漫游（中国香港）" in texts, texts
    assert not any("· 国内" in t for t in texts if "漫游" in t), texts


def test_a_roaming_call_says_where_it_went_en() -> None:
    texts = list(_texts("en").values())
    assert "Roaming calls in Hong Kong, Macao, Taiwan · roaming (Hong Kong) · to mainland numbers" in texts, texts
    assert "Roaming calls in Hong Kong, Macao, Taiwan · roaming (Hong Kong) · answered" in texts, texts
    assert "Roaming SMS in Hong Kong, Macao, Taiwan · roaming (Hong Kong) · to mainland numbers" in texts, texts
    assert not any("Domestic" in t for t in texts if "oaming" in t), texts


def test_html_totals_name_yuan_in_zh_and_the_code_in_en() -> None:
    run = run_bills(RATED, CATALOG, ACCOUNTS, period=P, issued_at=ISSUED, run_id="r1")
    bill = run.bill_for(A)
    assert bill is not None
    zh = statement_html(build_statement(bill, run.billed, catalog=CATALOG, language="zh"))
    en = statement_html(build_statement(bill, run.billed, catalog=CATALOG, language="en"))
    totals_zh = zh[zh.index('<table class="totals">'):]
    totals_en = en[en.index('<table class="totals">'):]
    assert "CNY" not in totals_zh and "<th>本期应付</th><td>" in totals_zh and " 元</td>" in totals_zh, totals_zh
    assert " CNY</td>" in totals_en and "元" not in totals_en, totals_en
