"""A refund posted through the API whose SMS never reached the outbox (the request stopped after its ledger write):
the retry is refused (409, the finding is refunded already) and queues that SMS again, once; the outbox keeps one
message per refund, its id derived from the refund's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fairtel_seed import ALICE, Seeded

from fairtel.api import Access, Principal, Pseudonyms
from fairtel.api._cases import refund_finding
from fairtel.assurance import FileOutbox, ResolutionError
from fairtel.core.ids import stable_id
from fairtel.privacy import Role
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

KEY = "test-secret-key-0123456789abcdef"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SENDER = {"zh": "示例电信", "en": "Example Tel"}


def _agent(seeded: Seeded) -> Access:
    acc = Access(principal=Principal("agent1", Role.AGENT), pseudonyms=Pseudonyms(KEY), begin=seeded.engine.begin,
                 lake=seeded.app.lake, now=NOW)
    acc.assign(ALICE, kind="complaint", reference_id="cmp-1")
    return acc


def _sent(outbox_dir: Path) -> list[dict[str, str]]:
    path = outbox_dir / "messages.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_a_refund_retry_queues_the_sms_its_first_request_did_not(seeded: Seeded, tmp_path: Path) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert().values(
            finding_id="fnd-retry", kind="unconsented_charge", msisdn=ALICE, subscription_id="sub-a1", record_ids=["r-3"],
            amount_minor=1000, currency="CNY", status="open", evidence={"source": "canonical", "offer_id": "vas-music-10"},
            detected_at=NOW, resolved_at=None, resolved_by=None, resolution=None))
    # the first request: its refund committed, its SMS never written (as a request stopped between the two leaves it)
    acc = _agent(seeded)
    first = refund_finding(acc, "fnd-retry", outbox=None, sender=SENDER)
    acc.end(None)
    assert first.outcome == "refunded" and first.adjustment is not None
    outbox_dir = tmp_path / "outbox"
    assert _sent(outbox_dir) == []

    for _ in range(2):  # the retry, and a second one: refused, the SMS queued once
        acc = _agent(seeded)
        with pytest.raises(ResolutionError) as refused:
            refund_finding(acc, "fnd-retry", outbox=FileOutbox(outbox_dir), sender=SENDER)
        acc.end(refused.value)
        assert refused.value.details == {"adjustment_id": first.adjustment.adjustment_id}
        sent = _sent(outbox_dir)
        assert [(m["message_id"], m["msisdn"], m["kind"], m["finding_id"]) for m in sent] == [
            (stable_id("msg", "refund", first.adjustment.adjustment_id), ALICE, "refund", "fnd-retry")]
        assert sent[0]["text"].startswith("Example Tel: we have refunded 10.00 CNY"), sent[0]["text"]

