"""The regulator's complaint categories fairtel lacked: international roaming (国际漫游) and malicious charging
(恶意扣费, fee-stealing apps), told apart from unexplained charges (不明扣费, a charge the subscriber does not
recognise) in Chinese and English words; their labels; the codes stored before them still read."""

from __future__ import annotations

import pytest

from fairtel.care import ComplaintCategory, classify_complaint, parse_category
from fairtel.care._complaints import CATEGORY_LABELS, DEFAULT_SLA, category_label

ROAMING = [
    "在国外用了几天流量扣了我800块",
    "出国旅游回来账单多了300元漫游费",
    "去境外出差，手机流量费贵得离谱",
    "I was charged 800 yuan for data while abroad",
    "Huge roaming bill after my trip to Japan",
]
MALICIOUS = [
    "手机装了个软件后台偷偷发扣费短信",
    "中了吸费木马，每天都在扣钱",
    "这个游戏app自己订购了业务，恶意扣费",
    "A game app secretly subscribed me to premium SMS services",
    "Malware on my phone keeps charging me",
]
UNEXPLAINED = [
    "莫名其妙订了个什么音乐包每月扣10元",
    "扣了我6元不知道什么业务",
    "我从来没有订过这个会员，为什么扣费",
    "I never subscribed to this music package but I am charged 10 yuan a month",
    "There is an unknown charge of 6 yuan on my bill",
]


@pytest.mark.parametrize("text", ROAMING)
def test_charges_abroad_are_roaming(text: str) -> None:
    assert classify_complaint(text) == "roaming"


@pytest.mark.parametrize("text", MALICIOUS)
def test_charges_a_malicious_app_made_are_malicious_charging(text: str) -> None:
    assert classify_complaint(text) == "malicious_charge"


@pytest.mark.parametrize("text", UNEXPLAINED)
def test_a_charge_not_recognised_is_an_unexplained_charge_not_a_malicious_one(text: str) -> None:
    """不明扣费: the subscriber does not know the package or the charge; no app is said to have made it."""
    assert classify_complaint(text) is ComplaintCategory.UNEXPLAINED_CHARGE


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("在国外接到诈骗电话被骗钱", "fraud"),  # fraud abroad is fraud
        ("网速太慢，老掉线", "network_quality"),
        ("套餐太贵了", "price"),
        ("账单不对，重复收费了", "billing_error"),
        ("客服态度很差", "service_attitude"),
        ("你好", "other"),
    ],
)
def test_the_other_categories_are_kept(text: str, category: str) -> None:
    assert classify_complaint(text) == category


def test_the_new_codes_are_categories_and_parse() -> None:
    assert {"roaming", "malicious_charge"} <= {c.value for c in ComplaintCategory}
    assert parse_category("Roaming") == "roaming"  # the code; the synthetic files' alias says the same
    assert parse_category("malicious_charge") == "malicious_charge"
    assert parse_category("vas") is ComplaintCategory.UNEXPLAINED_CHARGE


def test_every_category_has_its_regulator_label_in_both_languages() -> None:
    assert {c.value for c in ComplaintCategory} <= set(CATEGORY_LABELS)
    assert category_label("unexplained_charge", "zh") == "不明扣费"
    assert (category_label("malicious_charge", "zh"), category_label("malicious_charge", "en")) == (
        "恶意扣费",
        "malicious charging",
    )
    assert (category_label("roaming", "zh"), category_label("roaming", "en")) == ("国际漫游", "international roaming")
    assert category_label("retired_code", "en") == "retired_code"  # a stored code no category has is shown as it is


def test_malicious_charging_is_answered_as_fast_as_an_unexplained_charge() -> None:
    assert DEFAULT_SLA.acknowledge_hours("malicious_charge") == DEFAULT_SLA.acknowledge_hours("unexplained_charge") == 4
    assert DEFAULT_SLA.resolve_hours("roaming") == DEFAULT_SLA.resolve_hours("billing_error") == 48
