"""A console form's input refused shows the form again, with what to correct beside it.

A roaming cap out of range, an audit search with a day not written as one: the page the form is on, answered with
the error's status, the problems listed at the form in the reader's language, the value entered kept. Fields a
console route refuses before it runs (a marketing choice not 0 or 1) answer the console's error page with the
problems, not the API's JSON; the API's own paths keep their JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from console_forms import csrf, login
from fairtel_seed import Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console

HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)), headers=HTML) as c:
        yield c


def problems_at_form(html: str) -> str:
    m = re.search(r'<div class="card form-problems" id="form-problems"[^>]*>(.*?)</div>', html, re.S)
    assert m, "the problems are listed at the form"
    return m.group(1)


def test_a_roaming_cap_out_of_range_shows_the_form_again_with_the_problem(web: TestClient) -> None:
    login(web, "alice")
    token = csrf(web.get("/my/roaming").text)
    r = web.post("/my/roaming", data={"csrf": token, "amount": "999999"}, follow_redirects=False)
    assert r.status_code in (400, 422), r.text
    assert 'id="error-code"' not in r.text  # not the error page
    assert 'action="/my/roaming"' in r.text  # the form, again
    problems = problems_at_form(r.text)
    assert "Amount" in problems and "between 0 and 100000" in problems
    assert 'value="999999"' in r.text  # what was entered, to correct
    # nothing was kept: the page as it was
    assert "999999" not in web.get("/my/roaming").text


def test_a_roaming_cap_not_a_number_in_chinese(web: TestClient) -> None:
    login(web, "alice", lang="zh")
    token = csrf(web.get("/my/roaming").text)
    r = web.post("/my/roaming", data={"csrf": token, "amount": "lots"}, follow_redirects=False)
    assert r.status_code in (400, 422), r.text
    problems = problems_at_form(r.text)
    assert "金额" in problems and "不是有效的金额" in problems
    # a good amount still saves
    r = web.post("/my/roaming", data={"csrf": token, "amount": "88.00"}, follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.mark.parametrize(("typed", "kept"), [(" 120 ", "120.00"), ("１２０．５", "120.50")])
def test_a_roaming_cap_typed_with_spaces_or_full_width_digits_is_the_amount(web: TestClient, typed: str, kept: str) -> None:
    login(web, "alice", lang="zh")
    token = csrf(web.get("/my/roaming").text)
    r = web.post("/my/roaming", data={"csrf": token, "amount": typed}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert kept in web.get("/my/roaming").text


def test_an_audit_search_with_a_bad_day_shows_the_search_again(web: TestClient) -> None:
    login(web, "admin1")
    r = web.get("/audit", params={"actor": "alice", "since": "2026-13-45"})
    assert r.status_code in (400, 422), r.text
    assert 'id="error-code"' not in r.text
    assert 'id="audit-search"' in r.text
    problems = problems_at_form(r.text)
    assert "From" in problems and "YYYY-MM-DD" in problems
    assert 'value="2026-13-45"' in r.text and 'value="alice"' in r.text
    # well-written days search
    r = web.get("/audit", params={"since": "2020-01-01", "until": "2099-12-31"})
    assert r.status_code == 200, r.text
    assert 'id="form-problems"' not in r.text
    r = web.get("/audit", params={"until": "2000-01-01"})
    assert r.status_code == 200 and 'id="audit-table"' not in r.text


def test_an_audit_search_with_a_bad_day_is_still_refused_to_others(web: TestClient) -> None:
    login(web, "alice")
    r = web.get("/audit", params={"since": "not-a-day"})
    assert r.status_code == 403, r.text
    assert 'id="audit-search"' not in r.text


def test_fields_a_console_route_refuses_answer_its_error_page_in_the_readers_language(web: TestClient) -> None:
    login(web, "alice")
    token = csrf(web.get("/my/subscriptions").text)
    r = web.post("/my/marketing", data={"csrf": token, "opted_out": "maybe"}, follow_redirects=False)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html"), r.text
    assert 'id="error-problems"' in r.text and "Marketing choice" in r.text
    login(web, "alice", lang="zh")
    r = web.post("/my/marketing", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "营销偏好" in r.text and "必填" in r.text


def test_the_api_and_clients_not_asking_for_html_keep_json(web: TestClient) -> None:
    r = web.post("/my/marketing", data={"opted_out": "maybe"}, headers={"accept": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/json")
    r = web.put("/api/v1/me/roaming-cap", json={"amount": []})
    assert r.headers["content-type"].startswith("application/json")
