"""Usage records for one chunk of subscribers, generated as whole numpy columns (no per-record Python).

A chunk is independent of every other one (its own random stream, its own files), so chunks run in any
order, in any number of processes, and give the same bytes. The steps:

1. counts per subscriber, day and kind (Poisson around a rate shaped by plan, weekday, churn and trips);
2. records: time of day, durations, volumes, peers, cells, roaming, and the injected fraud traffic;
3. feeds: each record goes to a file format; long data sessions are split into partial records;
4. faults: duplicates, out-of-order and cross-file partials, missing final parts, malformed lines;
5. files, and the ground truth of every injected case with the ids a detector would report.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fairtel.synth import _params as P
from fairtel.synth._population import Window, mobile_numbers, numbers_with_prefix

VOICE, SMS, DATA = 0, 1, 2
KINDS = ("voice", "sms", "data")
OUT, IN = 0, 1
ROUTE_PARQUET, ROUTE_CSV, ROUTE_JSONL, ROUTE_ASTERISK, ROUTE_FREESWITCH = range(5)
TAG_NONE, TAG_WANGIRI_RING, TAG_WANGIRI_CALLBACK, TAG_IRSF, TAG_SIMBOX, TAG_SHOCK, TAG_LOOKALIKE = range(7)
SOURCES = (P.SOURCE_VOICE, P.SOURCE_DATA, P.SOURCE_CSV, P.SOURCE_JSONL, P.SOURCE_ASTERISK, P.SOURCE_FREESWITCH)


def chunk_sources(chunk: int) -> tuple[str, ...]:
    """``SOURCES`` of a chunk: its own data gateways (``_params.data_sources``), the voice switches shared."""
    data, jsonl = P.data_sources(chunk)
    return (P.SOURCE_VOICE, data, P.SOURCE_CSV, jsonl, P.SOURCE_ASTERISK, P.SOURCE_FREESWITCH)

PARQUET_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()), ("source", pa.string()), ("msisdn", pa.string()), ("kind", pa.string()),
        ("direction", pa.string()), ("started_at", pa.timestamp("us", tz=P.TIMEZONE)), ("duration_s", pa.int64()),
        ("bytes_up", pa.int64()), ("bytes_down", pa.int64()), ("peer", pa.string()), ("offer_id", pa.string()),
        ("amount", pa.string()), ("currency", pa.string()), ("roaming_country", pa.string()),
        ("cell_id", pa.string()), ("imei", pa.string()), ("session_id", pa.string()), ("seq", pa.int32()),
        ("final", pa.bool_()),
    ]
)
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd", "compression_level": 1, "row_group_size": 262_144, "use_dictionary": True,
    "write_statistics": True, "version": "2.6",
}
CSV_COLUMNS = [f.name for f in PARQUET_SCHEMA]
JSONL_COLUMNS = ["record_id", "source", "msisdn", "kind", "started_at", "bytes_up", "bytes_down", "roaming_country",
                 "cell_id", "imei", "session_id", "seq", "final"]
ASTERISK_COLUMNS = ["clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start",
                    "answer", "end", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid",
                    "userfield", "sequence"]
FREESWITCH_COLUMNS = ["caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp",
                      "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid",
                      "accountcode", "read_codec", "write_codec"]
BAD_TIMESTAMPS = ("2026-02-30T25:61:00+08:00", "yesterday 10:15", "2026-09-03T10:15:00", "", "1757000000",
                  "09/03/2026 10:15")


@dataclass(frozen=True, slots=True)
class ChunkTask:
    index: int
    pop: dict[str, np.ndarray]
    window: Window
    part_of_day: np.ndarray  # int32 per day: which Parquet file of the chunk a day's records go to
    seed: np.random.SeedSequence
    out_dir: str
    truncate: bool  # end this chunk's CSV and JSONL files with a truncated line


@dataclass(slots=True)
class ChunkResult:
    index: int
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (path under out_dir, format, data lines)
    by_kind: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    malformed: int = 0
    partial_parts: int = 0
    truth: dict[str, pl.DataFrame] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------- counts


def _expand(counts: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts.ravel())
    return (cell // days).astype(np.int32), (cell % days).astype(np.int32)


def _time_of_day(rng: np.random.Generator, kind: str, m: int) -> np.ndarray:
    cdf = np.cumsum(P.DIURNAL[kind])
    hour = np.searchsorted(cdf / cdf[-1], rng.random(m), side="right")
    return np.minimum(hour, 23).astype(np.int64) * 3600 + rng.integers(0, 3600, m)


@dataclass(slots=True)
class Frame:
    """Columns of records; -1 means "no value" in the integer columns."""

    sub: np.ndarray
    kind: np.ndarray
    direction: np.ndarray
    ts: np.ndarray
    dur: np.ndarray
    bup: np.ndarray
    bdown: np.ndarray
    peer: np.ndarray
    roam: np.ndarray
    cell: np.ndarray
    tag: np.ndarray

    @classmethod
    def concat(cls, frames: list[Frame]) -> Frame:
        names = cls.__slots__
        return cls(*(np.concatenate([getattr(f, n) for f in frames]) for n in names))

    def take(self, idx: np.ndarray) -> Frame:
        names = type(self).__slots__
        return type(self)(*(getattr(self, n)[idx] for n in names))

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def _frame(sub: np.ndarray, kind: int, ts: np.ndarray, tag: int) -> Frame:
    m = len(sub)
    neg = np.full(m, -1, dtype=np.int64)
    return Frame(sub.astype(np.int32), np.full(m, kind, dtype=np.int8), np.full(m, -1, dtype=np.int8), ts,
                 neg.copy(), neg.copy(), neg.copy(), neg.copy(), np.full(m, -1, dtype=np.int8), neg.copy(),
                 np.full(m, tag, dtype=np.int8))


def _peers(rng: np.random.Generator, m: int, intl_cc: np.ndarray, out: np.ndarray) -> np.ndarray:
    peer = mobile_numbers(rng, m)
    u = rng.random(m)
    land = u < 0.10
    area = P.LANDLINE_AREAS[rng.integers(0, len(P.LANDLINE_AREAS), m)]
    peer = np.where(land, 86 * 10**10 + area * 10**8 + rng.integers(0, 10**8, m), peer)
    fav = out & (intl_cc > 0) & (rng.random(m) < 0.3)
    stray = out & (rng.random(m) < 0.004)
    cc = np.where(fav, intl_cc, P.INTL_ALL[rng.choice(len(P.INTL_ALL), size=m, p=P.INTL_WEIGHTS / P.INTL_WEIGHTS.sum())])
    ccl = np.floor(np.log10(np.maximum(cc, 1))).astype(np.int64) + 1
    rest = 10 ** (12 - ccl)
    intl_number = cc * rest + (rng.random(m) * rest).astype(np.int64)
    return np.where(fav | stray, intl_number, peer)


def _ordinary(rng: np.random.Generator, p: dict[str, np.ndarray], win: Window) -> tuple[Frame, np.ndarray]:
    days = win.days
    d = np.arange(days)[None, :]
    active = (d >= p["first_day"][:, None]) & (d < p["until_day"][:, None]) & (p["simbox"] < 0)[:, None]
    cf = p["churn_from"][:, None]
    frac = np.clip((d - cf) / np.maximum(days - cf, 1), 0.0, 1.0)
    ramp = np.where(cf >= 0, 1.0 - frac * (1.0 - p["churn_floor"][:, None]), 1.0)
    ts0 = p["trip_start"][:, None]
    on_trip = (ts0 >= 0) & (d >= ts0) & (d < ts0 + p["trip_len"][:, None])
    shock = p["shock"][:, None]
    mod = P.PLAN_MOD[p["plan"]]
    base = active * ramp * p["activity"][:, None]
    wd = win.weekday
    lam = {
        VOICE: base * (P.RATE_VOICE * mod[:, 0:1]) * P.WEEKLY["voice"][wd][None, :] * np.where(on_trip, 0.5, 1.0),
        SMS: base * (P.RATE_SMS * mod[:, 1:2]) * P.WEEKLY["sms"][wd][None, :] * np.where(on_trip, 0.7, 1.0),
        DATA: base * (P.RATE_DATA * mod[:, 2:3]) * P.WEEKLY["data"][wd][None, :]
        * np.where(on_trip, np.where(shock, 1.6, 0.5), 1.0),
    }
    frames = []
    for kind in (VOICE, SMS, DATA):
        sub, day = _expand(rng.poisson(lam[kind]), days)
        m = len(sub)
        ts = win.day_start[day] + _time_of_day(rng, KINDS[kind], m)
        f = _frame(sub, kind, ts, TAG_NONE)
        if kind == VOICE:
            out = rng.random(m) < P.P_OUT_VOICE
            f.direction = np.where(out, OUT, IN).astype(np.int8)
            dur = np.clip(rng.lognormal(np.log(55), 1.15, m), 1, 10_800).astype(np.int64)
            f.dur = np.where(rng.random(m) < P.P_UNANSWERED, 0, dur)
            f.peer = _peers(rng, m, p["intl_cc"][sub], out)
        elif kind == SMS:
            out = rng.random(m) < P.P_OUT_SMS
            f.direction = np.where(out, OUT, IN).astype(np.int8)
            service = ~out & (rng.random(m) < 0.3)
            f.peer = np.where(service, 861069 * 10**8 + rng.integers(0, 10**8, m), mobile_numbers(rng, m))
        else:
            trip = on_trip[sub, day]
            heavy = trip & p["shock"][sub]
            vol = P.PLAN_MOD[p["plan"][sub], 3]
            bdown = rng.lognormal(np.log(2.5e6), 1.7, m) * vol
            bdown = np.where(trip, bdown * 0.15, bdown)
            bdown = np.where(heavy, rng.lognormal(np.log(4e7), 0.9, m), bdown)
            f.bdown = np.clip(bdown, 1_000, 8e9).astype(np.int64)
            f.bup = (f.bdown * rng.uniform(0.03, 0.2, m)).astype(np.int64) + 200
            f.tag = np.where(heavy, TAG_SHOCK, TAG_NONE).astype(np.int8)
        frames.append(f)
    return Frame.concat(frames), on_trip


def _injected(rng: np.random.Generator, p: dict[str, np.ndarray], win: Window) -> list[Frame]:
    days = win.days
    d = np.arange(days)[None, :]
    active = (d >= p["first_day"][:, None]) & (d < p["until_day"][:, None])
    frames: list[Frame] = []
    # SIM-box: a stream of outgoing calls to ever new numbers from one cell; almost nothing else.
    sb = np.flatnonzero(p["simbox"] >= 0)
    if len(sb):
        for kind, rate, direction in ((VOICE, 160.0, OUT), (VOICE, 0.3, IN), (SMS, 0.05, OUT)):
            counts = rng.poisson(rate * active[sb])
            li, day = _expand(counts, days)
            sub = sb[li]
            m = len(sub)
            ts = win.day_start[day] + rng.integers(7 * 3600, 24 * 3600, m)
            f = _frame(sub, kind, ts, TAG_SIMBOX)
            f.direction = np.full(m, direction, dtype=np.int8)
            if kind == VOICE:
                dur = np.clip(rng.lognormal(np.log(75), 0.8, m), 5, 3600).astype(np.int64)
                f.dur = np.where(rng.random(m) < 0.2, 0, dur)
            f.peer = mobile_numbers(rng, m)
            f.cell = p["home_cell"][sub]
            frames.append(f)
    # IRSF: bursts of long calls to premium ranges, mostly at night, from new lines or lines abroad.
    irsf = np.flatnonzero(p["irsf_day"] >= 0)
    if len(irsf):
        calls = rng.integers(15, 61, len(irsf))
        sub = np.repeat(irsf, calls)
        m = len(sub)
        day = np.minimum(p["irsf_day"][sub] + (rng.random(m) < 0.4), np.minimum(days, p["until_day"][sub]) - 1)
        hour = np.where(rng.random(m) < 0.6, rng.integers(0, 6, m), rng.integers(0, 24, m))
        ts = win.day_start[day] + hour * 3600 + rng.integers(0, 3600, m)
        f = _frame(sub, VOICE, ts, TAG_IRSF)
        f.direction = np.full(m, OUT, dtype=np.int8)
        f.dur = np.clip(rng.lognormal(np.log(1500), 0.6, m), 120, 7200).astype(np.int64)
        f.peer = numbers_with_prefix(rng, P.PREMIUM_PREFIXES, m, 12)
        frames.append(f)
    # Wangiri: one-ring calls from premium numbers (incoming, 0-3 s); a few targets call back.
    wt = np.flatnonzero(p["wangiri_caller"] >= 0)
    if len(wt):
        rings = 1 + (rng.random(len(wt)) < 0.3)
        sub = np.repeat(wt, rings)
        m = len(sub)
        second = np.concatenate([[0], (sub[1:] == sub[:-1]).astype(np.int64)])
        ts = p["wangiri_at"][sub] + second * rng.integers(30, 900, m)
        f = _frame(sub, VOICE, ts, TAG_WANGIRI_RING)
        f.direction = np.full(m, IN, dtype=np.int8)
        f.dur = rng.integers(0, 4, m)
        f.peer = p["wangiri_numbers"][p["wangiri_caller"][sub]]
        frames.append(f)
        cb = wt[p["wangiri_callback"][wt]]
        if len(cb):
            k = len(cb)
            ts = p["wangiri_at"][cb] + rng.integers(120, 6 * 3600, k)
            f = _frame(cb, VOICE, ts, TAG_WANGIRI_CALLBACK)
            f.direction = np.full(k, OUT, dtype=np.int8)
            f.dur = np.clip(rng.lognormal(np.log(80), 0.7, k), 5, 1800).astype(np.int64)
            f.peer = p["wangiri_numbers"][p["wangiri_caller"][cb]]
            frames.append(f)
    frames = [f.take(np.flatnonzero((f.ts >= win.begin_s) & (f.ts < win.end_s))) for f in frames]
    return frames


def _calls(rng: np.random.Generator, lines: np.ndarray, per_day: float, days_on: np.ndarray, win: Window,
           hours: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Poisson(per_day) calls on the days ``days_on`` (bool per line and day) of each line, at a uniform time
    between ``hours``; (line index into ``lines``, start instants)."""
    li, day = _expand(rng.poisson(per_day * days_on), win.days)
    ts = win.day_start[day] + rng.integers(hours[0] * 3600, hours[1] * 3600, len(li))
    return li, ts


