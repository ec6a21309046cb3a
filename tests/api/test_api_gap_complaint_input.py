"""What POST /complaints and other requests refuse, and how (docs/api.md): every 422 ``input_invalid`` lists its
problems as objects with a field and a message; a complaint whose words are only spaces is refused; a subscriber
naming another line in ``msisdn`` (the customer's number, for agents) is refused, not silently filed on their own."""

from __future__ import annotations

from typing import Any

from fairtel_seed import ALICE, BOB, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, Complaint
from fairtel.store._schema import table_of


def _complaints(seeded: Seeded, msisdn: str) -> int:
    t = table_of(Complaint)
    with seeded.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(t).where(t.c.msisdn == msisdn)) or 0)


def _problems(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "input_invalid", error
    problems = error["details"]["problems"]
    assert all(isinstance(p, dict) and isinstance(p["field"], str) and isinstance(p["message"], str) for p in problems), problems
    return list(problems)


def test_problems_raised_by_the_service_are_objects_with_field_and_message(client: TestClient, tokens: dict[str, str]) -> None:
    alice, agent = auth(tokens["alice"]), auth(tokens["agent1"])
    (offer,) = _problems(client.post("/api/v1/me/subscriptions", json={"offer_id": "nope"}, headers=alice))
    assert offer == {"field": "offer_id", "message": "no offer 'nope' in the catalog"}
    (category,) = _problems(client.post("/api/v1/complaints", json={"category": "sideways", "text": "odd"}, headers=alice))
    assert category["field"] == "category" and "sideways" in category["message"]
    (number,) = _problems(client.post("/api/v1/complaints", json={"category": "price", "text": "too dear"}, headers=agent))
    assert number == {"field": "msisdn", "message": "the customer's number is required"}
    (cursor,) = _problems(client.get("/api/v1/complaints", params={"cursor": "not-a-cursor"}, headers=alice))
    assert cursor["field"] == "cursor"
    # the request's own validation answers in the same shape
    (text,) = _problems(client.post("/api/v1/complaints", json={"category": "price", "text": ""}, headers=alice))
    assert text["field"] == "text"


def test_a_complaint_of_only_spaces_is_refused(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    alice = auth(tokens["alice"])
    before = _complaints(seeded, ALICE)
    for blank in (" ", "   ", "\n\t \u3000"):
        (problem,) = _problems(client.post("/api/v1/complaints", json={"category": "price", "text": blank}, headers=alice))
        assert problem["field"] == "text" and "empty" in problem["message"]
    assert _complaints(seeded, ALICE) == before
    filed = client.post("/api/v1/complaints", json={"category": "price", "text": "  too dear  "}, headers=alice)
    assert filed.status_code == 201 and filed.json()["text"] == "too dear", filed.text


def test_a_subscriber_naming_another_line_is_refused(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    alice = auth(tokens["alice"])
    mine, theirs = _complaints(seeded, ALICE), _complaints(seeded, BOB)
    r = client.post("/api/v1/complaints", json={"category": "price", "text": "too dear", "msisdn": BOB},
                    headers={**alice, "X-Request-Id": "complaint-for-another-line"})
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["code"] == "permission_denied" and "own line" in error["message"] and error["details"] == {"field": "msisdn"}
    assert BOB not in r.text
    assert (_complaints(seeded, ALICE), _complaints(seeded, BOB)) == (mine, theirs)  # filed on no line
    with seeded.engine.connect() as conn:
        denied = conn.execute(select(AccessAudit.action, AccessAudit.subject_msisdn_pseudonym)
                              .where(AccessAudit.request_id.like("%~complaint-for-another-line"))).all()
    assert [tuple(d) for d in denied] == [("access.denied", Pseudonymizer(seeded.settings.secret_key.get_secret_value())(BOB))]
    # their own number, or none, files on their own line
    for body in ({"msisdn": ALICE}, {}):
        ok = client.post("/api/v1/complaints", json={"category": "price", "text": "too dear", **body}, headers=alice)
        assert ok.status_code == 201 and ok.json()["msisdn"] == ALICE, ok.text
    assert _complaints(seeded, ALICE) == mine + 2
