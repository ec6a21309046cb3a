"""Explanations: record → plan → rule → steps → allowance before/after → amount, in zh and en."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import NotFoundError
from fairtel.rating import explain, rate

CN = timezone(timedelta(hours=8))
A = "8613800000001"
CATALOG = load_catalog(default_catalog_path())


def call(rid: str, day: int, seconds: int, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw1", "msisdn": A, "kind": "voice", "direction": "out",
            "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "duration_s": seconds,
            "peer": "8613912345678"} | kw


USAGE = pl.DataFrame([call("a", 2, 99 * 60), call("b", 3, 150), call("c", 4, 95, peer="8821234567")])
RATED = rate(USAGE, CATALOG, {A: "senior-19"}, period="2026-03").rated


def test_chain_of_a_split_record() -> None:
    e = explain("b", rated=RATED, catalog=CATALOG, usage=USAGE)
    assert e.plan_id == "senior-19" and e.total_minor == 30 and e.total == Decimal("0.30")
    first, second = e.lines
    assert (first.allowance_id, first.allowance_before, first.allowance_used, first.allowance_after,
            first.allowance_quantity) == ("senior-19/voice", 5940, 60, 6000, 6000)
    assert second.rule_id == "senior-19/voice-domestic" and second.rate_id == "voice-dom-015"
    assert [(s.billed, s.drawn, s.charged) for s in second.steps] == [(180, 60, 120)]
    assert second.recomputed_minor == second.amount_minor == 30
    assert e.record["duration_s"] == 150
    assert e.started_at.utcoffset() == timedelta(hours=8)  # shown on the operator's clock


def test_render_in_both_languages() -> None:
    e = explain("c", rated=RATED, catalog=CATALOG)
    en, zh = e.render("en"), e.render("zh")
    assert "tariff rule: Calls to international premium ranges" in en and "connect fee 2 CNY" in en
    assert "Total: 26.00 CNY" in en
    assert "计费规则：国际高资费号段通话" in zh and "接通费 2 元" in zh and "合计：26.00 元" in zh
    b = explain("b", rated=RATED, catalog=CATALOG).render("zh")
    assert "由套餐内额度“套餐内国内主叫 100 分钟”抵扣 1 分钟" in b and "此前已用 99 分钟" in b


def test_flags_an_amount_the_catalog_no_longer_gives() -> None:
    changed = RATED.with_columns(
        pl.when(pl.col("record_id") == "c").then(9999).otherwise(pl.col("amount_minor")).alias("amount_minor"))
    e = explain("c", rated=changed, catalog=CATALOG)
    assert e.lines[0].recomputed_minor == 2600 and e.lines[0].amount_minor == 9999
    assert "this tariff gives 26.00 CNY for this part, not the 99.99 CNY recorded" in e.render("en")
    assert not e.agrees and explain("c", rated=RATED, catalog=CATALOG).agrees


def test_unknown_record() -> None:
    with pytest.raises(NotFoundError):
        explain("nope", rated=RATED, catalog=CATALOG)
    with pytest.raises(NotFoundError):
        explain("a", rated=RATED, catalog=CATALOG, source="other")


def test_to_dict_is_plain_data() -> None:
    d = explain("b", rated=RATED, catalog=CATALOG).to_dict()
    assert d["total"] == "0.30" and d["lines"][1]["steps"][0]["rate"] == "0.15"
    assert d["plan_name"] == {"zh": "关爱老人套餐 19 元", "en": "Senior 19"}
