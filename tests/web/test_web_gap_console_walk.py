"""What a walk through the console in a browser found, without a browser:

- an agent who recorded a caller's complaint was offered "Handle" on it, and taking it gave them a second assignment
  on the same complaint (two Release buttons): taking a complaint the agent holds answers their assignment, and the
  desk offers only to acknowledge it;
- an unknown console URL, or a form's URL opened as a page, answered the API's JSON: now the console's error page;
- an input error said only "roaming cap: 1 problem": each problem's field and what is wrong, in both languages, and
  the roaming field stops where the server does;
- a bad bill period read "try later" in Chinese; the consent gate's verdicts showed as codes in Chinese, and
  ``not_billed`` in the English resolution;
- Refund was offered on findings of customers the agent does not handle; the Dismiss reason, the offer list and
  the charts had no accessible name;
- switching language dropped the query string (the filter, the page of usage)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from console_forms import csrf, login, row_of
from fairtel_seed import ALICE, CAROL, Seeded
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions
from fairtel.store import AgentAssignment, Complaint
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of
from fairtel.web import create_console

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert(), [
            {"finding_id": "fnd-walk-gate", "kind": "unconsented_charge", "msisdn": ALICE, "subscription_id": None, "record_ids": ["r-4"],
             "amount_minor": 600, "currency": "CNY", "status": "open", "evidence": {"offer_id": "vas-horoscope-6", "verdict": "not_confirmed"},
             "detected_at": AT, "resolved_at": None, "resolved_by": None, "resolution": None},
            {"finding_id": "fnd-walk-unbilled", "kind": "unconsented_charge", "msisdn": ALICE, "subscription_id": None, "record_ids": ["r-4"],
             "amount_minor": 600, "currency": "CNY", "status": "resolved", "evidence": {"verdict": "no_subscription"}, "detected_at": AT,
             "resolved_at": AT, "resolved_by": "agent1", "resolution": "not_billed: refused by the consent gate before billing"},
        ])
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def live_assignments(seeded: Seeded, complaint_id: str) -> list[str]:
    t = table_of(AgentAssignment)
    with seeded.engine.connect() as conn:
        return [str(a) for a in conn.execute(select(t.c.assignment_id).where(
            t.c.reference_kind == "complaint", t.c.reference_id == complaint_id, t.c.released_at.is_(None))).scalars()]


def test_taking_a_complaint_the_agent_filed_answers_the_same_assignment(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "en")
    desk = web.get("/desk").text
    r = web.post("/desk/new", data={"csrf": csrf(desk), "msisdn": CAROL[2:], "category": "billing", "text": "charged twice",
                                    "channel": "phone"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    t = table_of(Complaint)
    with seeded.engine.connect() as conn:
        filed = conn.execute(select(t.c.complaint_id).where(t.c.msisdn == CAROL, t.c.text == "charged twice")).scalar_one()
    (first,) = live_assignments(seeded, filed)
    desk = web.get("/desk").text
    row = row_of(desk, f"complaint-{filed}")
    assert 'class="take"' not in row and 'class="acknowledge"' in row  # held already: acknowledged, not taken again
    # the form (or an old page's "Handle") sent anyway answers the agent's assignment as it stands
    taken = web.post(f"/desk/{filed}/take", data={"csrf": csrf(desk)}, follow_redirects=False)
    assert taken.status_code == 303 and taken.headers["location"] == f"/customers/{CAROL}"
    assert live_assignments(seeded, filed) == [first]
    with seeded.engine.connect() as conn:
        assert conn.scalar(select(t.c.lifecycle).where(t.c.complaint_id == filed)) == "acknowledged"
    page = web.get(f"/customers/{CAROL}").text
    assert len(re.findall(r'action="/assignments/[^"]+/release"', page)) == 1
    desk = web.get("/desk").text
    assert len(re.findall(rf"<td>complaint {filed}</td>", desk)) == 1
    row = row_of(desk, f"complaint-{filed}")
    assert 'class="take"' not in row and 'class="acknowledge"' not in row and "open-customer" in row


def test_taking_a_complaint_twice_keeps_one_assignment(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "en")
    for _ in range(2):  # a double click, or the desk's form sent again from an old page
        desk = web.get("/desk").text
        assert web.post("/desk/cmp-2/take", data={"csrf": csrf(desk)}, follow_redirects=False).status_code == 303
    assert len(live_assignments(seeded, "cmp-2")) == 1


def test_a_console_url_with_no_page_answers_the_error_page(web: TestClient) -> None:
    login(web, "alice", "zh")
    r = web.get("/nonexistent", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert 'id="error-code">page_not_found<' in r.text and "没有这个页面" in r.text and 'href="/my/bill"' in r.text
    posted_only = web.get("/my/marketing", headers=HTML)
    assert posted_only.status_code == 405 and 'id="error-code">method_not_allowed<' in posted_only.text
    assert "POST" in posted_only.headers.get("allow", "")
    # the API, and a client not asking for HTML, keep the JSON error
    api = web.get("/api/v1/nonexistent", headers=HTML)
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    assert web.get("/nonexistent", headers={"Accept": "application/json"}).json()["error"]["code"] == "not_found"


def test_an_input_error_says_which_field_and_what_is_wrong(web: TestClient) -> None:
    login(web, "alice", "en")
    form = web.get("/my/roaming").text
    assert re.search(r'<input name="amount" id="cap-amount" type="number"[^>]* min="0" max="100000" step="0.01"', form)
    r = web.post("/my/roaming", data={"csrf": csrf(form), "amount": "999999"}, follow_redirects=False)
    assert r.status_code == 422
    problems = re.search(r'<ul id="error-problems">(.*?)</ul>', r.text, re.S)
    assert problems and "Amount" in problems.group(1) and "between 0 and 100000" in problems.group(1)
    web.get("/lang/zh?next=/")
    r = web.post("/my/roaming", data={"csrf": csrf(form), "amount": "999999"}, follow_redirects=False)
    problems = re.search(r'<ul id="error-problems">(.*?)</ul>', r.text, re.S)
    assert problems and "金额" in problems.group(1) and "应在 0 到 100000 之间" in problems.group(1)
    bad = web.get("/my/bill?period=garbage")
    said = re.search(r'<p id="error-message">([^<]*)</p>', bad.text)
    assert 'id="error-code">time_invalid<' in bad.text
    assert said and "YYYY-MM" in said.group(1) and "稍后再试" not in said.group(1)


def test_findings_word_verdicts_and_outcomes_and_refund_only_what_the_agent_handles(web: TestClient) -> None:
    login(web, "agent1", "zh")
    row = row_of(web.get("/findings").text, "finding-fnd-walk-gate")
    assert "订购未确认" in row and "not_confirmed" not in row
    # not handling alice: Refund is shown disabled, with why, and nothing is posted from the row
    assert re.search(r'<button type="button" class="refund" disabled', row) and "请先受理" in row
    assert 'action="/findings/fnd-walk-gate/refund"' not in row and 'action="/findings/fnd-walk-gate/dismiss"' not in row
    resolved = row_of(web.get("/findings?status=resolved").text, "finding-fnd-walk-unbilled")
    assert "无订购记录" in resolved and "no_subscription" not in resolved
    web.get("/lang/en?next=/")
    resolved = row_of(web.get("/findings?status=resolved").text, "finding-fnd-walk-unbilled")
    assert "not billed: refused by the consent gate before billing" in resolved and "not_billed" not in resolved
    # handling alice (her complaint taken): Refund and Dismiss are there, the reason field named
    desk = web.get("/desk").text
    assert web.post("/desk/cmp-1/take", data={"csrf": csrf(desk)}, follow_redirects=False).status_code == 303
    row = row_of(web.get("/findings").text, "finding-fnd-walk-gate")
    assert 'action="/findings/fnd-walk-gate/refund"' in row and "disabled" not in row
    assert re.search(r'<input name="reason"[^>]* aria-label="Why dismiss[^"]*"', row)


def test_the_offer_list_and_the_charts_have_names(web: TestClient) -> None:
    login(web, "alice", "en")
    page = web.get("/my/subscriptions").text
    assert re.search(r'<label for="offer-select"[^>]*>Offer to order</label><select name="offer_id" id="offer-select"', page)
    login(web, "admin1", "zh")
    charts = re.findall(r"<svg [^>]*>", web.get("/dashboard").text)
    assert charts and all('role="img"' in s and re.search(r'aria-label="[^"]+"', s) for s in charts)


def test_switching_language_keeps_the_view(web: TestClient) -> None:
    login(web, "analyst1", "en")
    page = web.get("/findings?status=dismissed&msg=dismissed_ok").text
    link = re.search(r'<a href="(/lang/zh\?next=[^"]+)"', page)
    assert link and link.group(1) == "/lang/zh?next=/findings%3Fstatus%3Ddismissed"
    r = web.get(link.group(1), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/findings?status=dismissed"
    # still only this site's pages
    for elsewhere in ("//example.org/x", "/\\example.org", "https://example.org/", "/\texample.org"):
        r = web.get("/lang/en", params={"next": elsewhere}, follow_redirects=False)
        assert r.headers["location"] == "/", (elsewhere, r.headers["location"])
