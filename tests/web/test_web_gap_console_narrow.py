"""The console on a phone's width, and with long words, in Debian's chromium: at 375 px the staff pages and the
subscriber's scrolled sideways (wide tables, 460 px charts, a 500 px grid), and a pasted link or a long token in a
complaint stretched the page to thousands of pixels. Now a wide table scrolls inside its own box, charts shrink,
and what a user typed wraps: the page itself is never wider than the window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded

from fairtel.store import Complaint
from fairtel.store._schema import table_of

pytestmark = pytest.mark.slow

LONG = "https://example.org/" + "Unexplainedcharge" * 30 + "扣费不明"
PAGES = {
    "admin1": ("/dashboard", "/audit"),
    "analyst1": ("/dashboard", "/findings", "/retention"),
    "fraud1": ("/fraud",),
    "agent1": ("/desk", "/findings", "/tickets"),
    "alice": ("/my/bill", "/my/subscriptions", "/my/complaints", "/my/roaming"),
}


@pytest.fixture(scope="module")
def long_complaint(seeded: Seeded) -> Iterator[str]:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Complaint).insert(), [
            {"complaint_id": "cmp-long", "msisdn": ALICE, "category": "unexplained_charge", "opened_at": datetime(2026, 11, 20, 5, tzinfo=UTC),
             "closed_at": None, "status": "open", "channel": "web", "text": LONG},
        ])
    yield "cmp-long"


def _logged_in(browser: Any, base: str, user: str, width: int) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{base}/lang/en")
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_load_state()
    return context, page


def _too_wide(page: Any, base: str, path: str, width: int) -> str | None:
    page.goto(f"{base}{path}")
    wide = page.evaluate("document.documentElement.scrollWidth")
    return None if wide <= width else f"{path}: {wide} px"


def test_no_page_is_wider_than_a_phone_or_stretched_by_a_long_word(browser: Any, live_server: str, artifacts: Path,
                                                                  long_complaint: str) -> None:
    too_wide: list[str] = []
    for user, paths in PAGES.items():
        context, page = _logged_in(browser, live_server, user, 375)
        if user == "agent1":  # handling a customer: the resolve forms and the customer's page
            page.goto(f"{live_server}/desk")
            page.locator("#complaint-cmp-2 button.take").click()
            page.wait_for_url("**/customers/*")
            paths = (*paths, page.url.removeprefix(live_server))
        for path in paths:
            if (said := _too_wide(page, live_server, path, 375)) is not None:
                too_wide.append(f"{user} at 375 {said}")
                page.screenshot(path=str(artifacts / f"narrow-{user}-{path.strip('/').replace('/', '_')}.png"), full_page=True)
        if user == "admin1":  # the charts shrink to the screen
            page.goto(f"{live_server}/dashboard")
            boxes = page.evaluate("[...document.querySelectorAll('svg.chart')].map(s => s.getBoundingClientRect().width)")
            if not boxes or max(boxes) > 375:
                too_wide.append(f"charts at 375: {boxes}")
        context.close()
    for user, path in (("alice", "/my/complaints"), ("agent1", "/desk")):
        context, page = _logged_in(browser, live_server, user, 1280)
        if (said := _too_wide(page, live_server, path, 1280)) is not None:
            too_wide.append(f"{user} at 1280 {said}")
        assert page.locator("#my-complaint-cmp-long, #complaint-cmp-long").count() == 1  # the long text is on the page
        context.close()
    assert not too_wide, too_wide
