"""The credit amount an agent types on the desk follows the roaming cap's rule: spaces around it and an input
method's full-width digits and point (１．５０) are the amount. It was told "enter digits" for digits it typed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from console_forms import csrf, login, row_of
from fairtel_seed import ALICE, BILL_A, Seeded
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions
from fairtel.store import Adjustment
from fairtel.store._schema import table_of
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def test_a_full_width_credit_amount_is_the_amount(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "zh")
    desk = web.get("/desk").text
    assert web.post("/desk/cmp-1/take", data={"csrf": csrf(desk)}, follow_redirects=False).status_code == 303
    desk = web.get("/desk").text
    key = re.search(r'name="key" value="([^"]+)"', row_of(desk, "complaint-cmp-1"))
    assert key
    r = web.post("/desk/cmp-1/resolve", data={"csrf": csrf(desk), "note": "已核实，退还该笔费用", "amount": " １．５０ ",
                                              "bill_id": BILL_A, "key": key.group(1)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk?msg=credited_ok", r.text
    a = table_of(Adjustment)
    with seeded.engine.connect() as conn:
        rows = conn.execute(select(a.c.amount_minor).where(a.c.msisdn == ALICE, a.c.kind == "credit")).all()
    assert [abs(row.amount_minor) for row in rows] == [150]
