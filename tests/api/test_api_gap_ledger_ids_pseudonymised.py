"""A complaint's ``adjustment_id`` as a role that does not see the line's number reads it. Some ledger ids are
derived from the number without a key (a care credit's from its bill's id, itself a hash of number and period), so
an analyst given the stored id could walk it back to the number by trying every number of a block. Shown to such a
role as a keyed pseudonym (``x…``, stable, unlinkable to the number's ``p…``); as stored to whoever sees the number.
Before: the stored id, to analysts too."""

from __future__ import annotations

from datetime import UTC, datetime

from fairtel_seed import ALICE, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import update

from fairtel.store import Adjustment, Complaint
from fairtel.store._schema import table_of

ADJ = "adj_care_8613800138000_2026-03_goodwill"


def test_an_analyst_reads_a_complaints_refund_id_as_a_pseudonym(
        client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    r = client.post("/api/v1/complaints", json={"category": "billing_error", "text": "charged twice"},
                    headers=auth(tokens["alice"]))
    assert r.status_code == 201, r.text
    cid = r.json()["complaint_id"]
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Adjustment).insert().values(
            adjustment_id=ADJ, kind="credit", msisdn=ALICE, amount_minor=500, currency="CNY", reason="care-credit",
            created_at=datetime(2026, 4, 2, tzinfo=UTC), created_by="agent1"))
        conn.execute(update(table_of(Complaint)).where(table_of(Complaint).c.complaint_id == cid).values(adjustment_id=ADJ))

    def listed(who: str) -> str | None:
        page = client.get("/api/v1/complaints", headers=auth(tokens[who]))
        assert page.status_code == 200, page.text
        mine = [c for c in page.json()["items"] if c["adjustment_id"] is not None]
        assert len(mine) == 1, page.json()
        return str(mine[0]["adjustment_id"])

    shown = listed("analyst1")
    assert shown != ADJ and shown.startswith("x") and "8613800138000" not in shown
    assert listed("analyst1") == shown  # stable: an analyst can still join two reads
    assert listed("alice") == ADJ  # the subscriber sees her own as stored
