"""Complaints in the subscriber's language: from churners, from victims of unwanted VAS charges, from
travellers with a roaming bill shock, and a background of ordinary ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from fairtel.synth import _params as P
from fairtel.synth._population import CHURN_REASONS, Population, Window
from fairtel.synth._vas import rfc3339_s

CHANNELS: tuple[str, ...] = ("hotline", "app", "web", "store", "regulator")
CHANNEL_SHARE = np.array([0.45, 0.3, 0.12, 0.1, 0.03])

TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "vas": {
        "zh": ("我从来没有订购过{offer}，为什么每月扣我{amount}元？请退款。",
               "话费里多了一笔{offer}的费用{amount}元，我根本不知道这个业务，要求取消并退还。",
               "我已经退订了{offer}，怎么还在扣费？", "半夜收到订购{offer}的短信，我没有确认过，请查一下。"),
        "en": ("I never ordered {offer}, why am I charged {amount} CNY every month? Please refund.",
               "There is a {amount} CNY charge for {offer} on my bill that I don't recognise. Cancel it and refund me.",
               "I cancelled {offer} but I'm still being charged.",
               "I got a message at night saying I subscribed to {offer}. I never confirmed anything."),
    },
    "roaming": {
        "zh": ("在{country}旅行几天，流量费用高得离谱，为什么没有提醒？", "出境后手机上网扣了很多钱，没有收到任何流量提醒短信。"),
        "en": ("A few days in {country} and my data bill is enormous. Why was there no warning?",
               "My roaming data charges are huge and I never got a usage alert."),
    },
    "price": {
        "zh": ("套餐太贵了，别家同样的钱流量多一倍。", "月租一直在涨，考虑换运营商了。"),
        "en": ("My plan is too expensive, other operators give twice the data for the same price.",
               "The monthly fee keeps going up, I'm thinking of switching operator."),
    },
    "network": {
        "zh": ("家里信号很差，经常打不通电话。", "最近上网速度特别慢，晚上几乎用不了。"),
        "en": ("Signal at home is very poor and calls keep dropping.",
               "Mobile data has been very slow lately, almost unusable in the evening."),
    },
    "billing": {
        "zh": ("这个月账单比平时多了很多，看不懂是哪里来的费用。", "账单明细和我的实际使用对不上。"),
        "en": ("This month's bill is much higher than usual and I can't tell where the charges come from.",
               "The itemised bill doesn't match what I actually used."),
    },
    "service": {
        "zh": ("客服电话一直打不进去，等了半小时。", "营业厅办理业务排队太久，工作人员态度也不好。"),
        "en": ("I couldn't get through to customer service, I waited half an hour.",
               "The queue at the store was very long and the staff were unhelpful."),
    },
}


@dataclass(frozen=True, slots=True)
class Complaint:
    at_s: int
    sub: int
    category: str
    offer: int | None = None
    country: int | None = None


def build_complaints(rng: np.random.Generator, pop: Population, window: Window,
                     grievances: list[tuple[int, int, str, str]]) -> tuple[list[Complaint], np.ndarray]:
    """Complaints and, per subscriber, how many each one filed."""
    days = window.days
    out: list[Complaint] = []

    def daytime(day: int) -> int:
        return int(window.day_start[day]) + int(rng.integers(8 * 3600, 22 * 3600))

    offer_index = {o.offer_id: i for i, o in enumerate(P.OFFERS)}
    for sub, at, category, offer_id in grievances:
        t = at + int(rng.integers(3600, 3 * 86400))
        if t < window.end_s:
            out.append(Complaint(t, sub, category, offer=offer_index[offer_id]))
    for c in np.flatnonzero(pop.churn_from >= 0).tolist():
        if rng.random() < 0.7:
            for _ in range(int(rng.integers(1, 4))):
                day = int(rng.integers(max(0, int(pop.churn_from[c]) - 5), days))
                out.append(Complaint(daytime(day), c, CHURN_REASONS[int(pop.churn_reason[c])]))
    for t in np.flatnonzero(pop.shock).tolist():
        if rng.random() < 0.6:
            day = min(days - 1, int(pop.trip_start[t] + pop.trip_len[t]) + int(rng.integers(0, 3)))
            out.append(Complaint(daytime(day), t, "roaming", country=int(pop.trip_country[t])))
    others = np.flatnonzero((pop.churn_from < 0) & (pop.simbox < 0))
    background = ("network", "billing", "service", "price")
    for o in others[rng.random(len(others)) < 0.004].tolist():
        day = int(rng.integers(int(pop.first_day[o]), max(int(pop.first_day[o]) + 1, int(pop.until_day[o]))))
        out.append(Complaint(daytime(min(day, days - 1)), o, background[int(rng.integers(0, 4))]))
    out.sort(key=lambda c: (c.at_s, c.sub, c.category))
    counts = np.bincount(np.array([c.sub for c in out], dtype=np.int64), minlength=pop.n)
    return out, counts


def complaint_rows(rng: np.random.Generator, complaints: list[Complaint], pop: Population,
                   window: Window) -> list[dict[str, Any]]:
    zi = ZoneInfo(window.tz)
    rows = []
    for i, c in enumerate(complaints):
        lang = "en" if pop.english[c.sub] else "zh"
        choices = TEMPLATES[c.category][lang]
        offer = P.OFFERS[c.offer] if c.offer is not None else None
        text = choices[int(rng.integers(0, len(choices)))].format(
            offer=(offer.name_en if lang == "en" else offer.name_zh) if offer else "",
            amount=offer.amount if offer else "",
            country=P.ROAM_NAMES[P.ROAM_COUNTRIES[c.country]][lang == "en"] if c.country is not None else "",
        )
        rows.append({
            "complaint_id": f"cmp-{i + 1:07d}",
            "msisdn": str(pop.msisdn[c.sub]),
            "at": rfc3339_s(c.at_s, zi),
            "category": c.category,
            "channel": CHANNELS[int(rng.choice(len(CHANNELS), p=CHANNEL_SHARE))],
            "language": lang,
            "text": text,
            **({"offer_id": offer.offer_id} if offer else {}),
        })
    return rows


# NPS answers, as the operator's survey system delivers them: after a complaint is resolved (a share of the
# complainants answer, harsher the worse the grievance) and a relationship survey of a random sample of lines
# (churners in the sample mostly detractors). Probabilities of (detractor 0-6, passive 7-8, promoter 9-10).
AFTER_COMPLAINT = {"vas": (0.55, 0.3, 0.15), "roaming": (0.5, 0.3, 0.2), "price": (0.7, 0.25, 0.05),
                   "network": (0.6, 0.3, 0.1), "billing": (0.45, 0.35, 0.2), "service": (0.65, 0.25, 0.1)}
RELATIONSHIP = (0.25, 0.35, 0.4)
CHURNER = (0.75, 0.2, 0.05)
ANSWER_SHARE = 0.35  # of resolved complaints
SAMPLE_SHARE = 0.03  # of lines, once in the window
COMMENTS = {
    "zh": {0: ("问题到现在也没解决。", "扣费不明不白，很失望。"), 1: ("处理得还行，就是太慢。",), 2: ("客服很耐心，问题很快解决了。",)},
    "en": {0: ("Still not fixed.", "Charges I never understood. Disappointed."), 1: ("Fine, but slow.",),
           2: ("Helpful agent, sorted out quickly.",)},
}


def _score(rng: np.random.Generator, probs: tuple[float, float, float]) -> tuple[int, int]:
    group = int(rng.choice(3, p=np.array(probs)))
    lo, hi = ((0, 6), (7, 8), (9, 10))[group]
    return int(rng.integers(lo, hi + 1)), group


def survey_rows(rng: np.random.Generator, complaints: list[Complaint], rows: list[dict[str, Any]], pop: Population,
                window: Window) -> list[dict[str, Any]]:
    """``surveys.jsonl``: survey_id, msisdn, answered_at, score (0-10), channel, language, comment and, after a
    complaint, its complaint_id."""
    zi = ZoneInfo(window.tz)
    out: list[tuple[int, dict[str, Any]]] = []

    def row(sub: int, at_s: int, probs: tuple[float, float, float], channel: str, **extra: Any) -> None:
        score, group = _score(rng, probs)
        lang = "en" if pop.english[sub] else "zh"
        comment = None
        if rng.random() < 0.4:
            texts = COMMENTS[lang][group]
            comment = texts[int(rng.integers(0, len(texts)))]
        out.append((at_s, {"msisdn": str(pop.msisdn[sub]), "answered_at": rfc3339_s(at_s, zi), "score": score,
                           "channel": channel, "language": lang, "comment": comment, **extra}))

    for c, r in zip(complaints, rows, strict=True):
        at = c.at_s + int(rng.integers(2 * 86400, 8 * 86400))  # resolved, then asked
        if at < window.end_s and rng.random() < ANSWER_SHARE:
            row(c.sub, at, AFTER_COMPLAINT[c.category], "sms", complaint_id=r["complaint_id"])
    sample = np.flatnonzero((rng.random(pop.n) < SAMPLE_SHARE) & (pop.simbox < 0))
    for s in sample.tolist():
        lo = max(int(window.day_start[int(pop.first_day[s])]), int(pop.activated_at[s]) + 86400)
        if lo >= window.end_s:
            continue
        at = int(rng.integers(lo, window.end_s))
        row(s, at, CHURNER if pop.churn_from[s] >= 0 else RELATIONSHIP, "app")
    out.sort(key=lambda x: (x[0], x[1]["msisdn"]))
    return [{"survey_id": f"nps-{i + 1:07d}", **r} for i, (_, r) in enumerate(out)]
