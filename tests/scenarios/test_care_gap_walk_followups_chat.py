"""The walk's open follow-ups through `fairtel assistant chat` with the built-in intent model on a real home: "I want a
refund" right after a cancellation, a month whose VAS charge the consent gate blocked, "我没订过这个业务，我要退款" about
that blocked charge, turning international roaming on, and a bare "家里" given to "where?".

Before: the refund asked what it was about, "为啥扣我钱" → "3月" never named the blocked charge, the refund request was
recorded without a word on it, "开通国际漫游" gave prices (or asked for a country), and "家里" became the ticket's place."""

from __future__ import annotations

from pathlib import Path

from test_care_gap_walk_injection import A, B, chat, home

__all__ = ["home"]  # the rated home of the injection walk (a news charge B never ordered, blocked; B's cloud storage)


def test_a_refund_right_after_a_cancellation_is_recorded_about_that_service(home: Path) -> None:
    ask, done, refund = chat(home, B, ["cancel cloud storage", "yes", "I want a refund"])
    assert ask["waiting_for"] == "confirm" and done["action"] == "subscription_cancelled", (ask["text"], done["text"])
    assert refund["action"] == "complaint_recorded" and refund["waiting_for"] is None, refund["text"]


def test_the_month_of_a_blocked_charge_names_it_and_a_refund_of_it_is_explained_first(home: Path) -> None:
    _, month = chat(home, B, ["为啥扣我钱", "3月"])
    assert month["intent"] == "charge_explain" and "已拦截，未扣费" in month["text"], month["text"]
    (refund,) = chat(home, B, ["我没订过这个业务，我要退款"])
    assert refund["action"] == "complaint_recorded" and refund["data"]["blocked"], refund["text"]
    assert "没有需要退还的费用" in refund["text"] and refund["text"].index("拦截") < refund["text"].index("已为您登记投诉")


def test_turning_roaming_on_and_a_bare_home(home: Path) -> None:
    zh, en = chat(home, A, ["开通国际漫游", "turn on international roaming"])
    assert zh["intent"] == "roaming" and "没有国际漫游的开关" in zh["text"] and zh["waiting_for"] is None, zh["text"]
    assert en["language"] == "en" and "no roaming switch" in en["text"], en["text"]
    _, again = chat(home, A, ["我家里没信号", "家里"])
    assert again["waiting_for"] == "fault_location" and again["action"] is None, again["text"]
