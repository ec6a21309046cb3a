"""Slot extraction for the conversation layer: month, mobile number, country, offer."""

from __future__ import annotations

from datetime import date

import pytest

from fairtel.care import extract_countries, extract_country, extract_month, extract_msisdn, extract_offer

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("上个月话费多少", "2026-10"),
        ("上月账单", "2026-10"),
        ("上上个月的账单", "2026-09"),
        ("这个月流量还剩多少", "2026-11"),
        ("本月话费", "2026-11"),
        ("10月的账单", "2026-10"),
        ("十二月话费", "2025-12"),  # a month not yet come this year is last year's
        ("1月份扣了什么", "2026-01"),
        ("2026年3月的账单", "2026-03"),
        ("去年12月的话费", "2025-12"),
        ("三个月前的账单", "2026-08"),
        ("last month's bill", "2026-10"),
        ("bill for the month before last", "2026-09"),
        ("two months ago", "2026-09"),
        ("October 2026", "2026-10"),
        ("my bill in Oct", "2026-10"),
        ("December", "2025-12"),
        ("last november", "2025-11"),
        ("this january", "2026-01"),
        ("bill for May", "2026-05"),
        ("2026-09 statement", "2026-09"),
        ("10/2026", "2026-10"),
        ("ＯＣＴＯＢＥＲ　２０２５", "2025-10"),
        ("上一个月的账单", "2026-10"),
        ("下一个月的套餐", "2026-12"),
        ("2026.9的账单", "2026-09"),
    ],
)
def test_month(text: str, month: str) -> None:
    assert extract_month(text, today=TODAY) == month


@pytest.mark.parametrize("text", ["查一下账单", "最近三个月的话费", "may I see my bill", "包月业务", "how much data",
                                  "扣了1234.5元", "2026.5元是什么钱", "查一下一个月的流量"])
def test_no_month(text: str) -> None:
    assert extract_month(text, today=TODAY) is None


def test_month_across_a_year_boundary() -> None:
    assert extract_month("上个月", today=date(2027, 1, 3)) == "2026-12"
    assert extract_month("last month", today=date(2027, 1, 3)) == "2026-12"


@pytest.mark.parametrize(
    ("text", "msisdn"),
    [
        ("我的号码13800138000", "8613800138000"),
        ("查下8613912345678的账单", "8613912345678"),
        ("+86 138 0013 8000", "8613800138000"),
        ("number 138-0013-8000 please", "8613800138000"),
        ("１３８００１３８０００", "8613800138000"),
    ],
)
def test_msisdn(text: str, msisdn: str) -> None:
    assert extract_msisdn(text) == msisdn


@pytest.mark.parametrize("text", ["call 10086", "1380013800012", "12345678901", "订单号 2026112500001"])
def test_no_msisdn(text: str) -> None:
    assert extract_msisdn(text) is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("去日本漫游多少钱", "JP"),
        ("在澳门打电话", "MO"),
        ("澳洲流量包", "AU"),
        ("去印度尼西亚", "ID"),
        ("roaming in the US", "US"),
        ("calling from South Korea", "KR"),
        ("data in Hong Kong", "HK"),
        ("trip to the UK", "GB"),
        ("迪拜漫游", "AE"),
    ],
)
def test_country(text: str, code: str) -> None:
    assert extract_country(text) == code


def test_country_not_guessed_from_words() -> None:
    assert extract_country("please call us back") is None
    assert extract_country("what plan suits me") is None
    assert extract_countries("韩国和日本，then the UK") == ["KR", "JP", "GB"]


@pytest.mark.parametrize(
    ("text", "offer"),
    [
        ("退订vas-music-10", "vas-music-10"),
        ("取消星座运势", "vas-horoscope-6"),
        ("cancel the horoscope thing", "vas-horoscope-6"),
        ("what is sp-pixelart charging me for", "vas-wallpaper-3"),
        ("把视频包月退了", "vas-video-15"),
    ],
)
def test_offer(text: str, offer: str) -> None:
    assert extract_offer(text) == offer


def test_offer_with_catalog_aliases() -> None:
    aliases = {"vas-karaoke-9": ("卡拉ok", "karaoke")}
    assert extract_offer("cancel karaoke", aliases) == "vas-karaoke-9"
    assert extract_offer("cancel the music pack", aliases) is None
    assert extract_offer("nothing to see here") is None
