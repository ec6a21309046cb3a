"""The access audit, written through the API: a complaint id with 7 digits (``cmp-0000099``) is recorded as it is
called, so a read can be tied to the complaint that justified it; a fraud analyst's note keeps no ID-card or
bank-card number and no phone number in any notation, and a subscriber's number written the way people write it
(``137 0013 7000``, ``137.0013.7000``) is filed under the same pseudonym as the case's subject. On SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fairtel_seed import ALICE, CAROL, PASSWORD, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.privacy import ID_NUMBER_MARK, Pseudonymizer
from fairtel.store import AccessAudit, Complaint
from fairtel.store._schema import table_of

COMPLAINT = "cmp-0000099"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from seeded_on("sqlite", tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with seeded.engine.begin() as conn:
        conn.execute(
            table_of(Complaint).insert(),
            [
                {
                    "complaint_id": COMPLAINT,
                    "msisdn": ALICE,
                    "category": "billing",
                    "opened_at": datetime(2026, 11, 1, tzinfo=UTC),
                    "closed_at": None,
                    "status": "open",
                    "channel": "phone",
                    "text": "bill too high",
                },
            ],
        )
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)) as c:
        yield c


def _login(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def _rows(seeded: Seeded, actor: str) -> list[tuple[str, str, str | None, str | None]]:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return [
            (r.action, r.resource, r.reason, r.subject_msisdn_pseudonym)
            for r in conn.execute(select(t).where(t.c.actor == actor).order_by(t.c.audit_id))
        ]


def test_a_complaint_id_is_recorded_as_it_is_called(client: TestClient, seeded: Seeded) -> None:
    agent = _login(client, "agent1")
    assert client.post(f"/api/v1/complaints/{COMPLAINT}/take", headers=agent).status_code in (200, 201)
    assert client.get(f"/api/v1/complaints/{COMPLAINT}/history", headers=agent).status_code == 200
    assert client.get(f"/api/v1/subscribers/{ALICE}", headers=agent).status_code == 200
    rows = _rows(seeded, "agent1")
    text = " ".join(f"{resource} {reason or ''}" for _, resource, reason, _ in rows)
    assert "cmp-p" not in text and ALICE not in text
    actions = {a for a, *_ in rows}
    assert {"assignment.start", "complaint.history", "subscriber.read"} <= actions
    for action, resource, reason, _ in rows:
        if action in ("assignment.start", "complaint.history", "complaint.acknowledge"):
            assert COMPLAINT in f"{resource} {reason}", (action, resource, reason)
        if action == "subscriber.read":
            assert reason and COMPLAINT in reason, reason  # the read names the complaint that justified it


def test_a_note_keeps_no_id_card_card_or_clear_number_and_names_the_subject_once(
    client: TestClient, seeded: Seeded
) -> None:
    fraud = _login(client, "fraud1")
    note = (
        "caller is 137 0013 7000 / 137.0013.7000 / １３７００１３７０００ / +86-137-0013-7000, "
        "ID 11010519491231002X, card 4111 1111 1111 1111"
    )
    r = client.post("/api/v1/fraud/cases/case-1/decide", headers=fraud, json={"status": "false_alarm", "note": note})
    assert r.status_code == 200, r.text
    decided = [
        (reason, subject) for action, _, reason, subject in _rows(seeded, "fraud1") if action == "fraud_case.decide"
    ]
    assert len(decided) == 1
    reason, subject = decided[0]
    p = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")
    assert subject == p(CAROL)
    assert reason is not None
    for clear in ("11010519491231002X", "4111", "137.0013.7000", "1370013", "0013"):
        assert clear not in reason, (clear, reason)
    assert reason.count(p(CAROL)) == 4, reason  # every notation of Carol's number is Carol's pseudonym
    assert ID_NUMBER_MARK in reason
