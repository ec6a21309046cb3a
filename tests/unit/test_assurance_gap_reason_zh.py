"""Every reason a refund gives is said in zh to a zh subscriber (the refund SMS, and the assistant, which words a
refund's reason as the SMS does): the confirmations not made by the subscriber, or made with evidence reused from
another order, were said in English."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fairtel.assurance import Finding, FindingKind, refund, refund_messages

NOW = datetime(2026, 4, 2, tzinfo=UTC)
REFUNDED = [
    (FindingKind.UNCONSENTED_CHARGE, {}),
    (FindingKind.CHARGE_AFTER_CANCELLATION, {}),
    (FindingKind.CHARGE_AFTER_CANCELLATION, {"verdict": "line_closed"}),
    (FindingKind.CHARGE_AFTER_CANCELLATION, {"verdict": "line_suspended"}),
    (FindingKind.DUPLICATE_CHARGE, {}),
    (FindingKind.DUPLICATE_CHARGE, {"billed_under_subscription": "s0"}),
    (FindingKind.PRICE_MISMATCH, {}),
    (FindingKind.UNKNOWN_OFFER_CHARGE, {}),
    (FindingKind.USAGE_PAST_CAP, {}),
    (FindingKind.MACHINE_SPEED_CONFIRMATION, {}),
    (FindingKind.REPLAYED_EVIDENCE, {}),
]


@pytest.mark.parametrize(("kind", "evidence"), REFUNDED)
def test_a_refund_reason_is_said_in_zh(kind: FindingKind, evidence: dict[str, str]) -> None:
    f = Finding(finding_id=f"f-{kind.value}", kind=kind, msisdn="8613800000001", record_ids=("r1",), subscription_id="s1",
                amount=Decimal("10.00"), currency="CNY", detected_at=NOW, evidence=evidence)
    adj, _ = refund(f, by="agent", now=NOW)
    (zh,) = refund_messages([adj], languages={adj.msisdn: "zh"}, sender="运营商", now=NOW)
    assert not re.search(r"[A-Za-z]", zh.text), zh.text


def test_the_confirmation_reasons_read_as_such() -> None:
    said = {}
    for kind in (FindingKind.MACHINE_SPEED_CONFIRMATION, FindingKind.REPLAYED_EVIDENCE):
        f = Finding(finding_id=f"f-{kind.value}", kind=kind, msisdn="8613800000001", record_ids=("r1",), subscription_id="s1",
                    amount=Decimal("10.00"), currency="CNY", detected_at=NOW)
        adj, _ = refund(f, by="agent", now=NOW)
        said[kind] = refund_messages([adj], languages={adj.msisdn: "zh"}, sender="运营商", now=NOW)[0].text
    assert "非您本人操作的订购确认" in said[FindingKind.MACHINE_SPEED_CONFIRMATION]
    assert "订购确认凭证系从其他订单重复使用" in said[FindingKind.REPLAYED_EVIDENCE]
