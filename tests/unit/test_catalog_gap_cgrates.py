"""`import-cgrates` on DestinationRates the catalog cannot hold as written: it still writes a valid catalog, with
a note of what it changed, instead of a file `fairtel catalog validate` refuses."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fairtel.catalog import import_cgrates, parse_catalog, price_steps

TIMED = Path(__file__).resolve().parents[1] / "fixtures" / "cgrates" / "timed"
NOW = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)


def plan_with(tmp_path: Path, old: str, new: str) -> Path:
    plan = tmp_path / "tp"
    shutil.copytree(TIMED, plan)
    rates = plan / "DestinationRates.csv"
    text = rates.read_text(encoding="utf-8")
    assert old in text
    rates.write_text(text.replace(old, new), encoding="utf-8")
    return plan


def test_a_max_cost_finer_than_the_rounding_is_imported_rounded_down(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, "DR_PREM,DST_HK_PREM,RT_PREM,*up,2,100,*free", "DR_PREM,DST_HK_PREM,RT_PREM,*up,2,30.125,*free")
    result = import_cgrates(plan, now=NOW)
    catalog, problems = parse_catalog(result.text)
    assert catalog is not None, problems  # was: rates[..].max_cost: 30.125 has more decimals ... [too_precise]
    assert [(n.line, n.field, n.code) for n in result.notes if n.code == "max_cost_rounded"] == [(5, "MaxCost", "max_cost_rounded")]
    rate = catalog.rate("RT_PREM")
    assert rate.max_cost == Decimal("30.12")
    assert price_steps(rate, 600) == Decimal("30.12")  # never more than CGRateS's cap


def test_rounding_decimals_finer_than_a_catalog_keeps_are_reduced_with_a_note(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, "DR_HK,DST_HK,RT_HK,*middle,2,0,", "DR_HK,DST_HK,RT_HK,*middle,8,0,")
    result = import_cgrates(plan, now=NOW)
    catalog, problems = parse_catalog(result.text)
    assert catalog is not None, problems  # was: amount_decimals 8 refused, and every rate with it
    assert {(n.line, n.field, n.code) for n in result.notes if n.code == "rounding_decimals_reduced"} == {
        (4, "RoundingDecimals", "rounding_decimals_reduced")}
    assert catalog.operator.amount_decimals == 6
    # DR_MO keeps RT_HK at 2 decimals, so the two roundings are two rates
    assert sorted((r.id.startswith("RT_HK"), r.rounding_decimals) for r in catalog.rates if r.id.startswith("RT_HK")) == [
        (True, 2), (True, 6)]
