"""``fairtel explain`` on a bill's lines (which keep no roaming zone) names the roaming zone rating placed the record
in (``Catalog.roaming_zone_of``): none for a record at home, even one that names the operator's own country as
where it was made, never the fallback roaming zone rating did not use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.rating import explain, rate

CN = timezone(timedelta(hours=8))
A = "8613800000001"
CATALOG = load_catalog(default_catalog_path())
# what a bill's snapshot does not keep of a rated line: explain derives them from the catalog
DERIVED = ("rate_id", "offset", "roaming_zone", "allowance_before", "capped", "throttled")


def call(rid: str, country: str | None) -> dict[str, Any]:
    return {
        "record_id": rid,
        "source": "sw1",
        "msisdn": A,
        "kind": "voice",
        "direction": "out",
        "started_at": datetime(2026, 3, 2, 10, tzinfo=CN).astimezone(UTC),
        "duration_s": 60,
        "peer": "8613912345678",
        "roaming_country": country,
    }


def _explained_zones(catalog: Any, usage: pl.DataFrame) -> dict[str, tuple[str | None, str | None]]:
    rated = rate(usage, catalog, {A: "senior-19"}, period="2026-03").rated
    billed = rated.drop([c for c in DERIVED if c in rated.columns])
    out = {}
    for rid in usage["record_id"].to_list():
        mine = rated.filter(pl.col("record_id") == rid)
        if mine.height == 0:
            continue
        rated_zone = mine["roaming_zone"][0]
        e = explain(rid, rated=billed, catalog=catalog)
        out[rid] = (rated_zone, e.lines[0].roaming_zone)
    return out


def test_a_record_at_home_names_no_roaming_zone() -> None:
    usage = pl.DataFrame([call("home", "CN"), call("none", None), call("jp", "JP"), call("br", "BR")])
    zones = _explained_zones(CATALOG, usage)
    assert zones["home"] == (None, None)  # China is the demo operator's own country: at home, no roaming zone
    assert zones["none"] == (None, None)
    assert zones["jp"] == ("roam-2", "roam-2")
    assert zones["br"] == ("roam-world", "roam-world")  # no zone lists Brazil: the fallback, as rating priced it
    text = explain(
        "home",
        rated=rate(usage, CATALOG, {A: "senior-19"}, period="2026-03").rated.drop(
            [c for c in DERIVED if c != "rate_id"]
        ),
        catalog=CATALOG,
    ).render("en")
    assert "roaming:" not in text


def test_an_unlisted_country_without_a_fallback_names_no_zone() -> None:
    text = default_catalog_path().read_text(encoding="utf-8")
    roam = text.index("[[roaming_zones]]")
    tail = text[roam:].replace("fallback = true", 'countries = ["AR"]', 1)
    catalog, problems = parse_catalog(text[:roam] + tail)
    assert problems == [] and catalog is not None
    zones = _explained_zones(catalog, pl.DataFrame([call("home", "CN"), call("jp", "JP")]))
    assert zones == {"home": (None, None), "jp": ("roam-2", "roam-2")}
