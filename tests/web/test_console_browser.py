"""The main journey of each role in a real browser (Debian's chromium through Playwright, headless).

Screenshots go to tests/web/artifacts/ (git-ignored); their paths are printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD

pytestmark = pytest.mark.slow


def _page(browser: Any, base: str, user: str, lang: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN" if lang == "zh" else "en-US")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{base}/lang/{lang}")
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    return page


def _shot(page: Any, artifacts: Path, name: str) -> None:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_subscriber_reads_bill_cancels_and_sets_a_cap(browser: Any, live_server: str, artifacts: Path) -> None:
    for lang, why in (("en", "Why this charge"), ("zh", "为何收费")):
        page = _page(browser, live_server, "alice", lang)
        page.wait_for_url("**/my/bill")
        assert page.inner_text("#bill-total") == ("53.50 CNY" if lang == "en" else "53.50 元")
        rows = page.locator("#usage-table tbody tr")
        assert rows.count() == 5
        rows.first.locator("summary").click()
        text = rows.first.locator("details p").first.inner_text()
        assert ("allowance" in text) if lang == "en" else ("套餐内额度" in text)
        assert why in page.content()
        _shot(page, artifacts, f"subscriber-bill-{lang}")
        page.context.close()

    page = _page(browser, live_server, "alice", "en")
    page.goto(f"{live_server}/my/subscriptions")
    page.select_option("#offer-select", "vas-video-15")
    page.click("#order-button")
    assert "confirm to start" in page.inner_text(".flash")
    ordered = page.locator("#subscriptions-table tr", has_text="ordered")
    ordered.locator("button.cancel").click()
    assert page.inner_text(".flash") == "Order cancelled: it was never confirmed, nothing is charged."
    assert page.locator("#subscriptions-table td.state", has_text="cancelled").count() >= 1
    page.goto(f"{live_server}/my/roaming")
    page.fill("#cap-amount", "200")
    page.click("#cap-save")
    assert "200.00 CNY" in page.inner_text("#cap-now")
    page.goto(f"{live_server}/my/assistant")
    assert page.is_visible("#assistant-na")  # no trained assistant in this home: said plainly
    _shot(page, artifacts, "subscriber-assistant-en")
    page.context.close()


def test_agent_takes_a_complaint_opens_the_customer_and_refunds(browser: Any, live_server: str, artifacts: Path) -> None:
    page = _page(browser, live_server, "agent1", "en")
    page.wait_for_url("**/desk")
    row = page.locator("#complaint-cmp-1")
    assert ALICE not in row.inner_text()  # masked before handling
    row.locator("button.take").click()
    page.wait_for_url(f"**/customers/{ALICE}")
    assert page.inner_text("#customer-msisdn") == ALICE
    assert page.locator("#usage-table tbody tr").count() == 5
    _shot(page, artifacts, "agent-customer-en")
    page.goto(f"{live_server}/findings")
    page.locator("#finding-fnd-1 button.refund").click()
    # the consent gate refused that charge: it never reached a bill, so nothing is refunded and the finding closes
    assert page.inner_text(".flash") == "Never billed: nothing to refund, the finding is closed."
    assert page.locator("#finding-fnd-1").count() == 0  # gone from the open queue
    page.goto(f"{live_server}/findings?status=resolved")
    assert "not billed" in page.inner_text("#finding-fnd-1 .status")
    # back at the desk: the complaint was acknowledged when taken; it is long overdue; the agent resolves it
    page.goto(f"{live_server}/desk")
    row = page.locator("#complaint-cmp-1")
    assert row.locator("td.lifecycle").inner_text() == "acknowledged"
    assert "overdue" in row.locator("td.due").inner_text()
    row.locator("input[name=note]").fill("refunded the horoscope charge")
    row.locator("button.resolve").click()
    assert page.inner_text(".flash") == "Complaint resolved."
    row = page.locator("#complaint-cmp-1")
    assert row.locator("td.lifecycle").inner_text() == "resolved" and row.locator("button.reopen").count() == 1
    _shot(page, artifacts, "agent-desk-en")
    page.context.close()


def test_analyst_dashboard_in_both_languages(browser: Any, live_server: str, artifacts: Path) -> None:
    for lang, title in (("en", "Complaints per million subscribers"), ("zh", "每百万用户投诉量")):
        page = _page(browser, live_server, "analyst1", lang)
        page.wait_for_url("**/dashboard")
        assert title in page.inner_text("#chart-complaints_per_million")
        assert page.locator("svg.chart").count() >= 4
        assert page.inner_text("#tile-subscribers") == "3"
        body = page.content()
        assert ALICE not in body and BOB not in body and CAROL not in body
        _shot(page, artifacts, f"dashboard-{lang}")
        page.goto(f"{live_server}/retention")
        assert page.locator("#retention-table tbody tr").count() == 3
        page.context.close()


def test_fraud_analyst_decides_a_case(browser: Any, live_server: str, artifacts: Path) -> None:
    page = _page(browser, live_server, "fraud1", "en")
    page.wait_for_url("**/fraud")
    assert CAROL not in page.inner_text("#fraud-table")
    page.locator("#case-case-1 button.confirm-fraud").click()
    assert page.inner_text("#case-case-1 .status") == "confirmed"
    _shot(page, artifacts, "fraud-en")
    page.context.close()


def test_admin_searches_the_audit_by_number(browser: Any, live_server: str, artifacts: Path) -> None:
    page = _page(browser, live_server, "admin1", "en")
    page.goto(f"{live_server}/audit")
    page.fill("#audit-msisdn", ALICE)
    page.click("#audit-search")
    text = page.inner_text("#audit-table")
    assert "bill.read" in text or "usage.read" in text
    assert ALICE not in text
    _shot(page, artifacts, "audit-en")
    page.context.close()
