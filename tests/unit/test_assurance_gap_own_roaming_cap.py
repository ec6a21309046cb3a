"""The roaming cap a subscriber set themselves is a bill-shock source: alerts at 80 % and 100 % of it over their
roaming charges of the month made since they set it, the charges past it reported for refund (once, even when a
stopping preset reports them too), the SMS naming the cap as theirs. Money exact, in minor units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pytest

from fairtel.assurance import EU_DATA_ROAMING, AssurancePolicy, FindingKind, assure, bill_shock_messages
from fairtel.assurance._billshock import OWN_ROAMING_CAP, OwnCapPolicy, SubscriberCap, subscriber_cap_findings
from fairtel.assurance._refunds import decide_refunds
from fairtel.consent import empty_events
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.errors import ConfigError
from fairtel.core.money import Money

CN = timezone(timedelta(hours=8))
NOW = datetime(2026, 4, 2, tzinfo=UTC)
A, B = "8613800138000", "8613900139000"
COLUMNS = ("record_id", "msisdn", "started_at", "amount_minor", "currency", "kind", "roaming_country")


def _rated(*rows: tuple[str, str, datetime, int, str, str, str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [dict(zip(COLUMNS, (r[0], r[1], r[2].astimezone(UTC), *r[3:]), strict=True)) for r in rows],
        schema={
            "record_id": pl.String(),
            "msisdn": pl.String(),
            "started_at": pl.Datetime("us", "UTC"),
            "amount_minor": pl.Int64(),
            "currency": pl.String(),
            "kind": pl.String(),
            "roaming_country": pl.String(),
        },
    )


def _day(d: int, h: int = 10) -> datetime:
    return datetime(2026, 3, d, h, tzinfo=CN)


def _cap(amount: str, currency: str = "CNY", at: datetime = datetime(2026, 2, 20, tzinfo=CN)) -> SubscriberCap:
    return SubscriberCap(Money.of(amount, currency), at)


def _usage() -> pl.DataFrame:
    usage = pl.from_arrow(CLEAN_USAGE_SCHEMA.empty_table())
    assert isinstance(usage, pl.DataFrame)
    return usage


def _run(rated: pl.DataFrame, caps: dict[str, SubscriberCap], policy: AssurancePolicy = AssurancePolicy()) -> list:
    return assure(
        usage=_usage(), offers={}, events=empty_events(), rated=rated, subscriber_caps=caps, policy=policy, now=NOW
    ).findings


def _of(findings: list, kind: FindingKind, msisdn: str = A) -> list:
    of = [f for f in findings if f.kind is kind and f.msisdn == msisdn]
    return sorted(of, key=lambda f: (f.evidence["period"], f.evidence.get("threshold_pct", 0), f.currency))


def test_alerts_at_80_and_100_percent_of_the_subscribers_own_cap_and_the_part_past_it() -> None:
    rated = _rated(
        ("r1", A, _day(2), 5000, "CNY", "voice", "JP"),
        ("r2", A, _day(3), 2999, "CNY", "data", "JP"),  # 79.99: below 80 %
        ("r3", A, _day(4), 1, "CNY", "sms", "JP"),  # 80.00 exactly: the 80 % alert
        ("r4", A, _day(5), 1500, "CNY", "data", "JP"),  # 95.00
        ("r5", A, _day(6), 1234, "CNY", "data", "JP"),  # 107.34: the cap, 7.34 past it
        ("r6", A, _day(7), 66, "CNY", "data", "JP"),  # 108.00: all of it past the cap
        ("h1", A, _day(7, 12), 9999, "CNY", "data", None),  # at home: not roaming
        ("b1", B, _day(3), 9000, "CNY", "data", "JP"),  # B set no cap
    )
    found = _run(rated, {A: _cap("100")})
    shocks = _of(found, FindingKind.BILL_SHOCK)
    assert [(f.evidence["threshold_pct"], f.record_ids, f.amount) for f in shocks] == [
        (80, ("r3",), Decimal("80.00")),
        (100, ("r5",), Decimal("107.34")),
    ]
    assert all(f.evidence["policy"] == OWN_ROAMING_CAP and f.evidence["cap_source"] == "subscriber" for f in shocks)
    assert [f.evidence["limit_minor"] for f in shocks] == [8000, 10000]
    assert all(f.evidence["stop_at_cap"] is True for f in shocks)
    assert "counted_since" not in shocks[0].evidence  # set in February: the whole of March counts
    (past,) = _of(found, FindingKind.USAGE_PAST_CAP)
    assert past.amount == Decimal("8.00") and past.amount_minor == 800 and past.currency == "CNY"
    assert past.record_ids == ("r5", "r6") and past.evidence["cap_source"] == "subscriber"
    assert not _of(found, FindingKind.BILL_SHOCK, B) and not _of(found, FindingKind.USAGE_PAST_CAP, B)
    # refunded as a preset's usage past the cap is: exactly the part past it
    (adj,) = decide_refunds([past], now=NOW).refunds
    assert (adj.amount, adj.currency) == (Decimal("8.00"), "CNY")


def test_a_cap_set_mid_month_counts_only_the_charges_made_after_it() -> None:
    set_at = _day(10, 12)
    rated = _rated(
        ("early", A, _day(5), 9000, "CNY", "data", "JP"),  # before the cap: not counted
        ("same", A, set_at, 3000, "CNY", "data", "JP"),  # at the instant it was set: counted
        ("l1", A, _day(11), 4000, "CNY", "data", "JP"),  # 70.00
        ("l2", A, _day(12), 1500, "CNY", "data", "JP"),  # 85.00: the 80 % alert
    )
    found = _run(rated, {A: _cap("100", at=set_at)})
    (shock,) = _of(found, FindingKind.BILL_SHOCK)
    assert shock.record_ids == ("l2",) and shock.amount == Decimal("85.00") and shock.evidence["threshold_pct"] == 80
    assert shock.evidence["counted_since"] == set_at.astimezone(UTC).isoformat()
    assert shock.evidence["cap_set_at"] == set_at.astimezone(UTC).isoformat()
    assert not _of(found, FindingKind.USAGE_PAST_CAP)
    # without the cap's date every charge would count: 175.00, past the cap
    zh, en = (bill_shock_messages([shock], default_language=lang, now=NOW)[0].text for lang in ("zh", "en"))
    assert (
        zh
        == "【fairtel】您设置的国际漫游消费上限为100.00元，您本月自3月10日设置上限以来的漫游费用已达85.00元，为上限的85%（已超过80%提醒线）。"
    )
    assert en == (
        "fairtel: your roaming charges this month since you set your limit on 2026-03-10 have reached 85.00 CNY, "
        "85% of the 100.00 CNY roaming spending limit you set (past the 80% alert)."
    )


def test_alerts_and_cut_off_texts_name_the_cap_the_subscriber_set() -> None:
    rated = _rated(("r1", A, _day(2), 8000, "CNY", "data", "JP"), ("r2", A, _day(3), 2500, "CNY", "data", "JP"))
    found = _of(_run(rated, {A: _cap("100")}), FindingKind.BILL_SHOCK)  # 80 % first
    zh = [m.text for m in bill_shock_messages(found, default_language="zh", now=NOW)]
    en = [m.text for m in bill_shock_messages(found, default_language="en", now=NOW)]
    assert zh == [
        "【fairtel】您设置的国际漫游消费上限为100.00元，您本月的漫游费用已达80.00元，为上限的80%。",
        "【fairtel】您设置的国际漫游消费上限为100.00元，您本月的漫游费用已达到上限。超出上限部分的费用将在下期账单中退还。",
    ]
    assert en == [
        "fairtel: your roaming charges this month have reached 80.00 CNY, 80% of the 100.00 CNY roaming spending limit you set.",
        "fairtel: your roaming charges this month have reached the 100.00 CNY roaming spending limit you set. "
        "Charges past the limit will be refunded on your next bill.",
    ]


def test_a_subscriber_without_a_cap_in_force_gets_nothing() -> None:
    rated = _rated(("r1", A, _day(2), 90000, "CNY", "data", "JP"))
    assert _run(rated, {}) == []
    assert _run(rated, {B: _cap("100")}) == []
    # a cap set after every charge
    assert _run(rated, {A: _cap("100", at=_day(20))}) == []


def test_a_cap_in_another_currency_converts_exactly_and_rounds_the_limit_up() -> None:
    # the cap is 100 CNY, the charges in EUR; 1 EUR = 7.9 CNY: 80 CNY is 10.1265… EUR, reached from 10.13 EUR
    rated = _rated(
        ("e1", A, _day(2), 1012, "EUR", "data", "FR"),
        ("e2", A, _day(3), 1, "EUR", "data", "FR"),  # 10.13 EUR
        ("e3", A, _day(4), 300, "EUR", "data", "FR"),  # 13.13 EUR: past 12.66 (100 CNY = 12.658… EUR)
    )
    policy = AssurancePolicy(own_caps=OwnCapPolicy(rates={("EUR", "CNY"): Decimal("7.9")}))
    found = _run(rated, {A: _cap("100")}, policy)
    shocks = _of(found, FindingKind.BILL_SHOCK)
    assert [(f.record_ids, f.evidence["limit_minor"], f.currency) for f in shocks] == [
        (("e2",), 1013, "EUR"),
        (("e3",), 1266, "EUR"),
    ]
    (past,) = _of(found, FindingKind.USAGE_PAST_CAP)
    assert (past.amount, past.currency) == (Decimal("0.47"), "EUR")
    # the reverse pair, inverted, gives the same limits
    reverse = AssurancePolicy(own_caps=OwnCapPolicy(rates={("CNY", "EUR"): Decimal(1) / Decimal("7.9")}))
    assert [f.evidence["limit_minor"] for f in _of(_run(rated, {A: _cap("100")}, reverse), FindingKind.BILL_SHOCK)] == [
        1013,
        1266,
    ]
    # no rate: the error names the number and the currencies
    with pytest.raises(ConfigError, match=f"{A}.*EUR to CNY"):
        _run(rated, {A: _cap("100")})


def test_own_cap_alerts_beside_a_presets_and_charges_past_both_refunded_once() -> None:
    # EU data roaming: EUR 50; the subscriber's own cap: EUR 40. Both stop at their cap.
    rated = _rated(
        ("d1", A, _day(2), 3000, "EUR", "data", "FR"),
        ("d2", A, _day(3), 1000, "EUR", "data", "FR"),  # 40: own 80 % (32) passed, own cap reached; EU 80 %
        ("d3", A, _day(4), 1500, "EUR", "data", "FR"),  # 55: EU 100 %; 15 past own cap, 5 past EU's
        ("d4", A, _day(5), 500, "EUR", "data", "FR"),  # 60: 5 past both
    )
    found = _run(rated, {A: _cap("40", "EUR")}, AssurancePolicy(bill_shock=(EU_DATA_ROAMING,)))
    shocks = _of(found, FindingKind.BILL_SHOCK)
    by_source = sorted((f.evidence["policy"], f.evidence["threshold_pct"], f.record_ids) for f in shocks)
    assert by_source == [
        ("eu_data_roaming", 80, ("d2",)),
        ("eu_data_roaming", 100, ("d3",)),
        (OWN_ROAMING_CAP, 80, ("d2",)),
        (OWN_ROAMING_CAP, 100, ("d2",)),
    ]
    assert len({f.finding_id for f in shocks}) == 4
    past = {f.evidence["policy"]: f for f in _of(found, FindingKind.USAGE_PAST_CAP)}
    assert past["eu_data_roaming"].amount == Decimal("10.00")
    # own cap: 20.00 past it (d3 15 + d4 5), 10.00 of which the preset already reports
    own = past[OWN_ROAMING_CAP]
    assert own.amount == Decimal("10.00") and own.evidence["reported_past_preset_minor"] == 1000
    assert own.record_ids == ("d3",)  # d4 is wholly past the EU cap: refunded under the preset's finding
    refunds = decide_refunds(past.values(), now=NOW).refunds
    assert sum(r.amount for r in refunds) == Decimal("20.00")  # every cent past the stricter cap, once
    # one SMS per crossing and source; a subscriber who chose to continue past the EU cap keeps their own
    msgs = bill_shock_messages(found, default_language="en", now=NOW)
    assert sorted(m.kind for m in msgs) == ["bill_shock", "cutoff", "cutoff"]
    kept = _run(rated, {A: _cap("40", "EUR")}, AssurancePolicy(bill_shock=(EU_DATA_ROAMING,)))
    assert {f.finding_id for f in kept} == {f.finding_id for f in found}  # a rerun: the same findings
    continues = assure(
        usage=_usage(),
        offers={},
        rated=rated,
        subscriber_caps={A: _cap("40", "EUR")},
        opted_in=iter([A]),
        policy=AssurancePolicy(bill_shock=(EU_DATA_ROAMING,)),
        now=NOW,
    ).findings
    (own_past,) = _of(continues, FindingKind.USAGE_PAST_CAP)
    assert own_past.evidence["policy"] == OWN_ROAMING_CAP and own_past.amount == Decimal("20.00")
    assert own_past.record_ids == ("d3", "d4") and "reported_past_preset_minor" not in own_past.evidence


def test_one_alert_per_threshold_month_and_cap_a_new_cap_is_a_new_source() -> None:
    rated = _rated(*[(f"r{i}", A, _day(2 + i), 3000, "CNY", "data", "JP") for i in range(6)])
    first = _run(rated, {A: _cap("100")})
    assert [f.evidence["threshold_pct"] for f in _of(first, FindingKind.BILL_SHOCK)] == [80, 100]
    again = _run(rated, {A: _cap("100")})
    assert [f.finding_id for f in again] == [f.finding_id for f in first]
    # the subscriber set a cap again (same amount, later): its alerts are new ones
    later = _run(rated, {A: _cap("100", at=datetime(2026, 2, 25, tzinfo=CN))})
    assert not {f.finding_id for f in later} & {f.finding_id for f in first}
    # a month later, the same cap alerts again for April
    april = _rated(*[(f"a{i}", A, datetime(2026, 4, 2 + i, tzinfo=CN), 5000, "CNY", "data", "JP") for i in range(2)])
    assert [
        (f.evidence["period"], f.evidence["threshold_pct"])
        for f in _of(_run(april, {A: _cap("100")}), FindingKind.BILL_SHOCK)
    ] == [("2026-04", 80), ("2026-04", 100)]


def test_a_cap_of_nothing_is_reached_by_the_first_roaming_charge() -> None:
    rated = _rated(("r1", A, _day(2), 120, "CNY", "data", "JP"), ("r2", A, _day(3), 80, "CNY", "sms", "JP"))
    found = subscriber_cap_findings(rated, {A: _cap("0")}, detected_at=NOW)
    assert [(f.kind, f.record_ids, f.amount) for f in found] == [
        (FindingKind.BILL_SHOCK, ("r1",), Decimal("1.20")),
        (FindingKind.BILL_SHOCK, ("r1",), Decimal("1.20")),
        (FindingKind.USAGE_PAST_CAP, ("r1", "r2"), Decimal("2.00")),
    ]
    (msg,) = bill_shock_messages(found, default_language="zh", now=NOW)
    assert msg.kind == "cutoff" and "您设置的国际漫游消费上限为0.00元" in msg.text


def test_a_cap_needs_an_aware_instant_and_no_negative_amount() -> None:
    with pytest.raises(Exception, match="time zone"):
        SubscriberCap(Money.of("100", "CNY"), datetime(2026, 3, 1))
    with pytest.raises(ConfigError):
        SubscriberCap(Money.of("-1", "CNY"), NOW)


def test_charges_in_two_currencies_get_findings_of_their_own() -> None:
    rated = _rated(
        ("c1", A, _day(2), 12000, "CNY", "data", "JP"),
        ("e1", A, _day(3), 1300, "EUR", "data", "FR"),
    )
    policy = AssurancePolicy(own_caps=OwnCapPolicy(rates={("EUR", "CNY"): Decimal("7.9")}))
    found = _run(rated, {A: _cap("100")}, policy)
    assert sorted((f.kind.value, f.currency) for f in found) == [
        ("bill_shock", "CNY"),
        ("bill_shock", "CNY"),
        ("bill_shock", "EUR"),
        ("bill_shock", "EUR"),
        ("usage_past_cap", "CNY"),
        ("usage_past_cap", "EUR"),
    ]
    assert len({f.finding_id for f in found}) == len(found)
