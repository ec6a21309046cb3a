"""The console's retention list in a real browser: ranked by expected value as `fairtel churn warn` ranks it, with
the figures behind the order and the reasons in the reader's language, numbers pseudonymised."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, Seeded

from fairtel.cli._insight import _publish_retention
from fairtel.insight._churn_warning import rank_retention

pytestmark = pytest.mark.slow


def _publish(seeded: Seeded) -> None:
    rows = [(ALICE, "senior-19", 0.95, 1900), (BOB, "unlimited-129", 0.40, 12900), (CAROL, "basic-39", 0.70, 3900)]
    scores = pl.DataFrame({
        "msisdn": [r[0] for r in rows], "plan_id": [r[1] for r in rows], "probability": [r[2] for r in rows],
        "flagged": [r[2] >= 0.5 for r in rows], "monthly_revenue_minor": [r[3] for r in rows],
        "expected_value_minor": [round(r[2] * r[3]) for r in rows], "currency": ["CNY"] * 3,
        "reason_1_en": ["no call made for 9 days"] * 3, "reason_1_zh": ["已 9 天未主叫"] * 3,
        **{f"reason_{k}_{lang}": [None] * 3 for k in (2, 3) for lang in ("en", "zh")},
    }, schema_overrides={f"reason_{k}_{lang}": pl.String for k in (2, 3) for lang in ("en", "zh")})
    _publish_retention(seeded.app, rank_retention(scores), date(2026, 11, 20))


def test_analyst_calls_down_the_list_by_expected_value(browser: Any, live_server: str, seeded: Seeded, artifacts: Any) -> None:
    _publish(seeded)
    for lang, heading, reason in (("en", "Expected value", "no call made for 9 days"), ("zh", "预期价值", "已 9 天未主叫")):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(8000)
        page.goto(f"{live_server}/lang/{lang}")
        page.goto(f"{live_server}/login")
        page.fill("#username", "analyst1")
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        page.wait_for_url("**/dashboard")
        page.goto(f"{live_server}/retention")
        table = page.locator("#retention-table")
        assert heading in table.locator("thead").inner_text()
        rows = table.locator("tbody tr")
        assert rows.count() == 3
        unit = "元" if lang == "zh" else "CNY"
        assert [rows.nth(k).locator("td.expected-value").inner_text() for k in range(3)] == \
            [f"51.60 {unit}", f"27.30 {unit}", f"18.05 {unit}"]
        assert [rows.nth(k).locator("td.risk").inner_text() for k in range(3)] == ["40%", "70%", "95%"]
        assert rows.first.locator("td.revenue").inner_text() == f"129.00 {unit}"
        assert rows.first.locator("td.reasons").inner_text() == reason
        body = page.content()
        assert ALICE not in body and BOB not in body and CAROL not in body
        path = artifacts / f"retention-{lang}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        context.close()
