"""The assistant's dialog rules found wanting by a subscriber's walk-through: a question the assistant asked no longer
swallows a plainly new request (the complaint's words, a yes or no), a question about complaints made is answered from
them, a call abroad from home is not roaming, a day without a charge is said so, a month not rated yet still has its
fee, usage held off the bill is not a charge, and a fault ticket reads in the conversation's language.

Before: "我的投诉处理得怎么样了" was asked what the complaint was about and "我不想投诉，只想问问9月账单" recorded as one;
"转人工", "cancel cloud storage" and "取消漫游上限" after a complaint question were recorded as its words; a new question
after "Shall I record a complaint?" got "Please reply yes or no."; "How much to call Hong Kong?" got roaming prices; a
day with no charge listed the month as if it had one; a month with no rated lines had "no bill or charges"; held usage
counted as a charge; a Chinese fault ticket read "no_signal at 武汉市洪山区 since ...".

The intent engine is stood in for by the labels the built-in model gave these messages (the rules under test come
after it), so nothing is trained."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from fairtel.care import (
    DEMO_OFFER_ALIASES,
    AdviceFacts,
    AllowanceLeft,
    Assistant,
    BillFacts,
    BillItem,
    ChargeFacts,
    ComplaintFacts,
    ComplaintRequest,
    DestinationFacts,
    IntentPrediction,
    LineFacts,
    LoyaltyFacts,
    RoamingFacts,
    RoamingRate,
    SubscriptionFacts,
    Text,
    TicketRequest,
    detect_language,
)
from fairtel.core.money import Money

TZ = ZoneInfo("Asia/Shanghai")
ME = "8613800138000"
NOW = datetime(2026, 11, 12, 10, 0, tzinfo=TZ)

# What the built-in intent model answered for these messages (its label and confidence).
_LABELS: dict[str, tuple[str, float]] = {
    "我的投诉处理得怎么样了": ("complaint", 1.0),
    "what is the status of my complaint?": ("complaint", 1.0),
    "has my complaint been handled?": ("complaint", 1.0),
    "我不想投诉，只想问问9月账单": ("complaint", 0.958),
    "只想问问9月账单": ("bill_inquiry", 1.0),
    "我不想投诉": ("complaint", 1.0),
    "I don't want to complain": ("complaint", 1.0),
    "我要投诉": ("complaint", 1.0),
    "I want to complain": ("complaint", 1.0),
    "我要退款": ("complaint", 0.99),
    "转人工": ("human_agent", 1.0),
    "cancel cloud storage": ("vas_cancel", 1.0),
    "取消漫游上限": ("roaming", 0.996),
    "扣了我6块钱": ("charge_explain", 0.999),
    "退订了还在扣费": ("vas_cancel", 0.998),
    "why was I charged 5 yuan on September 1?": ("charge_explain", 1.0),
    "这笔费用是怎么来的": ("charge_explain", 1.0),
    "How much to call Hong Kong?": ("roaming", 0.995),
    "打香港的电话怎么收费": ("roaming", 0.997),
    "在香港打电话怎么收费": ("roaming", 0.999),
    "and Japan?": ("roaming", 0.797),
    "9月5号那笔话费是什么": ("charge_explain", 0.829),
    "why was I charged on September 5?": ("charge_explain", 1.0),
    "这个月话费多少": ("bill_inquiry", 1.0),
    "what's my bill this month?": ("bill_inquiry", 1.0),
    "9月那笔12块的是什么": ("charge_explain", 1.0),
    "我要退订星座运势": ("vas_cancel", 0.999),
    "没有信号": ("fault_report", 1.0),
    "no signal": ("fault_report", 1.0),
    "武汉市洪山区": ("out_of_scope", 0.5),
    "上周开始的": ("out_of_scope", 0.5),
    "at home in Xuhui district": ("out_of_scope", 0.5),
    "since yesterday": ("out_of_scope", 0.5),
    "确认": ("thanks", 0.83),
    "yes": ("thanks", 0.76),
}


def classify(text: str) -> IntentPrediction:
    label, confidence = _LABELS.get(text, ("out_of_scope", 0.4))
    return IntentPrediction(label, confidence, detect_language(text), label == "out_of_scope")


def _charge(rid: str, day: int, minor: int, *, kind: str = "voice", held: str | None = None) -> ChargeFacts:
    return ChargeFacts(rid, kind, datetime(2026, 9, day, 10, tzinfo=TZ), minor, "CNY", f"rule-{rid}",
                       rule_name=Text("国内主叫", "Domestic calls"), held=held)


@dataclass
class Records:
    """One subscriber's records; notes what the assistant asked it to write."""

    bills: dict[str, BillFacts] = field(default_factory=dict)
    charge_list: list[ChargeFacts] = field(default_factory=list)
    subs: list[SubscriptionFacts] = field(default_factory=lambda: [
        SubscriptionFacts("sub-cloud", "vas-cloud-8", Text("云盘", "Cloud storage"), "sp-cloudbox", Money.of("8", "CNY"),
                          "monthly", "confirmed", datetime(2026, 8, 3, tzinfo=TZ))])
    mine: list[ComplaintFacts] = field(default_factory=list)
    tickets: list[TicketRequest] = field(default_factory=list)
    recorded: list[ComplaintRequest] = field(default_factory=list)
    handoffs: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    roaming_reads: list[str] = field(default_factory=list)

    def now(self) -> datetime:
        return NOW

    def line(self, msisdn: str) -> LineFacts | None:
        return LineFacts(msisdn, "c-1", "basic-39", Text("基础套餐 39 元", "Basic 39"), "active", "zh", (msisdn,)) if msisdn == ME else None

    def bill(self, msisdn: str, period: str) -> BillFacts | None:
        return self.bills.get(period)

    def charges(self, msisdn: str, period: str) -> list[ChargeFacts]:
        return list(self.charge_list)

    def explain_charge(self, msisdn: str, record_id: str, language: str) -> ChargeFacts | None:
        return next((c for c in self.charge_list if c.record_id == record_id), None)

    def allowances(self, msisdn: str, period: str) -> list[AllowanceLeft]:
        return []

    def loyalty(self, msisdn: str) -> LoyaltyFacts:
        return LoyaltyFacts(msisdn, 100, ())

    def redeem_points(self, msisdn: str, points: int, reason: str) -> LoyaltyFacts:
        raise AssertionError("not in these conversations")

    def roaming(self, msisdn: str, country: str) -> RoamingFacts | None:
        self.roaming_reads.append(country)
        return RoamingFacts(country, "roam-1", Text("港澳台漫游", "Roaming in HK, Macao, Taiwan"), "CNY", (
            RoamingRate("voice", "roam/voice-roam-1", Decimal("0.99"), "min"),), cap=None)

    def subscriptions(self, msisdn: str) -> list[SubscriptionFacts]:
        return [s for s in self.subs if s.subscription_id not in self.cancelled]

    def cancel_subscription(self, msisdn: str, subscription_id: str) -> SubscriptionFacts:
        self.cancelled.append(subscription_id)
        return next(s for s in self.subs if s.subscription_id == subscription_id)

    def open_ticket(self, msisdn: str, ticket: TicketRequest) -> str:
        self.tickets.append(ticket)
        return f"tkt-{len(self.tickets)}"

    def record_complaint(self, msisdn: str, complaint: ComplaintRequest) -> str:
        self.recorded.append(complaint)
        return f"cmp-{len(self.recorded)}"

    def hand_off(self, msisdn: str, reason: str, conversation_id: str) -> str:
        self.handoffs.append(reason)
        return f"handoff-{len(self.handoffs)}"

    def plan_advice(self, msisdn: str) -> AdviceFacts | None:
        return None

    def offer_aliases(self) -> Mapping[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in DEMO_OFFER_ALIASES.items()}


