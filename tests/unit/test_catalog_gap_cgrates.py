"""`import-cgrates` on DestinationRates the catalog cannot hold as written: it still writes a valid catalog, with
a note of what it changed, instead of a file `fairtel catalog validate` refuses. Timings CGRateS would misread are
refused with file, line and field; profiles that become active later are followed from then on (``*any`` and
fallback subjects); the connect fee is the first Rates line's, as CGRateS charges it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from fairtel.catalog import Catalog, import_cgrates, parse_catalog, price_steps
from fairtel.core.errors import InvalidInputError
from fairtel.rating import quote

TIMED = Path(__file__).resolve().parents[1] / "fixtures" / "cgrates" / "timed"
NOW = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)


def plan_with(tmp_path: Path, old: str, new: str, file: str = "DestinationRates.csv") -> Path:
    plan = tmp_path / "tp"
    if not plan.exists():
        shutil.copytree(TIMED, plan)
    rates = plan / file
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


# ---- Timings.csv as CGRateS reads it

@pytest.mark.parametrize(("weekdays", "time", "field"), [
    ("1;2;8", "08:00:00;20:00:00", "WeekDays"),  # was: 8 % 7, Monday
    ("1;2;-1", "08:00:00;20:00:00", "WeekDays"),
    ("mon", "08:00:00;20:00:00", "WeekDays"),
    ("1;2", "24:00:00", "Time"),  # was: a band starting at midnight of the next day
    ("1;2", "08:60:00;20:00:00", "Time"),
    ("1;2", "08:00:75;20:00:00", "Time"),  # was: 08:01:15
    ("1;2", "08:00;20:00", "Time"),  # CGRateS cannot rate a time without its seconds
    ("1;2", "08:00:00;24:00:01", "Time"),
])
def test_timings_cgrates_would_misread_are_refused(tmp_path: Path, weekdays: str, time: str, field: str) -> None:
    plan = plan_with(tmp_path, "PEAK,*any,*any,*any,1;2;3;4;5,08:00:00;20:00:00",
                     f"PEAK,*any,*any,*any,{weekdays},{time}", "Timings.csv")
    with pytest.raises(InvalidInputError) as info:
        import_cgrates(plan, now=NOW)
    assert [(Path(p.file).name, p.line, p.field) for p in info.value.problems] == [("Timings.csv", 2, field)]


def test_seven_is_sunday_and_a_day_may_end_at_midnight(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, "PEAK,*any,*any,*any,1;2;3;4;5,08:00:00;20:00:00",
                     "PEAK,*any,*any,*any,7,20:00:00;24:00:00", "Timings.csv")
    catalog, problems = parse_catalog(import_cgrates(plan, now=NOW).text)
    assert catalog is not None, problems
    sunday_night = datetime(2025, 3, 9, 13, 0, tzinfo=UTC)  # Sunday 21:00 in Shanghai
    assert catalog.band_at(sunday_night).id == "ALWAYS_OFF+PEAK"
    assert catalog.band_at(sunday_night.replace(day=10)).id == "ALWAYS_OFF"  # Monday 21:00


# ---- rating profiles that become active later

def voice(catalog: Catalog, msisdn: str, at: datetime, peer: str = "441234567890") -> str | None:
    """The amount ``fairtel quote`` gives a 60 s call of ``msisdn`` at ``at``; None when no rule prices it."""
    record = {"msisdn": msisdn, "kind": "voice", "direction": "out", "started_at": at.isoformat(), "duration_s": 60,
              "peer": peer}
    out = quote([record], catalog)[0]
    return None if out.get("rule") is None else out["amount"]


LATER = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def test_a_star_any_profile_active_later_prices_from_then_on(tmp_path: Path) -> None:
    # 8613800000007 is on RP_BASIC, which has no rate for 44: CGRateS asks *any, RP_BASIC until 2026, then RP_FULL
    plan = plan_with(tmp_path, "op.example,data,", "op.example,call,8613800000007,2020-01-01T00:00:00Z,RP_BASIC,\n"
                     "op.example,call,*any,2026-01-01T00:00:00Z,RP_FULL,\nop.example,data,", "RatingProfiles.csv")
    catalog, problems = parse_catalog(import_cgrates(plan, now=NOW).text)
    assert catalog is not None, problems
    assert voice(catalog, "8613800000007", NOW) is None
    assert voice(catalog, "8613800000007", LATER) == "3.00"  # was: None, *any read as on the day of the import
    assert voice(catalog, "8613999999999", LATER) == "3.00"  # no profile of its own: *any's, RP_FULL
    assert voice(catalog, "8613800000007", LATER, peer="8613912345678") == "0.15"  # its own plan first (peak)


def test_a_fallback_subject_active_later_is_followed_from_then_on(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, "op.example,data,", "op.example,call,8613800000008,2020-01-01T00:00:00Z,RP_BASIC,"
                     "8613800000009\nop.example,call,8613800000009,2026-01-01T00:00:00Z,RP_FULL,\nop.example,data,",
                     "RatingProfiles.csv")
    result = import_cgrates(plan, now=NOW)
    catalog, problems = parse_catalog(result.text)
    assert catalog is not None, problems
    assert voice(catalog, "8613800000008", NOW) is None
    assert voice(catalog, "8613800000008", LATER) == "3.00"  # was: None, the fallback had no profile on import day
    assert [(n.line, n.code) for n in result.notes if n.field == "FallbackSubjects"] == [(6, "unknown_reference")]


# ---- the connect fee

def test_the_connect_fee_is_the_first_rates_line_s_as_cgrates_charges_it(tmp_path: Path) -> None:
    # CGRateS takes RIRate.ConnectFee from the first slot as written, whatever its GroupIntervalStart
    plan = plan_with(tmp_path, "RT_OTHER,0,3,60s,60s,0s", "RT_OTHER,0,2,60s,60s,60s\nRT_OTHER,0.5,3,60s,60s,0s",
                     "Rates.csv")
    result = import_cgrates(plan, now=NOW)
    catalog, problems = parse_catalog(result.text)
    assert catalog is not None, problems
    rate = catalog.rate("RT_OTHER")
    assert rate.connect_fee == 0  # was: 0.5, the fee of the slot starting at 0s
    assert price_steps(rate, 120) == Decimal("5.00")
    assert [(n.line, n.code) for n in result.notes if n.field == "ConnectFee"] == [(7, "connect_fee_ignored")]


def test_a_destination_split_by_other_destinations_prefixes_gets_valid_zone_ids(tmp_path: Path) -> None:
    # DST_X's 8531 sits under DST_MO's 853, its 8541 under nothing: two zones, named after their first prefix
    plan = plan_with(tmp_path, "DST_MO,853\n", "DST_MO,853\nDST_X,8531\nDST_X,8541\n", "Destinations.csv")
    catalog, problems = parse_catalog(import_cgrates(plan, now=NOW).text)
    assert catalog is not None, problems  # was: 'DST_X@8531' is not a valid id
    assert {catalog.zone_for("85312").id, catalog.zone_for("85412").id} == {"DST_X:8531", "DST_X:8541"}
