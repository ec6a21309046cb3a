"""The console's fraud page: a score reads as a percentage precise enough not to look certain (0.9954 is 99.5 %,
not 100 %), a decided case shows who decided, when, their note and the line's status now, and the queue can be cut
to one period; in both languages, and in a real browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded, simbox_case_row
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.api._cases import decide_fraud_case
from fairtel.api._security import Principal
from fairtel.privacy import Pseudonymizer, Role
from fairtel.store import FraudCase as CaseRow
from fairtel.store._schema import table_of
from fairtel.web import create_console
from fairtel.web._console import score_percent

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SURE, DOUBT = "fcs_web_sure", "fcs_web_doubt"


def _case(case: str, subject: str, period: str, score: float) -> dict[str, Any]:
    return simbox_case_row(case, subject, period, score, T0)


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with seeded.engine.begin() as conn:
        conn.execute(
            table_of(CaseRow).insert(), [_case(SURE, ALICE, "2026-10", 0.9954), _case(DOUBT, BOB, "2026-09", 0.61)]
        )
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        with c.app.state.services.access(Principal("fraud1", Role.FRAUD_ANALYST)) as acc:  # type: ignore[attr-defined]
            decide_fraud_case(acc, SURE, "confirmed", note=f"owner reached on {BOB}", suspend=True)
        yield c


def _login(c: TestClient, lang: str) -> None:
    c.cookies.clear()
    assert (
        c.post("/login", data={"username": "fraud1", "password": PASSWORD}, follow_redirects=False).status_code == 303
    )
    c.get(f"/lang/{lang}?next=/")


def _row(html: str, case_id: str) -> str | None:
    m = re.search(rf'<tr id="case-{case_id}">(.*?)</tr>', html, re.S)
    return None if m is None else " ".join(unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())


def test_a_score_is_never_rounded_to_certainty() -> None:
    assert score_percent(0.9954, "en") == "99.5 %" and score_percent(0.9954, "zh") == "99.5%"
    assert score_percent(0.99996, "en") == "99.996 %"  # 100.0 and 100.00 would read as certain
    assert score_percent(0.9999999, "en") == "> 99.999 %" and score_percent(0.0000001, "en") == "< 0.001 %"
    assert score_percent(1.0, "en") == "100.0 %" and score_percent(0.0, "en") == "0.0 %"
    assert score_percent(0.61, "en") == "61.0 %"


def test_the_page_shows_the_score_the_decision_and_the_line(web: TestClient, seeded: Seeded) -> None:
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")
    _login(web, "en")
    page = web.get("/fraud").text
    sure = _row(page, SURE)
    assert sure is not None and "99.5 %" in sure and "100 %" not in sure and "1.00" not in sure
    assert 'title="The score as computed: 0.9954"' in page
    assert "Decided by fraud1, 2026-" in sure and f"Note: owner reached on {pseudonym(BOB)}" in sure
    assert "Line: suspended" in sure and BOB not in page
    assert "Period 2026-10" in sure and "165 outgoing calls a day (≥ 40)" in sure
    doubt = _row(page, DOUBT)
    assert doubt is not None and "61.0 %" in doubt and "Decided by" not in doubt and "Line:" not in doubt
    _login(web, "zh")
    sure = _row(web.get("/fraud").text, SURE)
    assert sure is not None and "99.5%" in sure and "fraud1 于 2026-" in sure and "号码状态：已停机" in sure
    assert f"备注：owner reached on {pseudonym(BOB)}" in sure


def test_the_queue_is_cut_to_one_period(web: TestClient) -> None:
    _login(web, "en")
    page = web.get("/fraud?period=2026-09").text
    assert _row(page, DOUBT) is not None and _row(page, SURE) is None
    assert 'value="2026-09"' in page
    bad = web.get("/fraud?period=2026-13")  # said beside the filter, which keeps what was typed
    assert bad.status_code == 422 and "A period is written YYYY-MM, e.g. 2026-09." in bad.text
    assert 'value="2026-13"' in bad.text and _row(bad.text, DOUBT) is None
    _login(web, "zh")
    assert "账期格式为 YYYY-MM" in web.get("/fraud?period=9").text


@pytest.mark.slow
def test_in_the_browser_the_fraud_page_reads_the_score_and_filters_a_period(
    web: TestClient, browser: Any, live_server: str, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live_server}/lang/en")
    page.goto(f"{live_server}/login")
    page.fill("#username", "fraud1")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url("**/fraud")
    assert page.inner_text(f"#case-{SURE} td.score") == "99.5 %"
    assert page.inner_text(f"#case-{SURE} td.status") == "confirmed"
    status = page.inner_text(f"#case-{SURE} td.decision")
    assert "Decided by fraud1" in status and "Note: owner reached on" in status and "Line: suspended" in status
    assert BOB not in page.inner_text("#fraud-table")
    page.fill("#fraud-period input[name=period]", "2026-09")
    page.click("#fraud-period button[type=submit]")
    page.wait_for_url("**/fraud?period=2026-09")
    assert page.locator(f"#case-{DOUBT}").count() == 1 and page.locator(f"#case-{SURE}").count() == 0
    page.screenshot(path=str(artifacts / "fraud-queue-period-en.png"))
    context.close()
