"""The console's and the API's "why this charge" (``api._explain.explain_line``) in the statement's words: a message
is sent or received (发送/接收), not 主叫/被叫; amounts in yuan read ``0.72 元`` in Chinese; Chinese puts a space where
a letter or digit meets a Chinese character (docs/rating.md "Words"); an incoming call comes *from* its zone.

Before: "主叫短信1条", "按规则RP_1001/DR_1002_20CNT，以RT_20CNT对2分10秒计费 0.72 CNY", "incoming call to zone …"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fairtel.api._explain import explain_line
from fairtel.catalog import default_catalog_path, load_catalog

CATALOG = load_catalog(default_catalog_path())


def _row(**kw: Any) -> dict[str, Any]:
    base = {"record_id": "w1", "line": 0, "started_at": datetime(2026, 10, 3, 12, tzinfo=UTC), "direction": "out",
            "zone": "domestic", "band": None, "roaming_country": None, "allowance_id": None, "allowance_used": 0,
            "capped": False, "throttled": False, "currency": "CNY"}
    return {**base, **kw}


def test_a_message_is_sent_or_received_with_its_count_spaced() -> None:
    sent = explain_line(_row(kind="sms", quantity=1, unit="message", charged_quantity=1, amount_minor=10,
                             rule_id="payg/sms-domestic", rate_id="sms-dom-010"), CATALOG)
    assert sent["zh"].startswith("发送短信 1 条") and "主叫" not in sent["zh"]
    assert sent["en"].startswith("SMS sent to zone")
    assert "0.10 元" in sent["zh"] and "CNY" not in sent["zh"]
    received = explain_line(_row(kind="sms", direction="in", quantity=1, unit="message", charged_quantity=0, amount_minor=0,
                                 rule_id="payg/sms-in", rate_id=None), CATALOG)
    assert received["zh"].startswith("接收短信 1 条") and "被叫" not in received["zh"]
    assert received["en"].startswith("SMS received from zone")


def test_a_call_in_chinese_spaces_ids_and_numbers_and_an_incoming_one_comes_from_its_zone() -> None:
    call = explain_line(_row(kind="voice", quantity=185, unit="second", charged_quantity=185, amount_minor=450,
                             rule_id="intl/voice-intl-1", rate_id="voice-intl-1", zone="intl-1"), CATALOG)
    zh = call["zh"]
    assert zh.startswith("主叫通话 3 分 05 秒") and "计费 4.50 元。" in zh and "按规则“港澳台长途”（intl/voice-intl-1）" in zh
    assert "对 3 分 05 秒计费" in zh and "CNY" not in zh
    incoming = explain_line(_row(kind="voice", direction="in", quantity=60, unit="second", charged_quantity=0,
                                 amount_minor=0, rule_id="payg/voice-in", rate_id=None), CATALOG)
    assert "incoming call from zone" in incoming["en"] and " to zone" not in incoming["en"]
