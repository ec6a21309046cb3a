"""What a keyboard user and a low-vision reader meet in the console, in Debian's chromium:

- the ticket page's "Add a note" button shared the info box's class (``note``): white on #ebf8ff, 1.08:1; it has a
  style of its own now, at AA contrast (4.5:1);
- at 320 px the ticket page scrolled sideways, the long ticket id in its heading unbroken; it wraps now;
- no way past the header's links: a skip link is the first Tab stop, shown when focused, and leads into the page;
- a wrong SMS code sent the subscriber to the general error page, focus on nothing; now the order's step comes back
  with the focus on the code, marked invalid and described by what is wrong."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded

from fairtel.store import TroubleTicket
from fairtel.store._schema import table_of

pytestmark = pytest.mark.slow

TICKET = "tkt_01m8ewad046qj65hjm6r0rtxqn"


@pytest.fixture(scope="module")
def ticket(seeded: Seeded) -> Iterator[str]:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(TroubleTicket).insert().values(
            ticket_id=TICKET, msisdn=ALICE, region="Shanghai", category="no_signal", priority=2, status="open",
            opened_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC), resolved_at=None,
            summary="no_signal at 家里 since 昨天晚上 (reported in chat chat_01a11y)"))
    yield TICKET


def _logged_in(browser: Any, base: str, user: str, *, lang: str = "zh", width: int = 1280) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN" if lang == "zh" else "en-US")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{base}/lang/{lang}")
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_load_state()
    return context, page


def _rgb(css: str) -> tuple[float, float, float]:
    parts = [float(x) for x in re.findall(r"[\d.]+", css)[:3]]
    return parts[0], parts[1], parts[2]


def _luminance(css: str) -> float:
    def channel(v: float) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(css))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    light, dark = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_ticket_pages_note_button_is_legible_and_the_page_fits_320_px(browser: Any, live_server: str, ticket: str) -> None:
    context, page = _logged_in(browser, live_server, "agent1")
    page.goto(f"{live_server}/tickets")
    page.locator(f"#ticket-{ticket} button.take").click()
    page.wait_for_url(f"**/tickets/{ticket}")
    button = page.locator("#ticket-note-form button[type=submit]")
    colours = button.evaluate("b => { const s = getComputedStyle(b); return [s.color, s.backgroundColor]; }")
    assert contrast(*colours) >= 4.5, colours
    page.set_viewport_size({"width": 320, "height": 800})
    page.reload()
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 320, f"the ticket page is {wide} px wide at 320 px"
    assert page.locator("h1 #ticket-id").bounding_box()["width"] <= 320
    context.close()


def test_a_skip_link_is_the_first_tab_stop_and_leads_into_the_page(browser: Any, live_server: str) -> None:
    context, page = _logged_in(browser, live_server, "alice", lang="en")
    page.goto(f"{live_server}/my/roaming")
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.id, document.activeElement.textContent]")
    assert focused == ["skip-link", "Skip to content"]
    box = page.locator("#skip-link").bounding_box()
    assert box is not None and box["y"] >= 0 and box["width"] > 1  # shown while it has the focus
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the next stop is in the page, not the header's menu
    assert page.evaluate("!!document.activeElement.closest('main')")
    context.close()


def test_a_wrong_code_puts_the_focus_on_the_code_marked_invalid(browser: Any, live_server: str) -> None:
    context, page = _logged_in(browser, live_server, "alice")
    page.goto(f"{live_server}/my/subscriptions")
    page.select_option("#offer-select", "vas-horoscope-6")
    page.click("#order-button")
    page.locator("section.confirm-step input.confirm-code").fill("123456")
    page.locator("section.confirm-step button.confirm").click()
    page.wait_for_load_state()
    step = page.locator("section.confirm-step")
    assert step.count() == 1 and step.locator(".terms-price").inner_text() == "6.00 元/月"
    focused = page.evaluate("[document.activeElement.className, document.activeElement.getAttribute('aria-invalid'),"
                            " document.activeElement.getAttribute('aria-describedby')]")
    assert focused[0] == "confirm-code" and focused[1] == "true", focused
    said = page.locator(f"#{focused[2].split()[0]}")
    assert said.get_attribute("role") == "alert" and "验证码不正确" in said.inner_text()
    context.close()
