"""A confirmation that gave back the one-time code its order sent to the subscriber's phone is a person's, whatever
its speed: the machine-speed detector leaves it alone. What exempts it is that proof in the ledger (the order's
challenge and the confirmation's verified code for that challenge), never the channel: a fast confirmation from
the web without the code, or one claiming a verified code for a challenge its order never issued, is still found."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl

from fairtel.assurance import machine_speed_findings
from fairtel.consent import code_verified, project_subscriptions

T0 = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
STEP = {"method": "sms_code", "challenge_id": "chl-1", "salt": "ab", "code_sha256": "f" * 64}
VERIFIED = {"method": "sms_code", "challenge_id": "chl-1", "code_verified": True}


def _ev(sid: str, event: str, at: datetime, evidence: dict[str, object] | str | None, channel: str = "web") -> dict[str, object]:
    return {"event": event, "subscription_id": sid, "msisdn": "8613800138000", "offer_id": "vas-video-15", "at": at,
            "channel": channel, "evidence": evidence if evidence is None or isinstance(evidence, str) else json.dumps(evidence)}


def _events() -> list[dict[str, object]]:
    fast = timedelta(seconds=1.2)
    return [
        # ordered, the code sent; confirmed 1.2 s later with that code: a person read it on the phone
        _ev("sub-code", "ordered", T0, {"actor": "alice", "second_step": STEP}),
        _ev("sub-code", "confirmed", T0 + fast, {"actor": "alice", "second_step": VERIFIED}),
        # the same channel, no code: found
        _ev("sub-web", "ordered", T0, {"actor": "alice"}),
        _ev("sub-web", "confirmed", T0 + fast, {"actor": "alice"}),
        # a verified code claimed for a challenge the order never issued: found
        _ev("sub-forged", "ordered", T0, {"actor": "alice"}),
        _ev("sub-forged", "confirmed", T0 + fast, {"second_step": VERIFIED}),
        # another challenge than the order's: found
        _ev("sub-other", "ordered", T0, {"second_step": dict(STEP, challenge_id="chl-2")}),
        _ev("sub-other", "confirmed", T0 + fast, {"second_step": VERIFIED}),
        # a provider's plain token that merely names a code: found
        _ev("sub-sms", "ordered", T0, "sms-order", channel="sms"),
        _ev("sub-sms", "confirmed", T0 + fast, "web:otp-verified", channel="sms"),
    ]


def test_a_code_verified_confirmation_is_not_machine_speed() -> None:
    subs = project_subscriptions(pl.DataFrame(_events()))
    found = machine_speed_findings(subs, None, max_human_s=3.0, detected_at=T0 + timedelta(days=1))
    assert {f.subscription_id for f in found} == {"sub-web", "sub-forged", "sub-other", "sub-sms"}


def test_code_verified_reads_the_proof_in_the_evidence() -> None:
    subs = project_subscriptions(pl.DataFrame(_events()))
    verified = subs.select("subscription_id", code_verified().alias("v"))
    assert dict(verified.iter_rows()) == {"sub-code": True, "sub-web": False, "sub-forged": False, "sub-other": False, "sub-sms": False}
