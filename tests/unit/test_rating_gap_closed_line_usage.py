"""Usage of a line made after its ``closed_at`` (a switch error, or a recycled number used by someone else) or before
its ``activated_at`` (the number's previous holder) is rated and held, never billed: its lines' ``verdict`` is
``line_closed`` or ``before_activation``, the bill run leaves it off the bill (``BillRun.held``), and the bill run
holds it too when the rating did not (lines rated before the register knew). Before, only suspended lines were held:
every voice, SMS and data record of a closed line dated after its closing reached the bill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from fairtel.billing import Account, charged, held_records, run_bills
from fairtel.billing._run import BEFORE_HOLDING, HOLD_REASONS, LINE_CLOSED_UNDATED, NOT_RELEASED
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.consent import project_subscriptions, read_consent_events
from fairtel.rating import consent_gate, drop_held, explain, rate, register_gate
from fairtel.rating._vas import BEFORE_ACTIVATION, LINE_CLOSED, gate_lines, with_activations

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
A, B, C, D = "8613800000001", "8613800000002", "8613800000003", "8613800000004"
P = "2026-03"
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
CLOSED = datetime(2026, 3, 15, 12, tzinfo=CN)  # A closed
ACTIVATED = datetime(2026, 3, 10, 8, tzinfo=CN)  # C activated (the number's previous holder used it before)
SUBS = {A: "payg", B: "payg", C: "payg", D: "payg"}


def call(rid: str, msisdn: str, at: datetime, seconds: int = 120, **kw: Any) -> dict[str, Any]:
    return {
        "record_id": rid,
        "source": "sw",
        "msisdn": msisdn,
        "kind": "voice",
        "direction": "out",
        "started_at": at.astimezone(UTC),
        "duration_s": seconds,
        "peer": "8613912345678",
    } | kw


def sms(rid: str, msisdn: str, at: datetime) -> dict[str, Any]:
    return {
        "record_id": rid,
        "source": "sw",
        "msisdn": msisdn,
        "kind": "sms",
        "direction": "out",
        "started_at": at.astimezone(UTC),
        "peer": "8613912345678",
    }


def data(rid: str, msisdn: str, at: datetime) -> dict[str, Any]:
    return {
        "record_id": rid,
        "source": "gw",
        "msisdn": msisdn,
        "kind": "data",
        "started_at": at.astimezone(UTC),
        "bytes_up": 3_000_000,
        "bytes_down": 9_000_000,
    }


def usage(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema_overrides={"started_at": pl.Datetime("us", "UTC")})


def register(closed_at: datetime | None = CLOSED) -> pl.DataFrame:
    """A closed on 15 March, B active since 2025, C activated on 10 March, D active since 2025."""
    old = datetime(2025, 1, 1, tzinfo=CN).astimezone(UTC)
    return pl.DataFrame(
        {
            "msisdn": [A, B, C, D],
            "status": ["closed", "active", "active", "active"],
            "activated_at": [old, old, ACTIVATED.astimezone(UTC), old],
            "closed_at": [None if closed_at is None else closed_at.astimezone(UTC), None, None, None],
        },
        schema={
            "msisdn": pl.String(),
            "status": pl.String(),
            "activated_at": pl.Datetime("us", "UTC"),
            "closed_at": pl.Datetime("us", "UTC"),
        },
    )


RECORDS = usage(
    call("a-before", A, CLOSED - timedelta(days=3)),
    call("a-at", A, CLOSED),
    call("a-after", A, CLOSED + timedelta(days=2), seconds=300),
    sms("a-sms", A, CLOSED + timedelta(days=3)),
    data("a-data", A, CLOSED + timedelta(days=4)),
    call("b", B, CLOSED + timedelta(days=2)),
    call("c-before", C, ACTIVATED - timedelta(days=4), seconds=600),
    data("c-data-before", C, ACTIVATED - timedelta(hours=1)),
    call("c-after", C, ACTIVATED + timedelta(days=1)),
    call("d", D, CLOSED - timedelta(days=1)),
)
HELD = {
    "a-at": LINE_CLOSED,
    "a-after": LINE_CLOSED,
    "a-sms": LINE_CLOSED,
    "a-data": LINE_CLOSED,
    "c-before": BEFORE_ACTIVATION,
    "c-data-before": BEFORE_ACTIVATION,
}


def verdicts(rated: pl.DataFrame) -> dict[str, str | None]:
    return {r: v for r, v in rated.select("record_id", "verdict").unique().iter_rows()}


def accounts(closed_at: datetime | None = CLOSED) -> list[Account]:
    old = datetime(2025, 1, 1, tzinfo=CN)
    return [
        Account(A, "payg", old, status="closed", closed_at=closed_at),
        Account(B, "payg", old),
        Account(C, "payg", ACTIVATED),
        Account(D, "payg", old),
    ]


def test_usage_after_closing_or_before_activation_is_rated_and_held() -> None:
    held = rate(RECORDS, CATALOG, SUBS, period=P, register=register())
    plain = rate(RECORDS, CATALOG, SUBS, period=P)
    assert verdicts(held.rated) == {r: HELD.get(r) for r in RECORDS["record_id"]}
    # priced exactly as before: only the flag differs (its amount known and explained), nothing lost or unrated
    assert held.rated.drop("verdict").equals(plain.rated.drop("verdict"))
    assert held.closing_state.equals(plain.closing_state)
    assert held.unrated.height == 0 and held.rated.filter(pl.col("line") == 0).height == RECORDS.height
    assert held.rated.filter(pl.col("record_id") == "a-after")["amount_minor"].sum() > 0
    # never released: not the subscriber's usage (a closed line's without its closing date too, and the previous
    # customer's in the month of an owner change, both held by the bill run)
    assert {LINE_CLOSED, BEFORE_ACTIVATION} <= set(HOLD_REASONS) and set(NOT_RELEASED) == {
        LINE_CLOSED,
        BEFORE_ACTIVATION,
        LINE_CLOSED_UNDATED,
        BEFORE_HOLDING,
    }


def test_lines_without_closing_or_activation_issues_are_rated_as_before() -> None:
    mixed = rate(RECORDS, CATALOG, SUBS, period=P, register=register())
    alone = rate(RECORDS.filter(pl.col("msisdn").is_in([B, D])), CATALOG, SUBS, period=P)
    assert mixed.rated.filter(pl.col("msisdn").is_in([B, D])).equals(alone.rated)
    # a register in which no record falls outside its line's service adds no verdict at all
    quiet = RECORDS.filter(pl.col("record_id").is_in(["a-before", "b", "c-after", "d"]))
    assert rate(quiet, CATALOG, SUBS, period=P, register=register()).rated.equals(
        rate(quiet, CATALOG, SUBS, period=P).rated
    )


def test_a_closed_line_that_does_not_say_when_holds_all_its_usage() -> None:
    out = verdicts(rate(RECORDS, CATALOG, SUBS, period=P, register=register(closed_at=None)).rated)
    assert out["a-before"] == LINE_CLOSED and out["a-after"] == LINE_CLOSED and out["b"] is None


def test_every_gate_carrying_the_register_holds_as_the_register_does() -> None:
    by_register = verdicts(rate(RECORDS, CATALOG, SUBS, period=P, register=register()).rated)
    # a Spark job given no consent events: the register's lines travel in the gate
    assert verdicts(rate(RECORDS, CATALOG, SUBS, period=P, gate=register_gate(register())).rated) == by_register
    # the consent gate keeps only the active lines that restrict a charge: the closed line holds through it, and a
    # line activated during the period once the period's activations are added (``with_activations``)
    gate = consent_gate(project_subscriptions(read_consent_events([]).events), CATALOG, lines=register())
    through = verdicts(rate(RECORDS, CATALOG, SUBS, period=P, gate=gate).rated)
    assert {r: v for r, v in through.items() if not r.startswith("c-")} == {
        r: v for r, v in by_register.items() if not r.startswith("c-")
    }
    since = datetime(2026, 3, 1, tzinfo=CN)
    fuller = with_activations(gate, register(), since=since)
    assert verdicts(rate(RECORDS, CATALOG, SUBS, period=P, gate=fuller).rated) == by_register
    kept = gate_lines(fuller)
    assert kept is not None and set(kept["msisdn"]) == {A, C}  # only the lines that restrict: not B nor D
    assert with_activations(gate, register(), since=ACTIVATED + timedelta(days=1)) is gate  # nothing to add


def test_readers_of_what_is_charged_drop_held_usage() -> None:
    kept = drop_held(RECORDS, register())
    assert set(kept["record_id"]) == {r for r in RECORDS["record_id"] if r not in HELD}


def test_the_bill_run_leaves_held_usage_off_the_bill_and_reports_it() -> None:
    rated = rate(RECORDS, CATALOG, SUBS, period=P, register=register()).rated
    run = run_bills(rated, CATALOG, accounts(), period=P, issued_at=NOW, run_id="r1")
    held = set(run.held["record_id"])
    assert held == set(HELD)
    assert not held & set(run.billed["record_id"])
    # every usage line of a billed subscriber is in exactly one of billed and held: the counts add up
    assert run.billed.height + run.held.height == rated.height
    assert run.summary()["held_by_reason"] == {BEFORE_ACTIVATION: 2, LINE_CLOSED: 4}
    assert run.held_records == len(HELD)
    a = run.bill_for(A)
    assert a is not None
    before = rated.filter(pl.col("record_id") == "a-before")["amount_minor"].sum()
    assert a.charges_minor == before > 0  # pay-as-you-go, no fee: the call before the closing alone
    # the rated lines a bill may charge (bill shock, churn) leave them out too
    assert set(rated.filter(charged(rated.columns))["record_id"]) == {r for r in RECORDS["record_id"] if r not in HELD}
    records = held_records(run.held)
    assert dict(zip(records["record_id"], records["reason"], strict=True)) == HELD


def test_the_bill_run_holds_usage_rated_before_the_register_knew() -> None:
    # rated with no register (before the closing was known, or by an earlier version): the account holds it
    rated = rate(RECORDS, CATALOG, SUBS, period=P).rated
    run = run_bills(rated, CATALOG, accounts(), period=P, issued_at=NOW, run_id="r1")
    assert dict(zip(run.held["record_id"], run.held["verdict"], strict=True)) == HELD
    assert not set(HELD) & set(run.billed["record_id"])
    # a closed account that does not say when it closed: the bill run cannot tell (rating decides, as it stored)
    unknown = run_bills(rated, CATALOG, accounts(closed_at=None), period=P, issued_at=NOW, run_id="r2")
    assert set(unknown.held["record_id"]) == {"c-before", "c-data-before"}


def test_a_line_closed_before_the_period_gets_no_bill_for_usage_made_since() -> None:
    late = usage(call("late", A, CLOSED + timedelta(days=1)))
    closed_before = [
        Account(A, "payg", datetime(2025, 1, 1, tzinfo=CN), status="closed", closed_at=datetime(2026, 2, 10, tzinfo=CN))
    ]
    rated = rate(
        late,
        CATALOG,
        {A: "payg"},
        period=P,
        register=register(closed_at=datetime(2026, 2, 10, tzinfo=CN)).filter(pl.col("msisdn") == A),
    ).rated
    run = run_bills(rated, CATALOG, closed_before, period=P, issued_at=NOW, run_id="r1")
    assert run.bills == () and run.billed.height == 0
    assert any("held usage record(s) of 1 subscriber(s) with no bill" in n and A in n for n in run.notes)


@pytest.mark.parametrize(
    ("record", "lang", "words"),
    [
        ("a-after", "zh", "号码销户之后"),
        ("a-after", "en", "made after the line was closed"),
        ("c-before", "zh", "号码入网之前"),
        ("c-before", "en", "made before the line was activated"),
    ],
)
def test_an_explanation_says_why_the_usage_is_held(record: str, lang: str, words: str) -> None:
    out = rate(RECORDS, CATALOG, SUBS, period=P, register=register())
    e = explain(record, rated=out.rated, catalog=CATALOG)
    assert e.held == HELD[record] and e.to_dict()["held"] == HELD[record]
    text = e.render(lang)
    assert words in text and ("不会向您收取" in text if lang == "zh" else "never charged to you" in text)
    assert e.agrees
    assert explain("a-before", rated=out.rated, catalog=CATALOG).held is None
