"""An explanation's arithmetic reproduces by hand. Under a CGRateS plan it printed "1 分 10 秒 × 0.1 元/分钟 = 0.1169
元" (70 s × 0.1/60 is 0.11667: the rounding of each increment's cost to 0.00001 was never said) and "小计 0.7169 元，
向上取整到 0.0001 元：0.72 元" (the rounding applied is to the currency's 0.01, the rate's 0.0001 is finer). Each
rounding applied is now named with its precision, in zh and en."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import Catalog, import_cgrates, parse_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.rating import explain, rate

CN = timezone(timedelta(hours=8))
NOW = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tutorial(shared_dir: Path) -> Catalog:
    catalog, problems = parse_catalog(
        import_cgrates(shared_dir / "samples" / "cdr" / "cgrates_tutorial_tp", now=NOW).text
    )
    assert catalog is not None, problems
    return catalog


def _rec(rid: str, duration_s: int, peer: str = "1002") -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {
        "record_id": rid,
        "source": "s",
        "msisdn": "1001",
        "parts": 1,
        "incomplete": False,
        "kind": "voice",
        "direction": "out",
        "started_at": datetime(2026, 10, 3, 10, 0, tzinfo=CN).astimezone(UTC),
        "duration_s": duration_s,
        "peer": peer,
    }


@pytest.fixture(scope="module")
def rated(tutorial: Catalog) -> pl.DataFrame:
    usage = pl.DataFrame(
        [_rec("w1", 130), _rec("w8", 61), _rec("w9", 60, peer="1003")], schema=pl.Schema(CLEAN_USAGE_SCHEMA)
    )
    return rate(usage, tutorial, {"1001": "RP_1001"}, period="2026-10").rated


def _text(rid: str, language: str, rated: pl.DataFrame, catalog: Catalog) -> str:
    return explain(rid, rated=rated, catalog=catalog).render(language)


def test_per_increment_rounding_is_named_and_the_step_reproduces(tutorial: Catalog, rated: pl.DataFrame) -> None:
    zh, en = _text("w1", "zh", rated, tutorial), _text("w1", "en", rated, tutorial)
    # 0.1 元/分钟 for 1 s is 0.0016666…, rounded half up to 0.00001: 0.00167; 70 s × 0.00167 = 0.1169
    assert (
        "第 2 档：用量 1 分 10 秒，按 0.1 元/分钟每 1 秒计 0.00167 元（四舍五入到 0.00001 元），"
        "计费 1 分 10 秒 × 0.00167 元/秒 = 0.1169 元"
    ) in zh
    assert (
        "tier 2: 1 min 10 s used; 0.1 CNY/min is 0.00167 CNY per 1 s (rounded half up to 0.00001 CNY); "
        "1 min 10 s charged at 0.00167 CNY/s = 0.1169 CNY"
    ) in en
    assert (Decimal("0.1") / 60).quantize(Decimal("0.00001"), rounding="ROUND_HALF_UP") == Decimal("0.00167")
    assert 70 * Decimal("0.00167") == Decimal("0.1169")
    # a step the increment rounding leaves alone (a whole minute at 0.2 a minute) says nothing of it
    assert "第 1 档：用量 1 分钟，计费 1 分钟 × 0.2 元/分钟 = 0.2 元" in zh
    assert "tier 1: 1 min used; 1 min charged at 0.2 CNY/min = 0.2 CNY" in en


def test_the_line_rounding_named_is_the_one_applied(tutorial: Catalog, rated: pl.DataFrame) -> None:
    zh, en = _text("w1", "zh", rated, tutorial), _text("w1", "en", rated, tutorial)
    # was: "向上取整到 0.0001 元：0.72 元", a step that gives 0.7169, not 0.72
    assert "小计 0.7169 元，向上取整到 0.01 元（资费精确到 0.0001 元，账单以 0.01 元为最小单位）：0.72 元" in zh
    assert (
        "subtotal 0.7169 CNY, rounded up to 0.01 CNY (the rate is priced to 0.0001 CNY; bills are kept in "
        "0.01 CNY units): 0.72 CNY"
    ) in en
    assert "0.0001 元：0.72" not in zh and "0.0001 CNY: 0.72" not in en
    w8 = _text("w8", "en", rated, tutorial)
    assert "1 s charged at 0.00167 CNY/s = 0.00167 CNY" in w8
    assert "subtotal 0.60167 CNY, rounded up to 0.01 CNY (" in w8 and w8.endswith("Total: 0.61 CNY")


def test_every_step_adds_up_to_the_subtotal(tutorial: Catalog, rated: pl.DataFrame) -> None:
    for rid in ("w1", "w8", "w9"):
        en = _text(rid, "en", rated, tutorial)
        steps = [Decimal(m) for m in re.findall(r"= ([0-9.]+) CNY", en)]
        fee = re.search(r"connect fee ([0-9.]+) CNY", en)
        subtotal = re.search(r"subtotal ([0-9.]+) CNY", en)
        assert subtotal is not None, en
        assert sum(steps) + (Decimal(fee.group(1)) if fee else 0) == Decimal(subtotal.group(1)), en
        for minutes, seconds, price, cost in re.findall(
            r"; (?:(\d+) min )?(\d+) s charged at ([0-9.]+) CNY/s = ([0-9.]+) CNY", en
        ):
            assert (int(minutes or 0) * 60 + int(seconds)) * Decimal(price) == Decimal(cost), en
