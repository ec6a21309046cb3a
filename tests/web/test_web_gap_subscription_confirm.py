"""The subscriber's subscriptions page: the second confirmation is a step of its own, as an operator's SMS 二次确认
is. After ordering, the page restates the terms (offer, provider, price per period, charged to the phone bill until
cancelled, how to cancel) and asks for the code sent to the phone; prices read ``15.00 元/月``; a confirmed offer
reads 已订购 (as the assistant says), a pending order is cancelled with 取消订购 and then reads 已取消 (it was never
subscribed, so not 已退订); an offer already held cannot be ordered again from the list."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fairtel_seed import PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def _login(c: TestClient, user: str, lang: str) -> None:
    c.cookies.clear()
    r = c.post("/login", data={"username": user, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    c.get(f"/lang/{lang}?next=/my/subscriptions")


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


def _row(html: str, sid: str) -> str:
    m = re.search(rf'<tr id="sub-{re.escape(sid)}">(.*?)</tr>', html, re.S)
    assert m, sid
    return m.group(1)


def test_order_restates_the_terms_and_asks_for_the_code_in_zh(web: TestClient) -> None:
    _login(web, "alice", "zh")
    page = web.get("/my/subscriptions").text
    # the held offer (music pack, confirmed in the seed) reads 已订购 and cannot be ordered again
    assert '<td class="state">已订购</td>' in _row(page, "sub-a1")
    assert re.search(r'<option value="vas-music-10" disabled>[^<]*10\.00 元/月[^<]*已订购</option>', page)
    assert "15.00 元/月" in page and " CNY" not in page
    r = web.post("/my/subscriptions", data={"csrf": _csrf(page), "offer_id": "vas-video-15"}, follow_redirects=False)
    assert r.status_code == 303
    page = web.get(r.headers["location"]).text
    m = re.search(r'<section class="card confirm-step" id="confirm-([^"]+)">(.*?)</section>', page, re.S)
    assert m, "a confirmation step of its own after ordering"
    sid, step = m.group(1), m.group(2)
    assert "二次确认" in step and '<td class="terms-price">15.00 元/月</td>' in step
    assert "每月从话费中扣除，直至您退订" in step and "退订" in step and "验证码" in step
    assert 'name="code"' in step and 'autocomplete="one-time-code"' in step
    assert '<td class="terms-provider">' in step and re.search(r'<td class="terms-provider">\S+</td>', step)
    row = _row(page, sid)
    assert ">待确认<" in row and ">取消订购</button>" in row and ">退订</button>" not in row
    r = web.post(f"/subscriptions/{sid}/cancel", data={"csrf": _csrf(page), "back": "/my/subscriptions"}, follow_redirects=False)
    assert r.status_code == 303
    page = web.get("/my/subscriptions").text
    assert '<td class="state">已取消</td>' in _row(page, sid) and f'id="confirm-{sid}"' not in page


def test_prices_and_states_in_en(web: TestClient) -> None:
    _login(web, "alice", "en")
    page = web.get("/my/subscriptions").text
    assert "15.00 CNY/month" in page and ">confirmed<" in _row(page, "sub-a1")
