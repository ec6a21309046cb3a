"""What the assistant answered wrongly before, over a data port that can do what the store's can: the plan fee
explained (it was "no charges", or another record), the roaming spent (it was the tariff), every country known, the
roaming cap told as it works, refunds and tickets told from the ledger and the queue, a complaint kept with the words
and the charge it is about, an overdue complaint told as overdue, a resolved one reopened, and the loyalty ledger's
reasons in English. The intent engine is stood in for by the labels the built-in model gave these messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from fairtel.care import (
    DEMO_OFFER_ALIASES,
    AdjustmentFacts,
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
    LoyaltyEntryFacts,
    LoyaltyFacts,
    PlanFeeFacts,
    RoamingFacts,
    RoamingRate,
    SubscriptionFacts,
    Text,
    TicketFacts,
    TicketRequest,
    detect_language,
)
from fairtel.core.money import Money

TZ = ZoneInfo("Asia/Shanghai")
ME = "8613121406861"
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=TZ)

_LABELS: dict[str, tuple[str, float]] = {
    "帮我查一下9月的账单": ("bill_inquiry", 1.0),
    "这笔费用是怎么来的": ("charge_explain", 1.0),
    "9月为什么扣了我129元": ("charge_explain", 0.9999),
    "月租129是什么": ("charge_explain", 0.5696),
    "9月为什么扣了我51.6元": ("charge_explain", 0.9999),
    "9月这笔费用是怎么来的": ("charge_explain", 1.0),
    "为什么扣了我6块钱": ("charge_explain", 1.0),
    "9月为什么扣了我6块钱": ("charge_explain", 1.0),
    "我在新加坡漫游花了多少钱": ("roaming", 0.9996),
    "为什么漫游流量扣了这么多": ("charge_explain", 0.9773),
    "how much to call Nigeria?": ("roaming", 0.7615),
    "去尼日利亚漫游怎么收费": ("roaming", 0.9996),
    "新加坡漫游怎么收费": ("roaming", 1.0),
    "把漫游上限设为200元": ("roaming", 1.0),
    "取消漫游上限": ("roaming", 0.996),
    "我的退款到账了吗": ("bill_inquiry", 0.8478),
    "壁纸那3块钱退了没有": ("vas_cancel", 0.9783),
    "11月的账单多少钱": ("bill_inquiry", 1.0),
    "why was I charged 32 yuan on September 29?": ("charge_explain", 1.0),
    "I want a refund for that call, I never called Nigeria": ("complaint", 0.788),
    "what is the status of my complaints?": ("complaint", 1.0),
    "我的投诉处理得怎么样了": ("complaint", 1.0),
    "我对投诉处理结果不满意": ("complaint", 1.0),
    "我报的故障处理得怎么样了": ("fault_report", 0.9883),
    "我的工单进度": ("bill_inquiry", 0.3741),
    "how many loyalty points do I have?": ("loyalty_points", 1.0),
    "确认": ("thanks", 0.828),
    "是的": ("thanks", 0.782),
}


def classify(text: str) -> IntentPrediction:
    label, confidence = _LABELS.get(text, ("out_of_scope", 0.4))
    return IntentPrediction(label, confidence, detect_language(text), label == "out_of_scope")


def _at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ)


def _usage(rid: str, kind: str, day: int, minor: int, *, country: str | None = None) -> ChargeFacts:
    return ChargeFacts(rid, kind, _at(9, day), minor, "CNY", f"rule-{kind}", roaming_country=country,
                       rule_name=Text("计费规则", "a rule"))


def _blocked_horoscope() -> ChargeFacts:
    return ChargeFacts("v0000000069", "vas", _at(9, 29), 0, "CNY", "offer/vas-horoscope-6", offer_id="vas-horoscope-6",
                       offer_name=Text("星座运势", "Horoscope"), verdict="not_confirmed")


FEE_ONLY = BillFacts(ME, "2026-09", "CNY", 12900, (BillItem("plan_fee", Text("套餐月费 · 无限流量 129 元", "Monthly fee · Unlimited 129"), 12900),
                                                   BillItem("data", Text("国内流量（不限量）", "Domestic data (unlimited)"), 0)),
                     issued=True, bill_id="bill-0929")


@dataclass
class Port:
    """One subscriber's records, with everything the store's port can do; notes what the assistant wrote."""

    language: str = "zh"
    bills: dict[str, BillFacts] = field(default_factory=lambda: {"2026-09": FEE_ONLY})
    monthly: dict[str, list[ChargeFacts]] = field(default_factory=lambda: {"2026-09": [
        _usage("r-data-1", "data", 3, 0), _blocked_horoscope()]})
    fee_days: int = 30
    ledger: list[AdjustmentFacts] = field(default_factory=list)
    mine: list[ComplaintFacts] = field(default_factory=list)
    my_tickets: list[TicketFacts] = field(default_factory=list)
    points: list[LoyaltyEntryFacts] = field(default_factory=list)
    recorded: list[ComplaintRequest] = field(default_factory=list)
    opened: list[TicketRequest] = field(default_factory=list)
    reopened: list[tuple[str, str]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    roaming_reads: list[str] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)
    caps: list[Decimal | None] = field(default_factory=list)

    def now(self) -> datetime:
        return NOW

    def line(self, msisdn: str) -> LineFacts | None:
        return LineFacts(msisdn, "c-1", "unlimited-129", Text("无限流量 129 元", "Unlimited 129"), "active", self.language,
                         (msisdn,)) if msisdn == ME else None

    def bill(self, msisdn: str, period: str) -> BillFacts | None:
        return self.bills.get(period)

    def charges(self, msisdn: str, period: str) -> list[ChargeFacts]:
        return list(self.monthly.get(period, []))

    def explain_charge(self, msisdn: str, record_id: str, language: str) -> ChargeFacts | None:
        return next((c for cs in self.monthly.values() for c in cs if c.record_id == record_id), None)

    def plan_fee(self, msisdn: str, period: str) -> PlanFeeFacts | None:
        bill = self.bills.get(period)
        fee = next((i for i in bill.items if i.kind == "plan_fee"), None) if bill else None
        if fee is None:
            return None
        return PlanFeeFacts(period, "unlimited-129", Text("无限流量 129 元", "Unlimited 129"), Money.of("129.00", "CNY"),
                            Money.from_minor(fee.amount_minor, "CNY"), self.fee_days, 30)

    def adjustments(self, msisdn: str, *, limit: int = 5) -> list[AdjustmentFacts]:
        return self.ledger[:limit]

    def allowances(self, msisdn: str, period: str) -> list[AllowanceLeft]:
        return []

    def loyalty(self, msisdn: str) -> LoyaltyFacts:
        return LoyaltyFacts(msisdn, sum(e.points for e in self.points), tuple(self.points))

    def redeem_points(self, msisdn: str, points: int, reason: str) -> LoyaltyFacts:
        raise AssertionError("not in these conversations")

    def roaming(self, msisdn: str, country: str) -> RoamingFacts | None:
        self.roaming_reads.append(country)
        return RoamingFacts(country, "roam-world", Text("世界其他地区漫游", "Roaming elsewhere"), "CNY", (
            RoamingRate("voice", "roam/voice", Decimal("9.99"), "min"),), cap=Money.of("200.00", "CNY"))

    def destination(self, msisdn: str, country: str) -> DestinationFacts | None:
        self.destinations.append(country)
        return DestinationFacts(country, "234", "intl-3", Text("国际三类", "International zone 3"), "CNY", (
            RoamingRate("voice", "intl/voice-intl-3", Decimal("8.00"), "min"),))

    def set_roaming_cap(self, msisdn: str, amount: Decimal | None) -> Money | None:
        self.caps.append(amount)
        return None if amount is None else Money.of(amount, "CNY")

    def subscriptions(self, msisdn: str) -> list[SubscriptionFacts]:
        return [SubscriptionFacts("sub-wp", "vas-wallpaper-3", Text("精美壁纸", "Wallpapers"), "sp-pixelart",
                                  Money.of("3.00", "CNY"), "monthly", "confirmed", _at(8, 3))]

    def cancel_subscription(self, msisdn: str, subscription_id: str) -> SubscriptionFacts:
        self.cancelled.append(subscription_id)
        return self.subscriptions(msisdn)[0]

    def open_ticket(self, msisdn: str, ticket: TicketRequest) -> str:
        self.opened.append(ticket)
        return f"tkt-{len(self.opened)}"

    def tickets(self, msisdn: str, *, limit: int = 3) -> list[TicketFacts]:
        return self.my_tickets[:limit]

    def record_complaint(self, msisdn: str, complaint: ComplaintRequest) -> str:
        self.recorded.append(complaint)
        return f"cmp-{len(self.recorded)}"

    def complaints(self, msisdn: str, *, limit: int = 3) -> list[ComplaintFacts]:
        return self.mine[:limit]

    def reopen_complaint(self, msisdn: str, complaint_id: str, note: str) -> ComplaintFacts:
        self.reopened.append((complaint_id, note))
        return ComplaintFacts(complaint_id, "unexplained_charge", "reopened", _at(11, 2), datetime(2026, 12, 4, 15, tzinfo=TZ))

    def hand_off(self, msisdn: str, reason: str, conversation_id: str) -> str:
        return "handoff-1"

    def plan_advice(self, msisdn: str) -> AdviceFacts | None:
        return None

    def offer_aliases(self) -> Mapping[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in DEMO_OFFER_ALIASES.items()}


def _talk(port: Port, messages: list[str]):  # type: ignore[no-untyped-def]
    a = Assistant(classify, port)
    conv = a.start(ME)
    return [a.say(conv, m) for m in messages]


# -- F3: the plan fee is a charge, and the amount named picks it -----------------------------------------------
def test_the_plan_fee_is_explained_when_it_is_the_only_charge() -> None:
    bill, how = _talk(Port(), ["帮我查一下9月的账单", "这笔费用是怎么来的"])
    assert "129.00 元" in bill.text
    assert "没有收费的记录" not in how.text and "星座运势" not in how.text
    assert "129.00 元是套餐月费" in how.text and "无限流量 129 元" in how.text and "在网 30 天" in how.text
    assert "只有套餐月费 129.00 元，没有" in how.text and how.waiting_for is None
    assert how.data["item"] == "plan_fee"


def test_the_amount_named_is_the_plan_fee_not_a_blocked_charge() -> None:
    (fee,) = _talk(Port(), ["9月为什么扣了我129元"])
    assert "套餐月费" in fee.text and "星座运势" not in fee.text and fee.waiting_for is None
    # after an offer to record a complaint about the blocked charge, a question about the fee is answered
    blocked, monthly = _talk(Port(), ["9月为什么扣了我6块钱", "月租129是什么"])
    assert "星座运势" in blocked.text and blocked.waiting_for == "confirm"
    assert "请回复" not in monthly.text and "套餐月费" in monthly.text


def test_a_fee_for_part_of_the_month_is_told_pro_rated() -> None:
    port = Port(fee_days=12, bills={"2026-09": BillFacts(ME, "2026-09", "CNY", 5160, (
        BillItem("plan_fee", Text("套餐月费 · 无限流量 129 元", "Monthly fee · Unlimited 129"), 5160),), issued=True, bill_id="b")})
    (fee,) = _talk(port, ["9月为什么扣了我51.6元"])
    assert "在网 12 天（共 30 天）" in fee.text and "折算" in fee.text and "51.60 元" in fee.text


def test_with_usage_charges_too_the_fee_is_offered_among_them() -> None:
    port = Port(monthly={"2026-09": [_usage("r-call", "voice", 5, 1200), _usage("r-sms", "sms", 6, 10)]}, bills={"2026-09": BillFacts(
        ME, "2026-09", "CNY", 14110, (BillItem("plan_fee", Text("套餐月费", "Monthly fee"), 12900),
                                       BillItem("voice", Text("通话", "Calls"), 1200), BillItem("sms", Text("短信", "SMS"), 10)),
        issued=True, bill_id="b")})
    listed, chosen = _talk(port, ["9月这笔费用是怎么来的", "3"])
    assert listed.waiting_for == "charge" and "3. 2026-09 套餐月费 129.00 元" in listed.text
    assert "12.00 元" in listed.text and "0.10 元" in listed.text
    assert chosen.data["item"] == "plan_fee" and "套餐月费" in chosen.text


# -- F2: what was spent roaming, and the kind named -----------------------------------------------------------
def _sg_trip() -> Port:
    sg = [_usage("c1", "voice", 10, 1990, country="SG"), _usage("c2", "voice", 11, 1592, country="SG"),
          _usage("s1", "sms", 10, 79, country="SG")] + [_usage(f"d{n}", "data", 10 + n, 3000, country="SG") for n in range(4)]
    return Port(monthly={"2026-09": [*sg, _usage("home", "voice", 2, 500), _usage("jp", "voice", 20, 700, country="JP")]})


def test_the_roaming_spent_in_a_country_is_summed_per_kind_from_the_charges() -> None:
    port = _sg_trip()
    spent, why = _talk(port, ["我在新加坡漫游花了多少钱", "为什么漫游流量扣了这么多"])
    assert "2026-09 您在新加坡的漫游费用共 156.61 元" in spent.text
    assert "通话：35.82 元（2 笔）" in spent.text and "短信：0.79 元（1 笔）" in spent.text and "流量：120.00 元（4 笔）" in spent.text
    assert "资费如下" not in spent.text and port.roaming_reads == []
    assert spent.data["total_minor"] == 15661
    assert why.waiting_for == "charge" and "通话" not in why.text and why.text.count("流量") == 4


# -- F20: every country -------------------------------------------------------------------------------------
def test_a_country_outside_the_old_list_is_known() -> None:
    port = Port(language="en")
    (call,) = _talk(port, ["how much to call Nigeria?"])
    assert call.waiting_for is None and "Calling Nigeria from home (+234" in call.text and port.destinations == ["NG"]
    port = Port()
    (roam,) = _talk(port, ["去尼日利亚漫游怎么收费"])
    assert roam.waiting_for is None and "在尼日利亚" in roam.text and port.roaming_reads == ["NG"]


# -- F19: the cap does what it does ---------------------------------------------------------------------------
def test_the_roaming_cap_is_told_as_it_works() -> None:
    port = Port()
    prices, confirm, done, remove = _talk(port, ["新加坡漫游怎么收费", "把漫游上限设为200元", "确认", "取消漫游上限"])
    for reply in (prices, confirm):
        assert "仅作记录" not in reply.text and "80%" in reply.text and "退还" in reply.text
    assert "200.00 元吗" in confirm.text and " 吗" not in confirm.text
    assert done.action == "roaming_cap_set" and port.caps == [Decimal("200")]
    assert "不再" in remove.text and "退还" in remove.text


# -- F8: refunds told from the ledger ---------------------------------------------------------------------------
def _refunded() -> Port:
    pending = AdjustmentFacts("adj-1", "refund", Money.of("3.00", "CNY"), "精美壁纸 未确认订购扣费退款", _at(11, 27, 9), "2026-10",
                              corrects="2026-09")
    old = AdjustmentFacts("adj-0", "credit", Money.of("10.00", "CNY"), "网络故障补偿", _at(8, 20), "2026-08", bill_id="bill-0829")
    current = BillFacts(ME, "2026-11", "CNY", 12900, (BillItem("plan_fee", Text("套餐月费", "Monthly fee"), 12900),),
                        issued=False, rated=False)
    return Port(ledger=[pending, old], bills={"2026-09": FEE_ONLY, "2026-11": current})


def test_a_refund_is_told_from_the_ledger_pending_or_carried() -> None:
    port = _refunded()
    status, wallpaper, bill = _talk(port, ["我的退款到账了吗", "壁纸那3块钱退了没有", "11月的账单多少钱"])
    assert "3.00 元" in status.text and "尚未到账，将在 2026-10 账单中抵扣" in status.text
    assert "已在 2026-08 账单（账单号 bill-0829）中抵扣" in status.text and status.waiting_for is None
    assert wallpaper.waiting_for is None and "退订" not in wallpaper.text and port.cancelled == []
    assert "3.00 元" in wallpaper.text and "10.00" not in wallpaper.text
    assert "另有退款 3.00 元尚未入账，将在 2026-10 账单中抵扣" in bill.text


# -- F7: a complaint keeps the words and the charge ----------------------------------------------------------
def test_a_refund_request_after_an_explained_charge_keeps_the_words_and_the_record() -> None:
    call = ChargeFacts("1790675646.25258-1381", "voice", _at(9, 29), 3200, "CNY", "intl/voice-intl-3", rule_name=Text("国际三类", "Intl 3"))
    port = Port(language="en", monthly={"2026-09": [call]})
    explained, complaint = _talk(port, ["why was I charged 32 yuan on September 29?", "I want a refund for that call, I never called Nigeria"])
    assert explained.data["record_id"] == call.record_id
    assert complaint.action == "complaint_recorded" and complaint.waiting_for is None
    (recorded,) = port.recorded
    assert recorded.text.startswith("I want a refund for that call, I never called Nigeria")
    assert "2026-09-29" in recorded.text and "32.00 CNY" in recorded.text
    assert recorded.links["record_id"] == call.record_id and recorded.category == "billing_error"


def test_a_complaint_about_a_blocked_charge_has_no_verdict_code() -> None:
    port = Port()
    offer, yes = _talk(port, ["9月为什么扣了我6块钱", "确认"])
    assert offer.waiting_for == "confirm" and yes.action == "complaint_recorded"
    (recorded,) = port.recorded
    assert "not_confirmed" not in recorded.text and "订购未确认" in recorded.text and "星座运势" in recorded.text
    assert recorded.text.startswith("9月为什么扣了我6块钱") and recorded.links["record_id"] == "v0000000069"


# -- F9, F5: an overdue complaint, and a resolved one reopened ----------------------------------------------------
def test_an_overdue_complaint_is_told_overdue_not_due_on_a_past_day() -> None:
    late = ComplaintFacts("cmp-0000024", "unexplained_charge", "opened", _at(9, 27), datetime(2026, 9, 29, 15, 29, tzinfo=TZ),
                          escalation_level=2)
    (en,) = _talk(Port(language="en", mine=[late]), ["what is the status of my complaints?"])
    assert "to be resolved by" not in en.text and "overdue" in en.text and "escalated" in en.text and "sorry" in en.text
    (zh,) = _talk(Port(mine=[late]), ["我的投诉处理得怎么样了"])
    assert "已超过承诺的处理时限" in zh.text and "预计" not in zh.text


def test_a_dissatisfied_subscriber_is_offered_to_reopen_and_told_the_outcome() -> None:
    settled = ComplaintFacts("cmp-9", "unexplained_charge", "resolved", _at(11, 20), _at(11, 22), settled_at=_at(11, 21),
                             refund=Money.of("3.00", "CNY"), refund_id="adj-1")
    port = Port(mine=[settled])
    status, offer, done = _talk(port, ["我的投诉处理得怎么样了", "我对投诉处理结果不满意", "确认"])
    assert "已为您退款 3.00 元" in status.text and "重新开启" in status.text
    assert offer.waiting_for == "confirm" and "cmp-9" in offer.text and "已为您退款 3.00 元" in offer.text
    assert done.action == "complaint_reopened" and port.reopened == [("cmp-9", "我对投诉处理结果不满意")]
    assert port.recorded == []
    closed = ComplaintFacts("cmp-8", "unexplained_charge", "closed", _at(11, 20), _at(11, 22), settled_at=_at(11, 21))
    (told,) = _talk(Port(mine=[closed]), ["我对投诉处理结果不满意"])
    assert "已结案" in told.text and told.waiting_for is None


# -- F24: a ticket's progress ------------------------------------------------------------------------------------
def test_a_ticket_status_question_reads_the_tickets_and_opens_none() -> None:
    port = Port(my_tickets=[TicketFacts("tkt_01", "no_signal", "resolved", _at(11, 26), _at(11, 27, 9)),
                            TicketFacts("tkt_00", "agent_handoff", "open", _at(11, 20))])
    fault, progress = _talk(port, ["我报的故障处理得怎么样了", "我的工单进度"])
    for reply in (fault, progress):
        assert "tkt_01（没有信号，2026-11-26 提交）：已处理（2026-11-27）" in reply.text
        assert "tkt_00（转人工咨询" in reply.text and reply.waiting_for is None
    assert port.opened == []


# -- F17: the loyalty ledger's reasons in the reply's language ------------------------------------------------------
def test_loyalty_ledger_reasons_are_said_in_english() -> None:
    port = Port(language="en", points=[LoyaltyEntryFacts("earn", 134, "账单积分 2026-08", _at(9, 1))])
    (points,) = _talk(port, ["how many loyalty points do I have?"])
    assert "bill points 2026-08" in points.text and "账单积分" not in points.text
