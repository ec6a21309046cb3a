"""A refund posted through the API is told to the subscriber by SMS, as ``fairtel assure --refund`` tells it (a
Wangiri call back was promised the outcome)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from fairtel_seed import ALICE, Seeded

from fairtel.api import Access, Principal, Pseudonyms
from fairtel.api._cases import refund_finding
from fairtel.assurance import FileOutbox
from fairtel.privacy import Role
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

KEY = "test-secret-key-0123456789abcdef"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_an_api_refund_sends_the_refund_sms_once(seeded: Seeded, tmp_path: Path) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert().values(
            finding_id="fnd-sms", kind="unconsented_charge", msisdn=ALICE, subscription_id="sub-a1", record_ids=["r-3"], amount_minor=1000,
            currency="CNY", status="open", evidence={"source": "canonical", "offer_id": "vas-music-10"}, detected_at=NOW,
            resolved_at=None, resolved_by=None, resolution=None))
    outbox = FileOutbox(tmp_path / "outbox")
    acc = Access(principal=Principal("agent1", Role.AGENT), pseudonyms=Pseudonyms(KEY), begin=seeded.engine.begin,
                 lake=seeded.app.lake, now=NOW)
    acc.assign(ALICE, kind="complaint", reference_id="cmp-1")
    out = refund_finding(acc, "fnd-sms", outbox=outbox, sender={"zh": "示例电信", "en": "Example Tel"})
    acc.end(None)
    assert out.outcome == "refunded" and out.adjustment is not None
    sent = [json.loads(line) for line in (tmp_path / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(m["msisdn"], m["kind"], m["finding_id"]) for m in sent] == [(ALICE, "refund", "fnd-sms")]
    assert sent[0]["text"].startswith("Example Tel: we have refunded 10.00 CNY")  # in Alice's registered language
