"""The subscriber base and who plays which part: churners, travellers, SIM-box lines, IRSF and Wangiri targets.

Everything here is a small per-subscriber array; the usage generator expands it into records chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from fairtel.synth import _params as P

NONE = -1


@dataclass(frozen=True, slots=True)
class Window:
    """The synthesised days: local midnights as UTC epoch seconds, and their weekday and UTC offset."""

    start: date
    days: int
    tz: str
    day_start: np.ndarray  # int64, days + 1 entries (the last is the end of the window)
    weekday: np.ndarray  # int8, Monday = 0
    offset_s: np.ndarray  # int64, UTC offset of each day in seconds

    @classmethod
    def of(cls, start: date, days: int, tz: str = P.TIMEZONE) -> Window:
        zi = ZoneInfo(tz)
        mids = [datetime(start.year, start.month, start.day, tzinfo=zi) + timedelta(days=d) for d in range(days + 1)]
        # Wall-clock midnights (re-attached to the zone so DST days are 23 or 25 hours long).
        mids = [datetime(m.year, m.month, m.day, tzinfo=zi) for m in mids]
        day_start = np.array([int(m.timestamp()) for m in mids], dtype=np.int64)
        weekday = np.array([m.weekday() for m in mids[:-1]], dtype=np.int8)
        offset = np.array([int(m.utcoffset().total_seconds()) for m in mids[:-1]], dtype=np.int64)  # type: ignore[union-attr]
        return cls(start, days, tz, day_start, weekday, offset)

    @property
    def begin_s(self) -> int:
        return int(self.day_start[0])

    @property
    def end_s(self) -> int:
        return int(self.day_start[-1])


@dataclass(slots=True)
class Population:
    """One row per subscriber (index order = subscribers.csv order). Day indices are into the window."""

    msisdn: np.ndarray  # int64, 86 + 11 digits
    customer: np.ndarray  # int64
    plan: np.ndarray  # int8 index into PLANS
    region: np.ndarray  # int8 index into REGIONS
    english: np.ndarray  # bool
    activity: np.ndarray  # float64, mean 1
    activated_at: np.ndarray  # int64 epoch seconds
    first_day: np.ndarray  # int32: first active day (0 unless activated during the window)
    until_day: np.ndarray  # int32: first inactive day (days unless suspended or closed in the window)
    status: np.ndarray  # int8: 0 active, 1 suspended, 2 closed
    home_cell: np.ndarray  # int64
    imei: np.ndarray  # int64, 15 digits with Luhn check digit
    intl_cc: np.ndarray  # int64 country code a subscriber often calls, 0 if none
    churn_from: np.ndarray  # int32 day usage starts to decline, NONE if not a churner
    churn_floor: np.ndarray  # float64 share of usage left on the last day
    churn_reason: np.ndarray  # int8 index into CHURN_REASONS
    trip_start: np.ndarray  # int32 day, NONE if no trip
    trip_len: np.ndarray  # int32 days
    trip_country: np.ndarray  # int8 index into ROAM_COUNTRIES, NONE if no trip
    shock: np.ndarray  # bool: heavy roaming data
    simbox: np.ndarray  # int32 group, NONE if not a SIM-box line
    irsf_day: np.ndarray  # int32 first day of IRSF traffic, NONE if none
    irsf_roaming: np.ndarray  # bool: IRSF while roaming (else: a new line)
    wangiri_caller: np.ndarray  # int32 index into wangiri_numbers, NONE if not targeted
    wangiri_at: np.ndarray  # int64 epoch seconds of the first ring
    wangiri_callback: np.ndarray  # bool
    wangiri_numbers: np.ndarray  # int64, one per caller (not per subscriber)
    # int8 LOOKALIKE_ROLES index + 1, 0 if none: honest lines whose usage resembles a fraud pattern
    lookalike: np.ndarray

    @property
    def n(self) -> int:
        return int(self.msisdn.shape[0])

    def slice(self, lo: int, hi: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            arr = getattr(self, f.name)
            out[f.name] = arr if f.name == "wangiri_numbers" else arr[lo:hi]
        return out


CHURN_REASONS: tuple[str, ...] = ("price", "network", "billing", "service")
# Honest lines that a careless detector would flag: a courier calling each day's customers (many numbers,
# brief calls, some call back), an outbound service desk on a mobile line (busy, one cell, office hours,
# customers call back) and a family abroad (long international calls at all hours, single rings asking for a
# call back). They carry no fraud; the detectors must leave them alone.
LOOKALIKE_ROLES: tuple[str, ...] = ("courier", "desk", "abroad")


def luhn_imei(tac: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """15-digit IMEIs: 8-digit type allocation code, 6-digit serial, Luhn check digit."""
    body = tac * 1_000_000 + serial  # 14 digits
    digits = (body[:, None] // (10 ** np.arange(13, -1, -1, dtype=np.int64))[None, :]) % 10
    # From the right of the 14-digit body, every first, third, ... digit is doubled.
    doubled = digits.copy()
    doubled[:, 1::2] *= 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    check = (10 - doubled.sum(axis=1) % 10) % 10
    return body * 10 + check


def numbers_with_prefix(rng: np.random.Generator, prefixes: np.ndarray, n: int, length: int = 12) -> np.ndarray:
    """International numbers: a prefix from ``prefixes`` followed by random digits, ``length`` digits in all."""
    pre = prefixes[rng.integers(0, len(prefixes), n)]
    plen = np.floor(np.log10(pre)).astype(np.int64) + 1
    rest = 10 ** (length - plen)
    return pre * rest + (rng.random(n) * rest).astype(np.int64)


def mobile_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    pre = P.MOBILE_PREFIXES[rng.integers(0, len(P.MOBILE_PREFIXES), n)]
    return 86 * 10**11 + pre * 10**8 + rng.integers(0, 10**8, n)


def _pick(rng: np.random.Generator, pool: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k members of pool at random, and the pool without them (order kept)."""
    k = min(k, len(pool))
    chosen = np.sort(rng.choice(len(pool), size=k, replace=False)) if k else np.empty(0, dtype=np.int64)
    mask = np.ones(len(pool), dtype=bool)
    mask[chosen] = False
    return pool[chosen], pool[mask]


