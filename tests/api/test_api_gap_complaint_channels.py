"""Which channel a complaint filed through the API carries: a subscriber files through the console or the app
only (an appeal the regulator transferred, 申诉, is the desk's to record, and the regulator's figures count it);
an agent's complaint came by the hotline unless the agent says otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from fairtel_seed import ALICE, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fairtel.store import Complaint
from fairtel.store._schema import table_of


def _complaints(seeded: Seeded, msisdn: str) -> int:
    t = table_of(Complaint)
    with seeded.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(t).where(t.c.msisdn == msisdn)) or 0)


def _problem(r: Any) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    (problem,) = r.json()["error"]["details"]["problems"]
    return dict(problem)


@pytest.mark.parametrize("channel", ["regulator", "hotline", "store", "phone", "chat", "email"])
def test_a_subscriber_cannot_file_through_a_desk_channel(client: TestClient, tokens: dict[str, str], seeded: Seeded,
                                                         channel: str) -> None:
    alice = auth(tokens["alice"])
    before = _complaints(seeded, ALICE)
    body = {"category": "unexplained_charge", "text": "扣了我10元", "channel": channel}
    problem = _problem(client.post("/api/v1/complaints", json=body, headers=alice))
    assert problem["field"] == "channel" and channel in problem["message"]
    assert _complaints(seeded, ALICE) == before


@pytest.mark.parametrize(("given", "stored"), [(None, "web"), ("web", "web"), ("app", "app")])
def test_a_subscriber_files_through_the_console_or_the_app(client: TestClient, tokens: dict[str, str],
                                                            given: str | None, stored: str) -> None:
    body = {"category": "price", "text": "too dear", **({"channel": given} if given else {})}
    r = client.post("/api/v1/complaints", json=body, headers=auth(tokens["alice"]))
    assert r.status_code == 201, r.text
    assert r.json()["channel"] == stored


@pytest.mark.parametrize(("given", "stored"), [(None, "hotline"), ("store", "store"), ("regulator", "regulator")])
def test_an_agents_complaint_came_by_the_hotline_unless_said(client: TestClient, tokens: dict[str, str],
                                                              given: str | None, stored: str) -> None:
    body = {"category": "billing_error", "text": "caller says bill wrong", "msisdn": ALICE,
            **({"channel": given} if given else {})}
    r = client.post("/api/v1/complaints", json=body, headers=auth(tokens["agent1"]))
    assert r.status_code == 201, r.text
    assert r.json()["channel"] == stored
