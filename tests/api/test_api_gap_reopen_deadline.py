"""Reopening through the API gives the complaint a new deadline from the reopening: it is not overdue at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairtel_seed import ALICE, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.care import ComplaintStatus
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, get_complaint, move_complaint, open_complaint


def test_a_complaint_reopened_long_after_its_deadline_is_due_from_the_reopening(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    opened = datetime.now(UTC) - timedelta(days=20)
    desk = AuditAs("desk-1", "agent", Pseudonymizer("k" * 32, domain="msisdn"))
    with seeded.engine.begin() as conn:
        cid = open_complaint(conn, msisdn=ALICE, category="unexplained_charge", text="a horoscope charge", at=opened,
                             audit=desk).complaint_id
        move_complaint(conn, cid, ComplaintStatus.RESOLVED, at=opened + timedelta(hours=3), audit=desk, note="refunded")
    before = datetime.now(UTC)
    r = client.post(f"/api/v1/complaints/{cid}/reopen", json={"note": "charged again"}, headers=auth(tokens["alice"]))
    assert r.status_code == 200, r.text
    out = r.json()
    due = datetime.fromisoformat(out["due_at"])
    assert out["lifecycle"] == "reopened" and out["overdue"] is False and out["escalation_level"] == 0
    assert before + timedelta(hours=48) <= due <= datetime.now(UTC) + timedelta(hours=48)  # 48 h from the reopening
    assert datetime.fromisoformat(out["opened_at"]) == opened  # still first opened then
    history = client.get(f"/api/v1/complaints/{cid}/history", headers=auth(tokens["alice"])).json()
    assert [(e["status"], e["note"]) for e in history["events"]] == [
        ("opened", None), ("resolved", "refunded"), ("reopened", "charged again")]
    with seeded.engine.connect() as conn:
        assert get_complaint(conn, cid).first_due_at == opened + timedelta(hours=48)
