"""The consent gate: a VAS charge is billable only under a covering confirmed subscription, at the catalog
price, once per billing period (monthly) or per use, and never from a suspended provider."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from fairtel.consent import (
    Offer,
    OfferPeriod,
    Verdict,
    gate_vas,
    offers_frame,
    parse_consent_lines,
    project_subscriptions,
)
from fairtel.core.errors import InvalidInputError

SH = ZoneInfo("Asia/Shanghai")
M1, M2 = "8613800138000", "8613900139000"
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
OFFERS = {
    "vas-music-10": Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
    "vas-ringtone-2": Offer("vas-ringtone-2", "sp-melody", Decimal("2.00"), "CNY", OfferPeriod.PER_USE),
    "vas-horoscope-6": Offer("vas-horoscope-6", "sp-luckystar", Decimal("6.00"), "CNY", OfferPeriod.MONTHLY),
}


def ev(event: str, sub: str, at: datetime, *, msisdn: str = M1, offer: str = "vas-music-10") -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at.isoformat(), "channel": "sms"})


def subs_of(lines: list[str]) -> pl.DataFrame:
    batch = parse_consent_lines(lines)
    assert batch.problems == []
    return project_subscriptions(batch.events)


def charges(*rows: tuple[str, str, str, datetime, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_id": [r[0] for r in rows],
            "msisdn": [r[1] for r in rows],
            "offer_id": [r[2] for r in rows],
            "started_at": [r[3].astimezone(UTC) for r in rows],
            "amount_minor": [r[4] for r in rows],
            "currency": ["CNY"] * len(rows),
            "source": ["spgw-01"] * len(rows),
        },
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def verdicts(gated: pl.DataFrame) -> dict[str, str]:
    return dict(zip(gated["record_id"].to_list(), gated["verdict"].to_list(), strict=True))


def subscribed(sub: str = "s1", *, at: datetime = T0, msisdn: str = M1, offer: str = "vas-music-10") -> list[str]:
    return [ev("ordered", sub, at, msisdn=msisdn, offer=offer), ev("confirmed", sub, at + timedelta(minutes=2), msisdn=msisdn, offer=offer)]


def test_each_verdict() -> None:
    subs = subs_of([
        *subscribed("s1"),
        ev("cancelled", "s1", T0 + timedelta(days=40)),
        ev("ordered", "s2", T0, msisdn=M2),  # never confirmed
    ])
    g = gate_vas(
        charges(
            ("ok", M1, "vas-music-10", T0 + timedelta(days=1), 1000),
            ("dup", M1, "vas-music-10", T0 + timedelta(days=2), 1000),
            ("price", M1, "vas-music-10", T0 + timedelta(days=25), 1200),
            ("after", M1, "vas-music-10", T0 + timedelta(days=60), 1000),
            ("unconf", M2, "vas-music-10", T0 + timedelta(days=1), 1000),
            ("nosub", M2, "vas-ringtone-2", T0 + timedelta(days=1), 200),
            ("before", M1, "vas-music-10", T0 + timedelta(minutes=1), 1000),  # ordered, not yet confirmed
            ("ghost", M1, "vas-ghost-1", T0 + timedelta(days=1), 100),
        ),
        subs,
        OFFERS,
    )
    assert verdicts(g) == {
        "ok": Verdict.CONSENTED, "dup": Verdict.DUPLICATE_CHARGE, "price": Verdict.PRICE_MISMATCH,
        "after": Verdict.AFTER_CANCELLATION, "unconf": Verdict.NOT_CONFIRMED, "nosub": Verdict.NO_SUBSCRIPTION,
        "before": Verdict.NOT_CONFIRMED, "ghost": Verdict.UNKNOWN_OFFER,
    }
    assert g.filter("billable")["record_id"].to_list() == ["ok"]
    row = g.filter(pl.col("record_id") == "dup").row(0, named=True)
    assert row["duplicate_of"] == "ok" and row["subscription_id"] == "s1"
    assert g.filter(pl.col("record_id") == "nosub")["subscription_id"].to_list() == [None]
    assert g["source"].to_list() == ["spgw-01"] * 8  # other columns pass through, order kept


def test_charge_at_the_confirmation_instant_is_covered_at_the_cancellation_instant_is_not() -> None:
    confirmed_at = T0 + timedelta(minutes=2)
    cancelled_at = T0 + timedelta(days=3)
    g = gate_vas(
        charges(
            ("at-confirm", M1, "vas-ringtone-2", confirmed_at, 200),
            ("just-before-cancel", M1, "vas-ringtone-2", cancelled_at - timedelta(microseconds=1), 200),
            ("at-cancel", M1, "vas-ringtone-2", cancelled_at, 200),
        ),
        subs_of([*subscribed("s1", offer="vas-ringtone-2"), ev("cancelled", "s1", cancelled_at, offer="vas-ringtone-2")]),
        OFFERS,
    )
    assert verdicts(g) == {"at-confirm": "consented", "just-before-cancel": "consented", "at-cancel": "after_cancellation"}


def test_billing_periods_follow_shanghai_months_not_utc() -> None:
    # 2026-02-01 00:30 in Shanghai is still 31 January in UTC: it belongs to February.
    subs = subs_of(subscribed("s1", at=datetime(2026, 1, 20, tzinfo=SH)))
    g = gate_vas(
        charges(
            ("jan", M1, "vas-music-10", datetime(2026, 1, 31, 23, 59, 59, tzinfo=SH), 1000),
            ("feb-early", M1, "vas-music-10", datetime(2026, 2, 1, 0, 30, tzinfo=SH), 1000),
            ("feb-again", M1, "vas-music-10", datetime(2026, 2, 15, tzinfo=SH), 1000),
        ),
        subs,
        OFFERS,
    )
    assert dict(zip(g["record_id"], g["period"], strict=True)) == {"jan": "2026-01", "feb-early": "2026-02", "feb-again": "2026-02"}
    assert verdicts(g) == {"jan": "consented", "feb-early": "consented", "feb-again": "duplicate_charge"}
    # The same charges under UTC months would pair differently.
    g_utc = gate_vas(charges(("a", M1, "vas-music-10", datetime(2026, 1, 31, 23, 59, 59, tzinfo=SH), 1000),
                             ("b", M1, "vas-music-10", datetime(2026, 2, 1, 0, 30, tzinfo=SH), 1000)), subs, OFFERS, tz="UTC")
    assert verdicts(g_utc) == {"a": "consented", "b": "duplicate_charge"}


def test_price_change_applies_from_its_date() -> None:
    change = T0 + timedelta(days=30)
    versions = {
        "vas-music-10": [
            Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
            Offer("vas-music-10", "sp-melody", Decimal("12.00"), "CNY", OfferPeriod.MONTHLY, valid_from=change),
        ]
    }
    subs = subs_of(subscribed("s1"))
    g = gate_vas(
        charges(
            ("old-ok", M1, "vas-music-10", change - timedelta(days=10), 1000),
            ("old-after-change", M1, "vas-music-10", change + timedelta(days=2), 1000),
            ("new-ok", M1, "vas-music-10", change + timedelta(days=35), 1200),
        ),
        subs,
        versions,
    )
    # s1 confirmed at 10.00: a charge at the raised price is not covered by that confirmation
    assert verdicts(g) == {"old-ok": "consented", "old-after-change": "price_mismatch", "new-ok": "price_raised"}
    assert g["price_minor"].to_list() == [1000, 1200, 1200]
    assert g["billable"].to_list() == [True, False, False]


def test_a_price_rise_needs_a_new_confirmation_and_a_price_cut_does_not() -> None:
    """Consent is to an offer at a price: after a rise, only a subscription confirmed at the new price covers a
    charge (the earlier one, confirmed at the old price, does not); after a cut, the old confirmation covers the
    lower price."""
    change = T0 + timedelta(days=30)
    rise = {"vas-music-10": [Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
                             Offer("vas-music-10", "sp-melody", Decimal("12.00"), "CNY", OfferPeriod.MONTHLY, valid_from=change)]}
    again = change + timedelta(days=3)
    subs = subs_of([*subscribed("old"), *subscribed("new", at=again, msisdn=M2), *subscribed("m2-old", msisdn=M2)])
    g = gate_vas(charges(("m1-raised", M1, "vas-music-10", change + timedelta(days=5), 1200),
                         ("m2-before-reconfirming", M2, "vas-music-10", change + timedelta(days=1), 1200),
                         ("m2-reconfirmed", M2, "vas-music-10", change + timedelta(days=35), 1200)), subs, rise)
    assert verdicts(g) == {"m1-raised": "price_raised", "m2-before-reconfirming": "price_raised", "m2-reconfirmed": "consented"}
    assert g.filter(pl.col("record_id") == "m2-reconfirmed")["subscription_id"].to_list() == ["new"]
    cut = {"vas-music-10": [Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
                            Offer("vas-music-10", "sp-melody", Decimal("8.00"), "CNY", OfferPeriod.MONTHLY, valid_from=change)]}
    g = gate_vas(charges(("cheaper", M1, "vas-music-10", change + timedelta(days=5), 800)), subs_of(subscribed("old")), cut)
    assert verdicts(g) == {"cheaper": "consented"}


def test_currency_is_part_of_the_price() -> None:
    subs = subs_of(subscribed("s1"))
    c = charges(("x", M1, "vas-music-10", T0 + timedelta(days=1), 1000)).with_columns(pl.lit("HKD").alias("currency"))
    assert verdicts(gate_vas(c, subs, OFFERS)) == {"x": "price_mismatch"}


def test_two_subscriptions_to_the_same_offer_bill_one_month_once() -> None:
    subs = subs_of([*subscribed("first"), *subscribed("second", at=T0 + timedelta(days=3))])
    g = gate_vas(
        charges(
            ("c1", M1, "vas-music-10", T0 + timedelta(days=1), 1000),
            ("c2", M1, "vas-music-10", T0 + timedelta(days=4), 1000),
        ),
        subs,
        OFFERS,
    )
    assert verdicts(g) == {"c1": "consented", "c2": "duplicate_charge"}
    assert g["subscription_id"].to_list() == ["first", "first"]


def test_cancel_and_resubscribe_in_the_same_month_bills_the_month_once() -> None:
    subs = subs_of([
        *subscribed("a"), ev("cancelled", "a", T0 + timedelta(days=2)),
        *subscribed("b", at=T0 + timedelta(days=5)),
    ])
    g = gate_vas(
        charges(
            ("ca", M1, "vas-music-10", T0 + timedelta(hours=1), 1000),
            ("gap", M1, "vas-music-10", T0 + timedelta(days=3), 1000),
            ("cb", M1, "vas-music-10", T0 + timedelta(days=6), 1000),
        ),
        subs,
        OFFERS,
    )
    assert verdicts(g) == {"ca": "consented", "gap": "after_cancellation", "cb": "duplicate_charge"}
    assert g["subscription_id"].to_list() == ["a", "a", "b"]
    assert g.filter(pl.col("record_id") == "cb")["duplicate_of"].to_list() == ["ca"]


def test_per_use_offers_bill_each_use_but_not_a_resent_copy() -> None:
    subs = subs_of(subscribed("r", offer="vas-ringtone-2"))
    t = T0 + timedelta(days=1)
    g = gate_vas(
        charges(
            ("u1", M1, "vas-ringtone-2", t, 200),
            ("u2", M1, "vas-ringtone-2", t + timedelta(minutes=5), 200),
            ("u1-resent", M1, "vas-ringtone-2", t, 200),
        ),
        subs,
        OFFERS,
    )
    assert verdicts(g) == {"u1": "consented", "u2": "consented", "u1-resent": "duplicate_charge"}


def test_suspended_provider_charges_are_refused_consent_problems_still_named() -> None:
    subs = subs_of(subscribed("h", offer="vas-horoscope-6"))
    c = charges(
        ("h1", M1, "vas-horoscope-6", T0 + timedelta(days=1), 600),
        ("h2", M2, "vas-horoscope-6", T0 + timedelta(days=1), 600),
        ("m1", M1, "vas-music-10", T0 + timedelta(days=1), 1000),
    )
    g = gate_vas(c, subs, OFFERS, suspended={"sp-luckystar"})
    assert verdicts(g) == {"h1": "merchant_suspended", "h2": "no_subscription", "m1": "no_subscription"}
    assert verdicts(gate_vas(c, subs, OFFERS))["h1"] == "consented"


def test_missing_columns_and_bad_offers_are_reported() -> None:
    with pytest.raises(InvalidInputError) as exc:
        gate_vas(pl.DataFrame({"record_id": ["x"]}), subs_of(subscribed()), OFFERS)
    assert {p.field for p in exc.value.problems} >= {"msisdn", "offer_id", "amount_minor"}
    with pytest.raises(InvalidInputError):
        offers_frame({"a": Offer("b", "p", Decimal("1.00"), "CNY", OfferPeriod.MONTHLY)})
    with pytest.raises(InvalidInputError):
        offers_frame({"a": Offer("a", "p", Decimal("1.001"), "CNY", OfferPeriod.MONTHLY)})


def test_catalog_shaped_offers_are_adapted() -> None:
    class CatalogOffer:  # the catalog's shape: id/offer_id, provider, price, period; currency from the operator
        offer_id = "vas-news-5"
        provider = "sp-dailynews"
        price = Decimal("5.00")
        period = "monthly"

    frame = offers_frame({"vas-news-5": CatalogOffer()}, currency="CNY")  # type: ignore[dict-item]
    assert frame.row(0, named=True) | {"valid_from": None} == {
        "offer_id": "vas-news-5", "provider_id": "sp-dailynews", "price_minor": 500, "offer_currency": "CNY",
        "offer_period": "monthly", "valid_from": None,
    }