def _answers(rng: np.random.Generator, out: Frame, share: float, delay_s: tuple[int, int], median_s: float) -> Frame:
    """Incoming calls from ``share`` of the numbers ``out`` called, ``delay_s`` later: the other side calling back."""
    back = np.flatnonzero(rng.random(len(out)) < share)
    f = _frame(out.sub[back], VOICE, out.ts[back] + rng.integers(*delay_s, len(back)), TAG_LOOKALIKE)
    f.direction = np.full(len(back), IN, dtype=np.int8)
    f.dur = np.clip(rng.lognormal(np.log(median_s), 0.6, len(back)), 3, 3600).astype(np.int64)
    f.peer = out.peer[back]
    return f


def _lookalikes(rng: np.random.Generator, p: dict[str, np.ndarray], win: Window) -> list[Frame]:
    """The extra calls of the honest look-alike lines (``LOOKALIKE_ROLES``), on top of their ordinary usage."""
    frames: list[Frame] = []
    role = p["lookalike"]
    workday = win.weekday[None, :]
    for code, per_day, days_of_week, hours, median_s, unanswered, callback in (
        (1, 45.0, 6, (8, 20), 35.0, 0.08, 0.25),   # courier: today's customers, Monday to Saturday
        (2, 70.0, 5, (9, 18), 100.0, 0.15, 0.18),  # service desk: office hours, Monday to Friday
    ):
        lines = np.flatnonzero(role == code)
        if not len(lines):
            continue
        li, ts = _calls(rng, lines, per_day, np.broadcast_to(workday < days_of_week, (len(lines), win.days)), win, hours)
        f = _frame(lines[li], VOICE, ts, TAG_LOOKALIKE)
        m = len(li)
        f.direction = np.full(m, OUT, dtype=np.int8)
        dur = np.clip(rng.lognormal(np.log(median_s), 0.7, m), 3, 3600).astype(np.int64)
        f.dur = np.where(rng.random(m) < unanswered, 0, dur)
        f.peer = mobile_numbers(rng, m)
        frames += [f, _answers(rng, f, callback, (300, 4 * 3600), 45.0)]
    # family abroad: two or three numbers in one country, long calls at any hour both ways; a single ring from
    # abroad asks for a call back, which follows within minutes
    lines = np.flatnonzero(role == 3)
    if len(lines):
        cc = p["intl_cc"][lines]
        ccl = np.floor(np.log10(np.maximum(cc, 1))).astype(np.int64) + 1
        family = cc[:, None] * 10 ** (12 - ccl[:, None]) + rng.integers(10**6, 10**7, (len(lines), 3))
        every_day = np.ones((len(lines), win.days), dtype=bool)
        for direction, per_day in ((OUT, 2.0), (IN, 1.5)):
            li, ts = _calls(rng, lines, per_day, every_day, win, (0, 24))
            f = _frame(lines[li], VOICE, ts, TAG_LOOKALIKE)
            m = len(li)
            f.direction = np.full(m, direction, dtype=np.int8)
            f.dur = np.clip(rng.lognormal(np.log(900), 0.8, m), 10, 7200).astype(np.int64)
            f.peer = family[li, rng.integers(0, 3, m)]
            frames.append(f)
            if direction == IN:
                ring = rng.random(m) < 0.3
                f.dur = np.where(ring, rng.integers(0, 3, m), f.dur)
                k = int(ring.sum())
                back = _frame(f.sub[ring], VOICE, f.ts[ring] + rng.integers(60, 1200, k), TAG_LOOKALIKE)
                back.direction = np.full(k, OUT, dtype=np.int8)
                back.dur = np.clip(rng.lognormal(np.log(900), 0.8, k), 10, 7200).astype(np.int64)
                back.peer = f.peer[ring]
                frames.append(back)
    return [f.take(np.flatnonzero((f.ts >= win.begin_s) & (f.ts < win.end_s))) for f in frames]


