"""Record ids in findings are the switch's, not personal data: the agent handling the customer reads them as stored
(they read ``v00000*0226`` for ``v0000000226``, and could not look the record up); others read the numbers in an
id as they may see numbers, the same in every response."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

SWITCH_ID, REPEATED = "v0000000226", "v0000000225"  # a VAS gateway's sequence: ten digits, no one's number
CHANNEL_ID = f"SIP/{ALICE}-0000001a"  # an Asterisk channel: the caller's number


@pytest.fixture(scope="module")
def vas_finding(seeded: Seeded) -> None:
    now = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert(), [{
            "finding_id": "fnd-vas", "kind": "duplicate_charge", "msisdn": ALICE, "subscription_id": "sub-a1", "record_ids": [SWITCH_ID, CHANNEL_ID],
            "amount_minor": 600, "currency": "CNY", "status": "open", "detected_at": now, "resolved_at": None, "resolved_by": None,
            "resolution": None, "evidence": {"duplicate_of": REPEATED, "source": "spgw-01", "verdict": "duplicate_charge"},
        }])


def listed(client: TestClient, token: str) -> dict[str, object]:
    r = client.get("/api/v1/findings", params={"limit": 500}, headers=auth(token))
    assert r.status_code == 200, r.text
    return next(f for f in r.json()["items"] if f["finding_id"] == "fnd-vas")


def test_the_agent_handling_the_customer_reads_record_ids_as_stored(client: TestClient, tokens: dict[str, str], vas_finding: None) -> None:
    agent = auth(tokens["agent1"])
    assert client.post("/api/v1/complaints/cmp-1/take", headers=agent).status_code == 200
    r = client.get("/api/v1/findings/fnd-vas", headers=agent)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["record_ids"] == [SWITCH_ID, CHANNEL_ID] and got["evidence"]["duplicate_of"] == REPEATED
    assert listed(client, tokens["agent1"])["record_ids"] == [SWITCH_ID, CHANNEL_ID]


def test_other_readers_see_the_numbers_in_record_ids_as_they_see_numbers(
    client: TestClient, tokens: dict[str, str], vas_finding: None
) -> None:
    made = client.post("/api/v1/users", json={"username": "agent-other", "password": PASSWORD, "role": "agent"}, headers=auth(tokens["admin1"]))
    assert made.status_code == 201, made.text
    other = client.post("/api/v1/auth/token", data={"username": "agent-other", "password": PASSWORD}).json()["access_token"]
    for token in (other, tokens["analyst1"]):  # an agent not handling Alice (masked), an analyst (pseudonyms)
        r = client.get("/api/v1/findings/fnd-vas", headers=auth(token))
        assert r.status_code == 200, r.text
        got = r.json()
        assert ALICE not in r.text and SWITCH_ID not in r.text and REPEATED not in r.text
        assert got["record_ids"][0].startswith("v") and got["record_ids"][1].startswith("SIP/")
        assert listed(client, token)["record_ids"] == got["record_ids"]  # the same id reads the same in every response
    analyst = client.get("/api/v1/findings/fnd-1", headers=auth(tokens["analyst1"])).json()
    assert analyst["record_ids"] == ["r-4"]  # an id without a number is shown as it is
