"""Overlapping subscriptions of one number to one monthly offer bill each month once: when the first ends
mid-month, the second, which covers the rest of that month, must not charge the month again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.consent import Offer, OfferPeriod, gate_vas, parse_consent_lines, project_subscriptions
from fairtel.rating import consent_gate, rate

M1 = "8613800138000"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
OFFERS = {
    "vas-music-10": Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
    "vas-ringtone-2": Offer("vas-ringtone-2", "sp-melody", Decimal("2.00"), "CNY", OfferPeriod.PER_USE),
}


def ev(event: str, sub: str, at: datetime, *, offer: str = "vas-music-10") -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": M1, "offer_id": offer,
                       "at": at.isoformat(), "channel": "sms"})


def subscribed(sub: str, at: datetime, *, offer: str = "vas-music-10") -> list[str]:
    return [ev("ordered", sub, at, offer=offer), ev("confirmed", sub, at + timedelta(minutes=2), offer=offer)]


def subs_of(lines: list[str]) -> pl.DataFrame:
    batch = parse_consent_lines(lines)
    assert batch.problems == []
    return project_subscriptions(batch.events)


def charges(*rows: tuple[str, datetime, int], offer: str = "vas-music-10") -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "source": ["spgw-01"] * len(rows), "msisdn": [M1] * len(rows),
         "kind": ["vas"] * len(rows), "offer_id": [offer] * len(rows), "started_at": [r[1] for r in rows],
         "amount_minor": [r[2] for r in rows], "currency": ["CNY"] * len(rows)},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def verdicts(gated: pl.DataFrame) -> dict[str, str]:
    return dict(zip(gated["record_id"].to_list(), gated["verdict"].to_list(), strict=True))


def test_the_second_of_two_overlapping_subscriptions_does_not_charge_the_month_the_first_charged() -> None:
    subs = subs_of([*subscribed("first", T0), *subscribed("second", T0 + timedelta(days=3)),
                    ev("cancelled", "first", T0 + timedelta(days=10))])
    g = gate_vas(charges(("c1", T0 + timedelta(days=1), 1000), ("c2", T0 + timedelta(days=15), 1000),
                         ("april", datetime(2026, 4, 5, tzinfo=UTC), 1000)), subs, OFFERS)
    assert verdicts(g) == {"c1": "consented", "c2": "duplicate_charge", "april": "consented"}
    # each charge names the subscription that covered it; the repeat names the charge it repeats
    assert g["subscription_id"].to_list() == ["first", "second", "second"]
    assert g.filter(pl.col("record_id") == "c2")["duplicate_of"].to_list() == ["c1"]


def test_a_subscription_starting_the_instant_another_ends_continues_it() -> None:
    ends = T0 + timedelta(days=10)
    subs = subs_of([*subscribed("first", T0), ev("cancelled", "first", ends),
                    ev("ordered", "second", ends - timedelta(minutes=2)), ev("confirmed", "second", ends)])
    g = gate_vas(charges(("c1", T0 + timedelta(days=1), 1000), ("c2", ends, 1000)), subs, OFFERS)
    assert verdicts(g) == {"c1": "consented", "c2": "duplicate_charge"}


def test_a_chain_of_overlaps_is_one_coverage_even_where_its_ends_do_not_meet() -> None:
    # a overlaps b, b overlaps c; a and c never overlap: the subscriber was covered without a break
    subs = subs_of([*subscribed("a", T0), ev("cancelled", "a", T0 + timedelta(days=5)),
                    *subscribed("b", T0 + timedelta(days=4)), ev("cancelled", "b", T0 + timedelta(days=12)),
                    *subscribed("c", T0 + timedelta(days=11))])
    g = gate_vas(charges(("ca", T0 + timedelta(days=1), 1000), ("cb", T0 + timedelta(days=8), 1000),
                         ("cc", T0 + timedelta(days=20), 1000)), subs, OFFERS)
    assert verdicts(g) == {"ca": "consented", "cb": "duplicate_charge", "cc": "duplicate_charge"}


def test_per_use_charges_under_overlapping_subscriptions_still_bill_each_use() -> None:
    subs = subs_of([*subscribed("first", T0, offer="vas-ringtone-2"), *subscribed("second", T0 + timedelta(days=3), offer="vas-ringtone-2"),
                    ev("cancelled", "first", T0 + timedelta(days=10), offer="vas-ringtone-2")])
    g = gate_vas(charges(("u1", T0 + timedelta(days=1), 200), ("u2", T0 + timedelta(days=15), 200),
                         ("u2-again", T0 + timedelta(days=15), 200), offer="vas-ringtone-2"), subs, OFFERS)
    assert verdicts(g) == {"u1": "consented", "u2": "consented", "u2-again": "duplicate_charge"}


def test_rating_file_by_file_does_not_bill_the_month_again_under_the_second_subscription() -> None:
    catalog = load_catalog(default_catalog_path())
    subs = subs_of([*subscribed("first", T0), *subscribed("second", T0 + timedelta(days=3)),
                    ev("cancelled", "first", T0 + timedelta(days=10))])
    gate = consent_gate(subs, catalog)
    one = rate(charges(("c1", T0 + timedelta(days=1), 1000)), catalog, {M1: "basic-39"}, period="2026-03", gate=gate)
    two = rate(charges(("c2", T0 + timedelta(days=15), 1000)), catalog, {M1: "basic-39"}, period="2026-03", gate=gate,
               opening_state=one.closing_state)
    assert one.rated["amount_minor"].to_list() == [1000]
    row = two.rated.row(0, named=True)
    assert (row["verdict"], row["amount_minor"], row["subscription_id"]) == ("duplicate_charge", 0, "second")


BASE = datetime(2026, 1, 25, tzinfo=UTC)
HOURS = st.integers(min_value=0, max_value=24 * 20)


def _covered_components(subs: pl.DataFrame) -> list[tuple[datetime, datetime]]:
    """The unbroken stretches covered by the valid subscriptions of one subscriber and offer."""
    far = datetime(9999, 1, 1, tzinfo=UTC)
    spans = sorted((r["confirmed_at"], r["ended_at"] or far) for r in subs.filter(pl.col("confirmation") == "valid").iter_rows(named=True))
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["ordered", "confirmed", "cancelled"]), st.integers(0, 3), HOURS), max_size=20),
       st.lists(HOURS, max_size=20))
def test_two_billed_charges_of_one_month_always_have_a_break_in_coverage_between_them(
    events: list[tuple[str, int, int]], hours: list[int]
) -> None:
    lines = [ev(kind, f"s{n}", BASE + timedelta(hours=h)) for kind, n, h in events]
    subs = project_subscriptions(parse_consent_lines(lines).events)
    g = gate_vas(charges(*((f"r{i}", BASE + timedelta(hours=h), 1000) for i, h in enumerate(hours))), subs, OFFERS)
    components = _covered_components(subs)

    def component(t: datetime) -> int:
        return next(i for i, (a, b) in enumerate(components) if a <= t < b)

    billed = g.filter("billable")
    for _, month in billed.group_by("period"):
        stretches = [component(t) for t in month["started_at"].to_list()]
        assert len(stretches) == len(set(stretches)), month


def test_counters_recovered_from_rated_lines_key_a_charge_by_its_coverage() -> None:
    """A month billed under the second of two overlapping subscriptions (the first ended before the charge), by a
    batch run whose lines online rating then continues from: the next charge of the month is the same month."""
    from fairtel.rating import state_from_rated

    catalog = load_catalog(default_catalog_path())
    subs = subs_of([*subscribed("first", T0), *subscribed("second", T0 + timedelta(days=3)),
                    ev("cancelled", "first", T0 + timedelta(days=5))])
    gate = consent_gate(subs, catalog)
    plans = {M1: catalog.plans[0].id}
    batch = rate(charges(("c1", T0 + timedelta(days=10), 1000)), catalog, plans, period="2026-03", gate=gate)
    billed = batch.rated.filter(pl.col("amount_minor") > 0)
    assert billed["subscription_id"].to_list() == ["second"]
    later = charges(("c2", T0 + timedelta(days=20), 1000))
    # the counters as the gate keys them: the month is billed
    opening = state_from_rated(batch.rated, catalog, subs)
    online = rate(later, catalog, plans, period="2026-03", gate=gate, opening_state=opening)
    assert online.rated["verdict"].to_list() == ["duplicate_charge"]
    assert online.rated["amount_minor"].to_list() == [0]
    # without the subscriptions the recovered key names the covering subscription, which the gate does not use
    unkeyed = state_from_rated(batch.rated, catalog)
    again = rate(later, catalog, plans, period="2026-03", gate=gate, opening_state=unkeyed)
    assert again.rated["verdict"].to_list() == ["consented"]