# -------------------------------------------------------------------------------------------------- strings


def _str(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pc.cast(pa.array(values, mask=missing), pa.string())


def _replace(values: pa.Array, mask: np.ndarray, replacements: pa.Array) -> pa.Array:
    """``values`` with the positions in ``mask`` replaced, in order, by ``replacements``."""
    return pc.replace_with_mask(values, pa.array(mask), replacements) if mask.any() else values


def _pick_str(choices: list[str] | tuple[str, ...], idx: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pc.take(pa.array(list(choices), pa.string()), pa.array(idx.astype(np.int32), mask=missing))


def _join(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _local_text(ts: np.ndarray, offset: np.ndarray, fmt: str) -> pa.Array:
    return pc.strftime(pa.array(ts + offset, pa.timestamp("s")), format=fmt)


def offset_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    return f"{sign}{abs(seconds) // 3600:02d}:{abs(seconds) % 3600 // 60:02d}"


def _rfc3339(ts: np.ndarray, offset: np.ndarray) -> pa.Array:
    """RFC 3339 local times with their offset, e.g. ``2026-09-03T10:15:00+08:00``."""
    uniq, inv = np.unique(offset, return_inverse=True)
    texts = [offset_text(int(u)) for u in uniq]
    return _join(_local_text(ts, offset, "%Y-%m-%dT%H:%M:%S"), _pick_str(texts, inv.reshape(-1)))


def _uuids(rng: np.random.Generator, m: int) -> pa.Array:
    raw = rng.integers(0, 256, (m, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexd = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty((m, 32), dtype=np.uint8)
    chars[:, 0::2] = hexd[raw >> 4]
    chars[:, 1::2] = hexd[raw & 0x0F]
    out = np.full((m, 36), ord("-"), dtype=np.uint8)
    for lo, hi, dst in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, dst : dst + hi - lo] = chars[:, lo:hi]
    return pc.cast(pa.array(out.view("S36").ravel()), pa.string())


# ------------------------------------------------------------------------------------------------- the chunk


def generate_chunk(task: ChunkTask) -> ChunkResult:
    rng = np.random.default_rng(task.seed)
    p, win, ci = task.pop, task.window, task.index
    days = win.days
    out_dir = Path(task.out_dir)
    res = ChunkResult(ci)

    ordinary, on_trip = _ordinary(rng, p, win)
    f = Frame.concat([ordinary, *_injected(rng, p, win), *_lookalikes(rng, p, win)])
    # a line activated during the window has no usage before its activation instant (days are drawn whole)
    before = f.ts < p["activated_at"][f.sub]
    if before.any():
        f = f.take(np.flatnonzero(~before))
    m = len(f)
    if m == 0:
        return res
    day = np.clip(np.searchsorted(win.day_start, f.ts, side="right") - 1, 0, days - 1)
    trip_row = on_trip[f.sub, day]
    f.roam = np.where(trip_row, p["trip_country"][f.sub], -1).astype(np.int8)
    region_cell = (p["region"][f.sub].astype(np.int64) + 1) * 10_000 + rng.integers(0, P.CELLS_PER_REGION, m)
    cell = np.where(rng.random(m) < 0.75, p["home_cell"][f.sub], region_cell)
    fixed = (f.tag == TAG_SIMBOX) | ((f.tag == TAG_LOOKALIKE) & (p["lookalike"][f.sub] == 2))  # the desk sits still
    cell = np.where(fixed, p["home_cell"][f.sub], cell)
    f.cell = np.where(trip_row, -1, cell)

    # Feeds: which switch (and so which file format) wrote each record.
    u = rng.random(m)
    voice_out = (f.kind == VOICE) & (f.direction == OUT)
    route = np.full(m, ROUTE_PARQUET, dtype=np.int8)
    a, fs = P.SHARE_ASTERISK, P.SHARE_ASTERISK + P.SHARE_FREESWITCH
    route[voice_out & (u < a)] = ROUTE_ASTERISK
    route[voice_out & (u >= a) & (u < fs)] = ROUTE_FREESWITCH
    route[voice_out & (u >= fs) & (u < fs + P.SHARE_CSV_VOICE)] = ROUTE_CSV
    route[(f.kind == VOICE) & (f.direction == IN) & (u < P.SHARE_CSV_VOICE)] = ROUTE_CSV
    route[(f.kind == SMS) & (u < P.SHARE_CSV_SMS)] = ROUTE_CSV
    route[(f.kind == DATA) & (u < P.SHARE_JSONL_DATA)] = ROUTE_JSONL
    route[(f.tag != TAG_NONE) & (route >= ROUTE_ASTERISK)] = ROUTE_PARQUET  # injected cases stay canonical

    # Partial records: a long data session reported as 2-4 interim parts sharing a session id.
    partial = (f.kind == DATA) & (f.tag == TAG_NONE) & (route <= ROUTE_JSONL) & (rng.random(m) < P.P_PARTIAL)
    k = np.where(partial, rng.integers(2, 5, m), 1)
    src_row = np.repeat(np.arange(m), k)
    start = np.repeat(np.cumsum(k) - k, k)
    seq = (np.arange(len(src_row)) - start + 1).astype(np.int32)
    kk = k[src_row]
    is_part = partial[src_row]
    g = f.take(src_row)
    route = route[src_row]
    gap = np.minimum(rng.integers(900, 3601, m), (win.end_s - 1 - f.ts) // np.maximum(k - 1, 1))[src_row]
    g.ts = g.ts + (seq - 1) * gap
    w = np.where(is_part, rng.uniform(0.2, 1.0, len(src_row)), 1.0)
    starts = np.cumsum(k) - k
    share = w / np.repeat(np.add.reduceat(w, starts), k)
    for col in ("bup", "bdown"):
        total = getattr(f, col)[src_row]
        piece = np.where(total >= 0, np.floor(total * share).astype(np.int64), -1)
        lost = np.where(total >= 0, total - np.repeat(np.add.reduceat(np.maximum(piece, 0), starts), k), 0)
        setattr(g, col, np.where(seq == kk, piece + lost, piece))
    final = seq == kk
    drop_final = partial & (rng.random(m) < 0.06)
    keep = ~(final & drop_final[src_row])
    g, route, seq, kk, is_part, final, src_row, gap = (
        g.take(np.flatnonzero(keep)), route[keep], seq[keep], kk[keep], is_part[keep], final[keep], src_row[keep],
        gap[keep])
    del f, ordinary, w, share
    n_rows = len(g)
    new_pos = np.cumsum(keep) - 1  # expanded index -> kept index

    # Files: Parquet per part of the window; one file each of the other formats. A switch writes each part in the
    # file open at the part's time, so a session's parts are in two files only when it runs past a file's end:
    # some sessions begun on a file's last day run on past midnight, their last part in the next file.
    n_parts = int(task.part_of_day.max()) + 1
    if n_parts > 1:
        g.ts = g.ts + _run_past_midnight(rng, g, p, win, task.part_of_day, src_row, seq, gap, is_part, route, m)
    gday = np.clip(np.searchsorted(win.day_start, g.ts, side="right") - 1, 0, days - 1)
    file_of = np.where(route == ROUTE_PARQUET, task.part_of_day[gday], n_parts + route - 1).astype(np.int32)
    # a part in another file than its session's first part (rows of a session are adjacent, seq 1 first)
    session_start = np.maximum.accumulate(np.where(np.r_[True, src_row[1:] != src_row[:-1]], np.arange(n_rows), 0))
    across = is_part & (file_of != file_of[session_start])

    # Record ids: unique per source; Asterisk's uniqueid and FreeSWITCH's uuid in their own formats.
    digits = pc.utf8_slice_codeunits(_str(10**14 + ci * 10**9 + src_row.astype(np.int64)), 1)
    rid = _join("r", digits)
    part_rows = np.flatnonzero(is_part)
    part_digits = digits.take(pa.array(part_rows))
    rid = _replace(rid, is_part, _join("r", part_digits, "-", _str(seq[part_rows].astype(np.int64))))
    session_id = _replace(pa.nulls(n_rows, pa.string()), is_part, _join("s", part_digits))
    ast = np.flatnonzero(route == ROUTE_ASTERISK)
    rid = _replace(rid, route == ROUTE_ASTERISK, _join(_str(g.ts[ast]), ".", _str(ci * 10**7 + ast.astype(np.int64))))
    rid = _replace(rid, route == ROUTE_FREESWITCH, _uuids(rng, int((route == ROUTE_FREESWITCH).sum())))
    del digits, part_digits

    # Duplicates: the same (source, record_id) again, in the same file or (Parquet) in another one.
    dup = np.flatnonzero(~is_part & (route != ROUTE_ASTERISK) & (rng.random(n_rows) < P.P_DUPLICATE))
    dup_file = file_of[dup].copy()
    if n_parts > 1:
        # a copy sent again in a later file (a resend follows what it repeats: a copy in an earlier file would be
        # a record from the future there, and move its source's newest record time weeks ahead)
        other = (route[dup] == ROUTE_PARQUET) & (rng.random(len(dup)) < P.P_DUPLICATE_ACROSS) & (dup_file < n_parts - 1)
        after = n_parts - 1 - dup_file[other]
        dup_file[other] = dup_file[other] + 1 + (rng.random(int(other.sum())) * after).astype(np.int32)
    rows = np.concatenate([np.arange(n_rows), dup])
    files = np.concatenate([file_of, dup_file])
    sort_ts = np.concatenate([g.ts, g.ts[dup] + rng.integers(0, 86_400, len(dup))])
    order = np.lexsort((np.arange(len(rows)), sort_ts, files))
    # Some sessions' first two parts are written the wrong way round.
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    first = new_pos[np.cumsum(k)[partial] - k[partial]]  # kept index of each session's seq 1
    second = first + 1
    ok = (second < n_rows)
    ok[ok] = (seq[second[ok]] == 2) & (src_row[second[ok]] == src_row[first[ok]])
    ok &= (file_of[first] == file_of[np.minimum(second, n_rows - 1)]) & (rng.random(len(first)) < 0.25)
    sw1, sw2 = pos[first[ok]], pos[second[ok]]
    order[sw1], order[sw2] = order[sw2].copy(), order[sw1].copy()
    out_of_order = np.zeros(n_rows, dtype=bool)
    out_of_order[first[ok]] = True

    final_rows = rows[order]
    final_files = files[order]
    res.duplicates = len(dup)
    res.partial_parts = int(is_part.sum())
    kinds, kcount = np.unique(g.kind[final_rows], return_counts=True)
    res.by_kind = {KINDS[int(kk_)]: int(c) for kk_, c in zip(kinds, kcount, strict=True)}

    sources = chunk_sources(ci)
    cols = _columns(g, rows=final_rows, route=route[final_rows], rid=rid.take(final_rows),
                    session_id=session_id.take(final_rows), seq=seq[final_rows], is_part=is_part[final_rows],
                    final=final[final_rows], p=p, sources=sources)
    offset = win.offset_s[np.clip(np.searchsorted(win.day_start, g.ts[final_rows], side="right") - 1, 0, days - 1)]
    bounds = np.searchsorted(final_files, np.arange(n_parts + 5))
    names = [f"usage/c{ci:04d}-w{part:02d}.parquet" for part in range(n_parts)]
    names += [f"usage/c{ci:04d}-{P.SOURCE_CSV}.csv", f"usage/c{ci:04d}-{sources[3]}.jsonl",
              f"usage/c{ci:04d}-asterisk-Master.csv", f"usage/c{ci:04d}-freeswitch-Master.csv"]
    malformed: list[dict[str, Any]] = []
    for fi, name in enumerate(names):
        lo, hi = int(bounds[fi]), int(bounds[fi + 1])
        sl = slice(lo, hi)
        path = out_dir / name
        if fi < n_parts:
            if hi == lo:
                continue
            table = pa.table({c: cols[c][lo:hi] for c in CSV_COLUMNS}, schema=PARQUET_SCHEMA)
            pq.write_table(table, path, **PARQUET_OPTIONS)
            res.files.append((name, "parquet", hi - lo))
        elif fi == n_parts:
            text = _csv_bytes({**{c: cols[c][lo:hi] for c in CSV_COLUMNS},
                               "started_at": _rfc3339(g.ts[final_rows][sl], offset[sl])})
            text, bad = _inject_csv(rng, text, name, truncate=task.truncate)
            path.write_bytes(text)
            malformed += bad
            res.files.append((name, "csv", hi - lo + len(bad)))
        elif fi == n_parts + 1:
            frame = {c: cols[c][lo:hi] for c in JSONL_COLUMNS}
            frame["started_at"] = _rfc3339(g.ts[final_rows][sl], offset[sl])
            text = _jsonl_bytes(frame)
            text, bad = _inject_jsonl(rng, text, name, truncate=task.truncate)
            path.write_bytes(text)
            malformed += bad
            res.files.append((name, "jsonl", hi - lo + len(bad)))
        elif hi > lo:
            rs = final_rows[sl]
            write = _asterisk if fi == n_parts + 2 else _freeswitch
            path.write_bytes(write(rng, cols, sl, g.ts[rs], g.dur[rs], offset[sl], ci))
            res.files.append((name, "asterisk-csv" if fi == n_parts + 2 else "freeswitch-csv", hi - lo))
    res.malformed = len(malformed)

    res.truth = _truth(g, p, win, rid, route, files, names, dup, is_part, seq, kk, final, session_id, out_of_order,
                       across, sources)
    res.truth["malformed"] = pl.DataFrame(malformed, schema={"file": pl.String, "line": pl.Int64,
                                                             "reason": pl.String, "record_id": pl.String})
    return res


def _run_past_midnight(rng: np.random.Generator, g: Frame, p: dict[str, np.ndarray], win: Window,
                       part_of_day: np.ndarray, src_row: np.ndarray, seq: np.ndarray, gap: np.ndarray,
                       is_part: np.ndarray, route: np.ndarray, records: int) -> np.ndarray:
    """Seconds to move each row: a share (``P_PARTIAL_ACROSS``) of the Parquet partial sessions begun on a file's
    last day move later on that day, so that their last part (the last one present) starts just past midnight,
    in the next file, and the others before it. The same session, only later: never before its line's
    activation, nor past the day its line stops. ``src_row``: the record each row is a part of (adjacent rows,
    seq 1 first; ``records`` of them); ``gap``: the seconds between a session's parts."""
    shift = np.zeros(len(seq), dtype=np.int64)
    firsts = np.flatnonzero(is_part & (seq == 1))
    if not len(firsts):
        return shift
    last_seq = seq[np.searchsorted(src_row, src_row[firsts], side="right") - 1]
    day = np.clip(np.searchsorted(win.day_start, g.ts[firsts], side="right") - 1, 0, win.days - 1)
    nxt = np.minimum(day + 1, win.days - 1)
    sub = g.sub[firsts]
    every = np.maximum(gap[firsts], 1)
    chosen = rng.random(len(firsts)) < P.P_PARTIAL_ACROSS
    last_at = win.day_start[nxt] + rng.integers(0, every)
    first_at = last_at - (last_seq - 1) * every
    ok = (chosen & (day + 1 < win.days) & (part_of_day[nxt] != part_of_day[day]) & (route[firsts] == ROUTE_PARQUET)
          & (last_seq > 1) & (p["until_day"][sub] > day + 1) & (first_at >= p["activated_at"][sub]))
    by_record = np.zeros(records, dtype=np.int64)
    by_record[src_row[firsts[ok]]] = first_at[ok] - g.ts[firsts[ok]]
    return by_record[src_row]


def _columns(g: Frame, *, rows: np.ndarray, route: np.ndarray, rid: pa.Array, session_id: pa.Array,
             seq: np.ndarray, is_part: np.ndarray, final: np.ndarray, p: dict[str, np.ndarray],
             sources: tuple[str, ...] = SOURCES) -> dict[str, pa.Array]:
    n = len(rows)
    sub = g.sub[rows]
    kind = g.kind[rows]
    msisdn = pc.take(_str(p["msisdn"]), pa.array(sub))
    src_idx = np.where(route == ROUTE_PARQUET, np.where(kind == DATA, 1, 0), route + 1)
    dur, bup, bdown, peer, roam, cell = g.dur[rows], g.bup[rows], g.bdown[rows], g.peer[rows], g.roam[rows], g.cell[rows]
    direction = g.direction[rows]
    return {
        "record_id": rid,
        "source": _pick_str(sources, src_idx),
        "msisdn": msisdn,
        "kind": _pick_str(KINDS, kind.astype(np.int64)),
        "direction": _pick_str(("out", "in"), np.maximum(direction, 0), direction < 0),
        "started_at": pa.array(g.ts[rows] * 1_000_000, PARQUET_SCHEMA.field("started_at").type),
        "duration_s": pa.array(dur, mask=dur < 0),
        "bytes_up": pa.array(bup, mask=bup < 0),
        "bytes_down": pa.array(bdown, mask=bdown < 0),
        "peer": _str(peer, peer < 0),
        "offer_id": pa.nulls(n, pa.string()),
        "amount": pa.nulls(n, pa.string()),
        "currency": pa.nulls(n, pa.string()),
        "roaming_country": _pick_str(P.ROAM_COUNTRIES, np.maximum(roam, 0), roam < 0),
        "cell_id": _join("460-00-", _str(cell, cell < 0)),
        "imei": pc.take(_str(p["imei"]), pa.array(sub)),
        "session_id": session_id,
        "seq": pa.array(seq, mask=~is_part),
        "final": pa.array(final, mask=~is_part),
    }


# ----------------------------------------------------------------------------------------- text formats


def _csv_bytes(columns: dict[str, pa.Array]) -> bytes:
    buf = io.BytesIO()
    pl.from_arrow(pa.table(columns)).write_csv(buf)  # type: ignore[union-attr]
    return buf.getvalue()


def _jsonl_bytes(columns: dict[str, pa.Array]) -> bytes:
    buf = io.BytesIO()
    pl.from_arrow(pa.table(columns)).write_ndjson(buf)  # type: ignore[union-attr]
    return buf.getvalue()


def _insert(rng: np.random.Generator, lines: list[bytes], bad: list[tuple[bytes, str, str]], header: int,
            name: str) -> tuple[list[bytes], list[dict[str, Any]]]:
    """Insert ``bad`` lines at random places after ``header`` lines; return the lines and their truth rows."""
    slots = np.sort(rng.integers(header, len(lines) + 1, len(bad)))
    out: list[bytes] = []
    truth: list[dict[str, Any]] = []
    prev = 0
    for (text, reason, rid), at in zip(bad, slots, strict=True):
        out.extend(lines[prev:at])
        out.append(text)
        truth.append({"file": name, "line": len(out), "reason": reason, "record_id": rid or None})
        prev = int(at)
    out.extend(lines[prev:])
    return out, truth


def _n_bad(rng: np.random.Generator, rows: int) -> int:
    return int(rng.poisson(rows * P.P_MALFORMED)) + (3 if rows else 0)  # at least one of each kind per file


def _inject_csv(rng: np.random.Generator, text: bytes, name: str, *, truncate: bool
                ) -> tuple[bytes, list[dict[str, Any]]]:
    lines = text.split(b"\n")[:-1]
    if len(lines) < 2:
        return text, []
    bad: list[tuple[bytes, str, str]] = []
    for i in range(_n_bad(rng, len(lines) - 1)):
        fields_ = lines[int(rng.integers(1, len(lines)))].split(b",")
        rid = f"{fields_[0].decode()}x{i}"
        fields_[0] = rid.encode()
        reason = ("bad_timestamp", "missing_field", "column_count")[i % 3]
        if reason == "bad_timestamp":
            fields_[5] = BAD_TIMESTAMPS[int(rng.integers(0, len(BAD_TIMESTAMPS)))].encode()
        elif reason == "missing_field":
            fields_[2] = b""
        else:
            fields_ = fields_[:-3] if rng.random() < 0.5 else [*fields_, b"extra"]
        bad.append((b",".join(fields_), reason, rid))
    out, truth = _insert(rng, lines, bad, 1, name)
    tail = b""
    if truncate:
        fields_ = lines[-1].split(b",")
        rid = f"{fields_[0].decode()}t"
        fields_[0] = rid.encode()
        whole = b",".join(fields_)
        tail = whole[: len(whole) * 11 // 20]
        truth.append({"file": name, "line": len(out) + 1, "reason": "truncated", "record_id": rid})
    return b"\n".join(out) + b"\n" + tail, truth


def _inject_jsonl(rng: np.random.Generator, text: bytes, name: str, *, truncate: bool
                  ) -> tuple[bytes, list[dict[str, Any]]]:
    lines = text.split(b"\n")[:-1]
    if not lines:
        return text, []
    bad: list[tuple[bytes, str, str]] = []
    for i in range(_n_bad(rng, len(lines))):
        row = json.loads(lines[int(rng.integers(0, len(lines)))])
        rid = f"{row['record_id']}x{i}"
        row["record_id"] = rid
        reason = ("bad_timestamp", "missing_field", "bad_json")[i % 3]
        if reason == "bad_timestamp":
            row["started_at"] = BAD_TIMESTAMPS[int(rng.integers(0, len(BAD_TIMESTAMPS)))]
        elif reason == "missing_field":
            del row["msisdn"]
        line = json.dumps(row, separators=(",", ":")).encode()
        if reason == "bad_json":
            line = line[: len(line) // 2]
        bad.append((line, reason, rid))
    out, truth = _insert(rng, lines, bad, 0, name)
    tail = b""
    if truncate:
        row = json.loads(lines[-1])
        row["record_id"] = rid = f"{row['record_id']}t"
        whole = json.dumps(row, separators=(",", ":")).encode()
        tail = whole[: len(whole) * 11 // 20]
        truth.append({"file": name, "line": len(out) + 1, "reason": "truncated", "record_id": rid})
    return b"\n".join(out) + b"\n" + tail, truth


def _call_times(rng: np.random.Generator, ts: np.ndarray, dur: np.ndarray, offset: np.ndarray
                ) -> tuple[pa.Array, pa.Array, pa.Array, np.ndarray]:
    answered = dur > 0
    ring = np.where(answered, rng.integers(2, 25, len(ts)), rng.integers(15, 46, len(ts)))
    fmt = "%Y-%m-%d %H:%M:%S"
    start = _local_text(ts, offset, fmt)
    answer = pc.if_else(pa.array(answered), _local_text(ts + ring, offset, fmt), pa.nulls(len(ts), pa.string()))
    end = _local_text(ts + ring + dur, offset, fmt)
    return start, answer, end, ring + dur


def _quoted_csv(columns: dict[str, pa.Array]) -> bytes:
    buf = io.BytesIO()
    pl.from_arrow(pa.table(columns)).write_csv(buf, include_header=False, quote_style="always")  # type: ignore[union-attr]
    return buf.getvalue()


def _asterisk(rng: np.random.Generator, cols: dict[str, pa.Array], sl: slice, ts: np.ndarray, dur: np.ndarray,
              offset: np.ndarray, ci: int) -> bytes:
    """Asterisk Master.csv rows (cdr_custom column order), outgoing calls; uniqueid is the record id."""
    m = len(ts)
    src, dst = cols["msisdn"][sl], cols["peer"][sl]
    start, answer, end, total = _call_times(rng, ts, dur, offset)
    counter = pc.utf8_lpad(_str(np.arange(m, dtype=np.int64) * 2 + ci * 10**6), width=8, padding="0")
    answered = pa.array(dur > 0)
    return _quoted_csv({
        "clid": _join('"" <', src, ">"),
        "src": src,
        "dst": dst,
        "dcontext": pa.array(["from-internal"] * m),
        "channel": _join("PJSIP/", src, "-", counter),
        "dstchannel": _join("PJSIP/trunk-", counter),
        "lastapp": pa.array(["Dial"] * m),
        "lastdata": _join("PJSIP/", dst, "@trunk"),
        "start": start,
        "answer": answer,
        "end": end,
        "duration": _str(total),
        "billsec": _str(dur),
        "disposition": pc.if_else(answered, "ANSWERED", "NO ANSWER"),
        "amaflags": pa.array(["DOCUMENTATION"] * m),
        "accountcode": pa.array([P.SOURCE_ASTERISK] * m),
        "uniqueid": cols["record_id"][sl],
        "userfield": pa.array([""] * m),
        "sequence": _str(np.arange(m, dtype=np.int64) + 1),
    })


def _freeswitch(rng: np.random.Generator, cols: dict[str, pa.Array], sl: slice, ts: np.ndarray, dur: np.ndarray,
                offset: np.ndarray, ci: int) -> bytes:
    """FreeSWITCH mod_cdr_csv rows (default template order), outgoing calls; uuid is the record id."""
    m = len(ts)
    src = cols["msisdn"][sl]
    start, answer, end, total = _call_times(rng, ts, dur, offset)
    answered = pa.array(dur > 0)
    return _quoted_csv({
        "caller_id_name": pa.array(["Outbound Call"] * m),
        "caller_id_number": src,
        "destination_number": cols["peer"][sl],
        "context": pa.array(["default"] * m),
        "start_stamp": start,
        "answer_stamp": answer,
        "end_stamp": end,
        "duration": _str(total),
        "billsec": _str(dur),
        "hangup_cause": pc.if_else(answered, "NORMAL_CLEARING", "NO_ANSWER"),
        "uuid": cols["record_id"][sl],
        "bleg_uuid": pa.array([""] * m),
        "accountcode": pa.array([P.SOURCE_FREESWITCH] * m),
        "read_codec": pa.array(["PCMA"] * m),
        "write_codec": pa.array(["PCMA"] * m),
    })


# ------------------------------------------------------------------------------------------------- truth


def _truth(g: Frame, p: dict[str, np.ndarray], win: Window, rid: pa.Array, route: np.ndarray, files: np.ndarray,
           names: list[str], dup: np.ndarray, is_part: np.ndarray, seq: np.ndarray, kk: np.ndarray,
           final: np.ndarray, session_id: pa.Array, out_of_order: np.ndarray, across: np.ndarray,
           sources: tuple[str, ...] = SOURCES) -> dict[str, pl.DataFrame]:
    days = win.days
    msisdn_all = _str(p["msisdn"])
    src_idx = np.where(route == ROUTE_PARQUET, np.where(g.kind == DATA, 1, 0), route + 1)

    def base(idx: np.ndarray) -> dict[str, Any]:
        offset = win.offset_s[np.clip(np.searchsorted(win.day_start, g.ts[idx], side="right") - 1, 0, days - 1)]
        return {
            "msisdn": pc.take(msisdn_all, pa.array(g.sub[idx])),
            "record_id": rid.take(pa.array(idx)),
            "source": _pick_str(sources, src_idx[idx]),
            "started_at": _rfc3339(g.ts[idx], offset),
        }

    def frame(cols: dict[str, Any]) -> pl.DataFrame:
        return pl.from_arrow(pa.table(cols))  # type: ignore[return-value]

    out: dict[str, pl.DataFrame] = {}
    for tag, name in ((TAG_WANGIRI_RING, "wangiri_ring"), (TAG_WANGIRI_CALLBACK, "wangiri_callback"),
                      (TAG_IRSF, "irsf"), (TAG_SHOCK, "bill_shock")):
        idx = np.flatnonzero(g.tag == tag)
        cols = base(idx)
        cols["peer"] = _str(g.peer[idx], g.peer[idx] < 0)
        cols["duration_s"] = pa.array(g.dur[idx], mask=g.dur[idx] < 0)
        cols["bytes_up"] = pa.array(g.bup[idx], mask=g.bup[idx] < 0)
        cols["bytes_down"] = pa.array(g.bdown[idx], mask=g.bdown[idx] < 0)
        cols["roaming_country"] = _pick_str(P.ROAM_COUNTRIES, np.maximum(g.roam[idx], 0), g.roam[idx] < 0)
        cols["irsf_roaming"] = pa.array(p["irsf_roaming"][g.sub[idx]])
        cols["ts"] = pa.array(g.ts[idx])
        out[name] = frame(cols)
    # SIM-box lines: what a detector sees per line.
    idx = np.flatnonzero(g.tag == TAG_SIMBOX)
    out["simbox"] = frame({
        "sub": pa.array(g.sub[idx]), "msisdn": pc.take(msisdn_all, pa.array(g.sub[idx])),
        "kind": pa.array(g.kind[idx]), "direction": pa.array(g.direction[idx]), "peer": pa.array(g.peer[idx]),
    })
    # Travellers (every trip, so that a detector's false alarms can be counted too).
    trav = np.flatnonzero(p["trip_start"] >= 0)
    roam_data = (g.kind == DATA) & (g.roam >= 0)
    per_sub_bytes = np.bincount(g.sub[roam_data], weights=g.bdown[roam_data] + g.bup[roam_data], minlength=len(p["msisdn"]))
    out["trips"] = frame({
        "msisdn": pc.take(msisdn_all, pa.array(trav)),
        "roaming_country": _pick_str(P.ROAM_COUNTRIES, p["trip_country"][trav].astype(np.int64)),
        "first_day": pa.array(p["trip_start"][trav]),
        "days": pa.array(p["trip_len"][trav]),
        "shock": pa.array(p["shock"][trav]),
        "roaming_bytes": pa.array(per_sub_bytes[trav].astype(np.int64)),
    })
    # Duplicates: the key, and the files that hold a copy.
    key_rows = dup
    first_file = files[: len(g)][key_rows]
    second_file = files[len(g):]
    names_arr = pa.array(names)
    out["duplicates"] = frame({
        **{k: v for k, v in base(key_rows).items() if k != "started_at"},
        "kind": _pick_str(KINDS, g.kind[key_rows].astype(np.int64)),
        "file": pc.take(names_arr, pa.array(first_file)),
        "copy_file": pc.take(names_arr, pa.array(second_file)),
    })
    # Partial sessions, one row per part present (grouped by the caller).
    parts = np.flatnonzero(is_part)
    part_cols = base(parts)
    out["partials"] = frame({
        "session_id": session_id.take(pa.array(parts)),
        **part_cols,
        "seq": pa.array(seq[parts]),
        "parts_expected": pa.array(kk[parts].astype(np.int32)),
        "final": pa.array(final[parts]),
        "bytes_up": pa.array(g.bup[parts]),
        "bytes_down": pa.array(g.bdown[parts]),
        "file": pc.take(names_arr, pa.array(files[parts])),
        "out_of_order": pa.array(out_of_order[parts]),
        "moved": pa.array(across[parts]),
    })
    return out
