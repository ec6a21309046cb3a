"""Results that must not depend on the order of the input rows: each test runs one function on many
shuffles of the same input (fixed seeds) and expects one answer. Every case has rows that tie on the
obvious ordering key, where a "first" or a running sum once picked whichever row came first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import polars as pl

from fairtel.assurance._confirmations import replayed_evidence_findings
from fairtel.consent import parse_consent_lines

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
