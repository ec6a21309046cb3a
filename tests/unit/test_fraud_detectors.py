"""Fraud features and rule detectors on small hand-made usage frames: each detector fires on its pattern
and stays quiet on the look-alikes (a busy call centre, a family abroad, a victim who called back)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.core.errors import ConfigError
from fairtel.fraud import (
    RULE_DETECTORS,
    Detector,
    FraudFeatures,
    IrsfThresholds,
    SimboxThresholds,
    Thresholds,
    compute_features,
    detect,
    detect_irsf,
    detect_scam,
    detect_simbox,
    detect_wangiri,
)

SH = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 9, 7, tzinfo=SH)  # a Monday
NOW = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = "2026-09"
_ids = count()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def rec(msisdn: str, kind: str, direction: str | None, at: datetime, *, peer: str | None = None, dur: int | None = None,
        cell: str | None = "460-00-10001", imei: str | None = None, roaming: str | None = None,
        bytes_down: int | None = None) -> dict[str, Any]:
    return {
        "record_id": f"t{next(_ids):08d}", "source": "test", "msisdn": msisdn, "kind": kind, "direction": direction,
        "started_at": at.astimezone(UTC), "duration_s": dur, "bytes_up": None if bytes_down is None else 100,
        "bytes_down": bytes_down, "peer": peer, "roaming_country": roaming, "cell_id": cell,
        "imei": imei if imei is not None else f"35{msisdn[-12:]}",
    }


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={
        "record_id": pl.String, "source": pl.String, "msisdn": pl.String, "kind": pl.String, "direction": pl.String,
        "started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64, "bytes_up": pl.Int64, "bytes_down": pl.Int64,
        "peer": pl.String, "roaming_country": pl.String, "cell_id": pl.String, "imei": pl.String,
    })


def mobile(i: int) -> str:
    return f"86139{i:08d}"


def ordinary(msisdn: str, days: int = 5) -> list[dict[str, Any]]:
    """A person: a few calls each way with friends who call back, SMS, data, two cells."""
    rows = []
    friends = [mobile(90_000_000 + hash(msisdn) % 1000 + k) for k in range(6)]
    for d in range(days):
        day = MONDAY + timedelta(days=d)
        for k in range(3):
            rows.append(rec(msisdn, "voice", "out", day + timedelta(hours=9 + 3 * k), peer=friends[(d + k) % 6], dur=120,
                            cell=f"460-00-1000{k % 2}"))
            rows.append(rec(msisdn, "voice", "in", day + timedelta(hours=10 + 3 * k), peer=friends[(d + k + 1) % 6], dur=90))
        rows.append(rec(msisdn, "sms", "out", day + timedelta(hours=20), peer=friends[d % 6]))
        rows += [rec(msisdn, "data", None, day + timedelta(hours=h), bytes_down=2_000_000) for h in (8, 13, 21)]
    return rows


def simbox_group(lines: list[str], imei: str, days: int = 4, per_day: int = 60) -> list[dict[str, Any]]:
    rows = []
    n = count(1)
    for msisdn in lines:
        for d in range(days):  # Thursday to Sunday: weekends too, from morning to midnight
            day = MONDAY + timedelta(days=3 + d)
            for k in range(per_day):
                at = day + timedelta(hours=7, seconds=k * 1000)
                rows.append(rec(msisdn, "voice", "out", at, peer=mobile(next(n) + 10_000_000), dur=70 if k % 5 else 0,
                                cell="460-00-20161", imei=imei))
        rows.append(rec(msisdn, "voice", "in", MONDAY + timedelta(days=4, hours=12), peer=mobile(5), dur=30,
                        cell="460-00-20161", imei=imei))
    return rows


def call_centre(msisdn: str, days: int = 3, per_day: int = 80, callers_back: int = 25) -> list[dict[str, Any]]:
    """An outbound call centre: many different customers a day, office hours on weekdays, one desk phone,
    one place, and some customers call back."""
    rows = []
    customers = [mobile(30_000_000 + k) for k in range(days * per_day)]
    for d in range(days):
        day = MONDAY + timedelta(days=d)
        for k in range(per_day):
            at = day + timedelta(hours=9, seconds=k * 360)
            rows.append(rec(msisdn, "voice", "out", at, peer=customers[d * per_day + k], dur=95, cell="460-00-30001",
                            imei="356938030000001"))
    for k in range(callers_back):
        rows.append(rec(msisdn, "voice", "in", MONDAY + timedelta(days=k % days, hours=15, minutes=k), peer=customers[k * 7],
                        dur=200, cell="460-00-30001", imei="356938030000001"))
    return rows


def features(catalog: Catalog, rows: list[dict[str, Any]], subscribers: pl.DataFrame | None = None,
             chunks: int = 1) -> FraudFeatures:
    return compute_features(frame(rows), catalog=catalog, subscribers=subscribers, chunks=chunks)


def subs(rows: dict[str, datetime]) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": list(rows), "activated_at": [v.astimezone(UTC) for v in rows.values()]},
                        schema={"msisdn": pl.String, "activated_at": pl.Datetime("us", "UTC")})


# ---------------------------------------------------------------------------------------------- features
def test_features_count_what_they_say(catalog: Catalog) -> None:
    box = [mobile(1), mobile(2), mobile(3)]
    rows = simbox_group(box, "356938037867562") + ordinary(mobile(9))
    rows.append(rec(mobile(9), "voice", "out", MONDAY + timedelta(hours=2), peer="8825551234", dur=600))  # premium, night
    f = features(catalog, rows).lines
    sb = f.filter(pl.col("msisdn") == box[0]).row(0, named=True)
    assert sb["calls_out"] == 240 and sb["calls_in"] == 1
    assert sb["distinct_callees"] == 240 and sb["callee_diversity"] == 1.0
    assert sb["sims_per_imei"] == 3 and sb["distinct_cells"] == 1 and sb["distinct_imeis"] == 1
    assert sb["active_days"] == 4 and sb["calls_out_per_day"] == 60
    assert sb["short_call_share"] == pytest.approx(0.2)  # every fifth call unanswered
    person = f.filter(pl.col("msisdn") == mobile(9)).row(0, named=True)
    assert person["sims_per_imei"] == 1
    assert person["premium_calls"] == 1 and person["premium_minutes"] == pytest.approx(10.0)
    assert person["premium_night_share"] == 1.0
    assert person["intl_calls_out"] == 1
    assert person["distinct_cells"] == 2
    assert 0 < person["callback_share"] <= 1  # friends call back
    assert person["data_sessions"] == 15


def test_chunks_give_the_same_features(catalog: Catalog) -> None:
    rows = simbox_group([mobile(1), mobile(2)], "356938037867562") + ordinary(mobile(9)) + ordinary(mobile(8)) + call_centre(mobile(7))
    one = features(catalog, rows)
    three = features(catalog, rows, chunks=3)
    assert one.lines.equals(three.lines)
    assert one.callers.equals(three.callers)


def test_line_age_comes_from_activation(catalog: Catalog) -> None:
    rows = ordinary(mobile(9))
    f = features(catalog, rows, subscribers=subs({mobile(9): MONDAY - timedelta(days=10)})).lines
    assert f["line_age_days"][0] == pytest.approx(10 + 8 / 24)  # first record: data at 08:00 on Monday


# ---------------------------------------------------------------------------------------------- SIM-box
def test_simbox_lines_are_flagged_and_a_busy_call_centre_is_not(catalog: Catalog) -> None:
    box = [mobile(1), mobile(2), mobile(3), mobile(4)]
    rows = simbox_group(box, "356938037867562") + call_centre(mobile(7)) + ordinary(mobile(9))
    f = features(catalog, rows)
    cases = detect_simbox(f.lines, period=PERIOD, now=NOW)
    assert sorted(c.subject for c in cases) == box
    first = cases[0]
    assert first.detector is Detector.SIMBOX and first.score == 1.0
    codes = {r.code for r in first.reasons}
    assert {"calls_out_per_day", "shared_device", "no_callbacks", "round_the_clock"} <= codes
    shared = next(r for r in first.reasons if r.code == "shared_device")
    assert shared.value == 4 and "4 SIM" in shared.en and "4 张 SIM" in shared.zh

    # The call centre meets the volume conditions, so it is its callbacks and office hours that spare it.
    cc = f.lines.filter(pl.col("msisdn") == mobile(7)).row(0, named=True)
    t = SimboxThresholds()
    assert cc["calls_out_per_day"] >= t.min_calls_out_per_day
    assert cc["out_in_ratio"] >= t.min_out_in_ratio
    assert cc["callee_diversity"] >= t.min_callee_diversity
    assert cc["callback_share"] > t.max_callback_share and cc["office_hours_share"] == 1.0
    assert mobile(7) not in {c.subject for c in cases}
    # ...and with a lax enough score it would be: the score is what separates them.
    lax = detect_simbox(f.lines, replace(t, min_score=0.3), period=PERIOD, now=NOW)
    assert mobile(7) in {c.subject for c in lax}


def test_simbox_without_shared_device_still_flagged_when_the_rest_holds(catalog: Catalog) -> None:
    rows = simbox_group([mobile(1)], "356938037867562")  # one SIM in its device: only the shared-device signal fails
    cases = detect_simbox(features(catalog, rows).lines, period=PERIOD, now=NOW)
    assert [c.subject for c in cases] == [mobile(1)]
    assert 0.6 <= cases[0].score < 1.0
    assert "shared_device" not in {r.code for r in cases[0].reasons}


def test_exempt_lines_open_no_case(catalog: Catalog) -> None:
    rows = simbox_group([mobile(1), mobile(2)], "356938037867562")
    cases = detect_simbox(features(catalog, rows).lines, period=PERIOD, now=NOW, exempt={mobile(1)})
    assert [c.subject for c in cases] == [mobile(2)]


# ---------------------------------------------------------------------------------------------- Wangiri
def test_wangiri_callers_flagged_and_callbacks_warned_not_accused(catalog: Catalog) -> None:
    wangiri = "371298765432"  # Latvia 3712: the premium zone
    targets = [mobile(100 + k) for k in range(15)]
    rows = []
    for k, m in enumerate(targets):
        rows.append(rec(m, "voice", "in", MONDAY + timedelta(hours=2, minutes=k), peer=wangiri, dur=k % 4))
        rows += ordinary(m, days=2)
    # two victims call back after the ring; one calls the number before it rang (not a callback)
    rows.append(rec(targets[0], "voice", "out", MONDAY + timedelta(hours=8), peer=wangiri, dur=95))
    rows.append(rec(targets[1], "voice", "out", MONDAY + timedelta(hours=9), peer=wangiri, dur=40))
    rows.append(rec(targets[2], "voice", "out", MONDAY + timedelta(hours=1), peer=wangiri, dur=40))
    # a UK office that calls 15 customers and talks to them is not Wangiri
    for k, m in enumerate(targets):
        rows.append(rec(m, "voice", "in", MONDAY + timedelta(days=1, hours=10, minutes=k), peer="442071234567", dur=300))
    # a premium number that rang only 4 subscribers is below the threshold
    for m in targets[:4]:
        rows.append(rec(m, "voice", "in", MONDAY + timedelta(days=1, hours=3), peer="881612345678", dur=1))
    f = features(catalog, rows)
    cases, notices = detect_wangiri(f.callers, f.callbacks, period=PERIOD, now=NOW)
    assert [c.subject for c in cases] == [wangiri]
    case = cases[0]
    assert case.subject_kind == "caller" and case.evidence["targets"] == 15
    assert case.evidence["callbacks"] == 2 and case.evidence["premium_callbacks"] == 2
    assert case.related == tuple(sorted(targets[:2]))
    assert sorted(n.msisdn for n in notices) == sorted(targets[:2])
    assert all(n.premium and n.case_id == case.case_id and wangiri in n.text_en and wangiri in n.text_zh for n in notices)
    assert {n.duration_s for n in notices} == {95, 40}
    # the victims get notices, never cases
    everything = detect(f, period=PERIOD, now=NOW)
    assert not {c.subject for c in everything.cases} & set(targets)
    assert len(everything.notices) == 2


# ---------------------------------------------------------------------------------------------- IRSF
def test_irsf_from_a_new_line_and_a_roaming_line(catalog: Catalog) -> None:
    new, roamer, old, us_caller = mobile(11), mobile(12), mobile(13), mobile(14)
    rows = ordinary(old) + ordinary(us_caller) + ordinary(roamer)
    for k in range(12):  # a line activated yesterday pumps minutes into premium ranges at night
        rows.append(rec(new, "voice", "out", MONDAY + timedelta(hours=1, minutes=25 * k), peer=f"88{k % 3 + 1}61234567{k:02d}",
                        dur=1200))
    for k in range(8):  # a traveller's phone does the same abroad
        rows.append(rec(roamer, "voice", "out", MONDAY + timedelta(days=3, hours=14, minutes=30 * k), peer=f"23930000{k:04d}",
                        dur=900, cell=None, roaming="TH"))
    rows += [rec(old, "voice", "out", MONDAY + timedelta(hours=15, minutes=k), peer="88161234567", dur=60) for k in range(2)]
    rows += [rec(us_caller, "voice", "out", MONDAY + timedelta(days=k, hours=21), peer="12125550100", dur=1800) for k in range(5)]
    s = subs({new: MONDAY - timedelta(days=1), roamer: MONDAY - timedelta(days=900), old: MONDAY - timedelta(days=900),
              us_caller: MONDAY - timedelta(days=900)})
    cases = detect_irsf(features(catalog, rows, subscribers=s).lines, period=PERIOD, now=NOW)
    by = {c.subject: c for c in cases}
    assert set(by) == {new, roamer}
    assert {"new_line", "night"} <= {r.code for r in by[new].reasons}
    assert "roaming" in {r.code for r in by[roamer].reasons} and "new_line" not in {r.code for r in by[roamer].reasons}
    assert by[new].evidence["premium_minutes"] == pytest.approx(240.0)
    # a stricter volume threshold drops the smaller one
    strict = detect_irsf(features(catalog, rows, subscribers=s).lines, IrsfThresholds(min_premium_minutes=200),
                         period=PERIOD, now=NOW)
    assert [c.subject for c in strict] == [new]


# ---------------------------------------------------------------------------------------------- scam
def test_scam_caller_flagged_and_simbox_and_call_centre_are_not(catalog: Catalog) -> None:
    scam = mobile(21)
    rows = []
    for d in range(2):
        for k in range(80):
            at = MONDAY + timedelta(days=d, hours=10, seconds=k * 240)
            rows.append(rec(scam, "voice", "out", at, peer=mobile(40_000_000 + d * 100 + k), dur=12 if k % 5 else 70,
                            imei=f"86891203000000{k % 3}"))
    rows.append(rec(scam, "voice", "in", MONDAY + timedelta(hours=18), peer=mobile(40_000_003), dur=20, imei="868912030000000"))
    rows += simbox_group([mobile(1), mobile(2)], "356938037867562") + call_centre(mobile(7)) + ordinary(mobile(9))
    s = subs({scam: MONDAY - timedelta(days=3), mobile(1): MONDAY - timedelta(days=20),
              mobile(2): MONDAY - timedelta(days=20), mobile(7): MONDAY - timedelta(days=800)})
    cases = detect_scam(features(catalog, rows, subscribers=s).lines, period=PERIOD, now=NOW)
    assert [c.subject for c in cases] == [scam]
    codes = {r.code for r in cases[0].reasons}
    assert {"brief_calls", "several_devices", "new_line", "no_callbacks"} <= codes
    assert cases[0].evidence["distinct_imeis"] == 3


def test_ordinary_subscribers_open_no_case(catalog: Catalog) -> None:
    rows = [r for k in range(10) for r in ordinary(mobile(500 + k))]
    found = detect(features(catalog, rows), period=PERIOD, now=NOW)
    assert found.cases == () and found.notices == ()
    assert found.counts() == {d.value: 0 for d in RULE_DETECTORS}


# ---------------------------------------------------------------------------------------------- thresholds
def test_thresholds_from_mapping() -> None:
    t = Thresholds.from_mapping({"simbox": {"min_calls_out_per_day": 80}, "enabled": ["simbox", "irsf"]})
    assert t.simbox.min_calls_out_per_day == 80 and t.simbox.min_out_in_ratio == SimboxThresholds().min_out_in_ratio
    assert t.enabled == (Detector.SIMBOX, Detector.IRSF)
    with pytest.raises(ConfigError) as err:
        Thresholds.from_mapping({"simbox": {"min_calls_per_day": 1}, "sim-box": {}})
    assert "min_calls_per_day" in str(err.value) and "sim-box" in str(err.value)


def test_thresholds_out_of_range_are_refused_not_silently_disabling_a_detector() -> None:
    """A share written as a percentage (80 for 0.8) would never be reached and turn the detector off unseen."""
    with pytest.raises(ConfigError) as err:
        Thresholds.from_mapping({"wangiri": {"min_one_ring_share": 80}, "scam": {"min_score": 1.5},
                                 "simbox": {"min_calls_out_per_day": -1}, "irsf": {"min_night_share": float("nan")}})
    text = str(err.value)
    assert "min_one_ring_share = 80: a share from 0 to 1" in text and "min_score = 1.5" in text
    assert "min_calls_out_per_day = -1" in text and "min_night_share" in text
    assert Thresholds.from_mapping({"wangiri": {"min_one_ring_share": 1}}).wangiri.min_one_ring_share == 1.0


def test_disabled_detectors_do_not_run(catalog: Catalog) -> None:
    f = features(catalog, simbox_group([mobile(1), mobile(2)], "356938037867562"))
    t = Thresholds.from_mapping({"enabled": ["irsf"]})
    assert detect(f, t, period=PERIOD, now=NOW).cases == ()
    assert len(detect(f, period=PERIOD, now=NOW).cases) == 2
