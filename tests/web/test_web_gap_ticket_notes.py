"""The console's ticket page: a long hand-off is shown whole, in pages of 50 turns (the first, where the subscriber
said what was wrong, and the last open), led by what the subscriber asked for first; agents' notes are listed
apart, each with who wrote it and when, never as the subscriber's words. In zh and en, and in Debian's chromium.

Before: the page showed the 20 turns the hand-off kept and the notes parsed back out of the ticket's text."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from test_web_gap_tickets import csrf, login

from fairtel.api import ApiOptions
from fairtel.store import TroubleTicket
from fairtel.store._schema import table_of
from fairtel.web import create_console

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FIRST = "我的账单比上个月多了120元，我没有订过任何新业务"
TURNS = [FIRST, *(f"第{n}个问题" for n in range(1, 60))]  # 60 messages, 60 answers: 120 turns
SUMMARY = "\n".join([
    "chat chat_01long", f"asked first (bill_inquiry): {FIRST}",
    *(line for n, said in enumerate(TURNS) for line in (f"user: {said}", f"assistant: 回答{n}\n  第二行{n}")),
])


@pytest.fixture(scope="module")
def long_ticket(seeded: Seeded) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(TroubleTicket).insert().values(
            ticket_id="tkt-long", msisdn=ALICE, region="Shanghai", category="agent_handoff", priority=2, status="open",
            opened_at=AT, resolved_at=None, summary=SUMMARY))


@pytest.fixture(scope="module")
def web(seeded: Seeded, long_ticket: None) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def test_a_long_hand_off_is_shown_whole_and_paged_with_notes_apart(web: TestClient) -> None:
    login(web, "agent1", "zh")
    queue = web.get("/tickets")
    taken = web.post("/tickets/tkt-long/take", data={"csrf": csrf(queue.text)}, follow_redirects=False)
    assert taken.status_code == 303
    page = web.get("/tickets/tkt-long")
    assert page.status_code == 200, page.text
    said = re.findall(r'<span class="said">([^<]*)</span>', page.text)
    assert len(said) == 120 and said[0] == FIRST and said[-1] == "回答59\n第二行59"  # every turn, from the first
    assert re.search(r'id="ticket-asked-first"[^>]*>' + re.escape(FIRST) + "<", page.text) and "最先咨询" in page.text
    pages = re.findall(r'<details class="turns-page"( open)?><summary>([^<]*)</summary>', page.text)
    assert pages == [(" open", "第 1–50 轮（共 120 轮）"), ("", "第 51–100 轮（共 120 轮）"), (" open", "第 101–120 轮（共 120 轮）")]
    assert 'start="51"' in page.text  # numbered on across pages
    notes = re.findall(r'<li class="ticket-note"[^>]*>(.*?)</li>', page.text)
    assert len(notes) == 1 and "agent1" in notes[0] and "处理中" in notes[0] and "2026-" in notes[0]

    done = web.post("/tickets/tkt-long/resolve", data={"csrf": csrf(page.text), "note": "已核实，退还120元"}, follow_redirects=False)
    assert done.status_code == 303
    web.get("/lang/en?next=/")
    after = web.get("/tickets/tkt-long").text
    notes = re.findall(r'<li class="ticket-note"[^>]*>(.*?)</li>', after)
    assert len(notes) == 2 and '<span class="note-text">已核实，退还120元</span>' in notes[1] and "agent1" in notes[1]
    assert "已核实" not in "".join(re.findall(r'<span class="said">([^<]*)</span>', after))  # not the subscriber's
    assert "Asked first" in after and "never shown to the customer" in after
    queue_row = web.get("/tickets?status=all").text
    assert FIRST in queue_row  # the handling agent sees what was asked first in the queue too


@pytest.mark.slow
def test_the_agent_opens_a_middle_page_of_a_long_conversation_in_the_browser(
    browser: Any, live_server: str, long_ticket: None
) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live_server}/login")
    page.fill("#username", "agent1")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url("**/desk")
    page.goto(f"{live_server}/tickets/tkt-long")
    if "/tickets/tkt-long" not in page.url or page.locator("#transcript").count() == 0:  # not taken in this server yet
        page.goto(f"{live_server}/tickets?status=all")
        page.click("#ticket-tkt-long button.take")
        page.wait_for_url("**/tickets/tkt-long")
    assert FIRST in page.inner_text("#ticket-asked-first")
    middle = page.locator("details.turns-page").nth(1)
    assert page.get_by_text(FIRST, exact=True).first.is_visible()  # the first page is open
    assert not middle.locator("span.said").first.is_visible()  # the middle one folded
    middle.locator("summary").click()
    assert middle.locator("span.said").first.is_visible()
    assert middle.locator("span.said").first.inner_text() == "第25个问题"  # turn 51
    context.close()