def build_population(rng: np.random.Generator, n: int, window: Window) -> Population:
    days = window.days
    idx = np.arange(n, dtype=np.int64)
    # Unique numbers: an affine bijection on the 8-digit suffix, a random mobile prefix in front.
    suffix = (idx * 73_939_133 + int(rng.integers(0, 10**8))) % 10**8
    prefix = P.MOBILE_PREFIXES[rng.integers(0, len(P.MOBILE_PREFIXES), n)]
    msisdn = 86 * 10**11 + prefix * 10**8 + suffix
    new_customer = rng.random(n) < 0.88  # the rest are further lines of the previous customer (families)
    new_customer[:1] = True
    customer = np.cumsum(new_customer) - 1 + 10_000_000
    plan = rng.choice(len(P.PLANS), size=n, p=P.PLAN_SHARE).astype(np.int8)
    region = rng.choice(len(P.REGIONS), size=n, p=P.REGION_SHARE).astype(np.int8)
    english = rng.random(n) < 0.15
    sigma = 0.6
    activity = rng.lognormal(-sigma * sigma / 2, sigma, n)
    age_days = rng.uniform(20, 3000, n)
    activated_at = window.begin_s - (age_days * 86400).astype(np.int64)
    first_day = np.zeros(n, dtype=np.int32)
    until_day = np.full(n, days, dtype=np.int32)
    status = np.zeros(n, dtype=np.int8)
    home_cell = (region.astype(np.int64) + 1) * 10_000 + rng.integers(0, P.CELLS_PER_REGION, n)
    imei = luhn_imei(P.TACS[rng.integers(0, len(P.TACS), n)], rng.integers(0, 1_000_000, n))
    intl = rng.random(n) < 0.07
    fav = rng.choice(len(P.INTL_ALL), size=n, p=P.INTL_WEIGHTS / P.INTL_WEIGHTS.sum())
    intl_cc = np.where(intl, P.INTL_ALL[fav], 0)

    def none32() -> np.ndarray:
        return np.full(n, NONE, dtype=np.int32)

    churn_from, trip_start, trip_len, simbox, irsf_day, wangiri_caller = (none32() for _ in range(6))
    trip_country = np.full(n, NONE, dtype=np.int8)
    churn_floor = np.ones(n)
    churn_reason = np.zeros(n, dtype=np.int8)
    shock = np.zeros(n, dtype=bool)
    irsf_roaming = np.zeros(n, dtype=bool)
    wangiri_at = np.zeros(n, dtype=np.int64)
    wangiri_callback = np.zeros(n, dtype=bool)

    roles = n >= 40 and days >= 2
    pool = rng.permutation(n).astype(np.int64)
    if roles:
        # SIM-box groups: several SIMs in one device (one IMEI), one cell, new-ish prepaid lines.
        n_groups = max(1, n // 5000)
        for g in range(n_groups):
            lines, pool = _pick(rng, pool, int(rng.integers(4, 9)))
            simbox[lines] = g
            imei[lines] = imei[lines[0]]
            home_cell[lines] = home_cell[lines[0]]
            plan[lines] = P.PLANS.index("payg")
            activated_at[lines] = window.begin_s - rng.integers(5, 60, len(lines)) * 86400
            activity[lines] = 1.0
            intl_cc[lines] = 0
        # IRSF: half on lines activated during the window, half while roaming.
        irsf, pool = _pick(rng, pool, max(2, n // 2500))
        half = len(irsf) // 2
        new_lines, roamers = irsf[:half], irsf[half:]
        first_day[new_lines] = rng.integers(1, max(2, days - 1), len(new_lines))
        irsf_day[new_lines] = np.minimum(first_day[new_lines] + rng.integers(0, 2, len(new_lines)), days - 1)
        _trips(rng, roamers, days, trip_start, trip_len, trip_country)
        irsf_day[roamers] = trip_start[roamers] + (rng.random(len(roamers)) * trip_len[roamers]).astype(np.int32)
        irsf_roaming[roamers] = True
        # Travellers, a few of whom use a lot of data abroad.
        travellers, pool = _pick(rng, pool, max(2, round(0.04 * n)))
        _trips(rng, travellers, days, trip_start, trip_len, trip_country)
        shock[travellers[: max(1, round(0.12 * len(travellers)))]] = True
        # Churners: usage declines from some day to a small share of what it was.
        churners, pool = _pick(rng, pool, max(1, round(0.05 * n)))
        churn_from[churners] = rng.integers(0, max(1, int(0.6 * days)), len(churners))
        churn_floor[churners] = rng.uniform(0.03, 0.3, len(churners))
        churn_reason[churners] = rng.choice(len(CHURN_REASONS), size=len(churners), p=[0.4, 0.25, 0.2, 0.15])
        # Ordinary new lines, suspended and closed lines.
        fresh, pool = _pick(rng, pool, max(1, round(0.03 * n)))
        first_day[fresh] = rng.integers(1, days, len(fresh))
        stopped, pool = _pick(rng, pool, max(1, round(0.015 * n)))
        until_day[stopped] = rng.integers(max(1, days // 3), days, len(stopped))
        status[stopped] = np.where(rng.random(len(stopped)) < 0.65, 1, 2)
        # Wangiri: a few premium numbers ring many subscribers once, briefly; some call back.
        n_callers = max(1, min(40, n // 3000))
        wangiri_numbers = numbers_with_prefix(rng, P.WANGIRI_PREFIXES, n_callers, 12)
        campaign_day = rng.integers(0, days, n_callers)
        campaign_s = rng.integers(0, 22 * 3600, n_callers)
        candidates = np.sort(np.concatenate([pool, churners, travellers, fresh]))
        targets, _ = _pick(rng, candidates, max(3, round(0.03 * n)))
        caller = rng.integers(0, n_callers, len(targets)).astype(np.int32)
        day = campaign_day[caller]
        ok = (day >= first_day[targets]) & (day < until_day[targets])
        targets, caller, day = targets[ok], caller[ok], day[ok]
        wangiri_caller[targets] = caller
        wangiri_at[targets] = window.day_start[day] + campaign_s[caller] + rng.integers(0, 2 * 3600, len(targets))
        cb = rng.random(len(targets)) < 0.1
        if len(targets) and not cb.any():
            cb[0] = True
        wangiri_callback[targets] = cb
    else:
        wangiri_numbers = np.empty(0, dtype=np.int64)

    new = first_day > 0
    activated_at[new] = window.day_start[first_day[new]] + rng.integers(9 * 3600, 20 * 3600, int(new.sum()))
    # drawn last, so that the lines and usage above stay what they were before look-alikes existed
    lookalike = np.zeros(n, dtype=np.int8)
    if roles:
        honest = (simbox < 0) & (irsf_day < 0) & (wangiri_caller < 0) & (churn_from < 0) & (trip_start < 0) \
            & (first_day == 0) & (until_day == days) & (status == 0) & (activated_at < window.begin_s - 90 * 86400)
        left = np.flatnonzero(honest)
        for role, share in ((1, 1 / 800), (2, 1 / 2500), (3, 1 / 800)):
            chosen, left = _pick(rng, left, min(len(left), max(1, round(share * n))))
            lookalike[chosen] = role
        abroad = lookalike == 3
        fav = np.concatenate([P.INTL_1, P.INTL_2])
        intl_cc[abroad] = fav[rng.integers(0, len(fav), int(abroad.sum()))]
    return Population(
        msisdn=msisdn, customer=customer, plan=plan, region=region, english=english, activity=activity,
        activated_at=activated_at, first_day=first_day, until_day=until_day, status=status, home_cell=home_cell,
        imei=imei, intl_cc=intl_cc, churn_from=churn_from, churn_floor=churn_floor, churn_reason=churn_reason,
        trip_start=trip_start, trip_len=trip_len, trip_country=trip_country, shock=shock, simbox=simbox,
        irsf_day=irsf_day, irsf_roaming=irsf_roaming, wangiri_caller=wangiri_caller, wangiri_at=wangiri_at,
        wangiri_callback=wangiri_callback, wangiri_numbers=wangiri_numbers, lookalike=lookalike,
    )


def _trips(
    rng: np.random.Generator, who: np.ndarray, days: int, start: np.ndarray, length: np.ndarray, country: np.ndarray
) -> None:
    k = len(who)
    s = rng.integers(0, max(1, days - 1), k)
    start[who] = s
    length[who] = np.minimum(rng.integers(2, 11, k), days - s)
    country[who] = rng.choice(len(P.ROAM_COUNTRIES), size=k, p=P.ROAM_SHARE)
