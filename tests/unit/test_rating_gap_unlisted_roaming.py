"""Usage abroad in a country no roaming zone lists is never priced as at home: without a fallback roaming zone it is
left unrated as ``no_roaming_zone`` (with words saying why); with one it is priced there. Records at home (no
country, or the operator's own) are priced as they always were, and the demo catalog (which has a fallback roaming
zone) rates exactly as before."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import _rating_reference as reference
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fairtel.catalog import Catalog, RoamingZone, default_catalog_path, load_catalog
from fairtel.catalog._model import Name
from fairtel.core.errors import NotFoundError
from fairtel.rating import UnratedReason, quote, rate
from fairtel.rating._quote import why_unrated

CN = timezone(timedelta(hours=8))
A = "8613800000001"
DEMO = load_catalog(default_catalog_path())
# the demo catalog without its "rest of the world" roaming zone: only HK, MO, TW, JP, KR ... US, GB, DE ... listed
NO_FALLBACK = dataclasses.replace(DEMO, roaming_zones=tuple(z for z in DEMO.roaming_zones if not z.fallback))


def rec(rid: str, country: str | None, kind: str = "voice", **kw: Any) -> dict[str, Any]:
    return {
        "record_id": rid,
        "source": "t",
        "msisdn": A,
        "kind": kind,
        "direction": "out" if kind != "data" else None,
        "started_at": datetime(2026, 3, 3, 10, tzinfo=CN).astimezone(UTC),
        "duration_s": 61 if kind == "voice" else None,
        "bytes_up": 0 if kind == "data" else None,
        "bytes_down": 10 * 1024**2 if kind == "data" else None,
        "peer": "8613912345678" if kind != "data" else None,
        "roaming_country": country,
    } | kw


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(
        list(rows), schema_overrides={"roaming_country": pl.String(), "peer": pl.String(), "direction": pl.String()}
    )


def test_a_country_no_roaming_zone_lists_is_unrated_without_a_fallback_zone() -> None:
    res = rate(
        frame(
            rec("zz", "ZZ"),
            rec("br", "BR"),
            rec("data-br", "br", "data"),
            rec("sms-ae", "AE", "sms"),
            rec("hk", "HK"),
            rec("home", None),
        ),
        NO_FALLBACK,
        {A: "basic-39"},
        period="2026-03",
    )
    assert dict(zip(res.unrated["record_id"], res.unrated["reason"], strict=True)) == {
        "zz": "no_roaming_zone",
        "br": "no_roaming_zone",
        "data-br": "no_roaming_zone",
        "sms-ae": "no_roaming_zone",
    }
    assert UnratedReason.NO_ROAMING_ZONE.value == "no_roaming_zone"
    # what a zone lists is priced there, home usage at home: nothing drew the domestic allowance from abroad
    out = {r["record_id"]: r for r in res.rated.to_dicts()}
    assert set(out) == {"hk", "home"}
    assert (out["hk"]["roaming_zone"], out["hk"]["rule_id"]) == ("roam-1", "roam/voice-roam-1")
    assert out["home"]["allowance_id"] == "basic-39/voice"
    assert dict(zip(res.closing_state["counter"], res.closing_state["used"], strict=True)) == {"basic-39/voice": 120}


def test_a_fallback_roaming_zone_prices_what_no_zone_lists() -> None:
    res = rate(
        frame(rec("zz", "ZZ"), rec("br", "BR"), rec("data-br", "br", "data"), rec("jp", "JP")),
        DEMO,
        {A: "payg"},
        period="2026-03",
    )
    assert res.unrated.height == 0
    out = {r["record_id"]: (r["roaming_zone"], r["rule_id"], r["amount_minor"]) for r in res.rated.to_dicts()}
    assert out == {
        "zz": ("roam-world", "roam/voice-roam-world", 1998),
        "br": ("roam-world", "roam/voice-roam-world", 1998),
        "data-br": ("roam-world", "roam/data-roam-world", out["data-br"][2]),
        "jp": ("roam-2", "roam/voice-roam-2", 398),
    }
    assert out["data-br"][2] > 0


@pytest.mark.parametrize("catalog", [DEMO, NO_FALLBACK], ids=["fallback", "no-fallback"])
def test_home_records_are_priced_at_home(catalog: Catalog) -> None:
    # no country, an empty one, or the operator's own (CN: the demo operator's time zone is Asia/Shanghai) that
    # no roaming zone lists: all at home, priced and drawn as a record without a country
    assert catalog.home_country == "CN"
    rows = [
        rec(f"r{i}", c, started_at=datetime(2026, 3, 3, 10 + i, tzinfo=CN).astimezone(UTC))
        for i, c in enumerate((None, "", "CN", "cn"))
    ]
    res = rate(frame(*rows), catalog, {A: "basic-39"}, period="2026-03")
    assert res.unrated.height == 0
    lines = res.rated.sort("started_at")
    assert lines["roaming_zone"].null_count() == 4
    assert lines["rule_id"].to_list() == ["basic-39/voice-domestic"] * 4
    assert lines["allowance_id"].to_list() == ["basic-39/voice"] * 4


def test_the_home_country_is_the_operators_and_a_zone_listing_it_wins() -> None:
    assert DEMO.roaming_zone_of(None) is None and DEMO.roaming_zone_of(" ") is None
    assert DEMO.roaming_zone_of("CN") is None
    assert DEMO.roaming_zone_of("zz").id == "roam-world"  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        NO_FALLBACK.roaming_zone_of("ZZ")
    # an operator declared in another country: CN is abroad
    abroad = dataclasses.replace(NO_FALLBACK, operator=dataclasses.replace(NO_FALLBACK.operator, country="KE"))
    assert abroad.home_country == "KE" and abroad.roaming_zone_of("KE") is None
    assert abroad.roaming_zone_of("GB").id == "roam-3"  # type: ignore[union-attr]  # a zone lists it: abroad
    res = rate(frame(rec("cn", "CN")), abroad, {A: "payg"}, period="2026-03")
    assert res.unrated["reason"].to_list() == ["no_roaming_zone"]
    # an operator on a clock of no country has no home country: every country named is abroad
    utc = dataclasses.replace(NO_FALLBACK, operator=dataclasses.replace(NO_FALLBACK.operator, timezone="UTC"))
    assert utc.home_country is None
    assert rate(frame(rec("cn", "CN")), utc, {A: "payg"}, period="2026-03").unrated["reason"].to_list() == [
        "no_roaming_zone"
    ]
    # a roaming zone that lists the home country is the tariff author's word: priced there
    listed = dataclasses.replace(
        DEMO, roaming_zones=(*DEMO.roaming_zones, RoamingZone("roam-cn", Name("国内", "CN"), ("CN",)))
    )
    assert listed.roaming_zone_of("CN").id == "roam-cn"  # type: ignore[union-attr]


def test_quote_and_explain_say_why() -> None:
    record = {
        "record_id": "tap1",
        "msisdn": A,
        "kind": "voice",
        "direction": "out",
        "started_at": "2026-03-03T10:00:00+08:00",
        "duration_s": 125,
        "peer": "8613912345678",
        "roaming_country": "ZZ",
    }
    [out] = quote([record], NO_FALLBACK, plan_id="payg")
    error = out["error"]
    assert error["code"] == "no_roaming_zone"
    assert "unknown country (ZZ), which no roaming zone of the catalog lists" in error["message"]
    assert "no fallback roaming zone" in error["message"] and "not priced as at home" in error["message"]
    assert "未知国家或地区（ZZ）未列入资费目录的任何漫游区域" in error["message_zh"]
    assert error["details"] == {"plan_id": "payg", "kind": "voice", "roaming_country": "ZZ", "roaming_zone": None}
    [priced] = quote([record], DEMO, plan_id="payg")
    assert priced["rule"] == "roam/voice-roam-world"
    why = why_unrated(NO_FALLBACK, {"kind": "data", "roaming_country": "BR"}, "no_roaming_zone", plan_id="basic-39")
    assert why.sentence("d1") == (
        "record 'd1' was not rated: the data record was made roaming in Brazil (BR), which no roaming zone of the "
        "catalog lists, and the catalog has no fallback roaming zone: it is not priced as at home; list the country "
        "in a roaming zone or make one roaming zone the fallback [no_roaming_zone]"
    )
    assert why.sentence("d1", "zh").startswith("话单 d1 未计费：流量话单的漫游地巴西（BR）未列入")
    # a rule missing at home says the record was at home, never "roaming ... priced as at home"
    home = why_unrated(
        DEMO,
        {"kind": "voice", "direction": "out", "peer": "8613912345678", "roaming_country": "CN"},
        "no_rule",
        plan_id="x",
    )
    assert "in CN, the operator's own country (priced as at home)" in home.en
    assert "所在地 CN 为运营商本国（按非漫游计）" in home.zh and home.details["roaming_zone"] is None
    assert (
        "priced as at home"
        not in why_unrated(
            NO_FALLBACK,
            {"kind": "voice", "direction": "out", "peer": "8613912345678", "roaming_country": "ZZ"},
            "no_rule",
            plan_id="x",
        ).en
    )


def test_a_catalog_pricing_roaming_without_a_fallback_zone_is_noted() -> None:
    assert DEMO.roaming_gap() is None
    note = NO_FALLBACK.roaming_gap()
    assert note is not None and "no roaming zone is the fallback" in note and "basic-39" in note
    # no plan prices roaming (a CGRateS import): nothing to note, its roaming usage is simply not priced
    home_only = dataclasses.replace(
        NO_FALLBACK,
        plans=tuple(
            dataclasses.replace(p, rules=tuple(r for r in p.rules if not r.match.roaming_zones))
            for p in NO_FALLBACK.plans
        ),
    )
    assert home_only.roaming_gap() is None


def test_the_demo_catalog_rates_as_before() -> None:
    """The demo catalog has a fallback roaming zone: every record, roaming anywhere or at home, is priced as the
    reference kernel (the rules before this change) prices it."""
    rng = np.random.default_rng(11)
    numbers = [str(8613800000000 + i) for i in range(8)]
    subs = {m: str(rng.choice(["basic-39", "unlimited-129", "payg", "senior-19"])) for m in numbers}
    countries = np.array([None, None, None, "", "HK", "hk", "JP", "US", "ZZ", "BR", "AE", "KE"], dtype=object)
    n = 600
    kinds = rng.choice(["voice", "sms", "data"], size=n)
    data = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)],
            "source": ["s"] * n,
            "msisdn": rng.choice(numbers, size=n),
            "kind": kinds,
            "direction": [None if k == "data" else "out" for k in kinds],
            "started_at": [
                datetime(2026, 3, 1, tzinfo=CN) + timedelta(minutes=int(m)) for m in rng.integers(0, 40000, n)
            ],
            "duration_s": [
                int(d) if k == "voice" else None for d, k in zip(rng.integers(1, 900, n), kinds, strict=True)
            ],
            "bytes_up": [0 if k == "data" else None for k in kinds],
            "bytes_down": [
                int(b) if k == "data" else None for b, k in zip(rng.integers(1, 10**8, n), kinds, strict=True)
            ],
            "peer": [None if k == "data" else "8613912345678" for k in kinds],
            "roaming_country": rng.choice(countries, size=n).tolist(),
        },
        schema_overrides={"roaming_country": pl.String(), "peer": pl.String(), "direction": pl.String()},
    )
    fast = rate(data, DEMO, subs, period="2026-03")
    slow = reference.rate(data, DEMO, subs, period="2026-03")
    assert fast.unrated.height == 0
    assert_frame_equal(fast.rated, slow.rated)
    assert_frame_equal(fast.closing_state, slow.closing_state)
    assert set(fast.rated.filter(pl.col("roaming_country").is_in(["BR", "AE", "KE", "ZZ"]))["roaming_zone"]) == {
        "roam-world"
    }
