"""Destinations and roaming: longest-prefix zones, roaming zones, free incoming, daily caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
A = "8613800000001"
MIB = 1024**2
CATALOG = load_catalog(default_catalog_path())


def rec(rid: str, kind: str, hour: int = 10, day: int = 3, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "t", "msisdn": A, "kind": kind, "direction": "out",
            "started_at": datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC), "duration_s": None,
            "bytes_up": None, "bytes_down": None, "peer": None, "roaming_country": None} | kw


def rated(*rows: dict[str, Any], plan: str = "payg") -> dict[str, dict[str, Any]]:
    res = rate(pl.DataFrame(list(rows)), CATALOG, {A: plan}, period="2026-03")
    assert res.unrated.height == 0, res.unrated
    return {r["record_id"]: r for r in res.rated.to_dicts()}


def test_longest_prefix_zone() -> None:
    out = rated(rec("stp", "voice", duration_s=60, peer="2391234567"),  # São Tomé: intl-3
                rec("prem", "voice", duration_s=60, peer="2393123456"),  # 2393…: premium inside 239
                rec("us", "voice", duration_s=60, peer="12025550100"),
                rec("odd", "voice", duration_s=60, peer="0000"))  # nothing matches: fallback zone
    assert {k: (v["zone"], v["rule_id"]) for k, v in out.items()} == {
        "stp": ("intl-3", "intl/voice-intl-3"), "prem": ("intl-premium", "intl/voice-premium"),
        "us": ("intl-2", "intl/voice-intl-2"), "odd": ("intl-other", "intl/voice-intl-3"),
    }
    assert out["prem"]["amount_minor"] == 1400 and out["us"]["amount_minor"] == 360


def test_roaming_zone_prices_calls_abroad() -> None:
    out = rated(rec("hk", "voice", duration_s=61, peer="8613912345678", roaming_country="HK"),
                rec("jp", "voice", duration_s=61, peer="8613912345678", roaming_country="jp"),
                rec("zz", "voice", duration_s=61, peer="8613912345678", roaming_country="ZZ"))
    assert {k: (v["roaming_zone"], v["amount_minor"]) for k, v in out.items()} == {
        "hk": ("roam-1", 198), "jp": ("roam-2", 398), "zz": ("roam-world", 1998),
    }


def test_free_incoming_at_home_and_abroad() -> None:
    out = rated(rec("vin", "voice", direction="in", duration_s=600, peer="8613912345678"),
                rec("sin", "sms", direction="in", peer="8613912345678"),
                rec("sin-hk", "sms", direction="in", peer="8613912345678", roaming_country="HK"),
                rec("vin-hk", "voice", direction="in", duration_s=60, peer="8613912345678", roaming_country="HK"),
                plan="basic-39")
    assert out["vin"]["amount_minor"] == out["sin"]["amount_minor"] == out["sin-hk"]["amount_minor"] == 0
    assert out["vin"]["rule_id"] == "home/voice-in" and out["sin-hk"]["rule_id"] == "roam/sms-in"
    assert out["vin"]["allowance_id"] is None  # the voice allowance is for outgoing calls
    # the demo tariff charges calls received abroad: roaming rules have no direction
    assert out["vin-hk"]["amount_minor"] == 99


def test_daily_cap_on_roaming_data() -> None:
    # roam-1 data: 1.00 per MiB, at most 25.00 a local day
    rows = [rec(f"d{i}", "data", hour=8 + i, bytes_up=0, bytes_down=10 * MIB, roaming_country="HK") for i in range(4)]
    rows.append(rec("next", "data", day=4, hour=9, bytes_up=0, bytes_down=10 * MIB, roaming_country="HK"))
    res = rate(pl.DataFrame(rows), CATALOG, {A: "basic-39"}, period="2026-03")
    out = res.rated.sort("started_at")
    assert out["amount_minor"].to_list() == [1000, 1000, 500, 0, 1000]
    assert out["capped"].to_list() == [False, False, True, True, False]
    state = dict(zip(res.closing_state["counter"], res.closing_state["used"], strict=True))
    assert state == {"cap:roam/data-roam-1:2026-03-03": 2500, "cap:roam/data-roam-1:2026-03-04": 1000}
    # a later batch of the same day starts from the counter
    more = rate(pl.DataFrame([rec("late", "data", hour=23, bytes_up=0, bytes_down=MIB, roaming_country="HK")]),
                CATALOG, {A: "basic-39"}, period="2026-03", opening_state=res.closing_state)
    assert more.rated["amount_minor"].to_list() == [0]


def test_home_data_does_not_use_the_roaming_rule() -> None:
    out = rated(rec("home", "data", bytes_up=0, bytes_down=1024**3), plan="payg")
    assert out["home"]["rule_id"] == "payg/data-home" and out["home"]["amount_minor"] == 500
