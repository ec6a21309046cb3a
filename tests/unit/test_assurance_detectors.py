"""Detectors: findings from refused charges, inhuman confirmations, bill shock and roaming notices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from fairtel.assurance import (
    DOMESTIC,
    EU_DATA_ROAMING,
    AssurancePolicy,
    BillShockPolicy,
    FindingKind,
    assure,
    bill_shock_findings,
    welcome_findings,
)
from fairtel.consent import Offer, OfferPeriod, parse_consent_lines
from fairtel.core.errors import ConfigError
from fairtel.core.money import Money

M1, M2, M3 = "8613800138000", "8613900139000", "8613700137000"
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 2, tzinfo=UTC)
OFFERS = {
    "vas-music-10": Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
    "vas-horoscope-6": Offer("vas-horoscope-6", "sp-luckystar", Decimal("6.00"), "CNY", OfferPeriod.MONTHLY),
}


def ev(event: str, sub: str, at: datetime, *, msisdn: str = M1, offer: str = "vas-music-10", evidence: str | None = None) -> str:
    row = {"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at.isoformat(), "channel": "sms"}
    if evidence is not None:
        row["evidence"] = evidence
    return json.dumps(row)


def events(*lines: str) -> pl.DataFrame:
    b = parse_consent_lines(list(lines))
    assert b.problems == []
    return b.events


def vas(*rows: tuple[str, str, str, datetime, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "source": ["spgw"] * len(rows), "msisdn": [r[1] for r in rows], "kind": ["vas"] * len(rows),
         "offer_id": [r[2] for r in rows], "started_at": [r[3] for r in rows], "amount_minor": [r[4] for r in rows], "currency": ["CNY"] * len(rows)},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def by_kind(findings: list) -> dict[str, list]:  # type: ignore[type-arg]
    out: dict[str, list] = {}  # type: ignore[type-arg]
    for f in findings:
        out.setdefault(f.kind.value, []).append(f)
    return out


def test_charge_findings_name_the_record_subscription_and_amount_and_rerun_gives_same_ids() -> None:
    ledger = events(
        ev("ordered", "s1", T0), ev("confirmed", "s1", T0 + timedelta(minutes=3)), ev("cancelled", "s1", T0 + timedelta(days=5)),
    )
    usage = vas(
        ("ok", M1, "vas-music-10", T0 + timedelta(days=1), 1000),
        ("again", M1, "vas-music-10", T0 + timedelta(days=2), 1000),
        ("late", M1, "vas-music-10", T0 + timedelta(days=30), 1000),
        ("stranger", M2, "vas-music-10", T0 + timedelta(days=1), 1000),
    )
    run = assure(usage=usage, offers=OFFERS, events=ledger, now=NOW)
    k = by_kind(run.findings)
    assert set(k) == {"duplicate_charge", "charge_after_cancellation", "unconsented_charge"}
    dup = k["duplicate_charge"][0]
    assert (dup.record_ids, dup.subscription_id, dup.amount, dup.currency) == (("again",), "s1", Decimal("10.00"), "CNY")
    assert dup.evidence["duplicate_of"] == "ok"
    assert k["charge_after_cancellation"][0].record_ids == ("late",)
    assert k["unconsented_charge"][0].msisdn == M2 and k["unconsented_charge"][0].subscription_id is None
    assert all(f.status.value == "open" for f in run.findings)
    rerun = assure(usage=usage.reverse(), offers=OFFERS, events=ledger, now=NOW + timedelta(days=1))
    assert sorted(f.finding_id for f in rerun.findings) == sorted(f.finding_id for f in run.findings)
    assert len({f.finding_id for f in run.findings}) == len(run.findings)


def test_a_charge_at_a_price_raised_after_the_confirmation_is_unconsented() -> None:
    ledger = events(ev("ordered", "s1", T0), ev("confirmed", "s1", T0 + timedelta(minutes=3)))
    rise = T0 + timedelta(days=10)
    offers = {"vas-music-10": [OFFERS["vas-music-10"],
                               Offer("vas-music-10", "sp-melody", Decimal("12.00"), "CNY", OfferPeriod.MONTHLY, valid_from=rise)]}
    run = assure(usage=vas(("raised", M1, "vas-music-10", rise + timedelta(days=25), 1200)), offers=offers, events=ledger, now=NOW)
    (f,) = run.findings
    assert (f.kind.value, f.record_ids, f.amount) == ("unconsented_charge", ("raised",), Decimal("12.00"))


def test_price_mismatch_amount_is_the_difference() -> None:
    ledger = events(ev("ordered", "s1", T0), ev("confirmed", "s1", T0 + timedelta(minutes=3)))
    run = assure(usage=vas(("over", M1, "vas-music-10", T0 + timedelta(days=1), 1250)), offers=OFFERS, events=ledger, now=NOW)
    (f,) = run.findings
    assert f.kind is FindingKind.PRICE_MISMATCH and f.amount == Decimal("2.50")
    assert (f.evidence["charged_minor"], f.evidence["price_minor"]) == (1250, 1000)


def test_machine_speed_confirmation_with_configurable_threshold() -> None:
    ledger = events(
        ev("ordered", "fast", T0, offer="vas-horoscope-6"), ev("confirmed", "fast", T0 + timedelta(seconds=2), offer="vas-horoscope-6"),
        ev("ordered", "human", T0, msisdn=M2), ev("confirmed", "human", T0 + timedelta(seconds=45), msisdn=M2),
    )
    usage = vas(("h1", M1, "vas-horoscope-6", T0 + timedelta(days=1), 600))
    run = assure(usage=usage, offers=OFFERS, events=ledger, now=NOW)
    (f,) = by_kind(run.findings)["machine_speed_confirmation"]
    assert f.subscription_id == "fast" and f.record_ids == ("h1",) and f.amount == Decimal("6.00")
    assert f.evidence["confirm_delay_s"] == 2.0
    strict = assure(usage=usage, offers=OFFERS, events=ledger, now=NOW, policy=AssurancePolicy(machine_speed_s=60))
    assert {f.subscription_id for f in by_kind(strict.findings)["machine_speed_confirmation"]} == {"fast", "human"}


def test_replayed_evidence_across_subscribers() -> None:
    ledger = events(
        *[line for i, m in enumerate((M1, M2, M3)) for line in (
            ev("ordered", f"r{i}", T0 + timedelta(hours=i), msisdn=m, offer="vas-horoscope-6"),
            ev("confirmed", f"r{i}", T0 + timedelta(hours=i, minutes=1), msisdn=m, offer="vas-horoscope-6", evidence="otp-424242"),
        )],
        ev("ordered", "own", T0, evidence="otp-1"), ev("confirmed", "own", T0 + timedelta(minutes=1), evidence="otp-111111"),
    )
    run = assure(usage=vas(), offers=OFFERS, events=ledger, now=NOW)
    replayed = by_kind(run.findings)["replayed_evidence"]
    assert sorted(f.subscription_id for f in replayed) == ["r0", "r1", "r2"]
    r1 = next(f for f in replayed if f.subscription_id == "r1")
    assert r1.evidence["shared_by"] == 3 and r1.evidence["msisdns"] == 3
    assert r1.evidence["other_subscriptions"] == ["r0", "r2"]


def test_a_method_label_shared_across_providers_is_not_a_replay() -> None:
    offers = {**OFFERS, "vas-news-5": Offer("vas-news-5", "sp-dailynews", Decimal("5.00"), "CNY", OfferPeriod.MONTHLY)}
    lines = []
    for i, (m, offer) in enumerate([(M1, "vas-music-10"), (M2, "vas-horoscope-6"), (M3, "vas-news-5")]):
        lines += [ev("ordered", f"g{i}", T0, msisdn=m, offer=offer),
                  ev("confirmed", f"g{i}", T0 + timedelta(minutes=1), msisdn=m, offer=offer, evidence="sms-reply:Y")]
    run = assure(usage=vas(), offers=offers, events=events(*lines), now=NOW)
    assert "replayed_evidence" not in by_kind(run.findings)
    # Shared by two providers only, it is still suspicious.
    run2 = assure(usage=vas(), offers=offers, events=events(*lines[:4]), now=NOW)
    assert len(by_kind(run2.findings)["replayed_evidence"]) == 2


def rated(rows: list[tuple[str, str, datetime, int, str, str | None]], currency: str = "EUR") -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "msisdn": [r[1] for r in rows], "started_at": [r[2] for r in rows],
         "amount_minor": [r[3] for r in rows], "currency": [currency] * len(rows), "kind": [r[4] for r in rows],
         "roaming_country": [r[5] for r in rows]},
        schema_overrides={"started_at": pl.Datetime("us", "UTC"), "roaming_country": pl.String},
    )


def test_eu_preset_alerts_at_80_and_100_percent_and_flags_usage_past_the_cap() -> None:
    t = T0
    lines = rated([
        ("d1", M1, t, 3000, "data", "FR"),
        ("home", M1, t + timedelta(hours=1), 9000, "data", None),  # at home: outside the roaming cap
        ("v1", M1, t + timedelta(hours=1), 5000, "voice", "FR"),  # voice: outside a data cap
        ("d2", M1, t + timedelta(hours=2), 1000, "data", "FR"),  # 40.00 = 80 %
        ("d3", M1, t + timedelta(hours=3), 1500, "data", "FR"),  # 55.00: crosses 100 %
        ("d4", M1, t + timedelta(hours=4), 500, "data", "FR"),  # wholly past the cap
    ])
    found = bill_shock_findings(lines, EU_DATA_ROAMING, detected_at=NOW)
    k = by_kind(found)
    assert sorted((f.evidence["threshold_pct"], f.record_ids) for f in k["bill_shock"]) == [(80, ("d2",)), (100, ("d3",))]
    assert [f.amount for f in sorted(k["bill_shock"], key=lambda f: f.evidence["threshold_pct"])] == [Decimal("40.00"), Decimal("55.00")]
    (past,) = k["usage_past_cap"]
    assert past.record_ids == ("d3", "d4") and past.amount == Decimal("10.00")  # 5.00 of d3 + 5.00 of d4
    # A subscriber who chose to continue past the cap is alerted but not flagged.
    continued = by_kind(bill_shock_findings(lines, EU_DATA_ROAMING, detected_at=NOW, opted_in={M1}))
    assert "usage_past_cap" not in continued and len(continued["bill_shock"]) == 2


def test_cap_in_another_currency_needs_a_rate_and_vat_is_removed() -> None:
    lines = rated([("d1", M1, T0, 32000, "data", "JP")], currency="CNY")  # 320.00 CNY
    with pytest.raises(ConfigError):
        bill_shock_findings(lines, EU_DATA_ROAMING, detected_at=NOW)
    # 1 CNY = 0.125 EUR: the 50 EUR cap is 400 CNY, 80 % is 320 CNY.
    found = bill_shock_findings(lines, EU_DATA_ROAMING.with_rates({"CNY": Decimal("0.125")}), detected_at=NOW)
    assert [f.evidence["threshold_pct"] for f in found] == [80]
    with_vat = BillShockPolicy("vat", Money.of("50", "EUR"), kinds=frozenset({"data"}), roaming_only=True, vat_rate=Decimal("0.2"),
                               rates={"CNY": Decimal("0.125")})
    assert bill_shock_findings(lines, with_vat, detected_at=NOW) == []  # 320 CNY with VAT is 266.67 net: under 80 %


def test_domestic_preset_alerts_per_shanghai_month() -> None:
    # 2026-03-31 17:00 UTC is already April in Shanghai: spend restarts.
    lines = rated([
        ("a", M1, datetime(2026, 3, 20, tzinfo=UTC), 8500, "data", None),
        ("b", M1, datetime(2026, 3, 31, 17, 0, tzinfo=UTC), 8500, "data", None),
    ], currency="CNY")
    assert bill_shock_findings(lines, DOMESTIC, detected_at=NOW)[0].record_ids == ("a",)
    assert len(bill_shock_findings(lines, DOMESTIC, detected_at=NOW)) == 2  # a: 80 % of March; b: 80 % of April
    assert len(bill_shock_findings(lines, DOMESTIC, detected_at=NOW, tz="UTC")) == 2  # a: 80 %, b: 100 % of March


def test_roaming_without_welcome_notice() -> None:
    usage = pl.DataFrame(
        {"record_id": ["h0", "jp1", "jp2", "h1", "jp3", "kr1"], "msisdn": [M1] * 6,
         "started_at": [T0, T0 + timedelta(hours=5), T0 + timedelta(hours=6), T0 + timedelta(days=3), T0 + timedelta(days=5), T0 + timedelta(days=7)],
         "roaming_country": [None, "JP", "JP", None, "JP", "KR"]},
        schema_overrides={"started_at": pl.Datetime("us", "UTC"), "roaming_country": pl.String},
    )
    notices = pl.DataFrame(
        {"msisdn": [M1, M1], "country": ["JP", "KR"], "sent_at": [T0 + timedelta(hours=4, minutes=50), T0 + timedelta(days=7, hours=2)]},
        schema_overrides={"sent_at": pl.Datetime("us", "UTC")},
    )
    found = welcome_findings(usage, notices, detected_at=NOW)
    # First JP visit: notified. Second JP visit (after coming home): the old notice does not count.
    # KR: the notice came two hours late.
    assert sorted((f.evidence["roaming_country"], f.record_ids) for f in found) == [("JP", ("jp3",)), ("KR", ("kr1",))]
    assert len(welcome_findings(usage, notices, detected_at=NOW, grace=timedelta(hours=3))) == 1
    # two switches that number records alike: the first records of both uncovered visits are "x"
    alike = usage.with_columns(pl.col("record_id").replace({"jp3": "x", "kr1": "x"}))
    found = welcome_findings(alike, notices, detected_at=NOW)
    assert sorted((f.evidence["roaming_country"], f.record_ids, f.evidence["records_in_visit"]) for f in found) == [
        ("JP", ("x",), 1), ("KR", ("x",), 1)]
