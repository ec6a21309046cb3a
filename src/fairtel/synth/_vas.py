"""Value-added services: subscriptions in the consent ledger and the charges content providers claim.

Ordinary subscribers order an offer, confirm it a few seconds to minutes later (the second confirmation),
and are charged monthly from the confirmation (or per use) until they cancel or the subscription expires.
Injected on top, each labelled in the ground truth: charges with no subscription, charges after a
cancellation, and two fee-stealing merchants whose "confirmations" come at machine speed, whose orders come
at night, whose victims cancel quickly, and who also charge orders that were never confirmed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from fairtel.synth import _params as P
from fairtel.synth._population import Population, Window

DAY_MS = 86_400_000
CONFIRM_EVIDENCE = {"sms": "sms-reply:Y", "app": "app:confirm-tap", "web": "web:otp-verified",
                    "store": "store:signed-form", "ivr": "ivr:key-1"}
CANCEL_EVIDENCE = {"sms": "sms:TD", "app": "app:unsubscribe", "web": "web:unsubscribe", "store": "store:signed-form",
                   "ivr": "ivr:key-9"}


@dataclass(slots=True)
class Subscription:
    sid: str
    sub: int
    offer: int
    channel: str
    ordered_ms: int
    confirmed_ms: int | None
    ended_ms: int | None = None
    ended_by: str | None = None  # "cancelled" | "expired"
    stealer: bool = False
    charge_unconfirmed: bool = False


@dataclass(slots=True)
class Charge:
    at_s: int
    sub: int
    offer: int
    sid: str | None
    label: str | None = None  # None (consented), "no_subscription", "not_confirmed", "after_cancellation"
    record_id: str = ""


@dataclass(slots=True)
class VasResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    grievances: list[tuple[int, int, str, str]] = field(default_factory=list)  # (sub, at_s, category, offer_id)


def _add_months(local: datetime, k: int) -> datetime:
    y, m = divmod(local.month - 1 + k, 12)
    year, month = local.year + y, m + 1
    nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    last = (nxt - timedelta(days=1)).day
    return local.replace(year=year, month=month, day=min(local.day, last))


class _Builder:
    def __init__(self, rng: np.random.Generator, pop: Population, window: Window) -> None:
        self.rng = rng
        self.pop = pop
        self.win = window
        self.zi = ZoneInfo(window.tz)
        self.ws_ms = window.begin_s * 1000
        self.we_ms = window.end_s * 1000
        self.subs: list[Subscription] = []
        self.charges: list[Charge] = []

    def _sid(self) -> str:
        return f"sub-{len(self.subs) + 1:07d}"

    def _local(self, ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=self.zi)

    def _order_time(self, sub: int, lo_ms: int, night: bool) -> int | None:
        lo = max(lo_ms, int(self.pop.activated_at[sub]) * 1000 + 3_600_000)
        hi = min(self.we_ms - DAY_MS // 2, int(self.win.day_start[self.pop.until_day[sub]]) * 1000 - DAY_MS // 2)
        if hi <= lo:
            return None
        day0 = self._local(lo).replace(hour=0, minute=0, second=0, microsecond=0)
        span_days = max(1, (hi - int(day0.timestamp() * 1000)) // DAY_MS)
        for _ in range(4):
            d = day0 + timedelta(days=int(self.rng.integers(0, span_days)))
            hour = int(self.rng.integers(0, 6)) if night else int(self.rng.integers(8, 22))
            t = d.replace(hour=hour) + timedelta(seconds=float(self.rng.uniform(0, 3600)))
            ms = int(t.timestamp() * 1000)
            if lo <= ms < hi:
                return ms
        return None

    def subscribe(self, sub: int, offer: int, *, stealer: bool) -> Subscription | None:
        rng = self.rng
        if stealer:
            ordered = self._order_time(sub, self.ws_ms - 25 * DAY_MS, night=rng.random() < 0.7)
            channel = "web" if rng.random() < 0.6 else "sms"
        else:
            ordered = self._order_time(sub, self.ws_ms - 365 * DAY_MS, night=False)
            channel = P.CONSENT_CHANNELS[int(rng.choice(len(P.CONSENT_CHANNELS), p=P.CONSENT_CHANNEL_SHARE))]
        if ordered is None:
            return None
        s = Subscription(self._sid(), sub, offer, channel, ordered, None, stealer=stealer)
        if stealer:
            u = rng.random()
            if u < 0.2:
                s.charge_unconfirmed = True
            elif u < 0.8:
                s.confirmed_ms = ordered + int(rng.uniform(300, 1900))  # machine speed
            else:
                s.confirmed_ms = ordered + int(min(1800.0, rng.lognormal(np.log(35), 0.7)) * 1000)
            if s.confirmed_ms is not None and rng.random() < 0.5:
                s.ended_ms, s.ended_by = s.confirmed_ms + int(rng.uniform(600, 48 * 3600) * 1000), "cancelled"
        else:
            if rng.random() < 0.93:
                s.confirmed_ms = ordered + int(min(1800.0, max(4.0, rng.lognormal(np.log(40), 0.9))) * 1000)
                u = rng.random()
                if u < 0.25:
                    s.ended_ms, s.ended_by = s.confirmed_ms + int(max(1.0, rng.exponential(120)) * DAY_MS), "cancelled"
                elif u < 0.30:
                    s.ended_ms, s.ended_by = s.confirmed_ms + 90 * DAY_MS, "expired"
        if s.confirmed_ms is None:
            s.ended_ms, s.ended_by = ordered + DAY_MS, "expired"
        self.subs.append(s)
        return s

    def schedule(self, start_ms: int, offer: int, until_ms: int | None) -> list[int]:
        """Charge times (epoch s) inside the window from a subscription start, before ``until_ms``."""
        rng = self.rng
        o = P.OFFERS[offer]
        end = self.we_ms if until_ms is None else min(until_ms, self.we_ms)
        out: list[int] = []
        if o.monthly:
            first = start_ms + int(rng.uniform(5, 120) * 1000)
            if first < end:
                out.append(first // 1000)
            base = self._local(start_ms)
            k = 1
            while True:
                t = _add_months(base, k).replace(hour=int(rng.integers(2, 6)), minute=int(rng.integers(0, 60)))
                ms = int(t.timestamp() * 1000)
                if ms >= end:
                    break
                out.append(ms // 1000)
                k += 1
        else:
            lo = max(start_ms + 60_000, self.ws_ms)
            if end > lo:
                n = int(rng.poisson(2.0 * (end - lo) / (30 * DAY_MS)))
                out.extend(int(x) for x in np.sort(rng.uniform(lo, end, n)) // 1000)
        return [t for t in out if t * 1000 >= self.ws_ms]

    def after_cancel(self, s: Subscription) -> list[int]:
        """What a provider that ignores a cancellation keeps charging (epoch s, inside the window)."""
        assert s.ended_ms is not None and s.confirmed_ms is not None
        o = P.OFFERS[s.offer]
        if o.monthly:
            later = [t for t in self.schedule(s.confirmed_ms, s.offer, None) if t * 1000 > s.ended_ms + 3_600_000]
            return later[:2]
        lo = max(s.ended_ms + 3_600_000, self.ws_ms)
        if lo >= self.we_ms:
            return []
        return [int(self.rng.uniform(lo, self.we_ms)) // 1000]


def build_vas(rng: np.random.Generator, pop: Population, window: Window) -> VasResult:
    b = _Builder(rng, pop, window)
    n = pop.n
    res = VasResult()
    eligible = np.flatnonzero(pop.simbox < 0)
    if n < 20 or len(eligible) == 0:
        return res
    order = rng.permutation(eligible)
    n_stealer_victims = max(5, round(0.012 * n))
    stealer_offers = [i for i, o in enumerate(P.OFFERS) if o.merchant in P.FEE_STEALERS]
    pos = 0
    # Fee-stealing merchants' victims first (disjoint from the no-consent victims below).
    for off in stealer_offers:
        for sub in order[pos : pos + n_stealer_victims]:
            b.subscribe(int(sub), off, stealer=True)
        pos += n_stealer_victims
    n_plain = max(1, round(0.004 * n))
    plain_victims = order[pos : pos + n_plain]
    pos += n_plain
    rest = order[pos:]
    buyers = rest[rng.random(len(rest)) < 0.15]
    for sub in buyers:
        k = 2 if rng.random() < 0.2 else 1
        offers = rng.choice(len(P.OFFERS), size=k, replace=False, p=P.OFFER_WEIGHTS)
        for off in sorted(int(x) for x in offers):
            b.subscribe(int(sub), off, stealer=False)

    # Charges under the ledger, then the injected ones.
    # Cancellations recent enough that a provider could still be billing them by mistake.
    cancelled = [s for s in b.subs if s.ended_by == "cancelled" and s.ended_ms is not None
                 and b.ws_ms - 45 * DAY_MS <= s.ended_ms < b.we_ms - DAY_MS]
    for s in b.subs:
        if s.confirmed_ms is not None:
            for t in b.schedule(s.confirmed_ms, s.offer, s.ended_ms):
                b.charges.append(Charge(t, s.sub, s.offer, s.sid))
        elif s.charge_unconfirmed:
            for t in b.schedule(s.ordered_ms + int(rng.uniform(30, 300) * 1000), s.offer, None):
                b.charges.append(Charge(t, s.sub, s.offer, s.sid, "not_confirmed"))
                res.grievances.append((s.sub, t, "vas", P.OFFERS[s.offer].offer_id))
    # Providers that ignore some cancellations; at least one such charge whenever one is possible.
    ignored = {s.sid: b.after_cancel(s) for s in cancelled if rng.random() < (0.4 if s.stealer else 0.2)}
    if not any(ignored.values()):
        for s in cancelled:
            assert s.ended_ms is not None
            lo = max(s.ended_ms + 3_600_000, b.ws_ms)
            late = b.after_cancel(s) or ([int(rng.uniform(lo, b.we_ms)) // 1000] if lo < b.we_ms else [])
            if late:
                ignored[s.sid] = late
                break
    for s in cancelled:
        for t in ignored.get(s.sid, []):
            b.charges.append(Charge(t, s.sub, s.offer, s.sid, "after_cancellation"))
            if rng.random() < 0.5:
                res.grievances.append((s.sub, t, "vas", P.OFFERS[s.offer].offer_id))
    plain_offers = [i for i, o in enumerate(P.OFFERS) if o.merchant not in P.FEE_STEALERS]
    for sub in plain_victims:
        off = int(rng.choice(plain_offers))
        t = int(rng.uniform(window.begin_s, window.end_s - 3600))
        if t < int(pop.activated_at[sub]) or t >= int(window.day_start[pop.until_day[sub]]):
            continue
        b.charges.append(Charge(t, int(sub), off, None, "no_subscription"))
        if rng.random() < 0.4:
            res.grievances.append((int(sub), t, "vas", P.OFFERS[off].offer_id))
    for s in b.subs:
        if s.stealer and rng.random() < 0.25:
            at = (s.confirmed_ms or s.ordered_ms) // 1000 + int(rng.uniform(3600, 5 * 86400))
            if window.begin_s <= at < window.end_s:
                res.grievances.append((s.sub, at, "vas", P.OFFERS[s.offer].offer_id))

    b.charges.sort(key=lambda c: (c.at_s, c.sub, c.offer))
    for i, c in enumerate(b.charges):
        c.record_id = f"v{i + 1:010d}"
    res.charges = b.charges
    res.subscriptions = b.subs
    res.events = consent_events(b.subs, pop, window)
    return res


def rfc3339_ms(ms: int, zi: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zi).isoformat(timespec="milliseconds")


def rfc3339_s(s: int, zi: ZoneInfo) -> str:
    return datetime.fromtimestamp(s, tz=UTC).astimezone(zi).isoformat(timespec="seconds")


def consent_events(subs: list[Subscription], pop: Population, window: Window) -> list[dict[str, Any]]:
    zi = ZoneInfo(window.tz)
    rows: list[tuple[int, int, str, dict[str, Any]]] = []
    rank = {"ordered": 0, "confirmed": 1, "cancelled": 2, "expired": 2}
    for s in subs:
        o = P.OFFERS[s.offer]
        base = {"subscription_id": s.sid, "msisdn": str(pop.msisdn[s.sub]), "offer_id": o.offer_id}
        evs: list[tuple[str, int, str, str]] = [("ordered", s.ordered_ms, s.channel, f"order-from:{o.merchant}")]
        if s.confirmed_ms is not None:
            evs.append(("confirmed", s.confirmed_ms, s.channel, CONFIRM_EVIDENCE[s.channel]))
        if s.ended_ms is not None and s.ended_ms < window.end_s * 1000:
            if s.ended_by == "cancelled":
                evs.append(("cancelled", s.ended_ms, "sms" if s.stealer else s.channel,
                            CANCEL_EVIDENCE["sms" if s.stealer else s.channel]))
            else:
                why = "term-ended" if s.confirmed_ms is not None else "no-confirmation-24h"
                evs.append(("expired", s.ended_ms, s.channel, why))
        for kind, ms, channel, evidence in evs:
            row = {"event": kind, **base, "at": rfc3339_ms(ms, zi), "channel": channel, "evidence": evidence}
            rows.append((ms, rank[kind], s.sid, row))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [r[3] for r in rows]


def charge_row(c: Charge, pop: Population, zi: ZoneInfo) -> dict[str, Any]:
    o = P.OFFERS[c.offer]
    return {"record_id": c.record_id, "source": P.SOURCE_VAS, "msisdn": str(pop.msisdn[c.sub]), "kind": "vas",
            "started_at": rfc3339_s(c.at_s, zi), "offer_id": o.offer_id, "amount": o.amount, "currency": P.CURRENCY}


def vas_truth(res: VasResult, pop: Population, window: Window) -> dict[str, list[dict[str, Any]]]:
    zi = ZoneInfo(window.tz)
    by_sid = {s.sid: s for s in res.subscriptions}
    no_consent: list[dict[str, Any]] = []
    after: list[dict[str, Any]] = []
    for c in res.charges:
        if c.label is None:
            continue
        o = P.OFFERS[c.offer]
        row = {"msisdn": str(pop.msisdn[c.sub]), "record_id": c.record_id, "source": P.SOURCE_VAS,
               "offer_id": o.offer_id, "merchant": o.merchant, "amount": o.amount, "currency": P.CURRENCY,
               "started_at": rfc3339_s(c.at_s, zi), "subscription_id": c.sid}
        if c.label == "after_cancellation":
            s = by_sid[c.sid or ""]
            assert s.ended_ms is not None
            after.append({"kind": "vas_after_cancellation", **row, "ended_at": rfc3339_ms(s.ended_ms, zi),
                          "ended_by": s.ended_by})
        else:
            no_consent.append({"kind": "vas_no_consent", **row, "reason": c.label})
    merchants: list[dict[str, Any]] = []
    for merchant in P.FEE_STEALERS:
        subs = [s for s in res.subscriptions if s.stealer and P.OFFERS[s.offer].merchant == merchant]
        sids = {s.sid for s in subs}
        charged = [c for c in res.charges if c.sid in sids]
        local_hours = [datetime.fromtimestamp(s.ordered_ms / 1000, tz=zi).hour for s in subs]
        amount = sum((Decimal(P.OFFERS[c.offer].amount) for c in charged), Decimal("0.00"))
        merchants.append({
            "kind": "fee_stealing_merchant",
            "merchant": merchant,
            "offer_ids": sorted({P.OFFERS[s.offer].offer_id for s in subs}),
            "orders": len(subs),
            "machine_speed_confirmations": sum(1 for s in subs if s.confirmed_ms is not None
                                               and s.confirmed_ms - s.ordered_ms < 2000),
            "night_orders": sum(1 for h in local_hours if h < 6),
            "quick_cancellations": sum(1 for s in subs if s.ended_by == "cancelled" and s.confirmed_ms is not None
                                       and s.ended_ms is not None and s.ended_ms - s.confirmed_ms <= 2 * DAY_MS),
            "unconfirmed_charges": sum(1 for c in charged if c.label == "not_confirmed"),
            "charges": len(charged),
            "amount_charged": str(amount),
            "currency": P.CURRENCY,
            "subscription_ids": sorted(sids),
            "record_ids": [c.record_id for c in charged],
        })
    return {"vas_no_consent": no_consent, "vas_after_cancellation": after, "fee_stealing_merchants": merchants}


def dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))