@dataclass
class FullRecords(Records):
    """The same records, with what a store port can also do: complaints read back, calls from home priced, the cap set."""

    caps: list[Decimal | None] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)

    def complaints(self, msisdn: str, *, limit: int = 3) -> list[ComplaintFacts]:
        assert msisdn == ME
        return self.mine[:limit]

    def set_roaming_cap(self, msisdn: str, amount: Decimal | None) -> Money | None:
        self.caps.append(amount)
        return None if amount is None else Money.of(amount, "CNY")

    def destination(self, msisdn: str, country: str) -> DestinationFacts | None:
        self.destinations.append(country)
        zones = {"HK": ("852", "intl-1", "港澳台", "Hong Kong, Macao and Taiwan", "1.50"),
                 "JP": ("81", "intl-2", "国际二类", "International zone 2", "3.60")}
        code, zone, zh, en, price = zones[country]
        return DestinationFacts(country, code, zone, Text(zh, en), "CNY", (
            RoamingRate("voice", f"intl/voice-{zone}", Decimal(price), "min"), RoamingRate("sms", "intl/sms", Decimal("1.00"), "SMS")))


def _talk(data: Records, messages: list[str]):  # type: ignore[no-untyped-def]
    a = Assistant(classify, data)
    conv = a.start(ME)
    return [a.say(conv, m) for m in messages]


