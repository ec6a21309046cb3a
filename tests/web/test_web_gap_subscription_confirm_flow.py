"""The console's second confirmation, end to end in a real browser (Debian's chromium through Playwright): the
subscriber orders, reads the restated terms, types the code the SMS brought (the outbox) and the order is
confirmed, recorded as code-verified, so charge assurance does not take it for a machine's however fast it came.
The confirmation form without the code is refused; ordering an offer already held says so on the same page; a
pending order cancelled reads 订单已取消 / 已取消, not 已退订."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, confirm_codes
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions
from fairtel.store import ConsentEvent
from fairtel.store._schema import table_of
from fairtel.web import create_console

pytestmark = pytest.mark.slow



def _confirmed_evidence(seeded: Seeded, offer_id: str) -> dict[str, Any]:
    t = table_of(ConsentEvent)
    with seeded.engine.connect() as conn:
        value = conn.execute(select(t.c.evidence).where(t.c.msisdn == ALICE, t.c.offer_id == offer_id, t.c.event == "confirmed")
                             .order_by(t.c.at.desc())).first()
    assert value is not None
    ev = value.evidence
    return ev if isinstance(ev, dict) else json.loads(ev)


def test_order_then_confirm_with_the_sms_code(browser: Any, live_server: str, seeded: Seeded, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live_server}/lang/zh")
    page.goto(f"{live_server}/login")
    page.fill("#username", "alice")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url("**/my/bill")
    page.goto(f"{live_server}/my/subscriptions")
    page.select_option("#offer-select", "vas-video-15")
    page.click("#order-button")
    step = page.locator("section.confirm-step")
    assert step.count() == 1
    assert step.locator(".terms-price").inner_text() == "15.00 元/月"
    assert "直至您退订" in step.locator(".terms-billing").inner_text()
    page.screenshot(path=str(artifacts / "subscriber-confirm-step-zh.png"), full_page=True)
    step.locator("input.confirm-code").fill(confirm_codes(seeded, ALICE)[-1])
    step.locator("button.confirm").click()
    assert page.inner_text(".flash") == "订购已确认。"
    assert page.locator("section.confirm-step").count() == 0
    assert page.locator("#subscriptions-table td.state", has_text="已订购").count() >= 2
    second = _confirmed_evidence(seeded, "vas-video-15")["second_step"]
    assert second["code_verified"] is True and second["method"] == "sms_code"
    context.close()


def test_console_refuses_a_confirmation_without_code_and_words_the_rest(seeded: Seeded) -> None:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as web:
        web.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
        web.get("/lang/zh?next=/my/subscriptions")
        page = web.get("/my/subscriptions").text
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        # an offer already held: a flash on the same page, not an error page with the raw code
        r = web.post("/my/subscriptions", data={"csrf": token, "offer_id": "vas-music-10"})
        assert r.status_code == 200 and "您已订购该业务" in r.text and "already_subscribed" not in r.text
        r = web.post("/my/subscriptions", data={"csrf": token, "offer_id": "vas-horoscope-6"}, follow_redirects=False)
        page = web.get(r.headers["location"]).text
        sid = re.search(r'id="confirm-([^"]+)"', page).group(1)  # type: ignore[union-attr]
        refused = web.post(f"/my/subscriptions/{sid}/confirm", data={"csrf": token})
        assert refused.status_code == 422
        wrong = web.post(f"/my/subscriptions/{sid}/confirm", data={"csrf": token, "code": "12345x"})
        assert wrong.status_code == 422
        r = web.post(f"/subscriptions/{sid}/cancel", data={"csrf": token, "back": "/my/subscriptions"})
        assert r.status_code == 200 and "订单已取消" in r.text and "已退订。" not in r.text
