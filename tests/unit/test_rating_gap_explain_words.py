"""An explanation reads as the operator's statement to the subscriber, in zh or en: the catalog's names in the
reader's language (zones, bands, rules, rates, allowances, plans), quantities and rounding in words, parts
numbered from 1, the numbers masked as on every other reply. The codes stay in ``to_dict`` (``--json``).

It was a technical dump: "第 0 行：3202s", "区域 intl-premium，漫游 roam-world，时段 offpeak",
"计费规则 roam/voice-roam-world［voice · roaming roam-world］", "按 up/2 取整", "号码 8613747938622"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.rating import explain, rate
from fairtel.store import connect, migrate
from fairtel.store._care import StoreCareData

CN = timezone(timedelta(hours=8))
A = "8613747938622"
PEER = "14155550123"
CATALOG = load_catalog(default_catalog_path())


def _call(rid: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": A, "kind": "voice", "direction": "out", "parts": 1,
                  "incomplete": False, "started_at": datetime(2026, 3, 7, 23, 30, tzinfo=CN).astimezone(UTC),
                  "duration_s": 3202, "peer": PEER} | kw


# a Saturday night call to a premium number while roaming in Brazil; and a domestic call drawing on an allowance
USAGE = pl.DataFrame([_call("r1", peer="8821234567", roaming_country="BR"),
                      _call("r2", peer="8613912345678", duration_s=150)], schema=pl.Schema(CLEAN_USAGE_SCHEMA))
RATED = rate(USAGE, CATALOG, {A: "payg"}, period="2026-03").rated
RATED_B = rate(USAGE, CATALOG, {A: "basic-39"}, period="2026-03").rated

CODES = ("intl-premium", "roam-world", "offpeak", "roam/", "voice-roam-world", "up/2", "payg", "basic-39",
         "3202s", "53min", "[", "［", "·")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_code_index_or_plain_number_in_the_sentences(language: str) -> None:
    for rated, rid in ((RATED, "r1"), (RATED_B, "r2")):
        text = explain(rid, rated=rated, catalog=CATALOG, usage=USAGE).render(language)
        for code in CODES:
            assert code not in text, (code, text)
        assert A not in text and "86137****8622" in text, text
        assert "8821234567" not in text and "8613912345678" not in text, text
        assert not re.search(r"第 0 |Line 0|Part 0", text), text


def test_the_roaming_call_in_chinese_uses_the_catalogs_names_and_words() -> None:
    zh = explain("r1", rated=RATED, catalog=CATALOG, usage=USAGE).render("zh")
    assert "套餐：随心用（按量计费）" in zh
    assert "第 1 部分：2026-03-07 23:30:00 起，53 分 22 秒" in zh
    assert "目的地：国际高资费号段" in zh and "漫游：其他国家和地区漫游" in zh and "时段：闲时" in zh
    assert "计费规则：其他地区漫游通话；资费：其他地区漫游通话 9.99 元/分钟" in zh
    assert "按每 1 分钟计为 54 分钟" in zh and "54 分钟 × 9.99 元/分钟 = 539.46 元" in zh
    assert "向上取整到 0.01 元：539.46 元" in zh and "合计：539.46 元" in zh
    assert "主叫" in zh and "时长 53 分 22 秒" in zh and "漫游（巴西）" in zh


def test_an_allowance_draw_in_english() -> None:
    en = explain("r2", rated=RATED_B, catalog=CATALOG, usage=USAGE).render("en")
    assert "Plan: Basic 39" in en
    assert "Part 1: 2 min 30 s from 2026-03-07 23:30:00 (destination: Domestic; time band: Off-peak)" in en
    assert "3 min from your allowance “Domestic calls included, 300 min” (0 s used before, 3 min after, of 300 min)" in en
    assert "Total: 0.00 CNY" in en


def test_the_codes_and_the_number_stay_in_the_data() -> None:
    data = explain("r1", rated=RATED, catalog=CATALOG, usage=USAGE).to_dict()
    line = data["lines"][0]
    assert data["msisdn"] == A and data["plan_id"] == "payg" and data["lines"][0]["line"] == 0
    assert (line["rule_id"], line["rate_id"], line["zone"], line["roaming_zone"], line["band"], line["rounding"]) == (
        "roam/voice-roam-world", "voice-roam-world", "intl-premium", "roam-world", "offpeak", "up/2")
    assert line["labels"]["rule"] == {"zh": "其他地区漫游通话", "en": "Roaming calls elsewhere"}


def test_a_caller_allowed_the_number_gets_it_plain() -> None:
    text = explain("r1", rated=RATED, catalog=CATALOG, usage=USAGE).render("zh", plain_numbers=True)
    assert f"号码 {A}" in text and "对方号码 8821234567" in text


def test_the_assistants_charge_explanation_reads_the_same(tmp_path: Path) -> None:
    """The assistant tells a usage charge with this chain (``StoreCareData.explain_charge``): masked, in words."""
    part = tmp_path / "rated" / "period=2026-03" / "part.parquet"
    part.parent.mkdir(parents=True)
    RATED.write_parquet(part)
    data = StoreCareData(migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}")), tmp_path, CATALOG)
    charge = data.explain_charge(A, "r1", "zh")
    assert charge is not None and charge.explanation is not None
    zh, en = charge.explanation.zh, charge.explanation.en
    assert "其他地区漫游通话" in zh and "闲时" in zh and "Roaming calls elsewhere" in en
    for text in (zh, en):
        assert A not in text and "roam-world" not in text and "up/2" not in text
