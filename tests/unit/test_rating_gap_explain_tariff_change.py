"""``explain`` of a record billed under a tariff since replaced says so only when what priced the record changed (its
rule, the rule's rate, the allowances it may draw on), and what changed: it said "此后资费已调整" of every record after
any catalog change, a plan's fee or another plan's rate included. Amounts before the line's rounding are shown at the
rate's decimals (a data line showed ``82.16796875 元``), the rounding named once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl

from fairtel.catalog import Catalog, default_catalog_path, load_catalog, parse_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.rating import explain, rate

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
WAS = load_catalog(default_catalog_path())
TEXT = default_catalog_path().read_text(encoding="utf-8")


def _now(*edits: tuple[str, str]) -> Catalog:
    text = TEXT
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    cat, problems = parse_catalog(text)
    assert cat is not None, problems
    return cat


def _rec(rid: str, msisdn: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "s", "msisdn": msisdn, "parts": 1, "incomplete": False} | kw


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC)


USAGE = pl.DataFrame([
    _rec("v1", A, kind="voice", direction="out", started_at=_at(3, 10), duration_s=125, peer="8613912345678"),
    _rec("s1", A, kind="sms", direction="out", started_at=_at(3, 11), peer="8613912345678"),
    _rec("b1", B, kind="voice", direction="out", started_at=_at(3, 10), duration_s=125, peer="8613912345678"),
    _rec("d1", A, kind="data", started_at=_at(10, 10), bytes_down=5 * 1024 * 1024 + 1, roaming_country="JP"),
], schema=pl.Schema(CLEAN_USAGE_SCHEMA))
RATED = rate(USAGE, WAS, {A: "payg", B: "basic-39"}, period="2026-03").rated


def _text(rid: str, language: str, now: Catalog) -> str:
    return explain(rid, rated=RATED, catalog=WAS, usage=USAGE, earlier_tariff=True, current=now).render(language)


# the basic plan's fee and the pay-as-you-go peak rate changed; nothing else
RAISED = _now(('monthly_fee = "39.00"', 'monthly_fee = "49.00"'),
              ('steps = [{ rate = "0.19", rate_unit = "60s", increment = "60s" }]',
               'steps = [{ rate = "0.25", rate_unit = "60s", increment = "60s" }]'))


def test_a_record_whose_price_did_not_change_says_nothing_of_the_change() -> None:
    for rid in ("s1", "b1"):  # the SMS rule is untouched; the basic plan's fee is not a call's price
        zh, en = _text(rid, "zh", RAISED), _text(rid, "en", RAISED)
        assert "\n资费：" not in zh and "此后" not in zh, zh
        assert "\nTariff:" not in en and "since" not in en, en


def test_a_record_whose_rate_changed_says_what_changed() -> None:
    zh, en = _text("v1", "zh", RAISED), _text("v1", "en", RAISED)
    assert "此后本话单适用的资费已调整" in zh and "0.19 元/分钟" in zh and "调整为 0.25 元/分钟" in zh, zh
    assert "what priced this record has changed since" in en and "from 0.19 CNY/min to 0.25 CNY/min" in en, en


def test_an_allowance_it_may_draw_on_now_is_named() -> None:
    now = _now(('id = "basic-39/voice"\nname = { zh = "套餐内国内主叫 300 分钟", en = "Domestic calls included, 300 min" }\n'
                'kind = "voice"\nquantity = "300min"',
                'id = "basic-39/voice"\nname = { zh = "套餐内国内主叫 300 分钟", en = "Domestic calls included, 300 min" }\n'
                'kind = "voice"\nquantity = "500min"'))
    zh, en = _text("b1", "zh", now), _text("b1", "en", now)
    assert "套餐内额度“套餐内国内主叫 300 分钟”现为 500 分钟" in zh, zh
    assert "is now 500 min" in en, en
    assert "\n资费：" not in _text("v1", "zh", now)  # the pay-as-you-go call draws on no allowance


def test_data_amounts_are_shown_at_the_rates_decimals_and_rounded_once() -> None:
    e = explain("d1", rated=RATED, catalog=WAS, usage=USAGE)
    zh, en = e.render("zh"), e.render("en")
    for text, cur in ((zh, "元"), (en, "CNY")):
        assert not re.search(rf"\d+\.\d{{3,}} {cur}", text), text  # 10.01953125 元 before
        assert "≈ 10.02" in text, text
    assert zh.count("向上取整") == 1 and en.count("rounded up") == 1


def test_a_rerated_record_shows_the_correction_why_and_the_bill_carrying_it() -> None:
    from fairtel.rating._explain import Correction

    # billed while the basic plan's minutes covered off-peak calls only; the tariff now covers every call with them
    peak_only = _now(('quantity = "300min"\ndirections = "out"\nzones = ["domestic"]',
                      'quantity = "300min"\ndirections = "out"\nzones = ["domestic"]\nbands = ["offpeak"]'))
    billed = rate(USAGE, peak_only, {A: "payg", B: "basic-39"}, period="2026-03").rated
    again = rate(USAGE, WAS, {A: "payg", B: "basic-39"}, period="2026-03").rated
    old = int(billed.filter(pl.col("record_id") == "b1")["amount_minor"].sum())
    assert old == 45 and int(again.filter(pl.col("record_id") == "b1")["amount_minor"].sum()) == 0
    fix = Correction("adj1", -old, datetime(2026, 4, 2, tzinfo=UTC), old, 0, carried_in="2026-04")
    e = explain("b1", rated=billed, catalog=peak_only, usage=USAGE, corrections=[fix], earlier_tariff=True, current=WAS,
                repriced=again)
    zh, en = e.render("zh"), e.render("en")
    # the bill's pricing first: 3 minutes at 0.15
    assert zh.index("× 0.15 元/分钟") < zh.index("更正：")
    correction = next(x for x in zh.splitlines() if x.startswith("更正："))
    assert "0.45 元改为 0.00 元（现由套餐内额度“套餐内国内主叫 300 分钟”抵扣）" in correction, correction
    assert "已在 2026-04 账单中抵扣 0.45 元" in correction, correction
    # then the pricing now: the minutes drawn from the allowance
    after = zh[zh.index("重新计费后的计价："):]
    assert "由套餐内额度“套餐内国内主叫 300 分钟”抵扣 3 分钟" in after, after
    line = next(x for x in en.splitlines() if x.startswith("Correction"))
    assert "0.45 CNY → 0.00 CNY (now drawn from the allowance “Domestic calls included, 300 min”)" in line, line
    assert "credited on the 2026-04 bill" in line, line
    assert "As priced again:" in en


def test_a_message_is_sent_not_called() -> None:
    zh, en = explain("s1", rated=RATED, catalog=WAS, usage=USAGE).render("zh"), explain(
        "s1", rated=RATED, catalog=WAS, usage=USAGE).render("en")
    assert "用量：发送，" in zh and "主叫" not in zh, zh
    assert "Usage: sent," in en, en
