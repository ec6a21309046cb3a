"""An explanation shows a capped line's rounding first, then which cap lowered it and its amount. It presented the cap
as the rounding ("subtotal 29 CNY, rounded up to 0.01 CNY: 0.00 CNY", "小计 58 元，向上取整到 0.01 元：30.00 元"), then
a generic "capped (max cost or daily cap)".

It also words a roaming record as the statement does (漫游（日本）, roaming (unknown country): it said "在 JP 漫游",
"roaming in ZZ"), and puts a space where a unit in Latin letters meets Chinese ("按每 10 KiB 计为", it said
"10 KiB计为")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl

from fairtel.billing import SNAPSHOT_COLUMNS
from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.rating import explain, rate

CN = timezone(timedelta(hours=8))
A = "8613800000001"
CATALOG = load_catalog(default_catalog_path())
MIB = 1024 * 1024


def _rec(rid: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "s", "msisdn": A, "parts": 1, "incomplete": False} | kw


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=CN).astimezone(UTC)


# roaming data in Japan (Asia: 2.00 a MiB, at most 30.00 a day under the rule), twice the same day; a 20-minute call
# to a premium number (12.00 a minute and a 2.00 set-up fee, at most 200.00 a call); data roaming with no country
USAGE = pl.DataFrame([
    _rec("d1", kind="data", started_at=_at(10, 10), bytes_down=20 * MIB, roaming_country="JP"),
    _rec("d2", kind="data", started_at=_at(10, 20), bytes_down=10 * MIB, roaming_country="JP"),
    _rec("p1", kind="voice", direction="out", started_at=_at(3, 10), duration_s=20 * 60, peer="8821234567"),
    _rec("z1", kind="data", started_at=_at(11, 10), bytes_down=15 * 1024, roaming_country="ZZ"),
], schema=pl.Schema(CLEAN_USAGE_SCHEMA))
RATED = rate(USAGE, CATALOG, {A: "payg"}, period="2026-03").rated


def _text(rid: str, language: str, rated: pl.DataFrame = RATED, catalog: Any = CATALOG) -> str:
    return explain(rid, rated=rated, catalog=catalog, usage=USAGE).render(language)


def test_a_daily_cap_is_told_after_the_rounding_with_its_rule_amount_and_day() -> None:
    zh, en = _text("d1", "zh"), _text("d1", "en")
    assert "小计 40 元，向上取整到 0.01 元：40.00 元" in zh  # the rounding gives 40.00, not the capped 30.00
    assert "封顶：计费规则“亚洲漫游流量”每天最多收取 30.00 元（2026-03-10），本部分计 30.00 元" in zh
    assert "已封顶（最高费用或每日上限）" not in zh and "合计：30.00 元" in zh
    assert "subtotal 40 CNY, rounded up to 0.01 CNY: 40.00 CNY" in en
    assert "capped by the daily cap of the rule “Roaming data in Asia”, at most 30.00 CNY a day (2026-03-10): 30.00 CNY" in en
    later = _text("d2", "en")  # the day's cap already reached: 20.00 rounded, 0.00 charged
    assert "rounded up to 0.01 CNY: 20.00 CNY" in later and "(2026-03-10): 0.00 CNY" in later and "Total: 0.00 CNY" in later
    (line,) = explain("d2", rated=RATED, catalog=CATALOG).to_dict()["lines"]
    assert line["rounded_minor"] == 2000 and line["amount_minor"] == 0
    assert [(c["kind"], c["limit"], c["amount_minor"], c["day"]) for c in line["caps"]] == [("daily_cap", "30.00", 0, "2026-03-10")]


def test_a_rate_max_cost_is_told_with_its_amount() -> None:
    zh, en = _text("p1", "zh"), _text("p1", "en")
    assert "向上取整到 0.01 元：242.00 元" in zh  # 2.00 + 20 × 12.00
    assert "封顶：资费“国际高资费号段 12.00 元/分钟”每次通话最多收取 200.00 元，本部分计 200.00 元" in zh
    assert "rounded up to 0.01 CNY: 242.00 CNY" in en and "charges for one call, 200.00 CNY: 200.00 CNY" in en


_CUT = '''
version = "caps-1"

[operator]
id = "t"
name = { zh = "测试通信", en = "Test Mobile" }
currency = "CNY"
timezone = "Asia/Shanghai"

[[zones]]
id = "any"
name = { zh = "各地", en = "Anywhere" }
fallback = true

[[bands]]
id = "peak"
name = { zh = "忙时", en = "Peak" }
windows = [{ days = ["mon-sun"], start = "07:00", end = "23:00" }]

[[bands]]
id = "offpeak"
name = { zh = "闲时", en = "Off-peak" }
windows = [{ days = ["mon-sun"], start = "23:00", end = "07:00" }]

[[rates]]
id = "v-peak"
name = { zh = "忙时语音", en = "Peak voice" }
unit = "second"
max_cost = "1.00"
steps = [{ rate = "0.50", rate_unit = "60s", increment = "60s" }]

[[rates]]
id = "v-off"
name = { zh = "闲时语音", en = "Off-peak voice" }
unit = "second"
max_cost = "1.00"
steps = [{ rate = "0.30", rate_unit = "60s", increment = "60s" }]

[[plans]]
id = "p"
name = { zh = "测试套餐", en = "Test plan" }
monthly_fee = "0"

[[plans.rules]]
id = "p/peak"
name = { zh = "忙时通话", en = "Peak calls" }
kind = "voice"
bands = ["peak"]
rate = "v-peak"

[[plans.rules]]
id = "p/off"
name = { zh = "闲时通话", en = "Off-peak calls" }
kind = "voice"
bands = ["offpeak"]
rate = "v-off"
'''


def test_a_call_cut_at_a_band_change_is_capped_as_one_call() -> None:
    cut, problems = parse_catalog(_CUT)
    assert cut is not None, problems
    usage = pl.DataFrame([_rec("c1", kind="voice", direction="out", started_at=_at(3, 22, 58), duration_s=600,
                               peer="8613912345678")], schema=pl.Schema(CLEAN_USAGE_SCHEMA))
    rated = rate(usage, cut, {A: "p"}, period="2026-03").rated
    en = explain("c1", rated=rated, catalog=cut, usage=usage).render("en")
    # 2 peak minutes 1.00; 8 off-peak minutes 2.40, at most 1.00 by the rate, and the call's 1.00 spent already
    assert "subtotal 2.4 CNY, rounded up to 0.01 CNY: 2.40 CNY" in en
    assert "capped at the most the rate “Off-peak voice” charges for one call, 1.00 CNY: 1.00 CNY" in en
    assert ("capped: the rate “Off-peak voice” charges at most 1.00 CNY for the whole call, 1.00 CNY of it in the parts "
            "before: 0.00 CNY") in en
    assert en.rstrip().endswith("Total: 1.00 CNY")


def test_a_bills_lines_without_the_rated_columns_are_explained_alike() -> None:
    """A bill's snapshot keeps fewer columns (no rate, offset, cap flag, allowance used before): the explanation of
    the capped line is the same."""
    snapshot = RATED.select([c for c in SNAPSHOT_COLUMNS if c in RATED.columns])
    for rid in ("d1", "d2", "p1"):
        assert _text(rid, "zh", snapshot) == _text(rid, "zh"), rid
        assert explain(rid, rated=snapshot, catalog=CATALOG).agrees


def test_roaming_countries_and_chinese_spacing_as_the_statement_writes_them() -> None:
    zh, en = _text("d1", "zh"), _text("d1", "en")
    assert "漫游（日本）" in zh and "在 JP 漫游" not in zh
    assert "roaming (Japan)" in en
    assert "漫游（未知国家或地区）" in _text("z1", "zh") and "roaming (unknown country)" in _text("z1", "en")
    odd = _text("z1", "zh")  # 15 KiB counted in steps of 10 KiB
    assert "按每 10 KiB 计为 20 KiB" in odd and "KiB计" not in odd  # a space where "KiB" meets Chinese


def test_what_an_allowance_covered_is_spaced_from_the_chinese_after_it() -> None:
    gib = 1024 * MIB
    usage = pl.DataFrame([_rec("h1", kind="data", started_at=_at(12, 10), bytes_down=2 * gib)], schema=pl.Schema(CLEAN_USAGE_SCHEMA))
    opening = pl.DataFrame({"msisdn": [A], "counter": ["basic-39/data"], "used": [9 * gib]})
    rated = rate(usage, CATALOG, {A: "basic-39"}, period="2026-03", opening_state=opening).rated
    zh = explain("h1", rated=rated, catalog=CATALOG, usage=usage).render("zh")
    assert "其中 1 GiB 由套餐抵扣" in zh and "GiB由" not in zh