def _cmp(cid: str, status: str, *, category: str = "billing_error", settled: datetime | None = None) -> ComplaintFacts:
    return ComplaintFacts(cid, category, status, datetime(2026, 11, 2, 9, tzinfo=TZ), datetime(2026, 11, 4, 9, 30, tzinfo=TZ),
                          settled)


# -- 4. a question about complaints made, and requests that are not a complaint ------------------------------
def test_the_status_of_my_complaint_is_told_from_my_complaints_and_records_nothing() -> None:
    data = FullRecords(mine=[_cmp("cmp-7", "acknowledged"), _cmp("cmp-3", "resolved", category="unexplained_charge",
                                                                  settled=datetime(2026, 10, 20, 15, tzinfo=TZ))])
    zh, en, en2 = _talk(data, ["我的投诉处理得怎么样了", "what is the status of my complaint?", "has my complaint been handled?"])
    assert zh.intent == "complaint" and zh.waiting_for is None and zh.action is None
    assert "cmp-7（账单错误，2026-11-02 登记）：已受理，正在处理，已超过承诺的处理时限（原定 2026-11-04 09:30 前），已升级加急处理" in zh.text
    assert "cmp-3（不明扣费，2026-11-02 登记）：已处理完毕（2026-10-20）" in zh.text
    assert "cmp-7 (billing error, recorded 2026-11-02): taken up, being handled; it is overdue (it was due by 2026-11-04 09:30) and has been escalated" in en.text
    assert en2.data["complaints"] == [{"complaint_id": "cmp-7", "status": "acknowledged"}, {"complaint_id": "cmp-3", "status": "resolved"}]
    assert data.recorded == []


def test_no_complaint_yet_is_said_and_a_port_that_cannot_read_them_says_where_to_look() -> None:
    (none,) = _talk(FullRecords(), ["what is the status of my complaint?"])
    assert "no complaints on record" in none.text and none.waiting_for is None
    data = Records()
    (elsewhere,) = _talk(data, ["我的投诉处理得怎么样了"])
    assert "无法在对话中查询投诉进度" in elsewhere.text and elsewhere.waiting_for is None and data.recorded == []


def test_not_wanting_to_complain_answers_what_is_asked_instead() -> None:
    data = FullRecords(bills={"2026-09": BillFacts(ME, "2026-09", "CNY", 3900, (BillItem("plan_fee", Text("套餐月租", "Plan fee"), 3900),),
                                                  issued=True, bill_id="bill-9")})
    asked, bill = _talk(data, ["我要投诉", "我不想投诉，只想问问9月账单"])
    assert asked.waiting_for == "complaint_text"
    assert bill.intent == "bill_inquiry" and bill.data["total_minor"] == 3900 and "bill-9" in bill.text
    (alone,) = _talk(data, ["我不想投诉"])
    assert alone.text.startswith("好的，不为您登记投诉") and alone.waiting_for is None
    assert data.recorded == []


