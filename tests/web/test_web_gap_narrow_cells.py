"""Short cells and buttons at a phone's width (375 px), in Chinese, in Debian's chromium: the findings table's kind,
offer and dates were squeezed to one character a line (each row hundreds of pixels tall) and the desk's
"结束处理" button wrapped into four lines. Now such a cell and a table's button keep their words on one line and the
table scrolls inside its box; the page itself is still no wider than the window."""

from __future__ import annotations

from typing import Any

import pytest
from fairtel_seed import PASSWORD

pytestmark = pytest.mark.slow

ONE_LINE = """(sel) => [...document.querySelectorAll(sel)].map(e => {
  const s = getComputedStyle(e), line = parseFloat(s.lineHeight) || parseFloat(s.fontSize) * 1.6;
  const inner = e.getBoundingClientRect().height - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom)
    - parseFloat(s.borderTopWidth) - parseFloat(s.borderBottomWidth);
  return [e.textContent.trim(), Math.round(inner / line)];
})"""


def _logged_in(browser: Any, base: str, user: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 375, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{base}/lang/zh")
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_load_state()
    return context, page


def test_findings_cells_keep_one_line_at_375(browser: Any, live_server: str) -> None:
    context, page = _logged_in(browser, live_server, "analyst1")
    page.goto(f"{live_server}/findings")
    cells = page.evaluate(ONE_LINE, "#findings-table td.kind, #findings-table td.offer, #findings-table td.charged")
    assert cells, page.content()
    assert all(lines <= 1 for _, lines in cells), cells
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_the_desks_release_button_keeps_one_line_at_375(browser: Any, live_server: str) -> None:
    context, page = _logged_in(browser, live_server, "agent1")
    page.goto(f"{live_server}/desk")
    page.locator("#complaint-cmp-2 button.take").click()
    page.wait_for_url("**/customers/*")
    page.goto(f"{live_server}/desk")
    buttons = page.evaluate(ONE_LINE, "button.release")
    assert buttons and buttons[0][0] == "结束处理", buttons
    assert all(lines <= 1 for _, lines in buttons), buttons
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
