"""A monthly offer is charged at most once per number, offer and billing month: a subscriber who cancels and
subscribes again to the same offer within the month is not charged the month again (当月退订后再次订购同一业务，
当月不重复收取月功能费). Per-use offers still charge each use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairtel.assurance import FindingKind, assure, decide_refunds
from fairtel.assurance._refunds import refund_reason
from fairtel.billing import charge_late_vas
from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.consent import (
    Offer,
    OfferPeriod,
    gate_vas,
    parse_consent_lines,
    project_subscriptions,
    subscription_coverage,
)
from fairtel.rating import consent_gate, rate, state_from_rated

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


# cancelled on the 5th, subscribed again on the 20th: a break in coverage, within one month
RESUBSCRIBED = [*subscribed("first", T0), ev("cancelled", "first", T0 + timedelta(days=3)),
                *subscribed("again", T0 + timedelta(days=18))]


def test_cancel_and_subscribe_again_in_the_month_does_not_charge_the_month_twice() -> None:
    g = gate_vas(charges(("c1", T0 + timedelta(days=1), 1000), ("c2", T0 + timedelta(days=19), 1000),
                         ("april", datetime(2026, 4, 5, tzinfo=UTC), 1000)), subs_of(RESUBSCRIBED), OFFERS)
    assert verdicts(g) == {"c1": "consented", "c2": "duplicate_charge", "april": "consented"}
    assert g["subscription_id"].to_list() == ["first", "again", "again"]
    assert g["duplicate_of"].to_list() == [None, "c1", None]
    assert g["billable"].to_list() == [True, False, True]


def test_the_month_is_the_operators_even_when_the_gap_spans_a_utc_month_end() -> None:
    # cancelled at 01:00 on 1 April in Shanghai (still 31 March in UTC), subscribed again at 10:00 that day
    ends = datetime(2026, 3, 31, 17, 0, tzinfo=UTC)
    subs = subs_of([*subscribed("first", T0), ev("cancelled", "first", ends),
                    *subscribed("again", datetime(2026, 4, 1, 2, 0, tzinfo=UTC))])
    usage = charges(("march", T0 + timedelta(days=1), 1000), ("april-1", datetime(2026, 3, 31, 16, 30, tzinfo=UTC), 1000),
                    ("april-2", datetime(2026, 4, 1, 3, 0, tzinfo=UTC), 1000))
    g = gate_vas(usage, subs, OFFERS)  # Asia/Shanghai
    assert verdicts(g) == {"march": "consented", "april-1": "consented", "april-2": "duplicate_charge"}
    # counted in UTC, 31 March 16:30 is March's: a month already billed, and April is billed under the second
    assert verdicts(gate_vas(usage, subs, OFFERS, tz="UTC")) == {
        "march": "consented", "april-1": "duplicate_charge", "april-2": "consented"}


def test_subscribing_again_in_a_later_month_bills_that_month() -> None:
    subs = subs_of([*subscribed("first", T0), ev("cancelled", "first", T0 + timedelta(days=3)),
                    *subscribed("again", datetime(2026, 4, 20, tzinfo=UTC)),
                    ev("cancelled", "again", datetime(2026, 4, 22, tzinfo=UTC)),
                    *subscribed("third", datetime(2026, 7, 1, tzinfo=UTC))])
    g = gate_vas(charges(("march", T0 + timedelta(days=1), 1000), ("april", datetime(2026, 4, 21, tzinfo=UTC), 1000),
                         ("july", datetime(2026, 7, 2, tzinfo=UTC), 1000)), subs, OFFERS)
    assert verdicts(g) == {"march": "consented", "april": "consented", "july": "consented"}


def test_per_use_offers_still_charge_each_use_after_subscribing_again() -> None:
    subs = subs_of([*subscribed("first", T0, offer="vas-ringtone-2"),
                    ev("cancelled", "first", T0 + timedelta(days=3), offer="vas-ringtone-2"),
                    *subscribed("again", T0 + timedelta(days=18), offer="vas-ringtone-2")])
    g = gate_vas(charges(("u1", T0 + timedelta(days=1), 200), ("u2", T0 + timedelta(days=19), 200),
                         ("u2-again", T0 + timedelta(days=19), 200), offer="vas-ringtone-2"), subs, OFFERS)
    assert verdicts(g) == {"u1": "consented", "u2": "consented", "u2-again": "duplicate_charge"}


def test_the_coverage_rating_recovers_counters_with_is_the_one_the_gate_keys_by() -> None:
    subs = subs_of(RESUBSCRIBED)
    cover = dict(subscription_coverage(subs).iter_rows())
    assert cover == {"first": "first", "again": "first"}
    g = gate_vas(charges(("c1", T0 + timedelta(days=1), 1000), ("c2", T0 + timedelta(days=19), 1000)), subs, OFFERS)
    assert g["charge_key"].to_list() == ["first|2026-03", "first|2026-03"]


def _catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def test_rating_file_by_file_does_not_bill_the_month_again_after_subscribing_again() -> None:
    catalog = _catalog()
    gate = consent_gate(subs_of(RESUBSCRIBED), catalog)
    plans = {M1: "basic-39"}
    one = rate(charges(("c1", T0 + timedelta(days=1), 1000)), catalog, plans, period="2026-03", gate=gate)
    two = rate(charges(("c2", T0 + timedelta(days=19), 1000)), catalog, plans, period="2026-03", gate=gate,
               opening_state=one.closing_state)
    assert one.rated["amount_minor"].to_list() == [1000]
    row = two.rated.row(0, named=True)
    assert (row["verdict"], row["amount_minor"], row["subscription_id"]) == ("duplicate_charge", 0, "again")
    # one batch of both: the same
    both = rate(charges(("c1", T0 + timedelta(days=1), 1000), ("c2", T0 + timedelta(days=19), 1000)), catalog, plans,
                period="2026-03", gate=gate)
    assert both.rated.sort("record_id")["amount_minor"].to_list() == [1000, 0]


def test_online_rating_continuing_a_batch_run_does_not_bill_the_month_again() -> None:
    """The counters the online rater recovers from a batch run's lines (``state_from_rated`` with the gate's
    subscriptions) hold the month billed under the first subscription: a charge under the second is a repeat."""
    catalog = _catalog()
    subs = subs_of(RESUBSCRIBED)
    gate = consent_gate(subs, catalog)
    plans = {M1: "basic-39"}
    batch = rate(charges(("c1", T0 + timedelta(days=1), 1000)), catalog, plans, period="2026-03", gate=gate)
    opening = state_from_rated(batch.rated, catalog, subs)
    online = rate(charges(("c2", T0 + timedelta(days=19), 1000)), catalog, plans, period="2026-03", gate=gate,
                  opening_state=opening)
    assert (online.rated["verdict"].to_list(), online.rated["amount_minor"].to_list()) == (["duplicate_charge"], [0])


def test_rerate_does_not_charge_late_the_month_charged_again_after_subscribing_again() -> None:
    catalog = _catalog()
    gate = consent_gate(subs_of(RESUBSCRIBED), catalog)
    plans = {M1: "basic-39"}
    # the bill holds March's charge; the one under the second subscription arrived after the bill run
    billed = rate(charges(("c1", T0 + timedelta(days=1), 1000)), catalog, plans, period="2026-03", gate=gate).rated
    rerated = rate(charges(("c1", T0 + timedelta(days=1), 1000), ("c2", T0 + timedelta(days=19), 1000)), catalog, plans,
                   period="2026-03", gate=gate).rated
    late = charge_late_vas(billed, rerated, period="2026-03", bills={M1: "bill-1"}, currency="CNY",
                           created_at=datetime(2026, 4, 2, tzinfo=UTC))
    assert late.adjustments == ()
    assert late.refused == ("spgw-01/c2",)


def test_assurance_finds_and_refunds_the_month_charged_again_with_the_rule_as_reason() -> None:
    usage = charges(("c1", T0 + timedelta(days=1), 1000), ("c2", T0 + timedelta(days=19), 1000))
    run = assure(usage=usage, offers=OFFERS, events=parse_consent_lines(RESUBSCRIBED).events,
                 now=datetime(2026, 4, 2, tzinfo=UTC))
    [dup] = [f for f in run.findings if f.kind is FindingKind.DUPLICATE_CHARGE]
    assert (dup.record_ids, dup.subscription_id, dup.amount) == (("c2",), "again", Decimal("10.00"))
    assert dup.evidence["duplicate_of"] == "c1"
    assert dup.evidence["billed_under_subscription"] == "first"
    assert dup.evidence["reason"] == "monthly fee charged again after re-subscribing in the same month"
    assert dup.evidence["reason_zh"] == "当月退订后再次订购同一业务，当月不重复收取月功能费"
    # billed both times (before the gate refused it): refunded, the reason quoting the rule
    decided = decide_refunds(run.findings, billed_records={(M1, "spgw-01", "c1"), (M1, "spgw-01", "c2")},
                             now=datetime(2026, 4, 2, tzinfo=UTC))
    [refund] = [r for r in decided.refunds if r.finding_id == dup.finding_id]
    assert (refund.amount, refund.reason, refund.record_ids) == (Decimal("10.00"), refund_reason(dup), ("c2",))
    assert refund.reason == "monthly fee charged again after re-subscribing in the same month"
    # refused before billing: nothing moves
    [closed] = decide_refunds([dup], billed_records={(M1, "spgw-01", "c1")}, now=datetime(2026, 4, 2, tzinfo=UTC)).resolutions
    assert closed.resolution == "not_billed"


def test_a_charge_sent_twice_under_one_subscription_keeps_the_plain_duplicate_reason() -> None:
    usage = charges(("c1", T0 + timedelta(days=1), 1000), ("c1-copy", T0 + timedelta(days=2), 1000))
    run = assure(usage=usage, offers=OFFERS, events=parse_consent_lines(subscribed("first", T0)).events,
                 now=datetime(2026, 4, 2, tzinfo=UTC))
    [dup] = [f for f in run.findings if f.kind is FindingKind.DUPLICATE_CHARGE]
    assert "billed_under_subscription" not in dup.evidence and "reason" not in dup.evidence
    assert refund_reason(dup) == "charged twice for the same period"


BASE = datetime(2026, 1, 20, tzinfo=UTC)
HOURS = st.integers(min_value=0, max_value=24 * 100)
# subscriptions of one number to the monthly offer: (start, hours until cancelled or None), each confirmed
SUBSCRIPTIONS = st.lists(st.tuples(HOURS, st.none() | st.integers(min_value=1, max_value=24 * 40)), min_size=1, max_size=6)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SUBSCRIPTIONS, st.lists(HOURS, max_size=8), st.sampled_from(["Asia/Shanghai", "America/New_York", "UTC"]))
def test_a_monthly_offer_is_billed_once_in_every_month_it_is_covered_whatever_the_subscriptions(
    spans: list[tuple[int, int | None]], hours: list[int], tz: str
) -> None:
    lines: list[str] = []
    for n, (start, length) in enumerate(spans):
        lines += subscribed(f"s{n}", BASE + timedelta(hours=start))
        if length is not None:
            lines.append(ev("cancelled", f"s{n}", BASE + timedelta(hours=start + length)))
    subs = subs_of(lines)
    # a charge every 12 hours (so that every stretch covered is charged), and some more anywhere
    at = [*range(0, 24 * 100, 12), *hours]
    g = gate_vas(charges(*((f"r{i}", BASE + timedelta(hours=h), 1000) for i, h in enumerate(at))), subs, OFFERS, tz=tz)
    for (period,), month in g.group_by("period"):
        covered = month.filter(pl.col("verdict").is_in(["consented", "duplicate_charge"]))
        assert month["billable"].sum() == (1 if covered.height else 0), (period, month)
    # rating's recovered counters key a billed charge by its subscription's coverage: the gate's key
    cover = dict(subscription_coverage(subs).iter_rows())
    for r in g.filter("billable").iter_rows(named=True):
        assert r["charge_key"] == f"{cover[r['subscription_id']]}|{r['period']}"
