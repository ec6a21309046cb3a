"""The roaming welcome SMS prices answering a call too when the roaming zone charges it (from the catalog)."""

from __future__ import annotations

from decimal import Decimal

from fairtel.assurance._roaming import welcome_prices, welcome_text
from fairtel.catalog import Catalog, load_catalog
from fairtel.catalog._load import default_catalog_path, parse_catalog


def _default() -> Catalog:
    return load_catalog(default_catalog_path())


def test_answered_calls_priced_like_made_ones_are_said_once_for_both() -> None:
    prices = welcome_prices(_default(), "basic-39", "HK")
    assert prices is not None and prices.voice == prices.voice_in == Decimal("0.99") and prices.sms_in == 0
    zh = welcome_text(prices, language="zh", sender="示范电信")
    en = welcome_text(prices, language="en", sender="Demo Telecom")
    assert "拨打及接听电话0.99元/分钟" in zh and "发短信0.39元/条（接收免费）" in zh, zh
    assert "Calls made and answered 0.99 CNY/min" in en and "SMS sent 0.39 CNY/SMS (received free)" in en, en


def test_answered_calls_priced_apart_are_listed_apart() -> None:
    text = default_catalog_path().read_text(encoding="utf-8")
    # answering in roam-1 priced by the roam-2 rate (1.99/min), ahead of the rule for both directions
    extra = ('[[rule_sets.rules]]\nid = "roam/voice-in-roam-1"\nkind = "voice"\ndirections = "in"\n'
             'roaming_zones = ["roam-1"]\nrate = "voice-roam-2"\n\n')
    anchor = '[[rule_sets.rules]]\nid = "roam/voice-roam-1"'
    assert anchor in text
    catalog, problems = parse_catalog(text.replace(anchor, extra + anchor, 1))
    assert catalog is not None, problems
    prices = welcome_prices(catalog, "basic-39", "HK")
    assert prices is not None and (prices.voice, prices.voice_in) == (Decimal("0.99"), Decimal("1.99"))
    zh = welcome_text(prices, language="zh", sender="示范电信")
    en = welcome_text(prices, language="en", sender="Demo Telecom")
    assert "拨打电话0.99元/分钟，接听电话1.99元/分钟" in zh, zh
    assert "Calls made 0.99 CNY/min, calls answered 1.99 CNY/min" in en, en


def test_free_answering_is_said_free() -> None:
    text = default_catalog_path().read_text(encoding="utf-8")
    extra = ('[[rule_sets.rules]]\nid = "roam/voice-in-roam-1"\nkind = "voice"\ndirections = "in"\n'
             'roaming_zones = ["roam-1"]\nfree = true\n\n')
    anchor = '[[rule_sets.rules]]\nid = "roam/voice-roam-1"'
    catalog, problems = parse_catalog(text.replace(anchor, extra + anchor, 1))
    assert catalog is not None, problems
    prices = welcome_prices(catalog, "basic-39", "HK")
    assert prices is not None
    assert "拨打电话0.99元/分钟（接听电话免费）" in welcome_text(prices, language="zh", sender="示范电信")
    assert "Calls made 0.99 CNY/min (calls answered free)" in welcome_text(prices, language="en", sender="x")
