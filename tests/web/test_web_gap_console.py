"""The console's session ends on the server when the user logs out, and its pages refuse a ``<base>``,
plugins and framing. Without a browser, and in Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fairtel_seed import PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console

OWN_PAGE = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def test_a_session_cookie_kept_after_logout_opens_nothing(web: TestClient) -> None:
    web.cookies.clear()
    r = web.post("/login", data={"username": "agent1", "password": PASSWORD}, headers=OWN_PAGE, follow_redirects=False)
    assert r.status_code == 303
    token = web.cookies.get("fairtel_session")
    assert token and web.get("/desk", follow_redirects=False).status_code == 200
    assert web.post("/logout", headers=OWN_PAGE, follow_redirects=False).status_code == 303
    web.cookies.set("fairtel_session", token)  # the old cookie, as someone who copied it would send it
    r = web.get("/desk", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    api = web.get("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401 and api.json()["error"]["code"] == "not_authenticated"
    web.cookies.clear()


def test_console_pages_refuse_a_base_plugins_and_framing(web: TestClient) -> None:
    web.cookies.clear()
    for path in ("/login", "/static/console.css"):
        policy = web.get(path).headers["content-security-policy"]
        directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
        assert directives["base-uri"] == ["'none'"], path
        assert directives["object-src"] == ["'none'"], path
        assert directives["form-action"] == ["'self'"], path
        assert directives["frame-ancestors"] == ["'none'"], path


@pytest.mark.slow
def test_logging_out_in_the_browser_ends_the_session_cookie(browser: Any, live_server: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live_server}/login")
    page.fill("#username", "analyst1")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url("**/dashboard")
    saved = [c for c in context.cookies() if c["name"] == "fairtel_session"]
    assert saved
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login")
    context.add_cookies(saved)  # put the copied cookie back
    page.goto(f"{live_server}/dashboard")
    assert "/login" in page.url
    context.close()
