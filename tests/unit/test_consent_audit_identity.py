"""A confirmation confirms only the order it answers: the same subscriber, the same offer.

The ledger refuses such events when they are appended through it, but the projection also runs on events
that never went through the ledger (the store's table, an event file read directly, ``assure(events=...)``),
so it must not take another number's or another offer's confirmation for the subscriber's own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl

from fairtel.assurance import FindingKind, assure
from fairtel.consent import ConfirmationStatus, Offer, OfferPeriod, gate_vas, parse_consent_lines, project_subscriptions

M1, M2 = "8613800138000", "8613900139000"
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 2, tzinfo=UTC)
OFFERS = {
    "vas-music-10": Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
    "vas-horoscope-6": Offer("vas-horoscope-6", "sp-luckystar", Decimal("6.00"), "CNY", OfferPeriod.MONTHLY),
}


def ev(event: str, sub: str, at: datetime, *, msisdn: str = M1, offer: str = "vas-music-10") -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at.isoformat(), "channel": "sms"})


def events(*lines: str) -> pl.DataFrame:
    batch = parse_consent_lines(list(lines))
    assert batch.problems == []
    return batch.events


def charge(record_id: str, at: datetime, *, msisdn: str = M1, offer: str = "vas-music-10", amount: int = 1000) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": [record_id], "source": ["spgw-01"], "msisdn": [msisdn], "kind": ["vas"], "offer_id": [offer],
         "started_at": [at], "amount_minor": [amount], "currency": ["CNY"]},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def test_a_confirmation_from_another_number_does_not_confirm_the_subscribers_order() -> None:
    ledger = events(ev("ordered", "s1", T0), ev("confirmed", "s1", T0 + timedelta(minutes=2), msisdn=M2))
    subs = project_subscriptions(ledger)
    row = subs.row(0, named=True)
    assert (row["msisdn"], row["confirmation"], row["confirmed_at"]) == (M1, ConfirmationStatus.MISMATCH.value, None)
    assert row["invalid_confirmations"] == 1
    g = gate_vas(charge("c1", T0 + timedelta(days=1)), subs, OFFERS)
    assert (g["verdict"][0], g["billable"][0]) == ("not_confirmed", False)


def test_a_confirmation_of_another_offer_does_not_confirm_the_order() -> None:
    # The merchant's order is for music; the confirmation the subscriber gave names horoscope.
    ledger = events(ev("ordered", "s1", T0), ev("confirmed", "s1", T0 + timedelta(minutes=2), offer="vas-horoscope-6"))
    subs = project_subscriptions(ledger)
    assert subs["confirmation"].to_list() == [ConfirmationStatus.MISMATCH.value]
    assert subs["offer_id"].to_list() == ["vas-music-10"]
    run = assure(usage=charge("c1", T0 + timedelta(days=1)), offers=OFFERS, events=ledger, now=NOW)
    assert run.gated["verdict"].to_list() == ["not_confirmed"]
    assert [f.kind for f in run.findings] == [FindingKind.UNCONSENTED_CHARGE]


def test_the_subscription_belongs_to_its_order_not_to_an_earlier_stray_event() -> None:
    # A stray confirmation under the same id, before the order and from another number, neither confirms the
    # order nor takes the subscription away from the subscriber who ordered.
    ledger = events(
        ev("confirmed", "s1", T0 - timedelta(minutes=5), msisdn=M2),
        ev("ordered", "s1", T0),
        ev("confirmed", "s1", T0 + timedelta(minutes=2)),
    )
    row = project_subscriptions(ledger).row(0, named=True)
    assert (row["msisdn"], row["confirmation"], row["invalid_confirmations"]) == (M1, "valid", 1)
    g = gate_vas(pl.concat([charge("mine", T0 + timedelta(days=1)), charge("theirs", T0 + timedelta(days=1), msisdn=M2)]), project_subscriptions(ledger), OFFERS)
    assert dict(zip(g["record_id"], g["verdict"], strict=True)) == {"mine": "consented", "theirs": "no_subscription"}


def test_the_subscribers_own_later_confirmation_still_counts() -> None:
    ledger = events(
        ev("ordered", "s1", T0),
        ev("confirmed", "s1", T0 + timedelta(minutes=1), msisdn=M2),
        ev("confirmed", "s1", T0 + timedelta(minutes=3)),
    )
    row = project_subscriptions(ledger).row(0, named=True)
    assert (row["confirmation"], row["confirmed_at"], row["invalid_confirmations"]) == ("valid", T0 + timedelta(minutes=3), 1)
