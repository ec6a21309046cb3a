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
    assert "53.50 CNY" in en and "Why this charge" in en and "basic-39/voice-domestic" in en
    assert "Monthly fee · Basic 39" in en and "Calls to Hong Kong, Macao and Taiwan" in en and "Music pack (sp-melody)" in en
    assert BOB not in en
    web.get("/lang/zh?next=/my/bill")
    zh = web.get("/my/bill").text
    assert "为何收费" in zh and "我的账单" in zh and "53.50 CNY" in zh
    lines = re.findall(r'<td class="line-text">([^<]*)</td>', zh)
    assert lines == ["套餐月费 · 基础套餐 39 元", "国内主叫（套餐内国内主叫 300 分钟）", "港澳台长途",
                     "国内流量（套餐内国内流量 10 GB）", "畅听音乐包 (sp-melody)"]
    usage = zh[zh.index('id="usage-table"'):]
    assert "语音通话 (主叫)" in usage and "增值业务" in usage and "（国内）" in usage
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
