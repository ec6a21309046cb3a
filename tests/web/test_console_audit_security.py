"""The console's defences that its pages do not show: posts another site makes, cookies over HTTPS, form tokens
of any shape, words a link puts on a page, the audit of refused pages, and codes named in both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions
from fairtel.store import AccessAudit, FraudCase
from fairtel.store._schema import table_of
from fairtel.web import create_console

FOREIGN = {"Sec-Fetch-Site": "cross-site", "Origin": "null"}
OWN_PAGE = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}  # what browsers send from a no-referrer page of the same origin


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)), raise_server_exceptions=False) as c:
        yield c


def login(c: TestClient, user: str) -> None:
    c.cookies.clear()
    r = c.post("/login", data={"username": user, "password": PASSWORD}, headers=OWN_PAGE, follow_redirects=False)
    assert r.status_code == 303, r.text


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has a form token"
    return m.group(1)


def test_login_posted_from_another_site_sets_no_session(web: TestClient) -> None:
    web.cookies.clear()
    for headers in (FOREIGN, {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "same-site"}):
        r = web.post("/login", data={"username": "alice", "password": PASSWORD}, headers=headers, follow_redirects=False)
        assert r.status_code == 403, headers
        assert "fairtel_session" not in r.headers.get("set-cookie", ""), headers
    ok = web.post("/login", data={"username": "alice", "password": PASSWORD}, headers=OWN_PAGE, follow_redirects=False)
    assert ok.status_code == 303 and "fairtel_session=" in ok.headers["set-cookie"]
    plain = web.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)  # a client sending neither
    assert plain.status_code == 303


def test_logout_posted_from_another_site_keeps_the_session(web: TestClient) -> None:
    login(web, "alice")
    r = web.post("/logout", headers=FOREIGN, follow_redirects=False)
    assert r.status_code == 403 and "fairtel_session" not in r.headers.get("set-cookie", "")
    assert web.get("/my/bill", follow_redirects=False).status_code == 200
    out = web.post("/logout", headers=OWN_PAGE, follow_redirects=False)
    cookie = out.headers["set-cookie"].lower()
    assert out.status_code == 303 and 'fairtel_session=""' in cookie and "max-age=0" in cookie
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert web.get("/my/bill", follow_redirects=False).status_code == 303


def test_session_cookie_is_secure_when_served_over_https(seeded: Seeded) -> None:
    assert seeded.settings.environment.value != "production"
    app = create_console(seeded.settings, options=ApiOptions(rate_per_second=0))
    with TestClient(app, base_url="https://console.example") as c:
        r = c.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303
        assert "; secure" in r.headers["set-cookie"].lower()
        out = c.post("/logout", follow_redirects=False)
        assert "; secure" in out.headers["set-cookie"].lower()
    with TestClient(app) as c:  # plain HTTP (a developer's machine): the browser would drop a Secure cookie
        r = c.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
        assert "secure" not in r.headers["set-cookie"].lower()


def test_a_form_token_of_any_characters_is_refused_not_a_server_error(web: TestClient) -> None:
    login(web, "alice")
    for token in ("é", "令牌", "x" * 40):
        r = web.post("/my/roaming", data={"csrf": token, "amount": "1"}, follow_redirects=False)
        assert r.status_code == 403, token
        assert 'id="error-code">permission_denied<' in r.text
    assert "No cap set." in web.get("/my/roaming").text  # nothing was saved


def test_a_link_cannot_put_words_on_a_page(web: TestClient) -> None:
    login(web, "alice")
    web.get("/lang/en?next=/my/bill")
    spoof = "Your line is suspended: call 400-000-0000 now"
    html = web.get("/my/bill", params={"msg": spoof}).text
    assert spoof not in html and 'class="flash"' not in html
    assert 'class="flash"' not in web.get("/my/bill", params={"msg": "login_failed"}).text  # a real key, but not a confirmation
    assert '<p class="flash" role="status">Saved.</p>' in web.get("/my/roaming", params={"msg": "saved_ok"}).text


def test_a_refused_page_is_audited_with_its_route_as_the_api_does(web: TestClient, seeded: Seeded) -> None:
    login(web, "analyst1")
    assert web.get("/audit").status_code == 403
    web.cookies.clear()
    token = web.post("/api/v1/auth/token", data={"username": "analyst1", "password": PASSWORD}).json()["access_token"]
    assert web.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.resource, t.c.reason).where(t.c.actor == "analyst1", t.c.action == "access.denied").order_by(t.c.audit_id)
        ).all()
    assert [r.resource for r in rows] == ["GET /audit", "GET /api/v1/audit"]
    assert rows[0].reason == rows[1].reason == "refused: permission_denied"


def test_cases_of_the_fraud_model_are_named_in_both_languages(web: TestClient, seeded: Seeded) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FraudCase).insert(), [{
            "case_id": "case-model-1", "detector": "model", "msisdn": ALICE, "score": 0.71, "status": "open", "evidence": {},
            "opened_at": datetime(2026, 11, 3, tzinfo=UTC), "decided_by": None, "decided_at": None,
        }])
    login(web, "fraud1")
    web.get("/lang/zh?next=/fraud")
    row = re.search(r'<tr id="case-case-model-1">(.*?)</tr>', web.get("/fraud").text, re.S)
    assert row and "<td>欺诈模型</td>" in row.group(1)
    assert ">model<" not in web.get("/fraud").text and "model（待处理）" not in web.get("/dashboard").text
    web.get("/lang/en?next=/fraud")
    row = re.search(r'<tr id="case-case-model-1">(.*?)</tr>', web.get("/fraud").text, re.S)
    assert row and "<td>fraud model</td>" in row.group(1)


def test_the_customer_page_says_why_the_agent_sees_it_in_the_readers_language(web: TestClient) -> None:
    login(web, "agent1")
    desk = web.get("/desk").text
    r = web.post("/desk/cmp-1/take", data={"csrf": csrf(desk)}, headers=OWN_PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/customers/{ALICE}"
    web.get(f"/lang/zh?next=/customers/{ALICE}")
    zh = web.get(f"/customers/{ALICE}").text
    assert "您正在处理该客户的投诉 cmp-1。" in zh and "complaint" not in zh
    web.get(f"/lang/en?next=/customers/{ALICE}")
    en = web.get(f"/customers/{ALICE}").text
    assert "You see this customer because you are handling complaint cmp-1." in en


def test_a_form_with_its_token_is_still_refused_when_another_site_posts_it(web: TestClient) -> None:
    login(web, "alice")
    page = web.get("/my/roaming").text
    r = web.post("/my/roaming", data={"csrf": csrf(page), "amount": "25"}, headers=FOREIGN, follow_redirects=False)
    assert r.status_code == 403
    ok = web.post("/my/roaming", data={"csrf": csrf(page), "amount": "25"}, headers=OWN_PAGE, follow_redirects=False)
    assert ok.status_code == 303 and "25.00" in web.get("/my/roaming").text
