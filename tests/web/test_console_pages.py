"""The console without a browser: pages by role, the language switch, form tokens, offline assets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console
from fairtel.web._i18n import NOTES_ZH


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def login(c: TestClient, user: str) -> None:
    c.cookies.clear()
    r = c.post("/login", data={"username": user, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has a form token"
    return m.group(1)


def test_pages_need_a_login(web: TestClient) -> None:
    web.cookies.clear()
    r = web.get("/my/bill", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = web.post("/login", data={"username": "alice", "password": "not-the-password"})
    assert r.status_code == 401 and "Wrong username or password" in r.text


def test_subscriber_bill_in_both_languages(web: TestClient) -> None:
    login(web, "alice")
    web.get("/lang/en?next=/my/bill")
    en = web.get("/my/bill").text
    # the tariff rule by the catalog's name: rule ids are staff's words, not the subscriber's
    assert "53.50 CNY" in en and "Why this charge" in en and "Domestic calls" in en and "basic-39/voice-domestic" not in en
    assert "Monthly fee · Basic 39" in en and "Calls to Hong Kong, Macao and Taiwan" in en and "Music pack (sp-melody)" in en
    assert BOB not in en
    web.get("/lang/zh?next=/my/bill")
    zh = web.get("/my/bill").text
    assert "为何收费" in zh and "我的账单" in zh and "53.50 元" in zh
    lines = re.findall(r'<td class="line-text">([^<]*)</td>', zh)
    assert lines == ["套餐月费 · 基础套餐 39 元", "国内主叫（套餐内国内主叫 300 分钟）", "港澳台长途",
                     "国内流量（套餐内国内流量 10 GiB）", "畅听音乐包 (sp-melody)"]
    usage = zh[zh.index('id="usage-table"'):]
    assert "语音通话（主叫）" in usage and "增值业务" in usage and "（国内）" in usage
    assert "2026-10-03 20:00" in usage  # on the operator's clock (Asia/Shanghai), as the record was written
    for english in ("Domestic", "Hong Kong", "Monthly fee", "voice (out)", "allowance", "Music pack", ">data<", ">vas<"):
        assert english not in zh, english


def test_forms_need_their_token(web: TestClient) -> None:
    login(web, "alice")
    page = web.get("/my/subscriptions").text
    sid = re.search(r'id="sub-(sub-a1)"', page)
    assert sid
    refused = web.post("/subscriptions/sub-a1/cancel", data={"csrf": "forged", "back": "/my/subscriptions"}, follow_redirects=False)
    assert refused.status_code == 403
    assert ">confirmed<" in web.get("/my/subscriptions").text
    ok = web.post("/subscriptions/sub-a1/cancel", data={"csrf": csrf(page), "back": "/my/subscriptions"}, follow_redirects=False)
    assert ok.status_code == 303
    assert ">cancelled<" in web.get("/my/subscriptions").text


def test_staff_see_no_plain_numbers_until_handling(web: TestClient) -> None:
    login(web, "analyst1")
    for path in ("/dashboard", "/findings", "/retention", "/desk"):
        html = web.get(path).text
        assert ALICE not in html and BOB not in html, path
    assert "<svg" in web.get("/dashboard").text
    login(web, "agent1")
    assert web.get(f"/customers/{ALICE}").status_code == 403
    desk = web.get("/desk").text
    assert ALICE not in desk
    r = web.post("/desk/cmp-1/take", data={"csrf": csrf(desk)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/customers/{ALICE}"
    page = web.get(f"/customers/{ALICE}")
    assert page.status_code == 200 and f'id="customer-msisdn">{ALICE}<' in page.text


def test_everything_is_served_locally(web: TestClient) -> None:
    login(web, "analyst1")
    html = web.get("/dashboard").text
    assert not re.search(r'(src|href)="(https?:)?//', html), "no asset from another host"
    css = web.get("/static/console.css")
    assert css.status_code == 200 and "font-family" in css.text
    assert "default-src 'self'" in web.get("/dashboard").headers["content-security-policy"]


def test_every_not_available_note_of_the_api_has_its_chinese() -> None:
    """The API explains a missing series or list in fixed English sentences; the Chinese console needs each."""
    import fairtel.api

    api_dir = Path(fairtel.api.__file__).parent
    notes = set()
    for source in api_dir.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        notes |= set(re.findall(r'\.note = False, "([^"]+)"', text)) | set(re.findall(r'note=(?:None if \w+ else )?"([^"]+)"', text))
    assert len(notes) >= 8, notes  # the patterns still find the API's notes
    assert sorted(n for n in notes if n not in NOTES_ZH) == []


def _row(html: str, complaint_id: str) -> str:
    m = re.search(rf'<tr id="complaint-{complaint_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert m, f"the desk lists {complaint_id}"
    return m.group(0)


def test_desk_shows_the_lifecycle_and_moves_complaints(web: TestClient, seeded: Seeded) -> None:
    from fairtel.core.time import utc_now
    from fairtel.privacy import Pseudonymizer
    from fairtel.store import AuditAs, escalate_overdue, get_complaint

    login(web, "agent1")
    web.get("/lang/en?next=/desk")
    desk = web.get("/desk").text
    row = _row(desk, "cmp-2")
    # bob's complaint (billing: 72 hours) was opened 2026-11-02 09:00 UTC: due 2026-11-05 17:00 on the operator's clock
    assert ">opened<" in row and "2026-11-05 17:00" in row and "overdue" in row and 'action="/desk/cmp-2/take"' in row
    assert "/desk/cmp-2/resolve" not in row and BOB not in row  # not handling bob yet: no moves, no number
    assert web.post("/desk/cmp-2/take", data={"csrf": csrf(desk)}, follow_redirects=False).headers["location"] == f"/customers/{BOB}"
    desk = web.get("/desk").text
    row = _row(desk, "cmp-2")
    assert ">acknowledged<" in row and 'action="/desk/cmp-2/resolve"' in row and "/desk/cmp-2/reopen" not in row
    r = web.post("/desk/cmp-2/resolve", data={"csrf": csrf(desk), "note": "explained the roaming day pass"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk?msg=resolved_ok"
    desk = web.get("/desk?msg=resolved_ok").text
    row = _row(desk, "cmp-2")
    assert "Complaint resolved." in desk and ">resolved<" in row and "/desk/cmp-2/reopen" in row and "overdue" not in row
    assert web.post("/desk/cmp-2/close", data={"csrf": "forged"}, follow_redirects=False).status_code == 403
    assert web.post("/desk/cmp-2/close", data={"csrf": csrf(desk)}, follow_redirects=False).status_code == 303
    again = web.post("/desk/cmp-2/close", data={"csrf": csrf(desk)}, follow_redirects=False)
    assert again.status_code == 409  # a closed complaint is only reopened
    with seeded.engine.connect() as conn:
        rec = get_complaint(conn, "cmp-2")
    assert [e.status for e in rec.history] == ["opened", "acknowledged", "resolved", "closed"]
    assert all(e.recorded for e in rec.history)  # the first move wrote the opening a row from before the lifecycle implied
    assert rec.history[0].actor == "unrecorded" and {e.actor for e in rec.history[1:]} == {"agent1"}
    assert rec.history[2].actor == "agent1" and rec.history[2].note == "explained the roaming day pass"

    # the escalation the command line raises shows on the desk, in both languages
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")
    with seeded.engine.begin() as conn:
        escalate_overdue(conn, now=utc_now(), audit=AuditAs("escalation-test", "agent", pseudonym))
    row = _row(web.get("/desk").text, "cmp-1")
    assert "Escalated to manager" in row
    web.get("/lang/zh?next=/desk")
    zh = web.get("/desk").text
    assert "进度" in zh and "处理时限" in zh and "已升级至 经理" in _row(zh, "cmp-1") and "已超时" in _row(zh, "cmp-1")
    assert "已结案" in _row(zh, "cmp-2") and "重新打开" in _row(zh, "cmp-2")  # still handling bob: may reopen

    # an admin supervises through pseudonyms and may reopen; an analyst only reads
    login(web, "admin1")
    web.get("/lang/en?next=/desk")
    desk = web.get("/desk").text
    assert ALICE not in desk and BOB not in desk and "/desk/cmp-2/reopen" in _row(desk, "cmp-2")
    r = web.post("/desk/cmp-2/reopen", data={"csrf": csrf(desk)}, follow_redirects=False)
    assert r.headers["location"] == "/desk?msg=reopened_ok"
    assert ">reopened<" in _row(web.get("/desk").text, "cmp-2")
    login(web, "analyst1")
    desk = web.get("/desk").text
    assert "<form method=\"post\" action=\"/desk/" not in desk and ">reopened<" in _row(desk, "cmp-2")
