"""The console's fraud decision takes the analyst's note and, on a SIM-box or scam case only, "suspend the line":
the line is suspended as the API's decision does it, the note is kept with numbers as pseudonyms, and a case of
another detector offers no suspension."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fairtel_seed import BOB, PASSWORD, Seeded
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions
from fairtel.store import FraudCase, Subscriber
from fairtel.store._schema import table_of
from fairtel.web import create_console

SIMBOX = "case-gap-simbox"


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FraudCase).insert(), [
            {"case_id": SIMBOX, "detector": "simbox", "msisdn": BOB, "score": 0.97, "status": "open", "evidence": {"calls_out": 400},
             "opened_at": datetime(2026, 11, 2, 9, 0, tzinfo=UTC), "decided_by": None, "decided_at": None},
        ])
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def _login(c: TestClient, user: str) -> None:
    c.cookies.clear()
    assert c.post("/login", data={"username": user, "password": PASSWORD}, follow_redirects=False).status_code == 303


def _row(html: str, case_id: str) -> str:
    m = re.search(rf'<tr id="case-{case_id}">(.*?)</tr>', html, re.S)
    assert m, case_id
    return m.group(1)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


def test_suspension_is_offered_for_simbox_cases_only(web: TestClient) -> None:
    _login(web, "fraud1")
    web.get("/lang/zh?next=/fraud")
    zh = web.get("/fraud").text
    assert 'name="suspend"' in _row(zh, SIMBOX) and "停机" in _row(zh, SIMBOX) and 'name="note"' in _row(zh, SIMBOX)
    assert 'name="suspend"' not in _row(zh, "case-1") and 'name="note"' in _row(zh, "case-1")  # Wangiri: the caller is not ours
    web.get("/lang/en?next=/fraud")
    assert "Suspend the line" in _row(web.get("/fraud").text, SIMBOX)


def test_a_confirmed_simbox_case_suspends_the_line_with_the_note(web: TestClient, seeded: Seeded) -> None:
    _login(web, "fraud1")
    page = web.get("/fraud").text
    r = web.post(f"/fraud/{SIMBOX}/decide", follow_redirects=False,
                 data={"csrf": _csrf(page), "status": "confirmed", "note": f"owner reached on {BOB}", "suspend": "1"})
    assert r.status_code == 303 and r.headers["location"] == "/fraud?msg=decided_suspended_ok", r.text
    with seeded.engine.connect() as conn:
        status = conn.execute(select(table_of(Subscriber).c.status).where(table_of(Subscriber).c.msisdn == BOB)).scalar_one()
        case = conn.execute(select(table_of(FraudCase)).where(table_of(FraudCase).c.case_id == SIMBOX)).one()
    assert status == "suspended" and case.status == "confirmed"
    note = case.evidence["history"][-1]["note"]
    assert note.startswith("owner reached on ") and BOB not in note and case.evidence["history"][-1]["suspend"] is True
    web.get("/lang/en?next=/fraud")
    assert "the line is suspended" in web.get("/fraud?msg=decided_suspended_ok").text


def test_a_false_alarm_suspends_nothing_and_keeps_the_note(web: TestClient, seeded: Seeded) -> None:
    _login(web, "fraud1")
    page = web.get("/fraud").text
    r = web.post("/fraud/case-1/decide", follow_redirects=False,
                 data={"csrf": _csrf(page), "status": "false_alarm", "note": "callbacks were a survey", "suspend": "1"})
    assert r.status_code == 303 and r.headers["location"] == "/fraud?msg=decided_ok", r.text
    with seeded.engine.connect() as conn:
        case = conn.execute(select(table_of(FraudCase)).where(table_of(FraudCase).c.case_id == "case-1")).one()
    assert case.status == "false_alarm" and case.evidence["history"][-1]["note"] == "callbacks were a survey"
