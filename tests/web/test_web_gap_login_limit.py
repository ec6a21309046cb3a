"""A console login refused by the login limit says so (429, ``Retry-After``, in the reader's language), not
"wrong username or password": that would send a person guessing again at a password that may be right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, RateLimitedError
from fairtel.web import create_console

OWN_PAGE = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}
WRONG = "not-the-password"


def console(seeded: Seeded) -> TestClient:
    return TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0, login_attempts_per_minute=2)))


@pytest.fixture
def web(seeded: Seeded) -> Iterator[TestClient]:
    with console(seeded) as c:  # a console of its own: a fresh login limit
        yield c


@pytest.mark.parametrize(("lang", "said"), [("en", "Too many login attempts. Try again in 30 s."), ("zh", "登录尝试次数过多，请 30 秒后再试。")])
def test_a_rate_limited_login_says_so_with_429_and_retry_after(web: TestClient, lang: str, said: str) -> None:
    web.cookies.set("fairtel_lang", lang)
    for _ in range(2):  # the two attempts a minute the limit allows
        r = web.post("/login", data={"username": "agent1", "password": WRONG}, headers=OWN_PAGE)
        assert r.status_code == 401
    r = web.post("/login", data={"username": "agent1", "password": PASSWORD}, headers=OWN_PAGE, follow_redirects=False)
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"] == "30"  # 2 a minute: one comes back in 30 s
    assert said in r.text
    assert "Wrong username or password" not in r.text and "用户名或密码错误" not in r.text
    assert "fairtel_session" not in r.headers.get("set-cookie", "")


def test_a_rate_limited_page_says_when_to_come_back(web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    r = web.post("/login", data={"username": "analyst1", "password": PASSWORD}, headers=OWN_PAGE, follow_redirects=False)
    assert r.status_code == 303
    services = web.app.state.services  # type: ignore[attr-defined]
    check = services.limiter.check

    def limited(key: str, cost: float = 1.0) -> None:
        if key.startswith("user:"):
            raise RateLimitedError("too many requests; slow down", details={"retry_after_s": 7})
        check(key, cost)

    monkeypatch.setattr(services.limiter, "check", limited)
    web.cookies.set("fairtel_lang", "zh")
    r = web.get("/dashboard")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert "请求过于频繁，请 7 秒后再试。" in r.text


@pytest.mark.slow
def test_the_rate_limited_login_in_the_browser(browser: Any, seeded: Seeded, artifacts: Path) -> None:
    import threading
    import time

    import uvicorn

    app = create_console(seeded.settings, options=ApiOptions(rate_per_second=0, login_attempts_per_minute=1))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        context = browser.new_context(locale="en-US")
        page = context.new_page()
        page.set_default_timeout(8000)
        for expected in (401, 429):
            page.goto(f"http://127.0.0.1:{port}/login")
            page.fill("#username", "fraud1")
            page.fill("#password", WRONG)
            with page.expect_response(lambda resp: resp.url.endswith("/login") and resp.request.method == "POST") as answer:
                page.click("#login-button")
            assert answer.value.status == expected
        assert "Try again in 60 s" in page.inner_text("#login-limited")
        page.screenshot(path=str(artifacts / "login-rate-limited.png"))
        context.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
