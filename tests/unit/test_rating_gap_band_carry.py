"""A call cut at a time-band change is billed its duration rounded once, as CGRateS bills it: the increment a
piece is rounded up to runs on into the next band, and the next piece starts where that increment ends
(CGRateS ``roundTimeSpansToIncrement`` and ``TimeSpans.RemoveOverlapedFromIndex``). The connect fee and a
first-minute step stay the call's first piece's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, import_cgrates, load_catalog, parse_catalog
from fairtel.rating import charge_line, compile_rate, rate

CN = timezone(timedelta(hours=8))
BERLIN = timezone(timedelta(hours=1))  # winter time
A = "8613800000001"
DEFAULT = load_catalog(default_catalog_path())

# PEAK Mon-Fri 08:00-19:00: connect 0.05, 0.30/min per 30 s for the first minute, then 0.20/min per second;
# off-peak 0.10/min per minute
_TP = {
    "Destinations.csv": "#Id,Prefix\nDST_DE,49\n",
    "Rates.csv": ("#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n"
                  "RT_PEAK,0.05,0.30,60s,30s,0s\nRT_PEAK,0,0.20,60s,1s,60s\nRT_OFF,0,0.10,60s,60s,0s\n"),
    "DestinationRates.csv": ("#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n"
                             "DR_DE_PEAK,DST_DE,RT_PEAK,*middle,2,0,\nDR_DE_OFF,DST_DE,RT_OFF,*up,2,0,\n"),
    "Timings.csv": ("#Tag,Years,Months,MonthDays,WeekDays,Time\n"
                    "PEAK,*any,*any,*any,1;2;3;4;5,08:00:00\nOFFPEAK_MORNING,*any,*any,*any,1;2;3;4;5,00:00:00\n"
                    "OFFPEAK_EVENING,*any,*any,*any,1;2;3;4;5,19:00:00\nWEEKEND,*any,*any,*any,6;0,00:00:00\n"),
    "RatingPlans.csv": ("#Id,DestinationRatesId,TimingTag,Weight\nRP_DE,DR_DE_PEAK,PEAK,10\n"
                        "RP_DE,DR_DE_OFF,OFFPEAK_MORNING,10\nRP_DE,DR_DE_OFF,OFFPEAK_EVENING,10\n"
                        "RP_DE,DR_DE_OFF,WEEKEND,10\n"),
    "RatingProfiles.csv": ("#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n"
                           "t.org,call,*any,2014-01-14T00:00:00Z,RP_DE,\n"),
}


@pytest.fixture(scope="module")
def berlin(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    d: Path = tmp_path_factory.mktemp("tp")
    for name, text in _TP.items():
        (d / name).write_text(text, encoding="utf-8")
    catalog, problems = parse_catalog(import_cgrates(d, timezone="Europe/Berlin").text)
    assert catalog is not None, problems
    return catalog


def call(start: datetime, seconds: int, msisdn: str = A, peer: str = "8613912345678") -> dict[str, Any]:
    return {"record_id": "x", "source": "t", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "started_at": start.astimezone(UTC), "duration_s": seconds, "peer": peer}


def rated(catalog: Catalog, row: dict[str, Any], plan: str) -> pl.DataFrame:
    res = rate(pl.DataFrame([row]), catalog, {row["msisdn"]: plan}, period="2026-03")
    assert res.unrated.height == 0, res.unrated
    return res.rated.sort("line")


def test_imported_cgrates_plan_prices_a_cut_call_as_cgrates(berlin: Catalog) -> None:
    # 07:59:30, 90 s: the off-peak minute runs to 08:00:30 (0.10); the peak rest, 30 s from second 60 of the
    # call, is in the per-second step (0.20/min: 0.10); no connect fee (the first span's rate has none)
    out = rated(berlin, call(datetime(2026, 3, 2, 7, 59, 30, tzinfo=BERLIN), 90, "4930111", "4930123456"), "RP_DE")
    assert out.select("rate_id", "offset", "quantity", "charged_quantity", "amount_minor").rows() == [
        ("RT_OFF", 0, 60, 60, 10),
        ("RT_PEAK", 60, 30, 30, 10),
    ]
    assert out["amount_minor"].sum() == 20
    assert out["started_at"][1] == datetime(2026, 3, 2, 8, 0, 30, tzinfo=BERLIN).astimezone(UTC)


def test_a_piece_the_rounding_covers_whole_is_dropped(berlin: Catalog) -> None:
    # 07:59:50, 20 s: the off-peak minute covers the whole call; CGRateS removes the peak span it overlaps
    out = rated(berlin, call(datetime(2026, 3, 2, 7, 59, 50, tzinfo=BERLIN), 20, "4930111", "4930123456"), "RP_DE")
    assert out.select("rate_id", "offset", "quantity", "charged_quantity", "amount_minor").rows() == [
        ("RT_OFF", 0, 20, 60, 10),
    ]


def test_native_plan_bills_the_call_rounded_once() -> None:
    # 22:59:30, 120 s per started minute: the peak minute runs to 23:00:30, the off-peak one to the end (120 s
    # billed, not 60 + 120)
    out = rated(DEFAULT, call(datetime(2026, 3, 3, 22, 59, 30, tzinfo=CN), 120), "payg")
    assert out.select("band", "offset", "quantity", "charged_quantity", "amount_minor").rows() == [
        ("peak", 0, 60, 60, 19),
        ("offpeak", 60, 60, 60, 12),
    ]
    assert out["charged_quantity"].sum() == 120
    assert out["quantity"].sum() == 120  # the pieces still cover the call exactly


def test_allowance_draws_the_carried_minutes_only() -> None:
    # a peak-only allowance: the peak piece draws one minute (to 23:00:30), the off-peak piece is charged the
    # minute left: 120 s in all for a 120 s call, not 60 drawn + 120 charged
    text = default_catalog_path().read_text(encoding="utf-8").replace(
        'rule_sets = ["home-incoming", "international", "roaming"]\n\n[[plans.rules]]\nid = "payg/voice-domestic-peak"',
        'rule_sets = ["home-incoming", "international", "roaming"]\n\n[[plans.allowances]]\nid = "payg/peak-minutes"\n'
        'name = { zh = "闲时外", en = "Peak minutes" }\nkind = "voice"\nquantity = "10min"\ndirections = "out"\n'
        'zones = ["domestic"]\nbands = ["peak"]\n\n[[plans.rules]]\nid = "payg/voice-domestic-peak"', 1)
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems
    out = rated(catalog, call(datetime(2026, 3, 3, 22, 59, 30, tzinfo=CN), 120), "payg")
    assert out.select("band", "offset", "quantity", "allowance_used", "charged_quantity", "amount_minor").rows() == [
        ("peak", 0, 60, 60, 0, 0),
        ("offpeak", 60, 60, 0, 60, 12),
    ]


def test_explain_recomputes_each_carried_piece() -> None:
    # what explanations recompute from a stored line (offset, quantity) is the amount the kernel wrote
    out = rated(DEFAULT, call(datetime(2026, 3, 3, 22, 58, 30, tzinfo=CN), 200), "payg")
    for r in out.iter_rows(named=True):
        compiled = compile_rate(DEFAULT.rate(r["rate_id"]), "CNY")
        assert charge_line(compiled, offset=r["offset"], quantity=r["quantity"]).amount_minor == r["amount_minor"]


def test_cut_calls_agree_with_the_reference_walk(berlin: Catalog) -> None:
    # calls just before the 08:00 and 19:00 changes, of a few seconds to a few minutes, on rates with a connect
    # fee and two steps: the vectorised carry agrees with a record-by-record walk, the pieces cover each call
    # exactly and the connect fee is charged once
    import _rating_reference as reference
    import numpy as np
    from polars.testing import assert_frame_equal

    rng = np.random.default_rng(11)
    rows = []
    for i in range(400):
        hour = (8, 19)[i % 2]
        start = datetime(2026, 3, 2 + i % 4, hour, 0, tzinfo=BERLIN) - timedelta(seconds=int(rng.integers(1, 150)))
        rows.append(call(start, int(rng.integers(1, 400)), "4930111", "4930123456") | {"record_id": f"r{i:03d}"})
    data = pl.DataFrame(rows)
    fast = rate(data, berlin, {"4930111": "RP_DE"}, period="2026-03")
    slow = reference.rate(data, berlin, {"4930111": "RP_DE"}, period="2026-03")
    assert fast.unrated.height == 0
    assert_frame_equal(fast.rated, slow.rated)
    cut = fast.rated.group_by("record_id").agg(pl.len().alias("n"), pl.col("quantity").sum(), pl.col("offset").min())
    assert cut["n"].max() == 2
    durations = dict(zip(data["record_id"], data["duration_s"], strict=True))
    assert all(q == durations[r] for r, q in zip(cut["record_id"], cut["quantity"], strict=True))