def test_asking_for_a_person_after_a_refund_request_hands_off_and_records_no_complaint() -> None:
    data = FullRecords()
    asked, agent = _talk(data, ["我要退款", "转人工"])
    assert asked.waiting_for == "complaint_text"
    assert agent.action == "handed_off" and len(data.handoffs) == 1 and data.recorded == []


def test_a_plain_new_request_after_the_complaint_question_is_handled_as_one() -> None:
    data = FullRecords()
    _, cancel, done = _talk(data, ["I want to complain", "cancel cloud storage", "yes"])
    assert cancel.intent == "vas_cancel" and cancel.waiting_for == "confirm" and "Cloud storage" in cancel.text
    assert done.action == "subscription_cancelled" and data.cancelled == ["sub-cloud"]
    _, cap, removed = _talk(data, ["我要投诉", "取消漫游上限", "确认"])
    assert cap.intent == "roaming" and cap.waiting_for == "confirm" and "取消您的每月漫游消费上限" in cap.text
    assert removed.action == "roaming_cap_set" and data.caps == [None] and removed.data == {"cap": None, "currency": None}
    assert data.recorded == []


def test_a_complaints_words_are_still_recorded() -> None:
    data = FullRecords()
    _, words, _, stopped = _talk(data, ["我要投诉", "扣了我6块钱", "我要退款", "退订了还在扣费"])
    assert words.action == stopped.action == "complaint_recorded"
    assert [c.text for c in data.recorded] == ["扣了我6块钱", "退订了还在扣费"]
    assert data.cancelled == []


# -- 5. a yes/no question gives way to a new question ----------------------------------------------------
def _blocked_charge() -> ChargeFacts:
    return ChargeFacts("r-news", "vas", datetime(2026, 9, 1, 8, tzinfo=TZ), 0, "CNY", "offer/vas-news-5",
                       offer_id="vas-news-5", offer_name=Text("新闻早报", "Daily news"), verdict="after_cancellation")


def test_a_new_question_after_shall_i_record_a_complaint_is_answered() -> None:
    data = FullRecords(charge_list=[_blocked_charge(), _charge("r-call", 5, 1200)])
    offer, again = _talk(data, ["why was I charged 5 yuan on September 1?", "why was I charged on September 5?"])
    assert offer.waiting_for == "confirm" and offer.text.endswith("Shall I record a complaint?")
    assert "Please reply yes or no" not in again.text and again.intent == "charge_explain"
    assert again.data["record_id"] == "r-call" and data.recorded == []
    offer_zh, how = _talk(data, ["why was I charged 5 yuan on September 1?", "这笔费用是怎么来的"])
    assert offer_zh.waiting_for == "confirm"
    assert "请回复“确认”或“取消”" not in how.text and how.intent == "charge_explain"


def test_not_wanting_to_complain_declines_the_offer() -> None:
    data = FullRecords(charge_list=[_blocked_charge()])
    offer, no = _talk(data, ["why was I charged 5 yuan on September 1?", "I don't want to complain"])
    assert offer.waiting_for == "confirm"
    assert no.action == "declined" and no.text.startswith("OK, I won't record a complaint") and data.recorded == []


# -- 12. a call abroad from home is not roaming ------------------------------------------------------------
def test_the_price_of_calling_another_country_is_the_call_from_home() -> None:
    data = FullRecords()
    en, japan, zh, there = _talk(data, ["How much to call Hong Kong?", "and Japan?", "打香港的电话怎么收费", "在香港打电话怎么收费"])
    assert "Calling Hong Kong from home (+852" in en.text and "1.50 CNY per minute" in en.text and "0.99" not in en.text
    assert en.data["destination_zone"] == "intl-1"
    assert "Calling Japan from home (+81" in japan.text and "3.60 CNY per minute" in japan.text
    assert "从国内拨打香港（+852，属于“港澳台”）" in zh.text and "通话：1.50 元/分钟" in zh.text
    assert data.destinations == ["HK", "JP", "HK"]
    assert "漫游资费" in there.text and "0.99 元/分钟" in there.text and data.roaming_reads == ["HK"]


