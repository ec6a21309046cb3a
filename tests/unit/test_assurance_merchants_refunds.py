"""Suspicious providers, suspension honoured by the gate, refunds and dismissals, notifications."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from fairtel.assurance import (
    EU_DATA_ROAMING,
    FileOutbox,
    Finding,
    FindingKind,
    FindingStatus,
    MerchantPolicy,
    RefundPolicy,
    ResolutionError,
    assure,
    bill_shock_findings,
    bill_shock_messages,
    decide_refunds,
    dismiss,
    finding_id,
    rank_merchants,
    refund,
    refund_messages,
    suspension_list,
)
from fairtel.consent import Offer, OfferPeriod, offers_frame, parse_consent_lines, project_subscriptions

NOW = datetime(2026, 4, 2, tzinfo=UTC)
DAY = datetime(2026, 3, 1, tzinfo=UTC)  # 08:00 in Shanghai
OFFERS = {
    "vas-music-10": Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
    "vas-news-5": Offer("vas-news-5", "sp-dailynews", Decimal("5.00"), "CNY", OfferPeriod.MONTHLY),
    "vas-horoscope-6": Offer("vas-horoscope-6", "sp-luckystar", Decimal("6.00"), "CNY", OfferPeriod.MONTHLY),
}


def _population() -> pl.DataFrame:
    """40 subscribers per honest provider (daytime, confirm after a minute, few quick cancels) and 40 of a
    fee-stealing one (orders at 02:00 Shanghai, confirmed in a second, half cancelled within hours)."""
    lines = []
    for i in range(40):
        for offer in ("vas-music-10", "vas-news-5"):
            at = DAY + timedelta(days=i % 20, hours=2 + i % 8)
            sub = f"{offer}-{i}"
            msisdn = f"86138{i:08d}"
            lines += [json.dumps({"event": "ordered", "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at.isoformat(), "channel": "app"}),
                      json.dumps({"event": "confirmed", "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": (at + timedelta(seconds=40 + i)).isoformat(), "channel": "sms", "evidence": f"otp-{sub}"})]
        at = DAY + timedelta(days=i % 20) - timedelta(hours=6)  # 02:00 in Shanghai
        sub = f"h-{i}"
        msisdn = f"86139{i:08d}"
        lines += [json.dumps({"event": "ordered", "subscription_id": sub, "msisdn": msisdn, "offer_id": "vas-horoscope-6", "at": at.isoformat(), "channel": "app"}),
                  json.dumps({"event": "confirmed", "subscription_id": sub, "msisdn": msisdn, "offer_id": "vas-horoscope-6", "at": (at + timedelta(seconds=1)).isoformat(), "channel": "sms", "evidence": f"otp-h-{i}"})]
        if i % 2:
            lines.append(json.dumps({"event": "cancelled", "subscription_id": sub, "msisdn": msisdn, "offer_id": "vas-horoscope-6", "at": (at + timedelta(hours=3)).isoformat(), "channel": "sms"}))
    b = parse_consent_lines(lines)
    assert b.problems == []
    return b.events


def test_fee_stealing_provider_ranks_first_with_its_evidence_and_is_suspended_by_the_gate() -> None:
    events = _population()
    subs = project_subscriptions(events)
    ranking = rank_merchants(subs, offers_frame(OFFERS), events=events)
    top = ranking.row(0, named=True)
    assert top["provider_id"] == "sp-luckystar" and top["rank"] == 1
    assert top["machine_speed_share"] == 1.0 and top["night_order_share"] == 1.0 and top["quick_cancel_share"] == 0.5
    honest = ranking.filter(pl.col("provider_id") == "sp-melody").row(0, named=True)
    assert honest["machine_speed_share"] == 0.0 and honest["night_order_share"] == 0.0
    advice = suspension_list(ranking)
    assert advice == {"sp-luckystar"}
    assert suspension_list(ranking, policy=MerchantPolicy(min_subscriptions=100)) == frozenset()
    usage = pl.DataFrame(
        {"record_id": ["h", "m"], "msisdn": ["8613900000002", "8613800000002"], "kind": ["vas", "vas"],
         "offer_id": ["vas-horoscope-6", "vas-music-10"], "started_at": [DAY + timedelta(days=25)] * 2,
         "amount_minor": [600, 1000], "currency": ["CNY", "CNY"]},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )
    run = assure(usage=usage, offers=OFFERS, events=events, suspended=advice, now=NOW)
    assert dict(zip(run.gated["record_id"], run.gated["verdict"], strict=True)) == {"h": "merchant_suspended", "m": "consented"}


def test_complaints_and_unconsented_charges_raise_a_providers_score() -> None:
    events = _population()
    subs = project_subscriptions(events)
    base = rank_merchants(subs, offers_frame(OFFERS), events=events).filter(pl.col("provider_id") == "sp-dailynews")["score"][0]
    complaints = pl.DataFrame({"msisdn": ["x"] * 10, "offer_id": ["vas-news-5"] * 10})
    more = rank_merchants(subs, offers_frame(OFFERS), events=events, complaints=complaints)
    assert more.filter(pl.col("provider_id") == "sp-dailynews")["complaint_rate"][0] == 0.25
    assert more.filter(pl.col("provider_id") == "sp-dailynews")["score"][0] > base


def _finding(kind: FindingKind, amount: str | None = "6.00", msisdn: str = "8613800138000") -> Finding:
    return Finding(finding_id(kind, msisdn, amount), kind, msisdn, ("r1",), "s1", None if amount is None else Decimal(amount), "CNY", NOW)


def test_automatic_refunds_follow_the_policy() -> None:
    unconsented = _finding(FindingKind.UNCONSENTED_CHARGE)
    under = _finding(FindingKind.PRICE_MISMATCH, "-1.00")
    fast = _finding(FindingKind.MACHINE_SPEED_CONFIRMATION)
    d = decide_refunds([unconsented, under, fast], now=NOW)
    assert [(r.finding_id, r.amount, r.currency) for r in d.refunds] == [(unconsented.finding_id, Decimal("6.00"), "CNY")]
    assert [f.finding_id for f in d.pending] == [under.finding_id, fast.finding_id]
    assert d.resolutions[0].status is FindingStatus.RESOLVED and d.resolutions[0].adjustment_id == d.refunds[0].adjustment_id
    assert decide_refunds([unconsented], now=NOW).refunds[0].adjustment_id == d.refunds[0].adjustment_id  # stable
    none_auto = decide_refunds([unconsented], policy=RefundPolicy(automatic=frozenset()), now=NOW)
    assert none_auto.refunds == [] and none_auto.pending == [unconsented]
    not_billed = decide_refunds([unconsented], billed_records={(unconsented.msisdn, "", "other")}, now=NOW)
    assert not_billed.refunds == [] and not_billed.resolutions[0].resolution == "not_billed"


def test_a_charge_is_refunded_once_whatever_the_findings_about_it() -> None:
    """Two runs may classify one charge differently (an earlier cancellation turns up between them): both
    findings name the charge, and their refunds carry one id, so the ledger takes one."""
    first = _finding(FindingKind.UNCONSENTED_CHARGE)
    second = _finding(FindingKind.CHARGE_AFTER_CANCELLATION)
    assert first.finding_id != second.finding_id
    ids = {decide_refunds([f], now=NOW).refunds[0].adjustment_id for f in (first, second)}
    assert len(ids) == 1
    other_charge = Finding(first.finding_id, first.kind, first.msisdn, ("r2",), "s1", first.amount, "CNY", NOW)
    assert decide_refunds([other_charge], now=NOW).refunds[0].adjustment_id not in ids


def test_dismissal_needs_a_reason_and_closed_findings_stay_closed() -> None:
    f = _finding(FindingKind.MACHINE_SPEED_CONFIRMATION)
    with pytest.raises(ResolutionError):
        dismiss(f, reason="  ", by="analyst-7")
    res = dismiss(f, reason="subscriber confirmed by phone", by="analyst-7", now=NOW)
    assert (res.status, res.reason, res.resolved_by) == (FindingStatus.DISMISSED, "subscriber confirmed by phone", "analyst-7")
    closed = Finding(f.finding_id, f.kind, f.msisdn, f.record_ids, f.subscription_id, f.amount, f.currency, NOW, status=FindingStatus.DISMISSED)
    with pytest.raises(ResolutionError):
        refund(closed, by="x")
    with pytest.raises(ResolutionError):
        refund(_finding(FindingKind.UNCONSENTED_CHARGE, None), by="x")


def test_notifications_in_the_subscribers_language_written_once(tmp_path: Path) -> None:
    rated = pl.DataFrame(
        {"record_id": ["a", "b"], "msisdn": ["8613800138000", "8613900139000"], "started_at": [DAY, DAY],
         "amount_minor": [5000, 4000], "currency": ["EUR", "EUR"], "kind": ["data", "data"], "roaming_country": ["FR", "DE"]},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )
    found = bill_shock_findings(rated, EU_DATA_ROAMING, detected_at=NOW)
    msgs = bill_shock_messages(found, languages={"8613900139000": "en"}, now=NOW)
    texts = {(m.msisdn, m.kind): m.text for m in msgs}
    assert "下期账单中退还" in texts[("8613800138000", "cutoff")] and "已暂停" not in texts[("8613800138000", "cutoff")] and "50.00欧元" in texts[("8613800138000", "cutoff")]
    assert "80% of your 50.00 EUR limit" in texts[("8613900139000", "bill_shock")]
    assert ("8613800138000", "bill_shock") not in texts  # one alert per crossing: the highest (the cut-off)
    refunds = decide_refunds([_finding(FindingKind.UNCONSENTED_CHARGE)], now=NOW).refunds
    (r,) = refund_messages(refunds, languages={}, now=NOW)
    assert "退还6.00元" in r.text and "未经您确认订购" in r.text
    outbox = FileOutbox(tmp_path / "outbox")
    assert outbox.send([*msgs, r]) == len(msgs) + 1
    assert outbox.send([*msgs, r]) == 0
    written = [json.loads(line) for line in (tmp_path / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {w["message_id"] for w in written} == {m.message_id for m in [*msgs, r]}
