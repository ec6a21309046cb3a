"""The consent gate and an owner change (过户: the register's ``holder_since``, the line moved to another customer
with its activation kept).

A subscription the previous customer ordered and confirmed consents no charge made at or after ``holder_since``:
the charge is refused ``previous_holder`` (the new customer never confirmed anything), and charge assurance reports
it as an unconsented charge. What was charged before the change stays consented (the previous customer's: the bill
run holds it ``before_holding``). The new customer's own subscription, ordered after the change, is charged, even
in the month the previous customer's was charged for the same offer: it is a coverage of its own, not a duplicate.
Counters recovered from rated lines (online rating carrying on from a batch run) key it as the gate does.

Before: the gate read no ``holder_since``, so the previous customer's subscription went on charging the new
customer's bill."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl

from fairtel.assurance import AssurancePolicy, FindingKind, assure
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.consent import (
    Offer,
    OfferPeriod,
    Verdict,
    gate_vas,
    line_states,
    parse_consent_lines,
    project_subscriptions,
    subscription_coverage,
)
from fairtel.rating import consent_gate, state_from_rated
from fairtel.rating._explain import VERDICT_WORDS

A, B = "8613800138001", "8613800138002"
CHANGE = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)  # 10 March 00:00 in Shanghai
OFFERS = {
    "vas-music-10": Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
    "vas-video-15": Offer("vas-video-15", "sp-vid", Decimal("15.00"), "CNY", OfferPeriod.MONTHLY),
}


def ev(event: str, sub: str, at: datetime, msisdn: str, offer: str) -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer,
                       "at": at.isoformat(), "channel": "sms"})


def subscribed(sub: str, at: datetime, msisdn: str, offer: str) -> list[str]:
    return [ev("ordered", sub, at, msisdn, offer), ev("confirmed", sub, at + timedelta(minutes=2), msisdn, offer)]


FEB = datetime(2026, 2, 1, 2, tzinfo=UTC)
LEDGER = [
    *subscribed("old-music", FEB, A, "vas-music-10"),  # the previous customer's
    *subscribed("old-video", FEB, A, "vas-video-15"),  # the previous customer's
    *subscribed("new-video", CHANGE + timedelta(days=2), A, "vas-video-15"),  # the new customer's own
    *subscribed("b-music", FEB, B, "vas-music-10"),  # the control: a line that never changed owner
]


def subscriptions() -> pl.DataFrame:
    batch = parse_consent_lines(LEDGER)
    assert batch.problems == []
    return project_subscriptions(batch.events)


def register(holder_since: datetime | None = CHANGE) -> pl.DataFrame:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    return pl.DataFrame({"msisdn": [A, B], "status": ["active", "active"], "activated_at": [at, at],
                         "holder_since": [holder_since, None]},
                        schema={"msisdn": pl.String(), "status": pl.String(), "activated_at": pl.Datetime("us", "UTC"),
                                "holder_since": pl.Datetime("us", "UTC")})


def charges() -> pl.DataFrame:
    rows = [
        ("video-mar1", A, "vas-video-15", datetime(2026, 3, 1, 2, tzinfo=UTC), 1500),  # before the change
        ("music-mar11", A, "vas-music-10", CHANGE + timedelta(days=1), 1000),  # after: the previous customer's order
        ("video-mar13", A, "vas-video-15", CHANGE + timedelta(days=3), 1500),  # after: the new customer's order
        ("b-mar11", B, "vas-music-10", CHANGE + timedelta(days=1), 1000),
    ]
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "source": ["spgw-01"] * len(rows), "msisdn": [r[1] for r in rows],
         "kind": ["vas"] * len(rows), "offer_id": [r[2] for r in rows], "started_at": [r[3] for r in rows],
         "amount_minor": [r[4] for r in rows], "currency": ["CNY"] * len(rows)},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")})


def verdicts(gated: pl.DataFrame) -> dict[str, str]:
    return dict(zip(gated["record_id"].to_list(), gated["verdict"].to_list(), strict=True))


def test_the_previous_customer_s_subscription_consents_nothing_after_the_change() -> None:
    gated = gate_vas(charges(), subscriptions(), OFFERS, lines=register())
    assert verdicts(gated) == {
        "video-mar1": Verdict.CONSENTED.value,  # the previous customer's, before the change
        "music-mar11": Verdict.PREVIOUS_HOLDER.value,
        "video-mar13": Verdict.CONSENTED.value,  # the new customer's own: not a duplicate of the 1st's
        "b-mar11": Verdict.CONSENTED.value,
    }
    row = gated.filter(pl.col("record_id") == "music-mar11").row(0, named=True)
    assert row["billable"] is False and row["subscription_id"] == "old-music"
    assert gated.filter(pl.col("record_id") == "video-mar13")["subscription_id"].item() == "new-video"


def test_without_an_owner_change_the_same_ledger_is_consented() -> None:
    gated = gate_vas(charges(), subscriptions(), OFFERS, lines=register(None))
    assert verdicts(gated)["music-mar11"] == Verdict.CONSENTED.value
    # one coverage of the number and offer: the second order's March charge is a duplicate of the 1st's
    assert verdicts(gated)["video-mar13"] == Verdict.DUPLICATE_CHARGE.value


def test_an_order_of_the_previous_customer_confirmed_after_the_change_is_still_theirs() -> None:
    ledger = [ev("ordered", "late", CHANGE - timedelta(hours=1), A, "vas-music-10"),
              ev("confirmed", "late", CHANGE + timedelta(hours=1), A, "vas-music-10")]
    subs = project_subscriptions(parse_consent_lines(ledger).events)
    gated = gate_vas(charges().filter(pl.col("record_id") == "music-mar11"), subs, OFFERS, lines=register())
    assert verdicts(gated) == {"music-mar11": Verdict.PREVIOUS_HOLDER.value}


def test_rating_s_gate_keeps_the_line_and_keys_counters_as_it_does() -> None:
    subs = subscriptions()
    kept = line_states(register(), subscriptions=subs)
    assert kept["msisdn"].to_list() == [A] and kept["holder_since"].to_list() == [CHANGE]
    catalog = load_catalog(default_catalog_path())
    gate = consent_gate(subs, catalog, lines=register())
    assert verdicts(gate(charges()))["music-mar11"] == Verdict.PREVIOUS_HOLDER.value
    # the new customer's subscription is a coverage of its own, from the register or the gate's subscriptions
    for coverage in (subscription_coverage(subs, lines=register()), subscription_coverage(gate.subscriptions)):  # type: ignore[attr-defined]
        of = dict(zip(coverage["subscription_id"].to_list(), coverage["coverage_id"].to_list(), strict=True))
        assert of["new-video"] == "new-video" and of["old-video"] == "old-video"
    assert dict(zip(*subscription_coverage(subs).select("subscription_id", "coverage_id")
                    .get_columns(), strict=True))["new-video"] == "old-video"  # one coverage without the register
    # a charge the new customer was billed, recovered from rated lines, uses the gate's key
    rated = pl.DataFrame({
        "msisdn": [A, A], "verdict": ["consented", "consented"], "amount_minor": [1500, 1500],
        "subscription_id": ["old-video", "new-video"], "rule_id": ["offer/vas-video-15", "offer/vas-video-15"],
        "period": ["2026-03", "2026-03"], "started_at": [datetime(2026, 3, 1, 2, tzinfo=UTC), CHANGE + timedelta(days=3)],
        "allowance_id": [None, None], "allowance_used": [0, 0]},
        schema_overrides={"allowance_id": pl.String(), "allowance_used": pl.Int64()})
    counters = state_from_rated(rated, catalog, gate.subscriptions)  # type: ignore[attr-defined]
    assert set(counters["counter"].to_list()) == {"vas:old-video|2026-03", "vas:new-video|2026-03"}


def test_assurance_reports_the_charge_as_unconsented_with_words() -> None:
    run = assure(usage=charges(), offers=OFFERS, subscriptions=subscriptions(), lines=register(),
                 now=datetime(2026, 4, 2, tzinfo=UTC), policy=AssurancePolicy(tz="Asia/Shanghai"))
    found = [(f.kind, f.evidence["verdict"], tuple(f.record_ids)) for f in run.findings]
    assert found == [(FindingKind.UNCONSENTED_CHARGE, Verdict.PREVIOUS_HOLDER.value, ("music-mar11",))]
    zh, en = VERDICT_WORDS[Verdict.PREVIOUS_HOLDER.value]
    assert "过户" in zh and "owner change" in en
