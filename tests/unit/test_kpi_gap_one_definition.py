"""The money of the indicators is the charge findings only, for `fairtel kpi` and the dashboard alike: a
machine-speed confirmation's amount is the offer's price, the same money as the charge finding of its subscription."""

from __future__ import annotations

from fairtel.kpi import FindingFact, amount_at_risk, charge_figures, unexplained_findings

FINDINGS = [
    FindingFact("unconsented_charge", 600, "CNY", "open"),
    FindingFact("machine_speed_confirmation", 600, "CNY", "open"),  # the same subscription's price
    FindingFact("duplicate_charge", 500, "CNY", "confirmed"),
    FindingFact("price_mismatch", 300, "CNY", "resolved"),
    FindingFact("bill_shock", 12000, "CNY", "open"),
    FindingFact("unknown_offer_charge", 200, "USD", "open"),
]


def test_only_charge_findings_count() -> None:
    assert [f.kind for f in unexplained_findings(FINDINGS)] == [
        "unconsented_charge", "duplicate_charge", "price_mismatch", "unknown_offer_charge"]
    figures = charge_figures(FINDINGS, (), "CNY")
    assert figures["unexplained_findings"] == 4 and "machine_speed_confirmation" not in figures["by_kind"]
    assert figures["amount_at_stake"] == "14.00"  # 6 + 5 + 3, whatever became of them


def test_at_risk_is_the_open_and_confirmed_charge_findings_in_the_currency() -> None:
    assert amount_at_risk(FINDINGS, "CNY") == 1100
    assert amount_at_risk([FindingFact("unconsented_charge", 600, "CNY")], "CNY") == 600  # status not known: raised open


def test_totals_by_group_count_their_findings() -> None:
    groups = [FindingFact("unconsented_charge", 1800, "CNY", "open", count=3),
              FindingFact("machine_speed_confirmation", 5400, "CNY", "open", count=9)]
    figures = charge_figures(groups, (), "CNY")
    assert figures["by_kind"] == {"unconsented_charge": 3} and figures["unexplained_findings"] == 3
    assert amount_at_risk(groups, "CNY") == 1800
