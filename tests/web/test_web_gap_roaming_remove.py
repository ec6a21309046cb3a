"""The roaming cap is removed only by its own button: an empty amount (a field left empty, or one the browser could
not read, such as an Arabic-Indic digit in a number field, which the browser sends empty) removed the cap and said
"saved", the bill-shock protection gone without a word. Now it is a problem at the form, in both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from console_forms import csrf, login
from fairtel_seed import PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console

HTML = {"accept": "text/html,application/xhtml+xml"}
SAID = {"en": "enter the cap as an amount", "zh": "请填写上限金额"}


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)), headers=HTML) as c:
        yield c


def _cap(web: TestClient) -> str | None:
    m = re.search(r'<p id="cap-now">(.*?)</p>', web.get("/my/roaming").text, re.S)
    assert m
    amount = re.search(r"<strong>(.*?)</strong>", m.group(1))
    return amount.group(1) if amount else None


def _set(web: TestClient, amount: str) -> None:
    r = web.post("/my/roaming", data={"csrf": csrf(web.get("/my/roaming").text), "amount": amount}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/my/roaming?msg=saved_ok", r.text


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("typed", ["", "   ", "\u3000"])
def test_an_empty_amount_is_a_problem_at_the_form_and_the_cap_stays(web: TestClient, lang: str, typed: str) -> None:
    login(web, "alice", lang)
    _set(web, "80")
    r = web.post("/my/roaming", data={"csrf": csrf(web.get("/my/roaming").text), "amount": typed}, follow_redirects=False)
    assert r.status_code == 422, r.text
    assert 'action="/my/roaming"' in r.text and 'id="error-code"' not in r.text  # the form again, not an error page
    problems = re.search(r'<div class="card form-problems" id="form-problems"[^>]*>(.*?)</div>', r.text, re.S)
    assert problems and SAID[lang] in problems.group(1), r.text
    assert _cap(web) is not None and "80.00" in (_cap(web) or "")  # the cap is still there


def test_an_arabic_indic_digit_is_refused_not_taken_for_a_removal(web: TestClient) -> None:
    login(web, "alice", "zh")
    _set(web, "60")
    r = web.post("/my/roaming", data={"csrf": csrf(web.get("/my/roaming").text), "amount": "\u0663"}, follow_redirects=False)
    assert r.status_code == 422, r.text
    assert "60.00" in (_cap(web) or "")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_cap_is_removed_by_its_own_button(web: TestClient, lang: str) -> None:
    login(web, "alice", lang)
    _set(web, "70")
    page = web.get("/my/roaming").text
    button = re.search(r'<button type="submit" id="cap-remove" name="remove" value="1"[^>]*>([^<]+)</button>', page)
    assert button and button.group(1) == {"zh": "取消上限", "en": "Remove the cap"}[lang]
    r = web.post("/my/roaming", data={"csrf": csrf(page), "amount": "", "remove": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/my/roaming?msg=cap_removed_ok", r.text
    assert _cap(web) is None
    said = web.get("/my/roaming", params={"msg": "cap_removed_ok"}).text
    assert {"zh": "已取消上限", "en": "The cap is removed"}[lang] in said
    assert 'id="cap-remove"' not in said  # no cap, nothing to remove


@pytest.mark.slow
def test_in_the_browser_a_digit_it_cannot_read_keeps_the_cap(browser: Any, live_server: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live_server}/lang/zh")
    page.goto(f"{live_server}/login")
    page.fill("#username", "bob")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.goto(f"{live_server}/my/roaming")
    page.fill("#cap-amount", "90")
    page.click("#cap-save")
    page.wait_for_url("**/my/roaming?msg=saved_ok")
    page.fill("#cap-amount", "")
    page.locator("#cap-amount").press_sequentially("\u0663")  # an Arabic-Indic 3: the number field sends ""
    page.click("#cap-save")
    page.wait_for_load_state()
    assert "请填写上限金额" in page.inner_text("#form-problems")
    assert "90.00" in page.inner_text("#cap-now")
    page.click("#cap-remove")
    page.wait_for_url("**/my/roaming?msg=cap_removed_ok")
    assert page.inner_text("#cap-now") == "未设置上限。"
    context.close()
