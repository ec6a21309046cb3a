"""What the assistant walk left open, in Chinese and English: a refund asked for right after a service was cancelled, a
month whose only other charge the consent gate blocked, "我没订过星座运势，我要退款" about a blocked charge, turning
international roaming on, and a bare "家里" / "home" given to "where?". The intent engine is stood in for by the labels
the built-in model gives these messages (the rules under test come after it).

Before: "I want a refund" after the cancellation asked what it was about; "为啥扣我钱" → "9月" said only the plan fee;
the refund request recorded a complaint without a word on the blocked charge; "开通国际漫游" repeated a country's prices;
"家里" was the fault's place."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from test_care_gap_dialog import ME, Records, _sub
from test_care_gap_walk_assistant import CapRecords, _usage, _vas

from fairtel.care import Assistant, IntentPrediction, Reply, SubscriptionFacts, detect_language
from fairtel.care import _dialog_words as words
from fairtel.core.money import Money

# What the built-in model answers for these messages.
_LABELS = {
    "cancel it": ("vas_cancel", 1.0),
    "把彩铃退了": ("vas_cancel", 1.0),
    "yes": ("thanks", 0.78),
    "确认": ("thanks", 0.9),
    "I want a refund": ("complaint", 0.94),
    "我要退款": ("vas_cancel", 0.99),
    "为啥扣我钱": ("charge_explain", 1.0),
    "why was I charged?": ("charge_explain", 1.0),
    "9月": ("bill_inquiry", 0.46),
    "September": ("greeting", 0.52),
    "我没订过星座运势，我要退款": ("vas_cancel", 0.99),
    "I never ordered the horoscope, I want a refund": ("vas_cancel", 0.58),
    "下个月去日本，漫游怎么收费？": ("roaming", 1.0),
    "开通国际漫游": ("roaming", 1.0),
    "turn on international roaming": ("roaming", 1.0),
    "我家里没信号": ("fault_report", 1.0),
    "no signal at home": ("fault_report", 1.0),
    "家里": ("greeting", 0.92),
    "home": ("greeting", 0.83),
    "at home": ("greeting", 0.75),
    "我要投诉，你们乱扣费": ("complaint", 1.0),
}


def classify(text: str) -> IntentPrediction:
    label, confidence = _LABELS.get(text, ("out_of_scope", 0.4))
    return IntentPrediction(label, confidence, detect_language(text), label == "out_of_scope")


@dataclass
class Cancelling(CapRecords):
    """The records, where a cancellation goes through (each one noted)."""

    cancelled: list[str] = field(default_factory=list)

    def cancel_subscription(self, msisdn: str, subscription_id: str) -> SubscriptionFacts:
        self.cancelled.append(subscription_id)
        sub = next(s for s in self.subs[msisdn] if s.subscription_id == subscription_id)
        self.subs[msisdn] = [s for s in self.subs[msisdn] if s is not sub]
        return SubscriptionFacts(sub.subscription_id, sub.offer_id, sub.name, sub.provider, sub.price, sub.period,
                                 "cancelled", confirmed_at=sub.confirmed_at)


def _talk(data: Records, messages: list[str]) -> list[Reply]:
    a = Assistant(classify, data)
    conv = a.start(ME)
    return [a.say(conv, m) for m in messages]


def _ringtone(*, charged: bool = True) -> Cancelling:
    data = Cancelling()
    data.subs[ME] = [_sub("sub-44", "vas-ringtone-2", "彩铃下载", "Ringtone download", "2.00")]
    if charged:
        data.charge_list[(ME, "2026-09")] = [_vas(f"r{d}", d, amount_minor=200, verdict="consented") for d in (7, 24)]
    return data


def _blocked_horoscope(data: Records | None = None) -> Records:
    data = data if data is not None else Records()
    data.charge_list.setdefault((ME, "2026-09"), []).append(_vas("v-9", 29, amount_minor=0, verdict="not_confirmed",
                                                                 sub="sub-7"))
    return data


# -- 1. a refund asked for right after a cancellation is about the service just stopped -----------------------
@pytest.mark.parametrize(("cancel", "yes", "refund", "said"), [("cancel it", "yes", "I want a refund", "Ringtone download"),
                                                               ("把彩铃退了", "确认", "我要退款", "彩铃下载")])
def test_a_refund_after_a_cancellation_is_about_the_services_latest_charge(cancel: str, yes: str, refund: str,
                                                                             said: str) -> None:
    data = _ringtone()
    ask, done, reply = _talk(data, [cancel, yes, refund])
    assert ask.waiting_for == "confirm" and done.action == "subscription_cancelled" and data.cancelled == ["sub-44"]
    assert reply.waiting_for is None and reply.action == "complaint_recorded"  # never "what is it about?"
    assert reply.data["record_id"] == "r24" and said in reply.text and "2026-09-24" in reply.text
    assert "agent to check" in reply.text or "由专人核实" in reply.text  # confirmed when charged: whether a refund is due
    ((_, complaint),) = data.complaints
    assert complaint.links["record_id"] == "r24" and refund in complaint.text and "2026-09-24" in complaint.text


def test_a_refund_after_cancelling_a_service_never_charged_records_it_with_the_service() -> None:
    data = _ringtone(charged=False)
    *_, reply = _talk(data, ["把彩铃退了", "确认", "我要退款"])
    assert reply.action == "complaint_recorded" and reply.waiting_for is None and "彩铃下载" in reply.text
    ((_, complaint),) = data.complaints
    assert "彩铃下载" in complaint.text


def test_a_refund_with_nothing_cancelled_still_asks_what_it_is_about() -> None:
    (reply,) = _talk(_ringtone(), ["我要退款"])
    assert reply.waiting_for == "complaint_text" and reply.action is None


# -- 2. a month whose only other charge the consent gate blocked says so ------------------------------------
@pytest.mark.parametrize(("why", "month", "fee", "blocked"), [
    ("为啥扣我钱", "9月", "只有套餐月费", "另有一笔 2026-09-29“星座运势”的扣费因扣费前您没有确认这项订购已拦截，未扣费"),
    ("why was I charged?", "September", "only the plan fee", "Daily horoscope\" on 2026-09-29: blocked"),
])
def test_a_fee_only_month_names_the_charge_the_gate_blocked(why: str, month: str, fee: str, blocked: str) -> None:
    _, reply = _talk(_blocked_horoscope(), [why, month])
    assert reply.intent == "charge_explain" and fee in reply.text and blocked in reply.text, reply.text
    assert reply.data["blocked"] == ["v-9"] and reply.waiting_for is None


def test_a_charges_list_names_the_charge_the_gate_blocked_without_offering_it() -> None:
    data = Records()
    data.charge_list[(ME, "2026-09")] = [_usage("d1", 4, 482)]
    data.charge_list[(ME, "2026-09")].append(_usage("d2", 5, 371))
    _, listed = _talk(_blocked_horoscope(data), ["为啥扣我钱", "9月"])
    assert listed.waiting_for == "charge" and "已拦截，未扣费" in listed.text.splitlines()[-1]


# -- 3. "我没订过星座运势，我要退款": the blocked charge explained, then the complaint recorded with it ---------------
@pytest.mark.parametrize(("message", "nothing"), [("我没订过星座运势，我要退款", "没有需要退还的费用"),
                                                  ("I never ordered the horoscope, I want a refund", "nothing to refund")])
def test_a_refund_of_a_blocked_charge_is_explained_before_the_complaint(message: str, nothing: str) -> None:
    data = _blocked_horoscope()
    (reply,) = _talk(data, [message])
    assert reply.action == "complaint_recorded" and reply.data["blocked"] and reply.data["record_id"] == "v-9"
    assert nothing in reply.text
    explained, recorded = reply.text.index("拦截" if "拦截" in reply.text else "blocked"), reply.text.index("cmp-1")
    assert explained < recorded
    ((_, complaint),) = data.complaints
    assert complaint.category == "unexplained_charge" and complaint.links["record_id"] == "v-9"
    assert message.split("，")[0].split(",")[0] in complaint.text  # the subscriber's words, then the charge in words
    assert "2026-09-29" in complaint.text and ("星座运势" in complaint.text or "horoscope" in complaint.text.lower())


def test_a_complaint_of_charges_in_general_is_not_tied_to_a_service_agreed_to() -> None:
    data = _ringtone()  # its ringtone charges were confirmed: "你们乱扣费" names none of them
    (reply,) = _talk(data, ["我要投诉，你们乱扣费"])
    assert reply.action == "complaint_recorded" and "record_id" not in reply.data
    ((_, complaint),) = data.complaints
    assert complaint.category == "unexplained_charge" and "record_id" not in complaint.links


# -- 4. turning international roaming on: no switch here, said plainly, with the cap ---------------------------
def test_turning_roaming_on_after_a_country_says_there_is_no_switch_not_the_prices_again() -> None:
    data = CapRecords(cap=Money.of("200.00", "CNY"))
    prices, reply = _talk(data, ["下个月去日本，漫游怎么收费？", "开通国际漫游"])
    assert "2.99" in prices.text
    assert reply.intent == "roaming" and "没有国际漫游的开关" in reply.text and "2.99" not in reply.text
    assert "日本" in reply.text and "200.00 元" in reply.text and reply.data["switch"] is False


def test_turning_roaming_on_in_english_is_answered_in_english() -> None:
    (reply,) = _talk(CapRecords(), ["turn on international roaming"])
    assert reply.language == "en" and "no roaming switch" in reply.text and "haven't set" in reply.text
    assert reply.waiting_for is None and reply.data["cap"] is None


@pytest.mark.parametrize(("message", "switch"), [
    ("开通国际漫游", True), ("帮我开通漫游", True), ("how do I activate roaming", True), ("turn off roaming", True),
    ("开始漫游后怎么收费", False), ("开通漫游上限200元", False), ("set my roaming cap to 100", False)])
def test_what_turns_roaming_on(message: str, switch: bool) -> None:
    assert words.switches_roaming(message) is switch


# -- 5. a bare "家里" / "home" to "where?" is no address: asked again ------------------------------------------
@pytest.mark.parametrize(("report", "home", "place", "since"), [
    ("我家里没信号", "家里", "北京市朝阳区望京", "昨天开始"),
    ("no signal at home", "home", "Haidian district, Beijing", "since yesterday"),
    ("no signal at home", "at home", "Haidian district, Beijing", "since yesterday"),
])
def test_a_bare_home_given_for_the_place_is_asked_again(report: str, home: str, place: str, since: str) -> None:
    data = Records()
    where, again, when, done = _talk(data, [report, home, place, since])
    assert where.waiting_for == "fault_location"
    assert again.waiting_for == "fault_location" and again.action is None and f"{home.removeprefix('at ')}" in again.text
    assert when.waiting_for == "fault_since" and done.action == "ticket_opened"
    ((_, ticket),) = data.tickets
    assert ticket.location == place
