"""The care desk in the console, where an agent's work met a dead end:

- no way to record a caller's complaint (and so to open the customer): the desk now files one (number as dialled
  at home, category, words, channel: an appeal the regulator transferred among them), which opens the assignment
  as ``POST /complaints`` does;
- the resolve form took only a note: it now credits a disputed or goodwill charge against one of the customer's
  bills (the note its reason) and settles the complaint with that credit, once however often it is sent;
- no way to release a customer: the desk and the customer's page offer it;
- the handling banner read ``您正在处理该客户的 投诉 cmp_….``; a page refused to a reader said the form had expired;
- the findings queue gave no offer, records or evidence, and "*" for all statuses.

Without a browser, and in Debian's chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_forms import csrf, login, row_of
from fairtel_seed import ALICE, BILL_A, BOB, CAROL, PASSWORD, Seeded
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions
from fairtel.store import Adjustment, AgentAssignment, Complaint
from fairtel.store._schema import table_of
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c





def complaints_of(seeded: Seeded, msisdn: str) -> list[Any]:
    t = table_of(Complaint)
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(t).where(t.c.msisdn == msisdn).order_by(t.c.opened_at, t.c.complaint_id)))


def test_the_desk_records_a_callers_complaint_and_opens_the_customer(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "zh")
    desk = web.get("/desk").text
    assert 'action="/desk/new"' in desk and 'name="msisdn"' in desk and "为来电客户登记投诉" in desk
    assert '<option value="regulator">申诉（管局转办）</option>' in desk and "不明扣费" in desk
    assert web.get(f"/customers/{CAROL}").status_code == 403  # not handling carol yet
    before = len(complaints_of(seeded, CAROL))
    r = web.post("/desk/new", data={"csrf": csrf(desk), "msisdn": CAROL[2:], "category": "unexplained_charge",
                                    "text": "管局转办：称从未订购", "channel": "regulator"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/customers/{CAROL}?msg=filed_ok", r.text
    page = web.get(r.headers["location"])
    assert page.status_code == 200 and "投诉已登记" in page.text
    filed = complaints_of(seeded, CAROL)[before:]
    assert [(c.channel, c.category, c.text) for c in filed] == [("regulator", "unexplained_charge", "管局转办：称从未订购")]
    # the banner names the complaint without stray spaces, in Chinese punctuation
    assert f"您正在处理该客户的投诉 {filed[0].complaint_id}。" in page.text
    # what the form gets wrong is said, not a server error
    bad = web.post("/desk/new", data={"csrf": csrf(desk), "msisdn": "", "category": "billing", "text": "x", "channel": "phone"},
                   follow_redirects=False)
    assert bad.status_code == 422


def test_the_resolve_form_credits_a_charge_once_and_settles_the_complaint_with_it(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "en")
    desk = web.get("/desk").text
    taken = web.post("/desk/cmp-1/take", data={"csrf": csrf(desk)}, follow_redirects=False)
    assert taken.status_code == 303
    desk = web.get("/desk").text
    row = row_of(desk, "complaint-cmp-1")
    assert 'name="amount"' in row and f'<option value="{BILL_A}">2026-10 (53.50 CNY)</option>' in row
    key = re.search(r'name="key" value="([^"]+)"', row)
    assert key
    form = {"csrf": csrf(desk), "note": "goodwill: the call to Hong Kong was cut off", "amount": "4.50", "bill_id": BILL_A,
            "record_id": "r-1", "key": key.group(1)}
    r = web.post("/desk/cmp-1/resolve", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk?msg=credited_ok", r.text
    assert "the credit goes on the next bill" in web.get(r.headers["location"]).text
    a = table_of(Adjustment)
    with seeded.engine.connect() as conn:
        rows = list(conn.execute(select(a).where(a.c.msisdn == ALICE, a.c.kind == "credit")))
    assert [(x.amount_minor, x.bill_id, x.record_id, x.reason) for x in rows] == [
        (450, BILL_A, "r-1", "care-credit note=goodwill:%20the%20call%20to%20Hong%20Kong%20was%20cut%20off complaint=cmp-1 record=r-1 currency=CNY")]
    (cmp,) = [c for c in complaints_of(seeded, ALICE) if c.complaint_id == "cmp-1"]
    assert cmp.adjustment_id == rows[0].adjustment_id and cmp.lifecycle == "resolved"
    # the form sent again credits nothing more (the complaint is resolved already: refused as such)
    again = web.post("/desk/cmp-1/resolve", data=form, follow_redirects=False)
    assert again.status_code == 409
    with seeded.engine.connect() as conn:
        assert len(list(conn.execute(select(a.c.adjustment_id).where(a.c.msisdn == ALICE, a.c.kind == "credit")))) == 1


def test_the_agent_releases_a_customer_from_the_desk_or_their_page(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "zh")
    desk = web.get("/desk").text
    web.post("/desk/cmp-2/take", data={"csrf": csrf(desk)}, follow_redirects=False)
    page = web.get(f"/customers/{BOB}").text
    assert "您正在处理该客户的投诉 cmp-2。" in page and "的 投诉" not in page
    release = re.search(r'action="/assignments/([^/"]+)/release"', page)
    assert release and "结束处理" in page
    desk = web.get("/desk").text
    assert f'action="/assignments/{release.group(1)}/release"' in desk and "您正在处理的客户" in desk
    r = web.post(f"/assignments/{release.group(1)}/release", data={"csrf": csrf(desk)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk?msg=released_ok"
    assert "已结束处理" in web.get(r.headers["location"]).text
    assert web.get(f"/customers/{BOB}").status_code == 403
    t = table_of(AgentAssignment)
    with seeded.engine.connect() as conn:
        assert conn.scalar(select(t.c.released_at).where(t.c.assignment_id == release.group(1))) is not None


def test_a_page_refused_to_a_reader_does_not_speak_of_an_expired_form(web: TestClient) -> None:
    login(web, "alice", "zh")
    r = web.get("/findings")
    assert r.status_code == 403
    said = re.search(r'<p id="error-message">([^<]*)</p>', r.text)
    assert said and "表单已过期" not in said.group(1) and "无权查看" in said.group(1)
    assert 'id="error-code">permission_denied<' in r.text


def test_the_findings_queue_shows_what_the_agent_decides_on(web: TestClient) -> None:
    login(web, "agent1", "en")
    page = web.get("/findings?status=").text
    row = row_of(page, "finding-fnd-1")
    assert "vas-horoscope-6" in row and "r-4" in row
    filters = re.search(r'<p class="filters">(.*?)</p>', page, re.S)
    assert filters and "*" not in filters.group(1) and ">All<" in filters.group(1)


def test_in_the_browser_an_agent_files_a_callers_complaint_and_credits_it(browser: Any, live_server: str, artifacts: Path,
                                                                         seeded: Seeded) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live_server}/lang/en")
    page.goto(f"{live_server}/login")
    page.fill("#username", "agent1")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url("**/desk")
    form = page.locator("#new-complaint-form")
    form.locator("input[name=msisdn]").fill(BOB[2:])
    form.locator("select[name=category]").select_option("billing_error")
    form.locator("select[name=channel]").select_option("hotline")
    form.locator("textarea[name=text]").fill("charged for news twice")
    form.locator("button.file-complaint").click()
    page.wait_for_url(f"**/customers/{BOB}?msg=filed_ok")
    assert page.inner_text("#customer-msisdn") == BOB
    (filed,) = [c for c in complaints_of(seeded, BOB) if c.text == "charged for news twice"]
    page.goto(f"{live_server}/desk")
    row = page.locator(f"#complaint-{filed.complaint_id}")
    row.locator("input[name=note]").fill("goodwill for the double news charge")
    row.locator("input[name=amount]").fill("5")
    row.locator("button.resolve").click()
    assert page.inner_text(".flash") == "Complaint resolved: the credit goes on the next bill."
    assert page.locator(f"#complaint-{filed.complaint_id} td.lifecycle").inner_text() == "resolved"
    page.screenshot(path=str(artifacts / "agent-desk-credit-en.png"), full_page=True)
    context.close()
    a = table_of(Adjustment)
    with seeded.engine.connect() as conn:
        credited = list(conn.execute(select(a.c.amount_minor).where(a.c.msisdn == BOB, a.c.kind == "credit")))
    assert [c.amount_minor for c in credited] == [500]
