"""Value-added charges: the offer's price, only when the consent gate says billable; never without a gate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.consent import parse_consent_lines, project_subscriptions
from fairtel.core.errors import InvalidInputError
from fairtel.rating import NO_GATE, consent_gate, rate

CN = timezone(timedelta(hours=8))
A = "8613800000001"
CATALOG = load_catalog(default_catalog_path())


def vas(rid: str, offer: str, day: int, amount: int, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "sp", "msisdn": A, "kind": "vas", "offer_id": offer,
            "started_at": datetime(2026, 3, day, 9, tzinfo=CN).astimezone(UTC), "amount_minor": amount,
            "currency": "CNY"} | kw


def ev(event: str, sub: str, at: datetime, offer: str) -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": A, "offer_id": offer,
                       "at": at.isoformat(), "channel": "sms"})


def test_without_a_gate_nothing_is_billable() -> None:
    res = rate(pl.DataFrame([vas("v1", "vas-music-10", 3, 1000)]), CATALOG, {A: "basic-39"}, period="2026-03")
    row = res.rated.row(0, named=True)
    assert row["amount_minor"] == 0 and row["verdict"] == NO_GATE and row["charged_quantity"] == 0
    assert row["rule_id"] == "offer/vas-music-10"


def test_consent_gate_bills_only_confirmed_subscriptions() -> None:
    t = datetime(2026, 3, 1, 10, tzinfo=CN)
    events = [ev("ordered", "s1", t, "vas-music-10"), ev("confirmed", "s1", t + timedelta(minutes=5), "vas-music-10"),
              ev("ordered", "s2", t, "vas-horoscope-6")]  # never confirmed
    subs = project_subscriptions(parse_consent_lines(events).events)
    rows = [vas("music", "vas-music-10", 3, 1000), vas("music-again", "vas-music-10", 20, 1000),
            vas("horoscope", "vas-horoscope-6", 3, 600), vas("nobody", "vas-news-5", 3, 500)]
    res = rate(pl.DataFrame(rows), CATALOG, {A: "basic-39"}, period="2026-03", gate=consent_gate(subs, CATALOG))
    got = {r["record_id"]: (r["verdict"], r["amount_minor"], r["subscription_id"]) for r in res.rated.to_dicts()}
    assert got == {
        "music": ("consented", 1000, "s1"),
        "music-again": ("duplicate_charge", 0, "s1"),  # a monthly offer is billed once a period
        "horoscope": ("not_confirmed", 0, "s2"),
        "nobody": ("no_subscription", 0, None),
    }


def test_included_offer_costs_nothing() -> None:
    text = default_catalog_path().read_text(encoding="utf-8").replace(
        'id = "basic-39"\nname = { zh = "基础套餐 39 元", en = "Basic 39" }\nmonthly_fee = "39.00"',
        'id = "basic-39"\nname = { zh = "基础套餐 39 元", en = "Basic 39" }\nmonthly_fee = "39.00"\n'
        'included_offers = ["vas-cloud-8"]')
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems

    def approve(frame: pl.DataFrame) -> pl.DataFrame:
        return pl.DataFrame({"billable": [True] * frame.height, "verdict": ["consented"] * frame.height,
                             "subscription_id": ["s"] * frame.height})

    res = rate(pl.DataFrame([vas("c", "vas-cloud-8", 3, 800), vas("m", "vas-music-10", 3, 1000)]), catalog,
               {A: "basic-39"}, period="2026-03", gate=approve)
    got = {r["record_id"]: (r["rule_id"], r["amount_minor"]) for r in res.rated.to_dicts()}
    assert got == {"c": ("included/vas-cloud-8", 0), "m": ("offer/vas-music-10", 1000)}


def test_a_gate_must_answer_every_record() -> None:
    def broken(frame: pl.DataFrame) -> pl.DataFrame:
        return pl.DataFrame({"billable": [True], "verdict": ["consented"], "subscription_id": [None]})

    rows = [vas("a", "vas-music-10", 3, 1000), vas("b", "vas-news-5", 3, 500)]
    with pytest.raises(InvalidInputError, match="VAS gate"):
        rate(pl.DataFrame(rows), CATALOG, {A: "basic-39"}, period="2026-03", gate=broken)


def test_a_charge_billed_in_an_earlier_call_is_a_duplicate_in_the_next() -> None:
    """Online rating rates file after file: a monthly charge billed from one file, sent again in a later file
    (another record id), must not be billed twice; nor an identical per-use charge. The counters carry what was
    billed, and a batch run's lines give the same counters."""
    from fairtel.rating import state_from_rated

    t = datetime(2026, 3, 1, 10, tzinfo=CN)
    events = [ev("ordered", "s1", t, "vas-music-10"), ev("confirmed", "s1", t + timedelta(minutes=5), "vas-music-10")]
    gate = consent_gate(project_subscriptions(parse_consent_lines(events).events), CATALOG)
    first = rate(pl.DataFrame([vas("music", "vas-music-10", 20, 1000)]), CATALOG, {A: "basic-39"},
                 period="2026-03", gate=gate)
    assert first.rated.select("verdict", "amount_minor").row(0) == ("consented", 1000)
    assert first.closing_state.filter(pl.col("counter").str.starts_with("vas:"))["counter"].to_list() == ["vas:s1|2026-03"]
    assert_state = state_from_rated(first.rated, CATALOG)
    assert assert_state.filter(pl.col("counter").str.starts_with("vas:")).rows() == [(A, "vas:s1|2026-03", 1)]
    # the next file: the same month's charge again (earlier in time, arrived later), and a voice call
    later = pl.DataFrame([vas("music-again", "vas-music-10", 3, 1000)])
    second = rate(later, CATALOG, {A: "basic-39"}, period="2026-03", gate=gate, opening_state=first.closing_state)
    assert second.rated.select("verdict", "amount_minor").row(0) == ("duplicate_charge", 0)
    assert second.closing_state.equals(first.closing_state)  # nothing new billed, the counter kept
    from_batch = rate(later, CATALOG, {A: "basic-39"}, period="2026-03", gate=gate, opening_state=assert_state)
    assert from_batch.rated.equals(second.rated)
    # one call over both, the earlier-arrived file first: the same verdicts as the two calls
    both = rate(pl.concat([pl.DataFrame([vas("music", "vas-music-10", 20, 1000)]), later]).with_columns(
        pl.Series("_file", [0, 1])), CATALOG, {A: "basic-39"}, period="2026-03", gate=gate, arrival="_file")
    got = {r["record_id"]: (r["verdict"], r["amount_minor"]) for r in both.rated.to_dicts()}
    assert got == {"music": ("consented", 1000), "music-again": ("duplicate_charge", 0)}


