"""The care desk takes a complaint whose imported id holds the customer's number: the desk shows the id masked,
the take is made by that id and lands on the customer's page (the console looked the assignment up by the id as
shown, found none and failed the take)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from console_forms import csrf, login
from fairtel_seed import ALICE, Seeded
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions
from fairtel.privacy import mask_msisdn
from fairtel.store import AgentAssignment, open_complaint
from fairtel.store._schema import table_of
from fairtel.web import create_console

COMPLAINT_ID = f"cmp-{ALICE}-07"


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with seeded.engine.begin() as conn:
        open_complaint(conn, msisdn=ALICE, category="billing", text="charged twice", at=datetime(2026, 11, 2, 9, tzinfo=UTC),
                       audit=None, channel="hotline", complaint_id=COMPLAINT_ID)
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def test_the_desk_takes_a_complaint_by_its_masked_id(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "en")
    desk = web.get("/desk").text
    shown = f"cmp-{mask_msisdn(ALICE)}-07"
    assert shown in desk and COMPLAINT_ID not in desk
    taken = web.post(f"/desk/{quote(shown)}/take", data={"csrf": csrf(desk)}, follow_redirects=False)
    assert taken.status_code == 303, taken.text
    assert taken.headers["location"] == f"/customers/{ALICE}"
    a = table_of(AgentAssignment)
    with seeded.engine.connect() as conn:
        refs = set(conn.scalars(select(a.c.reference_id).where(a.c.agent == "agent1", a.c.msisdn == ALICE)))
    assert COMPLAINT_ID in refs
