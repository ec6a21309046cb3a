"""A suspended line whose register row does not say since when (suspended before the register kept the instant)
is suspended for all time in the VAS consent gate, as rating holds all its usage (``rating.suspensions``): the
safe side for the subscriber. Before, the gate let such a charge through as ``consented``, so charge assurance
(which calls the gate itself) raised no finding for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl

from fairtel.assurance import FindingKind, assure
from fairtel.consent import Offer, OfferPeriod, Verdict, gate_vas, parse_consent_lines, project_subscriptions
from fairtel.rating._vas import drop_held, suspensions

M1, M2 = "8613800138000", "8613900139000"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
OFFERS = {"vas-ringtone-2": Offer("vas-ringtone-2", "sp-melody", Decimal("2.00"), "CNY", OfferPeriod.PER_USE)}


def ledger(*msisdns: str) -> list[str]:
    return [
        json.dumps({"event": e, "subscription_id": f"s-{m}", "msisdn": m, "offer_id": "vas-ringtone-2",
                    "at": (T0 + timedelta(minutes=i)).isoformat(), "channel": "sms"})
        for m in msisdns for i, e in enumerate(("ordered", "confirmed"))
    ]


def charges(*rows: tuple[str, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "source": ["spgw-01"] * len(rows), "msisdn": [r[1] for r in rows],
         "kind": ["vas"] * len(rows), "offer_id": ["vas-ringtone-2"] * len(rows), "started_at": [r[2] for r in rows],
         "amount_minor": [200] * len(rows), "currency": ["CNY"] * len(rows)},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def register(*rows: tuple[str, str, datetime | None]) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [r[0] for r in rows], "status": [r[1] for r in rows], "suspended_at": [r[2] for r in rows]},
                        schema={"msisdn": pl.String(), "status": pl.String(), "suspended_at": pl.Datetime("us", "UTC")})


LINES = register((M1, "suspended", None), (M2, "active", None))
USAGE = charges(("m1-early", M1, T0 + timedelta(hours=1)), ("m1-late", M1, T0 + timedelta(days=20)),
                ("m2", M2, T0 + timedelta(days=20)))


def test_a_suspension_of_unknown_date_refuses_every_charge_of_the_line() -> None:
    batch = parse_consent_lines(ledger(M1, M2))
    assert batch.problems == []
    g = gate_vas(USAGE, project_subscriptions(batch.events), OFFERS, lines=LINES)
    verdicts = dict(zip(g["record_id"].to_list(), g["verdict"].to_list(), strict=True))
    assert verdicts == {"m1-early": Verdict.LINE_SUSPENDED.value, "m1-late": Verdict.LINE_SUSPENDED.value,
                        "m2": Verdict.CONSENTED.value}
    assert g["billable"].to_list() == [False, False, True]
    assert g["subscription_id"].to_list() == [f"s-{M1}", f"s-{M1}", f"s-{M2}"]  # the claimed subscription still named


def test_the_gate_refuses_exactly_what_rating_holds() -> None:
    held = suspensions(LINES, checked=False)
    assert held is not None and held["msisdn"].to_list() == [M1]  # rating: M1 held from the beginning of time
    g = gate_vas(USAGE, project_subscriptions(parse_consent_lines(ledger(M1, M2)).events), OFFERS, lines=LINES)
    billable = g.filter(pl.col("billable"))["record_id"].to_list()
    assert billable == drop_held(USAGE, LINES)["record_id"].to_list() == ["m2"]


def test_assurance_raises_a_finding_for_a_charge_on_a_line_suspended_since_an_unknown_date() -> None:
    events = parse_consent_lines(ledger(M1, M2)).events
    run = assure(usage=USAGE, offers=OFFERS, events=events, lines=LINES, now=datetime(2026, 4, 1, tzinfo=UTC))
    found = [f for f in run.findings if f.kind is FindingKind.CHARGE_AFTER_CANCELLATION]
    assert sorted(r for f in found for r in f.record_ids) == ["m1-early", "m1-late"]
    assert {f.evidence["verdict"] for f in found} == {"line_suspended"}
    assert sum((f.amount for f in found), Decimal(0)) == Decimal("4.00")
    assert run.gated["billable"].to_list() == [False, False, True]
