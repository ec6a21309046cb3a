"""Usage made at or after a line's suspension is rated and held: priced like any other usage (its amount known and
explained), its lines' ``verdict`` the hold reason ``line_suspended``, so that billing leaves it off the bill. Before,
a late switch record, a roaming record arriving days later or a cloned SIM's calls after a fraud suspension were
priced with no flag at all and billed like the rest. The suspension reaches the kernel with the register's line
states: the consent gate's (``consent_gate(..., lines=...)``, what every engine hands it) or ``register=``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.consent import project_subscriptions, read_consent_events
from fairtel.rating import HoldReason, consent_gate, explain, rate, register_gate

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
A, B = "8613800000001", "8613800000002"
P = "2026-03"
SUSPENDED = datetime(2026, 3, 15, 12, tzinfo=CN)
SUBS = {A: "payg", B: "payg"}


def call(rid: str, msisdn: str, at: datetime, seconds: int = 120, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "started_at": at.astimezone(UTC), "duration_s": seconds, "peer": "8613912345678"} | kw


def usage(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema_overrides={"started_at": pl.Datetime("us", "UTC")})


def register(status: str = "suspended", since: datetime | None = SUSPENDED) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [A, B], "status": [status, "active"], "suspended_at": [since, None]},
                        schema={"msisdn": pl.String(), "status": pl.String(), "suspended_at": pl.Datetime("us", "UTC")})


RECORDS = usage(
    call("before", A, SUSPENDED - timedelta(days=3)),
    call("at", A, SUSPENDED),
    call("after", A, SUSPENDED + timedelta(days=2), seconds=300),
    call("other-line", B, SUSPENDED + timedelta(days=2)),
)


def verdicts(rated: pl.DataFrame) -> dict[str, str | None]:
    return {r: v for r, v in rated.select("record_id", "verdict").unique().iter_rows()}


def test_usage_from_the_suspension_on_is_rated_and_held() -> None:
    held = rate(RECORDS, CATALOG, SUBS, period=P, register=register())
    plain = rate(RECORDS, CATALOG, SUBS, period=P)
    assert verdicts(held.rated) == {"before": None, "at": "line_suspended", "after": "line_suspended", "other-line": None}
    assert HoldReason.LINE_SUSPENDED.value == "line_suspended"
    # priced exactly as it would be: only the flag differs (so its amount is known, and explained)
    assert held.rated.drop("verdict").equals(plain.rated.drop("verdict"))
    assert held.rated.filter(pl.col("record_id") == "after")["amount_minor"].sum() > 0
    assert held.unrated.height == 0


def test_the_gates_line_states_hold_as_the_register_does() -> None:
    gate = consent_gate(project_subscriptions(read_consent_events([]).events), CATALOG, lines=register())
    assert verdicts(rate(RECORDS, CATALOG, SUBS, period=P, gate=gate).rated) == verdicts(
        rate(RECORDS, CATALOG, SUBS, period=P, register=register()).rated)
    # a gate without a consent ledger that still knows the lines (a Spark job given no consent events)
    assert verdicts(rate(RECORDS, CATALOG, SUBS, period=P, gate=register_gate(register())).rated)["after"] == "line_suspended"


def test_a_line_in_service_or_a_register_without_the_line_holds_nothing() -> None:
    for reg in (register(status="active", since=None), register().filter(pl.col("msisdn") == B), None):
        out = rate(RECORDS, CATALOG, SUBS, period=P, register=reg)
        assert out.rated["verdict"].null_count() == out.rated.height


def test_a_suspension_of_unknown_date_holds_all_the_lines_usage() -> None:
    out = rate(RECORDS, CATALOG, SUBS, period=P, register=register(since=None))
    assert verdicts(out.rated) == {"before": "line_suspended", "at": "line_suspended", "after": "line_suspended",
                                   "other-line": None}


def test_a_record_is_held_by_its_start_whole_whatever_its_pieces() -> None:
    # a pay-as-you-go call cut where the band changes: started before the suspension, it is not held in any piece;
    # one started after it is held in every piece
    late = datetime(2026, 3, 20, 22, 58, tzinfo=CN)
    calls = usage(call("across", A, late - timedelta(days=7), seconds=600), call("held", A, late, seconds=600))
    # suspended at the very band change the first call crosses: its second piece starts at the suspension
    out = rate(calls, CATALOG, SUBS, period=P, register=register(since=datetime(2026, 3, 13, 23, 0, tzinfo=CN)))
    pieces = out.rated.group_by("record_id").agg(pl.len(), pl.col("verdict").unique())
    by = {r: (n, v) for r, n, v in pieces.iter_rows()}
    assert by["held"][0] > 1 and by["held"][1] == ["line_suspended"]
    assert by["across"][0] > 1 and by["across"][1] == [None]


def test_held_usage_draws_allowances_in_time_order_as_any_usage() -> None:
    # on basic-39 the held call draws what is left of the minutes after the earlier ones, as it would if released
    subs = {A: "basic-39", B: "basic-39"}
    calls = usage(call("early", A, SUSPENDED - timedelta(days=1), seconds=280 * 60),
                  call("late", A, SUSPENDED + timedelta(days=1), seconds=40 * 60))
    held = rate(calls, CATALOG, subs, period=P, register=register())
    plain = rate(calls, CATALOG, subs, period=P)
    assert held.rated.drop("verdict").equals(plain.rated.drop("verdict"))
    assert held.closing_state.equals(plain.closing_state)
    late = held.rated.filter(pl.col("record_id") == "late")
    assert late["allowance_used"].sum() > 0 and late["amount_minor"].sum() > 0  # the rest of the minutes, then charged


def test_a_value_added_charge_on_a_held_line_is_never_billable(tmp_path: Path) -> None:
    events = [
        {"event": e, "subscription_id": "s1", "msisdn": A, "offer_id": "vas-music-10",
         "at": (datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=i)).isoformat(), "channel": "sms"}
        for i, e in enumerate(("ordered", "confirmed"))
    ]
    path = tmp_path / "consent.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    subscriptions = project_subscriptions(read_consent_events([path]).events)
    charge = usage({"record_id": "vas", "source": "sp", "msisdn": A, "kind": "vas", "offer_id": "vas-music-10",
                    "started_at": (SUSPENDED + timedelta(days=1)).astimezone(UTC), "amount_minor": 1000, "currency": "CNY"})
    # the register does not say since when the line is suspended: the consent gate cannot tell, the kernel holds it
    lines = register(since=None)
    gate = consent_gate(subscriptions, CATALOG, lines=lines)
    out = rate(charge, CATALOG, SUBS, period=P, gate=gate)
    assert out.rated.select("verdict", "amount_minor").row(0) == ("line_suspended", 0)
    assert out.closing_state.filter(pl.col("counter").str.starts_with("vas:")).height == 0  # nothing billed, nothing kept
    assert rate(charge, CATALOG, SUBS, period=P, gate=consent_gate(subscriptions, CATALOG)).rated["verdict"].to_list() == ["consented"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_explanation_says_the_usage_is_held(lang: str) -> None:
    out = rate(RECORDS, CATALOG, SUBS, period=P, register=register())
    e = explain("after", rated=out.rated, catalog=CATALOG)
    assert e.held == "line_suspended" and e.to_dict()["held"] == "line_suspended"
    text = e.render(lang)
    assert ("暂缓计费" in text) if lang == "zh" else ("Held, not billed" in text)
    assert e.agrees  # the amount stored is the tariff's: explained like any other
    assert explain("before", rated=out.rated, catalog=CATALOG).held is None


def test_a_spark_jobs_register_file_holds_without_consent_events() -> None:
    # the job reads the register from CSV (instants as text) and, given no consent events, still hands the kernel
    # the lines' states (before, it passed no gate at all and held nothing)
    from fairtel.engines._job import _lines

    csv_register = pl.DataFrame({"msisdn": [A, B], "plan_id": ["payg", "payg"],
                                 "activated_at": ["2025-01-01T00:00:00Z"] * 2, "status": ["suspended", "active"],
                                 "suspended_at": [SUSPENDED.astimezone(UTC).isoformat(), None]})
    lines = _lines(csv_register)
    assert lines is not None
    out = rate(RECORDS, CATALOG, SUBS, period=P, gate=register_gate(lines))
    assert verdicts(out.rated)["after"] == "line_suspended" and verdicts(out.rated)["before"] is None
