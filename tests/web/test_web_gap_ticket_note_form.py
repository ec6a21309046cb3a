"""The console's ticket page takes a note without moving the ticket (``POST /tickets/{id}/note``), on an open ticket
and on a settled one, shown with the agents' notes and never to the subscriber.

Before: the page had no note form and the console no route for one: a note came only with resolving or closing."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fairtel_seed import ALICE, Seeded
from fastapi.testclient import TestClient
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))
from test_web_gap_tickets import csrf, login

from fairtel.api import ApiOptions
from fairtel.store import TroubleTicket
from fairtel.store._schema import TicketNote, table_of
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(TroubleTicket).insert().values(
            ticket_id="tkt-noteform", msisdn=ALICE, region="Shanghai", category="agent_handoff", priority=2, status="open",
            opened_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC), resolved_at=None,
            summary="chat chat_01nf\nasked first (bill_inquiry): 账单不对\nuser: 账单不对\nassistant: 正在为您转接人工客服"))
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def _notes(html: str) -> list[str]:
    return re.findall(r'<span class="note-text">([^<]*)</span>', html)


def test_an_agent_notes_a_ticket_from_its_page_without_moving_it(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "zh")
    taken = web.post("/tickets/tkt-noteform/take", data={"csrf": csrf(web.get("/tickets").text)}, follow_redirects=False)
    assert taken.status_code == 303
    page = web.get("/tickets/tkt-noteform").text
    assert 'action="/tickets/tkt-noteform/note"' in page and "添加备注" in page

    done = web.post("/tickets/tkt-noteform/note", data={"csrf": csrf(page), "note": "已回电，等客户提供账单截图"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/tickets/tkt-noteform"
    after = web.get("/tickets/tkt-noteform").text
    assert _notes(after) == ["已回电，等客户提供账单截图"]
    assert re.search(r'id="ticket-status">[^<]*处理中', after)  # still in progress: a note moves nothing

    # a settled (resolved) ticket may be followed up; closing it ends the assignment, and the customer with it
    web.post("/tickets/tkt-noteform/resolve", data={"csrf": csrf(after), "note": "已解决"}, follow_redirects=False)
    settled = web.get("/tickets/tkt-noteform").text
    assert 'action="/tickets/tkt-noteform/note"' in settled
    web.post("/tickets/tkt-noteform/note", data={"csrf": csrf(settled), "note": "客户来电确认已收到退款"}, follow_redirects=False)
    followed = web.get("/tickets/tkt-noteform").text
    assert _notes(followed) == ["已回电，等客户提供账单截图", "已解决", "客户来电确认已收到退款"]
    web.post("/tickets/tkt-noteform/close", data={"csrf": csrf(followed), "note": "已结案"}, follow_redirects=False)
    assert "assignment_required" in web.get("/tickets/tkt-noteform").text

    # without the page's token nothing is written
    refused = web.post("/tickets/tkt-noteform/note", data={"csrf": "forged", "note": "x"}, follow_redirects=False)
    assert refused.status_code in (400, 403)
    with seeded.engine.connect() as conn:
        n = table_of(TicketNote)
        rows = conn.execute(select(n.c.note, n.c.status).where(n.c.ticket_id == "tkt-noteform").order_by(n.c.note_id)).all()
    assert [tuple(r) for r in rows] == [(None, "in_progress"), ("已回电，等客户提供账单截图", None), ("已解决", "resolved"),
                                        ("客户来电确认已收到退款", None), ("已结案", "closed")]
