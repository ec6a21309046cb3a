"""Consent ledger: parsing at the boundary, append-only semantics, the state machine's projections."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from fairtel.consent import (
    ConfirmationStatus,
    ConsentLedger,
    ConsentPolicy,
    archivable,
    chargeable_intervals,
    parse_consent_lines,
    project_subscriptions,
    read_consent_events,
    states_at,
)
from fairtel.core.errors import ConfigError, InvalidInputError

M1, M2 = "8613800138000", "8613900139000"
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def ev(event: str, sub: str, at: datetime, *, msisdn: str = M1, offer: str = "vas-music-10", channel: str | None = "sms", evidence: object = None) -> str:
    row: dict[str, object] = {"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at.isoformat()}
    if channel is not None:
        row["channel"] = channel
    if evidence is not None:
        row["evidence"] = evidence
    return json.dumps(row)


def project(lines: list[str], **kw: object) -> pl.DataFrame:
    batch = parse_consent_lines(lines)
    assert batch.problems == []
    return project_subscriptions(batch.events, **kw)  # type: ignore[arg-type]


def one(subs: pl.DataFrame, sub: str) -> dict[str, object]:
    rows = subs.filter(pl.col("subscription_id") == sub).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_every_bad_line_is_reported_with_file_line_and_field() -> None:
    lines = [
        ev("ordered", "s1", T0),
        "",
        "{not json",
        json.dumps({"event": "confirmd", "subscription_id": "s2", "msisdn": "12ab", "offer_id": "x", "at": "2026-03-10 10:00", "channel": "fax"}),
        json.dumps({"event": "confirmed", "subscription_id": "s3", "msisdn": M1, "offer_id": "x", "at": "2026-03-10T10:00:00+08:00"}),
        "[1, 2]",
        json.dumps({"event": "ordered", "msisdn": M1, "offer_id": "x", "at": "2026-03-10T10:00:00Z"}),
    ]
    batch = parse_consent_lines(lines, file="consent/events.jsonl")
    found = {(p.line, p.field) for p in batch.problems}
    assert found == {
        (3, None),
        (4, "event"), (4, "msisdn"), (4, "at"), (4, "channel"),
        (5, "channel"),  # a confirmation names the operator channel it came through
        (6, None),
        (7, "subscription_id"),
    }
    assert all(p.file == "consent/events.jsonl" for p in batch.problems)
    assert batch.read == 6  # blank line not counted, still numbered
    assert batch.events["subscription_id"].to_list() == ["s1"]


def test_fast_path_and_line_by_line_path_agree() -> None:
    good = [ev("ordered", f"s{i}", T0 + timedelta(minutes=i), evidence=f"tok{i}") for i in range(5)]
    fast = parse_consent_lines(good)
    slow = parse_consent_lines([*good, "{broken"])
    assert slow.problems and slow.problems[0].line == 6
    assert fast.events.equals(slow.events)


def test_object_evidence_is_kept_as_canonical_json_and_offsets_become_utc() -> None:
    line = json.dumps({"event": "ordered", "subscription_id": "s", "msisdn": M1, "offer_id": "o",
                       "at": "2026-03-10T10:00:00+08:00", "channel": "app", "evidence": {"b": 1, "a": "x"}})
    batch = parse_consent_lines([line])
    row = batch.events.row(0, named=True)
    assert row["evidence"] == '{"a":"x","b":1}'
    assert row["at"] == T0


def test_identical_events_are_recognised_not_readded(tmp_path: Path) -> None:
    lines = [ev("ordered", "s1", T0), ev("confirmed", "s1", T0 + timedelta(minutes=2)), ev("ordered", "s1", T0)]
    f = tmp_path / "a.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ledger = ConsentLedger()
    first = ledger.append(read_consent_events([f]))
    assert (first.added, first.duplicates) == (2, 1)
    again = ledger.append(read_consent_events([f]))
    assert (again.added, again.duplicates) == (0, 3)
    assert len(ledger) == 2


def test_an_event_contradicting_its_subscription_is_refused() -> None:
    ledger = ConsentLedger()
    ledger.append(parse_consent_lines([ev("ordered", "s1", T0)]))
    result = ledger.append(parse_consent_lines([ev("confirmed", "s1", T0 + timedelta(minutes=1), msisdn=M2)]))
    assert result.added == 0 and len(result.rejected) == 1
    assert result.rejected[0].field == "msisdn"
    with pytest.raises(InvalidInputError):
        ConsentLedger(parse_consent_lines([ev("ordered", "s9", T0), ev("cancelled", "s9", T0 + timedelta(days=1), offer="other")]).events)


def test_confirmation_exactly_at_the_window_edge_counts_one_second_later_does_not() -> None:
    window = timedelta(hours=24)
    subs = project([
        ev("ordered", "edge", T0), ev("confirmed", "edge", T0 + window),
        ev("ordered", "late", T0), ev("confirmed", "late", T0 + window + timedelta(seconds=1)),
    ])
    assert one(subs, "edge")["confirmation"] == ConfirmationStatus.VALID
    assert one(subs, "edge")["confirmed_at"] == T0 + window
    late = one(subs, "late")
    assert late["confirmation"] == ConfirmationStatus.OUTSIDE_WINDOW
    assert late["confirmed_at"] is None and late["invalid_confirmations"] == 1
    # A shorter configured window moves the edge.
    short = project([ev("ordered", "a", T0), ev("confirmed", "a", T0 + timedelta(hours=2))], policy=ConsentPolicy(confirm_window=timedelta(hours=1)))
    assert one(short, "a")["confirmation"] == ConfirmationStatus.OUTSIDE_WINDOW


def test_confirmation_without_prior_order_or_after_cancellation_is_invalid() -> None:
    subs = project([
        ev("confirmed", "orphan", T0),
        ev("confirmed", "early", T0), ev("ordered", "early", T0 + timedelta(minutes=5)),
        ev("ordered", "gone", T0), ev("cancelled", "gone", T0 + timedelta(minutes=1)), ev("confirmed", "gone", T0 + timedelta(minutes=2)),
    ])
    assert one(subs, "orphan")["confirmation"] == ConfirmationStatus.WITHOUT_ORDER
    assert one(subs, "early")["confirmation"] == ConfirmationStatus.WITHOUT_ORDER
    assert one(subs, "gone")["confirmation"] == ConfirmationStatus.AFTER_END
    assert chargeable_intervals(subs).height == 0


def test_a_later_valid_confirmation_rescues_an_earlier_invalid_one() -> None:
    subs = project([ev("confirmed", "s", T0 - timedelta(minutes=1)), ev("ordered", "s", T0), ev("confirmed", "s", T0 + timedelta(minutes=3))])
    row = one(subs, "s")
    assert row["confirmation"] == ConfirmationStatus.VALID
    assert row["confirmed_at"] == T0 + timedelta(minutes=3)
    assert row["invalid_confirmations"] == 1
    assert row["confirm_delay_s"] == 180.0


def test_out_of_order_events_project_the_same() -> None:
    lines = [
        ev("ordered", "s1", T0, evidence="o1"), ev("confirmed", "s1", T0 + timedelta(minutes=1), evidence="c1"),
        ev("cancelled", "s1", T0 + timedelta(days=3)), ev("ordered", "s2", T0 + timedelta(days=4)),
        ev("confirmed", "s2", T0 + timedelta(days=4, minutes=5)), ev("expired", "s2", T0 + timedelta(days=40), channel=None),
    ]
    assert project(lines).equals(project(list(reversed(lines))))
    assert project(lines).equals(project([lines[i] for i in (3, 0, 5, 2, 4, 1)]))


def test_cancel_and_resubscribe_states_at_instants() -> None:
    subs = project([
        ev("ordered", "a", T0), ev("confirmed", "a", T0 + timedelta(minutes=1)), ev("cancelled", "a", T0 + timedelta(days=2)),
        ev("ordered", "b", T0 + timedelta(days=5)), ev("confirmed", "b", T0 + timedelta(days=5, minutes=2)),
        ev("ordered", "lapsed", T0),
    ])

    def state(sub: str, at: datetime) -> str:
        return str(one(states_at(subs, at), sub)["state"])

    assert state("a", T0 - timedelta(seconds=1)) == "none"
    assert state("a", T0) == "ordered"
    assert state("a", T0 + timedelta(minutes=1)) == "confirmed"
    assert state("a", T0 + timedelta(days=2)) == "cancelled"  # the cancellation instant is no longer chargeable
    assert state("b", T0 + timedelta(days=3)) == "none"
    assert state("b", T0 + timedelta(days=6)) == "confirmed"
    assert state("lapsed", T0 + timedelta(hours=23)) == "ordered"
    assert state("lapsed", T0 + timedelta(hours=25)) == "expired"  # unconfirmed past the window
    chargeable = states_at(subs, T0 + timedelta(days=6)).filter("chargeable")["subscription_id"].to_list()
    assert chargeable == ["b"]


def test_retention_keeps_records_at_least_the_regulatory_minimum() -> None:
    with pytest.raises(ConfigError):
        ConsentPolicy(retention_months=4)
    assert ConsentPolicy().retention_months >= 24
    subs = project([ev("ordered", "old", T0), ev("cancelled", "old", T0 + timedelta(days=1)), ev("ordered", "open", T0)])
    end = T0 + timedelta(days=1)
    assert archivable(subs, end + timedelta(days=700)).height == 0  # 23 months: still kept
    assert archivable(subs, end + timedelta(days=740))["subscription_id"].to_list() == ["old"]
    assert archivable(subs, end + timedelta(days=160), policy=ConsentPolicy(retention_months=5)).height == 1
