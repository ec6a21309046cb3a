"""What the console says when a request is wrong, in the API's words and the reader's language: a form's fields
refused read the API's sentences (they read the model library's own, "String should match pattern '^(0|1)$'"), an
admin refused the findings page is told which roles may see it (it talked about agents), and the audit page's
resource and reason columns read in Chinese on the Chinese console (they stayed English)."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator

import pytest
from console_forms import csrf, login
from fairtel_seed import PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console

HTML = {"accept": "text/html,application/xhtml+xml"}
LIBRARY_WORDS = ("Input should", "String should", "Field required", "Value error")


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)), headers=HTML) as c:
        yield c


def _text(page: str) -> str:
    return htmllib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _problems(page: str) -> list[str]:
    return [htmllib.unescape(m) for m in re.findall(r'<span class="problem-message said">(.*?)</span>', page, re.S)]


def test_a_field_the_route_refuses_reads_the_apis_words(web: TestClient) -> None:
    login(web, "alice")
    token = csrf(web.get("/my/subscriptions").text)
    r = web.post("/my/marketing", data={"csrf": token, "opted_out": "maybe"}, follow_redirects=False)
    assert r.status_code == 422 and _problems(r.text) == ["not one of the accepted values: 0, 1"], _problems(r.text)
    r = web.post("/my/marketing", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 422 and _problems(r.text) == ["required"], _problems(r.text)
    login(web, "alice", lang="zh")
    r = web.post("/my/marketing", data={"csrf": token, "opted_out": "maybe"}, follow_redirects=False)
    assert r.status_code == 422 and _problems(r.text) == ["不是可选的值，可选：0, 1"], _problems(r.text)
    assert not any(words in r.text for words in LIBRARY_WORDS)


def test_a_credit_refused_at_the_desk_reads_as_the_api_says_it(web: TestClient) -> None:
    login(web, "agent1")
    desk = web.get("/desk").text
    assert web.post("/desk/cmp-1/take", data={"csrf": csrf(desk)}, follow_redirects=False).status_code == 303
    desk = web.get("/desk").text
    bill = re.search(r'<select name="bill_id"[^>]*><option value="([^"]+)"', desk).group(1)  # type: ignore[union-attr]
    r = web.post("/desk/cmp-1/resolve", data={"csrf": csrf(desk), "note": "goodwill for the outage", "amount": "0",
                                              "bill_id": bill, "key": "crd_consolewords-1"})
    assert r.status_code == 422, r.text[:500]
    said = _text(r.text)
    # the API's sentence for the same credit (one source of the words): its body is checked before anything else
    token = web.post("/api/v1/auth/token", data={"username": "agent1", "password": PASSWORD}).json()["access_token"]
    api = web.post(f"/api/v1/bills/{bill}/credits", json={"amount": "0", "reason": "goodwill for the outage"},
                   headers={"Authorization": f"Bearer {token}", "accept": "application/json"})
    assert api.status_code == 422, api.text
    expected = api.json()["error"]["details"]["problems"][0]["message"]
    assert expected == 'the amount must be more than 0: a decimal string such as "3.50"', expected
    assert expected in said and "greater than" not in said, said[:2000]


def test_an_admin_refused_the_findings_page_is_told_who_may_see_it(web: TestClient) -> None:
    login(web, "admin1")
    r = web.get("/findings")
    assert r.status_code == 403
    said = _text(r.text)
    assert "You may not see this page: it is for the roles agent and analyst." in said and "agents see" not in said, said
    login(web, "admin1", lang="zh")
    said = _text(web.get("/findings").text)
    assert "您无权查看此页面：仅限客服、分析师。" in said and "客服仅在处理" not in said, said


def _audit_cells(page: str, column: int) -> list[str]:
    """The cells of one column of the audit table (its header's order: when, actor, action, resource, subject, reason)."""
    body = re.search(r'<table id="audit-table">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, "the audit table is shown"
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]
    return [htmllib.unescape(re.sub(r"<[^>]+>", "", cells[column])).strip() for cells in rows]


RESOURCE, REASON = 3, 5


def test_the_audit_pages_resource_and_reason_read_in_chinese(web: TestClient) -> None:
    login(web, "agent1")
    assert web.get("/findings").status_code == 200  # finding.list: "findings", "findings queue (n rows)"
    login(web, "admin1")
    assert web.get("/findings").status_code == 403  # access.denied: "refused: permission_denied"
    login(web, "admin1", lang="zh")
    page = web.get("/audit").text
    resources, reasons = _audit_cells(page, RESOURCE), _audit_cells(page, REASON)
    assert "异常扣费列表" in resources and "findings" not in resources, resources
    assert any(re.fullmatch(r"异常扣费队列（\d+ 条）", r) for r in reasons), reasons
    assert "已拒绝：无权限（permission_denied）" in reasons, reasons
    assert any(r.startswith("成功；来自 ") for r in reasons), reasons  # a login's outcome
    assert not any(r.startswith(("findings queue", "refused:", "succeeded;")) for r in reasons), reasons
    login(web, "admin1", lang="en")
    page = web.get("/audit").text
    assert "findings" in _audit_cells(page, RESOURCE) and "refused: permission_denied" in _audit_cells(page, REASON)