def test_a_port_that_cannot_price_calls_abroad_does_not_answer_with_roaming() -> None:
    data = Records()
    (reply,) = _talk(data, ["How much to call Hong Kong?"])
    assert "no prices for calls to Hong Kong" in reply.text and data.roaming_reads == []


# -- 16. a month with nothing rated yet; held usage --------------------------------------------------------
def test_a_month_not_rated_yet_shows_its_fee_and_adjustments_and_says_so() -> None:
    data = FullRecords(bills={"2026-11": BillFacts(ME, "2026-11", "CNY", 3300, (
        BillItem("plan_fee", Text("套餐月租", "Plan fee"), 3900), BillItem("adjustment", Text("调账/退款", "Adjustments"), -600)),
        issued=False, rated=False)})
    zh, en = _talk(data, ["这个月话费多少", "what's my bill this month?"])
    assert "合计 33.00 元" in zh.text and "调账/退款：-6.00 元" in zh.text
    assert "2026-11 还没有已计费的通话、短信或流量记录" in zh.text and "没有找到" not in zh.text
    assert "No calls, texts or data of 2026-11 are rated yet" in en.text


def test_usage_held_off_the_bill_is_told_apart_and_never_as_a_charge() -> None:
    data = FullRecords(
        bills={"2026-11": BillFacts(ME, "2026-11", "CNY", 3900, (BillItem("plan_fee", Text("套餐月租", "Plan fee"), 3900),),
                                    issued=False, held_minor=1200)},
        charge_list=[_charge("r-ok", 3, 300), _charge("r-held", 20, 1200, held="line_suspended")])
    bill, listed, held = _talk(data, ["这个月话费多少", "这笔费用是怎么来的", "9月那笔12块的是什么"])
    assert "合计 39.00 元" in bill.text and "另有 12.00 元 是号码停机后产生的用量，暂缓计费，不在上述合计内" in bill.text
    assert listed.data == {"record_id": "r-ok", "amount_minor": 300, "currency": "CNY", "rule_id": "rule-r-ok",
                           "allowance_id": None, "subscription_id": None, "verdict": None}  # the one charge, not the held one
    assert held.data["record_id"] == "r-held" and held.data["held"] == "line_suspended"
    assert "发生在号码停机之后，暂缓计费，没有计入账单" in held.text


# -- 19. a day without a charge ------------------------------------------------------------------------------
def test_a_day_without_a_charge_is_said_so_before_the_month_is_offered() -> None:
    data = FullRecords(charge_list=[_charge("r-1", 3, 300), _charge("r-2", 9, 1200)])
    zh, en = _talk(data, ["9月5号那笔话费是什么", "why was I charged on September 5?"])
    assert zh.text.startswith("2026-09-05 没有收费记录。2026-09 有这些收费") and zh.waiting_for == "charge"
    assert "2026-09-09" in zh.text and "2026-09-03" in zh.text
    assert en.text.startswith("There was no charge on 2026-09-05. These are the charges in 2026-09")
    one = FullRecords(charge_list=[_charge("r-1", 3, 300)])
    (single,) = _talk(one, ["9月5号那笔话费是什么"])
    assert single.text.startswith("2026-09-05 没有收费记录。") and single.waiting_for == "charge"  # not explained as that day's


# -- 21. a fault ticket in the conversation's language --------------------------------------------------------
def test_a_fault_ticket_reads_in_the_conversations_language() -> None:
    data = FullRecords()
    *_, zh = _talk(data, ["没有信号", "武汉市洪山区", "上周开始的"])
    a = Assistant(classify, data)
    conv = a.start(ME, language="en")
    *_, en = [a.say(conv, m) for m in ["no signal", "at home in Xuhui district", "since yesterday"]]
    assert zh.action == en.action == "ticket_opened"
    first, second = data.tickets
    assert first.summary.startswith("没有信号，地点：武汉市洪山区，开始时间：上周开始的（于对话 chat_") and "no_signal" not in first.summary
    assert second.summary.startswith("no signal at home in Xuhui district since yesterday (reported in chat chat_")
    assert first.category == second.category == "no_signal"
