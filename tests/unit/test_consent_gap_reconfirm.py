"""Re-confirming a subscription after a price rise: a later ``confirmed`` event of the same subscription is a
re-confirmation (no new order, not bound to the order's window), so charges at the raised price after it are
billable within the one subscription, and charges before it are still ``price_raised``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl

from fairtel.consent import ConfirmationStatus, Offer, OfferPeriod, gate_vas, parse_consent_lines, project_subscriptions

M1, M2 = "8613800138000", "8613900139000"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
RISE = datetime(2026, 4, 1, tzinfo=UTC)
RECONFIRM = RISE + timedelta(days=10)
MUSIC = "vas-music-10"
PRICES = {MUSIC: [Offer(MUSIC, "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
                  Offer(MUSIC, "sp-melody", Decimal("12.00"), "CNY", OfferPeriod.MONTHLY, valid_from=RISE)]}
TONE = "vas-ringtone-2"
TONE_PRICES = {TONE: [Offer(TONE, "sp-melody", Decimal("2.00"), "CNY", OfferPeriod.PER_USE),
                      Offer(TONE, "sp-melody", Decimal("3.00"), "CNY", OfferPeriod.PER_USE, valid_from=RISE)]}


def ev(event: str, sub: str, at: datetime, *, msisdn: str = M1, offer: str = MUSIC) -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer,
                       "at": at.isoformat(), "channel": "sms"})


def subscribed(sub: str = "s1", *, offer: str = MUSIC) -> list[str]:
    return [ev("ordered", sub, T0, offer=offer), ev("confirmed", sub, T0 + timedelta(minutes=2), offer=offer)]


def subs_of(lines: list[str]) -> pl.DataFrame:
    batch = parse_consent_lines(lines)
    assert batch.problems == []
    return project_subscriptions(batch.events)


def charges(*rows: tuple[str, datetime, int], offer: str = MUSIC) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "msisdn": [M1] * len(rows), "offer_id": [offer] * len(rows),
         "started_at": [r[1] for r in rows], "amount_minor": [r[2] for r in rows], "currency": ["CNY"] * len(rows)},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def verdicts(gated: pl.DataFrame) -> dict[str, str]:
    return dict(zip(gated["record_id"].to_list(), gated["verdict"].to_list(), strict=True))


def test_a_reconfirmation_weeks_after_the_order_is_valid_and_keeps_the_first_confirmation() -> None:
    subs = subs_of([*subscribed(), ev("confirmed", "s1", RECONFIRM)])
    assert subs.height == 1
    row = subs.row(0, named=True)
    assert row["confirmation"] == ConfirmationStatus.VALID
    assert row["confirmed_at"] == T0 + timedelta(minutes=2)  # the chargeable interval still starts here
    assert row["reconfirmed_at"] == [RECONFIRM]
    assert row["invalid_confirmations"] == 0


def test_charges_at_the_raised_price_are_billable_after_the_reconfirmation_only() -> None:
    subs = subs_of([*subscribed(), ev("confirmed", "s1", RECONFIRM)])
    g = gate_vas(charges(("march", T0 + timedelta(days=1), 1000),
                         ("april-before", RISE + timedelta(days=2), 1200),
                         ("april-after", RECONFIRM + timedelta(days=1), 1200),
                         ("may", datetime(2026, 5, 3, tzinfo=UTC), 1200)), subs, PRICES)
    assert verdicts(g) == {"march": "consented", "april-before": "price_raised", "april-after": "consented", "may": "consented"}
    assert g["subscription_id"].to_list() == ["s1"] * 4


def test_per_use_charges_follow_the_latest_confirmation_before_each_charge() -> None:
    subs = subs_of([*subscribed(offer=TONE), ev("confirmed", "s1", RECONFIRM, offer=TONE)])
    g = gate_vas(charges(("raised", RECONFIRM - timedelta(seconds=1), 300), ("agreed", RECONFIRM, 300), offer=TONE),
                 subs, TONE_PRICES)
    assert verdicts(g) == {"raised": "price_raised", "agreed": "consented"}


def test_a_reconfirmation_does_not_bill_a_month_twice() -> None:
    # April's fee was charged at the old price before the rise took effect in the provider's system; after
    # re-confirming, a second April charge at the new price is the same month again
    rise = datetime(2026, 4, 15, tzinfo=UTC)
    prices = {MUSIC: [PRICES[MUSIC][0], Offer(MUSIC, "sp-melody", Decimal("12.00"), "CNY", OfferPeriod.MONTHLY, valid_from=rise)]}
    subs = subs_of([*subscribed(), ev("confirmed", "s1", rise + timedelta(days=1))])
    g = gate_vas(charges(("april", datetime(2026, 4, 2, tzinfo=UTC), 1000), ("april-new", rise + timedelta(days=2), 1200)),
                 subs, prices)
    assert verdicts(g) == {"april": "consented", "april-new": "duplicate_charge"}


def test_a_reconfirmation_after_the_end_or_by_someone_else_confirms_nothing() -> None:
    ended = RISE + timedelta(days=5)
    subs = subs_of([*subscribed(), ev("cancelled", "s1", ended), ev("confirmed", "s1", RECONFIRM),
                    *[line.replace("s1", "s2") for line in subscribed()], ev("confirmed", "s2", RECONFIRM, msisdn=M2)])
    rows = {r["subscription_id"]: r for r in subs.iter_rows(named=True)}
    assert (rows["s1"]["reconfirmed_at"], rows["s1"]["invalid_confirmations"]) == ([], 1)
    assert (rows["s2"]["reconfirmed_at"], rows["s2"]["invalid_confirmations"]) == ([], 1)
    g = gate_vas(charges(("after-end", RECONFIRM + timedelta(days=1), 1200)), subs.filter(pl.col("subscription_id") == "s1"), PRICES)
    assert verdicts(g) == {"after-end": "after_cancellation"}
    g = gate_vas(charges(("s2", RECONFIRM + timedelta(days=1), 1200)), subs.filter(pl.col("subscription_id") == "s2"), PRICES)
    assert verdicts(g) == {"s2": "price_raised"}


def test_a_late_confirmation_of_a_never_confirmed_order_is_still_outside_the_window() -> None:
    subs = subs_of([ev("ordered", "s1", T0), ev("confirmed", "s1", T0 + timedelta(days=3))])
    row = subs.row(0, named=True)
    assert (row["confirmation"], row["confirmed_at"], row["reconfirmed_at"]) == (ConfirmationStatus.OUTSIDE_WINDOW, None, [])
