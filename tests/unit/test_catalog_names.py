"""Names of rules and allowances: optional, bilingual, validated like every other name, and what a Chinese
statement or the assistant shows instead of billing's English text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from fairtel.billing import Bill, BillLine, LineKind, build_statement, line_text, statement_csv
from fairtel.care import bill_item_text
from fairtel.catalog import Catalog, Name, default_catalog_path, load_catalog, parse_catalog

CATALOG = load_catalog(default_catalog_path())

TEXT = """
[operator]
id = "t"
name = { zh = "测试", en = "Test" }
currency = "CNY"
timezone = "Asia/Shanghai"

[[zones]]
id = "domestic"
name = { zh = "国内", en = "Domestic" }
prefixes = ["86"]

[[rates]]
id = "voice"
unit = "second"
steps = [{ rate = "0.15", rate_unit = "60s", increment = "60s" }]

[[plans]]
id = "p"
name = { zh = "套餐", en = "Plan" }
monthly_fee = "10.00"

[[plans.allowances]]
id = "p/voice"
NAME_A
kind = "voice"
quantity = "100min"

[[plans.rules]]
id = "p/voice-dom"
NAME_R
kind = "voice"
rate = "voice"
"""


def _catalog(rule_name: str, allowance_name: str = "") -> tuple[Catalog | None, list[tuple[int | None, str | None, str]]]:
    text = TEXT.replace("NAME_R", rule_name).replace("NAME_A", allowance_name)
    catalog, problems = parse_catalog(text, file="names.toml")
    return catalog, [(p.line, p.field, p.code) for p in problems]


def test_every_rule_and_allowance_of_the_default_catalog_has_both_names() -> None:
    rules = [r for p in CATALOG.plans for r in p.rules]
    allowances = [a for p in CATALOG.plans for a in p.allowances]
    assert rules and allowances
    items: list[Any] = [*rules, *allowances, *CATALOG.rates, *CATALOG.zones]
    for item in items:
        assert isinstance(item.name, Name) and item.name.zh and item.name.en, item.id
        assert item.name.zh != item.name.en, item.id
    assert CATALOG.name_of("rule", "basic-39/voice-domestic") == Name("国内主叫", "Domestic calls")
    assert CATALOG.allowance("basic-39/voice").name == Name("套餐内国内主叫 300 分钟", "Domestic calls included, 300 min")
    assert CATALOG.name_of("rule", "no-such-rule") is None and CATALOG.name_of("zone", None) is None


def test_names_are_optional_and_loaded() -> None:
    catalog, problems = _catalog("", "")
    assert problems == [] and catalog is not None
    assert catalog.rule("p/voice-dom").name is None
    catalog, problems = _catalog('name = { zh = "国内主叫", en = "Domestic calls" }', 'name = { zh = "通话额度", en = "Minutes" }')
    assert problems == [] and catalog is not None
    assert catalog.rule("p/voice-dom").name == Name("国内主叫", "Domestic calls")
    assert catalog.allowance("p/voice").name == Name("通话额度", "Minutes")


def test_a_bad_name_is_reported_with_its_line_and_field() -> None:
    catalog, problems = _catalog('name = { zh = "国内主叫" }', "name = 3")
    assert catalog is None
    text = TEXT.replace("NAME_R", 'name = { zh = "国内主叫" }').replace("NAME_A", "name = 3").splitlines()
    rule_line = text.index('name = { zh = "国内主叫" }') + 1
    allowance_line = text.index("name = 3") + 1
    fields = {(line, field) for line, field, _code in problems}
    assert (rule_line, "plans[0].rules[0].name.en") in fields
    assert (allowance_line, "plans[0].allowances[0].name") in fields
    assert len(problems) == 2


def _bill() -> Bill:
    lines = (
        BillLine(1, LineKind.PLAN_FEE, "Monthly fee basic-39, 15 of 31 days", 1887, "CNY", rule_id="basic-39", quantity=15, unit="day"),
        BillLine(2, LineKind.VOICE, "voice basic-39/voice-domestic (allowance basic-39/voice)", 0, "CNY",
                 rule_id="basic-39/voice-domestic", quantity=185, unit="second", allowance_id="basic-39/voice"),
        BillLine(3, LineKind.VOICE, "voice intl/voice-intl-1", 450, "CNY", rule_id="intl/voice-intl-1", quantity=125, unit="second"),
        BillLine(4, LineKind.VAS, "VAS vas-music-10", 1000, "CNY", rule_id="offer/vas-music-10", quantity=1, unit="item"),
    )
    return Bill("bill_x", "8613800138000", "2026-10", "basic-39", "CNY", datetime(2026, 11, 1, tzinfo=UTC), "run", lines, 3337, 0, 0)


def test_bill_lines_are_named_in_the_readers_language() -> None:
    bill = _bill()
    zh = [line_text(b.kind, rule_id=b.rule_id, description=b.description, catalog=CATALOG, language="zh") for b in bill.lines]
    assert zh == ["套餐月费 · 基础套餐 39 元（15/31 天）", "国内主叫（套餐内国内主叫 300 分钟）", "港澳台长途", "畅听音乐包 (sp-melody)"]
    en = [line_text(b.kind, rule_id=b.rule_id, description=b.description, catalog=CATALOG, language="en") for b in bill.lines]
    assert en[1] == "Domestic calls (allowance: Domestic calls included, 300 min)" and en[2] == "Calls to Hong Kong, Macao and Taiwan"
    item = bill_item_text("voice", rule_id="intl/voice-intl-1", description="voice intl/voice-intl-1", catalog=CATALOG)
    assert (item.zh, item.en) == ("港澳台长途", "Calls to Hong Kong, Macao and Taiwan")


def test_the_chinese_statement_names_rules_zones_and_allowances_in_chinese() -> None:
    bill = _bill()
    started = [datetime(2026, 10, 3, 12, tzinfo=UTC), datetime(2026, 10, 5, 2, 30, tzinfo=UTC), datetime(2026, 10, 7, tzinfo=UTC)]
    billed = pl.DataFrame({
        "bill_id": ["bill_x"] * 3, "source": ["switch"] * 3, "record_id": ["r-0", "r-1", "r-3"], "line": [0, 0, 0],
        "started_at": started, "kind": ["voice", "voice", "vas"], "direction": ["out", "out", None],
        "zone": ["domestic", "intl-1", None], "roaming_country": [None, None, None],
        "quantity": [185, 125, 1], "unit": ["second", "second", "item"],
        "rule_id": ["basic-39/voice-domestic", "intl/voice-intl-1", "offer/vas-music-10"],
        "allowance_id": ["basic-39/voice", None, None], "allowance_used": [240, None, None], "amount_minor": [0, 450, 1000],
    })
    rows = statement_csv(build_statement(bill, billed, catalog=CATALOG, language="zh")).splitlines()
    body = "\n".join(rows[1:-1])
    assert "国内主叫" in body and "港澳台长途" in body and "套餐内国内主叫 300 分钟" in body and "畅听音乐包" in body
    assert "15/31 天" in body
    for english in ("Domestic", "Hong Kong", "Monthly fee", "allowance", "Music pack"):
        assert english not in body, english
