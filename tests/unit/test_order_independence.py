"""Results that must not depend on the order of the input rows: each test runs one function on many
shuffles of the same input (fixed seeds) and expects one answer. Every case has rows that tie on the
obvious ordering key, where a "first" or a running sum once picked whichever row came first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fairtel.assurance import EU_DATA_ROAMING, bill_shock_findings, rank_merchants
from fairtel.assurance._confirmations import replayed_evidence_findings, shared_evidence
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.consent import Offer, OfferPeriod, offers_frame, parse_consent_lines
from fairtel.core.errors import InvalidInputError
from fairtel.insight import ChurnWindow, activity, churn_features
from fairtel.store import StoreCareData, connect, migrate

M1, M2, M3, M4 = "8613800138000", "8613900139000", "8613700137000", "8613600136000"
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 2, tzinfo=UTC)
SHUFFLES = 100


def shuffles(frame: pl.DataFrame, seed: int, n: int = SHUFFLES) -> Iterator[pl.DataFrame]:
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield frame[rng.permutation(frame.height).tolist()]


def _ev(event: str, sub: str, at: datetime, msisdn: str, evidence: str) -> str:
    return json.dumps(
        {
            "event": event,
            "subscription_id": sub,
            "msisdn": msisdn,
            "offer_id": "vas-music-10",
            "at": at.isoformat(),
            "channel": "sms",
            "evidence": evidence,
        }
    )


def test_replayed_evidence_token_is_the_same_for_confirmations_at_one_instant() -> None:
    # "s" is confirmed twice at the same instant with two tokens, each also used by other subscriptions.
    batch = parse_consent_lines(
        [
            _ev("confirmed", "s", T0, M1, "otp-a"),
            _ev("confirmed", "s", T0, M1, "otp-b"),
            _ev("confirmed", "a", T0, M2, "otp-a"),
            _ev("confirmed", "b", T0, M3, "otp-b"),
            _ev("confirmed", "c", T0, M4, "otp-b"),
        ]
    )
    assert batch.problems == []
    seen = set()
    for events in shuffles(batch.events, seed=1):
        found = replayed_evidence_findings(events, None, detected_at=NOW)
        seen.add(tuple((f.subscription_id, json.dumps(f.evidence, sort_keys=True)) for f in found))
    assert len(seen) == 1
    (only,) = seen
    s = json.loads(dict(only)["s"])
    assert s["token"] == "otp-a" and s["shared_by"] == 2 and s["other_subscriptions"] == ["a"]


def test_bill_shock_crossing_amount_does_not_depend_on_the_order_of_a_records_lines() -> None:
    # d2 has two charged lines that start together: the running sum must add them in one order.
    rated = pl.DataFrame(
        {
            "record_id": ["d1", "d2", "d2", "d3"],
            "msisdn": [M1] * 4,
            "started_at": [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1), T0 + timedelta(hours=2)],
            "amount_minor": [3000, 500, 2000, 700],
            "currency": ["EUR"] * 4,
            "kind": ["data"] * 4,
            "roaming_country": ["FR"] * 4,
        },
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )
    seen = set()
    for frame in shuffles(rated, seed=2):
        found = bill_shock_findings(frame, EU_DATA_ROAMING, detected_at=NOW)
        seen.add(tuple((f.finding_id, f.record_ids, f.amount, json.dumps(f.evidence, sort_keys=True)) for f in found))
    assert len(seen) == 1
    (only,) = seen
    # 30.00 + 5.00 + 20.00 (a record's lines tied on time: smaller amount first): 80 % and 100 % are crossed at 55.00
    assert sorted((ids, amount) for _, ids, amount, _ in only) == [
        (("d2",), Decimal("55.00")),
        (("d2",), Decimal("55.00")),
        (("d2", "d3"), Decimal("12.00")),
    ]


def _versions_with_two_providers() -> pl.DataFrame:
    return offers_frame(
        {
            "vas-music-10": [
                Offer("vas-music-10", "sp-old", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
                Offer("vas-music-10", "sp-new", Decimal("12.00"), "CNY", OfferPeriod.MONTHLY, valid_from=T0),
            ],
            "vas-news-5": Offer("vas-news-5", "sp-news", Decimal("5.00"), "CNY", OfferPeriod.MONTHLY),
        }
    )


def test_an_offer_whose_provider_changed_between_versions_is_ranked_under_its_latest_provider() -> None:
    book = _versions_with_two_providers()
    subs = pl.DataFrame(
        {
            "subscription_id": ["s1", "s2"],
            "msisdn": [M1, M2],
            "offer_id": ["vas-music-10", "vas-news-5"],
            "ordered_at": [T0, T0],
            "confirmed_at": [T0 + timedelta(minutes=1)] * 2,
            "confirm_delay_s": [60.0, 60.0],
            "confirmation": ["valid", "valid"],
            "ended_at": [None, None],
            "end_reason": [None, None],
        },
        schema_overrides={"ended_at": pl.Datetime("us", "UTC"), "end_reason": pl.String},
    )
    seen = {tuple(rank_merchants(subs, frame)["provider_id"].sort().to_list()) for frame in shuffles(book, seed=3)}
    assert seen == {("sp-new", "sp-news")}


def test_evidence_owners_use_one_provider_per_offer() -> None:
    # A token shared by two offers of sp-new (vas-music-10 was sp-old's before its latest version): one owner,
    # so a replay; counting sp-old for either offer would make it a method label of two providers.
    book = offers_frame(
        {
            "vas-music-10": [
                Offer("vas-music-10", "sp-old", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY),
                Offer("vas-music-10", "sp-new", Decimal("12.00"), "CNY", OfferPeriod.MONTHLY, valid_from=T0),
            ],
            "vas-news-5": Offer("vas-news-5", "sp-new", Decimal("5.00"), "CNY", OfferPeriod.MONTHLY),
        }
    )
    batch = parse_consent_lines(
        [
            json.dumps(
                {
                    "event": "confirmed",
                    "subscription_id": s,
                    "msisdn": m,
                    "offer_id": o,
                    "at": T0.isoformat(),
                    "channel": "sms",
                    "evidence": "otp-1",
                }
            )
            for s, m, o in (("s1", M1, "vas-music-10"), ("s2", M2, "vas-news-5"))
        ]
    )
    assert batch.problems == []
    seen = set()
    for frame in shuffles(book, seed=4):
        out = shared_evidence(batch.events, frame, generic_min_providers=2)
        seen.add(tuple(out["evidence"].to_list()))
    assert seen == {("otp-1",)}


def test_care_charges_come_in_time_order_whatever_the_lake_order(tmp_path: Path) -> None:
    catalog = load_catalog(default_catalog_path())
    n = 8
    # every record starts at the same instant except the last; r3 has two lines (allowance, then charged)
    rated = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)] + ["r3"],
            "source": ["sw"] * (n + 1),
            "line": [0] * n + [1],
            "msisdn": [M1] * (n + 1),
            "period": ["2026-03"] * (n + 1),
            "started_at": [T0] * (n - 1) + [T0 - timedelta(hours=1), T0],
            "kind": ["data"] * (n + 1),
            "roaming_country": [None] * (n + 1),
            "rule_id": [f"rule-{i}" for i in range(n)] + ["rule-charged"],
            "allowance_id": [None] * 3 + ["a1"] + [None] * (n - 3),
            "amount_minor": [100] * 3 + [0] + [100] * (n - 3),
            "currency": ["CNY"] * (n + 1),
            "subscription_id": [None] * (n + 1),
            "verdict": [None] * (n + 1),
        },
        schema_overrides={
            "started_at": pl.Datetime("us", "UTC"),
            "roaming_country": pl.String,
            "allowance_id": pl.String,
            "subscription_id": pl.String,
            "verdict": pl.String,
        },
    ).with_columns(pl.col("line").cast(pl.Int32))
    part = tmp_path / "rated" / "period=2026-03" / "part.parquet"
    part.parent.mkdir(parents=True)
    data = StoreCareData(migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}")), tmp_path, catalog)
    seen = set()
    for frame in shuffles(rated, seed=5, n=50):
        frame.write_parquet(part)
        seen.add(tuple((c.record_id, c.amount_minor, c.rule_id, c.allowance_id) for c in data.charges(M1, "2026-03")))
    assert len(seen) == 1
    (only,) = seen
    assert [c[0] for c in only] == ["r7", "r0", "r1", "r2", "r3", "r4", "r5", "r6"]
    assert only[4] == ("r3", 100, "rule-charged", "a1")


def test_duplicate_offer_versions_are_reported_in_the_books_order() -> None:
    book = {
        f"vas-{i:02d}": [Offer(f"vas-{i:02d}", "sp", Decimal("1.00"), "CNY", OfferPeriod.MONTHLY, valid_from=T0)] * 2
        for i in range(40)
    }
    seen = set()
    for _ in range(20):
        with pytest.raises(InvalidInputError) as err:
            offers_frame(book)
        seen.add(tuple(p.message.split(":")[0] for p in err.value.problems))
    assert seen == {tuple(book)}


def test_last_complaint_is_the_same_for_complaints_filed_at_one_instant() -> None:
    tz = "Asia/Shanghai"
    start = date(2026, 9, 1)
    days = 35
    base = datetime(start.year, start.month, start.day, 4, tzinfo=UTC)
    rows = [(m, base + timedelta(days=d)) for m in (M1, M2) for d in range(days)]
    usage = pl.DataFrame(
        {
            "record_id": [f"u{i}" for i in range(len(rows))],
            "source": ["t"] * len(rows),
            "msisdn": [m for m, _ in rows],
            "kind": ["data"] * len(rows),
            "direction": [None] * len(rows),
            "started_at": [t for _, t in rows],
            "duration_s": [None] * len(rows),
            "bytes_down": [10**6] * len(rows),
            "peer": [None] * len(rows),
        },
        schema_overrides={
            "started_at": pl.Datetime("us", "UTC"),
            "direction": pl.String,
            "duration_s": pl.Int64,
            "peer": pl.String,
        },
    )
    subs = pl.DataFrame(
        {"msisdn": [M1, M2], "plan_id": ["basic-39"] * 2, "activated_at": [datetime(2024, 1, 1, tzinfo=UTC)] * 2}
    )
    cut = start + timedelta(days=days)
    at = datetime(2026, 9, 20, 3, tzinfo=UTC)
    complaints = pl.DataFrame(
        {
            "msisdn": [M1, M1, M1, M2],
            "at": [at - timedelta(days=1), at, at, at],
            "category": ["network", "price", "billing", "vas"],
        }
    )
    act = activity(usage, tz)
    seen = set()
    for frame in shuffles(complaints, seed=6):
        out = churn_features(act, subs, cut, ChurnWindow(), complaints=frame)
        seen.add(tuple(out.sort("msisdn").select("msisdn", "last_complaint").iter_rows()))
    assert seen == {((M1, "price"), (M2, "vas"))}


def test_a_number_listed_twice_is_as_new_as_its_latest_activation() -> None:
    """Fraud features read one activation per number; a recycled number listed twice (old and new holder)
    takes its latest activation whatever the order of the subscriber rows."""
    from fairtel.fraud._features import _subscriber_frame

    subs = pl.DataFrame(
        {
            "msisdn": [M1, M1, M2, M3, M3],
            "activated_at": [
                "2019-05-01T00:00:00Z",
                "2026-03-01T00:00:00Z",
                "2024-01-01T00:00:00Z",
                None,
                "2025-07-01T08:00:00+08:00",
            ],
        }
    )
    seen = set()
    for frame in shuffles(subs, seed=11):
        out = _subscriber_frame(frame)
        assert out is not None
        got = out.collect().sort("msisdn")
        seen.add(tuple(zip(got["msisdn"].to_list(), got["activated_at"].to_list(), strict=True)))
    assert len(seen) == 1
    rows = dict(next(iter(seen)))
    assert rows[M1] == datetime(2026, 3, 1, tzinfo=UTC)
    assert rows[M3] == datetime(2025, 7, 1, tzinfo=UTC)


def test_a_charge_is_explained_by_its_own_record_when_two_sources_number_records_alike(tmp_path: Path) -> None:
    """A call from one switch and an SMS from another, both numbered "x1": the assistant tells the facts and
    the pricing chain of the same record (the earlier one), whichever comes first in the lake."""
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.rating import rate

    catalog = load_catalog(default_catalog_path())
    base = {f.name: None for f in CLEAN_USAGE_SCHEMA} | {"record_id": "x1", "msisdn": M1, "parts": 1, "incomplete": False}
    usage = pl.DataFrame(
        [base | {"source": "msc-1", "kind": "voice", "direction": "out", "duration_s": 65, "peer": "8613912345678",
                 "started_at": T0 - timedelta(hours=2)},
         base | {"source": "smsc-2", "kind": "sms", "direction": "out", "peer": "8613912345678", "started_at": T0}],
        schema=pl.Schema(CLEAN_USAGE_SCHEMA),
    )
    rated = rate(usage, catalog, {M1: "payg"}, period="2026-03").rated
    assert sorted(rated["source"].unique().to_list()) == ["msc-1", "smsc-2"]
    part = tmp_path / "rated" / "period=2026-03" / "part.parquet"
    part.parent.mkdir(parents=True)
    data = StoreCareData(migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}")), tmp_path, catalog)
    told = set()
    for frame in (rated.sort("source", descending=True), rated.sort("source")):
        frame.write_parquet(part)
        charge = data.explain_charge(M1, "x1", "en")
        assert charge is not None and charge.explanation is not None
        told.add((charge.source, charge.kind, charge.amount_minor, charge.explanation.en))
    (only,) = told
    assert only[:2] == ("msc-1", "voice") and "voice" in only[3] and "sms" not in only[3].lower()
