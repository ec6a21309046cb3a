"""A value-added charge on a line that was closed, or suspended, when charged is not billable, whatever the
consent ledger says; rating refuses it and charge assurance raises a finding for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from fairtel.assurance import FindingKind, assure
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.consent import (
    Offer,
    OfferPeriod,
    Verdict,
    gate_vas,
    line_states,
    parse_consent_lines,
    project_subscriptions,
)
from fairtel.core.errors import InvalidInputError
from fairtel.rating import consent_gate, rate

M1, M2 = "8613800138000", "8613900139000"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CLOSED_AT = T0 + timedelta(days=10)
OFFERS = {
    "vas-music-10": Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
    "vas-ringtone-2": Offer("vas-ringtone-2", "sp-melody", Decimal("2.00"), "CNY", OfferPeriod.PER_USE),
}


def ev(event: str, sub: str, at: datetime, *, msisdn: str = M1, offer: str = "vas-music-10") -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer,
                       "at": at.isoformat(), "channel": "sms"})


def subscribed(sub: str, *, msisdn: str = M1, offer: str = "vas-music-10") -> list[str]:
    return [ev("ordered", sub, T0, msisdn=msisdn, offer=offer),
            ev("confirmed", sub, T0 + timedelta(minutes=2), msisdn=msisdn, offer=offer)]


def subs_of(lines: list[str]) -> pl.DataFrame:
    batch = parse_consent_lines(lines)
    assert batch.problems == []
    return project_subscriptions(batch.events)


def charges(*rows: tuple[str, str, str, datetime, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "source": ["spgw-01"] * len(rows), "msisdn": [r[1] for r in rows],
         "kind": ["vas"] * len(rows), "offer_id": [r[2] for r in rows], "started_at": [r[3] for r in rows],
         "amount_minor": [r[4] for r in rows], "currency": ["CNY"] * len(rows)},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def register(*rows: tuple[str, str, datetime | None]) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [r[0] for r in rows], "status": [r[1] for r in rows], "closed_at": [r[2] for r in rows]},
                        schema={"msisdn": pl.String(), "status": pl.String(), "closed_at": pl.Datetime("us", "UTC")})


def verdicts(gated: pl.DataFrame) -> dict[str, str]:
    return dict(zip(gated["record_id"].to_list(), gated["verdict"].to_list(), strict=True))


def test_a_charge_after_the_line_closed_is_refused_one_before_is_billed() -> None:
    subs = subs_of([*subscribed("s1", offer="vas-ringtone-2")])
    c = charges(("before", M1, "vas-ringtone-2", CLOSED_AT - timedelta(seconds=1), 200),
                ("at-close", M1, "vas-ringtone-2", CLOSED_AT, 200),
                ("after", M1, "vas-ringtone-2", CLOSED_AT + timedelta(days=3), 200))
    g = gate_vas(c, subs, OFFERS, lines=register((M1, "closed", CLOSED_AT)))
    assert verdicts(g) == {"before": "consented", "at-close": "line_closed", "after": "line_closed"}
    assert g["billable"].to_list() == [True, False, False]
    assert g["subscription_id"].to_list() == ["s1"] * 3  # the subscription the charge claimed is still named
    # the same charges without the register: nothing says the line closed
    assert verdicts(gate_vas(c, subs, OFFERS))["after"] == "consented"


def test_a_refused_charge_on_a_closed_line_does_not_use_up_the_month() -> None:
    # the month's charge made after the closure is refused; it must not make the earlier one a duplicate either
    subs = subs_of(subscribed("s1"))
    c = charges(("late", M1, "vas-music-10", CLOSED_AT + timedelta(days=1), 1000),
                ("early", M1, "vas-music-10", T0 + timedelta(days=1), 1000))
    g = gate_vas(c, subs, OFFERS, lines=register((M1, "closed", CLOSED_AT)))
    assert verdicts(g) == {"late": "line_closed", "early": "consented"}


def test_a_closed_line_that_does_not_say_when_is_charged_nothing() -> None:
    subs = subs_of(subscribed("s1"))
    g = gate_vas(charges(("x", M1, "vas-music-10", T0 + timedelta(days=1), 1000)), subs, OFFERS,
                 lines=register((M1, "closed", None)))
    assert (g["verdict"][0], g["billable"][0]) == (Verdict.LINE_CLOSED.value, False)


def test_a_suspended_line_refuses_charges_from_when_the_register_says_it_was_suspended() -> None:
    subs = subs_of([*subscribed("s1", offer="vas-ringtone-2"), *subscribed("s2", msisdn=M2, offer="vas-ringtone-2")])
    suspended_at = T0 + timedelta(days=5)
    lines = pl.DataFrame({"msisdn": [M1, M2], "status": ["suspended", "suspended"], "suspended_at": [suspended_at, None]},
                         schema={"msisdn": pl.String(), "status": pl.String(), "suspended_at": pl.Datetime("us", "UTC")})
    c = charges(("m1-before", M1, "vas-ringtone-2", suspended_at - timedelta(hours=1), 200),
                ("m1-during", M1, "vas-ringtone-2", suspended_at + timedelta(hours=1), 200),
                ("m2-unknown", M2, "vas-ringtone-2", suspended_at + timedelta(hours=1), 200))
    g = gate_vas(c, subs, OFFERS, lines=lines)
    # M2's register says it is suspended but not since when: suspended for all time (the safe side for the subscriber)
    assert verdicts(g) == {"m1-before": "consented", "m1-during": "line_suspended", "m2-unknown": "line_suspended"}


def test_active_and_unlisted_lines_are_not_restricted_and_consent_verdicts_come_first() -> None:
    subs = subs_of(subscribed("s1"))
    c = charges(("m1", M1, "vas-music-10", T0 + timedelta(days=1), 1000),
                ("m2", M2, "vas-music-10", CLOSED_AT + timedelta(days=1), 1000))
    g = gate_vas(c, subs, OFFERS, lines=register((M1, "active", None), (M2, "closed", CLOSED_AT)))
    # M2 never subscribed: the charge is unconsented first of all
    assert verdicts(g) == {"m1": "consented", "m2": "no_subscription"}
    assert line_states(register((M1, "active", None), (M2, "closed", CLOSED_AT)))["msisdn"].to_list() == [M2]


def test_a_bad_register_is_reported_field_by_field() -> None:
    with pytest.raises(InvalidInputError) as exc:
        line_states(register((M1, "gone", None), (M2, "closed", None), (M2, "closed", None)))
    assert {(p.file, p.field) for p in exc.value.problems} == {("lines", "status"), ("lines", "msisdn")}
    with pytest.raises(InvalidInputError) as exc:
        line_states(pl.DataFrame({"msisdn": [M1]}))
    assert [p.field for p in exc.value.problems] == ["status"]


def test_rating_with_the_register_bills_nothing_after_the_line_closed() -> None:
    catalog = load_catalog(default_catalog_path())
    subs = subs_of(subscribed("s1", offer="vas-music-10"))
    usage = charges(("after", M1, "vas-music-10", CLOSED_AT + timedelta(days=1), 1000))
    gate = consent_gate(subs, catalog, lines=register((M1, "closed", CLOSED_AT)))
    row = rate(usage, catalog, {M1: "basic-39"}, period="2026-03", gate=gate).rated.row(0, named=True)
    assert (row["verdict"], row["amount_minor"], row["charged_quantity"]) == ("line_closed", 0, 0)
    open_gate = consent_gate(subs, catalog)
    row = rate(usage, catalog, {M1: "basic-39"}, period="2026-03", gate=open_gate).rated.row(0, named=True)
    assert (row["verdict"], row["amount_minor"]) == ("consented", 1000)


def test_assurance_raises_a_finding_for_a_charge_on_a_closed_line() -> None:
    events = parse_consent_lines(subscribed("s1")).events
    usage = charges(("after", M1, "vas-music-10", CLOSED_AT + timedelta(days=1), 1000))
    run = assure(usage=usage, offers=OFFERS, events=events, lines=register((M1, "closed", CLOSED_AT)),
                 now=datetime(2026, 4, 1, tzinfo=UTC))
    found = [f for f in run.findings if f.kind is FindingKind.CHARGE_AFTER_CANCELLATION]
    assert len(found) == 1
    assert found[0].record_ids == ("after",)
    assert found[0].evidence["verdict"] == "line_closed"
    assert found[0].amount == Decimal("10.00")
    assert run.gated["billable"].to_list() == [False]


def test_consent_given_before_the_number_passed_to_a_new_holder_covers_nothing() -> None:
    # s-old was confirmed by the number's previous holder; the line was activated anew (a recycled number)
    activated = T0 + timedelta(days=20)
    ledger = [*subscribed("s-old"),
              ev("ordered", "s-new", activated + timedelta(days=2), offer="vas-ringtone-2"),
              ev("confirmed", "s-new", activated + timedelta(days=2, minutes=1), offer="vas-ringtone-2")]
    subs = subs_of(ledger)
    lines = pl.DataFrame({"msisdn": [M1], "status": ["active"], "activated_at": [activated]},
                         schema={"msisdn": pl.String(), "status": pl.String(), "activated_at": pl.Datetime("us", "UTC")})
    c = charges(("old-holder", M1, "vas-music-10", activated + timedelta(days=1), 1000),
                ("new-holder", M1, "vas-ringtone-2", activated + timedelta(days=3), 200))
    g = gate_vas(c, subs, OFFERS, lines=lines)
    assert verdicts(g) == {"old-holder": "before_activation", "new-holder": "consented"}
    assert verdicts(gate_vas(c, subs, OFFERS))["old-holder"] == "consented"  # what it was without the register
    # the gate rating builds keeps that line (and only lines that restrict something)
    calm = (M2, "active", T0 - timedelta(days=400))
    kept = line_states(pl.DataFrame({"msisdn": [M1, calm[0]], "status": ["active", calm[1]], "activated_at": [activated, calm[2]]},
                                    schema={"msisdn": pl.String(), "status": pl.String(), "activated_at": pl.Datetime("us", "UTC")}),
                       subscriptions=subs)
    assert kept["msisdn"].to_list() == [M1]
    run = assure(usage=c, offers=OFFERS, events=parse_consent_lines(ledger).events, lines=lines,
                 now=datetime(2026, 4, 1, tzinfo=UTC))
    assert [(f.kind, f.record_ids) for f in run.findings if f.kind is FindingKind.UNCONSENTED_CHARGE] == [
        (FindingKind.UNCONSENTED_CHARGE, ("old-holder",))]


def test_register_instants_naive_or_aware_read_alike_and_text_is_refused() -> None:
    naive = register((M1, "closed", CLOSED_AT)).with_columns(pl.col("closed_at").dt.replace_time_zone(None))
    assert line_states(naive)["closed_at"].to_list() == [CLOSED_AT]
    with pytest.raises(InvalidInputError) as exc:
        line_states(pl.DataFrame({"msisdn": [M1], "status": ["closed"], "closed_at": ["2026-03-12"]}))
    assert [(p.file, p.field) for p in exc.value.problems] == [("lines", "closed_at")]


def test_the_refund_of_a_charge_on_a_closed_line_says_the_line_was_closed() -> None:
    """Not "after the subscription ended": the subscriber never cancelled; their line was closed."""
    from fairtel.assurance import refund, refund_messages

    events = parse_consent_lines(subscribed("s1")).events
    usage = charges(("after", M1, "vas-music-10", CLOSED_AT + timedelta(days=1), 1000))
    now = datetime(2026, 4, 1, tzinfo=UTC)
    run = assure(usage=usage, offers=OFFERS, events=events, lines=register((M1, "closed", CLOSED_AT)), now=now)
    [finding] = [f for f in run.findings if f.kind is FindingKind.CHARGE_AFTER_CANCELLATION]
    adjustment, _ = refund(finding, by="assure", now=now)
    assert adjustment.reason == "charge after the line was closed"
    [zh] = refund_messages([adjustment], languages={M1: "zh"}, now=now)
    assert "销户后的扣费" in zh.text