RINGTONE_RISE = default_catalog_path().read_text(encoding="utf-8").replace(
    'period = "per_use"\ncategory = "ringtone"\n',
    'period = "per_use"\ncategory = "ringtone"\n'
    '[[offers.price_changes]]\nfrom = "2026-03-15T00:00:00+08:00"\nprice = "3.00"\n')


def test_a_charge_is_priced_at_the_offer_price_in_force_when_it_was_made() -> None:
    """The catalog dates each later price of an offer: a charge is billed at the price in force at its time,
    and a charge claiming the old price after the change is refused, not billed at either price."""
    catalog, problems = parse_catalog(RINGTONE_RISE)
    assert catalog is not None, problems
    offer = next(o for o in catalog.offers if o.id == "vas-ringtone-2")
    assert [str(p) for _, p in offer.versions()] == ["2.00", "3.00"]
    assert offer.price_at(datetime(2026, 3, 14, 23, 59, tzinfo=CN)) == Decimal("2.00")
    assert offer.price_at(datetime(2026, 3, 15, 0, 0, tzinfo=CN)) == Decimal("3.00")
    # every gate over the catalog (rating's, and charge assurance's re-check) sees each dated price
    from fairtel.consent import offer_book

    book = offer_book(catalog.offers, currency="CNY")["vas-ringtone-2"]
    assert [(o.valid_from, str(o.price)) for o in book] == [(None, "2.00"), (datetime(2026, 3, 15, tzinfo=CN), "3.00")]
    b = "8613800000002"
    t = datetime(2026, 3, 1, 10, tzinfo=CN)
    events = [ev("ordered", "s1", t, "vas-ringtone-2"), ev("confirmed", "s1", t + timedelta(minutes=5), "vas-ringtone-2")]
    later = datetime(2026, 3, 16, 10, tzinfo=CN)
    events += [json.dumps({"event": e, "subscription_id": "s2", "msisdn": b, "offer_id": "vas-ringtone-2",
                           "at": (later + timedelta(minutes=m)).isoformat(), "channel": "sms"})
               for e, m in (("ordered", 0), ("confirmed", 5))]
    gate = consent_gate(project_subscriptions(parse_consent_lines(events).events), catalog)
    rows = [vas("before", "vas-ringtone-2", 3, 200), vas("old-price-after", "vas-ringtone-2", 20, 200),
            vas("b-after", "vas-ringtone-2", 20, 300, msisdn=b)]
    res = rate(pl.DataFrame(rows), catalog, {A: "basic-39", b: "basic-39"}, period="2026-03", gate=gate)
    got = {r["record_id"]: (r["verdict"], r["amount_minor"]) for r in res.rated.to_dicts()}
    assert got == {"before": ("consented", 200), "old-price-after": ("price_mismatch", 0), "b-after": ("consented", 300)}


@pytest.mark.parametrize(("changes", "message"), [
    ('[[offers.price_changes]]\nfrom = "2026-04-01T00:00:00+08:00"\nprice = "3.00"\n'
     '[[offers.price_changes]]\nfrom = "2026-03-01T00:00:00+08:00"\nprice = "4.00"', "is not after the previous change"),
    ('[[offers.price_changes]]\nfrom = "2026-04-01"\nprice = "3.00"', "needs an offset"),
    ('[[offers.price_changes]]\nfrom = "2026-04-01T00:00:00+08:00"\nprice = "3.005"', "more decimals"),
    ('[[offers.price_changes]]\nprice = "3.00"', "from"),
])
def test_price_changes_are_checked(changes: str, message: str) -> None:
    text = default_catalog_path().read_text(encoding="utf-8").replace(
        'period = "per_use"\ncategory = "ringtone"\n', 'period = "per_use"\ncategory = "ringtone"\n' + changes + "\n")
    catalog, problems = parse_catalog(text)
    assert catalog is None
    assert any(message in p.message and "price_changes" in (p.field or "") for p in problems), problems
