"""Ids that hold a subscriber's number, complaint moves in the request's audit, probes of numbers that are no
customer's, takeovers of a complaint, coarse activation dates and third parties' numbers in free text.

- An imported complaint id (``cmp-8613800138000-01``) or a consent order id (``ord-8613900139000-0917``) reads to
  each role as that role may see the number in it: pseudonymised to analysts and admins, masked to an agent not
  handling the customer, as stored to the agent handling them. The id as read names the complaint on the desk.
  The audit keeps the number as its pseudonym, in the resource and in the reason.
- Take, acknowledge, resolve, close and reopen write their rows through the request's audit: request id, the API
  key a request was made with.
- Filing a complaint for a number that is no customer's answers 404 and is on record (``access.denied``).
- A second agent may take a complaint a colleague handles; the takeover is on record.
- A pseudonymised or masked subscriber row carries the month of activation only.
- A third party's number in a complaint's words or a ticket's note reads masked to the agent handling the customer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.care import TicketRequest
from fairtel.privacy import Pseudonymizer, mask_msisdn
from fairtel.store import AccessAudit, AuditAs, StoreCareData, move_complaint, open_complaint
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

KEY = "test-secret-key-0123456789abcdef"
CARE_ID = f"cmp-{ALICE}-01"  # a complaint id a CRM made from the subscriber's number
TAKEN_ID = f"cmp-{CAROL}-02"
ORDER_ID = f"ord-{BOB}-0917"
THIRD_PARTY = "13912345678"  # written as dialled at home: 8613912345678
NOBODY = "8613599999999"
OPENED = datetime(2026, 10, 20, 4, 33, tzinfo=UTC)


def pseudonym(msisdn: str) -> str:
    return Pseudonymizer(KEY, domain="msisdn")(msisdn)


def holds_a_number(text: str | None, *numbers: str) -> bool:
    return text is not None and any(n in text or n[2:] in text for n in numbers)


def token(client: TestClient, username: str) -> str:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def rows_of(seeded: Seeded, request_id: str) -> list[dict[str, Any]]:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).where(t.c.request_id.like(f"%{request_id}")).order_by(t.c.audit_id))]


def all_rows(seeded: Seeded) -> list[dict[str, Any]]:
    with seeded.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table_of(AccessAudit)))]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def desk(seeded: Seeded, client: TestClient, tokens: dict[str, str]) -> Iterator[dict[str, str]]:
    """Complaints imported with ids holding their subscriber's number, a finding naming an order id that holds one,
    and two more agents."""
    with seeded.engine.begin() as conn:
        for cid, msisdn in ((CARE_ID, ALICE), (TAKEN_ID, CAROL)):
            open_complaint(conn, msisdn=msisdn, category="billing", text=f"called back on {THIRD_PARTY}, my line {msisdn[2:]}",
                           at=OPENED, audit=None, channel="hotline", complaint_id=cid)
        conn.execute(table_of(FindingRow).insert().values(
            finding_id="fnd-order", kind="unconsented_charge", msisdn=BOB, subscription_id=ORDER_ID, record_ids=["r-1"],
            amount_minor=500, currency="CNY", status="open", evidence={}, detected_at=OPENED))
    for name in ("deskagent2", "deskagent3"):
        r = client.post("/api/v1/users", json={"username": name, "password": PASSWORD, "role": "agent"}, headers=auth(tokens["admin1"]))
        assert r.status_code == 201, r.text
    yield {name: token(client, name) for name in ("deskagent2", "deskagent3")}


def complaint_listed(client: TestClient, tok: str, msisdn_shown: str) -> dict[str, Any]:
    r = client.get("/api/v1/complaints?limit=500", headers=auth(tok))
    assert r.status_code == 200, r.text
    found = [c for c in r.json()["items"] if c["msisdn"] == msisdn_shown and c["channel"] == "hotline"]
    assert len(found) == 1, found
    return dict(found[0])


@pytest.mark.parametrize("user", ["analyst1", "admin1", "fraud1"])
def test_an_id_holding_the_number_reads_pseudonymised_to_roles_that_see_pseudonyms(
    client: TestClient, tokens: dict[str, str], desk: dict[str, str], user: str
) -> None:
    c = complaint_listed(client, tokens[user], pseudonym(ALICE))
    assert c["complaint_id"] == f"cmp-{pseudonym(ALICE)}-01"
    assert not holds_a_number(c["complaint_id"], ALICE)


def test_an_id_holding_the_number_reads_masked_to_an_agent_not_handling_the_customer(
    client: TestClient, desk: dict[str, str]
) -> None:
    c = complaint_listed(client, desk["deskagent3"], mask_msisdn(ALICE))
    assert c["complaint_id"] == f"cmp-{mask_msisdn(ALICE)}-01"


def test_an_order_id_holding_the_number_reads_as_the_reader_sees_numbers(client: TestClient, tokens: dict[str, str],
                                                                         desk: dict[str, str]) -> None:
    r = client.get("/api/v1/findings/fnd-order", headers=auth(tokens["analyst1"]))
    assert r.status_code == 200, r.text
    assert r.json()["subscription_id"] == f"ord-{pseudonym(BOB)}-0917"
    r = client.get("/api/v1/findings/fnd-order", headers=auth(desk["deskagent3"]))
    assert r.json()["subscription_id"] == f"ord-{mask_msisdn(BOB)}-0917"


def test_the_admin_supervises_by_the_id_as_read_and_the_audit_keeps_no_number(
    client: TestClient, tokens: dict[str, str], desk: dict[str, str], seeded: Seeded
) -> None:
    shown = f"cmp-{pseudonym(ALICE)}-01"
    r = client.get(f"/api/v1/complaints/{shown}/history", headers={**auth(tokens["admin1"]), "X-Request-ID": "ids-admin-history"})
    assert r.status_code == 200, r.text
    assert r.json()["complaint"]["complaint_id"] == shown
    rows = rows_of(seeded, "ids-admin-history")
    assert [x["action"] for x in rows] == ["complaint.history"]
    assert rows[0]["resource"] == f"complaint/{shown}" and rows[0]["subject_msisdn_pseudonym"] == pseudonym(ALICE)
    # another agent's masked id names nothing for the admin, who reads pseudonyms
    masked = f"cmp-{mask_msisdn(ALICE)}-01"
    assert client.get(f"/api/v1/complaints/{masked}/history", headers=auth(tokens["admin1"])).status_code == 404


def test_an_agent_takes_by_the_masked_id_and_then_reads_it_as_stored(
    client: TestClient, desk: dict[str, str], seeded: Seeded
) -> None:
    masked = f"cmp-{mask_msisdn(ALICE)}-01"
    r = client.post(f"/api/v1/complaints/{masked}/take", headers={**auth(desk["deskagent2"]), "X-Request-ID": "ids-take"})
    assert r.status_code == 200, r.text
    assert r.json()["reference_id"] == CARE_ID and r.json()["msisdn"] == ALICE
    rows = rows_of(seeded, "ids-take")
    assert {x["action"] for x in rows} == {"assignment.start", "complaint.acknowledge"}
    for x in rows:
        assert not holds_a_number(x["resource"], ALICE) and not holds_a_number(x["reason"], ALICE), x
        assert x["request_id"] and x["subject_msisdn_pseudonym"] == pseudonym(ALICE)
    assert complaint_listed(client, desk["deskagent2"], ALICE)["complaint_id"] == CARE_ID
    # the customer's number in the words reads plain to the agent handling them; the third party's masked
    text = complaint_listed(client, desk["deskagent2"], ALICE)["text"]
    assert text == f"called back on {mask_msisdn('86' + THIRD_PARTY)}, my line {ALICE}"


def test_complaint_moves_through_an_api_key_are_marked_and_carry_the_request_id(
    client: TestClient, tokens: dict[str, str], desk: dict[str, str], seeded: Seeded
) -> None:
    r = client.post("/api/v1/users/deskagent3/api-keys", json={"label": "crm"}, headers=auth(tokens["admin1"]))
    assert r.status_code == 201, r.text
    key_id, key = r.json()["key_id"], r.json()["key"]
    shown = complaint_listed(client, desk["deskagent3"], mask_msisdn(CAROL))["complaint_id"]
    assert shown == f"cmp-{mask_msisdn(CAROL)}-02"
    steps = [("take", "ids-key-take", "complaint.acknowledge"), ("resolve", "ids-key-resolve", "complaint.resolve"),
             ("close", "ids-key-close", "complaint.close"), ("reopen", "ids-key-reopen", "complaint.reopen")]
    for step, request_id, action in steps:
        r = client.post(f"/api/v1/complaints/{shown if step == 'take' else TAKEN_ID}/{step}", json={"note": "called"} if step != "take" else None,
                        headers={"X-API-Key": key, "X-Request-ID": request_id})
        assert r.status_code == 200, (step, r.text)
        moved = [x for x in rows_of(seeded, request_id) if x["action"] == action]
        assert len(moved) == 1, (step, rows_of(seeded, request_id))
        row = moved[0]
        assert row["request_id"] and row["reason"].endswith(f"(via api_key {key_id})"), row
        assert row["resource"] == f"complaint/cmp-{pseudonym(CAROL)}-02"
        assert not holds_a_number(row["reason"], CAROL)


def test_a_second_agent_may_take_a_complaint_a_colleague_handles_and_it_is_on_record(
    client: TestClient, tokens: dict[str, str], desk: dict[str, str], seeded: Seeded
) -> None:
    r = client.post("/api/v1/complaints", json={"category": "billing", "text": "charged twice", "channel": "phone", "msisdn": BOB},
                    headers=auth(tokens["agent1"]))
    assert r.status_code == 201, r.text
    cid = r.json()["complaint_id"]
    r = client.post(f"/api/v1/complaints/{cid}/take", headers={**auth(desk["deskagent3"]), "X-Request-ID": "ids-takeover"})
    assert r.status_code == 200, r.text
    taken = [x for x in rows_of(seeded, "ids-takeover") if x["action"] == "complaint.take"]
    assert len(taken) == 1 and taken[0]["reason"] == "taken while handled by agent1"
    assert taken[0]["subject_msisdn_pseudonym"] == pseudonym(BOB)


def test_filing_for_a_number_that_is_no_customers_is_on_record(client: TestClient, tokens: dict[str, str],
                                                                 seeded: Seeded) -> None:
    r = client.post("/api/v1/complaints", json={"category": "billing", "text": "who is this", "channel": "phone", "msisdn": NOBODY},
                    headers={**auth(tokens["agent1"]), "X-Request-ID": "ids-probe"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    rows = rows_of(seeded, "ids-probe")
    assert len(rows) == 1, rows
    assert rows[0]["action"] == "access.denied" and rows[0]["subject_msisdn_pseudonym"] == pseudonym(NOBODY)
    assert rows[0]["actor"] == "agent1" and not holds_a_number(rows[0]["reason"], NOBODY)


def test_the_audit_never_holds_the_numbers_the_ids_hold(client: TestClient, tokens: dict[str, str], desk: dict[str, str],
                                                        seeded: Seeded) -> None:
    # the id as stored names the complaint too
    assert client.get(f"/api/v1/complaints/{CARE_ID}/history", headers=auth(tokens["admin1"])).status_code == 200
    for x in all_rows(seeded):
        for field in ("resource", "reason"):
            assert not holds_a_number(x[field], ALICE, CAROL), x


def test_pseudonymised_and_masked_subscriber_rows_carry_the_month_of_activation(client: TestClient, tokens: dict[str, str]) -> None:
    for user, shown in (("analyst1", pseudonym(ALICE)), ("agent1", mask_msisdn(ALICE))):
        r = client.get("/api/v1/subscribers?limit=500", headers=auth(tokens[user]))
        assert r.status_code == 200, r.text
        row = next(s for s in r.json()["items"] if s["msisdn"] == shown)
        assert row["activated_at"].startswith("2025-01-01T00:00:00"), row  # activated 2025-01-05T10:00:00+08:00
    me = client.get("/api/v1/me", headers=auth(tokens["alice"])).json()
    assert me["activated_at"].startswith("2025-01-05T02:00:00")


def test_a_third_partys_number_in_a_ticket_note_reads_masked(client: TestClient, desk: dict[str, str], seeded: Seeded) -> None:
    port = StoreCareData(seeded.engine, seeded.settings.lake_dir, seeded.catalog)
    ticket_id = port.open_ticket(BOB, TicketRequest("no_signal", "home", "yesterday", "no_signal at home since yesterday"))
    agent = desk["deskagent2"]
    assert client.post(f"/api/v1/tickets/{ticket_id}/take", headers=auth(agent)).status_code == 200
    r = client.post(f"/api/v1/tickets/{ticket_id}/notes", json={"note": f"rang {THIRD_PARTY}, then {BOB}"}, headers=auth(agent))
    assert r.status_code == 201, r.text
    assert r.json()["note"] == f"rang {mask_msisdn('86' + THIRD_PARTY)}, then {BOB}"
    notes = client.get(f"/api/v1/tickets/{ticket_id}/transcript", headers=auth(agent)).json()["notes"]
    assert notes[-1]["note"] == f"rang {mask_msisdn('86' + THIRD_PARTY)}, then {BOB}"


def test_the_command_lines_complaint_rows_keep_the_id_as_its_pseudonym(seeded: Seeded, desk: dict[str, str]) -> None:
    """A move written by the store itself (the command line's desk) keeps the number the id holds as its pseudonym."""
    with seeded.engine.begin() as conn:
        move_complaint(conn, CARE_ID, "resolved", at=datetime.now(UTC), note="refunded",
                       audit=AuditAs("care-desk", "system", Pseudonymizer(KEY, domain="msisdn"), reason="care desk"))
    rows = [x for x in all_rows(seeded) if x["action"] == "complaint.resolve" and x["actor"] == "care-desk"]
    assert [x["resource"] for x in rows] == [f"complaint/cmp-{pseudonym(ALICE)}-01"]
