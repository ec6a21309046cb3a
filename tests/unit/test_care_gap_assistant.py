"""The assistant keeps the conversation's language through a short English token ("OK" in a Chinese
conversation) and quotes the complaint deadline of the policy it was given, for the complaint's category.
A keyword classifier stands in for the intent model, so nothing is trained."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fairtel.care import (
    DEFAULT_SLA,
    DEMO_OFFER_ALIASES,
    AdviceFacts,
    AllowanceLeft,
    Assistant,
    BillFacts,
    ChargeFacts,
    ComplaintRequest,
    IntentPrediction,
    LineFacts,
    LoyaltyFacts,
    Reply,
    RoamingFacts,
    SlaPolicy,
    SubscriptionFacts,
    Text,
    TicketRequest,
    detect_language,
)
from fairtel.core.money import Money

TZ = ZoneInfo("Asia/Shanghai")
ZH_LINE, EN_LINE = "8613800138000", "8613900139000"
NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)
_KEYWORDS = (("扣费", "complaint"), ("信号", "complaint"), ("退订", "vas_cancel"), ("cancel", "vas_cancel"),
             ("bill", "bill_inquiry"), ("账单", "bill_inquiry"), ("complain", "complaint"))


def classify(text: str) -> IntentPrediction:
    for word, label in _KEYWORDS:
        if word in text.lower():
            return IntentPrediction(label, 0.99, detect_language(text), False)
    return IntentPrediction("out_of_scope", 0.4, detect_language(text), True)


@dataclass
class Records:
    """A CareData over one Chinese-speaking and one English-speaking subscriber."""

    subs: list[SubscriptionFacts] = field(default_factory=lambda: [SubscriptionFacts(
        "sub-7", "vas-horoscope-6", Text("星座运势", "Horoscope"), "sp-x", Money.of("6.00", "CNY"), "monthly",
        "confirmed", confirmed_at=datetime(2026, 8, 3, 9, 0, tzinfo=TZ))])
    complaints: list[ComplaintRequest] = field(default_factory=list)

    def now(self) -> datetime:
        return NOW

    def line(self, msisdn: str) -> LineFacts | None:
        language = {ZH_LINE: "zh", EN_LINE: "en"}.get(msisdn)
        if language is None:
            return None
        return LineFacts(msisdn, f"c-{msisdn}", "basic-39", Text("基础套餐 39 元", "Basic 39"), "active", language, (msisdn,))

    def bill(self, msisdn: str, period: str) -> BillFacts | None:
        return None

    def charges(self, msisdn: str, period: str) -> list[ChargeFacts]:
        return []

    def explain_charge(self, msisdn: str, record_id: str, language: str) -> ChargeFacts | None:
        return None

    def allowances(self, msisdn: str, period: str) -> list[AllowanceLeft]:
        return []

    def loyalty(self, msisdn: str) -> LoyaltyFacts:
        return LoyaltyFacts(msisdn, 0, ())

    def redeem_points(self, msisdn: str, points: int, reason: str) -> LoyaltyFacts:
        raise AssertionError("not used")

    def roaming(self, msisdn: str, country: str) -> RoamingFacts | None:
        return None

    def subscriptions(self, msisdn: str) -> list[SubscriptionFacts]:
        return list(self.subs)

    def cancel_subscription(self, msisdn: str, subscription_id: str) -> SubscriptionFacts:
        self.subs = [replace(s, state="cancelled") for s in self.subs]
        return self.subs[0]

    def open_ticket(self, msisdn: str, ticket: TicketRequest) -> str:
        return "tkt-1"

    def record_complaint(self, msisdn: str, complaint: ComplaintRequest) -> str:
        self.complaints.append(complaint)
        return f"cmp-{len(self.complaints)}"

    def hand_off(self, msisdn: str, reason: str, conversation_id: str) -> str:
        return "handoff-1"

    def plan_advice(self, msisdn: str) -> AdviceFacts | None:
        return None

    def offer_aliases(self) -> Mapping[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in DEMO_OFFER_ALIASES.items()}


def talk(messages: list[str], msisdn: str | None = ZH_LINE, *, sla: SlaPolicy = DEFAULT_SLA,
         data: Records | None = None) -> list[Reply]:
    a = Assistant(classify, data or Records(), sla=sla)
    conv = a.start(msisdn)
    return [a.say(conv, m) for m in messages]


def has_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# -- language ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("token", ["OK", "ok", "OK!", "okay", "yes", "Y"])
def test_ok_confirms_in_chinese_in_a_chinese_conversation(token: str) -> None:
    data = Records()
    ask, done = talk(["我想退订星座", token], data=data)
    assert ask.language == "zh" and ask.waiting_for == "confirm"
    assert done.action == "subscription_cancelled" and done.language == "zh" and has_han(done.text)


@pytest.mark.parametrize("token", ["OK", "hello", "thanks", "VIP", "iPhone 15", "ok thanks", "5G"])
def test_a_short_english_token_keeps_a_chinese_conversation_chinese(token: str) -> None:
    first, reply = talk(["你好", token])
    assert first.language == "zh"
    assert reply.language == "zh" and has_han(reply.text)


@pytest.mark.parametrize("message", ["what is my bill for September?", "cancel my horoscope", "I want to complain"])
def test_a_clearly_english_message_switches_to_english_and_chinese_switches_back(message: str) -> None:
    zh, en, back = talk(["你好", message, "我想退订星座"])
    assert zh.language == "zh"
    assert en.language == "en" and not has_han(en.text)
    assert back.language == "zh"


def test_the_registered_language_holds_for_a_token_and_an_unknown_one_is_read_from_the_message() -> None:
    (ok,) = talk(["OK"], EN_LINE)
    assert ok.language == "en"
    (ok,) = talk(["OK"], ZH_LINE)
    assert ok.language == "zh" and has_han(ok.text)
    # nothing known of the speaker yet: the first message decides, then a token keeps it
    hello, ok = talk(["hello", "OK"], None)
    assert hello.language == "en" and ok.language == "en"


# -- complaint deadlines -------------------------------------------------------------------------------------
def test_the_complaint_reply_quotes_the_configured_deadline_of_its_category() -> None:
    policy = SlaPolicy(acknowledge={"default": 12, "unexplained_charge": 2})
    data = Records()
    charge, network = talk(["不明扣费", "信号太差，我要投诉"], sla=policy, data=data)
    assert [c.category for c in data.complaints] == ["unexplained_charge", "network_quality"]
    assert "在 2 小时内" in charge.text and charge.data["acknowledge_hours"] == 2
    assert "在 12 小时内" in network.text and network.data["acknowledge_hours"] == 12
    (english,) = talk(["I want to complain about an unexplained charge"], EN_LINE, sla=policy)
    assert "within 2 hours" in english.text


def test_the_default_policy_is_quoted_without_one() -> None:
    (charge,) = talk(["不明扣费"])
    assert f"在 {DEFAULT_SLA.acknowledge_hours('unexplained_charge')} 小时内" in charge.text
