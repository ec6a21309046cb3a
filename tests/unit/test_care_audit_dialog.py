"""Audit of the assistant's conversation rules: short Chinese requests, confirmations, which line a
confirmed change applies to, and months named inside other words. A keyword classifier stands in for the
intent model (the rules under test come after it), so nothing is trained."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from fairtel.care import (
    DEMO_OFFER_ALIASES,
    AdviceFacts,
    AllowanceLeft,
    Assistant,
    BillFacts,
    BillItem,
    ChargeFacts,
    ComplaintRequest,
    IntentPrediction,
    LineFacts,
    LoyaltyEntryFacts,
    LoyaltyFacts,
    RoamingFacts,
    SubscriptionFacts,
    Text,
    TicketRequest,
    detect_language,
    extract_month,
)
from fairtel.care import _dialog_words as words
from fairtel.core.errors import ConflictError, NotFoundError
from fairtel.core.money import Money

TZ = ZoneInfo("Asia/Shanghai")
ME = "8613800138000"
MY_OTHER_LINE = "8613900139000"
NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)

_KEYWORDS = (
    ("人工", "human_agent"), ("信号", "fault_report"), ("上网", "fault_report"), ("扣费", "complaint"),
    ("投诉", "complaint"), ("账单", "bill_inquiry"), ("月租", "bill_inquiry"), ("积分", "loyalty_points"),
    ("退订", "vas_cancel"), ("cancel", "vas_cancel"), ("bill", "bill_inquiry"),
)


def classify(text: str) -> IntentPrediction:
    for word, label in _KEYWORDS:
        if word in text.lower():
            return IntentPrediction(label, 0.99, detect_language(text), False)
    return IntentPrediction("out_of_scope", 0.4, detect_language(text), True)


def _sub(sid: str, offer: str, zh: str, en: str, price: str) -> SubscriptionFacts:
    return SubscriptionFacts(sid, offer, Text(zh, en), "sp-x", Money.of(price, "CNY"), "monthly", "confirmed",
                             confirmed_at=datetime(2026, 8, 3, 9, 0, tzinfo=TZ))


@dataclass
class Records:
    """A CareData over a few records of one customer with two lines."""

    points: dict[str, list[LoyaltyEntryFacts]] = field(default_factory=lambda: {
        ME: [LoyaltyEntryFacts("earn", 800, "bill paid", datetime(2026, 9, 1, tzinfo=TZ))],
        MY_OTHER_LINE: [LoyaltyEntryFacts("earn", 5000, "bill paid", datetime(2026, 9, 1, tzinfo=TZ))],
    })
    subs: dict[str, list[SubscriptionFacts]] = field(default_factory=lambda: {
        ME: [_sub("sub-7", "vas-horoscope-6", "星座运势", "Horoscope", "6.00")],
        MY_OTHER_LINE: [_sub("sub-9", "vas-horoscope-6", "星座运势", "Horoscope", "6.00")],
    })
    bills: dict[tuple[str, str], BillFacts] = field(default_factory=dict)
    tickets: list[tuple[str, TicketRequest]] = field(default_factory=list)
    complaints: list[tuple[str, ComplaintRequest]] = field(default_factory=list)
    handoffs: list[str] = field(default_factory=list)
    redeemed: list[tuple[str, int]] = field(default_factory=list)
    cancelled: list[tuple[str, str]] = field(default_factory=list)
    bill_reads: list[tuple[str, str]] = field(default_factory=list)

    def now(self) -> datetime:
        return NOW

    def line(self, msisdn: str) -> LineFacts | None:
        if msisdn not in (ME, MY_OTHER_LINE):
            return None
        return LineFacts(msisdn, "c-1", "basic-39", Text("基础套餐 39 元", "Basic 39"), "active", "zh", (ME, MY_OTHER_LINE))

    def bill(self, msisdn: str, period: str) -> BillFacts | None:
        self.bill_reads.append((msisdn, period))
        return self.bills.get((msisdn, period))

    def charges(self, msisdn: str, period: str) -> list[ChargeFacts]:
        return []

    def explain_charge(self, msisdn: str, record_id: str, language: str) -> ChargeFacts | None:
        return None

    def allowances(self, msisdn: str, period: str) -> list[AllowanceLeft]:
        return []

    def loyalty(self, msisdn: str) -> LoyaltyFacts:
        entries = tuple(self.points.get(msisdn, []))
        return LoyaltyFacts(msisdn, sum(e.points if e.kind == "earn" else -e.points for e in entries), entries)

    def redeem_points(self, msisdn: str, points: int, reason: str) -> LoyaltyFacts:
        if points > self.loyalty(msisdn).balance:
            raise ConflictError("not enough points")
        self.points.setdefault(msisdn, []).append(LoyaltyEntryFacts("redeem", points, reason, NOW))
        self.redeemed.append((msisdn, points))
        return self.loyalty(msisdn)

    def roaming(self, msisdn: str, country: str) -> RoamingFacts | None:
        return None

    def subscriptions(self, msisdn: str) -> list[SubscriptionFacts]:
        return list(self.subs.get(msisdn, []))

    def cancel_subscription(self, msisdn: str, subscription_id: str) -> SubscriptionFacts:
        items = self.subs[msisdn]
        i = next((i for i, s in enumerate(items) if s.subscription_id == subscription_id), None)
        if i is None:
            raise NotFoundError(f"no subscription {subscription_id} on {msisdn}")
        items[i] = replace(items[i], state="cancelled")
        self.cancelled.append((msisdn, subscription_id))
        return items[i]

    def open_ticket(self, msisdn: str, ticket: TicketRequest) -> str:
        self.tickets.append((msisdn, ticket))
        return f"tkt-{len(self.tickets)}"

    def record_complaint(self, msisdn: str, complaint: ComplaintRequest) -> str:
        self.complaints.append((msisdn, complaint))
        return f"cmp-{len(self.complaints)}"

    def hand_off(self, msisdn: str, reason: str, conversation_id: str) -> str:
        self.handoffs.append(msisdn)
        return f"handoff-{len(self.handoffs)}"

    def plan_advice(self, msisdn: str) -> AdviceFacts | None:
        return None

    def offer_aliases(self) -> Mapping[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in DEMO_OFFER_ALIASES.items()}


def _talk(data: Records, messages: list[str]):  # type: ignore[no-untyped-def]
    a = Assistant(classify, data)
    conv = a.start(ME)
    return [a.say(conv, m) for m in messages]


# -- a short request that starts like "no" or "yes" is a request ----------------------------------------
def test_short_chinese_fault_report_starting_with_mei_is_not_a_bare_no() -> None:
    data = Records()
    first, *_ = _talk(data, ["没信号"])
    assert first.intent == "fault_report" and first.waiting_for == "fault_location"


def test_short_request_for_an_agent_starting_with_yao_is_not_a_bare_yes() -> None:
    data = Records()
    (reply,) = _talk(data, ["要转人工"])
    assert reply.action == "handed_off" and data.handoffs == [ME]


def test_short_unexplained_charge_complaint_is_recorded() -> None:
    data = Records()
    (reply,) = _talk(data, ["不明扣费"])
    assert reply.action == "complaint_recorded"
    assert data.complaints[0][1].category == "unexplained_charge"


@pytest.mark.parametrize("message", ["好的", "不用了", "不用了，谢谢", "嗯", "no thanks", "OK!"])
def test_a_bare_yes_or_no_with_nothing_pending_still_offers_more_help(message: str) -> None:
    (reply,) = _talk(Records(), [message])
    assert reply.intent is None and reply.action is None


@pytest.mark.parametrize("message", ["没信号", "要转人工", "不能上网", "办理退订", "可以退订吗", "好慢"])
def test_requests_are_not_bare_replies(message: str) -> None:
    assert not words.is_bare_reply(message)


# -- "no problem" confirms -----------------------------------------------------------------------------
@pytest.mark.parametrize("message", ["没问题", "没错", "no problem", "No problem, go ahead"])
def test_no_problem_is_a_yes(message: str) -> None:
    assert words.yes_or_no(message) is True


def test_no_problem_confirms_a_cancellation() -> None:
    data = Records()
    ask, done = _talk(data, ["我想退订星座", "没问题"])
    assert ask.waiting_for == "confirm"
    assert done.action == "subscription_cancelled" and data.cancelled == [(ME, "sub-7")]


def test_a_no_after_no_problem_still_declines() -> None:
    assert words.yes_or_no("没问题，但先不要") is False
    assert words.yes_or_no("不要") is False and words.yes_or_no("不确认") is False
    assert words.yes_or_no("what.") is None


# -- a confirmed change applies to the line it was asked about -------------------------------------------
def test_redemption_confirmed_after_naming_another_line_debits_the_quoted_line() -> None:
    data = Records()
    ask, _, done = _talk(data, ["兑换300积分", "13900139000的积分呢", "确认"])
    assert ask.waiting_for == "confirm" and "800" in ask.text  # the quote is this line's balance
    assert done.action == "points_redeemed"
    assert data.redeemed == [(ME, 300)]  # not the other line's 5000


def test_cancellation_confirmed_after_naming_another_line_cancels_the_quoted_subscription() -> None:
    data = Records()
    *_, done = _talk(data, ["我想退订星座", "13900139000的积分呢", "确认"])
    assert done.action == "subscription_cancelled"
    assert data.cancelled == [(ME, "sub-7")]


# -- months named inside other words --------------------------------------------------------------------
@pytest.mark.parametrize("text", ["帮我查一下月租是多少", "查一下月费", "麻烦查询一下月度账单", "早上月租扣了两次"])
def test_yixia_yue_and_zaoshang_yue_are_not_a_month(text: str) -> None:
    assert extract_month(text, today=date(2026, 10, 12)) is None


@pytest.mark.parametrize(
    ("text", "month"),
    [("上月账单", "2026-09"), ("上月底", "2026-09"), ("下月初", "2026-11"), ("下个月", "2026-11"),
     ("上个月", "2026-09"), ("25年9月的账单", "2025-09"), ("2025年9月", "2025-09"),
     ("查一下13900139000九月的账单", "2026-09")],
)
def test_months_still_read(text: str, month: str) -> None:
    assert extract_month(text, today=date(2026, 10, 12)) == month


def test_two_digit_year_across_the_year_boundary() -> None:
    assert extract_month("26年12月的账单", today=date(2027, 1, 3)) == "2026-12"
    assert extract_month("27年1月的账单", today=date(2027, 1, 3)) == "2027-01"


def test_asking_about_the_monthly_fee_does_not_read_next_months_bill() -> None:
    data = Records()
    data.bills[(ME, "2026-10")] = BillFacts(ME, "2026-10", "CNY", 3900, (
        BillItem("plan_fee", Text("套餐月租", "Plan fee"), 3900),), issued=False)
    (reply,) = _talk(data, ["帮我查一下月租"])
    assert reply.intent == "bill_inquiry" and reply.waiting_for == "month"  # asks, rather than read 2026-11
    assert data.bill_reads == []
