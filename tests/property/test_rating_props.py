"""Invariants of rating (Hypothesis): amounts never negative, monotone in usage within a rule, allowances never
over-drawn, results independent of row order and batching, free incoming free, a call cut where ``band_at``
changes when the clocks go forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.rating import RatingResult, rate

CATALOG = load_catalog(default_catalog_path())
MSISDNS = ("8613800000001", "8613800000002", "8613800000003")
PEERS = ("8613912345678", "85261234567", "12025550100", "2393123456", "2391234567", "4420123456", "0000")
START = datetime(2026, 2, 28, 16, tzinfo=UTC)  # 1 March 00:00 in Shanghai
MONTH_S = 31 * 86400 - 1
LIMITS = {a.id: a.quantity for p in CATALOG.plans for a in p.allowances if a.quantity is not None}


@st.composite
def records(draw: st.DrawFn, max_size: int = 40) -> pl.DataFrame:
    n = draw(st.integers(1, max_size))
    rows: list[dict[str, Any]] = []
    for i in range(n):
        kind = draw(st.sampled_from(["voice", "voice", "sms", "data", "vas"]))
        row: dict[str, Any] = {
            "record_id": f"r{i}", "source": draw(st.sampled_from(["sw1", "sw2"])),
            "msisdn": draw(st.sampled_from(MSISDNS)), "kind": kind,
            "started_at": START + timedelta(seconds=draw(st.integers(0, MONTH_S))),
            "direction": None, "duration_s": None, "bytes_up": None, "bytes_down": None, "peer": None,
            "offer_id": None, "amount_minor": None, "currency": None,
            "roaming_country": draw(st.sampled_from([None, None, None, "HK", "JP", "US", "ZZ"])),
        }
        if kind in ("voice", "sms"):
            row["direction"] = draw(st.sampled_from(["out", "out", "in"]))
            row["peer"] = draw(st.sampled_from(PEERS))
        if kind == "voice":
            row["duration_s"] = draw(st.integers(0, 4 * 3600))
        if kind == "data":
            row["bytes_up"] = draw(st.integers(0, 2 * 1024**3))
            row["bytes_down"] = draw(st.integers(0, 8 * 1024**3))
        if kind == "vas":
            row["offer_id"] = draw(st.sampled_from(["vas-music-10", "vas-horoscope-6", "vas-unknown"]))
            row["amount_minor"], row["currency"] = 1000, "CNY"
        rows.append(row)
    return pl.DataFrame(rows, schema_overrides={"started_at": pl.Datetime("us", "UTC")})


plans = st.fixed_dictionaries({m: st.sampled_from(["basic-39", "unlimited-129", "payg", "senior-19"]) for m in MSISDNS})


def run(usage: pl.DataFrame, subs: dict[str, str], **kw: Any) -> RatingResult:
    return rate(usage, CATALOG, subs, period="2026-03", **kw)


def canon(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("source", "record_id", "line")


@settings(max_examples=40, deadline=None)
@given(usage=records(), subs=plans)
def test_amounts_never_negative_and_allowances_never_overdrawn(usage: pl.DataFrame, subs: dict[str, str]) -> None:
    res = run(usage, subs)
    assert res.rated["amount_minor"].min() is None or res.rated["amount_minor"].min() >= 0  # type: ignore[operator]
    assert (res.rated["charged_quantity"] >= 0).all() and (res.rated["quantity"] >= 0).all()
    for msisdn, counter, used in res.closing_state.iter_rows():
        if counter in LIMITS:
            assert used <= LIMITS[counter], (msisdn, counter, used)
    drawn = res.rated.filter(pl.col("allowance_id").is_not_null()).group_by("msisdn", "allowance_id").agg(
        pl.col("allowance_used").sum(), (pl.col("allowance_before") + pl.col("allowance_used")).max().alias("top"))
    for _, allowance, used, top in drawn.iter_rows():
        if allowance in LIMITS:
            assert used <= LIMITS[allowance] and top <= LIMITS[allowance]
    # every rated record keeps its whole usage quantity across its lines
    per_record = res.rated.filter(pl.col("kind") == "voice").group_by("source", "record_id").agg(pl.col("quantity").sum())
    original = usage.filter(pl.col("kind") == "voice").select("source", "record_id", pl.col("duration_s").alias("quantity"))
    joined = per_record.join(original, on=["source", "record_id"])
    assert (joined["quantity"] == joined["quantity_right"]).all()


@settings(max_examples=40, deadline=None)
@given(usage=records(), subs=plans, seed=st.integers(0, 2**32 - 1))
def test_independent_of_row_order(usage: pl.DataFrame, subs: dict[str, str], seed: int) -> None:
    a = run(usage, subs)
    b = run(usage.sample(fraction=1.0, shuffle=True, seed=seed), subs)
    assert canon(a.rated).equals(canon(b.rated))
    assert a.closing_state.equals(b.closing_state)


@settings(max_examples=30, deadline=None)
@given(usage=records(), subs=plans, cut=st.integers(0, MONTH_S))
def test_independent_of_batching(usage: pl.DataFrame, subs: dict[str, str], cut: int) -> None:
    whole = run(usage, subs)
    # files split by subscriber: rating each set of subscribers alone gives the same lines
    parts = [run(usage.filter(pl.col("msisdn") == m), subs) for m in MSISDNS]
    assert canon(whole.rated).equals(canon(pl.concat([p.rated for p in parts])))
    # batches split in time: the later one opens with the earlier one's counters
    at = START + timedelta(seconds=cut)
    early = usage.filter(pl.col("started_at") < at)
    late = usage.filter(pl.col("started_at") >= at)
    one = run(early, subs)
    two = run(late, subs, opening_state=one.closing_state)
    # a call of the first batch that runs past ``at`` keeps its band pieces there: compare whole records
    assert one.rated.height + two.rated.height == whole.rated.height
    total = pl.concat([one.rated, two.rated]).group_by("source", "record_id").agg(pl.col("amount_minor").sum())
    expect = whole.rated.group_by("source", "record_id").agg(pl.col("amount_minor").sum())
    assert total.sort("source", "record_id").equals(expect.sort("source", "record_id"))
    assert two.closing_state.equals(whole.closing_state)


@settings(max_examples=40, deadline=None)
@given(usage=records(), subs=plans)
def test_free_incoming_is_free(usage: pl.DataFrame, subs: dict[str, str]) -> None:
    res = run(usage, subs)
    incoming = res.rated.filter(pl.col("direction") == "in", pl.col("roaming_zone").is_null())
    assert (incoming["amount_minor"] == 0).all()
    assert set(incoming["rule_id"].to_list()) <= {"home/voice-in", "home/sms-in"}


@settings(max_examples=40, deadline=None)
@given(start=st.integers(0, MONTH_S - 5 * 3600), d=st.integers(0, 3 * 3600), more=st.integers(0, 3600),
       peer=st.sampled_from(PEERS), plan=st.sampled_from(["basic-39", "senior-19", "payg"]),
       allowances=st.booleans())
def test_monotone_in_duration_within_a_rule(start: int, d: int, more: int, peer: str, plan: str, allowances: bool) -> None:
    def amount(seconds: int) -> tuple[int, set[str]]:
        row = {"record_id": "x", "source": "s", "msisdn": MSISDNS[0], "kind": "voice", "direction": "out",
               "started_at": START + timedelta(seconds=start), "duration_s": seconds, "peer": peer}
        res = run(pl.DataFrame([row]), {MSISDNS[0]: plan}, allowances=allowances)
        return int(res.rated["amount_minor"].sum()), set(res.rated["rule_id"].to_list())

    a, rules_a = amount(d)
    b, rules_b = amount(d + more)
    if rules_a <= rules_b:  # the longer call is priced by the same rules (and maybe more, past a band change)
        assert a <= b


@settings(max_examples=40, deadline=None)
@given(gib=st.integers(0, 20), extra=st.integers(0, 3 * 1024**3), plan=st.sampled_from(["basic-39", "senior-19", "payg"]),
       roaming=st.sampled_from([None, "HK", "ZZ"]))
def test_monotone_in_volume(gib: int, extra: int, plan: str, roaming: str | None) -> None:
    def amount(volume: int) -> int:
        row = {"record_id": "x", "source": "s", "msisdn": MSISDNS[0], "kind": "data", "bytes_up": 0,
               "bytes_down": volume, "started_at": START + timedelta(days=3), "roaming_country": roaming}
        return int(run(pl.DataFrame([row]), {MSISDNS[0]: plan}).rated["amount_minor"].sum())

    base = gib * 1024**3
    assert amount(base) <= amount(base + extra)


# ---- band changes on a clock with daylight saving ----------------------------------------------------------------
# London: the clocks go from 01:00 GMT to 02:00 BST at 01:00 UTC on 30 March 2025, so a change at 01:xx is skipped
SPRING = datetime(2025, 3, 30, 1, tzinfo=UTC)
LONDON_BANDS = """
[operator]
id = "t"
name = { zh = "测试", en = "Test" }
currency = "GBP"
timezone = "Europe/London"

