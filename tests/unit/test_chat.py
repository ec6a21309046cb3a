"""The assistant's conversation rules over an in-memory data port and the built-in intent model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from fairtel.care import (
    BUILTIN_OOS_LABEL,
    DEMO_OFFER_ALIASES,
    AdviceFacts,
    AllowanceLeft,
    Assistant,
    BillFacts,
    BillItem,
    ChargeFacts,
    ComplaintRequest,
    IntentConfig,
    LineFacts,
    LoyaltyEntryFacts,
    LoyaltyFacts,
    RoamingFacts,
    RoamingRate,
    SubscriptionFacts,
    Text,
    TicketRequest,
    Turn,
    builtin_examples,
    train_intents,
)
from fairtel.care._answers import quantity
from fairtel.core.errors import ConflictError, InvalidInputError
from fairtel.core.money import Money

TZ = ZoneInfo("Asia/Shanghai")
ME = "8613800138000"
MY_OTHER_LINE = "8613900139000"
STRANGER = "8613700137000"
NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)


@dataclass
class MemoryData:
    """A CareData over plain records, recording what the assistant asked it to do."""

    bills: dict[tuple[str, str], BillFacts] = field(default_factory=dict)
    charge_list: dict[tuple[str, str], list[ChargeFacts]] = field(default_factory=dict)
    subs: dict[str, list[SubscriptionFacts]] = field(default_factory=dict)
    points: dict[str, list[LoyaltyEntryFacts]] = field(default_factory=dict)
    tickets: list[tuple[str, TicketRequest]] = field(default_factory=list)
    complaints: list[tuple[str, ComplaintRequest]] = field(default_factory=list)
    handoffs: list[tuple[str, str]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    reads: list[tuple[str, str]] = field(default_factory=list)  # (method, msisdn)

    def now(self) -> datetime:
        return NOW

    def line(self, msisdn: str) -> LineFacts | None:
        self.reads.append(("line", msisdn))
        if msisdn not in (ME, MY_OTHER_LINE, STRANGER):
            return None
        customer = "c-2" if msisdn == STRANGER else "c-1"
        lines = (STRANGER,) if msisdn == STRANGER else (ME, MY_OTHER_LINE)
        return LineFacts(msisdn, customer, "basic-39", Text("基础套餐 39 元", "Basic 39"), "active", "zh", lines)

    def bill(self, msisdn: str, period: str) -> BillFacts | None:
        self.reads.append(("bill", msisdn))
        return self.bills.get((msisdn, period))

    def charges(self, msisdn: str, period: str) -> list[ChargeFacts]:
        self.reads.append(("charges", msisdn))
        return self.charge_list.get((msisdn, period), [])

    def explain_charge(self, msisdn: str, record_id: str, language: str) -> ChargeFacts | None:
        for (m, _), items in self.charge_list.items():
            for c in items:
                if m == msisdn and c.record_id == record_id:
                    return replace(c, explanation=Text(f"规则 {c.rule_id}", f"rule {c.rule_id} step by step"))
        return None

    def allowances(self, msisdn: str, period: str) -> list[AllowanceLeft]:
        return [
            AllowanceLeft("basic-39/voice", "voice", "second", 300 * 60, 4321),
            AllowanceLeft("basic-39/sms", "sms", "message", 100, 37),
            AllowanceLeft("basic-39/data", "data", "byte", 10 * 1024**3, 3 * 1024**3 + 512 * 1024**2),
        ]

    def loyalty(self, msisdn: str) -> LoyaltyFacts:
        entries = tuple(self.points.get(msisdn, []))
        return LoyaltyFacts(msisdn, sum(e.points if e.kind == "earn" else -e.points for e in entries), entries)

    def redeem_points(self, msisdn: str, points: int, reason: str) -> LoyaltyFacts:
        if points > self.loyalty(msisdn).balance:
            raise ConflictError("not enough points")
        self.points.setdefault(msisdn, []).append(LoyaltyEntryFacts("redeem", points, reason, NOW))
        return self.loyalty(msisdn)

    def roaming(self, msisdn: str, country: str) -> RoamingFacts | None:
        zones = {"JP": ("roam-2", Decimal("1.99"), Decimal("2.00")), "US": ("roam-3", Decimal("2.99"), Decimal("3.00"))}
        if country not in zones:
            return None
        zone, voice, data = zones[country]
        return RoamingFacts(country, zone, Text(zone, zone), "CNY", (
            RoamingRate("voice", f"roam/voice-{zone}", voice, "min"),
            RoamingRate("data", f"roam/data-{zone}", data, "MiB", daily_cap=Decimal("30.00")),
        ), cap=Money.of("200.00", "CNY"))

    def subscriptions(self, msisdn: str) -> list[SubscriptionFacts]:
        return list(self.subs.get(msisdn, []))

    def cancel_subscription(self, msisdn: str, subscription_id: str) -> SubscriptionFacts:
        items = self.subs[msisdn]
        i = next(i for i, s in enumerate(items) if s.subscription_id == subscription_id)
        items[i] = replace(items[i], state="cancelled")
        self.cancelled.append(subscription_id)
        return items[i]

    def open_ticket(self, msisdn: str, ticket: TicketRequest) -> str:
        self.tickets.append((msisdn, ticket))
        return f"tkt-{len(self.tickets)}"

    def record_complaint(self, msisdn: str, complaint: ComplaintRequest) -> str:
        self.complaints.append((msisdn, complaint))
        return f"cmp-{len(self.complaints)}"

    def hand_off(self, msisdn: str, reason: str, conversation_id: str) -> str:
        self.handoffs.append((msisdn, reason))
        return f"handoff-{len(self.handoffs)}"

    def plan_advice(self, msisdn: str) -> AdviceFacts | None:
        return None

    def offer_aliases(self) -> Mapping[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in DEMO_OFFER_ALIASES.items()}


class Log:
    def __init__(self) -> None:
        self.turns: list[Turn] = []

    def append(self, turn: Turn) -> None:
        self.turns.append(turn)


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return train_intents(builtin_examples("train"), oos_label=BUILTIN_OOS_LABEL, config=IntentConfig(folds=2))


def _sub(sid: str, offer: str, zh: str, en: str, price: str, state: str = "confirmed") -> SubscriptionFacts:
    return SubscriptionFacts(sid, offer, Text(zh, en), "sp-x", Money.of(price, "CNY"), "monthly", state,
                             confirmed_at=datetime(2026, 8, 3, 9, 0, tzinfo=TZ))


@pytest.fixture
def data() -> MemoryData:
    d = MemoryData()
    d.bills[(ME, "2026-09")] = BillFacts(ME, "2026-09", "CNY", 5637, (
        BillItem("plan_fee", Text("套餐月租", "Plan fee"), 3900),
        BillItem("voice", Text("通话", "Calls"), 1137),
        BillItem("vas", Text("增值业务", "Value-added services"), 600),
    ), issued=True, bill_id="bill-0917")
    d.charge_list[(ME, "2026-09")] = [
        ChargeFacts("r-1", "voice", datetime(2026, 9, 4, 9, tzinfo=TZ), 1137, "CNY", "intl/voice-intl-2"),
        ChargeFacts("v-9", "vas", datetime(2026, 9, 9, 9, tzinfo=TZ), 600, "CNY", "offer/vas-horoscope-6",
                    offer_id="vas-horoscope-6", offer_name=Text("星座运势", "Horoscope"), subscription_id="sub-7",
                    verdict="consented", consent_state="confirmed", confirmed_at=datetime(2026, 8, 3, 9, tzinfo=TZ)),
    ]
    d.subs[ME] = [_sub("sub-7", "vas-horoscope-6", "星座运势", "Horoscope", "6.00"),
                  _sub("sub-8", "vas-music-10", "音乐包", "Music", "10.00")]
    d.points[ME] = [LoyaltyEntryFacts("earn", 800, "bill paid", datetime(2026, 9, 1, tzinfo=TZ)),
                    LoyaltyEntryFacts("redeem", 150, "voucher", datetime(2026, 9, 20, tzinfo=TZ))]
    return d


def _talk(assistant: Assistant, msisdn: str | None, messages: list[str], language: str | None = None):  # type: ignore[no-untyped-def]
    conv = assistant.start(msisdn, language=language)
    return conv, [assistant.say(conv, m) for m in messages]


def test_bill_inquiry_asks_for_the_month_then_answers_with_the_bills_numbers(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (ask, answer) = _talk(a, ME, ["帮我查一下话费", "9月的"])
    assert ask.intent == "bill_inquiry" and ask.waiting_for == "month"
    assert answer.intent == "bill_inquiry" and answer.waiting_for is None and answer.language == "zh"
    bill = data.bills[(ME, "2026-09")]
    assert answer.data["total_minor"] == bill.total_minor
    assert "56.37 元" in answer.text and "bill-0917" in answer.text
    for item in bill.items:
        assert f"{Money.from_minor(item.amount_minor, 'CNY').amount} 元" in answer.text


def test_month_carries_over_to_the_next_question(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (bill, why, pick) = _talk(a, ME, ["What's my bill for September?", "why was I charged this?", "the first one"])
    assert bill.data["total_minor"] == 5637 and bill.language == "en"
    assert why.intent == "charge_explain" and why.waiting_for == "charge"
    assert "11.37 CNY" in why.text and "6.00 CNY" in why.text
    assert pick.data["record_id"] == "r-1" and pick.data["rule_id"] == "intl/voice-intl-2"
    assert "rule intl/voice-intl-2 step by step" in pick.text


def test_vas_charge_is_explained_by_its_consent(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (reply,) = _talk(a, ME, ["9月份星座运势扣的6块钱是怎么回事"])
    assert reply.intent == "charge_explain"
    assert reply.data["subscription_id"] == "sub-7" and reply.data["verdict"] == "consented"
    assert "2026-08-03" in reply.text and "6.00 元" in reply.text


def test_a_charge_named_by_its_amount_or_day_is_explained_without_a_list(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    """A subscriber names a charge the way the bill shows it, by its amount or its day, not by a record id."""
    data.charge_list[(ME, "2026-09")].append(
        ChargeFacts("r-2", "voice", datetime(2026, 9, 9, 20, tzinfo=TZ), 300, "CNY", "basic-39/voice-domestic"))
    a = Assistant(model, data)
    _, (by_amount,) = _talk(a, ME, ["Why was I charged 11.37 yuan in September?"])
    assert by_amount.intent == "charge_explain" and by_amount.data["record_id"] == "r-1"
    _, (by_day,) = _talk(a, ME, ["9月4号扣的钱是什么费用"])
    assert by_day.intent == "charge_explain" and by_day.data["record_id"] == "r-1"
    _, (both,) = _talk(a, ME, ["what is the 3 yuan charge on September 9?"])
    assert both.data["record_id"] == "r-2"
    # a day with two charges and no amount: the list of that day's charges, nothing else
    _, (listing,) = _talk(a, ME, ["explain the charges on the 9th of September"])
    assert listing.waiting_for == "charge" and "3.00 CNY" in listing.text and "6.00 CNY" in listing.text
    assert "11.37" not in listing.text


def test_cancel_needs_an_explicit_confirmation(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (ask, no) = _talk(a, ME, ["退订星座运势", "算了"])
    assert ask.waiting_for == "confirm" and "sub-7" in ask.text
    assert no.action == "declined" and data.cancelled == []
    _, (ask, yes) = _talk(a, ME, ["please cancel my horoscope subscription", "yes"])
    assert ask.waiting_for == "confirm"
    assert yes.action == "subscription_cancelled" and data.cancelled == ["sub-7"]


def test_cancel_without_naming_the_offer_asks_which(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (which, confirm, done) = _talk(a, ME, ["I want to unsubscribe from a service", "2", "yes"])
    assert which.waiting_for == "subscription" and "Horoscope" in which.text and "Music" in which.text
    assert confirm.waiting_for == "confirm" and "sub-8" in confirm.text
    assert done.action == "subscription_cancelled" and data.cancelled == ["sub-8"]


def test_roaming_rates_for_a_country_and_the_cap(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (ask, jp, us) = _talk(a, ME, ["how much is roaming?", "Japan", "and in the US?"])
    assert ask.waiting_for == "country"
    assert jp.data["zone"] == "roam-2" and "1.99 CNY per minute" in jp.text and "30.00 CNY a day" in jp.text
    assert "200.00 CNY" in jp.text  # the subscriber's cap
    assert us.intent == "roaming" and us.data["zone"] == "roam-3" and "2.99 CNY" in us.text


def test_fault_report_fills_its_slots_then_opens_a_ticket(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, replies = _talk(a, ME, ["网络有问题，我要报修", "没有信号", "在浦东新区张江路", "从昨天开始"])
    assert [r.waiting_for for r in replies] == ["fault_type", "fault_location", "fault_since", None]
    assert replies[-1].action == "ticket_opened" and replies[-1].reference == "tkt-1"
    (msisdn, ticket), = data.tickets
    assert msisdn == ME and ticket.category == "no_signal"
    assert ticket.location == "浦东新区张江路" and ticket.since == "昨天开始"


def test_fault_details_given_at_once(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (reply,) = _talk(a, ME, ["No signal at Nanjing Road since Monday, please fix it"])
    assert reply.action == "ticket_opened"
    assert data.tickets[0][1].category == "no_signal" and data.tickets[0][1].location == "Nanjing Road"


def test_another_customers_number_is_refused_without_reading_it(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (zh, en) = _talk(a, ME, ["帮我查一下13700137000的账单", "what is the bill of +86 137 0013 7000 in September"])
    assert zh.intent == en.intent == "refused_other_line"
    assert "138****8000" not in zh.text and "137****7000" in zh.text
    assert all(m != STRANGER for _, m in data.reads)


def test_own_other_line_is_read_only_where_the_caller_may_read_the_customers_lines(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    data.bills[(MY_OTHER_LINE, "2026-09")] = BillFacts(MY_OTHER_LINE, "2026-09", "CNY", 1900, (
        BillItem("plan_fee", Text("套餐月租", "Plan fee"), 1900),), issued=False)
    a = Assistant(model, data)
    _, (refused,) = _talk(a, ME, ["查一下13900139000九月的账单"])  # a subscriber: their own line only
    assert refused.intent == "refused_other_line" and all(m != MY_OTHER_LINE for _, m in data.reads)
    conv = a.start(ME, other_lines=True)  # an agent handling the customer: any of the customer's lines
    reply = a.say(conv, "查一下13900139000九月的账单")
    assert reply.intent == "bill_inquiry" and reply.data["total_minor"] == 1900


def test_out_of_scope_is_refused_in_the_users_language(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (zh, en) = _talk(a, ME, ["今天天气怎么样", "can you recommend a good pasta recipe"])
    assert zh.out_of_scope and zh.language == "zh" and "抱歉" in zh.text
    assert en.out_of_scope and en.language == "en" and en.text.startswith("Sorry")


def test_usage_left_is_allowance_minus_used(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (reply,) = _talk(a, ME, ["how much data do I have left this month"])
    assert reply.intent == "usage_left"
    left = reply.data["allowances"]["basic-39/data"]
    assert left["left"] == 10 * 1024**3 - (3 * 1024**3 + 512 * 1024**2)
    assert quantity(left["left"], "byte", "en") == "6.50 GiB" and "6.50 GiB" in reply.text


def test_points_balance_and_redeem_with_confirmation(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    _, (balance, ask, done) = _talk(a, ME, ["我还有多少积分", "兑换300积分", "确认"])
    assert balance.data["balance"] == 650 and "650" in balance.text
    assert ask.waiting_for == "confirm"
    assert done.action == "points_redeemed" and done.data["balance"] == 350
    _, (short,) = _talk(a, ME, ["redeem 5000 points"])
    assert short.waiting_for is None and short.data["balance"] == 350 and "350" in short.text


def test_complaint_is_recorded_with_its_category(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    conv, (reply,) = _talk(a, ME, ["我要投诉，我从来没订过星座运势却被扣钱"])
    assert reply.action == "complaint_recorded"
    (_msisdn, request), = data.complaints
    assert request.category == "unexplained_charge" and request.links["conversation_id"] == conv.conversation_id


def test_without_msisdn_it_asks_for_the_number_first(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    conv, (ask, answer) = _talk(a, None, ["what's my bill for September", "it's 138 0013 8000"])
    assert ask.waiting_for == "msisdn"
    assert conv.msisdn == ME and answer.data["total_minor"] == 5637


def test_hand_off_and_the_turn_log(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    log = Log()
    a = Assistant(model, data, log=log)
    _conv, (_hello, agent) = _talk(a, ME, ["你好", "转人工"])
    assert agent.action == "handed_off" and data.handoffs and "你好" in data.handoffs[0][1]
    assert [t.intent for t in log.turns] == ["greeting", "human_agent"]
    assert log.turns[-1].handed_off and all(t.classified for t in log.turns)
    assert all(not hasattr(t, "text") for t in log.turns)  # the log keeps no message text


def test_reply_keeps_a_conversation_per_subscriber(model, data: MemoryData) -> None:  # type: ignore[no-untyped-def]
    a = Assistant(model, data)
    first = a.reply("what is my bill?", msisdn=ME)
    other = a.reply("how much is roaming?", msisdn=STRANGER)
    second = a.reply("September", msisdn=ME)
    assert first.waiting_for == "month" and other.waiting_for == "country"
    assert second.data["total_minor"] == 5637


def test_bad_input() -> None:
    a = Assistant(lambda text: None, MemoryData())  # type: ignore[arg-type, return-value]
    with pytest.raises(InvalidInputError):
        a.start("8610000000000")
    with pytest.raises(InvalidInputError):
        a.start(ME, language="fr")
    conv = a.start(ME)
    with pytest.raises(InvalidInputError):
        a.say(conv, "   ")
