"""The console's ticket queue: an agent sees the hand-offs and fault reports the assistant opened (masked until
handled), takes one, reads the conversation it carries and resolves or closes it with a note, in zh and en;
analysts see pseudonyms and no words. Without a browser, and in Debian's chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from console_forms import csrf
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions
from fairtel.privacy import mask_msisdn
from fairtel.store import AccessAudit, TroubleTicket
from fairtel.store._schema import table_of
from fairtel.web import create_console

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CHAT = "chat chat_01web\nuser: 我的账单不对\nassistant: 请问您要查询哪个月的账单？\nuser: 转人工"


@pytest.fixture(scope="module")
def tickets(seeded: Seeded) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(TroubleTicket).insert(), [
            {"ticket_id": "tkt-web-1", "msisdn": ALICE, "region": "Shanghai", "category": "agent_handoff", "priority": 2,
             "status": "open", "opened_at": AT, "resolved_at": None, "summary": CHAT},
            {"ticket_id": "tkt-web-2", "msisdn": BOB, "region": "Beijing", "category": "slow_data", "priority": 2,
             "status": "open", "opened_at": AT, "resolved_at": None, "summary": "slow_data at 天河区 since 昨天 (reported in chat chat_01b)"},
            {"ticket_id": "tkt-web-3", "msisdn": BOB, "region": "Beijing", "category": "no_signal", "priority": 1,
             "status": "open", "opened_at": AT, "resolved_at": None, "summary": "no_signal at home since today (reported in chat chat_01c)"},
        ])


@pytest.fixture(scope="module")
def web(seeded: Seeded, tickets: None) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def login(c: TestClient, user: str, lang: str = "en") -> None:
    c.cookies.clear()
    r = c.post("/login", data={"username": user, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    c.get(f"/lang/{lang}?next=/")



def test_an_agent_works_a_hand_off_from_the_queue(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "zh")
    queue = web.get("/tickets")
    assert queue.status_code == 200 and 'href="/tickets"' in queue.text and "工单" in queue.text
    row = queue.text[queue.text.index('id="ticket-tkt-web-1"'):]
    row = row[:row.index("</tr>")]
    assert mask_msisdn(ALICE) in row and ALICE not in queue.text and "智能客服转人工" in row
    assert queue.text.index('id="ticket-tkt-web-3"') < queue.text.index('id="ticket-tkt-web-1"')  # urgent first
    assert "紧急" in queue.text
    refused = web.get("/tickets/tkt-web-1")
    assert refused.status_code == 403  # not handling alice yet

    taken = web.post("/tickets/tkt-web-1/take", data={"csrf": csrf(queue.text)}, follow_redirects=False)
    assert taken.status_code == 303 and taken.headers["location"] == "/tickets/tkt-web-1"
    page = web.get("/tickets/tkt-web-1")
    assert page.status_code == 200, page.text
    said = re.findall(r'<span class="said">([^<]*)</span>', page.text)
    assert said == ["我的账单不对", "请问您要查询哪个月的账单？", "转人工"]
    assert "与智能客服的对话" in page.text and f'href="/customers/{ALICE}"' in page.text and "处理中" in page.text
    customer = web.get(f"/customers/{ALICE}")
    assert customer.status_code == 200 and "工单 tkt-web-1" in customer.text  # the assignment it rests on
    with seeded.engine.connect() as conn:
        read = conn.execute(select(AccessAudit).where(AccessAudit.action == "ticket.transcript",
                                                      AccessAudit.resource == "ticket/tkt-web-1")).all()
    assert read and all(ALICE not in (r.reason or "") for r in read)

    done = web.post("/tickets/tkt-web-1/resolve", data={"csrf": csrf(page.text), "note": "已解释账单"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/tickets?msg=ticket_resolved_ok"
    assert "工单已解决。" in web.get(done.headers["location"]).text
    after = web.get("/tickets/tkt-web-1").text
    assert "已解决" in after and "已解释账单" in after
    web.get("/lang/en?next=/")
    assert "The conversation with the assistant" in web.get("/tickets/tkt-web-1").text
    closed = web.post("/tickets/tkt-web-1/close", data={"csrf": csrf(after), "note": ""}, follow_redirects=False)
    assert closed.status_code == 303 and "Ticket closed." in web.get(closed.headers["location"]).text
    everything = web.get("/tickets?status=all").text
    assert 'id="ticket-tkt-web-1"' in everything and 'id="ticket-tkt-web-1"' not in web.get("/tickets").text


def test_a_forged_form_moves_nothing(web: TestClient) -> None:
    login(web, "agent1")
    assert web.post("/tickets/tkt-web-2/take", data={"csrf": "forged"}, follow_redirects=False).status_code == 403


def test_an_analyst_sees_pseudonyms_and_no_words(web: TestClient) -> None:
    login(web, "analyst1")
    page = web.get("/tickets")
    assert page.status_code == 200
    for n in (ALICE, BOB, mask_msisdn(BOB)):
        assert n not in page.text
    assert "天河区" not in page.text and 'action="/tickets/' not in page.text
    assert web.get("/tickets/tkt-web-2").status_code == 403


@pytest.mark.slow
def test_the_agent_takes_and_resolves_a_fault_in_the_browser(browser: Any, live_server: str, tickets: None) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live_server}/login")
    page.fill("#username", "agent1")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url("**/desk")
    page.click("nav a[href='/tickets']")
    page.wait_for_url("**/tickets")
    page.click("#ticket-tkt-web-2 button.take")
    page.wait_for_url("**/tickets/tkt-web-2")
    assert "slow_data at 天河区 since 昨天" in page.inner_text("#ticket-reported")
    page.fill("form[action$='/resolve'] input[name=note]", "cell site restarted")
    page.click("form[action$='/resolve'] button")
    page.wait_for_url("**/tickets?msg=ticket_resolved_ok")
    assert "Ticket resolved." in page.inner_text(".flash")
    context.close()