[[zones]]
id = "uk"
name = { zh = "英国", en = "UK" }
prefixes = ["44"]

[[bands]]
id = "night"
windows = [{ days = ["all"], start = "NIGHT", end = "08:00" }]

[[bands]]
id = "day"
windows = [{ days = ["all"], start = "08:00", end = "NIGHT" }]

[[rates]]
id = "r"
unit = "second"
steps = [{ rate = "0.60", rate_unit = "60s", increment = "1s" }]

[[plans]]
id = "payg"
name = { zh = "按量", en = "Pay as you go" }
monthly_fee = "0.00"

[[plans.rules]]
id = "payg/night"
kind = "voice"
bands = ["night"]
rate = "r"

[[plans.rules]]
id = "payg/day"
kind = "voice"
rate = "r"
"""
NIGHTS = ("00:30", "00:59", "01:00", "01:01", "01:15", "01:30", "01:59", "02:00", "02:30")
LONDON = {n: parse_catalog(LONDON_BANDS.replace("NIGHT", n))[0] for n in NIGHTS}


@settings(max_examples=60, deadline=None)
@given(night=st.sampled_from(NIGHTS), before=st.integers(0, 3 * 3600), seconds=st.integers(1, 4 * 3600))
def test_pieces_are_where_band_at_changes_when_the_clocks_go_forward(night: str, before: int, seconds: int) -> None:
    catalog = LONDON[night]
    assert catalog is not None
    start = SPRING - timedelta(seconds=before)
    end = start + timedelta(seconds=seconds)
    parts = catalog.band_segments(start, end)
    # one band per piece, band_at's from its first second to its last, and a change at every cut
    for s, e, b in parts:
        assert catalog.band_at(s).id == b.id == catalog.band_at(e - timedelta(seconds=1)).id
    assert all(a[2] != b[2] for a, b in pairwise(parts))
    usage = pl.DataFrame([{"record_id": "x", "source": "t", "msisdn": "447700900001", "kind": "voice",
                           "direction": "out", "started_at": start, "duration_s": seconds, "peer": "447700900002"}])
    res = rate(usage, catalog, {"447700900001": "payg"}, period="2025-03")
    assert res.rated.sort("line").select("started_at", "band", "quantity").rows() == [
        (s, b.id, int((e - s).total_seconds())) for s, e, b in parts]
